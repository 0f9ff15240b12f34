//! The setuptools-shaped release end to end through real registries: a
//! wheel and `server`/`node` images with alias and per-major channel tags
//! (`version/{version}` tags), published by `kiln publish` to pypiserver
//! and docker-registry; pip installs the wheel from the index and skopeo
//! reads every tag, podman pulls them. Its post release re-issues the images only: the new
//! version's tag is added, the aliases and the channel move to it, the
//! release's own tag and the wheel stay. A rerun is a no-op, and `kiln
//! verify --all` finds each version's artifacts byte-identical on the
//! registries.
//!
//! [`Published`] (the two registries and `kiln` run against them),
//! [`manifest_digest`] and [`podman_pulls`] serve `release_poetry` too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::fixture::git;
use crate::common::python::venv;
use crate::common::{cmd, require_tool, run_ok, write};
use crate::oci_support::{post_project, python_path};

use super::support::{kiln_in, Server};

/// (registry, package, version, file) of a `publish --json` step.
pub(super) type StepKey = (String, String, String, String);

/// A project and the registries its release goes to: pypiserver as
/// `python`, docker-registry as `images`, both on 127.0.0.1 while this
/// lives.
pub(super) struct Published {
    pub(super) root: PathBuf,
    store: PathBuf,
    home: PathBuf,
    pub(super) pypi: Server,
    pub(super) oci: Server,
}

impl Published {
    /// The tools every end-to-end release test needs, and `more`.
    pub(super) fn tools(more: &[&str]) -> bool {
        ["pypi-server", "docker-registry", "skopeo", "umoci", "pip"]
            .iter()
            .chain(more)
            .all(|t| require_tool(t))
    }

    /// Start the registries (their storage, the store and `HOME` under
    /// `t`) for the project at `root`.
    pub(super) fn start(t: &Path, root: PathBuf) -> Published {
        std::fs::create_dir_all(t.join("packages")).unwrap();
        Published {
            root,
            store: t.join("store"),
            home: t.join("home"),
            pypi: super::pypi::pypiserver(&t.join("packages"), None),
            oci: super::oci::docker_registry(t),
        }
    }

    /// `kiln ARGS` in the project with PATH reaching the host's interpreters.
    pub(super) fn kiln(&self, args: &[&str]) -> std::process::Command {
        let mut c = kiln_in(&self.root, &self.store, &self.home, args);
        c.env("PATH", python_path());
        c
    }

    /// `kiln ARGS --registry …` naming both registries.
    fn with_registries(&self, args: &[&str]) -> std::process::Command {
        let python = format!("python={}", self.pypi.url());
        let images = format!("images=http://127.0.0.1:{}", self.oci.port);
        let mut c = self.kiln(args);
        c.args(["--registry", &python, "--registry", &images]);
        c
    }

    /// `kiln publish --json EXTRA`: each step's action.
    pub(super) fn publish(&self, extra: &[&str]) -> BTreeMap<StepKey, String> {
        let mut c = self.with_registries(&["publish", "--json"]);
        let out = run_ok(c.args(extra));
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        let steps = report["steps"].as_array().unwrap();
        steps
            .iter()
            .map(|s| {
                let f = |k: &str| s[k].as_str().unwrap().to_string();
                (
                    (f("registry"), f("package"), f("version"), f("file")),
                    f("action"),
                )
            })
            .collect()
    }

    /// `kiln verify --all TAG` is exit 0, every check bytes-identical.
    pub(super) fn verify_all(&self, tag: &str) {
        super::support::verify_all_identical(
            &mut self.with_registries(&["verify", "--all", tag, "--json"]),
        );
    }

    /// The digest skopeo reads for `repo:tag` on the OCI registry.
    pub(super) fn digest(&self, repo: &str, tag: &str) -> String {
        let port = self.oci.port;
        manifest_digest(&format!("docker://127.0.0.1:{port}/{repo}:{tag}"))
    }
}

/// The digest of the manifest skopeo reads at `reference`
/// (`docker://…`, `oci:…`).
pub(super) fn manifest_digest(reference: &str) -> String {
    let out = run_ok(cmd("skopeo").args(["inspect", "--tls-verify=false", "--raw", reference]));
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(out.as_bytes()))
}

/// podman pulls every tag of each `(repository, tags)` from the registry
/// at `port`, and each repository's tags are the same image.
pub(super) fn podman_pulls(t: &Path, port: u16, pulls: &[(&str, &[&str])]) {
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
    for (r, tags) in pulls {
        let mut ids = Vec::new();
        for tag in *tags {
            let image = format!("127.0.0.1:{port}/{r}:{tag}");
            podman(&["pull", "-q", "--tls-verify=false", &image]);
            ids.push(podman(&["image", "inspect", "--format", "{{.Id}}", &image]));
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{r}: {tags:?} are {ids:?}");
    }
}

#[test]
fn a_release_and_its_post_release_reach_the_registries_and_verify() {
    if !Published::tools(&[]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let p = Published::start(t, post_project(&t.join("proj")));
    let root = &p.root;
    let policy = root.join("recipes/release.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n[publish]\nflow-wheel = \"python\"\nserver = \"images\"\nnode = \"images\"\n");
    write(&policy, text);
    git(root, &["commit", "-q", "-am", "publish targets"]);
    git(root, &["tag", "version/3.1.0"]);
    run_ok(&mut p.kiln(&["build"]));
    let first = p.publish(&[]);
    let packages: Vec<_> = first
        .keys()
        .map(|(r, p, v, _)| (r.as_str(), p.as_str(), v.as_str()))
        .collect();
    assert_eq!(first.len(), 3, "{first:?}");
    assert!(first.values().all(|a| a == "uploaded"), "{first:?}");
    let repos: Vec<String> = first
        .keys()
        .filter(|(r, _, _, _)| r == "images")
        .map(|(_, p, _, _)| p.clone())
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
        &format!("{}simple/", p.pypi.url()),
        "mini-flow==3.1.0",
    ]));
    let shown = run_ok(cmd(bin.join("pip").to_str().unwrap()).args(["show", "mini-flow"]));
    assert!(shown.contains("Version: 3.1.0"), "{shown}");
    let release: BTreeMap<&str, String> = repos
        .iter()
        .map(|r| (r.as_str(), p.digest(r, "3.1.0")))
        .collect();
    for r in &repos {
        for tag in ["3.1", "3", "latest", "petronas"] {
            assert_eq!(p.digest(r, tag), release[r.as_str()], "{r}:{tag}");
        }
    }

    // The post release: images only, the aliases and the channel move.
    let init = root.join("python/src/mini_flow/__init__.py");
    let mut text = std::fs::read_to_string(&init).unwrap();
    text.push_str("# changed after 3.1.0\n");
    write(&init, text);
    run_ok(&mut p.kiln(&["version", "set", "3.1.0.post1"]));
    git(root, &["commit", "-q", "-am", "after 3.1.0"]);
    git(root, &["tag", "version/3.1.0.post1"]);
    run_ok(&mut p.kiln(&["build"]));
    let post = p.publish(&[]);
    assert_eq!(
        post.keys()
            .map(|(r, _, v, _)| (r.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [("images", "3.1.0.post1"), ("images", "3.1.0.post1")],
        "{post:?}"
    );
    assert!(post.values().all(|a| a == "uploaded"), "{post:?}");
    for r in &repos {
        let d = p.digest(r, "3.1.0.post1");
        assert_ne!(d, release[r.as_str()], "{r}");
        assert_eq!(p.digest(r, "3.1.0"), release[r.as_str()], "{r}");
        for tag in ["3.1", "3", "latest", "petronas"] {
            assert_eq!(p.digest(r, tag), d, "{r}:{tag} moved to the post release");
        }
    }
    let again = p.publish(&[]);
    assert!(
        again.values().all(|a| a == "already-published"),
        "{again:?}"
    );
    let pulls: Vec<(&str, &[&str])> = repos
        .iter()
        .map(|r| (r.as_str(), &["3.1.0.post1", "petronas"][..]))
        .collect();
    podman_pulls(t, p.oci.port, &pulls);

    // What the registries serve is what each tag builds.
    for tag in ["version/3.1.0", "version/3.1.0.post1"] {
        p.verify_all(tag);
    }
}
