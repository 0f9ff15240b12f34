//! Backend mode (`backend = "pep517"`) against real clients and the real
//! backends: setuptools (with a `setup.py`), poetry-core and maturin/PyO3
//! projects (`tests/fixtures/python/backends/`) build offline in the
//! sandbox; pip installs the wheels and sdists, the console scripts print
//! the stamped version, the maturin extension returns a value from Rust,
//! `twine check --strict` and `check-wheel-contents` accept them; C
//! extensions (setuptools, scikit-build-core with CMake) compile in the
//! sandbox with the declared compilers into platform wheels that hold no
//! host path; the
//! normalised archives hold exactly the files and contents the backend
//! writes when run directly; two builds under different paths, TZ, umask,
//! file creation order and core count are byte-identical; a backend that fails or is
//! not installed exits 2 naming it, with nothing registered.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture::{copy_dir, git};
use common::python::{tools, venv};
use common::{cmd, run, run_ok, write};

const VERSION: &str = "0.2.0-rc.1";
const PEP440: &str = "0.2.0rc1";

/// The release version stamped by hand into a fixture's `pyproject.toml`
/// for a direct build ([`direct_build`]).
const PYPROJECT_STAMP: (&str, &str, &str) = (
    "pyproject.toml",
    "version = \"0.1.0\"",
    "version = \"0.2.0rc1\"",
);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/python/backends")
        .join(name)
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/python")
        .join(name)
}

/// A committed copy of a backend fixture at `dir`.
fn project_at(name: &str, dir: &Path, reverse: bool) -> PathBuf {
    copy_dir(&fixture(name), dir, reverse);
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "fixture"]);
    dir.to_path_buf()
}

/// `kiln build` under a given umask and TZ.
fn kiln_build(root: &Path, store: &Path, umask: &str, tz: &str, extra: &[&str]) -> Command {
    let mut c = cmd("sh");
    c.arg("-c")
        .arg(format!("umask {umask} && exec \"$@\""))
        .arg("kiln-build")
        .arg(common::kiln_bin())
        .arg("-C")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(["build", "--version", VERSION])
        .args(extra)
        .env("TZ", tz)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("KILN_STORE");
    c
}

/// The sdist and the wheel in `dist/`.
fn dists(root: &Path) -> (PathBuf, PathBuf) {
    let mut sdist = None;
    let mut wheel = None;
    for e in std::fs::read_dir(root.join("dist")).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        if n.ends_with(".tar.gz") {
            sdist = Some(p);
        } else if n.ends_with(".whl") {
            wheel = Some(p);
        }
    }
    (
        sdist.expect("an sdist in dist/"),
        wheel.expect("a wheel in dist/"),
    )
}

fn bin(venv: &Path, program: &str) -> Command {
    cmd(venv.join(program).to_str().unwrap())
}

/// Build twice under different conditions and compare bytes; return the
/// first build's root.
fn build_twice(name: &str, tmp: &Path, env: &[(&str, &str)]) -> PathBuf {
    let a = project_at(name, &tmp.join("a").join(name), false);
    let b = project_at(name, &tmp.join("elsewhere/deeper").join(name), true);
    // One store per project: each records its release of VERSION, and a
    // second project releasing the same version into it would be refused.
    let store = |side: &str| tmp.join(format!("store-{side}-{name}"));
    let mut first = kiln_build(&a, &store("a"), "022", "UTC", &[]);
    let mut second = kiln_build(&b, &store("b"), "077", "Asia/Tokyo", &[]);
    second.env("RAYON_NUM_THREADS", "1");
    for (k, v) in env {
        first.env(k, v);
        second.env(k, v);
    }
    run_ok(&mut first);
    run_ok(&mut second);
    let (sa, wa) = dists(&a);
    let (sb, wb) = dists(&b);
    for (x, y) in [(&sa, &sb), (&wa, &wb)] {
        assert_eq!(x.file_name(), y.file_name());
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{} differs between the two builds",
            x.display()
        );
    }
    // Nothing but dist/ appeared, nothing tracked changed.
    let status = git(
        &a,
        &["status", "--porcelain", "--ignored", "--", ".", ":!dist"],
    );
    assert_eq!(status, "", "the checkout changed");
    a
}

/// Same files and contents as the backend run directly (`python -m build`).
fn assert_same_as_direct(ours: &Path, direct: &Path, allowed: &[&str]) {
    let out = run_ok(
        cmd("python3")
            .arg(script("same_files.py"))
            .arg(ours)
            .arg(direct),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["only_a"],
        serde_json::json!([]),
        "{}: {v}",
        ours.display()
    );
    assert_eq!(
        v["only_b"],
        serde_json::json!([]),
        "{}: {v}",
        ours.display()
    );
    let differ: Vec<&str> = v["differ"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        differ
            .iter()
            .all(|d| allowed.iter().any(|a| d.ends_with(a))),
        "{}: contents differ from the backend's own build: {differ:?}",
        ours.display()
    );
}

/// Run the backend directly on a copy stamped by hand.
fn direct_build(
    name: &str,
    tmp: &Path,
    stamp: &[(&str, &str, &str)],
    env: &[(&str, &str)],
) -> (PathBuf, PathBuf) {
    let dir = tmp.join("direct").join(name);
    copy_dir(&fixture(name), &dir, false);
    for (file, from, to) in stamp {
        let p = dir.join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{file} lacks {from}");
        write(&p, text.replacen(from, to, 1));
    }
    let out = tmp.join("direct-out").join(name);
    for kind in ["--sdist", "--wheel"] {
        let mut c = cmd("python3");
        c.args(["-m", "build", "--no-isolation", kind, "--outdir"])
            .arg(&out)
            .arg(&dir)
            .env("SOURCE_DATE_EPOCH", "1704164645");
        for (k, v) in env {
            c.env(k, v);
        }
        run_ok(&mut c);
    }
    let mut sdist = None;
    let mut wheel = None;
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".tar.gz") {
            sdist = Some(p);
        } else {
            wheel = Some(p);
        }
    }
    (sdist.unwrap(), wheel.unwrap())
}

/// pip installs the wheel and the sdist offline; the console script prints
/// the stamped version.
fn install_both(
    tmp: &Path,
    dist: &str,
    sdist: &Path,
    wheel: &Path,
    env: &[(&str, &str)],
) -> PathBuf {
    let v = venv(&tmp.join(format!("venv-wheel-{dist}")), false);
    run_ok(
        bin(&v, "pip")
            .args(["install", "-q", "--no-index", "--no-deps"])
            .arg(wheel),
    );
    assert_eq!(run_ok(bin(&v, dist).arg("--version")), PEP440);
    let s = venv(&tmp.join(format!("venv-sdist-{dist}")), true);
    let mut c = bin(&s, "pip");
    c.args([
        "install",
        "-q",
        "--no-index",
        "--no-deps",
        "--no-build-isolation",
    ])
    .arg(sdist);
    for (k, val) in env {
        c.env(k, val);
    }
    run_ok(&mut c);
    assert_eq!(run_ok(bin(&s, dist).arg("--version")), PEP440);
    v
}

fn twine_and_check_wheel_contents(sdist: &Path, wheel: &Path) {
    run_ok(
        cmd("twine")
            .args(["check", "--strict"])
            .arg(sdist)
            .arg(wheel),
    );
    run_ok(cmd("check-wheel-contents").arg(wheel));
}

#[test]
fn setuptools_and_poetry_core_projects_build_with_their_backends() {
    if !tools(&["python3", "bwrap", "twine", "check-wheel-contents"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (name, dist, module) in [
        ("setuptools", "kiln-setuptools-demo", "kiln_setuptools_demo"),
        ("poetry", "kiln-poetry-demo", "kiln_poetry_demo"),
    ] {
        let root = build_twice(name, tmp.path(), &[]);
        let (sdist, wheel) = dists(&root);
        // The backend's own file name is kept (setuptools 65 does not
        // normalise the sdist's name as PEP 625 asks; newer releases do).
        let sname = sdist.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            sname == format!("{module}-{PEP440}.tar.gz")
                || sname == format!("{dist}-{PEP440}.tar.gz"),
            "{sname}"
        );
        assert_eq!(
            wheel.file_name().unwrap().to_string_lossy(),
            format!("{module}-{PEP440}-py3-none-any.whl")
        );
        twine_and_check_wheel_contents(&sdist, &wheel);
        let v = install_both(tmp.path(), dist, &sdist, &wheel, &[]);
        run_ok(bin(&v, "python").args([
            "-c",
            &format!("import {module}; print({module}.greeting())"),
        ]));
        let (ds, dw) = direct_build(name, tmp.path(), &[PYPROJECT_STAMP], &[]);
        assert_same_as_direct(&wheel, &dw, &[]);
        assert_same_as_direct(&sdist, &ds, &[]);
    }
}

#[test]
fn maturin_pyo3_project_builds_an_extension_wheel_offline() {
    if !tools(&[
        "python3",
        "bwrap",
        "cargo",
        "maturin",
        "twine",
        "check-wheel-contents",
    ]) {
        return;
    }
    // Set-up, the only network use: PyO3 and its dependencies into the
    // cargo cache; everything after is offline.
    run_ok(
        cmd("cargo")
            .args(["fetch", "--locked", "--manifest-path"])
            .arg(fixture("maturin/crates/python/Cargo.toml")),
    );
    let tmp = tempfile::tempdir().unwrap();
    let root = build_twice("maturin", tmp.path(), &[]);
    let (sdist, wheel) = dists(&root);
    assert_eq!(
        sdist.file_name().unwrap().to_string_lossy(),
        format!("kiln_maturin_demo-{PEP440}.tar.gz")
    );
    let wname = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        wname.starts_with(&format!("kiln_maturin_demo-{PEP440}-cp39-abi3-"))
            && wname.contains("x86_64"),
        "{wname}"
    );
    // The version is stamped into both manifests of the sdist.
    let listing = run_ok(cmd("tar").arg("-xzOf").arg(&sdist).arg(format!(
        "kiln_maturin_demo-{PEP440}/crates/python/Cargo.toml"
    )));
    assert!(
        listing.contains(&format!("version = \"{VERSION}\"")),
        "{listing}"
    );
    twine_and_check_wheel_contents(&sdist, &wheel);
    // The two builds outside kiln (pip from the sdist, then maturin on a
    // stamped copy) share one cargo target directory: PyO3 and its
    // dependencies are compiled once for both, the project's crate twice.
    let target = tmp.path().join("outside-kiln-target");
    let offline = [
        ("CARGO_NET_OFFLINE", "true"),
        ("CARGO_TARGET_DIR", target.to_str().unwrap()),
    ];
    let v = install_both(tmp.path(), "kiln-maturin-demo", &sdist, &wheel, &offline);
    // maturin run directly on a copy stamped by hand: the same files with
    // the same contents, except those that hold the build directory: the
    // compiled module (kiln's sandbox builds in /build and remaps it and the
    // registry sources), maturin's CycloneDX SBOM (it names the crate
    // `path+file:///build/src/crates/python`), and the RECORD lines that
    // hash them.
    let (_, direct_wheel) = direct_build(
        "maturin",
        tmp.path(),
        &[
            (
                "pyproject.toml",
                "dynamic = [\"version\"]",
                "version = \"0.2.0rc1\"",
            ),
            (
                "crates/python/Cargo.toml",
                "version = \"0.1.0\"",
                "version = \"0.2.0-rc.1\"",
            ),
        ],
        &offline,
    );
    assert_eq!(direct_wheel.file_name(), wheel.file_name());
    assert_same_as_direct(
        &wheel,
        &direct_wheel,
        &[".abi3.so", ".cyclonedx.json", ".dist-info/RECORD"],
    );
    assert_eq!(
        run_ok(bin(&v, "python").args([
            "-c",
            "import kiln_maturin_demo as m; print(m.answer(), m.crate_version())"
        ])),
        format!("42 {VERSION}")
    );
}

/// A setuptools project with a C extension: the declared gcc (with `as`
/// and `ld`) builds its platform wheel in the sandbox. Compared with
/// `python -m build`, the compiled module differs by design: kiln maps the
/// interpreter's prefix out of its debug information and drops the
/// interpreter's RUNPATH ([`c_extension`] checks the rest).
#[test]
fn setuptools_c_extension_builds_a_platform_wheel_in_the_sandbox() {
    c_extension(
        "setuptools-cext",
        "kiln_cext_demo",
        &["gcc", "as", "ld"],
        &[".so", ".dist-info/RECORD"],
    );
}

/// A scikit-build-core project: CMake (with ninja and gcc) compiles its C
/// extension in the sandbox, finding the interpreter's headers where its
/// relocated prefix puts them; a Release build without debug information,
/// so the wheel is `python -m build`'s, byte for byte.
#[test]
fn scikit_build_core_compiles_a_cmake_extension_in_the_sandbox() {
    c_extension(
        "scikit-build",
        "kiln_skb_demo",
        &["cmake", "ninja", "gcc", "as", "ld", "strip"],
        &[],
    );
}

/// A C extension project built by kiln: byte-identical across paths, TZ,
/// umask, file order and core count. The tag is the backend's own
/// (`cpXY-cpXY-linux_<arch>`), and every build says what a manylinux tag
/// would need instead of claiming one. pip installs the wheel (and the
/// sdist, compiling it) and the module adds in C. The module holds no path
/// of this host and no RUNPATH, and the wheel's files are those `python -m
/// build` writes from the same source, the same bytes but `differ`.
fn c_extension(fixture_name: &str, module: &str, compilers: &[&str], differ: &[&str]) {
    let mut needed = vec!["python3", "bwrap", "readelf", "unzip", "twine"];
    needed.extend_from_slice(compilers);
    if !tools(&needed) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = build_twice(fixture_name, tmp.path(), &[]);
    let (sdist, wheel) = dists(&root);
    let abi =
        run_ok(cmd("python3").args(["-c", "import sys; print('cp%d%d' % sys.version_info[:2])"]));
    let arch = std::env::consts::ARCH;
    assert_eq!(
        wheel.file_name().unwrap().to_string_lossy(),
        format!("{module}-{PEP440}-{abi}-{abi}-linux_{arch}.whl")
    );
    // Said on every build, a cached one too.
    let again = run(&mut kiln_build(
        &root,
        &tmp.path().join(format!("store-a-{fixture_name}")),
        "022",
        "UTC",
        &[],
    ));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{err}");
    assert!(
        err.contains(&format!("linux_{arch}")) && err.contains("auditwheel repair"),
        "{err}"
    );
    run_ok(
        cmd("twine")
            .args(["check", "--strict"])
            .arg(&sdist)
            .arg(&wheel),
    );
    let dist = module.replace('_', "-");
    let v = install_both(tmp.path(), &dist, &sdist, &wheel, &[]);
    assert_eq!(run_ok(&mut bin(&v, &dist)), "42");

    // The module: no RUNPATH, no path of this host.
    let so = tmp.path().join("module.so");
    let bytes = cmd("unzip")
        .arg("-p")
        .arg(&wheel)
        .arg(format!("{module}/_speed.*.so"))
        .output()
        .unwrap()
        .stdout;
    assert!(bytes.starts_with(b"\x7fELF"), "no module in the wheel");
    std::fs::write(&so, &bytes).unwrap();
    let dynamic = run_ok(cmd("readelf").arg("-d").arg(&so));
    assert!(
        !dynamic.contains("RPATH") && !dynamic.contains("RUNPATH"),
        "{dynamic}"
    );
    let prefix = run_ok(cmd("python3").args([
        "-c",
        "import sysconfig; print(sysconfig.get_config_var('prefix'))",
    ]));
    for host in [prefix.as_str(), &tmp.path().display().to_string()] {
        assert!(
            !bytes.windows(host.len()).any(|w| w == host.as_bytes()),
            "{host} is in the module"
        );
    }

    let (direct_sdist, direct_wheel) =
        direct_build(fixture_name, tmp.path(), &[PYPROJECT_STAMP], &[]);
    assert_eq!(direct_wheel.file_name(), wheel.file_name());
    assert_same_as_direct(&wheel, &direct_wheel, differ);
    assert_same_as_direct(&sdist, &direct_sdist, &[]);
}

#[test]
fn backend_that_fails_or_is_missing_exits_2_naming_it_and_registers_nothing() {
    if !tools(&["python3", "bwrap"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = project_at("setuptools", &tmp.path().join("p"), false);
    let store = tmp.path().join("store");
    let check = |recipe: &str, needles: &[&str]| {
        let o = run(&mut kiln_build(&root, &store, "022", "UTC", &[recipe]));
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{recipe}: {err}");
        for n in needles {
            assert!(
                err.contains(n),
                "{recipe}: error does not mention {n:?}: {err}"
            );
        }
        assert!(!root.join("dist").exists(), "{recipe}: dist/ was written");
        let realisations = store.join(".kiln/realisations");
        assert!(
            !realisations.exists() || std::fs::read_dir(&realisations).unwrap().next().is_none(),
            "{recipe}: something was registered"
        );
    };
    let pp = std::fs::read_to_string(root.join("pyproject.toml")).unwrap();
    let commit = |msg: &str| {
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", msg]);
    };
    // Not installed for the interpreter: refused while planning.
    write(
        &root.join("pyproject.toml"),
        pp.replace(
            "\"setuptools>=61\"",
            "\"setuptools>=61\", \"kiln-no-such-backend>=1\"",
        ),
    );
    commit("missing backend");
    check(
        "wheel",
        &[
            "setuptools.build_meta",
            "kiln-no-such-backend>=1",
            "not installed",
            // Where kiln looked, and the other place it could look.
            "its own site-packages",
            "python-wheels",
        ],
    );
    // Installed, but not in a version that satisfies the requirement.
    write(
        &root.join("pyproject.toml"),
        pp.replace("setuptools>=61", "setuptools>=9999"),
    );
    commit("too old");
    check(
        "sdist",
        &["setuptools>=9999", "is installed", "its own site-packages"],
    );
    // The backend itself fails.
    write(&root.join("pyproject.toml"), &pp);
    write(
        &root.join("setup.py"),
        "raise SystemExit('kiln-fixture: setup.py refuses to build')\n",
    );
    commit("failing setup.py");
    check(
        "wheel",
        &[
            "setuptools.build_meta",
            "build_wheel",
            "setup.py refuses to build",
        ],
    );
    // Native-only keys make no sense with a backend.
    write(
        &root.join("recipes/wheel.toml"),
        "surface = \"wheel\"\n[wheel]\nbackend = \"pep517\"\ntag = \"py3-none-any\"\n",
    );
    commit("native key");
    check(
        "wheel",
        &["recipes/wheel.toml", "wheel.tag", "native builder only"],
    );
    // A project the native builder cannot build says how to use its backend.
    let poetry = project_at("poetry", &tmp.path().join("poetry"), false);
    write(
        &poetry.join("recipes/wheel.toml"),
        "surface = \"wheel\"\n[wheel]\nbackend = \"native\"\n",
    );
    git(&poetry, &["commit", "-q", "-am", "native"]);
    let o = run(&mut kiln_build(&poetry, &store, "022", "UTC", &["wheel"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("backend = \\\"pep517\\\"") || err.contains("backend = \"pep517\""),
        "{err}"
    );
}

#[test]
fn a_declared_directory_of_wheels_provides_a_backend_the_interpreter_lacks() {
    if !tools(&["python3", "bwrap", "unzip"]) {
        return;
    }
    // Set-up, the only network use: flit_core 3.9.0 (the interpreter has
    // another version) as a wheel in a cache directory.
    let Some(wheels) = common::python::pip_download(&["flit_core==3.9.0"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("flit");
    write(
        &root.join("pyproject.toml"),
        "[build-system]\nrequires = [\"flit_core==3.9.0\"]\nbuild-backend = \"flit_core.buildapi\"\n\n[project]\nname = \"kiln-flit-demo\"\nversion = \"0.1.0\"\ndescription = \"built by a backend from a declared wheel\"\n",
    );
    write(
        &root.join("kiln_flit_demo.py"),
        "\"\"\"A flit module.\"\"\"\n",
    );
    write(
        &root.join("recipes/wheel.toml"),
        "surface = \"wheel\"\n[wheel]\nbackend = \"pep517\"\nhost-inputs = [\"python-wheels\"]\n",
    );
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "flit"]);
    let store = tmp.path().join("store");
    // Not given: exit 2 naming the key.
    let o = run(kiln_build(&root, &store, "022", "UTC", &[]).env_remove("KILN_PYTHON_WHEELS"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("wheel.host-inputs") && err.contains("KILN_PYTHON_WHEELS"),
        "{err}"
    );
    run_ok(kiln_build(&root, &store, "022", "UTC", &[]).env("KILN_PYTHON_WHEELS", &wheels));
    let wheel = std::fs::read_dir(root.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".whl"))
        .unwrap();
    assert!(
        wheel
            .to_string_lossy()
            .ends_with(&format!("kiln_flit_demo-{PEP440}-py2.py3-none-any.whl")),
        "{}",
        wheel.display()
    );
    let meta = run_ok(
        cmd("unzip")
            .arg("-p")
            .arg(&wheel)
            .arg(format!("kiln_flit_demo-{PEP440}.dist-info/WHEEL")),
    );
    assert!(meta.contains("Generator: flit 3.9.0"), "{meta}");
}
