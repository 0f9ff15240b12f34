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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::spec::RoInput;

/// `CARGO_HOME` inside the sandbox.
pub const SANDBOX_CARGO_HOME: &str = "/tmp/cargo-home";

/// `--remap-path-prefix` flags (for `RUSTFLAGS`) that map the sandbox's
/// source locations to stable, host-independent names: the workspace
/// `/build` to `/kiln-src` and extracted registry sources to
/// `/cargo-registry`. The sandbox paths are already fixed; remapping keeps
/// even them out of binaries (panic locations, debug info).
pub const REMAP_RUSTFLAGS: &str =
    "--remap-path-prefix=/build=/kiln-src --remap-path-prefix=/tmp/cargo-home/registry/src=/cargo-registry";

/// The environment of an offline cargo run in the sandbox: `CARGO_HOME`,
/// `CARGO_NET_OFFLINE=true`, `CARGO_TERM_COLOR=never`.
pub fn cargo_env() -> BTreeMap<String, String> {
    [
        ("CARGO_HOME", SANDBOX_CARGO_HOME),
        ("CARGO_NET_OFFLINE", "true"),
        ("CARGO_TERM_COLOR", "never"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

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
