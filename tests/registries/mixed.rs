//! One `kiln publish` of a release with a Python package, an npm package
//! and an image: each goes to its own kind of registry, in the fixed order
//! (the OCI registry, which can delete, first; npm and PyPI, which cannot,
//! last), and a rerun is a no-op across all three.

use std::path::PathBuf;

use crate::common::fixture::{git, monorepo_at};
use crate::common::{require_tool, run_ok, write};

use super::support::{build, kiln_in, Server, VERSION};

/// A release of three kinds, each for its own registry: pypiserver,
/// verdaccio (the user's token in `~/.npmrc`) and docker-registry, the
/// monorepo's wheel (`wheel` is its recipe), npm package and an image of
/// its docs, built at its tag.
pub(super) struct ThreeKinds {
    _tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub root: PathBuf,
    pub store: PathBuf,
    _pypi: Server,
    _npm: Server,
    pub oci: Server,
    pub token: String,
    /// `--registry` values: python, node, images.
    pub registries: [String; 3],
}

pub(super) fn three_kinds(wheel: &str) -> Option<ThreeKinds> {
    if !["pypi-server", "verdaccio", "docker-registry"]
        .iter()
        .all(|t| require_tool(t))
    {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    std::fs::create_dir_all(t.join("packages")).unwrap();
    let pypi = super::pypi::pypiserver(&t.join("packages"), None);
    let npm = super::npm::verdaccio(t);
    let oci = super::oci::docker_registry(t);
    let token = super::npm::add_user(&npm, "kiln");
    write(
        &home.join(".npmrc"),
        format!("//127.0.0.1:{}/:_authToken={token}\n", npm.port),
    );
    let root = monorepo_at(&t.join("mono"), false);
    write(&root.join("recipes/mini-wheel.toml"), wheel);
    write(
        &root.join("recipes/docs-image.toml"),
        "surface = \"oci\"\nsource = \".\"\ninclude = [\"docs/**\"]\n\n[oci]\nrepository = \"example.org/mini-docs\"\n\n[[oci.layers]]\nname = \"docs\"\nmap = { \"docs\" = \"/usr/share/doc/mini/\" }\n",
    );
    let policy = root.join("recipes/release.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str(
        "\n[publish]\nmini-wheel = \"python\"\nmini-npm = \"node\"\ndocs-image = \"images\"\n",
    );
    write(&policy, text);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "three kinds, published"]);
    git(&root, &["tag", VERSION]);
    let store = t.join("store");
    build(
        &root,
        &store,
        &home,
        &["mini-wheel", "mini-npm", "docs-image"],
    );
    let registries = [
        format!("python={}", pypi.url()),
        format!("node={}", npm.url()),
        format!("images=http://127.0.0.1:{}", oci.port),
    ];
    Some(ThreeKinds {
        home,
        root,
        store,
        _pypi: pypi,
        _npm: npm,
        oci,
        token,
        registries,
        _tmp: tmp,
    })
}

#[test]
fn one_publish_reaches_every_kind_of_registry_in_order() {
    let wheel = "surface = \"wheel\"\nsource = \"python\"\n[wheel]\nbackend = \"kiln\"\n";
    let Some(k) = three_kinds(wheel) else {
        return;
    };
    let ThreeKinds {
        home,
        root,
        store,
        registries,
        ..
    } = &k;
    let publish = || {
        let mut args = vec!["publish", "--json"];
        for r in registries.iter() {
            args.extend(["--registry", r.as_str()]);
        }
        let out = run_ok(&mut kiln_in(root, store, home, &args));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["registry"].as_str().unwrap().to_string(),
                    s["action"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let step = |r: &str, a: &str| (r.to_string(), a.to_string());
    assert_eq!(
        publish(),
        [
            step("images", "uploaded"),
            step("node", "uploaded"),
            step("python", "uploaded")
        ]
    );
    assert_eq!(
        publish(),
        [
            step("images", "already-published"),
            step("node", "already-published"),
            step("python", "already-published")
        ]
    );
}
