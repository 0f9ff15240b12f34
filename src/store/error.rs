//! The store's error ([`StoreError`]), shared by every part of the store,
//! and the mapping of an I/O error at a path onto it.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Classify, ErrorKind};
use crate::hash::tree::TreeError;
use crate::nix::store_path::StorePathError;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    Name(#[from] StorePathError),
    #[error(transparent)]
    Nar(#[from] crate::nix::nar::NarReadError),
    #[error("invalid derivation name {drv:?}: use 1-200 characters of A-Z a-z 0-9 + - . _, not starting with `.`")]
    InvalidDrv { drv: String },
    #[error("invalid build key {build:?}: expected 32 lowercase hex digits")]
    BadBuildKey { build: String },
    #[error("{}: unreadable store record", path.display())]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: staged output must be inside the store's staging directory {}", path.display(), tmp.display())]
    NotStaged { path: PathBuf, tmp: PathBuf },
    #[error("store {} is in use by another kiln process; run this again when it has finished", root.display())]
    Busy { root: PathBuf },
    #[error("store {} holds {count} file(s) tracked by git ({}); kiln never trusts a store that comes with a checkout: build with a store outside the repository (--store DIR) or untrack it (`git rm -r --cached`)", root.display(), paths.join(", "))]
    TrackedByGit {
        root: PathBuf,
        count: usize,
        /// The first few tracked paths, relative to the store.
        paths: Vec<String>,
    },
    #[error("store {}: {} is a symlink tracked by git (to {}): a checkout cannot choose where kiln writes; build with --store DIR", root.display(), link.display(), target.display())]
    TrackedSymlink {
        root: PathBuf,
        link: PathBuf,
        target: PathBuf,
    },
    #[error("store {} is a symbolic link (to {}): kiln never follows a link among the store's own directories and files, nor removes what one points at; remove the link (or use another store)", dir.display(), target.display())]
    LinkedDir { dir: PathBuf, target: PathBuf },
    #[error("checking whether git tracks the store")]
    Git(#[from] crate::source::git::GitError),
    #[error("neither XDG_STATE_HOME nor HOME is set to an absolute path: kiln cannot find its store key")]
    NoStateDir,
    #[error("store key {}", path.display())]
    Key {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("store key {}: mode {mode:04o}, owner uid {owner}: it must belong to you and be private (chmod 600 for the key, no group/other write on its directory)", path.display())]
    KeyInsecure {
        path: PathBuf,
        mode: u32,
        owner: u32,
    },
    #[error("store key directory {} is inside the store {}: keep it outside (XDG_STATE_HOME)", dir.display(), store.display())]
    KeyInStore { dir: PathBuf, store: PathBuf },
    #[error("waited {:.1}s for the lock of derivation {drv} held by {}; giving up (--lock-timeout)", waited.as_secs_f64(), pid.map_or("another process".to_string(), |p| format!("process {p}")))]
    LockTimeout {
        drv: String,
        pid: Option<u32>,
        waited: std::time::Duration,
    },
}

impl Classify for StoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Tree(e) => e.kind(),
            StoreError::Nar(e) => e.kind(),
            StoreError::Git(e) => e.kind(),
            StoreError::Name(_)
            | StoreError::InvalidDrv { .. }
            | StoreError::TrackedByGit { .. }
            | StoreError::TrackedSymlink { .. }
            | StoreError::LinkedDir { .. }
            | StoreError::KeyInStore { .. } => ErrorKind::BadInput,
            _ => ErrorKind::Internal,
        }
    }
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}
