//! The token authentication of OCI registries (Docker Hub, ghcr.io, quay.io
//! and every `distribution` registry configured with `auth: token`): a 401
//! whose `WWW-Authenticate` is `Bearer realm="…",service="…",scope="…"` is
//! answered by asking the realm for a token for those scopes — with the
//! user's credentials for the registry, sent only over HTTPS or to the
//! registry's own host — and the request is sent again with the token.

use serde::Deserialize;

use super::error::PublishError;
use super::http::{Http, Method, Request};
use super::model::{Auth, Registry, Secret};

/// A `Bearer` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    /// The scopes asked for (`repository:NAME:pull,push`), one per `scope`
    /// parameter of the request, as the challenge lists them (space-separated).
    pub scopes: Vec<String>,
}

/// The challenge of a `WWW-Authenticate` value, if it is a `Bearer` one
/// with a realm.
pub(super) fn challenge(header: &str) -> Option<Challenge> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut c = Challenge {
        realm: String::new(),
        service: None,
        scopes: Vec::new(),
    };
    for (k, v) in params(rest) {
        match k.as_str() {
            "realm" => c.realm = v,
            "service" => c.service = Some(v),
            "scope" => c
                .scopes
                .extend(v.split(' ').filter(|s| !s.is_empty()).map(String::from)),
            _ => {}
        }
    }
    (!c.realm.is_empty()).then_some(c)
}

/// `key=value` and `key="quoted, \"value\""` pairs, comma-separated.
fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut end = quoted.len();
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match (escaped, c) {
                    (true, _) => {
                        v.push(c);
                        escaped = false;
                    }
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = i + 1;
                        break;
                    }
                    (false, _) => v.push(c),
                }
            }
            rest = &quoted[end..];
            v
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let v = rest[..end].trim().to_string();
            rest = &rest[end..];
            v
        };
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

/// `v` percent-encoded for a query component (RFC 3986's unreserved
/// characters kept).
fn query_encoded(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The host name of a URL (without user information or port).
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    }
}

/// Whether the user's credentials may go to `realm`: over HTTPS, or to the
/// registry's own host (any port: a token service beside the registry).
fn may_send_credentials(registry: &Registry, realm: &str) -> bool {
    realm.starts_with("https://") || host(realm) == host(&registry.url)
}

/// What a token service answers.
#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
}

/// A token for `c` from its realm.
pub(super) fn token(
    http: &Http,
    registry: &Registry,
    c: &Challenge,
) -> Result<Secret, PublishError> {
    let refused = |reason: &str| PublishError::Refused {
        registry: registry.name.clone(),
        url: c.realm.clone(),
        status: 0,
        reason: reason.to_string(),
    };
    if !(c.realm.starts_with("https://") || c.realm.starts_with("http://")) {
        return Err(refused("the token realm is not an http(s) URL"));
    }
    let mut url = c.realm.clone();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    let pairs = c
        .service
        .iter()
        .map(|s| ("service", s))
        .chain(c.scopes.iter().map(|s| ("scope", s)));
    for (k, v) in pairs {
        url.push(sep);
        url.push_str(k);
        url.push('=');
        url.push_str(&query_encoded(v));
        sep = '&';
    }
    let credentials = match &registry.auth {
        Some(a @ Auth::Basic { .. }) if may_send_credentials(registry, &c.realm) => Some(a),
        _ => None,
    };
    let r = http.request(Request::with(Method::Get, &url), credentials)?;
    if r.status != 200 {
        return Err(http.refused(&c.realm, r.status));
    }
    let answer: TokenAnswer = serde_json::from_slice(&r.body)
        .map_err(|_| refused("the token service's answer is not a token document"))?;
    answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| refused("the token service's answer holds no token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_with_quoted_commas_and_several_scopes() {
        let c = challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/a:pull,push repository:b:pull""#,
        )
        .unwrap();
        assert_eq!(c.realm, "https://auth.docker.io/token");
        assert_eq!(c.service.as_deref(), Some("registry.docker.io"));
        assert_eq!(
            c.scopes,
            ["repository:library/a:pull,push", "repository:b:pull"]
        );
        let c = challenge(r#"bearer realm=http://h/t, error="insufficient_scope", service="s\"q""#)
            .unwrap();
        assert_eq!(
            (c.realm.as_str(), c.service.as_deref()),
            ("http://h/t", Some("s\"q"))
        );
        assert_eq!(challenge(r#"Basic realm="registry""#), None);
        assert_eq!(
            query_encoded("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(challenge("Bearer service=x"), None);
    }

    #[test]
    fn credentials_go_over_https_or_to_the_registry_host() {
        let r = Registry {
            name: "r".into(),
            kind: super::super::model::Kind::Oci,
            url: "http://127.0.0.1:5000".into(),
            index: String::new(),
            configured_by: String::new(),
            auth: None,
        };
        assert!(may_send_credentials(&r, "https://auth.example/token"));
        assert!(may_send_credentials(&r, "http://127.0.0.1:5000/token"));
        assert!(may_send_credentials(&r, "http://127.0.0.1:5001/token"));
        assert!(!may_send_credentials(&r, "http://evil.example/token"));
        assert!(!may_send_credentials(
            &r,
            "http://127.0.0.1@evil.example/token"
        ));
        assert!(!may_send_credentials(&r, "http://127.0.0.1.evil.example/t"));
    }
}
