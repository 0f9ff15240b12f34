//! The sandbox: how a build process runs.
//!
//! Every process kiln starts to *build* something (a `command` recipe, the
//! real `cargo package` of the crate surface) goes through [`run`] or
//! [`run_capture`]. With [`SandboxMode::Bubblewrap`] the process runs under
//! `bwrap` with every namespace unshared (so no network), a fixed uid/gid
//! (1000/100), `--die-with-parent` and `--new-session`, and sees this
//! filesystem:
//!
//! ```text
//! /build               the workspace, read-write (Spec::workspace); cwd = /build/<Spec::cwd>
//! /tmp                 an empty tmpfs (also TMPDIR)
//! /usr, /bin, /lib*…   the host's system directories, read-only (symlinks mirrored)
//! /etc                 only passwd, group, hosts, nsswitch.conf (generated),
//!                      ld.so.cache, ld.so.conf(.d) and alternatives (read-only)
//! /kiln/tools/<name>   the installation (bin, lib, share, …) of each declared tool
//!                      living outside the system directories (e.g. a rustup toolchain), read-only
//! /kiln/bin            one symlink per declared tool (a venv tool: an exec script): the whole PATH
//! <host path>          each library of a tool's ELF closure outside the system
//!                      directories, a venv tool's venv and base installation, read-only
//! <RoInput::at>        each read-only extra input (e.g. the cargo registry cache)
//! /proc, /dev          fresh instances
//! ```
//!
//! Nothing of `/root`, `/home` or the checkout is mounted; `/` itself is a
//! read-only tmpfs, so the only writable places are `/build` and `/tmp`.
//! The environment is cleared and replaced by the fixed variables of
//! [`env`] (`HOME=/homeless-shelter`, which does not exist, `TZ=UTC`,
//! `LC_ALL=C.UTF-8`, `SOURCE_DATE_EPOCH`, `PATH=/kiln/bin`, `TMPDIR=/tmp`)
//! plus the caller's declared variables; the umask is 022.
//!
//! [`SandboxMode::None`] runs the same argv on the host with the same
//! environment discipline (cleared environment, fixed variables, a PATH
//! holding only the declared tools, umask 022) but without isolation: the
//! in-sandbox paths `/build`, `/tmp` and every `RoInput::at` are rewritten to
//! host paths in argv and environment values (see [`layout`]). Outputs then
//! depend on the host; the caller records the mode in the derivation and
//! provenance.
//!
//! Declared tools are resolved once, on the host `PATH`, by
//! [`resolve_tools`]; their identity (`--version` output and the sha256 of
//! the real binary, behind any rustup proxy or pyenv shim; the digests of
//! its ELF closure (`elf`); a Python interpreter's stdlib digest and a venv's
//! site-packages digest (`interp`)) belongs in the derivation, and `verify`
//! checks once per build that the tool answers the same inside the sandbox.
//! [`resolve_tools_cached`] keeps identities (keyed by the real binary's
//! path, device, inode, size, mtime and ctime) and rustup's answers (keyed
//! by everything rustup's toolchain choice reads) in a persistent cache
//! under the store (`.kiln/tools/`), so repeated builds neither hash the
//! binaries nor spawn rustup or `--version` again.
//!
//! Every run is bounded in time, memory and processes ([`limits`]); a run
//! stopped by a limit returns [`SandboxError::Limit`]. [`Confine::hidden`]
//! hides workspace directories (kiln's output staging) from the process.
//!
//! The process's stdout and stderr are appended to a log file; a command that
//! fails returns [`SandboxError::Failed`] with its exit status and the tail
//! of the log.

mod cargo_home;
mod cgroup;
mod elf;
pub mod env;
mod interp;
mod layout;
pub mod limits;
mod process;
mod tool_cache;
mod tools;
mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use cargo_home::{
    cargo_env, cargo_registry_inputs, host_cargo_home, REMAP_RUSTFLAGS, SANDBOX_CARGO_HOME,
};
pub use elf::ElfError;
pub use layout::tool_prefix;
pub use limits::{Limit, Limits};
pub use tools::{resolve_tools, resolve_tools_cached, Tool, ToolLib, ToolVenv};

/// How a build process is isolated. Serialises as `"bubblewrap"` / `"none"`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// bubblewrap: namespaces, fixed filesystem layout, no network.
    #[default]
    #[value(alias = "bwrap")]
    Bubblewrap,
    /// No isolation; same environment discipline. Must be recorded by the caller.
    None,
}

impl SandboxMode {
    /// The stable spelling used on the command line and in derivations.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Bubblewrap => "bubblewrap",
            SandboxMode::None => "none",
        }
    }
}

impl std::fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SandboxMode {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bubblewrap" | "bwrap" => Ok(SandboxMode::Bubblewrap),
            "none" => Ok(SandboxMode::None),
            other => Err(SandboxError::BadMode {
                value: other.to_string(),
            }),
        }
    }
}

/// A host path made visible read-only inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoInput {
    /// Existing host file or directory.
    pub host: PathBuf,
    /// Absolute in-sandbox path, e.g. `/tmp/cargo-home/registry/cache`. Must
    /// not be `/` or lie under `/build`, `/kiln`, `/usr`, `/etc`, `/proc`,
    /// `/dev` or the other system directories.
    pub at: String,
}

/// One process to run in the sandbox.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Host directory mounted read-write at `/build`.
    pub workspace: PathBuf,
    /// Working directory relative to `/build` (`""` or `"."` = `/build`).
    pub cwd: String,
    /// Program and arguments; the program is looked up on the sandbox PATH
    /// (the declared tools) unless it is an absolute path.
    pub argv: Vec<String>,
    /// Declared tools (from [`resolve_tools`]): the only programs on PATH.
    pub tools: Vec<Tool>,
    /// Extra read-only inputs.
    pub ro_inputs: Vec<RoInput>,
    /// Extra environment variables. The fixed ones of [`env::RESERVED`]
    /// cannot be overridden.
    pub env: BTreeMap<String, String>,
    /// `SOURCE_DATE_EPOCH` exported to the process.
    pub source_date_epoch: u64,
    pub mode: SandboxMode,
}

/// What confines a run beyond its [`Spec`]: its resource limits, and the
/// workspace directories it may not see.
#[derive(Debug, Clone, Default)]
pub struct Confine {
    pub limits: Limits,
    /// Directories relative to the workspace (`/build/<dir>`) that are
    /// replaced, inside the sandbox, by an empty read-only directory: where
    /// kiln stages outputs, which the process must not write.
    pub hidden: Vec<String>,
}

/// Errors from preparing or running a sandboxed process.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "bubblewrap (`bwrap`) is not installed, and command recipes run in it: install it with \
         `apt-get install bubblewrap` (Debian/Ubuntu; `dnf install bubblewrap` on Fedora), or \
         pass `--sandbox=none` to build without isolation (recorded in the derivation and provenance)"
    )]
    BwrapMissing,
    #[error("unknown sandbox mode {value:?} (expected `bubblewrap` or `none`)")]
    BadMode { value: String },
    #[error("tool name {name:?} must be a bare program name (no `/`, not empty)")]
    BadToolName { name: String },
    #[error("tool `{}` is declared twice", crate::name::shown(name))]
    DuplicateTool { name: String },
    #[error(
        "declared tool `{}` was not found on PATH ({}); install it or fix the recipe's `tools`",
        crate::name::shown(name),
        crate::name::shown(path)
    )]
    ToolNotFound { name: String, path: String },
    #[error(
        "cannot resolve rustup proxy {proxy} for `{}` (`rustup which {}` in {}): {detail}",
        crate::name::shown(name),
        crate::name::shown(name),
        crate::name::shown_path(dir)
    )]
    RustupWhich {
        name: String,
        proxy: PathBuf,
        dir: PathBuf,
        detail: String,
    },
    #[error(
        "cannot resolve pyenv shim {shim} for `{name}` (`pyenv which {name}` in {dir}): {detail}"
    )]
    PyenvWhich {
        name: String,
        shim: PathBuf,
        dir: PathBuf,
        detail: String,
    },
    #[error(
        "`{}` (pyenv's {}) exists in several pyenv versions ({}) and none is selected in {}: \
         name the one to use in the project's `.python-version` or in PYENV_VERSION",
        crate::name::shown(name),
        crate::name::shown_path(shim),
        crate::name::shown(&versions.join(", ")),
        crate::name::shown_path(dir)
    )]
    PyenvAmbiguous {
        name: String,
        shim: PathBuf,
        dir: PathBuf,
        versions: Vec<String>,
    },
    #[error(
        "cannot compute what tool `{}` ({}) loads",
        crate::name::shown(name),
        crate::name::shown_path(path)
    )]
    ToolClosure {
        name: String,
        path: PathBuf,
        #[source]
        source: elf::ElfError,
    },
    #[error(
        "tool `{}` does not run in the sandbox as recorded: on the host `{} --version` said {:?}, \
         in the sandbox {:?}; the sandbox would build with another program than the one the \
         derivation names (a library or standard library it needs is not visible there). \
         Declare the interpreter by its real installation, or build with `--sandbox=none`",
        crate::name::shown(name),
        crate::name::shown_path(path),
        recorded,
        ran
    )]
    ToolMismatch {
        name: String,
        path: PathBuf,
        recorded: String,
        ran: String,
    },
    #[error(
        "reading tool `{}` at {}",
        crate::name::shown(name),
        crate::name::shown_path(path)
    )]
    ToolIo {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "environment variable {key} is fixed by the sandbox and cannot be set (value {value:?})"
    )]
    ReservedEnv { key: String, value: String },
    #[error("invalid environment variable {key:?}={value:?} (names must be non-empty without `=` or NUL; values without NUL)")]
    BadEnv { key: String, value: String },
    #[error(
        "read-only input {} cannot be mounted at {at:?}: {reason}",
        crate::name::shown_path(host)
    )]
    BadMountPoint {
        host: PathBuf,
        at: String,
        reason: &'static str,
    },
    #[error(
        "read-only input {} (for {at}) does not exist",
        crate::name::shown_path(host)
    )]
    MissingInput { host: PathBuf, at: String },
    #[error("working directory {cwd:?} must be a relative path inside /build without `..`")]
    BadCwd { cwd: String },
    #[error(
        "working directory {} does not exist in the workspace",
        crate::name::shown_path(path)
    )]
    MissingCwd { path: PathBuf },
    #[error("workspace {} is not a directory", crate::name::shown_path(path))]
    BadWorkspace { path: PathBuf },
    #[error("argv is empty or contains a NUL byte: {argv:?}")]
    BadArgv { argv: Vec<String> },
    #[error("writing sandbox log {}", crate::name::shown_path(path))]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("preparing sandbox support files in {}", crate::name::shown_path(path))]
    Support {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{argv}` was stopped: {limit}; every process of the run was killed; last lines of {log}:\n{tail}")]
    Limit {
        argv: String,
        limit: Limit,
        log: PathBuf,
        tail: String,
    },
    #[error("`{argv}` wrote more than the {limit} bytes kiln reads of its output")]
    CaptureTooLarge { argv: String, limit: u64 },
    #[error("hidden directory {dir:?} must be a relative path inside the workspace without `..`")]
    BadHidden { dir: String },
    #[error("`{argv}` failed ({status}); last lines of {log}:\n{tail}")]
    Failed {
        /// The argv, space-joined, for display.
        argv: String,
        /// `exit status 1`, `signal 9`, …
        status: String,
        /// The exit code, if the process exited normally.
        code: Option<i32>,
        log: PathBuf,
        tail: String,
    },
}

impl crate::error::Classify for SandboxError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            SandboxError::BadMode { .. }
            | SandboxError::BadToolName { .. }
            | SandboxError::DuplicateTool { .. }
            | SandboxError::ToolNotFound { .. }
            | SandboxError::ReservedEnv { .. }
            | SandboxError::BadEnv { .. }
            | SandboxError::BadMountPoint { .. }
            | SandboxError::MissingInput { .. }
            | SandboxError::BadCwd { .. }
            | SandboxError::MissingCwd { .. }
            | SandboxError::BadArgv { .. }
            | SandboxError::BadHidden { .. }
            | SandboxError::BwrapMissing => ErrorKind::BadInput,
            SandboxError::Limit { .. } | SandboxError::CaptureTooLarge { .. } => {
                ErrorKind::CheckFailed
            }
            SandboxError::RustupWhich { .. }
            | SandboxError::PyenvWhich { .. }
            | SandboxError::PyenvAmbiguous { .. }
            | SandboxError::ToolClosure { .. }
            | SandboxError::ToolMismatch { .. }
            | SandboxError::ToolIo { .. }
            | SandboxError::BadWorkspace { .. }
            | SandboxError::Log { .. }
            | SandboxError::Support { .. }
            | SandboxError::Spawn { .. }
            | SandboxError::Failed { .. } => ErrorKind::Internal,
        }
    }
}

/// The `bwrap` binary kiln would use, if installed (searched on the host
/// `PATH`, then `/usr/bin/bwrap`).
pub fn bwrap_path() -> Option<PathBuf> {
    tools::find_on_path("bwrap").or_else(|| {
        let p = PathBuf::from("/usr/bin/bwrap");
        tools::is_executable(&p).then_some(p)
    })
}

/// Whether `mode` can run on this machine: `Bubblewrap` needs `bwrap`
/// ([`SandboxError::BwrapMissing`] says how to install it). Call it before
/// planning builds so the refusal comes first.
pub fn check_available(mode: SandboxMode) -> Result<(), SandboxError> {
    match mode {
        SandboxMode::None => Ok(()),
        SandboxMode::Bubblewrap => bwrap_path().map(|_| ()).ok_or(SandboxError::BwrapMissing),
    }
}

/// Run `spec`, appending its stdout and stderr to `log` (created if missing).
/// A non-zero exit is [`SandboxError::Failed`] carrying the log's tail.
/// The run has the default [`Limits`].
pub fn run(spec: &Spec, log: &Path) -> Result<(), SandboxError> {
    run_confined(spec, &Confine::default(), log)
}

/// [`run`] with explicit limits and hidden directories.
pub fn run_confined(spec: &Spec, confine: &Confine, log: &Path) -> Result<(), SandboxError> {
    process::execute(spec, confine, log, false).map(|_| ())
}

/// Like [`run`], but returns the process's stdout instead of logging it
/// (stderr still goes to `log`). For small machine-readable outputs such as
/// `cargo metadata`.
pub fn run_capture(spec: &Spec, log: &Path) -> Result<Vec<u8>, SandboxError> {
    run_capture_confined(spec, &Confine::default(), log)
}

/// [`run_capture`] with explicit limits and hidden directories. At most
/// 64 MiB of stdout is kept: a process that writes more fails with
/// [`SandboxError::CaptureTooLarge`].
pub fn run_capture_confined(
    spec: &Spec,
    confine: &Confine,
    log: &Path,
) -> Result<Vec<u8>, SandboxError> {
    process::execute(spec, confine, log, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_spellings_round_trip() {
        for m in [SandboxMode::Bubblewrap, SandboxMode::None] {
            assert_eq!(m.as_str().parse::<SandboxMode>().unwrap(), m);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{m}\""));
        }
        assert!("docker".parse::<SandboxMode>().is_err());
    }
}
