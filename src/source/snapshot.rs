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

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::disk::{walk_directory, worktree_snapshot};
use super::git::{EntryKind, GitError, Repo};
use super::tree_check;
use crate::error::{Classify, ErrorKind};

/// Default `SOURCE_DATE_EPOCH` of a directory source: 1980-01-01T00:00:00Z,
/// the earliest time a zip archive can hold.
pub const DEFAULT_SOURCE_DATE_EPOCH: i64 = 315_532_800;

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
    #[error("{path}: not a regular file, directory or symlink; sources may not hold sockets, FIFOs or devices")]
    Special { path: PathBuf },
    #[error("{file}: the recipe selects `{path}`, whose name is not UTF-8; rename it or exclude it (`exclude`)")]
    NonUtf8 { file: PathBuf, path: String },
    #[error("commit {commit}: tree entry `{path}` is refused: {reason}")]
    CraftedTree {
        commit: String,
        path: String,
        reason: String,
    },
    #[error("source path `{path}` is refused: {reason}")]
    UnsafePath { path: String, reason: String },
    #[error("SOURCE_DATE_EPOCH={value:?} is not a whole number of seconds since 1970")]
    BadEpoch { value: String },
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
            SnapshotError::Io { .. } | SnapshotError::Write { .. } => ErrorKind::Internal,
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
    /// Revision to read (default `HEAD`).
    pub rev: Option<String>,
    /// Read the working tree instead of the commit.
    pub dirty: bool,
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
}

impl Snapshot {
    /// Take the snapshot of the project at `project_root`.
    pub fn take(project_root: &Path, opts: &SnapshotOptions) -> Result<Snapshot, SnapshotError> {
        let repo = match Repo::discover(project_root) {
            Ok(r) => Some(r),
            Err(GitError::NotARepo { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        Snapshot::take_in(project_root, repo, opts)
    }

    /// [`Snapshot::take`] with the repository already discovered (`None`:
    /// not in git), sharing its memoised commit lookups.
    pub fn take_in(
        project_root: &Path,
        repo: Option<Repo>,
        opts: &SnapshotOptions,
    ) -> Result<Snapshot, SnapshotError> {
        let project_root =
            std::fs::canonicalize(project_root).map_err(|source| SnapshotError::Io {
                path: project_root.to_path_buf(),
                source,
            })?;
        let Some(repo) = repo else {
            let (files, unreadable) = walk_directory(&project_root, &opts.exclude_dirs)?;
            return Ok(Snapshot {
                project_root,
                origin: Origin::Directory,
                commit_time: None,
                files,
                uncommitted: Vec::new(),
                unreadable,
                repo: None,
            });
        };
        let repo_root = std::fs::canonicalize(repo.root()).map_err(|source| SnapshotError::Io {
            path: repo.root().to_path_buf(),
            source,
        })?;
        let prefix = match project_root.strip_prefix(&repo_root) {
            Ok(p) if p.as_os_str().is_empty() => String::new(),
            Ok(p) => format!("{}/", p.to_string_lossy()),
            Err(_) => String::new(),
        };
        let rev = opts.rev.clone().unwrap_or_else(|| "HEAD".to_string());
        if !repo.has_head() && opts.rev.is_none() {
            if !opts.dirty {
                return Err(SnapshotError::NoCommit { root: repo_root });
            }
            let (files, unreadable) =
                worktree_snapshot(&repo, &repo_root, &prefix, &opts.exclude_dirs)?;
            return Ok(Snapshot {
                project_root,
                origin: Origin::Directory,
                commit_time: None,
                files,
                uncommitted: Vec::new(),
                unreadable,
                repo: Some(repo),
            });
        }
        let info = repo.commit_info(&rev)?;
        if opts.dirty {
            let (files, unreadable) =
                worktree_snapshot(&repo, &repo_root, &prefix, &opts.exclude_dirs)?;
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
            });
        }
        // Listing the tree and asking for uncommitted changes are independent
        // git processes: run them side by side (the no-op build's hot path).
        let want_status = opts.rev.is_none();
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
        // Uncommitted changes only matter when the snapshot is HEAD's.
        let uncommitted = status?
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.strip_prefix(&prefix).map(str::to_string))
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
        })
    }

    /// The git repository, when the project is in one.
    pub fn repo(&self) -> Option<&Repo> {
        self.repo.as_ref()
    }

    /// The files below `source_dir` selected by `include` (default: all) and
    /// not matched by `exclude`. Globs are relative to `source_dir`; `*` does
    /// not cross `/`, `**` does; a pattern naming a directory selects all of it.
    pub fn select(
        &self,
        recipe_file: &Path,
        source_dir: &str,
        include: &[String],
        exclude: &[String],
    ) -> Result<Selection<'_>, SnapshotError> {
        let base = normalise_dir(source_dir);
        let inc = build_globs(recipe_file, "include", include)?;
        let exc = build_globs(recipe_file, "exclude", exclude)?;
        let mut files = Vec::new();
        let mut any_under = false;
        for f in &self.files {
            let rel = if base.is_empty() {
                f.path.as_str()
            } else if let Some(r) = f.path.strip_prefix(&base).and_then(|r| r.strip_prefix('/')) {
                r
            } else {
                continue;
            };
            any_under = true;
            let included = include.is_empty() || matches_path_or_parent(&inc, rel);
            if included && !(matches_path_or_parent(&exc, rel)) {
                files.push(f);
            }
        }
        // Names that are not UTF-8 only matter when the recipe selects one
        // (globs match their escaped spelling).
        for u in &self.unreadable {
            let rel = if base.is_empty() {
                u.as_str()
            } else if let Some(r) = u.strip_prefix(&base).and_then(|r| r.strip_prefix('/')) {
                r
            } else {
                continue;
            };
            let included = include.is_empty() || matches_path_or_parent(&inc, rel);
            if included && !matches_path_or_parent(&exc, rel) {
                return Err(SnapshotError::NonUtf8 {
                    file: recipe_file.to_path_buf(),
                    path: u.clone(),
                });
            }
        }
        if !any_under {
            return Err(SnapshotError::EmptySource {
                file: recipe_file.to_path_buf(),
                source_dir: source_dir.to_string(),
            });
        }
        Ok(Selection { base, files })
    }

    /// Write `files` below `dest` (a fresh directory) at their
    /// project-relative paths, with normalised modes; see
    /// [`super::materialise`] for what is refused.
    pub fn materialise(&self, files: &[&SnapFile], dest: &Path) -> Result<(), SnapshotError> {
        super::materialise::write_files(self.repo.as_ref(), files, dest)
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

/// A recipe's files: those below `base` that its globs select.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    /// The recipe's source directory relative to the project root ("" = root).
    pub base: String,
    pub files: Vec<&'a SnapFile>,
}

impl Selection<'_> {
    /// blake3 over the canonical listing `kind path digest\n` (paths relative
    /// to the project root, sorted by bytes): the snapshot's part of a
    /// derivation.
    pub fn digest(&self) -> String {
        let mut h = blake3::Hasher::new();
        for f in &self.files {
            h.update(f.kind.as_str().as_bytes());
            h.update(b" ");
            h.update(f.path.as_bytes());
            h.update(b" ");
            h.update(f.digest.as_bytes());
            h.update(b"\n");
        }
        format!("blake3:{}", h.finalize().to_hex())
    }

    /// Path of `f` relative to the source directory.
    pub fn relative<'f>(&self, f: &'f SnapFile) -> &'f str {
        if self.base.is_empty() {
            &f.path
        } else {
            f.path
                .strip_prefix(&self.base)
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(&f.path)
        }
    }
}

fn normalise_dir(d: &str) -> String {
    let parts: Vec<&str> = d
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    parts.join("/")
}

fn build_globs(file: &Path, key: &str, pats: &[String]) -> Result<GlobSet, SnapshotError> {
    let mut b = GlobSetBuilder::new();
    for p in pats {
        let p = p.trim_start_matches("./").trim_end_matches('/');
        let g = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| SnapshotError::Glob {
                file: file.to_path_buf(),
                key: key.to_string(),
                pattern: p.to_string(),
                reason: e.to_string(),
            })?;
        b.add(g);
    }
    b.build().map_err(|e| SnapshotError::Glob {
        file: file.to_path_buf(),
        key: key.to_string(),
        pattern: pats.join(", "),
        reason: e.to_string(),
    })
}

fn matches_path_or_parent(set: &GlobSet, rel: &str) -> bool {
    if set.is_match(rel) {
        return true;
    }
    let mut p = rel;
    while let Some(i) = p.rfind('/') {
        p = &p[..i];
        if set.is_match(p) {
            return true;
        }
    }
    false
}

pub(super) fn is_under_any(p: &Path, dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|d| p.starts_with(d))
}

/// `SOURCE_DATE_EPOCH` for a build: an explicit environment value wins; then
/// the commit time; then the recipe's or policy's value; then 1980-01-01.
pub fn source_date_epoch(
    env_value: Option<&str>,
    commit_time: Option<i64>,
    configured: Option<i64>,
) -> Result<i64, SnapshotError> {
    if let Some(v) = env_value {
        let ok = !v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit());
        return if ok {
            v.parse().map_err(|_| SnapshotError::BadEpoch {
                value: v.to_string(),
            })
        } else {
            Err(SnapshotError::BadEpoch {
                value: v.to_string(),
            })
        };
    }
    Ok(commit_time
        .or(configured)
        .unwrap_or(DEFAULT_SOURCE_DATE_EPOCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_select_directories_and_do_not_cross_separators_with_star() {
        let set = build_globs(
            Path::new("r.toml"),
            "include",
            &["src".into(), "*.md".into()],
        )
        .unwrap();
        assert!(matches_path_or_parent(&set, "src/a/b.rs"));
        assert!(matches_path_or_parent(&set, "README.md"));
        assert!(!matches_path_or_parent(&set, "docs/x.md"));
    }

    #[test]
    fn epoch_rules() {
        assert_eq!(source_date_epoch(None, None, None).unwrap(), 315_532_800);
        assert_eq!(source_date_epoch(None, Some(5), Some(7)).unwrap(), 5);
        assert_eq!(source_date_epoch(Some("9"), Some(5), None).unwrap(), 9);
        assert!(source_date_epoch(Some(""), None, None).is_err());
        assert!(source_date_epoch(Some("1.5"), None, None).is_err());
        assert!(source_date_epoch(Some("-3"), None, None).is_err());
    }
}
