//! What a release publishes: the recipes (`[publish]`'s, or those named;
//! a post release's images only), the gate's checks on them, and the plan's
//! items — one place for `kiln publish` and for `kiln verify --all`, which
//! rebuilds and checks the same release.

use super::config::{self, Environment};
use super::error::PublishError;
use super::model::{self, Registry};
use super::{gate, steps};
use crate::engine::{BuildOptions, Plan, Resolved};
use crate::store::Store;

/// A release as the store holds it: every artifact of the recipes
/// `[publish]` names (or `build.recipes`), to each of its registries.
pub(super) struct Release {
    pub version: String,
    pub tag: String,
    /// The commit the release was built from.
    pub commit: String,
    /// The policy's `[publish] rebuild = true`.
    pub rebuild: bool,
    pub store: Store,
    pub registries: Vec<Registry>,
    pub items: Vec<model::Item>,
}

/// The recipes a publish of this release uploads: those named, else every
/// one `[publish]` names; of a post release, its images only (its code is
/// the base release's, published by it).
pub(super) fn selected(
    resolved: &Resolved,
    policy: &config::Policy,
    build: &BuildOptions,
) -> Vec<String> {
    let mut selected: Vec<String> = if build.recipes.is_empty() {
        policy.targets.keys().cloned().collect()
    } else {
        build.recipes.clone()
    };
    if resolved.base.is_some() {
        selected.retain(|n| named(resolved, n).any(|r| r.surface() == crate::recipe::Surface::Oci));
    }
    selected
}

/// The recipes `name` names: the recipe with that id, or every cell of
/// the matrix recipe of that name.
fn named<'r>(
    resolved: &'r Resolved,
    name: &'r str,
) -> impl Iterator<Item = &'r crate::recipe::Recipe> + 'r {
    resolved
        .recipes
        .recipes
        .values()
        .filter(move |r| r.id == name || r.name == name)
}

/// The gate's checks and the plan's items for the release `build` reads.
pub(super) fn load(
    build: &BuildOptions,
    overrides: &[(String, String)],
    env: &Environment,
) -> Result<Release, PublishError> {
    let resolved = Resolved::load(build)?;
    let (tag, commit) = gate::release(&resolved)?;
    let policy = policy(&resolved)?;
    let selected = selected(&resolved, &policy, build);
    let targets = policy.targets;
    // A matrix cell named on the command line has its recipe's targets.
    let has_target = |n: &String| {
        let cells: Vec<_> = named(&resolved, n).collect();
        targets.contains_key(n)
            || (!cells.is_empty() && cells.iter().all(|r| targets.contains_key(&r.name)))
    };
    if let Some(r) = selected.iter().find(|n| !has_target(n)) {
        return Err(PublishError::NoTarget { recipe: r.clone() });
    }
    let build = BuildOptions {
        recipes: selected.clone(),
        ..build.clone()
    };
    let plan = Plan::new(&resolved, &build)?;
    let store = Store::open_checked(
        Store::check_root(&build.store_dir)?,
        build.state_dir.clone(),
    )?;
    let version = resolved.version.canonical.to_string();
    let built = gate::built(&plan, &store, &selected, &version, &build.dist_dir())?;
    let (registries, items) = steps::items(&built, &targets, overrides, env)?;
    Ok(Release {
        version,
        tag,
        commit,
        rebuild: policy.rebuild,
        store,
        registries,
        items,
    })
}

/// `[publish]` of the release policy at the commit being published.
pub(super) fn policy(resolved: &Resolved) -> Result<config::Policy, PublishError> {
    let file = std::path::PathBuf::from(crate::version::policy::POLICY_PATH);
    let Some((repo, commit)) = resolved.checkout.read_tree() else {
        return Ok(Default::default());
    };
    let rel = resolved
        .checkout
        .in_repo(crate::version::policy::POLICY_PATH);
    let Some(bytes) = repo.read_file_at(&commit.id, &rel)? else {
        return Ok(Default::default());
    };
    let text = String::from_utf8(bytes).map_err(|_| PublishError::Config {
        file: file.clone(),
        key: "(file)".into(),
        reason: "is not UTF-8".into(),
    })?;
    config::policy(&file, &text)
}
