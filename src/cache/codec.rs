//! NAR files on their way into and out of a cache: serialise a store path
//! into a compressed file while hashing both the NAR and the file; and the
//! reverse, decompressing with a cap and checking the NAR against its
//! narinfo while it is restored into a staging directory.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use sha2::Digest as _;

use super::CacheError;
use crate::cache::narinfo::Compression;
use crate::hash::{tree, Sha256};

/// What [`write_nar_file`] produced.
#[derive(Debug, Clone)]
pub(crate) struct NarFile {
    pub nar_hash: Sha256,
    pub nar_size: u64,
    pub file_hash: Sha256,
    pub file_size: u64,
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: sha2::Sha256,
    count: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: sha2::Sha256::new(),
            count: 0,
        }
    }
    fn finish(self) -> (W, Sha256, u64) {
        (
            self.inner,
            Sha256::from_bytes(self.hasher.finalize().into()),
            self.count,
        )
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Serialise `src` as a NAR, compress it with `compression` into `dest`.
pub(crate) fn write_nar_file(
    src: &Path,
    dest: &Path,
    compression: &Compression,
) -> Result<NarFile, CacheError> {
    let file = File::create(dest).map_err(io_err(dest))?;
    let outer = Hashing::new(BufWriter::with_capacity(1 << 20, file));
    let (outer, nar_hash, nar_size) = match compression {
        Compression::None => {
            let (h, _) = tree::dump(src, Hashing::new(outer)).map_err(CacheError::Tree)?;
            h.finish()
        }
        Compression::Zstd => {
            let enc = zstd::stream::write::Encoder::new(outer, 3).map_err(io_err(dest))?;
            let (h, _) = tree::dump(src, Hashing::new(enc)).map_err(CacheError::Tree)?;
            let (enc, hash, size) = h.finish();
            (enc.finish().map_err(io_err(dest))?, hash, size)
        }
        Compression::Xz => {
            let enc = liblzma::write::XzEncoder::new(outer, 6);
            let (h, _) = tree::dump(src, Hashing::new(enc)).map_err(CacheError::Tree)?;
            let (enc, hash, size) = h.finish();
            (enc.finish().map_err(io_err(dest))?, hash, size)
        }
        Compression::Other(name) => {
            return Err(CacheError::Unsupported {
                what: src.display().to_string(),
                reason: format!("compression {name:?} (kiln writes zstd, xz or none)"),
            })
        }
    };
    let (mut buf, file_hash, file_size) = outer.finish();
    buf.flush().map_err(io_err(dest))?;
    let file = buf.into_inner().map_err(|e| io_err(dest)(e.into_error()))?;
    file.sync_all().map_err(io_err(dest))?;
    Ok(NarFile {
        nar_hash,
        nar_size,
        file_hash,
        file_size,
    })
}

/// The sha256 and size of the file at `path`.
pub(crate) fn file_digest(path: &Path) -> Result<(Sha256, u64), CacheError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut h = Hashing::new(io::sink());
    io::copy(&mut BufReader::with_capacity(1 << 20, file), &mut h).map_err(io_err(path))?;
    let (_, hash, size) = h.finish();
    Ok((hash, size))
}

/// Decompress the NAR file `nar_file`, restore it at `dest` (inside a
/// staging directory) and return the NAR's sha256 and size. At most
/// `max_nar_size + 1` decompressed bytes are read, so a decompression bomb
/// stops at the size the narinfo declared.
pub(crate) fn restore_nar_file(
    nar_file: &Path,
    compression: &Compression,
    max_nar_size: u64,
    dest: &Path,
) -> Result<(Sha256, u64), CacheError> {
    let file = BufReader::with_capacity(1 << 20, File::open(nar_file).map_err(io_err(nar_file))?);
    let decoder: Box<dyn Read> = match compression {
        Compression::None => Box::new(file),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(file).map_err(io_err(nar_file))?)
        }
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new(file)),
        Compression::Other(name) => {
            return Err(CacheError::Unsupported {
                what: nar_file.display().to_string(),
                reason: format!("compression {name:?} (kiln reads zstd, xz or none)"),
            })
        }
    };
    let mut hashing = Hashing::new(decoder.take(max_nar_size.saturating_add(1)));
    crate::store::restore_nar(&mut hashing, dest).map_err(CacheError::Store)?;
    // The NAR reader stops at the end of the archive; anything after it
    // (within the cap) still counts towards the size and hash.
    io::copy(&mut hashing, &mut io::sink()).map_err(io_err(nar_file))?;
    let (_, hash, size) = hashing.finish();
    Ok((hash, size))
}
