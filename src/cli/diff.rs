//! `kiln diff`: explain how two artifacts differ.
use std::path::PathBuf;

use super::context::{CliError, Context};
use crate::diff::{self, Limits};

/// Arguments of `kiln diff`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads tar, tar.gz, tar.zst, .crate, .tgz, zip, wheel, sdist, OCI layouts (directory or \
tar), docker archives, NAR files and directories, and archives nested in them. Nothing \
is extracted; entry names are compared as bytes and printed escaped.

Exit status: 0 identical, 1 different, 2 unreadable (or a cap exceeded).")]
pub struct Args {
    /// First artifact (file or directory).
    pub a: PathBuf,
    /// Second artifact (file or directory).
    pub b: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Most entries in one container.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_entries)]
    pub max_entries: usize,
    /// Most bytes read on one side (decompressed).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_total_size)]
    pub max_size: u64,
    /// Most bytes in one entry.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_entry_size)]
    pub max_entry_size: u64,
    /// Most decompressed bytes per compressed byte (beyond 1 MiB).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_ratio)]
    pub max_ratio: u64,
    /// Most levels of archives inside archives.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_depth)]
    pub max_depth: usize,
    /// Most bytes of entry contents kept in memory on one side, across nesting levels
    /// (text diffs, nested archives); beyond it, contents are compared by digest only.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_retained)]
    pub max_retained: u64,
}

pub(crate) fn run(args: Args, _ctx: &Context) -> Result<u8, CliError> {
    let limits = Limits {
        max_entries: args.max_entries,
        max_total_size: args.max_size,
        max_entry_size: args.max_entry_size,
        max_ratio: args.max_ratio,
        max_depth: args.max_depth,
        max_retained: args.max_retained,
    };
    let report = diff::diff_paths(&args.a, &args.b, &limits)?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::internal(format!("encoding the report: {e}")))?;
        println!("{text}");
    } else {
        print!("{report}");
    }
    Ok(report.exit_code())
}
