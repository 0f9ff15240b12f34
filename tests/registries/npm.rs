//! `kiln publish` to an npm registry: verdaccio on 127.0.0.1 with a user
//! whose token is in `~/.npmrc`; npm downloads and installs what was
//! published, the version carries the version engine's dist-tag, npm
//! itself is then refused the version, a rerun is a no-op, and another
//! tarball under the version fails before any upload.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::fixture::{git, monorepo_at};
use crate::common::{cmd, require_tool, run, run_ok, write};

use super::support::{build, files_containing, free_port, kiln_in, Server, VERSION};

const TARBALL: &str = "mini-flow-0.3.0-rc.1.tgz";

pub fn verdaccio(dir: &Path) -> Server {
    let port = free_port();
    let config = dir.join("verdaccio.yaml");
    write(
        &config,
        format!(
            "storage: {}\nauth:\n  htpasswd:\n    file: {}\n    max_users: 10\nuplinks: {{}}\npackages:\n  '**':\n    access: $all\n    publish: $authenticated\nlog: {{ type: stdout, format: pretty, level: error }}\n",
            dir.join("storage").display(),
            dir.join("htpasswd").display()
        ),
    );
    let mut c = cmd("verdaccio");
    c.arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Server::start(c, port)
}

/// Create user `name` on the registry (as `npm adduser` does); its token.
pub fn add_user(server: &Server, name: &str) -> String {
    let script = "import json, sys, urllib.request\nurl, name = sys.argv[1], sys.argv[2]\nreq = urllib.request.Request(url + '-/user/org.couchdb.user:' + name, method='PUT', data=json.dumps({'name': name, 'password': 'pw-' + name}).encode(), headers={'content-type': 'application/json'})\nprint(json.load(urllib.request.urlopen(req))['token'])";
    run_ok(cmd("python3").args(["-c", script, &server.url(), name]))
}

/// The monorepo with its npm recipe published to `local`, tagged as a
/// release; `extra` changes the package (another tarball, same version).
pub(super) fn released_npm(dir: &Path, extra: Option<&str>) -> PathBuf {
    let root = monorepo_at(dir, false);
    let policy = root.join("recipes/release.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n[publish]\nmini-npm = \"local\"\n");
    write(&policy, text);
    if let Some(e) = extra {
        write(&root.join("node/lib/extra.js"), e);
    }
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "npm, published"]);
    git(&root, &["tag", VERSION]);
    root
}

pub(super) fn npm_in(dir: &Path, home: &Path, args: &[&str]) -> std::process::Command {
    let mut c = cmd("npm");
    c.current_dir(dir)
        .args(args)
        .env("HOME", home)
        .env_remove("NPM_CONFIG_USERCONFIG");
    c
}

#[test]
fn npm_installs_what_was_published_under_its_dist_tag_and_a_rerun_is_a_no_op() {
    if !(require_tool("verdaccio") && require_tool("npm")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let server = verdaccio(t);
    let token = add_user(&server, "kiln");
    write(
        &home.join(".npmrc"),
        format!("//127.0.0.1:{}/:_authToken={token}\n", server.port),
    );
    let root = released_npm(&t.join("mono"), None);
    let store = t.join("store");
    build(&root, &store, &home, &["mini-npm"]);
    let registry = format!("local={}", server.url());
    let mut outputs = Vec::new();
    let mut publish = |extra: &[&str]| {
        let mut args = vec!["publish", "--json", "--registry", &registry];
        args.extend_from_slice(extra);
        let out = run(&mut kiln_in(&root, &store, &home, &args));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(out.stderr);
        outputs.push(out.stdout.clone());
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };

    assert_eq!(publish(&["--dry-run"])["steps"][0]["action"], "upload");
    let v = publish(&[]);
    assert_eq!(v["steps"][0]["action"], "uploaded", "{v}");

    let url = server.url();
    let view = run_ok(&mut npm_in(
        t,
        &home,
        &["view", "--json", "@mini/flow", "--registry", &url],
    ));
    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
    assert_eq!(
        view["dist-tags"]["next"], VERSION,
        "the version engine's dist-tag: {view}"
    );
    let dl = t.join("download");
    std::fs::create_dir_all(&dl).unwrap();
    run_ok(&mut npm_in(
        &dl,
        &home,
        &["pack", &format!("@mini/flow@{VERSION}"), "--registry", &url],
    ));
    assert_eq!(
        std::fs::read(dl.join(TARBALL)).unwrap(),
        std::fs::read(root.join("dist").join(TARBALL)).unwrap(),
        "the registry serves dist/'s tarball"
    );
    let app = t.join("app");
    write(
        &app.join("package.json"),
        "{\"name\":\"app\",\"version\":\"1.0.0\"}",
    );
    run_ok(&mut npm_in(
        &app,
        &home,
        &[
            "install",
            "--no-audit",
            "--no-fund",
            &format!("@mini/flow@{VERSION}"),
            "--registry",
            &url,
        ],
    ));
    assert!(app.join("node_modules/@mini/flow/package.json").is_file());

    let npm = run(
        npm_in(t, &home, &["publish", "--tag", "next", "--registry", &url])
            .arg(root.join("dist").join(TARBALL)),
    );
    assert!(!npm.status.success(), "npm re-published the version");

    let again = publish(&[]);
    assert_eq!(again["steps"][0]["action"], "already-published", "{again}");
    for o in &outputs {
        assert!(!String::from_utf8_lossy(o).contains(&token));
    }
    assert_eq!(
        files_containing(&store, token.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        files_containing(&root.join("dist"), token.as_bytes()),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn another_tarball_under_the_version_fails_before_any_upload() {
    if !(require_tool("verdaccio") && require_tool("npm")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let server = verdaccio(t);
    let token = add_user(&server, "kiln");
    write(
        &home.join(".npmrc"),
        format!("//127.0.0.1:{}/:_authToken={token}\n", server.port),
    );
    let registry = format!("local={}", server.url());
    // Another tarball of the version reached the registry first.
    let other = released_npm(&t.join("other"), Some("module.exports = 1;\n"));
    let other_store = t.join("other-store");
    build(&other, &other_store, &home, &["mini-npm"]);
    run_ok(&mut kiln_in(
        &other,
        &other_store,
        &home,
        &["publish", "--registry", &registry],
    ));

    let root = released_npm(&t.join("mono"), None);
    let store = t.join("store");
    build(&root, &store, &home, &["mini-npm"]);
    let out = run(&mut kiln_in(
        &root,
        &store,
        &home,
        &["publish", "--registry", &registry],
    ));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for part in ["local", "@mini/flow", VERSION, "sha512-"] {
        assert!(err.contains(part), "{part} not in: {err}");
    }
    let view = run_ok(&mut npm_in(
        t,
        &home,
        &[
            "view",
            "--json",
            "@mini/flow",
            "dist.shasum",
            "--registry",
            &server.url(),
        ],
    ));
    let theirs = std::fs::read(other.join("dist").join(TARBALL)).unwrap();
    use sha1::Digest as _;
    let theirs = format!("{:x}", sha1::Sha1::digest(&theirs));
    assert!(
        view.contains(&theirs),
        "the registry's version is untouched: {view}"
    );
}
