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

pub(crate) mod find;
pub(crate) mod identity;
pub(crate) mod verify;
pub(crate) mod verify_registry;

use std::path::PathBuf;

use crate::error::{Classify, ErrorKind};

pub use find::{find, sha256_of, Found, FoundBy};
pub use identity::fuzz_identity;
pub use verify::{verify, Compare, Level, Outcome, VerifyOptions, VerifyReport};
pub(crate) use verify_registry::{verify_registry, RegistryVerifyOptions};

/// A path as it may be printed ([`crate::name::shown`]).
fn shown(p: &std::path::Path) -> String {
    crate::name::shown(&p.to_string_lossy()).into_owned()
}

/// Why an artifact could not be audited.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{}: cannot read", shown(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: sha256 {sha256} is no artifact of the store {} and there is no provenance statement beside it ({})", shown(path), shown(store), shown(sidecar))]
    Unknown {
        path: PathBuf,
        sha256: String,
        store: PathBuf,
        sidecar: PathBuf,
    },
    #[error("{}: {reason}", shown(path))]
    BadStatement { path: PathBuf, reason: String },
    #[error("{}: no per-entry provenance is recorded for it (output {store_path}{})", shown(path), if *substituted { ", fetched from a binary cache" } else { "" })]
    NoOrigins {
        path: PathBuf,
        store_path: String,
        substituted: bool,
    },
    #[error("{}: no entry {entry:?} is recorded (it has {count} entries; `kiln provenance {}` lists them)", shown(path), shown(path))]
    NoEntry {
        path: PathBuf,
        entry: String,
        count: usize,
    },
    #[error("{}: {reason}", shown(path))]
    CannotRebuild { path: PathBuf, reason: String },
    #[error("{}: unreadable artifact", shown(path))]
    Unreadable {
        path: PathBuf,
        #[source]
        source: crate::diff::DiffError,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("rebuilding {}", shown(path))]
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
