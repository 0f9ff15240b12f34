//! How `kiln build` shows its progress, always on stderr: spinners on a
//! terminal ([`Bars`]); otherwise ([`Lines`]: piped, redirected to a file, in
//! CI) one line when a recipe starts building (its name, surface and
//! derivation hash), a line at least every [`DEFAULT_INTERVAL`] (or
//! `$KILN_PROGRESS_INTERVAL_SECS` seconds) for each build still running with
//! its elapsed time, and one when it ends. `--quiet` keeps only warnings
//! ([`Warnings`]). Recipe names are printed through [`crate::name::shown`].

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::context::CliError;
use crate::derive::DrvHash;
use crate::engine::{Progress, Status};
use crate::name::shown;
use crate::recipe::Surface;

/// The variable that sets the interval of the "still building" lines.
pub(super) const INTERVAL_VAR: &str = "KILN_PROGRESS_INTERVAL_SECS";

/// The interval of the "still building" lines when [`INTERVAL_VAR`] is unset.
pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// The interval of the "still building" lines: [`INTERVAL_VAR`] in whole
/// seconds (at least 1), else [`DEFAULT_INTERVAL`]. Any other value is bad
/// input, refused before anything is built.
pub(super) fn interval() -> Result<Duration, CliError> {
    let Some(value) = std::env::var_os(INTERVAL_VAR) else {
        return Ok(DEFAULT_INTERVAL);
    };
    value
        .to_str()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&secs| secs >= 1)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            CliError::bad_input(format!(
                "{INTERVAL_VAR}={}: expected whole seconds, at least 1",
                shown(&value.to_string_lossy())
            ))
        })
}

/// One line to stderr; a closed stderr is not worth failing a build for.
fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `42s`, `3m07s`, `1h02m09s`.
fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// Spinners, one per recipe, on a terminal.
pub(super) struct Bars {
    multi: indicatif::MultiProgress,
    bars: Mutex<BTreeMap<String, indicatif::ProgressBar>>,
}

impl Bars {
    pub(super) fn new() -> Bars {
        Bars {
            multi: indicatif::MultiProgress::new(),
            bars: Mutex::new(BTreeMap::new()),
        }
    }
    fn bar(&self, id: &str) -> indicatif::ProgressBar {
        let mut bars = self.bars.lock().expect("progress lock");
        bars.entry(id.to_string())
            .or_insert_with(|| {
                let b = self.multi.add(indicatif::ProgressBar::new_spinner());
                b.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {prefix:30} {msg}")
                        .expect("valid template"),
                );
                b.set_prefix(shown(id).into_owned());
                b
            })
            .clone()
    }
}

impl Progress for Bars {
    fn waiting(&self, id: &str) {
        self.bar(id).set_message("waiting");
    }
    fn started(&self, id: &str, _surface: Surface, _drv: &DrvHash) {
        let b = self.bar(id);
        b.set_message("building");
        b.enable_steady_tick(Duration::from_millis(120));
    }
    fn finished(&self, id: &str, status: Status, elapsed: Duration) {
        self.bar(id).finish_with_message(format!(
            "{} in {:.1}s",
            status.as_str(),
            elapsed.as_secs_f64()
        ));
    }
    fn warn(&self, message: &str) {
        let message = crate::name::shown_message(message);
        let _ = self.multi.println(format!("warning: {message}"));
    }
}

/// Warnings only (`--quiet`).
pub(super) struct Warnings;

impl Progress for Warnings {
    fn warn(&self, message: &str) {
        let message = crate::name::shown_message(message);
        say(format_args!("kiln: warning: {message}"));
    }
}

/// A build being shown by [`Lines`].
struct Running {
    started: Instant,
    /// When its last line was printed.
    last: Instant,
}

/// Progress as lines, for a stderr that is not a terminal. Wrap the build
/// in [`Lines::during`] so that running builds are reported.
pub(super) struct Lines {
    interval: Duration,
    running: Mutex<BTreeMap<String, Running>>,
}

impl Lines {
    pub(super) fn new(interval: Duration) -> Lines {
        Lines {
            interval,
            running: Mutex::new(BTreeMap::new()),
        }
    }

    /// Run `build` while a thread prints a line for every build whose last
    /// line is [`Lines::interval`] old (checked every second at most).
    pub(super) fn during<T>(&self, build: impl FnOnce() -> T) -> T {
        let poll = self.interval.min(Duration::from_secs(1));
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            s.spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(poll) {
                    self.still_running();
                }
            });
            let out = build();
            drop(stop);
            out
        })
    }

    fn still_running(&self) {
        let now = Instant::now();
        let mut running = self.running.lock().expect("progress lock");
        for (id, r) in running.iter_mut() {
            if now.duration_since(r.last) >= self.interval {
                r.last = now;
                say(format_args!(
                    "kiln: {}: still building, {} elapsed",
                    shown(id),
                    elapsed(now.duration_since(r.started))
                ));
            }
        }
    }
}

impl Progress for Lines {
    fn started(&self, id: &str, surface: Surface, drv: &DrvHash) {
        let now = Instant::now();
        let mut running = self.running.lock().expect("progress lock");
        say(format_args!(
            "kiln: {}: building ({}, derivation {})",
            shown(id),
            surface.as_str(),
            drv.as_str()
        ));
        running.insert(
            id.to_string(),
            Running {
                started: now,
                last: now,
            },
        );
    }
    fn finished(&self, id: &str, status: Status, took: Duration) {
        let mut running = self.running.lock().expect("progress lock");
        if running.remove(id).is_some() {
            say(format_args!(
                "kiln: {}: {} in {}",
                shown(id),
                status.as_str(),
                elapsed(took)
            ));
        }
    }
    fn warn(&self, message: &str) {
        Warnings.warn(message);
    }
}

#[cfg(test)]
mod tests {
    use super::elapsed;
    use std::time::Duration;

    #[test]
    fn elapsed_times_read_as_clock_times() {
        assert_eq!(elapsed(Duration::from_millis(42_900)), "42s");
        assert_eq!(elapsed(Duration::from_secs(187)), "3m07s");
        assert_eq!(elapsed(Duration::from_secs(3729)), "1h02m09s");
    }
}
