//! The npm surface's error ([`NpmError`]), shared by the manifest reader,
//! the packlist and bundled dependencies.

use std::io;
use std::path::PathBuf;

use crate::archive::tar::TarError;
use crate::error::{Classify, ErrorKind};

/// Errors of the npm packer.
#[derive(Debug, thiserror::Error)]
pub enum NpmError {
    #[error(
        "{}: no such file (an npm package directory needs a package.json)",
        crate::name::shown_path(path)
    )]
    MissingManifest { path: PathBuf },
    #[error("{}: invalid JSON", crate::name::shown_path(path))]
    InvalidJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: field `{field}` is missing", crate::name::shown_path(path))]
    MissingField { path: PathBuf, field: &'static str },
    #[error(
        "{}: field `{field}` {reason} (value: {value})",
        crate::name::shown_path(path)
    )]
    BadField {
        path: PathBuf,
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("{}: file name is not valid UTF-8", crate::name::shown_path(path))]
    NonUtf8Name { path: PathBuf },
    #[error("{}: I/O error", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("writing the npm tarball")]
    Tar(#[source] TarError),
    #[error("writing the npm tarball")]
    Write(#[source] io::Error),
}

impl Classify for NpmError {
    fn kind(&self) -> ErrorKind {
        match self {
            NpmError::Io { source, .. } => ErrorKind::of_io(source),
            NpmError::Write(_) => ErrorKind::Internal,
            NpmError::Tar(e) => e.kind(),
            _ => ErrorKind::BadInput,
        }
    }
}
