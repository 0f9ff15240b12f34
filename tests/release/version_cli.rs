//! `kiln version show / check-tag / bump` on git repositories made in temp
//! directories with a fixed identity and fixed dates, shaped like the three
//! release processes kiln must serve.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::canary::Canary;
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

/// A project for the release-process tests: a tarball recipe over `docs/`,
/// the version in `VERSION`, `release` as `recipes/release.toml`; committed.
fn release_project(dir: &Path, version: &str, release: &str) {
    write(&dir.join("VERSION"), format!("{version}\n"));
    write(&dir.join("recipes/release.toml"), release);
    write(
        &dir.join("recipes/docs.toml"),
        "surface = \"tarball\"\nsource = \"docs\"\n",
    );
    write(&dir.join("docs/guide.md"), "# guide\n");
    write(&dir.join("docs/api/index.md"), "# api\n");
    git(dir, &["init", "-q", "-b", "main"]);
    commit_all(dir, version);
}

/// `kiln` with its own store below `dir` and `$HOME` at the canary's.
fn kiln_home(dir: &Path, canary: &Canary, args: &[&str]) -> Output {
    run(kiln()
        .arg("-C")
        .arg(dir)
        .arg("--store")
        .arg(dir.join("store"))
        .args(args)
        .env("HOME", &canary.home)
        .env("XDG_STATE_HOME", dir.with_file_name("state"))
        .env_remove("SOURCE_DATE_EPOCH"))
}

/// Exit 2 with every needle in the message, and nothing written.
fn assert_refused(o: &Output, dir: &Path, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    for n in needles {
        assert!(e.contains(n), "{n:?} not in: {e}");
    }
    assert!(!dir.join("dist").exists(), "dist/ was written");
    assert!(!dir.join("store").exists(), "the store was written");
}

/// Release process 3, strictly: a release tag spells the full release form
/// (no short release, no local version, no epoch; post releases in their
/// normalised spelling), a malformed tag at the built commit stops the
/// build instead of making a dev build, and `version show --json` says
/// whether a build is stable, a pre-release or a dev build.
#[test]
fn release_tags_spell_the_full_release_form_and_show_reports_the_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let dir = &tmp.path().join("repo");
    release_project(
        dir,
        "3.1.0",
        "[version]\nsource = \"file:VERSION\"\nscheme = \"pep440\"\n\n[tag]\ntemplate = \"version/{version}\"\n",
    );
    for (bad, fixed) in [
        ("version/3.1", "version/3.1.0"),
        ("version/3.1.0+abc", "version/3.1.0"),
        ("version/1!3.1.0", "version/3.1.0"),
        ("version/3.1.0-post1", "version/3.1.0.post1"),
    ] {
        let o = kiln_in(dir, &["version", "check-tag", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(&format!("{bad:?}")), "{e}");
        assert!(e.contains(&format!("would be {fixed})")), "{e}");
    }
    // A tag at the built commit that looks like a release tag but is not
    // one: exit 2 naming it, not a dev build.
    git(dir, &["tag", "version/3.1"]);
    for args in [&["build"][..], &["version", "show"]] {
        let o = kiln_home(dir, &canary, args);
        assert_refused(&o, dir, &["\"version/3.1\"", "would be version/3.1.0"]);
    }
    git(dir, &["tag", "-d", "version/3.1"]);
    git(dir, &["tag", "not-a-release"]);
    assert_eq!(show(dir)["channel"], "dev");
    canary.assert_untouched();

    git(dir, &["tag", "version/3.1.0"]);
    let s = show(dir);
    assert_eq!(s["channel"], "stable");
    assert_eq!(s["prerelease"], false);
    assert!(s["post"].is_null() && s["dev"].is_null(), "{s}");

    write(&dir.join("VERSION"), "3.1.0.post1\n");
    commit_all(dir, "3.1.0.post1");
    git(dir, &["tag", "version/3.1.0.post1"]);
    let s = show(dir);
    assert_eq!(s["status"]["tag"], "version/3.1.0.post1");
    assert_eq!(s["channel"], "stable");
    assert_eq!(s["post"], 1);

    write(&dir.join("VERSION"), "3.2.0rc1\n");
    commit_all(dir, "3.2.0rc1");
    git(dir, &["tag", "version/3.2.0rc1"]);
    let s = show(dir);
    assert_eq!(s["channel"], "prerelease");
    assert_eq!(s["prerelease"], true);

    write(&dir.join("VERSION"), "3.2.0.dev4\n");
    commit_all(dir, "3.2.0.dev4");
    let s = show(dir);
    assert_eq!(s["channel"], "dev");
    assert_eq!(s["dev"], 4);
    assert_eq!(s["prerelease"], true);
}

/// Every tar entry name in the layer blobs of an OCI layout.
fn layer_entries(layout: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for b in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let o = run(cmd("tar").arg("-tzf").arg(b.unwrap().path()));
        if o.status.success() {
            names.extend(String::from_utf8_lossy(&o.stdout).lines().map(String::from));
        }
    }
    names
}

/// Release process 8: `{version}`, `{name}` and matrix keys expand in every
/// templated string (`map`, layer names and `map`, `symlinks`, labels, env);
/// an unknown placeholder is exit 2 naming the key and the placeholder
/// before anything is written; `{{`/`}}` are literal braces.
#[test]
fn templates_are_expanded_or_refused() {
    if !require_tool("tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let dir = &tmp.path().join("repo");
    release_project(dir, "1.2.0", "[version]\nsource = \"file:VERSION\"\n");
    let bundle = |to: &str| {
        format!(
            "surface = \"tarball\"\nsource = \"docs\"\n\n[matrix]\npython = [\"3.11\"]\n\n[[map]]\nfrom = \"api\"\nto = \"{to}\"\n"
        )
    };
    let image = |to: &str, label: &str| {
        format!(
            "surface = \"oci\"\nsource = \"docs\"\n\n[matrix]\npython = [\"3.11\"]\n\n[oci]\nrepository = \"example.org/t\"\nlabels = {{ \"x.v\" = \"{label}\" }}\nenv = {{ PYV = \"{{python}}\" }}\n\n[[oci.layers]]\nname = \"py{{python}}\"\nmap = {{ \"api\" = \"{to}\" }}\nsymlinks = {{ \"/opt/python{{python}}/latest\" = \"v{{version}}\" }}\n"
        )
    };
    // Unknown placeholders, each in one key: refused, nothing written.
    for (file, text, key) in [
        ("bundle", bundle("lib/python{pyth}/api"), "map[0].to"),
        (
            "image",
            image("/opt/python{pyth}/", "{version}"),
            "oci.layers[0].map",
        ),
        (
            "image",
            image("/opt/python{python}/", "{versoin}"),
            "oci.labels.x.v",
        ),
    ] {
        write(&dir.join(format!("recipes/{file}.toml")), &text);
        commit_all(dir, file);
        let o = kiln_home(dir, &canary, &["build", file]);
        let bad = if text.contains("{pyth}") {
            "{pyth}"
        } else {
            "{versoin}"
        };
        assert_refused(&o, dir, &[key, bad, "unknown placeholder"]);
        std::fs::remove_file(dir.join(format!("recipes/{file}.toml"))).unwrap();
        commit_all(dir, "removed");
    }
    canary.assert_untouched();
    // Known ones expand everywhere; doubled braces stay literal braces.
    write(
        &dir.join("recipes/bundle.toml"),
        bundle("lib/python{python}/{{api}}"),
    );
    write(
        &dir.join("recipes/image.toml"),
        image("/opt/python{python}/", "{name}-{version}"),
    );
    commit_all(dir, "templates");
    let o = kiln_home(
        dir,
        &canary,
        &["build", "bundle", "image", "--version", "1.2.0"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let tgz = std::fs::read_dir(dir.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .unwrap();
    let listing = run_ok(cmd("tar").arg("-tzf").arg(&tgz));
    assert!(
        listing.contains("lib/python3.11/{api}/index.md"),
        "{listing}"
    );
    let layout = std::fs::read_dir(dir.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".oci"))
        .unwrap();
    let entries = layer_entries(&layout);
    assert!(
        entries
            .iter()
            .any(|e| e.contains("opt/python3.11/index.md")),
        "{entries:?}"
    );
    assert!(entries.iter().any(|e| e.contains("opt/python3.11/latest")));
    let mut config = String::new();
    for b in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        config.push_str(&String::from_utf8_lossy(
            &std::fs::read(b.unwrap().path()).unwrap(),
        ));
    }
    for needle in ["kiln: layer py3.11", "PYV=3.11", "image-1.2.0"] {
        assert!(config.contains(needle), "{needle} not in the image's blobs");
    }
    canary.assert_untouched();
}

/// Rewrite the zip at `path` with `entry`'s contents replaced, every
/// entry's metadata kept.
fn tamper_zip(path: &Path, entry: &str) {
    run_ok(cmd("python3").args([
        "-c",
        "import sys, zipfile\n\
         p, name = sys.argv[1], sys.argv[2]\n\
         z = zipfile.ZipFile(p)\n\
         items = [(i, z.read(i)) for i in z.infolist()]\n\
         z.close()\n\
         with zipfile.ZipFile(p, 'w') as out:\n\
         \x20   for i, data in items:\n\
         \x20       out.writestr(i, b'tampered = True\\n' if i.filename == name else data)\n",
        &path.to_string_lossy(),
        entry,
    ]));
}

/// Release process 11: a wheel names its version in PyPI's spelling
/// (`0.3.0rc1`); `kiln verify` maps it back to the canonical `0.3.0-rc.1`
/// to rebuild it, with or without its statement, and a tampered one is a
/// failed check (exit 1) naming the entry that differs.
#[test]
fn verify_maps_an_artifacts_own_version_back_to_the_canonical_one() {
    if !(require_tool("git") && require_tool("python3")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = common::audit::audited_monorepo(&tmp.path().join("mono"));
    // An untagged commit: without `--version` it is a dev build, so the
    // rebuild needs the version the wheel names. (The fixture's release
    // tag is removed: a release is never built from another commit than
    // its tag's.)
    common::fixture::git(&root, &["commit", "-q", "--allow-empty", "-m", "later"]);
    common::fixture::git(&root, &["tag", "-d", "0.3.0-rc.1"]);
    let store = tmp.path().join("store");
    run_ok(
        kiln()
            .arg("-C")
            .arg(&root)
            .arg("--store")
            .arg(&store)
            .args(["build", "mini-wheel", "--version", "0.3.0-rc.1"])
            .env_remove("SOURCE_DATE_EPOCH"),
    );
    let whl = std::fs::read_dir(root.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".whl"))
        .unwrap();
    assert!(
        whl.to_string_lossy().contains("-0.3.0rc1-"),
        "{}",
        whl.display()
    );
    let verify = |artifact: &Path, extra: &[&str]| {
        run(kiln()
            .arg("-C")
            .arg(&root)
            .args(["verify", "--json"])
            .arg(artifact)
            .args(extra)
            .env_remove("SOURCE_DATE_EPOCH"))
    };
    // Without its statement: the version comes from its METADATA.
    let copy = tmp.path().join("downloads").join(whl.file_name().unwrap());
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&whl, &copy).unwrap();
    let o = verify(&copy, &["--rev", "HEAD"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "bytes-identical");
    assert_eq!(v["version"], "0.3.0-rc.1");
    // Tampered, with its statement beside it, and without.
    tamper_zip(&whl, "mini_flow/__init__.py");
    tamper_zip(&copy, "mini_flow/__init__.py");
    for (artifact, extra) in [(&whl, &[][..]), (&copy, &["--rev", "HEAD"][..])] {
        let o = verify(artifact, extra);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["outcome"], "different");
        let differences = serde_json::to_string(&v["differences"]).unwrap();
        assert!(
            differences.contains("mini_flow/__init__.py"),
            "{differences}"
        );
    }
}
