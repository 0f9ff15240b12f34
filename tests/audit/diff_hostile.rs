//! `kiln diff` on hostile archives generated here: every case ends in a
//! report naming the hazard or in exit 2 naming the cap, inside a memory
//! limit (`ulimit -v`), and nothing is written outside the temp directory.

use crate::common;
use crate::diff_support;

use std::io::Write;
use std::path::Path;
use std::process::Output;

use common::{cmd, kiln_bin, run};
use diff_support::*;

/// `kiln diff --json a b` under a 2 GiB address-space limit, cwd = `dir`.
fn diff_limited(dir: &Path, a: &Path, b: &Path, extra: &[&str]) -> Output {
    let script = r#"ulimit -v 2097152; exec "$@""#;
    let mut c = cmd("sh");
    c.current_dir(dir)
        .env_remove("KILN_STORE")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(kiln_bin())
        .arg("diff")
        .arg("--json")
        .args(extra)
        .arg(a)
        .arg(b);
    run(&mut c)
}

/// Every path under `dir`, to check nothing new appears.
fn snapshot(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            v.push(p.display().to_string());
        }
    }
    v.sort();
    v
}

/// Compare `bad` against an empty tar; returns the parsed report.
fn hazards_of(name: &str, bad: &[u8]) -> (i32, serde_json::Value, String) {
    // kiln runs in outer/work: a `../` escape would land in outer/
    let outer = tempfile::tempdir().unwrap();
    let work = outer.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let a = work.join(format!("{name}.bad"));
    let b = work.join("empty.tar");
    std::fs::write(&a, bad).unwrap();
    std::fs::write(&b, tar(&[])).unwrap();
    let before = snapshot(outer.path());
    let out = diff_limited(&work, &a, &b, &[]);
    assert_eq!(
        before,
        snapshot(outer.path()),
        "{name}: kiln diff created files"
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v, stdout)
}

fn assert_hazard(v: &serde_json::Value, entry: &str, issue: &str) {
    let hs = v["hazards"].as_array().unwrap();
    assert!(
        hs.iter().any(|h| h["side"] == "a"
            && h["entry"] == entry
            && h["issue"].as_str().unwrap().contains(issue)),
        "no hazard {issue:?} on {entry} in {hs:#?}"
    );
}

#[test]
fn traversal_absolute_links_and_duplicates_are_reported() {
    let t = tar(&[
        T::file("../escape.txt", b"x"),
        T::file("a/../../escape2.txt", b"x"),
        T::file("/etc/kiln-diff-abs", b"x"),
        T::raw(b"link", b'2', b"/tmp"),
        T::file("link/through.txt", b"written through the link"),
        T::raw(b"hard", b'1', b"../../etc/shadow"),
        T::file("dup.txt", b"1"),
        T::file("dup.txt", b"2"),
        T::file("README", b"r"),
        T::file("readme", b"r"),
    ]);
    let (code, v, _) = hazards_of("links.tar", &t);
    assert_eq!(code, 1);
    assert_hazard(&v, "\"../escape.txt\"", "`..` component");
    assert_hazard(&v, "\"a/../../escape2.txt\"", "`..` component");
    assert_hazard(&v, "\"/etc/kiln-diff-abs\"", "absolute path");
    assert_hazard(&v, "\"link\"", "leaves the archive root");
    assert_hazard(
        &v,
        "\"link/through.txt\"",
        "lies below the symlink \"link\"",
    );
    assert_hazard(
        &v,
        "\"hard\"",
        "hardlink to \"../../etc/shadow\" leaves the archive root",
    );
    assert_hazard(&v, "\"dup.txt\"", "duplicate entry");
    assert_hazard(&v, "\"readme\"", "differs only in case from \"README\"");
    // both duplicates are listed, never merged
    let only: Vec<_> = v["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["entry"] == "\"dup.txt\"")
        .collect();
    assert_eq!(only.len(), 2);
    assert!(!Path::new("/etc/kiln-diff-abs").exists());
}

#[test]
fn control_characters_and_invalid_utf8_are_escaped() {
    let t = tar(&[T::file_raw(b"evil\x1b[2J\xff\nname", b"x")]);
    let (code, v, stdout) = hazards_of("names.tar", &t);
    assert_eq!(code, 1);
    let esc = "evil\\\\u{1b}[2J\\\\xff\\\\nname";
    assert!(stdout.contains(esc), "{stdout}");
    assert!(!stdout.as_bytes().contains(&0x1b));
    assert_hazard(&v, "\"evil\\u{1b}[2J\\xff\\nname\"", "control character");
    assert_hazard(&v, "\"evil\\u{1b}[2J\\xff\\nname\"", "not UTF-8");
    // the text report too
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("n.tar");
    std::fs::write(&a, &t).unwrap();
    let out = run(common::kiln().arg("diff").arg(&a).arg(&a));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning: A: \"evil\\u{1b}[2J\\xff\\nname\": control character"),
        "{text}"
    );
    assert!(!out.stdout.contains(&0x1b));
}

#[test]
fn a_gzip_bomb_hits_the_ratio_cap() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
    let mut header = tar_header(&T::file("zeros", b""));
    // declare a 1 GiB entry
    header[124..136].copy_from_slice(format!("{:011o}\0", 1u64 << 30).as_bytes());
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| b as u32).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    e.write_all(&header).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    let (code, _, _) = {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("bomb.tar.gz");
        std::fs::write(&a, &bomb).unwrap();
        let out = diff_limited(dir.path(), &a, &a, &[]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            err.contains("compression ratio (--max-ratio) cap of 250 exceeded"),
            "{err}"
        );
        (out.status.code().unwrap_or(-1), (), ())
    };
    assert_eq!(code, 2);
}

#[test]
fn a_zip_bomb_with_overlapping_entries() {
    // small: the overlap is reported
    let mut members = vec![Z {
        deflate: true,
        ..Z::file("f0", &[0u8; 4096])
    }];
    for i in 1..3 {
        members.push(Z {
            alias_of: Some(0),
            ..Z::file(&format!("f{i}"), b"")
        });
    }
    let (_, v, _) = hazards_of("overlap.zip", &zip(&members));
    assert_hazard(&v, "\"f1\"", "overlaps");
    assert_hazard(
        &v,
        "\"f1\"",
        "local and central headers disagree: name \"f0\"",
    );

    // large: 2,000 entries over one 64 MiB deflate stream -> cap, exit 2
    let mut members = vec![Z {
        deflate: true,
        ..Z::file("f0", &vec![0u8; 64 << 20])
    }];
    for i in 1..2000 {
        members.push(Z {
            alias_of: Some(0),
            ..Z::file(&format!("f{i}"), b"")
        });
    }
    let bomb = zip(&members);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("bomb.zip");
    std::fs::write(&a, &bomb).unwrap();
    let out = diff_limited(dir.path(), &a, &a, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("compression ratio (--max-ratio) cap"), "{err}");
}

#[test]
fn a_million_tiny_entries_hit_the_entry_cap() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    for i in 0..1_000_000u32 {
        e.write_all(&tar_header(&T::file(&format!("d{}/f{i}", i % 1000), b"")))
            .unwrap();
    }
    e.write_all(&[0u8; 1024]).unwrap();
    let gz = e.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("million.tar.gz");
    std::fs::write(&a, &gz).unwrap();
    let out = diff_limited(dir.path(), &a, &a, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("entry count (--max-entries) cap of 250000 exceeded"),
        "{err}"
    );
}

#[test]
fn nesting_deeper_than_the_cap_is_refused() {
    let mut a = tar(&[T::file("core.txt", b"a\n")]);
    let mut b = tar(&[T::file("core.txt", b"b\n")]);
    for i in 0..6 {
        a = tar(&[T::file(&format!("level{i}.tar"), &a)]);
        b = tar(&[T::file(&format!("level{i}.tar"), &b)]);
    }
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    std::fs::write(&pa, &a).unwrap();
    std::fs::write(&pb, &b).unwrap();
    let out = diff_limited(dir.path(), &pa, &pb, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nesting depth (--max-depth) cap of 4 exceeded"),
        "{err}"
    );
    let out = diff_limited(dir.path(), &pa, &pb, &["--max-depth", "8"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn garbage_is_unreadable_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("trunc.tar.gz");
    let full = gzip(&tar(&[T::file("a", &[7u8; 5000])]), 9, 255);
    std::fs::write(&a, &full[..full.len() / 2]).unwrap();
    let out = diff_limited(dir.path(), &a, &a, &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unreadable"));
}
