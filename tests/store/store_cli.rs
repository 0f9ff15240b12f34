//! `kiln store add|ls|verify|gc` end to end, against `nix-store --add` and
//! `nix-hash`: idempotent adds, corruption detection and repair, gc roots,
//! bad input, concurrent adds and `kill -9` at random moments.

use crate::common;
use crate::nix_support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use common::{cmd, kiln, require_tool, run, run_ok};
use nix_support::*;

fn store_cmd(store: &Path) -> std::process::Command {
    let mut c = kiln();
    c.arg("--store").arg(store).arg("store");
    c
}

fn add(store: &Path, p: &Path) -> String {
    run_ok(store_cmd(store).arg("add").arg(p))
}

/// Files under `.kiln/tmp`.
fn tmp_leftovers(store: &Path) -> usize {
    std::fs::read_dir(store.join(".kiln/tmp")).map_or(0, |rd| rd.count())
}

#[test]
fn add_twice_is_one_entry_named_like_nix_store_add() {
    if !require_tool("nix-store") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    make_tree(&t, false);
    let store = dir.path().join("store");
    let first = add(&store, &t);
    let second = add(&store, &t);
    assert_eq!(first, second);
    let canon = std::fs::canonicalize(&store).unwrap();
    assert!(
        Path::new(&first).starts_with(&canon),
        "{first} is not absolute in the store"
    );
    assert_eq!(store_entries(&store).len(), 1);
    let base = Path::new(&first).file_name().unwrap().to_str().unwrap();
    assert_eq!(base, nix_add(&dir.path().join("nix"), &t));
    // The stored copy hashes like the source and is read-only.
    assert_eq!(nix_hash32(Path::new(&first)), nix_hash32(&t));
    let md = std::fs::metadata(Path::new(&first).join("exec.sh")).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o555);
    let md = std::fs::metadata(Path::new(&first).join("regular.txt")).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o444);
    let md = std::fs::metadata(&first).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o555);
    // A single file, and --name.
    let f = add(&store, &t.join("regular.txt"));
    assert!(f.ends_with("-regular.txt"));
    let named = run_ok(
        store_cmd(&store)
            .args(["add", "--name", "greeting"])
            .arg(t.join("regular.txt")),
    );
    assert!(named.ends_with("-greeting"));
    assert_eq!(
        Path::new(&named).file_name().unwrap().to_str().unwrap()[..32],
        nix_add(&dir.path().join("nix"), &{
            let p = dir.path().join("greeting");
            std::fs::copy(t.join("regular.txt"), &p).unwrap();
            p
        })[..32]
    );
    // ls: path, size, name; --json.
    let ls = run_ok(store_cmd(&store).arg("ls"));
    assert_eq!(ls.lines().count(), 3, "{ls}");
    assert!(
        ls.lines()
            .any(|l| l.starts_with(&first) && l.ends_with("\ttree")),
        "{ls}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(store_cmd(&store).args(["ls", "--json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
    assert_eq!(tmp_leftovers(&store), 0);
    run_ok(store_cmd(&store).arg("verify"));
}

/// Make a stored file writable and flip one byte of it.
fn flip_byte(file: &Path) {
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(file).unwrap();
    bytes[0] ^= 1;
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn verify_names_altered_and_missing_outputs_and_repair_clears_them() {
    if !require_tool("nix-hash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    make_tree(&t, false);
    let store = dir.path().join("store");
    let tree_path = add(&store, &t);
    let file_path = add(&store, &t.join("random.bin"));
    let other = add(&store, &t.join("exec.sh"));
    run_ok(store_cmd(&store).arg("verify"));

    flip_byte(&Path::new(&tree_path).join("nested/a/file"));
    std::fs::remove_file(&file_path).unwrap();
    let out = run(store_cmd(&store).arg("verify"));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{tree_path}: altered")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{file_path}: missing")),
        "{stdout}"
    );
    assert!(!stdout.contains(&other), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&run(store_cmd(&store).args(["verify", "--json"])).stdout).unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 2);

    let out = run(store_cmd(&store).args(["verify", "--repair"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!Path::new(&tree_path).exists());
    run_ok(store_cmd(&store).arg("verify"));
    assert_eq!(store_entries(&store), vec![PathBuf::from(&other)]);
    // Re-adding recreates the repaired path.
    assert_eq!(add(&store, &t), tree_path);
    assert_eq!(nix_hash32(Path::new(&tree_path)), nix_hash32(&t));
    run_ok(store_cmd(&store).arg("verify"));
}

#[test]
fn gc_keeps_added_paths_and_removes_unreferenced_outputs_and_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    make_tree(&t, false);
    let store = dir.path().join("store");
    let kept = add(&store, &t);
    std::fs::write(store.join(".gitignore"), "*\n!.gitignore\n").unwrap();
    // An output nothing references (as a crash between rename and record leaves).
    let orphan = store.join("0000000000000000000000000000000a-orphan");
    std::fs::create_dir_all(orphan.join("sub")).unwrap();
    std::fs::write(orphan.join("sub/f"), "x").unwrap();
    std::fs::set_permissions(orphan.join("sub"), std::fs::Permissions::from_mode(0o555)).unwrap();
    // A staging leftover with read-only contents.
    let leftover = store.join(".kiln/tmp/stage-leftover");
    std::fs::create_dir_all(leftover.join("d")).unwrap();
    std::fs::write(leftover.join("d/f"), "x").unwrap();
    std::fs::set_permissions(leftover.join("d"), std::fs::Permissions::from_mode(0o555)).unwrap();

    let dry = run_ok(store_cmd(&store).args(["gc", "--dry-run"]));
    assert!(
        dry.contains("orphan") && dry.contains("stage-leftover"),
        "{dry}"
    );
    assert!(!dry.contains(&kept), "{dry}");
    assert!(
        orphan.exists() && leftover.exists(),
        "--dry-run removed something"
    );

    let out = run_ok(store_cmd(&store).arg("gc"));
    assert!(out.contains("orphan"), "{out}");
    assert!(!orphan.exists() && !leftover.exists());
    assert!(Path::new(&kept).exists());
    assert!(
        store.join(".gitignore").exists(),
        "gc must leave files that are not store paths"
    );
    run_ok(store_cmd(&store).arg("verify"));
    assert_eq!(run_ok(store_cmd(&store).args(["gc", "--dry-run"])), "");
}

#[test]
fn bad_input_exits_2_and_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let check = |args: &[&std::ffi::OsStr], needle: &str| {
        let out = run(store_cmd(&store).args(args));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: {err:?} does not name {needle:?}"
        );
        assert!(store_entries(&store).is_empty(), "{args:?} added something");
        assert_eq!(tmp_leftovers(&store), 0, "{args:?} left staging behind");
    };
    let missing = dir.path().join("missing-input");
    check(&["add".as_ref(), missing.as_os_str()], "missing-input");
    check(
        &["add".as_ref(), "--dry-run".as_ref(), missing.as_os_str()],
        "missing-input",
    );

    let t = dir.path().join("tree");
    make_tree(&t, false);
    run_ok(cmd("mkfifo").arg(t.join("nested/a/pipe")));
    check(&["add".as_ref(), t.as_os_str()], "pipe");
    check(
        &["add".as_ref(), "--dry-run".as_ref(), t.as_os_str()],
        "pipe",
    );
    std::fs::remove_file(t.join("nested/a/pipe")).unwrap();

    for bad in ["has space", "", "sl/ash", "..", "ü"] {
        check(
            &[
                "add".as_ref(),
                "--name".as_ref(),
                bad.as_ref(),
                t.as_os_str(),
            ],
            &format!("{bad:?}"),
        );
    }
    // A source whose own name is not a valid store path name needs --name.
    let spaced = dir.path().join("has space");
    std::fs::create_dir_all(&spaced).unwrap();
    check(&["add".as_ref(), spaced.as_os_str()], "--name");
    let long = "x".repeat(212);
    check(
        &[
            "add".as_ref(),
            "--name".as_ref(),
            long.as_ref(),
            t.as_os_str(),
        ],
        "211",
    );
}

#[test]
fn eight_concurrent_adds_make_one_entry() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    make_wide_tree(&t, 400, 4);
    let store = dir.path().join("store");
    let children: Vec<_> = (0..8)
        .map(|_| {
            store_cmd(&store)
                .arg("add")
                .arg(&t)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<String> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap().trim().to_string()
        })
        .collect();
    assert!(outs.iter().all(|o| o == &outs[0]), "{outs:?}");
    assert_eq!(store_entries(&store), vec![PathBuf::from(&outs[0])]);
    assert_eq!(run_ok(store_cmd(&store).arg("ls")).lines().count(), 1);
    assert_eq!(tmp_leftovers(&store), 0);
    run_ok(store_cmd(&store).arg("verify"));
}

/// Pseudo-random numbers for kill delays; the seed is printed so a failure
/// can be replayed with KILN_TEST_SEED.
fn seed() -> u64 {
    let s = std::env::var("KILN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) * 2_654_435_761);
    eprintln!("kill -9 test seed: {s} (set KILN_TEST_SEED to replay)");
    s
}

/// Every registered path (validity record) exists and hashes, by nix-hash,
/// to its record; every root has a validity record.
fn assert_registered_entries_are_sound(store: &Path) {
    let valid = store.join(".kiln/valid");
    if !valid.exists() {
        return; // killed before the store was even laid out
    }
    for e in std::fs::read_dir(&valid).unwrap() {
        let rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        let base = rec["store_path"].as_str().unwrap();
        let path = store.join(base);
        assert!(path.exists(), "registered {base} is missing");
        let want: kiln::hash::Sha256 = rec["nar_hash"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            nix_hash32(&path),
            want.to_nix32(),
            "registered {base} has a wrong hash"
        );
    }
    for e in std::fs::read_dir(store.join(".kiln/roots")).unwrap() {
        let name = e.unwrap().file_name();
        assert!(
            valid
                .join(format!("{}.json", name.to_str().unwrap()))
                .exists(),
            "root {name:?} without validity record"
        );
    }
}

#[test]
fn kill_9_during_add_never_leaves_a_wrong_registered_entry() {
    if !require_tool("nix-hash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    make_wide_tree(&t, 1500, 24);
    let store = dir.path().join("store");
    // How long an uninterrupted add takes, in a scratch store.
    let scratch = dir.path().join("scratch");
    let start = Instant::now();
    let expected = add(&scratch, &t);
    let full = start.elapsed();
    let expected_base = Path::new(&expected).file_name().unwrap().to_owned();
    eprintln!("an uninterrupted add takes {full:?}");

    // Kill at random moments until 20 adds were interrupted mid-way. Once
    // one add completes, later ones find the path valid and finish sooner,
    // and machine load varies: each completed round shortens the window.
    let mut x = seed() | 1;
    let mut window = full;
    let mut killed_early = 0;
    let mut round = 0;
    while killed_early < 20 {
        assert!(
            round < 200,
            "only {killed_early} of {round} adds were interrupted"
        );
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = window.mul_f64((x % 1000) as f64 / 1000.0 * 0.9);
        let mut child = store_cmd(&store)
            .arg("add")
            .arg(&t)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_early += 1;
        } else {
            window = window.mul_f64(0.7);
        }
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        eprintln!("round {round}: killed after {delay:?}");
        assert_registered_entries_are_sound(&store);
        round += 1;
    }
    let out = add(&store, &t);
    assert_eq!(Path::new(&out).file_name().unwrap(), expected_base);
    assert_registered_entries_are_sound(&store);
    assert_eq!(store_entries(&store), vec![PathBuf::from(&out)]);
    run_ok(store_cmd(&store).arg("verify"));
    // Leftovers of the killed adds are collected, the entry survives.
    run_ok(store_cmd(&store).arg("gc"));
    assert_eq!(tmp_leftovers(&store), 0);
    assert_eq!(store_entries(&store), vec![PathBuf::from(&out)]);
    assert_eq!(nix_hash32(Path::new(&out)), nix_hash32(&t));
    let _ = std::io::stderr().flush();
}
