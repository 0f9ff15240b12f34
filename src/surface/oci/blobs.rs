//! `blobs/sha256/` of a layout being written: content-addressed files, each
//! digested while it is written and renamed onto its digest at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};

use crate::fsutil::WriteBehind;

/// A sha256 digest as OCI spells it: `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Digest(String);

impl Digest {
    pub(crate) fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }
    pub(crate) fn from_hasher(h: Sha256) -> Digest {
        Digest(format!("sha256:{}", hex(&h.finalize())))
    }
    /// The 64 hex digits.
    pub(crate) fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Digest {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Digest, &'static str> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or("a digest is sha256:<64 lowercase hex digits>")?;
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Digest(s.to_string()))
        } else {
            Err("a digest is sha256:<64 lowercase hex digits>")
        }
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) use crate::hash::hex;

/// A writer that digests and counts what passes through it.
#[derive(Debug)]
pub(crate) struct Hashing<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    pub(crate) fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            size: 0,
        }
    }
    pub(crate) fn finish(self) -> (W, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hash), self.size)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The blob directory of one layout.
#[derive(Debug)]
pub(crate) struct Blobs {
    dir: PathBuf,
    next: AtomicUsize,
    /// The digests of the blobs written (each file named by the digest of
    /// the bytes written to it).
    written: Arc<Mutex<BTreeSet<String>>>,
}

/// A blob being written.
#[derive(Debug)]
pub(crate) struct BlobWriter {
    tmp: PathBuf,
    dir: PathBuf,
    out: Hashing<BufWriter<WriteBehind>>,
    written: Arc<Mutex<BTreeSet<String>>>,
}

impl Blobs {
    /// `<layout>/blobs/sha256`, created.
    pub(crate) fn create(layout: &Path) -> io::Result<Blobs> {
        let dir = layout.join("blobs").join("sha256");
        std::fs::create_dir_all(&dir)?;
        Ok(Blobs {
            dir,
            next: AtomicUsize::new(0),
            written: Arc::default(),
        })
    }

    pub(crate) fn path(&self, d: &Digest) -> PathBuf {
        self.dir.join(d.hex())
    }

    /// Start a blob.
    pub(crate) fn writer(&self) -> io::Result<BlobWriter> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!(".tmp-{n}"));
        let f = File::create(&tmp)?;
        Ok(BlobWriter {
            tmp,
            dir: self.dir.clone(),
            out: Hashing::new(BufWriter::with_capacity(1 << 20, WriteBehind::new(f))),
            written: self.written.clone(),
        })
    }

    /// The SHA-256 (hex) of every blob written, by its path relative to
    /// the layout (`blobs/sha256/<hex>`).
    pub(crate) fn written(&self) -> BTreeMap<String, String> {
        self.written
            .lock()
            .expect("blob digests")
            .iter()
            .map(|hex| (format!("blobs/sha256/{hex}"), hex.clone()))
            .collect()
    }

    /// Write a whole blob.
    pub(crate) fn put(&self, bytes: &[u8]) -> io::Result<(Digest, u64)> {
        let mut w = self.writer()?;
        w.write_all(bytes)?;
        w.commit()
    }
}

impl BlobWriter {
    /// Flush, and move the blob onto its digest.
    pub(crate) fn commit(self) -> io::Result<(Digest, u64)> {
        let (buf, digest, size) = self.out.finish();
        buf.into_inner().map_err(|e| e.into_error())?;
        std::fs::rename(&self.tmp, self.dir.join(digest.hex()))?;
        self.written
            .lock()
            .expect("blob digests")
            .insert(digest.hex().to_string());
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
