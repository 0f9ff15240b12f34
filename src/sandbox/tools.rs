//! Declared tools: resolution on the host `PATH` and identity.
//!
//! A recipe names its tools (`cargo`, `rustc`, `cc`, …). Each is looked up on
//! the host `PATH` once, symlinks are resolved to the real binary, and a
//! rustup proxy (`~/.cargo/bin/cargo` → `rustup`) is replaced by the
//! toolchain binary rustup would run (`rustup which <tool>`, honouring the
//! project's `rust-toolchain.toml`); a pyenv shim likewise by what
//! `pyenv which <tool>` names (a versioned name no selected version has:
//! the one installed version that has it). A tool found in a venv keeps the
//! venv's path (see `interp`). The identity that enters the derivation is
//! the real binary's sha256 and its `--version` output, the digests of its
//! ELF closure (`elf`) and, for a Python interpreter, its stdlib's digest
//! and a venv's site-packages digest; the binary's installation prefix and
//! the closure's libraries are what the sandbox mounts (see `layout`).
//!
//! [`resolve_tools_cached`] keeps identities and rustup answers in a
//! persistent cache (see `tool_cache` for its keys), so a repeated build
//! spawns nothing and hashes nothing here; [`resolve_tools`] computes
//! everything afresh.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest, Sha256};

use super::error::SandboxError;
use super::spawn::command;
use super::tool_cache::{now_ns, CachedLib, FileStamp, IdentityKey, ToolCache, WhichKey};
use super::{elf, interp};

/// A resolved tool. The derivation records its `name`, `sha256`, `version`,
/// the names and digests of its `libs`, its `stdlib` and its venv's
/// `site_packages`; never a host path.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Tool {
    /// The declared name; the program's name on the sandbox PATH.
    pub name: String,
    /// What runs, on the host: the real binary (absolute, symlinks and
    /// rustup/pyenv shims resolved), or for a tool found in a venv the
    /// venv's own `bin/<file>`.
    pub path: PathBuf,
    /// Lowercase hex sha256 of the real binary's bytes.
    pub sha256: String,
    /// What `<binary> --version` printed (stdout, or stderr when stdout is
    /// empty), trimmed; run with an empty environment and `LC_ALL=C`.
    pub version: String,
    /// Whether that `--version` exited successfully (only then is it
    /// compared with the one run in the sandbox).
    pub version_ok: bool,
    /// The ELF closure the loader opens, sorted by name (empty for scripts).
    pub libs: Vec<ToolLib>,
    /// For a Python interpreter, the digest of its standard library.
    pub stdlib: Option<String>,
    /// For a Python interpreter with C headers, where they are and their
    /// digest.
    #[serde(default)]
    pub headers: Option<ToolHeaders>,
    /// For a tool found in a virtual environment, that venv.
    pub venv: Option<ToolVenv>,
}

/// One shared library of a tool's closure.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ToolLib {
    /// The `DT_NEEDED` name (the program interpreter's file name).
    pub name: String,
    /// Where the loader finds it on the host (and, mounted at the same
    /// path, in the sandbox).
    pub path: PathBuf,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// Found through the executable's `$ORIGIN`: the path relative to the
    /// executable's directory, where the sandbox also mounts it.
    pub origin_rel: Option<PathBuf>,
}

/// A Python interpreter's C headers (`<prefix>/include/pythonX.Y`).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ToolHeaders {
    /// The directory on the host, mounted read-only at the same path.
    pub dir: PathBuf,
    /// Its tree digest.
    pub digest: String,
}

/// The virtual environment a tool runs as.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ToolVenv {
    /// The venv directory (canonical), mounted read-only at the same path.
    pub dir: PathBuf,
    /// The base interpreter's `bin` directory (`home` in `pyvenv.cfg`).
    pub home: PathBuf,
    /// Digest over its `lib/python*/site-packages` trees.
    pub site_packages: String,
}

/// Resolve declared tool names on the host `PATH`. `dir` is the directory
/// whose rustup toolchain selection applies (the project root, where
/// `rust-toolchain.toml` lives). The result keeps the order of `names`.
pub fn resolve_tools(names: &[String], dir: &Path) -> Result<Vec<Tool>, SandboxError> {
    resolve_tools_cached(names, dir, None)
}

/// [`resolve_tools`] with a persistent cache in `cache_dir` (created on
/// first use; the engine passes `tools/` in the per-user state
/// directory). A cached identity is
/// used only while the real binary keeps its path, device, inode, size,
/// mtime and ctime; a cached `rustup which` answer only while everything
/// rustup's toolchain choice reads is unchanged. The result is the same as
/// without the cache.
pub fn resolve_tools_cached(
    names: &[String],
    dir: &Path,
    cache_dir: Option<&Path>,
) -> Result<Vec<Tool>, SandboxError> {
    let path = std::env::var_os("PATH");
    resolve_with(names, dir, cache_dir.map(ToolCache::new), path.as_deref())
}

fn resolve_with(
    names: &[String],
    dir: &Path,
    cache: Option<ToolCache<'_>>,
    path_var: Option<&OsStr>,
) -> Result<Vec<Tool>, SandboxError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if name.is_empty()
            || name.contains('/')
            || name.contains('\0')
            || name == "."
            || name == ".."
        {
            return Err(SandboxError::BadToolName { name: name.clone() });
        }
        if !seen.insert(name.as_str()) {
            return Err(SandboxError::DuplicateTool { name: name.clone() });
        }
        out.push(resolve_one(name, dir, cache, path_var)?);
    }
    Ok(out)
}

fn resolve_one(
    name: &str,
    dir: &Path,
    cache: Option<ToolCache<'_>>,
    path_var: Option<&OsStr>,
) -> Result<Tool, SandboxError> {
    let found = find_in(name, path_var).ok_or_else(|| SandboxError::ToolNotFound {
        name: name.to_string(),
        path: path_var
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    })?;
    let now = now_ns();
    let real = real_binary(name, &found, dir, cache, now)?;
    let venv = interp::venv_of(&found);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        let name = name.to_string();
        move |source| SandboxError::ToolIo { name, path, source }
    };
    let (libs, same_closure) = if elf::is_elf(&real) {
        closure(name, &real, cache, now)?
    } else {
        (Vec::new(), true)
    };
    // `--version` runs with the closure: a cached answer stands only while
    // the closure is the cached one too.
    let cache_for_identity = cache.filter(|_| same_closure);
    let (sha256, version, version_ok) =
        identity(&real, cache_for_identity, cache, now).map_err(io(&real))?;
    // A venv made with `--copies` has its own binary: the stdlib is the
    // base installation's (`home`).
    let stdlib_dir = interp::python_stdlib(&real).or_else(|| {
        let v = venv.as_ref()?;
        interp::python_stdlib(&v.home.join(real.file_name()?))
    });
    let stdlib = match &stdlib_dir {
        Some(d) => Some(interp::tree_digest(d, cache, now).map_err(io(d))?),
        None => None,
    };
    let headers = match stdlib_dir.as_deref().and_then(interp::python_headers) {
        Some(dir) => Some(ToolHeaders {
            digest: interp::tree_digest(&dir, cache, now).map_err(io(&dir))?,
            dir,
        }),
        None => None,
    };
    let (path, venv) = match venv {
        Some(v) => {
            let file = found.file_name().unwrap_or(OsStr::new(name));
            let mut h = Sha256::new();
            // pyvenv.cfg decides too (include-system-site-packages).
            let cfg = v.dir.join("pyvenv.cfg");
            h.update(b"pyvenv.cfg\0");
            h.update(sha256_file(&cfg).map_err(io(&cfg))?.as_bytes());
            h.update(b"\n");
            for sp in &v.site_packages {
                let d = interp::tree_digest(sp, cache, now).map_err(io(sp))?;
                let rel = sp.strip_prefix(&v.dir).unwrap_or(sp);
                h.update(rel.as_os_str().as_encoded_bytes());
                h.update(b"\0");
                h.update(d.as_bytes());
                h.update(b"\n");
            }
            let venv = ToolVenv {
                site_packages: crate::hash::hex(&h.finalize()),
                home: v.home,
                dir: v.dir.clone(),
            };
            (v.dir.join("bin").join(file), Some(venv))
        }
        None => (real, None),
    };
    Ok(Tool {
        name: name.to_string(),
        path,
        sha256,
        version,
        version_ok,
        libs,
        stdlib,
        headers,
        venv,
    })
}

/// The real binary behind the `PATH` hit `found`: symlinks, rustup proxies
/// and pyenv shims resolved.
fn real_binary(
    name: &str,
    found: &Path,
    dir: &Path,
    cache: Option<ToolCache<'_>>,
    now: i128,
) -> Result<PathBuf, SandboxError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        let name = name.to_string();
        move |source| SandboxError::ToolIo { name, path, source }
    };
    let mut real = std::fs::canonicalize(found).map_err(io(found))?;
    if is_rustup_proxy(&real) {
        let proxy = real;
        let key = cache.and_then(|_| WhichKey::of(name, &proxy, dir, now));
        let hit = match (cache, &key) {
            (Some(c), Some(k)) => c.which(name, k),
            _ => None,
        };
        real = match hit {
            Some((_, real)) => real,
            None => {
                let which = rustup_which(name, &proxy, dir)?;
                let real = std::fs::canonicalize(&which).map_err(io(&which))?;
                if let (Some(c), Some(k)) = (cache, &key) {
                    let after = WhichKey::of(name, &proxy, dir, now);
                    c.store_which(name, k, after.as_ref(), now, &which, &real);
                }
                real
            }
        };
    }
    if let Some(root) = pyenv_root_of_shim(&real) {
        let which = pyenv_which(name, &real, &root, dir)?;
        real = std::fs::canonicalize(&which).map_err(io(&which))?;
    }
    Ok(real)
}

/// `(sha256, --version output, whether it succeeded)` of `real`, read from
/// `read` and recorded in `write`.
fn identity(
    real: &Path,
    read: Option<ToolCache<'_>>,
    write: Option<ToolCache<'_>>,
    now: i128,
) -> std::io::Result<(String, String, bool)> {
    let key = write.and_then(|_| IdentityKey::of(real));
    if let (Some(c), Some(k)) = (read, &key) {
        if let Some(hit) = c.identity(real, k) {
            return Ok(hit);
        }
    }
    let sha256 = sha256_file(real)?;
    let (version, ok) = version_of(real)?;
    if let (Some(c), Some(k)) = (write, &key) {
        c.store_identity(real, k, now, &sha256, &version, ok);
    }
    Ok((sha256, version, ok))
}

/// The ELF closure of `real` with each library's digest, cached; and
/// whether it came from the cache.
fn closure(
    name: &str,
    real: &Path,
    cache: Option<ToolCache<'_>>,
    now: i128,
) -> Result<(Vec<ToolLib>, bool), SandboxError> {
    let key = cache.and_then(|_| IdentityKey::of(real));
    let cached = match (cache, &key) {
        (Some(c), Some(k)) => c.closure(k),
        _ => None,
    };
    let hit = cached.is_some();
    let libs = match cached {
        Some(libs) => libs,
        None => {
            let fail = |source| SandboxError::ToolClosure {
                name: name.to_string(),
                path: real.to_path_buf(),
                source,
            };
            let c = elf::closure(real, &[]).map_err(fail)?;
            let mut libs = Vec::with_capacity(c.libs.len());
            for l in c.libs {
                let io = |source| SandboxError::ToolIo {
                    name: name.to_string(),
                    path: l.path.clone(),
                    source,
                };
                let stamp = FileStamp::of(&l.path)
                    .ok_or_else(|| io(std::io::Error::other("cannot stat")))?;
                libs.push(CachedLib {
                    sha256: sha256_file(&l.path).map_err(io)?,
                    name: l.name,
                    path: l.path,
                    origin_rel: l.origin_rel,
                    stamp,
                });
            }
            if let (Some(ch), Some(k)) = (cache, &key) {
                ch.store_closure(k, now, &libs, &c.searched);
            }
            libs
        }
    };
    let libs = libs
        .into_iter()
        .map(|l| ToolLib {
            name: l.name,
            path: l.path,
            sha256: l.sha256,
            origin_rel: l.origin_rel,
        })
        .collect();
    Ok((libs, hit))
}

/// The first executable regular file `name` in the host `PATH`.
pub(super) fn find_on_path(name: &str) -> Option<PathBuf> {
    find_in(name, std::env::var_os("PATH").as_deref())
}

/// The first executable regular file `name` in the directories of `path_var`.
fn find_in(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

pub(super) fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// rustup installs its proxies as links to (or copies named after) the
/// `rustup` binary itself.
fn is_rustup_proxy(real: &Path) -> bool {
    real.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "rustup" || n == "rustup-init")
}

/// pyenv's shims are small shell scripts in `<root>/shims/` that run
/// `pyenv exec`: the pyenv root, if `real` is one.
fn pyenv_root_of_shim(real: &Path) -> Option<PathBuf> {
    let dir = real.parent()?;
    if dir.file_name()? != "shims" {
        return None;
    }
    let root = dir.parent()?;
    let meta = std::fs::metadata(real).ok()?;
    if meta.len() > 4096 || !root.join("libexec/pyenv").is_file() {
        return None;
    }
    let text = std::fs::read(real).ok()?;
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    let is_shim = text.starts_with(b"#!") && has(b"libexec/pyenv") && has(b" exec ");
    is_shim.then(|| root.to_path_buf())
}

/// The interpreter (or script) pyenv would run for `name` in `dir`
/// (honouring `.python-version` and `PYENV_VERSION`, as the shim does).
///
/// A name the selected versions do not provide (`python3.12` while only
/// 3.11.7 is selected) is what `pyenv whence` finds: when exactly one
/// installed version has it, that version's binary (what running the shim
/// with `PYENV_VERSION=<that version>` runs); when several do, a refusal
/// naming them.
fn pyenv_which(name: &str, shim: &Path, root: &Path, dir: &Path) -> Result<PathBuf, SandboxError> {
    let fail = |detail: String| SandboxError::PyenvWhich {
        name: name.to_string(),
        shim: shim.to_path_buf(),
        dir: dir.to_path_buf(),
        detail,
    };
    let pyenv = |version: Option<&str>| {
        let mut c = command(&root.join("libexec/pyenv"));
        c.env("PYENV_ROOT", root);
        if let Some(v) = version {
            c.env("PYENV_VERSION", v);
        }
        c
    };
    let first = match which_path(pyenv(None), name, dir) {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    let out = pyenv(None)
        .arg("whence")
        .arg(name)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    let versions: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.contains('/'))
        .collect();
    match versions.as_slice() {
        [one] => which_path(pyenv(Some(one)), name, dir).map_err(fail),
        [] => Err(fail(first)),
        _ => Err(SandboxError::PyenvAmbiguous {
            name: name.to_string(),
            shim: shim.to_path_buf(),
            dir: dir.to_path_buf(),
            versions,
        }),
    }
}

/// Run `<manager> which <name>` in `dir` and return the absolute path it
/// prints, or what went wrong.
fn which_path(mut c: std::process::Command, name: &str, dir: &Path) -> Result<PathBuf, String> {
    let out = c
        .arg("which")
        .arg(name)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let text = String::from_utf8(out.stdout).map_err(|e| e.to_string())?;
    let path = PathBuf::from(text.trim());
    if !path.is_absolute() {
        return Err(format!("unexpected output {text:?}"));
    }
    Ok(path)
}

fn rustup_which(name: &str, proxy: &Path, dir: &Path) -> Result<PathBuf, SandboxError> {
    let fail = |detail: String| SandboxError::RustupWhich {
        name: name.to_string(),
        proxy: proxy.to_path_buf(),
        dir: dir.to_path_buf(),
        detail,
    };
    // The user's environment selects the toolchain (RUSTUP_HOME,
    // RUSTUP_TOOLCHAIN, rust-toolchain.toml in `dir`); never install one.
    let mut c = command(proxy);
    c.env("RUSTUP_AUTO_INSTALL", "0");
    which_path(c, name, dir).map_err(fail)
}

pub(super) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(crate::hash::hex(&h.finalize()))
}

fn version_of(real: &Path) -> std::io::Result<(String, bool)> {
    let out = command(real)
        .arg("--version")
        .env_clear()
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()?;
    let text = if out.stdout.iter().all(u8::is_ascii_whitespace) {
        out.stderr
    } else {
        out.stdout
    };
    Ok((
        String::from_utf8_lossy(&text).trim().to_string(),
        out.status.success(),
    ))
}

/// The `bwrap` binary kiln would use, if installed (searched on the host
/// `PATH`, then `/usr/bin/bwrap`).
pub fn bwrap_path() -> Option<PathBuf> {
    find_on_path("bwrap").or_else(|| {
        let p = PathBuf::from("/usr/bin/bwrap");
        is_executable(&p).then_some(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write_exe(path: &Path, text: &str) {
        // A new inode each time, like an installer's rename.
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, text).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    fn lines(path: &Path) -> usize {
        std::fs::read_to_string(path)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Let the files just written leave the racy window.
    fn age() {
        std::thread::sleep(std::time::Duration::from_nanos(
            super::super::tool_cache::RACY_NS as u64 + 200_000_000,
        ));
    }

    fn cache_files(dir: &Path, prefix: &str) -> usize {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with(prefix)
                })
                .count()
            })
            .unwrap_or(0)
    }

    #[test]
    fn cached_identity_is_reused_until_the_binary_changes() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let runs = t.path().join("runs");
        let tool = bin.join("faketool");
        let script = |v: &str| {
            format!(
                "#!/bin/sh\necho run >> '{}'\necho 'faketool {v}'\n",
                runs.display()
            )
        };
        write_exe(&tool, &script("1.0"));
        age();
        let cache_dir = t.path().join("cache");
        let cache = Some(ToolCache::new(&cache_dir));
        let names = ["faketool".to_string()];
        let path = Some(bin.as_os_str());
        let resolve = || resolve_with(&names, t.path(), cache, path).unwrap();

        let first = resolve();
        assert_eq!(first[0].version, "faketool 1.0");
        assert_eq!(lines(&runs), 1);
        assert_eq!(cache_files(&cache_dir, "id-"), 1);
        // Second resolution: from the cache, nothing spawned.
        assert_eq!(resolve(), first);
        assert_eq!(lines(&runs), 1);
        // The uncached resolution agrees.
        assert_eq!(resolve_with(&names, t.path(), None, path).unwrap(), first);
        assert_eq!(lines(&runs), 2);

        // touch (to an old mtime; the ctime moves to now): same bytes, new
        // timestamps -> recomputed (and, being racy now, not cached:
        // computed again next time).
        let f = std::fs::File::options().write(true).open(&tool).unwrap();
        f.set_times(
            std::fs::FileTimes::new()
                .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)),
        )
        .unwrap();
        drop(f);
        assert_eq!(resolve(), first);
        assert_eq!(lines(&runs), 3);
        assert_eq!(resolve(), first);
        assert_eq!(lines(&runs), 4);

        // Replaced by a different binary: the new identity, never the old.
        write_exe(&tool, &script("2.0"));
        let second = resolve();
        assert_eq!(second[0].version, "faketool 2.0");
        assert_ne!(second[0].sha256, first[0].sha256);
        assert_eq!(lines(&runs), 5);
        // Rewritten in place with the same size: ctime moves.
        std::fs::write(&tool, script("3.0")).unwrap();
        let third = resolve();
        assert_eq!(third[0].version, "faketool 3.0");
        assert_eq!(lines(&runs), 6);

        // A corrupt entry is a miss, not an error.
        for e in std::fs::read_dir(&cache_dir).unwrap() {
            std::fs::write(e.unwrap().path(), b"{not json").unwrap();
        }
        age();
        assert_eq!(resolve()[0].version, "faketool 3.0");
        assert_eq!(lines(&runs), 7);
        assert_eq!(resolve()[0].version, "faketool 3.0");
        assert_eq!(lines(&runs), 7);
    }

    #[test]
    fn cached_rustup_answer_follows_toolchain_selection() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        let tc = t.path().join("toolchain/bin");
        let proj = t.path().join("proj");
        for d in [&bin, &tc, &proj] {
            std::fs::create_dir_all(d).unwrap();
        }
        let asked = t.path().join("asked");
        let runs = t.path().join("runs");
        write_exe(
            &bin.join("rustup"),
            &format!(
                "#!/bin/sh\necho \"$1 $2\" >> '{}'\necho '{}'/\"$2\"\n",
                asked.display(),
                tc.display()
            ),
        );
        std::os::unix::fs::symlink("rustup", bin.join("cargo")).unwrap();
        let cargo = |v: &str| {
            format!(
                "#!/bin/sh\necho run >> '{}'\necho 'cargo {v}'\n",
                runs.display()
            )
        };
        write_exe(&tc.join("cargo"), &cargo("1"));
        age();
        let cache_dir = t.path().join("cache");
        let cache = Some(ToolCache::new(&cache_dir));
        let names = ["cargo".to_string()];
        let path = Some(bin.as_os_str());
        let resolve = || resolve_with(&names, &proj, cache, path).unwrap();

        let first = resolve();
        assert_eq!(
            first[0].path,
            std::fs::canonicalize(tc.join("cargo")).unwrap()
        );
        assert_eq!(first[0].version, "cargo 1");
        assert_eq!((lines(&asked), lines(&runs)), (1, 1));
        assert_eq!(cache_files(&cache_dir, "which-"), 1);
        assert_eq!(resolve(), first);
        assert_eq!((lines(&asked), lines(&runs)), (1, 1));

        // A toolchain file in the project changes rustup's inputs: asked again
        // (the binary it names is unchanged, so its identity is reused).
        std::fs::write(
            proj.join("rust-toolchain.toml"),
            "[toolchain]\nchannel = \"x\"\n",
        )
        .unwrap();
        assert_eq!(resolve(), first);
        assert_eq!((lines(&asked), lines(&runs)), (2, 1));
        assert_eq!(resolve(), first);
        assert_eq!((lines(&asked), lines(&runs)), (2, 1));

        // The toolchain's binary updated in place: rustup is asked again and
        // the identity recomputed.
        write_exe(&tc.join("cargo"), &cargo("2"));
        let second = resolve();
        assert_eq!(second[0].version, "cargo 2");
        assert_eq!((lines(&asked), lines(&runs)), (3, 2));
    }

    fn gcc(args: &[&std::ffi::OsStr]) {
        let ok = command(Path::new("gcc"))
            .args(args)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "gcc {args:?} failed (gcc is needed for this test)");
    }

    fn tiny_lib(dir: &Path, value: u32) {
        std::fs::create_dir_all(dir).unwrap();
        let src = dir.join("tiny.c");
        std::fs::write(&src, format!("int tiny(void) {{ return {value}; }}\n")).unwrap();
        let out = dir.join("libtiny.so");
        gcc(&[
            "-shared".as_ref(),
            "-fPIC".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
            src.as_os_str(),
        ]);
        std::fs::remove_file(src).unwrap();
    }

    #[test]
    fn cached_closure_follows_its_libraries_and_search_directories() {
        let t = tempfile::tempdir().unwrap();
        let (bin, lib0, lib1) = (
            t.path().join("bin"),
            t.path().join("l0"),
            t.path().join("l1"),
        );
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&lib0).unwrap();
        tiny_lib(&lib1, 1);
        let src = t.path().join("prog.c");
        std::fs::write(
            &src,
            "#include <stdio.h>\nint tiny(void);\nint main(void) { printf(\"%d\\n\", tiny()); return 0; }\n",
        )
        .unwrap();
        let rpath = format!(
            "-Wl,-rpath,{}:{},--enable-new-dtags",
            lib0.display(),
            lib1.display()
        );
        let l = format!("-L{}", lib1.display());
        let prog = bin.join("prog");
        gcc(&[
            "-o".as_ref(),
            prog.as_os_str(),
            src.as_os_str(),
            l.as_ref(),
            "-ltiny".as_ref(),
            rpath.as_ref(),
        ]);
        age();
        let cache_dir = t.path().join("cache");
        let cache = Some(ToolCache::new(&cache_dir));
        let names = ["prog".to_string()];
        let path = Some(bin.as_os_str());
        let resolve = || {
            resolve_with(&names, t.path(), cache, path)
                .unwrap()
                .remove(0)
        };
        let tiny = |tool: &Tool| {
            tool.libs
                .iter()
                .find(|l| l.name == "libtiny.so")
                .cloned()
                .unwrap()
        };

        let first = resolve();
        assert_eq!(first.version, "1");
        assert_eq!(tiny(&first).path, lib1.join("libtiny.so"));
        assert!(first.libs.iter().any(|l| l.name == "libc.so.6"));
        assert_eq!(cache_files(&cache_dir, "elf-"), 1);
        assert_eq!(resolve(), first);
        assert_eq!(
            resolve_with(&names, t.path(), None, path).unwrap()[0],
            first
        );

        // A library earlier in the RUNPATH now shadows it: noticed.
        tiny_lib(&lib0, 2);
        let second = resolve();
        assert_eq!(tiny(&second).path, lib0.join("libtiny.so"));
        // `--version` ran again: the binary is unchanged, what it loads not.
        assert_eq!(second.version, "2");
        assert_ne!(tiny(&second).sha256, tiny(&first).sha256);
        age();
        assert_eq!(resolve(), second);

        // The library rewritten in place: its new digest, never the old.
        let f = lib0.join("libtiny.so");
        let mut bytes = std::fs::read(&f).unwrap();
        bytes.extend_from_slice(b"padding");
        std::fs::write(&f, bytes).unwrap();
        let third = resolve();
        assert_ne!(tiny(&third).sha256, tiny(&second).sha256);
        assert_eq!(
            resolve_with(&names, t.path(), None, path).unwrap()[0],
            third
        );
    }
}
