//! Before anything is built: every derivation whose inputs are had is
//! looked up in the store and asked of the substituter (`--cache`), in
//! plan order, so that what this machine may not build (another system,
//! another job, everything with `--assemble`) and cannot substitute is
//! reported before a single build starts ([`resolve`]).

use std::collections::{BTreeMap, BTreeSet};

use super::jobplan::{Here, Missing, Why};
use super::plan::{Plan, Realised};
use super::{BuildError, BuildOptions};
use crate::store::Store;

/// What was had before building, and what cannot be.
#[derive(Debug, Default)]
pub(super) struct Ahead {
    /// The derivations substituted here (their reports say so).
    pub substituted: BTreeSet<String>,
    /// The outputs that can be neither built here nor substituted.
    pub missing: Vec<Missing>,
    /// Their recipe ids.
    lost: BTreeSet<String>,
}

impl Ahead {
    /// Whether recipe `id` is missing.
    pub(super) fn lost(&self, id: &str) -> bool {
        self.lost.contains(id)
    }

    fn miss(&mut self, m: Missing) {
        self.lost.insert(m.recipe.clone());
        self.missing.push(m);
    }
}

/// The recipes the pass looks at: those this machine does not build and,
/// transitively, their inputs (whose outputs name their derivations).
/// Empty when it builds everything: a no-op build reads no record twice.
fn needed(plan: &Plan<'_>, here: &BTreeMap<String, Here>) -> BTreeSet<String> {
    let mut needed: BTreeSet<String> = here
        .iter()
        .filter(|(_, h)| **h != Here::Build)
        .map(|(id, _)| id.clone())
        .collect();
    // Inputs come before their dependents: walk the plan backwards.
    for n in plan.nodes.iter().rev() {
        if needed.contains(&n.recipe.id) {
            needed.extend(n.recipe.inputs().values().cloned());
        }
    }
    needed
}

/// Substitute ahead and find what is missing. `strict`: a node this
/// machine may not build whose inputs are built here first counts as
/// missing too (its derivation cannot be known before they are built).
pub(super) fn resolve(
    plan: &Plan<'_>,
    store: &Store,
    opts: &BuildOptions,
    here: &BTreeMap<String, Here>,
    strict: bool,
) -> Result<Ahead, BuildError> {
    let mut ahead = Ahead::default();
    let mut known: BTreeMap<String, Realised> = BTreeMap::new();
    let needed = needed(plan, here);
    for node in plan.nodes.iter().filter(|n| needed.contains(&n.recipe.id)) {
        let id = &node.recipe.id;
        let why = match &here[id] {
            Here::Build => None,
            Here::Substitute(w) => Some(w.clone()),
        };
        if let Some(dep) = node.recipe.inputs().values().find(|d| ahead.lost(d)) {
            let why = Why::Input(dep.clone());
            ahead.miss(Missing {
                recipe: id.clone(),
                drv: None,
                why,
                detail: None,
            });
            continue;
        }
        let inputs: Option<BTreeMap<String, Realised>> = node
            .recipe
            .inputs()
            .iter()
            .map(|(m, d)| known.get(d).map(|x| (m.clone(), x.clone())))
            .collect();
        let Some(inputs) = inputs else {
            if let (Some(why), true) = (why, strict) {
                ahead.miss(Missing {
                    recipe: id.clone(),
                    drv: None,
                    why,
                    detail: Some("its inputs are built here first".into()),
                });
            }
            continue;
        };
        let hash = node.derivation(&inputs).hash();
        let mut real = store.realisation(hash.as_str())?;
        let mut detail = None;
        let check = opts.check && why.is_none();
        if let (None, false, Some(sub)) = (&real, check, &opts.substituter) {
            match sub.substitute(store, hash.as_str()) {
                Ok(Some(r)) => {
                    ahead.substituted.insert(hash.to_string());
                    real = Some(r);
                }
                Ok(None) => {}
                Err(message) => detail = Some(message),
            }
        }
        match (real, why) {
            (Some(r), _) => {
                known.insert(id.clone(), Realised::new(hash, r));
            }
            (None, None) => {}
            (None, Some(why)) => ahead.miss(Missing {
                recipe: id.clone(),
                drv: Some(hash),
                why,
                detail,
            }),
        }
    }
    Ok(ahead)
}
