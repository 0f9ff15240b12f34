//! Stat fingerprints: a cheap check that a store output is still exactly the
//! inodes that were registered.
//!
//! The fingerprint of an output is a BLAKE3 digest over, for every entry of
//! the output in name order (without following symlinks): its relative path,
//! type, mode, size, inode, mtime and ctime (with nanoseconds). Any write to a
//! file — even one that restores the old mtime — changes its ctime, which no
//! unprivileged process can set; replacing a file changes its inode. So an
//! unchanged fingerprint means unchanged bytes, and a changed one means
//! "rehash to find out" (a hard link or `chmod` changes the ctime too).

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The stat fingerprint of an output (hex BLAKE3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

/// Fingerprint the file, symlink or tree at `path`.
pub(crate) fn fingerprint(path: &Path) -> io::Result<Fingerprint> {
    let mut h = blake3::Hasher::new();
    walk(path, b"", &mut h)?;
    Ok(Fingerprint(h.finalize().to_hex().to_string()))
}

fn walk(path: &Path, rel: &[u8], h: &mut blake3::Hasher) -> io::Result<()> {
    let md = fs::symlink_metadata(path)?;
    let ft = md.file_type();
    let kind: &[u8] = if ft.is_dir() {
        b"d"
    } else if ft.is_symlink() {
        b"l"
    } else if ft.is_file() {
        b"f"
    } else {
        b"?"
    };
    h.update(&(rel.len() as u64).to_le_bytes());
    h.update(rel);
    h.update(kind);
    for n in [
        u64::from(md.mode()),
        md.size(),
        md.ino(),
        md.mtime() as u64,
        md.mtime_nsec() as u64,
        md.ctime() as u64,
        md.ctime_nsec() as u64,
    ] {
        h.update(&n.to_le_bytes());
    }
    if ft.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for n in names {
            let mut child = rel.to_vec();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(n.as_bytes());
            walk(&path.join(&n), &child, h)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn any_write_changes_the_fingerprint_even_with_mtime_restored() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        fs::create_dir_all(out.join("sub")).unwrap();
        fs::write(out.join("sub/f"), b"hello").unwrap();
        let a = fingerprint(&out).unwrap();
        assert_eq!(a, fingerprint(&out).unwrap());
        let f = out.join("sub/f");
        let mtime = fs::metadata(&f).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&f, b"hellp").unwrap();
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_ne!(a, fingerprint(&out).unwrap());
        let b = fingerprint(&out).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o444)).unwrap();
        assert_ne!(b, fingerprint(&out).unwrap());
    }
}
