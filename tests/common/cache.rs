//! Helpers shared by the binary-cache tests (`tests/cache_*.rs`).

use std::path::Path;
use std::process::{Command, Output};

/// `kiln --store STORE ARGS…` with no cache keys from the environment, so
/// each test states the trust it means.
pub fn kiln_store(store: &Path, args: &[&str]) -> Command {
    let mut c = super::kiln();
    c.arg("--store").arg(store).args(args);
    c.env_remove("KILN_TRUSTED_PUBLIC_KEYS");
    c.env_remove("KILN_SIGNING_KEY_FILE");
    c
}

/// The trimmed stdout of a command that must have succeeded.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Recipe → status of a `kiln build --json` report.
pub fn statuses(json: &str) -> std::collections::BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_str(json).expect("build --json output");
    v["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A signing key `NAME` made by `kiln cache keygen` in `dir`: its secret
/// file and its public key.
pub fn keygen(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let public = ok(&super::run(
        super::kiln()
            .args(["cache", "keygen", name, "--out"])
            .arg(dir.join(name)),
    ));
    (dir.join(format!("{name}.secret")), public)
}
