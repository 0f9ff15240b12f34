//! Stamping is planned with the build: `kiln plan --json` shows, recipe by
//! recipe, each field the build will stamp into its copies of the sources
//! (a crate workspace's version, its internal dependency pin and its
//! `Cargo.lock` entries; an npm package's version), and the build writes
//! exactly that.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::fixture::monorepo;
use common::{cmd, kiln, run_ok};

fn kiln_in(root: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C")
        .arg(root)
        .arg("--store")
        .arg(root.join("store"))
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

fn change(file: &str, key: &str, old: &str, new: &str) -> serde_json::Value {
    serde_json::json!({"file": file, "key": key, "old": old, "new": new})
}

#[test]
fn kiln_plan_shows_the_stamping_of_a_cargo_and_an_npm_recipe() {
    let (_tmp, root) = monorepo();
    let out = run_ok(&mut kiln_in(
        &root,
        &[
            "plan",
            "--json",
            "--version",
            "0.4.0",
            "mini-crates",
            "mini-npm",
            "docs-zip",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let stamping = |name: &str| {
        v["recipes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} not planned: {out}"))["stamping"]
            .clone()
    };
    let old = "0.3.0-rc.1";
    assert_eq!(
        stamping("mini-crates"),
        serde_json::json!([
            change("Cargo.lock", "package.mini-cli.version", old, "0.4.0"),
            change("Cargo.lock", "package.mini-core.version", old, "0.4.0"),
            change("Cargo.toml", "workspace.package.version", old, "0.4.0"),
            change(
                "Cargo.toml",
                "workspace.dependencies.mini-core.version",
                old,
                "0.4.0"
            ),
        ]),
        "{out}"
    );
    assert_eq!(
        stamping("mini-npm"),
        serde_json::json!([change("node/package.json", "version", old, "0.4.0")]),
        "{out}"
    );
    // A recipe that reads no manifest stamps nothing.
    assert_eq!(stamping("docs-zip"), serde_json::json!([]), "{out}");

    // The build writes what the plan showed.
    run_ok(&mut kiln_in(
        &root,
        &["build", "--version", "0.4.0", "mini-npm"],
    ));
    let tgz = root.join("dist/mini-flow-0.4.0.tgz");
    let manifest = run_ok(
        cmd("tar")
            .args(["-xzOf"])
            .arg(&tgz)
            .arg("package/package.json"),
    );
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["version"], "0.4.0", "{manifest}");
}
