//! Binary caches against real Nix: Nix reads what `kiln cache push` writes
//! (`nix path-info`, `nix copy --from` with signatures checked,
//! `nix-store --verify-path`), and kiln pulls what `nix copy --to` wrote and
//! `nix store sign` signed, with the same store path.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cache::{kiln_store, ok};
use common::{cmd, kiln, require_tool, run, run_ok, write};

fn nix(args: &[&str]) -> Command {
    let mut c = cmd("nix");
    c.args(["--extra-experimental-features", "nix-command"]);
    c.args(args);
    c
}

/// A tree with a nested file, an executable and a symlink, whose content is
/// unique to this test run (so `/nix/store` does not have it yet).
fn sample_tree(dir: &Path, tag: &str) -> PathBuf {
    let nonce = dir.file_name().unwrap().to_string_lossy().to_string();
    let root = dir.join(format!("kiln-cache-{tag}"));
    write(&root.join("a.txt"), format!("hello {nonce}\n"));
    write(&root.join("sub/run.sh"), "#!/bin/sh\necho hi\n");
    write(&root.join("sub/big.bin"), vec![7u8; 300_000]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        root.join("sub/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
    root
}

/// Removes a path from the real /nix/store when the test ends.
struct NixPath(String);
impl Drop for NixPath {
    fn drop(&mut self) {
        let _ = cmd("nix-store").args(["--delete", &self.0]).output();
    }
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let prefix = dir.join(name);
    let public = ok(&run(kiln()
        .args(["cache", "keygen", name, "--out"])
        .arg(&prefix)));
    assert_eq!(
        std::fs::read_to_string(dir.join(format!("{name}.public"))).unwrap(),
        public
    );
    (dir.join(format!("{name}.secret")), public)
}

#[test]
fn nix_reads_and_imports_what_kiln_pushes() {
    if !require_tool("nix") || !require_tool("nix-store") {
        return;
    }
    for compression in ["zstd", "xz", "none"] {
        let tmp = tempfile::tempdir().unwrap();
        let tree = sample_tree(tmp.path(), compression);
        let store = tmp.path().join("store");
        let base = ok(&run(kiln_store(&store, &["store", "add"]).arg(&tree)));
        let base = base.rsplit('/').next().unwrap().to_string();
        let nix_path = format!("/nix/store/{base}");
        let _cleanup = NixPath(nix_path.clone());
        let (secret, public) = keygen(tmp.path(), "kiln-test-1");
        let cache = tmp.path().join("cache");
        let url = format!("file://{}", cache.display());
        let out = ok(&run(kiln_store(
            &store,
            &[
                "cache",
                "push",
                &url,
                "--path",
                &base,
                "--compression",
                compression,
            ],
        )
        .arg("--signing-key")
        .arg(&secret)));
        assert_eq!(out, format!("pushed {nix_path}"));

        // nix path-info lists it, with kiln's signature.
        let info = ok(&run(&mut nix(&[
            "path-info",
            "--sigs",
            "--store",
            &url,
            &nix_path,
        ])));
        assert!(info.starts_with(&nix_path), "{info}");
        assert!(info.contains("kiln-test-1:"), "{info}");

        // Nix accepts content-addressed paths without any signature, so the
        // signature is checked on a copy of the cache whose narinfo lacks
        // the CA line (the CA line is not part of the signed fingerprint).
        let unca = tmp.path().join("cache-without-ca");
        common::fixture::copy_dir(&cache, &unca, false);
        let ni = unca.join(format!("{}.narinfo", &base[..32]));
        let text = std::fs::read_to_string(&ni).unwrap();
        std::fs::write(
            &ni,
            text.lines()
                .filter(|l| !l.starts_with("CA: "))
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
        )
        .unwrap();
        let unca_url = format!("file://{}", unca.display());
        let (_, other) = keygen(tmp.path(), "other-1");
        let refused = run(&mut nix(&[
            "copy",
            "--from",
            &unca_url,
            &nix_path,
            "--option",
            "trusted-public-keys",
            &other,
        ]));
        assert!(
            !refused.status.success(),
            "nix copy accepted an untrusted signature"
        );
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("signature"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
        ok(&run(&mut nix(&[
            "copy",
            "--from",
            &unca_url,
            &nix_path,
            "--option",
            "trusted-public-keys",
            &public,
        ])));
        ok(&run(cmd("nix-store").args(["--verify-path", &nix_path])));
        ok(&run(cmd("nix-store").args(["--delete", &nix_path])));

        // The cache as kiln wrote it: imported, verified, same NAR hash as the tree.
        ok(&run(&mut nix(&[
            "copy",
            "--from",
            &url,
            &nix_path,
            "--option",
            "trusted-public-keys",
            &public,
        ])));
        ok(&run(cmd("nix-store").args(["--verify-path", &nix_path])));
        assert_eq!(
            run_ok(cmd("nix-hash").args(["--type", "sha256", "--base32", &nix_path])),
            run_ok(
                cmd("nix-hash")
                    .args(["--type", "sha256", "--base32"])
                    .arg(&tree)
            )
        );
        // Pushing again uploads nothing.
        let again = ok(&run(kiln_store(
            &store,
            &["cache", "push", &url, "--path", &base],
        )
        .arg("--signing-key")
        .arg(&secret)));
        assert_eq!(again, format!("present {nix_path}"));
    }
}

/// Add a tree with `nix-store --add`, sign it with a key made by Nix and
/// export it with `nix copy --to` (compression `comp`); returns the store
/// path, the cache URL and the public key.
fn nix_cache(tmp: &Path, tag: &str, comp: &str) -> (String, String, String) {
    let tree = sample_tree(tmp, tag);
    let nix_path = run_ok(cmd("nix-store").arg("--add").arg(&tree));
    let sec = tmp.join("nix.sec");
    let publ = tmp.join("nix.pub");
    if !sec.exists() {
        run_ok(
            cmd("nix-store")
                .args(["--generate-binary-cache-key", "nix-made-1"])
                .arg(&sec)
                .arg(&publ),
        );
    }
    ok(&run(&mut nix(&[
        "store",
        "sign",
        "--key-file",
        sec.to_str().unwrap(),
        &nix_path,
    ])));
    let dir = tmp.join(format!("nixcache-{comp}"));
    let url = format!("file://{}?compression={comp}", dir.display());
    ok(&run(&mut nix(&["copy", "--to", &url, &nix_path])));
    (
        nix_path,
        format!("file://{}", dir.display()),
        std::fs::read_to_string(&publ).unwrap(),
    )
}

#[test]
fn kiln_pulls_what_nix_exported_with_the_same_hash() {
    if !require_tool("nix") || !require_tool("nix-store") {
        return;
    }
    for comp in ["xz", "zstd", "none"] {
        let tmp = tempfile::tempdir().unwrap();
        let (nix_path, url, public) = nix_cache(tmp.path(), &format!("fromnix-{comp}"), comp);
        let _cleanup = NixPath(nix_path.clone());
        let store = tmp.path().join("store");

        // Unsigned by any trusted key: refused, exit 1, nothing registered.
        let (_, stranger) = keygen(tmp.path(), "stranger-1");
        let out = run(&mut kiln_store(
            &store,
            &[
                "cache",
                "pull",
                &url,
                "--path",
                &nix_path,
                "--trusted-key",
                &stranger,
            ],
        ));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&nix_path) && err.contains("nix-made-1"),
            "{err}"
        );
        assert_eq!(ok(&run(&mut kiln_store(&store, &["store", "ls"]))), "");

        let out = ok(&run(&mut kiln_store(
            &store,
            &[
                "cache",
                "pull",
                &url,
                "--path",
                &nix_path,
                "--trusted-key",
                &public,
            ],
        )));
        assert_eq!(out, format!("pulled {nix_path}"));
        let base = nix_path.strip_prefix("/nix/store/").unwrap();
        let local = store.join(base);
        assert!(local.exists());
        assert_eq!(
            run_ok(
                cmd("nix-hash")
                    .args(["--type", "sha256", "--base32"])
                    .arg(&local)
            ),
            run_ok(cmd("nix-hash").args(["--type", "sha256", "--base32", &nix_path]))
        );
        ok(&run(&mut kiln_store(&store, &["store", "verify"])));
        let ls = ok(&run(&mut kiln_store(&store, &["store", "ls"])));
        assert!(ls.contains(base), "{ls}");
    }
}

#[test]
fn keys_are_nix_compatible() {
    if !require_tool("nix") || !require_tool("nix-store") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // A key made by kiln signs for Nix: `nix store sign` accepts kiln's secret file.
    let (secret, public) = keygen(tmp.path(), "kiln-made-1");
    let f = tmp.path().join("signed.txt");
    write(&f, format!("{}\n", tmp.path().display()));
    let p = run_ok(cmd("nix-store").arg("--add").arg(&f));
    let _cleanup = NixPath(p.clone());
    ok(&run(&mut nix(&[
        "store",
        "sign",
        "--key-file",
        secret.to_str().unwrap(),
        &p,
    ])));
    let sigs = ok(&run(&mut nix(&["path-info", "--sigs", &p])));
    // kiln signs the same fingerprint the same way (ed25519 is deterministic).
    let cache = tmp.path().join("c");
    let store = tmp.path().join("store");
    let base = ok(&run(kiln_store(&store, &["store", "add"]).arg(&f)));
    let base = base.rsplit('/').next().unwrap();
    let url = format!("file://{}", cache.display());
    ok(&run(kiln_store(
        &store,
        &["cache", "push", &url, "--path", base],
    )
    .arg("--signing-key")
    .arg(&secret)));
    let narinfo = std::fs::read_to_string(cache.join(format!("{}.narinfo", &base[..32]))).unwrap();
    let sig = narinfo
        .lines()
        .find_map(|l| l.strip_prefix("Sig: "))
        .unwrap();
    assert!(sigs.contains(sig), "nix: {sigs}\nkiln: {sig}");
    assert!(public.starts_with("kiln-made-1:"));
    // Refuses to overwrite.
    let again = run(kiln()
        .args(["cache", "keygen", "kiln-made-1", "--out"])
        .arg(tmp.path().join("kiln-made-1")));
    assert_eq!(again.status.code(), Some(2));
}
