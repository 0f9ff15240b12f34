//! `kiln store`: add to, list, verify and garbage-collect the store.
use std::path::{Path, PathBuf};

use super::context::{CliError, Context};
use crate::store::{self, GcKind, Store};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add a file or tree to the store and print its store path.
    ///
    /// The hash part of the printed path equals that of `nix-store --add PATH`
    /// (the path is named by the NAR hash of the content and the name). Adding
    /// the same content again is a no-op that prints the same path. Added paths
    /// are gc roots: `kiln store gc` keeps them.
    Add(AddArgs),
    /// List valid store paths: path, NAR size in bytes, name.
    Ls(LsArgs),
    /// Rehash every registered output against its record; exit 1 naming each
    /// missing or altered one.
    Verify(VerifyArgs),
    /// Remove outputs that no `store add` root or build realisation
    /// references, and leftovers of interrupted work in `.kiln/tmp`.
    Gc(GcArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// File, symlink or directory to add (sockets, FIFOs and devices are refused).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Store path name (default: the last component of PATH). Allowed:
    /// A-Z a-z 0-9 and + - . _ ? =, at most 211 characters.
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
    /// Compute and print the store path without adding anything.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Print a JSON array instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Remove each missing or altered output and all its records (a rebuild or
    /// re-add recreates it); exit 0 once the store is consistent again.
    #[arg(long)]
    pub repair: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// List what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(cmd: Command, ctx: &Context) -> Result<u8, CliError> {
    match cmd {
        Command::Add(a) => add(a, ctx),
        Command::Ls(a) => ls(a, ctx),
        Command::Verify(a) => verify(a, ctx),
        Command::Gc(a) => gc(a, ctx),
    }
}

fn json_line<T: serde::Serialize>(v: &T) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).map_err(|e| CliError::internal(e.to_string()))?;
    println!("{s}");
    Ok(())
}

/// The default name: PATH's last component (of its absolute form for `.`).
fn default_name(path: &Path) -> Result<String, CliError> {
    let last = match path.file_name() {
        Some(n) => n.to_os_string(),
        None => std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_os_string()))
            .ok_or_else(|| {
                CliError::bad_input(format!(
                    "{}: cannot derive a store path name from this path; pass --name N",
                    path.display()
                ))
            })?,
    };
    last.into_string().map_err(|n| {
        CliError::bad_input(format!(
            "{}: file name {n:?} is not valid UTF-8; pass --name N",
            path.display()
        ))
    })
}

fn add(a: AddArgs, ctx: &Context) -> Result<u8, CliError> {
    let name = match a.name {
        Some(n) => n,
        None => {
            let n = default_name(&a.path)?;
            if let Err(e) = crate::nix::store_path::StorePathName::new(&n) {
                return Err(CliError::bad_input(format!(
                    "{}: {e}; pass --name N to choose another name",
                    a.path.display()
                )));
            }
            n
        }
    };
    let dir = ctx.store_dir()?;
    if a.dry_run {
        let (sp, _) = store::source_path(&a.path, &name)?;
        let abs = std::fs::canonicalize(&dir)
            .or_else(|_| std::path::absolute(&dir))
            .map_err(|e| CliError::internal(format!("{}: {e}", dir.display())))?;
        println!("{}", abs.join(sp.to_string()).display());
        return Ok(0);
    }
    let store = Store::open(dir)?;
    let sp = store.add_path(&a.path, &name, false)?;
    println!("{}", store.path_of(&sp).display());
    Ok(0)
}

fn ls(a: LsArgs, ctx: &Context) -> Result<u8, CliError> {
    let store = Store::open(ctx.store_dir()?)?;
    let entries = store.list()?;
    if a.json {
        json_line(&entries)?;
    } else {
        for e in entries {
            println!("{}\t{}\t{}", e.path.display(), e.nar_size, e.name);
        }
    }
    Ok(0)
}

fn verify(a: VerifyArgs, ctx: &Context) -> Result<u8, CliError> {
    let store = Store::open(ctx.store_dir()?)?;
    let report = store.verify(a.repair)?;
    let failed = report.findings.iter().any(|f| !f.repaired);
    if a.json {
        json_line(&report)?;
    } else {
        for f in &report.findings {
            let what = &f.problem;
            let done = if f.repaired {
                "; removed it and its records"
            } else {
                ""
            };
            println!("{}: {what}{done}", f.path.display());
        }
        eprintln!(
            "kiln: checked {} store path(s): {} problem(s){}",
            report.checked,
            report.findings.len(),
            if a.repair && !report.findings.is_empty() {
                ", repaired (rebuild or re-add to recreate)"
            } else if failed {
                "; run `kiln store verify --repair` to remove them"
            } else {
                ""
            }
        );
    }
    Ok(crate::error::completed(failed))
}

fn gc(a: GcArgs, ctx: &Context) -> Result<u8, CliError> {
    let store = Store::open(ctx.store_dir()?)?;
    let report = store.gc(a.dry_run)?;
    if a.json {
        json_line(&report)?;
    } else {
        for item in &report.removed {
            println!("{}", item.path.display());
        }
        let outputs = report
            .removed
            .iter()
            .filter(|i| i.kind == GcKind::Output)
            .count();
        eprintln!(
            "kiln: {} {outputs} unreferenced output(s) and {} leftover(s)",
            if a.dry_run { "would remove" } else { "removed" },
            report.removed.len() - outputs
        );
    }
    Ok(0)
}
