//! kiln's native builder writing poetry-core wheels, against poetry-core
//! itself: for each project of `tests/fixtures/python/poetry/` but
//! `custom` (configurations `backend = "auto"` builds natively), `kiln
//! plan` says the native builder writes as poetry-core, and the wheel kiln
//! builds has poetry-core's file name and, file for file and in
//! poetry-core's order, poetry-core's bytes (`python -m build
//! --no-isolation` with the installed poetry-core 2.5) — except `WHEEL`'s
//! `Generator` line, which names kiln, and so `RECORD`'s line for `WHEEL`.
//! pip installs kiln's wheel and its console script runs; two kiln builds
//! under another path, time zone and umask are byte-identical. `custom`
//! (`[tool.poetry] packages` with `to`) is refused by `backend = "native"` and built
//! by poetry-core under `auto`, and `kiln plan` says why.

use crate::common;

use std::path::{Path, PathBuf};

use common::fixture::{copy_dir, git};
use common::{cmd, kiln, require_tool, run, run_ok, write};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python/poetry")
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
/// `WHEEL` (in its order: poetry-core's order is kiln's).
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

fn poetry_core_installed() -> bool {
    let probe = "import build, poetry.core, sys; sys.exit(poetry.core.__version__ != '2.5.0')";
    let ok = run(cmd("python3").args(["-c", probe])).status.success();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "poetry-core 2.5.0 and build must be installed for python3"
        );
        eprintln!("SKIP: poetry-core 2.5.0 or build is not installed for python3");
    }
    ok
}

/// A workspace at `<tmp>/<dir>` holding fixture `project` as `py/` and a
/// wheel recipe with `backend`, committed.
fn workspace(project: &str, dir: &Path, backend: &str) -> PathBuf {
    let root = dir.to_path_buf();
    copy_dir(&fixtures().join(project), &root.join("py"), false);
    write(
        &root.join("recipes/w.toml"),
        format!("surface = \"wheel\"\nsource = \"py\"\n[wheel]\nbackend = \"{backend}\"\n"),
    );
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "project"]);
    root
}

fn kiln_at(root: &Path, store: &Path, args: &[&str]) -> std::process::Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env("SOURCE_DATE_EPOCH", "1700000000");
    c
}

/// Build `project` with kiln (auto) and with poetry-core; the differences.
fn compare(project: &str, tmp: &Path) -> (Vec<String>, PathBuf) {
    let root = workspace(project, &tmp.join(project), "auto");
    let store = tmp.join(format!("store-{project}"));
    let plan = run_ok(&mut kiln_at(
        &root,
        &store,
        &["plan", "--version", "1.2.0-rc.1"],
    ));
    assert!(
        plan.contains("builder: native:poetry-core-2.5.0 (auto: "),
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
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    let theirs = only_whl(&fe);
    let mut diffs = Vec::new();
    if ours.file_name() != theirs.file_name() {
        diffs.push(format!(
            "{project}: file name {:?} vs poetry-core's {:?}",
            ours.file_name(),
            theirs.file_name()
        ));
    }
    let (a, b) = (members(&ours), members(&theirs));
    let names = |m: &[(String, Vec<u8>)]| m.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(&a) != names(&b) {
        diffs.push(format!(
            "{project}: files {:?} vs poetry-core's {:?}",
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
                "{project}: {name} differs:\n--- kiln\n{x}\n--- poetry-core\n{y}"
            ));
        }
    }
    (diffs, ours)
}

#[test]
fn auto_builds_poetry_core_projects_natively_with_poetry_cores_bytes() {
    if !require_tool("python3") || !poetry_core_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut diffs = Vec::new();
    let mut rich = None;
    for project in ["rich", "srcmod", "bare", "packages"] {
        let (d, wheel) = compare(project, tmp.path());
        diffs.extend(d);
        if project == "rich" {
            rich = Some(wheel);
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
    // pip installs kiln's wheel; its console script runs.
    let target = tmp.path().join("installed");
    run_ok(
        cmd("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-index",
                "--target",
            ])
            .arg(&target)
            .arg(rich.unwrap()),
    );
    let out = run_ok(
        cmd("python3")
            .arg(target.join("bin/rich-pkg"))
            .env("PYTHONPATH", &target),
    );
    assert_eq!(out.trim(), "poet-rich says hi");
}

/// Two native builds of the same commit under another path, time zone and
/// umask write the same wheel bytes.
#[test]
fn native_poetry_core_wheels_are_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wheels = Vec::new();
    for (dir, tz, umask) in [("a", "UTC", "022"), ("deeper/b", "Asia/Tokyo", "077")] {
        let root = workspace("rich", &tmp.path().join(dir), "native");
        let store = tmp.path().join(format!("store-{}", wheels.len()));
        let mut c = kiln_at(&root, &store, &["build", "--version", "1.2.0-rc.1"]);
        c.env("TZ", tz);
        let shell = format!("umask {umask} && exec \"$0\" \"$@\"");
        let mut sh = cmd("sh");
        sh.args(["-c", &shell])
            .arg(c.get_program())
            .args(c.get_args());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                sh.env(k, v);
            }
        }
        run_ok(&mut sh);
        wheels.push(std::fs::read(only_whl(&root.join("dist"))).unwrap());
    }
    assert!(wheels[0] == wheels[1], "the two wheels differ");
}

/// `[tool.poetry] packages` with `to` is not covered: `native` refuses it with the
/// reason (exit 2, nothing written), `auto` runs poetry-core and says why.
#[test]
fn an_uncovered_poetry_configuration_falls_back_to_poetry_core() {
    let tmp = tempfile::tempdir().unwrap();
    let native = workspace("custom", &tmp.path().join("native"), "native");
    let out = run(&mut kiln_at(
        &native,
        &tmp.path().join("store-n"),
        &["build", "--version", "1.2.0-rc.1"],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("[tool.poetry] packages entry with `to`"),
        "{err}"
    );
    assert!(!native.join("dist").exists());
    if !require_tool("python3") || !poetry_core_installed() {
        return;
    }
    let auto = workspace("custom", &tmp.path().join("auto"), "auto");
    let store = tmp.path().join("store-a");
    let plan = run_ok(&mut kiln_at(
        &auto,
        &store,
        &["plan", "--version", "1.2.0-rc.1"],
    ));
    assert!(
        plan.contains(
            "builder: backend (auto: the project's backend, because [tool.poetry] packages entry with `to`"
        ),
        "{plan}"
    );
    run_ok(&mut kiln_at(
        &auto,
        &store,
        &["build", "--version", "1.2.0-rc.1"],
    ));
    let names: Vec<String> = members(&only_whl(&auto.join("dist")))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names.iter().any(|n| n == "vendor/lib_x/__init__.py"),
        "{names:?}"
    );
}
