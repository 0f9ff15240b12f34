//! Which deflate implementation and level an archive is written with, and
//! whole-buffer deflate for archives whose entries are in memory.
//!
//! Two implementations, each pinned exactly in `Cargo.toml` because its
//! output bytes are part of kiln's artifact format (FORMATS.md §7):
//!
//! - **zlib-rs** (through flate2): streaming, with sync flushes and preset
//!   dictionaries, so it serves kiln's bundles, crates, OCI layers and
//!   every writer that streams, and npm tarballs, deflated in pieces on all
//!   cores with [`gzip_pieces`] (pigz's scheme: one stream, the same bytes
//!   on any number of threads);
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

/// Input bytes per piece of a [`gzip_pieces`] stream: chosen by
/// measurement on npm packages (docs/npm.md, "kiln's gzip format") — large
/// enough that the sync flush and the restarted match finder cost well under
/// 0.1 % of the output, small enough that two cores share a 3 MB package
/// evenly. Part of the format: the boundaries depend on this and on nothing
/// else.
pub(crate) const PIECE: usize = 256 << 10;
/// Deflate's window: each piece starts with the 32 KiB before it as its
/// preset dictionary.
const WINDOW: usize = 32 << 10;

/// The identity of [`gzip_pieces`] at `level`: the backend, the level and
/// the piece size, each of which changes its bytes.
pub(crate) fn pieces_identity(level: u32) -> String {
    format!(
        "{} pieces={}KiB dictionary=32KiB",
        Deflate::ZlibRs(level).identity(),
        PIECE >> 10
    )
}

/// One gzip member of `data` — a single deflate stream — compressed in
/// independent pieces on rayon's pool, the way pigz does it: the input is
/// cut every [`PIECE`] bytes, each piece is raw deflate (zlib-rs at `level`)
/// primed with the preceding 32 KiB as its dictionary and ending in a sync
/// flush (an empty stored block, so the next piece starts on a byte
/// boundary with no final-block bit set), the last piece ends the stream.
/// The pieces' CRC-32s are combined into the trailer's.
///
/// The bytes depend only on `data`, `opts` and `level` — never on the
/// number of threads — and any gzip reader (gzip, zlib, Node, flate2's
/// single-member `GzDecoder`) reads them as one member.
pub(crate) fn gzip_pieces(data: &[u8], opts: &super::compress::GzipOptions) -> io::Result<Vec<u8>> {
    use rayon::prelude::*;
    let level = opts.level.min(9);
    let starts: Vec<usize> = (0..data.len().max(1)).step_by(PIECE).collect();
    let pieces: Vec<(Vec<u8>, flate2::Crc)> = starts
        .par_iter()
        .map(|&start| {
            let end = (start + PIECE).min(data.len());
            let dict = &data[start.saturating_sub(WINDOW)..start];
            let body = piece(dict, &data[start..end], level, end == data.len())?;
            let mut crc = flate2::Crc::new();
            crc.update(&data[start..end]);
            Ok((body, crc))
        })
        .collect::<io::Result<_>>()?;
    let header_len = 10 + opts.file_name.as_ref().map_or(0, |n| n.len() + 1);
    let empty = super::compress::gzip(b"", opts)?;
    let total: usize = pieces.iter().map(|(b, _)| b.len()).sum();
    let mut out = Vec::with_capacity(header_len + total + 8);
    out.extend_from_slice(&empty[..header_len]);
    let mut crc = flate2::Crc::new();
    for (body, c) in &pieces {
        out.extend_from_slice(body);
        crc.combine(c);
    }
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

/// Raw deflate of `input` with the preset dictionary `dict`, ending with a
/// sync flush, or with the final block when `last`.
fn piece(dict: &[u8], input: &[u8], level: u32, last: bool) -> io::Result<Vec<u8>> {
    use flate2::{Compress, FlushCompress, Status};
    let mut c = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(input.len() + input.len() / 8 + 256);
    loop {
        let fed = c.total_in() as usize;
        let status = c
            .compress_vec(&input[fed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let done = match status {
            Status::StreamEnd => true,
            // A sync flush is complete once it returns with room to spare.
            Status::Ok | Status::BufError => {
                !last && c.total_in() as usize == input.len() && out.len() < out.capacity()
            }
        };
        if done {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            out.reserve(out.capacity() / 2 + 4096);
        }
    }
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

    /// Pieces cut by size only: one thread or two, the same bytes, read
    /// back as one member by a single-member reader.
    #[test]
    fn a_pieced_gzip_stream_is_one_member_whatever_the_thread_count() {
        let mut data: Vec<u8> = Vec::new();
        for i in 0..120_000u32 {
            data.extend_from_slice(format!("line {} of {}\n", i % 977, i / 3).as_bytes());
        }
        let opts = super::super::compress::GzipOptions::NPM;
        for len in [0, 1, PIECE - 1, PIECE, PIECE + 1, data.len()] {
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| gzip_pieces(&data[..len], &opts).unwrap())
            };
            let one = run(1);
            assert_eq!(one, run(2), "{len} bytes");
            assert_eq!(&one[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, &data[..len], "{len} bytes");
        }
        assert!(data.len() > 4 * PIECE);
        let digest = crate::hash::hex(&sha2::Sha256::digest(gzip_pieces(&data, &opts).unwrap()));
        use sha2::Digest;
        // The npm tarball format (writer npm-v2): changes only with a new identity.
        assert_eq!(
            digest,
            "7fe6fa5616e0c0678837c374cf3173d6ea4590cf03259631e3d076e591ea6583"
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
