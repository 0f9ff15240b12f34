//! kiln's native builder writing hatchling wheels, against hatchling
//! itself: for each project of `tests/fixtures/python/hatch/` but `hooked`
//! (configurations `backend = "auto"` builds natively), `kiln plan` says
//! the native builder writes as hatchling, and the wheel kiln builds has
//! hatchling's file name and, file for file and in hatchling's order,
//! hatchling's bytes (`python -m build --no-isolation` with the installed
//! hatchling 1.33, and hatch-vcs 0.5 for `vcs`'s version file) — except `WHEEL`'s `Generator` line, which names kiln,
//! and so `RECORD`'s line for `WHEEL`. `hooked` (a custom build hook) is
//! built by hatchling, and `kiln plan` says why.

use crate::common;

use super::emulated::{installed, kiln_at, members, only_whl};

use std::path::{Path, PathBuf};

use common::fixture::copy_dir;
use common::{require_tool, run_ok, write};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python/hatch")
}

fn hatchling_installed() -> bool {
    installed(
        "import hatchling.__about__ as a, build; assert a.__version__ == '1.33.0', a.__version__",
        "hatchling 1.33.0",
    )
}

/// The fixture `project` as a committed workspace with a wheel recipe,
/// with files its `.gitignore` ignores committed too (hatchling leaves
/// them out all the same).
fn workspace(project: &str, tmp: &Path) -> PathBuf {
    let root = tmp.join(project);
    copy_dir(&fixtures().join(project), &root.join("py"), false);
    if project == "srclayout" {
        write(
            &root.join("py/src/demo_pkg/build/out.txt"),
            "ignored by .gitignore\n",
        );
        write(&root.join("py/src/demo_pkg/notes.log"), "a log\n");
        write(&root.join("py/src/demo_pkg/stale.pyc"), "bytecode\n");
    }
    super::emulated::commit_wheel_project(root, "auto")
}

/// Build `project` with kiln (auto) and with hatchling; the differences.
fn compare(project: &str, tmp: &Path) -> Vec<String> {
    let root = workspace(project, tmp);
    super::emulated::compare(
        &root,
        &tmp.join(format!("store-{project}")),
        &tmp.join(format!("fe-{project}")),
        project,
        ("native:hatchling-1.33.0", "hatchling"),
    )
    .1
}

#[test]
fn auto_builds_hatchling_projects_natively_with_hatchlings_bytes() {
    if !require_tool("python3") || !hatchling_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut diffs = Vec::new();
    for project in ["srclayout", "flat", "packages", "module", "included", "vcs"] {
        diffs.extend(compare(project, tmp.path()));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
}

/// A build hook is not covered: `auto` runs hatchling and says why, and
/// the wheel holds what the hook added.
#[test]
fn auto_runs_hatchling_for_a_build_hook_and_says_why() {
    if !require_tool("python3") || !hatchling_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = workspace("hooked", tmp.path());
    let store = tmp.path().join("store");
    let plan = run_ok(&mut kiln_at(
        &root,
        &store,
        &["plan", "--version", "1.2.0-rc.1"],
    ));
    assert!(
        plan.contains(
            "builder: backend (auto: the project's backend, because hatchling build hooks"
        ),
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
    assert!(
        names.iter().any(|n| n == "hooked_pkg/generated.py"),
        "{names:?}"
    );
}
