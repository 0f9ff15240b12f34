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
//!
//! This file only runs; what a run is lives in `spec.rs` ([`Spec`],
//! [`SandboxMode`], [`RoInput`], [`Confine`]), its error in `error.rs`,
//! and the one place a process is created in `spawn.rs`.

mod cargo_home;
mod cgroup;
mod elf;
pub(crate) mod env;
mod error;
mod interp;
mod layout;
pub(crate) mod limits;
mod process;
mod spawn;
mod spec;
mod tool_cache;
mod tools;
mod verify;

use std::path::Path;

pub use cargo_home::{
    cargo_env, cargo_registry_inputs, host_cargo_home, REMAP_RUSTFLAGS, SANDBOX_CARGO_HOME,
};
pub use elf::ElfError;
pub use error::SandboxError;
pub use layout::tool_prefix;
pub use limits::{Limit, Limits};
pub use spec::{Confine, RoInput, SandboxMode, Spec};
pub use tools::{
    bwrap_path, resolve_tools, resolve_tools_cached, Tool, ToolHeaders, ToolLib, ToolVenv,
};

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
    verify::check_tools(spec, log)?;
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
    verify::check_tools(spec, log)?;
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
