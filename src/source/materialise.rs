//! Writing snapshot files into a workspace, and nothing outside it.
//!
//! The snapshot's paths were checked when it was taken (`tree_check`), but
//! this is the place that writes, so it does not rely on that alone:
//!
//! - every path is checked again with [`tree_check::check_names`];
//! - directories are created one level at a time; a level that already
//!   exists must be a directory this run created (never a symlink, never
//!   something that was there before);
//! - files and symlinks are created with `O_CREAT | O_EXCL` semantics
//!   (`create_new`, `symlink`), which never follow a symlink at the last
//!   component and never overwrite;
//! - a path below a symlink this run wrote is refused.
//!
//! Modes are normalised: 0644, 0755 for executables and directories.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::git::Repo;
use super::model::{Content, FileKind, SnapFile, SnapshotError};
use super::tree_check;

/// Write `files` below `dest` (an existing, empty directory). `repo` reads
/// the git blobs (streamed by one `git cat-file --batch`).
pub(super) fn write_files(
    repo: Option<&Repo>,
    files: &[&SnapFile],
    dest: &Path,
) -> Result<(), SnapshotError> {
    let mut tree = Tree {
        dest,
        dirs: BTreeSet::new(),
        links: BTreeSet::new(),
    };
    let mut blobs: Vec<(&SnapFile, &str)> = Vec::new();
    for f in files {
        let bytes = match &f.content {
            Content::GitBlob(oid) => {
                blobs.push((f, oid));
                continue;
            }
            Content::Disk(p) if f.kind == FileKind::Symlink => std::fs::read_link(p)
                .map_err(|source| SnapshotError::Io {
                    path: p.clone(),
                    source,
                })?
                .into_os_string()
                .into_encoded_bytes(),
            Content::Disk(p) => {
                // Copied in the kernel (copy_file_range), never through a
                // symlink or from a FIFO swapped in since the snapshot.
                let mut from = match crate::fsutil::open_regular(p) {
                    Ok((file, _)) => file,
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                        return Err(SnapshotError::Special { path: p.clone() });
                    }
                    Err(source) => {
                        return Err(SnapshotError::Io {
                            path: p.clone(),
                            source,
                        })
                    }
                };
                let (mut to, target) = tree.create(f)?;
                std::io::copy(&mut from, &mut to).map_err(|source| SnapshotError::Write {
                    path: target,
                    source,
                })?;
                continue;
            }
        };
        tree.write(f, &bytes)?;
    }
    if blobs.is_empty() {
        return Ok(());
    }
    let repo = repo.ok_or_else(|| SnapshotError::Io {
        path: dest.to_path_buf(),
        source: std::io::Error::other("git blobs without their repository"),
    })?;
    let oids: Vec<&str> = blobs.iter().map(|(_, o)| *o).collect();
    repo.each_blob(&oids, |i, bytes| tree.write(blobs[i].0, &bytes))
}

/// What this run has created below `dest`.
struct Tree<'a> {
    dest: &'a Path,
    /// Directories created (relative paths).
    dirs: BTreeSet<String>,
    /// Symlinks written (relative paths).
    links: BTreeSet<String>,
}

impl Tree<'_> {
    /// Write one file (or symlink) of the snapshot with these bytes.
    fn write(&mut self, f: &SnapFile, bytes: &[u8]) -> Result<(), SnapshotError> {
        let target = self.prepare(&f.path)?;
        let werr = |source| SnapshotError::Write {
            path: target.clone(),
            source,
        };
        match f.kind {
            FileKind::Symlink => {
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(bytes), &target)
                    .map_err(werr)?;
                self.links.insert(f.path.clone());
            }
            FileKind::Regular | FileKind::Executable => {
                let (mut file, target) = self.create_at(f, target)?;
                file.write_all(bytes)
                    .map_err(|source| SnapshotError::Write {
                        path: target,
                        source,
                    })?;
            }
        }
        Ok(())
    }

    /// Create the regular file `f` (new, with its normalised mode).
    fn create(&mut self, f: &SnapFile) -> Result<(std::fs::File, PathBuf), SnapshotError> {
        let target = self.prepare(&f.path)?;
        self.create_at(f, target)
    }

    fn create_at(
        &mut self,
        f: &SnapFile,
        target: PathBuf,
    ) -> Result<(std::fs::File, PathBuf), SnapshotError> {
        let werr = |source| SnapshotError::Write {
            path: target.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(werr)?;
        let mode = if f.kind == FileKind::Executable {
            0o755
        } else {
            0o644
        };
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(werr)?;
        Ok((file, target))
    }

    /// Check `rel`, create its parent directories, return its host path.
    fn prepare(&mut self, rel: &str) -> Result<PathBuf, SnapshotError> {
        let unsafe_path = |reason: String| SnapshotError::UnsafePath {
            path: tree_check::display(rel.as_bytes()),
            reason,
        };
        tree_check::check_names(rel.as_bytes()).map_err(|r| unsafe_path(r.reason))?;
        let mut end = 0;
        while let Some(i) = rel[end..].find('/') {
            let dir = &rel[..end + i];
            end += i + 1;
            if self.links.contains(dir) {
                return Err(unsafe_path(format!(
                    "{dir} is a symlink of the snapshot; nothing is written through it"
                )));
            }
            if self.dirs.contains(dir) {
                continue;
            }
            let host = self.dest.join(dir);
            std::fs::create_dir(&host).map_err(|source| {
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    unsafe_path(format!(
                        "{dir} already exists and was not created as a directory by kiln"
                    ))
                } else {
                    SnapshotError::Write {
                        path: host.clone(),
                        source,
                    }
                }
            })?;
            std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755)).map_err(
                |source| SnapshotError::Write {
                    path: host.clone(),
                    source,
                },
            )?;
            self.dirs.insert(dir.to_string());
        }
        if self.dirs.contains(rel) || self.links.contains(rel) {
            return Err(unsafe_path("the path is written twice".into()));
        }
        Ok(self.dest.join(rel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(path: &str, kind: FileKind, from: &Path) -> SnapFile {
        SnapFile {
            path: path.into(),
            kind,
            digest: String::new(),
            content: Content::Disk(from.to_path_buf()),
        }
    }

    #[test]
    fn never_writes_through_a_link_or_outside_dest() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let link_src = t.path().join("link-src");
        std::os::unix::fs::symlink(&outside, &link_src).unwrap();
        let payload = t.path().join("payload");
        std::fs::write(&payload, "pwned").unwrap();
        let cases: Vec<Vec<SnapFile>> = vec![
            // a file below a symlink the snapshot wrote
            vec![
                disk("zlink", FileKind::Symlink, &link_src),
                disk("zlink/pwned", FileKind::Regular, &payload),
            ],
            // absolute, `..`, `.git`
            vec![disk(
                outside.join("pwned").to_str().unwrap(),
                FileKind::Regular,
                &payload,
            )],
            vec![disk("a/../../outside/pwned", FileKind::Regular, &payload)],
            vec![disk(".git/hooks/pre-commit", FileKind::Regular, &payload)],
            // the same path twice
            vec![
                disk("x", FileKind::Regular, &payload),
                disk("x", FileKind::Regular, &payload),
            ],
        ];
        for (n, files) in cases.iter().enumerate() {
            let dest = t.path().join(format!("ws{n}"));
            std::fs::create_dir(&dest).unwrap();
            let refs: Vec<&SnapFile> = files.iter().collect();
            let err = write_files(None, &refs, &dest).unwrap_err();
            assert!(
                matches!(
                    err,
                    SnapshotError::UnsafePath { .. } | SnapshotError::Write { .. }
                ),
                "case {n}: {err}"
            );
            assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "case {n}");
        }
    }
}
