//! Executing a [`Plan`]: schedule, build, check, register.
//!
//! Nodes run level by level (a node is ready once all its inputs are done),
//! each level in parallel on a rayon pool of `-j` threads. For each node
//! [`build_one`] assembles the derivation, decides the cache hit (a
//! registered realisation, looked up before and again under the
//! derivation's lock), then asks the substituter (`--cache`), otherwise builds it in an ephemeral workspace, then
//! registers the output with its provenance, or with `--check` compares the
//! rebuild with the registered NAR hash.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

use super::context::{Ctx, Sweep};
use super::jobplan::{Here, Missing, Why};
use super::plan::{target_of, Node, Plan, Realised};
use super::resolved::Resolved;
use super::{workspace, BuildError, BuildOptions, Progress, RecipeReport, Status};
use std::sync::mpsc::Sender;

use crate::derive::{Derivation, DrvHash};
use crate::provenance::{BuildKey, SourceInfo};
use crate::store::{Realisation, RealisationMeta, Store};
use crate::surface::Artifact;

/// One finished node: its report, its realised output and any `--check` mismatch.
type Done = (RecipeReport, Realised, Option<String>);

/// How a node ended: done, or neither built here nor substituted.
enum Outcome {
    Done(Box<Done>),
    Missing(Missing),
}

/// What [`run`] returns: the reports sorted by id, and the outputs that
/// could not be had (only when the build may go on without them).
pub(crate) struct Ran {
    pub reports: Vec<RecipeReport>,
    pub missing: Vec<Missing>,
}

/// A workspace that is handed to the sweeper when the build is done with it
/// (whichever way the build ends); removed here if the sweeper is gone.
struct Swept<'a>(Option<tempfile::TempDir>, &'a Sender<Sweep>);

impl Drop for Swept<'_> {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            // A send error hands the directory back; dropping it removes it.
            let _ = self.1.send(Sweep::Workspace(dir));
        }
    }
}

impl Swept<'_> {
    fn path(&self) -> &std::path::Path {
        self.0.as_ref().expect("until dropped").path()
    }
}

/// Build every node of `plan` (cache hits are free); reports sorted by id.
pub(crate) fn run<'a>(
    plan: &'a Plan<'a>,
    store: &'a Store,
    opts: &'a BuildOptions,
    progress: &'a dyn Progress,
    sweep: &'a Sender<Sweep>,
    here: &'a BTreeMap<String, Here>,
) -> Result<Ran, BuildError> {
    warn_versions(plan, progress);
    let pool = pool(opts)?;
    // Anything this machine may not build is substituted, or reported,
    // before a single build starts.
    let strict = opts.require_complete || opts.part != super::Part::All;
    let ahead = super::ahead::resolve(plan, store, opts, here, strict)?;
    if strict && !ahead.missing.is_empty() {
        return Err(BuildError::Missing {
            missing: ahead.missing,
        });
    }
    let mut missing = ahead.missing.clone();
    for node in plan.nodes.iter().filter(|n| !ahead.lost(&n.recipe.id)) {
        progress.waiting(&node.recipe.id);
    }
    let cx = Ctx {
        plan,
        store,
        opts,
        progress,
        sweep,
        here,
        substituted: &ahead.substituted,
    };
    let mut done: BTreeMap<String, Realised> = BTreeMap::new();
    let mut reports: Vec<RecipeReport> = Vec::new();
    let mut remaining: Vec<&Node<'_>> = plan
        .nodes
        .iter()
        .filter(|n| !ahead.lost(&n.recipe.id))
        .collect();
    let mut mismatches = Vec::new();
    while !remaining.is_empty() {
        let (cut, rest) = cut_lost(remaining, &missing);
        missing.extend(cut);
        let (ready, rest): (Vec<&Node<'_>>, Vec<&Node<'_>>) = rest
            .into_iter()
            .partition(|n| n.recipe.inputs().values().all(|d| done.contains_key(d)));
        remaining = rest;
        if ready.is_empty() {
            continue;
        }
        let results: Vec<Result<Outcome, BuildError>> = pool.install(|| {
            ready
                .par_iter()
                .map(|node| {
                    let inputs: BTreeMap<String, Realised> = node
                        .recipe
                        .inputs()
                        .iter()
                        .map(|(m, d)| (m.clone(), done[d].clone()))
                        .collect();
                    build_one(&cx, node, &inputs)
                })
                .collect()
        });
        for res in results {
            match res? {
                Outcome::Done(done_) => {
                    let (report, realised, mismatch) = *done_;
                    mismatches.extend(mismatch);
                    done.insert(report.id.clone(), realised);
                    reports.push(report);
                }
                Outcome::Missing(m) => missing.push(m),
            }
        }
    }
    // Outputs set aside and records ignored by the store's lookups; under
    // --check a changed output is a failed check.
    for n in store.take_notices() {
        progress.warn(&n.to_string());
        if opts.check && matches!(n, crate::store::Notice::SetAside { .. }) {
            mismatches.push(n.to_string());
        }
    }
    if !mismatches.is_empty() {
        return Err(BuildError::Mismatch { mismatches });
    }
    if strict && !missing.is_empty() {
        return Err(BuildError::Missing { missing });
    }
    for m in &missing {
        progress.warn(&format!("skipped {m}"));
    }
    reports.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Ran { reports, missing })
}

/// The version's warnings for the spellings the plan's recipes use, once each.
fn warn_versions(plan: &Plan<'_>, progress: &dyn Progress) {
    let version = &plan.resolved.version;
    let mut warned = BTreeSet::new();
    for node in &plan.nodes {
        if let Some(w) = version.warning(target_of(node.recipe)) {
            if warned.insert(w.0.clone()) {
                progress.warn(&format!("{}: {}", node.recipe.id, w.0));
            }
        }
    }
}

/// The pool of `-j` build threads.
fn pool(opts: &BuildOptions) -> Result<rayon::ThreadPool, BuildError> {
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err(BuildError::Jobs {
            jobs,
            reason: "must be at least 1".into(),
        });
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|source| BuildError::ThreadPool { jobs, source })
}

/// The nodes of `remaining` one of whose inputs is `missing` (missing in
/// turn), and the others.
fn cut_lost<'n, 'r>(
    remaining: Vec<&'n Node<'r>>,
    missing: &[Missing],
) -> (Vec<Missing>, Vec<&'n Node<'r>>) {
    let lost = |d: &&String| missing.iter().any(|m| m.recipe == **d);
    let (cut, rest): (Vec<&Node<'_>>, Vec<&Node<'_>>) = remaining
        .into_iter()
        .partition(|n| n.recipe.inputs().values().any(|d| lost(&d)));
    let cut = cut
        .iter()
        .map(|n| Missing {
            recipe: n.recipe.id.clone(),
            drv: None,
            why: Why::Input(
                n.recipe
                    .inputs()
                    .values()
                    .find(lost)
                    .cloned()
                    .unwrap_or_default(),
            ),
            detail: None,
        })
        .collect();
    (cut, rest)
}

/// The registered output of `drv`, if any: the cache-hit decision.
fn lookup(store: &Store, drv: &DrvHash) -> Result<Option<Realisation>, BuildError> {
    Ok(store.realisation(drv.as_str())?)
}

fn build_one(
    cx: &Ctx<'_>,
    node: &Node<'_>,
    inputs: &BTreeMap<String, Realised>,
) -> Result<Outcome, BuildError> {
    let Ctx {
        store,
        opts,
        progress,
        ..
    } = *cx;
    let why = match &cx.here[&node.recipe.id] {
        Here::Build => None,
        Here::Substitute(w) => Some(w.clone()),
    };
    // What this machine may not build is never rebuilt to be checked.
    let check = opts.check && why.is_none();
    let start = Instant::now();
    let r = node.recipe;
    let drv = node.derivation(inputs);
    let hash = drv.hash();
    let build = build_key(node.resolved, &hash).token();
    let finish = |status: Status, real: Realisation| -> Result<Outcome, BuildError> {
        progress.finished(&r.id, status, start.elapsed());
        let report = RecipeReport {
            id: r.id.clone(),
            surface: r.surface(),
            drv: hash.clone(),
            build: build.clone(),
            status,
            output: real.store_path.clone(),
            store_path: store.path_of(&real.store_path),
            artifacts: real.meta.artifacts.clone(),
            realisation: real.clone(),
            duration: start.elapsed(),
            release_of: None,
        };
        let realised = Realised::new(hash.clone(), real);
        Ok(Outcome::Done(Box::new((report, realised, None))))
    };
    if !check {
        if let Some(real) = lookup(store, &hash)? {
            keep_provenance(cx, &drv, &hash, &real)?;
            let status = match cx.substituted.contains(hash.as_str()) {
                true => Status::Substituted,
                false => Status::Cached,
            };
            return finish(status, real);
        }
    }
    // Another process may be building the same derivation: say who, and
    // wait (at most --lock-timeout) instead of building it twice.
    let on_wait = |holder: &crate::store::LockHolder| {
        progress.warn(&format!("{}: {holder}; waiting", r.id));
    };
    let _lock = store.lock_derivation_waiting(
        hash.as_str(),
        crate::store::LockWait {
            timeout: opts.lock_timeout,
            on_wait: &on_wait,
        },
    )?;
    let existing = lookup(store, &hash)?;
    if let (Some(real), false) = (&existing, check) {
        // Another process built it while we waited for the lock.
        keep_provenance(cx, &drv, &hash, real)?;
        return finish(Status::Cached, real.clone());
    }
    let mut detail = None;
    if let (None, false, Some(sub)) = (&existing, check, &opts.substituter) {
        match sub.substitute(store, hash.as_str()) {
            Ok(Some(real)) => {
                keep_provenance(cx, &drv, &hash, &real)?;
                return finish(Status::Substituted, real);
            }
            Ok(None) => {}
            Err(message) if why.is_some() => detail = Some(message),
            Err(message) => progress.warn(&format!("{}: {message}; building it here", r.id)),
        }
    }
    if let Some(why) = why {
        return Ok(Outcome::Missing(Missing {
            recipe: r.id.clone(),
            drv: Some(hash),
            why,
            detail,
        }));
    }
    progress.started(&r.id, r.surface(), &hash);
    let staging = Swept(Some(store.staging()?), cx.sweep);
    let built = workspace::run(cx, node, &drv, &hash, inputs, staging.path())?;
    if let Some(real) = existing {
        let mismatch = rebuild_mismatch(&r.id, &real, &built.path)?;
        return Ok(match finish(Status::Checked, real)? {
            Outcome::Done(d) => Outcome::Done(Box::new((d.0, d.1, mismatch))),
            m => m,
        });
    }
    let real = register(cx, r, &drv, &hash, &build, &built)?;
    finish(Status::Built, real)
}

/// With `--check`, how a rebuild of recipe `id` at `built` differs from
/// its registered output `real` (`None`: the same NAR hash).
fn rebuild_mismatch(
    id: &str,
    real: &Realisation,
    built: &Path,
) -> Result<Option<String>, BuildError> {
    let fresh = crate::hash::tree::nar_sha256(built).map_err(|source| BuildError::Hash {
        path: built.to_path_buf(),
        source,
    })?;
    Ok((fresh.hash != real.nar_hash).then(|| {
        let arts: Vec<&str> = real
            .meta
            .artifacts
            .iter()
            .map(|a| a.file.as_str())
            .collect();
        format!(
            "{} ({}): registered NAR sha256 {} but the rebuild gives {}; artifacts: {}",
            id,
            real.store_path,
            real.nar_hash.to_nix32(),
            fresh.hash.to_nix32(),
            arts.join(", ")
        )
    }))
}

/// Register a fresh build in the store with its origins and provenance
/// statement (under build key `build`); returns its realisation.
fn register(
    cx: &Ctx<'_>,
    r: &crate::recipe::Recipe,
    drv: &Derivation,
    hash: &DrvHash,
    build: &str,
    built: &workspace::Built,
) -> Result<Realisation, BuildError> {
    let (plan, store) = (cx.plan, cx.store);
    let meta = RealisationMeta {
        recipe: r.id.clone(),
        surface: r.surface(),
        artifacts: built.artifacts.clone(),
    };
    let real = store.register_output(
        hash.as_str(),
        &drv.canonical_bytes(),
        &built.path,
        &built.name,
        meta,
    )?;
    let (origins, origins_sha256) = built.origins.to_stored();
    store.write_origins(&real.store_path, build, &origins)?;
    let statement = provenance(
        plan,
        drv,
        hash,
        &store.path_of(&real.store_path),
        &built.artifacts,
        Some(&origins_sha256),
    )?;
    store.write_provenance(&real.store_path, build, &statement)?;
    Ok(real)
}

/// The provenance statement of an output: every file of every artifact is a
/// subject (`<dir>/<path>` for the files of a directory artifact).
fn provenance(
    plan: &Plan<'_>,
    drv: &Derivation,
    hash: &DrvHash,
    output: &Path,
    artifacts: &[Artifact],
    origins: Option<&str>,
) -> Result<Vec<u8>, BuildError> {
    let mut subjects = Vec::new();
    for a in artifacts {
        if !a.directory {
            subjects.push(crate::provenance::Subject {
                name: a.file.clone(),
                sha256: a.sha256.clone(),
            });
            continue;
        }
        let root = if a.path.is_empty() {
            output.to_path_buf()
        } else {
            output.join(&a.path)
        };
        let dir = a.file.trim_end_matches('/');
        for (rel, p) in crate::fsutil::files_below(&root).map_err(super::error::io(&root))? {
            if std::fs::symlink_metadata(&p)
                .map_err(super::error::io(&p))?
                .is_file()
            {
                // Digested by the surface as it wrote it, or here, streamed
                // (an image layout's layer blob may be gigabytes).
                let sha256 = match a.files.get(&rel) {
                    Some(hex) => hex.clone(),
                    None => crate::hash::Sha256::digest_file(&p)
                        .map_err(super::error::io(&p))?
                        .0
                        .to_hex(),
                };
                subjects.push(crate::provenance::Subject {
                    name: format!("{dir}/{rel}"),
                    sha256,
                });
            }
        }
    }
    let source = build_key(resolved_of(plan, &drv.recipe), hash).source;
    let st = crate::provenance::statement(drv, hash, &source, &subjects, origins);
    Ok(crate::provenance::to_bytes(&st))
}

/// What the node of `recipe` is built from (a post release builds its code
/// inputs from the base release, [`super::post`]).
fn resolved_of<'a>(plan: &'a Plan<'a>, recipe: &str) -> &'a Resolved {
    plan.nodes
        .iter()
        .find(|n| n.recipe.id == recipe)
        .map_or(plan.resolved, |n| n.resolved)
}

/// The build this invocation makes of `hash`: the derivation and the
/// source it reads (commit, dirty flag).
fn build_key(resolved: &Resolved, hash: &DrvHash) -> BuildKey {
    let origin = &resolved.snapshot.origin;
    let source = SourceInfo {
        commit: origin.commit().map(str::to_string),
        dirty: origin.is_dirty(),
    };
    BuildKey {
        drv: hash.clone(),
        source,
    }
}

/// On a cache hit or a substitution, make sure the store holds this
/// build's statement of the output: an output placed by another build (an
/// earlier commit with the same sources, another version whose output is
/// byte-identical, another machine) gets a statement naming this build's
/// commit, version and derivation, never the other build's. It derives
/// from the derivation and the output alone; the per-entry record is
/// carried over from another build of the output where it holds for this
/// one ([`carry_origins`]).
fn keep_provenance(
    cx: &Ctx<'_>,
    drv: &Derivation,
    hash: &DrvHash,
    real: &Realisation,
) -> Result<(), BuildError> {
    let sp = &real.store_path;
    let build = build_key(resolved_of(cx.plan, &drv.recipe), hash);
    let token = build.token();
    if cx.store.provenance(sp, &token)?.is_some() {
        return Ok(());
    }
    let others = cx.store.builds_of(sp)?;
    // This build's own record (when only its statement went missing), else
    // another build's that holds for this one.
    let own = cx
        .store
        .origins(sp, &token)?
        .and_then(|b| crate::provenance::origin::OriginsRecord::from_stored(&b).ok())
        .map(|(_, sha)| sha);
    let origins = match own {
        Some(sha) => Some(sha),
        None => carry_origins(cx, drv, sp, &build, &others)?,
    };
    let statement = provenance(
        cx.plan,
        drv,
        hash,
        &cx.store.path_of(sp),
        &real.meta.artifacts,
        origins.as_deref(),
    )?;
    cx.store.write_provenance(sp, &token, &statement)?;
    if others.is_empty() {
        cx.progress.warn(&format!(
            "{}: the provenance of {} was missing from the store; written again",
            drv.recipe, real.store_path
        ));
    }
    Ok(())
}

/// The per-entry record of another build of output `sp` (one of `others`)
/// that holds for this build — every snapshot or stamped entry names a
/// file this build's snapshot has with the same blob, every input entry
/// one of this derivation's inputs — written again for this build with its
/// commit; its digest, or `None` when no other build's record holds.
fn carry_origins(
    cx: &Ctx<'_>,
    drv: &Derivation,
    sp: &crate::nix::store_path::StorePath,
    build: &BuildKey,
    others: &[String],
) -> Result<Option<String>, BuildError> {
    use crate::provenance::origin::OriginsRecord;
    for other in others {
        let Some(bytes) = cx.store.origins(sp, other)? else {
            continue;
        };
        let Ok((mut record, _)) = OriginsRecord::from_stored(&bytes) else {
            continue;
        };
        if !origins_hold(&record, &resolved_of(cx.plan, &drv.recipe).snapshot, drv) {
            continue;
        }
        record.commit = build.source.commit.clone();
        let (stored, sha) = record.to_stored();
        cx.store.write_origins(sp, &build.token(), &stored)?;
        return Ok(Some(sha));
    }
    Ok(None)
}

/// Whether every entry of `record` names this build's sources.
fn origins_hold(
    record: &crate::provenance::origin::OriginsRecord,
    snapshot: &crate::source::Snapshot,
    drv: &Derivation,
) -> bool {
    use crate::provenance::origin::Source;
    let has_blob = |path: &str, blob: &str| {
        snapshot
            .files
            .binary_search_by(|f| f.path.as_bytes().cmp(path.as_bytes()))
            .is_ok_and(|i| snapshot.files[i].digest == blob)
    };
    record
        .artifacts
        .values()
        .flatten()
        .all(|e| match &e.source {
            Source::Snapshot { path, blob } | Source::Stamped { path, blob, .. } => {
                has_blob(path, blob)
            }
            Source::Input {
                mount, store_path, ..
            } => drv
                .inputs
                .get(mount)
                .is_some_and(|i| i.store_path.to_string() == *store_path),
            _ => true,
        })
}
