//! A deterministic zip writer (PKWARE APPNOTE 6.3).
//!
//! Layout: for each entry a local file header (`PK\3\4`, version needed,
//! flags, method, DOS time and date, CRC-32, sizes, name, no extra field)
//! followed by the data; then one central directory header per entry
//! (`PK\1\2`, with "version made by" and the external attributes), then the
//! end-of-central-directory record (`PK\5\6`). kiln fixes every free choice:
//!
//! - version made by `0x0314` (Unix, spec 2.0), version needed 20, flags 0
//!   (bit 11 only when a name is not ASCII, as Python's `zipfile` does);
//! - regular files are always deflated (raw deflate, flate2 + pinned zlib-rs,
//!   level [`DEFLATE_LEVEL`](super::compress::DEFLATE_LEVEL) unless [`ZipWriter::with_deflate`] says otherwise);
//!   directories and symlinks are stored;
//! - every timestamp is `SOURCE_DATE_EPOCH` converted in UTC to DOS time,
//!   clamped to 1980-01-01 00:00:00 (315532800) … 2107-12-31 23:59:58, with
//!   2-second resolution; no extended-timestamp extra fields;
//! - `external_attr = (type | mode) << 16`: `0o100644`/`0o100755` files,
//!   `0o40755` directories (plus the MS-DOS directory bit 0x10),
//!   `0o120777` symlinks (the target is the stored content);
//! - entries are written in the order given (wheels need `.dist-info` last;
//!   [`super::sort_by_path`] sorts by path bytes for plain bundles).
//!
//! Zip64 is not implemented: an archive needing it (≥ 65535 entries, or a
//! size or offset ≥ 4 GiB) is refused with [`ZipError::Zip64Required`].
//!
//! ```
//! use kiln::archive::zip::ZipWriter;
//! let mut z = ZipWriter::new(Vec::new(), 315532800);
//! z.append_file("bin/tool", 0o755, b"#!/bin/sh\n").unwrap();
//! let bytes = z.finish().unwrap();
//! assert_eq!(&bytes[..4], b"PK\x03\x04");
//! ```

use std::collections::BTreeSet;
use std::io::{self, Read, Write};

use flate2::{write::DeflateEncoder, Compression, Crc};

use super::compress::DEFLATE_LEVEL;
use super::deflate::Deflate;

/// Smallest timestamp a DOS date can hold: 1980-01-01T00:00:00Z.
pub const DOS_EPOCH: u64 = 315_532_800;
/// Largest timestamp a DOS date can hold: 2107-12-31T23:59:58Z.
pub const DOS_MAX: u64 = 4_354_819_198;

const MADE_BY: u16 = 0x0314;
const NEEDED: u16 = 20;

/// One file's deflated data with its CRC-32 and uncompressed size.
#[derive(Debug, Clone)]
pub struct Deflated {
    pub crc: u32,
    pub size: u64,
    pub data: Vec<u8>,
}

/// Deflate `size` bytes from `data` as kiln's zip entries are deflated
/// (raw deflate, level [`DEFLATE_LEVEL`], fed in 64 KiB chunks).
pub fn deflate(path: &str, size: u64, data: impl Read) -> Result<Deflated, ZipError> {
    deflate_at(DEFLATE_LEVEL, path, size, data)
}

/// One entry's bytes in memory deflated with `deflate` (whole-buffer, so
/// any implementation; [`Deflate::raw`] reuses a compressor per thread).
pub fn deflate_entry(deflate: Deflate, path: &str, data: &[u8]) -> Result<Deflated, ZipError> {
    if data.len() as u64 >= u32::MAX as u64 {
        return Err(ZipError::Zip64Required {
            what: format!("{path:?} is {} bytes", data.len()),
        });
    }
    let compressed = deflate.raw(data).map_err(|source| ZipError::Io {
        path: path.to_string(),
        source,
    })?;
    let mut crc = Crc::new();
    crc.update(data);
    Ok(Deflated {
        crc: crc.sum(),
        size: data.len() as u64,
        data: compressed,
    })
}

/// [`deflate`] at `level`.
pub fn deflate_at(
    level: u32,
    path: &str,
    size: u64,
    mut data: impl Read,
) -> Result<Deflated, ZipError> {
    let io_err = |source| ZipError::Io {
        path: path.to_string(),
        source,
    };
    if size >= u32::MAX as u64 {
        return Err(ZipError::Zip64Required {
            what: format!("{path:?} is {size} bytes"),
        });
    }
    let mut crc = Crc::new();
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::new(level));
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = data.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > size {
            break;
        }
        crc.update(&buf[..n]);
        enc.write_all(&buf[..n]).map_err(io_err)?;
    }
    if total != size {
        return Err(ZipError::SizeMismatch {
            path: path.to_string(),
            declared: size,
            actual: total,
        });
    }
    let data = enc.finish().map_err(io_err)?;
    Ok(Deflated {
        crc: crc.sum(),
        size,
        data,
    })
}

/// Errors from the zip writer.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// The underlying writer or reader failed.
    #[error("writing zip entry {path:?}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    /// A streamed entry produced a different number of bytes than declared.
    #[error("zip entry {path:?}: declared size {declared} but the reader produced {actual} bytes")]
    SizeMismatch {
        path: String,
        declared: u64,
        actual: u64,
    },
    /// The same path was added twice.
    #[error("zip entry {path:?} added twice")]
    Duplicate { path: String },
    /// An entry path that an archive must never contain.
    #[error("zip entry path {path:?} is invalid: {reason}")]
    BadPath { path: String, reason: &'static str },
    /// The archive would need Zip64 records, which kiln does not write.
    #[error(
        "zip archive needs Zip64 ({what}); kiln writes at most 65534 entries and 4 GiB per archive"
    )]
    Zip64Required { what: String },
}

impl crate::error::Classify for ZipError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            ZipError::Io { .. } | ZipError::SizeMismatch { .. } => {
                crate::error::ErrorKind::Internal
            }
            _ => crate::error::ErrorKind::BadInput,
        }
    }
}

/// Convert seconds since the epoch (UTC) into DOS `(time, date)`, clamped
/// to the representable range and rounded down to even seconds.
pub fn dos_datetime(epoch: u64) -> (u16, u16) {
    let t = epoch.clamp(DOS_EPOCH, DOS_MAX);
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    let (y, m, d) = civil_from_days(days);
    let time = ((secs / 3600) << 11) | (((secs % 3600) / 60) << 5) | ((secs % 60) / 2);
    let date = (((y - 1980) as u64) << 9) | ((m as u64) << 5) | d as u64;
    (time as u16, date as u16)
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A streaming zip writer. Each entry is compressed in memory before its
/// local header is written (flags stay 0: no data descriptors).
#[derive(Debug)]
pub struct ZipWriter<W: Write> {
    out: W,
    offset: u64,
    central: Vec<u8>,
    count: usize,
    time: u16,
    date: u16,
    names: BTreeSet<String>,
    deflate: Deflate,
}

impl<W: Write> ZipWriter<W> {
    /// Start an archive whose entries all carry `source_date_epoch`.
    pub fn new(out: W, source_date_epoch: u64) -> Self {
        let (time, date) = dos_datetime(source_date_epoch);
        ZipWriter {
            out,
            offset: 0,
            central: Vec::new(),
            count: 0,
            time,
            date,
            names: BTreeSet::new(),
            deflate: Deflate::ZlibRs(DEFLATE_LEVEL),
        }
    }

    /// Deflate the entries this writer compresses with `deflate` instead of
    /// zlib-rs at [`DEFLATE_LEVEL`].
    pub fn with_deflate(mut self, deflate: Deflate) -> Self {
        self.deflate = deflate;
        self
    }

    /// Append a regular file (`mode` = permission bits, e.g. 0o644 or 0o755).
    pub fn append_file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), ZipError> {
        self.append_file_from(path, mode, data.len() as u64, data)
    }

    /// Append a regular file of `size` bytes read from `data`.
    pub fn append_file_from(
        &mut self,
        path: &str,
        mode: u32,
        size: u64,
        data: impl Read,
    ) -> Result<(), ZipError> {
        let d = match self.deflate {
            Deflate::ZlibRs(level) => deflate_at(level, path, size, data)?,
            whole => {
                let mut buf = Vec::with_capacity(size.min(1 << 24) as usize);
                data.take(size.saturating_add(1))
                    .read_to_end(&mut buf)
                    .map_err(|source| ZipError::Io {
                        path: path.to_string(),
                        source,
                    })?;
                if buf.len() as u64 != size {
                    return Err(ZipError::SizeMismatch {
                        path: path.to_string(),
                        declared: size,
                        actual: buf.len() as u64,
                    });
                }
                deflate_entry(whole, path, &buf)?
            }
        };
        self.append_deflated(path, mode, &d)
    }

    /// Append a regular file compressed beforehand with [`deflate`] (so that
    /// callers can compress entries in parallel); the bytes are those
    /// [`ZipWriter::append_file_from`] writes.
    pub fn append_deflated(&mut self, path: &str, mode: u32, d: &Deflated) -> Result<(), ZipError> {
        self.entry(
            path,
            8,
            d.crc,
            d.size,
            &d.data,
            (0o100000 | (mode & 0o7777)) << 16,
        )
    }

    /// Append a directory entry (a trailing `/` is added if missing).
    pub fn append_dir(&mut self, path: &str, mode: u32) -> Result<(), ZipError> {
        let p = format!("{}/", path.trim_end_matches('/'));
        self.entry(&p, 0, 0, 0, &[], ((0o40000 | (mode & 0o7777)) << 16) | 0x10)
    }

    /// Append a symbolic link (stored; the content is the target).
    pub fn append_symlink(&mut self, path: &str, target: &str) -> Result<(), ZipError> {
        let mut crc = Crc::new();
        crc.update(target.as_bytes());
        let t = target.as_bytes();
        self.entry(path, 0, crc.sum(), t.len() as u64, t, 0o120777 << 16)
    }

    fn entry(
        &mut self,
        path: &str,
        method: u16,
        crc: u32,
        size: u64,
        data: &[u8],
        external: u32,
    ) -> Result<(), ZipError> {
        super::check_entry_path(path.trim_end_matches('/')).map_err(|reason| {
            ZipError::BadPath {
                path: path.to_string(),
                reason,
            }
        })?;
        if !self.names.insert(path.to_string()) {
            return Err(ZipError::Duplicate {
                path: path.to_string(),
            });
        }
        if self.count + 1 >= 0xFFFF {
            return Err(ZipError::Zip64Required {
                what: "more than 65534 entries".into(),
            });
        }
        if self.offset >= u32::MAX as u64 || data.len() as u64 >= u32::MAX as u64 {
            return Err(ZipError::Zip64Required {
                what: format!("{path:?} starts beyond 4 GiB"),
            });
        }
        let name = path.as_bytes();
        let flags: u16 = if path.is_ascii() { 0 } else { 0x800 };
        let mut local = Vec::with_capacity(30 + name.len());
        local.extend_from_slice(b"PK\x03\x04");
        local.extend_from_slice(&NEEDED.to_le_bytes());
        local.extend_from_slice(&flags.to_le_bytes());
        local.extend_from_slice(&method.to_le_bytes());
        local.extend_from_slice(&self.time.to_le_bytes());
        local.extend_from_slice(&self.date.to_le_bytes());
        local.extend_from_slice(&crc.to_le_bytes());
        local.extend_from_slice(&(data.len() as u32).to_le_bytes());
        local.extend_from_slice(&(size as u32).to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(name);

        let c = &mut self.central;
        c.extend_from_slice(b"PK\x01\x02");
        c.extend_from_slice(&MADE_BY.to_le_bytes());
        c.extend_from_slice(&local[4..30]); // needed … extra length, as in the local header
        c.extend_from_slice(&0u16.to_le_bytes()); // comment length
        c.extend_from_slice(&0u16.to_le_bytes()); // disk number start
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        c.extend_from_slice(&external.to_le_bytes());
        c.extend_from_slice(&(self.offset as u32).to_le_bytes());
        c.extend_from_slice(name);

        let io_err = |source| ZipError::Io {
            path: path.to_string(),
            source,
        };
        self.out.write_all(&local).map_err(io_err)?;
        self.out.write_all(data).map_err(io_err)?;
        self.offset += (local.len() + data.len()) as u64;
        self.count += 1;
        Ok(())
    }

    /// Write the central directory and end record; return the writer.
    pub fn finish(mut self) -> Result<W, ZipError> {
        let io_err = |source| ZipError::Io {
            path: String::new(),
            source,
        };
        if self.offset + self.central.len() as u64 >= u32::MAX as u64 {
            return Err(ZipError::Zip64Required {
                what: "central directory beyond 4 GiB".into(),
            });
        }
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(b"PK\x05\x06");
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&(self.count as u16).to_le_bytes());
        end.extend_from_slice(&(self.count as u16).to_le_bytes());
        end.extend_from_slice(&(self.central.len() as u32).to_le_bytes());
        end.extend_from_slice(&(self.offset as u32).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.out.write_all(&self.central).map_err(io_err)?;
        self.out.write_all(&end).map_err(io_err)?;
        self.out.flush().map_err(io_err)?;
        Ok(self.out)
    }
}
