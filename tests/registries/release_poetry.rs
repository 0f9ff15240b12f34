//! The poetry-shaped release end to end through real registries: the
//! poetry-core package's sdist and wheel to pypiserver, its image matrix
//! (Python 3.8–3.11 × `final`/`final-dev`, each cell tagged
//! `{1.4.0,1.4,1,latest}-py{python}-{variant}`) to docker-registry, all
//! by `kiln publish`. pip installs the wheel and the sdist from the index
//! and the console script prints the release; skopeo reads every tag of
//! every cell, podman pulls one. A rerun is a no-op, and `kiln verify
//! --all` finds every artifact byte-identical on the registries. Its post
//! release re-issues every cell of the matrix, the aliases moving to it.

use std::collections::BTreeSet;

use crate::common::fixture::git;
use crate::common::python::venv;
use crate::common::{cmd, run_ok, write};
use crate::oci_support::shape_at;

use super::release_post::{manifest_digest, podman_pulls, Published};

/// The matrix cells of the fixture's `image` recipe: (python, variant).
fn cells() -> Vec<(&'static str, &'static str)> {
    ["3.8", "3.9", "3.10", "3.11"]
        .iter()
        .flat_map(|p| ["final", "final-dev"].map(|v| (*p, v)))
        .collect()
}

/// pip installs `shape-docs==1.4.0` from the index into a new venv at
/// `dir` with `args`; its console script prints the release.
fn pip_installs(p: &Published, dir: &std::path::Path, system_site: bool, args: &[&str]) {
    let bin = venv(dir, system_site);
    run_ok(
        cmd(bin.join("pip").to_str().unwrap())
            .args(["install", "-q", "--no-deps", "--index-url"])
            .arg(format!("{}simple/", p.pypi.url()))
            .args(args)
            .arg("shape-docs==1.4.0"),
    );
    let out = run_ok(&mut cmd(bin.join("shape-docs").to_str().unwrap()));
    assert_eq!(out, "shape-docs 1.4.0", "{args:?}");
}

#[test]
fn a_poetry_release_and_its_image_matrix_reach_the_registries_and_verify() {
    if !Published::tools(&["poetry", "python3", "file"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let root = t.join("proj");
    shape_at("release-poetry", &root);
    let policy = root.join("recipes/release.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    // `image` is a matrix recipe: the entry publishes every cell.
    text.push_str("\n[publish]\nwheel = \"python\"\nsdist = \"python\"\nimage = \"images\"\n");
    write(&policy, text);
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "the project, published"]);
    let p = Published::start(t, root);
    run_ok(&mut p.kiln(&["version", "bump", "minor"]));
    git(&p.root, &["commit", "-q", "-am", "release 1.4.0"]);
    git(&p.root, &["tag", "v1.4.0"]);
    run_ok(&mut p.kiln(&["build"]));

    // One cell, named as `kiln plan` spells it, is published alone.
    let cell = p.publish(&["--dry-run", "image[python=3.9,variant=final-dev]"]);
    assert_eq!(
        cell.iter()
            .map(|((r, _, v, _), a)| (r.as_str(), v.as_str(), a.as_str()))
            .collect::<Vec<_>>(),
        [("images", "1.4.0-py3.9-final-dev", "upload")],
        "{cell:?}"
    );

    let first = p.publish(&[]);
    assert!(first.values().all(|a| a == "uploaded"), "{first:?}");
    let published: BTreeSet<(&str, &str, &str)> = first
        .keys()
        .map(|(r, p, v, _)| (r.as_str(), p.as_str(), v.as_str()))
        .collect();
    let versions: Vec<String> = cells()
        .iter()
        .map(|(py, variant)| format!("1.4.0-py{py}-{variant}"))
        .collect();
    let mut expected: BTreeSet<(&str, &str, &str)> = versions
        .iter()
        .map(|v| ("images", "shape-docs", v.as_str()))
        .collect();
    expected.insert(("python", "shape-docs", "1.4.0"));
    assert_eq!(published, expected);
    // The wheel and the sdist, one image per cell.
    assert_eq!(first.len(), 2 + versions.len(), "{first:?}");

    // pip installs the wheel from the index, and builds the sdist with
    // the host's poetry-core (offline: the index has no build backend to
    // isolate the build with).
    pip_installs(
        &p,
        &t.join("venv-wheel"),
        false,
        &["--only-binary", ":all:"],
    );
    pip_installs(
        &p,
        &t.join("venv-sdist"),
        true,
        &["--no-binary", "shape-docs", "--no-build-isolation"],
    );

    // Every tag of a cell is the manifest its layout in dist/ holds.
    for (py, variant) in cells() {
        let layout = p.root.join(format!("dist/image-{py}-{variant}-1.4.0.oci"));
        let built = manifest_digest(&format!("oci:{}:1.4.0-py{py}-{variant}", layout.display()));
        for tag in ["1.4.0", "1.4", "1", "latest"] {
            let tag = format!("{tag}-py{py}-{variant}");
            assert_eq!(p.digest("shape-docs", &tag), built, "{tag}");
        }
    }
    podman_pulls(
        t,
        p.oci.port,
        &[(
            "shape-docs",
            &["1.4.0-py3.10-final-dev", "latest-py3.10-final-dev"],
        )],
    );

    let again = p.publish(&[]);
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        first.keys().collect::<Vec<_>>()
    );
    assert!(
        again.values().all(|a| a == "already-published"),
        "{again:?}"
    );
    p.verify_all("v1.4.0");

    // The post release re-issues the matrix: every cell's aliases move to
    // it, the release's own tags stay.
    std::fs::write(p.root.join("docs/guide.md"), "The guide, reissued.\n").unwrap();
    run_ok(&mut p.kiln(&["version", "set", "1.4.0.post1"]));
    git(&p.root, &["commit", "-q", "-am", "1.4.0.post1: new images"]);
    git(&p.root, &["tag", "v1.4.0.post1"]);
    run_ok(&mut p.kiln(&["build"]));
    let post = p.publish(&[]);
    assert!(post.values().all(|a| a == "uploaded"), "{post:?}");
    let published: BTreeSet<(&str, String)> = post
        .keys()
        .map(|(r, _, v, _)| (r.as_str(), v.clone()))
        .collect();
    let expected: BTreeSet<(&str, String)> = versions
        .iter()
        .map(|v| ("images", v.replace("1.4.0", "1.4.0.post1")))
        .collect();
    assert_eq!(published, expected);
    for (py, variant) in cells() {
        let tag = |t: &str| format!("{t}-py{py}-{variant}");
        let reissued = p.digest("shape-docs", &tag("1.4.0.post1"));
        assert_ne!(p.digest("shape-docs", &tag("1.4.0")), reissued);
        for alias in ["1.4", "1", "latest"] {
            assert_eq!(p.digest("shape-docs", &tag(alias)), reissued, "{alias}");
        }
    }
    p.verify_all("v1.4.0.post1");
}
