//! Parallel layer compression whose bytes do not depend on the core count.
//!
//! The uncompressed stream is cut at fixed offsets into chunks
//! ([`GZIP_CHUNK`], [`ZSTD_CHUNK`]); workers compress chunks independently and
//! the writer emits them in order. Because the cut points depend only on the
//! input bytes, the output is the same on one core or sixty-four.
//!
//! - **gzip**, as pigz does it: one gzip member (`1f8b 08 00 00000000 00 ff`,
//!   level [`GZIP_LEVEL`]); each chunk is a raw deflate stream primed with the
//!   previous chunk's last 32 KiB as dictionary and ended by a sync flush (the
//!   last one by a final block); the CRC-32s of the chunks are combined for
//!   the trailer. Every gzip reader sees one ordinary member.
//! - **zstd**: one frame per chunk (level [`ZSTD_LEVEL`], content size
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

use flate2::{Compress, Compression, FlushCompress, Status};

use super::schema::LayerCompression;

/// Uncompressed bytes per gzip chunk.
pub const GZIP_CHUNK: usize = 1 << 20;
/// Uncompressed bytes per zstd frame.
pub const ZSTD_CHUNK: usize = 4 << 20;
/// Deflate level of gzip layers (gzip's and Go's default).
pub const GZIP_LEVEL: u32 = 6;
/// zstd level of zstd layers (zstd's default).
pub const ZSTD_LEVEL: i32 = 3;
const DICT: usize = 32 << 10;

/// The identity of this encoder, part of every OCI derivation.
pub fn identity(c: LayerCompression) -> String {
    match c {
        LayerCompression::Gzip => format!(
            "{} chunked-deflate chunk={GZIP_CHUNK} level={GZIP_LEVEL} dict=32KiB",
            crate::archive::deflate::ZLIB_RS
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
    dict: Vec<u8>,
    last: bool,
    reply: SyncSender<io::Result<Chunk>>,
}

struct Chunk {
    bytes: Vec<u8>,
    crc: crc32fast::Hasher,
}

/// A [`Write`] that compresses into `out` in parallel; call
/// [`ParallelEncoder::finish`] to end the stream.
pub struct ParallelEncoder<W: Write> {
    out: W,
    kind: LayerCompression,
    chunk: usize,
    buf: Vec<u8>,
    dict: Vec<u8>,
    pending: VecDeque<Receiver<io::Result<Chunk>>>,
    max_pending: usize,
    crc: crc32fast::Hasher,
    total: u64,
    tasks: Option<SyncSender<Task>>,
    workers: Vec<JoinHandle<()>>,
}

impl<W: Write> std::fmt::Debug for ParallelEncoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelEncoder")
            .field("kind", &self.kind)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl<W: Write> ParallelEncoder<W> {
    /// Start a stream with `workers` compression threads (at least one).
    pub fn new(mut out: W, kind: LayerCompression, workers: usize) -> io::Result<Self> {
        let workers = workers.max(1);
        if kind == LayerCompression::Gzip {
            // ID1 ID2 CM FLG MTIME(0) XFL(0 at level 6) OS(255)
            out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
        }
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
                    let result = match kind {
                        LayerCompression::Gzip => deflate_chunk(&task.data, &task.dict, task.last),
                        LayerCompression::Zstd => zstd_chunk(&task.data),
                    };
                    let _ = task.reply.send(result);
                })
            })
            .collect();
        let chunk = match kind {
            LayerCompression::Gzip => GZIP_CHUNK,
            LayerCompression::Zstd => ZSTD_CHUNK,
        };
        Ok(ParallelEncoder {
            out,
            kind,
            chunk,
            buf: Vec::with_capacity(chunk),
            dict: Vec::new(),
            pending: VecDeque::new(),
            max_pending: 2 * workers + 1,
            crc: crc32fast::Hasher::new(),
            total: 0,
            tasks: Some(tx),
            workers: handles,
        })
    }

    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        let dict = std::mem::take(&mut self.dict);
        if self.kind == LayerCompression::Gzip {
            self.dict = data[data.len().saturating_sub(DICT)..].to_vec();
        }
        let (reply, rx) = mpsc::sync_channel(1);
        let tasks = self.tasks.as_ref().ok_or_else(gone)?;
        tasks
            .send(Task {
                data,
                dict,
                last,
                reply,
            })
            .map_err(|_| gone())?;
        self.pending.push_back(rx);
        while self.pending.len() >= self.max_pending {
            self.drain_one()?;
        }
        Ok(())
    }

    fn drain_one(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let chunk = rx.recv().map_err(|_| gone())??;
            self.crc.combine(&chunk.crc);
            self.out.write_all(&chunk.bytes)?;
        }
        Ok(())
    }

    /// End the stream (final deflate block and gzip trailer) and return the
    /// writer.
    pub fn finish(mut self) -> io::Result<W> {
        if self.kind == LayerCompression::Gzip || !self.buf.is_empty() || self.total == 0 {
            self.dispatch(true)?;
        }
        while !self.pending.is_empty() {
            self.drain_one()?;
        }
        self.tasks = None;
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
        if self.kind == LayerCompression::Gzip {
            let crc = self.crc.clone().finalize();
            self.out.write_all(&crc.to_le_bytes())?;
            self.out.write_all(&(self.total as u32).to_le_bytes())?;
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
            self.dispatch(false)?;
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

fn deflate_chunk(data: &[u8], dict: &[u8], last: bool) -> io::Result<Chunk> {
    let mut c = Compress::new(Compression::new(GZIP_LEVEL), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 1024);
    loop {
        let (in_before, out_before) = (c.total_in(), c.total_out());
        let status = c
            .compress_vec(&data[in_before as usize..], &mut out, flush)
            .map_err(io::Error::other)?;
        if status == Status::StreamEnd {
            break;
        }
        // A sync flush is complete once all input is taken and output room is left.
        if !last && c.total_in() as usize == data.len() && out.len() < out.capacity() {
            break;
        }
        if (c.total_in(), c.total_out()) == (in_before, out_before) && out.len() < out.capacity() {
            return Err(io::Error::other("deflate made no progress"));
        }
        out.reserve(64 << 10);
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(data);
    Ok(Chunk { bytes: out, crc })
}

fn zstd_chunk(data: &[u8]) -> io::Result<Chunk> {
    let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    c.include_checksum(false)?;
    c.include_contentsize(true)?;
    c.include_dictid(false)?;
    let bytes = c.compress(data)?;
    Ok(Chunk {
        bytes,
        crc: crc32fast::Hasher::new(),
    })
}

/// Compress `data` in one call (tests, small blobs).
pub fn compress_all(data: &[u8], kind: LayerCompression, workers: usize) -> io::Result<Vec<u8>> {
    let mut e = ParallelEncoder::new(Vec::new(), kind, workers)?;
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
    fn gzip_is_one_member_independent_of_workers() {
        for n in [0, 10, GZIP_CHUNK, 3 * GZIP_CHUNK + 12345] {
            let data = sample(n);
            let one = compress_all(&data, LayerCompression::Gzip, 1).unwrap();
            let four = compress_all(&data, LayerCompression::Gzip, 4).unwrap();
            assert_eq!(one, four, "n={n}");
            // A single-member decoder reads it all.
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "n={n}");
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
            "sha256:2836dd51bb08204907394fccd3c80a5071b819c3bc0b87bd56964c00e2a64798"
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
