//! Compression layers with every header byte under the caller's control.
//!
//! **gzip** (RFC 1952): `1f 8b 08 FLG MTIME(4, LE) XFL OS [FNAME\0] deflate
//! CRC32 ISIZE`. Only MTIME, OS and FNAME vary between tools, so
//! [`GzipOptions`] fixes them explicitly; XFL follows from the level (2 at 9,
//! 4 at 0–1, else 0), as flate2 and zlib write it. The deflate stream comes
//! from flate2 with the pinned `zlib-rs` backend: the backend, its version
//! and the level are part of kiln's builder identity (FORMATS.md §7).
//!
//! ```
//! use kiln::archive::compress::{gzip, GzipOptions};
//! let gz = gzip(b"hello", &GzipOptions::KILN).unwrap();
//! assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
//! ```
//!
//! **zstd**: level [`ZSTD_LEVEL`] (19), single-threaded, no checksum, no
//! dictionary id and no content size in the frame header, so the output
//! depends only on the input bytes and the (pinned) libzstd version — never
//! on whether the caller knew the size in advance.

use std::io::{self, Write};

use flate2::{write::GzEncoder, Compression, GzBuilder};

/// The deflate level of kiln's gzip streams and zip entries.
pub const DEFLATE_LEVEL: u32 = 9;

/// The gzip header fields and deflate level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GzipOptions {
    /// Header MTIME (seconds); 0 means "none".
    pub mtime: u32,
    /// Header OS byte: 255 = unknown (flate2, npm, Python), 3 = Unix (GNU gzip).
    pub os: u8,
    /// Optional FNAME (cargo writes the crate's file name).
    pub file_name: Option<Vec<u8>>,
    /// Deflate level 0–9.
    pub level: u32,
}

impl GzipOptions {
    /// kiln's own `.tar.gz` bundles: MTIME 0, OS 255, no name, level 9.
    pub const KILN: GzipOptions = GzipOptions {
        mtime: 0,
        os: 255,
        file_name: None,
        level: DEFLATE_LEVEL,
    };
    /// kiln's npm tarballs: MTIME 0 and OS 255 as `npm pack` writes them
    /// (npm overwrites Node's 3), level 6 — chosen by measurement: on real
    /// JavaScript, level 9 costs 2.3× the CPU for 0.8 % smaller output
    /// (docs/npm.md).
    pub const NPM: GzipOptions = GzipOptions {
        level: 6,
        ..GzipOptions::KILN
    };

    /// cargo's `.crate`: MTIME 0, OS 255, FNAME = the crate file name, level 9.
    pub fn cargo(file_name: &str) -> GzipOptions {
        GzipOptions {
            file_name: Some(file_name.as_bytes().to_vec()),
            ..GzipOptions::KILN
        }
    }
}

/// A gzip stream over `out`; call [`GzipWriter::finish`] to write the trailer.
pub struct GzipWriter<W: Write> {
    inner: GzEncoder<W>,
}

impl<W: Write> std::fmt::Debug for GzipWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipWriter").finish_non_exhaustive()
    }
}

impl<W: Write> GzipWriter<W> {
    /// Start a gzip member with the given header and level.
    pub fn new(out: W, opts: &GzipOptions) -> Self {
        let mut b = GzBuilder::new().mtime(opts.mtime).operating_system(opts.os);
        if let Some(name) = &opts.file_name {
            b = b.filename(name.clone());
        }
        GzipWriter {
            inner: b.write(out, Compression::new(opts.level.min(9))),
        }
    }

    /// Flush the deflate stream and write CRC32 and ISIZE.
    pub fn finish(self) -> io::Result<W> {
        self.inner.finish()
    }
}

impl<W: Write> Write for GzipWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Compress a buffer in one call.
pub fn gzip(data: &[u8], opts: &GzipOptions) -> io::Result<Vec<u8>> {
    let mut w = GzipWriter::new(Vec::new(), opts);
    w.write_all(data)?;
    w.finish()
}

/// The fixed zstd level of kiln's `.tar.zst` outputs.
pub const ZSTD_LEVEL: i32 = 19;

/// A zstd frame over `out` with kiln's fixed parameters.
pub struct ZstdWriter<W: Write> {
    inner: zstd::stream::write::Encoder<'static, W>,
}

impl<W: Write> std::fmt::Debug for ZstdWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdWriter").finish_non_exhaustive()
    }
}

impl<W: Write> ZstdWriter<W> {
    /// Start a frame: level 19, no checksum, no content size, no dictionary id.
    pub fn new(out: W) -> io::Result<Self> {
        let mut inner = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
        inner.include_checksum(false)?;
        inner.include_contentsize(false)?;
        inner.include_dictid(false)?;
        Ok(ZstdWriter { inner })
    }

    /// End the frame.
    pub fn finish(self) -> io::Result<W> {
        self.inner.finish()
    }
}

impl<W: Write> Write for ZstdWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Compress a buffer with kiln's zstd settings.
pub fn zstd(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut w = ZstdWriter::new(Vec::new())?;
    w.write_all(data)?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_header_fields() {
        let gz = gzip(b"x", &GzipOptions::cargo("a-1.0.0.crate")).unwrap();
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 2, 0xff]);
        assert_eq!(&gz[10..24], b"a-1.0.0.crate\0");
        let fast = gzip(
            b"x",
            &GzipOptions {
                mtime: 499162500,
                os: 3,
                file_name: None,
                level: 1,
            },
        )
        .unwrap();
        assert_eq!(fast[3], 0);
        assert_eq!(&fast[4..8], &499162500u32.to_le_bytes());
        assert_eq!(&fast[8..10], &[4, 3]);
    }

    #[test]
    fn zstd_has_no_content_size_or_checksum() {
        let z = zstd(b"hello hello hello").unwrap();
        assert_eq!(&z[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
        // frame header descriptor: no FCS, not single-segment, no checksum, no dict id
        assert_eq!(z[4] & 0b1110_0111, 0);
        assert_eq!(zstd::decode_all(&z[..]).unwrap(), b"hello hello hello");
    }
}
