//! kiln's native builder writing flit_core wheels, against flit_core itself:
//! for each project of `tests/fixtures/python/flit/` (configurations
//! `backend = "auto"` builds natively), `kiln plan` says the native builder
//! writes as flit_core, and the wheel kiln builds has flit_core's file name
//! and, file for file, flit_core's bytes (`python -m build --no-isolation`
//! with the installed flit_core) — except `WHEEL`'s `Generator` line, which
//! names kiln, and so `RECORD`'s line for `WHEEL`.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::fixture::{copy_dir, git};
use common::{cmd, kiln, require_tool, run, run_ok, write};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python/flit")
}

/// A wheel's members, name → bytes (via Python's `zipfile`).
fn members(wheel: &Path) -> BTreeMap<String, Vec<u8>> {
    let script = "import sys, zipfile, json\nz = zipfile.ZipFile(sys.argv[1])\nprint(json.dumps({i.filename: z.read(i).hex() for i in z.infolist() if not i.is_dir()}))\n";
    let out = run_ok(cmd("python3").args(["-c", script]).arg(wheel));
    let v: BTreeMap<String, String> = serde_json::from_str(&out).unwrap();
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

/// `WHEEL` without its `Generator` line; `RECORD` without the lines of
/// `WHEEL` and `RECORD`, sorted (flit_core and kiln order entries apart).
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
        let mut lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains(".dist-info/WHEEL,") && !l.contains(".dist-info/RECORD,"))
            .collect();
        lines.sort();
        return lines.join("\n");
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

fn flit_core_installed() -> bool {
    let ok = run(cmd("python3").args(["-c", "import flit_core, build"]))
        .status
        .success();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "flit_core and build must be installed for python3"
        );
        eprintln!("SKIP: flit_core or build is not installed for python3");
    }
    ok
}

/// Build `project` with kiln (auto) and with flit_core; the differences.
fn compare(project: &str, tmp: &Path) -> Vec<String> {
    let root = tmp.join(project);
    copy_dir(&fixtures().join(project), &root.join("py"), false);
    write(
        &root.join("recipes/w.toml"),
        "surface = \"wheel\"\nsource = \"py\"\n[wheel]\nbackend = \"auto\"\n",
    );
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "project"]);
    let store = tmp.join(format!("store-{project}"));
    let kiln_at = |args: &[&str]| {
        let mut c = kiln();
        c.arg("-C").arg(&root).arg("--store").arg(&store).args(args);
        c.env("SOURCE_DATE_EPOCH", "1700000000");
        c
    };
    let plan = run_ok(&mut kiln_at(&["plan", "--version", "1.2.0-rc.1"]));
    assert!(
        plan.contains("builder: native:flit_core-3.12.0 (auto: "),
        "{project}: {plan}"
    );
    run_ok(&mut kiln_at(&["build", "--version", "1.2.0-rc.1"]));
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
            "{project}: file name {:?} vs flit_core's {:?}",
            ours.file_name(),
            theirs.file_name()
        ));
    }
    let (a, b) = (members(&ours), members(&theirs));
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    if names(&a) != names(&b) {
        diffs.push(format!(
            "{project}: files {:?} vs {:?}",
            names(&a),
            names(&b)
        ));
    }
    for (name, data) in &a {
        let Some(other) = b.get(name) else { continue };
        let (x, y) = (comparable(name, data), comparable(name, other));
        if x != y {
            diffs.push(format!(
                "{project}: {name} differs:\n--- kiln\n{x}\n--- flit_core\n{y}"
            ));
        }
    }
    diffs
}

#[test]
fn auto_builds_flit_core_projects_natively_with_flit_cores_bytes() {
    if !require_tool("python3") || !flit_core_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut diffs = Vec::new();
    for project in ["modern", "legacy", "module"] {
        diffs.extend(compare(project, tmp.path()));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
}
