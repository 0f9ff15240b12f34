//! `kiln build`: build recipes into the store and `dist/`.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::context::{CliError, Context};
use super::progress::{self, Bars, Lines, Warnings};
use super::selection::{options, Selection};
use crate::engine::{BuildReport, Status};

/// Build recipes (all by default) into the store; copy artifacts, provenance
/// and SHA256SUMS into `dist/`. Registered derivations are cache hits.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub selection: Selection,
    /// Where artifacts go.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Rebuild registered derivations and compare bit for bit (exit 1 on a difference).
    #[arg(long)]
    pub check: bool,
    /// Parallel builds (default: number of CPUs).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print no progress (only warnings and errors) on stderr.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Give up (exit 3) after waiting this many seconds for a derivation that
    /// another kiln process is building (default: wait as long as it takes).
    #[arg(long, value_name = "SECONDS")]
    pub lock_timeout: Option<u64>,
    #[command(flatten)]
    pub cache: super::cache::BuildCache,
    #[command(flatten)]
    pub machines: Machines,
}

/// A release across many machines (docs/ci.md): which systems this machine
/// builds, one job of `kiln plan --jobs`, or the assembly of `dist/`.
#[derive(Debug, clap::Args)]
pub struct Machines {
    /// The systems this machine builds, comma-separated (default: the
    /// host's, e.g. `x86_64-linux`); any other derivation is substituted
    /// from the --cache or reported. Declare a system only when this
    /// machine's tools really build for it (a cross toolchain, qemu).
    #[arg(long = "system", value_name = "LIST")]
    pub systems: Option<String>,
    /// Build exactly this job of `kiln plan --jobs` (its inputs are
    /// substituted from the --cache).
    #[arg(long, value_name = "ID", conflicts_with = "assemble")]
    pub job: Option<String>,
    /// Build nothing: substitute every output of the release from the
    /// --cache and write dist/ (exit 1 naming what is missing).
    #[arg(long, requires = "url")]
    pub assemble: bool,
    /// Exit 1 before building anything when a derivation can be neither
    /// built here nor substituted.
    #[arg(long)]
    pub require_complete: bool,
    /// With --job: the budget of one job in seconds (as `kiln plan --jobs
    /// --job-seconds` was given).
    #[arg(long, value_name = "SECONDS")]
    pub job_seconds: Option<u64>,
    /// With --job or --assemble: the jobs as `kiln plan --jobs --json`
    /// wrote them on the planning machine (its shards are then the same
    /// here, whatever build times this store recorded).
    #[arg(long = "plan", value_name = "FILE")]
    pub plan: Option<PathBuf>,
}

impl Machines {
    /// Set the options' systems, part and completeness.
    pub(crate) fn apply(self, opts: &mut crate::engine::BuildOptions) -> Result<(), CliError> {
        if let Some(list) = &self.systems {
            opts.systems = crate::derive::System::parse_list(list)?;
            if opts.systems.is_empty() {
                return Err(CliError::bad_input("--system needs at least one system"));
            }
        }
        opts.part = match (self.job, self.assemble) {
            (Some(id), _) => crate::engine::Part::Job(id),
            (None, true) => crate::engine::Part::Assemble,
            (None, false) => crate::engine::Part::All,
        };
        opts.require_complete = self.require_complete;
        opts.job_seconds = self.job_seconds;
        if let Some(path) = &self.plan {
            let bytes = std::fs::read(path).map_err(|e| {
                CliError::bad_input(format!("--plan {}: {e}", crate::name::shown_path(path)))
            })?;
            opts.job_plan = Some(serde_json::from_slice(&bytes).map_err(|e| {
                CliError::bad_input(format!(
                    "--plan {}: not the output of kiln plan --jobs --json: {e}",
                    crate::name::shown_path(path)
                ))
            })?);
        }
        Ok(())
    }
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<u8, CliError> {
    let interval = progress::interval()?;
    let mut opts = options(args.selection, ctx)?;
    opts.check = args.check;
    opts.jobs = args.jobs;
    opts.lock_timeout = args.lock_timeout.map(std::time::Duration::from_secs);
    args.machines.apply(&mut opts)?;
    opts.out_dir = Some(
        args.out
            .unwrap_or_else(|| opts.root.join(crate::engine::DIST_DIR)),
    );
    let cache = args.cache.open(ctx)?;
    opts.substituter = cache.substituter();
    let report = if args.quiet {
        crate::engine::build(&opts, &Warnings)?
    } else if std::io::stderr().is_terminal() && !args.json {
        crate::engine::build(&opts, &Bars::new())?
    } else {
        let lines = Lines::new(interval);
        lines.during(|| crate::engine::build(&opts, &lines))?
    };
    cache.push_after(&report)?;
    print_artifact_warnings(&report);
    if args.json {
        println!("{}", json(&report));
    } else {
        print!("{}", human(&report, &opts.root));
    }
    Ok(0)
}

/// The warnings a surface recorded on its artifacts (a base image layer's
/// hazards, an npm `files` entry that matches nothing), built or cached:
/// surfaces write them with every untrusted name already escaped.
fn print_artifact_warnings(report: &BuildReport) {
    for r in &report.recipes {
        for a in &r.artifacts {
            for w in &a.facts.warnings {
                eprintln!("kiln: warning: {}: {w}", r.id);
            }
        }
    }
}

/// An artifact in `kiln build --json`: its name and digest, then its facts.
#[derive(serde::Serialize)]
struct JsonArtifact<'a> {
    file: &'a str,
    sha256: &'a str,
    size: u64,
    #[serde(flatten)]
    facts: &'a crate::surface::ArtifactFacts,
}

/// `kiln build --json`.
fn json(report: &BuildReport) -> String {
    let recipes: Vec<serde_json::Value> = report
        .recipes
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.id,
                "surface": r.surface.as_str(),
                "drv": r.drv.as_str(),
                "status": r.status.as_str(),
                "release_of": r.release_of,
                "store_path": r.store_path,
                "artifacts": r.artifacts.iter().map(|a| JsonArtifact {
                    file: &a.file,
                    sha256: &a.sha256,
                    size: a.size,
                    facts: &a.facts,
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "recipes": recipes })).expect("json")
}

/// The human summary: one line per artifact, then the counts.
fn human(report: &BuildReport, root: &std::path::Path) -> String {
    let shown = report
        .dist_dir
        .strip_prefix(root)
        .map(|p| p.to_path_buf())
        .unwrap_or(report.dist_dir.clone());
    let mut out = String::new();
    for r in &report.recipes {
        if let Some(release) = &r.release_of {
            // A post release's code input: release `release`'s artifact,
            // inside the images, not in this `dist/`.
            let files: Vec<String> = r
                .artifacts
                .iter()
                .map(|a| crate::name::shown(&a.file).into_owned())
                .collect();
            out.push_str(&format!(
                "{:8} {:24} {} (release {}'s, an input of the images; not in {})\n",
                r.status.as_str(),
                crate::name::shown(&r.id),
                files.join(", "),
                crate::name::shown(release),
                crate::name::shown_path(&shown)
            ));
            continue;
        }
        for a in &r.artifacts {
            let tag = match &a.facts.npm {
                Some(npm) => format!(" (npm tag {})", crate::name::shown(&npm.dist_tag)),
                None => String::new(),
            };
            out.push_str(&format!(
                "{:8} {:24} {}/{}{tag}\n",
                r.status.as_str(),
                crate::name::shown(&r.id),
                crate::name::shown_path(&shown),
                crate::name::shown(&a.file)
            ));
        }
    }
    let count = |s: Status| report.recipes.iter().filter(|r| r.status == s).count();
    let substituted = match count(Status::Substituted) {
        0 => String::new(),
        n => format!(", {n} substituted"),
    };
    out.push_str(&format!(
        "{} recipes: {} built, {} cached, {} checked{substituted}; SHA256SUMS in {}\n",
        report.recipes.len(),
        count(Status::Built),
        count(Status::Cached),
        count(Status::Checked),
        crate::name::shown_path(&shown)
    ));
    out
}
