//! The project tree the stamping rule and the version resolver look at: the
//! checkout on disk ([`FsTree`]), a commit's path list ([`PathList`]) or the
//! commit a build reads ([`SnapshotTree`]), so that `kiln version set` and
//! build-time stamping decide from the same facts (which manifests exist,
//! what they say) through one rule (`stamp::rule`); and the directory
//! globs (`members = ["crates/*"]`) expanded over it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::source::git::ObjectReader;
use crate::source::model::{Content, FileKind};
use crate::source::snapshot::Snapshot;

/// Read access to a project tree, by project-relative paths.
pub(crate) trait Tree {
    /// The text of a regular file, `None` when missing or not UTF-8.
    fn read(&self, rel: &Path) -> Option<String>;
    /// Names of the sub-directories of `rel`, sorted.
    fn subdirs(&self, rel: &Path) -> Vec<String>;
    /// Whether `rel` is a regular file.
    fn is_file(&self, rel: &Path) -> bool;
    /// Whether `rel` is a directory.
    fn is_dir(&self, rel: &Path) -> bool;
}

/// A directory on disk (the checkout, or a build workspace).
#[derive(Debug, Clone)]
pub(crate) struct FsTree<'a>(pub &'a Path);

impl Tree for FsTree<'_> {
    fn read(&self, rel: &Path) -> Option<String> {
        // Never follow a symlinked manifest out of the tree.
        crate::fsutil::read_regular_string(&self.0.join(rel)).ok()
    }

    fn subdirs(&self, rel: &Path) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.0.join(rel)) else {
            return Vec::new();
        };
        let mut out: Vec<String> = rd
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        out.sort();
        out
    }

    fn is_file(&self, rel: &Path) -> bool {
        std::fs::symlink_metadata(self.0.join(rel)).is_ok_and(|m| m.is_file())
    }

    fn is_dir(&self, rel: &Path) -> bool {
        std::fs::symlink_metadata(self.0.join(rel)).is_ok_and(|m| m.is_dir())
    }
}

/// Directory → sub-directory names of a list of file paths.
fn dir_index<'p>(paths: impl Iterator<Item = &'p str>) -> BTreeMap<String, BTreeSet<String>> {
    let mut dirs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in paths {
        let parts: Vec<&str> = path.split('/').collect();
        for d in 0..parts.len().saturating_sub(1) {
            dirs.entry(parts[..d].join("/"))
                .or_default()
                .insert(parts[d].to_string());
        }
        dirs.entry(parts[..parts.len() - 1].join("/")).or_default();
    }
    dirs
}

/// Directories of a list of file paths, for expanding workspace member
/// patterns against a commit's tree (`git ls-tree`); reads nothing.
#[derive(Debug)]
pub(crate) struct PathList {
    files: BTreeSet<String>,
    dirs: BTreeMap<String, BTreeSet<String>>,
}

impl PathList {
    pub(crate) fn new(paths: Vec<String>) -> PathList {
        PathList {
            dirs: dir_index(paths.iter().map(String::as_str)),
            files: paths.into_iter().collect(),
        }
    }
}

impl Tree for PathList {
    fn read(&self, _: &Path) -> Option<String> {
        None
    }
    fn subdirs(&self, rel: &Path) -> Vec<String> {
        self.dirs
            .get(&key(rel))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
    fn is_file(&self, rel: &Path) -> bool {
        self.files.contains(&key(rel))
    }
    fn is_dir(&self, rel: &Path) -> bool {
        self.dirs.contains_key(&key(rel))
    }
}

/// The files of a snapshot (a commit, or the working tree with `--dirty`).
#[derive(Debug)]
pub struct SnapshotTree<'a> {
    snapshot: &'a Snapshot,
    files: BTreeMap<&'a str, usize>,
    dirs: BTreeMap<String, BTreeSet<String>>,
    reader: RefCell<Option<ObjectReader>>,
}

impl<'a> SnapshotTree<'a> {
    pub fn new(snapshot: &'a Snapshot) -> SnapshotTree<'a> {
        SnapshotTree {
            snapshot,
            files: snapshot
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.path.as_str(), i))
                .collect(),
            dirs: dir_index(snapshot.files.iter().map(|f| f.path.as_str())),
            reader: RefCell::new(None),
        }
    }
}

fn key(rel: &Path) -> String {
    rel_str(rel)
}

impl Tree for SnapshotTree<'_> {
    fn read(&self, rel: &Path) -> Option<String> {
        let f = &self.snapshot.files[*self.files.get(key(rel).as_str())?];
        if f.kind == FileKind::Symlink {
            return None;
        }
        let bytes = match &f.content {
            Content::Disk(p) => crate::fsutil::read_regular(p).ok()?,
            Content::GitBlob(oid) => {
                let mut r = self.reader.borrow_mut();
                if r.is_none() {
                    *r = Some(self.snapshot.repo()?.object_reader().ok()?);
                }
                r.as_mut()?.read(oid).ok()?
            }
        };
        String::from_utf8(bytes).ok()
    }

    fn subdirs(&self, rel: &Path) -> Vec<String> {
        self.dirs
            .get(&key(rel))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn is_file(&self, rel: &Path) -> bool {
        self.files
            .get(key(rel).as_str())
            .is_some_and(|&i| self.snapshot.files[i].kind != FileKind::Symlink)
    }

    fn is_dir(&self, rel: &Path) -> bool {
        self.dirs.contains_key(&key(rel))
    }
}

/// Directories of `tree` matching `patterns` (`crates/*`, `node`), sorted;
/// dot directories, `node_modules` and `target` are never entered.
pub(crate) fn expand_dir_globs(tree: &dyn Tree, patterns: &[String]) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for pat in patterns {
        let pat = pat.trim_start_matches("./").trim_end_matches('/');
        if !pat.contains(['*', '?', '[']) {
            if tree.is_dir(Path::new(pat)) {
                out.insert(PathBuf::from(pat));
            }
            continue;
        }
        let Ok(glob) = globset::GlobBuilder::new(pat)
            .literal_separator(true)
            .build()
            .map(|g| g.compile_matcher())
        else {
            continue;
        };
        // `**` may match any depth; bound the walk (workspaces are shallow).
        let depth = if pat.contains("**") {
            8
        } else {
            pat.split('/').count()
        };
        let mut stack = vec![(PathBuf::new(), 0usize)];
        while let Some((rel, d)) = stack.pop() {
            if d == depth {
                continue;
            }
            for n in tree.subdirs(&rel) {
                if n.starts_with('.') || n == "node_modules" || n == "target" {
                    continue;
                }
                let child = rel.join(&n);
                if glob.is_match(rel_str(&child)) {
                    out.insert(child.clone());
                }
                stack.push((child, d + 1));
            }
        }
    }
    out.into_iter().collect()
}

/// `p`'s normal components joined with `/`.
pub(crate) fn rel_str(p: &Path) -> String {
    p.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}
