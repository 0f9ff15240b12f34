//! `kiln verify`: rebuild an artifact from its commit and compare.
use std::path::PathBuf;

use super::context::{CliError, Context};
use crate::audit::{self, Level, VerifyOptions};
use crate::name::{shown, shown_message};
use crate::sandbox::SandboxMode;

/// Arguments of `kiln verify`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Rebuilds the artifact in a fresh temporary store with no cache, from a commit of \
the local repository: --rev, else the one named by the provenance statement beside \
it (<artifact>.intoto.json), else the one the artifact names itself (a crate's \
.cargo_vcs_info.json, an image's org.opencontainers.image.revision).

Exit status: 0 the level holds, 1 it does not (or the statement beside it does not \
match), 2 it cannot be rebuilt.")]
pub struct Args {
    /// The artifact (a file, or the directory of a directory artifact).
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
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<u8, CliError> {
    let opts = VerifyOptions {
        root: ctx.project_root()?,
        artifact: args.artifact,
        rev: args.rev,
        recipe: args.recipe,
        level: args.level,
        sandbox: args.sandbox,
        host_inputs: super::selection::host_inputs(),
    };
    let r = audit::verify(&opts)?;
    if args.json {
        let text = serde_json::to_string_pretty(&r)
            .map_err(|e| CliError::internal(format!("encoding the report: {e}")))?;
        println!("{text}");
    } else {
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
    Ok(crate::error::completed(!r.passed()))
}
