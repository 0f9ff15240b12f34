//! npm registries as `npm publish` talks to them: the read API is the
//! packument (`GET /<name>`, each version's `dist.integrity`); an upload
//! is one `PUT /<name>` of a packument holding the version's manifest —
//! the tarball's own `package.json` with `_id` and `dist` (`integrity`,
//! `shasum`, `tarball`) — the dist-tag the version engine chose, and the
//! tarball as a base64 attachment.

use std::io::Read as _;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::error::PublishError;
use super::http::{Http, Method, Request};
use super::model::{Client, Item, Registry, RemoteFile, Uploaded};

/// The largest `package.json` read from a tarball.
const MANIFEST_LIMIT: u64 = 4 << 20;

/// The client of one npm registry.
#[derive(Debug)]
pub(super) struct Npm<'a> {
    registry: &'a Registry,
    http: Http,
}

impl<'a> Npm<'a> {
    pub(super) fn new(registry: &'a Registry) -> Npm<'a> {
        Npm {
            registry,
            http: Http::new(&registry.name),
        }
    }

    /// The packument's URL: the name escaped as npm does (`@scope%2fname`).
    fn url(&self, name: &str) -> String {
        format!("{}{}", self.registry.url, name.replace('/', "%2f"))
    }
}

/// `package/package.json` of an npm tarball, as a JSON object.
fn manifest(item: &Item) -> Result<Map<String, Value>, PublishError> {
    let bad = |reason: String| PublishError::Artifact {
        file: item.file.clone(),
        reason,
    };
    let (f, _) = crate::fsutil::open_regular(&item.path).map_err(|source| PublishError::Io {
        path: item.path.clone(),
        source,
    })?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let entries = tar.entries().map_err(|e| bad(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| bad(e.to_string()))?;
        let is_manifest = entry
            .path()
            .map(|p| p.as_os_str() == "package/package.json")
            .unwrap_or(false);
        if is_manifest {
            let mut text = Vec::new();
            entry
                .take(MANIFEST_LIMIT)
                .read_to_end(&mut text)
                .map_err(|e| bad(e.to_string()))?;
            return match serde_json::from_slice(&text) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(bad("package/package.json is not a JSON object".into())),
            };
        }
    }
    Err(bad("has no package/package.json".into()))
}

/// The document `npm publish` sends for `item`.
fn packument(item: &Item, registry: &str) -> Result<Vec<u8>, PublishError> {
    let bytes = crate::fsutil::read_regular(&item.path).map_err(|source| PublishError::Io {
        path: item.path.clone(),
        source,
    })?;
    let shasum = {
        use sha1::Digest as _;
        crate::hash::hex(&sha1::Sha1::digest(&bytes))
    };
    let (name, version) = (&item.package, &item.version);
    let attachment = format!("{name}-{version}.tgz");
    let mut m = manifest(item)?;
    m.insert("_id".into(), json!(format!("{name}@{version}")));
    m.insert(
        "dist".into(),
        json!({
            "integrity": item.digest,
            "shasum": shasum,
            "tarball": format!("{registry}{name}/-/{attachment}"),
        }),
    );
    let description = m.get("description").cloned().unwrap_or(Value::Null);
    let tag = item
        .aliases
        .first()
        .cloned()
        .unwrap_or_else(|| "latest".into());
    let doc = json!({
        "_id": name,
        "name": name,
        "description": description,
        "dist-tags": { tag: version },
        "versions": { version.clone(): Value::Object(m) },
        "access": Value::Null,
        "_attachments": {
            attachment: {
                "content_type": "application/octet-stream",
                "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
                "length": bytes.len(),
            }
        }
    });
    Ok(serde_json::to_vec(&doc).expect("JSON serialises"))
}

/// One version of a packument, as far as a download reads it.
#[derive(Debug, Clone, serde::Deserialize)]
pub(super) struct VersionDoc {
    #[serde(default)]
    pub dist: Dist,
    /// The commit `npm publish` ran at, when it ran in a git checkout.
    #[serde(rename = "gitHead")]
    pub git_head: Option<String>,
}

/// A version's `dist`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(super) struct Dist {
    pub tarball: Option<String>,
    pub integrity: Option<String>,
    pub shasum: Option<String>,
}

impl Dist {
    /// The digest as [`RemoteFile::digest`] spells it.
    pub(super) fn digest(&self) -> String {
        match (&self.integrity, &self.shasum) {
            (Some(i), _) => i.clone(),
            (_, Some(s)) => format!("sha1:{s}"),
            _ => "(no digest)".into(),
        }
    }
}

impl Npm<'_> {
    /// `version` of `name` in the registry's packument (`None`: no such
    /// package or version).
    pub(super) fn version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<VersionDoc>, PublishError> {
        let url = self.url(name);
        let r = self.http.request(
            Request {
                accept: Some("application/json"),
                ..Request::get(&url)
            },
            self.registry.auth.as_ref(),
        )?;
        match r.status {
            404 => return Ok(None),
            200 => {}
            s => return Err(self.http.refused(&url, s)),
        }
        let doc: Value = serde_json::from_slice(&r.body).map_err(|e| PublishError::Artifact {
            file: url.clone(),
            reason: format!("the packument is not JSON: {e}"),
        })?;
        let Some(v) = doc.pointer(&format!(
            "/versions/{}",
            version.replace('~', "~0").replace('/', "~1")
        )) else {
            return Ok(None);
        };
        serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| PublishError::Artifact {
                file: url.clone(),
                reason: format!("version {version} of the packument: {e}"),
            })
    }

    /// The registry's HTTP client, its URL and credentials (for downloads).
    pub(super) fn http(&self) -> (&Http, &str, Option<&super::model::Auth>) {
        (&self.http, &self.registry.url, self.registry.auth.as_ref())
    }
}

impl Client for Npm<'_> {
    fn listing(&self, name: &str, version: &str) -> Result<Vec<RemoteFile>, PublishError> {
        Ok(self
            .version(name, version)?
            .map(|v| RemoteFile {
                file: version.to_string(),
                digest: v.dist.digest(),
            })
            .into_iter()
            .collect())
    }

    fn upload(&self, item: &Item) -> Result<Uploaded, PublishError> {
        let body = packument(item, &self.registry.url)?;
        let url = self.url(&item.package);
        let req = Request {
            body: Some(("application/json", &body)),
            ..Request::with(Method::Put, &url)
        };
        let r = self.http.request(req, self.registry.auth.as_ref())?;
        match r.status {
            200 | 201 => Ok(Uploaded::Accepted),
            // "cannot publish over the previously published versions".
            403 | 409 => Ok(Uploaded::Exists),
            s => Err(self.http.refused(&url, s)),
        }
    }
}
