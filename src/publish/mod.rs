//! `kiln publish`: upload the artifacts of the current release build — the
//! bytes in the store, checked against their sealed records, never
//! rebuilt — to each recipe's registries ([`publish`]).
//!
//! 1. the gate ([`gate`]): a release build of a clean commit at its
//!    release tag, every selected recipe built here, every artifact's bytes
//!    as sealed (and its copy in `dist/`); with `--rebuild` or the policy's
//!    `rebuild = true`, a rebuild of the release from its commit in a
//!    fresh store ([`fetch_release::rebuild`]) makes the same bytes;
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
mod oci_auth;
mod pypi;
mod reference;
mod release;
mod steps;

use crate::engine::BuildOptions;
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
    /// `--rebuild`: rebuild the release in a fresh store first and require
    /// the same bytes (also the policy's `rebuild = true`).
    pub rebuild: bool,
    /// `--registry NAME=URL`, checked by [`parse_override`].
    pub registries: Vec<(String, String)>,
    pub env: Environment,
}

/// `kiln publish`: the gate, the plan, then the uploads in plan order.
pub(crate) fn publish(opts: &PublishOptions) -> Result<PublishReport, PublishError> {
    let release = release::load(&opts.build, &opts.registries, &opts.env)?;
    let rebuilt = opts.rebuild || release.rebuild;
    if rebuilt {
        rebuild_check(&release, opts)?;
    }
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
        rebuilt,
        registries,
        steps,
    })
}

/// The gate's rebuild check: `release` rebuilt from its commit in a fresh
/// store under the store's temporary area, every artifact the same bytes.
fn rebuild_check(release: &release::Release, opts: &PublishOptions) -> Result<(), PublishError> {
    let rebuild_err = |e: FetchError| PublishError::Rebuild(Box::new(e));
    let work = work_dir(&release.store.temp_area()).map_err(rebuild_err)?;
    let build = BuildOptions {
        rev: Some(release.commit.clone()),
        ..opts.build.clone()
    };
    let again = fetch_release::rebuild(&build, &opts.registries, &opts.env, work.path())
        .map_err(|e| rebuild_err(e.into()))?;
    gate::reproduced(&release.items, &again.items)
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
