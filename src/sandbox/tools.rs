//! Declared tools: resolution on the host `PATH` and identity.
//!
//! A recipe names its tools (`cargo`, `rustc`, `cc`, …). Each is looked up on
//! the host `PATH` once, symlinks are resolved to the real binary, and a
//! rustup proxy (`~/.cargo/bin/cargo` → `rustup`) is replaced by the
//! toolchain binary rustup would run (`rustup which <tool>`, honouring the
//! project's `rust-toolchain.toml`); a pyenv shim likewise by what
//! `pyenv which <tool>` names. The identity that enters the derivation
//! is the real binary's sha256 and its `--version` output; the binary's
//! installation prefix is what the sandbox mounts (see `layout`).
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
use super::tool_cache::{now_ns, IdentityKey, ToolCache, WhichKey};

/// A resolved tool. Serialises as `{"name","path","sha256","version"}` for
/// the derivation (which should hash `name`, `sha256` and `version`, not the
/// host `path`).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Tool {
    /// The declared name; the program's name on the sandbox PATH.
    pub name: String,
    /// The real binary on the host: absolute, symlinks and rustup proxies resolved.
    pub path: PathBuf,
    /// Lowercase hex sha256 of the binary's bytes.
    pub sha256: String,
    /// What `<binary> --version` printed (stdout, or stderr when stdout is
    /// empty), trimmed; run with an empty environment and `LC_ALL=C`.
    pub version: String,
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
    let io = |path: &Path| {
        let path = path.to_path_buf();
        let name = name.to_string();
        move |source| SandboxError::ToolIo { name, path, source }
    };
    let mut real = std::fs::canonicalize(&found).map_err(io(&found))?;
    let now = now_ns();
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
    let key = cache.and_then(|_| IdentityKey::of(&real));
    if let (Some(c), Some(k)) = (cache, &key) {
        if let Some((sha256, version)) = c.identity(&real, k) {
            return Ok(Tool {
                name: name.to_string(),
                path: real,
                sha256,
                version,
            });
        }
    }
    let sha256 = sha256_file(&real).map_err(io(&real))?;
    let version = version_of(&real).map_err(io(&real))?;
    if let (Some(c), Some(k)) = (cache, &key) {
        c.store_identity(&real, k, now, &sha256, &version);
    }
    Ok(Tool {
        name: name.to_string(),
        path: real,
        sha256,
        version,
    })
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
fn pyenv_which(name: &str, shim: &Path, root: &Path, dir: &Path) -> Result<PathBuf, SandboxError> {
    let fail = |detail: String| SandboxError::PyenvWhich {
        name: name.to_string(),
        shim: shim.to_path_buf(),
        dir: dir.to_path_buf(),
        detail,
    };
    let mut c = command(&root.join("libexec/pyenv"));
    c.env("PYENV_ROOT", root);
    which_path(c, name, dir).map_err(fail)
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

fn sha256_file(path: &Path) -> std::io::Result<String> {
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

fn version_of(real: &Path) -> std::io::Result<String> {
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
    Ok(String::from_utf8_lossy(&text).trim().to_string())
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
}
