//! Normalising what a PEP 517 backend built, without changing any file's
//! content (the exact list of what changes is in `docs/python.md`).
//!
//! - **wheel**: every file entry is kept with its bytes; directory entries
//!   are dropped; entries are ordered by path bytes, the payload first, then
//!   `<dist>.dist-info/` with `RECORD` last; timestamps are
//!   `SOURCE_DATE_EPOCH`, modes 0644 (0755 when owner-executable), deflate
//!   by kiln's zip writer; `RECORD` is rewritten in that order from the
//!   contents. The backend's `RECORD` is checked first: every file it lists
//!   must exist with the hash and size it states, and every file must be
//!   listed — a wheel whose `RECORD` disagrees with its contents is refused.
//! - **sdist**: every regular file is kept with its bytes under its path;
//!   directory entries and pax extended records are dropped (kiln's pax
//!   writer emits only the records a path needs); entries are ordered by
//!   path bytes; mtime `SOURCE_DATE_EPOCH`, uid/gid 0, empty owner names,
//!   modes 0644/0755; gzip as kiln's native sdists (libdeflate level 6, header MTIME
//!   `SOURCE_DATE_EPOCH`, OS 255, no file name).
//!
//! Links, devices and paths that could leave the archive are refused, and so
//! is an archive that names its distribution or version differently from
//! the release ([`Facts`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use super::wheel::{csv_field, record_hash};
use super::{io, PythonError};
use crate::archive::read::Limits;
use crate::archive::tar::{Dialect, TarWriter};
use crate::archive::zip::{deflate_entry, ZipWriter};

/// One regular file of an archive.
#[derive(Debug)]
struct Member {
    path: String,
    executable: bool,
    data: Vec<u8>,
}

/// What the normalised archive says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `Name:` of its core metadata.
    pub name: String,
    /// `Version:` of its core metadata.
    pub version: String,
    /// Files kept.
    pub files: usize,
    /// The backend's files kept, with the SHA-256 of their contents (a
    /// wheel's recomputed RECORD is not among them).
    pub entries: Vec<(String, crate::hash::Sha256)>,
}

fn bad(file: &Path, detail: impl Into<String>) -> PythonError {
    PythonError::Normalise {
        file: file.to_path_buf(),
        detail: detail.into(),
    }
}

/// `Name` and `Version` of core metadata (the headers before the first blank line).
pub fn name_version(text: &str) -> (Option<String>, Option<String>) {
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Name:") {
            name.get_or_insert_with(|| v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Version:") {
            version.get_or_insert_with(|| v.trim().to_string());
        }
    }
    (name, version)
}

fn facts(
    file: &Path,
    members: &[Member],
    metadata: &str,
    files: usize,
) -> Result<Facts, PythonError> {
    let what = metadata;
    let metadata = members.iter().find(|m| m.path == metadata);
    let m = metadata.ok_or_else(|| bad(file, format!("has no {what}")))?;
    let text =
        std::str::from_utf8(&m.data).map_err(|_| bad(file, format!("{} is not UTF-8", m.path)))?;
    match name_version(text) {
        (Some(name), Some(version)) => Ok(Facts {
            name,
            version,
            files,
            entries: members
                .iter()
                .map(|m| (m.path.clone(), crate::hash::Sha256::digest(&m.data)))
                .collect(),
        }),
        _ => Err(bad(file, format!("{} lacks Name or Version", m.path))),
    }
}

fn check_path(file: &Path, path: &str, seen: &mut BTreeSet<String>) -> Result<(), PythonError> {
    crate::archive::check_entry_path(path)
        .map_err(|reason| bad(file, format!("entry {path:?} is {reason}")))?;
    if !seen.insert(path.to_string()) {
        return Err(bad(file, format!("entry {path:?} appears twice")));
    }
    Ok(())
}

fn read_bounded(
    file: &Path,
    path: &str,
    size: u64,
    r: impl Read,
    budget: &mut u64,
) -> Result<Vec<u8>, PythonError> {
    let limits = Limits::default();
    if size > limits.max_entry_size || size > *budget {
        return Err(bad(
            file,
            format!("entry {path:?} is too large ({size} bytes)"),
        ));
    }
    let mut data = Vec::with_capacity(size as usize);
    r.take(size + 1).read_to_end(&mut data).map_err(io(file))?;
    if data.len() as u64 != size {
        return Err(bad(
            file,
            format!("entry {path:?} is not {size} bytes long"),
        ));
    }
    *budget -= size;
    Ok(data)
}

/// Read a backend's wheel at `raw`, check it, and write it normalised to `out`.
pub fn wheel(raw: &Path, source_date_epoch: i64, out: impl Write) -> Result<Facts, PythonError> {
    let f = std::fs::File::open(raw).map_err(io(raw))?;
    let mut ar = ::zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| bad(raw, format!("is not a zip archive: {e}")))?;
    let mut seen = BTreeSet::new();
    let mut members = Vec::with_capacity(ar.len());
    let mut budget = Limits::default().max_total_size;
    for i in 0..ar.len() {
        let e = ar
            .by_index(i)
            .map_err(|e| bad(raw, format!("entry {i}: {e}")))?;
        let path = String::from_utf8(e.name_raw().to_vec())
            .map_err(|_| bad(raw, format!("entry {i} has a name that is not UTF-8")))?;
        if e.is_dir() {
            continue;
        }
        if e.is_symlink() {
            return Err(bad(raw, format!("entry {path:?} is a symbolic link")));
        }
        check_path(raw, &path, &mut seen)?;
        let executable = e.unix_mode().is_some_and(|m| m & 0o100 != 0);
        let size = e.size();
        let data = read_bounded(raw, &path, size, e, &mut budget)?;
        members.push(Member {
            path,
            executable,
            data,
        });
    }
    let dist_infos: BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.path.split('/').next())
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    let dist_info = match dist_infos.into_iter().collect::<Vec<_>>()[..] {
        [one] => one.to_string(),
        ref many => {
            return Err(bad(
                raw,
                format!(
                    "has {} .dist-info directories ({many:?}); a wheel has one",
                    many.len()
                ),
            ))
        }
    };
    let record_path = format!("{dist_info}/RECORD");
    let in_dist_info = |p: &str| p.starts_with(&format!("{dist_info}/"));
    let is_record = |p: &str| p == record_path;
    let record = members
        .iter()
        .find(|m| is_record(&m.path))
        .ok_or_else(|| bad(raw, format!("has no {record_path}")))?;
    check_record(raw, record, &members, &record_path)?;
    // The payload, then .dist-info, RECORD last; each by path bytes.
    members.retain(|m| !is_record(&m.path));
    members.sort_by(|a, b| {
        (in_dist_info(&a.path), a.path.as_bytes()).cmp(&(in_dist_info(&b.path), b.path.as_bytes()))
    });
    let facts = facts(
        raw,
        &members,
        &format!("{dist_info}/METADATA"),
        members.len() + 1,
    )?;
    use rayon::prelude::*;
    let deflated = members
        .par_iter()
        .map(|m| deflate_entry(super::DEFLATE, &m.path, &m.data))
        .collect::<Result<Vec<_>, _>>()?;
    let mut zip = ZipWriter::new(out, source_date_epoch.max(0) as u64).with_deflate(super::DEFLATE);
    let mut lines = String::new();
    for (m, d) in members.iter().zip(&deflated) {
        zip.append_deflated(&m.path, mode(m.executable), d)?;
        let signature =
            m.path == format!("{record_path}.jws") || m.path == format!("{record_path}.p7s");
        if signature {
            lines.push_str(&format!("{},,\n", csv_field(&m.path)));
        } else {
            lines.push_str(&format!(
                "{},{},{}\n",
                csv_field(&m.path),
                record_hash(&m.data),
                m.data.len()
            ));
        }
    }
    lines.push_str(&format!("{},,\n", csv_field(&record_path)));
    zip.append_file(&record_path, 0o644, lines.as_bytes())?;
    let mut w = zip.finish()?;
    w.flush().map_err(io(raw))?;
    Ok(facts)
}

fn mode(executable: bool) -> u32 {
    if executable {
        0o755
    } else {
        0o644
    }
}

/// The backend's `RECORD` must describe its files exactly.
fn check_record(
    raw: &Path,
    record: &Member,
    members: &[Member],
    record_path: &str,
) -> Result<(), PythonError> {
    let text = std::str::from_utf8(&record.data)
        .map_err(|_| bad(raw, format!("{record_path} is not UTF-8")))?;
    let mut listed: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields = parse_csv_line(line).ok_or_else(|| {
            bad(
                raw,
                format!("{record_path} line {} is not CSV: {line:?}", n + 1),
            )
        })?;
        let [path, hash, size] = &fields[..] else {
            return Err(bad(
                raw,
                format!(
                    "{record_path} line {} has {} fields: {line:?}",
                    n + 1,
                    fields.len()
                ),
            ));
        };
        listed.insert(path.clone(), (hash.clone(), size.clone()));
    }
    for m in members {
        if m.path == record_path {
            continue;
        }
        let Some((hash, size)) = listed.remove(&m.path) else {
            if m.path.ends_with("/RECORD.jws") || m.path.ends_with("/RECORD.p7s") {
                continue;
            }
            return Err(bad(
                raw,
                format!("{} is not listed in {record_path}", m.path),
            ));
        };
        if hash.is_empty() {
            continue;
        }
        let actual = record_hash(&m.data);
        let size_ok = size.is_empty() || size == m.data.len().to_string();
        // Only sha256 is compared; other algorithms are rare and checked by size.
        if (hash.starts_with("sha256=") && hash != actual) || !size_ok {
            return Err(bad(
                raw,
                format!(
                    "{} has {actual} and {} bytes, but {record_path} says {hash} and {size}",
                    m.path,
                    m.data.len()
                ),
            ));
        }
    }
    listed.remove(record_path);
    if let Some(missing) = listed.keys().next() {
        return Err(bad(
            raw,
            format!("{record_path} lists {missing}, which the wheel does not hold"),
        ));
    }
    Ok(())
}

/// One line of CSV as Python's `csv` module writes it (`"` quoting, `""` escapes).
fn parse_csv_line(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            fields.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

/// Read a backend's sdist at `raw` (named `file_name`), check it, and write
/// it normalised to `out`.
pub fn sdist(
    raw: &Path,
    file_name: &str,
    source_date_epoch: i64,
    mut out: impl Write,
) -> Result<Facts, PythonError> {
    let stem = file_name
        .strip_suffix(".tar.gz")
        .ok_or_else(|| bad(raw, format!("{file_name:?} is not a .tar.gz")))?;
    let f = std::fs::File::open(raw).map_err(io(raw))?;
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f));
    let mut ar = ::tar::Archive::new(gz);
    let mut seen = BTreeSet::new();
    let mut members = Vec::new();
    let mut budget = Limits::default().max_total_size;
    let entries = ar
        .entries()
        .map_err(|e| bad(raw, format!("is not a tar.gz archive: {e}")))?;
    for e in entries {
        let e = e.map_err(|e| bad(raw, format!("is not a valid tar.gz archive: {e}")))?;
        let h = e.header();
        let kind = h.entry_type();
        let raw_path = String::from_utf8(e.path_bytes().into_owned())
            .map_err(|_| bad(raw, "has an entry name that is not UTF-8"))?;
        let path = raw_path
            .strip_prefix("./")
            .unwrap_or(&raw_path)
            .trim_end_matches('/')
            .to_string();
        use ::tar::EntryType as T;
        match kind {
            T::Directory | T::XGlobalHeader | T::XHeader => continue,
            T::Regular | T::Continuous => {}
            other => {
                return Err(bad(
                    raw,
                    format!("entry {path:?} is not a regular file ({other:?})"),
                ))
            }
        }
        check_path(raw, &path, &mut seen)?;
        if path.split('/').next() != Some(stem) || !path.contains('/') {
            return Err(bad(
                raw,
                format!("entry {path:?} is not below the top directory {stem}/"),
            ));
        }
        let executable = h.mode().map_err(io(raw))? & 0o100 != 0;
        let size = e.size();
        let data = read_bounded(raw, &path, size, e, &mut budget)?;
        members.push(Member {
            path,
            executable,
            data,
        });
    }
    members.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let pkg_info = format!("{stem}/PKG-INFO");
    let facts = facts(raw, &members, &pkg_info, members.len())?;
    let mtime = source_date_epoch.max(0) as u64;
    let mut tar = TarWriter::new(Vec::new(), Dialect::Pax);
    for m in &members {
        tar.append_file(&m.path, mode(m.executable), mtime, &m.data)?;
    }
    let bytes = tar.finish()?;
    let gz = super::sdist::gzip(&bytes, source_date_epoch).map_err(io(raw))?;
    out.write_all(&gz).map_err(io(raw))?;
    out.flush().map_err(io(raw))?;
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_as_python_writes_them() {
        assert_eq!(
            parse_csv_line("a/b.py,sha256=x,12").unwrap(),
            vec!["a/b.py", "sha256=x", "12"]
        );
        assert_eq!(
            parse_csv_line("\"a,\"\"b\"\".py\",,").unwrap(),
            vec!["a,\"b\".py", "", ""]
        );
        assert!(parse_csv_line("\"open,,").is_none());
    }

    #[test]
    fn metadata_headers() {
        let (n, v) =
            name_version("Metadata-Version: 2.1\nName: demo\nVersion: 1.0rc1\n\nVersion: no\n");
        assert_eq!((n.as_deref(), v.as_deref()), (Some("demo"), Some("1.0rc1")));
    }

    /// A setuptools-like sdist: directory entries, build-time mtimes, a given order.
    fn sdist_of(mtime: u64, reverse: bool) -> Vec<u8> {
        let mut files: Vec<(&str, &[u8], u32)> = vec![
            (
                "demo-1.0/PKG-INFO",
                b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n",
                0o664,
            ),
            (
                "demo-1.0/setup.py",
                b"from setuptools import setup\nsetup()\n",
                0o600,
            ),
            ("demo-1.0/src/demo/__init__.py", b"", 0o644),
            ("demo-1.0/bin/tool", b"#!/bin/sh\n", 0o775),
        ];
        if reverse {
            files.reverse();
        }
        let mut t = TarWriter::new(Vec::new(), Dialect::Pax);
        t.append_dir("demo-1.0", 0o775, mtime).unwrap();
        for (p, d, m) in files {
            t.append_file(p, m, mtime, d).unwrap();
        }
        let opts = crate::archive::compress::GzipOptions {
            mtime: mtime as u32,
            ..crate::archive::compress::GzipOptions::KILN
        };
        crate::archive::compress::gzip(&t.finish().unwrap(), &opts).unwrap()
    }

    #[test]
    fn sdist_entries_are_sorted_dated_and_dirless_whatever_the_backend_wrote() {
        let t = tempfile::tempdir().unwrap();
        let mut outs = Vec::new();
        for (i, (mtime, reverse)) in [(1_700_000_000, false), (1_800_000_123, true)]
            .into_iter()
            .enumerate()
        {
            let raw = t.path().join(format!("{i}.tar.gz"));
            std::fs::write(&raw, sdist_of(mtime, reverse)).unwrap();
            let mut out = Vec::new();
            let facts = sdist(&raw, "demo-1.0.tar.gz", 315_532_800, &mut out).unwrap();
            assert_eq!((facts.version.as_str(), facts.files), ("1.0", 4));
            outs.push(out);
        }
        assert!(outs[0] == outs[1], "normalised sdists differ");
        let entries = crate::archive::read::list_tar_gz(&outs[0][..], &Limits::default()).unwrap();
        let got: Vec<(&str, u32, u64)> = entries
            .iter()
            .map(|e| (e.path.as_str(), e.mode, e.mtime))
            .collect();
        assert_eq!(
            got,
            [
                ("demo-1.0/PKG-INFO", 0o644, 315_532_800),
                ("demo-1.0/bin/tool", 0o755, 315_532_800),
                ("demo-1.0/setup.py", 0o644, 315_532_800),
                ("demo-1.0/src/demo/__init__.py", 0o644, 315_532_800),
            ]
        );
        // An entry outside the top directory is refused.
        let raw = t.path().join("0.tar.gz");
        assert!(sdist(&raw, "other-1.0.tar.gz", 0, Vec::new()).is_err());
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut z = ZipWriter::new(Vec::new(), 0);
        for (p, d) in entries {
            z.append_file(p, 0o644, d).unwrap();
        }
        z.finish().unwrap()
    }

    #[test]
    fn wheel_is_reordered_and_its_record_recomputed_and_checked() {
        let t = tempfile::tempdir().unwrap();
        let meta = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n";
        let good_record = format!(
            "demo-1.0.dist-info/RECORD,,\ndemo/__init__.py,{},2\ndemo-1.0.dist-info/METADATA,{},{}\n",
            record_hash(b"x\n"),
            record_hash(meta),
            meta.len()
        );
        let raw = t.path().join("raw.whl");
        std::fs::write(
            &raw,
            zip_of(&[
                ("demo-1.0.dist-info/RECORD", good_record.as_bytes()),
                ("demo-1.0.dist-info/METADATA", meta),
                ("demo/__init__.py", b"x\n"),
            ]),
        )
        .unwrap();
        let mut out = Vec::new();
        let facts = wheel(&raw, 0, &mut out).unwrap();
        assert_eq!(
            (facts.name.as_str(), facts.version.as_str(), facts.files),
            ("demo", "1.0", 3)
        );
        let entries =
            crate::archive::read::list_zip(std::io::Cursor::new(&out), &Limits::default()).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "demo/__init__.py",
                "demo-1.0.dist-info/METADATA",
                "demo-1.0.dist-info/RECORD"
            ]
        );

        // A RECORD that disagrees with the contents is refused.
        let lying = good_record.replace(",2\n", ",3\n");
        std::fs::write(
            &raw,
            zip_of(&[
                ("demo-1.0.dist-info/RECORD", lying.as_bytes()),
                ("demo-1.0.dist-info/METADATA", meta),
                ("demo/__init__.py", b"x\n"),
            ]),
        )
        .unwrap();
        let err = wheel(&raw, 0, Vec::new()).unwrap_err().to_string();
        assert!(err.contains("demo/__init__.py"), "{err}");
    }
}
