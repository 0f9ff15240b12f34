//! `CiError`: what stops `kiln ci` from writing or checking a workflow.

use std::path::PathBuf;

use crate::error::{Classify, ErrorKind};
use crate::name::shown_path;
use crate::version::policy::PolicyError;

/// Why a workflow could not be generated, written or checked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CiError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    #[error(
        "{}: [cache] trusted-public-keys lists no key: the workflow's jobs trust the cache's \
         signing key through it (--accept-repo-keys); add the public half of the key \
         `kiln cache keygen` made",
        shown_path(file)
    )]
    NoTrustedKey { file: PathBuf },
    #[error("{}:{line}: {key} = {value}: {reason}", shown_path(file))]
    Invalid {
        file: PathBuf,
        line: usize,
        key: String,
        /// The value as written, already escaped for printing (`{:?}`).
        value: String,
        reason: String,
    },
    #[error("{}:{line}: [ci]: {message}", shown_path(file))]
    Syntax {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("--out {}: {reason}", shown_path(path))]
    Out { path: PathBuf, reason: String },
    #[error("{}", shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is stale: regenerate it with `kiln ci {kind}`", shown_path(path))]
    Stale { path: PathBuf, kind: &'static str },
}

impl Classify for CiError {
    fn kind(&self) -> ErrorKind {
        match self {
            CiError::Policy(e) => e.kind(),
            CiError::Cache(e) => e.kind(),
            CiError::Invalid { .. }
            | CiError::Syntax { .. }
            | CiError::Out { .. }
            | CiError::NoTrustedKey { .. } => ErrorKind::BadInput,
            CiError::Io { source, .. } => ErrorKind::of_io(source),
            CiError::Stale { .. } => ErrorKind::CheckFailed,
        }
    }
}
