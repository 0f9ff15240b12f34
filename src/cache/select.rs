//! Which realisations a push or pull is about: the derivations the engine
//! plans for the selected recipes (what a build of this checkout produces),
//! and derivations named explicitly.

use std::collections::BTreeSet;

use super::pull::{self, PullOptions, PullResult};
use super::{Cache, CacheError, Progress};
use crate::engine::{self, BuildOptions};
use crate::store::{Realisation, Store};

/// The realisations to push: every planned derivation (it must be built)
/// and every one in `drvs`.
pub(crate) fn realisations(
    store: &Store,
    plan: Option<&BuildOptions>,
    drvs: &[String],
) -> Result<Vec<Realisation>, CacheError> {
    let mut wanted: Vec<String> = Vec::new();
    if let Some(opts) = plan {
        for p in engine::plan(opts)? {
            match (&p.drv, p.cached) {
                (Some(d), true) => wanted.push(d.as_str().to_string()),
                _ => {
                    return Err(CacheError::NotBuilt {
                        what: format!("recipe {}", p.id),
                        store: store.root().to_path_buf(),
                    })
                }
            }
        }
    }
    wanted.extend(drvs.iter().cloned());
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for drv in wanted {
        if !seen.insert(drv.clone()) {
            continue;
        }
        match store.realisation(&drv)? {
            Some(r) => out.push(r),
            None => {
                return Err(CacheError::NotBuilt {
                    what: format!("derivation {drv}"),
                    store: store.root().to_path_buf(),
                })
            }
        }
    }
    Ok(out)
}

/// Pull the planned recipes level by level: a derivation's hash is known
/// once its inputs are in the store, so plan, pull what can be named, and
/// plan again until nothing new can be pulled. A recipe that cannot be
/// named in the end is reported missing.
pub(crate) fn pull_planned(
    cache: &Cache,
    store: &Store,
    plan: &BuildOptions,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Vec<PullResult>, CacheError> {
    let mut results = Vec::new();
    let mut tried = BTreeSet::new();
    loop {
        let planned = engine::plan(plan)?;
        let todo: Vec<String> = planned
            .iter()
            .filter(|p| !p.cached)
            .filter_map(|p| p.drv.as_ref().map(|d| d.as_str().to_string()))
            .filter(|d| !tried.contains(d))
            .collect();
        if todo.is_empty() {
            for p in planned.iter().filter(|p| !p.cached && p.drv.is_none()) {
                let inputs: Vec<&str> = p.inputs.keys().map(String::as_str).collect();
                results.push((
                    format!("recipe {}", p.id),
                    Err(CacheError::Missing {
                        what: format!(
                            "recipe {} (its inputs {} could not all be pulled)",
                            p.id,
                            inputs.join(", ")
                        ),
                    }),
                ));
            }
            return Ok(results);
        }
        tried.extend(todo.iter().cloned());
        results.extend(pull::pull_realisations(cache, store, &todo, opts, progress));
    }
}
