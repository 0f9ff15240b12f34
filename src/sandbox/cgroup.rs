//! One cgroup per sandboxed run, for its memory and process limits.
//!
//! The cgroup is made below the one kiln itself runs in (from
//! `/proc/self/cgroup`), named `kiln-<pid>-<n>`:
//!
//! - cgroup v2 (`/sys/fs/cgroup/cgroup.controllers` exists): one directory
//!   with `memory.max`, `memory.swap.max = 0` and `pids.max`; the parent must
//!   offer the `memory` and `pids` controllers to its children (kiln asks
//!   for them with `cgroup.subtree_control` when it may);
//! - cgroup v1 (`/sys/fs/cgroup/memory` and `/sys/fs/cgroup/pids`): one
//!   directory in each, with `memory.limit_in_bytes` (and
//!   `memory.memsw.limit_in_bytes` when swap is accounted) and `pids.max`.
//!
//! The run's first process is moved in by its parent before it executes
//! anything (see `process`), so every descendant is counted. Whether a limit
//! was hit is read from the kernel's counters: `oom_kill` in
//! `memory.events` (v2) or `memory.oom_control` (v1), `max` in
//! `pids.events`. Dropping the value kills whatever is left in the cgroup
//! and removes it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::limits::{Limit, Limits};

const ROOT: &str = "/sys/fs/cgroup";

static SERIAL: AtomicU64 = AtomicU64::new(0);

/// A cgroup made for one run.
#[derive(Debug)]
pub(super) struct Cgroup {
    layout: Layout,
    limits: Limits,
}

#[derive(Debug)]
enum Layout {
    V2 { dir: PathBuf },
    V1 { memory: PathBuf, pids: PathBuf },
}

impl Cgroup {
    /// Make the cgroup for a run with `limits`, or say why none can be made.
    pub(super) fn create(limits: &Limits) -> Result<Cgroup, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("/proc/self/cgroup: {e}"))?;
        let name = format!(
            "kiln-{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let root = Path::new(ROOT);
        let layout = if root.join("cgroup.controllers").is_file() {
            let path = own_path(&own, |c| c.is_empty()).ok_or("no cgroup v2 entry")?;
            let parent = root.join(path);
            enable_controllers(&parent)?;
            let dir = parent.join(&name);
            make_dir(&dir)?;
            Layout::V2 { dir }
        } else {
            let mut dirs = Vec::new();
            for controller in ["memory", "pids"] {
                let mount = root.join(controller);
                let path = own_path(&own, |c| c.split(',').any(|x| x == controller))
                    .ok_or_else(|| format!("no cgroup v1 `{controller}` hierarchy"))?;
                let dir = mount.join(path).join(&name);
                make_dir(&dir)?;
                dirs.push(dir);
            }
            let pids = dirs.pop().expect("two dirs");
            let memory = dirs.pop().expect("two dirs");
            Layout::V1 { memory, pids }
        };
        let cg = Cgroup {
            layout,
            limits: *limits,
        };
        cg.apply()?;
        Ok(cg)
    }

    fn apply(&self) -> Result<(), String> {
        let mem = self.limits.memory.to_string();
        let pids = self.limits.processes.to_string();
        match &self.layout {
            Layout::V2 { dir } => {
                write(&dir.join("memory.max"), &mem)?;
                // Absent without swap support: nothing to bound then.
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                write(&dir.join("pids.max"), &pids)?;
            }
            Layout::V1 { memory, pids: p } => {
                write(&memory.join("memory.limit_in_bytes"), &mem)?;
                let _ = std::fs::write(memory.join("memory.memsw.limit_in_bytes"), &mem);
                write(&p.join("pids.max"), &pids)?;
            }
        }
        Ok(())
    }

    /// `cgroup v2` or `cgroup v1`, for the build log.
    pub(super) fn describe(&self) -> &'static str {
        match self.layout {
            Layout::V2 { .. } => "cgroup v2",
            Layout::V1 { .. } => "cgroup v1",
        }
    }

    /// Move process `pid` (and its future children) into the cgroup.
    pub(super) fn join(&self, pid: u32) -> std::io::Result<()> {
        for dir in self.dirs() {
            std::fs::write(dir.join("cgroup.procs"), pid.to_string())?;
        }
        Ok(())
    }

    /// The limit the kernel enforced, if any: an OOM kill or a refused fork.
    pub(super) fn hit(&self) -> Option<Limit> {
        let (mem_file, mem_key, pids_dir) = match &self.layout {
            Layout::V2 { dir } => (dir.join("memory.events"), "oom_kill", dir),
            Layout::V1 { memory, pids } => (memory.join("memory.oom_control"), "oom_kill", pids),
        };
        if counter(&mem_file, mem_key) > 0 {
            return Some(Limit::memory(&self.limits));
        }
        if counter(&pids_dir.join("pids.events"), "max") > 0 {
            return Some(Limit::processes(&self.limits));
        }
        None
    }

    /// Kill every process in the cgroup.
    pub(super) fn kill(&self) {
        if let Layout::V2 { dir } = &self.layout {
            if std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
                return;
            }
        }
        for dir in self.dirs() {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
    }

    fn dirs(&self) -> Vec<&Path> {
        match &self.layout {
            Layout::V2 { dir } => vec![dir],
            Layout::V1 { memory, pids } => vec![memory, pids],
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Killed processes leave the cgroup asynchronously: retry briefly.
        for _ in 0..200 {
            self.kill();
            let dirs: Vec<PathBuf> = self.dirs().into_iter().map(Path::to_path_buf).collect();
            let left: Vec<&PathBuf> = dirs
                .iter()
                .filter(|d| d.exists() && std::fs::remove_dir(d).is_err())
                .collect();
            if left.is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// The cgroup path of this process for the hierarchy whose controller list
/// satisfies `wanted`, relative (no leading `/`).
fn own_path(proc_cgroup: &str, wanted: impl Fn(&str) -> bool) -> Option<String> {
    proc_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        wanted(controllers).then(|| path.trim_start_matches('/').to_string())
    })
}

/// Make sure `parent` hands the memory and pids controllers to children.
fn enable_controllers(parent: &Path) -> Result<(), String> {
    let file = parent.join("cgroup.subtree_control");
    let has = |s: &str| {
        let words: Vec<&str> = s.split_whitespace().collect();
        words.contains(&"memory") && words.contains(&"pids")
    };
    let now = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    if has(&now) {
        return Ok(());
    }
    write(&file, "+memory +pids")
}

fn make_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write(file: &Path, value: &str) -> Result<(), String> {
    std::fs::write(file, value).map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// The value of `key` in a flat-keyed cgroup file (`key value` lines); 0
/// when absent or unreadable.
fn counter(file: &Path, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some(key)).then(|| f.next().and_then(|v| v.parse().ok()))?
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_paths_and_counters_are_parsed() {
        let own = "9:name=systemd:/\n8:pids:/\n4:memory:/a/b\n0::/user.slice/x.scope\n";
        assert_eq!(own_path(own, |c| c == "pids").as_deref(), Some(""));
        assert_eq!(own_path(own, |c| c == "memory").as_deref(), Some("a/b"));
        assert_eq!(
            own_path(own, str::is_empty).as_deref(),
            Some("user.slice/x.scope")
        );
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("memory.events");
        std::fs::write(&f, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(counter(&f, "oom_kill"), 1);
        assert_eq!(counter(&f, "max"), 3);
        assert_eq!(counter(&f, "absent"), 0);
    }
}
