//! One entry of an image layer as planned: what the layer writer writes
//! and provenance reads.

use std::path::PathBuf;

use crate::source::view::FileData;

/// One tar entry; `path` is relative (no leading `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub path: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Dir,
    File {
        /// The file's path in the workspace, for provenance (under the
        /// source directory for a selected file, even one read in place).
        disk: PathBuf,
        /// Where its bytes are read.
        data: FileData,
        size: u64,
        mode: u32,
    },
    Symlink {
        target: String,
    },
}
