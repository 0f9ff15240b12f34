//! The setuptools-shaped release end to end through real registries: a
//! wheel and `server`/`node` images with alias and per-major channel tags
//! (`version/{version}` tags), published by `kiln publish` to pypiserver
//! and docker-registry; pip installs the wheel from the index and skopeo
//! reads every tag, podman pulls them. Its post release re-issues the images only: the new
//! version's tag is added, the aliases and the channel move to it, the
//! release's own tag and the wheel stay. A rerun is a no-op, and `kiln
//! verify --all` finds each version's artifacts byte-identical on the
//! registries.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::fixture::git;
use crate::common::python::venv;
use crate::common::{cmd, require_tool, run, run_ok, write};
use crate::oci_support::{post_project, python_path};

use super::support::kiln_in;

/// (registry, package, version) → action of a `publish --json` report.
fn actions(json: &str) -> BTreeMap<(String, String, String), String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap().to_string();
            ((f("registry"), f("package"), f("version")), f("action"))
        })
        .collect()
}

/// The digest skopeo reads for `repo:tag` on the registry at `port`.
fn digest(port: u16, repo: &str, tag: &str) -> String {
    let out = run_ok(cmd("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://127.0.0.1:{port}/{repo}:{tag}"),
    ]));
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(out.as_bytes()))
}

/// `kiln ARGS` in the project with PATH reaching the host's interpreters.
fn kiln(root: &Path, store: &Path, home: &Path, args: &[&str]) -> std::process::Command {
    let mut c = kiln_in(root, store, home, args);
    c.env("PATH", python_path());
    c
}

/// podman pulls each image by its post release's version and by its
/// channel, and both are the same image.
fn podman_pulls(t: &Path, port: u16, repos: &[String]) {
    if !require_tool("podman") {
        return;
    }
    // podman refuses a runroot over 50 bytes: a short directory of its own.
    let storage = tempfile::Builder::new()
        .prefix("pm")
        .tempdir_in("/tmp")
        .unwrap();
    let podman = |args: &[&str]| {
        let mut c = cmd("podman");
        c.arg("--root")
            .arg(storage.path().join("root"))
            .arg("--runroot")
            .arg(storage.path().join("run"))
            .args(["--storage-driver", "vfs"])
            .env("HOME", t)
            .args(args);
        run_ok(&mut c)
    };
    for r in repos {
        let mut ids = Vec::new();
        for tag in ["3.1.0.post1", "petronas"] {
            let image = format!("127.0.0.1:{port}/{r}:{tag}");
            podman(&["pull", "-q", "--tls-verify=false", &image]);
            ids.push(podman(&["image", "inspect", "--format", "{{.Id}}", &image]));
        }
        assert_eq!(ids[0], ids[1], "{r}");
    }
}

#[test]
fn a_release_and_its_post_release_reach_the_registries_and_verify() {
    if !["pypi-server", "docker-registry", "skopeo", "umoci", "pip"]
        .iter()
        .all(|t| require_tool(t))
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    std::fs::create_dir_all(t.join("packages")).unwrap();
    let pypi = super::pypi::pypiserver(&t.join("packages"), None);
    let oci = super::oci::docker_registry(t);
    let root = post_project(&t.join("proj"));
    let policy = root.join("recipes/release.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n[publish]\nflow-wheel = \"python\"\nserver = \"images\"\nnode = \"images\"\n");
    write(&policy, text);
    git(&root, &["commit", "-q", "-am", "publish targets"]);
    git(&root, &["tag", "version/3.1.0"]);
    let store = t.join("store");
    let registries = [
        "--registry".to_string(),
        format!("python={}", pypi.url()),
        "--registry".to_string(),
        format!("images=http://127.0.0.1:{}", oci.port),
    ];
    let publish = |extra: &[&str]| {
        let mut args = vec!["publish", "--json"];
        args.extend(registries.iter().map(String::as_str));
        args.extend_from_slice(extra);
        actions(&run_ok(&mut kiln(&root, &store, &home, &args)))
    };
    run_ok(&mut kiln(&root, &store, &home, &["build"]));
    let first = publish(&[]);
    let packages: Vec<_> = first
        .keys()
        .map(|(r, p, v)| (r.as_str(), p.as_str(), v.as_str()))
        .collect();
    assert_eq!(first.len(), 3, "{first:?}");
    assert!(first.values().all(|a| a == "uploaded"), "{first:?}");
    let repos: Vec<String> = first
        .keys()
        .filter(|(r, _, _)| r == "images")
        .map(|(_, p, _)| p.clone())
        .collect();
    assert!(
        packages.contains(&("python", "mini-flow", "3.1.0")),
        "{packages:?}"
    );

    // pip installs the wheel from the index; every tag of each image reads.
    let bin = venv(&t.join("venv"), false);
    run_ok(cmd(bin.join("pip").to_str().unwrap()).args([
        "install",
        "-q",
        "--no-deps",
        "--index-url",
        &format!("{}simple/", pypi.url()),
        "mini-flow==3.1.0",
    ]));
    let shown = run_ok(cmd(bin.join("pip").to_str().unwrap()).args(["show", "mini-flow"]));
    assert!(shown.contains("Version: 3.1.0"), "{shown}");
    let release: BTreeMap<&str, String> = repos
        .iter()
        .map(|r| (r.as_str(), digest(oci.port, r, "3.1.0")))
        .collect();
    for r in &repos {
        for tag in ["3.1", "3", "latest", "petronas"] {
            assert_eq!(digest(oci.port, r, tag), release[r.as_str()], "{r}:{tag}");
        }
    }

    // The post release: images only, the aliases and the channel move.
    let init = root.join("python/src/mini_flow/__init__.py");
    let mut text = std::fs::read_to_string(&init).unwrap();
    text.push_str("# changed after 3.1.0\n");
    write(&init, text);
    run_ok(&mut kiln(
        &root,
        &store,
        &home,
        &["version", "set", "3.1.0.post1"],
    ));
    git(&root, &["commit", "-q", "-am", "after 3.1.0"]);
    git(&root, &["tag", "version/3.1.0.post1"]);
    run_ok(&mut kiln(&root, &store, &home, &["build"]));
    let post = publish(&[]);
    assert_eq!(
        post.keys()
            .map(|(r, _, v)| (r.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [("images", "3.1.0.post1"), ("images", "3.1.0.post1")],
        "{post:?}"
    );
    assert!(post.values().all(|a| a == "uploaded"), "{post:?}");
    for r in &repos {
        let d = digest(oci.port, r, "3.1.0.post1");
        assert_ne!(d, release[r.as_str()], "{r}");
        assert_eq!(digest(oci.port, r, "3.1.0"), release[r.as_str()], "{r}");
        for tag in ["3.1", "3", "latest", "petronas"] {
            assert_eq!(
                digest(oci.port, r, tag),
                d,
                "{r}:{tag} moved to the post release"
            );
        }
    }
    let again = publish(&[]);
    assert!(
        again.values().all(|a| a == "already-published"),
        "{again:?}"
    );
    podman_pulls(t, oci.port, &repos);

    // What the registries serve is what each tag builds.
    for tag in ["version/3.1.0", "version/3.1.0.post1"] {
        let mut args = vec!["verify", "--all", tag, "--json"];
        args.extend(registries.iter().map(String::as_str));
        let out = run(&mut kiln(&root, &store, &home, &args));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{tag}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let checks = v["checks"].as_array().unwrap();
        assert!(!checks.is_empty(), "{tag}: {text}");
        for c in checks {
            assert_eq!(c["check"], "bytes-identical", "{tag}: {c}");
        }
    }
}
