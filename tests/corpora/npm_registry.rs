//! kiln's npm packer against `npm pack` on real published packages.
//!
//! Each pinned package is downloaded once from the registry (`npm pack
//! <name>@<version>`, cached under `CARGO_TARGET_TMPDIR`), unpacked, and the
//! unpacked directory is packed twice: by the real `npm pack` and by
//! `kiln::surface::npm::pack`. The file lists and the **uncompressed** tars
//! must be identical (the gzip streams differ by design, see docs/npm.md).
//!
//! Needs the npm registry the first time: when the download fails the test
//! fails under `CI` and prints why it skips elsewhere.
//!
//! It also prints the tar-identical counts for `bench/BENCHMARKS.md`: kiln
//! against `npm pack` of the same directory, and `npm pack` against the
//! published tarball (the native tool's own faithfulness).

use crate::common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::{cmd, require_tool, run, run_ok, write};
use kiln::archive::read::{list_tar, ArchiveEntry, Limits};
use kiln::surface::npm;

/// What the comparison expects of a package.
enum Expect {
    /// npm and kiln produce the same tar.
    Identical,
    /// A `files` entry selects nothing (the directory is not in the
    /// published package): npm ignores it, kiln packs the same tar and
    /// warns, naming the entry.
    StaleFilesEntry(&'static str),
}

/// Pinned packages and what each exercises.
const PACKAGES: &[(&str, Expect)] = &[
    // no `files`, README/LICENSE only + index.js
    ("is-number@7.0.0", Expect::Identical),
    // `files` with a negation: ["source", "!source/index.test-d.ts"]
    ("chalk@5.3.0", Expect::Identical),
    ("commander@12.1.0", Expect::Identical),
    // `files` with directory entries; "lib/" does not exist (see Expect)
    ("semver@7.6.3", Expect::StaleFilesEntry("lib/")),
    // old layout, no `files`, no ignore file
    ("lodash.debounce@4.0.8", Expect::Identical),
    // `bin` map, nested package.json files under dist/
    ("uuid@10.0.0", Expect::Identical),
    // `files` with patterns, locales/*.json, many small files
    ("yargs@17.7.2", Expect::Identical),
    ("debug@4.3.7", Expect::Identical),
    ("ms@2.1.3", Expect::Identical),
    // History.md, Readme.md (mixed case), lib/ tree
    ("express@4.21.1", Expect::Identical),
    // scoped; the published tarball's root directory is `node/`, not `package/`
    ("@types/node@22.7.5", Expect::Identical),
    ("@babel/helper-plugin-utils@7.25.7", Expect::Identical),
    // helpers/esm/… nested package.json files, many files
    ("@babel/runtime@7.25.7", Expect::Identical),
    // published by an old npm: .npmignore and .travis.yml inside the tarball
    ("isarray@1.0.0", Expect::Identical),
    // `bin` string, dist/cjs + dist/mjs nested package.json
    ("mkdirp@3.0.1", Expect::Identical),
    ("which@4.0.0", Expect::Identical),
    ("glob@10.4.5", Expect::Identical),
    ("nopt@7.2.1", Expect::Identical),
    // `man` entry, `bin` map, ~1 MB
    ("marked@14.1.2", Expect::Identical),
    // readme.markdown, test fixtures with nested package.json, `bin`
    ("resolve@1.22.8", Expect::Identical),
    // root-level `bin` target (cli.js): npm sets 0111 on it
    ("mime@1.6.0", Expect::Identical),
    // `bin` string at the root ("bin.js")
    ("rimraf@3.0.2", Expect::Identical),
    // `files` glob "lib/*.js"
    ("ws@8.18.0", Expect::Identical),
    // `files` with extglobs "dist/cjs/**/!(*.tsbuildinfo)", 2 277 files
    ("rxjs@7.8.1", Expect::Identical),
    ("esprima@4.0.1", Expect::Identical),
    // 2 161 files, deep paths
    ("es-abstract@1.23.3", Expect::Identical),
    // 1 054 files at the root
    ("lodash@4.17.21", Expect::Identical),
    ("minimist@1.2.8", Expect::Identical),
    ("qs@6.13.0", Expect::Identical),
    ("zod@3.23.8", Expect::Identical),
    // `directories` (lib), `bin` with ./ targets, old npm
    ("coffee-script@1.12.7", Expect::Identical),
    // `directories.man`, `man`, `bin`
    ("nodeunit@0.11.3", Expect::Identical),
    // `bundleDependencies` (64 packages, nested node_modules, their own
    // `files`, .npmignore and vendored package.json files), ~2 400 files
    ("npm@10.9.0", Expect::Identical),
    // vendored manifests: gyp/pyproject.toml with its own version
    ("node-gyp@10.2.0", Expect::Identical),
];

fn cache_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("npm-registry")
}

fn npm(cache: &Path) -> std::process::Command {
    let mut c = cmd("npm");
    c.env("npm_config_cache", cache)
        .env("npm_config_loglevel", "error")
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false");
    c
}

/// `name@version` → the `.tgz` name `npm pack` writes.
fn tgz_name(spec: &str) -> String {
    let at = spec[1..].find('@').map(|i| i + 1).expect("pinned spec");
    npm::tarball_name(&spec[..at], &spec[at + 1..])
}

/// Download every pinned package not yet in the cache. `false` means the
/// registry is unreachable here and the test should skip.
fn download(tgz_dir: &Path) -> bool {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| !tgz_dir.join(tgz_name(s)).is_file())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let partial = tgz_dir.join(format!(".partial-{}", std::process::id()));
    fs::create_dir_all(&partial).unwrap();
    let out = run(npm(&cache_root().join("npm-cache"))
        // fail fast without a network instead of retrying for a minute
        .env("npm_config_fetch_retries", "0")
        .args(["pack", "--json", "--pack-destination"])
        .arg(&partial)
        .args(&missing)
        .current_dir(&partial));
    if !out.status.success() {
        let _ = fs::remove_dir_all(&partial);
        let why = format!(
            "`npm pack` of registry packages failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if std::env::var_os("CI").is_some() {
            panic!("{why}");
        }
        eprintln!("SKIP: {why}; this test needs the npm registry");
        return false;
    }
    for s in &missing {
        let n = tgz_name(s);
        fs::rename(partial.join(&n), tgz_dir.join(&n))
            .unwrap_or_else(|e| panic!("npm pack {s} did not write {n}: {e}"));
    }
    let _ = fs::remove_dir_all(&partial);
    true
}

/// Unpack a registry tarball into `dest`; returns its single top directory
/// (`package/` usually, `node/` for @types/node).
fn unpack(tgz: &Path, dest: &Path) -> PathBuf {
    fs::create_dir_all(dest).unwrap();
    run_ok(
        cmd("tar")
            .args(["-xzpf"])
            .arg(tgz)
            .arg("-C")
            .arg(dest)
            .arg("--no-same-owner"),
    );
    let dirs: Vec<PathBuf> = fs::read_dir(dest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{}: one top directory", tgz.display());
    dirs.into_iter().next().unwrap()
}

/// Files npm must leave out, planted next to the published ones.
fn plant_excluded(dir: &Path) {
    write(
        &dir.join("node_modules/dep/index.js"),
        "module.exports = 1;\n",
    );
    write(&dir.join("package-lock.json"), "{}\n");
    write(&dir.join(".DS_Store"), "x");
    write(&dir.join("kiln-test.orig"), "x");
    std::os::unix::fs::symlink("package.json", dir.join("kiln-link.json")).unwrap();
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The real `npm pack` of `dir`: its file list (sorted) and uncompressed tar.
fn npm_pack(dir: &Path, dest: &Path) -> (Vec<String>, Vec<u8>) {
    fs::create_dir_all(dest).unwrap();
    let out = run_ok(
        npm(&cache_root().join("npm-cache"))
            .args(["pack", "--json", "--ignore-scripts", "--pack-destination"])
            .arg(dest)
            .current_dir(dir),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files = common::npm::packed_files(&v);
    let tgz = fs::read(dest.join(v[0]["filename"].as_str().unwrap())).unwrap();
    (files, gunzip(&tgz))
}

fn entries(tar: &[u8]) -> Vec<ArchiveEntry> {
    list_tar(tar, &Limits::default()).unwrap()
}

/// Compare one unpacked package; returns a description of the first
/// difference, if any, and npm's tar.
fn compare(spec: &str, dir: &Path, scratch: &Path) -> (Option<String>, Vec<u8>) {
    let (npm_files, npm_tar) = npm_pack(dir, &scratch.join("npm"));
    (compare_with(spec, dir, npm_files, &npm_tar), npm_tar)
}

fn compare_with(spec: &str, dir: &Path, npm_files: Vec<String>, npm_tar: &[u8]) -> Option<String> {
    let mut tgz = Vec::new();
    let p = match npm::pack(dir, &mut tgz) {
        Ok(p) => p,
        Err(e) => return Some(format!("{spec}: kiln refused: {}", kiln::error::chain(&e))),
    };
    let mut kiln_files = p.files.clone();
    kiln_files.sort();
    if kiln_files != npm_files {
        let only_npm: Vec<_> = npm_files
            .iter()
            .filter(|f| !kiln_files.contains(f))
            .collect();
        let only_kiln: Vec<_> = kiln_files
            .iter()
            .filter(|f| !npm_files.contains(f))
            .collect();
        return Some(format!(
            "{spec}: file lists differ; only npm: {only_npm:?}; only kiln: {only_kiln:?}"
        ));
    }
    let kiln_tar = gunzip(&tgz);
    if kiln_tar == npm_tar {
        return None;
    }
    let (a, b) = (entries(npm_tar), entries(&kiln_tar));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if x != y {
            return Some(format!(
                "{spec}: entry {i} differs:\n  npm:  {x:?}\n  kiln: {y:?}"
            ));
        }
    }
    Some(format!(
        "{spec}: tars differ ({} vs {} bytes) with the same entries: header bytes",
        npm_tar.len(),
        kiln_tar.len()
    ))
}

#[test]
fn real_packages_pack_like_npm() {
    if !require_tool("npm") || !require_tool("tar") {
        return;
    }
    let tgz_dir = cache_root().join("tgz");
    fs::create_dir_all(&tgz_dir).unwrap();
    if !download(&tgz_dir) {
        return;
    }
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut failures = Vec::new();
    let (mut kiln_same, mut npm_same) = (0, 0);
    for (i, (spec, expect)) in PACKAGES.iter().enumerate() {
        let scratch = tmp.path().join(i.to_string());
        let dir = unpack(&tgz_dir.join(tgz_name(spec)), &scratch.join("src"));
        plant_excluded(&dir);
        if let Expect::StaleFilesEntry(entry) = expect {
            match npm::pack(&dir, std::io::sink()) {
                Ok(p)
                    if p.warnings
                        .iter()
                        .any(|w| w.contains(entry) && w.contains("package.json")) => {}
                other => failures.push(format!(
                    "{spec}: expected a warning for the `files` entry {entry:?}, got {other:?}"
                )),
            }
        }
        if spec.starts_with("rxjs@") {
            // excluded by the extglob `files` entries
            write(&dir.join("dist/cjs/tsconfig.tsbuildinfo"), "{}");
            write(&dir.join("dist/types/x.TSBUILDINFO"), "{}");
        }
        let published = gunzip(&fs::read(tgz_dir.join(tgz_name(spec))).unwrap());
        let (failure, npm_tar) = compare(spec, &dir, &scratch);
        match failure {
            Some(f) => failures.push(f),
            None => kiln_same += 1,
        }
        // The native tool against the registry's file (the planted files
        // are ones npm leaves out).
        if npm_tar == published {
            npm_same += 1;
        }
    }
    println!(
        "tar-identical: kiln vs npm pack {kiln_same}/{n}; npm pack vs published {npm_same}/{n}",
        n = PACKAGES.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} packages differ from npm pack:\n{}",
        failures.len(),
        PACKAGES.len(),
        failures.join("\n")
    );
}
