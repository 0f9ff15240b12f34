//! Directories held open by descriptor ([`Dir`]), and the one removal kiln
//! uses ([`remove_tree`], [`remove_below`], [`Dir::remove`]).
//!
//! Every operation of a [`Dir`] is relative to the directory's descriptor
//! and never follows a symlink at the name it is given (`openat` with
//! `O_NOFOLLOW`, `unlinkat`, `renameat`, `linkat` without
//! `AT_SYMLINK_FOLLOW`): a link swapped in for an entry after the directory
//! was opened is handled as a link, never as the place it points at. A
//! removal walks the tree by descriptors, removes links as links and never
//! resolves a path again.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

/// An open directory; `path` is only for messages.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

/// A symbolic link met by a no-follow open (`ELOOP`, or `ENOTDIR` with
/// `O_DIRECTORY`), as an `InvalidInput` error saying so.
fn link_error(e: Errno, name: &OsStr) -> io::Error {
    if e == Errno::LOOP {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; kiln does not follow it",
                Path::new(name).display()
            ),
        )
    } else {
        e.into()
    }
}

impl Dir {
    /// Open `path` as a directory. Links on the way to it and at it are
    /// followed: `path` is the caller's own (a store root, `--out`); what
    /// lies below it is reached through [`Dir::sub`].
    pub(crate) fn open(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            path,
            DIR_FLAGS.difference(OFlags::NOFOLLOW),
            Mode::empty(),
        )?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The path this directory was opened as (for messages).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// `path()/name`, for messages.
    pub(crate) fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// The subdirectory `name`; a symlink there is an `InvalidInput` error.
    pub(crate) fn sub(&self, name: impl AsRef<Path>) -> io::Result<Dir> {
        let name = name.as_ref();
        let fd = rustix::fs::openat(&self.fd, name, DIR_FLAGS, Mode::empty()).map_err(|e| {
            let link = || {
                self.metadata(name)
                    .ok()
                    .flatten()
                    .is_some_and(|m| m.is_symlink())
            };
            if e == Errno::NOTDIR && link() {
                link_error(Errno::LOOP, name.as_os_str())
            } else {
                link_error(e, name.as_os_str())
            }
        })?;
        Ok(Dir {
            fd,
            path: self.path.join(name),
        })
    }

    /// The directory `rel` below this one, each component opened by
    /// [`Dir::sub`] (no `..`, no absolute path).
    pub(crate) fn walk(&self, rel: &Path) -> io::Result<Dir> {
        let mut at = self.sub(".")?;
        for c in rel.components() {
            match c {
                Component::Normal(n) => at = at.sub(n)?,
                Component::CurDir => {}
                _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "not below")),
            }
        }
        Ok(at)
    }

    /// Create the subdirectory `name` (mode `mode`, before the umask).
    pub(crate) fn create_dir(&self, name: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        rustix::fs::mkdirat(&self.fd, name.as_ref(), Mode::from_raw_mode(mode))?;
        Ok(())
    }

    /// Set the mode of the directory `name` exactly (no umask).
    pub(crate) fn set_mode(&self, name: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name.as_ref(), flags, Mode::empty())?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        Ok(())
    }

    /// The subdirectory `name`, created if absent.
    pub(crate) fn ensure_sub(&self, name: impl AsRef<Path>) -> io::Result<Dir> {
        match self.create_dir(name.as_ref(), 0o755) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        self.sub(name)
    }

    /// What `name` is, without following it (a symlink is a symlink);
    /// `Ok(None)` when absent.
    pub(crate) fn metadata(&self, name: impl AsRef<Path>) -> io::Result<Option<Metadata>> {
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name.as_ref(), flags, Mode::empty()) {
            Ok(fd) => Ok(Some(File::from(fd).metadata()?)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Open the regular file `name` for reading: never through a symlink,
    /// never waiting on a FIFO; anything else is an `InvalidInput` error.
    pub(crate) fn open_file(&self, name: impl AsRef<Path>) -> io::Result<File> {
        let name = name.as_ref();
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty())
            .map_err(|e| link_error(e, name.as_os_str()))?;
        let f = File::from(fd);
        if !f.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is not a regular file",
            ));
        }
        Ok(f)
    }

    /// The bytes of the regular file `name` ([`Dir::open_file`]).
    pub(crate) fn read(&self, name: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        self.open_file(name)?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Create the new file `name` for writing (never an existing entry,
    /// never through a link).
    pub(crate) fn create_new(&self, name: impl AsRef<Path>, mode: u32) -> io::Result<File> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name.as_ref(), flags, Mode::from_raw_mode(mode))?;
        Ok(File::from(fd))
    }

    /// Open (creating if absent) the regular file `name` for writing
    /// without truncating it, never through a link: what a lock file is.
    pub(crate) fn open_or_create(&self, name: impl AsRef<Path>) -> io::Result<File> {
        let name = name.as_ref();
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o644))
            .map_err(|e| link_error(e, name.as_os_str()))?;
        let f = File::from(fd);
        if !f.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is not a regular file",
            ));
        }
        Ok(f)
    }

    /// Rename `from` to `to`, both in this directory (links are renamed as links).
    pub(crate) fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, from.as_ref(), &self.fd, to.as_ref())?;
        Ok(())
    }

    /// Give the entry `from` the second name `to` (a link gets a second
    /// link, never its target).
    pub(crate) fn hard_link(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        rustix::fs::linkat(
            &self.fd,
            from.as_ref(),
            &self.fd,
            to.as_ref(),
            AtFlags::empty(),
        )?;
        Ok(())
    }

    /// Create the symlink `name` pointing at `target`.
    pub(crate) fn symlink(
        &self,
        target: impl AsRef<Path>,
        name: impl AsRef<Path>,
    ) -> io::Result<()> {
        rustix::fs::symlinkat(target.as_ref(), &self.fd, name.as_ref())?;
        Ok(())
    }

    /// The target of the symlink `name`.
    pub(crate) fn read_link(&self, name: impl AsRef<Path>) -> io::Result<PathBuf> {
        let t = rustix::fs::readlinkat(&self.fd, name.as_ref(), Vec::new())?;
        let bytes: OsString = std::os::unix::ffi::OsStringExt::from_vec(t.into_bytes());
        Ok(PathBuf::from(bytes))
    }

    /// The names in this directory (not `.` and `..`), sorted.
    pub(crate) fn entries(&self) -> io::Result<Vec<OsString>> {
        let mut names = Vec::new();
        let mut d = rustix::fs::Dir::read_from(&self.fd)?;
        while let Some(e) = d.read() {
            let e = e?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(OsStr::from_bytes(n).to_os_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Remove the entry `name`: a file or symlink is unlinked (a link as a
    /// link), a directory emptied through descriptors (read-only
    /// directories made writable first) and removed. Absent is fine.
    pub(crate) fn remove(&self, name: impl AsRef<Path>) -> io::Result<()> {
        remove_entry(self.fd.as_fd(), name.as_ref())
    }
}

fn remove_entry(dir: std::os::fd::BorrowedFd<'_>, name: &Path) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::ISDIR) => {
            let sub = match rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            empty(&sub)?;
            match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Remove everything in the open directory `fd`.
fn empty(fd: &OwnedFd) -> io::Result<()> {
    let st = rustix::fs::fstat(fd)?;
    if st.st_mode & 0o700 != 0o700 {
        // Outputs are read-only trees; their owner may open them up.
        rustix::fs::fchmod(fd, Mode::from_raw_mode((st.st_mode & 0o7777) | 0o700))?;
    }
    let mut names = Vec::new();
    let mut d = rustix::fs::Dir::read_from(fd)?;
    while let Some(e) = d.read() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    for n in names {
        remove_entry(fd.as_fd(), Path::new(&n))?;
    }
    Ok(())
}

/// Remove the file, symlink (as a link) or directory tree at `path`; absent
/// is fine. The directory holding it is opened as the caller names it;
/// from there on nothing is reached through a link.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot remove a root or `..`",
        ));
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    match Dir::open(parent) {
        Ok(d) => d.remove(name),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Remove `base/rel` as [`remove_tree`] does, reaching it from `base` (the
/// caller's own directory) without following any link on the way: a
/// directory of `rel` that is a link is an `InvalidInput` error.
pub(crate) fn remove_below(base: &Path, rel: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "nothing to remove",
        ));
    };
    match Dir::open(base).and_then(|d| d.walk(parent)) {
        Ok(d) => d.remove(name),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_never_follows_a_link() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir_all(outside.join("deep")).unwrap();
        std::fs::write(outside.join("deep/keep"), "x").unwrap();
        let doomed = t.path().join("doomed");
        std::fs::create_dir_all(doomed.join("ro/inner")).unwrap();
        std::fs::write(doomed.join("ro/inner/f"), "y").unwrap();
        std::os::unix::fs::symlink(&outside, doomed.join("link")).unwrap();
        std::os::unix::fs::symlink(&outside, doomed.join("ro/link")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let ro = std::fs::Permissions::from_mode(0o555);
        std::fs::set_permissions(doomed.join("ro/inner"), ro.clone()).unwrap();
        std::fs::set_permissions(doomed.join("ro"), ro).unwrap();
        remove_tree(&doomed).unwrap();
        assert!(!doomed.exists());
        assert!(outside.join("deep/keep").is_file());
        // A link at the top is removed as a link.
        let top = t.path().join("top");
        std::os::unix::fs::symlink(&outside, &top).unwrap();
        remove_tree(&top).unwrap();
        assert!(outside.join("deep/keep").is_file());
        // A link on the way below `base` is refused.
        let base = t.path().join("base");
        std::fs::create_dir(&base).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("via")).unwrap();
        let e = remove_below(&base, Path::new("via/deep")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        assert!(outside.join("deep/keep").is_file());
    }
}
