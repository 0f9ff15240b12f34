//! A release with a wheel, an npm package and an image, end to end: built,
//! published by one `kiln publish` to pypiserver, verdaccio and
//! docker-registry, then verified from the registries — `kiln verify
//! --all` rebuilds the release and finds every artifact byte-identical on
//! its registry, and each artifact's own reference verifies too; the npm
//! token is in no output.

use crate::common::fixture::{git, monorepo_at};
use crate::common::{require_tool, run, run_ok, write};

use super::support::{build, files_containing, kiln_in, VERSION};

#[test]
fn a_published_release_verifies_from_every_kind_of_registry() {
    if !["pypi-server", "verdaccio", "docker-registry"]
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
    let npm = super::npm::verdaccio(t);
    let oci = super::oci::docker_registry(t);
    let token = super::npm::add_user(&npm, "kiln");
    write(
        &home.join(".npmrc"),
        format!("//127.0.0.1:{}/:_authToken={token}\n", npm.port),
    );
    let root = monorepo_at(&t.join("mono"), false);
    write(
        &root.join("recipes/mini-wheel.toml"),
        "surface = \"wheel\"\nsource = \"python\"\n",
    );
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
    let mut args = vec!["publish", "--json"];
    for r in &registries {
        args.extend(["--registry", r.as_str()]);
    }
    let published: serde_json::Value =
        serde_json::from_str(&run_ok(&mut kiln_in(&root, &store, &home, &args))).unwrap();

    let mut outputs = Vec::new();
    let mut args = vec!["verify", "--all", VERSION, "--json", "--sandbox", "none"];
    for r in &registries {
        args.extend(["--registry", r.as_str()]);
    }
    let out = run(&mut kiln_in(&root, &store, &home, &args));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut seen: Vec<(String, String)> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["check"], "bytes-identical", "{c}");
            assert_eq!(c["served"], c["rebuilt"], "{c}");
            (
                c["registry"].as_str().unwrap().to_string(),
                c["recipe"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        seen,
        [
            pair("images", "docs-image"),
            pair("node", "mini-npm"),
            pair("python", "mini-wheel")
        ]
    );
    outputs.extend([out.stdout, out.stderr]);

    // Each artifact's own reference verifies as well.
    for step in published["steps"].as_array().unwrap() {
        let (package, version) = (
            step["package"].as_str().unwrap(),
            step["version"].as_str().unwrap(),
        );
        let (reference, registry) = match step["registry"].as_str().unwrap() {
            "python" => (format!("pypi:{package}=={version}"), &registries[0]),
            "node" => (format!("npm:{package}@{version}"), &registries[1]),
            _ => (
                format!("oci:127.0.0.1:{}/{package}:{version}", oci.port),
                &registries[2],
            ),
        };
        let out = run(&mut kiln_in(
            &root,
            &store,
            &home,
            &[
                "verify",
                &reference,
                "--registry",
                registry,
                "--rev",
                VERSION,
                "--sandbox",
                "none",
            ],
        ));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{reference}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("verified at level Bytes"), "{text}");
        outputs.extend([out.stdout, out.stderr]);
    }
    for o in &outputs {
        assert!(!String::from_utf8_lossy(o).contains(&token));
    }
    assert!(files_containing(&store, token.as_bytes()).is_empty());
    assert!(files_containing(&root.join("dist"), token.as_bytes()).is_empty());
}
