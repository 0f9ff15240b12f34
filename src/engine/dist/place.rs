//! Placing one artifact in `dist/`: copies of store files and trees
//! (never links), each file's `SHA256SUMS` digest (recorded, or hashed
//! once), and what a new copy replaces moved aside for the remover thread.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{aside_name, temp_name, Entry};
use crate::engine::error::io;
use crate::engine::BuildError;
use crate::hash::Sha256;

/// Moves what `dist/` no longer holds aside, for the remover thread.
pub(super) struct Retire<'a> {
    pub(super) out: &'a Path,
    pub(super) to: std::sync::mpsc::Sender<PathBuf>,
}

impl Retire<'_> {
    /// Rename `p` (top-level entry `name`) aside and hand it over.
    pub(super) fn aside(&self, p: &Path, name: &str) -> Result<(), BuildError> {
        let aside = aside_name(self.out, name);
        std::fs::rename(p, &aside).map_err(io(p))?;
        self.send(aside);
        Ok(())
    }

    /// Give the file `p` a second name to be removed later, so that
    /// renaming over `p` frees nothing on the build's path.
    fn keep_alive(&self, p: &Path, name: &str) {
        let aside = aside_name(self.out, name);
        if std::fs::hard_link(p, &aside).is_ok() {
            self.send(aside);
        }
    }

    fn send(&self, p: PathBuf) {
        // The remover ends only when this sender is dropped.
        let _ = self.to.send(p);
    }
}

/// Whether `dest` is an untouched copy of the store file `src`: same type,
/// size and mtime, and not the same inode.
fn is_copy_of(src: &Path, dest: &Path) -> bool {
    match (
        std::fs::symlink_metadata(src),
        std::fs::symlink_metadata(dest),
    ) {
        (Ok(s), Ok(d)) => {
            s.file_type() == d.file_type()
                && s.len() == d.len()
                && s.mtime() == d.mtime()
                && s.mtime_nsec() == d.mtime_nsec()
                && (s.dev(), s.ino()) != (d.dev(), d.ino())
                && (s.mode() & 0o100) == (d.mode() & 0o100)
        }
        _ => false,
    }
}

/// Put one artifact at `out/name`; the sha256 of each of its files by
/// `SHA256SUMS` name. `same_source`: the last copy there was made from this
/// very store output, so an untouched one is left alone.
pub(super) fn place(
    out: &Path,
    name: &str,
    e: &Entry,
    same_source: bool,
    retire: &Retire<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let dest = out.join(name);
    if !e.directory {
        let hex = place_file(&e.src, &dest, e.sha256.as_deref(), same_source, retire)?;
        return Ok(vec![(name.to_string(), hex)]);
    }
    // `SHA256SUMS` gets the digests provenance recorded; a file it names
    // none for is hashed once, as it is copied or in place.
    let hashes = if same_source && same_tree(&e.src, &dest)? {
        hash_tree(&dest, &e.files)?
    } else {
        let tmp = temp_name(out, name);
        let mut hashes = Vec::new();
        copy_tree(&e.src, &tmp, &tmp, &e.files, &mut hashes)?;
        if dest.exists() || dest.is_symlink() {
            retire.aside(&dest, name)?;
        }
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        hashes
    };
    Ok(hashes
        .into_iter()
        .map(|(rel, hex)| (format!("{name}/{rel}"), hex))
        .collect())
}

/// Make `dest` a copy of the store file `src` unless it already is one
/// (`same_source`: the last copy was made from this output); returns the
/// file's sha256 (`recorded` at registration when given, else hashed).
fn place_file(
    src: &Path,
    dest: &Path,
    recorded: Option<&str>,
    same_source: bool,
    retire: &Retire<'_>,
) -> Result<String, BuildError> {
    if same_source && is_copy_of(src, dest) {
        if let Some(hex) = recorded {
            return Ok(hex.to_string());
        }
    }
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let tmp = temp_name(dir, &name);
    let hex = copy_file(src, &tmp, recorded)?;
    match std::fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => retire.aside(dest, &name)?,
        Ok(m) if m.is_file() => retire.keep_alive(dest, &name),
        _ => {}
    }
    std::fs::rename(&tmp, dest).map_err(io(dest))?;
    Ok(hex)
}

/// Copy a regular file (0644, or 0755 when executable), keeping its mtime;
/// returns `recorded`, or else the copy's sha256.
fn copy_file(src: &Path, dest: &Path, recorded: Option<&str>) -> Result<String, BuildError> {
    let _ = std::fs::remove_file(dest);
    let meta = crate::fsutil::copy_with_mode(src, dest).map_err(io(dest))?;
    let f = std::fs::File::options()
        .write(true)
        .open(dest)
        .map_err(io(dest))?;
    f.set_modified(meta.modified().map_err(io(src))?)
        .map_err(io(dest))?;
    match recorded {
        Some(hex) => Ok(hex.to_string()),
        None => sha256_file(dest),
    }
}

/// sha256 of a file, streamed.
fn sha256_file(p: &Path) -> Result<String, BuildError> {
    Ok(Sha256::digest_file(p).map_err(io(p))?.0.to_hex())
}

/// Whether every file of the store tree `src` already has an untouched copy at `dest`.
fn same_tree(src: &Path, dest: &Path) -> Result<bool, BuildError> {
    if !std::fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
        return Ok(false);
    }
    let a = walk_files(src)?;
    let b = walk_files(dest)?;
    if a.len() != b.len() {
        return Ok(false);
    }
    Ok(a.iter().zip(&b).all(|((ra, pa), (rb, pb))| {
        ra == rb
            && if pa.is_symlink() {
                pb.is_symlink() && std::fs::read_link(pa).ok() == std::fs::read_link(pb).ok()
            } else {
                is_copy_of(pa, pb)
            }
    }))
}

fn walk_files(root: &Path) -> Result<Vec<(String, PathBuf)>, BuildError> {
    crate::fsutil::files_below(root).map_err(io(root))
}

/// Copy a store tree into `dest`, keeping symlinks as symlinks; pushes the
/// sha256 of every regular file copied, by its path relative to `top`.
fn copy_tree(
    src: &Path,
    dest: &Path,
    top: &Path,
    recorded: &BTreeMap<String, String>,
    hashes: &mut Vec<(String, String)>,
) -> Result<(), BuildError> {
    let meta = std::fs::symlink_metadata(src).map_err(io(src))?;
    if meta.file_type().is_symlink() {
        let t = std::fs::read_link(src).map_err(io(src))?;
        return std::os::unix::fs::symlink(t, dest).map_err(io(dest));
    }
    if meta.is_dir() {
        std::fs::create_dir_all(dest).map_err(io(dest))?;
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .map_err(io(src))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io(src))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            copy_tree(&e.path(), &dest.join(e.file_name()), top, recorded, hashes)?;
        }
        return Ok(());
    }
    let rel = dest
        .strip_prefix(top)
        .unwrap_or(dest)
        .to_string_lossy()
        .into_owned();
    let hex = copy_file(src, dest, recorded.get(&rel).map(String::as_str))?;
    hashes.push((rel, hex));
    Ok(())
}

/// sha256 of every regular file below `root`, by relative path.
fn hash_tree(
    root: &Path,
    recorded: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, BuildError> {
    let mut out = Vec::new();
    for (rel, p) in walk_files(root)? {
        if std::fs::symlink_metadata(&p).map_err(io(&p))?.is_file() {
            let hex = match recorded.get(&rel) {
                Some(hex) => hex.clone(),
                None => sha256_file(&p)?,
            };
            out.push((rel, hex));
        }
    }
    Ok(out)
}
