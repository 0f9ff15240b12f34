//! The publish plan: every artifact of every selected recipe, to each of
//! its registries ([`items`]), and what each registry already holds of
//! that version ([`steps`]) — the last part of the release gate. A
//! version a registry holds with other bytes, or with a file this release
//! does not have, stops the run before any upload.

use std::collections::BTreeMap;

use super::clients::client;
use super::config::{self, Environment};
use super::error::PublishError;
use super::gate::Built;
use super::model::{Action, Item, Kind, Registry, RemoteFile, Step};
use crate::store::Store;

/// The registries and the items of a publish, in upload order.
pub(super) fn items(
    built: &[Built],
    targets: &BTreeMap<String, Vec<String>>,
    overrides: &[(String, String)],
    env: &Environment,
) -> Result<(Vec<Registry>, Vec<Item>), PublishError> {
    let mut registries: Vec<Registry> = Vec::new();
    let mut items = Vec::new();
    for b in built {
        let kind = Kind::of(b.publication).ok_or_else(|| PublishError::Unpublishable {
            recipe: b.recipe.clone(),
            surface: b.surface.as_str().to_string(),
        })?;
        // `[publish]` names a matrix recipe, or one of its cells.
        let names = targets.get(&b.recipe).or_else(|| targets.get(&b.name));
        for name in names.into_iter().flatten() {
            let registry = match registries
                .iter()
                .position(|r| &r.name == name && r.kind == kind)
            {
                Some(i) => i,
                None => {
                    registries.push(config::registry(name, kind, overrides, env, &b.recipe)?);
                    registries.len() - 1
                }
            };
            for (a, path) in &b.artifacts {
                if let Some(item) = item(kind, &b.recipe, registry, a, path)? {
                    items.push(item);
                }
            }
        }
    }
    items.sort_by(|a, b| {
        let key = |i: &Item| {
            (
                registries[i.registry].kind,
                i.registry,
                i.recipe.clone(),
                i.file.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok((registries, items))
}

/// The item of artifact `a` for a registry of `kind`; `None` for an
/// artifact that kind does not take (an image's docker archive).
fn item(
    kind: Kind,
    recipe: &str,
    registry: usize,
    a: &crate::surface::Artifact,
    path: &std::path::Path,
) -> Result<Option<Item>, PublishError> {
    let (package, version, aliases, digest) = match kind {
        Kind::Pypi if a.directory => return Ok(None),
        Kind::Pypi => {
            let m = super::pypi::metadata(path, &a.file)?;
            (m.name, m.version, Vec::new(), a.sha256.clone())
        }
        Kind::Npm => {
            let Some(f) = a.facts.npm.clone() else {
                return Ok(None);
            };
            (f.npm_name, f.npm_version, vec![f.dist_tag], f.integrity)
        }
        Kind::Cargo => {
            let Some(f) = a.facts.crate_.clone().filter(|_| !a.directory) else {
                return Ok(None);
            };
            // The index lists a `.crate` by its SHA-256.
            (f.crate_name, f.crate_version, Vec::new(), a.sha256.clone())
        }
        Kind::Oci => {
            let Some(f) = a.facts.image.clone().filter(|_| a.directory) else {
                return Ok(None);
            };
            let Some((version, aliases)) = f.tags.split_first() else {
                return Ok(None);
            };
            let repository = config::oci_repository(&f.repository);
            (
                repository,
                version.clone(),
                aliases.to_vec(),
                f.manifest_digest,
            )
        }
    };
    let remote = match kind {
        Kind::Pypi => a.file.clone(),
        Kind::Oci | Kind::Npm | Kind::Cargo => version.clone(),
    };
    Ok(Some(Item {
        recipe: recipe.to_string(),
        registry,
        package,
        version,
        aliases,
        file: a.file.clone(),
        remote,
        path: path.to_path_buf(),
        sha256: a.sha256.clone(),
        size: a.size,
        digest,
    }))
}

/// Each item's step, after asking its registry what it holds of the
/// version; the first conflict is the error.
pub(super) fn steps(
    registries: &[Registry],
    items: Vec<Item>,
    store: &Store,
) -> Result<Vec<Step>, PublishError> {
    let mut listings: BTreeMap<(usize, String, String), Vec<RemoteFile>> = BTreeMap::new();
    for i in &items {
        let key = (i.registry, i.package.clone(), i.version.clone());
        if let std::collections::btree_map::Entry::Vacant(e) = listings.entry(key) {
            e.insert(client(&registries[i.registry]).listing(&i.package, &i.version)?);
        }
    }
    for ((r, package, version), files) in &listings {
        for f in files {
            let ours = items.iter().find(|i| {
                i.registry == *r
                    && &i.package == package
                    && &i.version == version
                    && i.remote == f.file
            });
            conflict(&registries[*r], package, version, f, ours)?;
        }
    }
    let mut steps = Vec::new();
    for item in items {
        let reg = &registries[item.registry];
        let remote = &listings[&(item.registry, item.package.clone(), item.version.clone())];
        let action = if remote.iter().any(|f| f.file == item.remote) {
            Action::AlreadyPublished
        } else {
            Action::Upload
        };
        let recorded = store
            .publication(&reg.url, &item.package, &item.version, &item.file)?
            .is_some_and(|p| p.sha256 == item.sha256 && p.file == item.file);
        steps.push(Step {
            registry: reg.name.clone(),
            item,
            action,
            recorded,
        });
    }
    Ok(steps)
}

/// A remote file of the version that is not this very item's bytes.
pub(super) fn conflict(
    registry: &Registry,
    package: &str,
    version: &str,
    remote: &RemoteFile,
    ours: Option<&Item>,
) -> Result<(), PublishError> {
    match ours {
        Some(i) if i.digest == remote.digest => Ok(()),
        _ => Err(PublishError::Conflict(Box::new(super::error::Conflict {
            registry: registry.name.clone(),
            package: package.to_string(),
            version: version.to_string(),
            file: remote.file.clone(),
            ours: ours.map_or_else(
                || "(no such file in this release)".into(),
                |i| i.digest.clone(),
            ),
            theirs: remote.digest.clone(),
        }))),
    }
}
