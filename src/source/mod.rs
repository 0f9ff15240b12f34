//! Source snapshots: the exact files a recipe reads, from a git commit or a
//! directory, with include/exclude globs and content digests, and their
//! materialisation into a workspace. [`Checkout`] is the repository and
//! commit an invocation reads, resolved once. Repository contents are hostile
//! input: `tree_check` decides which paths are accepted, `materialise` is the
//! only place that writes snapshot files; `view` reads a selection without
//! writing it.

mod blobs;
pub mod checkout;
mod disk;
pub use disk::{read_inside, ReadInsideError};
pub mod git;
mod materialise;
pub mod model;
pub mod selection;
pub mod snapshot;
pub mod tracked_link;
pub mod tree;
pub mod tree_check;
pub mod vcs;
pub mod view;

pub use checkout::{Checkout, ReadMode};
pub use model::{FileKind, Origin, SnapFile, SnapshotError};
pub use selection::Selection;
pub use snapshot::{Snapshot, SnapshotOptions};
