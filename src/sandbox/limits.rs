//! Resource limits of a sandboxed run: wall-clock time, memory, processes.
//!
//! Every run has all three ([`Limits::default`]: one hour, 8 GiB, 4096
//! processes); a `command` recipe raises or lowers them with
//! `timeout-seconds`, `memory-mib` and `max-processes` in its `[command]`
//! table. How each is enforced:
//!
//! - **time**: kiln watches the clock while the process runs and, past the
//!   limit, kills it with `SIGKILL`: under bubblewrap that is `bwrap`
//!   itself, whose death (`--die-with-parent`) takes down the sandbox's
//!   PID namespace and so every process in it, daemons and `setsid`
//!   escapees included; without a sandbox, the process group;
//! - **memory and processes**: a cgroup made for the run (see `cgroup`),
//!   joined before the process runs anything: `memory.max` (v2) or
//!   `memory.limit_in_bytes` (v1) bounds the memory of *all* its processes
//!   together, the kernel's OOM killer acting at the limit; `pids.max`
//!   bounds how many exist at once (a `fork` beyond it fails). kiln polls
//!   the cgroup's event counters and, on the first OOM kill or refused
//!   fork, kills the whole run;
//! - where no cgroup can be made (no cgroup file system, or not writable by
//!   this user), memory is bounded per process with `RLIMIT_DATA` and
//!   processes with `RLIMIT_NPROC`, which the kernel counts per user and
//!   ignores for root: the build log's first line says which mechanism
//!   applied.
//!
//! A run stopped by a limit fails with [`super::SandboxError::Limit`] (exit
//! 1) naming the limit and the key that raises it.

use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;

/// The limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time.
    pub timeout: Duration,
    /// Memory of all the run's processes together, in bytes.
    pub memory: u64,
    /// Processes (and threads) alive at once.
    pub processes: u32,
}

/// Default `timeout-seconds`.
pub(crate) const DEFAULT_TIMEOUT_SECONDS: u64 = 3600;
/// Default `memory-mib`.
pub(crate) const DEFAULT_MEMORY_MIB: u64 = 8192;
/// Default `max-processes`.
pub(crate) const DEFAULT_MAX_PROCESSES: u32 = 4096;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECONDS),
            memory: DEFAULT_MEMORY_MIB << 20,
            processes: DEFAULT_MAX_PROCESSES,
        }
    }
}

impl Limits {
    /// The defaults with the given recipe keys applied.
    pub fn from_keys(
        timeout_seconds: Option<NonZeroU64>,
        memory_mib: Option<NonZeroU64>,
        max_processes: Option<NonZeroU32>,
    ) -> Limits {
        let d = Limits::default();
        Limits {
            timeout: timeout_seconds.map_or(d.timeout, |s| Duration::from_secs(s.get())),
            memory: memory_mib.map_or(d.memory, |m| m.get().saturating_mul(1 << 20)),
            processes: max_processes.map_or(d.processes, NonZeroU32::get),
        }
    }
}

/// Which limit stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Timeout { seconds: u64 },
    Memory { mib: u64 },
    Processes { max: u32 },
}

impl Limit {
    pub(super) fn timeout(l: &Limits) -> Limit {
        Limit::Timeout {
            seconds: l.timeout.as_secs(),
        }
    }
    pub(super) fn memory(l: &Limits) -> Limit {
        Limit::Memory {
            mib: l.memory >> 20,
        }
    }
    pub(super) fn processes(l: &Limits) -> Limit {
        Limit::Processes { max: l.processes }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Timeout { seconds } => write!(
                f,
                "it ran longer than its time limit (timeout-seconds = {seconds})"
            ),
            Limit::Memory { mib } => write!(
                f,
                "its processes needed more memory than its limit (memory-mib = {mib})"
            ),
            Limit::Processes { max } => write!(
                f,
                "it tried to run more processes than its limit (max-processes = {max})"
            ),
        }
    }
}

/// How often a run is checked: quickly at first (most build steps are
/// short), then every 50 ms.
pub(super) fn poll_interval(round: u32) -> Duration {
    Duration::from_millis(u64::from(round.min(50)).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_override_defaults() {
        let l = Limits::from_keys(NonZeroU64::new(5), None, NonZeroU32::new(32));
        assert_eq!(l.timeout, Duration::from_secs(5));
        assert_eq!(l.memory, 8192 << 20);
        assert_eq!(l.processes, 32);
        assert_eq!(
            Limit::memory(&Limits::from_keys(None, NonZeroU64::new(64), None)).to_string(),
            "its processes needed more memory than its limit (memory-mib = 64)"
        );
    }
}
