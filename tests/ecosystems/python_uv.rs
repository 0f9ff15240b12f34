//! kiln's native builder writing uv_build wheels, against uv_build itself:
//! for each covered project of `tests/fixtures/python/uv/` (`srclayout`,
//! `flatroot`, `modules`), `kiln plan` says the native builder writes as
//! uv_build 0.13.6, and the wheel kiln builds has uv_build's file name and,
//! file for file and in uv_build's order, uv_build's bytes
//! (`python -m build --wheel --no-isolation` with the installed uv_build
//! 0.13.6) — except `WHEEL`'s `Generator` line, which names kiln, and so
//! `RECORD`'s line for `WHEEL`; uv_build's zip also holds an entry per
//! directory, which kiln does not write (the comparison is of files).
//! pip installs kiln's wheel and its console script runs. `datadir`
//! (`[tool.uv.build-backend] data`) is not covered: `backend = "native"`
//! refuses it with the reason, `auto` runs uv_build. Two kiln builds under
//! different paths, TZ and umask are byte-identical.

use crate::common;

use super::emulated::{installed, kiln_at, members, only_whl};

use std::path::{Path, PathBuf};

use common::fixture::{copy_dir, git};
use common::{cmd, require_tool, run, run_ok, write};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python/uv")
}

fn uv_build_installed() -> bool {
    installed(
        "import importlib.metadata as m, build; v = m.version('uv-build'); assert v == '0.13.6', v",
        "uv-build 0.13.6",
    )
}

/// The fixture `project` as a committed workspace with a wheel recipe
/// (`backend`), with a `__pycache__` committed in `srclayout` (uv_build
/// leaves it out all the same).
fn workspace(project: &str, tmp: &Path, backend: &str) -> PathBuf {
    let root = tmp.join(project);
    copy_dir(&fixtures().join(project), &root.join("py"), false);
    if project == "srclayout" {
        write(
            &root.join("py/src/demo_pkg/__pycache__/cli.cpython-311.pyc"),
            "bytecode\n",
        );
        write(&root.join("py/src/demo_pkg/stale.pyc"), "bytecode\n");
    }
    super::emulated::commit_wheel_project(root, backend)
}

/// Build `project` with kiln (auto) and with uv_build; kiln's wheel and
/// the differences.
fn compare(project: &str, tmp: &Path) -> (PathBuf, Vec<String>) {
    let root = workspace(project, tmp, "auto");
    super::emulated::compare(
        &root,
        &tmp.join(format!("store-{project}")),
        &tmp.join(format!("fe-{project}")),
        project,
        ("native:uv_build-0.13.6", "uv_build"),
    )
}

/// pip installs `wheel` (without its dependencies) into a fresh venv;
/// `script` runs and prints `says`.
fn install_and_run(wheel: &Path, tmp: &Path, script: &str, says: &str) {
    let venv = tmp.join(format!("venv-{script}"));
    run_ok(cmd("python3").args(["-m", "venv"]).arg(&venv));
    run_ok(
        cmd(venv.join("bin/pip").to_str().unwrap())
            .args([
                "install",
                "-q",
                "--no-deps",
                "--no-index",
                "--disable-pip-version-check",
            ])
            .arg(wheel),
    );
    let out = run_ok(&mut cmd(venv.join("bin").join(script).to_str().unwrap()));
    assert!(out.contains(says), "{script}: {out}");
}

#[test]
fn auto_builds_uv_build_projects_natively_with_uv_builds_bytes() {
    if !require_tool("python3") || !uv_build_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut diffs = Vec::new();
    let mut wheels = Vec::new();
    for project in ["srclayout", "flatroot", "modules"] {
        let (wheel, d) = compare(project, tmp.path());
        diffs.extend(d);
        wheels.push(wheel);
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
    install_and_run(&wheels[0], tmp.path(), "demo-pkg", "demo-pkg says hello");
    install_and_run(&wheels[2], tmp.path(), "many-modules", "many-modules ok");
}

/// `[tool.uv.build-backend] data` is not covered: `native` refuses it
/// (exit 2, the reason, nothing written), `auto` runs uv_build and says
/// why, and the wheel holds the data script — uv_build from a declared
/// directory of wheels, or the interpreter's own, which also writes the
/// sdist.
#[test]
fn an_uncovered_uv_build_configuration_is_refused_natively_and_built_by_uv_build() {
    if !require_tool("python3") || !uv_build_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let native = workspace("datadir", &tmp.path().join("n"), "native");
    let out = run(&mut kiln_at(
        &native,
        &tmp.path().join("store-n"),
        &["build", "--version", "1.2.0-rc.1"],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("[tool.uv.build-backend] key `data`"), "{err}");
    assert!(!native.join("dist").exists());
    // uv_build runs the `uv-build` binary its wheel installs: kiln installs
    // it from a declared directory of wheels.
    let Some(wheels) = uv_build_wheel() else {
        return;
    };
    let root = workspace("datadir", &tmp.path().join("a"), "auto");
    let recipe = root.join("recipes/w.toml");
    let text = std::fs::read_to_string(&recipe).unwrap();
    write(
        &recipe,
        format!("{text}host-inputs = [\"python-wheels\"]\n"),
    );
    git(&root, &["commit", "-q", "-am", "wheels"]);
    let store = tmp.path().join("store-a");
    let at = |args: &[&str]| {
        let mut c = kiln_at(&root, &store, args);
        c.env("KILN_PYTHON_WHEELS", &wheels);
        c
    };
    let plan = run_ok(&mut at(&["plan", "--version", "1.2.0-rc.1"]));
    assert!(
        plan.contains("builder: backend (auto: the project's backend, because [tool.uv.build-backend] key `data`"),
        "{plan}"
    );
    run_ok(&mut at(&["build", "--version", "1.2.0-rc.1"]));
    let names: Vec<String> = members(&only_whl(&root.join("dist")))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n == "data_pkg-1.2.0rc1.data/scripts/data-pkg-tool"),
        "{names:?}"
    );

    // The interpreter's own uv-build runs too (its `uv-build` binary is in
    // the interpreter's scripts directory, which kiln's front end puts on
    // PATH as `python -m build --no-isolation` has it): the same wheel, and
    // the sdist uv_build writes.
    let own = workspace("datadir", &tmp.path().join("i"), "auto");
    write(
        &own.join("recipes/s.toml"),
        "surface = \"sdist\"\nsource = \"py\"\n[sdist]\nbackend = \"auto\"\n",
    );
    git(&own, &["add", "-A"]);
    git(&own, &["commit", "-q", "-m", "sdist"]);
    run_ok(
        kiln_at(
            &own,
            &tmp.path().join("store-i"),
            &["build", "--version", "1.2.0-rc.1"],
        )
        .env_remove("KILN_PYTHON_WHEELS"),
    );
    assert_eq!(
        std::fs::read(only_whl(&own.join("dist"))).unwrap(),
        std::fs::read(only_whl(&root.join("dist"))).unwrap(),
        "uv-build from the interpreter and from the wheels directory"
    );
    let sdist = own.join("dist/data_pkg-1.2.0rc1.tar.gz");
    assert!(
        sdist.is_file(),
        "no sdist in {}",
        own.join("dist").display()
    );
}

/// uv-build 0.13.6's wheel for this platform, in a cache directory (the
/// only network use); `None` (a printed skip) when PyPI is not reachable
/// outside CI.
fn uv_build_wheel() -> Option<PathBuf> {
    common::python::pip_download(&["uv-build==0.13.6"])
}

/// `kiln build` of `srclayout` under a umask and TZ.
fn build_under(root: &Path, store: &Path, umask: &str, tz: &str) -> Vec<u8> {
    let mut c = cmd("sh");
    c.arg("-c")
        .arg(format!("umask {umask} && exec \"$@\""))
        .arg("sh")
        .arg(common::kiln_bin())
        .arg("-C")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(["build", "--version", "1.2.0-rc.1"])
        .env_remove("KILN_STORE")
        .env("TZ", tz)
        .env("SOURCE_DATE_EPOCH", "1700000000");
    run_ok(&mut c);
    std::fs::read(only_whl(&root.join("dist"))).unwrap()
}

#[test]
fn native_uv_build_wheels_are_byte_identical_across_path_tz_and_umask() {
    if !require_tool("python3") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = workspace("srclayout", &tmp.path().join("one"), "native");
    let b = workspace("srclayout", &tmp.path().join("other/place"), "native");
    let x = build_under(&a, &tmp.path().join("s1"), "022", "UTC");
    let y = build_under(&b, &tmp.path().join("s2"), "077", "Asia/Kathmandu");
    assert!(x == y, "two native uv_build wheels differ");
}
