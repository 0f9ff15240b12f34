//! zip archives (wheels, jars, plain zips) parsed from both the central
//! directory and each local header, so that extra fields and any
//! disagreement between the two headers — a classic way to show one file
//! to one tool and another to the next — can be reported.
//!
//! Stored and deflated entries are decompressed (bounded by the entry-size,
//! total-size and ratio caps); other methods are compared by their
//! compressed bytes. Entries whose data overlap (the "zip bomb with
//! overlapping files" construction) are reported.

use std::io::Read;

use sha2::{Digest, Sha256};

use super::budget::{cap, capture, Cap, CapHit, DiffError, Limits, SMALL};
use super::model::{hex, Entry, Format, Hazard, Kind, Listing, Name};

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64le(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// One central directory record.
#[derive(Debug)]
struct Central {
    made_by: u16,
    needed: u16,
    flags: u16,
    method: u16,
    time: u16,
    date: u16,
    crc: u32,
    csize: u64,
    usize_: u64,
    name: Vec<u8>,
    extra: Vec<u8>,
    comment: Vec<u8>,
    internal: u16,
    external: u32,
    offset: u64,
}

fn malformed(at: &str, detail: impl Into<String>) -> DiffError {
    DiffError::Malformed {
        at: at.into(),
        format: Format::Zip,
        detail: detail.into(),
    }
}

/// Names of the extra field ids seen in practice.
fn extra_name(id: u16) -> &'static str {
    match id {
        0x0001 => "zip64",
        0x000a => "ntfs times",
        0x5455 => "extended timestamp",
        0x5855 => "info-zip unix (old)",
        0x7855 => "info-zip unix uid/gid",
        0x7875 => "info-zip unix uid/gid v3",
        0x7075 => "unicode path",
        0xcafe => "jar marker",
        0xd935 => "android alignment",
        _ => "unknown",
    }
}

/// `id (name) hex; …` for an extra field block.
fn describe_extra(b: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= b.len() {
        let id = u16le(b, i).unwrap_or(0);
        let len = u16le(b, i + 2).unwrap_or(0) as usize;
        let data = &b[i + 4..(i + 4 + len).min(b.len())];
        out.push(format!("{id:#06x} ({}) {}", extra_name(id), hex(data)));
        i += 4 + len;
    }
    if i < b.len() {
        out.push(format!("trailing {}", hex(&b[i..])));
    }
    out.join("; ")
}

/// Zip64 values for the fields that are saturated in the record.
fn zip64(extra: &[u8], c: &mut Central) {
    let mut i = 0;
    while i + 4 <= extra.len() {
        let id = u16le(extra, i).unwrap_or(0);
        let len = u16le(extra, i + 2).unwrap_or(0) as usize;
        if id == 1 {
            let mut p = i + 4;
            let end = (i + 4 + len).min(extra.len());
            if c.usize_ == 0xffff_ffff && p + 8 <= end {
                c.usize_ = u64le(extra, p).unwrap_or(0);
                p += 8;
            }
            if c.csize == 0xffff_ffff && p + 8 <= end {
                c.csize = u64le(extra, p).unwrap_or(0);
                p += 8;
            }
            if c.offset == 0xffff_ffff && p + 8 <= end {
                c.offset = u64le(extra, p).unwrap_or(0);
            }
        }
        i += 4 + len;
    }
}

/// DOS date and time as seconds since the epoch (read as UTC).
fn dos_time(date: u16, time: u16) -> i64 {
    let y = 1980 + (date >> 9) as i64;
    let m = ((date >> 5) & 15).clamp(1, 12) as u32;
    let d = (date & 31).max(1) as u32;
    let days = crate::archive::read::days_from_civil(y, m, d);
    days * 86_400
        + (time >> 11) as i64 * 3600
        + ((time >> 5) & 63) as i64 * 60
        + (time & 31) as i64 * 2
}

/// Find the end of central directory; returns (entry count, cd offset, cd size, comment, zip64).
fn eocd(b: &[u8], at: &str) -> Result<(u64, u64, u64, Vec<u8>, bool), DiffError> {
    let lo = b.len().saturating_sub(22 + 65_535);
    let pos = (lo..=b.len().saturating_sub(22))
        .rev()
        .find(|&i| b[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(|| malformed(at, "no end of central directory record"))?;
    let count = u16le(b, pos + 10).unwrap_or(0) as u64;
    let size = u32le(b, pos + 12).unwrap_or(0) as u64;
    let offset = u32le(b, pos + 16).unwrap_or(0) as u64;
    let clen = u16le(b, pos + 20).unwrap_or(0) as usize;
    // A record cut short (fewer than 22 bytes left) has no comment.
    let rest = b.get(pos + 22..).unwrap_or_default();
    let comment = rest[..clen.min(rest.len())].to_vec();
    if (count == 0xffff || offset == 0xffff_ffff || size == 0xffff_ffff)
        && pos >= 20
        && b[pos - 20..].starts_with(b"PK\x06\x07")
    {
        let z = u64le(b, pos - 20 + 8).unwrap_or(u64::MAX) as usize;
        if b.get(z..).is_some_and(|s| s.starts_with(b"PK\x06\x06")) {
            let count = u64le(b, z + 32).unwrap_or(0);
            let size = u64le(b, z + 40).unwrap_or(0);
            let offset = u64le(b, z + 48).unwrap_or(0);
            return Ok((count, offset, size, comment, true));
        }
        return Err(malformed(at, "zip64 locator points at no zip64 record"));
    }
    Ok((count, offset, size, comment, false))
}

fn central_records(
    b: &[u8],
    at: &str,
    count: u64,
    offset: u64,
    limits: &Limits,
) -> Result<Vec<Central>, DiffError> {
    if count > limits.max_entries as u64 {
        return Err(cap(at, Cap::Entries, limits));
    }
    let mut out = Vec::with_capacity(count as usize);
    let mut p = usize::try_from(offset).map_err(|_| malformed(at, "central directory offset"))?;
    for i in 0..count {
        let bad = || {
            malformed(
                at,
                format!("central directory record {i} is truncated or corrupt"),
            )
        };
        if !b.get(p..).is_some_and(|s| s.starts_with(b"PK\x01\x02")) {
            return Err(bad());
        }
        let nlen = u16le(b, p + 28).ok_or_else(bad)? as usize;
        let elen = u16le(b, p + 30).ok_or_else(bad)? as usize;
        let clen = u16le(b, p + 32).ok_or_else(bad)? as usize;
        let name = b.get(p + 46..p + 46 + nlen).ok_or_else(bad)?.to_vec();
        let extra = b
            .get(p + 46 + nlen..p + 46 + nlen + elen)
            .ok_or_else(bad)?
            .to_vec();
        let comment = b
            .get(p + 46 + nlen + elen..p + 46 + nlen + elen + clen)
            .ok_or_else(bad)?
            .to_vec();
        let mut c = Central {
            made_by: u16le(b, p + 4).ok_or_else(bad)?,
            needed: u16le(b, p + 6).ok_or_else(bad)?,
            flags: u16le(b, p + 8).ok_or_else(bad)?,
            method: u16le(b, p + 10).ok_or_else(bad)?,
            time: u16le(b, p + 12).ok_or_else(bad)?,
            date: u16le(b, p + 14).ok_or_else(bad)?,
            crc: u32le(b, p + 16).ok_or_else(bad)?,
            csize: u32le(b, p + 20).ok_or_else(bad)? as u64,
            usize_: u32le(b, p + 24).ok_or_else(bad)? as u64,
            internal: u16le(b, p + 36).ok_or_else(bad)?,
            external: u32le(b, p + 38).ok_or_else(bad)?,
            offset: u32le(b, p + 42).ok_or_else(bad)? as u64,
            name,
            extra,
            comment,
        };
        let extra = c.extra.clone();
        zip64(&extra, &mut c);
        out.push(c);
        p += 46 + nlen + elen + clen;
    }
    Ok(out)
}

/// One local file header, read at the offset its central record gives.
struct Local<'a> {
    needed: u16,
    flags: u16,
    method: u16,
    time: u16,
    date: u16,
    crc: u32,
    csize: u64,
    usize_: u64,
    name: &'a [u8],
    extra: &'a [u8],
    /// Where the entry's data starts.
    data_at: u64,
}

/// The local header of central record `c` (named `who` in errors).
fn local_header<'a>(b: &'a [u8], at: &str, c: &Central, who: &str) -> Result<Local<'a>, DiffError> {
    let bad = || malformed(at, format!("local header of {who} is truncated or missing"));
    let p = usize::try_from(c.offset).map_err(|_| bad())?;
    if !b.get(p..).is_some_and(|s| s.starts_with(b"PK\x03\x04")) {
        return Err(bad());
    }
    let nlen = u16le(b, p + 26).ok_or_else(bad)? as usize;
    let elen = u16le(b, p + 28).ok_or_else(bad)? as usize;
    Ok(Local {
        needed: u16le(b, p + 4).ok_or_else(bad)?,
        flags: u16le(b, p + 6).ok_or_else(bad)?,
        method: u16le(b, p + 8).ok_or_else(bad)?,
        time: u16le(b, p + 10).ok_or_else(bad)?,
        date: u16le(b, p + 12).ok_or_else(bad)?,
        crc: u32le(b, p + 14).ok_or_else(bad)?,
        csize: u32le(b, p + 18).ok_or_else(bad)? as u64,
        usize_: u32le(b, p + 22).ok_or_else(bad)? as u64,
        name: b.get(p + 30..p + 30 + nlen).ok_or_else(bad)?,
        extra: b.get(p + 30 + nlen..p + 30 + nlen + elen).ok_or_else(bad)?,
        data_at: (p + 30 + nlen + elen) as u64,
    })
}

/// Where the local header `l` says something else than central record `c`.
fn header_disagreements(c: &Central, l: &Local) -> Vec<String> {
    let mut disagree = Vec::new();
    if l.name != c.name.as_slice() {
        disagree.push(format!(
            "name {} in the local header",
            Name(l.name.to_vec())
        ));
    }
    for (what, lv, cv) in [
        ("method", l.method as u64, c.method as u64),
        ("flags", l.flags as u64, c.flags as u64),
        ("version needed", l.needed as u64, c.needed as u64),
        ("time", l.time as u64, c.time as u64),
        ("date", l.date as u64, c.date as u64),
    ] {
        if lv != cv {
            disagree.push(format!("{what} {lv} (local) vs {cv} (central)"));
        }
    }
    let descriptor = c.flags & 8 != 0;
    if !descriptor {
        for (what, lv, cv) in [
            ("crc32", l.crc as u64, c.crc as u64),
            ("compressed size", l.csize, c.csize.min(0xffff_ffff)),
            ("size", l.usize_, c.usize_.min(0xffff_ffff)),
        ] {
            if lv != cv && lv != 0xffff_ffff {
                disagree.push(format!("{what} {lv} (local) vs {cv} (central)"));
            }
        }
    }
    disagree
}

/// One entry's contents as read (or, for an unsupported method, its
/// compressed bytes).
struct Contents {
    size: u64,
    sha256: [u8; 32],
    data: Option<std::sync::Arc<Vec<u8>>>,
    crc_ok: bool,
    over_budget: bool,
}

/// What reading entries' contents shares: the archive, the caps and how
/// much has been read and retained so far.
struct Budget<'a> {
    b: &'a [u8],
    at: &'a str,
    limits: &'a Limits,
    /// Bytes of contents read so far.
    total: u64,
    /// Bytes of contents kept in memory so far.
    retained: u64,
}

impl Budget<'_> {
    /// The tightest of the caps on one entry's contents, and which cap it
    /// is: the entry size, what is left of the total, the entry's ratio and
    /// the whole archive's ratio.
    fn entry_limit(&self, c: &Central) -> (u64, Cap) {
        let limits = self.limits;
        let remaining = limits.max_total_size.saturating_sub(self.total);
        let by_ratio = c
            .csize
            .saturating_mul(limits.max_ratio)
            .saturating_add(1 << 20);
        let whole_ratio = (self.b.len() as u64)
            .saturating_mul(limits.max_ratio)
            .saturating_add(1 << 20)
            .saturating_sub(self.total);
        [
            (limits.max_entry_size, Cap::EntrySize),
            (remaining, Cap::TotalSize),
            (by_ratio, Cap::Ratio),
            (whole_ratio, Cap::Ratio),
        ]
        .into_iter()
        .min_by_key(|x| x.0)
        .unwrap_or((remaining, Cap::TotalSize))
    }

    /// The contents of entry `c` (named `who`) from its `raw` data, within
    /// the entry's limit; an unsupported method is a hazard and its
    /// compressed bytes stand for the contents.
    fn contents(
        &mut self,
        raw: &[u8],
        c: &Central,
        who: &str,
        hazards: &mut Vec<Hazard>,
    ) -> Result<Contents, DiffError> {
        let (limit, which) = self.entry_limit(c);
        let (at, limits) = (self.at, self.limits);
        let cap_err = |e: std::io::Error| match e.get_ref().and_then(|i| i.downcast_ref::<CapHit>())
        {
            Some(h) => cap(at, h.0, limits),
            None => malformed(at, format!("{who}: {e}")),
        };
        let got = match c.method {
            0 | 8 => {
                let inner: Box<dyn Read> = if c.method == 0 {
                    Box::new(raw)
                } else {
                    Box::new(flate2::read::DeflateDecoder::new(raw))
                };
                let mut r = CrcCap {
                    inner,
                    crc: flate2::Crc::new(),
                    read: 0,
                    limit,
                    cap: which,
                };
                let got = capture(&mut r, limits, &mut self.retained).map_err(cap_err)?;
                Contents {
                    size: got.size,
                    sha256: got.sha256,
                    data: got.data,
                    crc_ok: r.crc.sum() == c.crc,
                    over_budget: got.over_budget,
                }
            }
            _ => {
                let keep = raw.len() as u64 <= SMALL;
                hazards.push(Hazard {
                    entry: who.to_owned(),
                    issue: format!(
                        "compression method {} is not supported; compared compressed bytes",
                        c.method
                    ),
                });
                Contents {
                    size: raw.len() as u64,
                    sha256: Sha256::digest(raw).into(),
                    data: keep.then(|| std::sync::Arc::new(raw.to_vec())),
                    crc_ok: true,
                    over_budget: false,
                }
            }
        };
        self.total += got.size;
        Ok(got)
    }
}

/// The zip-specific fields of one entry, from its central record and the
/// extra field of its local header.
fn entry_meta(
    c: &Central,
    local_extra: &[u8],
) -> Vec<(
    std::borrow::Cow<'static, str>,
    std::borrow::Cow<'static, str>,
)> {
    vec![
        ("zip.method".into(), (c.method.to_string()).into()),
        (
            "zip.version_made_by".into(),
            (format!("{:#06x}", c.made_by)).into(),
        ),
        ("zip.version_needed".into(), (c.needed.to_string()).into()),
        ("zip.flags".into(), (format!("{:#06x}", c.flags)).into()),
        (
            "zip.external_attr".into(),
            (format!("{:#010x}", c.external)).into(),
        ),
        ("zip.internal_attr".into(), (c.internal.to_string()).into()),
        ("zip.compressed_size".into(), (c.csize.to_string()).into()),
        ("zip.extra".into(), (describe_extra(&c.extra)).into()),
        (
            "zip.local_extra".into(),
            (describe_extra(local_extra)).into(),
        ),
        (
            "zip.comment".into(),
            (Name(c.comment.clone()).to_string()).into(),
        ),
    ]
}

/// Read a zip archive held in memory.
pub(crate) fn read(b: &[u8], at: &str, limits: &Limits) -> Result<Listing, DiffError> {
    let (count, cd_offset, _cd_size, comment, is64) = eocd(b, at)?;
    let records = central_records(b, at, count, cd_offset, limits)?;
    let mut listing = Listing::new(Format::Zip);
    listing
        .fields
        .insert("zip.comment".into(), Name(comment).to_string());
    listing.fields.insert("zip.zip64".into(), is64.to_string());
    listing
        .fields
        .insert("zip.entries".into(), records.len().to_string());
    let first = records.iter().map(|c| c.offset).min().unwrap_or(cd_offset);
    listing
        .fields
        .insert("zip.bytes_before_first_entry".into(), first.to_string());

    let mut spans: Vec<(u64, u64, usize)> = Vec::new();
    let mut budget = Budget {
        b,
        at,
        limits,
        total: 0,
        retained: 0,
    };
    for (i, c) in records.iter().enumerate() {
        let who = Name(c.name.clone()).to_string();
        let l = local_header(b, at, c, &who)?;
        for d in header_disagreements(c, &l) {
            listing.hazards.push(Hazard {
                entry: who.clone(),
                issue: format!("local and central headers disagree: {d}"),
            });
        }

        let end = l
            .data_at
            .checked_add(c.csize)
            .filter(|&e| e <= b.len() as u64);
        let Some(end) = end else {
            return Err(malformed(
                at,
                format!("data of {who} runs past the end of the file"),
            ));
        };
        spans.push((l.data_at, end, i));
        let raw = &b[l.data_at as usize..end as usize];

        let mode = (c.made_by >> 8 == 3).then_some(c.external >> 16);
        let is_dir = c.name.ends_with(b"/") || mode.is_some_and(|m| m & 0o170000 == 0o040000);
        let is_link = mode.is_some_and(|m| m & 0o170000 == 0o120000);

        let got = budget.contents(raw, c, &who, &mut listing.hazards)?;
        if !got.crc_ok {
            listing.hazards.push(Hazard {
                entry: who.clone(),
                issue: format!("CRC-32 {:08x} recorded does not match the contents", c.crc),
            });
        }
        if got.size != c.usize_ && c.method <= 8 {
            listing.hazards.push(Hazard {
                entry: who.clone(),
                issue: format!(
                    "declared size {} but {} bytes of contents",
                    c.usize_, got.size
                ),
            });
        }

        let target = if is_link {
            got.data.as_ref().map(|d| Name(d.to_vec()))
        } else {
            None
        };
        listing.entries.push(Entry {
            name: Name(c.name.clone()),
            kind: Some(if is_dir {
                Kind::Dir
            } else if is_link {
                Kind::Symlink
            } else {
                Kind::File
            }),
            target,
            mode: mode.map(|m| m & 0o7777),
            mtime: Some(dos_time(c.date, c.time)),
            size: got.size,
            sha256: got.sha256,
            meta: entry_meta(c, l.extra),
            data: got.data,
            over_budget: got.over_budget,
            ..Entry::default()
        });
    }
    overlap_hazards(spans, &records, &mut listing.hazards);
    Ok(listing)
}

/// A hazard for each entry whose data `(start, end, record)` overlaps the
/// entry before it (the "overlapping files" zip bomb).
fn overlap_hazards(
    mut spans: Vec<(u64, u64, usize)>,
    records: &[Central],
    hazards: &mut Vec<Hazard>,
) {
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            hazards.push(Hazard {
                entry: Name(records[w[1].2].name.clone()).to_string(),
                issue: format!(
                    "its data overlaps that of {} (overlapping entries: a zip bomb construction)",
                    Name(records[w[0].2].name.clone())
                ),
            });
        }
    }
}

/// Checks the CRC-32 and stops past `limit` bytes.
struct CrcCap<R> {
    inner: R,
    crc: flate2::Crc,
    read: u64,
    limit: u64,
    cap: Cap,
}

impl<R: Read> Read for CrcCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(CapHit(self.cap)));
        }
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_epoch() {
        assert_eq!(dos_time((1 << 5) | 1, 0), 315_532_800);
    }
}
