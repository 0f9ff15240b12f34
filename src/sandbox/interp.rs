//! Interpreters: a Python tool's standard library and virtual environments.
//!
//! - **stdlib.** A tool whose real binary is `<prefix>/bin/pythonX.Y` (or
//!   `python3`, when the prefix has one `lib/python3.*` with an `os.py`) has
//!   its standard library in `<prefix>/lib/pythonX.Y`. The digest of that
//!   tree (without `site-packages`, `dist-packages`, `__pycache__` and
//!   `*.pyc`) enters the tool's identity: two machines with the same
//!   interpreter binary but a patched `ssl.py` or another `lib-dynload`
//!   extension build differently.
//! - **headers.** Beside it, `<prefix>/include/pythonX.Y` (when it holds a
//!   `Python.h`): the sandbox mounts it read-only at its host path, where
//!   the interpreter's `sysconfig` (`INCLUDEPY`) sends a C compiler, and its
//!   tree digest enters the identity too — an extension module is compiled
//!   against those headers.
//! - **venv.** A tool found on `PATH` as `<venv>/bin/<name>` with a
//!   `<venv>/pyvenv.cfg` runs as that venv (its `site-packages` visible),
//!   not as the base interpreter the link points to. Its identity is the
//!   base interpreter's plus a digest over its `pyvenv.cfg` (which may
//!   include the system site-packages) and its `lib/python*/site-packages`
//!   trees (the installed files themselves, not the `RECORD`s: a file edited
//!   after installation, an editable install's `.pth`, or a package without a
//!   `RECORD` change the digest too).
//!
//! A tree digest is sha256 over the sorted `relative path NUL file-sha256 LF`
//! lines (symlinks: `relative path NUL -> target LF`); no host path enters
//! it. Computing one reads every file, so `tool_cache` keeps it keyed by the
//! walk's stat data (every entry's path and metadata): a repeated build
//! walks the tree but hashes nothing.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::tool_cache::{FileStamp, ToolCache};

/// The standard library directory of the Python interpreter `real` (its
/// canonical binary), if it is one.
pub(super) fn python_stdlib(real: &Path) -> Option<PathBuf> {
    let file = real.file_name()?.to_str()?;
    let bin = real.parent()?;
    if bin.file_name()? != "bin" {
        return None;
    }
    let lib = bin.parent()?.join("lib");
    let rest = file.strip_prefix("python")?;
    let is_version = |v: &str| {
        let mut parts = v.split('.');
        parts.next().is_some_and(|m| m == "2" || m == "3")
            && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if rest.contains('.') && is_version(rest) {
        let dir = lib.join(format!("python{rest}"));
        return dir.join("os.py").is_file().then_some(dir);
    }
    if rest == "3" || rest == "2" {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix("python"))
                    .is_some_and(|v| v.starts_with(rest) && is_version(v))
                    && p.join("os.py").is_file()
            })
            .collect();
        if found.len() == 1 {
            return found.pop();
        }
    }
    None
}

/// The C headers of the interpreter whose standard library is `stdlib`
/// (`<prefix>/lib/pythonX.Y` → `<prefix>/include/pythonX.Y`), when they
/// hold a `Python.h`: what an extension module compiles against, at the
/// path the interpreter's `sysconfig` names (`INCLUDEPY`).
pub(super) fn python_headers(stdlib: &Path) -> Option<PathBuf> {
    let dir = stdlib
        .parent()?
        .parent()?
        .join("include")
        .join(stdlib.file_name()?);
    dir.join("Python.h").is_file().then_some(dir)
}

/// A virtual environment a tool was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VenvDirs {
    /// The venv directory (canonical).
    pub dir: PathBuf,
    /// `home` of its `pyvenv.cfg`: the base interpreter's `bin` directory.
    pub home: PathBuf,
    /// Its `lib/python*/site-packages` directories.
    pub site_packages: Vec<PathBuf>,
}

/// If `found` (a `PATH` hit, not yet canonicalised) is `<venv>/bin/<name>`
/// beside a `pyvenv.cfg`, that venv.
pub(super) fn venv_of(found: &Path) -> Option<VenvDirs> {
    let bin = found.parent()?;
    if bin.file_name()? != "bin" {
        return None;
    }
    let dir = std::fs::canonicalize(bin.parent()?).ok()?;
    let cfg = std::fs::read_to_string(dir.join("pyvenv.cfg")).ok()?;
    let home = cfg.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "home").then(|| PathBuf::from(v.trim()))
    })?;
    if !home.is_absolute() {
        return None;
    }
    let mut site_packages: Vec<PathBuf> = std::fs::read_dir(dir.join("lib"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    site_packages.sort();
    Some(VenvDirs {
        dir,
        home,
        site_packages,
    })
}

/// One walked entry: relative path, and what it is.
enum Walked {
    File(PathBuf, FileStamp),
    Link(PathBuf, PathBuf),
}

/// Directories and files a tree digest leaves out.
fn skipped(name: &[u8], is_dir: bool, top: bool) -> bool {
    if is_dir {
        name == b"__pycache__" || (top && (name == b"site-packages" || name == b"dist-packages"))
    } else {
        name.ends_with(b".pyc")
    }
}

/// `(relative path, stamp)` of each walked directory.
type DirStamps = Vec<(PathBuf, FileStamp)>;

fn walk(root: &Path) -> std::io::Result<(Vec<Walked>, DirStamps)> {
    let mut out = Vec::new();
    let mut dirs = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let here = root.join(&rel);
        if let Some(s) = FileStamp::of(&here) {
            dirs.push((rel.clone(), s));
        }
        for e in std::fs::read_dir(&here)? {
            let e = e?;
            let name = e.file_name();
            let ty = e.file_type()?;
            let r = rel.join(&name);
            if ty.is_symlink() {
                out.push(Walked::Link(r, std::fs::read_link(e.path())?));
            } else if ty.is_dir() {
                if !skipped(name.as_bytes(), true, rel.as_os_str().is_empty()) {
                    stack.push(r);
                }
            } else if ty.is_file() && !skipped(name.as_bytes(), false, false) {
                let stamp = FileStamp::of(&e.path()).ok_or_else(|| {
                    std::io::Error::other(format!("cannot stat {}", e.path().display()))
                })?;
                out.push(Walked::File(r, stamp));
            }
        }
    }
    out.sort_by(|a, b| key_of(a).cmp(key_of(b)));
    Ok((out, dirs))
}

fn key_of(w: &Walked) -> &Path {
    match w {
        Walked::File(p, _) | Walked::Link(p, _) => p,
    }
}

/// The digest of the tree at `root` (see the module docs), through `cache`.
pub(super) fn tree_digest(
    root: &Path,
    cache: Option<ToolCache<'_>>,
    now_ns: i128,
) -> std::io::Result<String> {
    let (entries, dirs) = walk(root)?;
    let stamps: Vec<(PathBuf, FileStamp)> = entries
        .iter()
        .filter_map(|w| match w {
            Walked::File(p, s) => Some((p.clone(), *s)),
            Walked::Link(..) => None,
        })
        .chain(dirs)
        .collect();
    let links: Vec<(PathBuf, PathBuf)> = entries
        .iter()
        .filter_map(|w| match w {
            Walked::Link(p, t) => Some((p.clone(), t.clone())),
            Walked::File(..) => None,
        })
        .collect();
    let key = cache.map(|c| c.tree_key(root, &stamps, &links));
    if let (Some(c), Some(k)) = (cache, &key) {
        if let Some(d) = c.tree(k) {
            return Ok(d);
        }
    }
    let mut h = Sha256::new();
    for w in &entries {
        match w {
            Walked::File(rel, _) => {
                let digest = crate::hash::Sha256::digest_file(&root.join(rel))?
                    .0
                    .to_hex();
                h.update(rel.as_os_str().as_bytes());
                h.update(b"\0");
                h.update(digest.as_bytes());
            }
            Walked::Link(rel, target) => {
                h.update(rel.as_os_str().as_bytes());
                h.update(b"\0-> ");
                h.update(target.as_os_str().as_bytes());
            }
        }
        h.update(b"\n");
    }
    let digest = crate::hash::hex(&h.finalize());
    let racy = stamps.iter().any(|(_, s)| s.is_racy(now_ns));
    if let (Some(c), Some(k), false) = (cache, &key, racy) {
        let (after, _) = walk(root)?;
        let same = after.len() == entries.len()
            && after.iter().zip(&entries).all(|(a, b)| match (a, b) {
                (Walked::File(p, s), Walked::File(q, t)) => p == q && s == t,
                (Walked::Link(p, s), Walked::Link(q, t)) => p == q && s == t,
                _ => false,
            });
        if same {
            c.store_tree(k, &digest);
        }
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdlib_of_versioned_and_plain_names() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        let lib = t.path().join("lib/python3.11");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("os.py"), "").unwrap();
        assert_eq!(python_stdlib(&bin.join("python3.11")), Some(lib.clone()));
        assert_eq!(python_stdlib(&bin.join("python3")), Some(lib.clone()));
        assert_eq!(python_stdlib(&bin.join("python3.12")), None);
        assert_eq!(python_stdlib(&bin.join("pythonista")), None);
        assert_eq!(python_stdlib(&bin.join("cargo")), None);
    }

    #[test]
    fn tree_digest_covers_content_and_skips_caches() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("pkg/__pycache__")).unwrap();
        std::fs::create_dir_all(r.join("site-packages")).unwrap();
        std::fs::write(r.join("pkg/a.py"), "a").unwrap();
        let d0 = tree_digest(r, None, 0).unwrap();
        std::fs::write(r.join("pkg/__pycache__/a.pyc"), "x").unwrap();
        std::fs::write(r.join("site-packages/x.py"), "x").unwrap();
        assert_eq!(tree_digest(r, None, 0).unwrap(), d0);
        std::fs::write(r.join("pkg/a.py"), "b").unwrap();
        assert_ne!(tree_digest(r, None, 0).unwrap(), d0);
    }
}
