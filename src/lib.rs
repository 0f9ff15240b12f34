//! kiln: Nix-style reproducible release builds.
//!
//! The library holds every capability; `src/main.rs` and `src/cli/` only parse
//! arguments, call one library function and print. See `ARCHITECTURE.md` for
//! the code map and `../shared/DESIGN.md` for the design.

// Functions stay short (threshold in clippy.toml); unit tests are exempt: the
// lint is on in the library build, not in its test build.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
#![warn(unreachable_pub)]

pub mod archive;
pub mod audit;
pub mod cache;
pub(crate) mod ci;
pub mod cli;
pub mod derive;
pub mod diff;
pub mod engine;
pub mod error;
pub(crate) mod fsutil;
pub mod hash;
pub(crate) mod name;
pub mod nix;
pub(crate) mod provenance;
pub(crate) mod publish;
pub mod recipe;
pub(crate) mod release;
pub mod sandbox;
pub mod source;
pub mod stamp;
pub mod store;
pub mod surface;
pub mod version;
