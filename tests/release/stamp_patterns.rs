//! `[[stamp.patterns]]`: the version written into code. A build stamps the
//! workspace copy (the installed console script prints the release's
//! version, the checkout is untouched, provenance names the edit),
//! `version set` stamps the checkout, `kiln plan --json` shows the edit
//! before anything is built, and a pattern that matches 0 or 2+ times is
//! exit 2 naming the file and the pattern, with nothing written — refused
//! when the build is planned.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture::{git, monorepo_at, tree_digest};
use common::python::{tools, venv};
use common::{cmd, kiln, run, run_ok, write};

const VERSION_FILE: &str = "python/src/mini_flow/__init__.py";
const PATTERN: &str = "[[stamp.patterns]]\nfile = \"python/src/mini_flow/__init__.py\"\npattern = '__version__ = \"{pypi}\"'\n";

fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

/// The monorepo with a wheel recipe, a console script that prints the
/// package's `__version__`, and the pattern `policy_extra` appended to its
/// release policy.
fn project(dir: &Path, policy_extra: &str) -> PathBuf {
    let root = monorepo_at(dir, false);
    write(
        &root.join("recipes/mini-wheel.toml"),
        "surface = \"wheel\"\nsource = \"python\"\n[wheel]\nbackend = \"kiln\"\n",
    );
    write(
        &root.join("python/src/mini_flow/cli.py"),
        "import sys\n\nimport mini_flow\n\n\ndef main() -> int:\n    print(mini_flow.__version__)\n    return 0\n",
    );
    let policy = root.join("recipes/release.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    write(&policy, format!("{text}\n{policy_extra}"));
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "version in code"]);
    root
}

#[test]
fn a_build_stamps_the_version_into_code_and_the_console_script_prints_it() {
    if !tools(&["python3"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = project(&tmp.path().join("mono"), PATTERN);
    let checkout = tree_digest(&root.join("python"));
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "0.2.0-rc.1", "mini-wheel"],
    ));
    assert_eq!(tree_digest(&root.join("python")), checkout);
    let wheel = root.join("dist/mini_flow-0.2.0rc1-py3-none-any.whl");
    let bin = venv(&tmp.path().join("venv"), false);
    run_ok(
        cmd(bin.join("pip").to_str().unwrap())
            .args(["install", "-q", "--no-index", "--no-deps"])
            .arg(&wheel),
    );
    assert_eq!(
        run_ok(&mut cmd(bin.join("mini-flow").to_str().unwrap())),
        "0.2.0rc1"
    );
    let e: serde_json::Value = serde_json::from_str(&run_ok(
        kiln_in(&root, &store, &["provenance", "--json"])
            .arg(&wheel)
            .args(["--entry", "mini_flow/__init__.py"]),
    ))
    .unwrap();
    assert_eq!(e["entry"]["from"], "stamped", "{e}");
    assert_eq!(e["entry"]["path"], VERSION_FILE, "{e}");
    let edit = e["entry"]["edit"].to_string();
    assert!(
        edit.contains("-__version__ = \\\"0.0.0\\\"")
            && edit.contains("+__version__ = \\\"0.2.0rc1\\\""),
        "{edit}"
    );
}

#[test]
fn version_set_stamps_the_pattern_in_the_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project(&tmp.path().join("mono"), PATTERN);
    let out = run(&mut kiln_in(
        &root,
        &tmp.path().join("store"),
        &["version", "set", "0.3.0-rc.1"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(root.join(VERSION_FILE)).unwrap();
    assert!(text.contains("\n__version__ = \"0.3.0rc1\"\n"), "{text}");
    assert!(!text.contains("0.0.0"), "{text}");
}

/// `kiln plan --json` shows the pattern's edit (read from the commit) with
/// the manifest's, as the build will stamp them.
#[test]
fn kiln_plan_shows_the_pattern_stamping() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project(&tmp.path().join("mono"), PATTERN);
    let out = run_ok(&mut kiln_in(
        &root,
        &tmp.path().join("store"),
        &["plan", "--json", "--version", "0.2.0-rc.1", "mini-wheel"],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let stamping = &v["recipes"][0]["stamping"];
    assert_eq!(
        stamping,
        &serde_json::json!([
            {"file": "python/pyproject.toml", "key": "project.version", "old": "(dynamic)", "new": "0.2.0rc1"},
            {"file": VERSION_FILE, "key": "pattern __version__ = \"{pypi}\"", "old": "0.0.0", "new": "0.2.0rc1"},
        ]),
        "{out}"
    );
    let human = run_ok(&mut kiln_in(
        &root,
        &tmp.path().join("store"),
        &["plan", "--version", "0.2.0-rc.1", "mini-wheel"],
    ));
    assert!(
        human.contains(&format!(
            "\n  stamps python/pyproject.toml, {VERSION_FILE} (2 fields)"
        )),
        "{human}"
    );
}

/// A pattern that matches twice, or nowhere, refuses `kiln plan` and the
/// build when they are planned (exit 2, naming file and pattern, no store
/// created) and `version set` (checkout untouched).
#[test]
fn a_pattern_must_match_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, file_text, want) in [
        (
            "twice",
            "__version__ = \"0.0.0\"\n__version__ = \"0.0.0\"\n",
            "matches 2 times in the file (lines 1, 2)",
        ),
        (
            "nowhere",
            "VERSION = \"0.0.0\"\n",
            "matches nowhere in the file",
        ),
    ] {
        let dir = tmp.path().join(name);
        let root = monorepo_at(&dir.join("mono"), false);
        write(
            &root.join("recipes/mini-wheel.toml"),
            "surface = \"wheel\"\nsource = \"python\"\n[wheel]\nbackend = \"kiln\"\n",
        );
        write(&root.join(VERSION_FILE), file_text);
        let policy = root.join("recipes/release.toml");
        let text = std::fs::read_to_string(&policy).unwrap();
        write(&policy, format!("{text}\n{PATTERN}"));
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "bad pattern"]);
        let checkout = tree_digest(&root);
        let store = dir.join("store");
        for args in [
            &["plan", "--json", "--version", "0.2.0", "mini-wheel"][..],
            &["build", "--version", "0.2.0", "mini-wheel"][..],
            &["version", "set", "0.2.0"][..],
        ] {
            let out = run(&mut kiln_in(&root, &store, args));
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {err}");
            assert!(
                err.contains(VERSION_FILE)
                    && err.contains("stamp pattern `__version__ = \"{pypi}\"`")
                    && err.contains(want),
                "{name} {args:?}: {err}"
            );
            assert!(!root.join("dist").exists(), "{name}: dist/ written");
            assert!(!store.exists(), "{name} {args:?}: store created");
            assert!(out.stdout.is_empty(), "{name} {args:?}: printed a plan");
            assert_eq!(tree_digest(&root), checkout, "{name}: checkout changed");
        }
    }
}

/// Bad patterns are refused when the policy is read, naming the key.
#[test]
fn a_pattern_without_exactly_one_known_placeholder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, pattern, want) in [
        ("none", "__version__ = \"0\"", "holds no placeholder"),
        ("two", "{pypi} {npm}", "holds 2 placeholders"),
        ("typo", "v = \"{pyp}\"", "unknown placeholder `{pyp}`"),
    ] {
        let root = monorepo_at(&tmp.path().join(name), false);
        let policy = root.join("recipes/release.toml");
        let text = std::fs::read_to_string(&policy).unwrap();
        write(
            &policy,
            format!(
                "{text}\n[[stamp.patterns]]\nfile = \"{VERSION_FILE}\"\npattern = '{pattern}'\n"
            ),
        );
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "bad pattern"]);
        let out = run(&mut kiln_in(
            &root,
            &tmp.path().join("s"),
            &["version", "show"],
        ));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains("stamp.patterns.pattern") && err.contains(want),
            "{name}: {err}"
        );
    }
}
