//! A recipe's selected files read straight from the snapshot, for surfaces
//! that only read their sources (native sdists and wheels): no workspace
//! copy of every file is written, only the manifests stamping edits.
//!
//! Paths are relative to the recipe's source directory, as in
//! [`crate::surface::Job::files`]. A symbolic link is resolved lexically
//! inside the view, with the same rule the disk workspace applies: it is
//! followed only to a selected regular file below the source directory, so a
//! checkout's link to `/etc/passwd` or `../../secret` is never content.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::blobs::{BlobCache, Blobs};
use super::model::{Content, FileKind, SnapshotError};
use super::selection::Selection;
use super::snapshot::Snapshot;

impl BlobCache {
    pub(super) fn get(
        &self,
        snapshot: &Snapshot,
        selection: &Selection<'_>,
    ) -> Result<Arc<Blobs>, SnapshotError> {
        let slot = self
            .0
            .lock()
            .expect("blob cache")
            .entry(selection.digest())
            .or_default()
            .clone();
        let mut slot = slot.lock().expect("blob cache slot");
        if let Some(blobs) = &*slot {
            return Ok(blobs.clone());
        }
        let oids: Vec<&str> = selection
            .files
            .iter()
            .filter_map(|f| match &f.content {
                Content::GitBlob(oid) => Some(oid.as_str()),
                Content::Disk(_) => None,
            })
            .collect();
        // A working-tree file whose bytes hash to the blob id is that blob
        // (checked here, so a changed, swapped or missing file is simply
        // read from git): reading it costs no object lookup and no inflate.
        use rayon::prelude::*;
        let from_tree: Vec<Option<Arc<[u8]>>> = selection
            .files
            .par_iter()
            .map(|f| match &f.content {
                Content::GitBlob(oid) if f.kind != FileKind::Symlink => {
                    read_if_blob(&snapshot.project_root.join(&f.path), oid)
                }
                _ => None,
            })
            .collect();
        let mut blobs = Blobs::new();
        for (f, bytes) in selection.files.iter().zip(from_tree) {
            if let (Content::GitBlob(oid), Some(bytes)) = (&f.content, bytes) {
                blobs.insert(oid.clone(), bytes);
            }
        }
        let oids: Vec<&str> = oids
            .into_iter()
            .filter(|o| !blobs.contains_key(*o))
            .collect();
        if !oids.is_empty() {
            let repo = snapshot.repo().ok_or_else(|| SnapshotError::Io {
                path: snapshot.project_root.clone(),
                source: std::io::Error::other("a git snapshot without its repository"),
            })?;
            repo.each_blob(&oids, |i, bytes| -> Result<(), SnapshotError> {
                blobs.insert(oids[i].to_string(), bytes.into());
                Ok(())
            })?;
        }
        let blobs = Arc::new(blobs);
        *slot = Some(blobs.clone());
        Ok(blobs)
    }
}

impl Snapshot {
    /// The blobs of `selection`, read once per build however many recipes
    /// read the same selection whole.
    pub(crate) fn selection_blobs(
        &self,
        selection: &Selection<'_>,
    ) -> Result<Arc<Blobs>, SnapshotError> {
        self.blob_cache().get(self, selection)
    }
}

/// The bytes of the regular file at `path` when they are git blob `oid`
/// (SHA-1 or SHA-256 object ids); `None` otherwise or when it cannot be read.
fn read_if_blob(path: &Path, oid: &str) -> Option<Arc<[u8]>> {
    let mut file = open_nofollow(path).ok()?;
    let meta = file.metadata().ok()?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).ok()?;
    let header = format!("blob {}\0", bytes.len());
    let id = match oid.len() {
        40 => {
            use sha1::Digest;
            let mut h = sha1::Sha1::new();
            h.update(header.as_bytes());
            h.update(&bytes);
            crate::hash::hex(&h.finalize())
        }
        64 => {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(header.as_bytes());
            h.update(&bytes);
            crate::hash::hex(&h.finalize())
        }
        _ => return None,
    };
    (id == oid).then(|| bytes.into())
}

/// Where a file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileData {
    /// Read already (a git blob, or a stamped manifest).
    Memory(Arc<[u8]>),
    /// A file kiln wrote into the workspace (opened without following a
    /// symlink).
    Disk(PathBuf),
    /// A regular file of a directory snapshot, read in place: its bytes
    /// must still hash to the snapshot's BLAKE3 digest (hex), or reading
    /// fails — a checkout that changes under a build cannot slip other
    /// bytes into it.
    Snapshot { path: PathBuf, blake3: String },
}

impl FileData {
    /// The whole contents.
    pub fn read(&self) -> std::io::Result<Arc<[u8]>> {
        match self {
            FileData::Memory(b) => Ok(b.clone()),
            FileData::Disk(_) | FileData::Snapshot { .. } => {
                let mut buf = Vec::new();
                self.reader_with_capacity(0)?.read_to_end(&mut buf)?;
                Ok(buf.into())
            }
        }
    }

    /// A reader of the contents.
    pub fn reader(&self) -> std::io::Result<Box<dyn Read + Send + '_>> {
        self.reader_with_capacity(8 << 10)
    }

    /// A reader of the contents, buffered by `capacity` bytes (0: none).
    pub fn reader_with_capacity(
        &self,
        capacity: usize,
    ) -> std::io::Result<Box<dyn Read + Send + '_>> {
        let buffered = |f: std::fs::File| -> Box<dyn Read + Send> {
            if capacity == 0 {
                Box::new(f)
            } else {
                Box::new(std::io::BufReader::with_capacity(capacity, f))
            }
        };
        Ok(match self {
            FileData::Memory(b) => Box::new(&b[..]),
            FileData::Disk(p) => buffered(open_nofollow(p)?),
            FileData::Snapshot { path, blake3 } => Box::new(Checked {
                inner: buffered(open_nofollow(path)?),
                hasher: blake3::Hasher::new(),
                path,
                expect: blake3,
            }),
        })
    }
}

/// A reader that fails at its end when the bytes read do not hash to
/// `expect`.
struct Checked<'a> {
    inner: Box<dyn Read + Send>,
    hasher: blake3::Hasher,
    path: &'a Path,
    expect: &'a str,
}

impl Read for Checked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if self.hasher.finalize().to_hex().as_str() != self.expect {
                return Err(std::io::Error::other(format!(
                    "{} changed since the snapshot was taken (its BLAKE3 is no longer {})",
                    self.path.display(),
                    self.expect
                )));
            }
        } else {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A regular file of a directory snapshot, read where it is.
fn in_place(f: &super::SnapFile, p: &Path, kind: FileKind) -> Result<Entry, SnapshotError> {
    let meta = std::fs::symlink_metadata(p).map_err(|source| SnapshotError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    let blake3 = f
        .digest
        .strip_prefix("blake3:")
        .ok_or_else(|| SnapshotError::Io {
            path: p.to_path_buf(),
            source: std::io::Error::other(format!("no BLAKE3 digest ({})", f.digest)),
        })?;
    Ok(Entry::File {
        data: FileData::Snapshot {
            path: p.to_path_buf(),
            blake3: blake3.to_string(),
        },
        size: meta.len(),
        executable: kind == FileKind::Executable,
    })
}

/// Open a regular file for reading, never through a symlink at its last
/// component and never blocking on a FIFO swapped in since the snapshot.
fn open_nofollow(p: &Path) -> std::io::Result<std::fs::File> {
    crate::fsutil::open_regular(p).map(|(file, _)| file)
}

/// One selected path of the view, a symlink not followed.
#[derive(Debug, Clone)]
pub enum Entry {
    File {
        data: FileData,
        size: u64,
        executable: bool,
    },
    /// The link's text.
    Symlink(String),
}

/// A regular file of the view (a symlink already followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewFile {
    /// The file's path in the view (the link's target for a symlink).
    pub rel: String,
    pub data: FileData,
    pub size: u64,
    pub executable: bool,
}

/// Why a path of the view is not a file to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error("is not among the recipe's selected files")]
    NotSelected,
    #[error("is a symlink to {0:?}, which is not a selected file below the recipe's source")]
    Outside(String),
    #[error("is a symlink that does not resolve (a loop, or too many links)")]
    Loop,
}

/// The selected files of one recipe.
#[derive(Debug, Default)]
pub struct SourceView {
    entries: BTreeMap<String, Entry>,
}

impl SourceView {
    /// Read the selection's files from `snapshot` (git blobs through the
    /// snapshot's [`BlobCache`]); `overrides` (paths relative to the source
    /// directory → workspace file) replace files stamping rewrote.
    pub fn read(
        snapshot: &Snapshot,
        selection: &Selection<'_>,
        overrides: &BTreeMap<String, PathBuf>,
    ) -> Result<SourceView, SnapshotError> {
        let mut entries = BTreeMap::new();
        let mut blobs: Vec<(String, &str, FileKind)> = Vec::new();
        let io = |p: &Path| {
            let path = p.to_path_buf();
            move |source| SnapshotError::Io { path, source }
        };
        for f in &selection.files {
            let rel = selection.relative(f).to_string();
            let entry = if let Some(disk) = overrides.get(&rel) {
                let meta = std::fs::symlink_metadata(disk).map_err(io(disk))?;
                Entry::File {
                    data: FileData::Disk(disk.clone()),
                    size: meta.len(),
                    executable: f.kind == FileKind::Executable,
                }
            } else {
                match (&f.content, f.kind) {
                    (Content::Disk(p), FileKind::Symlink) => Entry::Symlink(
                        std::fs::read_link(p)
                            .map_err(io(p))?
                            .to_string_lossy()
                            .into_owned(),
                    ),
                    (Content::Disk(p), kind) => in_place(f, p, kind)?,
                    (Content::GitBlob(oid), kind) => {
                        blobs.push((rel, oid, kind));
                        continue;
                    }
                }
            };
            entries.insert(rel, entry);
        }
        if !blobs.is_empty() {
            let read = snapshot.selection_blobs(selection)?;
            for (rel, oid, kind) in blobs {
                let bytes = read.get(oid).cloned().ok_or_else(|| SnapshotError::Io {
                    path: PathBuf::from(&rel),
                    source: std::io::Error::other(format!("blob {oid} was not read")),
                })?;
                let entry = if kind == FileKind::Symlink {
                    Entry::Symlink(String::from_utf8_lossy(&bytes).into_owned())
                } else {
                    Entry::File {
                        size: bytes.len() as u64,
                        data: FileData::Memory(bytes),
                        executable: kind == FileKind::Executable,
                    }
                };
                entries.insert(rel, entry);
            }
        }
        Ok(SourceView { entries })
    }

    /// The selection read where it is, for a surface that streams large
    /// files (OCI layers): a file kiln wrote below `written` (the workspace
    /// copy of the project root: git blobs, symlinks, stamped manifests) is
    /// read there, every other regular file of a directory snapshot in
    /// place ([`FileData::Snapshot`]). Nothing is held in memory.
    pub fn in_place(
        selection: &Selection<'_>,
        written: &Path,
    ) -> Result<SourceView, SnapshotError> {
        let io = |p: &Path| {
            let path = p.to_path_buf();
            move |source| SnapshotError::Io { path, source }
        };
        let mut entries = BTreeMap::new();
        for f in &selection.files {
            let rel = selection.relative(f).to_string();
            let ws = written.join(&f.path);
            let entry = match (std::fs::symlink_metadata(&ws), &f.content) {
                (Ok(meta), _) if meta.file_type().is_symlink() => Entry::Symlink(
                    std::fs::read_link(&ws)
                        .map_err(io(&ws))?
                        .to_string_lossy()
                        .into_owned(),
                ),
                (Ok(meta), _) => Entry::File {
                    data: FileData::Disk(ws),
                    size: meta.len(),
                    executable: f.kind == FileKind::Executable,
                },
                (Err(_), Content::Disk(p)) if f.kind != FileKind::Symlink => {
                    in_place(f, p, f.kind)?
                }
                (Err(source), _) => return Err(SnapshotError::Io { path: ws, source }),
            };
            entries.insert(rel, entry);
        }
        Ok(SourceView { entries })
    }

    /// A view of these entries, for unit tests of the surfaces reading one.
    #[cfg(test)]
    pub(crate) fn of_entries(entries: BTreeMap<String, Entry>) -> SourceView {
        SourceView { entries }
    }

    /// Whether `rel` is a selected path (a file or a symlink).
    pub fn contains(&self, rel: &str) -> bool {
        self.entries.contains_key(rel)
    }

    /// The selected path `rel` itself (a symlink not followed).
    pub fn get(&self, rel: &str) -> Option<&Entry> {
        self.entries.get(rel)
    }

    /// The regular file at `rel`, following symlinks inside the view.
    pub fn file(&self, rel: &str) -> Result<ViewFile, ViewError> {
        let mut at = rel.to_string();
        for _ in 0..40 {
            match self.entries.get(&at) {
                None => return Err(ViewError::NotSelected),
                Some(Entry::File {
                    data,
                    size,
                    executable,
                }) => {
                    return Ok(ViewFile {
                        rel: at,
                        data: data.clone(),
                        size: *size,
                        executable: *executable,
                    })
                }
                Some(Entry::Symlink(target)) => {
                    let parent = at.rsplit_once('/').map_or("", |(d, _)| d);
                    at = join_inside(parent, target)
                        .filter(|p| self.entries.contains_key(p))
                        .ok_or_else(|| ViewError::Outside(target.clone()))?;
                }
            }
        }
        Err(ViewError::Loop)
    }

    /// Selected paths strictly below directory `dir` ("" = every path).
    pub fn below<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.keys().map(String::as_str).filter(move |p| {
            dir.is_empty() || p.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
        })
    }
}

/// `target` (a link's text) from directory `dir`, normalised; `None` when
/// it is absolute or climbs above the view's root.
fn join_inside(dir: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(entries: &[(&str, Option<&str>)]) -> SourceView {
        SourceView {
            entries: entries
                .iter()
                .map(|(p, link)| {
                    let e = match link {
                        Some(t) => Entry::Symlink(t.to_string()),
                        None => Entry::File {
                            data: FileData::Memory(Arc::from(p.as_bytes())),
                            size: p.len() as u64,
                            executable: false,
                        },
                    };
                    (p.to_string(), e)
                })
                .collect(),
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // a fixture: std has no mkfifo
    fn a_working_tree_file_counts_only_when_it_hashes_to_the_blob() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("a.py");
        std::fs::write(&f, "x = 1\n").unwrap();
        let other = "0f4a1ef1d32d8b2d3d0cbb3e0e5ae5b7ddd3f8de";
        // `printf 'x = 1\n' | git hash-object --stdin`
        let sha1 = "7d4290a117a4ddcc11daae7ea675841033830c8f";
        assert_eq!(read_if_blob(&f, sha1).as_deref(), Some(&b"x = 1\n"[..]));
        assert_eq!(read_if_blob(&f, other), None, "another blob id");
        // A FIFO or a symlink in its place is never read (and never blocks).
        let fifo = t.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        assert_eq!(read_if_blob(&fifo, sha1), None);
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(read_if_blob(&link, sha1), None);
    }

    #[test]
    fn a_snapshot_file_read_in_place_must_keep_its_digest() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("big.bin");
        std::fs::write(&f, b"layer bytes").unwrap();
        let data = |hex: String| FileData::Snapshot {
            path: f.clone(),
            blake3: hex,
        };
        let good = data(blake3::hash(b"layer bytes").to_hex().to_string());
        assert_eq!(&*good.read().unwrap(), b"layer bytes");
        let mut streamed = Vec::new();
        good.reader_with_capacity(4)
            .unwrap()
            .read_to_end(&mut streamed)
            .unwrap();
        assert_eq!(streamed, b"layer bytes");
        // Changed since the snapshot (same size): refused at the end.
        std::fs::write(&f, b"LAYER BYTES").unwrap();
        let err = good.read().unwrap_err().to_string();
        assert!(err.contains("changed since the snapshot"), "{err}");
        // Swapped for a symlink: not followed.
        std::fs::remove_file(&f).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &f).unwrap();
        assert!(good.read().is_err());
    }

    #[test]
    fn symlinks_are_followed_only_to_selected_files_inside() {
        let v = view(&[
            ("pkg/a.py", None),
            ("pkg/b.py", Some("a.py")),
            ("pkg/c.py", Some("../pkg/b.py")),
            ("pkg/loop", Some("loop")),
            ("pkg/etc", Some("/etc/passwd")),
            ("pkg/up", Some("../../secret")),
            ("pkg/unselected", Some("z.py")),
        ]);
        assert_eq!(v.file("pkg/c.py").unwrap().rel, "pkg/a.py");
        assert_eq!(v.file("pkg/loop").unwrap_err(), ViewError::Loop);
        for p in ["pkg/etc", "pkg/up", "pkg/unselected"] {
            assert!(matches!(v.file(p), Err(ViewError::Outside(_))), "{p}");
        }
        assert_eq!(v.file("nope").unwrap_err(), ViewError::NotSelected);
        assert_eq!(v.below("pkg").count(), 7);
        assert_eq!(v.below("pk").count(), 0);
    }
}
