//! The native `sdist` and `wheel` surfaces against real clients: pip installs
//! them into fresh venvs (the console script prints the stamped version),
//! `twine check --strict` and `check-wheel-contents` accept them, uv_build
//! and hatchling build the same files and metadata (intended differences
//! are listed in docs/python.md), builds are byte-reproducible, and bad
//! input exits 2 naming the field with nothing registered.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture::{copy_dir, git, monorepo, monorepo_at, tree_digest};
use common::python::{tools, venv};
use common::{cmd, kiln, require_tool, run, run_ok, write};

fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python")
}

const SDIST: &str = "surface = \"sdist\"\nsource = \"python\"\n[sdist]\nbackend = \"kiln\"\n";
const WHEEL: &str = "surface = \"wheel\"\nsource = \"python\"\n[wheel]\nbackend = \"kiln\"\n";
/// A wheel recipe with the default `backend = "auto"`: kiln's own writer
/// builds it where it sets a native builder key.
const WHEEL_AUTO: &str = "surface = \"wheel\"\nsource = \"python\"\n";

/// The monorepo with sdist and wheel recipes for its Python package.
fn mono_with_python(dir: &Path, reverse: bool) -> PathBuf {
    let root = monorepo_at(dir, reverse);
    write(&root.join("recipes/mini-sdist.toml"), SDIST);
    write(&root.join("recipes/mini-wheel.toml"), WHEEL);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "python recipes"]);
    root
}

fn member(archive: &Path, suffix: &str) -> String {
    let script = "import sys, tarfile, zipfile\np, s = sys.argv[1], sys.argv[2]\nif p.endswith('.whl'):\n    z = zipfile.ZipFile(p); n = [i for i in z.namelist() if i.endswith(s)][0]; sys.stdout.write(z.read(n).decode())\nelse:\n    t = tarfile.open(p); m = [m for m in t.getmembers() if m.name.endswith(s)][0]; sys.stdout.write(t.extractfile(m).read().decode())\n";
    let out = run(cmd("python3").args(["-c", script]).arg(archive).arg(suffix));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn monorepo_python_package_installs_with_pip_and_passes_twine_and_check_wheel_contents() {
    if !tools(&["python3", "twine", "check-wheel-contents"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = mono_with_python(&tmp.path().join("mono"), false);
    let checkout = tree_digest(&root.join("python"));
    let store = tmp.path().join("store");
    let out = run_ok(&mut kiln_in(
        &root,
        &store,
        &[
            "build",
            "--json",
            "--version",
            "0.2.0-rc.1",
            "mini-sdist",
            "mini-wheel",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files: Vec<&str> = v["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["artifacts"][0]["file"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"mini_flow-0.2.0rc1.tar.gz"), "{files:?}");
    assert!(
        files.contains(&"mini_flow-0.2.0rc1-py3-none-any.whl"),
        "{files:?}"
    );
    let dist = root.join("dist");
    let sdist = dist.join("mini_flow-0.2.0rc1.tar.gz");
    let wheel = dist.join("mini_flow-0.2.0rc1-py3-none-any.whl");
    // PKG-INFO, METADATA, the stamped pyproject.toml and both names agree.
    assert!(member(&sdist, "/PKG-INFO").contains("\nVersion: 0.2.0rc1\n"));
    assert!(member(&wheel, ".dist-info/METADATA").contains("\nVersion: 0.2.0rc1\n"));
    let pyproject = member(&sdist, "/pyproject.toml");
    assert!(pyproject.contains("version = \"0.2.0rc1\""), "{pyproject}");
    assert!(!pyproject.contains("dynamic"), "{pyproject}");
    assert!(member(&wheel, ".dist-info/WHEEL")
        .contains(&format!("Generator: kiln {}\n", env!("CARGO_PKG_VERSION"))));
    // The checkout is untouched.
    assert_eq!(tree_digest(&root.join("python")), checkout);

    run_ok(
        cmd("twine")
            .args(["check", "--strict"])
            .arg(&sdist)
            .arg(&wheel),
    );
    run_ok(cmd("check-wheel-contents").arg(&wheel));

    let bin = venv(&tmp.path().join("venv-wheel"), false);
    run_ok(
        cmd(bin.join("pip").to_str().unwrap())
            .args(["install", "-q", "--no-index", "--no-deps"])
            .arg(&wheel),
    );
    run_ok(cmd(bin.join("python").to_str().unwrap()).args(["-c", "import mini_flow.cli"]));
    assert_eq!(
        run_ok(cmd(bin.join("mini-flow").to_str().unwrap()).arg("--version")),
        "0.2.0rc1"
    );

    // The sdist builds without git or network with its own backend (hatchling).
    if !python_has("hatchling") {
        return;
    }
    let bin = venv(&tmp.path().join("venv-sdist"), true);
    run_ok(
        cmd(bin.join("pip").to_str().unwrap())
            .args([
                "install",
                "-q",
                "--no-index",
                "--no-deps",
                "--no-build-isolation",
            ])
            .arg(&sdist)
            .current_dir(tmp.path()),
    );
    assert_eq!(
        run_ok(cmd(bin.join("mini-flow").to_str().unwrap()).arg("--version")),
        "0.2.0rc1"
    );
}

fn python_has(module: &str) -> bool {
    let ok = run(cmd("python3").args(["-c", &format!("import {module}")]))
        .status
        .success();
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("python module {module} missing (scripts/test.sh installs it)");
        }
        eprintln!("SKIP: python module {module} not installed");
    }
    ok
}

fn compare(a: &Path, b: &Path) -> serde_json::Value {
    let out = run_ok(
        cmd("python3")
            .arg(fixtures().join("compare_dists.py"))
            .arg(a)
            .arg(b),
    );
    serde_json::from_str(&out).unwrap()
}

fn only_dist(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

#[test]
fn native_builder_matches_uv_build_and_hatchling() {
    if !tools(&["python3", "uv"]) || !python_has("hatchling") || !python_has("build") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // kiln: the project below `py/` of a repository with recipes.
    let root = tmp.path().join("repo");
    copy_dir(&fixtures().join("rich"), &root.join("py"), false);
    write(
        &root.join("recipes/s.toml"),
        "surface = \"sdist\"\nsource = \"py\"\n[sdist]\nbackend = \"kiln\"\n",
    );
    write(
        &root.join("recipes/w.toml"),
        "surface = \"wheel\"\nsource = \"py\"\n[wheel]\nbackend = \"kiln\"\n",
    );
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "rich"]);
    run_ok(&mut kiln_in(
        &root,
        &tmp.path().join("store"),
        &["build", "--version", "1.2.0-rc.1"],
    ));
    let k_sdist = root.join("dist/rich_pkg-1.2.0rc1.tar.gz");
    let k_wheel = root.join("dist/rich_pkg-1.2.0rc1-py3-none-any.whl");

    // uv build with its built-in uv_build backend, offline.
    let uv_src = tmp.path().join("uv-src");
    copy_dir(&fixtures().join("rich"), &uv_src, false);
    let uv_out = tmp.path().join("uv-out");
    run_ok(
        cmd("uv")
            .args(["build", "--offline", "--no-config", "-q", "-o"])
            .arg(&uv_out)
            .arg(&uv_src)
            .env("UV_NO_CACHE", "1"),
    );
    let w = compare(&k_wheel, &only_dist(&uv_out, ".whl"));
    // Same files, same contents, same dist-info files.
    assert_eq!(w["only_a"], serde_json::json!([]), "{w}");
    assert_eq!(w["only_b"], serde_json::json!([]), "{w}");
    assert_eq!(w["differ"], serde_json::json!([]), "{w}");
    assert_eq!(w["dist_info_a"], w["dist_info_b"], "{w}");
    // Intended (docs/python.md): an author with an email is listed in
    // Author-email only, as hatchling does.
    assert_eq!(
        w["fields"],
        serde_json::json!({"author": ["Bob", "Ada Lovelace, Bob"]}),
        "{w}"
    );
    let s = compare(&k_sdist, &only_dist(&uv_out, ".tar.gz"));
    // uv_build's sdist holds the module, metadata, readme and licenses only;
    // kiln's holds the recipe's selection (here also tests/), like hatchling.
    assert_eq!(s["only_a"], serde_json::json!(["tests/test_x.py"]), "{s}");
    // uv_build 0.13 reformats pyproject.toml (arrays of tables expanded) and
    // keeps the original as pyproject.toml.orig; kiln keeps the file as
    // written, with only the version stamped.
    assert_eq!(
        s["only_b"],
        serde_json::json!(["pyproject.toml.orig"]),
        "{s}"
    );
    assert_eq!(s["differ"], serde_json::json!(["pyproject.toml"]), "{s}");

    // hatchling through `python -m build --no-isolation`.
    let h_src = tmp.path().join("h-src");
    copy_dir(&fixtures().join("rich"), &h_src, false);
    let pp = std::fs::read_to_string(h_src.join("pyproject.toml")).unwrap();
    write(
        &h_src.join("pyproject.toml"),
        pp.replace(
            "requires = [\"uv_build>=0.8,<0.14\"]",
            "requires = [\"hatchling\"]",
        )
        .replace(
            "build-backend = \"uv_build\"",
            "build-backend = \"hatchling.build\"",
        ),
    );
    let h_out = tmp.path().join("h-out");
    run_ok(
        cmd("python3")
            .args(["-m", "build", "--no-isolation", "-o"])
            .arg(&h_out)
            .arg(&h_src),
    );
    let w = compare(&k_wheel, &only_dist(&h_out, ".whl"));
    assert_eq!(w["only_a"], serde_json::json!([]), "{w}");
    assert_eq!(w["only_b"], serde_json::json!([]), "{w}");
    assert_eq!(w["differ"], serde_json::json!([]), "{w}");
    assert_eq!(w["dist_info_a"], w["dist_info_b"], "{w}");
    let fields = w["fields"].as_object().unwrap();
    // hatchling >= 1.33 writes Metadata-Version 2.5; nothing else differs.
    assert!(fields.keys().all(|k| k == "metadata_version"), "{w}");
    let s = compare(&k_sdist, &only_dist(&h_out, ".tar.gz"));
    assert_eq!(s["only_a"], serde_json::json!([]), "{s}");
    assert_eq!(s["only_b"], serde_json::json!([]), "{s}");
    // pyproject.toml differs only because the hatchling copy names another backend.
    assert_eq!(s["differ"], serde_json::json!(["pyproject.toml"]), "{s}");
}

#[test]
fn native_python_dists_are_byte_reproducible_across_path_tz_umask_file_order_cores_and_reads() {
    if !require_tool("sh") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = mono_with_python(&tmp.path().join("a/mono"), false);
    let b = mono_with_python(&tmp.path().join("elsewhere/deeper/mono"), true);
    // B builds the recipes' commit with `--rev` after a later commit changed
    // a module and the README in its working tree, at one job: its files
    // come from git objects, A's from its working tree (whose bytes hash to
    // the committed blobs), on as many threads as there are cores.
    let commit = run_ok(cmd("git").args(["rev-parse", "HEAD"]).current_dir(&b))
        .trim()
        .to_string();
    write(
        &b.join("python/src/mini_flow/cli.py"),
        "raise SystemExit('later')\n",
    );
    write(&b.join("python/README.md"), "# later\n");
    git(&b, &["commit", "-q", "-am", "later"]);
    let build = |root: &Path, store: &Path, tz: &str, umask: &str, extra: &[&str]| {
        let mut c = cmd("sh");
        c.arg("-c")
            .arg(format!("umask {umask} && exec \"$@\""))
            .arg("sh")
            .arg(common::kiln_bin())
            .arg("-C")
            .arg(root)
            .arg("--store")
            .arg(store)
            .args([
                "build",
                "--version",
                "0.2.0-rc.1",
                "mini-sdist",
                "mini-wheel",
            ])
            .args(extra)
            .env("TZ", tz)
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("KILN_STORE");
        run_ok(&mut c);
    };
    build(&a, &tmp.path().join("s1"), "UTC", "022", &[]);
    build(
        &b,
        &tmp.path().join("s2"),
        "Asia/Kathmandu",
        "077",
        &["-j", "1", "--rev", &commit],
    );
    for f in [
        "mini_flow-0.2.0rc1.tar.gz",
        "mini_flow-0.2.0rc1-py3-none-any.whl",
    ] {
        let x = std::fs::read(a.join("dist").join(f)).unwrap();
        let y = std::fs::read(b.join("dist").join(f)).unwrap();
        assert!(x == y, "{f} differs between the two builds");
    }
}

#[test]
fn bad_python_input_exits_2_naming_the_field_and_registers_nothing() {
    let (tmp, root) = monorepo();
    write(&root.join("recipes/mini-sdist.toml"), SDIST);
    write(&root.join("recipes/mini-wheel.toml"), WHEEL);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "python recipes"]);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(&root, &store, &["build", "docs-bundle"]));
    let realisations = store.join(".kiln/realisations");
    let before = tree_digest(&realisations);
    let pp = std::fs::read_to_string(root.join("python/pyproject.toml")).unwrap();
    let check = |recipe: &str, needles: &[&str]| {
        let o = run(&mut kiln_in(&root, &store, &["build", recipe]));
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{recipe}: {err}");
        for n in needles {
            assert!(
                err.contains(n),
                "{recipe}: error does not mention {n:?}: {err}"
            );
        }
        assert!(
            !root.join("dist").join("SHA256SUMS").exists() || {
                let sums = std::fs::read_to_string(root.join("dist/SHA256SUMS")).unwrap();
                !sums.contains("mini_flow")
            }
        );
    };
    let edit = |text: String, msg: &str| {
        write(&root.join("python/pyproject.toml"), text);
        git(&root, &["commit", "-q", "-am", msg]);
    };
    edit(pp.replace("name = \"mini-flow\"\n", ""), "no name");
    check(
        "mini-sdist",
        &["python/pyproject.toml", "project.name", "missing"],
    );
    edit(
        pp.replace(
            "license = \"MIT\"",
            "license = \"MIT\"\ndependencies = [\"requests >=\"]",
        ),
        "bad dep",
    );
    check(
        "mini-wheel",
        &[
            "python/pyproject.toml",
            "project.dependencies[0]",
            "requests >=",
            "backend mode (`backend = \"pep517\"`) would not accept either",
        ],
    );
    edit(
        pp.replace(
            "mini-flow = \"mini_flow.cli:main\"",
            "mini-flow = \"mini_flow.cli:main [fast\"",
        ),
        "bad entry point",
    );
    check(
        "mini-wheel",
        &[
            "project.scripts.mini-flow",
            "mini_flow.cli:main [fast",
            "would not accept either",
        ],
    );
    edit(
        pp.replace(
            "dynamic = [\"version\"]",
            "dynamic = [\"version\", \"dependencies\"]",
        ),
        "dynamic deps",
    );
    check(
        "mini-wheel",
        &[
            "project.dynamic",
            "dependencies",
            "backend mode would accept the project",
            "backend = \"pep517\"",
        ],
    );
    edit(pp.clone(), "restore");
    write(
        &root.join("recipes/mini-wheel.toml"),
        format!("{WHEEL_AUTO}[wheel]\ntag = \"py3-none-Linux x86_64\"\n"),
    );
    git(&root, &["commit", "-q", "-am", "bad tag"]);
    check(
        "mini-wheel",
        &["recipes/mini-wheel.toml", "wheel.tag", "Linux x86_64"],
    );
    write(
        &root.join("recipes/mini-wheel.toml"),
        format!("{WHEEL_AUTO}[wheel]\npackages = [\"src/nothing\"]\n"),
    );
    git(&root, &["commit", "-q", "-am", "bad package"]);
    check("mini-wheel", &["wheel.packages[0]", "src/nothing"]);
    assert_eq!(
        tree_digest(&realisations),
        before,
        "something was registered"
    );
}

/// `backend = "native"` on a project whose backend kiln does not write
/// exactly (here maturin) is refused while planning, exit 2, naming
/// `pyproject.toml`, the key, the backend and why, and the settings that
/// would build it; nothing is written.
#[test]
fn native_refuses_a_backend_it_does_not_write_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    copy_dir(&fixtures().join("rich"), &root.join("py"), false);
    let pp = std::fs::read_to_string(root.join("py/pyproject.toml")).unwrap();
    write(
        &root.join("py/pyproject.toml"),
        pp.replace(
            "requires = [\"uv_build>=0.8,<0.14\"]",
            "requires = [\"maturin>=1,<2\"]",
        )
        .replace(
            "build-backend = \"uv_build\"",
            "build-backend = \"maturin\"",
        ),
    );
    write(
        &root.join("recipes/w.toml"),
        "surface = \"wheel\"\nsource = \"py\"\n[wheel]\nbackend = \"native\"\n",
    );
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "rich"]);
    let store = tmp.path().join("store");
    for args in [
        &["build", "--version", "1.2.0", "w"][..],
        &["plan", "--version", "1.2.0", "w"][..],
    ] {
        let o = run(&mut kiln_in(&root, &store, args));
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for needle in [
            "py/pyproject.toml",
            "build-system.build-backend",
            "maturin",
            "kiln has no exact writer for build backend `maturin`",
            "recipes/w.toml",
            "backend = \"auto\"",
            "backend = \"pep517\"",
        ] {
            assert!(err.contains(needle), "{args:?}: no {needle:?} in {err}");
        }
    }
    assert!(!root.join("dist").exists());
    assert!(
        !store.join(".kiln/realisations").exists() || {
            std::fs::read_dir(store.join(".kiln/realisations"))
                .unwrap()
                .next()
                .is_none()
        }
    );
}

#[test]
fn platform_wheel_ships_a_binary_from_an_input_as_a_script() {
    if !tools(&["python3", "bwrap", "cargo", "check-wheel-contents"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = monorepo_at(&tmp.path().join("mono"), false);
    write(
        &root.join("recipes/mini-wheel.toml"),
        format!(
            "{WHEEL_AUTO}inputs = {{ bin = \"mini-cli-bin\" }}\n[wheel]\ntag = \"py3-none-linux_x86_64\"\nscripts = {{ mini = \"inputs/bin/target/release/mini\" }}\n"
        ),
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "platform wheel"]);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "0.2.0", "mini-wheel"],
    ));
    let wheel = root.join("dist/mini_flow-0.2.0-py3-none-linux_x86_64.whl");
    let wheel_file = member(&wheel, ".dist-info/WHEEL");
    assert!(
        wheel_file.contains("Root-Is-Purelib: false\nTag: py3-none-linux_x86_64\n"),
        "{wheel_file}"
    );
    let record = member(&wheel, ".dist-info/RECORD");
    assert!(
        record.contains("mini_flow-0.2.0.data/scripts/mini,sha256="),
        "{record}"
    );
    run_ok(cmd("check-wheel-contents").arg(&wheel));
    let bin = venv(&tmp.path().join("venv"), false);
    run_ok(
        cmd(bin.join("pip").to_str().unwrap())
            .args(["install", "-q", "--no-index", "--no-deps"])
            .arg(&wheel),
    );
    let out = run_ok(cmd(bin.join("mini").to_str().unwrap()).arg("wheel"));
    assert!(out.contains("wheel"), "{out}");
}

/// An entry point with extras (`module:attr [extra, ...]`, deprecated but
/// valid) builds natively and is written as hatchling writes it.
#[test]
fn entry_points_with_extras_build_natively_as_hatchling_writes_them() {
    if !require_tool("python3") || !python_has("hatchling") || !python_has("build") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = mono_with_python(&tmp.path().join("m"), false);
    let pp = root.join("python/pyproject.toml");
    let text = std::fs::read_to_string(&pp).unwrap().replace(
        "mini-flow = \"mini_flow.cli:main\"",
        "mini-flow = \"mini_flow.cli:main [fast, colour]\"\n\n[project.entry-points.\"kiln.plugins\"]\nfast = \"mini_flow.cli:fast[fast]\"",
    );
    write(&pp, &text);
    git(&root, &["commit", "-q", "-am", "entry points with extras"]);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(&root, &store, &["build", "mini-wheel"]));
    let ours = member(
        &only_dist(&root.join("dist"), ".whl"),
        ".dist-info/entry_points.txt",
    );
    // hatchling, run directly on the same project.
    let out = tmp.path().join("hatch-out");
    run_ok(
        cmd("python3")
            .args(["-m", "build", "--no-isolation", "--wheel", "--outdir"])
            .arg(&out)
            .arg(root.join("python")),
    );
    let theirs = member(&only_dist(&out, ".whl"), ".dist-info/entry_points.txt");
    assert_eq!(ours, theirs);
    assert!(
        ours.contains("mini-flow = mini_flow.cli:main [fast, colour]\n"),
        "{ours}"
    );
    // importlib.metadata reads the extras back.
    let extras = run_ok(cmd("python3").arg("-c").arg(
        "from importlib.metadata import EntryPoint\nprint(EntryPoint('mini-flow', 'mini_flow.cli:main [fast, colour]', 'console_scripts').extras)",
    ));
    assert_eq!(extras.trim(), "['fast', 'colour']");
}
