//! Source snapshots: the exact files a recipe reads, from a git commit or a
//! directory, with include/exclude globs and content digests. [`Checkout`]
//! is the repository and commit an invocation reads, resolved once.

pub mod checkout;
pub mod git;
pub mod selection;
pub mod snapshot;

pub use checkout::{Checkout, ReadMode};
pub use selection::Selection;
pub use snapshot::{FileKind, Origin, SnapFile, Snapshot, SnapshotError, SnapshotOptions};
