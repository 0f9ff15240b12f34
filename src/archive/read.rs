//! Bounded archive readers for `kiln diff` and `kiln verify`.
//!
//! Each reader lists every entry with its metadata and the SHA-256 of its
//! contents, and refuses hostile input with a typed [`ReadError`] instead of
//! trusting it:
//!
//! - entry paths that are absolute, contain `..` or NUL, or are empty;
//! - symlink or hardlink targets that leave the archive root;
//! - more than [`Limits::max_entries`] entries;
//! - more than [`Limits::max_total_size`] bytes of decompressed stream
//!   (decompression bombs), or an entry larger than [`Limits::max_entry_size`];
//! - a GNU long name or long link, or a pax extended header, of more than
//!   [`MAX_EXTENSION_BYTES`] (each is held whole in memory).
//!
//! A leading `./` is dropped and directory names lose their trailing `/`.
//!
//! ```
//! use kiln::archive::{read, tar::{Dialect, TarWriter}};
//! let mut t = TarWriter::new(Vec::new(), Dialect::Pax);
//! t.append_file("a.txt", 0o644, 0, b"hi").unwrap();
//! let entries = read::list_tar(&t.finish().unwrap()[..], &read::Limits::default()).unwrap();
//! assert_eq!(entries[0].path, "a.txt");
//! assert_eq!(entries[0].size, 2);
//! ```

use std::io::{self, Read, Seek};

use sha2::{Digest, Sha256};

/// Resource limits for reading one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of entries.
    pub max_entries: usize,
    /// Maximum decompressed bytes read (tar stream or sum of zip contents).
    pub max_total_size: u64,
    /// Maximum size of one entry's contents.
    pub max_entry_size: u64,
}

impl Default for Limits {
    /// 1 000 000 entries, 16 GiB in total, 8 GiB per entry.
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_total_size: 16 << 30,
            max_entry_size: 8 << 30,
        }
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink {
        target: String,
    },
    Hardlink {
        target: String,
    },
    /// Any other tar type flag (devices, FIFOs, …).
    Other(u8),
}

/// One listed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits (and setuid/setgid/sticky), without file type bits.
    pub mode: u32,
    pub size: u64,
    /// Seconds since the epoch (zip: DOS time read as UTC).
    pub mtime: u64,
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    /// SHA-256 of the contents (of the target for zip symlinks).
    pub sha256: [u8; 32],
}

/// Errors from the readers.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading archive")]
    Io(#[source] io::Error),
    #[error("malformed archive: {detail}")]
    Malformed { detail: String },
    #[error("archive entry {path:?} is unsafe: {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("archive link {path:?} -> {target:?} points outside the archive")]
    UnsafeLink { path: String, target: String },
    #[error("archive has more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error("archive expands beyond {limit} bytes (possible decompression bomb)")]
    TooLarge { limit: u64 },
    #[error("archive entry {path:?} is larger than {limit} bytes")]
    EntryTooLarge { path: String, limit: u64 },
    #[error("the {what} header at byte {offset} declares {size} bytes (at most {limit} are read)", limit = MAX_EXTENSION_BYTES)]
    ExtensionTooLarge {
        what: &'static str,
        offset: u64,
        size: u64,
    },
}

impl crate::error::Classify for ReadError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            ReadError::Io(_) => crate::error::ErrorKind::Internal,
            _ => crate::error::ErrorKind::BadInput,
        }
    }
}

/// Counts bytes and fails once more than `limit` have been read.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(BombMarker));
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct BombMarker;
impl std::fmt::Display for BombMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("size limit exceeded")
    }
}
impl std::error::Error for BombMarker {}

fn io_error(e: io::Error, limits: &Limits) -> ReadError {
    if e.get_ref().is_some_and(|i| i.is::<BombMarker>()) {
        ReadError::TooLarge {
            limit: limits.max_total_size,
        }
    } else if e.kind() == io::ErrorKind::InvalidData || e.kind() == io::ErrorKind::UnexpectedEof {
        ReadError::Malformed {
            detail: e.to_string(),
        }
    } else {
        ReadError::Io(e)
    }
}

/// The most bytes of a GNU long name (`L`), GNU long link (`K`) or pax
/// extended header (`x`) read: the `tar` crate holds each whole in memory
/// before the entry it describes, so a larger one is refused
/// ([`ReadError::ExtensionTooLarge`]) before it is read.
pub const MAX_EXTENSION_BYTES: u64 = 64 << 10;

/// What [`ExtensionGuard`] and the walk share: the stream position, the
/// offset of the next header to inspect (while armed) and a refusal.
#[derive(Debug, Default)]
struct GuardState {
    pos: std::cell::Cell<u64>,
    next: std::cell::Cell<Option<u64>>,
    refused: std::cell::Cell<Option<(&'static str, u64, u64)>>,
}

impl GuardState {
    /// The next header starts at the next block boundary: call when the
    /// previous entry's data has been read to its end.
    fn arm(&self) {
        self.next.set(Some(self.pos.get().div_ceil(512) * 512));
    }

    fn refusal(&self) -> Option<ReadError> {
        self.refused
            .get()
            .map(|(what, offset, size)| ReadError::ExtensionTooLarge { what, offset, size })
    }
}

/// Watches the headers of a tar stream as they pass: while armed, the
/// header at the expected offset is parsed, and a GNU long name, long link
/// or pax extended header declaring more than [`MAX_EXTENSION_BYTES`]
/// fails the read. Consecutive extension headers are followed; the first
/// other header disarms it until the walk has read that entry's data.
struct ExtensionGuard<R> {
    inner: R,
    state: std::rc::Rc<GuardState>,
    header: Vec<u8>,
}

impl<R> ExtensionGuard<R> {
    /// Look at the bytes `buf`, which start at stream offset `start`.
    fn watch(&mut self, start: u64, buf: &[u8]) -> io::Result<()> {
        let end = start + buf.len() as u64;
        while let Some(at) = self.state.next.get() {
            let want = at + self.header.len() as u64;
            if want >= end || want < start {
                return Ok(());
            }
            let from = (want - start) as usize;
            let take = (512 - self.header.len()).min(buf.len() - from);
            self.header.extend_from_slice(&buf[from..from + take]);
            if self.header.len() < 512 {
                return Ok(());
            }
            let h = std::mem::take(&mut self.header);
            self.state.next.set(None);
            if let Some((what, size)) = extension_header(&h) {
                if size > MAX_EXTENSION_BYTES {
                    self.state.refused.set(Some((what, at, size)));
                    return Err(io::Error::other(format!("{what} header of {size} bytes")));
                }
                self.state
                    .next
                    .set(Some(at + 512 + size.div_ceil(512) * 512));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for ExtensionGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = self.state.pos.get();
        self.state.pos.set(start + n as u64);
        self.watch(start, &buf[..n])?;
        Ok(n)
    }
}

/// For a ustar or GNU header of type `L`, `K` or `x`, what it is and the
/// size it declares (octal or base-256).
fn extension_header(h: &[u8]) -> Option<(&'static str, u64)> {
    let recognised = &h[257..263] == b"ustar\0" || &h[257..265] == b"ustar  \0";
    let what = match h[156] {
        b'L' => "GNU long name",
        b'K' => "GNU long link",
        b'x' => "pax extended",
        _ => return None,
    };
    if !recognised {
        return None;
    }
    let field = &h[124..136];
    let size = if field[0] & 0x80 != 0 {
        field[1..]
            .iter()
            .fold(0u64, |a, &b| a.saturating_mul(256).saturating_add(b as u64))
    } else {
        let digits: Vec<u8> = field
            .iter()
            .copied()
            .skip_while(|&c| c == b' ')
            .take_while(|c| (b'0'..=b'7').contains(c))
            .collect();
        u64::from_str_radix(std::str::from_utf8(&digits).ok()?, 8).unwrap_or(0)
    };
    Some((what, size))
}

/// Normalise and check an entry path.
fn clean_path(raw: &[u8]) -> Result<String, ReadError> {
    let s = String::from_utf8_lossy(raw).into_owned();
    let bad = |reason| {
        Err(ReadError::UnsafePath {
            path: s.clone(),
            reason,
        })
    };
    if s.starts_with('/') || s.starts_with('\\') || s.as_bytes().get(1) == Some(&b':') {
        return bad("absolute path");
    }
    let mut p = s.as_str();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    let p = p.trim_end_matches('/');
    if p.is_empty() || p == "." {
        return Ok(String::new());
    }
    if p.split(['/', '\\']).any(|c| c == "..") {
        return bad("`..` component");
    }
    if p.contains('\0') {
        return bad("NUL byte");
    }
    Ok(p.to_string())
}

/// Whether `target`, relative to the directory of `path`, stays inside the root.
fn link_stays_inside(path: &str, target: &str, relative_to_dir: bool) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth: i64 = if relative_to_dir {
        path.split('/').count() as i64 - 1
    } else {
        0
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => depth += 1,
        }
    }
    true
}

fn hash_limited(
    mut r: impl Read,
    path: &str,
    limits: &Limits,
) -> Result<(u64, [u8; 32]), ReadError> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).map_err(|e| io_error(e, limits))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limits.max_entry_size {
            return Err(ReadError::EntryTooLarge {
                path: path.to_string(),
                limit: limits.max_entry_size,
            });
        }
        h.update(&buf[..n]);
    }
    Ok((total, h.finalize().into()))
}

/// List an uncompressed tar stream.
pub fn list_tar(r: impl Read, limits: &Limits) -> Result<Vec<ArchiveEntry>, ReadError> {
    let state = std::rc::Rc::new(GuardState::default());
    let bounded = Bounded {
        inner: ExtensionGuard {
            inner: r,
            state: state.clone(),
            header: Vec::new(),
        },
        read: 0,
        limit: limits.max_total_size,
    };
    let mut ar = ::tar::Archive::new(bounded);
    let mut out = Vec::new();
    let failed = |e: io::Error| state.refusal().unwrap_or_else(|| io_error(e, limits));
    let entries = ar.entries().map_err(failed)?;
    state.arm();
    for entry in entries {
        let mut entry = entry.map_err(failed)?;
        if out.len() >= limits.max_entries {
            return Err(ReadError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let path = clean_path(&entry.path_bytes())?;
        let h = entry.header();
        let flag = h.entry_type().as_byte();
        let mode = h.mode().map_err(|e| io_error(e, limits))? & 0o7777;
        // node-tar leaves uid/gid (and directory mtimes) empty: read as 0
        let old = h.as_old();
        let num = |r: io::Result<u64>, raw: &[u8]| match r {
            Err(_) if raw.iter().all(|&b| b == 0) => Ok(0),
            r => r.map_err(|e| io_error(e, limits)),
        };
        let mtime = num(h.mtime(), &old.mtime)?;
        let uid = num(h.uid(), &old.uid)?;
        let gid = num(h.gid(), &old.gid)?;
        let uname = String::from_utf8_lossy(h.username_bytes().unwrap_or_default()).into_owned();
        let gname = String::from_utf8_lossy(h.groupname_bytes().unwrap_or_default()).into_owned();
        let link = entry
            .link_name_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let kind = match flag {
            b'0' | 0 | b'7' => EntryKind::File,
            b'5' => EntryKind::Dir,
            b'2' => {
                let target = link.unwrap_or_default();
                if !link_stays_inside(&path, &target, true) {
                    return Err(ReadError::UnsafeLink { path, target });
                }
                EntryKind::Symlink { target }
            }
            b'1' => {
                let target = clean_path(link.unwrap_or_default().as_bytes())?;
                EntryKind::Hardlink { target }
            }
            other => EntryKind::Other(other),
        };
        if path.is_empty() && kind != EntryKind::Dir {
            return Err(ReadError::UnsafePath {
                path,
                reason: "empty path",
            });
        }
        let (size, sha256) = hash_limited(&mut entry, &path, limits)?;
        state.arm();
        out.push(ArchiveEntry {
            path,
            kind,
            mode,
            size,
            mtime,
            uid,
            gid,
            uname,
            gname,
            sha256,
        });
    }
    Ok(out)
}

/// List a gzip-compressed tar stream (all gzip members).
pub fn list_tar_gz(r: impl Read, limits: &Limits) -> Result<Vec<ArchiveEntry>, ReadError> {
    list_tar(flate2::read::MultiGzDecoder::new(r), limits)
}

/// List a zstd-compressed tar stream.
pub fn list_tar_zst(r: impl Read, limits: &Limits) -> Result<Vec<ArchiveEntry>, ReadError> {
    let dec = zstd::stream::read::Decoder::new(r).map_err(|e| io_error(e, limits))?;
    list_tar(dec, limits)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// List a zip archive.
pub fn list_zip(r: impl Read + Seek, limits: &Limits) -> Result<Vec<ArchiveEntry>, ReadError> {
    let zerr = |e: ::zip::result::ZipError| match e {
        ::zip::result::ZipError::Io(e) => io_error(e, limits),
        other => ReadError::Malformed {
            detail: other.to_string(),
        },
    };
    let mut ar = ::zip::ZipArchive::new(r).map_err(zerr)?;
    if ar.len() > limits.max_entries {
        return Err(ReadError::TooManyEntries {
            limit: limits.max_entries,
        });
    }
    let mut out = Vec::with_capacity(ar.len());
    let mut total = 0u64;
    for i in 0..ar.len() {
        let f = ar.by_index(i).map_err(zerr)?;
        let raw_name = f.name_raw().to_vec();
        let path = clean_path(&raw_name)?;
        let unix = f.unix_mode();
        let is_dir = f.is_dir();
        let is_link = f.is_symlink();
        let mtime = f
            .last_modified()
            .map(|t| {
                let days = days_from_civil(t.year() as i64, t.month() as u32, t.day() as u32);
                (days * 86_400
                    + t.hour() as i64 * 3600
                    + t.minute() as i64 * 60
                    + t.second() as i64)
                    .max(0) as u64
            })
            .unwrap_or(0);
        if f.size() > limits.max_entry_size {
            return Err(ReadError::EntryTooLarge {
                path,
                limit: limits.max_entry_size,
            });
        }
        let remaining = limits.max_total_size.saturating_sub(total);
        let bounded = Bounded {
            inner: f,
            read: 0,
            limit: remaining,
        };
        let mut contents = Vec::new();
        let (size, sha256) = if is_link {
            let mut b = bounded;
            b.read_to_end(&mut contents)
                .map_err(|e| io_error(e, limits))?;
            let mut h = Sha256::new();
            h.update(&contents);
            (contents.len() as u64, h.finalize().into())
        } else {
            hash_limited(bounded, &path, limits)?
        };
        total += size;
        let kind = if is_dir {
            EntryKind::Dir
        } else if is_link {
            let target = String::from_utf8_lossy(&contents).into_owned();
            if !link_stays_inside(&path, &target, true) {
                return Err(ReadError::UnsafeLink { path, target });
            }
            EntryKind::Symlink { target }
        } else {
            EntryKind::File
        };
        if path.is_empty() {
            return Err(ReadError::UnsafePath {
                path,
                reason: "empty path",
            });
        }
        out.push(ArchiveEntry {
            path,
            kind,
            mode: unix.unwrap_or(0) & 0o7777,
            size,
            mtime,
            uid: 0,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
            sha256,
        });
    }
    Ok(out)
}

/// One tar header as stored, nothing cleaned or checked: the entry name and
/// link target are the raw bytes (after GNU long-name and pax records), for
/// callers such as `kiln diff` that report hostile names instead of refusing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTarHeader {
    pub path: Vec<u8>,
    /// The type flag byte (`b'0'`, `b'5'`, `b'2'`, …).
    pub flag: u8,
    pub link: Option<Vec<u8>>,
    /// Mode bits as stored (permission bits and setuid/setgid/sticky).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    /// Declared size of the contents.
    pub size: u64,
    /// `"ustar"`, `"gnu"` or `"v7"`.
    pub format: &'static str,
    /// pax extended header records, in order (`path`, `mtime`, …).
    pub pax: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Walk an uncompressed tar stream with the limits of [`list_tar`] (entry
/// count, total stream size) but without judging names: `visit` gets each
/// raw header and a reader of its contents (at most
/// [`Limits::max_entry_size`] bytes are accepted per entry).
pub fn visit_tar_raw<E: From<ReadError>>(
    r: impl Read,
    limits: &Limits,
    mut visit: impl FnMut(RawTarHeader, &mut dyn Read) -> Result<(), E>,
) -> Result<(), E> {
    let state = std::rc::Rc::new(GuardState::default());
    let bounded = Bounded {
        inner: ExtensionGuard {
            inner: r,
            state: state.clone(),
            header: Vec::new(),
        },
        read: 0,
        limit: limits.max_total_size,
    };
    let mut ar = ::tar::Archive::new(bounded);
    let failed = |e: io::Error| state.refusal().unwrap_or_else(|| io_error(e, limits));
    let entries = ar.entries().map_err(failed)?;
    let mut count = 0usize;
    state.arm();
    for entry in entries {
        let mut entry = entry.map_err(failed)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ReadError::TooManyEntries {
                limit: limits.max_entries,
            }
            .into());
        }
        let num = |r: io::Result<u64>, raw: &[u8]| match r {
            Err(_) if raw.iter().all(|&b| b == 0) => Ok(0),
            r => r.map_err(|e| io_error(e, limits)),
        };
        let h = entry.header();
        let format = if h.as_ustar().is_some() {
            "ustar"
        } else if h.as_gnu().is_some() {
            "gnu"
        } else {
            "v7"
        };
        let mut pax = Vec::new();
        if let Some(exts) = entry.pax_extensions().map_err(|e| io_error(e, limits))? {
            for ext in exts {
                let ext = ext.map_err(|e| io_error(e, limits))?;
                pax.push((ext.key_bytes().to_vec(), ext.value_bytes().to_vec()));
            }
        }
        let h = entry.header();
        let old = h.as_old();
        let raw = RawTarHeader {
            pax,
            path: entry.path_bytes().into_owned(),
            flag: h.entry_type().as_byte(),
            link: entry.link_name_bytes().map(|b| b.into_owned()),
            mode: num(h.mode().map(u64::from), &old.mode)? as u32 & 0o7777,
            uid: num(h.uid(), &old.uid)?,
            gid: num(h.gid(), &old.gid)?,
            mtime: num(h.mtime(), &old.mtime)?,
            uname: h.username_bytes().unwrap_or_default().to_vec(),
            gname: h.groupname_bytes().unwrap_or_default().to_vec(),
            size: entry.size(),
            format,
        };
        if raw.size > limits.max_entry_size {
            return Err(ReadError::EntryTooLarge {
                path: String::from_utf8_lossy(&raw.path).into_owned(),
                limit: limits.max_entry_size,
            }
            .into());
        }
        let mut guarded = IoErrors {
            inner: &mut entry,
            limits,
        };
        visit(raw, &mut guarded)?;
        // What the visitor left is read here, so that the next header
        // starts at the next block boundary (as the `tar` crate skips it).
        io::copy(&mut entry, &mut io::sink()).map_err(failed)?;
        state.arm();
    }
    Ok(())
}

/// Turns the size-limit marker inside an I/O error into a readable message
/// for callers that only see `io::Error`.
struct IoErrors<'a, R> {
    inner: R,
    limits: &'a Limits,
}

impl<R: Read> Read for IoErrors<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.get_ref().is_some_and(|i| i.is::<BombMarker>()) {
                io::Error::other(ReadError::TooLarge {
                    limit: self.limits.max_total_size,
                })
            } else {
                e
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_containment() {
        assert!(link_stays_inside("a/b", "c", true));
        assert!(link_stays_inside("a/b", "../c", true));
        assert!(!link_stays_inside("a/b", "../../c", true));
        assert!(!link_stays_inside("a", "/etc/passwd", true));
    }

    #[test]
    fn civil_roundtrip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1980, 1, 1) * 86_400, 315_532_800);
    }
}
