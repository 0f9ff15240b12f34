//! Per-derivation build locks: one builder per derivation at a time, across
//! processes. A lock is an `flock` on `.kiln/locks/<drv>.lock`, released by the
//! kernel when its holder exits; the holder writes its pid into the file so
//! that a waiter can say who it is waiting for.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::{io_err, StoreError};
use super::fsops::open_err;
use super::{validate_drv, Store};

/// An exclusive per-derivation lock, released on drop or process death.
#[derive(Debug)]
pub struct DrvLock {
    _file: File,
    path: PathBuf,
}

impl DrvLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Who holds a derivation lock another process is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub drv: String,
    /// The lock file.
    pub path: PathBuf,
    /// The holder's pid as it recorded it (`None` while it has not yet).
    pub pid: Option<u32>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "derivation {} is being built by process {pid}", self.drv),
            None => write!(
                f,
                "derivation {} is being built by another process",
                self.drv
            ),
        }
    }
}

/// How [`Store::lock_derivation_waiting`] waits.
#[derive(Clone, Copy)]
pub struct LockWait<'a> {
    /// Give up after this long ([`StoreError::LockTimeout`]); `None` waits
    /// for as long as it takes.
    pub timeout: Option<Duration>,
    /// Called when the lock is found held, and again whenever its recorded
    /// holder changes while waiting.
    pub on_wait: &'a (dyn Fn(&LockHolder) + Sync),
}

impl std::fmt::Debug for LockWait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockWait")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn holder_pid(f: &mut File) -> Option<u32> {
    let mut s = String::new();
    f.seek(SeekFrom::Start(0)).ok()?;
    f.take(32).read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

fn record_pid(f: &mut File, path: &Path) -> Result<(), StoreError> {
    f.set_len(0)
        .and_then(|()| f.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(f, "{}", std::process::id()))
        .map_err(io_err(path))
}

impl Store {
    /// Block until this process holds the exclusive lock of derivation `drv`.
    pub fn lock_derivation(&self, drv: &str) -> Result<DrvLock, StoreError> {
        self.lock_derivation_waiting(
            drv,
            LockWait {
                timeout: None,
                on_wait: &|_| {},
            },
        )
    }

    /// Take the lock of derivation `drv`; while another live process holds
    /// it, report that process through `wait.on_wait` and wait, at most
    /// `wait.timeout`.
    pub fn lock_derivation_waiting(
        &self,
        drv: &str,
        wait: LockWait<'_>,
    ) -> Result<DrvLock, StoreError> {
        validate_drv(drv)?;
        let path = self.kiln("locks").join(format!("{drv}.lock"));
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .custom_flags(crate::fsutil::NOFOLLOW_NONBLOCK)
            .open(&path)
            .map_err(open_err(&path))?;
        let start = Instant::now();
        let mut reported: Option<Option<u32>> = None;
        let mut pause = Duration::from_millis(10);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
            }
            let pid = holder_pid(&mut file);
            // A lock held for an instant (another thread's child between
            // fork and exec briefly shares every descriptor) is not worth
            // a report.
            let waited = start.elapsed() >= REPORT_AFTER;
            if waited && reported != Some(pid) {
                reported = Some(pid);
                (wait.on_wait)(&LockHolder {
                    drv: drv.to_string(),
                    path: path.clone(),
                    pid,
                });
            }
            match wait.timeout {
                None if pid.is_some() && waited => {
                    // Nothing more to report until it is ours: block.
                    file.lock().map_err(io_err(&path))?;
                    break;
                }
                Some(t) if start.elapsed() >= t => {
                    return Err(StoreError::LockTimeout {
                        drv: drv.to_string(),
                        pid,
                        waited: start.elapsed(),
                    });
                }
                _ => {}
            }
            let left = wait
                .timeout
                .map_or(pause, |t| t.saturating_sub(start.elapsed()).min(pause));
            std::thread::sleep(left);
            pause = (pause * 2).min(Duration::from_millis(250));
        }
        record_pid(&mut file, &path)?;
        Ok(DrvLock { _file: file, path })
    }
}

/// How long a derivation lock must stay taken before a waiter reports its
/// holder.
const REPORT_AFTER: Duration = Duration::from_millis(50);
