//! Errors of `kiln publish` and of the downloads `kiln verify` makes from
//! registries (one file: a failed rebuild check holds a download's error,
//! a download's error a registry's), and their exit codes (via [`Classify`]).
//! No variant carries a credential: URLs are kept without their user
//! information and response bodies are never quoted.

use std::path::PathBuf;

use crate::engine::BuildError;
use crate::error::{Classify, ErrorKind};
use crate::name::{shown, shown_path};
use crate::store::StoreError;

/// A registry holds a file of this version with other bytes than the
/// release's (or a file the release does not have); digests as the
/// registry's read API spells them.
#[derive(Debug, thiserror::Error)]
#[error("{}: {} {version} already holds {} with other bytes (registry digest {theirs}, ours {ours}); nothing was uploaded", shown(registry), shown(package), shown(file))]
pub(crate) struct Conflict {
    pub registry: String,
    pub package: String,
    pub version: String,
    pub file: String,
    pub ours: String,
    pub theirs: String,
}

/// Why a publish stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishError {
    #[error(transparent)]
    Build(Box<BuildError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Git(#[from] crate::source::git::GitError),
    #[error("version {version} is not a release to publish: {reason}")]
    NotRelease { version: String, reason: String },
    #[error("recipe {}: not built for version {version} in this store (run `kiln build` first; publish never builds)", shown(recipe))]
    NotBuilt { recipe: String, version: String },
    #[error(
        "recipe {}: no registry to publish to ([publish] in recipes/release.toml names none)",
        shown(recipe)
    )]
    NoTarget { recipe: String },
    #[error("{}: {key}: {reason}", shown_path(file))]
    Config {
        file: PathBuf,
        key: String,
        reason: String,
    },
    #[error("--registry {}: {reason}", shown(arg))]
    RegistryArg { arg: String, reason: String },
    #[error(
        "recipe {}: registry {} is not configured ({hint})",
        shown(recipe),
        shown(registry)
    )]
    UnknownRegistry {
        recipe: String,
        registry: String,
        hint: String,
    },
    #[error(
        "recipe {}: a {surface} recipe cannot be published (no registry kind for it yet)",
        shown(recipe)
    )]
    Unpublishable { recipe: String, surface: String },
    #[error("{}: the store holds other bytes than its sealed record (sha256 {actual}, recorded {expected}); run `kiln store verify`", shown_path(path))]
    Tampered {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{}: {reason}", shown(file))]
    Artifact { file: String, reason: String },
    #[error(transparent)]
    Conflict(Box<Conflict>),
    #[error("{}: differs from what kiln built (sha256 {actual}, built {built}); rebuild it with `kiln build`", shown_path(path))]
    DistDiffers {
        path: PathBuf,
        actual: String,
        built: String,
    },
    #[error("{}: was not built by this store (recipe {}, version {version}: run `kiln build` with this store; publish never builds)", shown_path(path), shown(recipe))]
    NotBuiltHere {
        path: PathBuf,
        recipe: String,
        version: String,
    },
    #[error("recipe {}: {} is not reproducible: a rebuild in a fresh store made other bytes (sha256 {rebuilt}, sealed {sealed}); nothing was uploaded", shown(recipe), shown(file))]
    NotReproducible {
        recipe: String,
        file: String,
        sealed: String,
        rebuilt: String,
    },
    #[error("the rebuild check (--rebuild, or `rebuild = true`): {0}")]
    Rebuild(#[source] Box<FetchError>),
    #[error("{}: {url}: {message} (after {attempts} attempt(s))", shown(registry))]
    Http {
        registry: String,
        url: String,
        message: String,
        attempts: u32,
    },
    #[error("{}: {url}: {}{}", shown(registry), if *status == 0 { String::new() } else { format!("HTTP {status}") }, if reason.is_empty() { String::new() } else { format!(" ({})", shown(reason)) })]
    Refused {
        registry: String,
        url: String,
        status: u16,
        reason: String,
    },
    #[error("{}: {source}", shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<BuildError> for PublishError {
    fn from(e: BuildError) -> Self {
        PublishError::Build(Box::new(e))
    }
}

impl Classify for PublishError {
    fn kind(&self) -> ErrorKind {
        match self {
            PublishError::Build(e) => e.kind(),
            PublishError::Store(e) => e.kind(),
            PublishError::Git(e) => e.kind(),
            PublishError::Rebuild(e) => e.kind(),
            PublishError::NotRelease { .. }
            | PublishError::NotBuilt { .. }
            | PublishError::Tampered { .. }
            | PublishError::DistDiffers { .. }
            | PublishError::NotBuiltHere { .. }
            | PublishError::NotReproducible { .. }
            | PublishError::Artifact { .. }
            | PublishError::Conflict(_) => ErrorKind::CheckFailed,
            PublishError::NoTarget { .. }
            | PublishError::Config { .. }
            | PublishError::RegistryArg { .. }
            | PublishError::UnknownRegistry { .. }
            | PublishError::Unpublishable { .. } => ErrorKind::BadInput,
            PublishError::Http { .. } | PublishError::Refused { .. } => ErrorKind::Internal,
            PublishError::Io { source, .. } => ErrorKind::of_io(source),
        }
    }
}

/// A file whose bytes are not those its registry states.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: {} {}: {}: the registry states {}, but served bytes with {}",
    shown(registry),
    shown(name),
    shown(version),
    shown(file),
    shown(stated),
    shown(actual)
)]
pub(crate) struct DigestMismatch {
    pub registry: String,
    pub name: String,
    pub version: String,
    pub file: String,
    pub stated: String,
    pub actual: String,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error(transparent)]
    Registry(#[from] PublishError),
    #[error(
        "{}: {} has no version {}",
        shown(registry),
        shown(name),
        shown(version)
    )]
    Missing {
        registry: String,
        name: String,
        version: String,
    },
    #[error(transparent)]
    Digest(Box<DigestMismatch>),
    #[error(
        "{}: {url}: larger than the {limit} bytes a verify downloads",
        shown(registry)
    )]
    TooLarge {
        registry: String,
        url: String,
        limit: u64,
    },
    #[error("{}: {url}: {}", shown(registry), shown(reason))]
    Malformed {
        registry: String,
        url: String,
        reason: String,
    },
    #[error("{}: {source}", shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for FetchError {
    fn kind(&self) -> ErrorKind {
        match self {
            FetchError::Registry(e) => e.kind(),
            FetchError::Missing { .. }
            | FetchError::Digest(_)
            | FetchError::TooLarge { .. }
            | FetchError::Malformed { .. } => ErrorKind::CheckFailed,
            FetchError::Io { source, .. } => ErrorKind::of_io(source),
        }
    }
}
