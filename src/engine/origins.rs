//! From what surfaces reported ([`EntryOrigin`]) to the stored
//! [`OriginsRecord`]: a workspace file under `src/` is a snapshot file
//! (with its blob id) or, when its bytes are not the snapshot's, a stamped
//! manifest (with the edit); under `inputs/<mount>/` it is a file of that
//! input's output. Paths are project- or output-relative, never absolute.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::io;
use super::BuildError;
use crate::provenance::origin::{
    edit_lines, EntryOrigin, EntryRecord, Origins, OriginsRecord, Source,
};
use crate::source::model::Content;
use crate::source::{SnapFile, Snapshot};

/// What resolving needs to know about one build.
pub(super) struct Resolver<'a> {
    /// The workspace root.
    pub ws: &'a Path,
    pub snapshot: &'a Snapshot,
    /// Manifests stamped in the workspace (project-relative).
    pub stamped: &'a [String],
    /// Input mount → (recipe id, store path).
    pub inputs: BTreeMap<String, (String, String)>,
}

impl Resolver<'_> {
    /// The record of `origins`; the last report of an entry wins (a later
    /// image layer replaces an earlier one's file).
    pub(super) fn resolve(&self, origins: &Origins) -> Result<OriginsRecord, BuildError> {
        let mut artifacts: BTreeMap<String, BTreeMap<String, Source>> = BTreeMap::new();
        let mut objects = None;
        for (artifact, entry, origin) in origins.iter() {
            let source = match origin {
                EntryOrigin::Workspace(p) => self.file(p, None, &mut objects)?,
                EntryOrigin::Rewritten { from, content } => {
                    self.file(from, Some(content), &mut objects)?
                }
                EntryOrigin::Input { mount, path } => self.input(mount, path),
                EntryOrigin::Generated(what) => Source::Generated {
                    what: what.to_string(),
                },
                EntryOrigin::Built(by) => Source::Built { by: by.clone() },
            };
            artifacts
                .entry(artifact.clone())
                .or_default()
                .insert(entry.clone(), source);
        }
        let commit = self.snapshot.origin.clean_commit().map(str::to_string);
        Ok(OriginsRecord {
            commit,
            artifacts: artifacts
                .into_iter()
                .map(|(a, m)| {
                    let list = m
                        .into_iter()
                        .map(|(entry, source)| EntryRecord { entry, source })
                        .collect();
                    (a, list)
                })
                .collect(),
        })
    }

    fn input(&self, mount: &str, path: &str) -> Source {
        let (recipe, store_path) = self.inputs.get(mount).cloned().unwrap_or_default();
        Source::Input {
            mount: mount.to_string(),
            recipe,
            store_path,
            path: path.to_string(),
        }
    }

    fn snap_file(&self, rel: &str) -> Option<&SnapFile> {
        let files = &self.snapshot.files;
        files
            .binary_search_by(|f| f.path.as_bytes().cmp(rel.as_bytes()))
            .ok()
            .map(|i| &files[i])
    }

    /// A workspace file (with `content`: these bytes, rewritten from it).
    fn file(
        &self,
        disk: &Path,
        content: Option<&Vec<u8>>,
        objects: &mut Option<crate::source::git::ObjectReader>,
    ) -> Result<Source, BuildError> {
        let Ok(rel) = disk.strip_prefix(self.ws) else {
            return Ok(Source::Workspace {
                path: "(outside the workspace)".into(),
            });
        };
        let rel = rel.to_string_lossy().into_owned();
        if let Some((mount, path)) = crate::recipe::schema::input_mount(&rel) {
            return Ok(self.input(mount, path));
        }
        let Some(f) = rel.strip_prefix("src/").and_then(|p| self.snap_file(p)) else {
            return Ok(Source::Workspace { path: rel });
        };
        let changed = content.is_some() || self.stamped.contains(&f.path);
        if !changed {
            return Ok(Source::Snapshot {
                path: f.path.clone(),
                blob: f.digest.clone(),
            });
        }
        let original = match &f.content {
            Content::Disk(p) => crate::fsutil::read_regular(p).map_err(io(p))?,
            Content::GitBlob(oid) => {
                if objects.is_none() {
                    let repo = self.snapshot.repo().ok_or_else(|| BuildError::Io {
                        path: self.snapshot.project_root.clone(),
                        source: std::io::Error::other("a git snapshot without its repository"),
                    })?;
                    *objects = Some(repo.object_reader()?);
                }
                objects.as_mut().expect("just set").read(oid)?
            }
        };
        let now = match content {
            Some(c) => c.clone(),
            None => crate::fsutil::read_regular(disk).map_err(io(disk))?,
        };
        let edit = edit_lines(&original, &now);
        Ok(if edit.is_empty() {
            Source::Snapshot {
                path: f.path.clone(),
                blob: f.digest.clone(),
            }
        } else {
            Source::Stamped {
                path: f.path.clone(),
                blob: f.digest.clone(),
                edit,
            }
        })
    }
}
