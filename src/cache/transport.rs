//! Moving bytes to and from a cache: a local directory (`file://`) or an
//! HTTP server (`http://`, `https://`: GET, and PUT as nginx's DAV module and
//! most artifact stores accept it).
//!
//! Keys are relative paths inside the cache (`nix-cache-info`,
//! `<hash>.narinfo`, `nar/<filehash>.nar.zst`, `realisations/<drv>.json`),
//! built by [`super::layout`] from checked parts. Every read is capped: a
//! server cannot make kiln allocate or write more than the caller allows.
//! Every read is paced ([`Pace`]): one object, retries included, must
//! arrive within a deadline and, after a grace period, at a minimum average
//! rate, so a server that trickles bytes is given up on rather than waited
//! for. HTTP requests that fail transiently (connection errors, timeouts,
//! 408, 429, 5xx) are retried with exponential backoff while the deadline
//! allows; a directory cache's objects are opened as regular files only
//! (never through a link, never waiting on a FIFO), and it writes each object
//! to a temporary file and renames it, so a reader never sees half an
//! object.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where a cache lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheUrl {
    /// `file:///abs/dir`
    Dir(PathBuf),
    /// `http(s)://host[:port][/prefix]`, without a trailing slash.
    Http(String),
}

impl CacheUrl {
    /// Parse `file:///dir`, `http://…` or `https://…`.
    pub fn parse(s: &str) -> Result<CacheUrl, TransportError> {
        let bad = |reason: &'static str| TransportError::BadUrl {
            url: redact(s),
            reason,
        };
        if let Some(rest) = s.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(bad(
                    "a file:// URL names an absolute directory: file:///path",
                ));
            }
            return Ok(CacheUrl::Dir(PathBuf::from(rest)));
        }
        if let Some(rest) = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("https://"))
        {
            let host = rest.split('/').next().unwrap_or("");
            if host.is_empty() || rest.contains(['?', '#', ' ']) {
                return Err(bad("expected http(s)://host[:port][/path]"));
            }
            return Ok(CacheUrl::Http(s.trim_end_matches('/').to_string()));
        }
        Err(bad(
            "use file:///dir, http://host/path or https://host/path",
        ))
    }
}

/// `url` with any password replaced by `***` (`https://ci:***@host/…`):
/// what messages show. The request itself sends the credentials as HTTP
/// basic authentication.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{}", &rest[host_end..])
        }
        None => url.to_string(),
    }
}

/// Prints the URL without its password.
impl std::fmt::Display for CacheUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheUrl::Dir(p) => write!(f, "file://{}", p.display()),
            CacheUrl::Http(u) => f.write_str(&redact(u)),
        }
    }
}

/// A transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid cache URL {url:?}: {reason}")]
    BadUrl { url: String, reason: &'static str },
    #[error("{url}: {source}")]
    Io {
        url: String,
        #[source]
        source: io::Error,
    },
    #[error("{url}: HTTP status {status}{}", if *.attempts > 1 { format!(" (after {} attempts)", attempts) } else { String::new() })]
    Status {
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("{url}: {message}{}", if *.attempts > 1 { format!(" (after {} attempts)", attempts) } else { String::new() })]
    Http {
        url: String,
        message: String,
        attempts: u32,
    },
    #[error("{url}: larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: {reason}")]
    TooSlow { url: String, reason: String },
    #[error("{url}")]
    NotAFile {
        url: String,
        #[source]
        source: io::Error,
    },
    #[error("{name}={value:?}: expected a whole number of seconds, at least 1")]
    BadPace { name: &'static str, value: String },
}

impl TransportError {
    /// Whether the cache could not be reached at all (connection refused,
    /// unknown host, a missing directory).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TransportError::Http { .. })
    }

    /// Whether the cache answered too slowly (deadline or minimum rate).
    pub fn is_too_slow(&self) -> bool {
        matches!(self, TransportError::TooSlow { .. })
    }
}

/// How long one object may take: all of it (retries included) within
/// `deadline`, and, once `grace` has passed, at least `min_rate` bytes a
/// second on average. Checked between reads; a read that blocks is bounded
/// by the HTTP client's timeouts, which never outlast the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub deadline: Duration,
    pub grace: Duration,
    /// Bytes per second.
    pub min_rate: u64,
}

/// The environment variable that sets [`Pace::deadline`] in seconds.
pub(crate) const DEADLINE_ENV: &str = "KILN_CACHE_DEADLINE_SECS";

impl Default for Pace {
    /// One hour per object; after 30 s, at least 16 KiB/s.
    fn default() -> Self {
        Pace {
            deadline: Duration::from_secs(3600),
            grace: Duration::from_secs(30),
            min_rate: 16 << 10,
        }
    }
}

impl Pace {
    /// The default pace with the deadline [`DEADLINE_ENV`] gives, if set
    /// (the grace period never outlasts it).
    pub fn from_env_value(value: Option<&str>) -> Result<Pace, TransportError> {
        let mut pace = Pace::default();
        if let Some(v) = value {
            let secs = v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| TransportError::BadPace {
                    name: DEADLINE_ENV,
                    value: v.to_string(),
                })?;
            pace.deadline = Duration::from_secs(secs);
            pace.grace = pace.grace.min(pace.deadline);
        }
        Ok(pace)
    }
}

/// One object's clock.
#[derive(Debug, Clone, Copy)]
struct Clock {
    pace: Pace,
    start: Instant,
}

impl Clock {
    fn start(pace: Pace) -> Clock {
        Clock {
            pace,
            start: Instant::now(),
        }
    }

    /// Time left before the deadline (at least a millisecond, so that a
    /// timeout given to the HTTP client is never "none").
    fn remaining(&self) -> Duration {
        self.pace
            .deadline
            .saturating_sub(self.start.elapsed())
            .max(Duration::from_millis(1))
    }

    /// An error when the object is late or, `got` bytes in, too slow.
    fn check(&self, url: &str, got: u64) -> Result<(), TransportError> {
        self.check_at(url, got, self.start.elapsed())
    }

    /// An error when the deadline has passed.
    fn late(&self, url: &str) -> Result<(), TransportError> {
        let elapsed = self.start.elapsed();
        self.check_at(url, u64::MAX, elapsed)
    }

    fn check_at(&self, url: &str, got: u64, elapsed: Duration) -> Result<(), TransportError> {
        let slow = |reason: String| {
            Err(TransportError::TooSlow {
                url: url.to_string(),
                reason,
            })
        };
        if elapsed >= self.pace.deadline {
            return slow(format!(
                "not complete after {} s (the deadline per object is {} s, {DEADLINE_ENV})",
                elapsed.as_secs(),
                self.pace.deadline.as_secs()
            ));
        }
        if elapsed >= self.pace.grace
            && (got as f64) < self.pace.min_rate as f64 * elapsed.as_secs_f64()
        {
            return slow(format!(
                "{got} bytes in {} s, slower than {} bytes/s",
                elapsed.as_secs(),
                self.pace.min_rate
            ));
        }
        Ok(())
    }
}

/// How a request is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Delay before the second attempt; doubled for each further one.
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            first_delay: Duration::from_millis(100),
        }
    }
}

/// A cache endpoint.
#[derive(Debug)]
pub struct Transport {
    url: CacheUrl,
    agent: Option<ureq::Agent>,
    retry: Retry,
    pace: Pace,
}

/// One attempt's failure: worth retrying or not.
enum Attempt {
    Transient(TransportError),
    Fatal(TransportError),
}

impl Transport {
    pub fn new(url: CacheUrl) -> Transport {
        let agent = match url {
            CacheUrl::Http(_) => Some(
                ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_connect(Some(Duration::from_secs(10)))
                    .timeout_per_read(Some(Duration::from_secs(60)))
                    .timeout_per_write(Some(Duration::from_secs(60)))
                    .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .new_agent(),
            ),
            CacheUrl::Dir(_) => None,
        };
        Transport {
            url,
            agent,
            retry: Retry::default(),
            pace: Pace::default(),
        }
    }

    pub fn with_retry(mut self, retry: Retry) -> Transport {
        self.retry = retry;
        self
    }

    pub fn with_pace(mut self, pace: Pace) -> Transport {
        self.pace = pace;
        self
    }

    pub fn url(&self) -> &CacheUrl {
        &self.url
    }

    /// Where `key` lies: a path, or the URL requested (with credentials).
    fn location(&self, key: &str) -> String {
        match &self.url {
            CacheUrl::Dir(d) => d.join(key).display().to_string(),
            CacheUrl::Http(base) => format!("{base}/{key}"),
        }
    }

    /// [`location`](Self::location) as messages show it (no password).
    fn shown(&self, key: &str) -> String {
        redact(&self.location(key))
    }

    /// Run `op` until it succeeds, fails fatally, attempts run out or the
    /// object's deadline passes.
    fn retrying<T>(
        &self,
        clock: &Clock,
        shown: &str,
        mut op: impl FnMut() -> Result<T, Attempt>,
    ) -> Result<T, TransportError> {
        let mut delay = self.retry.first_delay;
        let attempts = self.retry.attempts.max(1);
        for n in 1..=attempts {
            match op() {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Transient(e)) if n == attempts => return Err(with_attempts(e, n)),
                Err(Attempt::Transient(e)) => {
                    if delay >= clock.remaining() {
                        clock.late(shown)?;
                        return Err(with_attempts(e, n));
                    }
                    std::thread::sleep(delay);
                    delay *= 2;
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Open the directory cache's `key` as a regular file; `None` if absent.
    fn open_dir_object(&self, dir: &Path, key: &str) -> Result<Option<File>, TransportError> {
        let shown = self.shown(key);
        match crate::fsutil::open_regular(&dir.join(key)) {
            Ok((f, _)) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Err(TransportError::NotAFile {
                url: shown,
                source: e,
            }),
            Err(source) => Err(TransportError::Io { url: shown, source }),
        }
    }

    /// The object `key`, or `None` if the cache does not have it. More than
    /// `limit` bytes is an error.
    pub fn get(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, TransportError> {
        let url = self.location(key);
        let shown = self.shown(key);
        let clock = Clock::start(self.pace);
        let copy = |from: &mut dyn Read| {
            let mut out = Vec::new();
            capped_copy(from, &mut out, limit, &shown, &clock).map(|_| out)
        };
        match &self.url {
            CacheUrl::Dir(dir) => match self.open_dir_object(dir, key)? {
                Some(mut file) => copy(&mut file).map(Some),
                None => Ok(None),
            },
            CacheUrl::Http(_) => self.retrying(&clock, &shown, || {
                let Some(resp) = self.http_get(&url, &clock)? else {
                    return Ok(None);
                };
                copy(&mut resp.into_body().into_reader())
                    .map(Some)
                    .map_err(classify_read)
            }),
        }
    }

    /// Download `key` into `dest` (created or truncated); returns its size,
    /// or `None` if the cache does not have it.
    pub fn get_file(
        &self,
        key: &str,
        dest: &Path,
        limit: u64,
    ) -> Result<Option<u64>, TransportError> {
        let url = self.location(key);
        let shown = self.shown(key);
        let open_dest = || {
            File::create(dest).map_err(|source| TransportError::Io {
                url: dest.display().to_string(),
                source,
            })
        };
        let clock = Clock::start(self.pace);
        match &self.url {
            CacheUrl::Dir(dir) => match self.open_dir_object(dir, key)? {
                Some(mut file) => {
                    capped_copy(&mut file, open_dest()?, limit, &shown, &clock).map(Some)
                }
                None => Ok(None),
            },
            CacheUrl::Http(_) => self.retrying(&clock, &shown, || {
                let Some(resp) = self.http_get(&url, &clock)? else {
                    return Ok(None);
                };
                let out = open_dest().map_err(Attempt::Fatal)?;
                capped_copy(
                    &mut resp.into_body().into_reader(),
                    out,
                    limit,
                    &shown,
                    &clock,
                )
                .map(Some)
                .map_err(classify_read)
            }),
        }
    }

    /// GET `url`, the whole exchange (body included) bounded by the time
    /// `clock` has left.
    fn http_get(
        &self,
        url: &str,
        clock: &Clock,
    ) -> Result<Option<ureq::http::Response<ureq::Body>>, Attempt> {
        let agent = self.agent.as_ref().expect("HTTP transports have an agent");
        let shown = redact(url);
        clock.late(&shown).map_err(Attempt::Fatal)?;
        let resp = agent
            .get(url)
            .config()
            .timeout_global(Some(clock.remaining()))
            .build()
            .call()
            .map_err(|e| match clock.late(&shown) {
                Err(late) => Attempt::Fatal(late),
                Ok(()) => http_error(&shown, e),
            })?;
        match resp.status().as_u16() {
            200..=299 => Ok(Some(resp)),
            // S3 answers 403 for a missing key when listing is not allowed.
            404 | 403 | 410 => Ok(None),
            status => Err(status_error(&shown, status)),
        }
    }

    /// Store `bytes` as `key`.
    pub fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), TransportError> {
        let url = self.location(key);
        let shown = self.shown(key);
        match &self.url {
            CacheUrl::Dir(dir) => write_atomically(dir, key, &mut &bytes[..], &shown),
            CacheUrl::Http(_) => self.retrying(&self.put_clock(), &shown, || {
                self.http_put(&url, content_type, |r| r.send(bytes))
            }),
        }
    }

    /// Store the file `src` as `key`.
    pub fn put_file(
        &self,
        key: &str,
        src: &Path,
        content_type: &str,
    ) -> Result<(), TransportError> {
        let url = self.location(key);
        let shown = self.shown(key);
        let open = || {
            File::open(src).map_err(|source| TransportError::Io {
                url: src.display().to_string(),
                source,
            })
        };
        match &self.url {
            CacheUrl::Dir(dir) => write_atomically(dir, key, &mut open()?, &shown),
            CacheUrl::Http(_) => self.retrying(&self.put_clock(), &shown, || {
                let file = open().map_err(Attempt::Fatal)?;
                self.http_put(&url, content_type, |r| r.send(file))
            }),
        }
    }

    /// Uploads are retried without a deadline of their own (the per-write
    /// timeout bounds a stalled one).
    fn put_clock(&self) -> Clock {
        Clock::start(Pace {
            deadline: Duration::MAX,
            grace: Duration::MAX,
            min_rate: 0,
        })
    }

    fn http_put(
        &self,
        url: &str,
        content_type: &str,
        send: impl FnOnce(
            ureq::RequestBuilder<ureq::typestate::WithBody>,
        ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(), Attempt> {
        let agent = self.agent.as_ref().expect("HTTP transports have an agent");
        let req = agent.put(url).header("Content-Type", content_type);
        let shown = redact(url);
        let resp = send(req).map_err(|e| http_error(&shown, e))?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            status => Err(status_error(&shown, status)),
        }
    }
}

fn with_attempts(e: TransportError, n: u32) -> TransportError {
    match e {
        TransportError::Status { url, status, .. } => TransportError::Status {
            url,
            status,
            attempts: n,
        },
        TransportError::Http { url, message, .. } => TransportError::Http {
            url,
            message,
            attempts: n,
        },
        other => other,
    }
}

fn status_error(url: &str, status: u16) -> Attempt {
    let e = TransportError::Status {
        url: url.to_string(),
        status,
        attempts: 1,
    };
    if status >= 500 || status == 408 || status == 429 {
        Attempt::Transient(e)
    } else {
        Attempt::Fatal(e)
    }
}

fn http_error(url: &str, e: ureq::Error) -> Attempt {
    let transient = matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    );
    let err = TransportError::Http {
        url: url.to_string(),
        message: e.to_string(),
        attempts: 1,
    };
    if transient {
        Attempt::Transient(err)
    } else {
        Attempt::Fatal(err)
    }
}

/// A body that broke off mid-way is worth another try; one that is too
/// large or too slow is not.
fn classify_read(e: TransportError) -> Attempt {
    match e {
        TransportError::Io { url, source } => Attempt::Transient(TransportError::Http {
            url,
            message: source.to_string(),
            attempts: 1,
        }),
        other => Attempt::Fatal(other),
    }
}

/// Copy at most `limit` bytes at `clock`'s pace; more is
/// [`TransportError::TooLarge`], late or slow [`TransportError::TooSlow`].
fn capped_copy(
    from: &mut dyn Read,
    mut to: impl Write,
    limit: u64,
    url: &str,
    clock: &Clock,
) -> Result<u64, TransportError> {
    let io = |source| TransportError::Io {
        url: url.to_string(),
        source,
    };
    let mut buf = vec![0u8; 256 << 10];
    let mut n: u64 = 0;
    loop {
        clock.check(url, n)?;
        let want = (limit.saturating_add(1) - n).min(buf.len() as u64) as usize;
        let got = match from.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A read cut short by the client's timeout is the deadline's.
            Err(e) => return Err(clock.check(url, n).err().unwrap_or(io(e))),
        };
        to.write_all(&buf[..got]).map_err(io)?;
        n += got as u64;
        if n > limit {
            return Err(TransportError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
    }
    to.flush().map_err(io)?;
    Ok(n)
}

/// Write `key` under `dir` through a temporary file and a rename.
fn write_atomically(
    dir: &Path,
    key: &str,
    from: &mut dyn Read,
    url: &str,
) -> Result<(), TransportError> {
    let io = |source| TransportError::Io {
        url: url.to_string(),
        source,
    };
    let dest = dir.join(key);
    let parent = dest.parent().unwrap_or(dir);
    fs::create_dir_all(parent).map_err(io)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".kiln-upload-")
        .tempfile_in(parent)
        .map_err(io)?;
    io::copy(from, &mut tmp).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    // Readable by whoever serves the directory (a temp file is 0600).
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    tmp.persist(&dest).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            CacheUrl::parse("file:///srv/cache").unwrap(),
            CacheUrl::Dir("/srv/cache".into())
        );
        assert_eq!(
            CacheUrl::parse("http://127.0.0.1:8080/c/").unwrap(),
            CacheUrl::Http("http://127.0.0.1:8080/c".into())
        );
        for bad in [
            "file://rel",
            "ftp://x",
            "/srv/cache",
            "http://",
            "http://h/?q",
        ] {
            assert!(CacheUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn directory_objects_round_trip_and_reads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let t = Transport::new(CacheUrl::Dir(dir.path().to_path_buf()));
        assert_eq!(t.get("nar/x.nar", 10).unwrap(), None);
        t.put("nar/x.nar", b"0123456789", "application/x-nix-nar")
            .unwrap();
        assert_eq!(t.get("nar/x.nar", 10).unwrap().unwrap(), b"0123456789");
        assert!(matches!(
            t.get("nar/x.nar", 9),
            Err(TransportError::TooLarge { limit: 9, .. })
        ));
        let out = dir.path().join("copy");
        assert_eq!(t.get_file("nar/x.nar", &out, 10).unwrap(), Some(10));
        std::os::unix::fs::symlink(dir.path().join("nar/x.nar"), dir.path().join("link")).unwrap();
        assert!(matches!(
            t.get("link", 10),
            Err(TransportError::NotAFile { .. })
        ));
    }

    #[test]
    fn a_late_or_slow_object_is_given_up() {
        let mut pace = Pace::from_env_value(Some("5")).unwrap();
        assert_eq!(Pace::from_env_value(None).unwrap(), Pace::default());
        assert_eq!(
            (pace.deadline, pace.grace),
            (Duration::from_secs(5), Duration::from_secs(5))
        );
        assert!(Pace::from_env_value(Some("0")).is_err());
        assert!(Pace::from_env_value(Some("soon")).is_err());
        pace.deadline = Duration::ZERO;
        let late = Clock::start(pace);
        let mut out = Vec::new();
        let e = capped_copy(&mut &b"abc"[..], &mut out, 10, "u", &late).unwrap_err();
        assert!(e.is_too_slow(), "{e}");
        let clock = Clock::start(Pace::default());
        let at = |s| Duration::from_secs(s);
        // 16 KiB/s after 30 s.
        assert!(clock.check_at("u", 0, at(29)).is_ok());
        assert!(clock.check_at("u", 40 * 16384, at(31)).is_ok());
        assert!(clock
            .check_at("u", 16384, at(31))
            .unwrap_err()
            .is_too_slow());
        assert!(clock
            .check_at("u", u64::MAX, at(3600))
            .unwrap_err()
            .is_too_slow());
        let fine = Clock::start(Pace::default());
        assert_eq!(
            capped_copy(&mut &b"abc"[..], &mut out, 10, "u", &fine).unwrap(),
            3
        );
    }
}
