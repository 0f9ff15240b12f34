//! Source snapshots: the exact files a recipe reads, from a git commit or a
//! directory, with include/exclude globs and content digests, and their
//! materialisation into a workspace. [`Checkout`] is the repository and
//! commit an invocation reads, resolved once. Repository contents are hostile
//! input: `tree_check` decides which paths are accepted, `materialise` is the
//! only place that writes snapshot files; `view` reads a selection without
//! writing it.

mod blobs;
pub(crate) mod checkout;
mod disk;
pub use disk::{read_inside, ReadInsideError};
pub(crate) mod git;
mod materialise;
pub(crate) mod model;
pub(crate) mod selection;
pub(crate) mod snapshot;
pub(crate) mod tracked_link;
pub(crate) mod tree;
pub(crate) mod tree_check;
pub(crate) mod vcs;
pub(crate) mod view;

pub use checkout::{Checkout, ReadMode};
pub use model::{FileKind, Origin, SnapFile, SnapshotError};
pub use selection::Selection;
pub use snapshot::{Snapshot, SnapshotOptions};
