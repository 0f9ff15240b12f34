//! Spawning: the only place in kiln's build path that creates processes, the
//! log discipline (append stdout/stderr to the log — under bubblewrap
//! through a pipe, so that no descriptor names a host path; on failure,
//! report the tail of what this command wrote), and supervision: every run starts
//! behind a gate until it is confined (cgroup or rlimits), then is watched
//! until it ends or a limit stops it (see `limits`).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Instant;

use super::cgroup::Cgroup;
use super::error::SandboxError;
use super::layout;
use super::limits::{self, Limit, Limits};
use super::spawn::command;
use super::spec::{Confine, SandboxMode, Spec};
use super::tools::bwrap_path;

/// Lines of the log quoted in [`SandboxError::Failed`].
const TAIL_LINES: usize = 30;

/// The host-side gate every run starts behind: it waits for one line on
/// stdin, which kiln writes once the process is in its cgroup (or has its
/// rlimits), then replaces itself with the real program, stdin `/dev/null`
/// and, when its first parameter names a file (bubblewrap's options), that
/// file open as descriptor 3 (`layout::ARGS_FD`). The file, program and
/// arguments are positional parameters, never interpolated.
const GATE: [&str; 3] = [
    "/bin/sh",
    "-c",
    "read -r _ || exit 125; f=$1; shift; \
     if [ -n \"$f\" ]; then exec \"$@\" </dev/null 3<\"$f\"; fi; exec \"$@\" </dev/null",
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
        SandboxMode::Bubblewrap => Some(bwrap_path().ok_or(SandboxError::BwrapMissing)?),
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
    let mechanism = match &cgroup {
        Ok(cg) => cg.describe().to_string(),
        Err(why) => format!("rlimits per process ({why})"),
    };
    let (file, start) = open_log(spec, &limits, &mechanism, log).map_err(log_err)?;
    let output = Output::new(spec.mode, &file).map_err(log_err)?;

    let mut cmd = command(Path::new(GATE[0]));
    cmd.args(&GATE[1..])
        .arg(GATE_ARG0)
        .arg(prepared.options_file.as_deref().unwrap_or(Path::new("")))
        .arg(&prepared.program)
        .args(&prepared.args)
        .env_clear()
        .envs(&prepared.env)
        .current_dir(&prepared.cwd)
        .process_group(0)
        .stdin(Stdio::piped())
        .stderr(output.stdio().map_err(log_err)?);
    if capture {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.stdout(output.stdio().map_err(log_err)?);
    }
    let spawn_err = |source| SandboxError::Spawn {
        program: prepared.program.clone(),
        source,
    };
    let spawned = cmd.spawn();
    // The parent's ends of the log pipe go with the command, so that the
    // copier sees the end of the output once the run is over.
    drop(cmd);
    let mut child = spawned.map_err(spawn_err)?;
    if let Err(source) = confine_child(&mut child, cgroup.as_ref().ok(), &limits) {
        kill(&child, cgroup.as_ref().ok());
        let _ = child.wait();
        return Err(SandboxError::Support {
            path: PathBuf::from("/sys/fs/cgroup"),
            source,
        });
    }
    let reader = child
        .stdout
        .take()
        .map(|out| std::thread::spawn(move || read_capped(out, CAPTURE_CAP)));
    let ended = supervise(&mut child, cgroup.as_ref().ok(), &limits).map_err(spawn_err)?;
    let stdout = match reader {
        Some(r) => r
            .join()
            .unwrap_or_else(|_| Ok(Some(Vec::new())))
            .map_err(log_err)?,
        None => Some(Vec::new()),
    };
    drop(cgroup);
    output.finish().map_err(log_err)?;
    drop(prepared);
    outcome(spec, ended, stdout, log, start)
}

/// Open `log` for appending and write the run's header (argv, limits and
/// how they are enforced); returns the file and where this run's part starts.
fn open_log(
    spec: &Spec,
    limits: &Limits,
    mechanism: &str,
    log: &Path,
) -> std::io::Result<(File, u64)> {
    let mut file = OpenOptions::new().create(true).append(true).open(log)?;
    let start = file.seek(SeekFrom::End(0))?;
    writeln!(
        file,
        "$ [{}] (cwd /build/{}) {}\n# limits: {} s, {} MiB, {} processes; {mechanism}",
        spec.mode,
        spec.cwd.trim_start_matches("./"),
        spec.argv.join(" "),
        limits.timeout.as_secs(),
        limits.memory >> 20,
        limits.processes,
    )?;
    file.flush()?;
    Ok((file, start))
}

/// Where the run's stdout and stderr go: the log file itself, or (under
/// bubblewrap) a pipe whose other end a thread copies to the log, so that
/// the build cannot read the log's host path from `/proc/self/fd`.
enum Output {
    File(File),
    Pipe {
        writer: std::io::PipeWriter,
        copier: std::thread::JoinHandle<std::io::Result<u64>>,
    },
}

impl Output {
    fn new(mode: SandboxMode, log: &File) -> std::io::Result<Output> {
        Ok(match mode {
            SandboxMode::None => Output::File(log.try_clone()?),
            SandboxMode::Bubblewrap => {
                let (mut reader, writer) = std::io::pipe()?;
                let mut sink = log.try_clone()?;
                let copier = std::thread::spawn(move || std::io::copy(&mut reader, &mut sink));
                Output::Pipe { writer, copier }
            }
        })
    }

    /// One more descriptor for the child (stdout or stderr).
    fn stdio(&self) -> std::io::Result<Stdio> {
        Ok(match self {
            Output::File(f) => Stdio::from(f.try_clone()?),
            Output::Pipe { writer, .. } => Stdio::from(writer.try_clone()?),
        })
    }

    /// Wait until everything the run wrote is in the log.
    fn finish(self) -> std::io::Result<()> {
        match self {
            Output::File(_) => Ok(()),
            Output::Pipe { writer, copier } => {
                drop(writer);
                copier
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("log copier panicked")))
                    .map(|_| ())
            }
        }
    }
}

/// Move the gated child into its cgroup (or give it its rlimits), then open
/// the gate.
fn confine_child(
    child: &mut Child,
    cgroup: Option<&Cgroup>,
    limits: &Limits,
) -> std::io::Result<()> {
    match cgroup {
        Some(cg) => cg.join(child.id()),
        None => set_rlimits(child, limits),
    }?;
    let mut gate = child.stdin.take().expect("piped stdin");
    gate.write_all(b"go\n")
}

/// The run's result from how it ended.
fn outcome(
    spec: &Spec,
    ended: Ended,
    stdout: Option<Vec<u8>>,
    log: &Path,
    start: u64,
) -> Result<Vec<u8>, SandboxError> {
    let tail = || tail(log, start).unwrap_or_default();
    match ended {
        Ended::Exited(status) if status.success() => {
            stdout.ok_or_else(|| SandboxError::CaptureTooLarge {
                argv: spec.argv.join(" "),
                limit: CAPTURE_CAP,
            })
        }
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

/// Most bytes of a captured stdout kiln keeps (`cargo metadata`, the
/// backend probe's JSON).
const CAPTURE_CAP: u64 = 64 << 20;

/// At most `cap` bytes of `out`, or `None` when it wrote more (the rest is
/// read and dropped, so the process is not blocked on a full pipe).
fn read_capped(out: impl Read, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = out;
    let mut buf = Vec::new();
    (&mut out).take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        std::io::copy(&mut out, &mut std::io::sink())?;
        return Ok(None);
    }
    Ok(Some(buf))
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
