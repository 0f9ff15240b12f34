//! Parallel layer compression whose bytes do not depend on the core count.
//!
//! The uncompressed stream is cut at fixed offsets into chunks
//! ([`GZIP_CHUNK`], [`ZSTD_CHUNK`]); workers compress chunks independently and
//! the writer emits them in order. Because the cut points depend only on the
//! input bytes, the output is the same on one core or sixty-four.
//!
//! - **gzip**: one gzip member per chunk (header `1f8b 08 00 00000000 00 ff`,
//!   libdeflate at level [`GZIP_LEVEL`] unless the recipe sets
//!   `compression-level`, CRC-32 and size of the chunk),
//!   concatenated, as eStargz layers are. Gzip readers (Go's, which docker,
//!   containerd, podman, skopeo and umoci use, zlib's `gzip -d`, Python's)
//!   read concatenated members as one stream. libdeflate has no streaming
//!   dictionary, so chunks do not share one; on real layer contents its
//!   level 6 is still smaller than zlib's (FORMATS.md §6 numbers are in
//!   `bench/BENCHMARKS.md`) at about two thirds of zlib-rs's CPU time.
//! - **zstd**: one frame per chunk (level [`ZSTD_LEVEL`] by default, content size
//!   recorded, no checksum, no dictionary id), concatenated; zstd readers
//!   decode concatenated frames as one stream.
//!
//! At most `2 × workers + 1` chunks are in flight, so memory stays at a few
//! MiB whatever the layer size. Workers are plain threads owned by the
//! encoder (not the rayon pool the engine builds in, which may have a single
//! thread that is busy writing).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::archive::deflate::Deflate;
use crate::recipe::oci::LayerCompression;

/// Uncompressed bytes per gzip chunk.
pub(crate) const GZIP_CHUNK: usize = 1 << 20;
/// Uncompressed bytes per zstd frame.
pub(crate) const ZSTD_CHUNK: usize = 4 << 20;
/// Default libdeflate level of gzip layers (libdeflate's, gzip's and Go's
/// default).
pub(crate) const GZIP_LEVEL: u32 = 6;
/// The header of every gzip member: no flags, MTIME 0, XFL 0, OS 255.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// Default zstd level of zstd layers (zstd's default).
pub(crate) const ZSTD_LEVEL: u32 = 3;

/// A layer compressor and its level (`[oci] compression`,
/// `compression-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoding {
    pub kind: LayerCompression,
    pub level: u32,
}

impl Encoding {
    /// The encoding a recipe asks for; `Err` names the levels `kind` takes
    /// when `level` is not one of them.
    pub(crate) fn new(kind: LayerCompression, level: Option<u32>) -> Result<Self, String> {
        let (name, default, range) = match kind {
            LayerCompression::Gzip => ("gzip", GZIP_LEVEL, 1..=12),
            LayerCompression::Zstd => ("zstd", ZSTD_LEVEL, 1..=19),
        };
        let level = level.unwrap_or(default);
        if range.contains(&level) {
            Ok(Encoding { kind, level })
        } else {
            Err(format!(
                "is not a {name} level: {}–{} (default {default}; lower is faster and larger)",
                range.start(),
                range.end()
            ))
        }
    }

    fn chunk(self) -> usize {
        match self.kind {
            LayerCompression::Gzip => GZIP_CHUNK,
            LayerCompression::Zstd => ZSTD_CHUNK,
        }
    }

    fn compress(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self.kind {
            LayerCompression::Gzip => gzip_member(data, self.level),
            LayerCompression::Zstd => zstd_chunk(data, self.level),
        }
    }
}

/// The identity of this encoder at its default level, part of every OCI
/// derivation (a recipe's own `compression-level` is in its settings).
pub(crate) fn identity(c: LayerCompression) -> String {
    match c {
        LayerCompression::Gzip => format!(
            "gzip-members chunk={GZIP_CHUNK} {}",
            Deflate::Libdeflate(GZIP_LEVEL).identity()
        ),
        LayerCompression::Zstd => format!(
            "{} frames chunk={ZSTD_CHUNK} level={ZSTD_LEVEL}",
            crate::archive::ZSTD_IDENTITY
                .split(" level")
                .next()
                .unwrap_or_default()
        ),
    }
}

struct Task {
    data: Vec<u8>,
    reply: SyncSender<io::Result<Vec<u8>>>,
}

/// A [`Write`] that compresses into `out` in parallel; call
/// [`ParallelEncoder::finish`] to end the stream.
pub(crate) struct ParallelEncoder<W: Write> {
    out: W,
    encoding: Encoding,
    chunk: usize,
    buf: Vec<u8>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    total: u64,
    tasks: Option<SyncSender<Task>>,
    workers: Vec<JoinHandle<()>>,
}

impl<W: Write> std::fmt::Debug for ParallelEncoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelEncoder")
            .field("encoding", &self.encoding)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl<W: Write> ParallelEncoder<W> {
    /// Start a stream with `workers` compression threads (at least one).
    pub(crate) fn new(out: W, encoding: Encoding, workers: usize) -> io::Result<Self> {
        let workers = workers.max(1);
        let (tx, rx) = mpsc::sync_channel::<Task>(workers);
        let rx = Arc::new(Mutex::new(rx));
        let handles = (0..workers)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || loop {
                    let task = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(task) = task else { return };
                    let _ = task.reply.send(encoding.compress(&task.data));
                })
            })
            .collect();
        let chunk = encoding.chunk();
        Ok(ParallelEncoder {
            out,
            encoding,
            chunk,
            buf: Vec::with_capacity(chunk),
            pending: VecDeque::new(),
            max_pending: 2 * workers + 1,
            total: 0,
            tasks: Some(tx),
            workers: handles,
        })
    }

    fn dispatch(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        let (reply, rx) = mpsc::sync_channel(1);
        let tasks = self.tasks.as_ref().ok_or_else(gone)?;
        tasks.send(Task { data, reply }).map_err(|_| gone())?;
        self.pending.push_back(rx);
        while self.pending.len() >= self.max_pending {
            self.drain_one()?;
        }
        Ok(())
    }

    fn drain_one(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let bytes = rx.recv().map_err(|_| gone())??;
            self.out.write_all(&bytes)?;
        }
        Ok(())
    }

    /// End the stream (the last, possibly short, chunk; one empty member or
    /// frame for an empty stream) and return the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() || self.total == 0 {
            self.dispatch()?;
        }
        while !self.pending.is_empty() {
            self.drain_one()?;
        }
        self.tasks = None;
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ParallelEncoder<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.chunk - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        self.total += n as u64;
        if self.buf.len() == self.chunk {
            self.dispatch()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn gone() -> io::Error {
    io::Error::other("compression worker stopped")
}

/// One whole gzip member of `data`.
fn gzip_member(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let body = Deflate::Libdeflate(level).raw(data)?;
    let mut out = Vec::with_capacity(GZIP_HEADER.len() + body.len() + 8);
    out.extend_from_slice(&GZIP_HEADER);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

fn zstd_chunk(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut c = zstd::bulk::Compressor::new(level as i32)?;
    c.include_checksum(false)?;
    c.include_contentsize(true)?;
    c.include_dictid(false)?;
    c.compress(data)
}

/// Compress `data` in one call.
#[cfg(test)]
pub(crate) fn compress_all(
    data: &[u8],
    kind: LayerCompression,
    workers: usize,
) -> io::Result<Vec<u8>> {
    let encoding = Encoding::new(kind, None).expect("the default level");
    let mut e = ParallelEncoder::new(Vec::new(), encoding, workers)?;
    e.write_all(data)?;
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 {
                    (x % 251) as u8
                } else {
                    b"kiln oci layer "[i % 15]
                }
            })
            .collect()
    }

    #[test]
    fn gzip_members_independent_of_workers() {
        for n in [0, 10, GZIP_CHUNK, 3 * GZIP_CHUNK + 12345] {
            let data = sample(n);
            let one = compress_all(&data, LayerCompression::Gzip, 1).unwrap();
            let four = compress_all(&data, LayerCompression::Gzip, 4).unwrap();
            assert_eq!(one, four, "n={n}");
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "n={n}");
            // One member per started chunk, each with the fixed header.
            let members = n.div_ceil(GZIP_CHUNK).max(1);
            let mut rest = &one[..];
            for _ in 0..members {
                assert_eq!(rest[..10], GZIP_HEADER, "n={n}");
                let mut d = flate2::bufread::GzDecoder::new(rest);
                std::io::copy(&mut d, &mut std::io::sink()).unwrap();
                rest = d.into_inner();
            }
            assert!(
                rest.is_empty(),
                "n={n}: {} bytes after the members",
                rest.len()
            );
        }
    }

    /// The bytes are part of kiln's format: a change here is a change of
    /// every image digest and must come with a new builder identity.
    #[test]
    fn golden_digests() {
        let data = sample(2 * GZIP_CHUNK + 999);
        let gz = compress_all(&data, LayerCompression::Gzip, 2).unwrap();
        let zs = compress_all(&data, LayerCompression::Zstd, 2).unwrap();
        assert_eq!(
            super::super::blobs::Digest::of(&gz).to_string(),
            "sha256:51093bab759136e8a7aee31d07b297b84d0a14bdb23e0e8547baa5d48f1a528f"
        );
        assert_eq!(
            super::super::blobs::Digest::of(&zs).to_string(),
            "sha256:3f130f8d31082faf994544b538d8a71e9dcf39d497729e37116620bc5446a371"
        );
    }

    #[test]
    fn zstd_frames_independent_of_workers() {
        for n in [0, 10, ZSTD_CHUNK + 7] {
            let data = sample(n);
            let one = compress_all(&data, LayerCompression::Zstd, 1).unwrap();
            let three = compress_all(&data, LayerCompression::Zstd, 3).unwrap();
            assert_eq!(one, three);
            assert_eq!(zstd::decode_all(&one[..]).unwrap(), data);
        }
    }
}
