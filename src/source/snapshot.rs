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
use std::path::{Path, PathBuf};

use super::checkout::{Checkout, ReadMode};
use super::disk::{walk_directory, worktree_snapshot};
use super::git::{EntryKind, Repo};
use super::model::{is_under_any, Content, FileKind, Origin, SnapFile, SnapshotError};
use super::tree_check;

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
    /// Project files whose names are not UTF-8 (escaped, `\xNN`): not in
    /// `files`; a recipe that selects one fails (`Snapshot::select`).
    pub unreadable: Vec<String>,
    repo: Option<Repo>,
    /// One `git cat-file --batch` for [`Snapshot::read`], started on first use.
    objects: Objects,
}

/// A lazily started object reader, and the blobs of selections read whole
/// (`view.rs`); a clone starts its own.
#[derive(Debug, Default)]
struct Objects(
    std::sync::Mutex<Option<crate::source::git::ObjectReader>>,
    super::blobs::BlobCache,
);

impl Clone for Objects {
    fn clone(&self) -> Self {
        Objects::default()
    }
}

/// The files of a commit's tree listing under the project's `prefix`, at
/// paths relative to it and sorted by path bytes (submodules left out),
/// and the paths that are not UTF-8 (escaped).
fn tree_files(tree: Vec<super::git::ListedEntry>, prefix: &str) -> (Vec<SnapFile>, Vec<String>) {
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for e in tree {
        let Some(kind) = e.kind else { continue };
        let kind = match kind {
            EntryKind::File => FileKind::Regular,
            EntryKind::Executable => FileKind::Executable,
            EntryKind::Symlink => FileKind::Symlink,
            EntryKind::Submodule => continue,
        };
        let Some(rel) = e.path.strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        let Ok(rel) = std::str::from_utf8(rel) else {
            unreadable.push(tree_check::display(rel));
            continue;
        };
        files.push(SnapFile {
            path: rel.to_string(),
            kind,
            digest: format!("git:{}", e.oid),
            content: Content::GitBlob(e.oid),
        });
    }
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    (files, unreadable)
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
            let (files, unreadable) = walk_directory(&project_root, &opts.exclude_dirs)?;
            return Ok(Snapshot {
                project_root,
                origin: Origin::Directory,
                commit_time: None,
                files,
                uncommitted: Vec::new(),
                unreadable,
                repo: None,
                objects: Default::default(),
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
            let (files, unreadable) =
                worktree_snapshot(&repo, repo_root, prefix, &opts.exclude_dirs)?;
            return Ok(Snapshot {
                project_root,
                origin: Origin::Directory,
                commit_time: None,
                files,
                uncommitted: Vec::new(),
                unreadable,
                repo: Some(repo),
                objects: Default::default(),
            });
        };
        if dirty {
            let (files, unreadable) =
                worktree_snapshot(&repo, repo_root, prefix, &opts.exclude_dirs)?;
            return Ok(Snapshot {
                project_root,
                origin: Origin::Git {
                    commit: info.id,
                    dirty: true,
                },
                commit_time: Some(info.committer_time),
                files,
                uncommitted: Vec::new(),
                unreadable,
                repo: Some(repo),
                objects: Default::default(),
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
        let tree = tree?;
        tree_check::check_listing(tree.iter().map(|e| tree_check::Listed {
            path: &e.path,
            directory: e.kind.is_none(),
        }))
        .map_err(|r| SnapshotError::CraftedTree {
            commit: info.id.clone(),
            path: r.path,
            reason: r.reason,
        })?;
        let (files, unreadable) = tree_files(tree, prefix);
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
            unreadable,
            repo: Some(repo),
            objects: Default::default(),
        })
    }

    /// The git repository, when the project is in one.
    pub fn repo(&self) -> Option<&Repo> {
        self.repo.as_ref()
    }

    /// Write `files` below `dest` (a fresh directory) at their
    /// project-relative paths, with normalised modes; see
    /// [`super::materialise`] for what is refused.
    pub fn materialise(&self, files: &[&SnapFile], dest: &Path) -> Result<(), SnapshotError> {
        super::materialise::write_files(self.repo.as_ref(), files, dest)
    }

    /// The bytes of one regular file of the snapshot (a manifest read while
    /// planning); `None` for a symbolic link, which is never followed.
    pub fn read(&self, f: &SnapFile) -> Result<Option<Vec<u8>>, SnapshotError> {
        if f.kind == FileKind::Symlink {
            return Ok(None);
        }
        Ok(Some(match &f.content {
            Content::GitBlob(oid) => {
                let Some(repo) = &self.repo else {
                    return Ok(None);
                };
                let mut objects = self.objects.0.lock().expect("object reader");
                if objects.is_none() {
                    *objects = Some(repo.object_reader()?);
                }
                objects.as_mut().expect("started above").read(oid)?
            }
            Content::Disk(p) => {
                crate::fsutil::read_regular(p).map_err(|source| SnapshotError::Io {
                    path: p.clone(),
                    source,
                })?
            }
        }))
    }

    /// The cache of selections' blobs (filled by `view.rs`).
    pub(super) fn blob_cache(&self) -> &super::blobs::BlobCache {
        &self.objects.1
    }

    /// Uncommitted paths among `files` (relative to the project root).
    pub fn uncommitted_in(&self, paths: &BTreeSet<&str>) -> Vec<String> {
        self.uncommitted
            .iter()
            .filter(|p| paths.contains(p.as_str()))
            .cloned()
            .collect()
    }
}
