//! `kiln verify oci:HOST/REPO:TAG` and `oci:HOST/REPO@sha256:…` against
//! `docker-registry` on 127.0.0.1: the image `kiln publish` pushed
//! verifies (every blob checked against its descriptor on download, the
//! top manifest's digest equal to the rebuild's, the commit read from the
//! image's revision annotation), and another image pushed under the
//! version with skopeo fails naming the registry, the repository, the tag
//! and both digests.

use std::path::Path;

use crate::common::{cmd, require_tool, run, run_ok};

use super::oci::docker_registry;
use super::support::{build, kiln_in, released_image};

/// `kiln verify oci:…/mini-docs{image} --json {extra}`, its report.
fn verify(
    root: &Path,
    store: &Path,
    home: &Path,
    (port, image): (u16, &str),
    extra: &[&str],
) -> serde_json::Value {
    let reference = format!("oci:127.0.0.1:{port}/mini-docs{image}");
    let registry = format!("local=http://127.0.0.1:{port}");
    let mut args = vec!["verify", &reference, "--registry", &registry, "--json"];
    args.extend_from_slice(extra);
    let out = run(&mut kiln_in(root, store, home, &args));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{text}{}", String::from_utf8_lossy(&out.stderr)));
    let code = i32::from(!v[0]["outcome"].eq("bytes-identical"));
    assert_eq!(out.status.code(), Some(code), "{v}");
    v
}

fn top_digest(layout: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_pushed_image_verifies_by_tag_and_by_digest() {
    if !(require_tool("docker-registry") && require_tool("skopeo")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let root = released_image(&t.join("mono"), &home, None);
    let store = t.join("store");
    build(&root, &store, &home, &["docs-image"]);
    let server = docker_registry(t);
    run_ok(&mut kiln_in(
        &root,
        &store,
        &home,
        &[
            "publish",
            "--registry",
            &format!("local=http://127.0.0.1:{}", server.port),
        ],
    ));
    let ours = top_digest(&root.join("dist/docs-image-1.0.0.oci"));
    for image in [
        ":1.0.0".to_string(),
        ":latest".to_string(),
        format!("@{ours}"),
    ] {
        let v = verify(&root, &store, &home, (server.port, &image), &[]);
        let r = &v[0];
        assert_eq!(r["outcome"], "bytes-identical", "{image}: {r}");
        assert_eq!(r["registry"], "local");
        assert_eq!(r["name"], "mini-docs");
        assert_eq!(r["digest"], ours.as_str());
        assert_eq!(r["sha256"], ours.as_str());
        assert_eq!(r["rebuilt_sha256"], ours.as_str());
        assert_eq!(r["recipe"], "docs-image");
        assert_eq!(r["commit_from"], "oci-revision", "{r}");
    }
}

#[test]
fn another_image_pushed_under_the_tag_fails_naming_both_digests() {
    if !(require_tool("docker-registry") && require_tool("skopeo")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let server = docker_registry(t);
    // Another build of the version, pushed with skopeo.
    let other = released_image(&t.join("other"), &home, Some("planted\n"));
    build(&other, &t.join("other-store"), &home, &["docs-image"]);
    let planted = other.join("dist/docs-image-1.0.0.oci");
    run_ok(cmd("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1.0.0", planted.display()),
        &format!("docker://127.0.0.1:{}/mini-docs:1.0.0", server.port),
    ]));

    let root = released_image(&t.join("mono"), &home, None);
    let store = t.join("store");
    build(&root, &store, &home, &["docs-image"]);
    // The planted image names a commit of the other repository.
    let v = verify(
        &root,
        &store,
        &home,
        (server.port, ":1.0.0"),
        &["--rev", "1.0.0"],
    );
    let r = &v[0];
    assert_eq!(r["outcome"], "different", "{r}");
    assert_eq!(r["registry"], "local");
    assert_eq!(r["name"], "mini-docs");
    assert_eq!(r["registry_version"], "1.0.0");
    assert_eq!(r["sha256"], top_digest(&planted).as_str());
    assert_eq!(
        r["rebuilt_sha256"],
        top_digest(&root.join("dist/docs-image-1.0.0.oci")).as_str()
    );
}
