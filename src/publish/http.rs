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
pub(super) const BODY_LIMIT: u64 = 64 << 20;

/// A response: its status, the headers a client needs, its body.
#[derive(Debug)]
pub(super) struct Response {
    pub status: u16,
    /// `Location` (an OCI upload session).
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// An HTTP client for one registry.
#[derive(Debug)]
pub(super) struct Http {
    agent: ureq::Agent,
    registry: String,
}

/// The method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Head,
    Post,
    Put,
}

/// What a request sends: method, URL, `Accept`, and a body with its type.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    pub accept: Option<&'a str>,
    pub body: Option<(&'a str, &'a [u8])>,
}

impl<'a> Request<'a> {
    pub(super) fn get(url: &'a str) -> Request<'a> {
        Request {
            method: Method::Get,
            url,
            accept: None,
            body: None,
        }
    }

    pub(super) fn with(method: Method, url: &'a str) -> Request<'a> {
        Request {
            method,
            ..Request::get(url)
        }
    }
}

enum Attempt {
    Done(Response),
    Again {
        error: String,
        wait: Option<Duration>,
    },
}

impl Http {
    pub(super) fn new(registry: &str) -> Http {
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

    /// Send `req` until it gets an answer that is not transient; that
    /// answer's status is the caller's to judge.
    pub(super) fn request(
        &self,
        req: Request<'_>,
        auth: Option<&Auth>,
    ) -> Result<Response, PublishError> {
        let mut delay = FIRST_DELAY;
        let mut last = String::new();
        for n in 1..=ATTEMPTS {
            match self.attempt(req, auth) {
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
            url: req.url.to_string(),
            message: last,
            attempts: ATTEMPTS,
        })
    }

    fn send(
        &self,
        req: Request<'_>,
        auth: Option<&Auth>,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let header = auth.map(|a| match a {
            Auth::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            Auth::Bearer(token) => format!("Bearer {}", token.expose()),
            Auth::Token(token) => token.expose().to_string(),
        });
        let mut b = ureq::http::Request::builder()
            .method(match req.method {
                Method::Get => "GET",
                Method::Head => "HEAD",
                Method::Post => "POST",
                Method::Put => "PUT",
            })
            .uri(req.url);
        if let Some(h) = &header {
            b = b.header("Authorization", h);
        }
        if let Some(a) = req.accept {
            b = b.header("Accept", a);
        }
        let (content_type, body) = req.body.unwrap_or(("application/octet-stream", &[]));
        if req.body.is_some() || matches!(req.method, Method::Post | Method::Put) {
            b = b.header("Content-Type", content_type);
        }
        let request = b.body(body).map_err(ureq::Error::from)?;
        self.agent.run(request)
    }

    fn attempt(&self, req: Request<'_>, auth: Option<&Auth>) -> Attempt {
        let resp = match self.send(req, auth) {
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
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
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
            _ => Attempt::Done(Response {
                status,
                location,
                body,
            }),
        }
    }

    /// The error for an answer a client did not expect.
    pub(super) fn refused(&self, url: &str, status: u16) -> PublishError {
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
