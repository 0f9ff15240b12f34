//! A release across many machines: which of a plan's derivations this
//! machine builds ([`Here`]: its `--system`s, one `--job`, or nothing with
//! `--assemble`), the release's jobs for a CI matrix ([`jobs`], `kiln plan
//! --jobs`) and what could be neither built here nor substituted
//! ([`Missing`]).
//!
//! A job is every derivation of one system (`x86_64-linux`), or — when
//! the store has recorded build times and a system's add up to more than
//! the budget — a contiguous run of them in plan order (`x86_64-linux-1`,
//! `x86_64-linux-2`, …), so a shard only ever needs earlier shards. Jobs
//! come sorted by id; each names the recipes it builds, the recipes of
//! other jobs it substitutes (its `needs`).

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{Node, Plan};
use super::{BuildError, BuildOptions, Part};
use crate::derive::System;
use crate::name::shown;

pub use super::jobplan::{Here, Job, JobPlan, Missing, Why};

/// A job's budget when `--job-seconds` is not given: 20 minutes.
pub const DEFAULT_JOB_SECONDS: u64 = 20 * 60;

/// The recorded build time of each recipe, in milliseconds (the store's
/// `.kiln/times.json`: a scheduling hint, never trusted for anything else).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Times(pub BTreeMap<String, u64>);

const TIMES: &str = ".kiln/times.json";

impl Times {
    /// The times recorded in the store at `store_dir` (none when absent or
    /// unreadable).
    pub fn read(store_dir: &std::path::Path) -> Times {
        crate::fsutil::read_regular(&store_dir.join(TIMES))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Record the durations of what this invocation built; a failure to
    /// write is left unreported (the times are only a hint).
    pub fn record(store_dir: &std::path::Path, built: &[(String, std::time::Duration)]) {
        if built.is_empty() {
            return;
        }
        let mut t = Times::read(store_dir);
        for (id, d) in built {
            t.0.insert(id.clone(), u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        }
        let path = store_dir.join(TIMES);
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let bytes = serde_json::to_vec(&t).expect("times serialise");
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// The release's jobs over `plan`'s nodes: grouped by system, shards when
/// a system's recorded time exceeds `budget` seconds, sorted by id.
pub fn jobs(plan: &Plan<'_>, times: &Times, budget: u64) -> Vec<Job> {
    let mut by_system: BTreeMap<&System, Vec<&Node<'_>>> = BTreeMap::new();
    for n in &plan.nodes {
        by_system.entry(&n.system).or_default().push(n);
    }
    let mut jobs = Vec::new();
    for (system, nodes) in by_system {
        for (i, shard) in shards(&nodes, times, budget).iter().enumerate() {
            let id = match shard.len() == nodes.len() {
                true => system.to_string(),
                false => format!("{system}-{}", i + 1),
            };
            let ms: Option<u64> = shard
                .iter()
                .map(|n| times.0.get(&n.recipe.id).copied())
                .sum();
            jobs.push(Job {
                id,
                system: system.to_string(),
                recipes: shard.iter().map(|n| n.recipe.id.clone()).collect(),
                needs: Vec::new(),
                substitutes: Vec::new(),
                seconds: ms.map(|ms| ms.div_ceil(1000)),
            });
        }
    }
    let job_of: BTreeMap<String, String> = jobs
        .iter()
        .flat_map(|j| j.recipes.iter().map(|r| (r.clone(), j.id.clone())))
        .collect();
    for j in &mut jobs {
        let mut needs = BTreeSet::new();
        let mut subs = BTreeSet::new();
        for r in &j.recipes {
            let node = plan.nodes.iter().find(|n| &n.recipe.id == r);
            for dep in node.into_iter().flat_map(|n| n.recipe.inputs().values()) {
                match job_of.get(dep) {
                    Some(other) if *other != j.id => {
                        needs.insert(other.clone());
                        subs.insert(dep.clone());
                    }
                    _ => {}
                }
            }
        }
        j.needs = needs.into_iter().collect();
        j.substitutes = subs.into_iter().collect();
    }
    jobs.sort_by(|a, b| a.id.cmp(&b.id));
    jobs
}

/// Split one system's nodes (in plan order) into contiguous shards of
/// about equal recorded time, as many as the budget asks for (one when
/// the times are unknown or within it).
fn shards<'a, 'r>(
    nodes: &'a [&'a Node<'r>],
    times: &Times,
    budget: u64,
) -> Vec<&'a [&'a Node<'r>]> {
    let ms: Vec<u64> = nodes
        .iter()
        .map(|n| times.0.get(&n.recipe.id).copied().unwrap_or(0))
        .collect();
    let total: u64 = ms.iter().sum();
    let budget_ms = budget.saturating_mul(1000).max(1);
    let count = usize::try_from(total.div_ceil(budget_ms))
        .unwrap_or(usize::MAX)
        .clamp(1, nodes.len().max(1));
    if count <= 1 {
        return vec![nodes];
    }
    let mut out = Vec::new();
    let (mut start, mut acc) = (0, 0u64);
    for (i, t) in ms.iter().enumerate() {
        acc += t;
        // Shards still to start after the current one.
        let after = count - out.len() - 1;
        if after == 0 {
            break;
        }
        let left = nodes.len() - i - 1;
        if acc * count as u64 >= total * (out.len() as u64 + 1) || left == after {
            out.push(&nodes[start..=i]);
            start = i + 1;
        }
    }
    out.push(&nodes[start..]);
    out
}

/// What this machine does with each node of `plan` (by recipe id), and the
/// jobs the decision was made over (`--job`, `--assemble`); a job that is
/// not in the plan, or whose system this machine does not declare, is
/// refused before anything is built.
pub fn decide(
    plan: &Plan<'_>,
    opts: &BuildOptions,
    jobs: &[Job],
) -> Result<BTreeMap<String, Here>, BuildError> {
    let systems = opts.systems();
    let job_of = |id: &str| {
        jobs.iter()
            .find(|j| j.recipes.iter().any(|r| r == id))
            .map(|j| j.id.clone())
            .unwrap_or_default()
    };
    let mut out = BTreeMap::new();
    if let Part::Job(id) = &opts.part {
        let job = find(jobs, id)?;
        if !systems.iter().any(|s| s.as_str() == job.system) {
            return Err(BuildError::JobSystem {
                id: id.clone(),
                system: job.system.clone(),
                declared: systems.iter().map(ToString::to_string).collect(),
            });
        }
    }
    for n in &plan.nodes {
        let id = &n.recipe.id;
        let here = match &opts.part {
            Part::All if systems.contains(&n.system) => Here::Build,
            Part::All => Here::Substitute(Why::System(n.system.clone())),
            Part::Job(j) if job_of(id) == *j => Here::Build,
            Part::Job(_) | Part::Assemble => Here::Substitute(Why::Job(job_of(id))),
        };
        out.insert(id.clone(), here);
    }
    Ok(out)
}

/// The job `id` of `jobs`, or [`BuildError::UnknownJob`].
pub fn find<'a>(jobs: &'a [Job], id: &str) -> Result<&'a Job, BuildError> {
    jobs.iter()
        .find(|j| j.id == id)
        .ok_or_else(|| BuildError::UnknownJob {
            id: id.to_string(),
            known: jobs.iter().map(|j| j.id.clone()).collect(),
        })
}

/// The jobs of a plan file (`--plan`), checked against this plan: every
/// recipe of the plan is in exactly one job of its own system, and no job
/// names a recipe the plan does not have (a plan made from another
/// commit is refused, exit 2).
pub fn check_given(plan: &Plan<'_>, given: &JobPlan) -> Result<Vec<Job>, BuildError> {
    let stale = |reason: String| BuildError::StalePlan { reason };
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for j in &given.jobs {
        for r in &j.recipes {
            let Some(n) = plan.nodes.iter().find(|n| n.recipe.id == *r) else {
                return Err(stale(format!(
                    "job {} names recipe {}, which this release does not have",
                    shown(&j.id),
                    shown(r)
                )));
            };
            if n.system.as_str() != j.system {
                return Err(stale(format!(
                    "job {} builds {} for {}, but the recipe is for {}",
                    shown(&j.id),
                    shown(r),
                    shown(&j.system),
                    n.system
                )));
            }
            if let Some(first) = seen.insert(r, &j.id) {
                return Err(stale(format!(
                    "recipe {} is in jobs {} and {}",
                    shown(r),
                    shown(first),
                    shown(&j.id)
                )));
            }
        }
    }
    if let Some(n) = plan
        .nodes
        .iter()
        .find(|n| !seen.contains_key(n.recipe.id.as_str()))
    {
        return Err(stale(format!(
            "no job builds recipe {}",
            shown(&n.recipe.id)
        )));
    }
    Ok(given.jobs.clone())
}
