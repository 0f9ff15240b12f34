//! Errors of the Python surfaces.

use std::path::PathBuf;

use crate::error::{Classify, ErrorKind};

/// Errors of the Python surfaces.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// A field of `pyproject.toml` or of the recipe that kiln cannot accept.
    #[error("{}: `{key}` = {value:?}: {reason}", crate::name::shown_path(file))]
    Field {
        file: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    /// A build-system requirement the interpreter cannot provide offline.
    #[error("{}: build backend `{backend}` is not available offline: {requirement}: {detail}", file.display())]
    BackendUnavailable {
        file: PathBuf,
        backend: String,
        requirement: String,
        detail: String,
    },
    #[error(
        "build backend `{backend}` failed in {hook} ({status}); last lines of its log:\n{tail}"
    )]
    BackendFailed {
        backend: String,
        hook: &'static str,
        status: String,
        tail: String,
    },
    #[error("build backend `{backend}` built {} whose {what} says version {found:?}, but the release is {release:?}: the version comes from somewhere kiln does not stamp (kiln stamps `pyproject.toml` and a maturin crate's `Cargo.toml`)", crate::name::shown(file))]
    VersionMismatch {
        backend: String,
        file: String,
        what: &'static str,
        found: String,
        release: String,
    },
    /// What a backend built cannot be normalised (or is inconsistent).
    #[error("{}: {detail}", crate::name::shown_path(file))]
    Normalise { file: PathBuf, detail: String },
    /// What a backend built expands beyond what kiln reads of it
    /// (`normalise::Caps`): a decompression bomb, or a build's output
    /// too large to accept.
    #[error("{}: member {} {detail}; kiln does not accept the build's output", .archive.display(), crate::name::Shown(.member))]
    TooLarge {
        archive: PathBuf,
        member: String,
        detail: String,
    },
    #[error(transparent)]
    Sandbox(crate::sandbox::SandboxError),
    /// Keeping a backend environment in the store.
    #[error(transparent)]
    Store(Box<crate::store::StoreError>),
    #[error(transparent)]
    Tar(#[from] crate::archive::tar::TarError),
    #[error(transparent)]
    Zip(#[from] crate::archive::zip::ZipError),
    #[error("{}", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for PythonError {
    fn kind(&self) -> ErrorKind {
        match self {
            PythonError::Field { .. }
            | PythonError::BackendUnavailable { .. }
            | PythonError::BackendFailed { .. }
            | PythonError::VersionMismatch { .. } => ErrorKind::BadInput,
            PythonError::Normalise { .. } | PythonError::TooLarge { .. } => ErrorKind::CheckFailed,
            PythonError::Sandbox(e) => e.kind(),
            PythonError::Store(e) => e.kind(),
            PythonError::Tar(e) => e.kind(),
            PythonError::Zip(e) => e.kind(),
            PythonError::Io { source, .. } => ErrorKind::of_io(source),
        }
    }
}

impl PythonError {
    pub(crate) fn field(
        file: impl Into<PathBuf>,
        key: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        PythonError::Field {
            file: file.into(),
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> PythonError {
    let path = path.to_path_buf();
    move |source| PythonError::Io { path, source }
}
