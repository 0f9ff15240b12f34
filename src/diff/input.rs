//! Opening what `kiln diff`, `kiln verify` and `kiln provenance` read from
//! disk: the artifact named on the command line ([`open_named`]) and the
//! files inside a directory artifact ([`open_inside`]).
//!
//! A path the user named may be a symbolic link to a regular file (the
//! user's word), but never leads to a FIFO, a device, a socket or, through a
//! link, a directory: those are refused before they are opened for reading,
//! and every open is non-blocking, so a FIFO swapped in cannot hang the
//! command. Inside a directory artifact nothing is followed: every component
//! of a name must be a real directory and the last a regular file
//! ([`crate::fsutil::open_regular`]).

use std::fs::{File, Metadata};
use std::io::{Error, ErrorKind};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// What a path named on the command line is.
#[derive(Debug)]
pub(crate) enum Named {
    /// A directory (not reached through a symbolic link).
    Dir,
    /// A regular file, open for reading.
    File(File, Metadata),
}

/// What a file of type `md` is, in words, when it is neither a regular file
/// nor a directory.
fn special(md: &Metadata) -> Option<&'static str> {
    let ft = md.file_type();
    if ft.is_file() || ft.is_dir() {
        None
    } else if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_symlink() {
        Some("a symbolic link")
    } else {
        Some("a special file")
    }
}

fn refused(what: String) -> Error {
    Error::new(ErrorKind::InvalidInput, what)
}

/// Open the artifact at `path`, named by the user: a directory, or a
/// regular file reached directly or through symbolic links. A FIFO, device
/// or socket (directly or as a link's target) and a link to a directory are
/// `InvalidInput` errors saying what it is; nothing is opened that could
/// block.
pub(crate) fn open_named(path: &Path) -> std::io::Result<Named> {
    use std::os::unix::fs::OpenOptionsExt;
    let own = std::fs::symlink_metadata(path)?;
    if own.is_dir() {
        return Ok(Named::Dir);
    }
    let md = std::fs::metadata(path)?;
    let via = if own.file_type().is_symlink() {
        " (the target of a symbolic link)"
    } else {
        ""
    };
    if md.is_dir() {
        return Err(refused(format!(
            "is a symbolic link to a directory{via}; name the directory itself"
        )));
    }
    if let Some(what) = special(&md) {
        return Err(refused(format!(
            "is {what}{via}, not a regular file or directory"
        )));
    }
    // Non-blocking: what was a regular file a moment ago may be a FIFO now.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(0o4000)
        .open(path)?;
    let md = file.metadata()?;
    if let Some(what) = special(&md).or(md.is_dir().then_some("a directory")) {
        return Err(refused(format!(
            "is {what}{via}, not a regular file or directory"
        )));
    }
    Ok(Named::File(file, md))
}

/// Open the regular file `rel` (`/`-separated, relative) inside the
/// directory `root` without following anything: each component before the
/// last must be a directory, the last a regular file. A name that is
/// absolute, empty or holds `..` or `.` components, or that passes through a
/// symbolic link, is an `InvalidInput` error; a missing one `NotFound`.
pub(crate) fn open_inside(root: &Path, rel: &[u8]) -> std::io::Result<(File, Metadata)> {
    let comps: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
    if rel.is_empty()
        || comps
            .iter()
            .any(|c| c.is_empty() || *c == b"." || *c == b"..")
    {
        return Err(refused(
            "is not a relative name inside the artifact".to_string(),
        ));
    }
    let mut at = root.to_path_buf();
    for (i, c) in comps.iter().enumerate() {
        at.push(std::ffi::OsStr::from_bytes(c));
        if i + 1 == comps.len() {
            break;
        }
        let md = std::fs::symlink_metadata(&at)?;
        if !md.is_dir() {
            let what = special(&md).unwrap_or("a regular file");
            return Err(refused(format!(
                "passes through {}, which is {what}, not a directory",
                crate::name::Shown(&String::from_utf8_lossy(&rel[..at_len(&comps, i)]))
            )));
        }
    }
    crate::fsutil::open_regular(&at)
}

/// Bytes of the first `i + 1` components joined by `/`.
fn at_len(comps: &[&[u8]], i: usize) -> usize {
    comps[..=i].iter().map(|c| c.len()).sum::<usize>() + i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_inside_is_followed() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("art");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/tool"), b"x").unwrap();
        std::fs::write(t.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(t.path(), root.join("up")).unwrap();
        std::os::unix::fs::symlink(t.path().join("secret"), root.join("s")).unwrap();
        assert!(open_inside(&root, b"bin/tool").is_ok());
        for bad in [
            &b"up/secret"[..],
            b"s",
            b"../secret",
            b"/etc/passwd",
            b"bin//tool",
            b"",
        ] {
            let e = open_inside(&root, bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
        }
        assert_eq!(
            open_inside(&root, b"up/secret").unwrap_err().to_string(),
            "passes through `up`, which is a symbolic link, not a directory"
        );
    }

    #[test]
    fn a_named_link_to_a_file_is_followed_but_not_to_a_fifo_or_device() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        std::os::unix::fs::symlink(&file, t.path().join("lf")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", t.path().join("zero")).unwrap();
        std::os::unix::fs::symlink(t.path(), t.path().join("ld")).unwrap();
        assert!(matches!(
            open_named(&t.path().join("lf")),
            Ok(Named::File(..))
        ));
        assert!(matches!(open_named(t.path()), Ok(Named::Dir)));
        let e = open_named(&t.path().join("zero")).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let e = open_named(&t.path().join("ld")).unwrap_err();
        assert!(e.to_string().contains("link to a directory"), "{e}");
    }
}
