//! The build engine behind `kiln plan` and `kiln build`.
//!
//! Recipes → snapshot → versions → derivations (in dependency order, because a
//! derivation names its inputs' outputs by NAR hash) → store lookup → builds of
//! what is missing, level by level in parallel (rayon), each under the store's
//! lock for its derivation, each in its own ephemeral workspace → registration
//! → `dist/`. Nothing after [`Engine::new`] looks at the checkout again: builds
//! read the snapshot, never the working tree (except with `--dirty`).

mod dist;
mod workspace;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::derive::{Derivation, InputRef, ToolRef};
use crate::error::{Classify, ErrorKind};
use crate::recipe::{Recipe, RecipeError, Recipes, Surface};
use crate::sandbox::SandboxMode;
use crate::source::{Origin, Selection, Snapshot, SnapshotError, SnapshotOptions};
use crate::store::{Realisation, Store, StoreError};
pub use crate::surface::Artifact;
use crate::surface::{self, SurfaceError};
use crate::version::{ResolvedVersion, Target};

pub use dist::write_dist;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Version(#[from] crate::version::VersionError),
    #[error(transparent)]
    Policy(#[from] crate::recipe::policy::PolicyError),
    #[error(transparent)]
    Stamp(#[from] crate::stamp::StampError),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("uncommitted changes to files the build reads (commit them, or build with --dirty):\n  {}", files.join("\n  "))]
    Uncommitted { files: Vec<String> },
    #[error("recipe {recipe}: {source}")]
    Surface {
        recipe: String,
        #[source]
        source: Box<SurfaceError>,
    },
    #[error("recipe {recipe} failed; the whole log is {log}\n{tail}")]
    Failed {
        recipe: String,
        log: PathBuf,
        tail: String,
    },
    #[error("--check: rebuilding differs from the registered output:\n  {}", mismatches.join("\n  "))]
    Mismatch { mismatches: Vec<String> },
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{first} and {second} both produce an artifact named {name:?}; give one an `output` that differs (a matrix recipe's `output` must use its matrix keys)")]
    ArtifactClash {
        name: String,
        first: String,
        second: String,
    },
    #[error("-j {jobs}: {reason}")]
    Jobs { jobs: usize, reason: String },
}

impl Classify for BuildError {
    fn kind(&self) -> ErrorKind {
        match self {
            BuildError::Recipe(e) => e.kind(),
            BuildError::Snapshot(e) => e.kind(),
            BuildError::Store(e) => e.kind(),
            BuildError::Version(e) => e.kind(),
            BuildError::Policy(e) => e.kind(),
            BuildError::Stamp(e) => e.kind(),
            BuildError::Sandbox(e) => e.kind(),
            BuildError::Surface { source, .. } => source.kind(),
            BuildError::Uncommitted { .. }
            | BuildError::Jobs { .. }
            | BuildError::ArtifactClash { .. } => ErrorKind::BadInput,
            BuildError::Mismatch { .. } | BuildError::Failed { .. } => ErrorKind::CheckFailed,
            BuildError::Io { .. } => ErrorKind::Internal,
        }
    }
}

/// What to build and how.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
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
    /// An explicit `SOURCE_DATE_EPOCH` from the environment.
    pub source_date_epoch: Option<String>,
    /// `--out`: directories never swept into a snapshot.
    pub out_dir: Option<PathBuf>,
    /// Host cache locations for `host-inputs` (e.g. `cargo-registry`).
    pub host_inputs: BTreeMap<String, PathBuf>,
}

/// What happened to a recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Built,
    Cached,
    Checked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Built => "built",
            Status::Cached => "cached",
            Status::Checked => "checked",
        }
    }
}

/// The result for one recipe.
#[derive(Debug, Clone)]
pub struct RecipeReport {
    pub id: String,
    pub surface: Surface,
    pub drv: String,
    pub status: Status,
    pub store_path: PathBuf,
    pub artifacts: Vec<Artifact>,
    pub duration: Duration,
}

/// Progress callbacks (the CLI draws them; the library never prints).
pub trait Progress: Sync {
    fn waiting(&self, _id: &str) {}
    fn started(&self, _id: &str) {}
    fn finished(&self, _id: &str, _status: Status, _elapsed: Duration) {}
    fn warn(&self, _message: &str) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug)]
pub struct Quiet;
impl Progress for Quiet {}

/// A planned recipe, for `kiln plan`.
#[derive(Debug, Clone)]
pub struct Planned {
    pub id: String,
    pub surface: Surface,
    /// `None` while an input is not built yet (its NAR hash is unknown).
    pub drv: Option<String>,
    pub derivation: Option<Value>,
    pub inputs: BTreeMap<String, String>,
    pub cached: bool,
}

/// One finished recipe: its report, realisation and any `--check` mismatch.
type Done = (RecipeReport, Realisation, Option<String>);

/// Everything resolved once per invocation.
#[derive(Debug)]
pub struct Engine {
    pub root: PathBuf,
    pub store: Store,
    pub recipes: Recipes,
    pub snapshot: Snapshot,
    pub version: ResolvedVersion,
    opts: BuildOptions,
    policy_epoch: Option<i64>,
    policy: crate::recipe::policy::ReleasePolicy,
}

struct Prepared<'a> {
    recipe: &'a Recipe,
    selection: Selection<'a>,
}

impl Engine {
    /// Load recipes and policy, take the snapshot, resolve the version.
    pub fn new(root: &Path, store_dir: &Path, opts: BuildOptions) -> Result<Engine, BuildError> {
        // Recipes, the policy and the version come from the commit being
        // built, like every other input; only a working-tree (--dirty) or
        // directory build reads them from the checkout.
        let (repo, version_rev) = commit_of_build(root, &opts)?;
        let (recipes, policy) = match (&repo, &version_rev) {
            (Some(repo), Some(commit)) => project_at(root, repo, commit)?,
            _ => (
                Recipes::load(root)?,
                crate::recipe::policy::ReleasePolicy::load(root)?,
            ),
        };
        let mut exclude_dirs = vec![absolute(store_dir)];
        if let Some(o) = &opts.out_dir {
            exclude_dirs.push(absolute(o));
        }
        exclude_dirs.push(absolute(&root.join("dist")));
        // Snapshot and version are independent git work: run them side by
        // side. The version side runs on its own thread so that the
        // snapshot's own parallel git queries get both rayon workers.
        let snap_opts = SnapshotOptions {
            rev: opts.rev.clone(),
            dirty: opts.dirty,
            exclude_dirs,
        };
        let overrides = crate::version::Overrides {
            version: opts.version.clone(),
            tag: opts.tag.clone(),
        };
        let (snapshot, version) = std::thread::scope(|s| {
            let version = s.spawn(|| -> Result<ResolvedVersion, BuildError> {
                Ok(crate::version::resolve::resolve_in(
                    root,
                    repo.as_ref(),
                    &policy,
                    version_rev.as_deref(),
                    &overrides,
                )?)
            });
            let snapshot = match (&repo, opts.dirty) {
                // --dirty reads the working tree; a fresh discovery is as cheap
                (Some(r), false) => Snapshot::take_in(root, Some(r.clone()), &snap_opts),
                _ => Snapshot::take(root, &snap_opts),
            };
            match version.join() {
                Ok(v) => (snapshot, v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        let (snapshot, version) = (snapshot?, version?);
        prepare(&recipes, &snapshot, &version, &opts.recipes, opts.sandbox)?;
        let store = Store::open(store_dir)?;
        let policy_epoch = policy.source_date_epoch;
        Ok(Engine {
            root: root.to_path_buf(),
            store,
            recipes,
            snapshot,
            version,
            opts,
            policy_epoch,
            policy,
        })
    }

    fn prepare(&self) -> Result<Vec<Prepared<'_>>, BuildError> {
        prepare(
            &self.recipes,
            &self.snapshot,
            &self.version,
            &self.opts.recipes,
            self.opts.sandbox,
        )
    }

    fn target_of(surface: Surface) -> Target {
        match surface {
            Surface::Crate => Target::Cargo,
            Surface::Npm => Target::Npm,
            Surface::Sdist | Surface::Wheel => Target::Pypi,
            Surface::Oci => Target::Oci,
            Surface::Tarball | Surface::Zip | Surface::Command => Target::Plain,
        }
    }

    fn derivation(
        &self,
        p: &Prepared<'_>,
        inputs: &BTreeMap<String, (String, Realisation)>,
    ) -> Result<(Derivation, Vec<crate::sandbox::Tool>), BuildError> {
        let r = p.recipe;
        let target = Self::target_of(r.surface());
        let mut versions = BTreeMap::new();
        versions.insert("artifact".to_string(), self.version.render(target)?);
        // The stamped manifests carry their own ecosystems' spellings.
        for (k, t) in [
            ("cargo", Target::Cargo),
            ("npm", Target::Npm),
            ("pypi", Target::Pypi),
        ] {
            if let Ok(v) = self.version.render(t) {
                versions.insert(k.to_string(), v);
            }
        }
        let revision = match &self.snapshot.origin {
            Origin::Git {
                commit,
                dirty: false,
            } => Some(commit.as_str()),
            _ => None,
        };
        versions.extend(surface::extra_versions(
            r.surface(),
            &self.version,
            revision,
        )?);
        let sde = crate::source::snapshot::source_date_epoch(
            self.opts.source_date_epoch.as_deref(),
            self.snapshot.commit_time,
            r.spec.source_date_epoch.or(self.policy_epoch),
        )?;
        let input_refs = inputs
            .iter()
            .map(|(mount, (drv, real))| {
                (
                    mount.clone(),
                    InputRef {
                        recipe: r.spec.inputs[mount].clone(),
                        drv: drv.clone(),
                        store_path: real.store_path.clone(),
                        nar_hash: format!("sha256:{}", real.nar_hash.to_nix32()),
                    },
                )
            })
            .collect();
        let (resolved_tools, sandbox) =
            if r.surface() == Surface::Command || r.surface() == Surface::Crate {
                crate::sandbox::check_available(self.opts.sandbox)?;
                let names = surface::tools_for(r);
                let cache = self.store.root().join(".kiln/tools");
                (
                    crate::sandbox::resolve_tools_cached(&names, &self.root, Some(&cache))?,
                    self.opts.sandbox.as_str().to_string(),
                )
            } else {
                (Vec::new(), "native".to_string())
            };
        let tools = resolved_tools
            .iter()
            .map(|t| ToolRef {
                name: t.name.clone(),
                version: t.version.clone(),
                sha256: t.sha256.clone(),
            })
            .collect();
        let mut config = serde_json::to_value(&r.spec).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut config {
            // `name` and `matrix` are identity, carried by `recipe` and `cell`.
            m.remove("name");
            m.remove("matrix");
        }
        let drv = Derivation {
            name: r.store_name(),
            recipe: r.id.clone(),
            surface: r.surface().to_string(),
            config,
            cell: r.cell.clone(),
            source_dir: p.selection.base.clone(),
            source_digest: p.selection.digest(),
            source_files: p.selection.files.len(),
            versions,
            source_date_epoch: sde,
            inputs: input_refs,
            tools,
            builder: surface::builder_identity(r.surface()),
            sandbox,
        };
        Ok((drv, resolved_tools))
    }

    /// Resolve every selected recipe's derivation without building.
    pub fn plan(&self) -> Result<Vec<Planned>, BuildError> {
        let prepared = self.prepare()?;
        let mut realised: BTreeMap<String, (String, Realisation)> = BTreeMap::new();
        let mut out = Vec::new();
        for p in &prepared {
            let r = p.recipe;
            let mut inputs = BTreeMap::new();
            let mut complete = true;
            for (mount, dep) in r.inputs() {
                match realised.get(dep) {
                    Some(x) => {
                        inputs.insert(mount.clone(), x.clone());
                    }
                    None => complete = false,
                }
            }
            let (drv, derivation, cached) = if complete {
                let (d, _) = self.derivation(p, &inputs)?;
                let h = d.hash();
                let real = self.store.realisation(&h)?;
                let cached = real.is_some();
                if let Some(real) = real {
                    realised.insert(r.id.clone(), (h.clone(), real));
                }
                (Some(h), Some(d.to_value()), cached)
            } else {
                (None, None, false)
            };
            out.push(Planned {
                id: r.id.clone(),
                surface: r.surface(),
                drv,
                derivation,
                inputs: r.inputs().clone(),
                cached,
            });
        }
        Ok(out)
    }

    /// Build every selected recipe (cache hits are free).
    pub fn build(&self, progress: &dyn Progress) -> Result<Vec<RecipeReport>, BuildError> {
        let prepared = self.prepare()?;
        let mut warned = BTreeSet::new();
        for p in &prepared {
            if let Some(w) = self.version.warning(Self::target_of(p.recipe.surface())) {
                if warned.insert(w.0.clone()) {
                    progress.warn(&format!("{}: {}", p.recipe.id, w.0));
                }
            }
        }
        let jobs = self
            .opts
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if jobs == 0 {
            return Err(BuildError::Jobs {
                jobs,
                reason: "must be at least 1".into(),
            });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| BuildError::Jobs {
                jobs,
                reason: e.to_string(),
            })?;
        for p in &prepared {
            progress.waiting(&p.recipe.id);
        }
        // Levels: a recipe is ready once all its inputs are done.
        let mut done: BTreeMap<String, (String, Realisation)> = BTreeMap::new();
        let mut reports: Vec<RecipeReport> = Vec::new();
        let mut remaining: Vec<&Prepared<'_>> = prepared.iter().collect();
        let mut mismatches = Vec::new();
        while !remaining.is_empty() {
            let (ready, rest): (Vec<&Prepared<'_>>, Vec<&Prepared<'_>>) = remaining
                .into_iter()
                .partition(|p| p.recipe.inputs().values().all(|d| done.contains_key(d)));
            remaining = rest;
            let results: Vec<Result<Done, BuildError>> = pool.install(|| {
                ready
                    .par_iter()
                    .map(|p| {
                        let inputs: BTreeMap<String, (String, Realisation)> = p
                            .recipe
                            .inputs()
                            .iter()
                            .map(|(m, d)| (m.clone(), done[d].clone()))
                            .collect();
                        self.build_one(p, &inputs, progress)
                    })
                    .collect()
            });
            for res in results {
                let (report, real, mismatch) = res?;
                if let Some(m) = mismatch {
                    mismatches.push(m);
                }
                done.insert(report.id.clone(), (report.drv.clone(), real));
                reports.push(report);
            }
        }
        if !mismatches.is_empty() {
            return Err(BuildError::Mismatch { mismatches });
        }
        reports.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(reports)
    }

    fn build_one(
        &self,
        p: &Prepared<'_>,
        inputs: &BTreeMap<String, (String, Realisation)>,
        progress: &dyn Progress,
    ) -> Result<(RecipeReport, Realisation, Option<String>), BuildError> {
        let start = Instant::now();
        let r = p.recipe;
        let (drv, tools) = self.derivation(p, inputs)?;
        let hash = drv.hash();
        let report = |status: Status, real: &Realisation| -> RecipeReport {
            RecipeReport {
                id: r.id.clone(),
                surface: r.surface(),
                drv: hash.clone(),
                status,
                store_path: self.store.path_of(&real.store_path),
                artifacts: artifacts_of(real),
                duration: start.elapsed(),
            }
        };
        if !self.opts.check {
            if let Some(real) = self.store.realisation(&hash)? {
                progress.finished(&r.id, Status::Cached, start.elapsed());
                return Ok((report(Status::Cached, &real), real, None));
            }
        }
        let _lock = self.store.lock_derivation(&hash)?;
        let existing = self.store.realisation(&hash)?;
        if let (Some(real), false) = (&existing, self.opts.check) {
            // Another process built it while we waited for the lock.
            progress.finished(&r.id, Status::Cached, start.elapsed());
            return Ok((report(Status::Cached, real), real.clone(), None));
        }
        progress.started(&r.id);
        let staging = self.store.staging()?;
        let built = workspace::run(self, p, &drv, &hash, inputs, &tools, staging.path())?;
        if let Some(real) = existing {
            let fresh = crate::hash::tree::nar_sha256(&built.path).map_err(|e| BuildError::Io {
                path: built.path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let mismatch = if fresh.hash != real.nar_hash {
                let arts: Vec<String> =
                    artifacts_of(&real).iter().map(|a| a.file.clone()).collect();
                Some(format!(
                    "{} ({}): registered NAR sha256 {} but the rebuild gives {}; artifacts: {}",
                    r.id,
                    real.store_path,
                    real.nar_hash.to_nix32(),
                    fresh.hash.to_nix32(),
                    arts.join(", ")
                ))
            } else {
                None
            };
            progress.finished(&r.id, Status::Checked, start.elapsed());
            return Ok((report(Status::Checked, &real), real, mismatch));
        }
        let meta = json!({ "recipe": r.id, "surface": r.surface().as_str(), "artifacts": built.artifacts });
        let real = self.store.register_output(
            &hash,
            &drv.canonical_bytes(),
            &built.path,
            &built.name,
            meta,
        )?;
        let subjects: Vec<crate::provenance::Subject> = built
            .artifacts
            .iter()
            .filter(|a| !a.directory)
            .map(|a| crate::provenance::Subject {
                name: a.file.clone(),
                sha256: a.sha256.clone(),
            })
            .collect();
        let source = match &self.snapshot.origin {
            Origin::Git { commit, dirty } => crate::provenance::SourceInfo {
                commit: Some(commit.clone()),
                dirty: *dirty,
            },
            Origin::Directory => crate::provenance::SourceInfo {
                commit: None,
                dirty: false,
            },
        };
        let st = crate::provenance::statement(&drv, &hash, &source, &subjects);
        self.store
            .write_provenance(&real.store_path, &crate::provenance::to_bytes(&st))?;
        progress.finished(&r.id, Status::Built, start.elapsed());
        Ok((report(Status::Built, &real), real, None))
    }
}

/// Recipes and release policy as committed in `commit`.
fn project_at(
    root: &Path,
    repo: &crate::source::git::Repo,
    commit: &str,
) -> Result<(Recipes, crate::recipe::policy::ReleasePolicy), BuildError> {
    use crate::recipe::policy::ReleasePolicy;
    let git = |e: crate::source::git::GitError| BuildError::Snapshot(SnapshotError::from(e));
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let prefix = canon(root)
        .strip_prefix(canon(repo.root()))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = if prefix.is_empty() {
        "recipes".to_string()
    } else {
        format!("{prefix}/recipes")
    };
    let entries = repo.ls_dir(commit, &dir).map_err(git)?;
    let mut reader = repo.object_reader().map_err(git)?;
    let mut files = Vec::new();
    let mut policy = None;
    for e in entries {
        let rel = PathBuf::from(
            e.path
                .strip_prefix(&format!("{prefix}/"))
                .unwrap_or(&e.path),
        );
        let bytes = reader.read(&e.oid).map_err(git)?;
        let text = String::from_utf8(bytes).map_err(|_| RecipeError::Parse {
            file: rel.clone(),
            line: 1,
            message: "is not UTF-8".into(),
        })?;
        if rel.file_name().is_some_and(|n| n == "release.toml") {
            policy = Some(ReleasePolicy::parse(&rel, &text)?);
        } else if crate::recipe::project::is_recipe_file(&rel) {
            files.push((rel, text));
        }
    }
    if files.is_empty() {
        return Err(RecipeError::NoRecipes {
            dir: PathBuf::from(format!("{dir}/ in commit {commit}")),
        }
        .into());
    }
    Ok((
        Recipes::from_files(root, files)?,
        policy.unwrap_or_default(),
    ))
}

/// The commit a (non `--dirty`) build reads, when the project is in git,
/// and the repository it was looked up in (reused by version resolution,
/// which then needs no second discovery or commit lookup).
fn commit_of_build(
    root: &Path,
    opts: &BuildOptions,
) -> Result<(Option<crate::source::git::Repo>, Option<String>), BuildError> {
    if opts.dirty {
        return Ok((None, None));
    }
    let repo = match crate::source::git::Repo::discover(root) {
        Ok(r) => r,
        Err(crate::source::git::GitError::NotARepo { .. }) => return Ok((None, None)),
        Err(e) => return Err(SnapshotError::from(e).into()),
    };
    let commit = match &opts.rev {
        Some(rev) => Some(repo.resolve(rev).map_err(SnapshotError::from)?),
        None if repo.has_head() => Some(repo.resolve("HEAD").map_err(SnapshotError::from)?),
        None => None,
    };
    Ok((Some(repo), commit))
}

/// Select recipes, their snapshot files and check everything that can be
/// checked without building (uncommitted sources, templates), so that bad
/// input fails before the store is opened or touched.
fn prepare<'a>(
    recipes: &'a Recipes,
    snapshot: &'a Snapshot,
    version: &ResolvedVersion,
    names: &[String],
    sandbox: SandboxMode,
) -> Result<Vec<Prepared<'a>>, BuildError> {
    let selected = recipes.select(names)?;
    let mut prepared = Vec::new();
    let mut read: BTreeSet<&str> = BTreeSet::new();
    let mut outputs = BTreeMap::new();
    if selected
        .iter()
        .any(|r| matches!(r.surface(), Surface::Command | Surface::Crate))
    {
        crate::sandbox::check_available(sandbox)?;
    }
    for r in selected {
        let selection =
            snapshot.select(&r.file, &r.spec.source, &r.spec.include, &r.spec.exclude)?;
        read.extend(selection.files.iter().map(|f| f.path.as_str()));
        let v = version.render(Engine::target_of(r.surface()))?;
        check_templates(r, &v, &mut outputs)?;
        surface::check(r, version, &v).map_err(|source| BuildError::Surface {
            recipe: r.id.clone(),
            source: Box::new(source),
        })?;
        prepared.push(Prepared {
            recipe: r,
            selection,
        });
    }
    // The recipe files and the policy are read too.
    let recipe_files: Vec<String> = recipes
        .recipes
        .values()
        .map(|r| r.file.to_string_lossy().into_owned())
        .chain(std::iter::once("recipes/release.toml".to_string()))
        .collect();
    read.extend(recipe_files.iter().map(String::as_str));
    let dirty = snapshot.uncommitted_in(&read);
    if !dirty.is_empty() {
        return Err(BuildError::Uncommitted { files: dirty });
    }
    Ok(prepared)
}

/// Render every template of a recipe once, so a bad placeholder is reported
/// at planning time.
fn check_templates(
    r: &Recipe,
    version: &str,
    outputs: &mut BTreeMap<String, String>,
) -> Result<(), BuildError> {
    if let Some(p) = &r.spec.prefix {
        r.render("prefix", p, version)?;
    }
    if let Some(o) = &r.spec.output {
        let name = r.render("output", o, version)?;
        if let Some(first) = outputs.insert(name.clone(), r.id.clone()) {
            return Err(BuildError::ArtifactClash {
                name,
                first,
                second: r.id.clone(),
            });
        }
    }
    if let Some(c) = &r.spec.command {
        for (i, a) in c.argv.iter().enumerate() {
            r.render(&format!("command.argv[{i}]"), a, version)?;
        }
        for (k, v) in &c.env {
            r.render(&format!("command.env.{k}"), v, version)?;
        }
    }
    Ok(())
}

/// The artifact list recorded in a realisation's metadata.
pub fn artifacts_of(real: &Realisation) -> Vec<Artifact> {
    real.meta
        .get("artifacts")
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default()
}

/// An absolute, symlink-free spelling of `p` (which may not exist yet), so it
/// compares equal to the canonical project root of a snapshot.
fn absolute(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    if let Ok(c) = std::fs::canonicalize(&abs) {
        return c;
    }
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|c| c.join(name))
            .unwrap_or(abs),
        _ => abs,
    }
}
