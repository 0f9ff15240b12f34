//! A cargo home for builds that need crates.io dependencies offline.
//!
//! Inside the sandbox `CARGO_HOME` is [`SANDBOX_CARGO_HOME`], a directory on
//! the `/tmp` tmpfs: cargo can write its locks, `.global-cache` and extracted
//! sources (`registry/src`) there, while the host's `registry/index` and
//! `registry/cache` (the downloaded `.crate` files) are mounted read-only
//! beneath it. Sources are therefore extracted from checksummed `.crate`
//! files, never taken from the host's possibly edited `registry/src`, and no
//! host configuration (`config.toml`, credentials) is visible. Pair these
//! inputs with `CARGO_HOME=/tmp/cargo-home` and `--offline` (or
//! `CARGO_NET_OFFLINE=true`).

use std::path::{Path, PathBuf};

use super::RoInput;

/// `CARGO_HOME` inside the sandbox.
pub const SANDBOX_CARGO_HOME: &str = "/tmp/cargo-home";

/// The host's cargo home: `$CARGO_HOME`, else `$HOME/.cargo`.
pub fn host_cargo_home() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CARGO_HOME").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME")
        .filter(|p| !p.is_empty())
        .map(|h| PathBuf::from(h).join(".cargo"))
}

/// Read-only inputs exposing `host_cargo_home`'s registry index and crate
/// cache under [`SANDBOX_CARGO_HOME`]. Parts that do not exist on the host
/// are left out (cargo then fails offline, naming the missing crate).
pub fn cargo_registry_inputs(host_cargo_home: &Path) -> Vec<RoInput> {
    ["index", "cache"]
        .iter()
        .map(|part| (host_cargo_home.join("registry").join(part), part))
        .filter(|(host, _)| host.is_dir())
        .map(|(host, part)| RoInput {
            host,
            at: format!("{SANDBOX_CARGO_HOME}/registry/{part}"),
        })
        .collect()
}
