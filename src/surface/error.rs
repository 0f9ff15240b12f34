//! The errors of surface builds and checks: [`SurfaceError`] wraps each
//! surface's own error (defined in that surface's `error.rs`).

use std::path::PathBuf;

use crate::error::{Classify, ErrorKind};
use crate::recipe::Surface;

/// Errors of surfaces.
#[derive(Debug, thiserror::Error)]
pub enum SurfaceError {
    #[error(transparent)]
    Bundle(#[from] super::bundle::BundleError),
    #[error(transparent)]
    Npm(#[from] super::npm::NpmError),
    #[error(transparent)]
    Command(#[from] super::command::CommandError),
    #[error(transparent)]
    Crate(#[from] super::crate_::CrateError),
    #[error(transparent)]
    Oci(#[from] super::oci::OciError),
    #[error(transparent)]
    Python(#[from] super::python::PythonError),
    #[error(transparent)]
    Recipe(#[from] crate::recipe::RecipeError),
    #[error(transparent)]
    Sandbox(crate::sandbox::SandboxError),
    #[error(transparent)]
    Version(Box<crate::version::VersionError>),
    #[error("version {version} is a post release, which only OCI images may publish; a {surface} recipe cannot (build the image recipes alone)")]
    PostRelease { version: String, surface: Surface },
    #[error("the build command failed:\n{tail}")]
    Failed { tail: String },
    #[error("{}", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hashing the output {}", crate::name::shown_path(path))]
    Hash {
        path: PathBuf,
        #[source]
        source: crate::hash::tree::TreeError,
    },
}

impl Classify for SurfaceError {
    fn kind(&self) -> ErrorKind {
        match self {
            SurfaceError::Bundle(e) => e.kind(),
            SurfaceError::Npm(e) => e.kind(),
            SurfaceError::Command(e) => e.kind(),
            SurfaceError::Crate(e) => e.kind(),
            SurfaceError::Oci(e) => e.kind(),
            SurfaceError::Python(e) => e.kind(),
            SurfaceError::Recipe(e) => e.kind(),
            SurfaceError::Sandbox(e) => e.kind(),
            SurfaceError::Version(e) => e.kind(),
            SurfaceError::PostRelease { .. } => ErrorKind::BadInput,
            SurfaceError::Failed { .. } | SurfaceError::Io { .. } | SurfaceError::Hash { .. } => {
                ErrorKind::Internal
            }
        }
    }
}

/// A failed sandboxed build as [`SurfaceError::Failed`] (with its argv and
/// status), any other sandbox error as itself.
pub(crate) fn failed_or(e: crate::sandbox::SandboxError) -> SurfaceError {
    match e {
        crate::sandbox::SandboxError::Failed {
            tail, argv, status, ..
        } => SurfaceError::Failed {
            tail: format!("`{argv}` exited with {status}:\n{tail}"),
        },
        other => SurfaceError::Sandbox(other),
    }
}
