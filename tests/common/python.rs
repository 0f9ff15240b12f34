//! Python helpers shared by the sdist/wheel tests: a venv to install into,
//! the oracle tools they need, and wheels from PyPI cached for offline reruns.

use std::path::{Path, PathBuf};

use super::{cmd, require_tool, run, run_ok, write};

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

/// The wheels of `requirements` (exact pins, no dependencies) from the
/// cache (`target/tmp/pypi-cache/backend-wheels/`, one directory per set)
/// or PyPI (`pip download`, the only network use); `None` (a printed skip)
/// when that fails outside CI, a failure under CI.
pub fn pip_download(requirements: &[&str]) -> Option<PathBuf> {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pypi-cache/backend-wheels");
    let dir = cache.join(requirements.join("+").replace(['=', '<', '>', ' '], "_"));
    let done = dir.join(".complete");
    if done.exists() {
        return Some(dir);
    }
    let out = run(cmd("python3")
        .args(["-m", "pip", "download", "-q", "--no-deps"])
        .args(["--only-binary=:all:", "-d"])
        .arg(&dir)
        .args(requirements));
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            std::env::var_os("CI").is_none(),
            "pip download {requirements:?} failed: {err}"
        );
        eprintln!("SKIP: pip download {requirements:?} failed and nothing cached: {err}");
        return None;
    }
    write(&done, "");
    Some(dir)
}
