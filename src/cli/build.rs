//! `kiln build`: build recipes into the store and `dist/`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use super::progress::{self, Bars, Lines, Warnings};
use super::{CliError, Context};
use crate::derive::SourceDateEpoch;
use crate::engine::{BuildOptions, BuildReport, Status};
use crate::sandbox::SandboxMode;

/// What to build from: the recipes, the revision and the version. Shared by
/// `kiln build` and `kiln plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct Selection {
    /// Recipes (with their inputs); default: all.
    pub recipes: Vec<String>,
    /// Use this version instead of the canonical one (a release build).
    #[arg(long, value_name = "V", conflicts_with = "tag")]
    pub version: Option<String>,
    /// Act as if the source commit carried this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Read this git revision instead of HEAD.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Read the working tree, uncommitted changes included (recorded in provenance).
    #[arg(long)]
    pub dirty: bool,
    /// How command recipes run: `bubblewrap`, or `none` (no isolation; recorded).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = SandboxMode::Bubblewrap)]
    pub sandbox: SandboxMode,
}

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
}

/// Host caches that recipes may mount read-only by name: `cargo-registry`
/// is the cargo home (`$CARGO_HOME`, else `~/.cargo`) whose registry index
/// and downloaded crates offline cargo reads; `python-wheels` is the
/// directory of wheels `$KILN_PYTHON_WHEELS` names (Python backend mode).
pub fn host_inputs() -> BTreeMap<String, PathBuf> {
    let mut m = BTreeMap::new();
    if let Some(home) = crate::sandbox::host_cargo_home() {
        m.insert("cargo-registry".to_string(), home);
    }
    if let Some(dir) = std::env::var_os("KILN_PYTHON_WHEELS").filter(|d| !d.is_empty()) {
        m.insert("python-wheels".to_string(), PathBuf::from(dir));
    }
    m
}

/// The build options of a selection: the project, the store and the one
/// reading of the environment (`SOURCE_DATE_EPOCH`, parsed here).
pub(crate) fn options(sel: Selection, ctx: &Context) -> Result<BuildOptions, CliError> {
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(SourceDateEpoch::from_env_value(&v)?),
        Err(_) => None,
    };
    Ok(BuildOptions {
        root: ctx.project_root()?,
        store_dir: ctx.store_dir()?,
        recipes: sel.recipes,
        rev: sel.rev,
        dirty: sel.dirty,
        version: sel.version,
        tag: sel.tag,
        sandbox: sel.sandbox,
        source_date_epoch,
        host_inputs: host_inputs(),
        ..BuildOptions::default()
    })
}

pub fn run(args: Args, ctx: &Context) -> Result<u8, CliError> {
    let interval = progress::interval()?;
    let mut opts = options(args.selection, ctx)?;
    opts.check = args.check;
    opts.jobs = args.jobs;
    opts.lock_timeout = args.lock_timeout.map(std::time::Duration::from_secs);
    opts.out_dir = Some(args.out.unwrap_or_else(|| opts.root.join("dist")));
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
    cache.push_after(&report, &opts.store_dir)?;
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
            let warnings = a.extra.get("warnings").and_then(|w| w.as_array());
            for w in warnings.into_iter().flatten().filter_map(|w| w.as_str()) {
                eprintln!("kiln: warning: {}: {w}", r.id);
            }
        }
    }
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
                "artifacts": r.artifacts.iter().map(|a| {
                    let mut o = serde_json::json!({"file": a.file, "sha256": a.sha256, "size": a.size});
                    for (k, v) in &a.extra { o[k] = v.clone(); }
                    o
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
            let tag = match a.extra.get("dist_tag").and_then(|t| t.as_str()) {
                Some(t) => format!(" (npm tag {})", crate::name::shown(t)),
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
