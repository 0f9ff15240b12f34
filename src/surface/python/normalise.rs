//! Normalising what a PEP 517 backend built, without changing any file's
//! content (the exact list of what changes is in `docs/python.md`).
//!
//! - **wheel**: every file entry is kept with its bytes; directory entries
//!   are dropped; entries are ordered by path bytes, the payload first, then
//!   `<dist>.dist-info/` with `RECORD` last; timestamps are
//!   `SOURCE_DATE_EPOCH`, modes 0644 (0755 when owner-executable), deflate
//!   by kiln's zip writer; `RECORD` is rewritten in that order from the
//!   contents. The backend's `RECORD` is checked as the members are read:
//!   every file it lists must exist with the hash and size it states, and
//!   every file must be listed — a wheel whose `RECORD` disagrees with its
//!   contents is refused.
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
//!
//! **Bounds.** The archive comes out of the sandbox, so kiln reads it
//! within [`Caps`], which hold whatever the sandbox's own limits allowed
//! the backend to write: a member's declared size is checked against the
//! caps before a byte of it is decompressed, and no more than the declared
//! size is ever read. A wheel's members are read in sorted order a batch at
//! a time (each member is deflated whole, in memory, so one member at most
//! [`Caps::member`] is held); its `RECORD` and `METADATA` are read whole up
//! to [`Caps::metadata`]. An sdist is one gzip stream, rebuilt in memory:
//! the stream itself is bounded by [`Caps::ratio`] to its compressed size
//! and by [`Caps::total`]. Exceeding a cap is [`PythonError::TooLarge`]
//! (exit 1), naming the archive and the member.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use super::wheel::{csv_field, record_hash};
use super::{io, PythonError};
use crate::archive::tar::{Dialect, TarWriter};
use crate::archive::zip::{deflate_entry, Deflated, ZipWriter};
use crate::hash::Sha256;

/// How much of a backend's archive kiln reads before refusing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caps {
    /// Uncompressed bytes of all members together.
    pub total: u64,
    /// Uncompressed bytes of one member.
    pub member: u64,
    /// Uncompressed bytes per compressed byte, beyond the first
    /// [`RATIO_SLACK`] bytes: of each member of a wheel, of the whole gzip
    /// stream of an sdist.
    pub ratio: u64,
    /// A wheel's `RECORD` and `METADATA`, read whole before its members.
    pub metadata: u64,
}

/// Uncompressed bytes any member may have whatever its compression ratio.
pub(crate) const RATIO_SLACK: u64 = 1 << 20;

/// The caps of a backend's wheel: 8 GiB in all, 2 GiB a member, 250:1,
/// 64 MiB of `RECORD` or `METADATA`.
pub(crate) const WHEEL_CAPS: Caps = Caps {
    total: 8 << 30,
    member: 2 << 30,
    ratio: 250,
    metadata: 64 << 20,
};

/// The caps of a backend's sdist: as a wheel's, but 2 GiB in all, as the
/// sdist is rebuilt in memory (its gzip member is one whole-buffer deflate).
pub(crate) const SDIST_CAPS: Caps = Caps {
    total: 2 << 30,
    ..WHEEL_CAPS
};

/// Uncompressed bytes of wheel members read (and deflated, in parallel)
/// together: a batch closes once it holds this much.
const BATCH: u64 = 256 << 20;

/// What the normalised archive says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    /// `Name:` of its core metadata.
    pub name: String,
    /// `Version:` of its core metadata.
    pub version: String,
    /// Files kept.
    pub files: usize,
    /// The backend's files kept, with the SHA-256 of their contents (a
    /// wheel's recomputed RECORD is not among them).
    pub entries: Vec<(String, Sha256)>,
}

pub(super) fn bad(file: &Path, detail: impl Into<String>) -> PythonError {
    PythonError::Normalise {
        file: file.to_path_buf(),
        detail: detail.into(),
    }
}

fn too_large(archive: &Path, member: &str, detail: String) -> PythonError {
    PythonError::TooLarge {
        archive: archive.to_path_buf(),
        member: member.to_string(),
        detail,
    }
}

/// `Name` and `Version` of core metadata (the headers before the first blank line).
pub(crate) fn name_version(text: &str) -> (Option<String>, Option<String>) {
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

/// `Name` and `Version` of the core metadata file `path` holding `data`.
fn name_and_version(file: &Path, path: &str, data: &[u8]) -> Result<(String, String), PythonError> {
    let text = std::str::from_utf8(data).map_err(|_| bad(file, format!("{path} is not UTF-8")))?;
    match name_version(text) {
        (Some(name), Some(version)) => Ok((name, version)),
        _ => Err(bad(file, format!("{path} lacks Name or Version"))),
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

/// Check a member's declared size (and, for a wheel, its compressed size)
/// against `caps`, and add it to the running `total`.
fn check_caps(
    archive: &Path,
    caps: &Caps,
    path: &str,
    size: u64,
    compressed: Option<u64>,
    total: &mut u64,
) -> Result<(), PythonError> {
    if let Some(c) = compressed {
        if size > c.saturating_mul(caps.ratio).saturating_add(RATIO_SLACK) {
            return Err(too_large(
                archive,
                path,
                format!(
                    "expands from {c} to {size} bytes, more than {}:1 (compression ratio cap)",
                    caps.ratio
                ),
            ));
        }
    }
    if size > caps.member {
        return Err(too_large(
            archive,
            path,
            format!(
                "is {size} bytes uncompressed, more than the {} bytes a member may have",
                caps.member
            ),
        ));
    }
    *total = total.saturating_add(size);
    if *total > caps.total {
        return Err(too_large(
            archive,
            path,
            format!(
                "takes the archive past {} bytes uncompressed (total size cap)",
                caps.total
            ),
        ));
    }
    Ok(())
}

/// Exactly `size` bytes of `r` (never more are read).
fn read_exact_size(
    file: &Path,
    path: &str,
    size: u64,
    r: impl Read,
) -> Result<Vec<u8>, PythonError> {
    let mut data = Vec::with_capacity(size.min(BATCH) as usize);
    r.take(size.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(io(file))?;
    if data.len() as u64 != size {
        return Err(bad(
            file,
            format!("entry {path:?} is not {size} bytes long"),
        ));
    }
    Ok(data)
}

/// One regular file of a backend's wheel, as its central directory declares it.
#[derive(Debug)]
pub(super) struct Planned {
    index: usize,
    pub(super) path: String,
    pub(super) executable: bool,
    pub(super) size: u64,
}

pub(super) type Zip = ::zip::ZipArchive<std::io::BufReader<std::fs::File>>;

/// The wheel's regular files, checked (paths, links, caps) from the
/// central directory alone: nothing is decompressed.
pub(super) fn plan_wheel(
    raw: &Path,
    ar: &mut Zip,
    caps: &Caps,
) -> Result<Vec<Planned>, PythonError> {
    let mut seen = BTreeSet::new();
    let mut planned = Vec::with_capacity(ar.len());
    let mut total = 0u64;
    for i in 0..ar.len() {
        let e = ar
            .by_index_raw(i)
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
        let size = e.size();
        check_caps(
            raw,
            caps,
            &path,
            size,
            Some(e.compressed_size()),
            &mut total,
        )?;
        planned.push(Planned {
            index: i,
            executable: e.unix_mode().is_some_and(|m| m & 0o100 != 0),
            path,
            size,
        });
    }
    Ok(planned)
}

pub(super) fn read_member(raw: &Path, ar: &mut Zip, m: &Planned) -> Result<Vec<u8>, PythonError> {
    let e = ar
        .by_index(m.index)
        .map_err(|e| bad(raw, format!("entry {:?}: {e}", m.path)))?;
    read_exact_size(raw, &m.path, m.size, e)
}

/// The one `.dist-info` directory of the wheel.
pub(super) fn dist_info(raw: &Path, planned: &[Planned]) -> Result<String, PythonError> {
    let dist_infos: BTreeSet<&str> = planned
        .iter()
        .filter_map(|m| m.path.split('/').next())
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    match dist_infos.into_iter().collect::<Vec<_>>()[..] {
        [one] => Ok(one.to_string()),
        ref many => Err(bad(
            raw,
            format!(
                "has {} .dist-info directories ({many:?}); a wheel has one",
                many.len()
            ),
        )),
    }
}

/// A metadata file of the wheel, read whole within [`Caps::metadata`].
pub(super) fn read_small(
    raw: &Path,
    ar: &mut Zip,
    planned: &[Planned],
    path: &str,
    caps: &Caps,
) -> Result<Vec<u8>, PythonError> {
    let m = planned
        .iter()
        .find(|m| m.path == path)
        .ok_or_else(|| bad(raw, format!("has no {path}")))?;
    if m.size > caps.metadata {
        return Err(too_large(
            raw,
            path,
            format!(
                "is {} bytes, more than the {} bytes kiln reads of a metadata file",
                m.size, caps.metadata
            ),
        ));
    }
    read_member(raw, ar, m)
}

/// Consecutive runs of `planned` of about [`BATCH`] bytes each.
fn batches(planned: &[Planned]) -> Vec<&[Planned]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, m) in planned.iter().enumerate() {
        bytes += m.size;
        if bytes >= BATCH {
            out.push(&planned[start..=i]);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < planned.len() {
        out.push(&planned[start..]);
    }
    out
}

/// Read a backend's wheel at `raw`, check it, and write it normalised to `out`.
pub(crate) fn wheel(
    raw: &Path,
    source_date_epoch: i64,
    out: impl Write,
) -> Result<Facts, PythonError> {
    wheel_within(raw, source_date_epoch, out, &WHEEL_CAPS)
}

/// [`wheel`] within `caps`.
pub(crate) fn wheel_within(
    raw: &Path,
    source_date_epoch: i64,
    out: impl Write,
    caps: &Caps,
) -> Result<Facts, PythonError> {
    let (f, _) = crate::fsutil::open_regular(raw).map_err(io(raw))?;
    let mut ar = ::zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| bad(raw, format!("is not a zip archive: {e}")))?;
    let mut planned = plan_wheel(raw, &mut ar, caps)?;
    let dist_info = dist_info(raw, &planned)?;
    let record_path = format!("{dist_info}/RECORD");
    let metadata_path = format!("{dist_info}/METADATA");
    let record = read_small(raw, &mut ar, &planned, &record_path, caps)?;
    let listed = parse_record(raw, &record, &record_path)?;
    let metadata = read_small(raw, &mut ar, &planned, &metadata_path, caps)?;
    let (name, version) = name_and_version(raw, &metadata_path, &metadata)?;
    // The payload, then .dist-info, RECORD last; each by path bytes.
    let in_dist_info = |p: &str| p.starts_with(&format!("{dist_info}/"));
    planned.retain(|m| m.path != record_path);
    planned.sort_by(|a, b| {
        (in_dist_info(&a.path), a.path.as_bytes()).cmp(&(in_dist_info(&b.path), b.path.as_bytes()))
    });
    let zip = ZipWriter::new(out, source_date_epoch.max(0) as u64).with_deflate(super::DEFLATE);
    let mut w = WheelOut {
        raw,
        record_path: &record_path,
        zip,
        lines: String::new(),
        listed,
        entries: Vec::with_capacity(planned.len()),
    };
    for batch in batches(&planned) {
        let data = batch
            .iter()
            .map(|m| read_member(raw, &mut ar, m))
            .collect::<Result<Vec<_>, _>>()?;
        w.append(batch, data)?;
    }
    let entries = w.finish()?;
    Ok(Facts {
        name,
        version,
        files: planned.len() + 1,
        entries,
    })
}

/// The normalised wheel being written, and what is left of the backend's
/// `RECORD` to match.
struct WheelOut<'a, W: Write> {
    raw: &'a Path,
    record_path: &'a str,
    zip: ZipWriter<W>,
    lines: String,
    listed: BTreeMap<String, (String, String)>,
    entries: Vec<(String, Sha256)>,
}

impl<W: Write> WheelOut<'_, W> {
    /// Check a batch against `RECORD`, deflate it in parallel, append it.
    fn append(&mut self, batch: &[Planned], data: Vec<Vec<u8>>) -> Result<(), PythonError> {
        use rayon::prelude::*;
        let done = batch
            .par_iter()
            .zip(&data)
            .map(|(m, d)| {
                let deflated = deflate_entry(super::DEFLATE, &m.path, d)?;
                Ok((record_hash(d), Sha256::digest(d), deflated))
            })
            .collect::<Result<Vec<(String, Sha256, Deflated)>, PythonError>>()?;
        for (m, (hash, sha256, deflated)) in batch.iter().zip(done) {
            self.check_listed(m, &hash)?;
            self.zip
                .append_deflated(&m.path, mode(m.executable), &deflated)?;
            let signature = m.path == format!("{}.jws", self.record_path)
                || m.path == format!("{}.p7s", self.record_path);
            if signature {
                self.lines.push_str(&format!("{},,\n", csv_field(&m.path)));
            } else {
                self.lines
                    .push_str(&format!("{},{hash},{}\n", csv_field(&m.path), m.size));
            }
            self.entries.push((m.path.clone(), sha256));
        }
        Ok(())
    }

    /// The backend's `RECORD` line of `m` must state its hash and size.
    fn check_listed(&mut self, m: &Planned, actual: &str) -> Result<(), PythonError> {
        let record_path = self.record_path;
        let Some((hash, size)) = self.listed.remove(&m.path) else {
            if m.path.ends_with("/RECORD.jws") || m.path.ends_with("/RECORD.p7s") {
                return Ok(());
            }
            return Err(bad(
                self.raw,
                format!("{} is not listed in {record_path}", m.path),
            ));
        };
        if hash.is_empty() {
            return Ok(());
        }
        let size_ok = size.is_empty() || size == m.size.to_string();
        // Only sha256 is compared; other algorithms are rare and checked by size.
        if (hash.starts_with("sha256=") && hash != actual) || !size_ok {
            return Err(bad(
                self.raw,
                format!(
                    "{} has {actual} and {} bytes, but {record_path} says {hash} and {size}",
                    m.path, m.size
                ),
            ));
        }
        Ok(())
    }

    /// Every file `RECORD` lists was seen; write the new `RECORD`.
    fn finish(mut self) -> Result<Vec<(String, Sha256)>, PythonError> {
        self.listed.remove(self.record_path);
        if let Some(missing) = self.listed.keys().next() {
            return Err(bad(
                self.raw,
                format!(
                    "{} lists {missing}, which the wheel does not hold",
                    self.record_path
                ),
            ));
        }
        self.lines
            .push_str(&format!("{},,\n", csv_field(self.record_path)));
        self.zip
            .append_file(self.record_path, 0o644, self.lines.as_bytes())?;
        let mut w = self.zip.finish()?;
        w.flush().map_err(io(self.raw))?;
        Ok(self.entries)
    }
}

fn mode(executable: bool) -> u32 {
    if executable {
        0o755
    } else {
        0o644
    }
}

/// The backend's `RECORD`: path → (hash, size), as written.
pub(super) fn parse_record(
    raw: &Path,
    record: &[u8],
    record_path: &str,
) -> Result<BTreeMap<String, (String, String)>, PythonError> {
    let text =
        std::str::from_utf8(record).map_err(|_| bad(raw, format!("{record_path} is not UTF-8")))?;
    let mut listed = BTreeMap::new();
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
    Ok(listed)
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

/// The decompressed stream of an sdist, failing once more than `limit`
/// bytes have come out of it.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
}

/// The marker error of [`Bounded`].
#[derive(Debug)]
struct PastLimit;

impl std::fmt::Display for PastLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the decompressed stream is past its cap")
    }
}

impl std::error::Error for PastLimit {}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(PastLimit));
        }
        Ok(n)
    }
}

/// What an sdist's gzip stream may expand to: [`Caps::ratio`] times its
/// compressed size (plus [`RATIO_SLACK`]), at most [`Caps::total`] (plus
/// the tar headers of a member that reaches it).
fn stream_limit(caps: &Caps, compressed: u64) -> u64 {
    compressed
        .saturating_mul(caps.ratio)
        .saturating_add(RATIO_SLACK)
        .min(caps.total.saturating_add(RATIO_SLACK))
}

/// An error reading an sdist's stream at `member`: past the cap, or not a
/// tar.gz (`what` says which).
fn stream_error(
    raw: &Path,
    member: &str,
    compressed: u64,
    caps: &Caps,
    e: std::io::Error,
    what: &str,
) -> PythonError {
    if e.get_ref().is_some_and(|i| i.is::<PastLimit>()) {
        return too_large(
            raw,
            member,
            format!(
                "takes the gzip stream past {} bytes uncompressed ({}:1 of its {compressed} bytes, at most {})",
                stream_limit(caps, compressed),
                caps.ratio,
                caps.total
            ),
        );
    }
    bad(raw, format!("{what}: {e}"))
}

/// One regular file of a backend's sdist.
#[derive(Debug)]
struct Member {
    path: String,
    executable: bool,
    data: Vec<u8>,
}

/// Read a backend's sdist at `raw` (named `file_name`), check it, and write
/// it normalised to `out`.
pub(crate) fn sdist(
    raw: &Path,
    file_name: &str,
    source_date_epoch: i64,
    out: impl Write,
) -> Result<Facts, PythonError> {
    sdist_within(raw, file_name, source_date_epoch, out, &SDIST_CAPS)
}

/// [`sdist`] within `caps`.
pub(crate) fn sdist_within(
    raw: &Path,
    file_name: &str,
    source_date_epoch: i64,
    mut out: impl Write,
    caps: &Caps,
) -> Result<Facts, PythonError> {
    let stem = file_name
        .strip_suffix(".tar.gz")
        .ok_or_else(|| bad(raw, format!("{file_name:?} is not a .tar.gz")))?;
    let mut members = read_sdist(raw, stem, caps)?;
    members.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let pkg_info = format!("{stem}/PKG-INFO");
    let m = members
        .iter()
        .find(|m| m.path == pkg_info)
        .ok_or_else(|| bad(raw, format!("has no {pkg_info}")))?;
    let (name, version) = name_and_version(raw, &pkg_info, &m.data)?;
    let mtime = source_date_epoch.max(0) as u64;
    let mut tar = TarWriter::new(Vec::new(), Dialect::Pax);
    for m in &members {
        tar.append_file(&m.path, mode(m.executable), mtime, &m.data)?;
    }
    let bytes = tar.finish()?;
    let gz = super::sdist::gzip(&bytes, source_date_epoch).map_err(io(raw))?;
    out.write_all(&gz).map_err(io(raw))?;
    out.flush().map_err(io(raw))?;
    Ok(Facts {
        name,
        version,
        files: members.len(),
        entries: members
            .iter()
            .map(|m| (m.path.clone(), Sha256::digest(&m.data)))
            .collect(),
    })
}

/// The regular files of the sdist, checked, within `caps`.
fn read_sdist(raw: &Path, stem: &str, caps: &Caps) -> Result<Vec<Member>, PythonError> {
    let (f, meta) = crate::fsutil::open_regular(raw).map_err(io(raw))?;
    let compressed = meta.len();
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f));
    let mut ar = ::tar::Archive::new(Bounded {
        inner: gz,
        read: 0,
        limit: stream_limit(caps, compressed),
    });
    let mut seen = BTreeSet::new();
    let mut members = Vec::new();
    let mut total = 0u64;
    // The member whose header or contents are being read, for messages.
    let mut at = String::from("(the first header)");
    let entries = ar
        .entries()
        .map_err(|e| stream_error(raw, &at, compressed, caps, e, "is not a tar.gz archive"))?;
    for e in entries {
        let e = e.map_err(|e| {
            stream_error(
                raw,
                &at,
                compressed,
                caps,
                e,
                "is not a valid tar.gz archive",
            )
        })?;
        let h = e.header();
        let kind = h.entry_type();
        let raw_path = String::from_utf8(e.path_bytes().into_owned())
            .map_err(|_| bad(raw, "has an entry name that is not UTF-8"))?;
        let path = raw_path
            .strip_prefix("./")
            .unwrap_or(&raw_path)
            .trim_end_matches('/')
            .to_string();
        at = path.clone();
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
        check_caps(raw, caps, &path, size, None, &mut total)?;
        let mut data = Vec::with_capacity(size.min(BATCH) as usize);
        e.take(size.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| {
                stream_error(
                    raw,
                    &path,
                    compressed,
                    caps,
                    e,
                    "is not a valid tar.gz archive",
                )
            })?;
        if data.len() as u64 != size {
            return Err(bad(raw, format!("entry {path:?} is not {size} bytes long")));
        }
        members.push(Member {
            path,
            executable,
            data,
        });
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::read::Limits;

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

    /// Caps small enough for a test: 64 KiB a member, 128 KiB in all, 4:1.
    const SMALL: Caps = Caps {
        total: 128 << 10,
        member: 64 << 10,
        ratio: 4,
        metadata: 1 << 10,
    };

    fn assert_too_large(err: PythonError, member: &str, cap: &str) {
        let text = err.to_string();
        assert!(
            matches!(&err, PythonError::TooLarge { member: m, .. } if m == member),
            "{text}"
        );
        assert!(text.contains("raw") && text.contains(cap), "{text}");
        assert_eq!(
            crate::error::Classify::kind(&err),
            crate::error::ErrorKind::CheckFailed
        );
    }

    #[test]
    fn wheel_members_past_a_cap_are_refused_before_they_are_read() {
        let t = tempfile::tempdir().unwrap();
        let raw = t.path().join("raw.whl");
        let meta = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n";
        // Zeros deflate far beyond 4:1 once past the slack.
        let zeros = vec![0u8; (2 * RATIO_SLACK) as usize];
        let caps = Caps {
            member: 4 << 20,
            total: 8 << 20,
            ..SMALL
        };
        std::fs::write(
            &raw,
            zip_of(&[
                ("demo-1.0.dist-info/METADATA", meta),
                ("demo/zeros.bin", &zeros),
            ]),
        )
        .unwrap();
        let err = wheel_within(&raw, 0, Vec::new(), &caps).unwrap_err();
        assert_too_large(err, "demo/zeros.bin", "compression ratio");
        // Too large a member, whatever its ratio.
        let lenient = Caps {
            ratio: 1 << 20,
            ..SMALL
        };
        let err = wheel_within(&raw, 0, Vec::new(), &lenient).unwrap_err();
        assert_too_large(err, "demo/zeros.bin", "a member may have");
        // Too large a RECORD.
        let record = "x".repeat(2 << 10);
        std::fs::write(
            &raw,
            zip_of(&[("demo-1.0.dist-info/RECORD", record.as_bytes())]),
        )
        .unwrap();
        let err = wheel_within(&raw, 0, Vec::new(), &SMALL).unwrap_err();
        assert_too_large(err, "demo-1.0.dist-info/RECORD", "metadata file");
    }

    #[test]
    fn an_sdist_stream_past_its_ratio_is_refused_naming_the_member() {
        let t = tempfile::tempdir().unwrap();
        let raw = t.path().join("raw.tar.gz");
        let mut tar = TarWriter::new(Vec::new(), Dialect::Pax);
        tar.append_file(
            "demo-1.0/PKG-INFO",
            0o644,
            0,
            b"Name: demo\nVersion: 1.0\n\n",
        )
        .unwrap();
        tar.append_file("demo-1.0/zeros", 0o644, 0, &vec![0u8; 3 << 20])
            .unwrap();
        let gz = crate::archive::compress::gzip(
            &tar.finish().unwrap(),
            &crate::archive::compress::GzipOptions::KILN,
        )
        .unwrap();
        std::fs::write(&raw, gz).unwrap();
        let caps = Caps {
            member: 8 << 20,
            total: 8 << 20,
            ..SMALL
        };
        let err = sdist_within(&raw, "demo-1.0.tar.gz", 0, Vec::new(), &caps).unwrap_err();
        assert_too_large(err, "demo-1.0/zeros", "gzip stream");
        let err = sdist_within(&raw, "demo-1.0.tar.gz", 0, Vec::new(), &SMALL).unwrap_err();
        assert_too_large(err, "demo-1.0/zeros", "a member may have");
        // 3 MiB of zeros is about 1000:1: past the default ratio too.
        let err = sdist(&raw, "demo-1.0.tar.gz", 0, Vec::new()).unwrap_err();
        assert_too_large(err, "demo-1.0/zeros", "250:1");
    }
}
