//! kiln's native builder writing hatchling wheels, against hatchling
//! itself: for each project of `tests/fixtures/python/hatch/` but `hooked`
//! (configurations `backend = "auto"` builds natively), `kiln plan` says
//! the native builder writes as hatchling, and the wheel kiln builds has
//! hatchling's file name and, file for file and in hatchling's order,
//! hatchling's bytes (`python -m build --no-isolation` with the installed
//! hatchling 1.33, and hatch-vcs 0.5 for `vcs`'s version file) — except `WHEEL`'s `Generator` line, which names kiln,
//! and so `RECORD`'s line for `WHEEL`. `hooked` (a custom build hook) is
//! built by hatchling, and `kiln plan` says why.

use crate::common;

use std::path::{Path, PathBuf};

use common::fixture::{copy_dir, git};
use common::{cmd, kiln, require_tool, run, run_ok, write};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python/hatch")
}

/// A wheel's members in archive order, (name, bytes), via Python's `zipfile`.
fn members(wheel: &Path) -> Vec<(String, Vec<u8>)> {
    let script = "import sys, zipfile, json\nz = zipfile.ZipFile(sys.argv[1])\nprint(json.dumps([[i.filename, z.read(i).hex()] for i in z.infolist() if not i.is_dir()]))\n";
    let out = run_ok(cmd("python3").args(["-c", script]).arg(wheel));
    let v: Vec<(String, String)> = serde_json::from_str(&out).unwrap();
    v.into_iter()
        .map(|(k, h)| {
            let bytes = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect();
            (k, bytes)
        })
        .collect()
}

/// `WHEEL` without its `Generator` line; `RECORD` without the line of
/// `WHEEL` (in its order: hatchling's order is kiln's).
fn comparable(name: &str, data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    if name.ends_with(".dist-info/WHEEL") {
        return text
            .lines()
            .filter(|l| !l.starts_with("Generator: "))
            .collect::<Vec<_>>()
            .join("\n");
    }
    if name.ends_with(".dist-info/RECORD") {
        return text
            .lines()
            .filter(|l| !l.contains(".dist-info/WHEEL,"))
            .collect::<Vec<_>>()
            .join("\n");
    }
    text.into_owned()
}

fn only_whl(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

fn hatchling_installed() -> bool {
    let ok = run(cmd("python3").args([
        "-c",
        "import hatchling.__about__ as a, build; assert a.__version__ == '1.33.0', a.__version__",
    ]))
    .status
    .success();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "hatchling 1.33.0 and build must be installed for python3"
        );
        eprintln!("SKIP: hatchling 1.33.0 or build is not installed for python3");
    }
    ok
}

/// The fixture `project` as a committed workspace with a wheel recipe,
/// with files its `.gitignore` ignores committed too (hatchling leaves
/// them out all the same).
fn workspace(project: &str, tmp: &Path) -> PathBuf {
    let root = tmp.join(project);
    copy_dir(&fixtures().join(project), &root.join("py"), false);
    if project == "srclayout" {
        write(
            &root.join("py/src/demo_pkg/build/out.txt"),
            "ignored by .gitignore\n",
        );
        write(&root.join("py/src/demo_pkg/notes.log"), "a log\n");
        write(&root.join("py/src/demo_pkg/stale.pyc"), "bytecode\n");
    }
    write(
        &root.join("recipes/w.toml"),
        "surface = \"wheel\"\nsource = \"py\"\n[wheel]\nbackend = \"auto\"\n",
    );
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A", "-f"]);
    git(&root, &["commit", "-q", "-m", "project"]);
    root
}

fn kiln_at(root: &Path, store: &Path, args: &[&str]) -> std::process::Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env("SOURCE_DATE_EPOCH", "1700000000");
    c
}

/// Build `project` with kiln (auto) and with hatchling; the differences.
fn compare(project: &str, tmp: &Path) -> Vec<String> {
    let root = workspace(project, tmp);
    let store = tmp.join(format!("store-{project}"));
    let plan = run_ok(&mut kiln_at(
        &root,
        &store,
        &["plan", "--version", "1.2.0-rc.1"],
    ));
    assert!(
        plan.contains("builder: native:hatchling-1.33.0 (auto: "),
        "{project}: {plan}"
    );
    run_ok(&mut kiln_at(
        &root,
        &store,
        &["build", "--version", "1.2.0-rc.1"],
    ));
    let ours = only_whl(&root.join("dist"));
    let fe = tmp.join(format!("fe-{project}"));
    run_ok(
        cmd("python3")
            .args(["-m", "build", "--no-isolation", "--wheel", "-o"])
            .arg(&fe)
            .arg(root.join("py"))
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env("SETUPTOOLS_SCM_PRETEND_VERSION", "1.2.0rc1"),
    );
    let theirs = only_whl(&fe);
    let mut diffs = Vec::new();
    if ours.file_name() != theirs.file_name() {
        diffs.push(format!(
            "{project}: file name {:?} vs hatchling's {:?}",
            ours.file_name(),
            theirs.file_name()
        ));
    }
    let (a, b) = (members(&ours), members(&theirs));
    let names = |m: &[(String, Vec<u8>)]| m.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(&a) != names(&b) {
        diffs.push(format!(
            "{project}: files {:?} vs hatchling's {:?}",
            names(&a),
            names(&b)
        ));
    }
    for (name, data) in &a {
        let Some((_, other)) = b.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let (x, y) = (comparable(name, data), comparable(name, other));
        if x != y {
            diffs.push(format!(
                "{project}: {name} differs:\n--- kiln\n{x}\n--- hatchling\n{y}"
            ));
        }
    }
    diffs
}

#[test]
fn auto_builds_hatchling_projects_natively_with_hatchlings_bytes() {
    if !require_tool("python3") || !hatchling_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut diffs = Vec::new();
    for project in ["srclayout", "flat", "packages", "module", "included", "vcs"] {
        diffs.extend(compare(project, tmp.path()));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
}

/// A build hook is not covered: `auto` runs hatchling and says why, and
/// the wheel holds what the hook added.
#[test]
fn auto_runs_hatchling_for_a_build_hook_and_says_why() {
    if !require_tool("python3") || !hatchling_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = workspace("hooked", tmp.path());
    let store = tmp.path().join("store");
    let plan = run_ok(&mut kiln_at(
        &root,
        &store,
        &["plan", "--version", "1.2.0-rc.1"],
    ));
    assert!(
        plan.contains(
            "builder: backend (auto: the project's backend, because hatchling build hooks"
        ),
        "{plan}"
    );
    run_ok(&mut kiln_at(
        &root,
        &store,
        &["build", "--version", "1.2.0-rc.1"],
    ));
    let names: Vec<String> = members(&only_whl(&root.join("dist")))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names.iter().any(|n| n == "hooked_pkg/generated.py"),
        "{names:?}"
    );
}
