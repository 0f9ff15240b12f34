//! The `oci` surface against real clients: skopeo reads every tag and
//! converts the layout to oci-archive and docker-archive, umoci unpacks it and
//! the entrypoint runs in the rootfs under bubblewrap, podman loads the
//! docker archive. Tags follow the release kind (stable, pre-release, post
//! release); builds are byte-identical across path, TZ, umask, file order and
//! core count; bad input exits 2 and registers nothing.
//!
//! Base images are made here with umoci, from Debian's busybox-static and
//! from the host's Python interpreters; nothing is downloaded.

use crate::common;
use crate::oci_support;

use std::path::{Path, PathBuf};

use common::fixture::{git, monorepo_at};
use common::{cmd, kiln_bin, require_tool, run, run_ok, write};
use oci_support::*;

#[test]
fn release_image_on_busybox_is_read_by_skopeo_umoci_podman_and_runs() {
    if !tools(&["umoci", "skopeo", "bwrap", "cargo", "file"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = project(&tmp.path().join("proj"), false, false);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "3.1.0", "mini-image"],
    ));
    let layout = root.join("dist/mini-image-3.1.0.oci");
    let tags = tags_of(&layout);
    assert_eq!(tags, ["3.1.0", "3.1", "3", "latest", "petronas"]);
    let index = layout_index(&layout);
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    for tag in &tags {
        let out = run_ok(
            cmd("skopeo")
                .args(["inspect", "--raw"])
                .arg(format!("oci:{}:{tag}", layout.display())),
        );
        let m: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(m["layers"].as_array().unwrap().len(), 3, "{out}");
        let info: serde_json::Value = serde_json::from_str(&run_ok(
            cmd("skopeo")
                .arg("inspect")
                .arg(format!("oci:{}:{tag}", layout.display())),
        ))
        .unwrap();
        assert_eq!(info["Digest"], manifest_digest.as_str());
        assert_eq!(info["Created"], "2024-01-02T03:04:05Z");
    }
    let m = blob(&layout, &manifest_digest);
    let ann = &m["annotations"];
    assert_eq!(ann["org.opencontainers.image.version"], "3.1.0");
    assert_eq!(
        ann["org.opencontainers.image.created"],
        "2024-01-02T03:04:05Z"
    );
    assert_eq!(ann["org.opencontainers.image.title"], "mini-image");
    assert_eq!(
        ann["org.opencontainers.image.source"],
        "https://example.invalid/mini"
    );
    assert_eq!(
        ann["org.opencontainers.image.revision"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
    let config = blob(&layout, m["config"]["digest"].as_str().unwrap());
    assert_eq!(config["created"], "2024-01-02T03:04:05Z");
    for h in config["history"].as_array().unwrap().iter().skip(1) {
        assert_eq!(h["created"], "2024-01-02T03:04:05Z", "{h}");
    }
    let c = &config["config"];
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/mini"]));
    assert_eq!(c["Cmd"], serde_json::json!(["world"]));
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(c["Labels"]["org.example.component"], "cli");
    assert!(c["Env"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("MINI_VERSION=3.1.0")));
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 3);
    // The base layer is reused byte for byte.
    let base_layout = bases().0.join("bases/busybox");
    let base_manifest = blob(&base_layout, &bases().1[0].1);
    assert_eq!(m["layers"][0], base_manifest["layers"][0]);

    // skopeo converts it to both archive formats.
    for dest in ["oci-archive", "docker-archive"] {
        let to = tmp.path().join(format!("copy.{dest}.tar"));
        let mut c = cmd("skopeo");
        c.args(["copy", "--quiet"])
            .arg(format!("oci:{}:3.1.0", layout.display()))
            .arg(if dest == "docker-archive" {
                format!("{dest}:{}:example.org/mini:3.1.0", to.display())
            } else {
                format!("{dest}:{}", to.display())
            });
        run_ok(&mut c);
        assert!(to.metadata().unwrap().len() > 0);
    }
    // kiln's own docker archive is read by skopeo as an image with the same config.
    let docker = root.join("dist/mini-image-3.1.0.docker.tar");
    let via_docker: serde_json::Value = serde_json::from_str(&run_ok(
        cmd("skopeo")
            .args(["inspect", "--config"])
            .arg(format!("docker-archive:{}", docker.display())),
    ))
    .unwrap();
    assert_eq!(via_docker["config"]["Entrypoint"], c["Entrypoint"]);
    // Its layers (the layout's compressed blobs) read back as the config's diff ids.
    run_ok(
        cmd("skopeo")
            .args(["copy", "--quiet"])
            .arg(format!("docker-archive:{}", docker.display()))
            .arg(format!(
                "oci:{}:back",
                tmp.path().join("from-docker").display()
            )),
    );

    // The entrypoint runs in the unpacked rootfs.
    let out = run_in_image(&layout, "petronas", tmp.path());
    assert!(out.contains("world") && out.contains("3.1.0"), "{out}");
    let rootfs = tmp.path().join("bundle-petronas/rootfs");
    assert!(rootfs.join("usr/share/doc/mini/guide/start.md").is_file());
    assert_eq!(
        std::fs::read_link(rootfs.join("usr/bin/mini")).unwrap(),
        PathBuf::from("/usr/local/bin/mini")
    );
    assert!(rootfs.join("bin/busybox").is_file());

    // podman loads the docker archive and lists every tag.
    if require_tool("podman") {
        let storage = tmp.path().join("podman");
        let podman = |args: &[&str]| {
            let mut c = cmd("podman");
            c.arg("--root")
                .arg(storage.join("root"))
                .arg("--runroot")
                .arg(storage.join("run"))
                .args(["--storage-driver", "vfs"])
                .args(args);
            c
        };
        let load = run(&mut podman(&["load", "-i", docker.to_str().unwrap()]));
        assert!(
            load.status.success(),
            "podman load failed: {}",
            String::from_utf8_lossy(&load.stderr)
        );
        let images = run_ok(&mut podman(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ]));
        for tag in &tags {
            assert!(
                images.contains(&format!("example.org/mini:{tag}")),
                "{images}"
            );
        }
    }
}

#[test]
fn tags_follow_release_kind_and_post_releases_are_images_only() {
    if !tools(&["umoci", "skopeo", "bwrap", "cargo", "file"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = project(&tmp.path().join("proj"), false, false);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "3.1.0rc1", "mini-image"],
    ));
    assert_eq!(
        tags_of(&root.join("dist/mini-image-3.1.0rc1.oci")),
        ["3.1.0rc1"]
    );
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "2.4.0", "mini-image"],
    ));
    assert_eq!(
        tags_of(&root.join("dist/mini-image-2.4.0.oci")),
        ["2.4.0", "2.4", "2", "latest", "harukas"]
    );
    // A post release re-issues the images of a tagged release; their code
    // inputs are built at that release (tests/release/post_release.rs).
    git(&root, &["tag", "3.1.0"]);
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "3.1.0.post1", "mini-image"],
    ));
    let post = root.join("dist/mini-image-3.1.0.post1.oci");
    assert_eq!(
        tags_of(&post),
        ["3.1.0.post1", "3.1", "3", "latest", "petronas"]
    );
    run_ok(
        cmd("skopeo")
            .arg("inspect")
            .arg(format!("oci:{}:3.1.0.post1", post.display())),
    );
    // Every other surface refuses a post release, in the same build.
    for other in [
        "mini-crates",
        "mini-npm",
        "docs-bundle",
        "docs-zip",
        "flow-wheel",
        "flow-sdist",
    ] {
        let out = run(&mut kiln_in(
            &root,
            &store,
            &["build", "--version", "3.1.0.post1", "mini-image", other],
        ));
        assert_eq!(out.status.code(), Some(2), "{other}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("post release") && err.contains("3.1.0.post1"),
            "{err}"
        );
    }
}

/// Two builds under different conditions give the same bytes; a new version
/// changes tags and annotations, never layers.
#[test]
fn images_are_byte_identical_across_path_tz_umask_order_and_cores() {
    if !tools(&["umoci", "bwrap", "cargo", "file", "taskset"]) {
        return;
    }
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let with_python = has_python_bases();
    let root_a = project(&a.path().join("p"), false, with_python);
    let root_b = project(&b.path().join("some/deeper/place/p2"), true, with_python);
    add_bulk(&root_a, false);
    add_bulk(&root_b, true);
    let mut names = vec!["mini-image", "bulk-gz", "bulk-gz1", "bulk-zst"];
    if with_python {
        names.push("flow-image");
    }
    let mut args_a = vec!["build", "--version", "3.1.0"];
    args_a.extend(&names);
    run_ok(
        kiln_in(&root_a, &a.path().join("store"), &args_a)
            .env("TZ", "UTC")
            .env("LC_ALL", "C"),
    );
    let mut c = cmd("taskset");
    c.args(["-c", "0", "sh", "-c", "umask 077 && exec \"$0\" \"$@\""])
        .arg(kiln_bin())
        .arg("-C")
        .arg(&root_b)
        .arg("--store")
        .arg(b.path().join("store"))
        .args(&args_a)
        .env("PATH", python_path())
        .env("TZ", "Asia/Kathmandu")
        .env("LC_ALL", "fr_FR.UTF-8")
        .env_remove("KILN_STORE")
        .env_remove("SOURCE_DATE_EPOCH");
    run_ok(&mut c);
    let sums = |r: &Path| std::fs::read_to_string(r.join("dist/SHA256SUMS")).unwrap();
    assert_eq!(sums(&root_a), sums(&root_b));
    assert!(sums(&root_a).contains("mini-image-3.1.0.docker.tar"));
    let la = root_a.join("dist/mini-image-3.1.0.oci");
    let lb = root_b.join("dist/mini-image-3.1.0.oci");
    assert_eq!(
        common::fixture::tree_digest(&la),
        common::fixture::tree_digest(&lb)
    );
    assert_eq!(layout_index(&la), layout_index(&lb));
    lower_level_is_the_same_layer_in_other_bytes(&root_a, a.path());

    // A new version: new tags and annotations, the same layers.
    let m1 = blob(
        &la,
        layout_index(&la)["manifests"][0]["digest"]
            .as_str()
            .unwrap(),
    );
    run_ok(&mut kiln_in(
        &root_a,
        &a.path().join("store"),
        &["build", "--version", "3.2.0", "mini-image"],
    ));
    let l2 = root_a.join("dist/mini-image-3.2.0.oci");
    let m2 = blob(
        &l2,
        layout_index(&l2)["manifests"][0]["digest"]
            .as_str()
            .unwrap(),
    );
    assert_ne!(m1, m2);
    assert_eq!(m1["layers"][0], m2["layers"][0]);
    assert_eq!(m1["layers"][2], m2["layers"][2], "docs layer");
    assert_eq!(
        m2["annotations"]["org.opencontainers.image.version"],
        "3.2.0"
    );
    assert_eq!(tags_of(&l2), ["3.2.0", "3.2", "3", "latest", "petronas"]);
}

/// `compression-level = 1`: the same layer tar (diff id) as the default
/// level, in other, larger bytes, which umoci unpacks to the same files.
fn lower_level_is_the_same_layer_in_other_bytes(root: &Path, work: &Path) {
    let image = |name: &str| {
        let l = root.join(format!("dist/{name}-3.1.0.oci"));
        let m = blob(
            &l,
            layout_index(&l)["manifests"][0]["digest"].as_str().unwrap(),
        );
        let c = blob(&l, m["config"]["digest"].as_str().unwrap());
        (l, m["layers"][0].clone(), c["rootfs"]["diff_ids"].clone())
    };
    let (_, layer6, diff6) = image("bulk-gz");
    let (l1, layer1, diff1) = image("bulk-gz1");
    assert_eq!(diff6, diff1);
    assert_ne!(layer6["digest"], layer1["digest"]);
    assert!(
        layer1["size"].as_u64().unwrap() > layer6["size"].as_u64().unwrap(),
        "level 1 {layer1} is not larger than level 6 {layer6}"
    );
    let bundle = work.join("bundle-gz1");
    run_ok(
        cmd("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:3.1.0", l1.display()))
            .arg(&bundle),
    );
    for i in 0..9 {
        let rel = format!("bulk/part-{i}.txt");
        assert_eq!(
            std::fs::read(bundle.join("rootfs").join(&rel)).unwrap(),
            std::fs::read(root.join(&rel)).unwrap(),
            "{rel}"
        );
    }
}

/// A project outside any git work tree is a directory snapshot: its files
/// are streamed into the layers from where they are (no workspace copy).
/// The layers are byte for byte those of the same files built from git.
#[test]
fn a_directory_snapshot_gives_the_layers_of_the_same_files_from_git() {
    if !tools(&["umoci", "bwrap", "cargo", "file", "tar"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let git_root = project(&t.path().join("git"), false, false);
    add_bulk(&git_root, false);
    // A link out of the project is a link in the layer, never its target.
    std::os::unix::fs::symlink("/etc/passwd", git_root.join("bulk/passwd")).unwrap();
    git(&git_root, &["add", "-A"]);
    git(&git_root, &["commit", "-q", "-m", "link"]);
    let plain = t.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let archive = t.path().join("head.tar");
    git(
        &git_root,
        &[
            "archive",
            "--format=tar",
            "-o",
            archive.to_str().unwrap(),
            "HEAD",
        ],
    );
    run_ok(cmd("tar").arg("-xf").arg(&archive).arg("-C").arg(&plain));
    let build = |root: &Path, store: &str| {
        run_ok(
            kiln_in(
                root,
                &t.path().join(store),
                &["build", "--version", "3.1.0", "bulk-gz", "bulk-zst"],
            )
            .env("SOURCE_DATE_EPOCH", "1700000000"),
        );
    };
    build(&git_root, "store-git");
    build(&plain, "store-plain");
    for name in ["bulk-gz", "bulk-zst"] {
        let layers = |root: &Path| {
            let l = root.join(format!("dist/{name}-3.1.0.oci"));
            let digest = layout_index(&l)["manifests"][0]["digest"]
                .as_str()
                .unwrap()
                .to_string();
            blob(&l, &digest)["layers"].clone()
        };
        let from_git = layers(&git_root);
        assert_eq!(from_git.as_array().unwrap().len(), 1, "{name}");
        assert_eq!(from_git, layers(&plain), "{name}");
    }
    let manifest = {
        let l = plain.join("dist/bulk-gz-3.1.0.oci");
        let digest = layout_index(&l)["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        blob(&l, &digest)
    };
    let layer = plain.join(format!(
        "dist/bulk-gz-3.1.0.oci/blobs/sha256/{}",
        manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
    ));
    let listing = run_ok(cmd("tar").arg("-tvzf").arg(&layer));
    assert!(listing.contains("bulk/passwd -> /etc/passwd"), "{listing}");
    // The provenance subjects of the layout (digests kiln took while
    // writing its blobs) and SHA256SUMS are the files' bytes.
    let dist = plain.join("dist");
    run_ok(
        cmd("sha256sum")
            .arg("--quiet")
            .arg("-c")
            .arg("SHA256SUMS")
            .current_dir(&dist),
    );
    let statement: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("bulk-gz-3.1.0.oci.intoto.json")).unwrap())
            .unwrap();
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let subjects = statement["subject"].as_array().unwrap();
    assert!(subjects.len() >= 5, "{subjects:?}");
    for s in subjects {
        let line = format!(
            "{}  {}\n",
            s["digest"]["sha256"].as_str().unwrap(),
            s["name"].as_str().unwrap()
        );
        assert!(sums.contains(&line), "{line} not in SHA256SUMS");
    }
    // The checkout is untouched.
    run_ok(
        cmd("git")
            .arg("-C")
            .arg(&git_root)
            .args(["diff", "--quiet", "HEAD"]),
    );
}

#[test]
fn python_matrix_installs_the_wheel_per_python_with_cell_tags() {
    if !tools(&["umoci", "skopeo", "bwrap", "file", "ldd"]) || !has_python_bases() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = project(&tmp.path().join("proj"), false, true);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "1.4.3", "flow-image"],
    ));
    for py in ["3.11", "3.12"] {
        let layout = root.join(format!("dist/flow-image-{py}-1.4.3.oci"));
        let tags = tags_of(&layout);
        assert_eq!(
            tags,
            [
                format!("1.4.3-py{py}"),
                format!("1.4-py{py}"),
                format!("1-py{py}"),
                format!("latest-py{py}")
            ]
        );
        let raw = run_ok(
            cmd("skopeo")
                .args(["inspect", "--raw"])
                .arg(format!("oci:{}:1.4.3-py{py}", layout.display())),
        );
        assert!(
            raw.contains("application/vnd.oci.image.layer.v1.tar+zstd"),
            "{raw}"
        );
        // umoci 0.4 cannot read zstd layers: skopeo decodes them into a gzip copy.
        let gz = tmp.path().join(format!("gzip-{py}"));
        run_ok(
            cmd("skopeo")
                .args(["copy", "--quiet", "--dest-compress-format", "gzip"])
                .arg(format!("oci:{}:1.4.3-py{py}", layout.display()))
                .arg(format!("oci:{}:1.4.3-py{py}", gz.display())),
        );
        // The entrypoint is the console script pip wrote; it prints the
        // stamped version from the installed metadata.
        let tag = format!("1.4.3-py{py}");
        let out = run_in_image(&gz, &tag, tmp.path());
        assert_eq!(out.trim(), "1.4.3", "{out}");
        // The image's own Python imports the package from the installed prefix.
        let out = run_in_image_argv(
            &gz,
            &tag,
            tmp.path(),
            Some(&[
                "/usr/local/bin/python3",
                "-c",
                "import sys, mini_flow, mini_flow.cli; print(sys.version_info[:2], mini_flow.__file__); mini_flow.cli.main()",
            ]),
        );
        let (major, minor) = py.split_once('.').unwrap();
        assert!(
            out.contains(&format!(
                "({major}, {minor}) /usr/local/lib/python{py}/site-packages/mini_flow/__init__.py"
            )),
            "{out}"
        );
        assert!(out.contains("hello, world (mini-flow)"), "{out}");
        let rootfs = tmp.path().join(format!("bundle-{tag}/rootfs"));
        let script = std::fs::read_to_string(rootfs.join("usr/local/bin/mini-flow")).unwrap();
        assert!(script.starts_with("#!/usr/local/bin/python3\n"), "{script}");
        let dist_info = rootfs.join(format!(
            "usr/local/lib/python{py}/site-packages/mini_flow-1.4.3.dist-info"
        ));
        assert_eq!(
            std::fs::read_to_string(dist_info.join("INSTALLER")).unwrap(),
            "pip\n"
        );
    }
}

#[test]
fn multi_platform_recipes_give_an_image_index() {
    if !tools(&["skopeo", "umoci"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = monorepo_at(&tmp.path().join("proj"), false);
    write(&root.join("images/amd64/hello"), "#!/bin/sh\necho amd64\n");
    write(&root.join("images/arm64/hello"), "#!/bin/sh\necho arm64\n");
    write(
        &root.join("recipes/multi.toml"),
        r#"surface = "oci"
include = ["images/**"]
[oci]
platforms = ["linux/amd64", "linux/arm64/v8"]
entrypoint = ["/hello"]
[[oci.layers]]
name = "script"
map = { "images/{arch}/hello" = "/hello" }
"#,
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "multi"]);
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "1.0.0", "multi"],
    ));
    let layout = root.join("dist/multi-1.0.0.oci");
    let raw: serde_json::Value = serde_json::from_str(&run_ok(
        cmd("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:1.0.0", layout.display())),
    ))
    .unwrap();
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(raw["manifests"].as_array().unwrap().len(), 2);
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let mut c = cmd("skopeo");
        c.args(["--override-os", "linux", "--override-arch", arch]);
        if let Some(v) = variant {
            c.args(["--override-variant", v]);
        }
        let info: serde_json::Value = serde_json::from_str(&run_ok(
            c.arg("inspect")
                .arg(format!("oci:{}:latest", layout.display())),
        ))
        .unwrap();
        assert_eq!(info["Architecture"], arch);
    }
    assert!(root
        .join("dist/multi-1.0.0-linux-arm64-v8.docker.tar")
        .is_file());
}

#[test]
fn bad_image_input_exits_2_naming_it_and_registers_nothing() {
    if !tools(&["umoci", "bwrap", "cargo", "file"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = project(&tmp.path().join("proj"), false, false);
    let store = tmp.path().join("store");
    let original = std::fs::read_to_string(root.join("recipes/mini-image.toml")).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "invalid tag",
            original.replace("[oci]\n", "[oci]\ntag-suffix = \"bad+suffix\"\n"),
            "bad+suffix",
        ),
        (
            "compression level out of range",
            original.replace("[oci]\n", "[oci]\ncompression-level = 13\n"),
            "oci.compression-level",
        ),
        (
            "digest mismatch",
            original.replace(
                &bases().1[0].1,
                "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ),
            "pinned digest sha256:0000",
        ),
        (
            "relative layer path",
            original.replace("\"/usr/local/bin/mini\" }", "\"usr/local/bin/mini\" }"),
            "usr/local/bin/mini",
        ),
        (
            "escaping layer source",
            original.replace("\"LICENSE\" =", "\"../LICENSE\" ="),
            "../LICENSE",
        ),
        (
            "missing input file",
            original.replace(
                "inputs/bin/target/release/mini",
                "inputs/bin/target/release/nope",
            ),
            "inputs/bin/target/release/nope",
        ),
    ];
    for (what, text, needle) in cases {
        write(&root.join("recipes/mini-image.toml"), &text);
        git(&root, &["commit", "-q", "-am", what]);
        let out = run(&mut kiln_in(
            &root,
            &store,
            &["build", "--version", "3.1.0", "mini-image"],
        ));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err}");
        assert!(err.contains("mini-image"), "{what}: {err}");
        let listed = run_ok(&mut kiln_in(&root, &store, &["store", "ls"]));
        assert!(
            !listed.contains("mini-image"),
            "{what}: registered\n{listed}"
        );
        assert!(!root.join("dist/mini-image-3.1.0.oci").exists(), "{what}");
    }
    // A base layout whose layer blob is a link to /dev/zero (its pin still
    // matches): refused as not a regular file, not read forever.
    write(&root.join("recipes/mini-image.toml"), &original);
    let blobs = root.join("bases/busybox/blobs/sha256");
    let layer = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    std::fs::remove_file(&layer).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &layer).unwrap();
    git(
        &root,
        &["commit", "-q", "-am", "layer blob linked to /dev/zero"],
    );
    let out = run(&mut kiln_in(
        &root,
        &store,
        &["build", "--version", "3.1.0", "mini-image"],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let hex = layer.file_name().unwrap().to_string_lossy();
    assert!(
        err.contains("not a regular file") && err.contains(hex.as_ref()),
        "{err}"
    );
    let listed = run_ok(&mut kiln_in(&root, &store, &["store", "ls"]));
    assert!(!listed.contains("mini-image"), "registered\n{listed}");
}
