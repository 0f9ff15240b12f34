//! Generated trees and real-Nix oracles shared by the nix/hash/store tests.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::{cmd, run, run_ok};

/// Deterministic pseudo-random bytes (xorshift64*), cheap enough for 64 MiB.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn file(path: &Path, contents: &[u8], mode: u32) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Names whose byte order differs from "natural" character order, with
/// spaces, UTF-8 and one name that is not UTF-8 at all.
pub fn tricky_names() -> Vec<&'static [u8]> {
    vec![
        b"1",
        b"B",
        b"Z",
        b"a",
        b"a-b",
        b"a.b",
        b"a_b",
        "ä".as_bytes(),
        "é z".as_bytes(),
        b"with space",
        b"UPPER",
        b"lower",
        "日本語".as_bytes(),
        b"\xff\xfe-not-utf8",
        b"-dash",
        b"~tilde",
        b"#hash",
        "Ω".as_bytes(),
        b"zz",
    ]
}

/// A tree with every kind of node Nix knows and awkward names; `big` adds a
/// file over 64 MiB (not a multiple of 8 bytes).
pub fn make_tree(root: &Path, big: bool) {
    std::fs::create_dir_all(root).unwrap();
    file(&root.join("regular.txt"), b"hello\n", 0o644);
    file(&root.join("empty"), b"", 0o644);
    file(&root.join("exec.sh"), b"#!/bin/sh\necho hi\n", 0o755);
    file(&root.join("exec-empty"), b"", 0o700);
    file(&root.join("odd-mode"), b"group-exec only", 0o654);
    file(&root.join("seven"), b"1234567", 0o600);
    file(&root.join("eight"), b"12345678", 0o444);
    file(&root.join("random.bin"), &bytes(1, 100_003), 0o644);
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    std::fs::create_dir_all(root.join("nested/a/b/c/d")).unwrap();
    file(&root.join("nested/a/b/c/d/deep.txt"), b"deep", 0o644);
    file(&root.join("nested/a/file"), &bytes(2, 4096), 0o644);
    symlink("regular.txt", root.join("link-relative")).unwrap();
    symlink("/etc/hostname", root.join("link-absolute")).unwrap();
    symlink("does/not/exist", root.join("link-dangling")).unwrap();
    symlink("../regular.txt", root.join("nested/link-up")).unwrap();
    symlink("nested", root.join("link-to-dir")).unwrap();
    let names = root.join("names");
    std::fs::create_dir_all(&names).unwrap();
    for (i, n) in tricky_names().into_iter().enumerate() {
        let p = names.join(OsStr::from_bytes(n));
        if i % 3 == 0 {
            std::fs::create_dir_all(&p).unwrap();
            file(&p.join("inside"), n, 0o644);
        } else {
            file(&p, n, if i % 2 == 0 { 0o755 } else { 0o644 });
        }
    }
    if big {
        file(
            &root.join("big.bin"),
            &bytes(3, (64 << 20) + 1_000_003),
            0o644,
        );
    }
}

/// A tree of `n` small files in a few directories plus one `big_mib` file.
pub fn make_wide_tree(root: &Path, n: usize, big_mib: usize) {
    for i in 0..n {
        let p = root.join(format!("d{:02}/f{i:05}", i % 37));
        file(
            &p,
            &bytes(i as u64 + 10, (i * 7919) % 20_000),
            if i % 5 == 0 { 0o755 } else { 0o644 },
        );
    }
    if big_mib > 0 {
        file(&root.join("big.bin"), &bytes(99, big_mib << 20), 0o644);
    }
}

/// `nix-hash --type sha256 --base32 P`.
pub fn nix_hash32(p: &Path) -> String {
    run_ok(
        cmd("nix-hash")
            .args(["--type", "sha256", "--base32"])
            .arg(p),
    )
}

/// `nix-hash --type sha256 P` (hex).
pub fn nix_hash16(p: &Path) -> String {
    run_ok(cmd("nix-hash").args(["--type", "sha256"]).arg(p))
}

/// `nix-store --dump P`.
pub fn nix_dump(p: &Path) -> Vec<u8> {
    let out = run(cmd("nix-store").arg("--dump").arg(p));
    assert!(
        out.status.success(),
        "nix-store --dump {p:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `nix-store --add P` into a private Nix store under `nix_root`; returns the
/// base name `<hash>-<name>`.
pub fn nix_add(nix_root: &Path, p: &Path) -> String {
    let out = run_ok(
        cmd("nix-store")
            .arg("--store")
            .arg(nix_root)
            .args(["--option", "build-users-group", ""])
            .arg("--add")
            .arg(p),
    );
    out.strip_prefix("/nix/store/")
        .unwrap_or_else(|| panic!("unexpected nix-store --add output {out:?}"))
        .to_string()
}

/// Store entries `<hash>-<name>` of a kiln store directory.
pub fn store_entries(store: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(store)
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| !p.file_name().unwrap().as_bytes().starts_with(b"."))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
