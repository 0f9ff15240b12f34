//! Output directories that come with a checkout (issue "Trust, round two",
//! point 2): a committed `dist` symlink, a committed link on the way to
//! `--out`, and links committed inside `dist/`. Each test checks the exit
//! code, that the message names the culprit, and that nothing outside
//! kiln's own places changed (`tests/common/canary.rs`).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::canary::Canary;
use common::fixture::{git, tree_digest};
use common::{cmd, kiln, run, run_ok, write};

/// A user with its own state directory (store key) and `HOME`.
fn kiln_as(canary: &Canary, state: &Path, root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(args)
        .env("XDG_STATE_HOME", state)
        .env("HOME", &canary.home)
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A committed project with one tarball recipe; `extra` runs before the
/// commit (to add what the attacker ships).
fn project(dir: &Path, extra: impl FnOnce(&Path)) -> PathBuf {
    write(&dir.join("src/hello.txt"), "hello, world\n");
    write(
        &dir.join("recipes/app.toml"),
        "surface = \"tarball\"\nsource = \"src\"\n",
    );
    write(
        &dir.join("recipes/release.toml"),
        "[version]\nsource = \"file:VERSION\"\n",
    );
    write(&dir.join("VERSION"), "1.0.0\n");
    git(dir, &["init", "-q"]);
    extra(dir);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "project"]);
    dir.to_path_buf()
}

/// The attacker's repository, cloned by the victim.
fn clone(from: &Path, to: &Path) -> PathBuf {
    run_ok(cmd("git").args(["clone", "-q"]).arg(from).arg(to));
    to.to_path_buf()
}

#[test]
fn a_committed_dist_symlink_is_refused_before_anything_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let target = canary.dir.clone();
    let a = project(&tmp.path().join("a"), |d| {
        std::os::unix::fs::symlink(&target, d.join("dist")).unwrap();
    });
    let root = clone(&a, &tmp.path().join("victim"));
    let store = tmp.path().join("store");
    let state = tmp.path().join("state");

    let out = run(&mut kiln_as(&canary, &state, &root, &store, &["build"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&root.join("dist").display().to_string())
            && err.contains(&target.display().to_string())
            && err.contains("symlink tracked by git"),
        "the message names neither the link nor its target: {}",
        text(&out)
    );
    // Refused at the plan stage: no store, no key, nothing through the link.
    assert!(!store.exists(), "the store was created before the refusal");
    assert!(
        !state.exists(),
        "the store key was created before the refusal"
    );
    canary.assert_untouched();

    // The same link on the way to `--out` (`--out dist/sub`) is refused too:
    // the user named the path, not the link the checkout put in it.
    let sub = root.join("dist/sub");
    let out = run(&mut kiln_as(
        &canary,
        &state,
        &root,
        &store,
        &["build", "--out", sub.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&target.display().to_string()),
        "{}",
        text(&out)
    );
    assert!(!store.exists());
    canary.assert_untouched();

    // The user's own link (not from the checkout), named as --out, is the
    // user's word: followed.
    let mine = tmp.path().join("elsewhere");
    std::fs::create_dir(&mine).unwrap();
    let link = tmp.path().join("my-dist");
    std::os::unix::fs::symlink(&mine, &link).unwrap();
    let out = run(&mut kiln_as(
        &canary,
        &state,
        &root,
        &store,
        &["build", "--out", link.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(mine.join("SHA256SUMS").is_file());
    canary.assert_untouched();
}

#[test]
fn links_committed_inside_dist_are_replaced_never_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let planted = canary.dir.join("planted");
    let bashrc = canary.home.join(".bashrc");
    let keep = canary.dir.join("keep");
    let a = project(&tmp.path().join("a"), |d| {
        std::fs::create_dir(d.join("dist")).unwrap();
        // A dangling lock link: opening it to create would create `planted`.
        std::os::unix::fs::symlink(&planted, d.join("dist/.kiln-dist.lock")).unwrap();
        std::os::unix::fs::symlink(&bashrc, d.join("dist/SHA256SUMS")).unwrap();
        std::os::unix::fs::symlink(&keep, d.join("dist/.kiln-tmp-1-leftover")).unwrap();
    });
    let root = clone(&a, &tmp.path().join("victim"));
    let store = tmp.path().join("store");
    let state = tmp.path().join("state");

    let out = run(&mut kiln_as(&canary, &state, &root, &store, &["build"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !planted.exists(),
        "kiln created a file through dist/.kiln-dist.lock"
    );
    canary.assert_untouched();
    let dist = root.join("dist");
    for name in ["SHA256SUMS", ".kiln-dist.lock"] {
        let md = std::fs::symlink_metadata(dist.join(name)).unwrap();
        assert!(md.is_file(), "dist/{name} is still not a regular file");
    }
    assert!(
        std::fs::symlink_metadata(dist.join(".kiln-tmp-1-leftover")).is_err(),
        "the leftover link was not removed"
    );
    // And `dist/` is what SHA256SUMS says.
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("app"), "{sums}");
    let before = tree_digest(&canary.dir);
    let out = run(&mut kiln_as(&canary, &state, &root, &store, &["build"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(tree_digest(&canary.dir), before);
}
