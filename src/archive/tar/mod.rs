//! A deterministic tar writer with explicit dialects.
//!
//! A tar stream is a sequence of 512-byte header blocks, each followed by the
//! entry's data padded to a multiple of 512, and ends with two zero blocks.
//! The header fields are fixed-width: `name[100] mode[8] uid[8] gid[8]
//! size[12] mtime[12] chksum[8] typeflag[1] linkname[100] magic[6]
//! version[2] uname[32] gname[32] devmajor[8] devminor[8] prefix[155]`.
//! Tools disagree on how numbers are terminated, on the magic, and on how
//! long names are stored, so kiln names each layout as a [`Dialect`] and
//! reproduces the byte pattern of the tool it imitates:
//!
//! | dialect | imitates | numbers | long names | end |
//! |---|---|---|---|---|
//! | [`Dialect::NpmUstar`] | node-tar `portable: true` (`npm pack`) | `000644 \0` (width−2 digits, space, NUL) | ustar prefix/name split, else a pax `x` header | 1024 zero bytes |
//! | [`Dialect::Gnu`] | the `tar` crate's GNU headers (`cargo package`) | `0000644\0` | `././@LongLink` (`L`) | 1024 zero bytes |
//! | [`Dialect::Pax`] | Python `tarfile` `PAX_FORMAT` (PEP 625 sdists; kiln's own tarballs) | `0000644\0` | pax `x` header named `././@PaxHeader` | zero blocks padded to a 10240-byte record |
//!
//! Owners are always uid/gid 0 with empty names; the caller chooses mode and
//! mtime (see [`super::mapping`] for kiln's normalisation rules).
//!
//! ```
//! use kiln::archive::tar::{Dialect, TarWriter};
//! let mut tar = TarWriter::new(Vec::new(), Dialect::Pax);
//! tar.append_file("pkg/README", 0o644, 315532800, b"hi\n").unwrap();
//! tar.append_symlink("pkg/LINK", "README", 315532800).unwrap();
//! let bytes = tar.finish().unwrap();
//! assert_eq!(bytes.len(), 10240);
//! assert_eq!(&bytes[257..265], b"ustar\x0000");
//! ```

mod header;
mod node;

use std::io::{self, Read, Write};

pub use header::BLOCK;
use header::{
    base256, checksum, octal_nul, put, Kind, CKSUM, GID, LINK, MAGIC, MODE, MTIME, NAME, SIZE,
    TYPE, UID,
};
use node::{npm_header, pax_record};

/// The tar layout to produce. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// node-tar in `portable` mode, as `npm pack` writes it.
    NpmUstar,
    /// GNU headers as the Rust `tar` crate writes them for cargo.
    Gnu,
    /// POSIX pax as Python's `tarfile` writes it; kiln's default.
    Pax,
}

/// Errors from the tar writer.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// The underlying writer or reader failed.
    #[error("writing tar entry {path:?}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    /// A streamed entry's reader produced a different number of bytes than declared.
    #[error("tar entry {path:?}: declared size {declared} but the reader produced {actual} bytes")]
    SizeMismatch {
        path: String,
        declared: u64,
        actual: u64,
    },
    /// An entry path that an archive must never contain.
    #[error("tar entry path {path:?} is invalid: {reason}")]
    BadPath { path: String, reason: &'static str },
}

impl crate::error::Classify for TarError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            TarError::BadPath { .. } => crate::error::ErrorKind::BadInput,
            _ => crate::error::ErrorKind::Internal,
        }
    }
}

/// A streaming tar writer. Entries are written in the order they are
/// appended; [`TarWriter::finish`] writes the end-of-archive marker.
#[derive(Debug)]
pub struct TarWriter<W: Write> {
    out: W,
    dialect: Dialect,
    written: u64,
}

impl<W: Write> TarWriter<W> {
    /// Start an archive in the given dialect.
    pub fn new(out: W, dialect: Dialect) -> Self {
        TarWriter {
            out,
            dialect,
            written: 0,
        }
    }

    /// The dialect this writer produces.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Append a regular file from memory. `mode` holds permission bits only.
    pub fn append_file(
        &mut self,
        path: &str,
        mode: u32,
        mtime: u64,
        data: &[u8],
    ) -> Result<(), TarError> {
        self.append_file_from(path, mode, mtime, data.len() as u64, data)
    }

    /// Append a regular file of `size` bytes streamed from `data`; the reader
    /// must produce exactly `size` bytes.
    pub fn append_file_from(
        &mut self,
        path: &str,
        mode: u32,
        mtime: u64,
        size: u64,
        mut data: impl Read,
    ) -> Result<(), TarError> {
        check_path(path)?;
        self.header(path, Kind::File(size), mode, mtime)?;
        let io_err = |source| TarError::Io {
            path: path.to_string(),
            source,
        };
        let copied = io::copy(&mut (&mut data).take(size), &mut self.out).map_err(io_err)?;
        if copied != size {
            return Err(TarError::SizeMismatch {
                path: path.to_string(),
                declared: size,
                actual: copied,
            });
        }
        let mut probe = [0u8; 1];
        if data.read(&mut probe).map_err(io_err)? != 0 {
            return Err(TarError::SizeMismatch {
                path: path.to_string(),
                declared: size,
                actual: size + 1,
            });
        }
        self.written += size;
        self.pad().map_err(io_err)
    }

    /// Append a directory entry (a trailing `/` is added if missing).
    pub fn append_dir(&mut self, path: &str, mode: u32, mtime: u64) -> Result<(), TarError> {
        check_path(path.trim_end_matches('/'))?;
        let p = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        self.header(&p, Kind::Dir, mode, mtime)
    }

    /// Append a symbolic link to `target` (mode 0777, as every tool writes it).
    pub fn append_symlink(&mut self, path: &str, target: &str, mtime: u64) -> Result<(), TarError> {
        check_path(path)?;
        self.header(path, Kind::Symlink(target), 0o777, mtime)
    }

    /// Write the end-of-archive marker (and record padding for [`Dialect::Pax`])
    /// and return the underlying writer.
    pub fn finish(mut self) -> Result<W, TarError> {
        let io_err = |source| TarError::Io {
            path: String::new(),
            source,
        };
        let mut end = 2 * BLOCK as u64;
        if self.dialect == Dialect::Pax {
            const RECORD: u64 = 10240;
            let total = self.written + end;
            end += (RECORD - total % RECORD) % RECORD;
        }
        io::copy(&mut io::repeat(0).take(end), &mut self.out).map_err(io_err)?;
        self.out.flush().map_err(io_err)?;
        Ok(self.out)
    }

    fn pad(&mut self) -> io::Result<()> {
        let rem = (self.written % BLOCK as u64) as usize;
        if rem != 0 {
            let zeros = [0u8; BLOCK];
            self.out.write_all(&zeros[..BLOCK - rem])?;
            self.written += (BLOCK - rem) as u64;
        }
        Ok(())
    }

    fn emit(&mut self, block: &[u8]) -> io::Result<()> {
        self.out.write_all(block)?;
        self.written += block.len() as u64;
        Ok(())
    }

    fn header(
        &mut self,
        path: &str,
        kind: Kind<'_>,
        mode: u32,
        mtime: u64,
    ) -> Result<(), TarError> {
        let blocks = match self.dialect {
            Dialect::NpmUstar => npm_header(path, kind, mode, mtime),
            Dialect::Gnu => gnu_header(path, kind, mode, mtime),
            Dialect::Pax => pax_header(path, kind, mode, mtime),
        };
        self.emit(&blocks).map_err(|source| TarError::Io {
            path: path.to_string(),
            source,
        })
    }
}

fn check_path(path: &str) -> Result<(), TarError> {
    super::check_entry_path(path).map_err(|reason| TarError::BadPath {
        path: path.to_string(),
        reason,
    })
}

// ---------------------------------------------------------------- GNU (tar crate)

fn gnu_block(
    name: &[u8],
    kind_flag: u8,
    mode: u32,
    size: u64,
    mtime: u64,
    link: &[u8],
) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    put(&mut b[NAME..NAME + 100], name);
    octal_nul(&mut b[MODE..MODE + 8], mode as u64);
    octal_nul(&mut b[UID..UID + 8], 0);
    octal_nul(&mut b[GID..GID + 8], 0);
    if size >= 8_589_934_592 {
        base256(&mut b[SIZE..SIZE + 12], size);
    } else {
        octal_nul(&mut b[SIZE..SIZE + 12], size);
    }
    octal_nul(&mut b[MTIME..MTIME + 12], mtime);
    b[TYPE] = kind_flag;
    put(&mut b[LINK..LINK + 100], link);
    b[MAGIC..MAGIC + 8].copy_from_slice(b"ustar  \0");
    let sum = checksum(&b);
    octal_nul(&mut b[CKSUM..CKSUM + 8], sum);
    b
}

fn gnu_long(out: &mut Vec<u8>, flag: u8, data: &[u8]) {
    let h = gnu_block(b"././@LongLink", flag, 0o644, data.len() as u64 + 1, 0, b"");
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.push(0);
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
}

/// Truncate to at most `n` bytes on a UTF-8 boundary (the tar crate's rule).
fn truncate_utf8(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = n;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

fn gnu_header(path: &str, kind: Kind<'_>, mode: u32, mtime: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK);
    let link = match kind {
        Kind::Symlink(t) => t,
        _ => "",
    };
    if path.len() > 100 {
        gnu_long(&mut out, b'L', path.as_bytes());
    }
    // the tar crate writes `K` after `L`; its failed attempt to fit the
    // target leaves the components that did fit in the real header
    let link = if link.len() > 100 {
        gnu_long(&mut out, b'K', link.as_bytes());
        fitting_components(link, 100)
    } else {
        link.to_string()
    };
    let name = truncate_utf8(path, 100);
    out.extend_from_slice(&gnu_block(
        name.as_bytes(),
        kind.flag(),
        mode,
        kind.size(),
        mtime,
        link.as_bytes(),
    ));
    out
}

/// The leading `/`-separated components of `p` that fit in `n` bytes, as
/// the `tar` crate's `copy_path_into` leaves them when the whole path does not.
fn fitting_components(p: &str, n: usize) -> String {
    let mut out = String::new();
    let comps = p
        .split('/')
        .enumerate()
        .filter(|(i, c)| !c.is_empty() && (*c != "." || *i == 0))
        .map(|(_, c)| c);
    for (i, c) in comps.enumerate() {
        if i > 0 {
            if out.len() + 1 > n {
                break;
            }
            out.push('/');
        }
        if out.len() + c.len() > n {
            break;
        }
        out.push_str(c);
    }
    out
}

// ---------------------------------------------------------------- pax (Python tarfile)

fn py_block(name: &[u8], flag: u8, mode: u32, size: u64, mtime: u64, link: &[u8]) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    put(&mut b[NAME..NAME + 100], name);
    octal_nul(&mut b[MODE..MODE + 8], mode as u64);
    octal_nul(&mut b[UID..UID + 8], 0);
    octal_nul(&mut b[GID..GID + 8], 0);
    octal_nul(&mut b[SIZE..SIZE + 12], size);
    octal_nul(&mut b[MTIME..MTIME + 12], mtime);
    b[TYPE] = flag;
    put(&mut b[LINK..LINK + 100], link);
    // Python ≥ 3.9 leaves devmajor/devminor empty for non-device entries
    b[MAGIC..MAGIC + 8].copy_from_slice(b"ustar\x0000");
    b[CKSUM..CKSUM + 8].fill(b' ');
    let sum = checksum(&b);
    // Python: "%06o\0" followed by the original space
    b[CKSUM..CKSUM + 7].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    b
}

fn pax_header(path: &str, kind: Kind<'_>, mode: u32, mtime: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK);
    let link = match kind {
        Kind::Symlink(t) => t,
        _ => "",
    };
    let mut records = Vec::new();
    if !path.is_ascii() || path.len() > 100 {
        records.extend(pax_record("path", path));
    }
    if !link.is_ascii() || link.len() > 100 {
        records.extend(pax_record("linkpath", link));
    }
    let size = kind.size();
    let size_fits = size < 8u64.pow(11);
    if !size_fits {
        records.extend(pax_record("size", &size.to_string()));
    }
    if !records.is_empty() {
        out.extend_from_slice(&py_block(
            b"././@PaxHeader",
            b'x',
            0,
            records.len() as u64,
            0,
            b"",
        ));
        out.extend_from_slice(&records);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    let ascii = |s: &str| -> Vec<u8> {
        s.chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect()
    };
    out.extend_from_slice(&py_block(
        &ascii(path),
        kind.flag(),
        mode,
        if size_fits { size } else { 0 },
        mtime,
        &ascii(link),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::node::node_split;
    use super::*;

    #[test]
    fn node_split_moves_components() {
        let long = format!("package/{}/{}", "d".repeat(60), "f".repeat(60));
        let (name, prefix, pax) = node_split(&long);
        assert_eq!(name, "f".repeat(60));
        assert_eq!(prefix, format!("package/{}", "d".repeat(60)));
        assert!(!pax);
        let (_, _, pax) = node_split(&format!("package/{}", "x".repeat(120)));
        assert!(pax);
    }

    #[test]
    fn rejects_traversal() {
        let mut t = TarWriter::new(Vec::new(), Dialect::Pax);
        assert!(matches!(
            t.append_file("a/../b", 0o644, 0, b""),
            Err(TarError::BadPath { .. })
        ));
        assert!(t.append_file("/abs", 0o644, 0, b"").is_err());
    }
}
