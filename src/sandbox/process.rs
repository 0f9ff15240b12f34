//! Spawning: the only place in kiln's build path that creates processes, and
//! the log discipline (append stdout/stderr to the log; on failure, report
//! the tail of what this command wrote).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{layout, SandboxError, SandboxMode, Spec};

/// Lines of the log quoted in [`SandboxError::Failed`].
const TAIL_LINES: usize = 30;

/// A new process for `program`. Every spawn of the sandbox (and of tool
/// identification) goes through here.
#[allow(clippy::disallowed_methods)]
pub(super) fn command(program: &Path) -> Command {
    Command::new(program)
}

/// Run `spec`; with `capture`, return stdout instead of logging it.
pub(super) fn execute(spec: &Spec, log: &Path, capture: bool) -> Result<Vec<u8>, SandboxError> {
    let bwrap = match spec.mode {
        SandboxMode::Bubblewrap => Some(super::bwrap_path().ok_or(SandboxError::BwrapMissing)?),
        SandboxMode::None => None,
    };
    let log_err = |source| SandboxError::Log {
        path: log.to_path_buf(),
        source,
    };
    let log_dir = match log.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&log_dir).map_err(log_err)?;
    let prepared = layout::prepare(spec, bwrap.as_deref(), &log_dir)?;

    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(log_err)?;
    let start = file.seek(SeekFrom::End(0)).map_err(log_err)?;
    writeln!(
        file,
        "$ [{}] (cwd /build/{}) {}",
        spec.mode,
        spec.cwd.trim_start_matches("./"),
        spec.argv.join(" ")
    )
    .map_err(log_err)?;
    file.flush().map_err(log_err)?;

    let mut cmd = command(&prepared.program);
    cmd.args(&prepared.args)
        .env_clear()
        .envs(&prepared.env)
        .current_dir(&prepared.cwd)
        .stdin(Stdio::null())
        .stderr(file.try_clone().map_err(log_err)?);
    if capture {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.stdout(file.try_clone().map_err(log_err)?);
    }
    let spawn_err = |source| SandboxError::Spawn {
        program: prepared.program.clone(),
        source,
    };
    let output = cmd.output().map_err(spawn_err)?;
    drop(prepared);
    if output.status.success() {
        return Ok(output.stdout);
    }
    Err(SandboxError::Failed {
        argv: spec.argv.join(" "),
        status: output.status.to_string(),
        code: output.status.code(),
        log: log.to_path_buf(),
        tail: tail(log, start).unwrap_or_default(),
    })
}

/// The last [`TAIL_LINES`] lines written to `log` after byte `start`.
fn tail(log: &Path, start: u64) -> std::io::Result<String> {
    let mut f = File::open(log)?;
    let len = f.metadata()?.len();
    // Bounded read: at most 64 KiB from the end of this command's part.
    let from = start.max(len.saturating_sub(64 * 1024));
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let keep = lines.len().saturating_sub(TAIL_LINES);
    Ok(lines[keep..].join("\n"))
}
