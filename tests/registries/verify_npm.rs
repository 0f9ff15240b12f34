//! `kiln verify npm:NAME@VERSION` against verdaccio on 127.0.0.1: what
//! `kiln publish` uploaded verifies byte for byte (the registry's
//! `dist.integrity` checked on download), a tarball of other sources
//! published under the version with `npm publish` fails naming the
//! registry, the package, the version and both digests, and the token in
//! `~/.npmrc` stays out of every output, the store and dist/.

use std::path::{Path, PathBuf};

use crate::common::{require_tool, run, run_ok, write};

use super::npm::{add_user, npm_in, released_npm, verdaccio};
use super::support::{build, files_containing, kiln_in, VERSION};

const TARBALL: &str = "mini-flow-0.3.0-rc.1.tgz";

fn sha256_hex(p: &Path) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

/// A verdaccio whose user `kiln` has its token in `home/.npmrc`.
fn registry(t: &Path, home: &Path) -> (super::support::Server, String) {
    std::fs::create_dir_all(home).unwrap();
    let server = verdaccio(t);
    let token = add_user(&server, "kiln");
    write(
        &home.join(".npmrc"),
        format!("//127.0.0.1:{}/:_authToken={token}\n", server.port),
    );
    (server, token)
}

fn verify(root: &Path, store: &Path, home: &Path, registry: &str) -> std::process::Output {
    run(&mut kiln_in(
        root,
        store,
        home,
        &[
            "verify",
            &format!("npm:@mini/flow@{VERSION}"),
            "--registry",
            registry,
            "--rev",
            VERSION,
            "--sandbox",
            "none",
            "--json",
        ],
    ))
}

#[test]
fn what_publish_uploaded_verifies_from_the_registry_and_the_token_stays_out() {
    if !(require_tool("verdaccio") && require_tool("npm")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    let (server, token) = registry(t, &home);
    let root = released_npm(&t.join("mono"), None);
    let store = t.join("store");
    build(&root, &store, &home, &["mini-npm"]);
    let reg = format!("local={}", server.url());
    let published = run(&mut kiln_in(
        &root,
        &store,
        &home,
        &["publish", "--registry", &reg],
    ));
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );

    let out = verify(&root, &store, &home, &reg);
    let v = super::support::json_success(&out);
    let r = &v[0];
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(r["registry"], "local");
    assert_eq!(r["name"], "@mini/flow");
    assert_eq!(r["registry_version"], VERSION);
    assert_eq!(r["artifact"], TARBALL, "npm pack's name for it");
    assert!(r["digest"].as_str().unwrap().starts_with("sha512-"), "{r}");
    assert_eq!(r["outcome"], "bytes-identical", "{r}");
    assert_eq!(
        r["sha256"],
        sha256_hex(&root.join("dist").join(TARBALL)).as_str()
    );

    for o in [
        &published.stdout,
        &published.stderr,
        &out.stdout,
        &out.stderr,
    ] {
        assert!(!String::from_utf8_lossy(o).contains(&token));
    }
    assert_eq!(
        files_containing(&store, token.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        files_containing(&root.join("dist"), token.as_bytes()),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn another_tarball_under_the_version_fails_naming_both_digests() {
    if !(require_tool("verdaccio") && require_tool("npm")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    let (server, _token) = registry(t, &home);
    // A tarball of other sources, published with npm itself.
    let other = released_npm(&t.join("other"), Some("module.exports = 1;\n"));
    build(&other, &t.join("other-store"), &home, &["mini-npm"]);
    let planted = other.join("dist").join(TARBALL);
    run_ok(
        npm_in(
            t,
            &home,
            &["publish", "--tag", "next", "--registry", &server.url()],
        )
        .arg(&planted),
    );

    let root = released_npm(&t.join("mono"), None);
    let store = t.join("store");
    build(&root, &store, &home, &["mini-npm"]);
    let reg = format!("local={}", server.url());
    let out = verify(&root, &store, &home, &reg);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let r = &v[0];
    assert_eq!(r["registry"], "local");
    assert_eq!(r["name"], "@mini/flow");
    assert_eq!(r["registry_version"], VERSION);
    assert_eq!(r["outcome"], "different", "{r}");
    assert_eq!(r["sha256"], sha256_hex(&planted).as_str());
    assert_eq!(
        r["rebuilt_sha256"],
        sha256_hex(&root.join("dist").join(TARBALL)).as_str()
    );
}
