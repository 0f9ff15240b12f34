//! `kiln ci github|gitlab [--out PATH] [--check]`: arguments →
//! `ci::CiOptions` → one library call → one line naming the file.

use std::path::PathBuf;

use super::context::{CliError, Context};
use crate::ci::{self, CiOptions, Kind, Outcome};
use crate::name::shown_path;

/// Generate the release workflow from recipes/release.toml (`[ci]`).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write the GitHub Actions workflow (default .github/workflows/release.yml).
    Github(Args),
    /// Write the GitLab CI pipeline to include (default .gitlab/kiln-release.yml).
    Gitlab(Args),
}

/// Where the file goes, and whether only to check it.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
A relative --out is taken from the project root; the file must lie inside it and is \
never written through a symbolic link.

Exit status: 0 written (or, with --check, current), 1 --check found it stale or \
missing, 2 a [ci] value or --out was refused.")]
pub struct Args {
    /// The file to write, inside the checkout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Write nothing; exit 1 when the file differs from what would be generated.
    #[arg(long)]
    pub check: bool,
}

pub(crate) fn run(cmd: Command, ctx: &Context) -> Result<u8, CliError> {
    let (kind, args) = match cmd {
        Command::Github(a) => (Kind::Github, a),
        Command::Gitlab(a) => (Kind::Gitlab, a),
    };
    let opts = CiOptions {
        root: ctx.project_root()?,
        kind,
        out: args.out,
        check: args.check,
    };
    match ci::run(&opts)? {
        Outcome::Written(p) => println!("wrote {}", shown_path(&p)),
        Outcome::Unchanged(p) => println!("unchanged {}", shown_path(&p)),
        Outcome::Current(p) => println!("current {}", shown_path(&p)),
    }
    Ok(0)
}
