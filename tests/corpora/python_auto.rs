//! The corpus measure of issue 23: published projects rebuilt from their
//! sdists as git repositories, by kiln with `backend = "auto"` and by
//! `python -m build --no-isolation` with the same (installed) backends, each
//! wheel compared with the one on PyPI. Columns, per builder: the wheel
//! was built; the file lists equal (payload and `.dist-info/` names); the
//! payload contents equal; the METADATA fields equal (`packaging.metadata`;
//! `3.10` and `3.10.0` are one version). kiln must be at least the front
//! end on every column of every project; auto's choice for each project is
//! a snapshot ([`PROJECTS`]); every difference from the published wheel
//! left is named in [`KNOWN`] with its reason, and an unnamed one fails.
//!
//! Downloads are cached (`target/tmp/pypi-cache`, verified against PyPI's
//! sha256; backends the interpreter lacks, [`WITH_WHEELS`], as wheels
//! `pip download` fetched into `pypi-cache/backend-wheels/`) and reruns are
//! offline; under `CI` a failed fetch fails.
//!
//! Projects with a compiled extension ([`PLATFORM`]: setuptools with C,
//! maturin with Rust, whose crates `cargo fetch` brings into the user's
//! cargo cache first) are compared with the published CPython wheel for
//! this interpreter; their compiled modules differ from it for both
//! builders (another compiler built it), and kiln's from the front end's
//! by design (no host path, no RUNPATH).

use crate::common;

use std::path::{Path, PathBuf};

use common::fixture::{copy_dir, git};
use common::{cmd, kiln, require_tool, run, write};

use super::python_pypi::{fetch_projects, fixtures, unpack_sdist};

/// name, published version, the SemVer release kiln builds, the backend,
/// and auto's choice for the wheel (`kiln plan`) — the snapshot.
#[rustfmt::skip]
const PROJECTS: &[(&str, &str, &str, &str, &str)] = &[
    ("idna", "3.10", "3.10.0", "flit_core", "native:flit_core-3.12.0"),
    ("packaging", "24.2", "24.2.0", "flit_core", "native:flit_core-3.12.0"),
    ("pathspec", "0.12.1", "0.12.1", "flit_core", "native:flit_core-3.12.0"),
    ("tomli", "2.2.1", "2.2.1", "flit_core", "native:flit_core-3.12.0"),
    ("tomli_w", "1.1.0", "1.1.0", "flit_core", "native:flit_core-3.12.0"),
    ("typing_extensions", "4.12.2", "4.12.2", "flit_core", "native:flit_core-3.12.0"),
    ("pyproject_hooks", "1.2.0", "1.2.0", "flit_core", "backend"),
    ("installer", "0.7.0", "0.7.0", "flit_core", "backend"),
    ("wheel", "0.45.1", "0.45.1", "flit_core", "native:flit_core-3.12.0"),
    ("jinja2", "3.1.4", "3.1.4", "flit_core", "native:flit_core-3.12.0"),
    ("itsdangerous", "2.2.0", "2.2.0", "flit_core", "native:flit_core-3.12.0"),
    ("blinker", "1.9.0", "1.9.0", "flit_core", "native:flit_core-3.12.0"),
    ("click", "8.1.8", "8.1.8", "flit_core", "native:flit_core-3.12.0"),
    ("pyparsing", "3.2.0", "3.2.0", "flit_core", "backend"),
    ("iniconfig", "2.0.0", "2.0.0", "hatchling + hatch-vcs", "native:hatchling-1.33.0"),
    ("platformdirs", "4.3.6", "4.3.6", "hatchling + hatch-vcs", "native:hatchling-1.33.0"),
    ("filelock", "3.16.1", "3.16.1", "hatchling + hatch-vcs", "native:hatchling-1.33.0"),
    ("colorama", "0.4.6", "0.4.6", "hatchling", "native:hatchling-1.33.0"),
    ("annotated-types", "0.7.0", "0.7.0", "hatchling", "native:hatchling-1.33.0"),
    ("attrs", "24.2.0", "24.2.0", "hatchling + hatch-vcs + hatch-fancy-pypi-readme", "backend"),
    ("sniffio", "1.3.1", "1.3.1", "setuptools (pyproject.toml)", "backend"),
    ("pluggy", "1.5.0", "1.5.0", "setuptools (setup.cfg) + setuptools-scm", "backend"),
    ("six", "1.16.0", "1.16.0", "setuptools (setup.py)", "backend"),
    ("certifi", "2024.8.30", "2024.8.30", "setuptools (setup.py)", "backend"),
    ("pytz", "2024.2", "2024.2.0", "setuptools (setup.py)", "backend"),
    ("zipp", "3.21.0", "3.21.0", "setuptools (pyproject.toml) + setuptools-scm", "backend"),
    ("importlib_metadata", "8.5.0", "8.5.0", "setuptools (pyproject.toml) + setuptools-scm", "backend"),
    ("websocket-client", "1.8.0", "1.8.0", "setuptools (setup.py, no [build-system])", "backend"),
    ("poetry-core", "2.1.2", "2.1.2", "poetry-core", "backend"),
    ("tomlkit", "0.13.2", "0.13.2", "poetry-core", "backend"),
    ("unearth", "0.19.0", "0.19.0", "pdm-backend", "native:pdm-backend-2.5.0"),
    ("pbs-installer", "2026.10.25", "2026.10.25", "pdm-backend", "native:pdm-backend-2.5.0"),
    ("typer", "0.29.3", "0.29.3", "pdm-backend", "native:pdm-backend-2.5.0"),
    ("foamlib", "1.9.0", "1.9.0", "uv_build", "native:uv_build-0.13.6"),
    ("poetry-plugin-export", "1.10.1", "1.10.1", "poetry-core", "native:poetry-core-2.5.0"),
    ("poetry", "2.2.1", "2.2.1", "poetry-core", "native:poetry-core-2.5.0"),
];

/// A row of [`WITH_WHEELS`]: a row of [`PROJECTS`] and the backend's wheels.
type WheelsRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

/// Projects whose backend the interpreter lacks: as [`PROJECTS`], and the
/// backend's wheels, pinned (downloaded from PyPI into the cache).
#[rustfmt::skip]
const WITH_WHEELS: &[WheelsRow] = &[
    ("findpython", "0.9.0", "0.9.0", "pdm-backend", "native:pdm-backend-2.5.0", &["pdm-backend==2.5.0"]),
    ("dep-logic", "0.7.2", "0.7.2", "pdm-backend", "native:pdm-backend-2.5.0", &["pdm-backend==2.5.0"]),
    ("fastapi-cli", "0.0.34", "0.0.34", "pdm-backend", "native:pdm-backend-2.5.0", &["pdm-backend==2.5.0"]),
    ("uv-secure", "0.17.2", "0.17.2", "uv_build", "native:uv_build-0.13.6", &["uv_build==0.10.12"]),
    ("xdg-base-dirs", "6.0.3", "6.0.3", "uv_build", "native:uv_build-0.13.6", &["uv_build==0.12.24"]),
    ("tensora", "0.6.0", "0.6.0", "uv_build", "native:uv_build-0.13.6", &["uv_build==0.12.24"]),
];

/// Projects with a compiled extension — C (setuptools' `ext_modules`) or
/// Rust (maturin, its crates fetched into the user's cargo cache first, as
/// a release engineer's `cargo fetch` would) — as [`WITH_WHEELS`]: their
/// platform wheels are built with `tools = ["gcc", "as", "ld"]` and
/// compared with the published CPython wheel for this interpreter
/// (`cp311-cp311-manylinux…`).
#[rustfmt::skip]
const PLATFORM: &[WheelsRow] = &[
    ("wrapt", "1.17.2", "1.17.2", "setuptools (setup.py, C extension)", "backend", &[]),
    ("simplejson", "3.19.3", "3.19.3", "setuptools (setup.py, C extension)", "backend", &[]),
    ("markupsafe", "3.0.2", "3.0.2", "setuptools (pyproject.toml, C extension)", "backend", &["setuptools==75.8.0"]),
    ("rpds-py", "0.22.3", "0.22.3", "maturin (PyO3)", "backend", &[]),
];

/// flit_core projects whose published wheel an older flit_core made.
const OLD_FLIT: &[&str] = &[
    "idna",
    "packaging",
    "pathspec",
    "tomli",
    "tomli_w",
    "typing_extensions",
    "pyproject_hooks",
    "installer",
    "wheel",
    "jinja2",
    "itsdangerous",
    "blinker",
    "click",
    "pyparsing",
];

/// Differences from the published wheel that remain — the same for kiln
/// and the front end (checked), because today's backend is not the one
/// that published: (projects, column, reason).
#[rustfmt::skip]
const KNOWN: &[(&[&str], &str, &str)] = &[
    (OLD_FLIT, "files", "flit_core 3.12 puts license files in .dist-info/licenses/ (PEP 639); the older flit_core that published the wheel put them beside METADATA"),
    (OLD_FLIT, "fields", "flit_core 3.12 writes Metadata-Version 2.4 with License-File; the older flit_core wrote 2.1/2.3 without it"),
    (&["iniconfig", "platformdirs", "filelock", "pluggy"], "contents", "the version file is generated at build time by setuptools-scm 10.3 (directly, or through hatch-vcs 0.5; kiln writes hatch-vcs's as it does) from a template that changed since the release; the version in it is the same"),
    (&["iniconfig", "platformdirs", "filelock", "annotated-types", "attrs"], "fields", "hatchling 1.33 writes a newer Metadata-Version than the release's hatchling"),
    (&["colorama"], "fields", "hatchling 1.33 (and kiln, writing as it does) writes Metadata-Version 2.5 and the SPDX `license` as License-Expression"),
    (&["sniffio", "pytz"], "fields", "setuptools 65.5 ends the description with one more newline than the release's setuptools"),
    (&["six"], "fields", "setuptools 65.5 ends the description with one more newline and lists License-File, which the release's setuptools did not"),
    (&["importlib_metadata"], "fields", "setuptools 65.5 writes `Name: importlib-metadata` (its safe_name turns `_` into `-`); the release's setuptools kept the declared `importlib_metadata`"),
    (&["websocket-client"], "files", "setuptools 65.5 does not ship `py.typed` unless package_data names it; the release's setuptools (69 and later) includes type information by default"),
    (&["tomlkit"], "files", "poetry-core 2.5 puts LICENSE in .dist-info/licenses/ (PEP 639)"),
    (&["wrapt", "simplejson", "markupsafe"], "contents", "the published extension module was compiled in a manylinux image by another gcc against another CPython build and rewritten by `auditwheel repair`; a rebuild compiles it with this machine's gcc against this interpreter's headers (every other file is the same)"),
    (&["markupsafe"], "fields", "setuptools 75.8 writes Metadata-Version 2.2; the release's setuptools 75.2 wrote 2.1"),
    (&["rpds-py"], "files", "maturin 1.16 adds a CycloneDX SBOM (.dist-info/sboms/) the release's maturin did not write"),
    (&["rpds-py"], "contents", "the published extension module was compiled by another rustc in a manylinux image; a rebuild compiles it with this machine's toolchain"),
    (&["poetry"], "fields", "poetry-core 2.5 (and kiln, writing as it does) adds the Python 3.15 classifier to the computed ones; the release's poetry-core 2.2.1 stopped at 3.14"),
    (&["tomlkit"], "fields", "poetry-core 2.5 writes Metadata-Version 2.4 with License-File, classifiers for Python 3.13-3.15 and a Homepage URL the release's poetry-core did not"),
];

/// One builder's result for a project.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    built: bool,
    files: bool,
    contents: bool,
    fields: bool,
}

impl Row {
    fn cells(self) -> [bool; 4] {
        [self.built, self.files, self.contents, self.fields]
    }
}

const COLUMNS: [&str; 4] = ["built", "files", "contents", "fields"];

fn only_whl(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
}

/// What differs in each column (empty: nothing).
type Notes = [String; 4];

/// Compare a built wheel with the published one.
fn judge(wheel: Option<PathBuf>, published: &str, notes: &mut Notes) -> Row {
    let Some(wheel) = wheel else {
        return Row::default();
    };
    let out = run(cmd("python3")
        .arg(fixtures().join("compare_dists.py"))
        .arg(&wheel)
        .arg(published)
        .arg("backend"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let empty = |k: &str| v[k].as_array().is_some_and(|a| a.is_empty());
    let files = empty("only_a") && empty("only_b") && v["dist_info_a"] == v["dist_info_b"];
    let fields: Vec<String> = v["fields"].as_object().unwrap().keys().cloned().collect();
    if !files {
        notes[1] = format!(
            "built-only {} published-only {} dist-info {} vs {}",
            v["only_a"], v["only_b"], v["dist_info_a"], v["dist_info_b"]
        );
    }
    if !empty("differ") {
        notes[2] = v["differ"].to_string();
    }
    if !fields.is_empty() {
        notes[3] = fields.join(", ");
    }
    Row {
        built: true,
        files,
        contents: empty("differ"),
        fields: fields.is_empty(),
    }
}

/// kiln (auto) on the project's git repository: its choice and its row.
fn kiln_row(
    root: &Path,
    store: &Path,
    semver: &str,
    published: &str,
    wheels: Option<&Path>,
) -> (String, Row, Notes, Option<PathBuf>) {
    let at = |args: &[&str]| {
        let mut c = kiln();
        c.arg("-C").arg(root).arg("--store").arg(store).args(args);
        c.env_remove("SOURCE_DATE_EPOCH");
        match wheels {
            Some(dir) => c.env("KILN_PYTHON_WHEELS", dir),
            None => c.env_remove("KILN_PYTHON_WHEELS"),
        };
        c
    };
    let plan = run(&mut at(&["plan", "--json", "--version", semver]));
    let choice = serde_json::from_slice::<serde_json::Value>(&plan.stdout)
        .ok()
        .and_then(|v| {
            v["recipes"][0]["python_builder"]["mode"]
                .as_str()
                .map(String::from)
        })
        .unwrap_or_else(|| format!("plan failed: {}", String::from_utf8_lossy(&plan.stderr)));
    let out = run(&mut at(&["build", "--version", semver]));
    let mut notes = Notes::default();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        notes[0] = format!("failed: {}", err.lines().last().unwrap_or("").trim());
    }
    let wheel = only_whl(&root.join("dist"));
    let row = judge(wheel.clone(), published, &mut notes);
    (choice, row, notes, wheel)
}

/// `python -m build --no-isolation --wheel` on a copy of the sdist, with
/// `python` (the interpreter, or a venv holding the backend's wheels).
fn frontend_row(
    python: &Path,
    sdist_tree: &Path,
    out: &Path,
    published: &str,
) -> (Row, Notes, Option<PathBuf>) {
    // The venv's bin/ on PATH, as an isolated build environment has it
    // (uv_build runs the `uv-build` binary its wheel installs there).
    let bin = python.parent().filter(|d| !d.as_os_str().is_empty());
    let path = std::env::join_paths(bin.map(Path::to_path_buf).into_iter().chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let built = run(cmd(python.to_str().unwrap())
        .env("PATH", path)
        .args(["-m", "build", "--no-isolation", "--wheel", "-o"])
        .arg(out)
        .arg(sdist_tree)
        .env_remove("SOURCE_DATE_EPOCH"));
    let mut notes = Notes::default();
    if !built.status.success() {
        notes[0] = "failed".to_string();
    }
    let wheel = only_whl(out);
    let row = judge(wheel.clone(), published, &mut notes);
    (row, notes, wheel)
}

/// kiln's wheel against the front end's: same files, contents and fields
/// (`None` when either was not built). A platform wheel's compiled modules
/// and the RECORD lines hashing them differ by design: kiln maps the
/// interpreter's prefix out of their debug information and drops the
/// interpreter's RUNPATH, which the front end's modules carry — every
/// other file must be the same.
fn same_as_frontend(
    kiln: Option<PathBuf>,
    frontend: Option<PathBuf>,
    platform: bool,
) -> Option<(bool, String)> {
    let (a, b) = (kiln?, frontend?);
    let mut notes = Notes::default();
    let r = judge(Some(a.clone()), b.to_str().unwrap(), &mut notes);
    let contents = r.contents
        || (platform && {
            let out = common::run_ok(
                cmd("python3")
                    .arg(fixtures().join("same_files.py"))
                    .arg(&a)
                    .arg(&b),
            );
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            v["differ"].as_array().unwrap().iter().all(|d| {
                let d = d.as_str().unwrap();
                // maturin's SBOM names the crate by its build directory.
                [".so", ".dist-info/RECORD", ".cyclonedx.json"]
                    .iter()
                    .any(|s| d.ends_with(s))
            })
        });
    Some((r.files && contents && r.fields, notes.join(" ")))
}

/// Check one project's columns: kiln at least the front end, every
/// difference from the published wheel named and the front end's too.
fn check_columns(name: &str, k: (Row, &Notes), f: (Row, &Notes), out: &mut Report) {
    for (i, (kc, fc)) in k.0.cells().iter().zip(f.0.cells()).enumerate() {
        out.totals.0[i] += usize::from(*kc);
        out.totals.1[i] += usize::from(fc);
        let (kn, fnote) = (&k.1[i], &f.1[i]);
        if fc && !kc {
            out.failures.push(format!(
                "{name}: kiln is worse than the front end on `{}`: {kn}",
                COLUMNS[i]
            ));
        }
        if *kc {
            continue;
        }
        let named = KNOWN
            .iter()
            .any(|(n, c, _)| n.contains(&name) && *c == COLUMNS[i]);
        if !named {
            out.failures.push(format!(
                "{name}: `{}` differs from the published wheel, unnamed: kiln: {kn}; front end: {fnote}",
                COLUMNS[i]
            ));
        } else if kn != fnote {
            // A named difference is the backend's: the front end's is the same.
            out.failures.push(format!(
                "{name}: `{}`: kiln's difference is not the front end's: kiln: {kn}; front end: {fnote}",
                COLUMNS[i]
            ));
        }
        out.table.push(format!("  {name} {}: {kn}", COLUMNS[i]));
    }
}

#[derive(Default)]
struct Report {
    table: Vec<String>,
    failures: Vec<String>,
    totals: ([usize; 4], [usize; 4]),
    same: usize,
}

/// A project of the corpus: name, published version, the SemVer release
/// kiln builds, the backend, auto's choice for the wheel (the snapshot),
/// and the backend's wheels from PyPI when the interpreter lacks them.
struct Project<'a> {
    name: &'a str,
    version: &'a str,
    semver: &'a str,
    backend: &'a str,
    expected: &'a str,
    wheels: &'a [&'a str],
    /// A C extension: built with gcc, compared with the platform wheel.
    platform: bool,
}

impl<'a> Project<'a> {
    fn of(row: &'a WheelsRow, platform: bool) -> Self {
        let &(name, version, semver, backend, expected, wheels) = row;
        Project {
            name,
            version,
            semver,
            backend,
            expected,
            wheels,
            platform,
        }
    }
}

#[test]
fn auto_rebuilds_of_published_sdists_match_the_front_end_or_better() {
    let projects: Vec<Project<'_>> = PROJECTS
        .iter()
        .map(|&(name, version, semver, backend, expected)| Project {
            name,
            version,
            semver,
            backend,
            expected,
            wheels: &[],
            platform: false,
        })
        .collect();
    corpus(&projects);
}

/// The projects whose backend the interpreter lacks, each with its
/// backend's wheels (`pip download` into the cache): the front end runs in
/// a venv they are installed into, kiln reads them as the declared
/// directory of wheels (`host-inputs = ["python-wheels"]`).
#[test]
fn auto_rebuilds_with_backends_from_pypi_wheels_match_the_front_end_or_better() {
    let projects: Vec<Project<'_>> = WITH_WHEELS.iter().map(|r| Project::of(r, false)).collect();
    corpus(&projects);
}

/// Setuptools projects with a C extension ([`PLATFORM`]): kiln builds the
/// platform wheel in the sandbox with the declared compiler, the front end
/// on the host; both are compared with the published CPython wheel.
#[test]
fn auto_rebuilds_of_c_extension_projects_match_the_front_end_or_better() {
    if !["gcc", "as", "ld", "cargo", "maturin"]
        .iter()
        .all(|t| require_tool(t))
    {
        return;
    }
    let projects: Vec<Project<'_>> = PLATFORM.iter().map(|r| Project::of(r, true)).collect();
    corpus(&projects);
}

/// The wheels of `requirements` (exact pins), from the cache or PyPI.
fn backend_wheels(requirements: &[&str]) -> Option<PathBuf> {
    common::python::pip_download(requirements)
}

/// `cargo fetch --locked` of a Rust extension's crates into the user's
/// cargo cache (the only network use; cached for reruns); `false` (a
/// printed skip) when that fails outside CI.
fn cargo_fetch(project: &Path) -> bool {
    let out = run(cmd("cargo")
        .args(["fetch", "--locked", "--manifest-path"])
        .arg(project.join("Cargo.toml")));
    if out.status.success() {
        return true;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        std::env::var_os("CI").is_none(),
        "cargo fetch in {} failed: {err}",
        project.display()
    );
    eprintln!("SKIP: cargo fetch failed and nothing cached: {err}");
    false
}

/// A venv over the interpreter's site-packages with `wheels` installed
/// (offline): the front end's environment for a backend it lacks.
fn frontend_venv(dir: &Path, wheels: &Path) -> PathBuf {
    common::run_ok(
        cmd("python3")
            .args(["-m", "venv", "--system-site-packages"])
            .arg(dir),
    );
    let files: Vec<PathBuf> = std::fs::read_dir(wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    common::run_ok(
        cmd(dir.join("bin/pip").to_str().unwrap())
            .args([
                "install",
                "-q",
                "--no-index",
                "--no-deps",
                "--disable-pip-version-check",
            ])
            .args(&files),
    );
    dir.join("bin/python")
}

fn corpus(projects: &[Project<'_>]) {
    if !require_tool("python3") || !require_tool("bwrap") || !require_tool("tar") {
        return;
    }
    let platform = projects.iter().any(|p| p.platform);
    let Some(paths) = fetch_projects(projects.iter().map(|p| (p.name, p.version)), platform) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut rep = Report::default();
    let mut venvs: std::collections::BTreeMap<PathBuf, PathBuf> = Default::default();
    rep.table.push(format!(
        "| project | backend | auto | kiln: {} | front end: {} | kiln = front end |",
        COLUMNS.join(" / "),
        COLUMNS.join(" / ")
    ));
    for p in projects {
        let Project {
            name,
            version,
            semver,
            backend,
            expected,
            wheels,
            platform,
        } = p;
        let (wheel_dir, python) = if wheels.is_empty() {
            (None, PathBuf::from("python3"))
        } else {
            let Some(dir) = backend_wheels(wheels) else {
                return;
            };
            // One venv per set of backend wheels.
            let python = venvs
                .entry(dir.clone())
                .or_insert_with(|| frontend_venv(&tmp.path().join(format!("{name}.venv")), &dir))
                .clone();
            (Some(dir), python)
        };
        let published = paths[name]["wheel"].as_str().unwrap();
        let root = tmp.path().join(name);
        unpack_sdist(
            Path::new(paths[name]["sdist"].as_str().unwrap()),
            &root.join("py"),
        );
        if *platform && root.join("py/Cargo.toml").is_file() && !cargo_fetch(&root.join("py")) {
            return;
        }
        let fe_tree = tmp.path().join(format!("{name}.fe"));
        copy_dir(&root.join("py"), &fe_tree, false);
        let host = if wheel_dir.is_some() {
            "host-inputs = [\"python-wheels\"]\n"
        } else {
            ""
        };
        let compiler = if *platform {
            "tools = [\"gcc\", \"as\", \"ld\"]\n"
        } else {
            ""
        };
        write(
            &root.join("recipes/w.toml"),
            format!("surface = \"wheel\"\nsource = \"py\"\nexclude = [\"tests/**\"]\n[wheel]\nbackend = \"auto\"\n{host}{compiler}"),
        );
        git(&root, &["init", "-q"]);
        git(&root, &["add", "-A", "-f"]);
        git(&root, &["commit", "-q", "-m", "sdist"]);
        let (choice, k, knotes, kw) = kiln_row(
            &root,
            &tmp.path().join("store"),
            semver,
            published,
            wheel_dir.as_deref(),
        );
        let (f, fnotes, fw) = frontend_row(
            &python,
            &fe_tree,
            &tmp.path().join(format!("{name}.out")),
            published,
        );
        if choice != *expected {
            rep.failures.push(format!(
                "{name}: auto chose {choice}, the snapshot says {expected}"
            ));
        }
        let same = match same_as_frontend(kw, fw, *platform) {
            Some((true, _)) => {
                rep.same += 1;
                "yes".to_string()
            }
            Some((false, why)) => {
                rep.failures.push(format!(
                    "{name}: kiln's wheel is not the front end's: {why}"
                ));
                format!("NO: {why}")
            }
            None => "-".to_string(),
        };
        let show = |r: Row| {
            r.cells()
                .iter()
                .map(|c| if *c { "yes" } else { "NO" })
                .collect::<Vec<_>>()
                .join(" / ")
        };
        rep.table.push(format!(
            "| {name} {version} | {backend} | {choice} | {} | {} | {same} |",
            show(k),
            show(f)
        ));
        check_columns(name, (k, &knotes), (f, &fnotes), &mut rep);
    }
    let Report {
        mut table,
        failures,
        totals,
        same,
    } = rep;
    table.push(format!(
        "| total ({}) | | | {} | {} | {same} |",
        projects.len(),
        totals.0.map(|n| n.to_string()).join(" / "),
        totals.1.map(|n| n.to_string()).join(" / ")
    ));
    for (n, c, why) in KNOWN {
        table.push(format!("  {} {c}: {why}", n.join(", ")));
    }
    eprintln!("{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n\n{}",
        failures.join("\n"),
        table.join("\n")
    );
}
