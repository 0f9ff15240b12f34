//! Where a layer's `map` sources are, and what they hold: a path in the
//! workspace (an input's copy, or the source directory when every selected
//! file was written there), or selected paths of the recipe's in-place
//! [`SourceView`] (a directory snapshot's files streamed from where they
//! are). Either way a source is refused when it passes through a symbolic
//! link or does not exist.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::entry::EntryKind;
use super::error::{invalid, missing};
use super::OciError;
use crate::recipe::Recipe;
use crate::source::view::{Entry as ViewEntry, FileData, SourceView};

/// What the layers of one build may read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sources<'a> {
    /// The recipe's source directory in the workspace.
    pub source_dir: &'a Path,
    /// Input mount → its copy in the workspace.
    pub inputs: &'a BTreeMap<String, PathBuf>,
    /// The selected files when they are not all in `source_dir`.
    pub view: Option<&'a SourceView>,
}

/// One `map` source, found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// A path in the workspace.
    Disk(PathBuf),
    /// A path of the view, relative to the source directory ("" = all).
    View(String),
}

/// What a found source holds.
#[derive(Debug)]
pub(crate) enum Listing {
    /// A single file or symlink.
    One(EntryKind),
    /// A directory: its files and symlinks by relative path, sorted.
    Dir(Vec<(String, EntryKind)>),
}

impl Sources<'_> {
    /// Resolve `from` (the value of `key`).
    pub(crate) fn find(&self, r: &Recipe, key: &str, from: &str) -> Result<Found, OciError> {
        let missing = || missing(r, key, from);
        let through_link = || invalid(r, key, from, "passes through a symbolic link");
        let (root, rest) = match crate::recipe::schema::input_mount(from) {
            Some((mount, path)) => {
                let base = self.inputs.get(mount).ok_or_else(|| {
                    invalid(
                        r,
                        key,
                        from,
                        format!("no input mounted as {mount:?} (see `inputs`)"),
                    )
                })?;
                (base.clone(), path)
            }
            None => (self.source_dir.to_path_buf(), from),
        };
        let comps: Vec<String> = Path::new(rest)
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if let (Some(view), false) = (self.view, from.starts_with("inputs/")) {
            let rel = comps.join("/");
            for i in 1..comps.len() {
                match view.get(&comps[..i].join("/")) {
                    Some(ViewEntry::Symlink(_)) => return Err(through_link()),
                    Some(ViewEntry::File { .. }) => return Err(missing()),
                    None => {}
                }
            }
            if view.get(&rel).is_none() && view.below(&rel).next().is_none() {
                return Err(missing());
            }
            return Ok(Found::View(rel));
        }
        let mut p = root;
        for (i, c) in comps.iter().enumerate() {
            p.push(c);
            let meta = std::fs::symlink_metadata(&p).map_err(|_| missing())?;
            if i + 1 < comps.len() && meta.file_type().is_symlink() {
                return Err(through_link());
            }
        }
        if std::fs::symlink_metadata(&p).is_err() {
            return Err(missing());
        }
        Ok(Found::Disk(p))
    }

    /// What `found` holds.
    pub(crate) fn list(&self, found: &Found) -> Result<Listing, OciError> {
        match found {
            Found::Disk(p) => {
                let meta = std::fs::symlink_metadata(p).map_err(io(p))?;
                if !meta.is_dir() {
                    return disk_kind(p).map(Listing::One);
                }
                let files = crate::fsutil::files_below(p).map_err(io(p))?;
                let mut out = Vec::with_capacity(files.len());
                for (rel, p) in files {
                    out.push((rel, disk_kind(&p)?));
                }
                Ok(Listing::Dir(out))
            }
            Found::View(rel) => {
                let view = self.view.expect("a view path comes from a view");
                if let Some(e) = view.get(rel) {
                    return Ok(Listing::One(self.view_kind(rel, e)));
                }
                let out = view
                    .below(rel)
                    .map(|p| {
                        let e = view.get(p).expect("listed by the view");
                        let sub = if rel.is_empty() {
                            p
                        } else {
                            &p[rel.len() + 1..]
                        };
                        (sub.to_string(), self.view_kind(p, e))
                    })
                    .collect();
                Ok(Listing::Dir(out))
            }
        }
    }

    fn view_kind(&self, rel: &str, e: &ViewEntry) -> EntryKind {
        match e {
            ViewEntry::Symlink(target) => EntryKind::Symlink {
                target: target.clone(),
            },
            ViewEntry::File {
                data,
                size,
                executable,
            } => EntryKind::File {
                disk: self.source_dir.join(rel),
                data: data.clone(),
                size: *size,
                mode: if *executable { 0o755 } else { 0o644 },
            },
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> OciError + '_ {
    move |source| OciError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A workspace path as a tar entry kind (a symlink is kept as one).
fn disk_kind(disk: &Path) -> Result<EntryKind, OciError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(disk).map_err(io(disk))?;
    Ok(if meta.file_type().is_symlink() {
        let t = std::fs::read_link(disk).map_err(io(disk))?;
        EntryKind::Symlink {
            target: t.to_string_lossy().into_owned(),
        }
    } else if meta.is_dir() {
        EntryKind::Dir
    } else {
        EntryKind::File {
            disk: disk.to_path_buf(),
            data: FileData::Disk(disk.to_path_buf()),
            size: meta.len(),
            mode: if meta.permissions().mode() & 0o100 != 0 {
                0o755
            } else {
                0o644
            },
        }
    })
}
