//! `kiln hash`: print the NAR hash of a file or tree.
use std::path::PathBuf;

use super::context::{CliError, Context};
use crate::hash::tree;

/// Arguments of `kiln hash`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The hash is that of PATH's Nix archive (NAR) serialisation: only contents, the \
owner-executable bit, symlink targets and directory structure count; timestamps, owners \
and other mode bits do not. --blake3 hashes the same NAR bytes with BLAKE3.

Examples:
  kiln hash ./dist            # same as: nix-hash --type sha256 --base32 ./dist
  kiln hash --hex ./dist      # same as: nix-hash --type sha256 ./dist
  kiln hash --sri ./dist      # sha256-<base64>
  kiln hash --blake3 ./dist   # BLAKE3 of the same NAR bytes (nixbase32)")]
pub struct Args {
    /// File, symlink or directory to hash (sockets, FIFOs and devices are refused).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Print lowercase hex instead of nixbase32.
    #[arg(long, conflicts_with = "sri")]
    pub hex: bool,
    /// Print a subresource-integrity string (`sha256-<base64>`).
    #[arg(long)]
    pub sri: bool,
    /// Hash the NAR with BLAKE3 instead of SHA-256 (combine with --hex or --sri for
    /// other encodings; `blake3-<base64>` with --sri).
    #[arg(long)]
    pub blake3: bool,
}

pub(crate) fn run(args: Args, _ctx: &Context) -> Result<u8, CliError> {
    let line = if args.blake3 {
        let d = tree::nar_blake3(&args.path)?.hash;
        if args.hex {
            d.to_hex()
        } else if args.sri {
            d.to_sri()
        } else {
            d.to_nix32()
        }
    } else {
        let d = tree::nar_sha256(&args.path)?.hash;
        if args.hex {
            d.to_hex()
        } else if args.sri {
            d.to_sri()
        } else {
            d.to_nix32()
        }
    };
    println!("{line}");
    Ok(0)
}
