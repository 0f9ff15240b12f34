//! Golden NAR files: `tests/golden/nar/*.nar` were produced once by
//! `nix-store --dump` (Nix 2.x) from small trees — a file, an executable, a
//! symlink, and a directory holding a file, an executable, an empty file, an
//! empty directory and a symlink. These tests need no Nix: kiln's strict
//! reader accepts each, restoring it and dumping the result with kiln's
//! writer gives the same bytes, and the sha256 (nixbase32) is what
//! `nix-hash --type sha256 --base32` printed for the tree.

use std::path::Path;

use kiln::hash::Sha256;
use kiln::nix::nar::NarReader;

/// (file, `nix-hash --type sha256 --base32` of the dumped path)
const GOLDEN: &[(&str, &str)] = &[
    (
        "file.txt.nar",
        "0c2jffsl15masdjkw0akr32jl4daplrwaq81lapg84nqai3ip9qi",
    ),
    (
        "exec.sh.nar",
        "183p8jhjfcpk6kac6hxwp4gzp9brkvkibylz27jfbvgd5kqcq2jy",
    ),
    (
        "link.nar",
        "0cm5a1byh1mv415ap54klnzgljxa2r008ar8r82xkykx8iddya2b",
    ),
    (
        "tree.nar",
        "027rzp558zpg55fgx4jh0lm3hb1n8s358bfd4bmv0na8yr3ybl6b",
    ),
];

fn golden(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/nar")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn golden_nars_hash_as_nix_hashed_them() {
    for (name, nix32) in GOLDEN {
        let bytes = golden(name);
        assert_eq!(Sha256::digest(&bytes).to_nix32(), *nix32, "{name}");
    }
}

#[test]
fn the_strict_reader_accepts_every_golden_nar() {
    for (name, _) in GOLDEN {
        let bytes = golden(name);
        let mut reader = NarReader::new(&bytes[..]);
        let mut events = 0;
        while reader
            .next_event()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .is_some()
        {
            events += 1;
        }
        assert!(events > 0, "{name}");
        assert_eq!(
            reader.offset(),
            bytes.len() as u64,
            "{name}: trailing bytes"
        );
    }
}

#[test]
fn restoring_then_dumping_gives_the_golden_bytes_back() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, nix32) in GOLDEN {
        let bytes = golden(name);
        let dest = tmp.path().join(name.trim_end_matches(".nar"));
        kiln::store::restore_nar(&bytes[..], &dest).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (dumped, size) = kiln::hash::tree::dump(&dest, Vec::new()).unwrap();
        assert_eq!(size, bytes.len() as u64, "{name}");
        assert!(
            dumped == bytes,
            "{name}: kiln's dump of the restored tree differs"
        );
        let digest = kiln::hash::tree::nar_sha256(&dest).unwrap();
        assert_eq!(digest.hash.to_nix32(), *nix32, "{name}");
    }
}
