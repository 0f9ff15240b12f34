//! Snapshots: the exact set of source files a build reads.
//!
//! In a git repository the snapshot is the committed tree of `HEAD` (or a
//! given revision), listed from git objects: file digests are git blob ids, so
//! taking a snapshot reads no file contents and a no-op build stays cheap.
//! Uncommitted changes are reported so that the engine can refuse them unless
//! `--dirty`, in which case the working tree is read instead (digests are then
//! blake3 of the contents). Outside git the project directory is walked,
//! honouring `.gitignore`.
//!
//! Paths are relative to the project root, `/`-separated, sorted by bytes.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::checkout::{Checkout, ReadMode};
use super::git::{EntryKind, GitError, Repo};
use crate::error::{Classify, ErrorKind};

/// Errors taking or materialising a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("reading {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("listing {path}")]
    Walk {
        path: PathBuf,
        #[source]
        source: ignore::Error,
    },
    #[error("{path}: not a regular file, directory or symlink; sources may not hold sockets, FIFOs or devices")]
    Special { path: PathBuf },
    #[error("{path}: file name is not UTF-8")]
    NonUtf8 { path: PathBuf },
    #[error(
        "the git repository at {root} has no commit yet; commit the sources or build with --dirty"
    )]
    NoCommit { root: PathBuf },
    #[error("{file}: key `{key}` = {pattern:?}: {reason}")]
    Glob {
        file: PathBuf,
        key: String,
        pattern: String,
        reason: String,
    },
    #[error("{file}: key `source` = {source_dir:?}: no files of the snapshot are there")]
    EmptySource { file: PathBuf, source_dir: String },
    #[error("writing workspace file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for SnapshotError {
    fn kind(&self) -> ErrorKind {
        match self {
            SnapshotError::Git(e) => e.kind(),
            SnapshotError::Io { .. } | SnapshotError::Write { .. } | SnapshotError::Walk { .. } => {
                ErrorKind::Internal
            }
            _ => ErrorKind::BadInput,
        }
    }
}

/// What a snapshot file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Regular,
    Executable,
    Symlink,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Regular => "file",
            FileKind::Executable => "exec",
            FileKind::Symlink => "symlink",
        }
    }
}

/// Where a file's bytes come from when the workspace is materialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A git blob id.
    GitBlob(String),
    /// A file on disk (absolute path).
    Disk(PathBuf),
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapFile {
    /// Relative to the project root.
    pub path: String,
    pub kind: FileKind,
    /// `git:<blob id>` or `blake3:<hex>` of the contents (of the target for symlinks).
    pub digest: String,
    pub content: Content,
}

/// Where the snapshot came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Git {
        /// Full commit id of the snapshot (HEAD with `--dirty`).
        commit: String,
        /// Whether the working tree was read instead of the commit.
        dirty: bool,
    },
    Directory,
}

/// How to take a snapshot.
#[derive(Debug, Clone, Default)]
pub struct SnapshotOptions {
    /// Directories (absolute) never swept into a snapshot: the store, `--out`.
    pub exclude_dirs: Vec<PathBuf>,
}

/// A project's source files at one point.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub project_root: PathBuf,
    pub origin: Origin,
    /// Committer time of the commit, for git sources.
    pub commit_time: Option<i64>,
    /// Files, sorted by path bytes.
    pub files: Vec<SnapFile>,
    /// Files of the project that differ from the commit (not with `--dirty`).
    pub uncommitted: Vec<String>,
    repo: Option<Repo>,
}

impl Snapshot {
    /// Take the snapshot of the project `checkout` resolved: its commit's
    /// tree, its working tree or its directory.
    pub fn take(checkout: &Checkout, opts: &SnapshotOptions) -> Result<Snapshot, SnapshotError> {
        let project_root =
            std::fs::canonicalize(&checkout.root).map_err(|source| SnapshotError::Io {
                path: checkout.root.clone(),
                source,
            })?;
        let (Some(repo), Some(repo_root)) = (checkout.repo.clone(), &checkout.repo_root) else {
            let files = walk_directory(&project_root, &opts.exclude_dirs)?;
            return Ok(Snapshot {
                project_root,
                origin: Origin::Directory,
                commit_time: None,
                files,
                uncommitted: Vec::new(),
                repo: None,
            });
        };
        let prefix = checkout.prefix.as_str();
        let dirty = checkout.mode == ReadMode::WorkingTree;
        let Some(info) = checkout.commit.clone() else {
            if !dirty {
                return Err(SnapshotError::NoCommit {
                    root: repo_root.clone(),
                });
            }
            let files = worktree_snapshot(&repo, repo_root, prefix, &opts.exclude_dirs)?;
            return Ok(Snapshot {
                project_root,
                origin: Origin::Directory,
                commit_time: None,
                files,
                uncommitted: Vec::new(),
                repo: Some(repo),
            });
        };
        if dirty {
            let files = worktree_snapshot(&repo, repo_root, prefix, &opts.exclude_dirs)?;
            return Ok(Snapshot {
                project_root,
                origin: Origin::Git {
                    commit: info.id,
                    dirty: true,
                },
                commit_time: Some(info.committer_time),
                files,
                uncommitted: Vec::new(),
                repo: Some(repo),
            });
        }
        // Listing the tree and asking for uncommitted changes are independent
        // git processes: run them side by side (the no-op build's hot path).
        let want_status = !checkout.explicit_rev;
        let (tree, status) = rayon::join(
            || repo.ls_tree(&info.id),
            || {
                if want_status {
                    repo.dirty_paths().map(Some)
                } else {
                    Ok(None)
                }
            },
        );
        let mut files = Vec::new();
        for e in tree? {
            let Some(rel) = e.path.strip_prefix(prefix) else {
                continue;
            };
            let kind = match e.kind {
                EntryKind::File => FileKind::Regular,
                EntryKind::Executable => FileKind::Executable,
                EntryKind::Symlink => FileKind::Symlink,
                EntryKind::Submodule => continue,
            };
            files.push(SnapFile {
                path: rel.to_string(),
                kind,
                digest: format!("git:{}", e.oid),
                content: Content::GitBlob(e.oid),
            });
        }
        files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        // Uncommitted changes only matter when the snapshot is HEAD's.
        let uncommitted = status?
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.strip_prefix(prefix).map(str::to_string))
            .filter(|p| !is_under_any(&project_root.join(p), &opts.exclude_dirs))
            .collect();
        Ok(Snapshot {
            project_root,
            origin: Origin::Git {
                commit: info.id,
                dirty: false,
            },
            commit_time: Some(info.committer_time),
            files,
            uncommitted,
            repo: Some(repo),
        })
    }

    /// The git repository, when the project is in one.
    pub fn repo(&self) -> Option<&Repo> {
        self.repo.as_ref()
    }

    /// Uncommitted paths among `files` (relative to the project root).
    pub fn uncommitted_in(&self, paths: &BTreeSet<&str>) -> Vec<String> {
        self.uncommitted
            .iter()
            .filter(|p| paths.contains(p.as_str()))
            .cloned()
            .collect()
    }

    /// Write `files` below `dest` at their project-relative paths, with
    /// normalised modes (0644, 0755 for executables and directories).
    pub fn materialise(&self, files: &[&SnapFile], dest: &Path) -> Result<(), SnapshotError> {
        use std::os::unix::fs::PermissionsExt;
        let mut reader = match (
            &self.repo,
            files
                .iter()
                .any(|f| matches!(f.content, Content::GitBlob(_))),
        ) {
            (Some(repo), true) => Some(repo.object_reader()?),
            _ => None,
        };
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
        for f in files {
            let target = dest.join(&f.path);
            if let Some(parent) = target.parent() {
                if dirs.insert(parent.to_path_buf()) {
                    create_dirs(dest, parent)?;
                }
            }
            let bytes = match &f.content {
                Content::GitBlob(oid) => {
                    reader.as_mut().expect("reader for git blobs").read(oid)?
                }
                Content::Disk(p) if f.kind == FileKind::Symlink => std::fs::read_link(p)
                    .map_err(|source| SnapshotError::Io {
                        path: p.clone(),
                        source,
                    })?
                    .into_os_string()
                    .into_encoded_bytes(),
                Content::Disk(p) => std::fs::read(p).map_err(|source| SnapshotError::Io {
                    path: p.clone(),
                    source,
                })?,
            };
            let werr = |source| SnapshotError::Write {
                path: target.clone(),
                source,
            };
            match f.kind {
                FileKind::Symlink => {
                    let t = std::ffi::OsString::from_vec_compat(bytes);
                    std::os::unix::fs::symlink(t, &target).map_err(werr)?;
                }
                FileKind::Regular | FileKind::Executable => {
                    let mut file = std::fs::File::create(&target).map_err(werr)?;
                    file.write_all(&bytes).map_err(werr)?;
                    let mode = if f.kind == FileKind::Executable {
                        0o755
                    } else {
                        0o644
                    };
                    file.set_permissions(std::fs::Permissions::from_mode(mode))
                        .map_err(werr)?;
                }
            }
        }
        Ok(())
    }
}

trait FromVecCompat {
    fn from_vec_compat(v: Vec<u8>) -> Self;
}

impl FromVecCompat for std::ffi::OsString {
    fn from_vec_compat(v: Vec<u8>) -> Self {
        use std::os::unix::ffi::OsStringExt;
        std::ffi::OsString::from_vec(v)
    }
}

fn create_dirs(dest: &Path, dir: &Path) -> Result<(), SnapshotError> {
    use std::os::unix::fs::PermissionsExt;
    let mut missing = Vec::new();
    let mut cur = dir;
    while cur.starts_with(dest) && !cur.exists() {
        missing.push(cur.to_path_buf());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    for d in missing.iter().rev() {
        std::fs::create_dir(d).map_err(|source| SnapshotError::Write {
            path: d.clone(),
            source,
        })?;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
            SnapshotError::Write {
                path: d.clone(),
                source,
            }
        })?;
    }
    Ok(())
}

fn is_under_any(p: &Path, dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|d| p.starts_with(d))
}

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

fn worktree_snapshot(
    repo: &Repo,
    repo_root: &Path,
    prefix: &str,
    exclude_dirs: &[PathBuf],
) -> Result<Vec<SnapFile>, SnapshotError> {
    let rels: Vec<String> = repo
        .worktree_files()?
        .into_iter()
        .filter_map(|p| p.strip_prefix(prefix).map(str::to_string))
        .filter(|p| {
            let abs = repo_root.join(prefix).join(p);
            // deleted-but-tracked files are listed by ls-files; skip them
            std::fs::symlink_metadata(&abs).is_ok() && !is_under_any(&abs, exclude_dirs)
        })
        .collect();
    disk_files(&repo_root.join(prefix), rels)
}

fn walk_directory(root: &Path, exclude_dirs: &[PathBuf]) -> Result<Vec<SnapFile>, SnapshotError> {
    let mut rels = Vec::new();
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
        let rel = rel.to_str().ok_or_else(|| SnapshotError::NonUtf8 {
            path: path.to_path_buf(),
        })?;
        rels.push(rel.to_string());
    }
    disk_files(root, rels)
}
