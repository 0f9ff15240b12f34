//! `kiln hash`: print the NAR hash of a file or tree.
use std::path::PathBuf;

use super::{CliError, Context};
use crate::hash::tree;

/// Print the hash of the NAR serialisation of PATH.
///
/// By default the output equals `nix-hash --type sha256 --base32 PATH`:
/// SHA-256 of the Nix archive (NAR) of the file or directory, in nixbase32.
/// Only the executable bit of file modes counts; timestamps and owners do not.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  kiln hash ./dist            # same as: nix-hash --type sha256 --base32 ./dist\n  kiln hash --sri ./dist      # sha256-<base64>\n  kiln hash --blake3 ./dist   # BLAKE3 of the same NAR bytes"
)]
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

pub fn run(args: Args, _ctx: &Context) -> Result<u8, CliError> {
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
