//! `kiln publish` to an OCI registry: Debian's `docker-registry` (the
//! distribution reference implementation) on 127.0.0.1; skopeo inspects
//! every tag (version, aliases, channel), a rerun is a no-op, another
//! image under the version fails before any upload, and a registry failing
//! mid-push is finished by a rerun.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{cmd, require_tool, run, run_ok, write};

use super::support::{
    build, failing_proxy, files_containing, free_port, kiln_in, released_image, Server,
};

const TAGS: [&str; 4] = ["1.0.0", "1.0", "1", "latest"];

pub fn docker_registry(dir: &Path) -> Server {
    docker_registry_with(dir, None)
}

/// The registry; with `htpasswd`, every request needs its credentials.
fn docker_registry_with(dir: &Path, htpasswd: Option<&Path>) -> Server {
    let auth = htpasswd.map_or(String::new(), |h| {
        format!(
            "auth:\n  htpasswd:\n    realm: kiln\n    path: {}\n",
            h.display()
        )
    });
    docker_registry_auth(dir, &auth)
}

/// The registry with `auth`, a `auth:` section of its configuration.
pub fn docker_registry_auth(dir: &Path, auth: &str) -> Server {
    let port = free_port();
    let config = dir.join("registry.yml");
    write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
            dir.join("data").display()
        ),
    );
    let mut c = cmd("docker-registry");
    c.arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Server::start(c, port)
}

/// The digest of the manifest `reference` names, as skopeo reads it.
fn skopeo_digest(port: u16, reference: &str) -> Option<String> {
    skopeo_digest_as(port, reference, None)
}

fn skopeo_digest_as(port: u16, reference: &str, creds: Option<&str>) -> Option<String> {
    let mut c = cmd("skopeo");
    if let Some(creds) = creds {
        c.args(["inspect", "--creds", creds]);
    } else {
        c.arg("inspect");
    }
    let out = run(c.args([
        "--tls-verify=false",
        "--format",
        "{{.Digest}}",
        &format!("docker://127.0.0.1:{port}/mini-docs:{reference}"),
    ]));
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

struct Setup {
    _tmp: tempfile::TempDir,
    tmp: PathBuf,
    home: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    Setup {
        tmp: tmp.path().to_path_buf(),
        home,
        _tmp: tmp,
    }
}

/// Publish and return the plan's JSON.
fn publish_json(
    root: &Path,
    store: &Path,
    home: &Path,
    registry: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec!["publish", "--json", "--registry", registry];
    args.extend_from_slice(extra);
    serde_json::from_str(&run_ok(&mut kiln_in(root, store, home, &args))).unwrap()
}

#[test]
fn every_tag_resolves_with_skopeo_and_a_rerun_is_a_no_op() {
    if !(require_tool("docker-registry") && require_tool("skopeo")) {
        return;
    }
    let s = setup();
    let root = released_image(&s.tmp.join("mono"), &s.home, None);
    let store = s.tmp.join("store");
    build(&root, &store, &s.home, &["docs-image"]);
    let server = docker_registry(&s.tmp);
    let registry = format!("local=http://127.0.0.1:{}", server.port);

    let dry = publish_json(&root, &store, &s.home, &registry, &["--dry-run"]);
    let step = &dry["steps"][0];
    assert_eq!(step["action"], "upload", "{dry}");
    assert_eq!(step["package"], "mini-docs");
    assert_eq!(step["version"], "1.0.0");
    assert_eq!(
        skopeo_digest(server.port, "1.0.0"),
        None,
        "a dry run pushes nothing"
    );

    let v = publish_json(&root, &store, &s.home, &registry, &[]);
    assert_eq!(v["steps"][0]["action"], "uploaded", "{v}");
    let digest = v["steps"][0]["digest"].as_str().unwrap().to_string();
    for tag in TAGS {
        assert_eq!(
            skopeo_digest(server.port, tag).as_deref(),
            Some(digest.as_str()),
            "{tag}"
        );
    }
    // The registry serves the layout's own manifest: skopeo copies it back
    // and the digest is the one dist/'s index.json names.
    let index = std::fs::read_to_string(root.join("dist/docs-image-1.0.0.oci/index.json")).unwrap();
    assert!(index.contains(&digest), "{index}");

    let again = publish_json(&root, &store, &s.home, &registry, &[]);
    assert_eq!(again["steps"][0]["action"], "already-published", "{again}");
    assert_eq!(again["steps"][0]["recorded"], true);
}

#[test]
fn another_image_under_the_version_fails_before_any_upload() {
    if !(require_tool("docker-registry") && require_tool("skopeo")) {
        return;
    }
    let s = setup();
    let server = docker_registry(&s.tmp);
    let registry = format!("local=http://127.0.0.1:{}", server.port);
    // Another image of 1.0.0 reached the registry first.
    let other = released_image(&s.tmp.join("other"), &s.home, Some("# other\n"));
    let other_store = s.tmp.join("other-store");
    build(&other, &other_store, &s.home, &["docs-image"]);
    let theirs = publish_json(&other, &other_store, &s.home, &registry, &[]);
    let theirs = theirs["steps"][0]["digest"].as_str().unwrap().to_string();

    let root = released_image(&s.tmp.join("mono"), &s.home, None);
    let store = s.tmp.join("store");
    build(&root, &store, &s.home, &["docs-image"]);
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("dist/docs-image-1.0.0.oci/index.json")).unwrap(),
    )
    .unwrap();
    let ours = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(ours, theirs);
    for dry in [true, false] {
        let mut args = vec!["publish", "--registry", &registry];
        if dry {
            args.push("--dry-run");
        }
        let out = run(&mut kiln_in(&root, &store, &s.home, &args));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for part in [
            "local",
            "mini-docs",
            "1.0.0",
            theirs.as_str(),
            ours.as_str(),
        ] {
            assert!(err.contains(part), "{part} not in: {err}");
        }
    }
    for tag in TAGS {
        assert_eq!(
            skopeo_digest(server.port, tag).as_deref(),
            Some(theirs.as_str()),
            "{tag} moved"
        );
    }
}

#[test]
fn a_registry_failing_mid_push_is_finished_by_a_rerun() {
    if !(require_tool("docker-registry") && require_tool("skopeo")) {
        return;
    }
    let s = setup();
    let root = released_image(&s.tmp.join("mono"), &s.home, None);
    let store = s.tmp.join("store");
    build(&root, &store, &s.home, &["docs-image"]);
    let server = docker_registry(&s.tmp);
    let proxy = failing_proxy(server.port);
    let out = run(&mut kiln_in(
        &root,
        &store,
        &s.home,
        &[
            "publish",
            "--registry",
            &format!("local=http://127.0.0.1:{proxy}"),
        ],
    ));
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 500"));
    for tag in TAGS {
        assert_eq!(
            skopeo_digest(server.port, tag),
            None,
            "{tag} before the push finished"
        );
    }

    let v = publish_json(
        &root,
        &store,
        &s.home,
        &format!("local=http://127.0.0.1:{}", server.port),
        &[],
    );
    assert_eq!(v["steps"][0]["action"], "uploaded", "{v}");
    let digest = v["steps"][0]["digest"].as_str().unwrap();
    for tag in TAGS {
        assert_eq!(
            skopeo_digest(server.port, tag).as_deref(),
            Some(digest),
            "{tag}"
        );
    }
}

#[test]
fn credentials_come_from_auth_json_and_appear_nowhere() {
    if !(require_tool("docker-registry") && require_tool("skopeo")) {
        return;
    }
    const TOKEN: &str = "oci-kiln-TEST-password-7d3a";
    let s = setup();
    let htpasswd = s.tmp.join("htpasswd");
    let hash = run_ok(cmd("python3").args([
        "-W",
        "ignore",
        "-c",
        "import crypt, sys\nprint(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
        TOKEN,
    ]));
    write(&htpasswd, format!("kiln:{hash}\n"));
    let server = docker_registry_with(&s.tmp, Some(&htpasswd));
    let root = released_image(&s.tmp.join("mono"), &s.home, None);
    let store = s.tmp.join("store");
    build(&root, &store, &s.home, &["docs-image"]);
    let registry = format!("local=http://127.0.0.1:{}", server.port);

    // Without credentials the registry refuses: exit 3, nothing pushed.
    let out = run(&mut kiln_in(
        &root,
        &store,
        &s.home,
        &["publish", "--registry", &registry],
    ));
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("kiln:{TOKEN}"));
    write(
        &s.home.join(".config/containers/auth.json"),
        format!(
            "{{\"auths\": {{\"127.0.0.1:{}\": {{\"auth\": \"{auth}\"}}}}}}",
            server.port
        ),
    );
    let published = run(&mut kiln_in(
        &root,
        &store,
        &s.home,
        &["publish", "--json", "--registry", &registry],
    ));
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&published.stdout).unwrap();
    let digest = v["steps"][0]["digest"].as_str().unwrap();
    let creds = format!("kiln:{TOKEN}");
    for tag in TAGS {
        assert_eq!(
            skopeo_digest_as(server.port, tag, Some(&creds)).as_deref(),
            Some(digest),
            "{tag}"
        );
    }
    for o in [
        &out.stdout,
        &out.stderr,
        &published.stdout,
        &published.stderr,
    ] {
        let text = String::from_utf8_lossy(o);
        assert!(!text.contains(TOKEN) && !text.contains(&auth), "{text}");
    }
    for dir in [store, root.join("dist")] {
        assert_eq!(
            files_containing(&dir, TOKEN.as_bytes()),
            Vec::<PathBuf>::new()
        );
        assert_eq!(
            files_containing(&dir, auth.as_bytes()),
            Vec::<PathBuf>::new()
        );
    }
}
