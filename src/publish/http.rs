//! The HTTP side of every registry client: one agent with the binary
//! cache's timeouts, basic or bearer authentication, bounded response
//! bodies, and retries — connection errors, timeouts, 5xx and 408 are
//! retried with exponential backoff; a 429's `Retry-After` is honoured.
//! Nothing here prints or returns a credential or a response body in an
//! error.

use std::io::Read as _;
use std::time::Duration;

use base64::Engine as _;

use super::error::PublishError;
use super::model::Auth;

/// How many times a request is tried, and the first pause between tries.
const ATTEMPTS: u32 = 6;
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The most of a response body read (indexes and JSON documents).
pub const BODY_LIMIT: u64 = 64 << 20;

/// A response: its status, the headers a client needs, its body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// An HTTP client for one registry.
#[derive(Debug)]
pub struct Http {
    agent: ureq::Agent,
    registry: String,
}

/// What a request sends.
#[derive(Debug, Clone, Copy)]
pub enum Send<'a> {
    Get,
    Post {
        content_type: &'a str,
        body: &'a [u8],
    },
}

enum Attempt {
    Done(Response),
    Again {
        error: String,
        wait: Option<Duration>,
    },
}

impl Http {
    pub fn new(registry: &str) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect elsewhere would take the credentials along.
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .timeout_per_write(Some(Duration::from_secs(60)))
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Http {
            agent,
            registry: registry.to_string(),
        }
    }

    /// Send `what` to `url` until it gets an answer that is not transient;
    /// that answer's status is the caller's to judge.
    pub fn request(
        &self,
        url: &str,
        what: Send<'_>,
        auth: Option<&Auth>,
    ) -> Result<Response, PublishError> {
        let mut delay = FIRST_DELAY;
        let mut last = String::new();
        for n in 1..=ATTEMPTS {
            match self.attempt(url, what, auth) {
                Attempt::Done(r) => return Ok(r),
                Attempt::Again { error, wait } => {
                    last = error;
                    if n < ATTEMPTS {
                        std::thread::sleep(wait.unwrap_or(delay));
                        delay *= 2;
                    }
                }
            }
        }
        Err(PublishError::Http {
            registry: self.registry.clone(),
            url: url.to_string(),
            message: last,
            attempts: ATTEMPTS,
        })
    }

    fn attempt(&self, url: &str, what: Send<'_>, auth: Option<&Auth>) -> Attempt {
        let header = auth.map(|a| {
            let pair = format!("{}:{}", a.username, a.password.expose());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        let result = match what {
            Send::Get => {
                let mut r = self.agent.get(url);
                if let Some(h) = &header {
                    r = r.header("Authorization", h);
                }
                r.call()
            }
            Send::Post { content_type, body } => {
                let mut r = self.agent.post(url).header("Content-Type", content_type);
                if let Some(h) = &header {
                    r = r.header("Authorization", h);
                }
                r.send(body)
            }
        };
        let resp = match result {
            Ok(r) => r,
            // ureq's messages name the URL and the I/O error, never headers.
            Err(e) => {
                return Attempt::Again {
                    error: e.to_string(),
                    wait: None,
                }
            }
        };
        let status = resp.status().as_u16();
        let wait = retry_after(&resp);
        let mut body = Vec::new();
        let read = resp
            .into_body()
            .into_reader()
            .take(BODY_LIMIT)
            .read_to_end(&mut body);
        if let Err(e) = read {
            return Attempt::Again {
                error: format!("reading the response: {e}"),
                wait: None,
            };
        }
        match status {
            429 => Attempt::Again {
                error: "HTTP 429 (rate limited)".into(),
                wait: Some(wait.unwrap_or(FIRST_DELAY)),
            },
            408 | 500..=599 => Attempt::Again {
                error: format!("HTTP {status}"),
                wait: None,
            },
            _ => Attempt::Done(Response { status, body }),
        }
    }

    /// The error for an answer a client did not expect.
    pub fn refused(&self, url: &str, status: u16) -> PublishError {
        let reason = ureq::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default();
        PublishError::Refused {
            registry: self.registry.clone(),
            url: url.to_string(),
            status,
            reason: reason.to_string(),
        }
    }
}

/// A `Retry-After` in seconds, capped.
fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    let secs: u64 = v.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}
