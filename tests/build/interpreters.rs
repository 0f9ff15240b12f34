//! Interpreters run as recorded: pyenv's interpreters (3.8, 3.11, 3.12)
//! run in the sandbox with the version, `libpython` and stdlib their
//! derivation records; a venv's `python3` runs as the venv (its
//! site-packages visible and part of the identity); a matrix over
//! interpreters builds command and PEP 517 backend recipes; a tool's ELF
//! closure enters the derivation and is what the sandbox loads; a tool that
//! answers differently inside the sandbox is refused (exit 3).
//!
//! Oracles: the pyenv interpreters themselves run on the host, gcc, pip,
//! unzip.

use crate::common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::fixture::git;
use common::{cmd, run, run_ok, write};

/// pyenv's root (`$PYENV_ROOT`, else `~/.pyenv`).
fn pyenv_root() -> PathBuf {
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".pyenv"))
}

/// The installed pyenv version for minor version `minor` ("3.12"), if any;
/// under CI a missing one fails the test.
fn pyenv_version(minor: &str) -> Option<PathBuf> {
    let found = std::fs::read_dir(pyenv_root().join("versions"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .strip_prefix(minor)
                .is_some_and(|r| r.starts_with('.'))
                && p.join(format!("bin/python{minor}")).is_file()
        });
    if found.is_none() {
        let why = format!(
            "pyenv has no Python {minor} under {} (install it with `pyenv install {minor}`)",
            pyenv_root().display()
        );
        if std::env::var_os("CI").is_some() {
            panic!("{why}");
        }
        eprintln!("SKIP: {why}");
    }
    found
}

/// `PATH` with pyenv's shims first (and `first` before them).
fn path_with(first: &[&Path]) -> OsString {
    let mut dirs: Vec<PathBuf> = first.iter().map(|p| p.to_path_buf()).collect();
    dirs.push(pyenv_root().join("shims"));
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

/// A committed project with these files.
fn project(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    for (rel, text) in files {
        write(&dir.join(rel), text);
    }
    write(&dir.join("README.md"), "interpreters\n");
    git(dir, &["init", "-q"]);
    commit(dir);
    dir.to_path_buf()
}

fn commit(dir: &Path) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "change"]);
}

fn build(root: &Path, store: &Path, path: &OsString) -> Output {
    run(common::kiln()
        .arg("-C")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(["build", "--version", "1.0.0"])
        .env("PATH", path)
        .env_remove("PYENV_VERSION")
        .env("XDG_STATE_HOME", store.with_file_name("state")))
}

fn build_ok(root: &Path, store: &Path, path: &OsString) -> String {
    let o = build(root, store, path);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "kiln build failed:\n{err}");
    err + &String::from_utf8_lossy(&o.stdout)
}

/// recipe id -> derivation hash, from the progress lines.
fn derivations(stderr: &str) -> BTreeMap<String, String> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("kiln: ")?;
            let (id, rest) = rest.split_once(": building (")?;
            let hash = rest.split("derivation ").nth(1)?.trim_end_matches(')');
            Some((id.to_string(), hash.to_string()))
        })
        .collect()
}

/// The stored derivation `hash` as JSON.
fn derivation(store: &Path, hash: &str) -> serde_json::Value {
    let p = store.join(format!(".kiln/derivations/{hash}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// What `python -c code` prints on the host.
fn host_python(python: &Path, code: &str) -> String {
    run_ok(cmd(python.to_str().unwrap()).args(["-c", code]))
}

/// `sys.version` on one line (3.8 puts the compiler on a second one).
const VERSION: &str = "import sys; print(' '.join(sys.version.split()))";

const REPORT: &str = "import sys, os; os.makedirs('out', exist_ok=True); \
    open('out/v', 'w').write(' '.join(sys.version.split()) + '\\n' + sys.executable + '\\n' + sys.prefix + '\\n')";

/// A command recipe running `python` with [`REPORT`].
fn report_recipe(matrix: &str, python: &str) -> String {
    format!(
        "surface = \"command\"\nsource = \".\"\n{matrix}\n[command]\n\
         argv = [\"{python}\", \"-c\", \"{}\"]\ntools = [\"{python}\"]\noutputs = [\"out\"]\n",
        REPORT.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

#[test]
fn pyenv_python3_runs_in_the_sandbox_as_its_derivation_records() {
    if !common::require_tool("bwrap") {
        return;
    }
    let Some(prefix) = pyenv_version("3.11") else {
        return;
    };
    let selected = format!("{}\n", prefix.file_name().unwrap().to_string_lossy());
    let t = tempfile::tempdir().unwrap();
    let root = project(
        &t.path().join("p"),
        &[
            ("recipes/py.toml", &report_recipe("", "python3")),
            (".python-version", &selected),
        ],
    );
    let store = t.path().join("store");
    let path = path_with(&[]);
    let err = build_ok(&root, &store, &path);
    let drvs = derivations(&err);
    let drv = derivation(&store, &drvs["py"]);
    let tool = &drv["tools"][0];
    let ran = std::fs::read_to_string(root.join("dist/py/out/v")).unwrap();
    let version = ran.split_whitespace().next().unwrap();
    // The recorded identity is the interpreter that ran.
    assert_eq!(tool["version"], format!("Python {version}"), "{ran}");
    let real = pyenv_root().join(format!("versions/{version}/bin/python3"));
    assert_eq!(host_python(&real, VERSION), ran.lines().next().unwrap());
    assert!(ran.contains("/kiln/bin/python3\n"), "{ran}");
    // Its libpython and stdlib are part of it, by digest, never by path.
    let libs = tool["libs"].as_array().unwrap();
    assert!(
        libs.iter()
            .any(|l| l["name"].as_str().unwrap().starts_with("libpython3.11")),
        "{tool}"
    );
    assert_eq!(tool["stdlib"].as_str().unwrap().len(), 64);
    let text = serde_json::to_string(&drv).unwrap();
    assert!(!text.contains(".pyenv"), "{text}");
    // A second build is a cache hit (no in-sandbox check, nothing run).
    let again = build_ok(&root, &store, &path);
    assert!(again.contains("1 cached"), "{again}");
}

#[test]
fn a_matrix_over_pyenv_interpreters_runs_each_cell_with_its_own() {
    if !common::require_tool("bwrap") {
        return;
    }
    let versions: Vec<(String, PathBuf)> = ["3.8", "3.11", "3.12"]
        .iter()
        .filter_map(|m| pyenv_version(m).map(|p| (m.to_string(), p)))
        .collect();
    if versions.len() < 3 {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = project(
        &t.path().join("p"),
        &[(
            "recipes/py.toml",
            &report_recipe(
                "[matrix]\npy = [\"3.8\", \"3.11\", \"3.12\"]\n",
                "python{py}",
            ),
        )],
    );
    let store = t.path().join("store");
    let err = build_ok(&root, &store, &path_with(&[]));
    let drvs = derivations(&err);
    for (minor, prefix) in &versions {
        let id = format!("py[py={minor}]");
        let drv = derivation(&store, &drvs[&id]);
        let tool = &drv["tools"][0];
        assert_eq!(tool["name"], format!("python{minor}"));
        let ran = std::fs::read_to_string(root.join(format!("dist/py-{minor}/out/v"))).unwrap();
        let host = host_python(&prefix.join(format!("bin/python{minor}")), VERSION);
        // In the sandbox: the same build of the interpreter as on the host,
        // which is the one recorded.
        assert_eq!(ran.lines().next().unwrap(), host, "{id}");
        let version = host.split_whitespace().next().unwrap();
        assert_eq!(tool["version"], format!("Python {version}"), "{id}");
        assert!(ran.contains(&format!("/kiln/bin/python{minor}\n")), "{ran}");
    }
}

/// An in-tree PEP 517 backend (stdlib only) whose wheel records the
/// `sys.version` it ran under and carries the interpreter's tag.
const BACKEND: &str = r#"
import base64, hashlib, sys, tomllib, zipfile

def _meta():
    with open("pyproject.toml", "rb") as f:
        p = tomllib.load(f)["project"]
    return p["name"].replace("-", "_"), p["version"]

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version = _meta()
    tag = "py%d%d-none-any" % sys.version_info[:2]
    info = "%s-%s.dist-info" % (name, version)
    files = {
        name + ".py": ("BUILT_BY = %r\n" % sys.version).encode(),
        info + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)).encode(),
        info + "/WHEEL": ("Wheel-Version: 1.0\nGenerator: tiny\nRoot-Is-Purelib: true\nTag: %s\n" % tag).encode(),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append(info + "/RECORD,,")
    files[info + "/RECORD"] = ("\n".join(record) + "\n").encode()
    whl = "%s-%s-%s.whl" % (name, version, tag)
    with zipfile.ZipFile(wheel_directory + "/" + whl, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    return whl
"#;

#[test]
fn a_backend_recipe_matrix_builds_each_wheel_with_its_interpreter() {
    if !common::require_tool("bwrap") || !common::require_tool("unzip") {
        return;
    }
    let versions: Vec<(String, PathBuf)> = ["3.11", "3.12"]
        .iter()
        .filter_map(|m| pyenv_version(m).map(|p| (m.to_string(), p)))
        .collect();
    if versions.len() < 2 {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = project(
        &t.path().join("p"),
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"tiny_backend\"\nbackend-path = [\"backend\"]\n\n\
                 [project]\nname = \"kiln-matrix-demo\"\nversion = \"1.0.0\"\n",
            ),
            ("backend/tiny_backend.py", BACKEND),
            ("kiln_matrix_demo.py", "\n"),
            (
                "recipes/wheel.toml",
                "surface = \"wheel\"\nsource = \".\"\n[matrix]\npy = [\"3.11\", \"3.12\"]\n\
                 [wheel]\nbackend = \"pep517\"\npython = \"python{py}\"\n",
            ),
        ],
    );
    let store = t.path().join("store");
    let err = build_ok(&root, &store, &path_with(&[]));
    let drvs = derivations(&err);
    for (minor, prefix) in &versions {
        let drv = derivation(&store, &drvs[&format!("wheel[py={minor}]")]);
        let tool = &drv["tools"][0];
        assert_eq!(tool["name"], format!("python{minor}"));
        let host = host_python(&prefix.join(format!("bin/python{minor}")), VERSION);
        let version = host.split_whitespace().next().unwrap();
        assert_eq!(tool["version"], format!("Python {version}"));
        let tag = format!("py{}", minor.replace('.', ""));
        let wheel = root.join(format!("dist/kiln_matrix_demo-1.0.0-{tag}-none-any.whl"));
        let module = run_ok(
            cmd("unzip")
                .arg("-p")
                .arg(&wheel)
                .arg("kiln_matrix_demo.py"),
        );
        let repr = host_python(
            &prefix.join(format!("bin/python{minor}")),
            "import sys; print(repr(sys.version))",
        );
        assert_eq!(module, format!("BUILT_BY = {repr}"));
    }
}

/// A wheel of the module `kiln_tiny` with `VALUE = value`, written by the
/// venv's own Python (zipfile), in `dir`.
fn tiny_wheel(python: &Path, dir: &Path, version: &str, value: &str) -> PathBuf {
    let code = format!(
        "import zipfile\n\
         n = 'kiln_tiny-{version}.dist-info'\n\
         with zipfile.ZipFile('{dir}/kiln_tiny-{version}-py3-none-any.whl', 'w') as z:\n\
         \x20   z.writestr('kiln_tiny.py', 'VALUE = {value:?}\\n')\n\
         \x20   z.writestr(n + '/METADATA', 'Metadata-Version: 2.1\\nName: kiln-tiny\\nVersion: {version}\\n')\n\
         \x20   z.writestr(n + '/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')\n\
         \x20   z.writestr(n + '/RECORD', '')\n",
        dir = dir.display()
    );
    run_ok(cmd(python.to_str().unwrap()).args(["-c", &code]));
    dir.join(format!("kiln_tiny-{version}-py3-none-any.whl"))
}

#[test]
fn a_venv_python_runs_as_the_venv_and_its_site_packages_are_in_the_identity() {
    if !common::require_tool("bwrap") {
        return;
    }
    let Some(base) = pyenv_version("3.11") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let venv = t.path().join("venv");
    run_ok(
        cmd(base.join("bin/python3.11").to_str().unwrap())
            .args(["-m", "venv"])
            .arg(&venv),
    );
    let py = venv.join("bin/python3");
    let install = |wheel: &Path| {
        run_ok(
            cmd(py.to_str().unwrap())
                .args(["-m", "pip", "install", "-q", "--no-index", "--no-deps"])
                .args(["--disable-pip-version-check", "--force-reinstall"])
                .arg(wheel),
        )
    };
    install(&tiny_wheel(&py, t.path(), "1.0", "one"));
    let code = "import sys, os, kiln_tiny; os.makedirs('out', exist_ok=True); \
                open('out/v', 'w').write(kiln_tiny.VALUE + '\\n' + sys.prefix + '\\n')";
    let recipe = format!(
        "surface = \"command\"\nsource = \".\"\n[command]\nargv = [\"python3\", \"-c\", \"{}\"]\n\
         tools = [\"python3\"]\noutputs = [\"out\"]\n",
        code.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let root = project(&t.path().join("p"), &[("recipes/venv.toml", &recipe)]);
    let store = t.path().join("store");
    let path = path_with(&[&venv.join("bin")]);
    let first = derivations(&build_ok(&root, &store, &path))["venv"].clone();
    let out = std::fs::read_to_string(root.join("dist/venv/out/v")).unwrap();
    let canon = std::fs::canonicalize(&venv).unwrap();
    assert_eq!(out, format!("one\n{}\n", canon.display()));
    let drv = derivation(&store, &first);
    let tool = &drv["tools"][0];
    assert_eq!(tool["venv_site_packages"].as_str().unwrap().len(), 64);
    assert!(
        tool["stdlib"].is_string() && tool["libs"].is_array(),
        "{tool}"
    );
    let text = serde_json::to_string(&drv).unwrap();
    assert!(!text.contains(&*venv.to_string_lossy()), "{text}");

    // Another version of the package: another derivation, and it is the
    // one the build sees.
    install(&tiny_wheel(&py, t.path(), "2.0", "two"));
    let second = derivations(&build_ok(&root, &store, &path))["venv"].clone();
    assert_ne!(first, second);
    let out = std::fs::read_to_string(root.join("dist/venv/out/v")).unwrap();
    assert!(out.starts_with("two\n"), "{out}");
}

/// `prog` linked against `libtiny.so` (whose `tiny()` returns `value`)
/// with the given RUNPATH; `prog <file>` writes the value to `<file>`,
/// `prog --version` prints it.
fn c_tool(bin: &Path, lib: &Path, rpath: &str, value: u32) {
    std::fs::create_dir_all(bin).unwrap();
    std::fs::create_dir_all(lib).unwrap();
    write_lib(lib, value);
    let src = bin.join("prog.c");
    write(
        &src,
        "#include <stdio.h>\n#include <string.h>\nint tiny(void);\nint main(int c, char **v) {\n\
         if (c < 2 || !strcmp(v[1], \"--version\")) { printf(\"prog %d\\n\", tiny()); return 0; }\n\
         FILE *f = fopen(v[1], \"w\"); if (!f) return 2;\n\
         fprintf(f, \"%d\\n\", tiny()); return fclose(f) ? 3 : 0; }\n",
    );
    run_ok(
        cmd("gcc")
            .arg("-o")
            .arg(bin.join("prog"))
            .arg(&src)
            .arg(format!("-L{}", lib.display()))
            .arg("-ltiny")
            .arg(format!("-Wl,-rpath,{rpath},--enable-new-dtags")),
    );
    std::fs::remove_file(&src).unwrap();
}

fn write_lib(lib: &Path, value: u32) {
    let src = lib.join("tiny.c");
    write(&src, format!("int tiny(void) {{ return {value}; }}\n"));
    // A new inode, as an installer's rename gives.
    let tmp = lib.join("libtiny.so.new");
    run_ok(
        cmd("gcc")
            .args(["-shared", "-fPIC", "-Wl,-soname,libtiny.so", "-o"])
            .arg(&tmp)
            .arg(&src),
    );
    std::fs::rename(&tmp, lib.join("libtiny.so")).unwrap();
    std::fs::remove_file(&src).unwrap();
}

const PROG_RECIPE: &str = "surface = \"command\"\nsource = \".\"\n[command]\n\
    argv = [\"prog\", \"v\"]\ntools = [\"prog\"]\noutputs = [\"v\"]\n";

/// Build the `prog` recipe; return its derivation and what it wrote.
fn build_prog(root: &Path, store: &Path, bin: &Path) -> (String, String) {
    let err = build_ok(root, store, &path_with(&[bin]));
    let hash = derivations(&err)
        .remove("prog")
        .unwrap_or_else(|| panic!("not built:\n{err}"));
    let v = std::fs::read_to_string(root.join("dist/prog/v")).unwrap();
    (hash, v.trim().to_string())
}

#[test]
fn a_changed_shared_library_changes_the_derivation_and_is_what_the_sandbox_loads() {
    if !common::require_tool("bwrap") || !common::require_tool("gcc") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = project(&t.path().join("p"), &[("recipes/prog.toml", PROG_RECIPE)]);
    let store = t.path().join("store");
    // 1. An absolute RUNPATH outside any tool prefix.
    let (bin, lib) = (t.path().join("abs/bin"), t.path().join("abs/libs"));
    c_tool(&bin, &lib, &lib.display().to_string(), 1);
    let (d1, v1) = build_prog(&root, &store, &bin);
    assert_eq!(v1, "1");
    let drv = derivation(&store, &d1);
    let libs = drv["tools"][0]["libs"].as_array().unwrap().clone();
    assert!(libs.iter().any(|l| l["name"] == "libtiny.so"), "{drv}");
    write_lib(&lib, 2);
    let (d2, v2) = build_prog(&root, &store, &bin);
    assert_ne!(d1, d2);
    assert_eq!(v2, "2");

    // 2. `$ORIGIN` pointing out of the mounted prefix parts.
    let (bin, lib) = (t.path().join("org/bin"), t.path().join("org/vendor"));
    c_tool(&bin, &lib, "$ORIGIN/../vendor", 3);
    let (d3, v3) = build_prog(&root, &store, &bin);
    assert_eq!(v3, "3");
    write_lib(&lib, 4);
    let (d4, v4) = build_prog(&root, &store, &bin);
    assert_ne!(d3, d4);
    assert_eq!(v4, "4");
}

#[test]
fn a_tool_that_answers_differently_in_the_sandbox_is_refused() {
    if !common::require_tool("bwrap") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // On the host `--version` runs with an empty environment; in the sandbox
    // HOME is set: the program in the sandbox is not the one recorded.
    let bin = t.path().join("bin");
    write(
        &bin.join("moody"),
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo \"moody ${HOME:-1.0}\"; exit 0; fi\n: > out\n",
    );
    run_ok(cmd("chmod").arg("755").arg(bin.join("moody")));
    let recipe = "surface = \"command\"\nsource = \".\"\n[command]\nargv = [\"moody\"]\n\
                  tools = [\"moody\"]\noutputs = [\"out\"]\n";
    let root = project(&t.path().join("p"), &[("recipes/m.toml", recipe)]);
    let o = build(&root, &t.path().join("store"), &path_with(&[&bin]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("moody") && err.contains("\"moody 1.0\"") && err.contains("homeless"),
        "{err}"
    );
    assert!(!root.join("dist/m").exists());
}
