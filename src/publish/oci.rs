//! OCI registries through the distribution spec: the read API is the
//! version tag's manifest (`GET /v2/<name>/manifests/<tag>`, its digest
//! the SHA-256 of the bytes served); an upload pushes an image layout from
//! the store in the spec's order — every blob (an existence check with
//! `HEAD` first, then a cross-repository mount from a repository this run
//! pushed to, then a monolithic `POST`+`PUT`), then every manifest child
//! first by digest, then the alias and channel tags, and the version's own
//! tag last: a version tag on the registry means the whole push finished.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::PublishError;
use super::http::{Http, Method, Request, Response};
use super::model::{Client, Item, Registry, RemoteFile, Uploaded};

/// Every manifest media type a tag may name.
pub(super) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// The client of one OCI registry.
#[derive(Debug)]
pub(super) struct Oci<'a> {
    registry: &'a Registry,
    http: Http,
    /// Repositories this client pushed to: blobs are mounted from them.
    pushed: RefCell<Vec<String>>,
}

/// A descriptor, as manifests and indexes list them.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
}

/// The parts of a manifest or index a push walks.
#[derive(Debug, Deserialize)]
pub(super) struct Document {
    #[serde(rename = "mediaType")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// What a push sends: blobs, then manifests (children first).
#[derive(Debug, Default)]
struct Push {
    blobs: Vec<String>,
    /// `(digest, media type, bytes)`.
    manifests: Vec<(String, String, Vec<u8>)>,
}

impl<'a> Oci<'a> {
    pub(super) fn new(registry: &'a Registry) -> Oci<'a> {
        Oci {
            registry,
            http: Http::new(&registry.name),
            pushed: RefCell::new(Vec::new()),
        }
    }

    fn send(&self, req: Request<'_>) -> Result<Response, PublishError> {
        self.http.request(req, self.registry.auth.as_ref())
    }

    fn v2(&self, repo: &str, rest: &str) -> String {
        format!(
            "{}/v2/{repo}/{rest}",
            self.registry.url.trim_end_matches('/')
        )
    }

    /// A session URL the registry gave (absolute, or rooted at its host).
    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            return location.to_string();
        }
        format!("{}{location}", self.registry.url.trim_end_matches('/'))
    }

    /// Push one blob unless the repository has it.
    fn blob(&self, repo: &str, layout: &Path, digest: &str) -> Result<(), PublishError> {
        let url = self.v2(repo, &format!("blobs/{digest}"));
        if self.send(Request::with(Method::Head, &url))?.status == 200 {
            return Ok(());
        }
        // A blob of an image pushed earlier in this run is mounted from its
        // repository; a registry that cannot mount opens an upload instead.
        let mut session = None;
        let from = self
            .pushed
            .borrow()
            .iter()
            .rev()
            .find(|r| *r != repo)
            .cloned();
        if let Some(from) = from {
            let url = self.v2(repo, &format!("blobs/uploads/?mount={digest}&from={from}"));
            let r = self.send(Request::with(Method::Post, &url))?;
            match r.status {
                201 => return Ok(()),
                202 => session = r.location,
                s => return Err(self.http.refused(&url, s)),
            }
        }
        let location = match session {
            Some(l) => l,
            None => {
                let url = self.v2(repo, "blobs/uploads/");
                let r = self.send(Request::with(Method::Post, &url))?;
                if r.status != 202 {
                    return Err(self.http.refused(&url, r.status));
                }
                r.location
                    .ok_or_else(|| self.http.refused(&url, r.status))?
            }
        };
        let bytes = read_blob(layout, digest)?;
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}digest={digest}", self.absolute(&location));
        let req = Request {
            body: Some(("application/octet-stream", &bytes)),
            ..Request::with(Method::Put, &url)
        };
        match self.send(req)?.status {
            201 | 204 => Ok(()),
            s => Err(self.http.refused(&self.v2(repo, "blobs/uploads/…"), s)),
        }
    }

    fn manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), PublishError> {
        let url = self.v2(repo, &format!("manifests/{reference}"));
        let req = Request {
            body: Some((media_type, bytes)),
            ..Request::with(Method::Put, &url)
        };
        match self.send(req)?.status {
            201 | 200 | 204 => Ok(()),
            s => Err(self.http.refused(&url, s)),
        }
    }
}

/// The read side a download uses.
impl Oci<'_> {
    /// `GET` a manifest (`what` = `manifests/<ref>`) or blob
    /// (`blobs/<digest>`) of `repo`; `None` if the registry has none.
    pub(super) fn get(&self, repo: &str, what: &str) -> Result<Option<Vec<u8>>, PublishError> {
        let url = self.v2(repo, what);
        let mut r = self.send(Request {
            accept: Some(ACCEPT),
            ..Request::get(&url)
        })?;
        // A blob store elsewhere (a CDN) is followed once, without the
        // registry's credentials.
        if let (301 | 302 | 303 | 307 | 308, Some(location)) = (r.status, &r.location) {
            let to = self.absolute(location);
            r = self.http.request(Request::get(&to), None)?;
        }
        match r.status {
            404 => Ok(None),
            200 => Ok(Some(r.body)),
            s => Err(self.http.refused(&url, s)),
        }
    }
}

/// A blob of the layout, checked against its name.
fn read_blob(layout: &Path, digest: &str) -> Result<Vec<u8>, PublishError> {
    let path = blob_path(layout, digest)?;
    let bytes = crate::fsutil::read_regular(&path).map_err(|source| PublishError::Io {
        path: path.clone(),
        source,
    })?;
    let actual = format!("sha256:{}", crate::hash::Sha256::digest(&bytes).to_hex());
    if actual != digest {
        return Err(PublishError::Tampered {
            path,
            expected: digest.to_string(),
            actual,
        });
    }
    Ok(bytes)
}

fn blob_path(layout: &Path, digest: &str) -> Result<PathBuf, PublishError> {
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| PublishError::Artifact {
            file: layout.display().to_string(),
            reason: format!(
                "a descriptor's digest {} is not sha256",
                crate::name::shown(digest)
            ),
        })?;
    Ok(layout.join("blobs/sha256").join(hex))
}

/// Walk the layout from `digest` (of `media_type`): blobs and manifests in
/// push order.
fn walk(
    layout: &Path,
    digest: &str,
    media_type: &str,
    push: &mut Push,
) -> Result<(), PublishError> {
    let bytes = read_blob(layout, digest)?;
    let doc: Document = serde_json::from_slice(&bytes).map_err(|e| PublishError::Artifact {
        file: layout.display().to_string(),
        reason: format!("manifest {digest}: {e}"),
    })?;
    for m in &doc.manifests {
        walk(layout, &m.digest, &m.media_type, push)?;
    }
    for b in doc.config.iter().chain(&doc.layers) {
        if !push.blobs.contains(&b.digest) {
            push.blobs.push(b.digest.clone());
        }
    }
    let media_type = doc.media_type.unwrap_or_else(|| media_type.to_string());
    push.manifests.push((digest.to_string(), media_type, bytes));
    Ok(())
}

impl Client for Oci<'_> {
    fn listing(&self, repo: &str, tag: &str) -> Result<Vec<RemoteFile>, PublishError> {
        let url = self.v2(repo, &format!("manifests/{tag}"));
        let r = self.send(Request {
            accept: Some(ACCEPT),
            ..Request::get(&url)
        })?;
        match r.status {
            404 => Ok(Vec::new()),
            200 => Ok(vec![RemoteFile {
                file: tag.to_string(),
                digest: format!("sha256:{}", crate::hash::Sha256::digest(&r.body).to_hex()),
            }]),
            s => Err(self.http.refused(&url, s)),
        }
    }

    fn upload(&self, item: &Item) -> Result<Uploaded, PublishError> {
        let mut push = Push::default();
        walk(
            &item.path,
            &item.digest,
            "application/vnd.oci.image.index.v1+json",
            &mut push,
        )?;
        for b in &push.blobs {
            self.blob(&item.package, &item.path, b)?;
        }
        self.pushed.borrow_mut().push(item.package.clone());
        for (digest, media_type, bytes) in &push.manifests {
            self.manifest(&item.package, digest, media_type, bytes)?;
        }
        let (_, media_type, top) = push.manifests.last().expect("the top manifest");
        for tag in item.aliases.iter().chain(std::iter::once(&item.version)) {
            self.manifest(&item.package, tag, media_type, top)?;
        }
        Ok(Uploaded::Accepted)
    }
}
