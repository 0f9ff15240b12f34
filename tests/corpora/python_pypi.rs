//! Rebuild real PyPI projects from their published sdists — with kiln's
//! native builder (`backend = "native"` for flit_core's and hatchling's
//! wheels, kiln's own writer, `backend = "kiln"`, for the rest), and with
//! each project's own PEP 517 backend (`backend = "pep517"`, the backends
//! preinstalled for offline use) — and
//! compare the wheels with the published ones (file set, contents outside
//! `.dist-info`, metadata fields via `packaging.metadata`).
//!
//! Set-up (the only network use): `tests/fixtures/python/pypi_fetch.py`
//! downloads the sdists and wheels into `target/tmp/pypi-cache`, verified
//! against PyPI's sha256; reruns are offline.

use crate::common;

use std::path::{Path, PathBuf};

use common::fixture::{copy_dir, git};
use common::{cmd, kiln, require_tool, run, run_ok, write};

/// name, published version, the SemVer release kiln builds (kiln's
/// canonical versions have three components, so `3.10` is built as
/// `3.10.0`), backend that published it, whether the native builder accepts
/// the project (static `[project]` metadata) — as observed with these releases.
const PROJECTS: &[(&str, &str, &str, &str, bool)] = &[
    ("idna", "3.10", "3.10.0", "flit-core", true),
    ("packaging", "24.2", "24.2.0", "flit-core", true),
    ("pathspec", "0.12.1", "0.12.1", "flit-core", true),
    ("tomli", "2.2.1", "2.2.1", "flit-core", true),
    ("tomli_w", "1.1.0", "1.1.0", "flit-core", true),
    ("typing_extensions", "4.12.2", "4.12.2", "flit-core", true),
    ("iniconfig", "2.0.0", "2.0.0", "hatchling", true),
    ("sniffio", "1.3.1", "1.3.1", "setuptools", true),
    // metadata in setup.cfg, no [project]: needs the backend
    ("pluggy", "1.5.0", "1.5.0", "setuptools", false),
    // dynamic = ["classifiers"]: needs the backend
    ("poetry-core", "2.1.2", "2.1.2", "poetry-core", false),
];

/// Files a backend generates at build time from a template of its own
/// version, so a rebuild with today's backend differs from the published
/// wheel in them (observed; the report names them either way).
const GENERATED_BY_BACKEND: &[(&str, &str, &str)] = &[
    (
        "pluggy",
        "pluggy/_version.py",
        "written by setuptools-scm (10.3 here) from its template, which changed since the release",
    ),
    (
        "iniconfig",
        "iniconfig/_version.py",
        "written by hatch-vcs through setuptools-scm from its template, which changed since the release",
    ),
];

pub(crate) fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python")
}

/// Projects whose generated file the native builder writes too, as the
/// backend does (kiln writes hatch-vcs's version file writing as hatchling).
const GENERATED_NATIVELY: &[&str] = &["iniconfig"];

fn fetch() -> Option<serde_json::Value> {
    fetch_projects(PROJECTS.iter().map(|(n, v, _, _, _)| (*n, *v)), false)
}

/// Download (or find in the cache) each `(name, version)`'s sdist and pure
/// wheel (with `platform`, the CPython wheel for this interpreter and
/// machine); `None` (a printed skip) when that fails outside CI.
pub(crate) fn fetch_projects<'a>(
    projects: impl Iterator<Item = (&'a str, &'a str)>,
    platform: bool,
) -> Option<serde_json::Value> {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pypi-cache");
    let mut c = cmd("python3");
    c.arg(fixtures().join("pypi_fetch.py")).arg(&cache);
    if platform {
        c.arg("--platform");
    }
    for (n, v) in projects {
        c.arg(format!("{n}=={v}"));
    }
    let out = run(&mut c);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if std::env::var_os("CI").is_some() {
            panic!("fetching PyPI projects failed: {err}");
        }
        eprintln!("SKIP: PyPI not reachable and nothing cached: {err}");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

pub(crate) fn unpack_sdist(sdist: &Path, dest: &Path) {
    let tmp = dest.with_extension("unpack");
    std::fs::create_dir_all(&tmp).unwrap();
    run_ok(cmd("tar").arg("-xzf").arg(sdist).arg("-C").arg(&tmp));
    let top = std::fs::read_dir(&tmp)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    copy_dir(&top, dest, false);
}

/// Build every project's sdist and wheel (natively, or with its backend when
/// `backend` is set) and compare the wheel with the published one. Returns
/// the report lines and the failures.
fn rebuild(backend: bool) -> Option<(Vec<String>, Vec<String>)> {
    if !require_tool("python3") || !require_tool("tar") || (backend && !require_tool("bwrap")) {
        return None;
    }
    let paths = fetch()?;
    let tmp = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (name, version, semver, published_by, native) in PROJECTS {
        let root = tmp.path().join(name);
        unpack_sdist(
            Path::new(paths[name]["sdist"].as_str().unwrap()),
            &root.join("py"),
        );
        // Top-level tests/ hold vendored pyproject.toml fixtures (poetry-core).
        let common = "source = \"py\"\nexclude = [\"tests/**\"]\n";
        for (recipe, surface) in [("w", "wheel"), ("s", "sdist")] {
            // Natively: flit_core's and hatchling's wheels as their backend
            // writes them (`native`; their sdists, which kiln does not
            // write as the backend does, with kiln's own writer), every
            // other with kiln's own PEP 621 writer.
            let mode = match (backend, *published_by, surface) {
                (true, _, _) => "pep517",
                (false, "flit-core" | "hatchling", "wheel") => "native",
                (false, _, _) => "kiln",
            };
            let table = format!("[{surface}]\nbackend = \"{mode}\"\n");
            write(
                &root.join(format!("recipes/{recipe}.toml")),
                format!("surface = \"{surface}\"\n{common}{table}"),
            );
        }
        git(&root, &["init", "-q"]);
        git(&root, &["add", "-A", "-f"]);
        git(&root, &["commit", "-q", "-m", "sdist"]);
        let out = run(kiln()
            .arg("-C")
            .arg(&root)
            .arg("--store")
            .arg(tmp.path().join("store"))
            .args(["build", "--version", semver])
            .env_remove("SOURCE_DATE_EPOCH"));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let label = format!("{name} {version} ({published_by})");
        if !backend && !native {
            if out.status.code() != Some(2)
                || !err.contains("pyproject.toml")
                || !err.contains("backend = \"pep517\"")
            {
                failures.push(format!(
                    "{name}: expected exit 2 naming pyproject.toml and backend mode, got {:?}: {err}",
                    out.status.code()
                ));
            }
            report.push(format!("{label}: refused, exit 2: {}", err.trim()));
            continue;
        }
        if !out.status.success() {
            failures.push(format!("{name}: kiln failed: {err}"));
            report.push(format!("{label}: FAILED: {}", err.trim()));
            continue;
        }
        let wheel = std::fs::read_dir(root.join("dist"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .unwrap();
        let cmp = run_ok(
            cmd("python3")
                .arg(fixtures().join("compare_dists.py"))
                .arg(&wheel)
                .arg(paths[name]["wheel"].as_str().unwrap())
                .args(backend.then_some("backend")),
        );
        let v: serde_json::Value = serde_json::from_str(&cmp).unwrap();
        let same_files =
            v["only_a"] == serde_json::json!([]) && v["only_b"] == serde_json::json!([]);
        let same_contents = v["differ"] == serde_json::json!([]);
        report.push(format!(
            "{label}: {}; files {}, contents {}; kiln-only {}, published-only {}, differing {}; metadata fields differing: {}",
            wheel.file_name().unwrap().to_string_lossy(),
            if same_files { "match" } else { "DIFFER" },
            if same_contents { "match" } else { "DIFFER" },
            v["only_a"],
            v["only_b"],
            v["differ"],
            v["fields"].as_object().unwrap().keys().cloned().collect::<Vec<_>>().join(", "),
        ));
        let unexplained: Vec<&str> = v["differ"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d.as_str())
            .filter(|d| {
                !((backend || GENERATED_NATIVELY.contains(name))
                    && GENERATED_BY_BACKEND
                        .iter()
                        .any(|(n, f, _)| n == name && f == d))
            })
            .collect();
        for (_, f, why) in GENERATED_BY_BACKEND
            .iter()
            .filter(|(n, _, _)| (backend || GENERATED_NATIVELY.contains(n)) && n == name)
        {
            report.push(format!("  {f}: {why}"));
        }
        if !unexplained.is_empty() {
            failures.push(format!("{name}: contents differ: {unexplained:?}"));
        }
    }
    Some((report, failures))
}

fn assert_clean(what: &str, (report, failures): (Vec<String>, Vec<String>)) {
    eprintln!("{what}:\n{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n\nreport:\n{}",
        failures.join("\n"),
        report.join("\n")
    );
}

#[test]
fn native_rebuilds_of_published_pypi_sdists_match_the_published_wheels() {
    if let Some(r) = rebuild(false) {
        assert_clean("native", r);
    }
}

#[test]
fn backend_rebuilds_of_published_pypi_sdists_match_the_published_wheels() {
    if let Some(r) = rebuild(true) {
        assert_clean("backend mode", r);
    }
}
