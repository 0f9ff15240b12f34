//! What a snapshot is made of, shared by the readers that list it (git,
//! the working tree, a directory), the writer that materialises it and the
//! view that reads it in place: [`SnapFile`] (path, [`FileKind`], digest,
//! [`Content`]), where the snapshot came from ([`Origin`]) and
//! [`SnapshotError`].

use std::path::{Path, PathBuf};

use super::git::GitError;
use crate::error::{Classify, ErrorKind};
use crate::name::shown_path;

/// Errors taking or materialising a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("reading {}", shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("listing {}", shown_path(path))]
    Walk {
        path: PathBuf,
        #[source]
        source: ignore::Error,
    },
    #[error("{}: not a regular file, directory or symlink; sources may not hold sockets, FIFOs or devices", shown_path(path))]
    Special { path: PathBuf },
    #[error("{}: the recipe selects `{path}`, whose name is not UTF-8; rename it or exclude it (`exclude`)", shown_path(file))]
    NonUtf8 { file: PathBuf, path: String },
    #[error("commit {commit}: tree entry `{path}` is refused: {reason}")]
    CraftedTree {
        commit: String,
        path: String,
        reason: String,
    },
    #[error("source path `{path}` is refused: {reason}")]
    UnsafePath { path: String, reason: String },
    #[error(
        "the git repository at {root} has no commit yet; commit the sources or build with --dirty"
    )]
    NoCommit { root: PathBuf },
    #[error("{}: key `{key}` = {pattern:?}: {reason}", shown_path(file))]
    Glob {
        file: PathBuf,
        key: String,
        pattern: String,
        reason: String,
    },
    #[error(
        "{}: key `source` = {source_dir:?}: no files of the snapshot are there",
        shown_path(file)
    )]
    EmptySource { file: PathBuf, source_dir: String },
    #[error("writing workspace file {}", shown_path(path))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for SnapshotError {
    fn kind(&self) -> ErrorKind {
        match self {
            SnapshotError::Git(e) => e.kind(),
            SnapshotError::Io { .. } | SnapshotError::Write { .. } | SnapshotError::Walk { .. } => {
                ErrorKind::Internal
            }
            _ => ErrorKind::BadInput,
        }
    }
}

/// What a snapshot file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Regular,
    Executable,
    Symlink,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Regular => "file",
            FileKind::Executable => "exec",
            FileKind::Symlink => "symlink",
        }
    }
}

/// Where a file's bytes come from when the workspace is materialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A git blob id.
    GitBlob(String),
    /// A file on disk (absolute path).
    Disk(PathBuf),
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapFile {
    /// Relative to the project root.
    pub path: String,
    pub kind: FileKind,
    /// `git:<blob id>` or `blake3:<hex>` of the contents (of the target for symlinks).
    pub digest: String,
    pub content: Content,
}

/// Where the snapshot came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Git {
        /// Full commit id of the snapshot (HEAD with `--dirty`).
        commit: String,
        /// Whether the working tree was read instead of the commit.
        dirty: bool,
    },
    Directory,
}

impl Origin {
    /// The commit read, clean or `--dirty`; `None` for a directory.
    pub fn commit(&self) -> Option<&str> {
        match self {
            Origin::Git { commit, .. } => Some(commit),
            Origin::Directory => None,
        }
    }

    /// The commit when exactly its tree was read (not `--dirty`).
    pub fn clean_commit(&self) -> Option<&str> {
        match self {
            Origin::Git {
                commit,
                dirty: false,
            } => Some(commit),
            _ => None,
        }
    }

    /// Whether the working tree was read instead of the commit.
    pub fn is_dirty(&self) -> bool {
        matches!(self, Origin::Git { dirty: true, .. })
    }

    /// `git:<commit>`, `git:<commit>+dirty` or `directory`, as build
    /// reports name a source.
    pub fn label(&self) -> String {
        match self {
            Origin::Git {
                commit,
                dirty: false,
            } => format!("git:{commit}"),
            Origin::Git {
                commit,
                dirty: true,
            } => format!("git:{commit}+dirty"),
            Origin::Directory => "directory".to_string(),
        }
    }
}

pub(super) fn is_under_any(p: &Path, dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|d| p.starts_with(d))
}
