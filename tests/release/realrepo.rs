//! The stamping rule on a repository shaped like real releases
//! (`tests/fixtures/realrepo`): a Cargo workspace with
//! `[workspace.dependencies]` pins, a member depending on a vendored path
//! crate (`version = "1"`, its own version 1.0.5), an npm workspace whose
//! private root has no version, an npm package depending on its sibling
//! with `^V` and shipping a vendored `package.json` (9.0.0), and a vendored
//! `pyproject.toml` (0.22.3).
//!
//! `version set`, `bump`, a tag build and a dev build each make exactly the
//! expected edits, checked against the tools' own views: the lockfile
//! against `npm install --package-lock-only --offline` after the same
//! `package.json` edits, the workspace against `cargo metadata --offline
//! --locked`, ranges against npm's own `semver`.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::fixture::{copy_dir, git};
use common::{cmd, kiln, require_tool, run, run_ok};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realrepo")
}

/// Every file of a tree (no `.git`, `target`, `store`, `dist`), by path.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if [".git", "target", "store", "dist"].contains(&name.as_str()) {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn changed(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "no file may appear or vanish"
    );
    a.iter()
        .filter(|(k, v)| b[*k] != **v)
        .map(|(k, _)| k.clone())
        .collect()
}

fn kiln_ok(root: &Path, args: &[&str]) -> String {
    let out = run(kiln().arg("-C").arg(root).args(args));
    assert!(
        out.status.success(),
        "kiln {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `version set 0.3.0` must change, and nothing else.
const SET_FILES: &[&str] = &[
    "Cargo.lock",
    "Cargo.toml",
    "package-lock.json",
    "packages/app/package.json",
    "packages/lib/package.json",
];

fn check_set(before: &BTreeMap<String, Vec<u8>>, dir: &Path, scratch: &Path) {
    let after = files(dir);
    assert_eq!(changed(before, &after), SET_FILES);
    let text = |f: &str| String::from_utf8(after[f].clone()).unwrap();
    // Only version strings moved: the diff of each file is the old→new swap.
    let swap = |f: &str, pairs: &[(&str, &str)]| {
        let mut t = String::from_utf8(before[f].clone()).unwrap();
        for (a, b) in pairs {
            t = t.replace(a, b);
        }
        assert_eq!(text(f), t, "{f}");
    };
    swap(
        "Cargo.toml",
        &[
            ("version = \"0.2.0\"", "version = \"0.3.0\""),
            ("\"=0.2.0\"", "\"=0.3.0\""),
        ],
    );
    swap("packages/lib/package.json", &[("0.2.0", "0.3.0")]);
    swap("packages/app/package.json", &[("0.2.0", "0.3.0")]);

    // package-lock.json equals what npm writes after the same edits.
    let npm_dir = scratch.join("npm-oracle");
    copy_dir(dir, &npm_dir, false);
    fs::write(
        npm_dir.join("package-lock.json"),
        &before["package-lock.json"],
    )
    .unwrap();
    run_ok(
        cmd("npm")
            .current_dir(&npm_dir)
            .env("npm_config_cache", scratch.join("npm-cache"))
            .args([
                "install",
                "--package-lock-only",
                "--offline",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
            ]),
    );
    assert_eq!(
        text("package-lock.json"),
        fs::read_to_string(npm_dir.join("package-lock.json")).unwrap(),
        "package-lock.json differs from npm's"
    );

    // cargo's view: the lock is current, the versions are the expected ones.
    let meta = run_ok(cmd("cargo").current_dir(dir).args([
        "metadata",
        "--offline",
        "--locked",
        "--format-version",
        "1",
    ]));
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let versions: BTreeMap<String, String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: BTreeMap<String, String> = [
        ("rr-cli", "0.3.0"),
        ("rr-core", "0.3.0"),
        ("rr-macros", "0.3.0"),
        ("vdep", "1.0.5"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(versions, want);
}

#[test]
fn version_set_and_bump_edit_exactly_what_carries_the_version() {
    if !require_tool("npm") || !require_tool("cargo") || !require_tool("git") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("set");
    copy_dir(&fixture(), &dir, false);
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "fixture"]);
    let before = files(&dir);
    kiln_ok(&dir, &["version", "set", "0.3.0"]);
    check_set(&before, &dir, tmp.path());
    // Twice: nothing more changes.
    let once = files(&dir);
    kiln_ok(&dir, &["version", "set", "0.3.0"]);
    assert!(changed(&once, &files(&dir)).is_empty());

    // `bump minor` from 0.2.0 makes the same edits.
    let bump = tmp.path().join("bump");
    copy_dir(&fixture(), &bump, false);
    git(&bump, &["init", "-q"]);
    git(&bump, &["add", "-A"]);
    git(&bump, &["commit", "-q", "-m", "fixture"]);
    kiln_ok(&bump, &["version", "bump", "minor"]);
    assert!(
        changed(&once, &files(&bump)).is_empty(),
        "bump minor = set 0.3.0"
    );
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// `package/<path>` of an npm tarball.
fn tgz_file(tgz: &Path, path: &str) -> Option<String> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(tgz).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    let mut a = tar::Archive::new(tar.as_slice());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == format!("package/{path}") {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            return Some(s);
        }
    }
    None
}

fn crate_manifest(file: &Path) -> String {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(file).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    let mut a = tar::Archive::new(tar.as_slice());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if p.ends_with("/Cargo.toml") && p.matches('/').count() == 1 {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            return s;
        }
    }
    panic!("no Cargo.toml in {}", file.display());
}

/// npm's own `semver.satisfies(version, range)`.
fn npm_satisfies(version: &str, range: &str) -> bool {
    let npm_root = run_ok(cmd("npm").args(["root", "-g"]));
    let semver = Path::new(&npm_root).join("npm/node_modules/semver");
    let out = run_ok(cmd("node").arg("-e").arg(format!(
        "process.stdout.write(String(require({:?}).satisfies({version:?}, {range:?})))",
        semver.display().to_string()
    )));
    out == "true"
}

#[test]
fn tag_and_dev_builds_stamp_only_what_is_ours() {
    if !["npm", "node", "cargo", "git", "bwrap"]
        .iter()
        .all(|t| require_tool(t))
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    copy_dir(&fixture(), &dir, false);
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "fixture"]);
    let store = tmp.path().join("store");
    let build = |dist: &str| -> PathBuf {
        let out = dir.join(dist);
        kiln_ok(
            &dir,
            &[
                "--store",
                store.to_str().unwrap(),
                "build",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        out
    };

    // Tag build: versions as written, ranges untouched, vendored untouched.
    git(&dir, &["tag", "v0.2.0"]);
    let dist = build("dist-tag");
    let app = dist.join("rr-app-0.2.0.tgz");
    let pj: serde_json::Value =
        serde_json::from_str(&tgz_file(&app, "package.json").unwrap()).unwrap();
    assert_eq!(pj["dependencies"]["@rr/lib"], "^0.2.0");
    assert_eq!(
        tgz_file(&app, "vendor/jsonrpc/package.json").unwrap(),
        fs::read_to_string(dir.join("packages/app/vendor/jsonrpc/package.json")).unwrap()
    );
    assert_eq!(
        tgz_file(&app, "package.json").unwrap(),
        fs::read_to_string(dir.join("packages/app/package.json")).unwrap(),
        "at the tag nothing is rewritten"
    );

    // The native tools agree at the tag: `npm pack` of each package (same
    // uncompressed tar) and `cargo package` in a clean clone (same bytes).
    for (pkg, tgz) in [("lib", "rr-lib-0.2.0.tgz"), ("app", "rr-app-0.2.0.tgz")] {
        let dest = tmp.path().join(format!("npm-{pkg}"));
        fs::create_dir_all(&dest).unwrap();
        run_ok(
            cmd("npm")
                .current_dir(dir.join("packages").join(pkg))
                .env("npm_config_cache", tmp.path().join("npm-cache"))
                .args(["pack", "--ignore-scripts", "--pack-destination"])
                .arg(&dest),
        );
        let theirs = gunzip(&dest.join(tgz));
        assert!(
            theirs == gunzip(&dist.join(tgz)),
            "{tgz}: tar differs from npm pack's"
        );
    }
    let clone = tmp.path().join("clone");
    run_ok(cmd("git").args(["clone", "-q"]).arg(&dir).arg(&clone));
    run_ok(cmd("git").current_dir(&clone).args([
        "-c",
        "advice.detachedHead=false",
        "checkout",
        "-q",
        "v0.2.0",
    ]));
    run_ok(cmd("cargo").current_dir(&clone).args([
        "package",
        "--no-verify",
        "--offline",
        "-p",
        "rr-macros",
        "-p",
        "rr-core",
    ]));
    for c in ["rr-macros-0.2.0.crate", "rr-core-0.2.0.crate"] {
        assert!(
            fs::read(dist.join(c)).unwrap()
                == fs::read(clone.join("target/package").join(c)).unwrap(),
            "{c} differs from cargo package in a clean clone"
        );
    }

    // Dev build: every internal range and pin follows the stamped version,
    // and npm's semver agrees the built sibling satisfies it.
    fs::write(dir.join("packages/lib/index.js"), "module.exports = 43;\n").unwrap();
    git(&dir, &["commit", "-q", "-am", "dev"]);
    let short = git(&dir, &["rev-parse", "--short=7", "HEAD"]);
    let v = format!("0.2.0-{short}");
    let dist = build("dist-dev");
    let lib = dist.join(format!("rr-lib-{v}.tgz"));
    let app = dist.join(format!("rr-app-{v}.tgz"));
    let lib_pj: serde_json::Value =
        serde_json::from_str(&tgz_file(&lib, "package.json").unwrap()).unwrap();
    let app_pj: serde_json::Value =
        serde_json::from_str(&tgz_file(&app, "package.json").unwrap()).unwrap();
    assert_eq!(lib_pj["version"], v.as_str());
    let range = app_pj["dependencies"]["@rr/lib"].as_str().unwrap();
    assert_eq!(range, format!("^{v}"));
    assert!(npm_satisfies(&v, range), "{v} does not satisfy {range}");
    assert!(
        !npm_satisfies(&v, "^0.2.0"),
        "the unstamped range would not do"
    );
    assert!(tgz_file(&app, "vendor/jsonrpc/package.json")
        .unwrap()
        .contains("9.0.0"));

    let core = crate_manifest(&dist.join(format!("rr-core-{v}.crate")));
    assert!(
        core.contains(&format!("[dependencies.rr-macros]\nversion = \"{v}\"")),
        "{core}"
    );
    // The checkout was never written.
    assert_eq!(
        fs::read_to_string(dir.join("packages/app/package.json")).unwrap(),
        fs::read_to_string(fixture().join("packages/app/package.json")).unwrap()
    );
}
