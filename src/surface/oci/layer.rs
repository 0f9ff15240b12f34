//! One layer in one pass: entries → pax tar → (digest of the tar = diff id)
//! → parallel compressor → (digest of the blob) → `blobs/sha256/<hex>`.
//!
//! Entries come from [`super::plan`] sorted by path bytes, parents first.
//! Every entry has uid/gid 0, empty owner names, mtime
//! `SOURCE_DATE_EPOCH`, mode 0755 (directories, executables), 0644 (other
//! files) or 0777 (symlinks); no xattrs, no atime/ctime. File contents are
//! streamed (never through a symlink, never from a FIFO; a directory
//! snapshot's file must still have its snapshot digest), so memory does not
//! grow with the layer.

use super::blobs::{Blobs, Digest, Hashing};
use super::compress::{Encoding, ParallelEncoder};
use super::plan::{Entry, EntryKind};
use super::OciError;
use crate::archive::tar::{Dialect, TarWriter};

/// A written layer.
#[derive(Debug, Clone)]
pub(crate) struct WrittenLayer {
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
}

fn io(path: &str) -> impl Fn(std::io::Error) -> OciError + '_ {
    move |source| OciError::Io {
        path: path.into(),
        source,
    }
}

/// Write `entries` as one compressed layer blob.
pub(crate) fn write(
    blobs: &Blobs,
    entries: &[Entry],
    mtime: u64,
    compression: Encoding,
    workers: usize,
) -> Result<WrittenLayer, OciError> {
    let blob = blobs.writer().map_err(io("blobs"))?;
    let enc = ParallelEncoder::new(blob, compression, workers).map_err(io("blobs"))?;
    let mut tar = TarWriter::new(Hashing::new(enc), Dialect::Pax);
    for e in entries {
        match &e.kind {
            EntryKind::Dir => tar.append_dir(&e.path, 0o755, mtime)?,
            EntryKind::Symlink { target } => tar.append_symlink(&e.path, target, mtime)?,
            EntryKind::File {
                disk,
                data,
                size,
                mode,
            } => {
                let f = data
                    .reader_with_capacity(256 << 10)
                    .map_err(|source| OciError::Io {
                        path: disk.clone(),
                        source,
                    })?;
                tar.append_file_from(&e.path, *mode, mtime, *size, f)?;
            }
        }
    }
    let (enc, diff_id, _) = tar.finish()?.finish();
    let blob = enc.finish().map_err(io("blobs"))?;
    let (digest, size) = blob.commit().map_err(io("blobs"))?;
    Ok(WrittenLayer {
        digest,
        size,
        diff_id,
    })
}
