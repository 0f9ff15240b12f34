//! Recognising an input by its bytes and handing it to its reader; the
//! bounded plumbing every reader shares (decompression with ratio and size
//! caps, capturing entry contents within the memory budget).

use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::budget::{cap, Budget, Cap, DiffError, Limits, SMALL};
use super::model::{Compressed, Entry, Format, Listing, Name};
use super::sniff::{sniff, Sniff};
use super::{hazards, image, input, nar, tar, zip};

/// Read a file or directory given on the command line ([`input::open_named`]:
/// a FIFO or device is refused, never waited on).
pub(crate) fn read_path(path: &Path, limits: &Limits) -> Result<Listing, DiffError> {
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
pub(crate) fn read_bytes(
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
