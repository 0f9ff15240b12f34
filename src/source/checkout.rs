//! The checkout one invocation reads, resolved once: the repository, the
//! commit and its time, the project's directory inside the repository, and
//! whether the commit, the working tree or a plain directory is read.
//!
//! Recipe loading (`recipe::load`), version resolution (`version::resolve`)
//! and snapshots (`Snapshot::take`) all take a [`Checkout`]; none of them
//! looks for the repository or resolves the revision again.

use std::path::{Path, PathBuf};

use super::git::{CommitInfo, GitError, Repo};

/// What a build reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// The committed tree of the commit (`HEAD`, or `--rev`).
    Commit,
    /// The working tree of a git repository (`--dirty`), uncommitted changes included.
    WorkingTree,
    /// A directory that is not in a git work tree.
    Directory,
}

/// The resolved checkout of a project.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// The project root as given.
    pub root: PathBuf,
    /// The project root, absolute and free of symlinks.
    pub canonical_root: PathBuf,
    /// The git repository holding the project, if any.
    pub repo: Option<Repo>,
    /// The repository's work tree root, absolute and free of symlinks.
    pub repo_root: Option<PathBuf>,
    /// The project's directory inside the repository: `""` at the root,
    /// else `"sub/dir/"` (with the final slash).
    pub prefix: String,
    /// The commit of `--rev`, else of `HEAD` (`None` outside git or before
    /// the first commit). In working-tree mode it is the commit the working
    /// tree is based on (recorded in provenance).
    pub commit: Option<CommitInfo>,
    /// Whether `--rev` named the commit (rather than `HEAD`).
    pub explicit_rev: bool,
    pub mode: ReadMode,
}

impl Checkout {
    /// Resolve the checkout of the project at `root`: its repository, the
    /// commit of `rev` (default `HEAD`), and the read mode (`working_tree`:
    /// `--dirty`). Outside git, `rev` is an error and the mode is
    /// [`ReadMode::Directory`].
    pub fn resolve(
        root: &Path,
        rev: Option<&str>,
        working_tree: bool,
    ) -> Result<Checkout, GitError> {
        let canonical_root = canonical(root);
        let repo = match Repo::discover(root) {
            Ok(r) => r,
            Err(GitError::NotARepo { .. }) if rev.is_none() => {
                return Ok(Checkout {
                    root: root.to_path_buf(),
                    canonical_root,
                    repo: None,
                    repo_root: None,
                    prefix: String::new(),
                    commit: None,
                    explicit_rev: false,
                    mode: ReadMode::Directory,
                })
            }
            Err(e) => return Err(e),
        };
        let repo_root = canonical(repo.root());
        let prefix = match canonical_root.strip_prefix(&repo_root) {
            Ok(p) if p.as_os_str().is_empty() => String::new(),
            Ok(p) => format!("{}/", p.to_string_lossy()),
            Err(_) => String::new(),
        };
        let commit = match rev {
            Some(r) => Some(repo.commit_info(r)?),
            None => repo.commit_info("HEAD").ok(),
        };
        Ok(Checkout {
            root: root.to_path_buf(),
            canonical_root,
            repo: Some(repo),
            repo_root: Some(repo_root),
            prefix,
            commit,
            explicit_rev: rev.is_some(),
            mode: if working_tree {
                ReadMode::WorkingTree
            } else {
                ReadMode::Commit
            },
        })
    }

    /// The commit whose tree is read, in [`ReadMode::Commit`] with a commit.
    pub fn read_commit(&self) -> Option<&CommitInfo> {
        match self.mode {
            ReadMode::Commit => self.commit.as_ref(),
            _ => None,
        }
    }

    /// The repository and commit whose tree is read (see [`Self::read_commit`]).
    pub fn read_tree(&self) -> Option<(&Repo, &CommitInfo)> {
        Some((self.repo.as_ref()?, self.read_commit()?))
    }

    /// A project-relative path (`/`-separated) as a repository path.
    pub fn in_repo(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }
}

/// An absolute, symlink-free spelling of `p` (`p` itself when it does not exist).
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
