//! Post releases of images built from code: a post release tag rebuilds the
//! images only; their code inputs are the re-issued release's, byte for
//! byte (built from that release's tagged commit, at its version); only the
//! image tags and metadata carry the post version. A code recipe named in a
//! post release, or a post release of a release with no tag, is exit 2.

use crate::common;
use crate::oci_support;

use std::path::Path;

use common::fixture::git;
use common::{cmd, run, run_ok, write};
use oci_support::*;

#[test]
fn post_release_rebuilds_images_only_with_the_release_wheel() {
    if !tools(&["umoci", "skopeo", "git"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = post_project(&tmp.path().join("proj"));
    git(&root, &["tag", "version/3.1.0"]);
    run_ok(&mut kiln_in(&root, &tmp.path().join("store1"), &["build"]));
    let release_wheel = wheel_in(&root.join("dist"));
    assert!(
        release_wheel.ends_with("mini_flow-3.1.0-py3-none-any.whl"),
        "{}",
        release_wheel.display()
    );
    let release_bytes = std::fs::read(&release_wheel).unwrap();
    assert!(root.join("dist/server-3.1.0.oci").is_dir());

    // A later commit changes the package; the post release re-issues the
    // images of 3.1.0, whose wheel is 3.1.0's.
    let init = root.join("python/src/mini_flow/__init__.py");
    let mut text = std::fs::read_to_string(&init).unwrap();
    text.push_str("# changed after 3.1.0\n");
    write(&init, text);
    let store2 = tmp.path().join("store2");
    run_ok(&mut kiln_in(
        &root,
        &store2,
        &["version", "set", "3.1.0.post1"],
    ));
    git(&root, &["commit", "-q", "-am", "after 3.1.0"]);
    git(&root, &["tag", "version/3.1.0.post1"]);
    let head = run_ok(cmd("git").arg("-C").arg(&root).args(["rev-parse", "HEAD"]));
    let head = head.trim().to_string();

    // Naming a code recipe is bad input, alone or beside an image.
    for args in [
        &["build", "flow-wheel"][..],
        &["build", "server", "flow-wheel"],
    ] {
        let out = run(&mut kiln_in(&root, &store2, args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("flow-wheel")
                && err.contains("3.1.0.post1")
                && err.contains("post release"),
            "{err}"
        );
    }

    let out = run(&mut kiln_in(&root, &store2, &["build"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("docs-bundle") && err.contains("skipped"),
        "{err}"
    );
    assert!(!err.contains("flow-wheel: skipped"), "{err}");
    let dist = root.join("dist");
    let mut names: Vec<String> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "SHA256SUMS" && !n.ends_with(".intoto.json"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "node-3.1.0.post1.docker.tar",
            "node-3.1.0.post1.oci",
            "server-3.1.0.post1.docker.tar",
            "server-3.1.0.post1.oci"
        ]
    );

    for image in ["server", "node"] {
        let layout = dist.join(format!("{image}-3.1.0.post1.oci"));
        assert_eq!(
            tags_of(&layout),
            ["3.1.0.post1", "3.1", "3", "latest", "petronas"]
        );
        let raw = run_ok(
            cmd("skopeo")
                .args(["inspect", "--raw"])
                .arg(format!("oci:{}:3.1.0.post1", layout.display())),
        );
        let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let ann = &manifest["annotations"];
        assert_eq!(
            ann["org.opencontainers.image.version"], "3.1.0.post1",
            "{raw}"
        );
        assert_eq!(
            ann["org.opencontainers.image.revision"],
            head.as_str(),
            "{raw}"
        );
        let archive = dist.join(format!("{image}-3.1.0.post1.docker.tar"));
        // skopeo reads the docker archive; its tags are in manifest.json.
        run_ok(
            cmd("skopeo")
                .arg("inspect")
                .arg(format!("docker-archive:{}", archive.display())),
        );
        let manifest = run_ok(cmd("tar").arg("-xOf").arg(&archive).arg("manifest.json"));
        let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        let tags = &manifest[0]["RepoTags"];
        assert!(
            tags.as_array()
                .unwrap()
                .iter()
                .any(|t| t.as_str().unwrap().ends_with(":3.1.0.post1")),
            "{tags}"
        );
        let bundle = tmp.path().join(format!("bundle-{image}"));
        run_ok(
            cmd("umoci")
                .args(["unpack", "--rootless", "--image"])
                .arg(format!("{}:3.1.0.post1", layout.display()))
                .arg(&bundle),
        );
        let inside = bundle.join("rootfs/opt/mini-flow.whl");
        assert!(
            std::fs::read(&inside).unwrap() == release_bytes,
            "the wheel in {image} is not 3.1.0's"
        );
    }
}

#[test]
fn post_release_of_an_untagged_release_is_exit_2_naming_the_tag() {
    if !tools(&["umoci", "git"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = post_project(&tmp.path().join("proj"));
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["version", "set", "3.2.0.post1"],
    ));
    git(&root, &["commit", "-q", "-am", "3.2.0.post1"]);
    git(&root, &["tag", "version/3.2.0.post1"]);
    let out = run(&mut kiln_in(&root, &store, &["build"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("tag version/3.2.0 does not exist") && err.contains("3.2.0.post1"),
        "{err}"
    );
    assert!(!root.join("dist").exists());
}

/// `{release}` in an image recipe is the version of the code the image
/// carries: the release itself, and in a post release the release it
/// re-issues — so a wheel copied into the image keeps the file name pip
/// requires (its version must be the one in its metadata), while
/// `{version}` is the post release's.
#[test]
fn release_placeholder_names_the_code_of_a_post_release_image() {
    if !tools(&["umoci", "skopeo", "git"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = post_project(&tmp.path().join("proj"));
    let server = root.join("recipes/server.toml");
    let text = std::fs::read_to_string(&server).unwrap().replace(
        "\"/opt/mini-flow.whl\"",
        "\"/opt/wheels/mini_flow-{release}-py3-none-any.whl\"",
    ) + "\n[oci.labels]\n\"org.example.release\" = \"{release}\"\n\"org.example.version\" = \"{version}\"\n";
    write(&server, text);
    git(
        &root,
        &["commit", "-q", "-am", "name the wheel by its release"],
    );
    git(&root, &["tag", "version/3.1.0"]);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(&root, &store, &["build", "server"]));
    let wheel_names = |layout: &Path, tag: &str, at: &str| {
        let bundle = tmp.path().join(at);
        run_ok(
            cmd("umoci")
                .args(["unpack", "--rootless", "--image"])
                .arg(format!("{}:{tag}", layout.display()))
                .arg(&bundle),
        );
        let mut names: Vec<String> = std::fs::read_dir(bundle.join("rootfs/opt/wheels"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let config = run_ok(
            cmd("skopeo")
                .args(["inspect", "--config"])
                .arg(format!("oci:{}:{tag}", layout.display())),
        );
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        let labels = &config["config"]["Labels"];
        (
            names,
            labels["org.example.release"].as_str().unwrap().to_string(),
            labels["org.example.version"].as_str().unwrap().to_string(),
        )
    };
    let release = wheel_names(&root.join("dist/server-3.1.0.oci"), "3.1.0", "b1");
    assert_eq!(
        release,
        (
            vec!["mini_flow-3.1.0-py3-none-any.whl".to_string()],
            "3.1.0".to_string(),
            "3.1.0".to_string()
        )
    );

    run_ok(&mut kiln_in(
        &root,
        &store,
        &["version", "set", "3.1.0.post1"],
    ));
    git(&root, &["commit", "-q", "-am", "3.1.0.post1"]);
    git(&root, &["tag", "version/3.1.0.post1"]);
    run_ok(&mut kiln_in(&root, &store, &["build", "server"]));
    let post = wheel_names(
        &root.join("dist/server-3.1.0.post1.oci"),
        "3.1.0.post1",
        "b2",
    );
    assert_eq!(
        post,
        (
            vec!["mini_flow-3.1.0-py3-none-any.whl".to_string()],
            "3.1.0".to_string(),
            "3.1.0.post1".to_string()
        )
    );
}

/// A post release commit a day after its release: the image's wheel is
/// built at the release commit's time, by the build and by `kiln verify`
/// (which rebuilds with the image statement's `SOURCE_DATE_EPOCH`, the
/// post commit's: that epoch is the image's, not its code inputs'); the
/// report names the wheel as the release's, not as a `dist/` file.
#[test]
fn post_release_image_verifies_with_its_code_at_the_release_time() {
    if !tools(&["umoci", "git"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = post_project(&tmp.path().join("proj"));
    git(&root, &["tag", "version/3.1.0"]);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["version", "set", "3.1.0.post1"],
    ));
    common::fixture::git_dated(
        &root,
        &["commit", "-q", "-am", "3.1.0.post1"],
        "1704251045 +0000",
    );
    git(&root, &["tag", "version/3.1.0.post1"]);
    let said = run_ok(&mut kiln_in(&root, &store, &["build", "server"]));
    assert!(
        said.contains("mini_flow-3.1.0-py3-none-any.whl (release 3.1.0's")
            && !said.contains("dist/mini_flow"),
        "{said}"
    );
    let layout = root.join("dist/server-3.1.0.post1.oci");
    let out = run(&mut kiln_in(
        &root,
        &tmp.path().join("verify-store"),
        &["verify", layout.to_str().unwrap()],
    ));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("rebuilt: bytes identical"), "{text}");
}
