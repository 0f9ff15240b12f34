//! The tree an npm package is packed from ([`PackageTree`]): a directory on
//! disk ([`DiskTree`]), the recipe's [`SourceView`] ([`ViewTree`]: git
//! blobs in memory, stamped manifests from the workspace), or either with
//! an input mounted as its `node_modules/` ([`Mounted`]). The manifest
//! reader, npm-packlist's walk and bundled dependencies read only through
//! it, so the same files give the same selection, order and bytes whatever
//! holds them.
//!
//! Paths are relative to the tree's root, `/`-separated, `""` the root. A
//! symlink is listed as one and never packed; it is followed (for an
//! ignore file, a bundled dependency's `package.json`, a linked dependency)
//! only where the tree allows: on disk as the file system does, in a view
//! only to a selected path below the recipe's source.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::NpmError;
use crate::source::view::{Entry, FileData, SourceView, ViewError};

/// What a path of a tree is (a symlink not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, a device, a socket: never read.
    Other,
}

/// The bytes of a file: read into a buffer, or shared with the view.
#[derive(Debug, Clone)]
pub enum Bytes {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Shared(a) => a,
        }
    }
}

/// A package's files as npm-packlist sees them.
pub trait PackageTree: Sync {
    /// The entries of directory `rel`, sorted by name (bytes), each with
    /// its [`Kind`]; an `Io` error of kind `NotFound` when there is no such
    /// path.
    fn entries(&self, rel: &str) -> Result<Vec<(String, Kind)>, NpmError>;

    /// The kind of `rel` itself (`None`: no such path).
    fn kind(&self, rel: &str) -> Option<Kind>;

    /// What `raw` (a `files` entry, maybe with `..` or a trailing `/`)
    /// names below directory `root`, as `lstat(root/raw)` answers.
    fn entry_kind(&self, root: &str, raw: &str) -> Option<Kind> {
        lexical_entry_kind(self, root, raw)
    }

    /// `rel` with its symlinks resolved, relative to the root; `None` when
    /// it leads outside the tree.
    fn canonical(&self, rel: &str) -> Result<Option<String>, NpmError>;

    /// Whether `rel`, symlinks followed, is a regular file.
    fn is_file(&self, rel: &str) -> bool;

    /// Whether `rel`, symlinks followed, is a directory.
    fn is_dir(&self, rel: &str) -> bool;

    /// The contents of `rel`, symlinks followed.
    fn read(&self, rel: &str) -> Result<Bytes, NpmError>;

    /// A packed regular file: its bytes and its owner-executable bit.
    fn packed(&self, rel: &str) -> Result<(Bytes, bool), NpmError>;

    /// Where `rel` is, for messages and provenance.
    fn path(&self, rel: &str) -> PathBuf;
}

/// [`PackageTree::entry_kind`] resolved lexically: `.` and `..` (never
/// above the root) and a trailing `/` (a directory, symlinks followed).
fn lexical_entry_kind<T: PackageTree + ?Sized>(tree: &T, root: &str, raw: &str) -> Option<Kind> {
    let dir = raw.ends_with('/');
    let mut parts: Vec<&str> = root.split('/').filter(|c| !c.is_empty()).collect();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    let rel = parts.join("/");
    if dir {
        return tree.is_dir(&rel).then_some(Kind::Dir);
    }
    tree.kind(&rel)
}

/// `a/b`, either side possibly empty.
pub(crate) fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

fn io_err(path: PathBuf) -> impl FnOnce(io::Error) -> NpmError {
    move |source| NpmError::Io { path, source }
}

fn not_found(path: PathBuf) -> NpmError {
    NpmError::Io {
        path,
        source: io::Error::from(io::ErrorKind::NotFound),
    }
}

fn kind_of(ft: std::fs::FileType) -> Kind {
    if ft.is_file() {
        Kind::File
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink
    } else {
        Kind::Other
    }
}

/// A package directory on disk.
#[derive(Debug, Clone)]
pub struct DiskTree {
    root: PathBuf,
    /// Symlinks and other non-regular files are listed (the package
    /// directory), or hidden as if absent (an input's tree, which npm
    /// would have been given as a copy of its regular files only).
    links: bool,
}

impl DiskTree {
    /// The package directory `root`, as the file system has it.
    pub fn new(root: &Path) -> DiskTree {
        DiskTree {
            root: root.to_path_buf(),
            links: true,
        }
    }

    /// An input's tree: only its regular files and directories exist.
    pub fn input(root: &Path) -> DiskTree {
        DiskTree {
            root: root.to_path_buf(),
            links: false,
        }
    }

    /// The kind of `rel` when every component is a directory or, last, a
    /// regular file (an input's tree).
    fn plain_kind(&self, rel: &str) -> Option<Kind> {
        let mut at = self.root.clone();
        let mut kind = Kind::Dir;
        for c in rel.split('/').filter(|c| !c.is_empty()) {
            if kind != Kind::Dir {
                return None;
            }
            at.push(c);
            kind = kind_of(std::fs::symlink_metadata(&at).ok()?.file_type());
            if !matches!(kind, Kind::File | Kind::Dir) {
                return None;
            }
        }
        Some(kind)
    }
}

impl PackageTree for DiskTree {
    fn entries(&self, rel: &str) -> Result<Vec<(String, Kind)>, NpmError> {
        let dir = self.path(rel);
        if !self.links && self.plain_kind(rel) != Some(Kind::Dir) {
            return Err(not_found(dir));
        }
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io_err(dir.clone()))? {
            let e = e.map_err(io_err(dir.clone()))?;
            let kind = kind_of(e.file_type().map_err(io_err(e.path()))?);
            let name = e
                .file_name()
                .into_string()
                .map_err(|n| NpmError::NonUtf8Name { path: dir.join(n) })?;
            if self.links || matches!(kind, Kind::File | Kind::Dir) {
                out.push((name, kind));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn kind(&self, rel: &str) -> Option<Kind> {
        if !self.links {
            return self.plain_kind(rel);
        }
        std::fs::symlink_metadata(self.path(rel))
            .ok()
            .map(|m| kind_of(m.file_type()))
    }

    fn entry_kind(&self, root: &str, raw: &str) -> Option<Kind> {
        if !self.links {
            return lexical_entry_kind(self, root, raw);
        }
        std::fs::symlink_metadata(self.path(root).join(raw))
            .ok()
            .map(|m| kind_of(m.file_type()))
    }

    fn canonical(&self, rel: &str) -> Result<Option<String>, NpmError> {
        if !self.links {
            return match self.plain_kind(rel) {
                Some(_) => Ok(Some(
                    rel.split('/')
                        .filter(|c| !c.is_empty())
                        .collect::<Vec<_>>()
                        .join("/"),
                )),
                None => Err(not_found(self.path(rel))),
            };
        }
        let canon = |p: &Path| std::fs::canonicalize(p).map_err(io_err(p.to_path_buf()));
        let root = canon(&self.root)?;
        let target = canon(&self.path(rel))?;
        Ok(target.strip_prefix(&root).ok().map(|r| {
            r.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        }))
    }

    fn is_file(&self, rel: &str) -> bool {
        if !self.links {
            return self.plain_kind(rel) == Some(Kind::File);
        }
        self.path(rel).is_file()
    }

    fn is_dir(&self, rel: &str) -> bool {
        if !self.links {
            return self.plain_kind(rel) == Some(Kind::Dir);
        }
        self.path(rel).is_dir()
    }

    fn read(&self, rel: &str) -> Result<Bytes, NpmError> {
        let path = self.path(rel);
        if !self.links && self.plain_kind(rel) != Some(Kind::File) {
            return Err(not_found(path));
        }
        std::fs::read(&path).map(Bytes::Owned).map_err(io_err(path))
    }

    fn packed(&self, rel: &str) -> Result<(Bytes, bool), NpmError> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(rel);
        let mut f = std::fs::File::open(&path).map_err(io_err(path.clone()))?;
        let md = f.metadata().map_err(io_err(path.clone()))?;
        let mut data = Vec::with_capacity(md.len() as usize);
        io::Read::read_to_end(&mut f, &mut data).map_err(io_err(path))?;
        Ok((Bytes::Owned(data), md.permissions().mode() & 0o100 != 0))
    }

    fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

/// The recipe's selected files read through its [`SourceView`]:
/// directories are those the selected paths imply.
#[derive(Debug)]
pub struct ViewTree<'a> {
    view: &'a SourceView,
    /// Where the files would be in the workspace (messages, provenance).
    at: &'a Path,
    dirs: BTreeMap<String, BTreeMap<String, Kind>>,
}

impl<'a> ViewTree<'a> {
    /// The tree of `view`, whose paths are relative to `at`.
    pub fn new(view: &'a SourceView, at: &'a Path) -> ViewTree<'a> {
        let mut dirs: BTreeMap<String, BTreeMap<String, Kind>> = BTreeMap::new();
        dirs.entry(String::new()).or_default();
        for p in view.below("") {
            let kind = match view.get(p) {
                Some(Entry::File { .. }) => Kind::File,
                Some(Entry::Symlink(_)) => Kind::Symlink,
                None => continue,
            };
            let mut start = 0;
            loop {
                let parent = if start == 0 { "" } else { &p[..start - 1] };
                let (name, k, next) = match p[start..].find('/') {
                    Some(i) => (&p[start..start + i], Kind::Dir, Some(start + i + 1)),
                    None => (&p[start..], kind, None),
                };
                dirs.entry(parent.to_string())
                    .or_default()
                    .entry(name.to_string())
                    .or_insert(k);
                match next {
                    Some(n) => start = n,
                    None => break,
                }
            }
        }
        ViewTree { view, at, dirs }
    }

    /// `rel` with every symlink on the way resolved inside the view (the
    /// last component too when `follow`), `None` when a link leads
    /// outside; the path need not exist.
    fn resolve(&self, rel: &str, follow: bool) -> Result<Option<String>, NpmError> {
        let mut done: Vec<String> = Vec::new();
        let mut todo: Vec<String> = rel.rsplit('/').map(String::from).collect();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "" | "." => {}
                ".." => {
                    if done.pop().is_none() {
                        return Ok(None);
                    }
                }
                _ => {
                    done.push(c);
                    if !follow && todo.iter().all(|c| c.is_empty() || c == ".") {
                        break;
                    }
                    if let Some(Entry::Symlink(target)) = self.view.get(&done.join("/")) {
                        hops += 1;
                        if hops > 40 {
                            return Err(NpmError::Io {
                                path: self.path(rel),
                                source: io::Error::other(ViewError::Loop.to_string()),
                            });
                        }
                        if target.starts_with('/') {
                            return Ok(None);
                        }
                        done.pop();
                        todo.extend(target.rsplit('/').map(String::from));
                    }
                }
            }
        }
        Ok(Some(done.join("/")))
    }

    /// The regular file `rel` leads to (symlinks followed).
    fn file(&self, rel: &str) -> Result<(&FileData, bool), NpmError> {
        match self.resolve(rel, true)? {
            Some(c) => match self.view.get(&c) {
                Some(Entry::File {
                    data, executable, ..
                }) => Ok((data, *executable)),
                _ => Err(not_found(self.path(rel))),
            },
            None => Err(NpmError::Io {
                path: self.path(rel),
                source: io::Error::other(
                    "is a symlink to a path that is not below the recipe's source",
                ),
            }),
        }
    }
}

impl PackageTree for ViewTree<'_> {
    fn entries(&self, rel: &str) -> Result<Vec<(String, Kind)>, NpmError> {
        let c = self.resolve(rel, true)?;
        match c.as_ref().and_then(|c| self.dirs.get(c)) {
            Some(d) => Ok(d.iter().map(|(n, k)| (n.clone(), *k)).collect()),
            None if c.is_some_and(|c| self.view.contains(&c)) => Err(NpmError::Io {
                path: self.path(rel),
                source: io::Error::other("not a directory"),
            }),
            None => Err(not_found(self.path(rel))),
        }
    }

    fn kind(&self, rel: &str) -> Option<Kind> {
        let c = self.resolve(rel, false).ok()??;
        match self.view.get(&c) {
            Some(Entry::File { .. }) => Some(Kind::File),
            Some(Entry::Symlink(_)) => Some(Kind::Symlink),
            None => self.dirs.contains_key(&c).then_some(Kind::Dir),
        }
    }

    fn canonical(&self, rel: &str) -> Result<Option<String>, NpmError> {
        match self.resolve(rel, true)? {
            Some(c) if self.view.contains(&c) || self.dirs.contains_key(&c) => Ok(Some(c)),
            Some(_) => Err(not_found(self.path(rel))),
            None => Ok(None),
        }
    }

    fn is_file(&self, rel: &str) -> bool {
        self.file(rel).is_ok()
    }

    fn is_dir(&self, rel: &str) -> bool {
        matches!(self.resolve(rel, true), Ok(Some(c)) if self.dirs.contains_key(&c))
    }

    fn read(&self, rel: &str) -> Result<Bytes, NpmError> {
        let (data, _) = self.file(rel)?;
        data.read()
            .map(Bytes::Shared)
            .map_err(io_err(self.path(rel)))
    }

    fn packed(&self, rel: &str) -> Result<(Bytes, bool), NpmError> {
        // Walked as a regular file: only the directories on the way may be
        // links (a linked bundled dependency).
        if self.kind(rel) != Some(Kind::File) {
            return Err(not_found(self.path(rel)));
        }
        let (data, executable) = self.file(rel)?;
        let bytes = data.read().map_err(io_err(self.path(rel)))?;
        Ok((Bytes::Shared(bytes), executable))
    }

    fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.at.to_path_buf()
        } else {
            self.at.join(rel)
        }
    }
}

/// A package tree with an input's tree mounted as its `node_modules/`
/// (the package has none of its own).
pub(crate) struct Mounted<'a> {
    pub(crate) base: &'a dyn PackageTree,
    pub(crate) modules: DiskTree,
}

impl Mounted<'_> {
    /// `Some(path below node_modules/)`, or `None` for a path of the base.
    fn route(rel: &str) -> Option<&str> {
        if rel == "node_modules" {
            Some("")
        } else {
            rel.strip_prefix("node_modules/")
        }
    }

    /// The tree that holds `rel`, and `rel` in it.
    fn at<'r>(&self, rel: &'r str) -> (&dyn PackageTree, &'r str) {
        match Self::route(rel) {
            Some(r) => (&self.modules, r),
            None => (self.base, rel),
        }
    }
}

impl PackageTree for Mounted<'_> {
    fn entries(&self, rel: &str) -> Result<Vec<(String, Kind)>, NpmError> {
        if let Some(r) = Self::route(rel) {
            return self.modules.entries(r);
        }
        let mut out = self.base.entries(rel)?;
        if rel.is_empty() {
            out.retain(|(n, _)| n != "node_modules");
            out.push(("node_modules".to_string(), Kind::Dir));
            out.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(out)
    }

    fn kind(&self, rel: &str) -> Option<Kind> {
        let (tree, rel) = self.at(rel);
        tree.kind(rel)
    }

    fn canonical(&self, rel: &str) -> Result<Option<String>, NpmError> {
        match Self::route(rel) {
            Some(r) => Ok(self.modules.canonical(r)?.map(|c| join("node_modules", &c))),
            None => self.base.canonical(rel),
        }
    }

    fn is_file(&self, rel: &str) -> bool {
        let (tree, rel) = self.at(rel);
        tree.is_file(rel)
    }

    fn is_dir(&self, rel: &str) -> bool {
        let (tree, rel) = self.at(rel);
        tree.is_dir(rel)
    }

    fn read(&self, rel: &str) -> Result<Bytes, NpmError> {
        let (tree, rel) = self.at(rel);
        tree.read(rel)
    }

    fn packed(&self, rel: &str) -> Result<(Bytes, bool), NpmError> {
        let (tree, rel) = self.at(rel);
        tree.packed(rel)
    }

    fn path(&self, rel: &str) -> PathBuf {
        let (tree, rel) = self.at(rel);
        tree.path(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    /// What a snapshot of `dir` holds: regular files (the owner-executable
    /// bit kept) and symlinks, at `/`-separated relative paths.
    fn view_of(dir: &Path, rel: &str, out: &mut BTreeMap<String, Entry>) {
        for e in fs::read_dir(dir.join(rel)).unwrap() {
            let e = e.unwrap();
            let r = join(rel, e.file_name().to_str().unwrap());
            let md = fs::symlink_metadata(e.path()).unwrap();
            if md.is_dir() {
                view_of(dir, &r, out);
            } else if md.file_type().is_symlink() {
                let t = fs::read_link(e.path()).unwrap();
                out.insert(r, Entry::Symlink(t.to_string_lossy().into_owned()));
            } else {
                let bytes: Arc<[u8]> = fs::read(e.path()).unwrap().into();
                let entry = Entry::File {
                    size: bytes.len() as u64,
                    data: FileData::Memory(bytes),
                    executable: md.permissions().mode() & 0o100 != 0,
                };
                out.insert(r, entry);
            }
        }
    }

    /// A package with nested ignore files, links and bundled dependencies;
    /// with `files`, or steered by its root `.npmignore` (a link).
    fn package(dir: &Path, files: bool) {
        let files = if files {
            r#""files": ["lib", "bin/", "README.md", "nothing-here"],"#
        } else {
            ""
        };
        write(
            dir,
            "package.json",
            &format!(
                r#"{{"name": "@t/v", "version": "1.0.0", {files}
                "bin": {{"t": "bin/t.js"}}, "main": "other.js",
                "dependencies": {{"dep": "1", "linked": "1"}},
                "bundleDependencies": ["dep", "linked"]}}"#
            ),
        );
        for (rel, text) in [
            ("lib/index.js", "1"),
            ("lib/.npmignore", "skip.js\n"),
            ("lib/skip.js", "1"),
            ("lib/x.orig", "1"),
            ("lib/run.sh", "#!/bin/sh\n"),
            ("lib/deep/a.js", "1"),
            ("bin/t.js", "#!/usr/bin/env node\n"),
            ("README.md", "r"),
            ("LICENSE", "l"),
            ("other.js", "o"),
            ("test/t.js", "t"),
            ("ignores", "lib/deep\n"),
            ("node_modules/dep/package.json", r#"{"files": ["d.js"]}"#),
            ("node_modules/dep/d.js", "d"),
            ("node_modules/dep/e.js", "e"),
            ("packages/linked/package.json", "{}"),
            ("packages/linked/l.js", "l"),
        ] {
            write(dir, rel, text);
        }
        let exec = dir.join("lib/run.sh");
        fs::set_permissions(&exec, fs::Permissions::from_mode(0o755)).unwrap();
        symlink("index.js", dir.join("lib/link.js")).unwrap();
        symlink("/etc/passwd", dir.join("lib/passwd.js")).unwrap();
        symlink("ignores", dir.join(".npmignore")).unwrap();
        symlink("../packages/linked", dir.join("node_modules/linked")).unwrap();
    }

    #[test]
    fn a_view_packs_what_its_directory_packs() {
        for files in [true, false] {
            let t = tempfile::tempdir().unwrap();
            let dir = t.path().join("pkg");
            package(&dir, files);
            let mut entries = BTreeMap::new();
            view_of(&dir, "", &mut entries);
            let view = SourceView::of_entries(entries);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let disk = super::super::pack(&dir, &mut a).unwrap();
            let tree = ViewTree::new(&view, &dir);
            let viewed = super::super::pack_tree(&tree, &mut b).unwrap();
            assert_eq!(viewed, disk);
            assert_eq!(a, b, "the same tarball bytes");
            let has = |f: &str| disk.files.iter().any(|p| p == f);
            assert!(has("lib/run.sh") && has("node_modules/linked/l.js"));
            assert!(!disk
                .files
                .iter()
                .any(|f| f.contains("passwd") || f.contains("link.js") || f.contains("skip")));
            // The root `.npmignore` (a link to `ignores`) counts without `files`.
            assert_eq!(has("lib/deep/a.js"), files, "{:?}", disk.files);
            assert_eq!(disk.warnings.len(), usize::from(files));
        }
    }

    #[test]
    fn an_input_mounted_as_node_modules_packs_as_a_copy_of_its_files() {
        let t = tempfile::tempdir().unwrap();
        let (pkg, input, copy) = (
            t.path().join("pkg"),
            t.path().join("in"),
            t.path().join("cp"),
        );
        for dir in [&pkg, &copy] {
            write(
                dir,
                "package.json",
                r#"{"name": "m", "version": "1.0.0",
                    "dependencies": {"dep": "1", "evil": "1"},
                    "bundleDependencies": true}"#,
            );
            write(dir, "index.js", "1");
        }
        for dir in [&input, &copy.join("node_modules")] {
            write(dir, "dep/package.json", r#"{"dependencies": {"sub": "1"}}"#);
            write(dir, "dep/lib/x.js", "x");
            write(dir, "sub/s.js", "s");
        }
        // Only the input's regular files and directories count.
        symlink("/etc/passwd", input.join("dep/lib/leak.js")).unwrap();
        symlink("/etc", input.join("evil")).unwrap();
        let base = DiskTree::new(&pkg);
        let mounted = Mounted {
            base: &base,
            modules: DiskTree::input(&input),
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let from_input = super::super::pack_tree(&mounted, &mut a).unwrap();
        let from_copy = super::super::pack(&copy, &mut b).unwrap();
        assert_eq!(from_input.files, from_copy.files);
        assert_eq!(a, b, "the same tarball bytes");
        assert!(from_input
            .files
            .contains(&"node_modules/sub/s.js".to_string()));
        assert!(!from_input
            .files
            .iter()
            .any(|f| f.contains("leak") || f.contains("evil")));
    }
}
