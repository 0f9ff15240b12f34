//! `kiln hash` output forms and bad input, against nix-hash / nix-store --dump.

use crate::common;
use crate::nix_support;

use common::{cmd, kiln, kiln_bin, require_tool, run, run_ok};
use nix_support::*;

#[test]
fn hex_sri_and_blake3_forms() {
    if !require_tool("nix-hash") || !require_tool("nix-store") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    make_tree(&t, false);
    for p in [t.clone(), t.join("exec.sh")] {
        let hex = nix_hash16(&p);
        assert_eq!(run_ok(kiln().args(["hash", "--hex"]).arg(&p)), hex);
        // SRI: Nix's own conversion of its hex digest.
        if require_tool("nix") {
            let sri = run_ok(cmd("nix").args([
                "--extra-experimental-features",
                "nix-command",
                "hash",
                "to-sri",
                "--type",
                "sha256",
                &hex,
            ]));
            assert_eq!(run_ok(kiln().args(["hash", "--sri"]).arg(&p)), sri);
        }
        // BLAKE3 of exactly the bytes `nix-store --dump` writes.
        let b3 = blake3::hash(&nix_dump(&p));
        assert_eq!(
            run_ok(kiln().args(["hash", "--blake3", "--hex"]).arg(&p)),
            b3.to_hex().to_string()
        );
        let nix32 = run_ok(kiln().args(["hash", "--blake3"]).arg(&p));
        assert_eq!(kiln::nix::base32::decode(&nix32).unwrap(), b3.as_bytes());
        let sri = run_ok(kiln().args(["hash", "--blake3", "--sri"]).arg(&p));
        assert!(sri.starts_with("blake3-"), "{sri}");
    }
}

#[test]
fn bad_input_exits_2_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-file");
    let out = run(kiln().arg("hash").arg(&missing));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-file"), "{err}");

    let t = dir.path().join("tree");
    std::fs::create_dir_all(t.join("sub")).unwrap();
    std::fs::write(t.join("a"), "a").unwrap();
    let fifo = t.join("sub/the-fifo");
    run_ok(cmd("mkfifo").arg(&fifo));
    let out = run(kiln().arg("hash").arg(&t));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the-fifo") && err.contains("FIFO"), "{err}");
    let out = run(kiln().arg("hash").arg(&fifo));
    assert_eq!(out.status.code(), Some(2));
}

/// The walk holds directories open to read their files by descriptor; a
/// tree of thousands of one-file directories still hashes as Nix does
/// under a low open-file limit (reads in flight are bounded by the
/// directories they hold, not only by their bytes).
#[test]
fn thousands_of_directories_hash_under_a_low_open_file_limit() {
    if !require_tool("nix-hash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    for i in 0..3000 {
        let d = t.join(format!("d{:02}/e{i:04}", i % 50));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("f"), format!("file {i}\n")).unwrap();
    }
    let expected = nix_hash32(&t);
    let mut c = cmd("sh");
    c.args(["-c", "ulimit -n 300 && exec \"$0\" hash \"$1\""])
        .arg(kiln_bin())
        .arg(&t);
    assert_eq!(run_ok(&mut c), expected);
}
