//! Snapshots read from disk: the working tree (`--dirty`, or a repository
//! without commits) and plain directories. Digests are blake3 of the
//! contents (of the link target for symlinks); names that are not UTF-8 are
//! set aside, not refused (see `Snapshot::unreadable`).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::git::Repo;
use super::model::{is_under_any, Content, FileKind, SnapFile, SnapshotError};
use super::tree_check;

fn kind_of(path: &Path, meta: &std::fs::Metadata) -> Result<FileKind, SnapshotError> {
    use std::os::unix::fs::PermissionsExt;
    let ft = meta.file_type();
    if ft.is_symlink() {
        Ok(FileKind::Symlink)
    } else if ft.is_file() {
        Ok(if meta.permissions().mode() & 0o100 != 0 {
            FileKind::Executable
        } else {
            FileKind::Regular
        })
    } else {
        Err(SnapshotError::Special {
            path: path.to_path_buf(),
        })
    }
}

/// Hash disk files in parallel (blake3 of contents, or of the link target).
fn disk_files(root: &Path, rels: Vec<String>) -> Result<Vec<SnapFile>, SnapshotError> {
    let mut files: Vec<SnapFile> = rels
        .into_par_iter()
        .map(|rel| {
            let path = root.join(&rel);
            let meta = std::fs::symlink_metadata(&path).map_err(|source| SnapshotError::Io {
                path: path.clone(),
                source,
            })?;
            let kind = kind_of(&path, &meta)?;
            let digest = if kind == FileKind::Symlink {
                let t = std::fs::read_link(&path).map_err(|source| SnapshotError::Io {
                    path: path.clone(),
                    source,
                })?;
                blake3::hash(t.as_os_str().as_encoded_bytes())
            } else {
                let mut h = blake3::Hasher::new();
                h.update_mmap(&path).map_err(|source| SnapshotError::Io {
                    path: path.clone(),
                    source,
                })?;
                h.finalize()
            };
            Ok(SnapFile {
                path: rel,
                kind,
                digest: format!("blake3:{}", digest.to_hex()),
                content: Content::Disk(path),
            })
        })
        .collect::<Result<_, SnapshotError>>()?;
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(files)
}

/// Working-tree files and the escaped names of those that are not UTF-8.
pub(super) type Listing = (Vec<SnapFile>, Vec<String>);

pub(super) fn worktree_snapshot(
    repo: &Repo,
    repo_root: &Path,
    prefix: &str,
    exclude_dirs: &[PathBuf],
) -> Result<Listing, SnapshotError> {
    use std::os::unix::ffi::OsStrExt;
    let mut rels = Vec::new();
    let mut unreadable = Vec::new();
    for p in repo.worktree_files()? {
        let Some(rel) = p.strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        // The index is data too: a listed path must be a plain relative one.
        tree_check::check_names(rel).map_err(|r| SnapshotError::UnsafePath {
            path: r.path,
            reason: r.reason,
        })?;
        let abs = repo_root
            .join(prefix)
            .join(std::ffi::OsStr::from_bytes(rel));
        // deleted-but-tracked files are listed by ls-files; skip them
        if std::fs::symlink_metadata(&abs).is_err() || is_under_any(&abs, exclude_dirs) {
            continue;
        }
        match std::str::from_utf8(rel) {
            Ok(r) => rels.push(r.to_string()),
            Err(_) => unreadable.push(tree_check::display(rel)),
        }
    }
    Ok((disk_files(&repo_root.join(prefix), rels)?, unreadable))
}

pub(super) fn walk_directory(
    root: &Path,
    exclude_dirs: &[PathBuf],
) -> Result<Listing, SnapshotError> {
    use std::os::unix::ffi::OsStrExt;
    let mut rels = Vec::new();
    let mut unreadable = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .parents(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    for entry in walker {
        let entry = entry.map_err(|source| SnapshotError::Walk {
            path: root.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if is_under_any(path, exclude_dirs) {
            continue;
        }
        let Some(ft) = entry.file_type() else {
            continue;
        };
        if ft.is_dir() {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(path);
        match rel.to_str() {
            Some(r) => rels.push(r.to_string()),
            None => unreadable.push(tree_check::display(rel.as_os_str().as_bytes())),
        }
    }
    Ok((disk_files(root, rels)?, unreadable))
}

/// Why [`read_inside`] did not return a file's contents.
#[derive(Debug, thiserror::Error)]
pub enum ReadInsideError {
    #[error("{} leads to {}, outside the project; kiln does not follow links out of it", rel.display(), target.display())]
    Outside { rel: PathBuf, target: PathBuf },
    #[error("reading {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The contents of `rel` (relative, no `..`) below `root` in the working
/// tree, refusing a path that a symlink (of the file or of a directory on
/// the way) leads out of `root`: a checkout must not make kiln read, and
/// print, files elsewhere on the machine.
pub fn read_inside(root: &Path, rel: &Path) -> Result<Vec<u8>, ReadInsideError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReadInsideError::Io { path, source }
    };
    let root = std::fs::canonicalize(root).map_err(io(root))?;
    let file = root.join(rel);
    let real = std::fs::canonicalize(&file).map_err(io(&file))?;
    if !real.starts_with(&root) {
        return Err(ReadInsideError::Outside {
            rel: rel.to_path_buf(),
            target: real,
        });
    }
    std::fs::read(&real).map_err(io(&real))
}
