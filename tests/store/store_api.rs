//! The store's library API as the build engine uses it: staging,
//! register_output, realisation lookup, derivation locks, provenance, gc.

use crate::common;
use crate::nix_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use common::require_tool;
use kiln::store::{Store, StoreError};
use nix_support::*;

fn build_output(dir: &Path) {
    file(&dir.join("bin/tool"), b"#!/bin/sh\necho built\n", 0o755);
    file(&dir.join("share/doc.txt"), b"documentation\n", 0o664);
    std::os::unix::fs::symlink("bin/tool", dir.join("tool")).unwrap();
}

#[test]
fn register_output_commits_and_realises_like_nix() {
    if !require_tool("nix-store") || !require_tool("nix-hash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    assert!(store.root().is_absolute());
    assert_eq!(store.realisation("drv1").unwrap(), None);

    // The reference: the same tree added by real Nix.
    let reference = dir.path().join("ref/pkg");
    build_output(&reference);
    let nix_base = nix_add(&dir.path().join("nix"), &reference);

    let stage = store.staging().unwrap();
    assert!(stage.path().starts_with(store.root().join(".kiln/tmp")));
    let staged = stage.path().join("out");
    build_output(&staged);
    let meta = common::meta("pkg", &["bin/tool"]);
    let r = store
        .register_output("drv1", b"{\"drv\":1}\n", &staged, "pkg", meta.clone())
        .unwrap();
    assert_eq!(r.store_path.to_string(), nix_base);
    assert_eq!(r.drv, "drv1");
    assert_eq!(r.meta, meta);
    let out = store.path_of(&r.store_path);
    assert_eq!(r.nar_hash.to_nix32(), nix_hash32(&out));
    assert_eq!(r.nar_size, nix_dump(&out).len() as u64);
    assert!(!staged.exists(), "the staged copy is moved into place");
    assert_eq!(
        std::fs::metadata(out.join("bin/tool"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o555
    );
    assert_eq!(
        std::fs::metadata(out.join("share/doc.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o444
    );
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o555
    );
    assert_eq!(store.realisation("drv1").unwrap(), Some(r.clone()));
    assert_eq!(
        std::fs::read(store.root().join(".kiln/derivations/drv1.json")).unwrap(),
        b"{\"drv\":1}\n"
    );

    // Same content from another derivation: same path, staged copy dropped.
    let stage2 = store.staging().unwrap();
    let staged2 = stage2.path().join("out");
    build_output(&staged2);
    let r2 = store
        .register_output("drv2", b"{}", &staged2, "pkg", common::meta("pkg", &[]))
        .unwrap();
    assert_eq!(r2.store_path, r.store_path);
    assert!(!staged2.exists());
    assert_eq!(store_entries(store.root()).len(), 1);

    // A single-file output.
    let stage3 = store.staging().unwrap();
    let f = stage3.path().join("artifact.tar.gz");
    file(&f, b"not really a tarball", 0o600);
    let r3 = store
        .register_output("drv3", b"{}", &f, "artifact.tar.gz", common::meta("x", &[]))
        .unwrap();
    let copy = dir.path().join("artifact.tar.gz");
    file(&copy, b"not really a tarball", 0o644);
    assert_eq!(
        r3.store_path.to_string(),
        nix_add(&dir.path().join("nix"), &copy)
    );

    // Provenance, logs, gc: realised outputs are roots.
    store
        .write_provenance(
            &r.store_path,
            "0123456789abcdef0123456789abcdef",
            b"{\"_type\":\"statement\"}",
        )
        .unwrap();
    assert_eq!(
        store
            .provenance(&r.store_path, "0123456789abcdef0123456789abcdef")
            .unwrap()
            .as_deref(),
        Some(&b"{\"_type\":\"statement\"}"[..])
    );
    assert!(store.log_path("drv1").ends_with(".kiln/logs/drv1.log"));
    let report = store.gc(false).unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert!(store.verify(false).unwrap().findings.is_empty());
    assert_eq!(store.list().unwrap()[0].derivations.len(), 1);

    // An output that disappeared is not realised.
    let stage4 = store.staging().unwrap();
    file(&stage4.path().join("x"), b"x", 0o644);
    let r4 = store
        .register_output(
            "drv4",
            b"{}",
            &stage4.path().join("x"),
            "x",
            common::meta("x", &[]),
        )
        .unwrap();
    std::fs::remove_file(store.path_of(&r4.store_path)).unwrap();
    assert_eq!(store.realisation("drv4").unwrap(), None);
}

#[test]
fn rejects_bad_names_and_unstaged_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    assert!(matches!(
        store.lock_derivation("../etc"),
        Err(StoreError::InvalidDrv { .. })
    ));
    assert!(matches!(
        store.realisation(""),
        Err(StoreError::InvalidDrv { .. })
    ));
    let outside = dir.path().join("outside");
    file(&outside, b"x", 0o644);
    assert!(matches!(
        store.register_output("d", b"{}", &outside, "x", common::meta("x", &[])),
        Err(StoreError::NotStaged { .. })
    ));
    let stage = store.staging().unwrap();
    file(&stage.path().join("y"), b"y", 0o644);
    assert!(matches!(
        store.register_output(
            "d",
            b"{}",
            &stage.path().join("y"),
            "bad name",
            common::meta("x", &[])
        ),
        Err(StoreError::Name(_))
    ));
}

#[test]
fn derivation_lock_is_exclusive_and_released_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open(&root).unwrap();
    let held = store.lock_derivation("abc").unwrap();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let other = Store::open(&root).unwrap();
        let _l = other.lock_derivation("abc").unwrap();
        tx.send(()).unwrap();
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "a second locker got the lock while it was held"
    );
    drop(held);
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the lock was not released on drop");
    t.join().unwrap();
}

#[test]
fn gc_refuses_while_another_store_handle_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open(dir.path().join("store")).unwrap();
    let b = Store::open(dir.path().join("store")).unwrap();
    assert!(matches!(a.gc(false), Err(StoreError::Busy { .. })));
    assert!(a.gc(true).is_ok(), "a dry run needs no exclusive lock");
    drop(b);
    assert!(a.gc(false).is_ok());
}
