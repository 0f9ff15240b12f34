//! Never reuse a version: a release build of `V` from a commit other than
//! the one `V`'s release tag points at is refused (exit 2, naming both
//! commits), and so is a release of `V` whose source differs from an
//! earlier release of `V` built in the same store. Dev builds and
//! rebuilds of the released source are not affected.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::canary::Canary;
use common::fixture::{copy_dir, git, monorepo_at, monorepo_src};
use common::{kiln, run, write};

fn kiln_in(root: &Path, store: &Path, home: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH")
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.with_file_name("state"));
    c
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_release_is_built_only_from_the_commit_its_tag_names() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let root = monorepo_at(&tmp.path().join("mono"), false);
    let store = tmp.path().join("store");
    // The fixture's canonical version is 0.3.0-rc.1; its release tag is
    // on the first commit, and a docs change comes after it.
    let tagged = git(&root, &["rev-parse", "HEAD"]);
    git(&root, &["tag", "0.3.0-rc.1"]);
    write(&root.join("docs/later.md"), "after the release\n");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "after 0.3.0-rc.1"]);
    let head = git(&root, &["rev-parse", "HEAD"]);
    for args in [
        &["build", "--version", "0.3.0-rc.1", "docs-zip"][..],
        &["build", "--tag", "0.3.0-rc.1", "docs-zip"][..],
        &["plan", "--version", "0.3.0-rc.1", "docs-zip"][..],
    ] {
        let out = run(&mut kiln_in(&root, &store, &canary.home, args));
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(
            t.contains("tag 0.3.0-rc.1 points at commit")
                && t.contains(&tagged)
                && t.contains(&head)
                && t.contains("never reused"),
            "{args:?}: {t}"
        );
        assert!(!root.join("dist").exists(), "{args:?}: dist/ written");
        assert!(!store.exists(), "{args:?}: store written");
    }
    // The tagged commit builds its release; a dev build of HEAD is fine.
    let out = run(&mut kiln_in(
        &root,
        &store,
        &canary.home,
        &["build", "--rev", "0.3.0-rc.1", "docs-zip"],
    ));
    assert!(out.status.success(), "{}", text(&out));
    assert!(root.join("dist/mini-docs-0.3.0-rc.1.zip").is_file());
    let out = run(&mut kiln_in(
        &root,
        &store,
        &canary.home,
        &["build", "docs-zip"],
    ));
    assert!(out.status.success(), "{}", text(&out));
    canary.assert_untouched();
}

#[test]
fn the_store_remembers_which_source_each_release_was_built_from() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let root = monorepo_at(&tmp.path().join("mono"), false);
    let store = tmp.path().join("store");
    let first = git(&root, &["rev-parse", "HEAD"]);
    let release = ["build", "--version", "0.4.0", "docs-zip"];
    let out = run(&mut kiln_in(&root, &store, &canary.home, &release));
    assert!(out.status.success(), "{}", text(&out));
    let built = std::fs::read(root.join("dist/mini-docs-0.4.0.zip")).unwrap();
    // Built again from the same commit: the same release, served again.
    let out = run(&mut kiln_in(&root, &store, &canary.home, &release));
    assert!(out.status.success(), "{}", text(&out));
    // The docs change, nobody tagged 0.4.0: the store is the witness.
    write(&root.join("docs/index.md"), "# changed after 0.4.0\n");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "changed"]);
    let second = git(&root, &["rev-parse", "HEAD"]);
    let out = run(&mut kiln_in(&root, &store, &canary.home, &release));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("release 0.4.0 was built in this store from git:")
            && t.contains(&first)
            && t.contains(&second),
        "{t}"
    );
    assert_eq!(
        std::fs::read(root.join("dist/mini-docs-0.4.0.zip")).unwrap(),
        built,
        "dist/ changed"
    );
    // The released commit still builds, and a new version is fine.
    let out = run(&mut kiln_in(
        &root,
        &store,
        &canary.home,
        &["build", "--rev", &first, "--version", "0.4.0", "docs-zip"],
    ));
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&mut kiln_in(
        &root,
        &store,
        &canary.home,
        &["build", "--version", "0.4.1", "docs-zip"],
    ));
    assert!(out.status.success(), "{}", text(&out));
    canary.assert_untouched();
}

/// Two projects sharing a store may each release the same version: the
/// store's record is per project (the root commits of its history).
#[test]
fn another_project_in_the_same_store_may_release_the_same_version() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let store = tmp.path().join("store");
    let first = monorepo_at(&tmp.path().join("first"), false);
    let second = tmp.path().join("second");
    copy_dir(&monorepo_src(), &second, false);
    write(&second.join("docs/other.md"), "another project\n");
    git(&second, &["init", "-q"]);
    git(&second, &["add", "-A"]);
    git(&second, &["commit", "-q", "-m", "another project"]);
    for root in [&first, &second] {
        let out = run(&mut kiln_in(
            root,
            &store,
            &canary.home,
            &["build", "--version", "0.4.0", "docs-zip"],
        ));
        assert!(out.status.success(), "{}", text(&out));
    }
    canary.assert_untouched();
}
