//! Which deflate implementation and level an archive is written with, and
//! whole-buffer deflate for archives whose entries are in memory.
//!
//! Two implementations, each pinned exactly in `Cargo.toml` because its
//! output bytes are part of kiln's artifact format (FORMATS.md §7):
//!
//! - **zlib-rs** (through flate2): streaming, with sync flushes, so it
//!   serves kiln's bundles, npm tarballs, crates, OCI layers and every
//!   writer that streams;
//! - **libdeflate** (through libdeflater): whole buffers only, no streaming
//!   and no flush, but about 1.5× zlib-rs's speed at level 6 with smaller
//!   output on source code. The Python archives use it: a wheel's entries
//!   are compressed one whole file at a time, and an sdist's tar is built
//!   in memory.

use std::cell::RefCell;
use std::io::{self, Write};

use flate2::Compression;

/// The zlib-rs backend (flate2 and zlib-rs versions).
pub(crate) const ZLIB_RS: &str = "flate2=1.1.5 zlib-rs=0.5.2";
/// The libdeflate backend (libdeflater and the libdeflate it bundles).
pub(crate) const LIBDEFLATE: &str = "libdeflater=1.26.1 libdeflate=1.26";

/// A deflate implementation at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deflate {
    /// flate2 + zlib-rs, level 0–9.
    ZlibRs(u32),
    /// libdeflate, level 1–12.
    Libdeflate(u32),
}

impl Deflate {
    /// The identity recorded in derivations: a change is a change of format.
    pub fn identity(self) -> String {
        match self {
            Deflate::ZlibRs(l) => format!("{ZLIB_RS} level={l}"),
            Deflate::Libdeflate(l) => format!("{LIBDEFLATE} level={l}"),
        }
    }

    /// The level.
    pub fn level(self) -> u32 {
        match self {
            Deflate::ZlibRs(l) | Deflate::Libdeflate(l) => l,
        }
    }

    /// Raw deflate (RFC 1951) of `data`, the bytes a streaming writer of
    /// the same implementation writes. libdeflate compressors are kept per
    /// thread: a wheel of thousands of small files would otherwise spend
    /// its time setting them up.
    pub fn raw(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Deflate::ZlibRs(level) => zlib_rs(level, data),
            Deflate::Libdeflate(level) => libdeflate(level, data),
        }
    }
}

/// zlib-rs as kiln's streaming writers use it (input fed without flushes,
/// then finished), so an entry deflated whole has the bytes it has when
/// streamed.
fn zlib_rs(level: u32, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        Compression::new(level.min(9)),
    );
    e.write_all(data)?;
    e.finish()
}

fn libdeflate(level: u32, data: &[u8]) -> io::Result<Vec<u8>> {
    use libdeflater::{CompressionLvl, Compressor};
    thread_local! {
        static POOL: RefCell<Vec<(u32, Compressor)>> = const { RefCell::new(Vec::new()) };
    }
    let lvl = CompressionLvl::new(level as i32)
        .map_err(|_| io::Error::other(format!("libdeflate has no level {level}")))?;
    POOL.with(|cell| {
        let mut pool = cell.borrow_mut();
        let i = match pool.iter().position(|(l, _)| *l == level) {
            Some(i) => i,
            None => {
                pool.push((level, Compressor::new(lvl)));
                pool.len() - 1
            }
        };
        let c = &mut pool[i].1;
        let mut out = vec![0u8; c.deflate_compress_bound(data.len())];
        let n = c
            .deflate_compress(data, &mut out)
            .map_err(|e| io::Error::other(format!("libdeflate: {e}")))?;
        out.truncate(n);
        Ok(out)
    })
}

/// A whole gzip member of `data`: the header as [`super::compress::GzipWriter`]
/// writes it for `opts` (MTIME, XFL, OS, FNAME), the raw deflate of
/// `deflate`, CRC-32 and ISIZE.
pub(crate) fn gzip_whole(
    data: &[u8],
    opts: &super::compress::GzipOptions,
    deflate: Deflate,
) -> io::Result<Vec<u8>> {
    let header_opts = super::compress::GzipOptions {
        level: deflate.level().min(9),
        ..opts.clone()
    };
    let empty = super::compress::gzip(b"", &header_opts)?;
    let header_len = 10 + opts.file_name.as_ref().map_or(0, |n| n.len() + 1);
    let body = deflate.raw(data)?;
    let mut out = Vec::with_capacity(header_len + body.len() + 8);
    out.write_all(&empty[..header_len])?;
    out.write_all(&body)?;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.write_all(&crc.sum().to_le_bytes())?;
    out.write_all(&(data.len() as u32).to_le_bytes())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inputs() -> Vec<Vec<u8>> {
        let big: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        vec![
            Vec::new(),
            b"a".to_vec(),
            b"print('hi')\n".to_vec(),
            big[..70_000].to_vec(),
            big,
        ]
    }

    #[test]
    fn whole_buffer_deflate_writes_the_bytes_of_a_fresh_or_streaming_compressor() {
        for level in [1, 6, 9] {
            for data in inputs() {
                let streamed =
                    crate::archive::zip::deflate_at(level, "x", data.len() as u64, &data[..])
                        .unwrap();
                assert_eq!(Deflate::ZlibRs(level).raw(&data).unwrap(), streamed.data);
            }
        }
        for level in [1, 6, 12] {
            for data in inputs() {
                let mut c =
                    libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).unwrap());
                let mut fresh = vec![0; c.deflate_compress_bound(data.len())];
                let n = c.deflate_compress(&data, &mut fresh).unwrap();
                fresh.truncate(n);
                for _ in 0..2 {
                    assert_eq!(Deflate::Libdeflate(level as u32).raw(&data).unwrap(), fresh);
                }
            }
        }
    }

    /// The bytes are part of kiln's format: a change here (a libdeflate or
    /// zlib-rs upgrade, another level) changes every Python archive and
    /// must come with a new builder identity.
    #[test]
    fn golden_digests() {
        let data = inputs().pop().unwrap();
        let digest = |d: Deflate| crate::hash::hex(&sha2::Sha256::digest(d.raw(&data).unwrap()));
        use sha2::Digest;
        assert_eq!(
            digest(Deflate::Libdeflate(6)),
            "902db51d12af34db00c1965fee63450b2746fcf28821d5011c02146830dd1004"
        );
        assert_eq!(
            digest(Deflate::ZlibRs(9)),
            "e51bdbcb19fef958885f94ab3ccaa86195e53e22fbc81a7c648db47ef249efc2"
        );
    }

    #[test]
    fn a_whole_gzip_member_is_read_back_by_flate2() {
        let opts = super::super::compress::GzipOptions {
            mtime: 1_700_000_000,
            ..super::super::compress::GzipOptions::KILN
        };
        for data in inputs() {
            let gz = gzip_whole(&data, &opts, Deflate::Libdeflate(6)).unwrap();
            assert_eq!(&gz[4..8], &1_700_000_000u32.to_le_bytes());
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
        }
    }
}
