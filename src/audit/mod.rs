//! Auditing published artifacts: `kiln provenance` (where each entry of an
//! artifact came from, as recorded when it was built) and `kiln verify`
//! (rebuild an artifact from its commit in a fresh store and compare).
//!
//! An artifact is found by its SHA-256 ([`find`]): among the artifacts of
//! the store's trusted realisations, or through the in-toto statement beside
//! it (`<artifact>.intoto.json`), whose derivation names the realisation.
//! What an artifact says about itself — its commit and version — is read by
//! [`identity`] with the bounded readers of `kiln diff`; [`verify`] decides
//! the recipe, commit and version, rebuilds and compares.

pub mod find;
pub mod identity;
pub mod verify;

use std::path::PathBuf;

use crate::error::{Classify, ErrorKind};

pub use find::{find, sha256_of, Found, FoundBy};
pub use verify::{verify, Level, Outcome, VerifyOptions, VerifyReport};

/// Why an artifact could not be audited.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{}: cannot read", crate::name::shown(&path.to_string_lossy()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: sha256 {sha256} is no artifact of the store {} and there is no provenance statement beside it ({})", path.display(), store.display(), sidecar.display())]
    Unknown {
        path: PathBuf,
        sha256: String,
        store: PathBuf,
        sidecar: PathBuf,
    },
    #[error("{}: {reason}", path.display())]
    BadStatement { path: PathBuf, reason: String },
    #[error("{}: no per-entry provenance is recorded for it (output {store_path}{})", path.display(), if *substituted { ", fetched from a binary cache" } else { "" })]
    NoOrigins {
        path: PathBuf,
        store_path: String,
        substituted: bool,
    },
    #[error("{}: no entry {entry:?} is recorded (it has {count} entries; `kiln provenance {}` lists them)", path.display(), path.display())]
    NoEntry {
        path: PathBuf,
        entry: String,
        count: usize,
    },
    #[error("{}: {reason}", path.display())]
    CannotRebuild { path: PathBuf, reason: String },
    #[error("{}: unreadable artifact", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: crate::diff::DiffError,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("rebuilding {}", path.display())]
    Build {
        path: PathBuf,
        #[source]
        source: Box<crate::engine::BuildError>,
    },
}

impl Classify for AuditError {
    fn kind(&self) -> ErrorKind {
        match self {
            // A FIFO, device or link named as the artifact is bad input.
            AuditError::Io { source, .. } => ErrorKind::of_io(source),
            AuditError::Store(_) => ErrorKind::Internal,
            // A rebuild that fails, for whatever reason, means the artifact
            // cannot be rebuilt: exit 2, naming why.
            _ => ErrorKind::BadInput,
        }
    }
}
