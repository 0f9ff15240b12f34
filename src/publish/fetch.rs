//! Fetching what a registry serves under a [`RegistryRef`], for `kiln
//! verify`: through the same registry configuration ([`super::config`])
//! and read APIs as `kiln publish` (the simple index, the packument, the
//! distribution spec), into a directory the caller owns, every response
//! bounded ([`super::http::BODY_LIMIT`]) and every file checked against
//! the digest the registry states for it — a PyPI `#sha256=` fragment,
//! npm's `dist.integrity` (or `shasum`), an OCI descriptor's digest.
//!
//! What each file says about its commit is read later by `kiln verify`
//! (an image's `org.opencontainers.image.revision`); the one piece of vcs
//! information a registry keeps beside an artifact, npm's `gitHead`, is
//! returned here. kiln publishes no provenance statement beside an
//! artifact, so none is fetched.
//!
//! Each registry kind has one reader ([`reader`]). A cargo registry's
//! `.crate` is found through its index (`cksum`) and downloaded from the
//! index's `dl`; its `.cargo_vcs_info.json` names the commit.

use std::path::{Path, PathBuf};

use super::config::{self, Environment};
pub(crate) use super::error::{DigestMismatch, FetchError};
use super::http::{Http, Request, BODY_LIMIT};
use super::model::{Auth, Kind, Registry};
use super::reference::{ImageRef, RegistryRef};
use crate::hash::Sha256;

/// The most a verify downloads in all.
const TOTAL_LIMIT: u64 = 4 << 30;

/// Where to fetch from and into.
#[derive(Debug, Clone)]
pub(crate) struct FetchOptions {
    pub reference: RegistryRef,
    /// `--registry NAME` or `NAME=URL` (default: `pypi`, `npm`, or the
    /// image's host).
    pub registry: Option<(String, Option<String>)>,
    pub env: Environment,
    /// An empty directory the files are written to.
    pub dir: PathBuf,
}

/// One file (or image layout) fetched.
#[derive(Debug, Clone)]
pub(crate) struct FetchedFile {
    /// Its name in `dir` (PyPI: the index's file name; npm: the name
    /// `npm pack` gives the tarball; OCI: `<repository>-<tag>.oci`).
    pub file: String,
    pub path: PathBuf,
    /// The digest the registry states, as it spells it.
    pub digest: String,
    /// A commit the registry records beside it (npm's `gitHead`).
    pub vcs_commit: Option<String>,
    /// An image layout (compared by its top manifest's digest).
    pub image: bool,
}

/// What [`fetch`] fetched.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// The registry's name and URL.
    pub registry: String,
    pub url: String,
    /// The package (OCI: the repository) and version (OCI: tag or digest).
    pub name: String,
    pub version: String,
    pub files: Vec<FetchedFile>,
}

/// One registry kind's download side.
trait Reader {
    /// Fetch what the registry holds under `reference` into `dir`.
    fn fetch(
        &self,
        reference: &RegistryRef,
        dir: &Path,
        budget: &mut Budget,
    ) -> Result<Vec<FetchedFile>, FetchError>;
}

/// The reader of `registry`'s kind.
fn reader(registry: &Registry) -> Box<dyn Reader + '_> {
    match registry.kind {
        Kind::Pypi => Box::new(super::pypi::Pypi::new(registry)),
        Kind::Npm => Box::new(super::npm::Npm::new(registry)),
        Kind::Oci => Box::new(super::oci::Oci::new(registry)),
        Kind::Cargo => Box::new(super::cargo::Cargo::new(registry)),
    }
}

/// What is left of [`TOTAL_LIMIT`].
#[derive(Debug)]
struct Budget {
    registry: String,
    left: u64,
}

impl Budget {
    /// `GET url` through `http`, bounded: a body that reached the
    /// per-response limit, or the total, is refused.
    fn get(
        &mut self,
        http: &Http,
        url: &str,
        auth: Option<&Auth>,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        let mut r = http.request(Request::get(url), auth)?;
        // A file store elsewhere is followed once, without credentials.
        if let (301 | 302 | 303 | 307 | 308, Some(location)) = (r.status, &r.location) {
            if location.starts_with("https://") || location.starts_with("http://") {
                let to = location.clone();
                r = http.request(Request::get(&to), None)?;
            }
        }
        match r.status {
            200 => {}
            404 => return Ok(None),
            s => return Err(http.refused(url, s).into()),
        }
        self.take(url, r.body).map(Some)
    }

    fn take(&mut self, url: &str, body: Vec<u8>) -> Result<Vec<u8>, FetchError> {
        let n = body.len() as u64;
        if n >= BODY_LIMIT || n > self.left {
            return Err(FetchError::TooLarge {
                registry: self.registry.clone(),
                url: url.to_string(),
                limit: BODY_LIMIT.min(self.left),
            });
        }
        self.left -= n;
        Ok(body)
    }
}

/// Fetch the artifacts `opts.reference` names.
pub(crate) fn fetch(opts: &FetchOptions) -> Result<Fetched, FetchError> {
    let r = &opts.reference;
    let (kind, default_name, name, version) = match r {
        RegistryRef::Pypi { name, version } => (Kind::Pypi, "pypi", name, version.clone()),
        RegistryRef::Npm { name, version } => (Kind::Npm, "npm", name, version.clone()),
        RegistryRef::Oci { host, repo, image } => (
            Kind::Oci,
            host.as_str(),
            repo,
            match image {
                ImageRef::Tag(t) | ImageRef::Digest(t) => t.clone(),
            },
        ),
        RegistryRef::Crate { name, version } => (Kind::Cargo, "crates-io", name, version.clone()),
    };
    let (reg_name, overrides) = match &opts.registry {
        Some((n, Some(url))) => (n.clone(), vec![(n.clone(), url.clone())]),
        Some((n, None)) => (n.clone(), Vec::new()),
        None => (default_name.to_string(), Vec::new()),
    };
    let registry = config::registry(&reg_name, kind, &overrides, &opts.env, &r.to_string())?;
    let mut budget = Budget {
        registry: registry.name.clone(),
        left: TOTAL_LIMIT,
    };
    let files = reader(&registry).fetch(r, &opts.dir, &mut budget)?;
    if files.is_empty() {
        return Err(FetchError::Missing {
            registry: registry.name.clone(),
            name: name.clone(),
            version,
        });
    }
    Ok(Fetched {
        registry: registry.name.clone(),
        url: registry.url.clone(),
        name: name.clone(),
        version,
        files,
    })
}

/// Write `bytes` to `dir/file`, `file` being a portable name.
fn save(dir: &Path, file: &str, bytes: &[u8], registry: &str) -> Result<PathBuf, FetchError> {
    crate::name::check_portable(file).map_err(|e| FetchError::Malformed {
        registry: registry.to_string(),
        url: file.to_string(),
        reason: format!("not a portable file name: {e}"),
    })?;
    let path = dir.join(file);
    // A name listed twice is refused, not overwritten.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, bytes));
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(FetchError::Malformed {
            registry: registry.to_string(),
            url: file.to_string(),
            reason: "the registry lists this file twice".into(),
        }),
        Err(source) => Err(FetchError::Io { path, source }),
        Ok(()) => Ok(path),
    }
}

fn digest_error(
    r: &RegistryRef,
    registry: &str,
    file: &str,
    stated: &str,
    actual: String,
) -> FetchError {
    let (name, version) = match r {
        RegistryRef::Pypi { name, version }
        | RegistryRef::Npm { name, version }
        | RegistryRef::Crate { name, version } => (name.clone(), version.clone()),
        RegistryRef::Oci { repo, image, .. } => (
            repo.clone(),
            match image {
                ImageRef::Tag(t) | ImageRef::Digest(t) => t.clone(),
            },
        ),
    };
    FetchError::Digest(Box::new(DigestMismatch {
        registry: registry.to_string(),
        name,
        version,
        file: file.to_string(),
        stated: stated.to_string(),
        actual,
    }))
}

impl Reader for super::pypi::Pypi<'_> {
    fn fetch(
        &self,
        r: &RegistryRef,
        dir: &Path,
        budget: &mut Budget,
    ) -> Result<Vec<FetchedFile>, FetchError> {
        let RegistryRef::Pypi { name, version } = r else {
            unreachable!("a PyPI reader is only given pypi: references")
        };
        let (http, auth) = self.http();
        let mut out = Vec::new();
        for link in self.links(name, version)? {
            let Some(bytes) = budget.get(http, &link.url, auth)? else {
                return Err(http.refused(&link.url, 404).into());
            };
            let actual = Sha256::digest(&bytes).to_hex();
            let digest = match link.sha256 {
                Some(stated) if stated != actual => {
                    return Err(digest_error(
                        r,
                        &budget.registry,
                        &link.file,
                        &format!("sha256 {stated}"),
                        format!("sha256 {actual}"),
                    ))
                }
                Some(stated) => stated,
                None => actual,
            };
            let path = save(dir, &link.file, &bytes, &budget.registry)?;
            out.push(FetchedFile {
                file: link.file,
                path,
                digest,
                vcs_commit: None,
                image: false,
            });
        }
        Ok(out)
    }
}

/// What a tarball's bytes give as `integrity` (`sha512-…`) or `shasum`
/// (`sha1:…`), in the spelling `stated` uses.
fn npm_digest(stated: &str, bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    if stated.starts_with("sha1:") {
        return format!("sha1:{}", crate::hash::hex(&sha1::Sha1::digest(bytes)));
    }
    if stated.starts_with("sha256-") {
        return format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
        );
    }
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes))
    )
}

impl Reader for super::npm::Npm<'_> {
    fn fetch(
        &self,
        r: &RegistryRef,
        dir: &Path,
        budget: &mut Budget,
    ) -> Result<Vec<FetchedFile>, FetchError> {
        let RegistryRef::Npm { name, version } = r else {
            unreachable!("an npm reader is only given npm: references")
        };
        let Some(doc) = self.version(name, version)? else {
            return Ok(Vec::new());
        };
        let (http, url, auth) = self.http();
        let registry = budget.registry.clone();
        let malformed = |reason: &str| FetchError::Malformed {
            registry: registry.clone(),
            url: format!("{url}{}", name.replace('/', "%2f")),
            reason: reason.to_string(),
        };
        let tarball = doc
            .dist
            .tarball
            .clone()
            .ok_or_else(|| malformed("the version has no dist.tarball"))?;
        let stated = doc.dist.digest();
        if stated == "(no digest)" {
            return Err(malformed(
                "the version has neither dist.integrity nor dist.shasum",
            ));
        }
        // The credentials go only to the registry itself, never to a
        // tarball host the packument names elsewhere.
        let auth = auth.filter(|_| tarball.starts_with(url));
        let Some(bytes) = budget.get(http, &tarball, auth)? else {
            return Err(http.refused(&tarball, 404).into());
        };
        // `npm pack`'s name for it: `@scope/name` → `scope-name-VERSION.tgz`.
        let file = format!(
            "{}-{version}.tgz",
            name.trim_start_matches('@').replace('/', "-")
        );
        let actual = npm_digest(&stated, &bytes);
        if actual != stated {
            return Err(digest_error(r, &budget.registry, &file, &stated, actual));
        }
        let path = save(dir, &file, &bytes, &budget.registry)?;
        Ok(vec![FetchedFile {
            file,
            path,
            digest: stated,
            vcs_commit: doc.git_head,
            image: false,
        }])
    }
}

impl Reader for super::cargo::Cargo<'_> {
    fn fetch(
        &self,
        r: &RegistryRef,
        dir: &Path,
        budget: &mut Budget,
    ) -> Result<Vec<FetchedFile>, FetchError> {
        let RegistryRef::Crate { name, version } = r else {
            unreachable!("a cargo reader is only given crate: references")
        };
        let index = self.reader();
        let Some(cksum) = index.cksum(name, version)? else {
            return Ok(Vec::new());
        };
        let (url, auth) = index.download_location(name, version, &cksum)?;
        let http = Http::new(&budget.registry);
        let Some(bytes) = budget.get(&http, &url, auth)? else {
            return Err(http.refused(&url, 404).into());
        };
        // `cargo package`'s name for it.
        let file = format!("{name}-{version}.crate");
        let actual = Sha256::digest(&bytes).to_hex();
        if actual != cksum {
            return Err(digest_error(
                r,
                &budget.registry,
                &file,
                &format!("sha256 {cksum}"),
                format!("sha256 {actual}"),
            ));
        }
        let path = save(dir, &file, &bytes, &budget.registry)?;
        Ok(vec![FetchedFile {
            file,
            path,
            digest: cksum,
            vcs_commit: None,
            image: false,
        }])
    }
}

impl Reader for super::oci::Oci<'_> {
    fn fetch(
        &self,
        r: &RegistryRef,
        dir: &Path,
        budget: &mut Budget,
    ) -> Result<Vec<FetchedFile>, FetchError> {
        let RegistryRef::Oci { repo, image, .. } = r else {
            unreachable!("an OCI reader is only given oci: references")
        };
        let (reference, tag) = match image {
            ImageRef::Tag(t) => (t.clone(), t.clone()),
            ImageRef::Digest(d) => (d.clone(), d.trim_start_matches("sha256:")[..12].to_string()),
        };
        let Some(top) = self.get(repo, &format!("manifests/{reference}"))? else {
            return Ok(Vec::new());
        };
        let top = budget.take(&reference, top)?;
        let digest = format!("sha256:{}", Sha256::digest(&top).to_hex());
        if let ImageRef::Digest(d) = image {
            if *d != digest {
                return Err(digest_error(r, &budget.registry, &reference, d, digest));
            }
        }
        let file = format!("{}-{tag}.oci", repo.rsplit('/').next().unwrap_or(repo));
        crate::name::check_portable(&file).map_err(|e| FetchError::Malformed {
            registry: budget.registry.clone(),
            url: file.clone(),
            reason: e.to_string(),
        })?;
        let layout = dir.join(&file);
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).map_err(|source| FetchError::Io {
            path: blobs.clone(),
            source,
        })?;
        let doc = self.walk(r, repo, &blobs, &digest, top, budget)?;
        write_layout(&layout, &doc, &digest, &reference)?;
        Ok(vec![FetchedFile {
            file,
            path: layout,
            digest,
            vcs_commit: None,
            image: true,
        }])
    }
}

impl super::oci::Oci<'_> {
    /// Save the manifest `bytes` (of `digest`) and everything it names
    /// below `blobs`, each checked against its descriptor; returns the
    /// manifest's media type and size.
    fn walk(
        &self,
        r: &RegistryRef,
        repo: &str,
        blobs: &Path,
        digest: &str,
        bytes: Vec<u8>,
        budget: &mut Budget,
    ) -> Result<(String, u64), FetchError> {
        let doc: super::oci::Document =
            serde_json::from_slice(&bytes).map_err(|e| FetchError::Malformed {
                registry: budget.registry.clone(),
                url: digest.to_string(),
                reason: format!("not a manifest: {e}"),
            })?;
        let media_type = doc
            .media_type
            .clone()
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into());
        let size = bytes.len() as u64;
        self.put(blobs, digest, &bytes, r, budget)?;
        // A blob named twice (a config two platforms share, an empty
        // layer) is fetched once: its name is its digest.
        let have = |d: &str| {
            d.strip_prefix("sha256:")
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .is_some_and(|h| blobs.join(h).exists())
        };
        for m in doc.manifests.iter().filter(|m| !have(&m.digest)) {
            let what = format!("manifests/{}", m.digest);
            let child = self
                .get(repo, &what)?
                .ok_or_else(|| missing_blob(budget, &m.digest))?;
            let child = budget.take(&what, child)?;
            self.walk(r, repo, blobs, &m.digest, child, budget)?;
        }
        for b in doc.config.iter().chain(&doc.layers) {
            if have(&b.digest) {
                continue;
            }
            let what = format!("blobs/{}", b.digest);
            let blob = self
                .get(repo, &what)?
                .ok_or_else(|| missing_blob(budget, &b.digest))?;
            let blob = budget.take(&what, blob)?;
            self.put(blobs, &b.digest, &blob, r, budget)?;
        }
        Ok((media_type, size))
    }

    /// Write one blob, checked against the digest that named it.
    fn put(
        &self,
        blobs: &Path,
        digest: &str,
        bytes: &[u8],
        r: &RegistryRef,
        budget: &Budget,
    ) -> Result<(), FetchError> {
        let actual = format!("sha256:{}", Sha256::digest(bytes).to_hex());
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| FetchError::Malformed {
                registry: budget.registry.clone(),
                url: digest.to_string(),
                reason: "a descriptor's digest is not sha256".into(),
            })?;
        if actual != digest {
            return Err(digest_error(r, &budget.registry, digest, digest, actual));
        }
        save(blobs, hex, bytes, &budget.registry).map(|_| ())
    }
}

fn missing_blob(budget: &Budget, digest: &str) -> FetchError {
    FetchError::Malformed {
        registry: budget.registry.clone(),
        url: digest.to_string(),
        reason: "the registry does not serve this descriptor".into(),
    }
}

/// `oci-layout` and an `index.json` naming the top manifest under `name`.
fn write_layout(
    layout: &Path,
    (media_type, size): &(String, u64),
    digest: &str,
    name: &str,
) -> Result<(), FetchError> {
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": media_type,
            "digest": digest,
            "size": size,
            "annotations": {"org.opencontainers.image.ref.name": name},
        }],
    });
    for (file, bytes) in [
        (
            "index.json",
            serde_json::to_vec(&index).expect("JSON serialises"),
        ),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
    ] {
        let path = layout.join(file);
        std::fs::write(&path, bytes).map_err(|source| FetchError::Io { path, source })?;
    }
    Ok(())
}
