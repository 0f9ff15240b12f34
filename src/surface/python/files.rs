//! The recipe's selected files as the Python surfaces read them: from the
//! engine's [`crate::source::view::SourceView`] (the native builders), else
//! from the workspace.
//!
//! Only selected files are visible (paths relative to the recipe's
//! `source`). A selected symlink is followed only when its target resolves
//! to a regular file inside the workspace: a checkout's symlink to
//! `/etc/passwd` or `../../secret` is bad input, never content.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{io, PythonError};
use crate::source::view::{FileData, ViewError};
use crate::surface::Job;

/// One file to put in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiskFile {
    /// Its bytes.
    pub data: FileData,
    /// Its path in the workspace (where provenance finds its origin),
    /// whether or not the file was written there.
    pub at: PathBuf,
    pub size: u64,
    /// The owner-executable bit.
    pub executable: bool,
}

impl DiskFile {
    /// The whole contents.
    pub(crate) fn read(&self) -> Result<std::sync::Arc<[u8]>, PythonError> {
        self.data.read().map_err(io(&self.at))
    }
}

/// The selected files of one recipe.
#[derive(Debug)]
pub(crate) struct SourceFiles<'a> {
    pub job: &'a Job<'a>,
    set: BTreeSet<&'a str>,
}

impl<'a> SourceFiles<'a> {
    pub(crate) fn new(job: &'a Job<'a>) -> Self {
        SourceFiles {
            job,
            set: job.files.iter().map(String::as_str).collect(),
        }
    }

    /// Selected paths, sorted by bytes.
    pub(crate) fn paths(&self) -> &'a [String] {
        self.job.files
    }

    pub(crate) fn contains(&self, rel: &str) -> bool {
        self.set.contains(rel)
    }

    /// The project-relative path of `rel`, for messages.
    pub(crate) fn display(&self, rel: &str) -> PathBuf {
        project_rel(self.job, rel)
    }

    /// A selected file, `key`/`value` naming the field that asked for it.
    pub(crate) fn file(&self, rel: &str) -> Result<DiskFile, PythonError> {
        if !self.contains(rel) {
            return Err(PythonError::field(
                self.display(rel),
                "(file)",
                rel,
                "is not among the recipe's selected files (see `include`/`exclude`)",
            ));
        }
        let Some(view) = self.job.view else {
            return resolve(self.job.workspace, &self.job.source_dir.join(rel), || {
                self.display(rel)
            });
        };
        let f = view.file(rel).map_err(|e| {
            let key = match e {
                ViewError::NotSelected => "(file)",
                _ => "(symlink)",
            };
            PythonError::field(self.display(rel), key, rel, e.to_string())
        })?;
        Ok(DiskFile {
            at: self.job.source_dir.join(&f.rel),
            data: f.data,
            size: f.size,
            executable: f.executable,
        })
    }

    /// The contents of a selected UTF-8 text file.
    pub(crate) fn read_text(&self, rel: &str) -> Result<String, PythonError> {
        let bytes = self.file(rel)?.read()?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| PythonError::field(self.display(rel), "(file)", rel, "is not valid UTF-8"))
    }
}

/// A regular file at `path`, following a symlink only into `workspace`.
pub(crate) fn resolve(
    workspace: &Path,
    path: &Path,
    shown: impl Fn() -> PathBuf,
) -> Result<DiskFile, PythonError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path).map_err(io(path))?;
    let disk = if meta.file_type().is_symlink() {
        let target = std::fs::canonicalize(path).map_err(|_| {
            PythonError::field(
                shown(),
                "(symlink)",
                path.display().to_string(),
                "is a dangling symlink",
            )
        })?;
        let ws = std::fs::canonicalize(workspace).map_err(io(workspace))?;
        if !target.starts_with(&ws) {
            return Err(PythonError::field(
                shown(),
                "(symlink)",
                target.display().to_string(),
                "points outside the workspace",
            ));
        }
        target
    } else {
        path.to_path_buf()
    };
    let meta = std::fs::metadata(&disk).map_err(io(&disk))?;
    if !meta.is_file() {
        return Err(PythonError::field(
            shown(),
            "(file)",
            disk.display().to_string(),
            "is not a regular file",
        ));
    }
    Ok(DiskFile {
        data: FileData::Disk(disk.clone()),
        at: disk,
        size: meta.len(),
        executable: meta.permissions().mode() & 0o100 != 0,
    })
}

/// Whether a path is a build leftover that never goes into a distribution.
pub(crate) fn is_junk(rel: &str) -> bool {
    rel.split('/').any(|c| c == "__pycache__") || rel.ends_with(".pyc") || rel.ends_with(".pyo")
}

/// The project-relative path of a file of the recipe's source, for messages.
pub(super) fn project_rel(job: &Job<'_>, rel: &str) -> PathBuf {
    if job.source_rel.is_empty() {
        PathBuf::from(rel)
    } else {
        PathBuf::from(job.source_rel).join(rel)
    }
}
