//! NAR → filesystem: materialise a NAR (e.g. fetched from a binary cache) as
//! a file, symlink or directory tree, checking it with the strict reader.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use crate::nix::nar::{Entry, NarReader};

/// Recreate the NAR read from `nar` at `dest`, which must not exist. Files
/// are created 0600 (0700 if executable) — [`super::Store`] normalises modes
/// when it commits. On error, whatever was created is left for the caller
/// (restore into a staging directory).
pub fn restore_nar(nar: impl Read, dest: &Path) -> Result<(), StoreError> {
    let mut r = NarReader::new(nar);
    let mut buf = vec![0u8; 256 << 10];
    let at = |rel: &[u8]| -> PathBuf {
        if rel.is_empty() {
            dest.to_path_buf()
        } else {
            // The reader has rejected `..`, `.`, `/` and NUL in names.
            dest.join(OsStr::from_bytes(rel))
        }
    };
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| StoreError::Io { path: p, source }
    };
    while let Some(ev) = r.next_event()? {
        let path = at(&ev.path);
        match ev.entry {
            Entry::Directory => fs::create_dir(&path).map_err(io(&path))?,
            Entry::EndDirectory => {}
            Entry::Symlink { target } => {
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path).map_err(io(&path))?
            }
            Entry::Regular { executable, .. } => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(if executable { 0o700 } else { 0o600 })
                    .open(&path)
                    .map_err(io(&path))?;
                loop {
                    let n = r.read_contents(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    f.write_all(&buf[..n]).map_err(io(&path))?;
                }
            }
        }
    }
    Ok(())
}
