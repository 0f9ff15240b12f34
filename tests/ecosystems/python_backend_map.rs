//! `[[map]]` in backend mode (`backend = "pep517"`): a file another recipe
//! generated is copied into the project before the real backend
//! (hatchling) runs, so the wheel packs it; pip installs the wheel and the
//! package reads the file through `importlib.resources`; `kiln provenance`
//! names the input the entry came from. A map target that is a committed
//! file of the project is refused (exit 2) naming it.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture::git;
use common::python::{tools, venv};
use common::{cmd, run, run_ok, write};

const PAGE: &str = "<h1>rendered by the docs recipe</h1>";
const MAPPED: &str = "src/kiln_map_demo/static/index.html";

/// A committed hatchling project whose wheel recipe maps the `docs`
/// command recipe's page into its package.
fn project(dir: &Path, extra_wheel: &str) -> PathBuf {
    write(
        &dir.join("pyproject.toml"),
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
         [project]\nname = \"kiln-map-demo\"\nversion = \"0.1.0\"\n\n\
         [tool.hatch.build.targets.wheel]\npackages = [\"src/kiln_map_demo\"]\n\
         artifacts = [\"src/kiln_map_demo/static/*.html\"]\n",
    );
    write(
        &dir.join("src/kiln_map_demo/__init__.py"),
        "from importlib.resources import files\n\n\
         def page():\n    return files(__name__).joinpath(\"static/index.html\").read_text()\n",
    );
    write(&dir.join("src/kiln_map_demo/static/style.css"), "h1 {}\n");
    write(
        &dir.join("recipes/docs.toml"),
        format!(
            "surface = \"command\"\n[command]\nargv = [\"sh\", \"-c\", \"mkdir -p site && echo '{PAGE}' > site/index.html\"]\n\
             tools = [\"sh\", \"mkdir\"]\noutputs = [\"site\"]\n"
        ),
    );
    write(
        &dir.join("recipes/wheel.toml"),
        format!(
            "surface = \"wheel\"\ninputs = {{ docs = \"docs\" }}\n\n\
             [[map]]\nfrom = \"inputs/docs/site/index.html\"\nto = \"{extra_wheel}\"\n\n\
             [wheel]\nbackend = \"pep517\"\n"
        ),
    );
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "project"]);
    dir.to_path_buf()
}

fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = common::kiln();
    c.arg("-C")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("KILN_STORE");
    c
}

fn wheel_in(root: &Path) -> PathBuf {
    std::fs::read_dir(root.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .expect("a wheel in dist/")
}

fn zip_entry(wheel: &Path, name: &str) -> Vec<u8> {
    let out = run_ok(cmd("python3").args([
        "-c",
        "import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())",
    ]).arg(wheel).arg(name));
    out.into_bytes()
}

#[test]
fn a_mapped_input_file_is_in_the_backend_built_wheel_with_its_provenance() {
    if !tools(&["python3", "bwrap", "git"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = project(&tmp.path().join("p"), MAPPED);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "1.2.0"],
    ));
    let wheel = wheel_in(&root);
    let entry = "kiln_map_demo/static/index.html";
    assert_eq!(
        String::from_utf8(zip_entry(&wheel, entry))
            .unwrap()
            .trim_end(),
        PAGE
    );
    // The generated file did not appear in the checkout.
    assert!(!root.join(MAPPED).exists());
    let v = venv(&tmp.path().join("venv"), false);
    run_ok(
        cmd(v.join("pip").to_str().unwrap())
            .args(["install", "-q", "--no-index", "--no-deps"])
            .arg(&wheel),
    );
    let read = run_ok(cmd(v.join("python").to_str().unwrap()).args([
        "-c",
        "import kiln_map_demo; print(kiln_map_demo.page(), end='')",
    ]));
    assert_eq!(read.trim_end(), PAGE);
    let prov = run_ok(&mut kiln_in(
        &root,
        &store,
        &[
            "provenance",
            "--json",
            "--entry",
            entry,
            wheel.to_str().unwrap(),
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&prov).unwrap();
    let e = &v["entry"];
    assert_eq!(e["from"], "input", "{prov}");
    assert_eq!(e["mount"], "docs", "{prov}");
    assert_eq!(e["recipe"], "docs", "{prov}");
    assert_eq!(e["path"], "site/index.html", "{prov}");
    assert!(
        e["store_path"]
            .as_str()
            .is_some_and(|s| s.contains("/nix/store/") || !s.is_empty()),
        "{prov}"
    );
    // A committed file of the package is still the snapshot's.
    let css = run_ok(&mut kiln_in(
        &root,
        &store,
        &[
            "provenance",
            "--json",
            "--entry",
            "kiln_map_demo/static/style.css",
            wheel.to_str().unwrap(),
        ],
    ));
    assert!(css.contains("\"from\": \"snapshot\""), "{css}");
}

#[test]
fn a_map_target_that_is_a_committed_file_is_refused_naming_it() {
    if !tools(&["python3", "bwrap", "git"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let target = "src/kiln_map_demo/static/style.css";
    let root = project(&tmp.path().join("p"), target);
    let out = run(&mut kiln_in(
        &root,
        &tmp.path().join("store"),
        &["build", "--version", "1.2.0", "wheel"],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(target) && err.contains("map[0].to"), "{err}");
    assert!(
        !root.join("dist").exists()
            || std::fs::read_dir(root.join("dist"))
                .unwrap()
                .next()
                .is_none()
    );
}
