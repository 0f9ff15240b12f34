//! Command-line front end: clap structures, one file per subcommand.
//!
//! Each subcommand file turns its arguments into an options value, makes one
//! library call and prints the result. Nothing here builds, hashes or parses
//! formats itself.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub(crate) mod build;
pub(crate) mod cache;
pub(crate) mod ci;
mod context;
pub(crate) mod diff;
pub(crate) mod hash;
pub(crate) mod plan;
mod progress;
pub(crate) mod provenance;
pub(crate) mod publish;
mod selection;
pub(crate) mod store;
pub(crate) mod verify;
pub(crate) mod version;

pub use context::{find_project_root, CliError, Context, Usage};
pub use selection::host_inputs;

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
    /// Generate the release workflow of a CI (GitHub Actions, GitLab CI).
    #[command(subcommand)]
    Ci(ci::Command),
    /// Explain how two artifacts differ (archives, images, NARs, directories).
    Diff(diff::Args),
    /// Rebuild an artifact from its commit in a fresh store and compare.
    Verify(verify::Args),
    /// Where each entry of an artifact came from, as recorded at build time.
    Provenance(provenance::Args),
    /// Upload the release build's artifacts to their registries (checked first).
    Publish(publish::Args),
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
        Command::Ci(c) => ci::run(c, &ctx),
        Command::Diff(a) => diff::run(a, &ctx),
        Command::Verify(a) => verify::run(a, &ctx),
        Command::Provenance(a) => provenance::run(a, &ctx),
        Command::Publish(a) => publish::run(a, &ctx),
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
