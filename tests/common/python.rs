//! Python helpers shared by the sdist/wheel tests: a venv to install into,
//! and the oracle tools they need.

use std::path::{Path, PathBuf};

use super::{cmd, require_tool, run_ok};

/// Every tool is present (or, outside CI, the test skips with a reason).
pub fn tools(names: &[&str]) -> bool {
    names.iter().all(|t| require_tool(t))
}

/// A fresh venv at `dir` (optionally seeing the system site-packages);
/// returns its `bin/`.
pub fn venv(dir: &Path, system_site: bool) -> PathBuf {
    let mut c = cmd("python3");
    c.args(["-m", "venv"]);
    if system_site {
        c.arg("--system-site-packages");
    }
    run_ok(c.arg(dir));
    dir.join("bin")
}
