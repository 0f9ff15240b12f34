//! The shared libraries a tool loads: its ELF closure, resolved the way the
//! dynamic loader (`ld.so`) resolves it inside the sandbox.
//!
//! The sandbox shares the host's system directories and `/etc/ld.so.cache`,
//! and every library of a closure that lies outside them is mounted at its
//! host path (see `layout`), so resolving on the host with the loader's rules
//! gives the files the sandboxed loader opens. The rules followed, per
//! `DT_NEEDED` entry of an object, breadth first as `ld.so` loads:
//!
//! 1. a name already loaded (by `DT_NEEDED` name or `DT_SONAME`) is reused;
//! 2. a name with a `/` is a path (relative ones are not followed);
//! 3. when the object has no `DT_RUNPATH`: the `DT_RPATH` of the object, then
//!    of each object that loaded it, up to the executable;
//! 4. `LD_LIBRARY_PATH` (the directories the caller passes);
//! 5. the object's own `DT_RUNPATH`;
//! 6. `/etc/ld.so.cache` (entries without hardware-capability bits);
//! 7. the default directories (`/lib/<multiarch>`, `/usr/lib/<multiarch>`,
//!    `/lib64`, `/usr/lib64`, `/lib`, `/usr/lib`).
//!
//! `$ORIGIN` (and `${ORIGIN}`) expand to the directory of the object that
//! carries the path; `$LIB` and `$PLATFORM` are not expanded (a path with
//! them is skipped). A candidate is accepted only when it is an ELF file of
//! the executable's class and machine, as the loader checks. The program
//! interpreter (`PT_INTERP`) is part of the closure.
//!
//! ELF parsing is the `object` crate's.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::{elf, Endianness, FileKind};

/// One library the loader opens for a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Loaded {
    /// The `DT_NEEDED` name (for the interpreter, its file name): what the
    /// identity records, independent of where the file lies.
    pub name: String,
    /// Where it was found on the host.
    pub path: PathBuf,
    /// For a library found through the `$ORIGIN` of the executable, or of a
    /// library itself found so: its path relative to the executable's
    /// directory. The sandboxed loader finds it there, relative to where
    /// the executable is in the sandbox; any other library it finds at its
    /// host path.
    pub origin_rel: Option<PathBuf>,
}

/// A tool's closure and what its resolution depended on.
#[derive(Debug, Clone, Default)]
pub(super) struct Closure {
    pub libs: Vec<Loaded>,
    /// Every directory searched (and `/etc/ld.so.cache`): a file added to
    /// one of them may change the resolution, so their metadata keys the
    /// cached closure.
    pub searched: Vec<PathBuf>,
}

/// Why a closure could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("reading {}", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid ELF file: {detail}", crate::name::shown_path(path))]
    Parse { path: PathBuf, detail: String },
    #[error(
        "{} needs shared library `{}`, which the dynamic loader would not find (searched: {})",
        crate::name::shown_path(object),
        crate::name::shown(name),
        crate::name::shown(searched)
    )]
    NotFound {
        object: PathBuf,
        name: String,
        searched: String,
    },
}

/// What one ELF object declares.
#[derive(Debug, Default)]
struct Dynamic {
    class64: bool,
    machine: u16,
    needed: Vec<String>,
    soname: Option<String>,
    rpath: Vec<String>,
    runpath: Option<Vec<String>>,
    interp: Option<PathBuf>,
}

/// Whether `data` starts like an ELF file.
pub(super) fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

fn parse(path: &Path) -> Result<Dynamic, ElfError> {
    let data = std::fs::read(path).map_err(|source| ElfError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |e: object::read::Error| ElfError::Parse {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    match FileKind::parse(&*data).map_err(bad)? {
        FileKind::Elf32 => parse_as::<elf::FileHeader32<Endianness>>(&data).map_err(bad),
        FileKind::Elf64 => parse_as::<elf::FileHeader64<Endianness>>(&data).map_err(bad),
        other => Err(ElfError::Parse {
            path: path.to_path_buf(),
            detail: format!("a {other:?} file, not ELF"),
        }),
    }
}

fn parse_as<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> object::read::Result<Dynamic> {
    let header = H::parse(data)?;
    let endian = header.endian()?;
    let mut d = Dynamic {
        class64: header.is_class_64(),
        machine: header.e_machine(endian),
        ..Dynamic::default()
    };
    for ph in header.program_headers(endian, data)? {
        if let Some(interp) = ph.interpreter(endian, data)? {
            d.interp = Some(PathBuf::from(OsStr::from_bytes(interp)));
        }
    }
    let sections = header.sections(endian, data)?;
    let Some((dynamic, link)) = sections.dynamic(endian, data)? else {
        return Ok(d);
    };
    let strings = sections.strings(endian, data, link)?;
    let text = |e: &H::Dyn| -> object::read::Result<String> {
        Ok(String::from_utf8_lossy(e.string(endian, strings)?).into_owned())
    };
    let split = |s: String| -> Vec<String> {
        s.split(':')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    for e in dynamic {
        match e.tag32(endian) {
            Some(elf::DT_NEEDED) => d.needed.push(text(e)?),
            Some(elf::DT_SONAME) => d.soname = Some(text(e)?),
            Some(elf::DT_RPATH) => d.rpath.extend(split(text(e)?)),
            Some(elf::DT_RUNPATH) => d
                .runpath
                .get_or_insert_with(Vec::new)
                .extend(split(text(e)?)),
            Some(elf::DT_NULL) => break,
            _ => {}
        }
    }
    Ok(d)
}

/// Expand `$ORIGIN` in a search path entry of the object at `object`;
/// `None` for entries the loader would not use as written here.
fn expand(entry: &str, object: &Path) -> Option<(PathBuf, bool)> {
    let origin = object.parent()?.to_string_lossy().into_owned();
    let has_origin = entry.contains("$ORIGIN") || entry.contains("${ORIGIN}");
    let e = entry
        .replace("${ORIGIN}", &origin)
        .replace("$ORIGIN", &origin);
    if e.contains('$') || !e.starts_with('/') {
        return None;
    }
    Some((normalise(Path::new(&e)), has_origin))
}

/// Lexically remove `.` and `..` (the loader passes the string to `open`,
/// which resolves `..` physically; kiln's tool directories hold no
/// symlinked parents where that would differ).
pub(super) fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The object being resolved, with what its dependents inherit.
struct Node {
    path: PathBuf,
    dynamic: Dynamic,
    /// `DT_RPATH` entries of this object's loaders (nearest first), expanded.
    inherited_rpath: Vec<(PathBuf, bool)>,
    /// Whether this object is where it is relative to the executable (the
    /// executable, or found through such an object's `$ORIGIN`).
    exe_relative: bool,
}

/// The closure of the executable `exe` (canonical host path), with
/// `ld_library_path` as the loader's `LD_LIBRARY_PATH`.
pub(super) fn closure(exe: &Path, ld_library_path: &[PathBuf]) -> Result<Closure, ElfError> {
    let root = parse(exe)?;
    let (class64, machine) = (root.class64, root.machine);
    let cache = LdCache::load();
    let mut out = Closure::default();
    out.searched.push(PathBuf::from(LD_SO_CACHE));
    let mut loaded: BTreeMap<String, PathBuf> = BTreeMap::new();
    if let Some(interp) = &root.interp {
        let name = interp
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        loaded.insert(name.clone(), interp.clone());
        out.libs.push(Loaded {
            name,
            path: interp.clone(),
            origin_rel: None,
        });
    }
    let mut queue = VecDeque::from([Node {
        path: exe.to_path_buf(),
        dynamic: root,
        inherited_rpath: Vec::new(),
        exe_relative: true,
    }]);
    let compatible = |p: &Path| {
        p.is_file()
            && parse(p)
                .map(|d| d.class64 == class64 && d.machine == machine)
                .unwrap_or(false)
    };
    while let Some(node) = queue.pop_front() {
        let own_rpath: Vec<(PathBuf, bool)> = node
            .dynamic
            .rpath
            .iter()
            .filter_map(|e| expand(e, &node.path))
            .collect();
        let runpath: Option<Vec<(PathBuf, bool)>> = node
            .dynamic
            .runpath
            .as_ref()
            .map(|r| r.iter().filter_map(|e| expand(e, &node.path)).collect());
        let mut dirs: Vec<(PathBuf, bool)> = Vec::new();
        if runpath.is_none() {
            dirs.extend(own_rpath.iter().cloned());
            dirs.extend(node.inherited_rpath.iter().cloned());
        }
        dirs.extend(ld_library_path.iter().map(|d| (d.clone(), false)));
        dirs.extend(runpath.clone().unwrap_or_default());
        for (d, _) in &dirs {
            if !out.searched.contains(d) {
                out.searched.push(d.clone());
            }
        }
        for name in &node.dynamic.needed {
            if loaded.contains_key(name) {
                continue;
            }
            let found = find(name, &dirs, &cache, &compatible);
            let Some((path, via_origin)) = found else {
                return Err(ElfError::NotFound {
                    object: node.path.clone(),
                    name: name.clone(),
                    searched: dirs
                        .iter()
                        .map(|(d, _)| d.display().to_string())
                        .chain(["ld.so.cache".into(), "the default directories".into()])
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            let origin_rel = (via_origin && node.exe_relative)
                .then(|| exe.parent().and_then(|o| relative(&path, o)))
                .flatten();
            let dynamic = parse(&path)?;
            if let Some(soname) = &dynamic.soname {
                loaded.entry(soname.clone()).or_insert(path.clone());
            }
            loaded.insert(name.clone(), path.clone());
            let exe_relative = origin_rel.is_some();
            out.libs.push(Loaded {
                name: name.clone(),
                path: path.clone(),
                origin_rel,
            });
            let mut inherited_rpath = own_rpath.clone();
            inherited_rpath.extend(node.inherited_rpath.iter().cloned());
            queue.push_back(Node {
                exe_relative,
                path,
                dynamic,
                inherited_rpath,
            });
        }
    }
    out.libs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `path` relative to `base` (which is a lexical ancestor or not).
fn relative(path: &Path, base: &Path) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    let mut b = base.to_path_buf();
    loop {
        if let Ok(rest) = path.strip_prefix(&b) {
            rel.push(rest);
            return Some(rel);
        }
        rel.push("..");
        if !b.pop() {
            return None;
        }
    }
}

/// Search one needed `name`: the given directories, the cache, the defaults.
fn find(
    name: &str,
    dirs: &[(PathBuf, bool)],
    cache: &LdCache,
    compatible: &dyn Fn(&Path) -> bool,
) -> Option<(PathBuf, bool)> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return (p.is_absolute() && compatible(&p)).then_some((p, false));
    }
    for (d, origin) in dirs {
        let p = d.join(name);
        if compatible(&p) {
            return Some((p, *origin));
        }
    }
    if let Some(p) = cache.lookup(name).into_iter().find(|p| compatible(p)) {
        return Some((p, false));
    }
    default_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| compatible(p))
        .map(|p| (p, false))
}

fn default_dirs() -> Vec<PathBuf> {
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    [
        format!("/lib/{multiarch}"),
        format!("/usr/lib/{multiarch}"),
        "/lib64".into(),
        "/usr/lib64".into(),
        "/lib".into(),
        "/usr/lib".into(),
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}

pub(super) const LD_SO_CACHE: &str = "/etc/ld.so.cache";

/// `/etc/ld.so.cache` in glibc's "new" format (`glibc-ld.so.cache1.1`),
/// the only one current glibc writes; an unreadable or old-format cache is
/// empty, and the default directories still apply.
#[derive(Debug, Default)]
struct LdCache {
    /// name -> paths, in the cache's order.
    entries: BTreeMap<String, Vec<PathBuf>>,
}

impl LdCache {
    fn load() -> LdCache {
        std::fs::read(LD_SO_CACHE)
            .ok()
            .and_then(|d| LdCache::parse(&d))
            .unwrap_or_default()
    }

    fn parse(data: &[u8]) -> Option<LdCache> {
        const MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
        const HEADER: usize = 48;
        const ENTRY: usize = 24;
        let start = find_subslice(data, MAGIC)?;
        let d = &data[start..];
        let u32_at = |o: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(d.get(o..o + 4)?.try_into().ok()?))
        };
        let u64_at = |o: usize| -> Option<u64> {
            Some(u64::from_ne_bytes(d.get(o..o + 8)?.try_into().ok()?))
        };
        let n = u32_at(20)? as usize;
        let cstr = |o: u32| -> Option<&[u8]> {
            let s = d.get(o as usize..)?;
            Some(&s[..s.iter().position(|&b| b == 0)?])
        };
        let mut entries: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for i in 0..n {
            let o = HEADER + i * ENTRY;
            let (key, value, hwcap) = (u32_at(o + 4)?, u32_at(o + 8)?, u64_at(o + 16)?);
            if hwcap != 0 {
                continue;
            }
            let key = String::from_utf8_lossy(cstr(key)?).into_owned();
            let value = PathBuf::from(OsStr::from_bytes(cstr(value)?));
            entries.entry(key).or_default().push(value);
        }
        Some(LdCache { entries })
    }

    fn lookup(&self, name: &str) -> Vec<PathBuf> {
        self.entries.get(name).cloned().unwrap_or_default()
    }
}

fn find_subslice(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_a_common_ancestor() {
        let r = |p: &str, b: &str| relative(Path::new(p), Path::new(b)).unwrap();
        assert_eq!(r("/a/lib/x.so", "/a/bin"), PathBuf::from("../lib/x.so"));
        assert_eq!(r("/a/bin/x.so", "/a/bin"), PathBuf::from("x.so"));
        assert_eq!(
            normalise(Path::new("/a/bin/../lib/./x")),
            PathBuf::from("/a/lib/x")
        );
    }

    #[test]
    fn the_closure_of_the_system_shell_matches_ldd() {
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        let c = closure(&sh, &[]).unwrap();
        let out = super::super::spawn::command(Path::new("ldd"))
            .arg(&sh)
            .output()
            .expect("ldd (the loader's own listing) is needed for this test");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
            if let Some((name, rest)) = line.trim().split_once(" => ") {
                let path = rest.split(" (").next().unwrap();
                let lib = c.libs.iter().find(|l| l.name == name).unwrap();
                assert_eq!(lib.path, PathBuf::from(path), "{name}");
            }
        }
        assert!(c.libs.iter().any(|l| l.name == "libc.so.6"));
        assert!(c.libs.iter().any(|l| l.name.starts_with("ld-linux")));
    }
}
