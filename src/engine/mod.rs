//! The build engine behind `kiln plan` and `kiln build`: one library call each.
//!
//! The life of a build ([`build`]):
//!
//! 1. [`resolved::Resolved::load`]: resolve the [`Checkout`](crate::source::Checkout)
//!    once, read recipes and policy from it, take the snapshot and resolve
//!    the version side by side (for a post release, the release it re-issues
//!    too, at its tag: [`resolved::load_base`]; what it builds: [`post`]);
//! 2. [`plan::Plan::new`]: select recipes (with inputs, in dependency order)
//!    and resolve each node's files, versions, `SOURCE_DATE_EPOCH`, tools and
//!    `dist/` names — bad input fails here, before the store is opened;
//! 3. [`execute::run`]: level by level in parallel, assemble each derivation
//!    ([`plan::Node::derivation`]), decide the cache hit, ask the
//!    [`Substituter`] (a binary cache, `--cache`) for what is missing, build
//!    the rest in an ephemeral workspace ([`workspace`]), register it with
//!    its provenance (or compare, with `--check`);
//! 4. [`placement::write_dist`]: publish artifacts, provenance and `SHA256SUMS`.
//!
//! Nothing after step 1 looks at the checkout again: builds read the
//! snapshot, never the working tree (except with `--dirty`).

mod ahead;
mod context;
mod error;
pub(crate) mod execute;
mod jobplan;
pub mod jobs;
mod options;
mod origins;
pub(crate) mod placement;
pub mod plan;
mod post;
mod report;
mod resolved;
mod workspace;

use std::path::PathBuf;

use crate::store::Store;
pub use crate::surface::Artifact;

pub use error::BuildError;
pub use options::{BuildOptions, Part, Substituter, DIST_DIR};
pub use placement::DistFile;
pub use plan::{Plan, Planned};
pub use report::{Progress, Quiet, RecipeReport, Status};
pub use resolved::Resolved;

/// The result of [`build`].
#[derive(Debug)]
pub struct BuildReport {
    /// One report per recipe built, cached or checked, sorted by id.
    pub recipes: Vec<RecipeReport>,
    /// The `dist/` directory written.
    pub dist_dir: PathBuf,
    /// Every file listed in its `SHA256SUMS`.
    pub dist: Vec<DistFile>,
    /// The npm dist-tag of this version (npm artifacts are published under it).
    pub npm_dist_tag: String,
    /// The store the outputs are in (each recipe's
    /// [`RecipeReport::realisation`] names its output there): what a push
    /// to a binary cache reads.
    pub store: Store,
}

/// `kiln build`: plan, build what is not registered, write `dist/`.
pub fn build(opts: &BuildOptions, progress: &dyn Progress) -> Result<BuildReport, BuildError> {
    std::thread::scope(|s| {
        // Whether git tracks the store (an index read) runs beside planning.
        let checked = s.spawn(|| Store::check_root(&opts.store_dir));
        let resolved = Resolved::load(opts)?;
        let mut plan = Plan::new(&resolved, opts)?;
        let checked = checked.join().expect("store check")?;
        // Where `dist/` goes is refused now, not after building.
        placement::check_out(&opts.dist_dir())?;
        let here = part_of(&mut plan, opts)?;
        let store = Store::open_checked(checked, opts.state_dir.clone())?;
        build_planned(opts, progress, &resolved, &plan, store, &here)
    })
}

/// Which nodes of `plan` this machine builds ([`jobs::decide`]); with
/// `--job`, the plan keeps only the job's recipes and their inputs.
fn part_of(
    plan: &mut Plan<'_>,
    opts: &BuildOptions,
) -> Result<std::collections::BTreeMap<String, jobs::Here>, BuildError> {
    let jobs = match (&opts.part, &opts.job_plan) {
        (Part::All, _) => Vec::new(),
        (_, Some(given)) => jobs::check_given(plan, given)?,
        (Part::Job(_) | Part::Assemble, None) => release_jobs(plan, opts),
    };
    let here = jobs::decide(plan, opts, &jobs)?;
    if let Part::Job(id) = &opts.part {
        let job = jobs::find(&jobs, id)?;
        let mut keep: std::collections::BTreeSet<String> = job.recipes.iter().cloned().collect();
        // Inputs come before their dependents: walk the plan backwards.
        for n in plan.nodes.iter().rev() {
            if keep.contains(&n.recipe.id) {
                keep.extend(n.recipe.inputs().values().cloned());
            }
        }
        plan.nodes.retain(|n| keep.contains(&n.recipe.id));
    }
    Ok(here)
}

/// The release's jobs as `kiln plan --jobs` prints them, made from this
/// plan and the store's recorded build times.
fn release_jobs(plan: &Plan<'_>, opts: &BuildOptions) -> Vec<jobs::Job> {
    let times = jobs::Times::read(&opts.store_dir);
    jobs::jobs(
        plan,
        &times,
        opts.job_seconds.unwrap_or(jobs::DEFAULT_JOB_SECONDS),
    )
}

fn build_planned(
    opts: &BuildOptions,
    progress: &dyn Progress,
    resolved: &Resolved,
    plan: &Plan<'_>,
    store: Store,
    here: &std::collections::BTreeMap<String, jobs::Here>,
) -> Result<BuildReport, BuildError> {
    // Finished workspaces are removed on a thread of their own, beside the
    // remaining builds and the `dist/` copy; the scope waits for it.
    let (sweep, swept) = std::sync::mpsc::channel::<context::Sweep>();
    let (recipes, dist) = std::thread::scope(|s| {
        s.spawn(move || swept.into_iter().for_each(context::Sweep::remove));
        let result = publish(opts, progress, resolved, plan, &store, &sweep, here);
        drop(sweep);
        result
    })?;
    Ok(BuildReport {
        recipes,
        dist_dir: opts.dist_dir(),
        dist,
        npm_dist_tag: resolved.version.npm_dist_tag().to_string(),
        store,
    })
}

fn publish(
    opts: &BuildOptions,
    progress: &dyn Progress,
    resolved: &Resolved,
    plan: &Plan<'_>,
    store: &Store,
    sweep: &std::sync::mpsc::Sender<context::Sweep>,
    here: &std::collections::BTreeMap<String, jobs::Here>,
) -> Result<(Vec<RecipeReport>, Vec<DistFile>), BuildError> {
    let released = release_witness(resolved, store)?;
    for id in &plan.skipped {
        progress.warn(&format!(
            "{}: skipped: a code recipe, and version {} is a post release (images only)",
            crate::name::shown(id),
            resolved.version.canonical
        ));
    }
    let ran = execute::run(plan, store, opts, progress, sweep, here)?;
    let mut recipes = ran.reports;
    let built: Vec<(String, std::time::Duration)> = recipes
        .iter()
        .filter(|r| r.status == Status::Built)
        .map(|r| (r.id.clone(), r.duration))
        .collect();
    jobs::Times::record(store.root(), &built);
    for r in &mut recipes {
        r.release_of = plan
            .nodes
            .iter()
            .find(|n| n.recipe.id == r.id && !std::ptr::eq(n.resolved, resolved))
            .map(|n| n.resolved.version.canonical.to_string());
    }
    if let Some(r) = released {
        store.record_release(&r.project, &r.version, &r.source)?;
    }
    let dist_dir = opts.dist_dir();
    let source = resolved.snapshot.origin.label();
    // A post release publishes its images; their code inputs are the base
    // release's artifacts, published by it.
    let published: Vec<RecipeReport> = recipes
        .iter()
        .filter(|r| r.release_of.is_none())
        .cloned()
        .collect();
    let publication = placement::Publication {
        reports: &published,
        source,
        // A job, or a build that skipped what it could not have, leaves
        // the other recipes' artifacts to a later complete build.
        complete: opts.recipes.is_empty()
            && ran.missing.is_empty()
            && !matches!(opts.part, Part::Job(_)),
    };
    let dist = placement::write_dist(store, &publication, &dist_dir)?;
    Ok((recipes, dist))
}

/// A release the store will remember: which project, which version, from
/// which source.
struct Released {
    project: String,
    version: String,
    source: String,
}

/// The store's witness that a version is never reused: a release of `V` of
/// this project whose source differs from an earlier release of `V` built
/// in this store is refused before anything is built. Returns the record
/// to write once the build succeeded (`None` for dev builds and known
/// releases).
fn release_witness(resolved: &Resolved, store: &Store) -> Result<Option<Released>, BuildError> {
    if !resolved.version.is_release() {
        return Ok(None);
    }
    let r = Released {
        project: project_identity(&resolved.checkout)?,
        version: resolved.version.canonical.to_string(),
        source: release_source(&resolved.snapshot),
    };
    match store.released_from(&r.project, &r.version)? {
        Some(earlier) if earlier != r.source => Err(BuildError::VersionReused {
            version: r.version,
            earlier,
            now: r.source,
        }),
        Some(_) => Ok(None),
        None => Ok(Some(r)),
    }
}

/// The project as every clone of it names it: the root commits of the
/// built commit's history (and the project's directory in the repository);
/// a directory that is not a checkout, by its canonical path.
fn project_identity(checkout: &crate::source::Checkout) -> Result<String, BuildError> {
    match (&checkout.repo, &checkout.commit) {
        (Some(repo), Some(c)) => Ok(format!(
            "git:{}:{}",
            repo.root_commits(&c.id)?.join(","),
            checkout.prefix
        )),
        _ => Ok(format!("dir:{}", checkout.canonical_root.display())),
    }
}

/// What a release was built from: its commit, or for a working tree or a
/// directory the digest of every file's path and content digest.
fn release_source(snapshot: &crate::source::Snapshot) -> String {
    if let Some(commit) = snapshot.origin.clean_commit() {
        return format!("git:{commit}");
    }
    let mut h = blake3::Hasher::new();
    for f in &snapshot.files {
        h.update(f.path.as_bytes());
        h.update(b"\0");
        h.update(f.digest.as_bytes());
        h.update(b"\n");
    }
    format!("files:{}", h.finalize().to_hex())
}

/// `kiln plan`: every selected recipe's derivation, without building.
pub fn plan(opts: &BuildOptions) -> Result<Vec<Planned>, BuildError> {
    std::thread::scope(|s| {
        let checked = s.spawn(|| Store::check_root(&opts.store_dir));
        let resolved = Resolved::load(opts)?;
        let plan = Plan::new(&resolved, opts)?;
        let store = Store::open_checked(
            checked.join().expect("store check")?,
            opts.state_dir.clone(),
        )?;
        plan.describe(&store)
    })
}

/// `kiln plan --jobs`: the release's jobs for a CI matrix ([`jobs`]),
/// without building.
pub fn plan_jobs(opts: &BuildOptions) -> Result<jobs::JobPlan, BuildError> {
    let resolved = Resolved::load(opts)?;
    let plan = Plan::new(&resolved, opts)?;
    Ok(jobs::JobPlan {
        jobs: release_jobs(&plan, opts),
    })
}
