//! `kiln publish`: upload the artifacts of the current release build — the
//! bytes in the store, checked against their sealed records, never
//! rebuilt — to each recipe's registries ([`publish`]).
//!
//! 1. the gate ([`gate`]): a release build of a clean commit at its
//!    release tag, every selected recipe built here, every artifact's bytes
//!    as sealed;
//! 2. the plan ([`steps`]): each artifact to each registry `[publish]`
//!    names, in a fixed order (registries that cannot delete last), and
//!    what each registry already holds of the version — other bytes stop
//!    the run before any upload, the same bytes are "already published";
//! 3. the uploads, each recorded in the store once the registry accepted
//!    it (`store::Publication`), so that running the same command again
//!    after any interruption finishes the job and publishes nothing twice.
//!
//! Registries and credentials come from the native tools' configuration
//! ([`config`]); a credential is a [`model::Secret`] and never printed.

mod cargo;
mod cargo_config;
pub(crate) mod cargo_index;
mod clients;
mod config;
mod error;
mod fetch;
mod fetch_release;
mod gate;
mod http;
mod model;
mod npm;
mod oci;
mod pypi;
mod reference;
mod steps;

use crate::engine::{BuildOptions, Plan, Resolved};
use crate::store::{Publication, Store};

pub(crate) use config::{parse_override, Environment};
pub(crate) use error::PublishError;
pub(crate) use fetch::{fetch, FetchError, FetchOptions};
pub(crate) use fetch_release::{verify_release, work_dir};
pub(crate) use model::{Action, PublishReport, Registry, Secret, Step};
pub(crate) use reference::{is_reference, RegistryRef};

use model::Uploaded;

/// What `kiln publish` is asked.
#[derive(Debug, Clone, Default)]
pub(crate) struct PublishOptions {
    /// The release build's options (recipes: the ones to publish; empty:
    /// every recipe `[publish]` names).
    pub build: BuildOptions,
    /// Print the plan; upload nothing.
    pub dry_run: bool,
    /// `--registry NAME=URL`, checked by [`parse_override`].
    pub registries: Vec<(String, String)>,
    pub env: Environment,
}

/// `kiln publish`: the gate, the plan, then the uploads in plan order.
pub(crate) fn publish(opts: &PublishOptions) -> Result<PublishReport, PublishError> {
    let release = release(&opts.build, &opts.registries, &opts.env)?;
    let registries = release.registries;
    let mut steps = steps::steps(&registries, release.items, &release.store)?;
    if !opts.dry_run {
        for step in &mut steps {
            upload(&registries[step.item.registry], step, &release.store)?;
        }
    }
    Ok(PublishReport {
        version: release.version,
        tag: release.tag,
        dry_run: opts.dry_run,
        registries,
        steps,
    })
}

/// A release as the store holds it: every artifact of the recipes
/// `[publish]` names (or `build.recipes`), to each of its registries.
struct Release {
    version: String,
    tag: String,
    store: Store,
    registries: Vec<Registry>,
    items: Vec<model::Item>,
}

/// The gate's checks and the plan's items for the release `build` reads.
fn release(
    build: &BuildOptions,
    overrides: &[(String, String)],
    env: &Environment,
) -> Result<Release, PublishError> {
    let resolved = Resolved::load(build)?;
    let tag = gate::release(&resolved)?;
    let targets = targets(&resolved)?;
    let mut selected: Vec<String> = if build.recipes.is_empty() {
        targets.keys().cloned().collect()
    } else {
        build.recipes.clone()
    };
    if resolved.base.is_some() {
        // A post release re-issues images only; its code is the base
        // release's, published by it.
        selected.retain(|id| {
            resolved
                .recipes
                .recipes
                .get(id)
                .is_some_and(|r| r.surface() == crate::recipe::Surface::Oci)
        });
    }
    if let Some(r) = selected.iter().find(|r| !targets.contains_key(*r)) {
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
    let built = gate::built(&plan, &store, &selected, &version)?;
    let (registries, items) = steps::items(&built, &targets, overrides, env)?;
    Ok(Release {
        version,
        tag,
        store,
        registries,
        items,
    })
}

/// `[publish]` of the release policy at the commit being published.
fn targets(
    resolved: &Resolved,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, PublishError> {
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
    config::targets(&file, &text)
}

/// Upload one step's item unless the registry has it, and record it.
fn upload(registry: &Registry, step: &mut Step, store: &Store) -> Result<(), PublishError> {
    let item = &step.item;
    if step.action == Action::Upload {
        let client = clients::client(registry);
        if client.upload(item)? == Uploaded::Exists {
            // Whatever holds that name now must be these very bytes.
            let listing = client.listing(&item.package, &item.version)?;
            let Some(theirs) = listing.iter().find(|f| f.file == item.remote) else {
                return Err(PublishError::Refused {
                    registry: registry.name.clone(),
                    url: registry.url.clone(),
                    status: 0,
                    reason: format!(
                        "the upload of {} was refused and the registry does not list it (credentials?)",
                        item.file
                    ),
                });
            };
            steps::conflict(registry, &item.package, &item.version, theirs, Some(item))?;
            step.action = Action::AlreadyPublished;
        } else {
            step.action = Action::Uploaded;
        }
    }
    if !step.recorded {
        store.record_publication(&Publication {
            registry: registry.name.clone(),
            url: registry.url.clone(),
            package: item.package.clone(),
            version: item.version.clone(),
            file: item.file.clone(),
            sha256: item.sha256.clone(),
        })?;
        step.recorded = true;
    }
    Ok(())
}
