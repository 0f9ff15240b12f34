//! Spawning: the only place in kiln's build path that creates processes, the
//! log discipline (append stdout/stderr to the log; on failure, report the
//! tail of what this command wrote), and supervision: every run starts
//! behind a gate until it is confined (cgroup or rlimits), then is watched
//! until it ends or a limit stops it (see `limits`).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::cgroup::Cgroup;
use super::limits::{self, Limit, Limits};
use super::{layout, Confine, SandboxError, SandboxMode, Spec};

/// Lines of the log quoted in [`SandboxError::Failed`].
const TAIL_LINES: usize = 30;

/// A new process for `program`. Every spawn of the sandbox (and of tool
/// identification) goes through here.
#[allow(clippy::disallowed_methods)]
pub(super) fn command(program: &Path) -> Command {
    Command::new(program)
}

/// The host-side gate every run starts behind: it waits for one line on
/// stdin, which kiln writes once the process is in its cgroup (or has its
/// rlimits), then replaces itself with the real program, stdin `/dev/null`.
/// The program and arguments are positional parameters, never interpolated.
const GATE: [&str; 3] = [
    "/bin/sh",
    "-c",
    "read -r _ || exit 125; exec \"$@\" </dev/null",
];
const GATE_ARG0: &str = "kiln-limits";

/// How a supervised run ended.
enum Ended {
    Exited(std::process::ExitStatus),
    Stopped(Limit),
}

/// Run `spec`; with `capture`, return stdout instead of logging it.
pub(super) fn execute(
    spec: &Spec,
    confine: &Confine,
    log: &Path,
    capture: bool,
) -> Result<Vec<u8>, SandboxError> {
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
    let prepared = layout::prepare(spec, &confine.hidden, bwrap.as_deref(), &log_dir)?;
    let limits = confine.limits;
    let cgroup = Cgroup::create(&limits);

    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(log_err)?;
    let start = file.seek(SeekFrom::End(0)).map_err(log_err)?;
    let mechanism = match &cgroup {
        Ok(cg) => cg.describe().to_string(),
        Err(why) => format!("rlimits per process ({why})"),
    };
    writeln!(
        file,
        "$ [{}] (cwd /build/{}) {}\n# limits: {} s, {} MiB, {} processes; {mechanism}",
        spec.mode,
        spec.cwd.trim_start_matches("./"),
        spec.argv.join(" "),
        limits.timeout.as_secs(),
        limits.memory >> 20,
        limits.processes,
    )
    .map_err(log_err)?;
    file.flush().map_err(log_err)?;

    let mut cmd = command(Path::new(GATE[0]));
    cmd.args(&GATE[1..])
        .arg(GATE_ARG0)
        .arg(&prepared.program)
        .args(&prepared.args)
        .env_clear()
        .envs(&prepared.env)
        .current_dir(&prepared.cwd)
        .process_group(0)
        .stdin(Stdio::piped())
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
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let confined = match &cgroup {
        Ok(cg) => cg.join(child.id()),
        Err(_) => set_rlimits(&child, &limits),
    }
    .and_then(|()| {
        let mut gate = child.stdin.take().expect("piped stdin");
        gate.write_all(b"go\n")
    });
    if let Err(source) = confined {
        kill(&child, cgroup.as_ref().ok());
        let _ = child.wait();
        return Err(SandboxError::Support {
            path: PathBuf::from("/sys/fs/cgroup"),
            source,
        });
    }
    let reader = child.stdout.take().map(|mut out| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            out.read_to_end(&mut buf).map(|_| buf)
        })
    });
    let ended = supervise(&mut child, cgroup.as_ref().ok(), &limits).map_err(spawn_err)?;
    let stdout = match reader {
        Some(r) => r
            .join()
            .unwrap_or_else(|_| Ok(Vec::new()))
            .map_err(log_err)?,
        None => Vec::new(),
    };
    drop(cgroup);
    drop(prepared);
    let tail = || tail(log, start).unwrap_or_default();
    match ended {
        Ended::Exited(status) if status.success() => Ok(stdout),
        Ended::Exited(status) => Err(SandboxError::Failed {
            argv: spec.argv.join(" "),
            status: status.to_string(),
            code: status.code(),
            log: log.to_path_buf(),
            tail: tail(),
        }),
        Ended::Stopped(limit) => Err(SandboxError::Limit {
            argv: spec.argv.join(" "),
            limit,
            log: log.to_path_buf(),
            tail: tail(),
        }),
    }
}

/// Wait for `child`, killing the whole run when a limit is hit.
fn supervise(
    child: &mut Child,
    cgroup: Option<&Cgroup>,
    limits: &Limits,
) -> std::io::Result<Ended> {
    let started = Instant::now();
    let mut round = 0u32;
    loop {
        if let Some(status) = child.try_wait()? {
            // A limit hit just before the end still fails the run.
            return Ok(match cgroup.and_then(Cgroup::hit) {
                Some(limit) => Ended::Stopped(limit),
                None => Ended::Exited(status),
            });
        }
        let hit = cgroup
            .and_then(Cgroup::hit)
            .or_else(|| (started.elapsed() >= limits.timeout).then(|| Limit::timeout(limits)));
        if let Some(limit) = hit {
            kill(child, cgroup);
            child.wait()?;
            return Ok(Ended::Stopped(limit));
        }
        std::thread::sleep(limits::poll_interval(round));
        round = round.saturating_add(1);
    }
}

/// Kill the run: the direct child (`bwrap`, whose death ends its PID
/// namespace), its process group, and everything in its cgroup.
fn kill(child: &Child, cgroup: Option<&Cgroup>) {
    use rustix::process::{kill_process, kill_process_group, Pid, Signal};
    let pid = Pid::from_child(child);
    let _ = kill_process(pid, Signal::KILL);
    let _ = kill_process_group(pid, Signal::KILL);
    if let Some(cg) = cgroup {
        cg.kill();
    }
}

/// Without a cgroup: per-process memory (`RLIMIT_DATA`) and per-user
/// processes (`RLIMIT_NPROC`) on the gated child, inherited by all it runs.
fn set_rlimits(child: &Child, limits: &Limits) -> std::io::Result<()> {
    use rustix::process::{prlimit, Pid, Resource, Rlimit};
    let pid = Some(Pid::from_child(child));
    for (resource, value) in [
        (Resource::Data, limits.memory),
        (Resource::Nproc, u64::from(limits.processes)),
    ] {
        let rl = Rlimit {
            current: Some(value),
            maximum: Some(value),
        };
        prlimit(pid, resource, rl).map_err(std::io::Error::from)?;
    }
    Ok(())
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
