//! What a surface's build reads: the prepared workspace of one recipe
//! ([`Job`]) and, for the crate surface, the commit it was checked out at.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::recipe::Recipe;
use crate::sandbox::SandboxMode;

/// Everything a surface may read.
#[derive(Debug)]
pub struct Job<'a> {
    pub recipe: &'a Recipe,
    /// The workspace root (`/build` in the sandbox).
    pub workspace: &'a Path,
    /// The recipe's source directory inside the workspace.
    pub source_dir: &'a Path,
    /// The recipe's source directory relative to the project root ("" = root).
    pub source_rel: &'a str,
    /// The selected files, relative to `source_dir`, sorted by bytes.
    pub files: &'a [String],
    /// The selected files, for a surface that does not get them all in the
    /// workspace ([`super::source_access`]); then only what the view says was
    /// written is in `source_dir`. `None`: every file is there.
    pub view: Option<&'a crate::source::view::SourceView>,
    /// Input mount name → its copy in the workspace.
    pub inputs: &'a BTreeMap<String, PathBuf>,
    /// The version spelling for this surface.
    pub version: &'a str,
    pub source_date_epoch: i64,
    /// Empty directory the output goes into.
    pub out: &'a Path,
    pub sandbox: SandboxMode,
    pub host_inputs: &'a BTreeMap<String, PathBuf>,
    /// Build log file.
    pub log: &'a Path,
    /// Manifests stamped in the workspace (project-relative paths).
    pub stamped: &'a [String],
    /// npm dist-tag for this version.
    pub npm_dist_tag: String,
    /// Resolved tools (process surfaces).
    pub tools: &'a [crate::sandbox::Tool],
    /// The commit the workspace was materialised from, when the project is
    /// the root of its git repository (the crate surface packs from a git
    /// checkout of it, as `cargo publish` does).
    pub git: Option<GitSource<'a>>,
    /// The derivation's version facts (`artifact`, and for OCI recipes
    /// `oci-tags` and `revision`).
    pub versions: &'a crate::derive::Versions,
    /// A Python backend's environment from a declared directory of wheels.
    pub backend_env: Option<&'a super::python::backend::Environment>,
    /// A Python recipe: the builder the plan chose (`engine::plan::Node`),
    /// which the build runs; `None` for other surfaces.
    pub python: Option<&'a super::python::choice::Choice>,
    /// The store, where tool environments are kept (`None`: built in the
    /// workspace, not kept).
    pub store: Option<&'a crate::store::Store>,
}

/// A commit of the project's repository.
#[derive(Debug, Clone, Copy)]
pub struct GitSource<'a> {
    pub repo: &'a crate::source::git::Repo,
    /// Full commit id.
    pub commit: &'a str,
}

/// The commit a crate recipe's workspace is checked out at, if any: only
/// for git snapshots of a project that is its repository's root (else a
/// clean clone would not have the project at the workspace's root).
pub fn git_source<'a>(
    snapshot: &'a crate::source::Snapshot,
    project_root: &Path,
) -> Option<GitSource<'a>> {
    let crate::source::Origin::Git { commit, .. } = &snapshot.origin else {
        return None;
    };
    let repo = snapshot.repo()?;
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    (canon(repo.root())? == canon(project_root)?).then_some(GitSource {
        repo,
        commit: commit.as_str(),
    })
}

/// The recipe's source directory in the sandbox's workspace (`src/…`).
pub(crate) fn ws_rel(job: &Job<'_>) -> String {
    if job.source_rel.is_empty() {
        "src".to_string()
    } else {
        format!("src/{}", job.source_rel)
    }
}
