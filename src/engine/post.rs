//! Post releases (`3.1.0.post1`): which recipes a post release builds, and
//! from which release.
//!
//! A post release re-issues the images of the release it follows; code is
//! never re-published under a post version. Every recipe whose surface is
//! not `oci` is a *code recipe*. In a post-release build a code recipe is
//! skipped unless it is (transitively) an input of a selected image; then it
//! is built as the base release builds it: from the commit the base
//! release's tag points at, at the base version (`3.1.0.post1` → `3.1.0`),
//! so its derivation — and its output — is that release's. Only the images
//! carry the post version. Naming a code recipe explicitly is bad input.

use std::collections::{BTreeMap, BTreeSet};

use super::resolved::Resolved;
use super::BuildError;
use crate::recipe::Recipe;

/// What a post-release build builds: each recipe with the release it is
/// built from, in dependency order, and the code recipes it skips.
#[derive(Debug)]
pub(super) struct Selected<'r> {
    pub nodes: Vec<(&'r Recipe, &'r Resolved)>,
    pub skipped: Vec<String>,
}

/// Select the images among `names` (all when empty) and the code inputs
/// they need, those from `base`; refuse a code recipe named explicitly.
pub(super) fn select<'r>(
    resolved: &'r Resolved,
    base: &'r Resolved,
    names: &[String],
) -> Result<Selected<'r>, BuildError> {
    let selected = resolved.recipes.select(names)?;
    let code = |r: &Recipe| !is_image(r);
    for r in &selected {
        if code(r) && names.iter().any(|n| *n == r.id || *n == r.name) {
            return Err(BuildError::PostReleaseCode {
                recipe: r.id.clone(),
                version: resolved.version.canonical.to_string(),
            });
        }
    }
    // Each needed recipe, from the side it is built from.
    let mut needed: BTreeMap<String, (&'r Recipe, &'r Resolved)> = BTreeMap::new();
    let mut stack: Vec<String> = selected
        .iter()
        .filter(|r| !code(r))
        .map(|r| r.id.clone())
        .collect();
    while let Some(id) = stack.pop() {
        if needed.contains_key(&id) {
            continue;
        }
        let side = side_of(resolved, base, &id)?;
        stack.extend(side.0.inputs().values().cloned());
        needed.insert(id, side);
    }
    let skipped = selected
        .iter()
        .filter(|r| code(r) && !needed.contains_key(&r.id))
        .map(|r| r.id.clone())
        .collect();
    Ok(Selected {
        nodes: in_dependency_order(needed),
        skipped,
    })
}

/// An image is built from this build's commit; a code recipe from the
/// base release's, where it must exist.
fn side_of<'r>(
    resolved: &'r Resolved,
    base: &'r Resolved,
    id: &str,
) -> Result<(&'r Recipe, &'r Resolved), BuildError> {
    if let Some(r) = resolved.recipes.recipes.get(id) {
        if is_image(r) {
            return Ok((r, resolved));
        }
    }
    match base.recipes.recipes.get(id) {
        Some(r) => Ok((r, base)),
        None => Err(BuildError::PostReleaseInput {
            recipe: id.to_string(),
            base: base.version.canonical.to_string(),
        }),
    }
}

/// Inputs first, then by id (the order `Recipes::select` gives).
fn in_dependency_order<'r>(
    mut needed: BTreeMap<String, (&'r Recipe, &'r Resolved)>,
) -> Vec<(&'r Recipe, &'r Resolved)> {
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    while !needed.is_empty() {
        let ready: Vec<String> = needed
            .iter()
            .filter(|(_, (r, _))| {
                r.inputs()
                    .values()
                    .all(|d| done.contains(d) || !needed.contains_key(d))
            })
            .map(|(id, _)| id.clone())
            .collect();
        if ready.is_empty() {
            // A cycle was refused when the recipes were loaded; keep the rest.
            out.extend(std::mem::take(&mut needed).into_values());
            break;
        }
        for id in ready {
            if let Some(side) = needed.remove(&id) {
                out.push(side);
            }
            done.insert(id);
        }
    }
    out
}

/// Whether the recipe makes an image (published to an OCI registry): the
/// one kind a post release rebuilds.
fn is_image(r: &Recipe) -> bool {
    crate::surface::of(r).publication() == crate::surface::Publication::Oci
}
