//! The vocabulary shared by the per-format editors, the stamping rule and
//! the planner in `mod.rs`: which kind a manifest is ([`ManifestKind`]),
//! where it is stamped ([`StampMode`]), one [`Edit`], how a manifest's own
//! version field is treated ([`OwnField`]), and the errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Classify, ErrorKind};
use crate::version::pattern::PatternError;
use crate::version::VersionError;

/// Whether stamping the checkout or a build workspace copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampMode {
    /// `kiln version set`: only static versions are touched.
    Checkout,
    /// A build workspace: dynamic `pyproject.toml` versions become static too.
    Workspace,
}

/// The manifest formats kiln stamps, decided by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    Cargo,
    PackageJson,
    PackageLock,
    Pyproject,
}

impl ManifestKind {
    /// The kind of a manifest path, by its file name.
    pub fn of(path: &Path) -> Option<ManifestKind> {
        match path.file_name()?.to_str()? {
            "Cargo.toml" => Some(ManifestKind::Cargo),
            "package.json" => Some(ManifestKind::PackageJson),
            "package-lock.json" => Some(ManifestKind::PackageLock),
            "pyproject.toml" => Some(ManifestKind::Pyproject),
            _ => None,
        }
    }
}

/// A field edit inside one file (the file is implied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub key: String,
    pub old: String,
    pub new: String,
}

/// A declared field that is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub key: String,
    pub reason: String,
}

/// Stamping failures; nothing has been written when one is returned
/// (except `Write`, which names the file that could not be replaced).
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    #[error("{}: stamp pattern {} (recipes/release.toml [[stamp.patterns]]) {source}; nothing was written", path.display(), crate::name::Shown(pattern))]
    Pattern {
        path: PathBuf,
        pattern: String,
        #[source]
        source: PatternError,
    },
    #[error("{}: cannot read it (declared in the stamp plan)", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {key} {reason}; nothing was written", path.display())]
    Field {
        path: PathBuf,
        key: String,
        reason: String,
    },
    #[error("{}: kiln does not know how to stamp this file (expected Cargo.toml, package.json, package-lock.json or pyproject.toml)", path.display())]
    UnknownKind { path: PathBuf },
    #[error("{}: needs a {scheme} version, which this version does not have; nothing was written", path.display())]
    Spelling {
        path: PathBuf,
        scheme: &'static str,
        #[source]
        reason: Arc<VersionError>,
    },
    #[error("{}: is a symbolic link; kiln never reads or writes a manifest through a link (it may point out of the project)", path.display())]
    Symlink { path: PathBuf },
    #[error("writing {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for StampError {
    fn kind(&self) -> ErrorKind {
        match self {
            StampError::Write { .. } => ErrorKind::Internal,
            StampError::Read { source, .. } if source.kind() != std::io::ErrorKind::NotFound => {
                ErrorKind::Internal
            }
            _ => ErrorKind::BadInput,
        }
    }
}

/// How a manifest's own version field is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnField {
    /// Rewritten; missing is an error (`[stamp] files`, explicit plans).
    Required,
    /// Rewritten when present (the recipe's own manifests).
    IfPresent,
    /// Left alone: only internal requirements are rewritten.
    No,
}
