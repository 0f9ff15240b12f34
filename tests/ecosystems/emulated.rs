//! What the tests of kiln's native backend emulations share
//! (`python_hatch`, `python_pdm`, `python_poetry`, `python_uv`): a wheel's
//! members, the form in which kiln's and the backend's are compared, kiln
//! run on a workspace, whether the backend is installed, and the
//! comparison of kiln's `auto` build with `python -m build --no-isolation`.

use std::path::{Path, PathBuf};

use crate::common::fixture::git;
use crate::common::{cmd, kiln, run, run_ok, write};

/// A wheel's file members in archive order, (name, bytes), via Python's
/// `zipfile`.
pub fn members(wheel: &Path) -> Vec<(String, Vec<u8>)> {
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
/// `WHEEL` (in its order: the emulated backend's order is kiln's).
pub fn comparable(name: &str, data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let without = |skip: &dyn Fn(&str) -> bool| {
        text.lines()
            .filter(|l| !skip(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if name.ends_with(".dist-info/WHEEL") {
        return without(&|l| l.starts_with("Generator: "));
    }
    if name.ends_with(".dist-info/RECORD") {
        return without(&|l| l.contains(".dist-info/WHEEL,"));
    }
    text.into_owned()
}

/// Commit the project copied to `<root>/py` as a workspace with a wheel
/// recipe of `backend = "<setting>"`, ignored files too (the backends
/// leave them out all the same); `root`.
pub fn commit_wheel_project(root: PathBuf, setting: &str) -> PathBuf {
    write(
        &root.join("recipes/w.toml"),
        format!("surface = \"wheel\"\nsource = \"py\"\n[wheel]\nbackend = \"{setting}\"\n"),
    );
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A", "-f"]);
    git(&root, &["commit", "-q", "-m", "project"]);
    root
}

/// The one wheel in `dir`.
pub fn only_whl(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

/// Whether `check` (Python asserting the backend's version, and `build`)
/// passes for `python3`; a printed skip naming `what` outside CI, a
/// failure under CI.
pub fn installed(check: &str, what: &str) -> bool {
    let ok = run(cmd("python3").args(["-c", check])).status.success();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} and build must be installed for python3"
        );
        eprintln!("SKIP: {what} or build is not installed for python3");
    }
    ok
}

/// `kiln -C root --store store ARGS` at a fixed `SOURCE_DATE_EPOCH`.
pub fn kiln_at(root: &Path, store: &Path, args: &[&str]) -> std::process::Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env("SOURCE_DATE_EPOCH", "1700000000");
    c
}

/// kiln's `auto` build of the workspace `root` (its project at `py/`),
/// which `kiln plan` must say is `builder` (`native:pdm-backend-2.5.0`),
/// against `python -m build --no-isolation` into `fe`: kiln's wheel and
/// every difference — file name, files and their order, bytes but
/// [`comparable`]'s — each naming `project` and `backend`.
pub fn compare(
    root: &Path,
    store: &Path,
    fe: &Path,
    project: &str,
    (builder, backend): (&str, &str),
) -> (PathBuf, Vec<String>) {
    let plan = run_ok(&mut kiln_at(
        root,
        store,
        &["plan", "--version", "1.2.0-rc.1"],
    ));
    assert!(
        plan.contains(&format!("builder: {builder} (auto: ")),
        "{project}: {plan}"
    );
    run_ok(&mut kiln_at(
        root,
        store,
        &["build", "--version", "1.2.0-rc.1"],
    ));
    let ours = only_whl(&root.join("dist"));
    run_ok(
        cmd("python3")
            .args(["-m", "build", "--no-isolation", "--wheel", "-o"])
            .arg(fe)
            .arg(root.join("py"))
            .env("SOURCE_DATE_EPOCH", "1700000000")
            // The version hatch-vcs (setuptools-scm) reads; kiln stamps it.
            .env("SETUPTOOLS_SCM_PRETEND_VERSION", "1.2.0rc1"),
    );
    let theirs = only_whl(fe);
    let mut diffs = Vec::new();
    if ours.file_name() != theirs.file_name() {
        diffs.push(format!(
            "{project}: file name {:?} vs {backend}'s {:?}",
            ours.file_name(),
            theirs.file_name()
        ));
    }
    let (a, b) = (members(&ours), members(&theirs));
    let names = |m: &[(String, Vec<u8>)]| m.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(&a) != names(&b) {
        diffs.push(format!(
            "{project}: files {:?} vs {backend}'s {:?}",
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
                "{project}: {name} differs:\n--- kiln\n{x:?}\n--- {backend}\n{y:?}"
            ));
        }
    }
    (ours, diffs)
}
