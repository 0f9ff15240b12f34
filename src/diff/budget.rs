//! What bounds reading one side of a diff, shared by every reader:
//! [`Limits`], the [`Cap`] hit and [`DiffError`], the per-container
//! [`Budget`], and capturing an entry's contents within them.

use std::cell::Cell;
use std::io::{self, Read};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::model::Format;
use super::sniff::sniff;

/// Resource caps for reading one container; a nested container has its own
/// budget, so `max_depth` bounds how often they multiply — except memory:
/// `max_retained` bounds the contents held across all nesting levels of one
/// side, and a nested archive beyond it is compared by digest only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Entries in one container.
    pub max_entries: usize,
    /// Bytes read in total on one side: decompressed streams, entry contents.
    pub max_total_size: u64,
    /// Bytes of one entry's contents.
    pub max_entry_size: u64,
    /// Decompressed bytes per compressed byte (beyond a 1 MiB allowance).
    pub max_ratio: u64,
    /// Containers inside containers.
    pub max_depth: usize,
    /// Entry contents kept in memory for text diffs and nested archives, on
    /// one side, across all nesting levels; contents beyond it are not kept
    /// (compared by digest only, and the report says so).
    pub max_retained: u64,
}

impl Default for Limits {
    /// 250,000 entries, 8 GiB in total, 2 GiB per entry, ratio 250,
    /// depth 4, 1 GiB kept in memory.
    fn default() -> Self {
        Limits {
            max_entries: 250_000,
            max_total_size: 8 << 30,
            max_entry_size: 2 << 30,
            max_ratio: 250,
            max_depth: 4,
            max_retained: 1 << 30,
        }
    }
}

/// Which cap an input hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Entries,
    TotalSize,
    EntrySize,
    Ratio,
    Depth,
    Retained,
}

impl Cap {
    /// The value of this cap in `limits`.
    pub fn limit(self, limits: &Limits) -> u64 {
        match self {
            Cap::Entries => limits.max_entries as u64,
            Cap::TotalSize => limits.max_total_size,
            Cap::EntrySize => limits.max_entry_size,
            Cap::Ratio => limits.max_ratio,
            Cap::Depth => limits.max_depth as u64,
            Cap::Retained => limits.max_retained,
        }
    }
}

impl std::fmt::Display for Cap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cap::Entries => "entry count (--max-entries)",
            Cap::TotalSize => "total size (--max-size)",
            Cap::EntrySize => "entry size (--max-entry-size)",
            Cap::Ratio => "compression ratio (--max-ratio)",
            Cap::Depth => "nesting depth (--max-depth)",
            Cap::Retained => "contents kept in memory (--max-retained)",
        })
    }
}

/// Why two inputs could not be compared (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{}: cannot read", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{at}: {cap} cap of {limit} exceeded")]
    Cap { at: String, cap: Cap, limit: u64 },
    #[error("{at}: unreadable {format}: {detail}")]
    Malformed {
        at: String,
        format: Format,
        detail: String,
    },
}

impl crate::error::Classify for DiffError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

/// Entries up to this size are kept in memory for text diffs.
pub(crate) const SMALL: u64 = 1 << 20;

/// The byte budget of one container: how much may be read, which cap that
/// is, and whether it was hit (readers such as `tar` may wrap the error).
#[derive(Debug)]
pub(crate) struct Budget {
    limit: u64,
    cap: Cap,
    hit: Rc<Cell<Option<Cap>>>,
    at: String,
    limits: Limits,
}

impl Budget {
    /// Budget for decompressing `compressed_len` bytes: the ratio cap (plus
    /// 1 MiB) or the total size cap, whichever is smaller.
    pub(crate) fn new(limits: &Limits, compressed_len: u64, ratio_cap: Cap, at: &str) -> Self {
        let by_ratio = compressed_len
            .saturating_mul(limits.max_ratio)
            .saturating_add(1 << 20);
        let (limit, cap) = if ratio_cap == Cap::Ratio && by_ratio < limits.max_total_size {
            (by_ratio, Cap::Ratio)
        } else {
            (limits.max_total_size, Cap::TotalSize)
        };
        Budget {
            limit,
            cap,
            hit: Rc::new(Cell::new(None)),
            at: at.into(),
            limits: *limits,
        }
    }

    pub(crate) fn reader<R: Read>(&self, inner: R) -> CapReader<R> {
        CapReader {
            inner,
            read: 0,
            limit: self.limit,
            cap: self.cap,
            hit: self.hit.clone(),
        }
    }

    /// The error to report for `e`, preferring a cap that was hit.
    pub(crate) fn error(&self, e: io::Error, format: Format) -> DiffError {
        if let Some(c) = self.hit.get() {
            return cap(&self.at, c, &self.limits);
        }
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<CapHit>()) {
            return cap(&self.at, inner.0, &self.limits);
        }
        DiffError::Malformed {
            at: self.at.clone(),
            format,
            detail: e.to_string(),
        }
    }

    /// The cap hit so far, if any.
    pub(crate) fn hit(&self) -> Option<Cap> {
        self.hit.get()
    }
}

/// Counts bytes and fails past the budget.
#[derive(Debug)]
pub(crate) struct CapReader<R> {
    inner: R,
    read: u64,
    limit: u64,
    cap: Cap,
    hit: Rc<Cell<Option<Cap>>>,
}

impl<R: Read> Read for CapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.hit.set(Some(self.cap));
            return Err(io::Error::other(CapHit(self.cap)));
        }
        Ok(n)
    }
}

#[derive(Debug)]
pub(crate) struct CapHit(pub Cap);

impl std::fmt::Display for CapHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cap exceeded", self.0)
    }
}

impl std::error::Error for CapHit {}

pub(crate) fn cap(at: &str, cap: Cap, limits: &Limits) -> DiffError {
    DiffError::Cap {
        at: at.into(),
        cap,
        limit: cap.limit(limits),
    }
}

/// What [`capture`] learned of one entry's contents.
#[derive(Debug)]
pub(crate) struct Captured {
    pub size: u64,
    pub sha256: [u8; 32],
    /// The bytes, when small or itself a container and within the budget.
    pub data: Option<Arc<Vec<u8>>>,
    /// The bytes would have been kept but the memory budget
    /// (`--max-retained`) did not allow it: compared by digest only.
    pub over_budget: bool,
}

/// Contents of one entry: size, SHA-256 and, when small or itself a
/// container, the bytes, charged to `retained` while they fit in
/// `limits.max_retained` (the budget left to this container: see
/// [`super::compare`]). Bytes that do not fit are let go as they arrive,
/// never held beyond the budget; the entry is then marked `over_budget`.
pub(crate) fn capture(
    r: &mut dyn Read,
    limits: &Limits,
    retained: &mut u64,
) -> io::Result<Captured> {
    let mut head = Vec::with_capacity(512);
    r.take(512).read_to_end(&mut head)?;
    let mut h = Sha256::new();
    h.update(&head);
    let keep = head.len() < 512 || sniff(&head).is_container();
    let fits = |held: u64, retained: u64| retained.saturating_add(held) <= limits.max_retained;
    let mut over_budget = false;
    let mut total = head.len() as u64;
    let mut data = if fits(total, *retained) {
        Some(head)
    } else {
        over_budget = true;
        None
    };
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limits.max_entry_size {
            return Err(io::Error::other(CapHit(Cap::EntrySize)));
        }
        h.update(&buf[..n]);
        if let Some(d) = &mut data {
            if !(keep || total <= SMALL) {
                data = None;
            } else if fits(total, *retained) {
                d.extend_from_slice(&buf[..n]);
            } else {
                data = None;
                over_budget = true;
            }
        }
    }
    if let Some(d) = &data {
        *retained += d.len() as u64;
    }
    Ok(Captured {
        size: total,
        sha256: h.finalize().into(),
        data: data.map(Arc::new),
        // a large plain file is never kept, budget or not
        over_budget: over_budget && (keep || total <= SMALL),
    })
}
