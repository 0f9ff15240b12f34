//! The errors of the version engine ([`VersionError`], [`VersionParseError`],
//! [`MalformedTag`]), shared by parsing, tags, dev suffixes and resolution.

use std::path::PathBuf;

use super::bump;
use super::convert::ConvertError;
use super::scheme::{Scheme, Target};
use crate::error::{Classify, ErrorKind};

/// A string that is not a version of the expected scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a {} version: {reason}", scheme.name())]
pub struct VersionParseError {
    pub value: String,
    pub scheme: Scheme,
    pub reason: String,
}

impl Classify for VersionParseError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::BadInput
    }
}

/// Errors of the version engine, each naming the file, key or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error("{origin}: {source}")]
    Parse {
        /// Where the value came from: `Cargo.toml: workspace.package.version`,
        /// `--version`, `tag v1.2`.
        origin: String,
        #[source]
        source: VersionParseError,
    },
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error("{}: {key}: {reason}", file.display())]
    Manifest {
        file: PathBuf,
        key: String,
        reason: String,
    },
    #[error(
        "the canonical version is read from {} ([version] source = \"{source_kind}\"{}), which {}; \
         create it, set `[version] source` in recipes/release.toml (cargo, pyproject, npm, file:<path>, tag), \
         or pass --version",
        path.display(),
        if *defaulted { ", the default" } else { "" },
        if *in_commit { "is not in the commit being built" } else { "does not exist" }
    )]
    NoSource {
        path: PathBuf,
        source_kind: String,
        defaulted: bool,
        in_commit: bool,
    },
    #[error("reading {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    MalformedTag(#[from] MalformedTag),
    #[error("commit {commit} carries a tag of the release tag template that does not parse (fix or delete the tag)")]
    MalformedTagAtCommit {
        commit: String,
        #[source]
        source: Box<MalformedTag>,
    },
    #[error("tag {tag} names version {tag_version} but the canonical version ({origin}) is {canonical}; run `kiln version set {tag_version}` or tag {expected_tag}")]
    TagMismatch {
        tag: String,
        tag_version: String,
        canonical: String,
        origin: String,
        expected_tag: String,
    },
    #[error("version {version} is a post release, which only OCI images may publish; the {target} recipe cannot")]
    PostRelease { version: String, target: Target },
    #[error("release.toml: [dev] {key} = {template:?} gives {result:?}, which is not a valid {}: {reason}", scheme.name())]
    DevTemplate {
        key: &'static str,
        template: String,
        result: String,
        scheme: Scheme,
        reason: String,
    },
    #[error("release.toml: [channels] {key} gives OCI tag {tag:?}, which is not a valid tag (allowed: [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})")]
    OciTag { key: String, tag: String },
    #[error("[version] source = \"tag\" but {what}; tag the commit ({template}) or pass --version/--tag")]
    NoTag { what: String, template: String },
    #[error("--version and --tag cannot be used together: the tag names the version")]
    ConflictingOverrides,
    #[error("version {version} was already released (tag {tag} exists); a published version is never reused — choose a new one (e.g. `kiln version bump patch`)")]
    AlreadyReleased { version: String, tag: String },
    #[error("release {version}: tag {tag} points at commit {tagged}, but this build is of commit {built}; a version is never reused — build the tagged commit (--rev {tag}), or release a new version (e.g. `kiln version bump patch`)")]
    Reused {
        version: String,
        tag: String,
        tagged: String,
        built: String,
    },
    #[error(transparent)]
    Git(#[from] crate::source::git::GitError),
    #[error(transparent)]
    Bump(#[from] bump::BumpError),
    #[error(transparent)]
    Rule(#[from] bump::UnknownRule),
}

impl Classify for VersionError {
    fn kind(&self) -> ErrorKind {
        match self {
            VersionError::TagMismatch { .. } => ErrorKind::CheckFailed,
            VersionError::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound => {
                ErrorKind::Internal
            }
            VersionError::Git(e) => e.kind(),
            _ => ErrorKind::BadInput,
        }
    }
}

/// A tag that does not have the template's form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tag {tag:?} is malformed: {reason}; expected {expected} (e.g. {example})")]
pub struct MalformedTag {
    pub tag: String,
    pub reason: String,
    /// The template, e.g. `v{version}`.
    pub expected: String,
    /// A well-formed example tag.
    pub example: String,
}

impl crate::error::Classify for MalformedTag {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}
