//! Filesystem operations of the store: copying a tree into staging,
//! normalising it (modes, mtime, fsync) and atomic record writes. Removal
//! is [`super::Store::remove`], through [`crate::fsutil::remove_below`];
//! lock files are opened (never through a link) by [`lock_file`].

use std::fs::{self, File, FileTimes, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;

use super::error::StoreError;
use crate::hash::tree::TreeError;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The mtime every stored file and directory gets (Nix uses 1 too).
fn store_mtime() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1)
}

fn special(path: &Path, ft: fs::FileType) -> StoreError {
    use std::os::unix::fs::FileTypeExt;
    let kind = if ft.is_fifo() {
        "FIFO (named pipe)"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "special file"
    };
    StoreError::Tree(TreeError::SpecialFile {
        path: path.to_path_buf(),
        kind,
    })
}

/// Copy `src` (file, symlink or directory) to the new path `dst`. Files keep
/// only their owner-executable bit; everything is writable by the owner until
/// [`normalise`]; a special file is refused.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<(), StoreError> {
    const STAGE: crate::fsutil::TreeCopy = crate::fsutil::TreeCopy {
        exec_file: 0o700,
        file: 0o600,
        dir: 0o777,
        exact_dir: false,
        replace: false,
        keep_mtime: false,
    };
    let parent = dst.parent().unwrap_or(Path::new("."));
    let name = dst.file_name().map(Path::new).unwrap_or(dst);
    let dir = crate::fsutil::Dir::open(parent).map_err(io_err(parent))?;
    crate::fsutil::copy_tree(src, &dir, name, &STAGE).map_err(|e| match e {
        crate::fsutil::CopyError::Io { path, source } => StoreError::Io { path, source },
        crate::fsutil::CopyError::Special { path, file_type } => special(&path, file_type),
    })
}

/// Make a staged tree immutable: files 0444 (0555 if owner-executable), mtime
/// 1; directories likewise, bottom-up, mode 0555 — except the top
/// directory's mode, which [`seal_top`] sets after the rename (renaming a
/// directory needs write permission on it). Returns what [`sync_tree`] must
/// make durable, so the caller can overlap the writeback with hashing.
pub(crate) fn normalise(path: &Path) -> Result<ToSync, StoreError> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    collect(path, &mut files, &mut dirs)?;
    files.par_iter().try_for_each(|f| fix_file(f))?;
    for (i, d) in dirs.iter().enumerate() {
        // `dirs` is in post-order; the last one is `path` itself.
        fix_dir(d, i + 1 < dirs.len())?;
    }
    Ok(ToSync { files, dirs })
}

/// What a normalised tree still needs made durable.
#[derive(Debug)]
pub(crate) struct ToSync {
    files: Vec<PathBuf>,
    /// Bottom-up.
    dirs: Vec<PathBuf>,
}

/// fsync what [`normalise`] returned: files in parallel, then directories.
pub(crate) fn sync_tree(t: &ToSync) -> Result<(), StoreError> {
    let sync = |p: &PathBuf| File::open(p).and_then(|f| f.sync_all()).map_err(io_err(p));
    t.files.par_iter().try_for_each(sync)?;
    t.dirs.iter().try_for_each(sync)
}

fn collect(
    path: &Path,
    files: &mut Vec<PathBuf>,
    dirs: &mut Vec<PathBuf>,
) -> Result<(), StoreError> {
    let md = fs::symlink_metadata(path).map_err(io_err(path))?;
    let ft = md.file_type();
    if ft.is_file() {
        files.push(path.to_path_buf());
    } else if ft.is_dir() {
        for e in fs::read_dir(path).map_err(io_err(path))? {
            let e = e.map_err(io_err(path))?;
            collect(&e.path(), files, dirs)?;
        }
        dirs.push(path.to_path_buf());
    } else if !ft.is_symlink() {
        return Err(special(path, ft));
    }
    Ok(())
}

fn fix_file(path: &Path) -> Result<(), StoreError> {
    let f = File::open(path).map_err(io_err(path))?;
    let mode = f.metadata().map_err(io_err(path))?.permissions().mode();
    let mode = if mode & 0o100 != 0 { 0o555 } else { 0o444 };
    f.set_times(FileTimes::new().set_modified(store_mtime()))
        .map_err(io_err(path))?;
    f.set_permissions(Permissions::from_mode(mode))
        .map_err(io_err(path))
}

fn fix_dir(path: &Path, seal: bool) -> Result<(), StoreError> {
    let f = File::open(path).map_err(io_err(path))?;
    f.set_times(FileTimes::new().set_modified(store_mtime()))
        .map_err(io_err(path))?;
    if seal {
        f.set_permissions(Permissions::from_mode(0o555))
            .map_err(io_err(path))?;
    }
    Ok(())
}

/// After the rename: make the top directory read-only and sync it.
pub(crate) fn seal_top(path: &Path) -> Result<(), StoreError> {
    let md = fs::symlink_metadata(path).map_err(io_err(path))?;
    if md.is_dir() {
        let f = File::open(path).map_err(io_err(path))?;
        f.set_permissions(Permissions::from_mode(0o555))
            .map_err(io_err(path))?;
        f.sync_all().map_err(io_err(path))?;
    }
    Ok(())
}

/// Undo [`seal_top`]: make a directory output's top writable by its owner
/// again, so that it can be moved to another directory.
pub(crate) fn unseal_top(path: &Path) -> Result<(), StoreError> {
    let md = fs::symlink_metadata(path).map_err(io_err(path))?;
    if md.is_dir() {
        fs::set_permissions(path, Permissions::from_mode(0o755)).map_err(io_err(path))?;
    }
    Ok(())
}

/// fsync a directory, making renames inside it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir))
}

/// Write `bytes` to `target` atomically: a temp file in `tmp` (same
/// filesystem), fsync, rename, fsync of the target's directory.
pub(crate) fn atomic_write(tmp: &Path, target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = tempfile::Builder::new()
        .prefix(".record-")
        .tempfile_in(tmp)
        .map_err(io_err(tmp))?;
    f.write_all(bytes).map_err(io_err(f.path()))?;
    f.as_file().sync_all().map_err(io_err(target))?;
    f.persist(target).map_err(|e| StoreError::Io {
        path: target.to_path_buf(),
        source: e.error,
    })?;
    if let Some(dir) = target.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Open (creating, never through a link) `path` and block until it is
/// exclusively locked.
pub(crate) fn lock_file(path: &Path) -> Result<File, StoreError> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(crate::fsutil::NOFOLLOW_NONBLOCK)
        .open(path)
        .map_err(open_err(path))?;
    f.lock().map_err(io_err(path))?;
    Ok(f)
}

/// The error of opening the lock file at `path` without following a link:
/// a link there (`ELOOP`) is a store that was tampered with, named as such.
pub(super) fn open_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| match (e.raw_os_error(), fs::read_link(path)) {
        (Some(n), Ok(target)) if n == rustix::io::Errno::LOOP.raw_os_error() => {
            StoreError::LinkedDir {
                dir: path.to_path_buf(),
                target,
            }
        }
        _ => io_err(path)(e),
    }
}
