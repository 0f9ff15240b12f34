//! kiln's native builder writing pdm-backend wheels, against pdm-backend
//! itself: for each project of `tests/fixtures/python/pdm/` that
//! `backend = "auto"` builds natively (`srclayout`, `flat`, `module`,
//! `configured`),
//! `kiln plan` says the native builder writes as pdm-backend, and the wheel
//! kiln builds has pdm-backend's file name and, file for file and in
//! pdm-backend's order, pdm-backend's bytes (`python -m build
//! --no-isolation` with the installed pdm-backend 2.5.0) — except `WHEEL`'s
//! `Generator` line, which names kiln, and so `RECORD`'s line for `WHEEL`.
//! pip installs kiln's wheel and runs its console script. `hooked` (a
//! `pdm_build.py`) and `unbuilt` (`[tool.pdm.build]`) are built by
//! pdm-backend under `auto`, and refused by `backend = "native"` with the
//! reason. Two kiln builds under another path, time zone and umask are
//! byte-identical.

use crate::common;

use super::emulated::{installed, kiln_at, members, only_whl};

use std::path::{Path, PathBuf};

use common::fixture::copy_dir;
use common::python::venv;
use common::{cmd, require_tool, run, run_ok, write};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python/pdm")
}

fn pdm_backend_installed() -> bool {
    installed(
        "import importlib.metadata as m, build; v = m.version('pdm-backend'); assert v == '2.5.0', v",
        "pdm-backend 2.5.0",
    )
}

/// The fixture `project` as a committed workspace with a wheel recipe
/// (`backend` = `setting`); `srclayout` also commits a stale `.pyc`
/// (pdm-backend leaves it out).
fn workspace(project: &str, tmp: &Path, setting: &str) -> PathBuf {
    let root = tmp.join(project);
    copy_dir(&fixtures().join(project), &root.join("py"), false);
    if project == "srclayout" {
        write(&root.join("py/src/demo_pkg/stale.pyc"), "bytecode\n");
    }
    super::emulated::commit_wheel_project(root, setting)
}

/// Build `project` with kiln (auto) and with pdm-backend; kiln's wheel and
/// the differences.
fn compare(project: &str, tmp: &Path) -> (PathBuf, Vec<String>) {
    let root = workspace(project, tmp, "auto");
    super::emulated::compare(
        &root,
        &tmp.join(format!("store-{project}")),
        &tmp.join(format!("fe-{project}")),
        project,
        ("native:pdm-backend-2.5.0", "pdm-backend"),
    )
}

#[test]
fn auto_builds_pdm_backend_projects_natively_with_pdm_backends_bytes() {
    if !require_tool("python3") || !pdm_backend_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut diffs = Vec::new();
    let mut wheels = Vec::new();
    for project in ["srclayout", "flat", "module", "configured"] {
        let (wheel, d) = compare(project, tmp.path());
        wheels.push(wheel);
        diffs.extend(d);
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
    // pip installs kiln's wheel; its console script runs.
    let bin = venv(&tmp.path().join("venv"), false);
    run_ok(
        cmd(bin.join("pip").to_str().unwrap())
            .args(["install", "-q", "--no-index", "--no-deps"])
            .arg(&wheels[0]),
    );
    assert_eq!(
        run_ok(&mut cmd(bin.join("zz").to_str().unwrap())).trim(),
        "demo-pkg cli ran"
    );
}

/// A local build hook and `[tool.pdm.build]` are not covered: `auto` runs
/// pdm-backend and says why (the wheel holds what the hook added);
/// `native` refuses, exit 2, with the reason, writing nothing.
#[test]
fn uncovered_pdm_backend_configurations_run_the_backend_or_are_refused() {
    if !require_tool("python3") || !pdm_backend_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (project, why, member) in [
        (
            "hooked",
            "the project has pdm_build.py, a pdm-backend build hook kiln does not run",
            "hooked_pkg/generated.py",
        ),
        (
            "unbuilt",
            "[tool.pdm.build] key `includes` is a configuration kiln does not write",
            "un_pkg/__init__.py",
        ),
    ] {
        let auto = tmp.path().join("auto");
        let root = workspace(project, &auto, "auto");
        let store = auto.join(format!("store-{project}"));
        let plan = run_ok(&mut kiln_at(
            &root,
            &store,
            &["plan", "--version", "1.2.0-rc.1"],
        ));
        assert!(
            plan.contains(&format!(
                "builder: backend (auto: the project's backend, because {why}"
            )),
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
        assert!(names.iter().any(|n| n == member), "{names:?}");

        let native = tmp.path().join("native");
        let root = workspace(project, &native, "native");
        let o = run(&mut kiln_at(
            &root,
            &native.join("store"),
            &["build", "--version", "1.2.0-rc.1"],
        ));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{project}: {err}");
        assert!(err.contains(why), "{project}: {err}");
        assert!(!root.join("dist").exists(), "{project}: wrote dist/");
    }
}

/// Two native builds of `srclayout` in other directories, time zones and
/// umasks are byte-identical.
#[test]
fn native_pdm_backend_wheels_are_byte_reproducible() {
    if !require_tool("sh") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let build = |dir: &str, tz: &str, umask: &str| {
        let root = workspace("srclayout", &tmp.path().join(dir), "native");
        let mut c = cmd("sh");
        c.arg("-c")
            .arg(format!("umask {umask} && exec \"$@\""))
            .arg("sh")
            .arg(common::kiln_bin())
            .arg("-C")
            .arg(&root)
            .arg("--store")
            .arg(tmp.path().join(dir).join("store"))
            .args(["build", "--version", "1.2.0-rc.1"])
            .env("TZ", tz)
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("KILN_STORE");
        run_ok(&mut c);
        std::fs::read(only_whl(&root.join("dist"))).unwrap()
    };
    let a = build("a", "UTC", "022");
    let b = build("elsewhere/deeper", "Asia/Kathmandu", "077");
    assert!(a == b, "the two wheels differ");
}
