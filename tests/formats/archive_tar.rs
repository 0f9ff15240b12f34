//! The tar writer's dialects against their reference implementations
//! (Python `tarfile`, the `tar` crate cargo uses, GNU tar), the compressors
//! against gzip/zstd, and the bounded reader against hostile archives.

use crate::common;

use std::io::{Read, Write};
use std::process::Stdio;

use common::{cmd, require_tool, run_ok, write};
use kiln::archive::bundle::{write_tar_bundle, write_zip_bundle, Compression};
use kiln::archive::compress::{gzip, zstd, GzipOptions};
use kiln::archive::mapping::{map_files, MappingOptions, Rename, SourceFile, SourceKind};
use kiln::archive::read::{self, EntryKind, Limits, ReadError};
use kiln::archive::tar::{Dialect, TarWriter};
use kiln::error::{Classify, ErrorKind};

const SDE: u64 = 1_700_000_001;

enum E {
    File(&'static str, u32, &'static [u8]),
    Dir(&'static str),
    Link(&'static str, &'static str),
}

fn long_name() -> String {
    format!("pkg/{}/{}.txt", "d".repeat(70), "f".repeat(60))
}

fn sample() -> Vec<E> {
    let long: &'static str = Box::leak(long_name().into_boxed_str());
    let long_target: &'static str = Box::leak(format!("../{}", "t".repeat(120)).into_boxed_str());
    vec![
        E::File("pkg/README.md", 0o644, b"# hello\n"),
        E::File("pkg/bin/tool", 0o755, b"#!/bin/sh\necho hi\n"),
        E::File(long, 0o644, b"long\n"),
        E::File("pkg/caf\u{e9}.txt", 0o644, b"non-ascii\n"),
        E::File("pkg/empty", 0o644, b""),
        E::Dir("pkg/emptydir"),
        E::Link("pkg/link", "README.md"),
        E::Link("pkg/longlink", long_target),
    ]
}

fn write_kiln(dialect: Dialect, entries: &[E]) -> Vec<u8> {
    let mut t = TarWriter::new(Vec::new(), dialect);
    for e in entries {
        match e {
            E::File(p, m, d) => t.append_file(p, *m, SDE, d).unwrap(),
            E::Dir(p) => t.append_dir(p, 0o755, SDE).unwrap(),
            E::Link(p, target) => t.append_symlink(p, target, SDE).unwrap(),
        }
    }
    t.finish().unwrap()
}

fn python(script: &str, stdin: &[u8]) -> Vec<u8> {
    let mut c = cmd("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn pax_dialect_is_python_tarfile_pax_format() {
    if !require_tool("python3") {
        return;
    }
    let spec: Vec<serde_json::Value> = sample()
        .iter()
        .map(|e| match e {
            E::File(p, m, d) => {
                serde_json::json!({"t":"f","p":p,"m":m,"d":String::from_utf8_lossy(d)})
            }
            E::Dir(p) => serde_json::json!({"t":"d","p":p}),
            E::Link(p, t) => serde_json::json!({"t":"l","p":p,"l":t}),
        })
        .collect();
    let script = format!(
        r#"
import io, json, sys, tarfile
spec = json.load(sys.stdin)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for e in spec:
        i = tarfile.TarInfo(e["p"])
        i.mtime = {SDE}; i.uid = i.gid = 0; i.uname = i.gname = ""
        data = None
        if e["t"] == "f":
            data = e["d"].encode(); i.size = len(data); i.mode = e["m"]
        elif e["t"] == "d":
            i.type = tarfile.DIRTYPE; i.mode = 0o755
        else:
            i.type = tarfile.SYMTYPE; i.linkname = e["l"]; i.mode = 0o777
        t.addfile(i, io.BytesIO(data) if data is not None else None)
sys.stdout.buffer.write(buf.getvalue())
"#
    );
    let theirs = python(&script, serde_json::to_string(&spec).unwrap().as_bytes());
    let ours = write_kiln(Dialect::Pax, &sample());
    assert_eq!(ours.len(), theirs.len());
    if let Some(i) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
        panic!(
            "first difference at byte {i} (block {}, offset {})",
            i / 512,
            i % 512
        );
    }
}

#[test]
fn gnu_dialect_is_the_tar_crate_cargo_uses() {
    let mut b = tar::Builder::new(Vec::new());
    for e in sample() {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(SDE);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::File(p, m, d) => {
                h.set_mode(m);
                h.set_size(d.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, p, d).unwrap();
            }
            E::Dir(p) => {
                h.set_mode(0o755);
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, format!("{p}/"), &[][..]).unwrap();
            }
            E::Link(p, t) => {
                h.set_mode(0o777);
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    let theirs = b.into_inner().unwrap();
    let ours = write_kiln(Dialect::Gnu, &sample());
    if let Some(i) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
        let blk = i / 512 * 512;
        panic!(
            "first difference at byte {i} (block {}, offset {}):\nkiln {:?}\ncrate {:?}",
            i / 512,
            i % 512,
            String::from_utf8_lossy(&ours[blk..blk + 512]),
            String::from_utf8_lossy(&theirs[blk..blk + 512])
        );
    }
    assert_eq!(ours.len(), theirs.len());
}

#[test]
fn gnu_tar_and_python_read_every_dialect() {
    if !require_tool("tar") || !require_tool("python3") {
        return;
    }
    for dialect in [Dialect::Pax, Dialect::Gnu, Dialect::NpmUstar] {
        let bytes = write_kiln(dialect, &sample());
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.tar");
        std::fs::write(&path, &bytes).unwrap();
        let listing = run_ok(cmd("tar").arg("-tvf").arg(&path).env("TZ", "UTC"));
        assert!(listing.contains(&long_name()), "{dialect:?}: {listing}");
        assert!(
            listing.contains("pkg/caf\u{e9}.txt"),
            "{dialect:?}: {listing}"
        );
        assert!(listing.contains("-rwxr-xr-x"), "{dialect:?}: {listing}");
        let out = run_ok(cmd("python3").args([
            "-c",
            "import sys, tarfile\nwith tarfile.open(sys.argv[1]) as t:\n    \
             [print(m.name, oct(m.mode), m.mtime, m.uid, m.gid, repr(m.uname), m.type.decode(), m.linkname) for m in t]",
            path.to_str().unwrap(),
        ]));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), sample().len(), "{dialect:?}: {out}");
        assert!(
            lines[0].starts_with(&format!("pkg/README.md 0o644 {SDE} 0 0 '' 0")),
            "{dialect:?}: {out}"
        );
        assert!(
            lines[1].starts_with(&format!("pkg/bin/tool 0o755 {SDE}")),
            "{dialect:?}: {out}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with(&long_name())),
            "{dialect:?}: {out}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("pkg/link 0o777") && l.ends_with("2 README.md")),
            "{out}"
        );
    }
}

#[test]
fn gzip_and_zstd_layers_are_read_by_the_real_tools() {
    let tar = write_kiln(Dialect::Pax, &sample());
    let gz = gzip(&tar, &GzipOptions::KILN).unwrap();
    let zst = zstd(&tar).unwrap();
    let limits = Limits::default();
    assert_eq!(
        read::list_tar_gz(&gz[..], &limits).unwrap().len(),
        sample().len()
    );
    assert_eq!(
        read::list_tar_zst(&zst[..], &limits).unwrap().len(),
        sample().len()
    );
    assert_eq!(zstd(&tar).unwrap(), zst, "zstd output is deterministic");
    if require_tool("gzip") {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("t.tar.gz");
        std::fs::write(&p, &gz).unwrap();
        let out = cmd("gzip").arg("-dc").arg(&p).output().unwrap();
        assert!(out.status.success());
        assert!(out.stdout == tar);
    }
    if require_tool("zstd") {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("t.tar.zst");
        std::fs::write(&p, &zst).unwrap();
        let out = cmd("zstd").arg("-dc").arg(&p).output().unwrap();
        assert!(out.status.success());
        assert!(out.stdout == tar);
    }
}

#[test]
fn reader_lists_metadata_of_our_output() {
    let tar = write_kiln(Dialect::NpmUstar, &sample());
    let entries = read::list_tar(&tar[..], &Limits::default()).unwrap();
    assert_eq!(entries[0].path, "pkg/README.md");
    assert_eq!(entries[1].mode, 0o755);
    assert_eq!(entries[2].path, long_name());
    assert_eq!(entries[5].kind, EntryKind::Dir);
    assert_eq!(entries[5].path, "pkg/emptydir");
    assert_eq!(
        entries[6].kind,
        EntryKind::Symlink {
            target: "README.md".into()
        }
    );
    assert!(entries.iter().all(|e| e.uid == 0 && e.uname.is_empty()));
}

/// Build hostile archives with Python, which writes whatever it is told.
fn hostile(script_body: &str) -> Vec<u8> {
    let script = format!(
        "import io, sys, tarfile\nbuf = io.BytesIO()\nt = tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT)\n\
         def add(name, data=b'', kind=tarfile.REGTYPE, link=''):\n    \
         i = tarfile.TarInfo(name); i.size = len(data); i.type = kind; i.linkname = link\n    \
         t.addfile(i, io.BytesIO(data))\n{script_body}\nt.close()\nsys.stdout.buffer.write(buf.getvalue())\n"
    );
    python(&script, &[])
}

fn refused(bytes: &[u8], limits: &Limits) -> ReadError {
    let e = read::list_tar(bytes, limits).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput, "{e}");
    e
}

#[test]
fn reader_refuses_hostile_archives() {
    if !require_tool("python3") {
        return;
    }
    let l = Limits::default();
    let e = refused(&hostile("add('../evil', b'x')"), &l);
    assert!(matches!(e, ReadError::UnsafePath { .. }), "{e}");
    let e = refused(&hostile("add('a/../../evil', b'x')"), &l);
    assert!(matches!(e, ReadError::UnsafePath { .. }), "{e}");
    let e = refused(&hostile("add('/etc/passwd', b'x')"), &l);
    assert!(matches!(e, ReadError::UnsafePath { .. }), "{e}");
    let e = refused(
        &hostile("add('a/link', kind=tarfile.SYMTYPE, link='../../etc/shadow')"),
        &l,
    );
    assert!(matches!(e, ReadError::UnsafeLink { .. }), "{e}");
    let e = refused(
        &hostile("add('link', kind=tarfile.SYMTYPE, link='/etc/shadow')"),
        &l,
    );
    assert!(matches!(e, ReadError::UnsafeLink { .. }), "{e}");
    let many = hostile("[add(f'f{i}') for i in range(50)]");
    let e = refused(
        &many,
        &Limits {
            max_entries: 10,
            ..l
        },
    );
    assert!(matches!(e, ReadError::TooManyEntries { limit: 10 }), "{e}");
    // a decompression bomb: 64 MiB of zeros in a few dozen KiB of gzip
    let bomb_tar = hostile("add('zeros', bytes(64 << 20))");
    let bomb = gzip(
        &bomb_tar,
        &GzipOptions {
            level: 9,
            ..GzipOptions::KILN
        },
    )
    .unwrap();
    assert!(bomb.len() < 200_000);
    let small = Limits {
        max_total_size: 8 << 20,
        ..l
    };
    let e = read::list_tar_gz(&bomb[..], &small).unwrap_err();
    assert!(matches!(e, ReadError::TooLarge { .. }), "{e}");
    let e = read::list_tar_gz(
        &bomb[..],
        &Limits {
            max_entry_size: 1 << 20,
            ..l
        },
    )
    .unwrap_err();
    assert!(matches!(e, ReadError::EntryTooLarge { .. }), "{e}");
    // truncated input is malformed, not a panic
    let good = write_kiln(Dialect::Pax, &sample());
    assert!(read::list_tar_gz(&gzip(&good, &GzipOptions::KILN).unwrap()[..40], &l).is_err());
}

#[test]
fn mapped_bundle_is_reproducible_across_checkouts() {
    fn checkout(
        root: &std::path::Path,
        reverse: bool,
        mtime: u64,
        umask_like: u32,
    ) -> Vec<SourceFile> {
        let mut names = vec![
            "docs/guide.md",
            "docs/api/index.md",
            "bin/run.sh",
            "src/lib.rs",
            "README.md",
        ];
        if reverse {
            names.reverse();
        }
        let mut out = Vec::new();
        for n in names {
            let p = root.join(n);
            write(&p, format!("contents of {n}\n"));
            use std::os::unix::fs::PermissionsExt;
            let exec = n.ends_with(".sh");
            let mode = if exec {
                0o777 & !umask_like
            } else {
                0o666 & !umask_like
            };
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_times(std::fs::FileTimes::new().set_modified(t))
                .unwrap();
            let md = std::fs::metadata(&p).unwrap();
            out.push(SourceFile {
                path: n.to_string(),
                kind: SourceKind::File {
                    disk: p,
                    size: md.len(),
                    executable: md.permissions().mode() & 0o100 != 0,
                },
            });
        }
        std::os::unix::fs::symlink("guide.md", root.join("docs/latest.md")).unwrap();
        out.push(SourceFile {
            path: "docs/latest.md".into(),
            kind: SourceKind::Symlink {
                target: "guide.md".into(),
            },
        });
        out
    }
    fn bundle(files: Vec<SourceFile>) -> (Vec<u8>, Vec<u8>) {
        let opts = MappingOptions {
            include: vec!["docs".into(), "bin/*.sh".into(), "README.md".into()],
            exclude: vec!["docs/api/**".into()],
            renames: vec![Rename {
                from: "bin".into(),
                to: "scripts".into(),
            }],
            prefix: "bundle-1.0.0".into(),
            ..Default::default()
        };
        let entries = map_files(files, &opts).unwrap();
        let tgz = write_tar_bundle(
            &entries,
            SDE,
            Compression::Gzip,
            Vec::new(),
            |p: &std::path::Path| std::fs::File::open(p),
        )
        .unwrap();
        let zip = write_zip_bundle(&entries, SDE, Vec::new(), |p: &std::path::Path| {
            std::fs::File::open(p)
        })
        .unwrap();
        (tgz, zip)
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, za) = bundle(checkout(&tmp.path().join("a"), false, 1_000_000, 0o022));
    let (b, zb) = bundle(checkout(&tmp.path().join("b"), true, 2_000_000_000, 0o077));
    assert!(a == b, "tar bundles differ");
    assert!(za == zb, "zip bundles differ");
    let zipped = read::list_zip(std::io::Cursor::new(&za), &Limits::default()).unwrap();
    let zip_modes: Vec<(String, u32)> = zipped.iter().map(|e| (e.path.clone(), e.mode)).collect();
    let entries = read::list_tar_gz(&a[..], &Limits::default()).unwrap();
    let got: Vec<(String, u32)> = entries.iter().map(|e| (e.path.clone(), e.mode)).collect();
    let want = [
        ("bundle-1.0.0/README.md", 0o644),
        ("bundle-1.0.0/docs/guide.md", 0o644),
        ("bundle-1.0.0/docs/latest.md", 0o777),
        ("bundle-1.0.0/scripts/run.sh", 0o755),
    ];
    assert_eq!(got, want.map(|(p, m)| (p.to_string(), m)));
    assert_eq!(zip_modes, got);
    let mut gz = flate2::read::GzDecoder::new(&a[..]);
    let mut raw = Vec::new();
    gz.read_to_end(&mut raw).unwrap();
    assert_eq!(raw.len() % 10240, 0);
}

#[test]
fn mapping_errors_are_bad_input() {
    let f = |p: &str| SourceFile {
        path: p.into(),
        kind: SourceKind::File {
            disk: p.into(),
            size: 0,
            executable: false,
        },
    };
    let e = map_files(
        vec![f("a/x"), f("b/x")],
        &MappingOptions {
            renames: vec![Rename {
                from: "b".into(),
                to: "a".into(),
            }],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
    assert!(e.to_string().contains("\"a/x\""), "{e}");
    let e = map_files(
        vec![f("x")],
        &MappingOptions {
            include: vec!["[".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("include"), "{e}");
    let e = map_files(
        vec![f("x")],
        &MappingOptions {
            prefix: "../up".into(),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains(".."), "{e}");
}
