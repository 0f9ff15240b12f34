//! kiln's NAR serialisation, hashes and store paths against real Nix:
//! `nix-hash`, `nix-store --dump`, `nix-store --restore`, `nix-store --add`.

use crate::common;
use crate::nix_support;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{cmd, kiln, require_tool, run_ok};
use kiln::hash::tree;
use kiln::nix::nar::{Entry, NarReadError, NarReader};
use nix_support::*;

/// The roots every oracle test runs over: the awkward tree, one of its
/// subdirectories, and single files and symlinks as roots.
fn roots(base: &Path) -> Vec<std::path::PathBuf> {
    let t = base.join("tree");
    make_tree(&t, false);
    vec![
        t.clone(),
        t.join("names"),
        t.join("empty-dir"),
        t.join("regular.txt"),
        t.join("exec.sh"),
        t.join("empty"),
        t.join("link-dangling"),
        t.join("link-absolute"),
    ]
}

#[test]
fn kiln_hash_equals_nix_hash() {
    if !require_tool("nix-hash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for p in roots(dir.path()) {
        let ours = run_ok(kiln().arg("hash").arg(&p));
        assert_eq!(ours, nix_hash32(&p), "kiln hash {p:?}");
    }
}

#[test]
fn big_file_over_64_mib_hash_and_dump_match_nix() {
    if !require_tool("nix-hash") || !require_tool("nix-store") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    make_tree(&t, true);
    assert_eq!(run_ok(kiln().arg("hash").arg(&t)), nix_hash32(&t));
    let big = t.join("big.bin");
    assert_eq!(run_ok(kiln().arg("hash").arg(&big)), nix_hash32(&big));
    let (ours, n) = tree::dump(&t, Vec::new()).unwrap();
    assert_eq!(n, ours.len() as u64);
    let theirs = nix_dump(&t);
    assert!(
        ours == theirs,
        "NAR of the tree with a 64 MiB file differs from nix-store --dump"
    );
}

#[test]
fn nar_bytes_equal_nix_store_dump() {
    if !require_tool("nix-store") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for p in roots(dir.path()) {
        let (ours, n) = tree::dump(&p, Vec::new()).unwrap();
        assert_eq!(n, ours.len() as u64);
        let theirs = nix_dump(&p);
        assert!(
            ours == theirs,
            "NAR of {p:?} differs from nix-store --dump ({} vs {} bytes)",
            ours.len(),
            theirs.len()
        );
        // The size reported with the hash is the NAR's length.
        assert_eq!(tree::nar_sha256(&p).unwrap().size, theirs.len() as u64);
    }
}

#[test]
fn nix_store_restore_recreates_tree_from_kiln_nar() {
    if !require_tool("nix-store") || !require_tool("nix-hash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    make_tree(&t, false);
    let (nar, _) = tree::dump(&t, Vec::new()).unwrap();
    let out = dir.path().join("restored");
    let mut child = cmd("nix-store")
        .arg("--restore")
        .arg(&out)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&nar).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "nix-store --restore rejected kiln's NAR"
    );
    assert_eq!(nix_hash32(&out), nix_hash32(&t));
    assert_eq!(nix_dump(&out), nar);
    let restored_names = std::fs::read_dir(out.join("names")).unwrap().count();
    assert_eq!(restored_names, tricky_names().len());
}

/// Walk a NAR with kiln's reader, returning (path, entry) for each event.
fn events(nar: &[u8]) -> Result<Vec<(Vec<u8>, Entry)>, NarReadError> {
    let mut r = NarReader::new(nar);
    let mut out = Vec::new();
    while let Some(ev) = r.next_event()? {
        if let Entry::Regular { size, .. } = ev.entry {
            // Read half the contents, let the reader skip the rest.
            let mut buf = vec![0u8; (size / 2) as usize];
            let mut got = 0;
            while got < buf.len() {
                got += r.read_contents(&mut buf[got..])?;
            }
        }
        out.push((ev.path, ev.entry));
    }
    Ok(out)
}

#[test]
fn reader_accepts_every_nix_dump() {
    if !require_tool("nix-store") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for p in roots(dir.path()) {
        let nar = nix_dump(&p);
        let evs =
            events(&nar).unwrap_or_else(|e| panic!("reader rejected nix-store --dump {p:?}: {e}"));
        assert!(!evs.is_empty());
    }
    // Contents read back equal the file on disk.
    let f = dir.path().join("tree/random.bin");
    let nar = nix_dump(&f);
    let mut r = NarReader::new(nar.as_slice());
    let ev = r.next_event().unwrap().unwrap();
    assert_eq!(
        ev.entry,
        Entry::Regular {
            executable: false,
            size: 100_003
        }
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = r.read_contents(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, std::fs::read(&f).unwrap());
    assert!(r.next_event().unwrap().is_none());
}

/// Build a NAR token by token (to craft bad ones Nix would never write).
struct Nar(Vec<u8>);
impl Nar {
    fn new() -> Self {
        let mut n = Nar(Vec::new());
        n.s(b"nix-archive-1");
        n
    }
    fn s(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(b.len() as u64).to_le_bytes());
        self.0.extend_from_slice(b);
        self.0.resize(self.0.len().div_ceil(8) * 8, 0);
        self
    }
    fn toks(&mut self, t: &[&str]) -> &mut Self {
        for x in t {
            self.s(x.as_bytes());
        }
        self
    }
    fn entry(&mut self, name: &[u8]) -> &mut Self {
        self.toks(&["entry", "(", "name"]).s(name);
        self.toks(&["node", "(", "type", "regular", "contents"])
            .s(b"x")
            .toks(&[")", ")"])
    }
}

fn dir_nar(names: &[&[u8]]) -> Vec<u8> {
    let mut n = Nar::new();
    n.toks(&["(", "type", "directory"]);
    for name in names {
        n.entry(name);
    }
    n.toks(&[")"]);
    n.0
}

#[test]
fn reader_rejects_crafted_bad_nars() {
    // The crafted directory NAR with sorted names is fine (checks the crafting).
    events(&dir_nar(&[b"a", b"b"])).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unsorted", dir_nar(&[b"b", b"a"])),
        ("duplicate", dir_nar(&[b"a", b"a"])),
        ("dot-dot", dir_nar(&[b".."])),
        ("dot", dir_nar(&[b"."])),
        ("slash", dir_nar(&[b"a/b"])),
        ("nul", dir_nar(&[b"a\0b"])),
        ("empty name", dir_nar(&[b""])),
        ("truncated", {
            let mut v = dir_nar(&[b"a", b"b"]);
            v.truncate(v.len() - 13);
            v
        }),
        ("trailing garbage", {
            let mut v = dir_nar(&[b"a"]);
            v.extend_from_slice(b"garbage!");
            v
        }),
        ("bad magic", {
            let mut v = dir_nar(&[b"a"]);
            v[8] = b'N';
            v
        }),
        ("non-zero padding", {
            let mut n = Nar::new();
            n.toks(&["(", "type", "regular", "contents"])
                .s(b"x")
                .toks(&[")"]);
            let mut v = n.0;
            let at = v.len() - 16 - 1; // last padding byte of the contents
            v[at] = 1;
            v
        }),
        ("unknown type", {
            let mut n = Nar::new();
            n.toks(&["(", "type", "fifo", ")"]);
            n.0
        }),
        ("huge declared name", {
            let mut n = Nar::new();
            n.toks(&["(", "type", "directory", "entry", "(", "name"]);
            n.0.extend_from_slice(&u64::MAX.to_le_bytes());
            n.0
        }),
    ];
    for (what, nar) in cases {
        assert!(events(&nar).is_err(), "reader accepted a NAR with {what}");
    }
    assert!(matches!(
        events(&dir_nar(&[b"b", b"a"])),
        Err(NarReadError::Unsorted { .. })
    ));
    assert!(matches!(
        events(&dir_nar(&[b"a", b"a"])),
        Err(NarReadError::Duplicate { .. })
    ));
    assert!(matches!(
        events(&dir_nar(&[b".."])),
        Err(NarReadError::InvalidName { .. })
    ));
}

#[test]
fn nix_rejects_what_kiln_rejects() {
    // The crafted bad NARs are bad for Nix too: the oracle agrees on every
    // case it checks. (Nix 2.8's `--restore` does not notice unsorted entries
    // or trailing data; kiln rejects those as well, as the format requires and
    // as `reader_rejects_crafted_bad_nars` checks.)
    if !require_tool("nix-store") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ok = dir_nar(&[b"a", b"b"]);
    let cases = [
        ("sorted", ok.clone(), true),
        ("duplicate", dir_nar(&[b"a", b"a"]), false),
        ("dot-dot", dir_nar(&[b".."]), false),
        ("dot", dir_nar(&[b"."]), false),
        ("slash", dir_nar(&[b"a/b"]), false),
        ("truncated", ok[..ok.len() - 13].to_vec(), false),
    ];
    for (i, (what, nar, valid)) in cases.into_iter().enumerate() {
        let mut child = cmd("nix-store")
            .arg("--restore")
            .arg(dir.path().join(format!("r{i}")))
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(&nar);
        assert_eq!(
            child.wait().unwrap().success(),
            valid,
            "nix-store --restore, {what}"
        );
        assert_eq!(events(&nar).is_ok(), valid, "kiln reader, {what}");
    }
}

#[test]
fn store_add_dry_run_matches_nix_store_add() {
    if !require_tool("nix-store") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let nix_root = dir.path().join("nix-root");
    let store = dir.path().join("kiln-store");
    for p in roots(dir.path()) {
        let theirs = nix_add(&nix_root, &p);
        let ours = run_ok(
            kiln()
                .arg("--store")
                .arg(&store)
                .args(["store", "add", "--dry-run"])
                .arg(&p),
        );
        let base = Path::new(&ours)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(base, theirs, "store path of {p:?}");
        assert_eq!(&base[..32], &theirs[..32]);
    }
    assert!(!store.exists(), "--dry-run must not create the store");
}

#[test]
fn kiln_restores_nix_dumps() {
    if !require_tool("nix-store") || !require_tool("nix-hash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, p) in roots(dir.path()).into_iter().enumerate() {
        let dest = dir.path().join(format!("restored-{i}"));
        kiln::store::restore_nar(nix_dump(&p).as_slice(), &dest).unwrap();
        assert_eq!(nix_hash32(&dest), nix_hash32(&p), "restore of {p:?}");
    }
    let bad = dir_nar(&[b"b", b"a"]);
    assert!(kiln::store::restore_nar(bad.as_slice(), &dir.path().join("bad")).is_err());
}
