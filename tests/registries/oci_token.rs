//! `kiln publish` and `kiln verify oci:` against a registry that
//! authenticates with tokens, as Docker Hub, ghcr.io and quay.io do:
//! Debian's docker-registry with `auth: token`, its token service on
//! 127.0.0.1 issuing RS256 JWTs (tests/registries/token_service.py). Each
//! 401's Bearer challenge is answered with a token the service issued for
//! the credentials of the user's `auth.json`; skopeo, which speaks the same
//! protocol, reads every tag; without credentials nothing is pushed; the
//! password appears in no output, file of the store or `dist/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{cmd, require_tool, run, run_ok, write};

use super::oci::docker_registry_auth;
use super::support::{build, files_containing, free_port, kiln_in, released_image, Server};

const PASSWORD: &str = "oci-token-TEST-password-51c9";

/// docker-registry with token authentication, and its token service
/// (whose requests are logged to `dir/token.log`).
fn token_registry(dir: &Path) -> (Server, Server) {
    let key = dir.join("token-key.pem");
    let cert = dir.join("token-cert.pem");
    run_ok(cmd("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=kiln-test-token",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]));
    let tport = free_port();
    let registry = docker_registry_auth(
        dir,
        &format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{tport}/token\n    service: kiln-test\n    issuer: kiln-test-issuer\n    rootcertbundle: {}\n",
            cert.display()
        ),
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/registries/token_service.py");
    let mut c = cmd("python3");
    c.arg(script)
        .arg(tport.to_string())
        .arg(&key)
        .arg(&cert)
        .args(["kiln", PASSWORD])
        .arg(dir.join("token.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    (registry, Server::start(c, tport))
}

/// The token service's log: (scopes, authorized) of each request.
fn token_requests(dir: &Path) -> Vec<(Vec<String>, bool)> {
    let text = std::fs::read_to_string(dir.join("token.log")).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let scopes = v["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            (scopes, v["authorized"].as_bool().unwrap())
        })
        .collect()
}

#[test]
fn a_token_registry_is_published_to_and_verified_with_the_users_credentials() {
    if !["docker-registry", "skopeo", "openssl", "python3"]
        .iter()
        .all(|t| require_tool(t))
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (server, _tokens) = token_registry(t);
    let root = released_image(&t.join("mono"), &home, None);
    let store = t.join("store");
    build(&root, &store, &home, &["docs-image"]);
    let registry = format!("local=http://127.0.0.1:{}", server.port);
    let publish = || {
        run(&mut kiln_in(
            &root,
            &store,
            &home,
            &["publish", "--json", "--registry", &registry],
        ))
    };

    // Without credentials the token service refuses: nothing is pushed.
    let refused = publish();
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    assert!(token_requests(t).iter().all(|(_, ok)| !ok));

    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("kiln:{PASSWORD}"));
    write(
        &home.join(".config/containers/auth.json"),
        format!(
            "{{\"auths\": {{\"127.0.0.1:{}\": {{\"auth\": \"{auth}\"}}}}}}",
            server.port
        ),
    );
    let published = publish();
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&published.stdout).unwrap();
    assert_eq!(v["steps"][0]["action"], "uploaded", "{v}");
    let digest = v["steps"][0]["digest"].as_str().unwrap();
    let granted = token_requests(t);
    assert!(
        granted
            .iter()
            .any(|(scopes, ok)| *ok
                && scopes.contains(&"repository:mini-docs:pull,push".to_string())),
        "{granted:?}"
    );
    let creds = format!("kiln:{PASSWORD}");
    for tag in ["1.0.0", "1.0", "1", "latest"] {
        let image = format!("docker://127.0.0.1:{}/mini-docs:{tag}", server.port);
        let got = run_ok(cmd("skopeo").args([
            "inspect",
            "--creds",
            &creds,
            "--tls-verify=false",
            "--format",
            "{{.Digest}}",
            &image,
        ]));
        assert_eq!(got.trim(), digest, "{tag}");
    }

    // The read side answers the same challenges.
    let again = publish();
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["steps"][0]["action"], "already-published", "{v}");
    let reference = format!("oci:127.0.0.1:{}/mini-docs:1.0.0", server.port);
    let verified = run(&mut kiln_in(
        &root,
        &store,
        &home,
        &[
            "verify",
            &reference,
            "--registry",
            &registry,
            "--sandbox",
            "none",
        ],
    ));
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    for o in [&refused, &published, &again, &verified] {
        for text in [&o.stdout, &o.stderr] {
            let text = String::from_utf8_lossy(text);
            assert!(!text.contains(PASSWORD) && !text.contains(&auth), "{text}");
        }
    }
    for dir in [store, root.join("dist")] {
        assert_eq!(
            files_containing(&dir, PASSWORD.as_bytes()),
            Vec::<PathBuf>::new()
        );
    }
}
