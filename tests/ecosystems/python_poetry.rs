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

use super::emulated::{installed, kiln_at, members, only_whl};

use std::path::{Path, PathBuf};

use common::fixture::copy_dir;
use common::{cmd, require_tool, run, run_ok};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python/poetry")
}

fn poetry_core_installed() -> bool {
    installed(
        "import build, poetry.core, sys; sys.exit(poetry.core.__version__ != '2.5.0')",
        "poetry-core 2.5.0",
    )
}

/// A workspace at `<tmp>/<dir>` holding fixture `project` as `py/` and a
/// wheel recipe with `backend`, committed.
fn workspace(project: &str, dir: &Path, backend: &str) -> PathBuf {
    let root = dir.to_path_buf();
    copy_dir(&fixtures().join(project), &root.join("py"), false);
    super::emulated::commit_wheel_project(root, backend)
}

/// Build `project` with kiln (auto) and with poetry-core; the differences.
fn compare(project: &str, tmp: &Path) -> (Vec<String>, PathBuf) {
    let root = workspace(project, &tmp.join(project), "auto");
    let (wheel, diffs) = super::emulated::compare(
        &root,
        &tmp.join(format!("store-{project}")),
        &tmp.join(format!("fe-{project}")),
        project,
        ("native:poetry-core-2.5.0", "poetry-core"),
    );
    (diffs, wheel)
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
