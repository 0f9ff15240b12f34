//! Placing one artifact in `dist/`: copies of store files and trees
//! (never links), each file's `SHA256SUMS` digest (recorded, or hashed
//! once), and what a new copy replaces moved aside for the remover thread.
//! Everything in `dist/` is reached through its open [`Dir`], never by
//! path: no entry there is followed.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::entry::{aside_name, temp_name, Entry};
use crate::engine::error::io;
use crate::engine::BuildError;
use crate::fsutil::Dir;
use crate::hash::Sha256;

/// Moves what `dist/` no longer holds aside, for the remover thread.
pub(super) struct Retire<'a> {
    pub(super) dir: &'a Dir,
    pub(super) to: std::sync::mpsc::Sender<String>,
}

impl Retire<'_> {
    /// Rename the top-level entry `name` aside and hand it over.
    pub(super) fn aside(&self, name: &str) -> Result<(), BuildError> {
        let aside = aside_name(name);
        self.dir
            .rename(name, &aside)
            .map_err(io(&self.dir.join(name)))?;
        self.send(aside);
        Ok(())
    }

    /// Give the file `name` a second name to be removed later, so that
    /// renaming over it frees nothing on the build's path.
    fn keep_alive(&self, name: &str) {
        let aside = aside_name(name);
        if self.dir.hard_link(name, &aside).is_ok() {
            self.send(aside);
        }
    }

    fn send(&self, name: String) {
        // The remover ends only when this sender is dropped.
        let _ = self.to.send(name);
    }
}

/// Whether `dest` (an entry's metadata, not followed) is an untouched copy
/// of the store file `src`: same type, size and mtime, not the same inode.
fn is_copy_of(src: &Path, dest: Option<&Metadata>) -> bool {
    match (std::fs::symlink_metadata(src), dest) {
        (Ok(s), Some(d)) => {
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

/// How a directory artifact is copied into `dist/`: symlinks kept, files
/// 0755 or 0644 by the owner-executable bit with their store mtime (what
/// tells an untouched copy), an entry in the way replaced.
const DIST_COPY: crate::fsutil::TreeCopy = crate::fsutil::TreeCopy {
    exec_file: 0o755,
    file: 0o644,
    dir: 0o755,
    exact_dir: false,
    replace: true,
    keep_mtime: true,
};

/// Put one artifact at `dir/name`; the sha256 of each of its files by
/// `SHA256SUMS` name. `same_source`: the last copy there was made from this
/// very store output, so an untouched one is left alone.
pub(super) fn place(
    dir: &Dir,
    name: &str,
    e: &Entry,
    same_source: bool,
    retire: &Retire<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    if !e.directory {
        let hex = place_file(&e.src, dir, name, e.sha256.as_deref(), same_source, retire)?;
        return Ok(vec![(name.to_string(), hex)]);
    }
    // `SHA256SUMS` gets the digests provenance recorded; a file it names
    // none for is hashed once, as it is copied or in place.
    let hashes = match same_source.then(|| same_tree(&e.src, dir, name)) {
        Some(Some(dest)) => hash_tree(&dest, &e.files)?,
        _ => {
            let tmp = temp_name(name);
            crate::fsutil::copy_tree(&e.src, dir, Path::new(&tmp), &DIST_COPY)?;
            let hashes = hash_tree(&dir.sub(&tmp).map_err(io(&dir.join(&tmp)))?, &e.files)?;
            if dir.metadata(name).map_err(io(&dir.join(name)))?.is_some() {
                retire.aside(name)?;
            }
            dir.rename(&tmp, name).map_err(io(&dir.join(name)))?;
            hashes
        }
    };
    Ok(hashes
        .into_iter()
        .map(|(rel, hex)| (format!("{name}/{rel}"), hex))
        .collect())
}

/// Make `dir/name` a copy of the store file `src` unless it already is one
/// (`same_source`: the last copy was made from this output); returns the
/// file's sha256 (`recorded` at registration when given, else hashed).
fn place_file(
    src: &Path,
    dir: &Dir,
    name: &str,
    recorded: Option<&str>,
    same_source: bool,
    retire: &Retire<'_>,
) -> Result<String, BuildError> {
    let dest = dir.metadata(name).map_err(io(&dir.join(name)))?;
    if same_source && is_copy_of(src, dest.as_ref()) {
        if let Some(hex) = recorded {
            return Ok(hex.to_string());
        }
    }
    let tmp = temp_name(name);
    let hex = copy_file(src, dir, Path::new(&tmp), recorded)?;
    match dest {
        Some(m) if m.is_dir() => retire.aside(name)?,
        Some(m) if m.is_file() => retire.keep_alive(name),
        _ => {}
    }
    dir.rename(&tmp, name).map_err(io(&dir.join(name)))?;
    Ok(hex)
}

/// Copy a regular store file to the new entry `dir/name` (0644, or 0755
/// when executable), keeping its mtime; returns `recorded`, or else the
/// copy's sha256.
fn copy_file(
    src: &Path,
    dir: &Dir,
    name: &Path,
    recorded: Option<&str>,
) -> Result<String, BuildError> {
    crate::fsutil::copy_regular(src, dir, name, &DIST_COPY)?;
    match recorded {
        Some(hex) => Ok(hex.to_string()),
        None => sha256_file(dir, name),
    }
}

/// sha256 of the regular file `dir/name`, streamed.
fn sha256_file(dir: &Dir, name: impl AsRef<Path>) -> Result<String, BuildError> {
    let p = dir.join(name.as_ref());
    let f = dir.open_file(name).map_err(io(&p))?;
    Ok(Sha256::digest_reader(f).map_err(io(&p))?.to_hex())
}

/// The directory `dir/name` when every file of the store tree `src` already
/// has an untouched copy there (and it holds nothing else).
fn same_tree(src: &Path, dir: &Dir, name: &str) -> Option<Dir> {
    if !dir.metadata(name).ok()??.is_dir() {
        return None;
    }
    let dest = dir.sub(name).ok()?;
    let a = crate::fsutil::files_below(src).ok()?;
    let b = dist_files(&dest, "").ok()?;
    let same = a.len() == b.len()
        && a.iter().zip(&b).all(|((ra, pa), (rb, m))| {
            ra == rb
                && if pa.is_symlink() {
                    m.is_symlink() && std::fs::read_link(pa).ok() == link_at(&dest, rb)
                } else {
                    is_copy_of(pa, Some(m))
                }
        });
    same.then_some(dest)
}

/// The directory holding the `/`-separated relative path `rel` below
/// `top` (reached without following links), and `rel`'s last component.
fn parent_of<'r>(top: &Dir, rel: &'r str) -> std::io::Result<(Dir, &'r str)> {
    match rel.rsplit_once('/') {
        Some((dir, leaf)) => Ok((top.walk(Path::new(dir))?, leaf)),
        None => Ok((top.sub(".")?, rel)),
    }
}

/// The target of the link at `rel` below `top`.
fn link_at(top: &Dir, rel: &str) -> Option<std::path::PathBuf> {
    let (dir, leaf) = parent_of(top, rel).ok()?;
    dir.read_link(leaf).ok()
}

/// Every non-directory entry below `dir` (links not followed) as
/// `(path relative to the top, its metadata)`, sorted.
fn dist_files(dir: &Dir, prefix: &str) -> std::io::Result<Vec<(String, Metadata)>> {
    let mut out = Vec::new();
    for n in dir.entries()? {
        let n = n.to_string_lossy().into_owned();
        let Some(m) = dir.metadata(&n)? else { continue };
        let rel = format!("{prefix}{n}");
        if m.is_dir() {
            out.extend(dist_files(&dir.sub(&n)?, &format!("{rel}/"))?);
        } else {
            out.push((rel, m));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// sha256 of every regular file below `root`, by relative path.
fn hash_tree(
    root: &Dir,
    recorded: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, BuildError> {
    let mut out = Vec::new();
    for (rel, m) in dist_files(root, "").map_err(io(root.path()))? {
        if m.is_file() {
            let hex = match recorded.get(&rel) {
                Some(hex) => hex.clone(),
                None => {
                    let (dir, leaf) = parent_of(root, &rel).map_err(io(&root.join(&rel)))?;
                    sha256_file(&dir, leaf)?
                }
            };
            out.push((rel, hex));
        }
    }
    Ok(out)
}
