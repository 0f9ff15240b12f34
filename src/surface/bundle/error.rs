//! Errors of the bundle surfaces (`tarball`, `zip`).

use std::path::PathBuf;

use crate::archive::bundle as writer;
use crate::archive::mapping::MappingError;
use crate::error::{Classify, ErrorKind};

/// Errors of the bundle surfaces.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{}: key `{key}` = {value:?}: {reason}", crate::name::shown_path(file))]
    Map {
        file: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{}: {source}", crate::name::shown_path(file))]
    Mapping {
        file: PathBuf,
        #[source]
        source: MappingError,
    },
    #[error(transparent)]
    Write(#[from] writer::BundleError),
    #[error("{}", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for BundleError {
    fn kind(&self) -> ErrorKind {
        match self {
            BundleError::Map { .. } | BundleError::Mapping { .. } => ErrorKind::BadInput,
            BundleError::Write(e) => e.kind(),
            BundleError::Io { .. } => ErrorKind::Internal,
        }
    }
}
