//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod audit;
pub mod cache;
pub mod canary;
pub mod fixture;
pub mod nginx;
pub mod npm;
pub mod python;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Whether an external oracle tool is available. Under `CI` a missing tool is
/// a test failure (the CI script installs every oracle); elsewhere the test
/// prints why it skips and returns `false`.
pub fn require_tool(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    if found {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("required oracle `{tool}` is not installed (CI installs it: see .ci/run / scripts/test.sh)");
    }
    eprintln!("SKIP: `{tool}` not installed; install it (scripts/test.sh does) to run this test");
    false
}

/// Path of the `kiln` binary built for the integration tests.
pub fn kiln_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kiln"))
}

/// A `kiln` command with a clean, deterministic environment.
#[allow(clippy::disallowed_methods)]
pub fn kiln() -> Command {
    let mut c = Command::new(kiln_bin());
    c.env_remove("KILN_STORE");
    c
}

/// Any command (tests may spawn oracles freely).
#[allow(clippy::disallowed_methods)]
pub fn cmd(program: &str) -> Command {
    Command::new(program)
}

/// Run and return output, panicking with stderr if it could not be spawned.
pub fn run(c: &mut Command) -> Output {
    c.output().unwrap_or_else(|e| panic!("spawning {c:?}: {e}"))
}

/// Run, assert success, return stdout as a trimmed string.
pub fn run_ok(c: &mut Command) -> String {
    let out = run(c);
    assert!(
        out.status.success(),
        "{c:?} failed with {}:\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Write a file, creating parent directories.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, contents).unwrap();
}

/// A realisation's metadata for a tarball recipe `recipe` whose artifacts
/// are the files `files` of its output (digests made up).
pub fn meta(recipe: &str, files: &[&str]) -> kiln::store::RealisationMeta {
    kiln::store::RealisationMeta {
        recipe: recipe.to_string(),
        surface: kiln::recipe::Surface::Tarball,
        artifacts: files
            .iter()
            .map(|f| kiln::store::Artifact {
                file: f.to_string(),
                path: String::new(),
                sha256: "0".repeat(64),
                size: 0,
                directory: false,
                facts: Default::default(),
                files: Default::default(),
            })
            .collect(),
    }
}
