//! `kiln provenance`: where each entry of an artifact came from.
use std::path::PathBuf;

use super::context::{CliError, Context};
use crate::audit::{self, AuditError};
use crate::name::{shown, shown_message};

/// Arguments of `kiln provenance`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Finds the artifact by its SHA-256 among the store's outputs, or through the \
provenance statement beside it (<artifact>.intoto.json), and prints where its \
entries came from, as recorded when it was built.

Exit status: 0 found, 2 unknown artifact or entry.")]
pub struct Args {
    /// The artifact (a file, or the directory of a directory artifact).
    pub artifact: PathBuf,
    /// Show this entry only (its path inside the artifact).
    #[arg(long, value_name = "PATH")]
    pub entry: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<u8, CliError> {
    let store = crate::store::Store::open(ctx.store_dir()?)?;
    let found = audit::find(&store, &args.artifact)?;
    let origins = found
        .origins
        .as_ref()
        .ok_or_else(|| AuditError::NoOrigins {
            path: args.artifact.clone(),
            store_path: found.realisation.store_path.to_string(),
            substituted: found.substituted(),
        })?;
    let commit = origins.commit.as_deref();
    let entries = origins
        .artifacts
        .get(&found.artifact)
        .cloned()
        .unwrap_or_default();
    let recipe = found.realisation.meta.recipe.clone();
    if let Some(name) = &args.entry {
        let e = origins
            .entry(&found.artifact, name)
            .ok_or_else(|| AuditError::NoEntry {
                path: args.artifact.clone(),
                entry: name.clone(),
                count: entries.len(),
            })?;
        if args.json {
            let v = serde_json::json!({"artifact": found.artifact, "sha256": found.sha256,
                "commit": commit, "entry": e});
            println!("{}", pretty(&v)?);
        } else {
            println!(
                "{}: {}",
                shown(&e.entry),
                shown_message(&e.source.describe(commit))
            );
        }
        return Ok(0);
    }
    if args.json {
        let v = serde_json::json!({"artifact": found.artifact, "sha256": found.sha256,
            "found_by": found.by, "recipe": recipe, "store_path": found.realisation.store_path,
            "commit": commit, "entries": entries});
        println!("{}", pretty(&v)?);
        return Ok(0);
    }
    println!("{} (sha256 {})", shown(&found.artifact), found.sha256);
    println!(
        "  recipe {}, output {}",
        shown(&recipe.to_string()),
        found.realisation.store_path
    );
    if let Some(c) = commit {
        println!("  commit {}", shown(c));
    }
    let counts: Vec<String> = origins
        .summary(&found.artifact)
        .into_iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    println!("  {} entries: {}", entries.len(), counts.join(", "));
    for e in &entries {
        println!(
            "  {}: {}",
            shown(&e.entry),
            shown_message(&e.source.describe(None))
        );
    }
    Ok(0)
}

fn pretty(v: &serde_json::Value) -> Result<String, CliError> {
    serde_json::to_string_pretty(v).map_err(|e| CliError::internal(format!("encoding JSON: {e}")))
}
