//! Rebuilding a release in a fresh store ([`rebuild`]), for `kiln verify
//! --all REV` and for the gate of `kiln publish --rebuild`.
//!
//! `kiln verify --all REV`: every artifact of a release, across the
//! registries `[publish]` names, against a fresh rebuild. The release is
//! built from the commit in an empty store (no cache), planned exactly as
//! `kiln publish` plans it ([`release::load`]: the same gate, the same
//! items, so the same package names, versions and digests), and each
//! item's registry version is fetched ([`super::fetch`], every file
//! checked against the digest the registry states) and compared with the
//! rebuild's digest in the registry's own spelling.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::config::Environment;
use super::error::PublishError;
use super::fetch::{fetch, FetchError, FetchOptions, FetchedFile};
use super::model::{Item, Kind, Registry};
use super::reference::{ImageRef, RegistryRef};
use super::release::{self, Release};
use crate::engine::{BuildOptions, Quiet, Resolved};

/// How one artifact of the release compares with its registry's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Check {
    BytesIdentical,
    Different,
    /// The registry does not have it.
    Missing,
    /// The registry has a file under the version the release does not.
    Unexpected,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Check::BytesIdentical => "bytes identical",
            Check::Different => "different",
            Check::Missing => "missing",
            Check::Unexpected => "not in the release",
        })
    }
}

/// One artifact on one registry.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReleaseCheck {
    pub recipe: String,
    pub registry: String,
    pub url: String,
    pub name: String,
    pub registry_version: String,
    /// Its name in `dist/` (for a file the release lacks: the registry's).
    pub file: String,
    /// The rebuild's digest and the registry's, as the registry spells them.
    pub rebuilt: Option<String>,
    pub served: Option<String>,
    pub check: Check,
}

/// What `kiln verify --all` found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReleaseVerifyReport {
    pub version: String,
    pub tag: String,
    pub checks: Vec<ReleaseCheck>,
}

impl ReleaseVerifyReport {
    pub(crate) fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.check == Check::BytesIdentical)
    }
}

/// Rebuild the release `build` names (its `rev`) in a fresh store under
/// `work`, then fetch and compare every artifact on every registry.
pub(crate) fn verify_release(
    build: &BuildOptions,
    overrides: &[(String, String)],
    env: &Environment,
    work: &Path,
) -> Result<ReleaseVerifyReport, FetchError> {
    let release = rebuild(build, overrides, env, work)?;
    let mut checks = Vec::new();
    let mut done: Vec<(usize, String, String)> = Vec::new();
    for item in &release.items {
        let key = (item.registry, item.package.clone(), item.version.clone());
        if done.contains(&key) {
            continue;
        }
        let registry = &release.registries[item.registry];
        let ours: Vec<&Item> = release
            .items
            .iter()
            .filter(|i| (i.registry, &i.package, &i.version) == (key.0, &key.1, &key.2))
            .collect();
        let dir = work.join(format!("fetch-{}", done.len()));
        std::fs::create_dir_all(&dir).map_err(|source| FetchError::Io {
            path: dir.clone(),
            source,
        })?;
        let served = match fetch(&FetchOptions {
            reference: reference(registry, item),
            registry: Some((registry.name.clone(), Some(registry.url.clone()))),
            env: env.clone(),
            dir: dir.clone(),
        }) {
            Ok(f) => f.files,
            Err(FetchError::Missing { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        checks.extend(compare(registry, &ours, &served));
        done.push(key);
    }
    Ok(ReleaseVerifyReport {
        version: release.version,
        tag: release.tag,
        checks,
    })
}

/// The release `build` names (its `rev`), built in an empty store under
/// `work` with no cache, and planned as `kiln publish` plans it. The
/// recipes built are those `kiln publish` uploads.
pub(super) fn rebuild(
    build: &BuildOptions,
    overrides: &[(String, String)],
    env: &Environment,
    work: &Path,
) -> Result<Release, PublishError> {
    let build = BuildOptions {
        store_dir: work.join("store"),
        out_dir: Some(work.join("dist")),
        substituter: None,
        ..build.clone()
    };
    let resolved = Resolved::load(&build)?;
    let recipes = release::selected(&resolved, &release::policy(&resolved)?, &build);
    crate::engine::build(
        &BuildOptions {
            recipes,
            ..build.clone()
        },
        &Quiet,
    )?;
    release::load(&build, overrides, env)
}

/// The reference `item` has on `registry`.
fn reference(registry: &Registry, item: &Item) -> RegistryRef {
    let (name, version) = (item.package.clone(), item.version.clone());
    match registry.kind {
        Kind::Pypi => RegistryRef::Pypi { name, version },
        Kind::Npm => RegistryRef::Npm { name, version },
        Kind::Cargo => RegistryRef::Crate { name, version },
        Kind::Oci => RegistryRef::Oci {
            host: registry
                .url
                .split_once("://")
                .map_or(registry.url.as_str(), |(_, r)| r)
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            repo: name,
            image: ImageRef::Tag(version),
        },
    }
}

/// Each of `ours` against what was `served`, and every served file none
/// of ours is.
fn compare(registry: &Registry, ours: &[&Item], served: &[FetchedFile]) -> Vec<ReleaseCheck> {
    // PyPI files are matched by name; an npm version or an image tag is
    // one artifact.
    let matches = |i: &Item, f: &FetchedFile| registry.kind != Kind::Pypi || f.file == i.remote;
    let check = |i: &Item, served: Option<&FetchedFile>, check: Check| ReleaseCheck {
        recipe: i.recipe.clone(),
        registry: registry.name.clone(),
        url: registry.url.clone(),
        name: i.package.clone(),
        registry_version: i.version.clone(),
        file: served
            .filter(|_| check == Check::Unexpected)
            .map_or_else(|| i.file.clone(), |f| f.file.clone()),
        rebuilt: (check != Check::Unexpected).then(|| i.digest.clone()),
        served: served.map(|f| f.digest.clone()),
        check,
    };
    let mut out = Vec::new();
    for i in ours {
        out.push(match served.iter().find(|f| matches(i, f)) {
            Some(f) if f.digest == i.digest => check(i, Some(f), Check::BytesIdentical),
            Some(f) => check(i, Some(f), Check::Different),
            None => check(i, None, Check::Missing),
        });
    }
    for f in served {
        if !ours.iter().any(|i| matches(i, f)) {
            out.push(check(ours[0], Some(f), Check::Unexpected));
        }
    }
    out
}

/// Where [`verify_release`] works: a fresh directory below `temp`.
pub(crate) fn work_dir(temp: &Path) -> Result<tempfile::TempDir, FetchError> {
    let io = |source| FetchError::Io {
        path: PathBuf::from(temp),
        source,
    };
    std::fs::create_dir_all(temp).map_err(io)?;
    tempfile::Builder::new()
        .prefix("verify-release-")
        .tempdir_in(temp)
        .map_err(io)
}
