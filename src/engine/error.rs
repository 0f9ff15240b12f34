//! Errors of the build engine, and their exit codes (via [`Classify`]).

use std::path::PathBuf;

use crate::error::{Classify, ErrorKind};
use crate::name::{shown, shown_path, Shown};
use crate::recipe::RecipeError;
use crate::source::SnapshotError;
use crate::store::StoreError;
use crate::surface::SurfaceError;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    #[error(transparent)]
    Load(#[from] crate::recipe::load::LoadError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Git(#[from] crate::source::git::GitError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    StorePath(#[from] crate::nix::store_path::StorePathError),
    #[error(transparent)]
    Version(#[from] crate::version::VersionError),
    #[error(transparent)]
    Policy(#[from] crate::version::policy::PolicyError),
    #[error(transparent)]
    Stamp(#[from] crate::stamp::StampError),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("{}: {key}: {source}", shown_path(file))]
    System {
        file: PathBuf,
        key: String,
        #[source]
        source: crate::derive::UnknownSystem,
    },
    #[error(transparent)]
    UnknownSystem(#[from] crate::derive::UnknownSystem),
    #[error("{}", missing_text(missing))]
    Missing {
        missing: Vec<super::jobplan::Missing>,
    },
    #[error("no job {} in the plan (kiln plan --jobs lists them: {})", shown(id), known.iter().map(|k| shown(k).into_owned()).collect::<Vec<_>>().join(", "))]
    UnknownJob { id: String, known: Vec<String> },
    #[error("job {} builds {system} derivations; this machine declares {} (add it with --system)", shown(id), declared.join(","))]
    JobSystem {
        id: String,
        system: String,
        declared: Vec<String>,
    },
    #[error("the job plan does not fit this release: {reason} (make it again with kiln plan --jobs --json at this commit)")]
    StalePlan { reason: String },
    #[error("uncommitted changes to files the build reads (commit them, or build with --dirty):\n  {}", files.iter().map(|f| shown(f)).collect::<Vec<_>>().join("\n  "))]
    Uncommitted { files: Vec<String> },
    #[error("recipe {}: {source}", shown(recipe))]
    Surface {
        recipe: String,
        #[source]
        source: Box<SurfaceError>,
    },
    #[error(
        "recipe {} failed; the whole log is {}\n{tail}",
        shown(recipe),
        shown_path(log)
    )]
    Failed {
        recipe: String,
        log: PathBuf,
        tail: String,
    },
    #[error("--check: rebuilding differs from the registered output:\n  {}", mismatches.join("\n  "))]
    Mismatch { mismatches: Vec<String> },
    #[error("{}", shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hashing the output {}", shown_path(path))]
    Hash {
        path: PathBuf,
        #[source]
        source: crate::hash::tree::TreeError,
    },
    #[error("{} and {} both produce an artifact named {name:?}; give one an `output` that differs (a matrix recipe's `output` must use its matrix keys)", shown(first), shown(second))]
    ArtifactClash {
        name: String,
        first: String,
        second: String,
    },
    #[error("recipe {} would write {name:?} into dist/, a name kiln writes itself; give it an `output` (or a name) that differs", shown(recipe))]
    ReservedName { name: String, recipe: String },
    #[error(
        "recipe {}: the realisation of {} records an {source}; refusing to write it into dist/",
        shown(recipe),
        shown_path(store_path)
    )]
    UnsafeArtifact {
        recipe: String,
        store_path: PathBuf,
        #[source]
        source: super::placement::UnsafeArtifact,
    },
    /// A name known only after building (from a manifest, or what a
    /// backend wrote) that is not a portable file name; refused before
    /// anything in `dist/` changes.
    #[error("recipe {} would write the artifact name {} into dist/, which {source}; artifact names must be portable file names", shown(recipe), Shown(name))]
    ArtifactName {
        recipe: String,
        name: String,
        #[source]
        source: crate::name::NameError,
    },
    #[error("output directory {}: {} is a symlink tracked by git (to {}): a checkout cannot choose where kiln writes; pass the directory you mean as --out", shown_path(out), shown_path(link), shown_path(target))]
    LinkedOut {
        out: PathBuf,
        link: PathBuf,
        target: PathBuf,
    },
    #[error("release {version} was built in this store from {earlier}, and this build is from {now}; a version is never reused — build the released source again, or release a new version (e.g. `kiln version bump patch`)")]
    VersionReused {
        version: String,
        earlier: String,
        now: String,
    },
    #[error("version {version} is a post release, which re-issues images only; {} is a code recipe (an image's code inputs are built at the release it re-issues) — name image recipes, or none", shown(recipe))]
    PostReleaseCode { recipe: String, version: String },
    #[error("version {version} is a post release of {base}, whose tag {} does not exist: a post release re-issues a tagged release (tag {base} first, or fix the version)", shown(tag))]
    PostReleaseTag {
        version: String,
        base: String,
        tag: String,
        #[source]
        source: Box<crate::source::git::GitError>,
    },
    #[error(
        "version {version} is a post release of {base}, which is read at its tag {}: {reason}",
        shown(tag)
    )]
    PostReleaseBase {
        version: String,
        base: String,
        tag: String,
        reason: String,
    },
    #[error("recipe {} is an input of an image of this post release, but release {base} has no such recipe", shown(recipe))]
    PostReleaseInput { recipe: String, base: String },
    #[error(
        "recipe {}: the store holds no provenance for {}",
        shown(recipe),
        shown_path(store_path)
    )]
    MissingProvenance { recipe: String, store_path: PathBuf },
    #[error(
        "the provenance of {} is not a statement kiln wrote",
        shown_path(store_path)
    )]
    BadProvenance {
        store_path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: key `include` = {pattern:?}: matches no file below {source_dir:?}", crate::recipe::error::location(file, *line))]
    IncludeMatchesNothing {
        file: PathBuf,
        line: Option<usize>,
        pattern: String,
        source_dir: String,
    },
    #[error("{}: key `{key}` = {value:?}: {reason}", crate::recipe::error::location(file, *line))]
    Map {
        file: PathBuf,
        line: Option<usize>,
        key: String,
        value: String,
        reason: String,
    },
    #[error("-j {jobs}: {reason}")]
    Jobs { jobs: usize, reason: String },
    #[error("-j {jobs}: starting the worker threads")]
    ThreadPool {
        jobs: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}

impl Classify for BuildError {
    fn kind(&self) -> ErrorKind {
        match self {
            BuildError::Recipe(e) => e.kind(),
            BuildError::Load(e) => e.kind(),
            BuildError::Snapshot(e) => e.kind(),
            BuildError::Git(e) => e.kind(),
            BuildError::Store(e) => e.kind(),
            BuildError::StorePath(e) => e.kind(),
            BuildError::Version(e) => e.kind(),
            BuildError::Policy(e) => e.kind(),
            BuildError::Stamp(e) => e.kind(),
            BuildError::Sandbox(e) => e.kind(),
            BuildError::Surface { source, .. } => source.kind(),
            BuildError::Uncommitted { .. }
            | BuildError::System { .. }
            | BuildError::UnknownSystem(_)
            | BuildError::UnknownJob { .. }
            | BuildError::JobSystem { .. }
            | BuildError::StalePlan { .. }
            | BuildError::Jobs { .. }
            | BuildError::ReservedName { .. }
            | BuildError::ArtifactName { .. }
            | BuildError::LinkedOut { .. }
            | BuildError::VersionReused { .. }
            | BuildError::PostReleaseCode { .. }
            | BuildError::PostReleaseBase { .. }
            | BuildError::PostReleaseTag { .. }
            | BuildError::PostReleaseInput { .. }
            | BuildError::IncludeMatchesNothing { .. }
            | BuildError::Map { .. }
            | BuildError::ArtifactClash { .. } => ErrorKind::BadInput,
            BuildError::Mismatch { .. }
            | BuildError::Missing { .. }
            | BuildError::Failed { .. }
            | BuildError::UnsafeArtifact { .. } => ErrorKind::CheckFailed,
            BuildError::Io { .. }
            | BuildError::Hash { .. }
            | BuildError::ThreadPool { .. }
            | BuildError::MissingProvenance { .. }
            | BuildError::BadProvenance { .. } => ErrorKind::Internal,
        }
    }
}

/// An [`BuildError::Io`] for `path`, for `map_err`.
/// A failed tree copy (an input into a workspace, an artifact into
/// `dist/`): a store output kiln wrote, so an environment failure.
impl From<crate::fsutil::CopyError> for BuildError {
    fn from(e: crate::fsutil::CopyError) -> BuildError {
        match e {
            crate::fsutil::CopyError::Io { path, source } => BuildError::Io { path, source },
            crate::fsutil::CopyError::Special { path, .. } => BuildError::Io {
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a special file"),
            },
        }
    }
}

/// The message of [`BuildError::Missing`]: one line per output.
fn missing_text(missing: &[super::jobplan::Missing]) -> String {
    let lines: Vec<String> = missing.iter().map(ToString::to_string).collect();
    format!(
        "{} output(s) can be neither built here nor substituted:\n  {}",
        missing.len(),
        lines.join("\n  ")
    )
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |source| BuildError::Io { path, source }
}
