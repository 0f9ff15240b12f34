//! Stores kiln did not write, and store outputs changed behind its back
//! (issue 8, points 2, 3, 8, 9 and 10, store side): forged realisations in a
//! copied store, a store committed to the repository, an edited stored file,
//! `build --check` against the bytes on disk, malformed records, the store
//! key's location and permissions, derivation lock holders, gc of sandbox
//! leftovers. Every "machine" has its own `XDG_STATE_HOME` (its store key).

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fixture::{git, tree_digest};
use common::{cmd, kiln, run, run_ok, write};

/// One user on one machine: its own state directory (store key) and home.
struct Machine {
    state: PathBuf,
    home: PathBuf,
}

impl Machine {
    fn new(dir: &Path) -> Machine {
        let m = Machine {
            state: dir.join("state"),
            home: dir.join("home"),
        };
        std::fs::create_dir_all(&m.home).unwrap();
        m
    }

    fn kiln(&self, root: &Path, store: Option<&Path>, args: &[&str]) -> Command {
        let mut c = kiln();
        c.arg("-C").arg(root);
        if let Some(s) = store {
            c.arg("--store").arg(s);
        }
        c.args(args)
            .env("XDG_STATE_HOME", &self.state)
            .env("HOME", &self.home)
            .env_remove("SOURCE_DATE_EPOCH");
        c
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "kiln failed: {}", text(&out));
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small project with one `tarball` recipe, committed.
fn project(dir: &Path, ignore: &str) -> PathBuf {
    write(&dir.join("src/hello.txt"), "hello, world\n");
    write(
        &dir.join("src/sub/data.txt"),
        "the real contents\n".repeat(50),
    );
    write(
        &dir.join("recipes/app.toml"),
        "surface = \"tarball\"\nsource = \"src\"\n",
    );
    write(
        &dir.join("recipes/release.toml"),
        "[version]\nsource = \"file:VERSION\"\n",
    );
    write(&dir.join("VERSION"), "1.0.0\n");
    write(&dir.join(".gitignore"), ignore);
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "project"]);
    dir.to_path_buf()
}

/// `name -> sha256 hex` as listed in `dist/SHA256SUMS`, after checking that
/// every listed file really has that hash.
fn checked_sums(dist: &Path) -> Vec<(String, String)> {
    use sha2::{Digest, Sha256};
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let mut out = Vec::new();
    for line in sums.lines() {
        let (hex, name) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(dist.join(name)).unwrap();
        let real: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            real, hex,
            "dist/{name} does not have the hash SHA256SUMS lists"
        );
        out.push((name.to_string(), hex.to_string()));
    }
    assert!(!out.is_empty());
    out
}

/// The built output's store path (the one a realisation points at).
fn built_output(m: &Machine, root: &Path, store: &Path) -> PathBuf {
    let out = ok(run(&mut m.kiln(
        root,
        Some(store),
        &["store", "ls", "--json"],
    )));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries: Vec<&serde_json::Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["derivations"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(entries.len(), 1, "{v}");
    PathBuf::from(entries[0]["path"].as_str().unwrap())
}

/// The first regular file of a stored output (the output itself if a file).
fn a_file_of(path: &Path) -> PathBuf {
    if path.is_file() {
        return path.to_path_buf();
    }
    let mut names: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names.into_iter().map(|p| a_file_of(&p)).next().unwrap()
}

/// What an attacker (or a careless tool) does to a stored file: make it
/// writable, change its bytes, put the mode and mtime back.
fn tamper(file: &Path) {
    let mode = std::fs::metadata(file).unwrap().permissions().mode();
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode | 0o200)).unwrap();
    let mut bytes = std::fs::read(file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x55;
    std::fs::write(file, &bytes).unwrap();
    run_ok(cmd("touch").args(["-h", "-d", "@1"]).arg(file));
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn statuses(out: &Output) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("build --json");
    v["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

/// A directory outside everything kiln is given, to prove nothing lands there.
fn canary(dir: &Path) -> (PathBuf, String) {
    let c = dir.join("canary");
    write(&c.join("a.txt"), "do not touch\n");
    write(&c.join("sub/b.txt"), "nor this\n");
    let d = tree_digest(&c);
    (c, d)
}

#[test]
fn forged_realisation_in_a_copied_store_is_ignored_and_the_clone_rebuilds() {
    let tmp = tempfile::tempdir().unwrap();
    let (canary_dir, canary_before) = canary(tmp.path());
    let attacker = Machine::new(&tmp.path().join("attacker"));
    let victim = Machine::new(&tmp.path().join("victim"));

    // The attacker builds honestly once, then forges: the realisation now
    // points at another valid store entry holding a payload, and the honest
    // output's bytes are changed in place as well.
    let a_root = project(&tmp.path().join("a/proj"), "/dist/\n");
    let a_store = tmp.path().join("a/store");
    let a_dist = tmp.path().join("a/dist");
    ok(run(&mut attacker.kiln(
        &a_root,
        Some(&a_store),
        &["build", "--out", a_dist.to_str().unwrap()],
    )));
    let honest = checked_sums(&a_dist);
    let payload = tmp.path().join("payload.tar.gz");
    write(&payload, "malicious bytes\n");
    let pay = ok(run(&mut attacker.kiln(
        &a_root,
        Some(&a_store),
        &["store", "add", payload.to_str().unwrap()],
    )));
    let pay_path = PathBuf::from(String::from_utf8_lossy(&pay.stdout).trim());
    let pay_base = pay_path.file_name().unwrap().to_str().unwrap().to_string();
    let pay_hash = run_ok(
        kiln()
            .args(["hash", "--hex"])
            .arg(&pay_path)
            .env("XDG_STATE_HOME", &attacker.state),
    );
    let reals = a_store.join(".kiln/realisations");
    let rec_path = std::fs::read_dir(&reals)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rec_path).unwrap()).unwrap();
    let honest_out = a_store.join(rec["store_path"].as_str().unwrap());
    rec["store_path"] = pay_base.clone().into();
    rec["nar_hash"] = format!("sha256:{pay_hash}").into();
    rec["nar_size"] = std::fs::metadata(&payload).unwrap().len().into();
    std::fs::write(&rec_path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    tamper(&a_file_of(&honest_out));

    // The victim gets a fresh clone and the attacker's store, copied.
    let v_root = tmp.path().join("v/proj");
    run_ok(cmd("git").args(["clone", "-q"]).arg(&a_root).arg(&v_root));
    let v_store = tmp.path().join("v/store");
    run_ok(cmd("cp").arg("-a").arg(&a_store).arg(&v_store));
    let checkout_before = tree_digest(&v_root);

    // verify names the forged record as untrusted.
    let out = run(&mut victim.kiln(&v_root, Some(&v_store), &["store", "verify"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rec_name = rec_path.file_name().unwrap().to_str().unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(rec_name) && l.contains("untrusted record")),
        "{}",
        text(&out)
    );

    // The build ignores it, rebuilds, and ships the honest bytes.
    let v_dist = tmp.path().join("v/dist");
    let out = ok(run(&mut victim.kiln(
        &v_root,
        Some(&v_store),
        &["build", "--json", "--out", v_dist.to_str().unwrap()],
    )));
    assert_eq!(statuses(&out), ["built"], "{}", text(&out));
    assert!(
        stderr(&out).contains("ignoring store record") && stderr(&out).contains(rec_name),
        "{}",
        text(&out)
    );
    assert_eq!(checked_sums(&v_dist), honest);
    let shipped = std::fs::read(v_dist.join(&honest[0].0)).unwrap();
    assert_ne!(shipped, b"malicious bytes\n".to_vec());
    // Its own store is consistent now: the next build is a cache hit.
    let out = ok(run(&mut victim.kiln(
        &v_root,
        Some(&v_store),
        &["build", "--json", "--out", v_dist.to_str().unwrap()],
    )));
    assert_eq!(statuses(&out), ["cached"], "{}", text(&out));
    assert_eq!(checked_sums(&v_dist), honest);

    assert_eq!(
        tree_digest(&v_root),
        checkout_before,
        "the checkout changed"
    );
    assert_eq!(
        tree_digest(&canary_dir),
        canary_before,
        "the canary changed"
    );
    // The key lives in the victim's state directory, nowhere else.
    assert!(victim.state.join("kiln/store-key").is_file());
    assert!(!v_store.join("store-key").exists());
}

#[test]
fn a_store_tracked_by_git_is_refused_with_exit_2_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (canary_dir, canary_before) = canary(tmp.path());
    let attacker = Machine::new(&tmp.path().join("attacker"));
    let victim = Machine::new(&tmp.path().join("victim"));
    // The attacker builds into the default store (in the project) and
    // commits it.
    let a_root = project(&tmp.path().join("a/proj"), "/dist/\n");
    ok(run(&mut attacker.kiln(&a_root, None, &["build"])));
    git(&a_root, &["add", "-f", "store"]);
    git(&a_root, &["commit", "-qm", "ship a store"]);

    let v_root = tmp.path().join("v/proj");
    run_ok(cmd("git").args(["clone", "-q"]).arg(&a_root).arg(&v_root));
    let store = v_root.join("store");
    let store_before = tree_digest(&store);
    for args in [
        &["build"][..],
        &["store", "verify"],
        &["store", "ls"],
        &["store", "gc"],
    ] {
        let out = run(&mut victim.kiln(&v_root, None, args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("store {}", store.display()))
                && err.contains("tracked by git")
                && err.contains(".kiln/"),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert_eq!(
        tree_digest(&store),
        store_before,
        "the committed store changed"
    );
    assert!(!v_root.join("dist").exists());
    assert!(
        !victim.state.exists(),
        "a refused build created the store key"
    );
    assert_eq!(tree_digest(&canary_dir), canary_before);

    // A committed symlink cannot point the default store elsewhere.
    let p = project(&tmp.path().join("c/proj"), "/dist/\n");
    std::os::unix::fs::symlink(&canary_dir, p.join("store")).unwrap();
    git(&p, &["add", "store"]);
    git(&p, &["commit", "-qm", "store elsewhere"]);
    let clone = tmp.path().join("c/clone");
    run_ok(cmd("git").args(["clone", "-q"]).arg(&p).arg(&clone));
    let out = run(&mut victim.kiln(&clone, None, &["build"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("is a symlink tracked by git"),
        "{}",
        text(&out)
    );
    assert_eq!(
        tree_digest(&canary_dir),
        canary_before,
        "kiln wrote through the link"
    );

    // A tracked `.gitignore` alone (as kiln's own repository has) is fine.
    let p = project(&tmp.path().join("b/proj"), "/dist/\n");
    write(&p.join("store/.gitignore"), "*\n!.gitignore\n");
    git(&p, &["add", "-f", "store/.gitignore"]);
    git(&p, &["commit", "-qm", "ignore the store"]);
    ok(run(&mut victim.kiln(&p, None, &["build"])));
}

#[test]
fn an_edited_store_file_is_set_aside_and_rebuilt_and_dist_gets_the_right_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (canary_dir, canary_before) = canary(tmp.path());
    let m = Machine::new(tmp.path());
    let root = project(&tmp.path().join("proj"), "/dist/\n");
    let store = tmp.path().join("store");
    let dist = tmp.path().join("dist");
    let dist_arg = dist.to_str().unwrap();
    ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--out", dist_arg],
    )));
    let good = checked_sums(&dist);
    let output = built_output(&m, &root, &store);
    tamper(&a_file_of(&output));

    let out = ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--json", "--out", dist_arg],
    )));
    assert_eq!(statuses(&out), ["built"], "{}", text(&out));
    let err = stderr(&out);
    let base = output.file_name().unwrap().to_str().unwrap();
    assert!(
        err.contains(&format!("store output {base} changed on disk"))
            && err.contains("set aside as"),
        "{}",
        text(&out)
    );
    assert_eq!(checked_sums(&dist), good, "dist/ is not the honest build");
    // The altered copy is kept for inspection, outside the store proper.
    let quarantine = store.join(".kiln/quarantine");
    let kept: Vec<_> = std::fs::read_dir(&quarantine).unwrap().collect();
    assert_eq!(kept.len(), 1);
    ok(run(&mut m.kiln(&root, Some(&store), &["store", "verify"])));
    let out = ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--json", "--out", dist_arg],
    )));
    assert_eq!(statuses(&out), ["cached"], "{}", text(&out));
    // gc removes what was set aside.
    let out = ok(run(&mut m.kiln(&root, Some(&store), &["store", "gc"])));
    assert!(String::from_utf8_lossy(&out.stdout).contains(".kiln/quarantine/"));
    assert_eq!(std::fs::read_dir(&quarantine).unwrap().count(), 0);
    assert_eq!(tree_digest(&canary_dir), canary_before);
}

#[test]
fn build_check_compares_against_the_bytes_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let m = Machine::new(tmp.path());
    let root = project(&tmp.path().join("proj"), "/dist/\n");
    let store = tmp.path().join("store");
    let dist = tmp.path().join("dist");
    let dist_arg = dist.to_str().unwrap();
    ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--out", dist_arg],
    )));
    let good = checked_sums(&dist);
    ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--check", "--out", dist_arg],
    )));
    let output = built_output(&m, &root, &store);
    tamper(&a_file_of(&output));

    let out = run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--check", "--out", dist_arg],
    ));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let base = output.file_name().unwrap().to_str().unwrap();
    assert!(
        stderr(&out).contains("--check")
            && stderr(&out).contains(&format!("{base} changed on disk")),
        "{}",
        text(&out)
    );
    // The check rebuilt it: the store is sound again and a build ships it.
    ok(run(&mut m.kiln(&root, Some(&store), &["store", "verify"])));
    let out = ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--json", "--out", dist_arg],
    )));
    assert_eq!(statuses(&out), ["cached"], "{}", text(&out));
    assert_eq!(checked_sums(&dist), good);
}

#[test]
fn malformed_records_break_neither_build_ls_verify_nor_gc() {
    let tmp = tempfile::tempdir().unwrap();
    let m = Machine::new(tmp.path());
    let root = project(&tmp.path().join("proj"), "/dist/\n");
    let store = tmp.path().join("store");
    let dist = tmp.path().join("dist");
    let dist_arg = dist.to_str().unwrap();
    ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--out", dist_arg],
    )));
    let good = checked_sums(&dist);
    let reals = store.join(".kiln/realisations");
    let real = std::fs::read_dir(&reals)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // The build's own realisation truncated, plus junk of every shape.
    let bytes = std::fs::read(&real).unwrap();
    std::fs::write(&real, &bytes[..bytes.len() / 2]).unwrap();
    write(&reals.join("zz-junk.json"), "{not json");
    std::fs::create_dir_all(reals.join("a-directory.json")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", reals.join("endless.json")).unwrap();
    run_ok(cmd("mkfifo").arg(reals.join("blocking.json")));
    write(
        &store.join(".kiln/valid/00000000000000000000000000000000-x.json"),
        "[1, 2, 3]",
    );

    let out = ok(run(&mut m.kiln(&root, Some(&store), &["store", "ls"])));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "{}",
        text(&out)
    );

    let out = ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--json", "--out", dist_arg],
    )));
    assert_eq!(statuses(&out), ["built"], "{}", text(&out));
    assert!(stderr(&out).contains("malformed"), "{}", text(&out));
    assert_eq!(checked_sums(&dist), good);

    let out = run(&mut m.kiln(&root, Some(&store), &["store", "verify"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    for name in [
        "zz-junk.json",
        "a-directory.json",
        "endless.json",
        "blocking.json",
        "00000000000000000000000000000000-x.json",
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.contains(name) && l.contains("malformed record")),
            "{name} not reported: {}",
            text(&out)
        );
    }
    ok(run(&mut m.kiln(&root, Some(&store), &["store", "gc"])));
    let out = ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--json", "--out", dist_arg],
    )));
    assert_eq!(
        statuses(&out),
        ["cached"],
        "gc dropped the rebuilt output: {}",
        text(&out)
    );

    ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["store", "verify", "--repair"],
    )));
    assert!(!reals.join("zz-junk.json").exists());
    assert!(!reals.join("a-directory.json").exists());
    assert!(!reals.join("blocking.json").exists());
    assert!(std::fs::symlink_metadata(reals.join("endless.json")).is_err());
    let out = ok(run(&mut m.kiln(&root, Some(&store), &["store", "verify"])));
    assert!(stderr(&out).contains("0 problem(s)"), "{}", text(&out));
    let out = ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["build", "--json", "--out", dist_arg],
    )));
    assert_eq!(statuses(&out), ["cached"], "{}", text(&out));
}

#[test]
fn the_store_key_is_private_and_outside_every_store_and_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project(&tmp.path().join("proj"), "/dist/\n/store/\n");
    // XDG_STATE_HOME unset: ~/.local/state/kiln.
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut c = kiln();
    c.arg("-C")
        .arg(&root)
        .arg("build")
        .env("HOME", &home)
        .env_remove("XDG_STATE_HOME")
        .env_remove("SOURCE_DATE_EPOCH");
    ok(run(&mut c));
    let dir = home.join(".local/state/kiln");
    let key = dir.join("store-key");
    let md = std::fs::symlink_metadata(&key).unwrap();
    assert!(md.is_file());
    assert_eq!(md.len(), 32);
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let found = run_ok(cmd("find").arg(&root).args(["-name", "store-key"]));
    assert_eq!(found, "", "a key file inside the checkout or its store");

    // A key that others can read is refused, not used.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(c.arg("--check"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stderr(&out).contains("mode 0644"), "{}", text(&out));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // A state directory inside the store is refused (exit 2).
    let m = Machine {
        state: root.join("store/state"),
        home: home.clone(),
    };
    let out = run(&mut m.kiln(&root, None, &["build", "--check"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("is inside the store"),
        "{}",
        text(&out)
    );
    assert!(!root.join("store/state").exists());
}

#[test]
fn a_waiter_reports_the_lock_holder_and_can_time_out() {
    let tmp = tempfile::tempdir().unwrap();
    let store =
        kiln::store::Store::open_with_state_dir(tmp.path().join("store"), tmp.path().join("state"))
            .unwrap();
    let held = store.lock_derivation("drv-a").unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |h: &kiln::store::LockHolder| seen.lock().unwrap().push(h.clone());
    let err = store
        .lock_derivation_waiting(
            "drv-a",
            kiln::store::LockWait {
                timeout: Some(std::time::Duration::from_millis(300)),
                on_wait: &record,
            },
        )
        .unwrap_err();
    let pid = std::process::id();
    assert!(
        matches!(err, kiln::store::StoreError::LockTimeout { pid: Some(p), .. } if p == pid),
        "{err}"
    );
    assert!(err.to_string().contains(&format!("process {pid}")), "{err}");
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].pid, Some(pid));
    assert!(seen[0].to_string().contains(&format!("process {pid}")));
    drop(held);
    // Released: taken at once, without a report.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let count = |_: &kiln::store::LockHolder| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    store
        .lock_derivation_waiting(
            "drv-a",
            kiln::store::LockWait {
                timeout: Some(std::time::Duration::from_millis(300)),
                on_wait: &count,
            },
        )
        .unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn gc_removes_sandbox_leftovers_of_killed_builds_but_keeps_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let m = Machine::new(tmp.path());
    let store = tmp.path().join("store");
    let root = project(&tmp.path().join("proj"), "/dist/\n");
    ok(run(&mut m.kiln(&root, Some(&store), &["build"])));
    let logs = store.join(".kiln/logs");
    let left = logs.join(".kiln-sandbox-AbC123");
    write(&left.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n");
    write(&left.join("root/tmp/scratch"), "x");
    std::fs::set_permissions(left.join("etc"), std::fs::Permissions::from_mode(0o555)).unwrap();
    write(&logs.join("some-drv.log"), "a log\n");

    let out = ok(run(&mut m.kiln(
        &root,
        Some(&store),
        &["store", "gc", "--dry-run"],
    )));
    assert!(String::from_utf8_lossy(&out.stdout).contains(".kiln-sandbox-AbC123"));
    assert!(left.exists());
    let out = ok(run(&mut m.kiln(&root, Some(&store), &["store", "gc"])));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(".kiln-sandbox-AbC123"),
        "{}",
        text(&out)
    );
    assert!(!left.exists());
    assert!(logs.join("some-drv.log").exists());
    let out = ok(run(&mut m.kiln(&root, Some(&store), &["build", "--json"])));
    assert_eq!(statuses(&out), ["cached"], "{}", text(&out));
}

#[test]
fn provenance_not_written_by_this_machine_is_never_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let open = |state: &str| {
        kiln::store::Store::open_with_state_dir(tmp.path().join("store"), tmp.path().join(state))
            .unwrap()
    };
    let store = open("state");
    let base: &kiln::nix::store_path::StorePath = &"0a9hkdz9jl5cfmvxw07nfvd9yhn7zmzx-app.tar.gz"
        .parse()
        .unwrap();
    let statement = b"{\"_type\": \"https://in-toto.io/Statement/v1\"}\n";
    let build = "0123456789abcdef0123456789abcdef";
    store.write_provenance(base, build, statement).unwrap();
    assert_eq!(
        store.provenance(base, build).unwrap().as_deref(),
        Some(&statement[..])
    );
    // Bound to its build: another build of the output does not read it.
    let other_build = "fedcba9876543210fedcba9876543210";
    assert_eq!(store.provenance(base, other_build).unwrap(), None);
    // Another user's (or machine's) kiln does not honour it...
    let other = open("other-state");
    assert_eq!(other.provenance(base, build).unwrap(), None);
    // ...nor does this one once the statement is swapped, MAC line kept.
    let file = store.root().join(format!(
        ".kiln/provenance/0a9hkdz9jl5cfmvxw07nfvd9yhn7zmzx.{build}.json"
    ));
    let sealed = std::fs::read(&file).unwrap();
    let nl = sealed.iter().position(|b| *b == b'\n').unwrap();
    let forged = [&sealed[..=nl], b"{\"_type\": \"forged\"}\n"].concat();
    std::fs::write(&file, &forged).unwrap();
    assert_eq!(store.provenance(base, build).unwrap(), None);
    // ...nor a sealed statement moved to another build's name.
    std::fs::write(&file, &sealed).unwrap();
    let moved = store.root().join(format!(
        ".kiln/provenance/0a9hkdz9jl5cfmvxw07nfvd9yhn7zmzx.{other_build}.json"
    ));
    std::fs::write(&moved, &sealed).unwrap();
    assert_eq!(store.provenance(base, other_build).unwrap(), None);
    let notices = store.take_notices();
    assert!(
        notices.iter().any(|n| n.to_string().contains("provenance")
            && n.to_string().contains("not written by this machine's kiln")),
        "{notices:?}"
    );
}

/// A copied store whose own directories are links (issue "Trust, round
/// two", point 3): `.kiln/tmp` and `.kiln/quarantine` point at directories
/// full of someone's files. gc must not empty them; no command may use such
/// a store: exit 2, naming the directory and its target.
#[test]
fn a_store_whose_own_directories_are_links_is_refused_and_nothing_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = common::canary::Canary::new(tmp.path());
    let m = Machine {
        state: tmp.path().join("state"),
        home: canary.home.clone(),
    };
    let root = project(&tmp.path().join("proj"), "/dist/\n");
    let store = tmp.path().join("store");
    ok(run(&mut m.kiln(&root, Some(&store), &["build"])));
    // A copy of it, as it arrives from elsewhere (`cp -a`, a tarball).
    let copied = tmp.path().join("copied");
    run_ok(cmd("cp").arg("-a").arg(&store).arg(&copied));
    let victims = [
        (".kiln/tmp", canary.home.join("keep")),
        (".kiln/quarantine", canary.dir.join("keep")),
    ];
    for (own, target) in &victims {
        let p = copied.join(own);
        if p.exists() {
            std::fs::remove_dir_all(&p).unwrap();
        }
        std::os::unix::fs::symlink(target, &p).unwrap();
    }
    for args in [
        &["store", "gc"][..],
        &["store", "verify", "--repair"],
        &["store", "ls"],
        &["build"],
    ] {
        let out = run(&mut m.kiln(&root, Some(&copied), args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&copied.join(".kiln/tmp").display().to_string())
                && err.contains(&victims[0].1.display().to_string())
                && err.contains("symbolic link"),
            "{args:?}: the message names neither the directory nor its target: {}",
            text(&out)
        );
    }
    // The link targets keep every file, subdirectories included.
    assert!(canary.home.join("keep/deeper/file").is_file());
    assert!(canary.dir.join("keep/deeper/file").is_file());
    canary.assert_untouched();

    // Only the quarantine a link: named just the same.
    std::fs::remove_file(copied.join(".kiln/tmp")).unwrap();
    std::fs::create_dir(copied.join(".kiln/tmp")).unwrap();
    let out = run(&mut m.kiln(&root, Some(&copied), &["store", "gc"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains(&copied.join(".kiln/quarantine").display().to_string()),
        "{}",
        text(&out)
    );
    canary.assert_untouched();

    // Links gc does remove (an entry named like an output, a leftover in
    // tmp) are removed as links: their targets stay.
    let bogus = copied.join("0a9hkdz9jl5cfmvxw07nfvd9yhn7zmzx-app.tar.gz");
    std::os::unix::fs::symlink(canary.dir.join("keep"), &bogus).unwrap();
    std::os::unix::fs::symlink(canary.home.join("keep"), copied.join(".kiln/tmp/stage-x")).unwrap();
    std::fs::remove_file(copied.join(".kiln/quarantine")).unwrap();
    ok(run(&mut m.kiln(&root, Some(&copied), &["store", "gc"])));
    assert!(std::fs::symlink_metadata(&bogus).is_err());
    assert!(std::fs::symlink_metadata(copied.join(".kiln/tmp/stage-x")).is_err());
    canary.assert_untouched();

    // The store lock is never opened through a link either.
    let lock = copied.join(".kiln/store.lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(canary.home.join(".bashrc"), &lock).unwrap();
    let out = run(&mut m.kiln(&root, Some(&copied), &["store", "ls"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains(&lock.display().to_string()),
        "{}",
        text(&out)
    );
    canary.assert_untouched();
}

/// `kiln` under a private mount namespace in which `store` is a read-only
/// bind mount of itself. Tests run as root here, and `chmod -w` does not
/// stop root: only a read-only mount makes the store unwritable for it
/// (`EROFS`). `unshare -rm` works as root and unprivileged alike.
fn on_read_only(m: &Machine, root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = read_only_mount(store);
    c.arg(common::kiln_bin())
        .arg("-C")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(args)
        .env("XDG_STATE_HOME", &m.state)
        .env("HOME", &m.home)
        .env_remove("KILN_STORE")
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

/// `unshare -rm sh -c '…' sh STORE`: the command that follows runs with
/// `STORE` mounted read-only.
fn read_only_mount(store: &Path) -> Command {
    let mut c = cmd("unshare");
    c.args([
        "-rm",
        "sh",
        "-c",
        "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" && shift && exec \"$@\"",
        "sh",
    ])
    .arg(store);
    c
}

/// Issue "Trust, round two", point 19: a store kiln cannot write still
/// serves what only reads it.
#[test]
fn read_only_commands_work_on_a_read_only_store() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = common::canary::Canary::new(tmp.path());
    let m = Machine {
        state: tmp.path().join("state"),
        home: canary.home.clone(),
    };
    let root = project(&tmp.path().join("proj"), "/dist/\n");
    let store = tmp.path().join("store");
    ok(run(&mut m.kiln(&root, Some(&store), &["build"])));
    // The lock file does not exist in a store that only ever was read, or
    // that came from elsewhere.
    std::fs::remove_file(store.join(".kiln/store.lock")).unwrap();
    let before = tree_digest(&store);

    // The method really makes the store unwritable, even for root.
    let out = run(read_only_mount(&store)
        .arg("touch")
        .arg(store.join(".kiln/probe")));
    assert!(
        !out.status.success(),
        "the store is writable: {}",
        text(&out)
    );
    assert!(stderr(&out).contains("Read-only"), "{}", text(&out));

    for args in [
        &["store", "ls"][..],
        &["store", "ls", "--json"],
        &["store", "verify"],
        &["plan"],
        // Everything is cached: nothing is written to the store.
        &["build"],
    ] {
        let out = run(&mut on_read_only(&m, &root, &store, args));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
    let artifact = std::fs::read_dir(root.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .unwrap();
    let out = run(&mut on_read_only(
        &m,
        &root,
        &store,
        &["provenance", artifact.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(0), "provenance: {}", text(&out));
    let ls = run(&mut on_read_only(&m, &root, &store, &["store", "ls"]));
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("app"),
        "{}",
        text(&ls)
    );
    // What writes still fails, as an environment error naming the store.
    let out = run(&mut on_read_only(&m, &root, &store, &["store", "gc"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stderr(&out).contains(&store.display().to_string()),
        "{}",
        text(&out)
    );
    assert_eq!(tree_digest(&store), before, "the read-only store changed");
    canary.assert_untouched();
}

/// A derivation's lock file that is a link (a store copied from elsewhere)
/// is refused naming it and its target (exit 2), and what it points at is
/// neither created nor written.
#[test]
fn a_derivation_lock_that_is_a_link_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = common::canary::Canary::new(tmp.path());
    let m = Machine {
        state: tmp.path().join("state"),
        home: canary.home.clone(),
    };
    let root = project(&tmp.path().join("proj"), "/dist/\n");
    let store = tmp.path().join("store");
    ok(run(&mut m.kiln(&root, Some(&store), &["build"])));
    let locks = store.join(".kiln/locks");
    let lock = std::fs::read_dir(&locks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "lock"))
        .expect("a derivation lock");
    std::fs::remove_file(&lock).unwrap();
    let target = canary.dir.join("keep/made-by-kiln");
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    // --check builds again, so the derivation is locked.
    let out = run(&mut m.kiln(&root, Some(&store), &["build", "--check"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&lock.display().to_string())
            && err.contains(&target.display().to_string())
            && err.contains("symbolic link"),
        "{}",
        text(&out)
    );
    assert!(!target.exists(), "the link's target was created");
    canary.assert_untouched();
}
