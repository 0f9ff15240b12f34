//! `kiln version set` on a multi-language fixture (Cargo workspace with
//! internal pins, a Node workspace with a root `package-lock.json`, a static
//! and a dynamic `pyproject.toml`), checked with cargo, npm and Python.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{cmd, kiln, require_tool, run, run_ok};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/setversion");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    common::fixture::git_dated(dir, args, "2024-02-29T12:00:00Z")
}

/// A fresh copy of the fixture, committed, so `git status` shows any write.
fn checkout() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    copy_dir(Path::new(FIXTURE), &dir);
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join(".gitignore"), "target/\nnode_modules/\n").unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "fixture"]);
    (tmp, dir)
}

/// Every file's bytes (outside `.git`), by relative path.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(root.join(rel)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name();
            if name == ".git" {
                continue;
            }
            let r = rel.join(&name);
            if e.file_type().unwrap().is_dir() {
                walk(root, &r, out);
            } else {
                out.insert(
                    r.to_string_lossy().into_owned(),
                    std::fs::read(root.join(&r)).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, Path::new(""), &mut out);
    out
}

fn kiln_in(dir: &Path, args: &[&str]) -> Output {
    run(kiln().arg("-C").arg(dir).args(args))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// PEP 440 normalisation by `packaging`.
fn packaging_norm(v: &str) -> String {
    run_ok(cmd("python3").args([
        "-c",
        "import sys; from packaging.version import Version; print(Version(sys.argv[1]))",
        v,
    ]))
}

fn pyproject_project(path: &Path) -> serde_json::Value {
    let out = run_ok(cmd("python3").args([
        "-c",
        "import sys, json, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], 'rb'))['project']))",
        &path.to_string_lossy(),
    ]));
    serde_json::from_str(&out).unwrap()
}

#[test]
fn set_updates_every_declared_place_and_nothing_else() {
    if !(require_tool("cargo")
        && require_tool("npm")
        && require_tool("python3")
        && require_tool("git"))
    {
        return;
    }
    let (_tmp, dir) = checkout();
    let before = snapshot(&dir);
    let new = "0.2.0-rc.1";
    let new_pep = packaging_norm(new);
    assert_eq!(new_pep, "0.2.0rc1");

    // --dry-run prints a unified diff and writes nothing.
    let out = kiln_in(&dir, &["version", "set", new, "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let diff = text(&out.stdout);
    assert_eq!(snapshot(&dir), before, "--dry-run wrote");
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
    // The diff is a real patch: git applies it.
    let patch = dir.join("../dry-run.patch");
    std::fs::write(&patch, &diff).unwrap();
    git(&dir, &["apply", "--check", &patch.to_string_lossy()]);
    git(&dir, &["apply", &patch.to_string_lossy()]);
    let applied = snapshot(&dir);
    git(&dir, &["checkout", "--", "."]);
    assert_eq!(snapshot(&dir), before);

    // The real run.
    let out = kiln_in(&dir, &["version", "set", new]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = snapshot(&dir);
    // What kiln does not own is reported, not touched.
    let err = text(&out.stderr);
    assert!(
        err.contains("python/pyproject.toml:11:") && err.contains("current_version = \"0.1.0\""),
        "leftovers reported: {err}"
    );
    assert_eq!(after, applied, "set wrote what --dry-run showed");

    // cargo sees every workspace package at the new version.
    let meta = run_ok(
        cmd("cargo")
            .args([
                "metadata",
                "--offline",
                "--no-deps",
                "--format-version",
                "1",
            ])
            .current_dir(&dir),
    );
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let pkgs = meta["packages"].as_array().unwrap();
    assert_eq!(pkgs.len(), 2);
    for p in pkgs {
        assert_eq!(p["version"], new, "{}", p["name"]);
    }
    // npm accepts the lockfile as in sync with the package.json files.
    run_ok(
        cmd("npm")
            .args([
                "ci",
                "--dry-run",
                "--offline",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
            ])
            .current_dir(&dir),
    );
    // The static pyproject has the PEP 440 spelling; the dynamic one is untouched.
    assert_eq!(
        pyproject_project(&dir.join("python/pyproject.toml"))["version"],
        new_pep
    );
    assert_eq!(
        after["python-dyn/pyproject.toml"],
        before["python-dyn/pyproject.toml"]
    );

    // Byte-level: only version strings changed, line by line.
    let mut changed_files = 0;
    for (path, old) in &before {
        let (old, new_bytes) = (text(old), text(&after[path]));
        if old == new_bytes {
            continue;
        }
        changed_files += 1;
        let (ol, nl): (Vec<_>, Vec<_>) =
            (old.split('\n').collect(), new_bytes.split('\n').collect());
        assert_eq!(ol.len(), nl.len(), "{path}: line count changed");
        for (a, b) in ol.iter().zip(&nl) {
            if a != b {
                let back = b.replace(new, "0.1.0").replace(&new_pep, "0.1.0");
                assert_eq!(&back, a, "{path}: more than a version changed");
            }
        }
    }
    assert_eq!(
        changed_files, 6,
        "Cargo.toml ×2, package.json ×2, package-lock.json, pyproject.toml"
    );

    // Idempotent: the second run changes nothing.
    let out = kiln_in(&dir, &["version", "set", new]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("nothing changed"));
    assert_eq!(snapshot(&dir), after);
    let out = kiln_in(&dir, &["version", "set", new, "--dry-run"]);
    assert_eq!(text(&out.stdout), "", "no diff the second time");

    // A Cargo.lock beside the workspace follows: `--locked` still resolves.
    run_ok(
        cmd("cargo")
            .args(["generate-lockfile", "--offline"])
            .current_dir(&dir),
    );
    let out = kiln_in(&dir, &["version", "set", "0.2.0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Cargo.lock: package.mini-cli.version"));
    assert!(
        !text(&out.stderr).contains("Cargo.lock"),
        "{}",
        text(&out.stderr)
    );
    let meta = run_ok(
        cmd("cargo")
            .args(["metadata", "--offline", "--locked", "--format-version", "1"])
            .current_dir(&dir),
    );
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    for p in meta["packages"].as_array().unwrap() {
        assert_eq!(p["version"], "0.2.0", "{}", p["name"]);
    }
}

#[test]
fn missing_declared_field_fails_and_writes_nothing() {
    if !require_tool("git") {
        return;
    }
    let (_tmp, dir) = checkout();
    let pj = dir.join("node/package.json");
    let t = std::fs::read_to_string(&pj).unwrap();
    std::fs::write(&pj, t.replace("  \"version\": \"0.1.0\",\n", "")).unwrap();
    let before = snapshot(&dir);
    let out = kiln_in(&dir, &["version", "set", "0.3.0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("node/package.json") && err.contains("version"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn bad_input_exits_2_and_leaves_the_checkout_alone() {
    if !require_tool("git") {
        return;
    }
    let (_tmp, dir) = checkout();
    let before = snapshot(&dir);
    let cases: &[(&[&str], &[&str])] = &[
        (&["version", "set", "0.2"], &["\"0.2\"", "SemVer"]),
        (&["version", "set", "01.2.3"], &["\"01.2.3\""]),
        (
            &["version", "bump", "sideways"],
            &["\"sideways\"", "prerelease"],
        ),
        (
            &["version", "render", "1.0.0-foo.bar", "--as", "pep440"],
            &["1.0.0-foo.bar", "foo"],
        ),
        (
            &[
                "version", "render", "1!2.0", "--as", "npm", "--from", "pep440",
            ],
            &["epoch"],
        ),
    ];
    for (args, needles) in cases {
        let out = kiln_in(&dir, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
        }
    }
    assert_eq!(snapshot(&dir), before);

    // Unparseable manifest: named, nothing written.
    let cargo = dir.join("crates/cli/Cargo.toml");
    let t = std::fs::read_to_string(&cargo).unwrap();
    std::fs::write(&cargo, t.replace("[dependencies]", "[dependencies")).unwrap();
    let before = snapshot(&dir);
    let out = kiln_in(&dir, &["version", "set", "0.3.0"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("crates/cli/Cargo.toml") && err.contains("TOML"),
        "{err}"
    );
    assert_eq!(snapshot(&dir), before);
    std::fs::write(&cargo, t).unwrap();

    // A tag template without {version}: the policy file, line and key are named.
    let policy = dir.join("recipes/release.toml");
    let p = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, p.replace("\"v{version}\"", "\"release\"")).unwrap();
    let before = snapshot(&dir);
    for args in [&["version", "show"][..], &["version", "set", "0.3.0"]] {
        let out = kiln_in(&dir, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("recipes/release.toml:5:") && err.contains("tag.template = \"release\""),
            "{err}"
        );
    }
    // An unknown key is rejected with its line.
    std::fs::write(&policy, p.replace("[tag]", "[tag]\nprefix = \"v\"")).unwrap();
    let out = kiln_in(&dir, &["version", "show"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("release.toml:5:") && err.contains("prefix"),
        "{err}"
    );
    std::fs::write(&policy, &p).unwrap();
    assert_eq!(snapshot(&dir).len(), before.len());
}

/// Workspace stamping (what the build engine does on copies): a dynamic
/// `pyproject.toml` version becomes static and leaves `dynamic`.
#[test]
fn workspace_stamping_makes_dynamic_versions_static() {
    if !require_tool("python3") {
        return;
    }
    use kiln::stamp::{stamp_tree, StampMode, StampPlan};
    use kiln::version::{Scheme, Version};
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(Path::new(FIXTURE), tmp.path());
    let v = Version::parse(Scheme::SemVer, "0.2.0-rc.1").unwrap();
    let files = vec![
        PathBuf::from("python-dyn/pyproject.toml"),
        PathBuf::from("python/pyproject.toml"),
    ];
    let checkout_plan = StampPlan::for_version(&v, files.clone(), StampMode::Checkout);
    let changes = stamp_tree(tmp.path(), &checkout_plan).unwrap();
    assert_eq!(
        changes.len(),
        1,
        "checkout mode leaves the dynamic one alone"
    );
    let plan = StampPlan::for_version(&v, files, StampMode::Workspace);
    let changes = stamp_tree(tmp.path(), &plan).unwrap();
    assert_eq!(changes.len(), 1);
    let project = pyproject_project(&tmp.path().join("python-dyn/pyproject.toml"));
    assert_eq!(project["version"], packaging_norm("0.2.0-rc.1"));
    assert!(project.get("dynamic").is_none(), "{project}");
    assert!(
        stamp_tree(tmp.path(), &plan).unwrap().is_empty(),
        "idempotent"
    );
    // The engine's plan: dev spellings per ecosystem; a post release is
    // spelled for manifests (images may carry one) though never published.
    use kiln::recipe::policy::ReleasePolicy as Policy;
    use kiln::version::dev::DevInfo;
    use kiln::version::{BuildStatus, ResolvedVersion};
    let policy = Policy::default();
    let mut r = ResolvedVersion::release(v.clone(), "test".into(), &policy);
    r.status = BuildStatus::Dev(DevInfo {
        commit: "abc1234".into(),
        distance: 2,
        date: "20240229".into(),
    });
    let plan = StampPlan::for_build(&r, vec![]);
    assert_eq!(plan.semver.as_deref().ok(), Some("0.2.0-rc.1-abc1234"));
    let pypi = packaging_norm("0.2.0-rc.1+abc1234");
    assert_eq!(plan.pep440.as_deref().ok(), Some(pypi.as_str()));
    let post = Version::parse(Scheme::Pep440, "3.1.0.post1").unwrap();
    let r = ResolvedVersion::release(post, "test".into(), &policy);
    assert!(r.render(kiln::version::Target::Pypi).is_err());
    let plan = StampPlan::for_build(&r, vec![]);
    assert_eq!(plan.pep440.as_deref().ok(), Some("3.1.0.post1"));
}

/// Without `[stamp] files`, kiln discovers the workspace's manifests; a
/// member that carries no version (a private xtask crate) is not stamped.
#[test]
fn discovery_follows_workspaces_and_skips_unversioned_members() {
    if !require_tool("cargo") {
        return;
    }
    use kiln::recipe::policy::ReleasePolicy;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(Path::new(FIXTURE), dir);
    std::fs::write(
        dir.join("recipes/release.toml"),
        "[tag]\ntemplate = \"v{version}\"\n",
    )
    .unwrap();
    common::write(
        &dir.join("crates/xtask/Cargo.toml"),
        "[package]\nname = \"xtask\"\nedition = \"2021\"\npublish = false\n",
    );
    common::write(&dir.join("crates/xtask/src/main.rs"), "fn main() {}\n");
    let policy = ReleasePolicy::load(dir).unwrap();
    let found: Vec<String> = kiln::stamp::discover(dir, &policy)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        found,
        [
            "Cargo.toml",
            "crates/cli/Cargo.toml",
            "crates/core/Cargo.toml",
            "crates/xtask/Cargo.toml",
            "node/package.json",
            "package-lock.json",
            "package.json"
        ]
    );
    let xtask = std::fs::read(dir.join("crates/xtask/Cargo.toml")).unwrap();
    let out = kiln_in(dir, &["version", "set", "1.0.0"]);
    assert_eq!(
        std::fs::read(dir.join("crates/xtask/Cargo.toml")).unwrap(),
        xtask
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let meta = run_ok(
        cmd("cargo")
            .args([
                "metadata",
                "--offline",
                "--no-deps",
                "--format-version",
                "1",
            ])
            .current_dir(dir),
    );
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    for p in meta["packages"].as_array().unwrap() {
        let want = if p["name"] == "xtask" {
            "0.0.0"
        } else {
            "1.0.0"
        };
        assert_eq!(p["version"], want, "{}", p["name"]);
    }
}

/// `[stamp] files` listing the root `Cargo.toml` but not the member that
/// inherits its version: the listed files are ours, so their pins on that
/// member (the root's `workspace.dependencies`, `crates/cli`'s
/// dev-dependency) are rewritten exactly as without the key (cargo resolves
/// the result), while the unlisted member's manifest is not touched.
#[test]
fn a_listed_root_manifest_stamps_its_pins_on_inheriting_members() {
    if !require_tool("cargo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(Path::new(FIXTURE), dir);
    std::fs::write(
        dir.join("recipes/release.toml"),
        "[version]\nsource = \"cargo\"\n[tag]\ntemplate = \"v{version}\"\n[stamp]\nfiles = [\"Cargo.toml\", \"crates/cli/Cargo.toml\"]\n",
    )
    .unwrap();
    let member = std::fs::read(dir.join("crates/core/Cargo.toml")).unwrap();
    let out = kiln_in(dir, &["version", "set", "0.2.0-rc.1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // npm's files are not listed, so their leftovers are warned about; no
    // Cargo manifest is left with the old version.
    assert!(
        !text(&out.stderr).contains("Cargo.toml"),
        "{}",
        text(&out.stderr)
    );
    let root = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        root.contains("mini-core = { path = \"crates/core\", version = \"=0.2.0-rc.1\" }"),
        "{root}"
    );
    assert_eq!(
        std::fs::read(dir.join("crates/core/Cargo.toml")).unwrap(),
        member
    );
    let meta = run_ok(
        cmd("cargo")
            .args([
                "metadata",
                "--offline",
                "--no-deps",
                "--format-version",
                "1",
            ])
            .current_dir(dir),
    );
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    for p in meta["packages"].as_array().unwrap() {
        assert_eq!(p["version"], "0.2.0-rc.1", "{}", p["name"]);
    }
}
