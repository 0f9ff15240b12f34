//! Parallel NAR serialisation of a file or directory tree.
//!
//! The NAR of a tree is one byte stream, so its SHA-256 is one sequential
//! computation: the best possible speed is that of a single hash stream. To
//! reach it, everything else happens beside that stream:
//!
//! - a *walker* thread visits the tree in NAR order (entries sorted by name
//!   bytes), `lstat`s each entry and emits the NAR's structure as messages.
//!   It holds each directory open ([`At`]) and lists, `stat`s, opens and
//!   reads everything below it relative to that descriptor (`openat` with
//!   `O_NOFOLLOW`), never by path: no path is resolved twice, and a
//!   directory swapped for a link during the walk is not followed;
//! - it submits read jobs to a dedicated rayon pool — batches of up to 256
//!   small files (≤ 1 MiB together), or 2 MiB chunks of large files — which
//!   reads them ahead in parallel into recycled buffers, bounded by a
//!   read-ahead budget of 16 MiB;
//! - the calling thread consumes the messages in order, waits for each
//!   chunk's data and feeds framing and contents into a [`NarWriter`] over
//!   any [`Write`] (a hasher for [`nar_sha256`]/[`nar_blake3`], a file or
//!   pipe for [`dump`]).
//!
//! The NAR is never materialised. Files are read exactly once. Special files
//! (FIFOs, sockets, devices) cannot be represented in a NAR and are a
//! [`TreeError::SpecialFile`] naming the path; a file whose size changes
//! while it is read is a [`TreeError::Changed`].
//!
//! The read pool is separate from rayon's global pool and its jobs never
//! block, so hashing from inside other rayon work cannot deadlock.

use std::ffi::{CStr, CString, OsStr};
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use rustix::fs::{FileType, Mode, OFlags};

use super::{Blake3, Sha256};
use crate::nix::nar::{NarWriteError, NarWriter};

/// Larger files are read in chunks of this size, one job per chunk.
const CHUNK: u64 = 2 << 20;
/// Files up to this size are read in batches, one job per batch ...
const SMALL: u64 = 256 << 10;
/// ... of at most this many bytes or files.
const BATCH_BYTES: u64 = 1 << 20;
const BATCH_FILES: usize = 256;
/// Most bytes read ahead of the hash stream at any time.
const BUDGET: u64 = 16 << 20;
/// Each read job is charged at least this much, bounding the number of jobs in flight.
const MIN_CHARGE: u64 = 16 << 10;
/// ... and this much more for each directory its files are opened from,
/// bounding the directories held open for reads in flight (≤ 256).
const DIR_CHARGE: u64 = 64 << 10;

/// How the walk opens a directory below the root.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);
/// How the walk opens a file it listed as regular: never through a link
/// or into a FIFO swapped in since (no-follow, non-blocking: the read then
/// fails instead of waiting).
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK);

/// A tree could not be serialised.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{}: no such file or directory", crate::name::shown_path(path))]
    NotFound { path: PathBuf },
    #[error(
        "{path}: is a {kind}; only regular files, directories and symlinks can be hashed or stored"
    )]
    SpecialFile { path: PathBuf, kind: &'static str },
    #[error("{}", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{}: file changed size while being read ({expected} bytes expected)",
        crate::name::shown_path(path)
    )]
    Changed { path: PathBuf, expected: u64 },
    #[error("writing the NAR of {}", crate::name::shown_path(path))]
    Write {
        path: PathBuf,
        #[source]
        source: NarWriteError,
    },
}

impl crate::error::Classify for TreeError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            TreeError::NotFound { .. } | TreeError::SpecialFile { .. } => {
                crate::error::ErrorKind::BadInput
            }
            _ => crate::error::ErrorKind::Internal,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> TreeError + '_ {
    move |source| TreeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn errno_at(path: PathBuf) -> impl FnOnce(rustix::io::Errno) -> TreeError {
    move |e| TreeError::Io {
        path,
        source: e.into(),
    }
}

/// A NAR digest and the NAR's length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NarDigest<H> {
    pub hash: H,
    pub size: u64,
}

/// SHA-256 and size of the NAR serialisation of `path` — what
/// `nix-hash --type sha256 PATH` prints and what a store path is named by.
pub fn nar_sha256(path: &Path) -> Result<NarDigest<Sha256>, TreeError> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let size = dump(path, FnWriter(|b: &[u8]| h.update(b)))?.1;
    Ok(NarDigest {
        hash: Sha256::from_bytes(h.finalize().into()),
        size,
    })
}

/// BLAKE3 and size of the NAR serialisation of `path`.
pub fn nar_blake3(path: &Path) -> Result<NarDigest<Blake3>, TreeError> {
    let mut h = blake3::Hasher::new();
    let size = dump(
        path,
        FnWriter(|b: &[u8]| {
            h.update(b);
        }),
    )?
    .1;
    Ok(NarDigest {
        hash: Blake3::from_bytes(*h.finalize().as_bytes()),
        size,
    })
}

/// A [`Write`] that hands every buffer to a closure.
struct FnWriter<F: FnMut(&[u8])>(F);

impl<F: FnMut(&[u8])> Write for FnWriter<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (self.0)(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Write the NAR serialisation of `path` (a file, symlink or directory) to
/// `out`; returns `out` and the number of bytes written. Equals
/// `nix-store --dump PATH` byte for byte.
pub fn dump<W: Write>(path: &Path, out: W) -> Result<(W, u64), TreeError> {
    let root_md = fs::symlink_metadata(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            TreeError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            io_err(path)(e)
        }
    })?;
    // Fail before any work if the root itself cannot be serialised.
    special_kind(FileType::from_raw_mode(root_md.mode())).map_or(Ok(()), |kind| {
        Err(TreeError::SpecialFile {
            path: path.to_path_buf(),
            kind,
        })
    })?;
    let budget = Arc::new(Budget::new());
    let (tx, rx) = channel();
    std::thread::scope(|s| {
        let walker_budget = Arc::clone(&budget);
        let walker = std::thread::Builder::new()
            .name("kiln-nar-walk".into())
            .stack_size(32 << 20)
            .spawn_scoped(s, move || {
                let mut w = Walker {
                    tx,
                    budget: walker_budget,
                    pending: Vec::new(),
                    pending_bytes: 0,
                    pending_tx: None,
                    pending_dir: None,
                };
                if let Err(Abort::Failed(e)) = w.root(path, &root_md).and_then(|()| w.flush()) {
                    let _ = w.tx.send(Msg::Fail(e));
                }
            })
            .map_err(io_err(path))?;
        let result = consume(path, rx, &budget, out);
        budget.cancel();
        // The walker stops at its next send (the receiver is gone) or wait.
        let _ = walker.join();
        result
    })
}

/// What the walker tells the consumer, in NAR order.
enum Msg {
    Directory,
    Entry(CString),
    EndDirectory,
    Symlink(Vec<u8>),
    /// A regular file's header; unless empty, its contents come from the
    /// current batch ([`Msg::FromBatch`]) or from [`Msg::Chunk`]s.
    Regular {
        executable: bool,
        size: u64,
    },
    /// A batch of small files starts; its data (their contents, concatenated
    /// in order) and what it was charged arrive on this channel once the
    /// batch has been read.
    Batch(Receiver<Result<(Filled, u64), TreeError>>),
    /// The preceding regular file's contents are the next bytes of the batch.
    FromBatch,
    /// Part of a large file, read by one job.
    Chunk {
        data: Receiver<Result<Filled, TreeError>>,
        charge: u64,
    },
    Fail(TreeError),
}

/// The walker's error, if it reported one, else "a reader died".
fn failure(root: &Path, rx: &Receiver<Msg>) -> TreeError {
    rx.iter()
        .find_map(|m| match m {
            Msg::Fail(e) => Some(e),
            _ => None,
        })
        .unwrap_or_else(|| TreeError::Io {
            path: root.to_path_buf(),
            source: io::Error::other("a file reader thread died"),
        })
}

fn consume<W: Write>(
    root: &Path,
    rx: Receiver<Msg>,
    budget: &Budget,
    out: W,
) -> Result<(W, u64), TreeError> {
    let werr = |source| TreeError::Write {
        path: root.to_path_buf(),
        source,
    };
    let mut nar = NarWriter::new(out).map_err(werr)?;
    let mut batch: Option<Receiver<Result<(Filled, u64), TreeError>>> = None;
    let mut data = Filled::default();
    let mut cursor = 0usize;
    let mut last_size = 0u64;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Directory => nar.directory(),
            Msg::Entry(name) => nar.entry(name.to_bytes()),
            Msg::EndDirectory => nar.close_directory(),
            Msg::Symlink(target) => nar.symlink(&target),
            Msg::Regular { executable, size } => {
                last_size = size;
                nar.regular(executable, size)
            }
            Msg::Batch(next) => {
                batch = Some(next);
                Ok(())
            }
            Msg::FromBatch => {
                if let Some(pending) = batch.take() {
                    let charge;
                    (data, charge) = match pending.recv() {
                        Ok(d) => d?,
                        Err(_) => return Err(failure(root, &rx)),
                    };
                    cursor = 0;
                    budget.release(charge);
                }
                let end = cursor + last_size as usize;
                let r = nar.contents(&data.bytes()[cursor..end]);
                cursor = end;
                if cursor == data.len {
                    give_buffer(std::mem::take(&mut data).buf);
                }
                r
            }
            Msg::Chunk { data, charge } => {
                let data = match data.recv() {
                    Ok(d) => d?,
                    Err(_) => return Err(failure(root, &rx)),
                };
                budget.release(charge);
                let r = nar.contents(data.bytes());
                give_buffer(data.buf);
                r
            }
            Msg::Fail(e) => return Err(e),
        }
        .map_err(werr)?;
    }
    let n = nar.bytes_written();
    let out = nar.finish().map_err(werr)?;
    Ok((out, n))
}

/// Bytes that may still be read ahead; `cancelled` releases a blocked walker.
struct Budget {
    state: Mutex<(u64, bool)>,
    cv: Condvar,
}

impl Budget {
    fn new() -> Self {
        Budget {
            state: Mutex::new((BUDGET, false)),
            cv: Condvar::new(),
        }
    }

    /// Wait for `n` bytes of budget; `false` if the consumer has gone.
    fn acquire(&self, n: u64) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if st.1 {
                return false;
            }
            if st.0 >= n {
                st.0 -= n;
                return true;
            }
            st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn release(&self, n: u64) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.0 += n;
        self.cv.notify_all();
    }

    fn cancel(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.1 = true;
        self.cv.notify_all();
    }
}

/// The pool that reads files ahead of the hash stream: one thread fewer
/// than the cores (the hash stream has one to itself), at a lower
/// priority, so that on a small machine a reader sharing the hashing core
/// yields to it (2 cores: 1.61× → 1.64× `nix-hash`, bench/BENCHMARKS.md).
fn read_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| (n.get() - 1).clamp(1, 8));
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("kiln-nar-read-{i}"))
            // Readers yield to the hash stream when they share a core with it.
            .start_handler(|_| {
                let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 5);
            })
            .build()
            .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
            .expect("cannot start even one reader thread")
    })
}

enum Abort {
    /// The consumer has stopped; end quietly.
    Gone,
    Failed(TreeError),
}

impl From<TreeError> for Abort {
    fn from(e: TreeError) -> Self {
        Abort::Failed(e)
    }
}

struct Walker {
    tx: Sender<Msg>,
    budget: Arc<Budget>,
    /// Small files waiting to be read as one job, and the batch's channel.
    pending: Vec<(Arc<At>, CString, u64)>,
    /// What the pending batch will be charged: its bytes and its directories.
    pending_bytes: u64,
    pending_tx: Option<Sender<Result<(Filled, u64), TreeError>>>,
    /// The directory of the last file added to the batch.
    pending_dir: Option<Arc<At>>,
}

/// A directory the walk holds open; `path` is only for messages.
struct At {
    fd: OwnedFd,
    path: PathBuf,
}

impl At {
    /// `path/name`, for messages.
    fn join(&self, name: &CStr) -> PathBuf {
        self.path.join(OsStr::from_bytes(name.to_bytes()))
    }

    /// The error of an operation on `name`; its path is only built if
    /// there is one (these calls are once per file).
    fn err<'a>(&'a self, name: &'a CStr) -> impl FnOnce(rustix::io::Errno) -> TreeError + 'a {
        move |e| errno_at(self.join(name))(e)
    }
}

/// The name of a file type that a NAR cannot hold.
fn special_kind(ft: FileType) -> Option<&'static str> {
    match ft {
        FileType::RegularFile | FileType::Directory | FileType::Symlink => None,
        FileType::Fifo => Some("FIFO (named pipe)"),
        FileType::Socket => Some("socket"),
        FileType::BlockDevice => Some("block device"),
        FileType::CharacterDevice => Some("character device"),
        FileType::Unknown => Some("special file"),
    }
}

impl Walker {
    fn send(&self, m: Msg) -> Result<(), Abort> {
        self.tx.send(m).map_err(|_| Abort::Gone)
    }

    /// The root, by its path (the caller's own; everything below it is
    /// reached by descriptor).
    fn root(&mut self, path: &Path, md: &Metadata) -> Result<(), Abort> {
        let ft = md.file_type();
        if ft.is_dir() {
            // Like `lstat`ed: a link at the root's last component was
            // followed only if the caller wrote `link/`.
            let flags = DIR_FLAGS.difference(OFlags::NOFOLLOW);
            let fd = rustix::fs::openat(rustix::fs::CWD, path, flags, Mode::empty())
                .map_err(errno_at(path.to_path_buf()))?;
            self.directory(&Arc::new(At {
                fd,
                path: path.to_path_buf(),
            }))
        } else if ft.is_symlink() {
            let target = fs::read_link(path).map_err(io_err(path))?;
            self.send(Msg::Symlink(target.into_os_string().into_vec()))
        } else {
            let size = md.len();
            self.send(Msg::Regular {
                executable: md.mode() & 0o100 != 0,
                size,
            })?;
            if size == 0 {
                return Ok(());
            }
            let file = open_listed(path).map_err(io_err(path))?;
            self.chunks(file, path.to_path_buf(), size)
        }
    }

    /// A directory's entries in NAR order, each `lstat`ed and visited.
    fn directory(&mut self, at: &Arc<At>) -> Result<(), Abort> {
        self.send(Msg::Directory)?;
        let listing = || -> rustix::io::Result<Vec<CString>> {
            let mut names = Vec::new();
            let mut d = rustix::fs::Dir::read_from(&at.fd)?;
            while let Some(e) = d.read() {
                let name = e?.file_name().to_owned();
                if name.as_bytes() != b"." && name.as_bytes() != b".." {
                    names.push(name);
                }
            }
            Ok(names)
        };
        let mut names = listing().map_err(|e| errno_at(at.path.clone())(e))?;
        names.sort_unstable();
        for name in names {
            let st = rustix::fs::statat(
                &at.fd,
                name.as_c_str(),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(at.err(&name))?;
            let ft = FileType::from_raw_mode(st.st_mode);
            if let Some(kind) = special_kind(ft) {
                let path = at.join(&name);
                return Err(TreeError::SpecialFile { path, kind }.into());
            }
            self.send(Msg::Entry(name.clone()))?;
            match ft {
                FileType::Directory => {
                    let fd = rustix::fs::openat(&at.fd, name.as_c_str(), DIR_FLAGS, Mode::empty())
                        .map_err(at.err(&name))?;
                    let path = at.join(&name);
                    self.directory(&Arc::new(At { fd, path }))?;
                }
                FileType::Symlink => {
                    let target = rustix::fs::readlinkat(&at.fd, name.as_c_str(), Vec::new())
                        .map_err(at.err(&name))?;
                    self.send(Msg::Symlink(target.into_bytes()))?;
                }
                _ => {
                    let size = st.st_size as u64;
                    self.file(at, name, size, st.st_mode & 0o100 != 0)?;
                }
            }
        }
        self.send(Msg::EndDirectory)
    }

    fn file(&mut self, at: &Arc<At>, name: CString, size: u64, exec: bool) -> Result<(), Abort> {
        self.send(Msg::Regular {
            executable: exec,
            size,
        })?;
        if size == 0 {
            return Ok(());
        }
        if size <= SMALL {
            if self.pending_tx.is_none() {
                let (tx, rx) = channel();
                self.pending_tx = Some(tx);
                self.send(Msg::Batch(rx))?;
            }
            if !self
                .pending_dir
                .as_ref()
                .is_some_and(|d| Arc::ptr_eq(d, at))
            {
                self.pending_dir = Some(Arc::clone(at));
                self.pending_bytes += DIR_CHARGE;
            }
            self.pending.push((Arc::clone(at), name, size));
            self.pending_bytes += size;
            self.send(Msg::FromBatch)?;
            if self.pending_bytes >= BATCH_BYTES || self.pending.len() >= BATCH_FILES {
                self.flush()?;
            }
            return Ok(());
        }
        // Earlier files must be on their way before this one may wait for budget.
        self.flush()?;
        let path = at.join(&name);
        let fd = rustix::fs::openat(&at.fd, name.as_c_str(), FILE_FLAGS, Mode::empty())
            .map_err(errno_at(path.clone()))?;
        self.chunks(File::from(fd), path, size)
    }

    /// A large file's contents, one read job per chunk.
    fn chunks(&mut self, file: File, path: PathBuf, size: u64) -> Result<(), Abort> {
        let (file, path) = (Arc::new(file), Arc::new(path));
        let mut offset = 0;
        while offset < size {
            let len = CHUNK.min(size - offset);
            if !self.budget.acquire(len) {
                return Err(Abort::Gone);
            }
            let (tx, rx) = channel();
            let (f, p) = (Arc::clone(&file), Arc::clone(&path));
            read_pool().spawn(move || {
                let _ = tx.send(read_at(&f, &p, offset, len, size));
            });
            self.send(Msg::Chunk {
                data: rx,
                charge: len,
            })?;
            offset += len;
        }
        Ok(())
    }

    /// Submit the pending batch of small files as one read job.
    fn flush(&mut self) -> Result<(), Abort> {
        let Some(tx) = self.pending_tx.take() else {
            return Ok(());
        };
        let files = std::mem::take(&mut self.pending);
        let charge = std::mem::take(&mut self.pending_bytes).max(MIN_CHARGE);
        self.pending_dir = None;
        let total = files.iter().map(|f| f.2).sum();
        if !self.budget.acquire(charge) {
            return Err(Abort::Gone);
        }
        read_pool().spawn(move || {
            let _ = tx.send(read_batch(&files, total).map(|d| (d, charge)));
        });
        Ok(())
    }
}

/// Open the root file by its path: never through a link or into a FIFO
/// swapped in since it was `lstat`ed.
fn open_listed(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(crate::fsutil::NOFOLLOW_NONBLOCK)
        .open(path)
}

/// Read small files into one buffer, in order: each opened relative to
/// its directory, one `read` per file.
fn read_batch(files: &[(Arc<At>, CString, u64)], total: u64) -> Result<Filled, TreeError> {
    let mut buf = take_buffer(total as usize);
    let mut at = 0;
    for (dir, name, size) in files {
        let fd = rustix::fs::openat(&dir.fd, name.as_c_str(), FILE_FLAGS, Mode::empty())
            .map_err(dir.err(name))?;
        let end = at + *size as usize;
        File::from(fd)
            .read_exact(&mut buf[at..end])
            .map_err(|e| changed_or(&dir.join(name), *size, e))?;
        at = end;
    }
    Ok(Filled { buf, len: at })
}

fn read_at(f: &File, path: &Path, offset: u64, len: u64, size: u64) -> Result<Filled, TreeError> {
    let mut buf = take_buffer(len as usize);
    f.read_exact_at(&mut buf[..len as usize], offset)
        .map_err(|e| changed_or(path, size, e))?;
    Ok(Filled {
        buf,
        len: len as usize,
    })
}

fn changed_or(path: &Path, size: u64, e: io::Error) -> TreeError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        TreeError::Changed {
            path: path.to_path_buf(),
            expected: size,
        }
    } else {
        io_err(path)(e)
    }
}

/// Data read ahead: the first `len` bytes of `buf`. Buffers are recycled
/// with their (initialised) length intact, so reading into them needs neither
/// fresh pages (page faults) nor zeroing.
#[derive(Default)]
struct Filled {
    buf: Vec<u8>,
    len: usize,
}

impl Filled {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Recycled read buffers in two size classes (batches; large-file chunks),
/// at most [`POOL_BYTES`] together.
static BUFFERS: Mutex<([Vec<Vec<u8>>; 2], usize)> = Mutex::new(([Vec::new(), Vec::new()], 0));
const POOL_BYTES: usize = 2 * BUDGET as usize;

fn class(len: usize) -> usize {
    usize::from(len as u64 > BATCH_BYTES + SMALL)
}

/// A buffer of at least `len` initialised bytes.
fn take_buffer(len: usize) -> Vec<u8> {
    let mut v = {
        let mut pool = BUFFERS.lock().unwrap_or_else(|p| p.into_inner());
        let v = pool.0[class(len)].pop().unwrap_or_default();
        pool.1 -= v.len();
        v
    };
    if v.len() < len {
        v.resize(len, 0);
    }
    v
}

fn give_buffer(v: Vec<u8>) {
    let mut pool = BUFFERS.lock().unwrap_or_else(|p| p.into_inner());
    if pool.1 + v.len() <= POOL_BYTES {
        pool.1 += v.len();
        pool.0[class(v.len())].push(v);
    }
}
