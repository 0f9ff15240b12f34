//! Statements belong to builds, not to outputs: an output placed by two
//! builds (two versions whose docs are byte-identical, a cache hit from
//! another commit) gets, in `dist/` and in `kiln provenance`, the
//! statement of the build that placed it — its commit, version and
//! derivation.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::fixture::{git, monorepo_at};
use common::{kiln, run_ok, write};

fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

/// (commit, version, derivation) a statement names.
fn named(statement: &serde_json::Value) -> (String, String, String) {
    let def = &statement["predicate"]["buildDefinition"];
    let commit = def["resolvedDependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|d| d["digest"]["gitCommit"].as_str())
        .unwrap()
        .to_string();
    (
        commit,
        def["externalParameters"]["versions"]["artifact"]
            .as_str()
            .unwrap()
            .to_string(),
        def["internalParameters"]["derivation"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// Build `docs` and return (store path, derivation) from the JSON report
/// and the statement `dist/` received.
fn build(root: &Path, store: &Path, extra: &[&str]) -> (String, String, serde_json::Value) {
    let mut args = vec!["build", "--json", "docs"];
    args.extend_from_slice(extra);
    let report: serde_json::Value =
        serde_json::from_str(&run_ok(&mut kiln_in(root, store, &args))).unwrap();
    let r = &report["recipes"][0];
    let statement: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("dist/docs.tar.gz.intoto.json")).unwrap())
            .unwrap();
    (
        r["store_path"].as_str().unwrap().to_string(),
        r["drv"].as_str().unwrap().to_string(),
        statement,
    )
}

fn provenance_commit(root: &Path, store: &Path) -> String {
    let v: serde_json::Value = serde_json::from_str(&run_ok(
        kiln_in(root, store, &["provenance", "--json"]).arg(root.join("dist/docs.tar.gz")),
    ))
    .unwrap();
    v["commit"].as_str().unwrap().to_string()
}

#[test]
fn each_build_of_a_shared_output_has_its_own_statement() {
    let tmp = tempfile::tempdir().unwrap();
    let root = monorepo_at(&tmp.path().join("mono"), false);
    write(
        &root.join("recipes/docs.toml"),
        "surface = \"tarball\"\nsource = \"docs\"\noutput = \"docs.tar.gz\"\n",
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "docs"]);
    let old = git(&root, &["rev-parse", "HEAD"]);
    write(&root.join("README.md"), "moved on\n");
    git(&root, &["commit", "-q", "-am", "newer"]);
    let new = git(&root, &["rev-parse", "HEAD"]);
    let store = tmp.path().join("store");

    let (out_a, drv_a, st) = build(&root, &store, &["--version", "1.4.3-alpha.1"]);
    assert_eq!(
        named(&st),
        (new.clone(), "1.4.3-alpha.1".into(), drv_a.clone())
    );
    assert_eq!(provenance_commit(&root, &store), new);

    // Another version, another commit: the same docs bytes, the same
    // output, but this build's statement.
    let (out_b, drv_b, st) = build(&root, &store, &["--rev", &old, "--version", "1.4.2"]);
    assert_eq!(out_a, out_b, "the docs output is shared");
    assert_ne!(drv_a, drv_b);
    assert_eq!(named(&st), (old.clone(), "1.4.2".into(), drv_b.clone()));
    assert_eq!(provenance_commit(&root, &store), old);

    // A cache hit of the first derivation from the first commit again.
    let (_, drv, st) = build(&root, &store, &["--version", "1.4.3-alpha.1"]);
    assert_eq!(drv, drv_a);
    assert_eq!(named(&st), (new.clone(), "1.4.3-alpha.1".into(), drv_a));
    assert_eq!(provenance_commit(&root, &store), new);
}
