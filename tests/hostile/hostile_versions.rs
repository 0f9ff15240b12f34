//! Versions too long to be written (issue "Trust, round two", point 18): a
//! 10,000-byte pre-release and a dev template that renders a long version
//! are refused when they are parsed (exit 2, naming the value's length and
//! the limit), not when `dist/` is written ("File name too long", exit 3).
//! Each test checks that nothing was written: no `dist/`, no store, the
//! canary directory and `$HOME` untouched.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::canary::Canary;
use common::fixture::git;
use common::{kiln, run, write};

/// A committed project with one tarball recipe over `docs/`, its version
/// in `VERSION`, and `release` as `recipes/release.toml`.
fn project(dir: &Path, version: &str, release: &str) -> PathBuf {
    let root = dir.join("repo");
    write(
        &root.join("recipes/docs.toml"),
        "surface = \"tarball\"\nsource = \"docs\"\n",
    );
    write(
        &root.join("recipes/release.toml"),
        format!("[version]\nsource = \"file:VERSION\"\n{release}"),
    );
    write(&root.join("VERSION"), format!("{version}\n"));
    write(&root.join("docs/guide.md"), "# guide\n");
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "base"]);
    root
}

fn kiln_in(canary: &Canary, root: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C")
        .arg(root)
        .arg("--store")
        .arg(root.join("store"))
        .args(args)
        .env("HOME", &canary.home)
        .env("XDG_STATE_HOME", root.with_file_name("state"))
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Exit 2, a message naming `what` (the value's origin), its length and
/// the limit, and nothing written.
fn assert_refused(out: &Output, root: &Path, what: &str, len: usize) {
    let t = text(out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    for needle in [what, &format!("{len} bytes"), "at most 128 bytes"] {
        assert!(t.contains(needle), "{needle:?} not in {t}");
    }
    assert!(t.len() < 2_000, "the whole value is printed: {t}");
    assert!(!root.join("dist").exists(), "dist/ was written");
    assert!(!root.join("store").exists(), "the store was written");
}

#[test]
fn a_10000_byte_prerelease_is_refused_when_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let long = format!("1.0.0-{}", "a".repeat(10_000));
    let root = project(tmp.path(), &long, "");
    let out = run(&mut kiln_in(&canary, &root, &["build"]));
    assert_refused(&out, &root, "VERSION", long.len());
    let out = run(&mut kiln_in(&canary, &root, &["version", "show"]));
    assert_refused(&out, &root, "VERSION", long.len());
    // The same value given on the command line.
    std::fs::write(root.join("VERSION"), "1.0.0\n").unwrap();
    let out = run(&mut kiln_in(&canary, &root, &["build", "--version", &long]));
    assert_refused(&out, &root, "--version", long.len());
    canary.assert_untouched();
}

#[test]
fn a_long_dev_template_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let suffix = "x".repeat(300);
    let root = project(
        tmp.path(),
        "1.0.0",
        &format!("\n[dev]\nsemver = \"{{version}}-{suffix}.{{commit}}\"\n"),
    );
    let short = git(&root, &["rev-parse", "--short=7", "HEAD"]);
    let rendered = format!("1.0.0-{suffix}.{short}");
    let out = run(&mut kiln_in(&canary, &root, &["build"]));
    assert_refused(&out, &root, "[dev] semver", rendered.len());
    canary.assert_untouched();
}
