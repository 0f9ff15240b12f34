//! Recognising an input by its bytes and handing it to its reader; the
//! bounded plumbing every reader shares (decompression with ratio and size
//! caps, capturing entry contents within the memory budget).

use std::cell::Cell;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::model::{Compressed, Entry, Format, Listing, Name};
use super::{hazards, image, input, nar, tar, zip, Cap, DiffError, Limits};

/// Entries up to this size are kept in memory for text diffs.
pub const SMALL: u64 = 1 << 20;

/// What the first bytes of a stream say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    Gzip,
    Zstd,
    Zip,
    Nar,
    Tar,
    Other,
}

impl Sniff {
    pub fn is_container(self) -> bool {
        self != Sniff::Other
    }
}

/// Recognise a stream from its first 512 bytes (or all of it if shorter).
pub fn sniff(b: &[u8]) -> Sniff {
    if b.starts_with(&[0x1f, 0x8b]) {
        Sniff::Gzip
    } else if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Sniff::Zstd
    } else if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        Sniff::Zip
    } else if b.len() >= 21 && b[..8] == 13u64.to_le_bytes() && &b[8..21] == b"nix-archive-1" {
        Sniff::Nar
    } else if is_tar_header(b) {
        Sniff::Tar
    } else {
        Sniff::Other
    }
}

/// Whether `b` starts with a tar header whose checksum is right.
fn is_tar_header(b: &[u8]) -> bool {
    if b.len() < 512 || b[..512].iter().all(|&x| x == 0) {
        return false;
    }
    let field = &b[148..156];
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&c| c == b' ')
        .take_while(|c| (b'0'..=b'7').contains(c))
        .collect();
    let Ok(text) = std::str::from_utf8(&digits) else {
        return false;
    };
    let Ok(stored) = u32::from_str_radix(text, 8) else {
        return false;
    };
    let sum: u32 = b[..512]
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (148..156).contains(&i) {
                32
            } else {
                x as u32
            }
        })
        .sum();
    sum == stored
}

/// Read a file or directory given on the command line ([`input::open_named`]:
/// a FIFO or device is refused, never waited on).
pub fn read_path(path: &Path, limits: &Limits) -> Result<Listing, DiffError> {
    let io = |source| DiffError::Io {
        path: path.to_path_buf(),
        source,
    };
    let at = crate::name::shown(&path.to_string_lossy()).into_owned();
    let (file, meta) = match input::open_named(path).map_err(io)? {
        input::Named::Dir => {
            let layout = std::fs::symlink_metadata(path.join("oci-layout"));
            let mut listing = if layout.is_ok_and(|m| m.is_file()) {
                image::read_oci_dir(path, &at, limits)?
            } else {
                nar::read_dir(path, &at, limits)?
            };
            hazards::scan(&mut listing);
            return Ok(listing);
        }
        input::Named::File(file, meta) => (file, meta),
    };
    if meta.len() > limits.max_total_size {
        return Err(cap(&at, Cap::TotalSize, limits));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limits.max_total_size + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limits.max_total_size {
        return Err(cap(&at, Cap::TotalSize, limits));
    }
    read_bytes(Arc::new(bytes), &at, None, limits, 0)
}

/// Read an artifact held in memory. `name` is its entry name when nested.
pub fn read_bytes(
    raw: Arc<Vec<u8>>,
    at: &str,
    name: Option<&Name>,
    limits: &Limits,
    depth: usize,
) -> Result<Listing, DiffError> {
    let head = &raw[..raw.len().min(512)];
    let mut listing = match sniff(head) {
        Sniff::Gzip => read_gzip(&raw, at, name, limits)?,
        Sniff::Zstd => read_zstd(&raw, at, limits)?,
        Sniff::Zip => zip::read(&raw, at, limits)?,
        Sniff::Nar => nar::read_nar(&raw[..], at, limits)?,
        Sniff::Tar => {
            let budget = Budget::new(limits, raw.len() as u64, Cap::TotalSize, at);
            tar::read(budget.reader(&raw[..]), Format::Tar, at, limits, &budget)?
        }
        Sniff::Other => single(Format::File, name, &raw, limits),
    };
    let _ = depth;
    hazards::scan(&mut listing);
    if matches!(listing.format, Format::Tar | Format::TarGz | Format::TarZst) {
        if let Some(img) = image::from_tar(&listing, at, limits)? {
            listing = img;
        }
    }
    Ok(listing)
}

/// A listing of one non-container stream.
fn single(format: Format, name: Option<&Name>, data: &[u8], limits: &Limits) -> Listing {
    let mut l = Listing::new(format);
    let keep = data.len() as u64 <= SMALL.min(limits.max_retained);
    l.entries.push(Entry {
        name: name.cloned().unwrap_or_else(|| Name::from("(contents)")),
        size: data.len() as u64,
        sha256: Sha256::digest(data).into(),
        data: keep.then(|| Arc::new(data.to_vec())),
        ..Entry::default()
    });
    l
}

/// Parsed fields of a gzip member header; returns them and the header length.
fn gzip_header(raw: &[u8]) -> Option<(Vec<(&'static str, String)>, usize)> {
    if raw.len() < 10 {
        return None;
    }
    let flg = raw[3];
    let mut f = vec![
        ("gzip.method", raw[2].to_string()),
        ("gzip.flags", format!("{flg:#04x}")),
        (
            "gzip.mtime",
            u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]).to_string(),
        ),
        (
            "gzip.xfl",
            match raw[8] {
                2 => "2 (maximum compression)".into(),
                4 => "4 (fastest)".into(),
                x => x.to_string(),
            },
        ),
        ("gzip.os", raw[9].to_string()),
    ];
    let mut at = 10;
    if flg & 4 != 0 {
        let len = u16::from_le_bytes([*raw.get(at)?, *raw.get(at + 1)?]) as usize;
        let extra = raw.get(at + 2..at + 2 + len)?;
        f.push(("gzip.extra", super::model::hex(extra)));
        at += 2 + len;
    }
    for (bit, key) in [(8u8, "gzip.fname"), (16, "gzip.fcomment")] {
        if flg & bit != 0 {
            let end = at + raw.get(at..)?.iter().position(|&b| b == 0)?;
            f.push((key, Name(raw[at..end].to_vec()).to_string()));
            at = end + 1;
        }
    }
    if flg & 2 != 0 {
        at += 2;
    }
    Some((f, at))
}

fn read_gzip(
    raw: &Arc<Vec<u8>>,
    at: &str,
    name: Option<&Name>,
    limits: &Limits,
) -> Result<Listing, DiffError> {
    let (fields, deflate_at) = gzip_header(raw).ok_or_else(|| DiffError::Malformed {
        at: at.into(),
        format: Format::Gzip,
        detail: "truncated gzip header".into(),
    })?;
    let budget = Budget::new(limits, raw.len() as u64, Cap::Ratio, at);
    let (mut listing, inner_sha) = decompressed(
        flate2::read::MultiGzDecoder::new(&raw[..]),
        Format::TarGz,
        Format::Gzip,
        at,
        name,
        limits,
        &budget,
    )?;
    for (k, v) in fields {
        listing.fields.insert(k.into(), v);
    }
    let members = count_gzip_members(raw);
    listing
        .fields
        .insert("gzip.members".into(), members.to_string());
    if members == 1 {
        listing.compressed = Some(Compressed {
            raw: raw.clone(),
            deflate_at,
            inner_sha256: inner_sha,
        });
    }
    Ok(listing)
}

/// Members of a gzip stream (1 for every ordinary file).
fn count_gzip_members(raw: &[u8]) -> usize {
    let mut d = flate2::bufread::GzDecoder::new(raw);
    let mut sink = io::sink();
    if io::copy(&mut d, &mut sink).is_err() {
        return 1;
    }
    let rest = d.into_inner();
    if rest.starts_with(&[0x1f, 0x8b]) {
        2
    } else {
        1
    }
}

fn read_zstd(raw: &[u8], at: &str, limits: &Limits) -> Result<Listing, DiffError> {
    let dec = zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| DiffError::Malformed {
        at: at.into(),
        format: Format::Zstd,
        detail: e.to_string(),
    })?;
    let budget = Budget::new(limits, raw.len() as u64, Cap::Ratio, at);
    let (mut listing, _) =
        decompressed(dec, Format::TarZst, Format::Zstd, at, None, limits, &budget)?;
    if raw.len() > 4 {
        let fhd = raw[4];
        listing
            .fields
            .insert("zstd.frame_header".into(), format!("{fhd:#04x}"));
        listing
            .fields
            .insert("zstd.checksum".into(), (fhd & 4 != 0).to_string());
        listing.fields.insert(
            "zstd.content_size_recorded".into(),
            (fhd >> 6 != 0 || fhd & 0x20 != 0).to_string(),
        );
    }
    Ok(listing)
}

/// Read a decompressed stream: a tar (`tar_format`) or a single file.
fn decompressed(
    r: impl Read,
    tar_format: Format,
    plain: Format,
    at: &str,
    name: Option<&Name>,
    limits: &Limits,
    budget: &Budget,
) -> Result<(Listing, [u8; 32]), DiffError> {
    let hasher = Rc::new(std::cell::RefCell::new(Sha256::new()));
    let mut r = Hashing {
        inner: budget.reader(r),
        hasher: hasher.clone(),
    };
    let mut head = Vec::with_capacity(512);
    (&mut r)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| budget.error(e, plain))?;
    let listing = if sniff(&head) == Sniff::Tar {
        let mut l = tar::read(
            io::Cursor::new(head).chain(&mut r),
            tar_format,
            at,
            limits,
            budget,
        )?;
        // trailing bytes after the end-of-archive blocks still count
        io::copy(&mut r, &mut io::sink()).map_err(|e| budget.error(e, plain))?;
        l.format = tar_format;
        l
    } else {
        let mut rest = head;
        r.read_to_end(&mut rest)
            .map_err(|e| budget.error(e, plain))?;
        single(plain, name, &rest, limits)
    };
    let sha = hasher.borrow().clone().finalize().into();
    Ok((listing, sha))
}

struct Hashing<R> {
    inner: R,
    hasher: Rc<std::cell::RefCell<Sha256>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

/// The byte budget of one container: how much may be read, which cap that
/// is, and whether it was hit (readers such as `tar` may wrap the error).
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    cap: Cap,
    hit: Rc<Cell<Option<Cap>>>,
    at: String,
    limits: Limits,
}

impl Budget {
    /// Budget for decompressing `compressed_len` bytes: the ratio cap (plus
    /// 1 MiB) or the total size cap, whichever is smaller.
    pub fn new(limits: &Limits, compressed_len: u64, ratio_cap: Cap, at: &str) -> Self {
        let by_ratio = compressed_len
            .saturating_mul(limits.max_ratio)
            .saturating_add(1 << 20);
        let (limit, cap) = if ratio_cap == Cap::Ratio && by_ratio < limits.max_total_size {
            (by_ratio, Cap::Ratio)
        } else {
            (limits.max_total_size, Cap::TotalSize)
        };
        Budget {
            limit,
            cap,
            hit: Rc::new(Cell::new(None)),
            at: at.into(),
            limits: *limits,
        }
    }

    pub fn reader<R: Read>(&self, inner: R) -> CapReader<R> {
        CapReader {
            inner,
            read: 0,
            limit: self.limit,
            cap: self.cap,
            hit: self.hit.clone(),
        }
    }

    /// The error to report for `e`, preferring a cap that was hit.
    pub fn error(&self, e: io::Error, format: Format) -> DiffError {
        if let Some(c) = self.hit.get() {
            return cap(&self.at, c, &self.limits);
        }
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<CapHit>()) {
            return cap(&self.at, inner.0, &self.limits);
        }
        DiffError::Malformed {
            at: self.at.clone(),
            format,
            detail: e.to_string(),
        }
    }

    /// The cap hit so far, if any.
    pub fn hit(&self) -> Option<Cap> {
        self.hit.get()
    }
}

/// Counts bytes and fails past the budget.
#[derive(Debug)]
pub struct CapReader<R> {
    inner: R,
    read: u64,
    limit: u64,
    cap: Cap,
    hit: Rc<Cell<Option<Cap>>>,
}

impl<R: Read> Read for CapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.hit.set(Some(self.cap));
            return Err(io::Error::other(CapHit(self.cap)));
        }
        Ok(n)
    }
}

#[derive(Debug)]
pub struct CapHit(pub Cap);
impl std::fmt::Display for CapHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cap exceeded", self.0)
    }
}
impl std::error::Error for CapHit {}

pub fn cap(at: &str, cap: Cap, limits: &Limits) -> DiffError {
    DiffError::Cap {
        at: at.into(),
        cap,
        limit: cap.limit(limits),
    }
}

/// What [`capture`] learned of one entry's contents.
#[derive(Debug)]
pub struct Captured {
    pub size: u64,
    pub sha256: [u8; 32],
    /// The bytes, when small or itself a container and within the budget.
    pub data: Option<Arc<Vec<u8>>>,
    /// The bytes would have been kept but the memory budget
    /// (`--max-retained`) did not allow it: compared by digest only.
    pub over_budget: bool,
}

/// Contents of one entry: size, SHA-256 and, when small or itself a
/// container, the bytes, charged to `retained` while they fit in
/// `limits.max_retained` (the budget left to this container: see
/// [`super::compare`]). Bytes that do not fit are let go as they arrive,
/// never held beyond the budget; the entry is then marked `over_budget`.
pub fn capture(r: &mut dyn Read, limits: &Limits, retained: &mut u64) -> io::Result<Captured> {
    let mut head = Vec::with_capacity(512);
    r.take(512).read_to_end(&mut head)?;
    let mut h = Sha256::new();
    h.update(&head);
    let keep = head.len() < 512 || sniff(&head).is_container();
    let fits = |held: u64, retained: u64| retained.saturating_add(held) <= limits.max_retained;
    let mut over_budget = false;
    let mut total = head.len() as u64;
    let mut data = if fits(total, *retained) {
        Some(head)
    } else {
        over_budget = true;
        None
    };
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limits.max_entry_size {
            return Err(io::Error::other(CapHit(Cap::EntrySize)));
        }
        h.update(&buf[..n]);
        if let Some(d) = &mut data {
            if !(keep || total <= SMALL) {
                data = None;
            } else if fits(total, *retained) {
                d.extend_from_slice(&buf[..n]);
            } else {
                data = None;
                over_budget = true;
            }
        }
    }
    if let Some(d) = &data {
        *retained += d.len() as u64;
    }
    Ok(Captured {
        size: total,
        sha256: h.finalize().into(),
        data: data.map(Arc::new),
        // a large plain file is never kept, budget or not
        over_budget: over_budget && (keep || total <= SMALL),
    })
}
