//! The zip writer against `unzip -t` and Python's `zipfile`, and the zip
//! reader against hostile archives.

use crate::common;

use std::io::Cursor;

use common::{cmd, require_tool, run_ok};
use kiln::archive::read::{self, EntryKind, Limits, ReadError};
use kiln::archive::sort_by_path;
use kiln::archive::zip::{ZipError, ZipWriter};
use kiln::error::{Classify, ErrorKind};

/// 2023-11-14T22:13:21Z: an odd second, so the 2-second rounding shows.
const SDE: u64 = 1_700_000_001;

fn sample(sde: u64) -> Vec<u8> {
    let mut entries = vec![
        ("pkg/z.txt", 0o644, b"zzz\n".to_vec()),
        ("pkg/bin/tool", 0o755, b"#!/bin/sh\necho hi\n".to_vec()),
        ("pkg/A.txt", 0o644, b"AAAA".repeat(1000)),
        ("pkg/empty", 0o644, Vec::new()),
        ("pkg/caf\u{e9}.txt", 0o644, b"non-ascii name\n".to_vec()),
    ];
    sort_by_path(&mut entries, |e| e.0);
    let mut z = ZipWriter::new(Vec::new(), sde);
    z.append_dir("pkg", 0o755).unwrap();
    for (p, m, d) in &entries {
        z.append_file(p, *m, d).unwrap();
    }
    z.append_symlink("pkg/link", "z.txt").unwrap();
    z.finish().unwrap()
}

#[test]
fn unzip_and_python_accept_it_with_intended_modes_and_times() {
    if !require_tool("python3") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("b.zip");
    std::fs::write(&path, sample(SDE)).unwrap();
    if require_tool("unzip") {
        let out = run_ok(cmd("unzip").arg("-t").arg(&path));
        assert!(out.contains("No errors detected"), "{out}");
    }
    let report = run_ok(cmd("python3").args([
        "-c",
        "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\n\
         for i in z.infolist():\n    print(i.filename, oct(i.external_attr >> 16), i.external_attr & 0xffff, \
         '%d-%02d-%02dT%02d:%02d:%02d' % i.date_time, i.create_system, i.create_version, i.extract_version, \
         i.flag_bits, i.compress_type, len(i.extra), repr(z.read(i)[:5]))",
        path.to_str().unwrap(),
    ]));
    let lines: Vec<&str> = report.lines().collect();
    let t = "2023-11-14T22:13:20";
    assert_eq!(lines[0], format!("pkg/ 0o40755 16 {t} 3 20 20 0 0 0 b''"));
    assert_eq!(
        lines[1],
        format!("pkg/A.txt 0o100644 0 {t} 3 20 20 0 8 0 b'AAAAA'")
    );
    assert_eq!(
        lines[2],
        format!("pkg/bin/tool 0o100755 0 {t} 3 20 20 0 8 0 b'#!/bi'")
    );
    assert_eq!(
        lines[3],
        format!("pkg/caf\u{e9}.txt 0o100644 0 {t} 3 20 20 2048 8 0 b'non-a'")
    );
    assert_eq!(
        lines[4],
        format!("pkg/empty 0o100644 0 {t} 3 20 20 0 8 0 b''")
    );
    assert_eq!(
        lines[5],
        format!("pkg/z.txt 0o100644 0 {t} 3 20 20 0 8 0 b'zzz\\n'")
    );
    assert_eq!(
        lines[6],
        format!("pkg/link 0o120777 0 {t} 3 20 20 0 0 0 b'z.txt'")
    );
}

#[test]
fn timestamps_are_clamped_to_the_dos_epoch() {
    if !require_tool("python3") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("old.zip");
    std::fs::write(&path, sample(0)).unwrap();
    let out = run_ok(cmd("python3").args([
        "-c",
        "import sys, zipfile\nprint(set(i.date_time for i in zipfile.ZipFile(sys.argv[1]).infolist()))",
        path.to_str().unwrap(),
    ]));
    assert_eq!(out, "{(1980, 1, 1, 0, 0, 0)}");
}

#[test]
fn deterministic_and_readable_by_our_reader() {
    assert!(sample(SDE) == sample(SDE));
    let bytes = sample(SDE);
    let entries = read::list_zip(Cursor::new(&bytes), &Limits::default()).unwrap();
    assert_eq!(entries.len(), 7);
    assert_eq!(entries[0].kind, EntryKind::Dir);
    assert_eq!(entries[2].mode, 0o755);
    assert_eq!(entries[2].mtime, SDE - 1);
    assert_eq!(
        entries[6].kind,
        EntryKind::Symlink {
            target: "z.txt".into()
        }
    );
}

#[test]
fn writer_refuses_bad_entries() {
    let mut z = ZipWriter::new(Vec::new(), SDE);
    z.append_file("a", 0o644, b"").unwrap();
    let e = z.append_file("a", 0o644, b"").unwrap_err();
    assert!(matches!(e, ZipError::Duplicate { .. }), "{e}");
    assert_eq!(e.kind(), ErrorKind::BadInput);
    assert!(matches!(
        z.append_file("../x", 0o644, b""),
        Err(ZipError::BadPath { .. })
    ));
    assert!(matches!(
        z.append_file("/x", 0o644, b""),
        Err(ZipError::BadPath { .. })
    ));
    let e = z
        .append_file_from("short", 0o644, 10, &b"abc"[..])
        .unwrap_err();
    assert!(
        matches!(
            e,
            ZipError::SizeMismatch {
                declared: 10,
                actual: 3,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn more_entries_than_zip32_allows_is_a_clear_error() {
    let mut z = ZipWriter::new(std::io::sink(), SDE);
    let mut err = None;
    for i in 0..70_000 {
        if let Err(e) = z.append_dir(&format!("d{i}"), 0o755) {
            err = Some(e);
            break;
        }
    }
    let e = err.expect("zip64 limit not enforced");
    assert!(matches!(e, ZipError::Zip64Required { .. }), "{e}");
    assert!(e.to_string().contains("Zip64"));
}

fn python_zip(body: &str) -> Vec<u8> {
    let script = format!(
        "import io, sys, zipfile\nb = io.BytesIO()\nz = zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED)\n{body}\nz.close()\nsys.stdout.buffer.write(b.getvalue())\n"
    );
    let out = cmd("python3").args(["-c", &script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn zip_reader_refuses_hostile_archives() {
    if !require_tool("python3") {
        return;
    }
    let l = Limits::default();
    let refuse = |b: Vec<u8>, l: &Limits| {
        let e = read::list_zip(Cursor::new(b), l).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput, "{e}");
        e
    };
    let e = refuse(python_zip("z.writestr('../evil', 'x')"), &l);
    assert!(matches!(e, ReadError::UnsafePath { .. }), "{e}");
    let e = refuse(python_zip("z.writestr('/abs', 'x')"), &l);
    assert!(matches!(e, ReadError::UnsafePath { .. }), "{e}");
    let e = refuse(
        python_zip(
            "i = zipfile.ZipInfo('l'); i.create_system = 3; i.external_attr = 0o120777 << 16\nz.writestr(i, '../../etc/passwd')",
        ),
        &l,
    );
    assert!(matches!(e, ReadError::UnsafeLink { .. }), "{e}");
    let e = refuse(
        python_zip("[z.writestr(f'f{i}', '') for i in range(20)]"),
        &Limits {
            max_entries: 5,
            ..l
        },
    );
    assert!(matches!(e, ReadError::TooManyEntries { limit: 5 }), "{e}");
    let bomb = python_zip("z.writestr('zeros', bytes(32 << 20))");
    assert!(bomb.len() < 100_000);
    let e = refuse(
        bomb.clone(),
        &Limits {
            max_total_size: 4 << 20,
            ..l
        },
    );
    assert!(
        matches!(
            e,
            ReadError::TooLarge { .. } | ReadError::EntryTooLarge { .. }
        ),
        "{e}"
    );
    let e = refuse(
        bomb,
        &Limits {
            max_entry_size: 1 << 20,
            ..l
        },
    );
    assert!(matches!(e, ReadError::EntryTooLarge { .. }), "{e}");
    let e = refuse(b"PK\x03\x04 not a zip".to_vec(), &l);
    assert!(matches!(e, ReadError::Malformed { .. }), "{e}");
}
