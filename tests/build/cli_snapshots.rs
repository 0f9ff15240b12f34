//! Snapshots (insta) of kiln's human output: `build`, `plan`, `version
//! show`, `store ls` and the main error messages, on the monorepo fixture
//! committed with a fixed identity and date. Temporary paths become
//! `[ROOT]`, the fixture's commit id `[COMMIT]` (so editing a fixture file
//! does not touch every snapshot), derivation and store hashes `[HASH]`;
//! everything else (order,
//! alignment, wording, counts, sizes) is pinned. Update with
//! `INSTA_UPDATE=always cargo test --test cli_snapshots` and review the diff.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{fixture, kiln, run};

fn kiln_in(root: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C")
        .arg(root)
        .arg("--store")
        .arg(root.join("store"))
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("TZ", "UTC");
    c
}

/// Replace the temporary root by `[ROOT]`, the commit checked out there (in
/// full, then its 7-digit abbreviation) by `[COMMIT]`, and every derivation
/// hash (hex, 16 or more digits) and store-path hash (32 nixbase32 digits
/// before `-`) by `[HASH]`.
fn redact(text: &str, root: &Path) -> String {
    let mut s = text.to_string();
    let head = fixture::git(root, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    if head.len() == 40 {
        s = s.replace(&head, "[COMMIT]").replace(&head[..7], "[COMMIT]");
    }
    for r in [
        std::fs::canonicalize(root).unwrap_or(root.to_path_buf()),
        root.to_path_buf(),
    ] {
        s = s.replace(&r.display().to_string(), "[ROOT]");
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let hex = word.len() >= 16 && word.chars().all(|c| c.is_ascii_hexdigit());
            let nix = word.len() == 32
                && chars.get(i) == Some(&'-')
                && word
                    .chars()
                    .all(|c| "0123456789abcdfghijklmnpqrsvwxyz".contains(c));
            out.push_str(if hex || nix { "[HASH]" } else { &word });
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

const NATIVE: &[&str] = &["docs-bundle", "docs-zip", "mini-npm"];

#[test]
fn build_plan_version_and_store_ls_human_output() {
    let (_tmp, root) = fixture::monorepo();
    let mut args = vec!["plan"];
    args.extend(NATIVE);
    let plan = ok(run(&mut kiln_in(&root, &args)));
    insta::assert_snapshot!("plan_before_build", redact(&stdout(&plan), &root));

    let mut args = vec!["build"];
    args.extend(NATIVE);
    let built = ok(run(&mut kiln_in(&root, &args)));
    insta::assert_snapshot!("build_first", redact(&stdout(&built), &root));
    let cached = ok(run(&mut kiln_in(&root, &args)));
    insta::assert_snapshot!("build_cached", redact(&stdout(&cached), &root));

    let mut args = vec!["plan"];
    args.extend(NATIVE);
    let plan = ok(run(&mut kiln_in(&root, &args)));
    insta::assert_snapshot!("plan_after_build", redact(&stdout(&plan), &root));

    let show = ok(run(&mut kiln_in(&root, &["version", "show"])));
    insta::assert_snapshot!("version_show", redact(&stdout(&show), &root));

    let ls = ok(run(&mut kiln_in(&root, &["store", "ls"])));
    insta::assert_snapshot!("store_ls", redact(&stdout(&ls), &root));
}

#[test]
fn main_error_messages() {
    let (_tmp, root) = fixture::monorepo();
    let mut cases = String::new();
    let mut case = |title: &str, c: &mut Command| {
        let o = run(c);
        cases.push_str(&format!(
            "## {title}\nexit {}\n{}\n",
            o.status.code().unwrap_or(-1),
            redact(&stderr(&o), &root).trim_end()
        ));
    };
    case("unknown recipe", &mut kiln_in(&root, &["build", "nope"]));
    case(
        "bad SOURCE_DATE_EPOCH",
        kiln_in(&root, &["plan", "docs-zip"]).env("SOURCE_DATE_EPOCH", "yesterday"),
    );
    case(
        "bad --sandbox",
        &mut kiln_in(&root, &["build", "--sandbox", "chroot", "docs-zip"]),
    );
    case(
        "malformed tag",
        &mut kiln_in(&root, &["build", "--tag", "v 1", "docs-zip"]),
    );
    case(
        "unknown revision",
        &mut kiln_in(&root, &["plan", "--rev", "no-such-rev"]),
    );
    // An uncommitted recipe with a type error, read with --dirty.
    std::fs::write(
        root.join("recipes/bad.toml"),
        "surface = \"zip\"\nsource = 5\n",
    )
    .unwrap();
    case(
        "recipe type error",
        &mut kiln_in(&root, &["plan", "--dirty"]),
    );
    std::fs::remove_file(root.join("recipes/bad.toml")).unwrap();
    std::fs::write(root.join("docs/index.md"), "changed, not committed\n").unwrap();
    case(
        "uncommitted source",
        &mut kiln_in(&root, &["build", "docs-zip"]),
    );
    insta::assert_snapshot!("error_messages", cases);
}
