//! The one recursive copy of a tree ([`copy_tree`]): store outputs into a
//! build workspace, staged outputs into the store, directory artifacts into
//! `dist/`. What differs between them is a [`TreeCopy`] value.

use std::io;
use std::path::{Path, PathBuf};

use super::Dir;

/// How [`copy_tree`] makes what it copies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TreeCopy {
    /// Mode of a copied file whose source is owner-executable, and of any
    /// other file; set exactly (the umask does not apply).
    pub exec_file: u32,
    pub file: u32,
    /// Mode a directory is created with (before the umask)...
    pub dir: u32,
    /// ...and whether it is then set exactly, whatever the umask.
    pub exact_dir: bool,
    /// A file's place may hold an entry, which is replaced; else the
    /// file must be new there (`O_EXCL`).
    pub replace: bool,
    /// Files keep their source's modification time.
    pub keep_mtime: bool,
}

/// Why [`copy_tree`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Neither a regular file, a directory nor a symlink (a FIFO, a
    /// socket, a device): never copied.
    #[error("{}: is a special file", path.display())]
    Special {
        path: PathBuf,
        file_type: std::fs::FileType,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> CopyError + '_ {
    move |source| CopyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Copy `src` (a file, a symlink, kept as a symlink, or a directory,
/// entries in name order) to the new entry `dir/name`, never following a
/// link on the destination side.
pub(crate) fn copy_tree(
    src: &Path,
    dir: &Dir,
    name: &Path,
    how: &TreeCopy,
) -> Result<(), CopyError> {
    let dest = dir.join(name);
    let meta = std::fs::symlink_metadata(src).map_err(io_at(src))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = std::fs::read_link(src).map_err(io_at(src))?;
        dir.symlink(target, name).map_err(io_at(&dest))
    } else if ft.is_dir() {
        dir.create_dir(name, how.dir).map_err(io_at(&dest))?;
        if how.exact_dir {
            dir.set_mode(name, how.dir).map_err(io_at(&dest))?;
        }
        let sub = dir.sub(name).map_err(io_at(&dest))?;
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .map_err(io_at(src))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io_at(src))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            copy_tree(&e.path(), &sub, Path::new(&e.file_name()), how)?;
        }
        Ok(())
    } else if ft.is_file() {
        copy_regular(src, dir, name, how)
    } else {
        Err(CopyError::Special {
            path: src.to_path_buf(),
            file_type: ft,
        })
    }
}

/// Copy the regular file `src` (never through a symlink) to `dir/name`
/// (in the kernel where it can), as [`copy_tree`] copies a file.
pub(crate) fn copy_regular(
    src: &Path,
    dir: &Dir,
    name: &Path,
    how: &TreeCopy,
) -> Result<(), CopyError> {
    use std::os::unix::fs::PermissionsExt;
    let dest = dir.join(name);
    let (mut from, meta) = super::open_regular(src).map_err(io_at(src))?;
    let exec = meta.permissions().mode() & 0o100 != 0;
    let mode = if exec { how.exec_file } else { how.file };
    if how.replace {
        dir.remove(name).map_err(io_at(&dest))?;
    }
    let mut to = dir.create_new(name, mode).map_err(io_at(&dest))?;
    io::copy(&mut from, &mut to).map_err(io_at(&dest))?;
    to.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io_at(&dest))?;
    if how.keep_mtime {
        to.set_modified(meta.modified().map_err(io_at(src))?)
            .map_err(io_at(&dest))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const HOW: TreeCopy = TreeCopy {
        exec_file: 0o755,
        file: 0o644,
        dir: 0o755,
        exact_dir: true,
        replace: false,
        keep_mtime: false,
    };

    #[test]
    fn modes_links_and_new_entries_are_as_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("d/run"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(src.join("d/run"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        std::fs::write(src.join("f"), "x").unwrap();
        std::os::unix::fs::symlink("f", src.join("l")).unwrap();
        let out = Dir::open(tmp.path()).unwrap();
        copy_tree(&src, &out, Path::new("dst"), &HOW).unwrap();
        let mode = |p: &str| {
            std::fs::symlink_metadata(tmp.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("dst/d/run"), 0o755);
        assert_eq!(mode("dst/f"), 0o644);
        assert_eq!(mode("dst/d"), 0o755);
        assert_eq!(
            std::fs::read_link(tmp.path().join("dst/l")).unwrap(),
            Path::new("f")
        );
        // Without `replace`, an existing entry is refused.
        let err = copy_tree(&src.join("f"), &out, Path::new("dst/f"), &HOW);
        assert!(matches!(err, Err(CopyError::Io { .. })), "{err:?}");
        let again = TreeCopy {
            replace: true,
            ..HOW
        };
        let sub = out.sub("dst").unwrap();
        copy_tree(&src.join("d/run"), &sub, Path::new("f"), &again).unwrap();
        assert_eq!(mode("dst/f"), 0o755);
    }
}
