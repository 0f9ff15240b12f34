//! PyPI-compatible indexes: the read API is the simple index (PEP 503
//! pages with `#sha256=` fragments; a file without one is fetched and
//! hashed), the upload API the one `twine upload` uses — a
//! `multipart/form-data` POST with `:action=file_upload`, the core
//! metadata fields read from the artifact's own `METADATA`/`PKG-INFO`,
//! its digest and the file as `content`.

use std::io::Read as _;
use std::path::Path;

use super::error::PublishError;
use super::http::{Http, Method, Request, BODY_LIMIT};
use super::model::{Client, Item, Registry, RemoteFile, Uploaded};

/// The largest `METADATA`/`PKG-INFO` read.
const METADATA_LIMIT: u64 = 4 << 20;

/// A distribution's core metadata, as its headers and description.
#[derive(Debug, Clone)]
pub(super) struct Metadata {
    pub name: String,
    pub version: String,
    /// Every header in order, `(Name, value)`.
    headers: Vec<(String, String)>,
    description: String,
}

/// The core metadata inside a wheel (`*.dist-info/METADATA`) or an sdist
/// (`<base>/PKG-INFO`).
pub(super) fn metadata(path: &Path, file: &str) -> Result<Metadata, PublishError> {
    let bad = |reason: String| PublishError::Artifact {
        file: file.to_string(),
        reason,
    };
    let text = if file.ends_with(".whl") {
        wheel_metadata(path).map_err(|e| bad(format!("reading METADATA: {e}")))?
    } else if file.ends_with(".tar.gz") {
        sdist_metadata(path).map_err(|e| bad(format!("reading PKG-INFO: {e}")))?
    } else {
        return Err(bad("is neither a wheel nor a .tar.gz sdist".into()));
    };
    let text = text.ok_or_else(|| bad("has no core metadata".into()))?;
    parse(&text).ok_or_else(|| bad("its core metadata has no Name or Version".into()))
}

fn wheel_metadata(path: &Path) -> std::io::Result<Option<String>> {
    let (f, _) = crate::fsutil::open_regular(path)?;
    let mut zip = zip::ZipArchive::new(f).map_err(std::io::Error::other)?;
    let name = zip.file_names().find(|n| {
        n.split_once('/')
            .is_some_and(|(dir, rest)| dir.ends_with(".dist-info") && rest == "METADATA")
    });
    let Some(name) = name.map(str::to_string) else {
        return Ok(None);
    };
    let entry = zip.by_name(&name).map_err(std::io::Error::other)?;
    read_text(entry).map(Some)
}

fn sdist_metadata(path: &Path) -> std::io::Result<Option<String>> {
    let (f, _) = crate::fsutil::open_regular(path)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    for entry in tar.entries()? {
        let entry = entry?;
        let p = entry.path()?.into_owned();
        let parts: Vec<_> = p.components().collect();
        if parts.len() == 2 && parts[1].as_os_str() == "PKG-INFO" {
            return read_text(entry).map(Some);
        }
    }
    Ok(None)
}

fn read_text(r: impl std::io::Read) -> std::io::Result<String> {
    let mut s = String::new();
    r.take(METADATA_LIMIT).read_to_string(&mut s)?;
    Ok(s)
}

/// Core metadata (RFC 822 headers, continuation lines, then the body as
/// the description).
fn parse(text: &str) -> Option<Metadata> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut lines = text.split('\n');
    for line in lines.by_ref() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push('\n');
                v.push_str(line.trim_start());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let description = lines.collect::<Vec<_>>().join("\n");
    let get = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    Some(Metadata {
        name: get("Name")?,
        version: get("Version")?,
        description,
        headers,
    })
}

/// The form field twine sends a header as (`Classifier` → `classifiers`).
fn field_name(header: &str) -> String {
    let f = header.to_ascii_lowercase().replace('-', "_");
    match f.as_str() {
        "classifier" => "classifiers".into(),
        "project_url" => "project_urls".into(),
        _ => f,
    }
}

/// PEP 503's normalised project name.
pub(super) fn normalise(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The version part of a distribution file name (wheel or sdist).
fn file_version(file: &str) -> Option<&str> {
    if let Some(stem) = file.strip_suffix(".whl") {
        return stem.split('-').nth(1);
    }
    let stem = [".tar.gz", ".zip", ".tar.bz2", ".tgz"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))?;
    stem.rsplit_once('-').map(|(_, v)| v)
}

/// The client of one PyPI-compatible registry.
#[derive(Debug)]
pub(super) struct Pypi<'a> {
    registry: &'a Registry,
    http: Http,
}

impl<'a> Pypi<'a> {
    pub(super) fn new(registry: &'a Registry) -> Pypi<'a> {
        Pypi {
            registry,
            http: Http::new(&registry.name),
        }
    }

    /// The digest of a file the index lists without one: fetched and hashed.
    fn fetch_digest(&self, url: &str) -> Result<String, PublishError> {
        let r = self
            .http
            .request(Request::get(url), self.registry.auth.as_ref())?;
        if r.status != 200 {
            return Err(self.http.refused(url, r.status));
        }
        Ok(crate::hash::Sha256::digest(&r.body).to_hex())
    }

    fn form(&self, item: &Item, meta: &Metadata) -> Result<Vec<u8>, PublishError> {
        let (filetype, pyversion) = if item.file.ends_with(".whl") {
            let tag = item.file.trim_end_matches(".whl").rsplit('-').nth(2);
            ("bdist_wheel", tag.unwrap_or("py3").to_string())
        } else {
            ("sdist", "source".to_string())
        };
        let mut fields: Vec<(String, String)> = vec![
            (":action".into(), "file_upload".into()),
            ("protocol_version".into(), "1".into()),
        ];
        fields.extend(meta.headers.iter().map(|(k, v)| (field_name(k), v.clone())));
        if !meta
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("Description"))
        {
            fields.push(("description".into(), meta.description.clone()));
        }
        fields.push(("filetype".into(), filetype.into()));
        fields.push(("pyversion".into(), pyversion));
        fields.push(("sha256_digest".into(), item.sha256.clone()));
        let content = std::fs::read(&item.path).map_err(|source| PublishError::Io {
            path: item.path.clone(),
            source,
        })?;
        Ok(multipart(&boundary(item), &fields, &item.file, &content))
    }
}

/// A boundary no part contains: it is derived from the file's digest.
fn boundary(item: &Item) -> String {
    format!("kiln-{}", &item.sha256[..32])
}

fn multipart(boundary: &str, fields: &[(String, String)], file: &str, content: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(content.len() + 4096);
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n")
                .as_bytes(),
        );
        b.extend_from_slice(v.as_bytes());
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    b.extend_from_slice(content);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

/// A file of a version as the simple index links it.
#[derive(Debug, Clone)]
pub(super) struct Link {
    pub file: String,
    /// Where it is served (resolved against the index page).
    pub url: String,
    /// The `#sha256=` fragment, lower case (`None`: the index gives none).
    pub sha256: Option<String>,
}

impl Pypi<'_> {
    /// The files the simple index links for `version` of `package`.
    pub(super) fn links(&self, package: &str, version: &str) -> Result<Vec<Link>, PublishError> {
        let url = format!("{}{}/", self.registry.index, normalise(package));
        let r = self
            .http
            .request(Request::get(&url), self.registry.auth.as_ref())?;
        match r.status {
            404 => return Ok(Vec::new()),
            200 => {}
            s => return Err(self.http.refused(&url, s)),
        }
        let page = String::from_utf8_lossy(&r.body[..r.body.len().min(BODY_LIMIT as usize)]);
        let mut out = Vec::new();
        for (href, file) in anchors(&page) {
            if file_version(&file) != Some(version) {
                continue;
            }
            let (link, fragment) = match href.split_once('#') {
                Some((l, f)) => (l, Some(f)),
                None => (href.as_str(), None),
            };
            out.push(Link {
                file,
                url: join(&url, link),
                sha256: fragment
                    .and_then(|f| f.strip_prefix("sha256="))
                    .map(str::to_ascii_lowercase),
            });
        }
        Ok(out)
    }

    /// The registry's HTTP client and credentials (for downloads).
    pub(super) fn http(&self) -> (&Http, Option<&super::model::Auth>) {
        (&self.http, self.registry.auth.as_ref())
    }
}

impl Client for Pypi<'_> {
    fn listing(&self, package: &str, version: &str) -> Result<Vec<RemoteFile>, PublishError> {
        let mut out = Vec::new();
        for l in self.links(package, version)? {
            let digest = match l.sha256 {
                Some(d) => d,
                None => self.fetch_digest(&l.url)?,
            };
            out.push(RemoteFile {
                file: l.file,
                digest,
            });
        }
        Ok(out)
    }

    fn upload(&self, item: &Item) -> Result<Uploaded, PublishError> {
        let meta = metadata(&item.path, &item.file)?;
        let body = self.form(item, &meta)?;
        let content_type = format!("multipart/form-data; boundary={}", boundary(item));
        let url = &self.registry.url;
        let req = Request {
            body: Some((&content_type, &body)),
            ..Request::with(Method::Post, url)
        };
        let r = self.http.request(req, self.registry.auth.as_ref())?;
        match r.status {
            200 | 201 => Ok(Uploaded::Accepted),
            // pypiserver answers 409, pypi.org 400 "File already exists".
            409 => Ok(Uploaded::Exists),
            400 if String::from_utf8_lossy(&r.body).contains("already exists") => {
                Ok(Uploaded::Exists)
            }
            s => Err(self.http.refused(url, s)),
        }
    }
}

/// `(href, text)` of every `<a …>` of a simple index page.
fn anchors(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let lower = page.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower[at..].find("<a ") {
        let start = at + i;
        let Some(close) = lower[start..].find('>') else {
            break;
        };
        let tag = &page[start..start + close];
        let Some(end) = lower[start + close..].find("</a>") else {
            break;
        };
        let text = &page[start + close + 1..start + close + end];
        at = start + close + end + 4;
        // Attribute names are case-insensitive; values are kept as written.
        let href = lower[start..start + close].find("href=").and_then(|h| {
            let rest = &tag[h + 5..];
            let q = rest.chars().next()?;
            if q != '"' && q != '\'' {
                return None;
            }
            rest[1..].split(q).next()
        });
        if let Some(href) = href {
            out.push((unescape(href), unescape(text.trim())));
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `href` resolved against the page at `base` (absolute, rooted or
/// relative with `..`).
fn join(base: &str, href: &str) -> String {
    if href.starts_with("http://") || href.starts_with("https://") {
        return href.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if href.starts_with('/') {
        return format!("{}{href}", &base[..host_end]);
    }
    let dir = &base[host_end..base.rfind('/').map_or(base.len(), |i| i + 1).max(host_end)];
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for seg in href.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            s => parts.push(s),
        }
    }
    format!("{}/{}", &base[..host_end], parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_links_resolve_and_carry_their_digest() {
        let page = "<html><body><a href=\"../../packages/demo-1.0.tar.gz#sha256=AB\">demo-1.0.tar.gz</a><br>\n<A HREF='/p/demo-1.0-py3-none-any.whl'>demo-1.0-py3-none-any.whl</A></body>";
        let a = anchors(page);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].1, "demo-1.0.tar.gz");
        assert_eq!(
            join("http://h:1/simple/demo/", "../../packages/demo-1.0.tar.gz"),
            "http://h:1/packages/demo-1.0.tar.gz"
        );
        assert_eq!(join("http://h:1/simple/demo/", "/p/x"), "http://h:1/p/x");
        assert_eq!(file_version("demo-1.0.tar.gz"), Some("1.0"));
        assert_eq!(
            file_version("demo_x-1.0rc1-py3-none-any.whl"),
            Some("1.0rc1")
        );
        assert_eq!(normalise("Demo_X.y"), "demo-x-y");
    }

    #[test]
    fn metadata_headers_become_twine_fields() {
        let m = parse("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nClassifier: A\nClassifier: B\nRequires-Dist: x\n\nbody\n").unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str()), ("demo", "1.0"));
        let fields: Vec<String> = m.headers.iter().map(|(k, _)| field_name(k)).collect();
        assert_eq!(
            fields,
            [
                "metadata_version",
                "name",
                "version",
                "classifiers",
                "classifiers",
                "requires_dist"
            ]
        );
        assert_eq!(m.description, "body\n");
    }
}
