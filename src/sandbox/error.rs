//! The sandbox's error ([`SandboxError`]), shared by tool resolution, the
//! layout, the environment and the supervised run.

use std::path::PathBuf;

use super::limits::Limit;

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
        source: super::elf::ElfError,
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
