//! Checking a release tag against the canonical version (`kiln version
//! check-tag`), and finding the tag that released a version.

use std::path::Path;

use super::canonical::read_canonical;
use super::error::VersionError;
use super::policy::{ReleasePolicy, VersionSource};
use super::Version;
use crate::source::git::{GitError, Repo};

pub(super) fn mismatch(
    tag: &str,
    tag_version: &Version,
    canonical: &Version,
    origin: &str,
    policy: &ReleasePolicy,
) -> VersionError {
    VersionError::TagMismatch {
        tag: tag.to_string(),
        tag_version: tag_version.to_string(),
        canonical: canonical.to_string(),
        origin: origin.to_string(),
        expected_tag: policy.tag.render(canonical),
    }
}

/// `kiln version check-tag TAG`: Ok when well-formed and naming the
/// canonical version of the working tree (exit 0); `MalformedTag` (exit 2);
/// `TagMismatch` (exit 1).
pub(crate) fn check_tag(
    project_root: &Path,
    policy: &ReleasePolicy,
    tag: &str,
) -> Result<Version, VersionError> {
    let v = policy.tag.parse_tag(tag, policy.scheme)?;
    if policy.source == VersionSource::Tag {
        return Ok(v);
    }
    let (canonical, origin) = read_canonical(project_root, policy, None)?;
    if canonical != v {
        return Err(mismatch(tag, &v, &canonical, &origin, policy));
    }
    Ok(v)
}

/// The existing tag that released `version`, if the project is a git work
/// tree and the tag template's tag for it exists.
pub(crate) fn released_tag(
    project_root: &Path,
    policy: &ReleasePolicy,
    version: &Version,
) -> Result<Option<String>, VersionError> {
    let repo = match Repo::discover(project_root) {
        Ok(r) => r,
        Err(GitError::NotARepo { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let tag = policy.tag.render(version);
    Ok(repo.all_tags()?.into_iter().find(|t| *t == tag))
}
