//! `kiln build --cache` between two "machines": A builds the monorepo
//! fixture and pushes it to nginx; B, with a fresh store and a clone
//! elsewhere, substitutes every derivation and gets a byte-identical
//! `dist/`. A cache that cannot be reached, or whose entries are not
//! trusted, leaves the build to go on locally.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::cache::{keygen, statuses};
use common::fixture::monorepo_at;
use common::nginx::Nginx;
use common::{kiln, require_tool, run};

/// Recipes that need no sandbox.
const NATIVE: &[&str] = &["docs-bundle", "docs-zip", "mini-npm"];

fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH");
    c.env_remove("KILN_TRUSTED_PUBLIC_KEYS");
    c.env_remove("KILN_SIGNING_KEY_FILE");
    c
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "kiln failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir` (relative path -> bytes).
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn machine_b_substitutes_everything_machine_a_pushed_over_http() {
    if !require_tool("bwrap") || !require_tool("cargo") {
        return;
    }
    let Some(nginx) = Nginx::start() else { return };
    let url = nginx.url();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (secret, public) = keygen(a.path(), "machine-a-1");

    let root_a = monorepo_at(&a.path().join("mono"), false);
    let out_a = run(kiln_in(
        &root_a,
        &a.path().join("store"),
        &["build", "--json", "--cache", &url, "--push"],
    )
    .arg("--signing-key")
    .arg(&secret));
    let built = ok(&out_a);
    // An empty cache is initialised by --push, not reported.
    let err_a = String::from_utf8_lossy(&out_a.stderr);
    assert!(!err_a.contains("warning"), "{err_a}");

    let st = statuses(&built);
    assert!(
        st.len() >= 5 && st.values().all(|s| s == "built"),
        "{built}"
    );
    assert!(nginx.root.join("nix-cache-info").is_file());

    // Machine B: another path, another store, only the public key.
    let root_b = monorepo_at(&b.path().join("elsewhere/mono-b"), true);
    let store_b = b.path().join("store");
    let got = ok(&run(&mut kiln_in(
        &root_b,
        &store_b,
        &["build", "--json", "--cache", &url, "--trusted-key", &public],
    )));
    let sb = statuses(&got);
    assert_eq!(sb.keys().collect::<Vec<_>>(), st.keys().collect::<Vec<_>>());
    assert!(sb.values().all(|s| s == "substituted"), "{got}");
    let dist_a = files(&root_a.join("dist"));
    assert!(dist_a
        .keys()
        .any(|p| p.to_string_lossy().ends_with(".intoto.json")));
    assert_eq!(
        dist_a,
        files(&root_b.join("dist")),
        "dist/ differs between A and B"
    );

    // What was pulled is registered like a local build: a no-op rebuild is
    // all cache hits, and the store verifies.
    let again = ok(&run(&mut kiln_in(&root_b, &store_b, &["build", "--json"])));
    assert!(statuses(&again).values().all(|s| s == "cached"), "{again}");
    ok(&run(&mut kiln_in(&root_b, &store_b, &["store", "verify"])));

    // `kiln cache pull RECIPE` fetches the same without building.
    let store_c = b.path().join("store-c");
    let pulled = ok(&run(&mut kiln_in(
        &root_b,
        &store_c,
        &[
            "cache",
            "pull",
            &url,
            "mini-release",
            "--trusted-key",
            &public,
        ],
    )));
    assert_eq!(
        pulled
            .lines()
            .filter(|l| l.starts_with("pulled realisation "))
            .count(),
        2,
        "{pulled}"
    );
    let planned = ok(&run(&mut kiln_in(
        &root_b,
        &store_c,
        &["build", "--json", "mini-release"],
    )));
    assert!(
        statuses(&planned).values().all(|s| s == "cached"),
        "{planned}"
    );
}

#[test]
fn an_unreachable_or_untrusted_cache_leaves_the_build_to_go_on() {
    let Some(nginx) = Nginx::start() else { return };
    let url = nginx.url();
    let tmp = tempfile::tempdir().unwrap();
    let (secret, public) = keygen(tmp.path(), "pusher-1");
    let (_, other) = keygen(tmp.path(), "other-1");
    let root = monorepo_at(&tmp.path().join("mono"), false);
    let mut args = vec!["build", "--json", "--cache", url.as_str(), "--push"];
    args.extend_from_slice(NATIVE);
    ok(&run(kiln_in(&root, &tmp.path().join("store-a"), &args)
        .arg("--signing-key")
        .arg(&secret)));
    let sums = std::fs::read(root.join("dist/SHA256SUMS")).unwrap();

    // Signed, but not by a key this machine trusts: refused, built here.
    let mut args = vec![
        "build",
        "--json",
        "--cache",
        url.as_str(),
        "--trusted-key",
        other.as_str(),
    ];
    args.extend_from_slice(NATIVE);
    let store = tmp.path().join("store-untrusted");
    let out = run(&mut kiln_in(&root, &store, &args));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(statuses(&ok(&out)).values().all(|s| s == "built"), "{err}");
    assert!(
        err.contains("not signed by a trusted key") && err.contains("pusher-1"),
        "{err}"
    );
    assert_eq!(std::fs::read(root.join("dist/SHA256SUMS")).unwrap(), sums);

    // The key the project's release policy lists instead of a flag
    // (another commit, so other derivations: pushed first): trusted once
    // the user accepts the repository's keys.
    let root2 = monorepo_at(&tmp.path().join("mono2"), false);
    let policy = root2.join("recipes/release.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        format!("{text}\n[cache]\ntrusted-public-keys = [\"{public}\"]\n"),
    )
    .unwrap();
    common::fixture::git(&root2, &["commit", "-qam", "trust the CI cache"]);
    let mut args = vec!["build", "--json", "--cache", url.as_str(), "--push"];
    args.extend_from_slice(NATIVE);
    ok(&run(kiln_in(&root2, &tmp.path().join("store-a2"), &args)
        .arg("--signing-key")
        .arg(&secret)));
    let mut args = vec![
        "build",
        "--json",
        "--cache",
        url.as_str(),
        "--accept-repo-keys",
    ];
    args.extend_from_slice(NATIVE);
    let out = ok(&run(&mut kiln_in(
        &root2,
        &tmp.path().join("store-policy"),
        &args,
    )));
    assert!(statuses(&out).values().all(|s| s == "substituted"), "{out}");

    // Nothing listens: one clear warning, the build goes on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let mut args = vec![
        "build",
        "--json",
        "--cache",
        dead.as_str(),
        "--trusted-key",
        public.as_str(),
    ];
    args.extend_from_slice(NATIVE);
    let out = run(&mut kiln_in(&root, &tmp.path().join("store-dead"), &args));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(statuses(&ok(&out)).values().all(|s| s == "built"), "{err}");
    assert!(
        err.contains(&dead) && err.to_lowercase().contains("refused"),
        "{err}"
    );
    assert_eq!(std::fs::read(root.join("dist/SHA256SUMS")).unwrap(), sums);
}
