//! The build engine behind `kiln plan` and `kiln build`: one library call each.
//!
//! The life of a build ([`build`]):
//!
//! 1. [`plan::Resolved::load`]: resolve the [`Checkout`](crate::source::Checkout)
//!    once, read recipes and policy from it, take the snapshot and resolve
//!    the version side by side (for a post release, the release it re-issues
//!    too, at its tag: [`post`]);
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

mod error;
pub mod execute;
mod origins;
pub mod placement;
pub mod plan;
mod post;
mod workspace;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::derive::{DrvHash, SourceDateEpoch};
use crate::nix::store_path::StorePath;
use crate::recipe::Surface;
use crate::sandbox::SandboxMode;
use crate::store::{Realisation, Store};
pub use crate::surface::Artifact;

pub use error::BuildError;
pub use execute::artifacts_of;
pub use placement::DistFile;
pub use plan::{Plan, Planned, Resolved};

/// What to build and how.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The project root.
    pub root: PathBuf,
    /// The store directory.
    pub store_dir: PathBuf,
    /// Where artifacts go (`--out`; default `<root>/dist`).
    pub out_dir: Option<PathBuf>,
    /// Recipe names (empty: all).
    pub recipes: Vec<String>,
    /// Build from this revision instead of `HEAD`.
    pub rev: Option<String>,
    /// Use the working tree instead of the commit.
    pub dirty: bool,
    /// Override the version (as if it were the canonical one, release build).
    pub version: Option<String>,
    /// Build as if `HEAD` carried this tag.
    pub tag: Option<String>,
    /// Rebuild registered derivations and compare.
    pub check: bool,
    /// Parallel builds (default: number of CPUs).
    pub jobs: Option<usize>,
    /// How command recipes run.
    pub sandbox: SandboxMode,
    /// An explicit `SOURCE_DATE_EPOCH` (from the environment).
    pub source_date_epoch: Option<SourceDateEpoch>,
    /// Host cache locations for `host-inputs` (e.g. `cargo-registry`).
    pub host_inputs: BTreeMap<String, PathBuf>,
    /// Where to fetch derivations from before building them (`--cache`).
    pub substituter: Option<Arc<dyn Substituter>>,
    /// How long to wait for a derivation another process is building
    /// (`--lock-timeout`; `None`: as long as it takes).
    pub lock_timeout: Option<std::time::Duration>,
    /// The per-user state directory (the store key, the tool cache),
    /// resolved once by the caller (`kiln` uses `store::default_state_dir`).
    /// `None`: no tool cache, and the store looks its key up itself.
    pub state_dir: Option<PathBuf>,
    /// The directory relative paths in these options are relative to (the
    /// caller's working directory); `None`: they are taken as they are.
    pub cwd: Option<PathBuf>,
}

/// Fetches a derivation's output from elsewhere (a binary cache, see
/// [`crate::cache`]) instead of building it.
pub trait Substituter: Send + Sync + std::fmt::Debug {
    /// Register the realisation of `drv` and its output in `store` and
    /// return it; `Ok(None)` when the source does not have it. An error is
    /// reported as a warning and the derivation is built here.
    fn substitute(&self, store: &Store, drv: &str) -> Result<Option<Realisation>, String>;
}

/// The `dist/` directory below the project root when `--out` is not given.
pub const DIST_DIR: &str = "dist";

impl BuildOptions {
    /// The `dist/` directory: `--out`, else `<root>/dist` ([`DIST_DIR`]).
    pub fn dist_dir(&self) -> PathBuf {
        self.out_dir
            .clone()
            .unwrap_or_else(|| self.root.join(DIST_DIR))
    }
}

/// What happened to a recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Built,
    Cached,
    Checked,
    /// Fetched by the [`Substituter`] instead of built.
    Substituted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Built => "built",
            Status::Cached => "cached",
            Status::Substituted => "substituted",
            Status::Checked => "checked",
        }
    }
}

/// The result for one recipe.
#[derive(Debug, Clone)]
pub struct RecipeReport {
    pub id: String,
    pub surface: Surface,
    pub drv: DrvHash,
    /// The build's `provenance::BuildKey` token: which of the output's
    /// statements is this build's.
    pub build: String,
    pub status: Status,
    /// The output, and where it is on disk.
    pub output: StorePath,
    pub store_path: PathBuf,
    pub artifacts: Vec<Artifact>,
    pub duration: Duration,
    /// `Some(version)` for a post release's code input: built as release
    /// `version` built it, an artifact of that release, not in this
    /// build's `dist/`.
    pub release_of: Option<String>,
}

/// The result of [`build`].
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// One report per recipe built, cached or checked, sorted by id.
    pub recipes: Vec<RecipeReport>,
    /// The `dist/` directory written.
    pub dist_dir: PathBuf,
    /// Every file listed in its `SHA256SUMS`.
    pub dist: Vec<DistFile>,
    /// The npm dist-tag of this version (npm artifacts are published under it).
    pub npm_dist_tag: String,
}

/// Progress callbacks (the CLI draws them; the library never prints).
pub trait Progress: Sync {
    fn waiting(&self, _id: &str) {}
    /// Recipe `id` starts building derivation `drv` (not called for cache
    /// hits and substitutions).
    fn started(&self, _id: &str, _surface: crate::recipe::Surface, _drv: &crate::derive::DrvHash) {}
    fn finished(&self, _id: &str, _status: Status, _elapsed: Duration) {}
    fn warn(&self, _message: &str) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug)]
pub struct Quiet;
impl Progress for Quiet {}

/// `kiln build`: plan, build what is not registered, write `dist/`.
pub fn build(opts: &BuildOptions, progress: &dyn Progress) -> Result<BuildReport, BuildError> {
    std::thread::scope(|s| {
        // Whether git tracks the store (an index read) runs beside planning.
        let checked = s.spawn(|| Store::check_root(&opts.store_dir));
        let resolved = Resolved::load(opts)?;
        let plan = Plan::new(&resolved, opts)?;
        let checked = checked.join().expect("store check")?;
        // Where `dist/` goes is refused now, not after building.
        placement::check_out(&opts.dist_dir())?;
        let store = Store::open_checked(checked, opts.state_dir.clone())?;
        build_planned(opts, progress, &resolved, &plan, &store)
    })
}

fn build_planned(
    opts: &BuildOptions,
    progress: &dyn Progress,
    resolved: &Resolved,
    plan: &Plan<'_>,
    store: &Store,
) -> Result<BuildReport, BuildError> {
    // Finished workspaces are removed on a thread of their own, beside the
    // remaining builds and the `dist/` copy; the scope waits for it.
    let (sweep, swept) = std::sync::mpsc::channel::<execute::Sweep>();
    std::thread::scope(|s| {
        s.spawn(move || swept.into_iter().for_each(execute::Sweep::remove));
        let result = publish(opts, progress, resolved, plan, store, &sweep);
        drop(sweep);
        result
    })
}

fn publish(
    opts: &BuildOptions,
    progress: &dyn Progress,
    resolved: &Resolved,
    plan: &Plan<'_>,
    store: &Store,
    sweep: &std::sync::mpsc::Sender<execute::Sweep>,
) -> Result<BuildReport, BuildError> {
    let released = release_witness(resolved, store)?;
    for id in &plan.skipped {
        progress.warn(&format!(
            "{}: skipped: a code recipe, and version {} is a post release (images only)",
            crate::name::shown(id),
            resolved.version.canonical
        ));
    }
    let mut recipes = execute::run(plan, store, opts, progress, sweep)?;
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
        complete: opts.recipes.is_empty(),
    };
    let dist = placement::write_dist(store, &publication, &dist_dir)?;
    Ok(BuildReport {
        recipes,
        dist_dir,
        dist,
        npm_dist_tag: resolved.version.npm_dist_tag().to_string(),
    })
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
