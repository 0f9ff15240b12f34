//! Small filesystem helpers shared by every module: how a file that came
//! with a project is opened ([`open_regular`]), sorted listings, the one
//! copy of a file or tree, which decides the copies' modes
//! ([`copy_tree`]), write-behind syncing, directories held open by
//! descriptor and the one no-follow removal ([`dir`]).

use std::path::{Path, PathBuf};

mod copy;
mod dir;
pub(crate) use copy::{copy_regular, copy_tree, CopyError, TreeCopy};
pub(crate) use dir::{remove_below, remove_tree, Dir};

/// `open(2)` flags for a file kiln did not create and must not be tricked
/// by: `O_NOFOLLOW` (never through a symlink at the last component) and
/// `O_NONBLOCK` (never hang on a FIFO swapped in). Linux values.
pub(crate) const NOFOLLOW_NONBLOCK: i32 = 0o400000 | 0o4000;

/// Open a file that came with a checkout (or that a build wrote) for
/// reading: it must be a regular file, and is never reached through a
/// symlink at its last component (a manifest linked to `/dev/zero` or to
/// a secret outside the tree) nor waited on (a FIFO). A symlink or special
/// file is an `InvalidInput` error saying so; a missing file `NotFound`.
pub(crate) fn open_regular(path: &Path) -> std::io::Result<(std::fs::File, std::fs::Metadata)> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                Error::new(
                    ErrorKind::InvalidInput,
                    "is a symbolic link, not a regular file",
                )
            } else {
                e
            }
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "is not a regular file"));
    }
    Ok((file, meta))
}

/// The bytes of a file opened by [`open_regular`].
pub(crate) fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let (mut file, meta) = open_regular(path)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of a file opened by [`open_regular`] (`InvalidData` if not UTF-8).
pub(crate) fn read_regular_string(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "is not UTF-8"))
}

/// Every non-directory entry below `root` (symlinks are not followed), as
/// `(path relative to root, full path)`, sorted by relative path.
pub(crate) fn files_below(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let p = e.path();
            if e.file_type()?.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, p));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Bytes written between two write-behind syncs.
const WRITE_BEHIND: u64 = 32 << 20;

/// A file being written whose pages go to disk while it grows: every
/// [`WRITE_BEHIND`] bytes, an `fdatasync` on another thread (one at a time;
/// the writer never waits for it). The store syncs every file it
/// registers; for a layer blob compressed over seconds this moves that
/// disk time off the end of the build, where nothing else can overlap it.
#[derive(Debug)]
pub(crate) struct WriteBehind {
    file: std::fs::File,
    since: u64,
    busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl WriteBehind {
    pub(crate) fn new(file: std::fs::File) -> WriteBehind {
        WriteBehind {
            file,
            since: 0,
            busy: Default::default(),
        }
    }

    fn kick(&self) {
        use std::sync::atomic::Ordering;
        if self.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        match self.file.try_clone() {
            Ok(f) => {
                let busy = self.busy.clone();
                std::thread::spawn(move || {
                    // Only an early start: the store's own fsync reports
                    // any error.
                    let _ = f.sync_data();
                    busy.store(false, Ordering::Release);
                });
            }
            Err(_) => self.busy.store(false, Ordering::Release),
        }
    }
}

impl std::io::Write for WriteBehind {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.since += n as u64;
        if self.since >= WRITE_BEHIND {
            self.since = 0;
            self.kick();
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
