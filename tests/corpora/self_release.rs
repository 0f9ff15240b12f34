//! kiln's own release (the README's first command): built in one clone,
//! rebuilt and compared bit for bit (`--check`) from a second clone at
//! another path with another umask and time zone, then all cache hits; both
//! clones publish the same `SHA256SUMS`; the `.crate` holds what `cargo
//! package` lists in a clean clone and builds outside kiln, offline; the
//! binary in the release tarball runs and hashes as Nix does.
//!
//! A fast test checks the same contract without building: cargo packs every
//! source file of kiln (Cargo.toml's `exclude` is anchored), and the
//! `kiln-crate` recipe reads every file cargo packs.

use crate::common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::{cmd, kiln, kiln_bin, require_tool, run, run_ok};

/// `cargo package --list` in `dir`: the paths cargo would pack.
fn cargo_list(dir: &Path) -> Vec<String> {
    let listed = run_ok(
        cmd("cargo")
            .args(["package", "--list", "--offline", "--allow-dirty"])
            .current_dir(dir),
    );
    let mut v: Vec<String> = listed.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// The entry paths of a `.crate`, below its `{name}-{version}/` directory.
fn crate_entries(crate_file: &Path) -> Vec<String> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(crate_file).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    let mut a = tar::Archive::new(tar.as_slice());
    let mut v: Vec<String> = a
        .entries()
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path().unwrap().display().to_string();
            p.split_once('/').unwrap().1.to_string()
        })
        .collect();
    v.sort();
    v
}

/// The one file in `dir` whose name ends with `suffix`.
fn dist_file(dir: &Path, suffix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix} in {}", dir.display()))
}

#[test]
fn cargo_packs_every_source_file_and_the_crate_recipe_reads_them() {
    if !require_tool("cargo") || !require_tool("git") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listed = cargo_list(root);
    // Every tracked source file is packed (an unanchored `store/` in
    // `exclude` once dropped src/store/, and `dist/` the module now named
    // src/engine/placement/).
    let tracked = run_ok(cmd("git").args(["ls-files", "src"]).current_dir(root));
    for file in tracked.lines() {
        assert!(
            listed.iter().any(|l| l == file),
            "cargo does not pack {file}"
        );
    }
    for dir in ["store/", "dist/", "fuzz/", "bench/out/"] {
        assert!(
            !listed.iter().any(|l| l.starts_with(dir)),
            "cargo packs {dir}"
        );
    }
    // kiln's reading of the recipe (its `exclude`, kiln's globs) selects
    // every file cargo packs (cargo's own reading of Cargo.toml's).
    let checkout = kiln::source::Checkout::resolve(root, None, true).unwrap();
    let (recipes, _) = kiln::recipe::load::project(&checkout).unwrap();
    let snapshot =
        kiln::source::Snapshot::take(&checkout, &kiln::source::SnapshotOptions::default()).unwrap();
    let r = &recipes.recipes["kiln-crate"];
    let selection = snapshot
        .select(&r.file, &r.spec.source, &r.spec.include, &r.spec.exclude)
        .unwrap();
    let generated = [".cargo_vcs_info.json", "Cargo.toml.orig"];
    for file in listed.iter().filter(|f| !generated.contains(&f.as_str())) {
        assert!(
            selection.files.iter().any(|f| &f.path == file),
            "recipes/kiln-crate.toml does not select {file}, which cargo packs"
        );
    }
}

fn clone_to(dest: &Path) {
    let src = env!("CARGO_MANIFEST_DIR");
    run_ok(
        cmd("git")
            .args(["clone", "-q", "--no-hardlinks", src])
            .arg(dest),
    );
}

#[test]
fn kiln_builds_its_own_release_reproducibly() {
    if !require_tool("bwrap") || !require_tool("cargo") || !require_tool("git") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a/kiln");
    let b = tmp.path().join("b/somewhere/else/kiln-clone");
    clone_to(&a);
    clone_to(&b);
    let store = tmp.path().join("store");
    let listed_in_clone = cargo_list(&a);

    let built = run_ok(
        kiln()
            .arg("-C")
            .arg(&a)
            .arg("--store")
            .arg(&store)
            .args(["build", "--json"]),
    );
    let v: serde_json::Value = serde_json::from_str(&built).unwrap();
    let recipes = v["recipes"].as_array().unwrap();
    assert!(recipes.iter().all(|r| r["status"] == "built"), "{built}");
    let names: Vec<&str> = recipes
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kiln-bin", "kiln-crate", "kiln-dist"]);

    // The second clone, elsewhere, under another umask and TZ, rebuilds every
    // registered derivation and compares bytes.
    let mut c = cmd("sh");
    c.args(["-c", "umask 027 && exec \"$0\" \"$@\""])
        .arg(kiln_bin())
        .arg("-C")
        .arg(&b)
        .arg("--store")
        .arg(&store)
        .args(["build", "--check", "--json"])
        .env("TZ", "Pacific/Chatham")
        .env_remove("KILN_STORE")
        .env_remove("SOURCE_DATE_EPOCH");
    let checked = run(&mut c);
    assert!(
        checked.status.success(),
        "rebuilding from another clone differs:\n{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert!(v["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "checked"));

    let again = run_ok(
        kiln()
            .arg("-C")
            .arg(&a)
            .arg("--store")
            .arg(&store)
            .args(["build", "--json"]),
    );
    let v: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert!(
        v["recipes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "cached"),
        "{again}"
    );

    let sums_a = std::fs::read_to_string(a.join("dist/SHA256SUMS")).unwrap();
    let sums_b = std::fs::read_to_string(b.join("dist/SHA256SUMS")).unwrap();
    assert_eq!(sums_a, sums_b);
    assert!(
        sums_a.contains(".crate") && sums_a.contains("-x86_64-unknown-linux-gnu.tar.gz"),
        "{sums_a}"
    );

    // The .crate holds exactly what cargo lists in a clean clone (that it
    // builds outside kiln is the next test's).
    let crate_file = dist_file(&a.join("dist"), ".crate");
    assert_eq!(crate_entries(&crate_file), listed_in_clone);

    // The released binary works, hashes as Nix does and carries no host path.
    let tarball = dist_file(&a.join("dist"), "-x86_64-unknown-linux-gnu.tar.gz");
    let unpack = tmp.path().join("unpacked");
    std::fs::create_dir_all(&unpack).unwrap();
    run_ok(cmd("tar").arg("-xzf").arg(&tarball).arg("-C").arg(&unpack));
    let top = std::fs::read_dir(&unpack)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let released = top.join("kiln");
    let version = run_ok(cmd(released.to_str().unwrap()).arg("--version"));
    assert!(version.starts_with("kiln "), "{version}");
    if require_tool("nix-hash") {
        let file = a.join("README.md");
        let ours = run_ok(cmd(released.to_str().unwrap()).arg("hash").arg(&file));
        let nix = run_ok(
            cmd("nix-hash")
                .args(["--type", "sha256", "--base32"])
                .arg(&file),
        );
        assert_eq!(
            ours, nix,
            "the released kiln hashes README.md unlike nix-hash"
        );
    }
    let bytes = std::fs::read(&released).unwrap();
    for leak in [
        tmp.path().to_string_lossy().as_bytes(),
        b"/root/".as_slice(),
        b"/build/src",
    ] {
        assert!(
            !bytes.windows(leak.len()).any(|w| w == leak),
            "the binary contains {:?}",
            String::from_utf8_lossy(leak)
        );
    }
}

/// kiln's `.crate` builds outside kiln, offline, with the lockfile it
/// carries, and the binary it builds runs. Apart from the release test, so
/// that this compile runs beside its two release builds instead of after
/// them.
///
/// The `.crate` comes from the `kiln-crate` recipe, which packs without
/// cargo's verify build (`verify = false`): this test is that check.
#[test]
fn kiln_crate_builds_outside_kiln_offline_and_its_binary_runs() {
    if !require_tool("bwrap") || !require_tool("cargo") || !require_tool("git") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("kiln");
    clone_to(&a);
    let built = run_ok(
        kiln()
            .arg("-C")
            .arg(&a)
            .arg("--store")
            .arg(tmp.path().join("store"))
            .args(["build", "kiln-crate", "--json"]),
    );
    let v: serde_json::Value = serde_json::from_str(&built).unwrap();
    let recipes = v["recipes"].as_array().unwrap();
    assert_eq!(recipes.len(), 1, "{built}");
    assert_eq!(recipes[0]["name"], "kiln-crate", "{built}");
    assert_eq!(recipes[0]["status"], "built", "{built}");
    let crate_file = dist_file(&a.join("dist"), ".crate");
    compile_unpacked(&crate_file, tmp.path());
}

/// Cargo's build directory for this checkout (where `cargo build` put the
/// compiled dependencies the tests link).
fn suite_build_dir() -> PathBuf {
    let meta = run_ok(
        cmd("cargo")
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR")),
    );
    let v: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let dir = v.get("build_directory").unwrap_or(&v["target_directory"]);
    PathBuf::from(dir.as_str().unwrap())
}

/// The environment variables cargo (and nextest) set for a test process, by
/// prefix.
const CARGO_SET_FOR_TESTS: &[&str] = &[
    "CARGO_MANIFEST_",
    "CARGO_PKG_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "NEXTEST",
];

/// Unpack `crate_file` and `cargo build --offline --locked` it from the
/// host's cargo cache; the binary it builds runs.
///
/// Only kiln itself is compiled. cargo's build directory (`build.build-dir`,
/// its intermediate artifacts) is the suite's own, where the dependencies,
/// already compiled for the tests, are reused: the crate's lockfile pins
/// the same packages (one the tests' dev-dependencies give other features
/// is compiled beside). kiln's own units there get names of their own (no
/// debug info: another profile, another hash), and the binary is placed in
/// this test's target directory, never over the suite's `target/debug/kiln`
/// that other tests run. The sources are unpacked with the current time
/// (`tar -m`), so cargo's mtime check cannot take an earlier run's build
/// of them for fresh; its `Compiling kiln` line shows it compiled them.
fn compile_unpacked(crate_file: &Path, tmp: &Path) {
    let into = tmp.join("crate-unpacked");
    std::fs::create_dir_all(&into).unwrap();
    run_ok(cmd("tar").arg("-xzmf").arg(crate_file).arg("-C").arg(&into));
    let dir = std::fs::read_dir(&into)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let build_dir_path = suite_build_dir();
    let build_dir = serde_json::to_string(&build_dir_path).unwrap();
    let target = tmp.join("crate-target");
    let mut build = cmd("nice");
    // What cargo sets for this test process (CARGO_MANIFEST_DIR, ...) is
    // not for the crate's build: a dependency that reads one (ring) would
    // look changed and be compiled again.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key == "OUT_DIR" || CARGO_SET_FOR_TESTS.iter().any(|p| key.starts_with(p)) {
            build.env_remove(&*key);
        }
    }
    let out = run(build
        .args(["cargo", "build", "--offline", "--locked", "--config"])
        .arg(format!("build.build-dir={build_dir}"))
        .args(["--config", "profile.dev.package.kiln.debug=false"])
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_INCREMENTAL", "0")
        .current_dir(&dir));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the unpacked .crate does not build:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.trim_start().starts_with("Compiling kiln v")),
        "cargo did not compile the unpacked crate:\n{log}"
    );
    let _own = OwnUnits::find(&build_dir_path, &target.join("debug"));
    let version = run_ok(cmd(target.join("debug/kiln").to_str().unwrap()).arg("--version"));
    assert!(version.starts_with("kiln "), "{version}");
}

/// kiln's own units that the crate build left in the suite's build
/// directory, removed when dropped: their hash follows the stamped version
/// (`0.1.0-<commit>`), so each commit tested would leave about 100 MB there.
/// Found as the files in `deps/` identical to what the build placed in its
/// target directory (`kiln`, `libkiln.rlib`), so the suite's own never are.
struct OwnUnits {
    build_dir: PathBuf,
    hashes: Vec<String>,
}

impl OwnUnits {
    fn find(build_dir: &Path, placed: &Path) -> OwnUnits {
        let deps = build_dir.join("debug/deps");
        let mut hashes = Vec::new();
        for (prefix, file) in [("kiln-", "kiln"), ("libkiln-", "libkiln.rlib")] {
            let ours = std::fs::read(placed.join(file)).unwrap();
            for entry in std::fs::read_dir(&deps).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let Some(hash) = name.strip_prefix(prefix) else {
                    continue;
                };
                let hash = hash.trim_end_matches(".rlib");
                let same_size =
                    std::fs::metadata(&path).is_ok_and(|m| m.len() == ours.len() as u64);
                if !hash.contains('.') && same_size && std::fs::read(&path).unwrap() == ours {
                    hashes.push(hash.to_string());
                }
            }
        }
        OwnUnits {
            build_dir: build_dir.to_path_buf(),
            hashes,
        }
    }
}

impl Drop for OwnUnits {
    fn drop(&mut self) {
        let debug = self.build_dir.join("debug");
        for hash in &self.hashes {
            let _ = std::fs::remove_dir_all(debug.join(format!(".fingerprint/kiln-{hash}")));
            for entry in std::fs::read_dir(debug.join("deps")).into_iter().flatten() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let stem = name.strip_prefix("lib").unwrap_or(&name);
                if stem.starts_with(&format!("kiln-{hash}")) {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
}
