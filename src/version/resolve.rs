//! The version of one build, and its spelling for every target.
//!
//! [`resolve`] reads the canonical version (from the working tree, or from a
//! commit's tree when a revision is given), decides whether the build is a
//! *release* (the commit carries a tag that the tag template parses to the
//! canonical version) or a *dev build* (no such tag: the policy's dev
//! templates apply), and returns a [`ResolvedVersion`] whose
//! [`render`](ResolvedVersion::render) gives the cargo, npm, PyPI, OCI and
//! plain spellings, plus npm dist-tag and OCI tags.
//!
//! Rules:
//! - `--version V` (override): a release build of `V`, no tag needed.
//! - `--tag T`: `T` must be well-formed and name the canonical version (with
//!   `source = "tag"` it *is* the canonical version); a release build.
//! - a directory that is not a git work tree (or has no commit): a release
//!   build of the canonical version (there is no commit to suffix).
//! - building a commit (`rev = Some`) that carries a well-formed tag naming
//!   another version is an error (exit 1): releasing from it would publish
//!   the wrong version. For the working tree (`rev = None`) such a tag only
//!   means the manifests moved on since the release (e.g. right after
//!   `kiln version set`): a dev build.
//! - `source = "tag"` without a tag at the commit: a dev build of the most
//!   recent reachable matching tag's version.

use std::fmt;
use std::path::Path;

use super::channels::{is_valid_oci_tag, oci_spelling, render_alias};
use super::dev::{utc_date, DevInfo};
use super::policy::{ReleasePolicy, VersionSource};

use super::canonical::read_canonical;
use super::error::{VersionError, VersionParseError};
use super::scheme::{Scheme, Target};
use super::Version;
use crate::source::git::{join_io, GitError, Repo};
use crate::source::Checkout;

use super::tag_check::mismatch;
pub(crate) use super::tag_check::{check_tag, released_tag};

/// Explicit choices that replace what the checkout says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--version V`: build exactly this version, as a release.
    pub version: Option<String>,
    /// `--tag T`: build as the release tagged `T`.
    pub tag: Option<String>,
}

/// Whether a build is a tagged release or a dev build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum BuildStatus {
    /// Tagged (`tag`), explicitly versioned, or a non-git directory (`tag: None`).
    Release { tag: Option<String> },
    /// No matching tag at the commit.
    Dev(DevInfo),
}

/// What kind of publication a build is, so that a pipeline can skip
/// announcements for anything but `stable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A release with no pre-release or dev segment (post releases count).
    Stable,
    /// A release of a pre-release version (`rc.1`, `a0`, `.dev3`).
    Prerelease,
    /// A dev build: no release tag at the commit.
    Dev,
}

/// A non-fatal remark about a rendering, for the engine to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderWarning(pub String);

impl fmt::Display for RenderWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The version of one build.
#[derive(Debug, Clone)]
pub struct ResolvedVersion {
    /// The canonical (release) version, without dev suffix.
    pub canonical: Version,
    /// Where it came from: `Cargo.toml: workspace.package.version`, `--version`, `tag v1.2.3`.
    pub origin: String,
    pub status: BuildStatus,
    /// Full id of the source commit, when the project is a git work tree.
    pub commit: Option<String>,
    /// Committer time of the source commit (`SOURCE_DATE_EPOCH`).
    pub commit_time: Option<i64>,
    policy: ReleasePolicy,
}

impl ResolvedVersion {
    /// A release build of `canonical` under `policy` (no git involved).
    pub fn release(canonical: Version, origin: String, policy: &ReleasePolicy) -> Self {
        ResolvedVersion {
            canonical,
            origin,
            status: BuildStatus::Release { tag: None },
            commit: None,
            commit_time: None,
            policy: policy.clone(),
        }
    }

    pub fn is_release(&self) -> bool {
        matches!(self.status, BuildStatus::Release { .. })
    }

    /// The policy this was resolved under.
    pub fn policy(&self) -> &ReleasePolicy {
        &self.policy
    }

    /// The version in `scheme` with the dev template applied for dev builds,
    /// without the publication rules of [`render`](Self::render) (a post
    /// release is spelled, not refused): what goes into stamped manifests.
    pub fn spelled(&self, scheme: Scheme) -> Result<Version, VersionError> {
        let base = self.canonical.to_scheme(scheme)?;
        match &self.status {
            BuildStatus::Release { .. } => Ok(base),
            BuildStatus::Dev(info) => {
                let (key, t) = self.policy.dev_template(scheme);
                t.render(key, &base, info, scheme)
            }
        }
    }

    /// The version string for `target` (dev suffix included).
    pub fn render(&self, target: Target) -> Result<String, VersionError> {
        if matches!(target, Target::Cargo | Target::Npm | Target::Pypi) && self.canonical.is_post()
        {
            return Err(VersionError::PostRelease {
                version: self.canonical.to_string(),
                target,
            });
        }
        Ok(match target {
            Target::Cargo | Target::Npm => self.spelled(Scheme::SemVer)?.to_string(),
            Target::Pypi => self.spelled(Scheme::Pep440)?.to_string(),
            Target::Plain => self.spelled(self.canonical.scheme())?.to_string(),
            Target::Oci => {
                let tag = oci_spelling(&self.spelled(self.canonical.scheme())?.to_string());
                if !is_valid_oci_tag(&tag) {
                    return Err(VersionError::OciTag {
                        key: "(version)".into(),
                        tag,
                    });
                }
                tag
            }
        })
    }

    /// The version of the code a build carries, in `target`'s spelling: a
    /// post release's base release (`3.1.0.post1` → `3.1.0`, whose code
    /// inputs a post-release image takes), else the version itself.
    pub fn code_release(&self, target: Target) -> Result<String, VersionError> {
        match self.canonical.post_base() {
            Some(base) => ResolvedVersion {
                canonical: base,
                status: BuildStatus::Release { tag: None },
                ..self.clone()
            }
            .render(target),
            None => self.render(target),
        }
    }

    /// A warning about `target`'s rendering: PyPI rejects local versions.
    pub fn warning(&self, target: Target) -> Option<RenderWarning> {
        if target != Target::Pypi {
            return None;
        }
        let v = self.render(target).ok()?;
        v.contains('+').then(|| {
            RenderWarning(format!(
                "{v} is a local version (`+…`); PyPI and TestPyPI reject uploads of local versions — use a dev template without `+` (e.g. `{{version}}.dev{{distance}}`) to publish dev builds"
            ))
        })
    }

    /// Stable: a release with no pre-release or dev segment (post releases are stable).
    pub fn is_stable(&self) -> bool {
        let pre = match self.canonical.pep440() {
            Ok(p) => p.is_prerelease(),
            Err(_) => self.canonical.is_prerelease(),
        };
        self.is_release() && !pre
    }

    /// What kind of publication this build is: a stable release, a
    /// pre-release, or a dev build (see [`Channel`]).
    pub fn channel(&self) -> Channel {
        if !self.is_release() {
            Channel::Dev
        } else if self.is_stable() {
            Channel::Stable
        } else {
            Channel::Prerelease
        }
    }

    /// The npm dist-tag: `latest` for stable releases, the policy's
    /// pre-release tag (default `next`) for pre-releases and dev builds.
    pub fn npm_dist_tag(&self) -> &str {
        if self.is_stable() {
            "latest"
        } else {
            &self.policy.npm_prerelease
        }
    }

    /// OCI tags: the version's own tag, then (stable releases only) the
    /// alias templates and the per-major channel name, without duplicates.
    pub fn oci_tags(&self) -> Result<Vec<String>, VersionError> {
        let mut tags = vec![self.render(Target::Oci)?];
        if self.is_stable() {
            for t in &self.policy.oci_aliases {
                let tag = render_alias(t, &self.canonical);
                if !is_valid_oci_tag(&tag) {
                    return Err(VersionError::OciTag {
                        key: format!("oci-aliases {t:?}"),
                        tag,
                    });
                }
                tags.push(tag);
            }
            let major = self.canonical.triple().0;
            if let Some(name) = self.policy.oci_major_names.get(&major) {
                tags.push(name.clone());
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        tags.retain(|t| seen.insert(t.clone()));
        Ok(tags)
    }

    /// The tag a release of this version carries (`tag.template`).
    pub fn release_tag(&self) -> String {
        self.policy.tag.render(&self.canonical)
    }
}

/// Well-formed tags of the template at `commit`, with their versions. A
/// tag there that looks like the template's but does not parse is an
/// error: building the commit as a dev build would hide a mistyped release.
fn tags_at(
    repo: &Repo,
    commit: &str,
    policy: &ReleasePolicy,
) -> Result<Vec<(String, Version)>, VersionError> {
    let mut out = Vec::new();
    for t in repo.tags_at(commit)? {
        match policy.tag.parse_tag(&t, policy.scheme) {
            Ok(v) => out.push((t, v)),
            Err(source) if policy.tag.looks_like(&t) => {
                return Err(VersionError::MalformedTagAtCommit {
                    commit: commit.to_string(),
                    source: Box::new(source),
                })
            }
            Err(_) => {}
        }
    }
    Ok(out)
}

/// The nearest reachable well-formed tag and the distance to it.
/// `prefetched` is `repo.all_tags()` run ahead of time (asked again if it failed).
fn last_tag(
    repo: &Repo,
    commit: &str,
    policy: &ReleasePolicy,
    prefetched: &Result<Vec<String>, GitError>,
) -> Result<Option<(String, Version, u64)>, VersionError> {
    let fetched;
    let all = match prefetched {
        Ok(t) => t,
        Err(_) => {
            fetched = repo.all_tags()?;
            &fetched
        }
    };
    let mut best: Option<(String, Version, u64)> = None;
    for t in all.iter().cloned() {
        let Ok(v) = policy.tag.parse_tag(&t, policy.scheme) else {
            continue;
        };
        let tag_ref = format!("refs/tags/{t}");
        if !repo.is_ancestor(&tag_ref, commit)? {
            continue;
        }
        let d = repo.distance(Some(&tag_ref), commit)?;
        if best.as_ref().is_none_or(|b| d < b.2) {
            best = Some((t, v, d));
        }
    }
    Ok(best)
}

fn parse_override(
    policy: &ReleasePolicy,
    value: &str,
    origin: &str,
) -> Result<Version, VersionError> {
    Version::parse(policy.scheme, value).map_err(|source: VersionParseError| VersionError::Parse {
        origin: origin.to_string(),
        source,
    })
}

/// Resolves the version of a build of `project_root` at `rev`
/// (`None`: the working tree's manifests and HEAD's tags).
pub fn resolve(
    project_root: &Path,
    policy: &ReleasePolicy,
    rev: Option<&str>,
    overrides: &Overrides,
) -> Result<ResolvedVersion, VersionError> {
    let checkout = Checkout::resolve(project_root, rev, rev.is_none())?;
    resolve_at(&checkout, policy, overrides)
}

/// The version of a build of commit `id` of `repo` (no override): the
/// manifest's (or with a tag source, the tag at the commit or the nearest
/// reachable one), a release when a tag at the commit names it, a dev
/// build otherwise (an error in commit mode when a tag there names
/// another version).
fn at_commit(
    checkout: &Checkout,
    policy: &ReleasePolicy,
    repo: &Repo,
    id: &str,
) -> Result<ResolvedVersion, VersionError> {
    let rev = checkout.read_commit().map(|c| c.id.as_str());
    let read = || read_canonical(checkout.root.as_path(), policy, Some(checkout));
    // Independent queries at once: the tags at the commit, the
    // manifest, and all tags (for a dev build's distance).
    let ((here, manifest), all) = join_io(
        || {
            if policy.source == VersionSource::Tag {
                (tags_at(repo, id, policy), None)
            } else {
                let (h, m) = join_io(|| tags_at(repo, id, policy), read);
                (h, Some(m))
            }
        },
        || repo.all_tags(),
    );
    let here = here?;
    let (canonical, origin) = if let Some(m) = manifest {
        m?
    } else {
        match here.first() {
            Some((t, v)) => (v.clone(), format!("tag {t}")),
            None => match last_tag(repo, id, policy, &all)? {
                Some((t, v, _)) => (v, format!("tag {t} (nearest reachable)")),
                None => {
                    return Err(VersionError::NoTag {
                        what: format!("no tag of the form {} reaches commit {id}", policy.tag),
                        template: policy.tag.to_string(),
                    })
                }
            },
        }
    };
    let status = if let Some((t, _)) = here.iter().find(|(_, v)| *v == canonical) {
        BuildStatus::Release {
            tag: Some(t.clone()),
        }
    } else if let (Some((t, v)), Some(_)) = (here.first(), rev) {
        return Err(mismatch(t, v, &canonical, &origin, policy));
    } else {
        let info = checkout
            .commit
            .clone()
            .ok_or_else(|| GitError::UnknownRev {
                dir: repo.root().to_path_buf(),
                rev: id.to_string(),
            })?;
        let (distance, short) = join_io(
            || match last_tag(repo, id, policy, &all)? {
                Some((_, _, d)) => Ok::<_, VersionError>(d),
                None => Ok(repo.distance(None, id)?),
            },
            || repo.short_id(id, 7),
        );
        let distance = distance?;
        BuildStatus::Dev(DevInfo {
            commit: short?,
            distance,
            date: utc_date(info.committer_time),
        })
    };
    let mut r = ResolvedVersion::release(canonical, origin, policy);
    r.status = status;
    Ok(r)
}

/// The version of a build of `checkout`: in commit mode the manifests are
/// read from the commit's tree and a tag at it naming another version is an
/// error; in working-tree mode the manifests are read from disk. Independent
/// git queries run side by side.
pub(crate) fn resolve_at(
    checkout: &Checkout,
    policy: &ReleasePolicy,
    overrides: &Overrides,
) -> Result<ResolvedVersion, VersionError> {
    let project_root = checkout.root.as_path();
    let git: Option<(Repo, String)> = match (&checkout.repo, &checkout.commit) {
        (Some(repo), Some(c)) => Some((repo.clone(), c.id.clone())),
        _ => None,
    };
    if overrides.version.is_some() && overrides.tag.is_some() {
        return Err(VersionError::ConflictingOverrides);
    }
    if let Some(v) = &overrides.version {
        let mut r = ResolvedVersion::release(
            parse_override(policy, v, "--version")?,
            "--version".into(),
            policy,
        );
        if let Some(c) = &checkout.commit {
            r.commit_time = Some(c.committer_time);
            r.commit = Some(c.id.clone());
        }
        return Ok(r);
    }
    let read = || read_canonical(project_root, policy, Some(checkout));
    let mut resolved = if let Some(tag) = &overrides.tag {
        let tag_version = policy.tag.parse_tag(tag, policy.scheme)?;
        if policy.source != VersionSource::Tag {
            let (canonical, origin) = read()?;
            if canonical != tag_version {
                return Err(mismatch(tag, &tag_version, &canonical, &origin, policy));
            }
        }
        let mut r = ResolvedVersion::release(tag_version, format!("tag {tag}"), policy);
        r.status = BuildStatus::Release {
            tag: Some(tag.clone()),
        };
        r
    } else {
        match &git {
            None => {
                if policy.source == VersionSource::Tag {
                    return Err(VersionError::NoTag {
                        what: format!(
                            "{} is not a git work tree with a commit",
                            project_root.display()
                        ),
                        template: policy.tag.to_string(),
                    });
                }
                let (canonical, origin) = read()?;
                ResolvedVersion::release(canonical, origin, policy)
            }
            Some((repo, id)) => at_commit(checkout, policy, repo, id)?,
        }
    };
    if let Some(c) = &checkout.commit {
        resolved.commit_time = Some(c.committer_time);
        resolved.commit = Some(c.id.clone());
    }
    Ok(resolved)
}
