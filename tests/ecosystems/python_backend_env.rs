//! Backend environments from a declared directory of wheels
//! (`host-inputs = ["python-wheels"]`): kiln resolves `build-system.requires`
//! against the directory, installs the chosen wheels into a store path and
//! runs the backend with only that and the standard library. The real
//! front end (`python -m build --no-isolation` in a venv holding the same
//! backend wheels, installed by pip) is the oracle for the result; the
//! environment is reused by a second build and replaced when a wheel
//! changes; an unsatisfiable requirement names itself, its specifier and the
//! directory; a hostile wheel is refused.
//!
//! Set-up, the only network use: `pip download --only-binary=:all:` into
//! `$CARGO_TARGET_TMPDIR/backend-env/<set>` (kept for offline reruns).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture::git;
use common::python::{tools, venv};
use common::{cmd, run, run_ok, write};

const VERSION: &str = "0.3.0";

/// A directory of wheels downloaded from PyPI (once).
fn wheels(set: &str, packages: &[&str]) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("backend-env")
        .join(set);
    if dir.join(".complete").exists() {
        return Some(dir);
    }
    let out = run(cmd("python3")
        .args([
            "-m",
            "pip",
            "download",
            "-q",
            "--only-binary=:all:",
            "--dest",
        ])
        .arg(&dir)
        .args(packages));
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if std::env::var_os("CI").is_some() {
            panic!("pip download {packages:?} failed: {err}");
        }
        eprintln!("SKIP: PyPI not reachable and nothing cached: {err}");
        return None;
    }
    write(&dir.join(".complete"), "");
    Some(dir)
}

fn kiln_build(root: &Path, store: &Path, wheels: &Path) -> Command {
    kiln_build_at(root, store, wheels, VERSION)
}

fn kiln_build_at(root: &Path, store: &Path, wheels: &Path, version: &str) -> Command {
    kiln_in(root, store, wheels, &["build", "--version", version])
}

/// `kiln ARGS` in `root` with `store` and the directory of wheels.
fn kiln_in(root: &Path, store: &Path, wheels: &Path, args: &[&str]) -> Command {
    let mut c = common::kiln();
    c.arg("-C")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(args)
        .env("KILN_PYTHON_WHEELS", wheels)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("KILN_STORE");
    c
}

const RECIPES: &[(&str, &str)] = &[
    (
        "recipes/sdist.toml",
        "surface = \"sdist\"\n[sdist]\nbackend = \"pep517\"\nhost-inputs = [\"python-wheels\"]\n",
    ),
    (
        "recipes/wheel.toml",
        "surface = \"wheel\"\n[wheel]\nbackend = \"pep517\"\nhost-inputs = [\"python-wheels\"]\n",
    ),
];

/// A committed project of `files` plus both backend recipes.
fn project(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    for (path, text) in files.iter().chain(RECIPES) {
        write(&dir.join(path), text);
    }
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "project"]);
    dir.to_path_buf()
}

fn setuptools_project(dir: &Path) -> PathBuf {
    project(
        dir,
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"kiln-st-env\"\nversion = \"0.1.0\"\ndescription = \"setuptools from a directory of wheels\"\n",
            ),
            (
                "setup.cfg",
                "[options]\npackages = find:\n\n[options.entry_points]\nconsole_scripts =\n    kiln-st-env = kiln_st_env:main\n",
            ),
            (
                "kiln_st_env/__init__.py",
                "def main():\n    print(\"hi\")\n",
            ),
        ],
    )
}

fn poetry_project(dir: &Path) -> PathBuf {
    project(
        dir,
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"poetry-core>=2\"]\nbuild-backend = \"poetry.core.masonry.api\"\n\n[project]\nname = \"kiln-poetry-env\"\nversion = \"0.1.0\"\ndescription = \"poetry-core from a directory of wheels\"\n\n[tool.poetry]\npackages = [{ include = \"kiln_poetry_env\" }]\n",
            ),
            ("kiln_poetry_env/__init__.py", "X = 1\n"),
        ],
    )
}

/// `dist/`'s file ending in `ext`.
fn dist_file(root: &Path, ext: &str) -> PathBuf {
    std::fs::read_dir(root.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(ext))
        .unwrap_or_else(|| panic!("no {ext} in dist/"))
}

/// The real front end in a venv whose backend (the one release of
/// `backend` in the directory) was installed by pip from the same directory
/// of wheels.
fn direct_build(tmp: &Path, src: &Path, wheels: &Path, backend: &str) -> (PathBuf, PathBuf) {
    let prefix = format!("{}-", backend.replace('-', "_"));
    let release = std::fs::read_dir(wheels)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
        .unwrap_or_else(|| panic!("no {backend} wheel in {}", wheels.display()));
    let pinned = format!("{backend}=={}", release.split('-').nth(1).unwrap());
    let dir = tmp.join("direct-src");
    common::fixture::copy_dir(src, &dir, false);
    let _ = std::fs::remove_dir_all(dir.join(".git"));
    let _ = std::fs::remove_dir_all(dir.join("dist"));
    let p = dir.join("pyproject.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    write(
        &p,
        text.replacen(
            "version = \"0.1.0\"",
            &format!("version = \"{VERSION}\""),
            1,
        ),
    );
    // The system site-packages gives `build`; the venv's backend shadows
    // the interpreter's.
    let v = venv(&tmp.join("venv-direct"), true);
    run_ok(
        cmd(v.join("pip").to_str().unwrap())
            .args([
                "install",
                "-q",
                "--ignore-installed",
                "--no-index",
                "--find-links",
            ])
            .arg(wheels)
            .arg(&pinned),
    );
    let out = tmp.join("direct-out");
    for kind in ["--sdist", "--wheel"] {
        run_ok(
            cmd(v.join("python").to_str().unwrap())
                .args(["-m", "build", "--no-isolation", kind, "--outdir"])
                .arg(&out)
                .arg(&dir)
                .env("SOURCE_DATE_EPOCH", "1704164645"),
        );
    }
    let find = |ext: &str| {
        std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(ext))
            .unwrap()
    };
    (find(".tar.gz"), find(".whl"))
}

/// Same files, same contents (RECORD as a set of lines).
fn assert_same(ours: &Path, direct: &Path) {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python/same_files.py");
    let out = run_ok(cmd("python3").arg(script).arg(ours).arg(direct));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let empty = serde_json::json!([]);
    assert!(
        v["only_a"] == empty && v["only_b"] == empty && v["differ"] == empty,
        "{} differs from the front end's build: {v}",
        ours.display()
    );
}

/// The store's environments: (record files, store paths).
fn environments(store: &Path) -> (usize, Vec<String>) {
    let records = std::fs::read_dir(store.join(".kiln/environments"))
        .map(|d| d.count())
        .unwrap_or(0);
    let Ok(dir) = std::fs::read_dir(store) else {
        return (records, Vec::new());
    };
    let mut paths: Vec<String> = dir
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-python-backend-env"))
        .collect();
    paths.sort();
    (records, paths)
}

#[test]
fn setuptools_from_a_directory_of_wheels_builds_as_the_front_end_does() {
    if !tools(&["python3", "bwrap", "git"]) {
        return;
    }
    let Some(wheels) = wheels("setuptools", &["setuptools", "wheel"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = setuptools_project(&tmp.path().join("st"));
    let store = tmp.path().join("store");
    let o = run(&mut kiln_build(&root, &store, &wheels));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (sdist, wheel) = (dist_file(&root, ".tar.gz"), dist_file(&root, ".whl"));
    let (d_sdist, d_wheel) = direct_build(tmp.path(), &root, &wheels, "setuptools");
    assert_eq!(wheel.file_name(), d_wheel.file_name());
    assert_same(&wheel, &d_wheel);
    assert_same(&sdist, &d_sdist);
    // One environment for both recipes (same requirements), kept.
    let (records, paths) = environments(&store);
    assert_eq!((records, paths.len()), (1, 1), "{paths:?}");
    // The derivation keeps the wheel's name, version and sha256.
    let drvs = store.join(".kiln/derivations");
    let setuptools = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("setuptools-")
        })
        .unwrap();
    let digest = run_ok(cmd("sha256sum").arg(&setuptools));
    let digest = digest.split_whitespace().next().unwrap();
    let mut seen = false;
    for d in std::fs::read_dir(&drvs).unwrap() {
        let text = std::fs::read_to_string(d.unwrap().path()).unwrap();
        seen |= text.contains("pep517:setuptools") && text.contains(digest);
    }
    assert!(seen, "no derivation names setuptools with sha256 {digest}");
}

#[test]
fn poetry_core_from_a_directory_of_wheels_builds_as_the_front_end_does() {
    if !tools(&["python3", "bwrap", "git"]) {
        return;
    }
    let Some(wheels) = wheels("poetry-core", &["poetry-core"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = poetry_project(&tmp.path().join("poetry"));
    let store = tmp.path().join("store");
    let o = run(&mut kiln_build(&root, &store, &wheels));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (d_sdist, d_wheel) = direct_build(tmp.path(), &root, &wheels, "poetry-core");
    assert_same(&dist_file(&root, ".whl"), &d_wheel);
    assert_same(&dist_file(&root, ".tar.gz"), &d_sdist);
}

/// A committed poetry-core project, its own copy of the downloaded
/// poetry-core wheels (which a test may change) and a store path:
/// `(wheels, root, store)`. `None`: skipped (outside CI).
fn poetry_with_own_wheels(tmp: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    if !tools(&["python3", "bwrap", "git"]) {
        return None;
    }
    let downloaded = wheels("poetry-core", &["poetry-core"])?;
    let dir = tmp.join("wheels");
    common::fixture::copy_dir(&downloaded, &dir, false);
    Some((dir, poetry_project(&tmp.join("poetry")), tmp.join("store")))
}

#[test]
fn the_environment_is_reused_and_replaced_when_a_wheel_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((wheels, root, store)) = poetry_with_own_wheels(tmp.path()) else {
        return;
    };
    run_ok(&mut kiln_build(&root, &store, &wheels));
    let (_, first) = environments(&store);
    assert_eq!(first.len(), 1, "{first:?}");
    // Another release of the project, same wheels: the same environment.
    git(&root, &["commit", "-q", "--allow-empty", "-m", "again"]);
    run_ok(&mut kiln_build_at(&root, &store, &wheels, "0.3.1"));
    let (records, again) = environments(&store);
    assert_eq!((records, &again), (1, &first));
    // The wheel changes (rebuilt with one more file): a new environment.
    let whl = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".whl"))
        .unwrap();
    run_ok(
        cmd("python3")
            .arg("-c")
            .arg(ADD_FILE)
            .arg(&whl)
            .arg("poetry/core/kiln_marker.py"),
    );
    run_ok(&mut kiln_build_at(&root, &store, &wheels, "0.3.2"));
    let (records, after) = environments(&store);
    assert_eq!(records, 2);
    assert_eq!(after.len(), 2, "{after:?}");
    // Environments are caches: gc collects them, a build installs again.
    run_ok(
        common::kiln()
            .arg("-C")
            .arg(&root)
            .args(["store", "gc", "--store"])
            .arg(&store),
    );
    assert_eq!(environments(&store).1.len(), 0);
    run_ok(&mut kiln_build_at(&root, &store, &wheels, "0.3.3"));
    let (_, rebuilt) = environments(&store);
    assert_eq!(rebuilt.len(), 1, "{rebuilt:?}");
    assert!(after.contains(&rebuilt[0]), "{rebuilt:?} not in {after:?}");
}

/// Python: add a file to a wheel and list it in RECORD (a valid wheel);
/// with a third argument, list it with a wrong hash.
const ADD_FILE: &str = r##"
import base64, hashlib, sys, zipfile
whl, name = sys.argv[1], sys.argv[2]
bad = len(sys.argv) > 3
data = b"# added\n"
with zipfile.ZipFile(whl) as z:
    items = [(i, z.read(i.filename)) for i in z.infolist()]
record = next(i for i, _ in items if i.filename.endswith(".dist-info/RECORD"))
digest = base64.urlsafe_b64encode(hashlib.sha256(b"x" if bad else data).digest()).rstrip(b"=").decode()
with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
    for i, d in items:
        if i is record:
            d = d + f"{name},sha256={digest},{len(data)}\n".encode()
        z.writestr(i, d)
    z.writestr(name, data)
"##;

#[test]
fn an_unsatisfiable_requirement_names_itself_its_specifier_and_the_directory() {
    if !tools(&["python3", "bwrap", "git"]) {
        return;
    }
    let Some(wheels) = wheels("poetry-core", &["poetry-core"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = project(
        &tmp.path().join("p"),
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"poetry-core>=99\"]\nbuild-backend = \"poetry.core.masonry.api\"\n\n[project]\nname = \"p\"\nversion = \"0.1.0\"\n",
            ),
            ("p/__init__.py", ""),
        ],
    );
    let o = run(&mut kiln_build(&root, &tmp.path().join("store"), &wheels));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("poetry-core")
            && err.contains(">=99")
            && err.contains(&wheels.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_hostile_wheel_is_refused() {
    if !tools(&["python3", "bwrap", "git"]) {
        return;
    }
    let Some(src) = wheels("poetry-core", &["poetry-core"]) else {
        return;
    };
    for (case, extra) in [
        ("record-mismatch", vec!["poetry/core/kiln_marker.py", "bad"]),
        ("dotdot", vec!["../escape.py"]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let wheels = tmp.path().join("wheels");
        common::fixture::copy_dir(&src, &wheels, false);
        let whl = std::fs::read_dir(&wheels)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".whl"))
            .unwrap();
        run_ok(
            cmd("python3")
                .arg("-c")
                .arg(ADD_FILE)
                .arg(&whl)
                .args(&extra),
        );
        let root = poetry_project(&tmp.path().join("poetry"));
        let store = tmp.path().join("store");
        let o = run(&mut kiln_build(&root, &store, &wheels));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{case}: {err}");
        let what = if case == "dotdot" {
            "../escape.py"
        } else {
            "kiln_marker.py"
        };
        assert!(err.contains(what), "{case}: {err}");
        assert_eq!(environments(&store).1.len(), 0, "{case}");
        assert!(!root.join("dist").exists(), "{case}");
    }
}

/// What the backend's `get_requires_for_build_*` asks for is resolved
/// against the whole directory while building, so the derivation covers
/// every wheel there that could be chosen, not only those
/// `build-system.requires` chose while planning: a wheel added to the
/// directory gives another derivation; nothing added gives the same one.
#[test]
fn a_wheel_added_to_the_directory_changes_the_derivation() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((dir, root, store)) = poetry_with_own_wheels(tmp.path()) else {
        return;
    };
    let plan = || {
        run_ok(&mut kiln_in(
            &root,
            &store,
            &dir,
            &["plan", "--version", VERSION],
        ))
    };
    let before = plan();
    assert_eq!(
        before,
        plan(),
        "the same directory plans the same derivations"
    );
    let any = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .unwrap();
    std::fs::copy(&any, dir.join("kiln_extra_dep-1.0-py3-none-any.whl")).unwrap();
    let after = plan();
    assert_ne!(
        before, after,
        "a wheel added to the directory left the derivations as they were:\n{after}"
    );
}
