//! Crates packed from a git checkout, as `cargo publish` packs them: at a
//! clean tag, kiln's `.crate` is byte-identical to `cargo package
//! --no-verify` run in a clean `git clone` of that tag (tracked dot-files,
//! `.cargo_vcs_info.json` with `git.sha1` and `path_in_vcs`); at a dev
//! commit the stamped manifests make it `dirty`, as cargo says it.
//!
//! Real crates: several `.crate` files of the local cargo cache are turned
//! back into repositories (their files, `Cargo.toml.orig` as the manifest),
//! committed and tagged; kiln and `cargo package` in a clean clone must
//! agree on each. The counts are printed for `bench/BENCHMARKS.md`.

use crate::common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::fixture::{git, monorepo};
use common::{cmd, kiln, require_tool, run, run_ok, write};

fn available() -> bool {
    require_tool("cargo") && require_tool("git") && require_tool("bwrap") && require_tool("tar")
}

/// `kiln build` (JSON report) of `recipes` in `root`; the dist directory.
fn kiln_build(root: &Path, store: &Path, recipes: &[&str]) -> PathBuf {
    let dist = root.join("dist");
    let out = run(kiln()
        .arg("-C")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(["build", "--out"])
        .arg(&dist)
        .args(recipes));
    assert!(
        out.status.success(),
        "kiln build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dist
}

/// `cargo package --no-verify --offline` in a fresh clone of `rev`.
fn cargo_in_clone(
    repo: &Path,
    rev: &str,
    scratch: &Path,
    packages: &[&str],
) -> Result<PathBuf, String> {
    let clone = scratch.join("clone");
    run_ok(
        cmd("git")
            .args(["clone", "-q", "--no-hardlinks"])
            .arg(repo)
            .arg(&clone),
    );
    run_ok(cmd("git").current_dir(&clone).args([
        "-c",
        "advice.detachedHead=false",
        "checkout",
        "-q",
        rev,
    ]));
    let mut c = cmd("cargo");
    c.current_dir(&clone)
        .args(["package", "--no-verify", "--offline"]);
    for p in packages {
        c.args(["-p", p]);
    }
    let out = run(&mut c);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(clone.join("target/package"))
}

fn vcs_info(crate_file: &Path) -> String {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(crate_file).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    let mut a = tar::Archive::new(tar.as_slice());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().ends_with(".cargo_vcs_info.json") {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            return s;
        }
    }
    panic!("{}: no .cargo_vcs_info.json", crate_file.display());
}

#[test]
fn fixture_crates_equal_cargo_package_in_a_clean_clone() {
    if !available() {
        return;
    }
    let (tmp, root) = monorepo();
    git(&root, &["tag", "0.3.0-rc.1"]);
    let dist = kiln_build(&root, &tmp.path().join("store"), &["mini-crates"]);
    let theirs = cargo_in_clone(&root, "0.3.0-rc.1", tmp.path(), &["mini-core", "mini-cli"])
        .unwrap_or_else(|e| panic!("cargo package in the clone failed: {e}"));
    let head = git(&root, &["rev-parse", "HEAD"]);
    for name in ["mini-core-0.3.0-rc.1.crate", "mini-cli-0.3.0-rc.1.crate"] {
        let ours = fs::read(dist.join(name)).unwrap();
        let native = fs::read(theirs.join(name)).unwrap();
        let info = vcs_info(&dist.join(name));
        assert!(info.contains(&head) && !info.contains("dirty"), "{info}");
        assert!(
            ours == native,
            "{name} differs from cargo's in a clean clone; vcs info: {info}"
        );
    }

    // A dev build: the stamped manifests differ from the commit, and the
    // crate says so, as cargo does for a modified checkout.
    write(&root.join("README.md"), "changed\n");
    git(&root, &["commit", "-q", "-am", "dev"]);
    let dist = kiln_build(&root, &tmp.path().join("store"), &["mini-crates"]);
    let head = git(&root, &["rev-parse", "HEAD"]);
    let short = &head[..7];
    let name = format!("mini-core-0.3.0-rc.1-{short}.crate");
    let info = vcs_info(&dist.join(&name));
    assert!(
        info.contains(&head) && info.contains("\"dirty\": true"),
        "{info}"
    );
    assert!(
        info.contains("\"path_in_vcs\": \"crates/mini-core\""),
        "{info}"
    );
}

/// Cached crates turned back into repositories.
const REAL: &[&str] = &[
    "cfg-if-1.0.5",
    "itoa-1.0.19",
    "adler2-2.0.1",
    "equivalent-1.0.3",
    "heck-0.5.0",
    "foldhash-0.2.0",
    "number_prefix-0.4.0",
    "once_cell_polyfill-1.70.2",
    "either-1.19.0",
    "base64-0.22.1",
    "memchr-2.8.3",
    "log-0.4.35",
];

fn cached_crate(stem: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    fs::read_dir(home.join("registry/cache"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(format!("{stem}.crate")))
        .find(|p| p.is_file())
}

/// The repository a crate was published from, rebuilt from its contents.
fn rebuild_repo(crate_file: &Path, stem: &str, dir: &Path) -> Option<(String, String)> {
    let unpack = dir.join("unpack");
    fs::create_dir_all(&unpack).unwrap();
    run_ok(
        cmd("tar")
            .arg("-xzf")
            .arg(crate_file)
            .arg("-C")
            .arg(&unpack),
    );
    let src = unpack.join(stem);
    let repo = dir.join("repo");
    fs::rename(&src, &repo).unwrap();
    fs::remove_file(repo.join("Cargo.toml")).unwrap();
    fs::rename(repo.join("Cargo.toml.orig"), repo.join("Cargo.toml")).ok()?;
    let _ = fs::remove_file(repo.join(".cargo_vcs_info.json"));
    let manifest = fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let doc: toml_edit::DocumentMut = manifest.parse().ok()?;
    let name = doc.get("package")?.get("name")?.as_str()?.to_string();
    let version = doc.get("package")?.get("version")?.as_str()?.to_string();
    write(&repo.join("recipes/crate.toml"), "surface = \"crate\"\n");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A", "-f"]);
    git(&repo, &["commit", "-q", "-m", "release"]);
    git(&repo, &["tag", &version]);
    Some((name, version))
}

/// Set-up step: fill the local registry index cache with what resolving
/// the crate's (dev-)dependencies needs, online, in a scratch copy; the
/// comparison itself runs offline. Without a network it does nothing (the
/// crate is then skipped if it cannot be resolved offline).
fn warm_index(repo: &Path, scratch: &Path) {
    common::fixture::copy_dir(repo, scratch, false);
    let _ = fs::remove_file(scratch.join("Cargo.lock"));
    let out = run(cmd("cargo")
        .current_dir(scratch)
        .env("CARGO_NET_RETRY", "0")
        .args(["generate-lockfile", "--quiet"]));
    if !out.status.success() {
        eprintln!(
            "note: warming the registry index for {} failed: {}",
            repo.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
}

#[test]
fn real_crates_equal_cargo_package_in_a_clean_clone() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (mut native_ok, mut same, mut tried) = (0, 0, 0);
    let mut failures = Vec::new();
    for stem in REAL {
        let Some(file) = cached_crate(stem) else {
            eprintln!("SKIP {stem}: not in the cargo cache");
            continue;
        };
        let dir = tmp.path().join(stem);
        let Some((name, version)) = rebuild_repo(&file, stem, &dir) else {
            eprintln!("SKIP {stem}: no Cargo.toml.orig with a literal name and version");
            continue;
        };
        tried += 1;
        let repo = dir.join("repo");
        warm_index(&repo, &dir.join("warm"));
        let theirs = match cargo_in_clone(&repo, &version, &dir, &[]) {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "SKIP {stem}: cargo package fails offline in a clean clone: {}",
                    e.lines().last().unwrap_or("")
                );
                continue;
            }
        };
        native_ok += 1;
        let crate_name = format!("{name}-{version}.crate");
        let dist = kiln_build(&repo, &dir.join("store"), &[]);
        let ours = fs::read(dist.join(&crate_name)).unwrap();
        if ours == fs::read(theirs.join(&crate_name)).unwrap() {
            same += 1;
        } else {
            failures.push(format!(
                "{crate_name}: kiln's differs; vcs {}",
                vcs_info(&dist.join(&crate_name))
            ));
        }
    }
    println!("tar-identical: kiln vs cargo package in a clean clone {same}/{native_ok} (of {tried} rebuilt)");
    assert!(
        native_ok >= 5,
        "too few crates could be packed offline ({native_ok})"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
