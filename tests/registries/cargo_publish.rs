//! `kiln publish` to a cargo registry: ktra on 127.0.0.1 with its git
//! index, named in the user's `$CARGO_HOME/config.toml` with the token in
//! `credentials.toml`. cargo resolves, downloads and builds a crate that
//! depends on what was published; a rerun is a no-op; another `.crate`
//! under the version fails before any upload; a registry failing or
//! losing an answer mid-publish is finished by the same command.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

use crate::common::{cmd, require_tool, run, run_ok};

use super::cargo_ktra::{
    api_proxy, cargo_home, ktra, released_crates, ApiFault, ApiProxy, Ktra, CLI_CRATE, CORE_CRATE,
};
use super::support::{build, files_containing, free_port, kiln_in, Server, VERSION};

struct Setup {
    _tmp: tempfile::TempDir,
    t: PathBuf,
    home: PathBuf,
    cargo_home: PathBuf,
    ktra: Ktra,
    token: String,
    root: PathBuf,
    store: PathBuf,
}

/// ktra (its Web API behind `fault`'s proxy when given), a user, the
/// user's cargo configuration, and the released crates built.
fn setup(fault: Option<ApiFault>) -> Option<(Setup, Option<ApiProxy>)> {
    if !(require_tool("ktra") && require_tool("cargo")) {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().to_path_buf();
    let home = t.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let port = free_port();
    let proxy = fault.map(|f| api_proxy(port, f));
    let ktra = ktra(&t.join("ktra"), port, proxy.as_ref().map(|p| p.port));
    let token = ktra.add_user("kiln");
    let cargo_home = cargo_home(&home, &ktra.index_url(), Some(&token));
    let root = released_crates(&t.join("mono"), &[], None);
    let store = t.join("store");
    build(&root, &store, &home, &["mini-crates"]);
    Some((
        Setup {
            _tmp: tmp,
            t,
            home,
            cargo_home,
            ktra,
            token,
            root,
            store,
        },
        proxy,
    ))
}

/// `kiln publish ARGS` of `root` with cargo's configuration at `cargo_home`.
fn publish(root: &Path, store: &Path, home: &Path, cargo_home: &Path, args: &[&str]) -> Command {
    let mut all = vec!["publish"];
    all.extend_from_slice(args);
    kiln_cargo(root, store, home, cargo_home, &all)
}

/// `kiln ARGS` in `root` with cargo's configuration at `cargo_home` only.
fn kiln_cargo(root: &Path, store: &Path, home: &Path, cargo_home: &Path, args: &[&str]) -> Command {
    let mut c = kiln_in(root, store, home, args);
    c.env("CARGO_HOME", cargo_home)
        .env_remove("CARGO_REGISTRY_TOKEN")
        .env_remove("CARGO_REGISTRIES_LOCAL_TOKEN")
        .env_remove("CARGO_REGISTRIES_LOCAL_INDEX");
    c
}

/// `kiln verify crate:NAME@VERSION --rev VERSION` from registry `local`
/// (the user's cargo configuration).
fn verify_crate(s: &Setup, name: &str) -> std::process::Output {
    let reference = format!("crate:{name}@{VERSION}");
    run(&mut kiln_cargo(
        &s.root,
        &s.store,
        &s.home,
        &s.cargo_home,
        &[
            "verify",
            &reference,
            "--registry",
            "local",
            "--rev",
            VERSION,
            "--sandbox",
            "none",
            "--json",
        ],
    ))
}

/// The (file, action) of each step of a `--json` report.
fn actions(stdout: &[u8]) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(stdout).unwrap();
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["file"].as_str().unwrap().to_string(),
                s["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn sha256_hex(p: &Path) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

/// The `cksum` the index lists for `name` at [`VERSION`].
fn cksum(ktra: &Ktra, name: &str) -> Option<String> {
    let entries = ktra.entries(name)?;
    let e = entries.iter().find(|e| e["vers"] == VERSION)?;
    Some(e["cksum"].as_str().unwrap().to_string())
}

/// A fresh cargo project depending on mini-core from registry `local`,
/// built with a cargo home of its own; what its binary prints.
fn build_dependent(t: &Path, index: &str) -> String {
    super::cargo_ktra::build_dependent(
        t,
        &format!("mini-core = {{ version = \"={VERSION}\", registry = \"local\" }}"),
        "fn main() {\n    println!(\"{}\", mini_core::greet(\"ktra\"));\n}\n",
        &format!("[registries.local]\nindex = \"{index}\"\n"),
    )
}

#[test]
fn cargo_builds_a_dependent_from_what_was_published_and_a_rerun_is_a_no_op() {
    let Some((s, _)) = setup(None) else { return };
    let mut outputs = Vec::new();
    let mut go = |extra: &[&str]| {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = run(&mut publish(
            &s.root,
            &s.store,
            &s.home,
            &s.cargo_home,
            &args,
        ));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(out.stderr);
        outputs.push(out.stdout.clone());
        actions(&out.stdout)
    };
    assert_eq!(
        go(&["--dry-run"]),
        pairs(&[(CLI_CRATE, "upload"), (CORE_CRATE, "upload")])
    );
    assert_eq!(
        s.ktra.entries("mini-core"),
        None,
        "a dry run uploads nothing"
    );
    assert_eq!(
        go(&[]),
        pairs(&[(CLI_CRATE, "uploaded"), (CORE_CRATE, "uploaded")])
    );
    let dist = s.root.join("dist");
    for (name, file) in [("mini-cli", CLI_CRATE), ("mini-core", CORE_CRATE)] {
        assert_eq!(
            cksum(&s.ktra, name),
            Some(sha256_hex(&dist.join(file))),
            "the index lists dist/'s bytes for {name}"
        );
    }
    let core = &s.ktra.entries("mini-core").unwrap()[0];
    assert_eq!(core["name"], "mini-core");
    assert_eq!(core["deps"], serde_json::json!([]));
    // The metadata sent is the .crate's own: mini-cli's dependency on
    // mini-core, a crates.io one in the normalised Cargo.toml.
    let cli = &s.ktra.entries("mini-cli").unwrap()[0];
    let dep = &cli["deps"][0];
    assert_eq!(
        (&dep["name"], &dep["kind"], &dep["registry"]),
        (
            &serde_json::json!("mini-core"),
            &serde_json::json!("normal"),
            &serde_json::json!("https://github.com/rust-lang/crates.io-index")
        ),
        "{cli}"
    );
    // ktra prints the requirement its own way (`>=0.3.0-rc.1, <0.4.0`).
    assert!(dep["req"].as_str().unwrap().contains(VERSION), "{cli}");

    assert_eq!(
        build_dependent(&s.t, &s.ktra.index_url()),
        "hello, ktra",
        "cargo resolved, downloaded and built mini-core from the registry"
    );
    let downloaded = files_named(&s.t.join("app-cargo-home/registry/cache"), CORE_CRATE);
    assert_eq!(downloaded.len(), 1, "{downloaded:?}");
    assert_eq!(
        std::fs::read(&downloaded[0]).unwrap(),
        std::fs::read(dist.join(CORE_CRATE)).unwrap(),
        "cargo downloaded dist/'s very .crate"
    );

    // The same index served as a sparse one (its files over HTTP): the
    // gate reads it the same.
    let sparse = s.t.join("sparse");
    run_ok(
        cmd("git")
            .args(["clone", "-q"])
            .arg(&s.ktra.index)
            .arg(&sparse),
    );
    let port = free_port();
    let mut c = cmd("python3");
    c.args([
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        &port.to_string(),
    ])
    .current_dir(&sparse)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    let files = Server::start(c, port);
    let over = format!("local=sparse+{}", files.url());
    assert_eq!(
        go(&["--dry-run", "--registry", &over]),
        pairs(&[
            (CLI_CRATE, "already-published"),
            (CORE_CRATE, "already-published")
        ])
    );
    drop(files);

    // What the registry serves is what the tag builds.
    let out = verify_crate(&s, "mini-core");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&sha256_hex(&dist.join(CORE_CRATE))),
        "{report}"
    );
    for o in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(o).contains(&s.token));
    }

    let head = s.ktra.head();
    assert_eq!(
        go(&[]),
        pairs(&[
            (CLI_CRATE, "already-published"),
            (CORE_CRATE, "already-published")
        ])
    );
    assert_eq!(s.ktra.head(), head, "a rerun changes nothing");
    for o in &outputs {
        assert!(!String::from_utf8_lossy(o).contains(&s.token));
    }
    for dir in [&s.store, &dist] {
        assert_eq!(
            files_containing(dir, s.token.as_bytes()),
            Vec::<PathBuf>::new()
        );
    }
}

/// Every file called `name` below `dir`.
fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name() == name {
                hits.push(e.path());
            }
        }
    }
    hits
}

#[test]
fn another_crate_under_the_version_fails_before_any_upload() {
    let Some((s, _)) = setup(None) else { return };
    // Another mini-core of the version reached the registry first.
    let other = released_crates(
        &s.t.join("other"),
        &["mini-core"],
        Some("\n/// Other.\npub fn other() {}\n"),
    );
    let other_store = s.t.join("other-store");
    build(&other, &other_store, &s.home, &["mini-crates"]);
    run_ok(&mut publish(
        &other,
        &other_store,
        &s.home,
        &s.cargo_home,
        &[],
    ));
    let theirs = sha256_hex(&other.join("dist").join(CORE_CRATE));
    let head = s.ktra.head();

    let out = run(&mut publish(&s.root, &s.store, &s.home, &s.cargo_home, &[]));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let ours = sha256_hex(&s.root.join("dist").join(CORE_CRATE));
    assert_ne!(ours, theirs);
    for part in ["local", "mini-core", VERSION, &ours, &theirs] {
        assert!(err.contains(part), "{part} not in: {err}");
    }
    assert!(!err.contains(&s.token));
    assert_eq!(s.ktra.head(), head, "nothing was uploaded");
    assert_eq!(
        s.ktra.entries("mini-cli"),
        None,
        "mini-cli was not uploaded"
    );
    assert_eq!(cksum(&s.ktra, "mini-core"), Some(theirs.clone()));

    // What the registry serves is not what the tag builds.
    let out = verify_crate(&s, "mini-core");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    for part in [&ours, &theirs] {
        assert!(report.contains(part.as_str()), "{part} not in: {report}");
    }
}

#[test]
fn a_registry_failing_mid_publish_is_finished_by_the_same_command() {
    let Some((s, proxy)) = setup(Some(ApiFault::Status500)) else {
        return;
    };
    let command = || publish(&s.root, &s.store, &s.home, &s.cargo_home, &["--json"]);
    let out = run(&mut command());
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 500"), "{err}");
    assert!(!err.contains(&s.token));
    assert!(cksum(&s.ktra, "mini-cli").is_some());
    assert_eq!(
        cksum(&s.ktra, "mini-core"),
        None,
        "what reached the registry"
    );

    proxy.unwrap().healed.store(true, Ordering::SeqCst);
    let out = run(&mut command());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        actions(&out.stdout),
        pairs(&[(CLI_CRATE, "already-published"), (CORE_CRATE, "uploaded")])
    );
    assert_eq!(
        cksum(&s.ktra, "mini-core"),
        Some(sha256_hex(&s.root.join("dist").join(CORE_CRATE)))
    );
}

#[test]
fn an_answer_lost_mid_upload_is_found_published_by_the_retry() {
    let Some((s, _)) = setup(Some(ApiFault::DropOnce)) else {
        return;
    };
    let out = run(&mut publish(
        &s.root,
        &s.store,
        &s.home,
        &s.cargo_home,
        &["--json"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The registry stored mini-core but its answer was lost; the retried
    // upload was refused as a duplicate and the index shows these bytes.
    assert_eq!(
        actions(&out.stdout),
        pairs(&[(CLI_CRATE, "uploaded"), (CORE_CRATE, "already-published")])
    );
    assert_eq!(s.ktra.entries("mini-core").unwrap().len(), 1);
    assert_eq!(
        cksum(&s.ktra, "mini-core"),
        Some(sha256_hex(&s.root.join("dist").join(CORE_CRATE)))
    );
}

#[test]
fn a_registry_killed_mid_upload_is_finished_by_the_same_command_once_it_is_back() {
    let Some((mut s, proxy)) = setup(Some(ApiFault::Hold)) else {
        return;
    };
    let proxy = proxy.unwrap();
    let command = || publish(&s.root, &s.store, &s.home, &s.cargo_home, &["--json"]);
    let child = command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // kill -9 ktra while mini-core's upload is on the wire.
    proxy.held.recv().unwrap();
    s.ktra.kill();
    proxy.release.send(()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("after 6 attempt(s)"), "{err}");
    assert!(cksum(&s.ktra, "mini-cli").is_some());
    assert_eq!(
        cksum(&s.ktra, "mini-core"),
        None,
        "what reached the registry"
    );

    s.ktra.restart();
    let out = run(&mut command());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        actions(&out.stdout),
        pairs(&[(CLI_CRATE, "already-published"), (CORE_CRATE, "uploaded")])
    );
    assert_eq!(
        cksum(&s.ktra, "mini-core"),
        Some(sha256_hex(&s.root.join("dist").join(CORE_CRATE)))
    );
}
