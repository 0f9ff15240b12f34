//! Source snapshots: the exact files a recipe reads, from a git commit or a
//! directory, with include/exclude globs and content digests.

pub mod checkout;
pub mod git;
pub mod snapshot;

pub use snapshot::{
    FileKind, Origin, Selection, SnapFile, Snapshot, SnapshotError, SnapshotOptions,
};
