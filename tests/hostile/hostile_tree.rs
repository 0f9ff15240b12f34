//! Hostile source trees (issue 8, points 1, 9 and 10): crafted git trees,
//! file names kiln cannot write, links out of the checkout, and a build that
//! must leave `.git` alone. Each test builds the hostile repository itself
//! and checks the exit code, that the message names the culprit, and that
//! nothing changed outside kiln's own directories (a canary directory and
//! the checkout are digested before and after).

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::fixture::{git, tree_digest};
use common::{cmd, kiln, run, write};

/// A committed repository with a tarball recipe over `docs/` and a release
/// policy reading the version from `VERSION`.
fn repo(dir: &Path) -> PathBuf {
    let root = dir.join("repo");
    write(
        &root.join("recipes/docs.toml"),
        "surface = \"tarball\"\nsource = \"docs\"\noutput = \"docs.tar.gz\"\n",
    );
    write(
        &root.join("recipes/release.toml"),
        "[version]\nsource = \"file:VERSION\"\n",
    );
    write(&root.join("VERSION"), "1.2.3\n");
    write(&root.join("docs/guide.md"), "# guide\n");
    write(&root.join(".gitignore"), "/store/\n/dist/\n");
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "base"]);
    root
}

/// Write a git object with `git hash-object --literally` (no validity checks).
fn literal_object(repo: &Path, kind: &str, bytes: &[u8]) -> String {
    let mut child = cmd("git")
        .current_dir(repo)
        .args(["hash-object", "-t", kind, "--literally", "-w", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A tree object from `(mode, name, oid)` entries, in the order given.
fn literal_tree(repo: &Path, entries: &[(&str, &[u8], &str)]) -> String {
    let mut bytes = Vec::new();
    for (mode, name, oid) in entries {
        bytes.extend_from_slice(mode.as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(name);
        bytes.push(0);
        let raw: Vec<u8> = (0..oid.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&oid[i..i + 2], 16).unwrap())
            .collect();
        bytes.extend_from_slice(&raw);
    }
    literal_object(repo, "tree", &bytes)
}

fn blob(repo: &Path, contents: &[u8]) -> String {
    literal_object(repo, "blob", contents)
}

/// The entries of HEAD's root tree as `(mode, name, oid)`.
fn head_entries(repo: &Path) -> Vec<(String, Vec<u8>, String)> {
    let out = run(cmd("git").current_dir(repo).args(["ls-tree", "-z", "HEAD"]));
    out.stdout
        .split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let tab = r.iter().position(|b| *b == b'\t').unwrap();
            let meta = String::from_utf8(r[..tab].to_vec()).unwrap();
            let f: Vec<&str> = meta.split(' ').collect();
            let mode = if f[0] == "040000" { "40000" } else { f[0] };
            (mode.to_string(), r[tab + 1..].to_vec(), f[2].to_string())
        })
        .collect()
}

/// Commit HEAD's root tree plus `extra` entries; returns the commit id.
fn commit_with(repo: &Path, extra: &[(&str, &[u8], &str)]) -> String {
    let base = head_entries(repo);
    let mut entries: Vec<(&str, &[u8], &str)> = base
        .iter()
        .map(|(m, n, o)| (m.as_str(), n.as_slice(), o.as_str()))
        .collect();
    entries.extend_from_slice(extra);
    let tree = literal_tree(repo, &entries);
    git(repo, &["commit-tree", &tree, "-p", "HEAD", "-m", "crafted"])
}

fn build(repo: &Path, args: &[&str]) -> Output {
    run(kiln().current_dir(repo).arg("build").args(args))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Digests of the canary directory and of the checkout (its `.git` included).
fn state(canary: &Path, repo: &Path) -> (String, String) {
    (tree_digest(canary), tree_digest(repo))
}

fn canary(dir: &Path) -> PathBuf {
    let c = dir.join("canary");
    write(&c.join("keep.txt"), "canary\n");
    c
}

#[test]
fn absolute_entry_name_is_refused_before_anything_is_written() {
    let t = tempfile::tempdir().unwrap();
    let root = repo(t.path());
    let canary = canary(t.path());
    let target = canary.join("pwned");
    let payload = blob(&root, b"pwned\n");
    let name = target.to_str().unwrap().as_bytes().to_vec();
    let commit = commit_with(&root, &[("100644", &name, &payload)]);
    let before = state(&canary, &root);
    let out = build(&root, &["--rev", &commit]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&commit), "names the commit: {err}");
    assert!(
        err.contains(target.to_str().unwrap()),
        "names the path: {err}"
    );
    assert!(!target.exists(), "the crafted entry was written");
    assert_eq!(state(&canary, &root), before);
    assert!(!root.join("store").exists(), "the store was touched");
    assert!(!root.join("dist").exists());
}

#[test]
fn symlink_and_directory_of_the_same_name_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = repo(t.path());
    let canary = canary(t.path());
    let link = blob(&root, canary.to_str().unwrap().as_bytes());
    let payload = blob(&root, b"pwned\n");
    let sub = literal_tree(&root, &[("100644", b"pwned", &payload)]);
    let commit = commit_with(
        &root,
        &[("120000", b"zlink", &link), ("40000", b"zlink", &sub)],
    );
    let before = state(&canary, &root);
    let out = build(&root, &["--rev", &commit]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&commit) && err.contains("zlink"), "{err}");
    assert!(!canary.join("pwned").exists(), "written through the link");
    assert_eq!(state(&canary, &root), before);
    assert!(!root.join("store").exists());
}

#[test]
fn a_name_holding_a_slash_below_a_symlink_is_refused() {
    // git prints the entry `zlink/pwned` of the root tree like a file in a
    // directory `zlink`, which is a symlink out of the workspace.
    let t = tempfile::tempdir().unwrap();
    let root = repo(t.path());
    let canary = canary(t.path());
    let link = blob(&root, canary.to_str().unwrap().as_bytes());
    let payload = blob(&root, b"pwned\n");
    let commit = commit_with(
        &root,
        &[
            ("120000", b"zlink", &link),
            ("100644", b"zlink/pwned", &payload),
        ],
    );
    let before = state(&canary, &root);
    let out = build(&root, &["--rev", &commit]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("zlink/pwned"), "{err}");
    assert_eq!(state(&canary, &root), before);
}

#[test]
fn dot_dot_and_dot_git_entries_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = repo(t.path());
    let payload = blob(&root, b"[core]\n\thooksPath = /tmp\n");
    for (name, culprit) in [(&b".."[..], ".."), (b".git", ".git")] {
        let sub = literal_tree(&root, &[("100644", b"config", &payload)]);
        let docs = head_entries(&root)
            .into_iter()
            .find(|(_, n, _)| n == b"docs")
            .unwrap();
        let docs_tree = literal_tree(
            &root,
            &[
                ("100644", b"guide.md", &blob(&root, b"# guide\n")),
                ("40000", name, &sub),
            ],
        );
        assert_ne!(docs.2, docs_tree);
        let base: Vec<(String, Vec<u8>, String)> = head_entries(&root)
            .into_iter()
            .filter(|(_, n, _)| n != b"docs")
            .collect();
        let mut entries: Vec<(&str, &[u8], &str)> = base
            .iter()
            .map(|(m, n, o)| (m.as_str(), n.as_slice(), o.as_str()))
            .collect();
        entries.push(("40000", b"docs", &docs_tree));
        let tree = literal_tree(&root, &entries);
        let commit = git(&root, &["commit-tree", &tree, "-m", "crafted"]);
        let digest = tree_digest(&root);
        let out = build(&root, &["--rev", &commit]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name:?}: {err}");
        assert!(err.contains(&format!("`docs/{culprit}`")), "{err}");
        assert_eq!(tree_digest(&root), digest);
    }
}

#[test]
fn a_name_too_long_for_the_file_system_is_named() {
    let t = tempfile::tempdir().unwrap();
    let root = repo(t.path());
    let long = "n".repeat(300);
    let payload = blob(&root, b"x\n");
    let commit = commit_with(&root, &[("100644", long.as_bytes(), &payload)]);
    let digest = tree_digest(&root);
    let out = build(&root, &["--rev", &commit]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&long) && err.contains("255"), "{err}");
    assert_eq!(tree_digest(&root), digest);
    assert!(!root.join("store").exists());
}

#[test]
fn a_non_utf8_name_only_matters_to_a_recipe_that_selects_it() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let root = repo(t.path());
    let odd = root
        .join("junk")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt"));
    write(&odd, "latin-1 name\n");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "odd name"]);
    // The docs recipe does not read junk/: it builds.
    let out = build(&root, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(root.join("dist/docs.tar.gz").is_file());
    // A recipe over the whole tree selects it: exit 2 naming it.
    write(
        &root.join("recipes/all.toml"),
        "surface = \"tarball\"\nsource = \".\"\noutput = \"all.tar.gz\"\n",
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "all"]);
    let digest = tree_digest(&root);
    let out = build(&root, &["all"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("junk/caf\\xe9.txt") && err.contains("recipes/all.toml"),
        "{err}"
    );
    assert_eq!(tree_digest(&root), digest);
    // Excluding it is the way out.
    write(
        &root.join("recipes/all.toml"),
        "surface = \"tarball\"\nsource = \".\"\noutput = \"all.tar.gz\"\nexclude = [\"junk\"]\n",
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "exclude junk"]);
    let out = build(&root, &["all"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_version_file_linking_out_of_the_checkout_is_not_followed() {
    let t = tempfile::tempdir().unwrap();
    let root = repo(t.path());
    let canary = canary(t.path());
    let secret = canary.join("secret");
    write(&secret, "4.5.6-secret\n");
    std::fs::remove_file(root.join("VERSION")).unwrap();
    std::os::unix::fs::symlink(&secret, root.join("VERSION")).unwrap();
    let before = state(&canary, &root);
    let out = run(kiln().current_dir(&root).args(["version", "show"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("VERSION") && err.contains("outside the project"),
        "{err}"
    );
    let all = format!("{err}{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        !all.contains("4.5.6"),
        "the linked file's contents were printed: {all}"
    );
    assert_eq!(state(&canary, &root), before);
}

#[test]
fn a_build_does_not_rewrite_the_git_index() {
    let t = tempfile::tempdir().unwrap();
    let root = repo(t.path());
    // Make the index's stat data stale, so that `git status` would refresh
    // and rewrite it.
    let guide = root.join("docs/guide.md");
    let f = std::fs::File::options().write(true).open(&guide).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
        .unwrap();
    drop(f);
    let index = root.join(".git/index");
    let read = || {
        let meta = std::fs::metadata(&index).unwrap();
        (std::fs::read(&index).unwrap(), meta.modified().unwrap())
    };
    let before = read();
    let out = build(&root, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(before == read(), ".git/index was rewritten by the build");
}

#[test]
fn recipes_linking_out_of_a_plain_directory_are_refused_not_read() {
    // A project that is not a git checkout: recipes are read from disk. A
    // recipe linked to a file outside would print its lines in a parse
    // error; a policy linked to /dev/zero would be read without end.
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("plain");
    write(
        &root.join("recipes/docs.toml"),
        "surface = \"tarball\"\nsource = \"docs\"\noutput = \"docs.tar.gz\"\n",
    );
    write(&root.join("docs/guide.md"), "# guide\n");
    let canary = canary(t.path());
    let secret = canary.join("secret");
    write(&secret, "token = \"s3cr3t-value\"\n[[[\n");
    let cases: [(&str, &Path); 2] = [
        ("recipes/extra.toml", &secret),
        ("recipes/release.toml", Path::new("/dev/zero")),
    ];
    for (name, target) in cases {
        std::os::unix::fs::symlink(target, root.join(name)).unwrap();
        let before = state(&canary, &root);
        let out = run(kiln().current_dir(&root).args(["build"]));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(name) && err.contains("symbolic link"),
            "{name}: {err}"
        );
        assert!(
            !err.contains("s3cr3t"),
            "{name}: the linked file was read: {err}"
        );
        assert!(!root.join("store").exists() && !root.join("dist").exists());
        assert_eq!(state(&canary, &root), before, "{name}");
        std::fs::remove_file(root.join(name)).unwrap();
    }
}
