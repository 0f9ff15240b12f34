//! Release preparation on the checkout: `kiln version set` and `kiln
//! version bump` as one library operation ([`set_version`]); the CLI only
//! prints its [`SetReport`].
//!
//! The new version (given, or the current one bumped with poetry's rules)
//! is refused when its release tag already exists; the manifests the policy
//! declares (or discovers) are edited in place, preserving their format
//! (`crate::stamp`), or only diffed with `dry_run`. Lines that still mention
//! the old version are reported, never edited.

use std::path::{Path, PathBuf};

use crate::error::{Classify, ErrorKind};
use crate::stamp::{self, FileEdit, Leftover, StampChange};
use crate::version::canonical::read_canonical;
use crate::version::policy::{PolicyError, ReleasePolicy, VersionSource};
use crate::version::resolve::{released_tag, resolve};
use crate::version::{BumpRule, Overrides, Version, VersionError};

/// Which version to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NewVersion {
    /// `kiln version set V` (in the policy's scheme).
    Exactly(String),
    /// `kiln version bump RULE` (of the current canonical version).
    Bump(BumpRule),
}

/// What to do.
#[derive(Debug, Clone)]
pub(crate) struct SetOptions {
    pub root: PathBuf,
    pub new: NewVersion,
    /// Compute the edits without writing them.
    pub dry_run: bool,
}

/// What was (or, with `dry_run`, would be) done.
#[derive(Debug)]
pub(crate) struct SetReport {
    /// The canonical version before (absent when it could not be read, for `set`).
    pub current: Option<Version>,
    pub new: Version,
    /// Every manifest edit (with its before/after text, for diffs).
    pub edits: Vec<FileEdit>,
    /// The tag a release of the new version carries.
    pub release_tag: String,
    /// Lines of the stamped files and their lock files still naming the old version.
    pub leftovers: Vec<Leftover>,
    pub written: bool,
}

impl SetReport {
    /// Every field changed, over all files.
    pub(crate) fn changes(&self) -> impl Iterator<Item = &StampChange> {
        self.edits.iter().flat_map(|e| &e.changes)
    }
}

/// Errors of `version set`/`bump`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReleaseError {
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Stamp(#[from] stamp::StampError),
    #[error("no manifest to stamp in {}: declare [stamp] files in recipes/release.toml", root.display())]
    NoManifest { root: PathBuf },
}

impl Classify for ReleaseError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReleaseError::Version(e) => e.kind(),
            ReleaseError::Policy(e) => e.kind(),
            ReleaseError::Stamp(e) => e.kind(),
            ReleaseError::NoManifest { .. } => ErrorKind::BadInput,
        }
    }
}

/// `kiln version set` / `bump`.
pub(crate) fn set_version(opts: &SetOptions) -> Result<SetReport, ReleaseError> {
    let root = opts.root.as_path();
    let policy = ReleasePolicy::load(root)?;
    let (current, new) = match &opts.new {
        NewVersion::Bump(rule) => {
            let current = current_version(root, &policy)?;
            let new = current.bump(*rule)?;
            (Some(current), new)
        }
        NewVersion::Exactly(value) => {
            let new =
                Version::parse(policy.scheme, value).map_err(|source| VersionError::Parse {
                    origin: "kiln version set".into(),
                    source,
                })?;
            (current_version(root, &policy).ok(), new)
        }
    };
    if current.as_ref() != Some(&new) {
        if let Some(tag) = released_tag(root, &policy, &new)? {
            return Err(VersionError::AlreadyReleased {
                version: new.to_string(),
                tag,
            }
            .into());
        }
    }
    let plan = stamp::plan_for_checkout(root, &policy, &new)?;
    let files: Vec<PathBuf> = plan.touched().map(Path::to_path_buf).collect();
    if files.is_empty() {
        return Err(ReleaseError::NoManifest {
            root: root.to_path_buf(),
        });
    }
    let edits = stamp::plan_edits(root, &plan)?;
    let release_tag = policy.tag.render(&new);
    if opts.dry_run {
        return Ok(SetReport {
            current,
            new,
            edits,
            release_tag,
            leftovers: Vec::new(),
            written: false,
        });
    }
    stamp::write_edits(root, &edits)?;
    let leftovers = match current.as_ref().filter(|o| **o != new) {
        Some(old) => stamp::find_leftovers(root, &files, &old_spellings(old)),
        None => Vec::new(),
    };
    Ok(SetReport {
        current,
        new,
        edits,
        release_tag,
        leftovers,
        written: true,
    })
}

/// The canonical version of the working tree (for `source = "tag"`: of HEAD's tags).
fn current_version(root: &Path, policy: &ReleasePolicy) -> Result<Version, VersionError> {
    if policy.source == VersionSource::Tag {
        return Ok(resolve(root, policy, None, &Overrides::default())?.canonical);
    }
    Ok(read_canonical(root, policy, None)?.0)
}

/// The ways the old version may be written: canonical, SemVer, PEP 440.
fn old_spellings(old: &Version) -> Vec<String> {
    let mut spellings = vec![old.to_string()];
    for s in [
        old.semver().map(|v| v.to_string()),
        old.pep440().map(|v| v.to_string()),
    ]
    .into_iter()
    .flatten()
    {
        if !spellings.contains(&s) {
            spellings.push(s);
        }
    }
    spellings
}
