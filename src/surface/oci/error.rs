//! Errors of the OCI surface.

use std::path::PathBuf;

use crate::error::{Classify, ErrorKind};
use crate::recipe::{Recipe, RecipeError};

/// Errors of the OCI surface.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    #[error("base image layout {}: {reason}", crate::name::shown(layout))]
    Base { layout: String, reason: String },
    #[error(
        "two sources for image path {}: {} and {}",
        crate::name::shown(path),
        crate::name::shown(first),
        crate::name::shown(second)
    )]
    Duplicate {
        path: String,
        first: String,
        second: String,
    },
    #[error(transparent)]
    Tar(#[from] crate::archive::tar::TarError),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for OciError {
    fn kind(&self) -> ErrorKind {
        match self {
            OciError::Recipe(e) => e.kind(),
            OciError::Tar(e) => e.kind(),
            OciError::Base { .. } | OciError::Duplicate { .. } => ErrorKind::BadInput,
            OciError::Io { .. } => ErrorKind::Internal,
        }
    }
}

/// An error of the recipe's key `key` = `value`.
pub(super) fn invalid(r: &Recipe, key: &str, value: &str, reason: impl Into<String>) -> OciError {
    OciError::Recipe(crate::recipe::RecipeError::Invalid {
        file: r.file.clone(),
        line: crate::recipe::project::key_line(&r.text, key),
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    })
}

pub(super) fn missing(r: &Recipe, key: &str, from: &str) -> OciError {
    invalid(
        r,
        key,
        from,
        "does not exist in the workspace (a missing input file)",
    )
}
