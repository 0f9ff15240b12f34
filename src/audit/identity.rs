//! What an artifact says about itself: which surfaces could have made it,
//! the commit it names (a crate's `.cargo_vcs_info.json`, an image's
//! `org.opencontainers.image.revision`) and its version (the manifest or
//! metadata inside it), mapped back to the canonical version of the
//! project's policy ([`canonical_at`]). Read with `kiln diff`'s bounded
//! readers; nothing is extracted.

use std::path::Path;

use serde_json::Value;

use crate::diff::{Entry, Listing};
use crate::recipe::Surface;
use crate::version::{Scheme, Target, Version, VersionError};

/// Where a commit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitFrom {
    /// `--rev`.
    Flag,
    /// The statement beside the artifact.
    Sidecar,
    /// The crate's `.cargo_vcs_info.json`.
    CargoVcsInfo,
    /// The image's `org.opencontainers.image.revision`.
    OciRevision,
    /// The `gitHead` the npm registry records for the version.
    NpmGitHead,
}

impl std::fmt::Display for CommitFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CommitFrom::Flag => "--rev",
            CommitFrom::Sidecar => "the provenance statement beside it",
            CommitFrom::CargoVcsInfo => "its .cargo_vcs_info.json",
            CommitFrom::OciRevision => "its org.opencontainers.image.revision annotation",
            CommitFrom::NpmGitHead => "the gitHead the npm registry records for it",
        })
    }
}

/// What the artifact says about itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity {
    /// Surfaces whose artifacts look like this one.
    pub surfaces: Vec<Surface>,
    pub commit: Option<(String, CommitFrom)>,
    pub version: Option<String>,
}

fn text(e: &Entry) -> Option<&str> {
    e.data.as_deref().and_then(|d| std::str::from_utf8(d).ok())
}

fn find(l: &Listing, pred: impl Fn(&str) -> bool) -> Option<&Entry> {
    l.entries
        .iter()
        .find(|e| std::str::from_utf8(e.name.as_bytes()).is_ok_and(&pred))
}

/// The value of `key` anywhere in `v` (depth first).
fn json_key<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v {
        Value::Object(m) => m
            .get(key)
            .and_then(Value::as_str)
            .or_else(|| m.values().find_map(|x| json_key(x, key))),
        Value::Array(a) => a.iter().find_map(|x| json_key(x, key)),
        _ => None,
    }
}

/// `Version:` of core metadata.
fn metadata_version(t: &str) -> Option<String> {
    t.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("Version: "))
        .map(|v| v.trim().to_string())
}

/// Read what `listing` (the artifact `file`) says about itself.
pub(crate) fn identify(file: &str, is_dir: bool, listing: &Listing) -> Identity {
    let mut id = Identity::default();
    let depth1 = |suffix: &str| {
        find(listing, |n| {
            n.ends_with(suffix) && n.matches('/').count() == suffix.matches('/').count()
        })
    };
    if is_dir {
        id.surfaces = if find(listing, |n| n.ends_with("manifest.json")).is_some()
            && file.ends_with(".oci")
        {
            vec![Surface::Oci]
        } else {
            vec![Surface::Command]
        };
    } else if file.ends_with(".crate") {
        id.surfaces = vec![Surface::Crate];
        if let Some(v) = depth1("/.cargo_vcs_info.json").and_then(text) {
            if let Ok(j) = serde_json::from_str::<Value>(v) {
                if let Some(sha) = j.pointer("/git/sha1").and_then(Value::as_str) {
                    id.commit = Some((sha.to_string(), CommitFrom::CargoVcsInfo));
                }
            }
        }
        id.version = depth1("/Cargo.toml")
            .and_then(text)
            .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
            .and_then(|d| d.get("package")?.get("version")?.as_str().map(String::from));
    } else if file.ends_with(".whl") {
        id.surfaces = vec![Surface::Wheel];
        id.version = find(listing, |n| n.ends_with(".dist-info/METADATA"))
            .and_then(text)
            .and_then(metadata_version);
    } else if file.ends_with(".docker.tar") {
        id.surfaces = vec![Surface::Oci];
    } else if file.ends_with(".zip") {
        id.surfaces = vec![Surface::Zip];
    } else if let Some(pkg) = find(listing, |n| n == "package/package.json") {
        id.surfaces = vec![Surface::Npm, Surface::Tarball];
        id.version = text(pkg)
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .and_then(|v| v.get("version")?.as_str().map(String::from));
    } else if let Some(p) = depth1("/PKG-INFO") {
        id.surfaces = vec![Surface::Sdist, Surface::Tarball];
        id.version = text(p).and_then(metadata_version);
    } else {
        id.surfaces = vec![Surface::Tarball];
    }
    if id.surfaces == [Surface::Oci] {
        for e in &listing.entries {
            let name = String::from_utf8_lossy(e.name.as_bytes());
            if !name.ends_with(".json") {
                continue;
            }
            let Some(v) = text(e).and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
                continue;
            };
            if id.commit.is_none() {
                if let Some(r) = json_key(&v, "org.opencontainers.image.revision") {
                    id.commit = Some((r.to_string(), CommitFrom::OciRevision));
                }
            }
            if id.version.is_none() {
                id.version = json_key(&v, "org.opencontainers.image.version").map(String::from);
            }
        }
    }
    id
}

impl Identity {
    /// The publication target whose spelling the artifact's version uses.
    fn target(&self) -> Target {
        match self.surfaces.first() {
            Some(Surface::Wheel | Surface::Sdist) => Target::Pypi,
            Some(Surface::Crate) => Target::Cargo,
            Some(Surface::Npm) => Target::Npm,
            Some(Surface::Oci) => Target::Oci,
            _ => Target::Plain,
        }
    }

    /// `spelled` (the artifact's version, or its statement's, in the
    /// artifact's ecosystem spelling) as the canonical version in `scheme`.
    pub(crate) fn canonical_version(
        &self,
        spelled: &str,
        scheme: Scheme,
    ) -> Result<Version, VersionError> {
        Version::from_spelling(self.target(), spelled, scheme)
    }
}

/// [`Identity::canonical_version`] under the release policy of `commit` of
/// the project at `root`: the version to rebuild the artifact with.
pub(crate) fn canonical_at(
    root: &Path,
    commit: &str,
    id: &Identity,
    spelled: &str,
) -> Result<String, crate::engine::BuildError> {
    let checkout = crate::source::Checkout::resolve(root, Some(commit), false)?;
    let (_, policy) = crate::recipe::load::project(&checkout)?;
    Ok(id.canonical_version(spelled, policy.scheme)?.to_string())
}

/// Read and identify the artifact at `path`.
pub(crate) fn read(path: &Path) -> Result<(Listing, Identity), crate::diff::DiffError> {
    let listing = crate::diff::source::read_path(path, &crate::diff::Limits::default())?;
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let id = identify(&file, is_dir, &listing);
    Ok((listing, id))
}

/// Fuzz entry point (`fuzz/fuzz_targets/image.rs`): what `kiln verify`
/// reads from a listing (commit, version, kind), for any bytes.
pub fn fuzz_identity(data: &[u8]) {
    let limits = crate::diff::fuzz_limits();
    let bytes = std::sync::Arc::new(data.to_vec());
    let Ok(l) = crate::diff::source::read_bytes(bytes, "fuzz", None, &limits, 0) else {
        return;
    };
    for name in [
        "a.crate",
        "a.tgz",
        "a.whl",
        "a.docker.tar",
        "a.tar.gz",
        "a.oci",
    ] {
        let _ = identify(name, name.ends_with(".oci"), &l);
    }
}
