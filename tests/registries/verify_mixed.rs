//! A release with a wheel, an npm package and an image, end to end: built,
//! published by one `kiln publish` to pypiserver, verdaccio and
//! docker-registry, then verified from the registries — `kiln verify
//! --all` rebuilds the release and finds every artifact byte-identical on
//! its registry, and each artifact's own reference verifies too; the npm
//! token is in no output.

use crate::common::{run, run_ok};

use super::support::{files_containing, kiln_in, VERSION};

#[test]
fn a_published_release_verifies_from_every_kind_of_registry() {
    let Some(k) = super::mixed::three_kinds("surface = \"wheel\"\nsource = \"python\"\n") else {
        return;
    };
    let (home, root, store, oci, token, registries) =
        (&k.home, &k.root, &k.store, &k.oci, &k.token, &k.registries);
    let mut args = vec!["publish", "--json"];
    for r in registries.iter() {
        args.extend(["--registry", r.as_str()]);
    }
    let published: serde_json::Value =
        serde_json::from_str(&run_ok(&mut kiln_in(root, store, home, &args))).unwrap();

    let mut outputs = Vec::new();
    let mut args = vec!["verify", "--all", VERSION, "--json", "--sandbox", "none"];
    for r in registries.iter() {
        args.extend(["--registry", r.as_str()]);
    }
    let out = run(&mut kiln_in(root, store, home, &args));
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
            root,
            store,
            home,
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
        assert!(!String::from_utf8_lossy(o).contains(token.as_str()));
    }
    assert!(files_containing(store, token.as_bytes()).is_empty());
    assert!(files_containing(&root.join("dist"), token.as_bytes()).is_empty());
}
