//! `kiln version show / check-tag / bump` on git repositories made in temp
//! directories with a fixed identity and fixed dates, shaped like the three
//! release processes kiln must serve.

mod common;

use std::path::Path;
use std::process::Output;

use common::{cmd, kiln, require_tool, run, run_ok, write};
use serde_json::Value;

fn git(dir: &Path, args: &[&str]) -> String {
    common::fixture::git_dated(dir, args, "2024-02-29T23:30:00+0000")
}

fn commit_all(dir: &Path, msg: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", msg]);
}

fn kiln_in(dir: &Path, args: &[&str]) -> Output {
    run(kiln().arg("-C").arg(dir).args(args))
}

fn show(dir: &Path) -> Value {
    let out = kiln_in(dir, &["version", "show", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn packaging_norm(v: &str) -> String {
    run_ok(cmd("python3").args([
        "-c",
        "import sys; from packaging.version import Version; print(Version(sys.argv[1]))",
        v,
    ]))
}

/// Release process 1: one SemVer in the root Cargo.toml, raw SemVer tags,
/// dev builds suffixed with the short commit (`-<sha>`, PyPI `+<sha>`),
/// pre-releases on npm dist-tag `next`.
#[test]
fn raw_semver_tags_and_dev_builds() {
    if !(require_tool("git") && require_tool("python3")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        &dir.join("Cargo.toml"),
        "[workspace]\nmembers = []\n\n[workspace.package]\nversion = \"0.2.0-rc.1\"\n",
    );
    write(
        &dir.join("recipes/release.toml"),
        "[tag]\ntemplate = \"{version}\"\n",
    );
    git(dir, &["init", "-q", "-b", "main"]);
    commit_all(dir, "release prep");
    git(dir, &["tag", "0.2.0-rc.1"]);

    let s = show(dir);
    assert_eq!(s["status"]["kind"], "release");
    assert_eq!(s["status"]["tag"], "0.2.0-rc.1");
    assert_eq!(s["renderings"]["cargo"], "0.2.0-rc.1");
    assert_eq!(s["renderings"]["npm"], "0.2.0-rc.1");
    assert_eq!(s["renderings"]["pypi"], packaging_norm("0.2.0-rc.1"));
    assert_eq!(s["npm_dist_tag"], "next");
    assert_eq!(s["oci_tags"], serde_json::json!(["0.2.0-rc.1"]));

    // check-tag: match 0, mismatch 1, malformed 2.
    let ok = kiln_in(dir, &["version", "check-tag", "0.2.0-rc.1"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let mismatch = kiln_in(dir, &["version", "check-tag", "0.2.0"]);
    assert_eq!(mismatch.status.code(), Some(1));
    let e = stderr(&mismatch);
    assert!(
        e.contains("0.2.0") && e.contains("0.2.0-rc.1") && e.contains("Cargo.toml"),
        "{e}"
    );
    for bad in ["v0.2.0-rc.1", "0.2", "01.2.3", "1.2.3-01", "0.2.0-rc.01"] {
        let o = kiln_in(dir, &["version", "check-tag", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("expected {version}"), "{}", stderr(&o));
    }

    // A released version is never reused: `set` refuses to go back to it.
    write(
        &dir.join("Cargo.toml"),
        "[workspace]\nmembers = []\n\n[workspace.package]\nversion = \"0.2.0-rc.2\"\n",
    );
    let o = kiln_in(dir, &["version", "set", "0.2.0-rc.1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("already released"), "{}", stderr(&o));
    // `--rev` reads the committed manifest, not the working tree.
    let o = kiln_in(dir, &["version", "show", "--json", "--rev", "HEAD"]);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["version"], "0.2.0-rc.1");
    let s = show(dir);
    assert_eq!(s["version"], "0.2.0-rc.2");
    assert_eq!(
        s["status"]["kind"], "dev",
        "the working tree moved on from the tag"
    );
    git(dir, &["checkout", "--", "Cargo.toml"]);

    // One commit later: a dev build.
    write(&dir.join("README"), "more\n");
    commit_all(dir, "work");
    let short = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    let date = git(
        dir,
        &["log", "-1", "--format=%cd", "--date=format-local:%Y%m%d"],
    );
    let s = show(dir);
    assert_eq!(s["status"]["kind"], "dev");
    assert_eq!(s["status"]["commit"], short);
    assert_eq!(s["status"]["distance"], 1);
    assert_eq!(s["status"]["date"], date);
    assert_eq!(s["renderings"]["cargo"], format!("0.2.0-rc.1-{short}"));
    assert_eq!(s["renderings"]["npm"], format!("0.2.0-rc.1-{short}"));
    assert_eq!(s["renderings"]["oci"], format!("0.2.0-rc.1-{short}"));
    assert_eq!(
        s["renderings"]["pypi"],
        packaging_norm(&format!("0.2.0-rc.1+{short}"))
    );
    assert!(s["warnings"][0].as_str().unwrap().contains("PyPI"));
    assert_eq!(s["npm_dist_tag"], "next");

    // A tag at HEAD naming another version is a mismatch (exit 1).
    git(dir, &["tag", "0.3.0"]);
    let o = kiln_in(dir, &["version", "show", "--rev", "HEAD"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("0.3.0") && stderr(&o).contains("0.2.0-rc.1"));
    git(dir, &["tag", "-d", "0.3.0"]);

    // An all-digit short hash with a leading zero gets a `g` (valid SemVer).
    let tree = git(dir, &["rev-parse", "HEAD^{tree}"]);
    let parent = git(dir, &["rev-parse", "HEAD"]);
    let mut found = None;
    for n in 0..20_000 {
        let id = git(
            dir,
            &[
                "commit-tree",
                &tree,
                "-p",
                &parent,
                "-m",
                &format!("try {n}"),
            ],
        );
        let s = &id[..7];
        if s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()) {
            found = Some(id);
            break;
        }
    }
    let id = found.expect("a commit with an all-digit short hash");
    git(dir, &["update-ref", "HEAD", &id]);
    let short = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    let s = show(dir);
    let cargo = s["renderings"]["cargo"].as_str().unwrap();
    assert_eq!(cargo, format!("0.2.0-rc.1-g{short}"));
    semver::Version::parse(cargo).unwrap();
    assert_eq!(s["status"]["distance"], 2);
}

/// Release process 3: `version/x.y.z` tags, PEP 440 canonical scheme, post
/// releases for images only, per-major channel tags.
#[test]
fn pep440_scheme_post_releases_and_channels() {
    if !(require_tool("git") && require_tool("python3")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("VERSION"), "3.1.0.post1\n");
    write(
        &dir.join("recipes/release.toml"),
        "[version]\nsource = \"file:VERSION\"\nscheme = \"pep440\"\n\n[tag]\ntemplate = \"version/{version}\"\n\n[channels.oci-major-names]\n3 = \"petronas\"\n",
    );
    git(dir, &["init", "-q", "-b", "main"]);
    commit_all(dir, "3.1.0.post1");
    git(dir, &["tag", "version/3.1.0.post1"]);
    let s = show(dir);
    assert_eq!(packaging_norm("3.1.0.post1"), "3.1.0.post1");
    assert_eq!(s["version"], "3.1.0.post1");
    assert_eq!(s["status"]["tag"], "version/3.1.0.post1");
    assert_eq!(s["renderings"]["oci"], "3.1.0.post1");
    for t in ["cargo", "npm", "pypi"] {
        assert!(s["renderings"][t].is_null(), "{t}");
        assert!(s["errors"][t].as_str().unwrap().contains("post release"));
    }
    assert_eq!(
        s["oci_tags"],
        serde_json::json!(["3.1.0.post1", "3.1", "3", "latest", "petronas"])
    );
    for bad in [
        "version/3.1.0-post1",
        "version/03.1.0.post1",
        "v3.1.0.post1",
        "3.1.0.post1",
    ] {
        let o = kiln_in(dir, &["version", "check-tag", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
    }
    let o = kiln_in(dir, &["version", "render", "3.1.0.post1", "--as", "cargo"]);
    assert_eq!(o.status.code(), Some(2));

    // A release candidate: no aliases, no channel name.
    write(&dir.join("VERSION"), "3.2.0rc1\n");
    commit_all(dir, "3.2.0rc1");
    git(dir, &["tag", "version/3.2.0rc1"]);
    let s = show(dir);
    assert_eq!(s["oci_tags"], serde_json::json!(["3.2.0rc1"]));
    assert_eq!(s["renderings"]["npm"], "3.2.0-rc.1");
    assert_eq!(s["npm_dist_tag"], "next");
}

/// Release process 2: a poetry project; `kiln version bump` writes what
/// `poetry version RULE` would.
#[test]
fn poetry_project_bump_writes_poetrys_answer() {
    if !(require_tool("poetry") && require_tool("git")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        &dir.join("pyproject.toml"),
        "[tool.poetry]\nname = \"mini\"\nversion = \"1.2.3rc1\"  # bumped by kiln\ndescription = \"\"\nauthors = []\n",
    );
    write(
        &dir.join("recipes/release.toml"),
        "[version]\nsource = \"pyproject\"\n",
    );
    for rule in ["prerelease", "patch", "preminor"] {
        let expected = run_ok(
            cmd("poetry")
                .args(["version", "--short", "--dry-run", rule])
                .current_dir(dir),
        );
        let o = kiln_in(dir, &["version", "bump", rule]);
        assert!(o.status.success(), "{}", stderr(&o));
        let now = run_ok(cmd("poetry").args(["version", "--short"]).current_dir(dir));
        assert_eq!(now, expected, "{rule}");
    }
    let text = std::fs::read_to_string(dir.join("pyproject.toml")).unwrap();
    assert!(
        text.contains("\"  # bumped by kiln\n"),
        "comment kept: {text}"
    );
}

/// A version read from `tag`, a directory that is not a git work tree, and
/// library overrides.
#[test]
fn tag_source_directory_projects_and_overrides() {
    if !require_tool("git") {
        return;
    }
    use kiln::error::{Classify, ErrorKind};
    use kiln::recipe::policy::ReleasePolicy;
    use kiln::version::{resolve, BuildStatus, Overrides, Target};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        &dir.join("recipes/release.toml"),
        "[version]\nsource = \"tag\"\n[tag]\ntemplate = \"v{version}\"\n[dev]\nsemver = \"{version}-dev.{distance}\"\n",
    );
    git(dir, &["init", "-q", "-b", "main"]);
    commit_all(dir, "one");
    git(dir, &["tag", "v1.4.0"]);
    git(dir, &["tag", "not-a-release"]);
    commit_all(dir, "two");
    commit_all(dir, "three");
    let policy = ReleasePolicy::load(dir).unwrap();
    let r = resolve(dir, &policy, None, &Overrides::default()).unwrap();
    assert_eq!(r.canonical.to_string(), "1.4.0");
    assert!(matches!(&r.status, BuildStatus::Dev(d) if d.distance == 2));
    assert_eq!(r.render(Target::Cargo).unwrap(), "1.4.0-dev.2");
    let r = resolve(dir, &policy, Some("HEAD~2"), &Overrides::default()).unwrap();
    assert!(r.is_release());
    assert_eq!(r.oci_tags().unwrap(), ["1.4.0", "1.4", "1", "latest"]);

    let over = Overrides {
        version: Some("9.9.9".into()),
        tag: None,
    };
    let r = resolve(dir, &policy, None, &over).unwrap();
    assert!(r.is_release() && r.canonical.to_string() == "9.9.9");
    assert!(r.commit.is_some());

    let both = Overrides {
        version: Some("9.9.9".into()),
        tag: Some("v9.9.9".into()),
    };
    let e = resolve(dir, &policy, None, &both).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);

    // --tag against a manifest version: a mismatch is a failed check.
    let plain = tempfile::tempdir().unwrap();
    let p = plain.path();
    write(
        &p.join("package.json"),
        "{\"name\": \"x\", \"version\": \"2.0.0\"}\n",
    );
    write(
        &p.join("recipes/release.toml"),
        "[version]\nsource = \"npm\"\n",
    );
    let policy = ReleasePolicy::load(p).unwrap();
    let over = Overrides {
        version: None,
        tag: Some("2.0.1".into()),
    };
    let e = resolve(p, &policy, None, &over).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CheckFailed, "{e}");
    // Not a git work tree: a release of the manifest's version.
    let r = resolve(p, &policy, None, &Overrides::default()).unwrap();
    assert_eq!(r.status, BuildStatus::Release { tag: None });
    assert_eq!(r.npm_dist_tag(), "latest");
    let s = show(p);
    assert_eq!(s["version"], "2.0.0");
    assert!(s["commit"].is_null());
}
