//! npm as the tests' oracle.

use std::path::Path;

use super::{cmd, run_ok};

/// The files `npm pack --dry-run` packs from `dir` (sorted), with npm's
/// cache in `cache`.
pub fn dry_run_files(dir: &Path, cache: &Path) -> Vec<String> {
    let out = run_ok(
        cmd("npm")
            .args(["pack", "--dry-run", "--json", "--ignore-scripts"])
            .current_dir(dir)
            .env("npm_config_cache", cache)
            .env("npm_config_loglevel", "error"),
    );
    packed_files(&serde_json::from_str(&out).unwrap())
}

/// The packed files (sorted) of `npm pack --json` output.
pub fn packed_files(v: &serde_json::Value) -> Vec<String> {
    let mut files: Vec<String> = v[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    files.sort();
    files
}
