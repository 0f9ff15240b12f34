//! Command-line front end: clap structures, one file per subcommand.
//!
//! Each subcommand file turns its arguments into an options value, makes one
//! library call and prints the result. Nothing here builds, hashes or parses
//! formats itself.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::error::{chain, Classify, ErrorKind};

pub mod build;
pub mod cache;
pub mod diff;
pub mod hash;
pub mod plan;
mod progress;
pub mod provenance;
pub mod store;
pub mod verify;
pub mod version;

/// kiln — reproducible release builds into a Nix-style content-addressed store.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about, long_about = None)]
pub struct Cli {
    /// Project root (default: the nearest ancestor directory holding `recipes/`).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Store directory (default: `<project>/store`).
    #[arg(long, global = true, env = "KILN_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the NAR hash of a file or tree (default: as `nix-hash --type sha256 --base32`).
    Hash(hash::Args),
    /// Add to, list, verify and collect the store.
    #[command(subcommand)]
    Store(store::Command),
    /// The release policy: show, render, check tags, bump and set the version.
    #[command(subcommand)]
    Version(version::Command),
    /// Resolve recipes into derivations and print them; builds nothing.
    Plan(plan::Args),
    /// Build recipes into the store and `dist/` (cache hits are free).
    Build(build::Args),
    /// Binary caches in Nix's format: keygen, push, pull.
    #[command(subcommand)]
    Cache(cache::Command),
    /// Explain how two artifacts differ (archives, images, NARs, directories).
    Diff(diff::Args),
    /// Rebuild an artifact from its commit in a fresh store and compare.
    Verify(verify::Args),
    /// Where each entry of an artifact came from, as recorded at build time.
    Provenance(provenance::Args),
}

/// Global settings shared by every subcommand.
#[derive(Debug)]
pub struct Context {
    project_flag: Option<PathBuf>,
    store_flag: Option<PathBuf>,
}

impl Context {
    /// The project root: `-C DIR`, else the nearest ancestor of the current
    /// directory that holds `recipes/`.
    pub fn project_root(&self) -> Result<PathBuf, CliError> {
        if let Some(dir) = &self.project_flag {
            if !dir.is_dir() {
                return Err(CliError::bad_input(format!(
                    "-C {}: not a directory",
                    dir.display()
                )));
            }
            return Ok(dir.clone());
        }
        let cwd = std::env::current_dir()
            .map_err(|e| CliError::internal(format!("current directory: {e}")))?;
        find_project_root(&cwd).ok_or_else(|| {
            CliError::bad_input(format!(
                "no `recipes/` directory in {} or any parent; run inside a kiln project or pass -C DIR",
                cwd.display()
            ))
        })
    }

    /// The store directory: `--store`/`KILN_STORE`, else `<project>/store`,
    /// else (outside any project) `./store`.
    pub fn store_dir(&self) -> Result<PathBuf, CliError> {
        if let Some(s) = &self.store_flag {
            return Ok(s.clone());
        }
        match self.project_root() {
            Ok(root) => Ok(root.join("store")),
            Err(_) if self.project_flag.is_none() => {
                let cwd = std::env::current_dir()
                    .map_err(|e| CliError::internal(format!("current directory: {e}")))?;
                Ok(cwd.join("store"))
            }
            Err(e) => Err(e),
        }
    }
}

/// Nearest ancestor of `start` (inclusive) holding a `recipes/` directory.
pub fn find_project_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join("recipes").is_dir())
        .map(Path::to_path_buf)
}

/// An error on its way to the terminal: the typed error (its `source()`
/// chain intact until it is printed) and its kind, which decides the exit
/// code (`ErrorKind::exit_code`).
#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub error: Box<dyn std::error::Error + 'static>,
}

/// A problem with how kiln was invoked (a flag's value, a path argument),
/// found by the command-line front end itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

impl CliError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        CliError {
            kind: ErrorKind::BadInput,
            error: Box::new(Usage(message.into())),
        }
    }
    pub fn check_failed(message: impl Into<String>) -> Self {
        CliError {
            kind: ErrorKind::CheckFailed,
            error: Box::new(Usage(message.into())),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        CliError {
            kind: ErrorKind::Internal,
            error: Box::new(Usage(message.into())),
        }
    }
    /// Convert any classified library error, keeping it (and its cause chain).
    pub fn from_lib<E: Classify + std::error::Error + 'static>(err: E) -> Self {
        CliError {
            kind: err.kind(),
            error: Box::new(err),
        }
    }
    /// The message printed: the error and its causes, `a: b: c`.
    pub fn message(&self) -> String {
        chain(self.error.as_ref())
    }
}

impl<E: Classify + std::error::Error + 'static> From<E> for CliError {
    fn from(err: E) -> Self {
        CliError::from_lib(err)
    }
}

/// Parse the process arguments, run, print any error; returns the exit code.
pub fn main() -> u8 {
    let cli = Cli::parse();
    let ctx = Context {
        project_flag: cli.project,
        store_flag: cli.store,
    };
    let result = match cli.command {
        Command::Hash(a) => hash::run(a, &ctx),
        Command::Store(c) => store::run(c, &ctx),
        Command::Version(c) => version::run(c, &ctx),
        Command::Plan(a) => plan::run(a, &ctx),
        Command::Build(a) => build::run(a, &ctx),
        Command::Cache(c) => cache::run(c, &ctx),
        Command::Diff(a) => diff::run(a, &ctx),
        Command::Verify(a) => verify::run(a, &ctx),
        Command::Provenance(a) => provenance::run(a, &ctx),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Every name inside a message is escaped where it is put in;
            // this is the last line of defence for any other text.
            eprintln!("kiln: error: {}", crate::name::shown_message(&e.message()));
            e.kind.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
