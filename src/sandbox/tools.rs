//! Declared tools: resolution on the host `PATH` and identity.
//!
//! A recipe names its tools (`cargo`, `rustc`, `cc`, …). Each is looked up on
//! the host `PATH` once, symlinks are resolved to the real binary, and a
//! rustup proxy (`~/.cargo/bin/cargo` → `rustup`) is replaced by the
//! toolchain binary rustup would run (`rustup which <tool>`, honouring the
//! project's `rust-toolchain.toml`). The identity that enters the derivation
//! is the real binary's sha256 and its `--version` output; the binary's
//! installation prefix is what the sandbox mounts (see `layout`).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest, Sha256};

use super::process::command;
use super::SandboxError;

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
        let found = find_on_path(name).ok_or_else(|| SandboxError::ToolNotFound {
            name: name.clone(),
            path: std::env::var("PATH").unwrap_or_default(),
        })?;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            let name = name.clone();
            move |source| SandboxError::ToolIo { name, path, source }
        };
        let mut real = std::fs::canonicalize(&found).map_err(io(&found))?;
        if is_rustup_proxy(&real) {
            let which = rustup_which(name, &real, dir)?;
            real = std::fs::canonicalize(&which).map_err(io(&which))?;
        }
        let sha256 = sha256_file(&real).map_err(io(&real))?;
        let version = version_of(&real).map_err(io(&real))?;
        out.push(Tool {
            name: name.clone(),
            path: real,
            sha256,
            version,
        });
    }
    Ok(out)
}

/// The first executable regular file `name` in the host `PATH`.
pub(super) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
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

fn rustup_which(name: &str, proxy: &Path, dir: &Path) -> Result<PathBuf, SandboxError> {
    let fail = |detail: String| SandboxError::RustupWhich {
        name: name.to_string(),
        proxy: proxy.to_path_buf(),
        dir: dir.to_path_buf(),
        detail,
    };
    // The user's environment selects the toolchain (RUSTUP_HOME,
    // RUSTUP_TOOLCHAIN, rust-toolchain.toml in `dir`); never install one.
    let out = command(proxy)
        .arg("which")
        .arg(name)
        .current_dir(dir)
        .env("RUSTUP_AUTO_INSTALL", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let text = String::from_utf8(out.stdout).map_err(|e| fail(e.to_string()))?;
    let path = PathBuf::from(text.trim());
    if !path.is_absolute() {
        return Err(fail(format!("unexpected output {text:?}")));
    }
    Ok(path)
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
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
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
