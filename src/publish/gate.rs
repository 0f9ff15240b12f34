//! The release gate's checks on this side of the network: the build is a
//! release build of a clean commit at its release tag, every selected
//! recipe is built in this store, and every artifact's bytes equal the
//! digest in its sealed realisation record, and so does its copy in
//! `dist/`; with the policy's `rebuild = true` or `--rebuild`, the
//! release rebuilt in a fresh store has the same bytes ([`reproduced`]).
//! (Whether a registry already has the version is asked in
//! [`super::steps`].)

use std::path::{Path, PathBuf};

use super::error::PublishError;
use super::model::Item;
use crate::engine::{Artifact, Plan, Resolved};
use crate::hash::Sha256;
use crate::recipe::Surface;
use crate::store::Store;
use crate::version::resolve::BuildStatus;

/// One built recipe (a matrix recipe: one per cell): its artifacts, each
/// with the store file it is.
#[derive(Debug)]
pub(super) struct Built {
    /// The recipe's id (a matrix cell's: `image[python=3.11]`).
    pub recipe: String,
    /// The recipe's name, which `[publish]` and the command line name (a
    /// matrix recipe's name selects all its cells).
    pub name: String,
    pub surface: Surface,
    /// Where the recipe's surface publishes (`SurfaceKind::publication`).
    pub publication: crate::surface::Publication,
    pub artifacts: Vec<(Artifact, PathBuf)>,
}

/// The release tag this build is at and the clean commit it names; an
/// error for a dev build, an explicit `--version`, or a working tree.
pub(super) fn release(resolved: &Resolved) -> Result<(String, String), PublishError> {
    let version = resolved.version.canonical.to_string();
    let refuse = |reason: &str| PublishError::NotRelease {
        version: version.clone(),
        reason: reason.to_string(),
    };
    let Some(commit) = resolved.snapshot.origin.clean_commit() else {
        return Err(refuse(
            "it is not a clean commit (publish reads committed files only)",
        ));
    };
    match &resolved.version.status {
        BuildStatus::Release { tag: Some(t) } => Ok((t.clone(), commit.to_string())),
        BuildStatus::Release { tag: None } => Err(refuse("no release tag names the commit")),
        BuildStatus::Dev(_) => Err(refuse(&format!(
            "a dev build (no release tag `{}` at the commit)",
            resolved.version.release_tag()
        ))),
    }
}

/// Each recipe of `selected` (by id or name: each cell of a matrix
/// recipe), as this store holds it: built (never built here), and every
/// artifact file's SHA-256 and size as sealed, in the store and in `dist`.
pub(super) fn built(
    plan: &Plan<'_>,
    store: &Store,
    selected: &[String],
    version: &str,
    dist: &Path,
) -> Result<Vec<Built>, PublishError> {
    let mut out = Vec::new();
    for p in plan.describe(store)? {
        let Some(node) = plan.nodes.iter().find(|n| n.recipe.id == p.id) else {
            continue;
        };
        let name = node.recipe.name.clone();
        if !selected.contains(&p.id) && !selected.contains(&name) {
            continue;
        }
        let not_built = || match made_elsewhere(dist, &p.id) {
            Some(path) => PublishError::NotBuiltHere {
                path,
                recipe: p.id.clone(),
                version: version.to_string(),
            },
            None => PublishError::NotBuilt {
                recipe: p.id.clone(),
                version: version.to_string(),
            },
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
            check_dist(dist, &a)?;
            artifacts.push((a, path));
        }
        out.push(Built {
            recipe: p.id,
            name,
            surface: p.surface,
            publication: crate::surface::of(node.recipe).publication(),
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

/// The copy of `a` in `dist/`, if there is one, is the sealed artifact.
fn check_dist(dist: &Path, a: &Artifact) -> Result<(), PublishError> {
    let path = dist.join(&a.file);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(PublishError::Io { path, source }),
        Ok(_) => {}
    }
    let differs = |actual: String| PublishError::DistDiffers {
        path: path.clone(),
        actual,
        built: a.sha256.clone(),
    };
    let checked = if a.directory {
        check_tree(&path, a)
    } else {
        check_bytes(&path, a)
    };
    match checked {
        Err(PublishError::Tampered { actual, .. }) => Err(differs(actual)),
        Err(_) => Err(differs("(not readable as such)".into())),
        Ok(()) => Ok(()),
    }
}

/// The subject a provenance statement in `dist` names: an artifact of
/// `recipe` made by another store (or copied in).
fn made_elsewhere(dist: &Path, recipe: &str) -> Option<PathBuf> {
    let mut names: Vec<_> = std::fs::read_dir(dist)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".intoto.json"))
        .collect();
    names.sort();
    names.into_iter().find_map(|n| {
        let bytes = crate::fsutil::read_regular(&dist.join(&n)).ok()?;
        let st: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let of = st.pointer("/predicate/buildDefinition/externalParameters/recipe")?;
        let subject = crate::provenance::subjects(&bytes)
            .ok()?
            .into_iter()
            .next()?;
        (of.as_str() == Some(recipe) && crate::name::check_portable(&subject.name).is_ok())
            .then(|| dist.join(subject.name))
    })
}

/// The rebuild check (`--rebuild`, or the policy's `rebuild = true`):
/// every item of the release as `rebuilt` in a fresh store has the bytes
/// the sealed one has (items are matched by recipe and file).
pub(super) fn reproduced(sealed: &[Item], rebuilt: &[Item]) -> Result<(), PublishError> {
    for ours in sealed {
        let again = rebuilt
            .iter()
            .find(|i| i.recipe == ours.recipe && i.file == ours.file);
        if again.is_some_and(|i| i.sha256 == ours.sha256) {
            continue;
        }
        return Err(PublishError::NotReproducible {
            recipe: ours.recipe.clone(),
            file: ours.file.clone(),
            sealed: ours.sha256.clone(),
            rebuilt: again.map_or_else(|| "(not made)".to_string(), |i| i.sha256.clone()),
        });
    }
    Ok(())
}
