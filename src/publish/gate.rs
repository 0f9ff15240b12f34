//! The release gate's checks on this side of the network: the build is a
//! release build of a clean commit at its release tag, every selected
//! recipe is built in this store, and every artifact's bytes equal the
//! digest in its sealed realisation record. (Whether a registry already
//! has the version is asked in [`super::steps`].)

use std::path::PathBuf;

use super::error::PublishError;
use crate::engine::{Artifact, Plan, Resolved};
use crate::hash::Sha256;
use crate::recipe::Surface;
use crate::store::Store;
use crate::version::resolve::BuildStatus;

/// One built recipe: its artifacts, each with the store file it is.
#[derive(Debug)]
pub(super) struct Built {
    pub recipe: String,
    pub surface: Surface,
    /// Where the recipe's surface publishes (`SurfaceKind::publication`).
    pub publication: crate::surface::Publication,
    pub artifacts: Vec<(Artifact, PathBuf)>,
}

/// The release tag this build is at; an error for a dev build, an
/// explicit `--version`, or a working tree.
pub(super) fn release(resolved: &Resolved) -> Result<String, PublishError> {
    let version = resolved.version.canonical.to_string();
    let refuse = |reason: &str| PublishError::NotRelease {
        version: version.clone(),
        reason: reason.to_string(),
    };
    if resolved.snapshot.origin.clean_commit().is_none() {
        return Err(refuse(
            "it is not a clean commit (publish reads committed files only)",
        ));
    }
    match &resolved.version.status {
        BuildStatus::Release { tag: Some(t) } => Ok(t.clone()),
        BuildStatus::Release { tag: None } => Err(refuse("no release tag names the commit")),
        BuildStatus::Dev(_) => Err(refuse(&format!(
            "a dev build (no release tag `{}` at the commit)",
            resolved.version.release_tag()
        ))),
    }
}

/// Each recipe of `selected`, as this store holds it: built (never built
/// here), and every artifact file's SHA-256 and size as sealed.
pub(super) fn built(
    plan: &Plan<'_>,
    store: &Store,
    selected: &[String],
    version: &str,
) -> Result<Vec<Built>, PublishError> {
    let mut out = Vec::new();
    for p in plan.describe(store)? {
        if !selected.contains(&p.id) {
            continue;
        }
        let not_built = || PublishError::NotBuilt {
            recipe: p.id.clone(),
            version: version.to_string(),
        };
        let drv = p.drv.as_ref().ok_or_else(not_built)?;
        let real = store.realisation(drv.as_str())?.ok_or_else(not_built)?;
        let root = store.path_of(&real.store_path);
        let mut artifacts = Vec::new();
        for a in real.meta.artifacts.clone() {
            let path = if a.path.is_empty() {
                root.clone()
            } else {
                root.join(&a.path)
            };
            if a.directory {
                check_tree(&path, &a)?;
            } else {
                check_bytes(&path, &a)?;
            }
            artifacts.push((a, path));
        }
        let publication = plan
            .nodes
            .iter()
            .find(|n| n.recipe.id == p.id)
            .map_or(crate::surface::Publication::None, |n| {
                crate::surface::of(n.recipe).publication()
            });
        out.push(Built {
            recipe: p.id,
            surface: p.surface,
            publication,
            artifacts,
        });
    }
    Ok(out)
}

/// The file's bytes are those the realisation record names.
fn check_bytes(path: &std::path::Path, a: &Artifact) -> Result<(), PublishError> {
    let (f, _) = crate::fsutil::open_regular(path).map_err(|source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (digest, size) = Sha256::digest_reader_len(f).map_err(|source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if digest.to_hex() != a.sha256 || size != a.size {
        return Err(PublishError::Tampered {
            path: path.to_path_buf(),
            expected: a.sha256.clone(),
            actual: digest.to_hex(),
        });
    }
    Ok(())
}

/// A directory artifact's NAR serialisation is the one its record names.
fn check_tree(path: &std::path::Path, a: &Artifact) -> Result<(), PublishError> {
    let nar = crate::hash::tree::nar_sha256(path).map_err(|e| PublishError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    if nar.hash.to_hex() != a.sha256 || nar.size != a.size {
        return Err(PublishError::Tampered {
            path: path.to_path_buf(),
            expected: a.sha256.clone(),
            actual: nar.hash.to_hex(),
        });
    }
    Ok(())
}
