//! `kiln verify`: rebuild an artifact — a local file, or what a registry
//! serves under a reference — from its commit and compare.
use std::path::PathBuf;

use super::context::{CliError, Context};
use crate::audit::{self, Level, RegistryVerifyOptions, VerifyOptions, VerifyReport};
use crate::name::{shown, shown_message};
use crate::sandbox::SandboxMode;

/// Arguments of `kiln verify`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Rebuilds the artifact in a fresh temporary store with no cache, from a commit of \
the local repository: --rev, else the one named by the provenance statement beside \
it (<artifact>.intoto.json), else the one the artifact names itself (a crate's \
.cargo_vcs_info.json, an image's org.opencontainers.image.revision).

ARTIFACT may be a registry reference instead: pypi:NAME==VERSION (every file of the \
version), npm:NAME@VERSION, crate:NAME@VERSION, oci:HOST/REPO:TAG or \
oci:HOST/REPO@sha256:HEX. The artifacts are fetched from the registry as `kiln \
publish` configures it (--registry NAME or NAME=URL; default pypi, npm, or the \
image's host), checked against the digests the registry states, and verified as a \
local file is (npm: its gitHead is the commit if nothing else names one). A local \
file whose name starts with such a prefix is written ./NAME. With --all, ARTIFACT \
is a release's tag: the release is rebuilt in a fresh store and every artifact of it \
on every registry [publish] names is fetched and compared.

Exit status: 0 the level holds, 1 it does not (or the statement beside it does not \
match, or the registry has no such version or serves bytes other than it states), \
2 it cannot be rebuilt or the reference is not one.")]
pub struct Args {
    /// The artifact (a file, the directory of a directory artifact, or a registry reference).
    pub artifact: PathBuf,
    /// Rebuild from this revision.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// The recipe that makes it (default: the statement's, or found by its kind and name).
    #[arg(long, value_name = "NAME")]
    pub recipe: Option<String>,
    /// What must match: `bytes`, or `content` (entries, metadata and file bytes).
    #[arg(long, value_enum, default_value_t = Level::Bytes)]
    pub level: Level,
    /// How command recipes run: `bubblewrap`, or `none`.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = SandboxMode::Bubblewrap)]
    pub sandbox: SandboxMode,
    /// The registry a reference is fetched from: a configured NAME, or
    /// NAME=URL (with --all: where registry NAME is; repeatable).
    #[arg(long, value_name = "NAME[=URL]")]
    pub registry: Vec<String>,
    /// ARTIFACT is a release (its tag or revision): rebuild it and verify
    /// every artifact on every registry `[publish]` names.
    #[arg(long)]
    pub all: bool,
    /// Print the report as JSON (for a registry reference: a list, one per artifact).
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<u8, CliError> {
    let opts = VerifyOptions {
        root: ctx.project_root()?,
        artifact: args.artifact.clone(),
        rev: args.rev.clone(),
        recipe: args.recipe.clone(),
        level: args.level,
        sandbox: args.sandbox,
        host_inputs: super::selection::host_inputs(),
        compare: audit::Compare::File,
        vcs_commit: None,
    };
    if args.all {
        return run_all(&args, ctx);
    }
    if let Some(reference) = args
        .artifact
        .to_str()
        .filter(|a| crate::publish::is_reference(a))
    {
        return run_registry(reference, &args, opts, ctx);
    }
    if !args.registry.is_empty() {
        return Err(CliError::bad_input(
            "--registry goes with a registry reference (pypi:, npm:, crate:, oci:)",
        ));
    }
    let r = audit::verify(&opts)?;
    if args.json {
        println!("{}", to_json(&r)?);
    } else {
        print_report(&r);
    }
    Ok(crate::error::completed(!r.passed()))
}

fn to_json(v: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(v)
        .map_err(|e| CliError::internal(format!("encoding the report: {e}")))
}

/// `kiln verify REF`: fetch, then verify each artifact.
fn run_registry(
    reference: &str,
    args: &Args,
    verify: VerifyOptions,
    ctx: &Context,
) -> Result<u8, CliError> {
    let reference: crate::publish::RegistryRef = reference.parse()?;
    let registry = match args.registry.as_slice() {
        [] => None,
        [r] if r.contains('=') => {
            let (name, url) = crate::publish::parse_override(r)?;
            Some((name, Some(url)))
        }
        [name] => Some((name.clone(), None)),
        _ => {
            return Err(CliError::bad_input(
                "a registry reference is fetched from one --registry",
            ))
        }
    };
    let store = crate::store::Store::open(ctx.store_dir()?)?;
    let opts = RegistryVerifyOptions {
        reference,
        registry,
        env: super::publish::environment(),
        temp: store.temp_area(),
        verify,
    };
    let reports = audit::verify_registry(&opts)?;
    if args.json {
        println!("{}", to_json(&reports)?);
    } else {
        for r in &reports {
            println!(
                "{} ({}): {} {}: {}",
                shown(&r.registry),
                shown(&r.url),
                shown(&r.name),
                shown(&r.registry_version),
                shown(&r.report.artifact)
            );
            println!("  the registry states {}", shown(&r.digest));
            println!("  served {}", r.report.sha256);
            println!("  rebuilt {}", r.report.rebuilt_sha256);
            print_report(&r.report);
        }
    }
    Ok(crate::error::completed(
        !reports.iter().all(|r| r.report.passed()),
    ))
}

/// `kiln verify --all REV`.
fn run_all(args: &Args, ctx: &Context) -> Result<u8, CliError> {
    let overrides = args
        .registry
        .iter()
        .map(|r| crate::publish::parse_override(r))
        .collect::<Result<Vec<_>, _>>()?;
    let rev = args
        .artifact
        .to_str()
        .ok_or_else(|| CliError::bad_input("--all takes a release's tag or revision"))?;
    let selection = super::selection::Selection {
        recipes: Vec::new(),
        version: None,
        tag: None,
        rev: Some(rev.to_string()),
        dirty: false,
        sandbox: args.sandbox,
    };
    let build = super::selection::options(selection, ctx)?;
    let store = crate::store::Store::open(&build.store_dir)?;
    let work = crate::publish::work_dir(&store.temp_area())?;
    let env = super::publish::environment();
    let r = crate::publish::verify_release(&build, &overrides, &env, work.path())?;
    if args.json {
        println!("{}", to_json(&r)?);
    } else {
        println!("release {} (tag {})", shown(&r.version), shown(&r.tag));
        for c in &r.checks {
            println!(
                "{:16} {} ({}): {} {}: {}",
                c.check.to_string(),
                shown(&c.registry),
                shown(&c.url),
                shown(&c.name),
                shown(&c.registry_version),
                shown(&c.file)
            );
            println!(
                "  served {}, rebuilt {}",
                c.served.as_deref().map_or("(nothing)".into(), shown),
                c.rebuilt.as_deref().map_or("(nothing)".into(), shown)
            );
        }
        let verdict = if r.passed() {
            "verified"
        } else {
            "NOT verified"
        };
        println!("{verdict}: {} artifact(s)", r.checks.len());
    }
    Ok(crate::error::completed(!r.passed()))
}

fn print_report(r: &VerifyReport) {
    println!("{}", shown(&r.artifact));
    println!("  recipe {} (from {})", shown(&r.recipe), r.recipe_from);
    println!("  commit {} (from {})", shown(&r.commit), r.commit_from);
    if let Some(v) = &r.version {
        println!("  version {} (the version it carries)", shown(v));
    }
    println!("  rebuilt: {}", shown_message(&r.outcome.to_string()));
    for d in &r.differences {
        println!("  {}", shown_message(&d.to_string()));
    }
    for m in &r.provenance {
        println!(
            "  provenance field {}: the statement says {}, but {}",
            shown(&m.field),
            shown_message(&m.statement.to_string()),
            shown_message(&m.actual.to_string())
        );
    }
    let verdict = if r.passed() {
        "verified"
    } else {
        "NOT verified"
    };
    println!("{verdict} at level {:?}", r.level);
}
