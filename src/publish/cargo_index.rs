//! Reading a cargo registry's index, as cargo does: a sparse index
//! (`sparse+https://…/`: one HTTP GET per file) or a git index (any other
//! URL: cloned with `git` into a temporary directory). [`IndexReader`]
//! answers the two questions publish and verify ask: which `.crate`
//! digest (`cksum`, the SHA-256 of its bytes) the registry lists for a
//! version ([`IndexReader::cksum`]), and the `.crate` itself, from where
//! the index's `config.json` `dl` says ([`IndexReader::download`]).

use super::error::PublishError;
use super::http::{Http, Request};
use super::model::Auth;

/// The crates.io index, as cargo names it in a dependency's `registry`.
pub(crate) const CRATES_IO_INDEX: &str = "https://github.com/rust-lang/crates.io-index";
/// The crates.io sparse index (cargo's default).
pub(crate) const CRATES_IO_SPARSE: &str = "sparse+https://index.crates.io/";

/// How many times a git index is fetched before giving up.
const GIT_ATTEMPTS: u32 = 3;

/// The index's `config.json`: where `.crate` files are downloaded from
/// and where the Web API is.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct IndexConfig {
    pub dl: String,
    #[serde(default)]
    pub api: Option<String>,
    /// The registry wants the token on every request, downloads included.
    #[serde(default, rename = "auth-required")]
    pub auth_required: bool,
}

/// One line of an index file: one version of a crate.
#[derive(Debug, serde::Deserialize)]
struct Entry {
    vers: String,
    cksum: String,
}

/// How the index is reached.
#[derive(Debug)]
enum Source {
    /// The base URL (without `sparse+`, with a trailing `/`).
    Sparse(String),
    /// A clone of the git index, made on first use.
    Git {
        url: String,
        clone: std::cell::OnceCell<tempfile::TempDir>,
    },
}

/// A reader of one registry's index; a git index is cloned once per
/// reader (make a new reader to see later changes).
#[derive(Debug)]
pub(crate) struct IndexReader<'a> {
    registry: &'a str,
    index: &'a str,
    source: Source,
    http: Http,
    auth: Option<&'a Auth>,
}

impl<'a> IndexReader<'a> {
    /// A reader of `index` (the URL as cargo's configuration spells it) of
    /// registry `registry`; `auth` is sent to a sparse index that asks.
    pub(crate) fn new(registry: &'a str, index: &'a str, auth: Option<&'a Auth>) -> Self {
        let source = match index.strip_prefix("sparse+") {
            Some(u) => Source::Sparse(format!("{}/", u.trim_end_matches('/'))),
            None => Source::Git {
                url: index.to_string(),
                clone: std::cell::OnceCell::new(),
            },
        };
        IndexReader {
            registry,
            index,
            source,
            http: Http::new(registry),
            auth,
        }
    }

    /// The SHA-256 (hex) the index lists for `version` of crate `name`;
    /// `None` when it lists no such version. Versions compare as SemVer
    /// without build metadata, as registries do.
    pub(crate) fn cksum(&self, name: &str, version: &str) -> Result<Option<String>, PublishError> {
        let Some(text) = self.file(&index_path(name))? else {
            return Ok(None);
        };
        let wanted = semver::Version::parse(version).ok().map(without_build);
        for line in String::from_utf8_lossy(&text).lines() {
            if line.trim().is_empty() {
                continue;
            }
            let e: Entry =
                serde_json::from_str(line).map_err(|e| self.bad(name, &e.to_string()))?;
            let same = match (&wanted, semver::Version::parse(&e.vers)) {
                (Some(w), Ok(v)) => *w == without_build(v),
                _ => e.vers == version,
            };
            if same {
                // The registry's text: printed escaped if it ever is.
                return Ok(Some(crate::name::shown(&e.cksum).into_owned()));
            }
        }
        Ok(None)
    }

    /// The index's `config.json`.
    pub(crate) fn config(&self) -> Result<IndexConfig, PublishError> {
        let text = self
            .file("config.json")?
            .ok_or_else(|| self.bad("config.json", "the index has no config.json"))?;
        serde_json::from_slice(&text).map_err(|e| self.bad("config.json", &e.to_string()))
    }

    /// Where the `.crate` of `version` of `name` whose index digest is
    /// `cksum` is downloaded from (`config.json`'s `dl`), and whether the
    /// registry wants the token sent there (`auth-required`).
    pub(crate) fn download_location(
        &self,
        name: &str,
        version: &str,
        cksum: &str,
    ) -> Result<(String, Option<&'a Auth>), PublishError> {
        let config = self.config()?;
        let auth = self.auth.filter(|_| config.auth_required);
        Ok((download_url(&config.dl, name, version, cksum), auth))
    }

    /// A file of the index by its path; `None` when it has none.
    fn file(&self, path: &str) -> Result<Option<Vec<u8>>, PublishError> {
        match &self.source {
            Source::Sparse(base) => {
                let url = format!("{base}{path}");
                let mut r = self.http.request(Request::get(&url), None)?;
                if r.status == 401 && self.auth.is_some() {
                    r = self.http.request(Request::get(&url), self.auth)?;
                }
                match r.status {
                    200 => Ok(Some(r.body)),
                    404 | 410 | 451 => Ok(None),
                    s => Err(self.http.refused(&url, s)),
                }
            }
            Source::Git { url, clone } => {
                if clone.get().is_none() {
                    let _ = clone.set(self.clone_git(url)?);
                }
                let dir = clone.get().expect("cloned above").path().join("index");
                match crate::fsutil::read_regular(&dir.join(path)) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(PublishError::Io {
                        path: dir.join(path),
                        source,
                    }),
                }
            }
        }
    }

    /// A shallow clone of the git index's default branch (at `index/` in
    /// the directory returned), retried with backoff.
    fn clone_git(&self, url: &str) -> Result<tempfile::TempDir, PublishError> {
        let mut delay = std::time::Duration::from_millis(250);
        let mut last = String::new();
        for n in 1..=GIT_ATTEMPTS {
            let dir = tempfile::tempdir().map_err(|source| PublishError::Io {
                path: "(a temporary directory)".into(),
                source,
            })?;
            match crate::source::git::clone_shallow(url, &dir.path().join("index")) {
                Ok(()) => return Ok(dir),
                Err(e) => last = crate::error::chain(&e),
            }
            if n < GIT_ATTEMPTS {
                std::thread::sleep(delay);
                delay *= 2;
            }
        }
        Err(PublishError::Http {
            registry: self.registry.to_string(),
            url: self.index.to_string(),
            message: last,
            attempts: GIT_ATTEMPTS,
        })
    }

    fn bad(&self, file: &str, reason: &str) -> PublishError {
        PublishError::Artifact {
            file: format!("{} index {}", self.index, file),
            reason: reason.to_string(),
        }
    }
}

/// The directory of crate `name`'s file in an index, in the name's own
/// case: `1`, `2`, `3/a`, `ab/cd`.
fn prefix(name: &str) -> String {
    match name.len() {
        1 => "1".into(),
        2 => "2".into(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    }
}

/// The path of crate `name`'s file in an index: `1/a`, `2/ab`, `3/a/abc`,
/// `ab/cd/abcd…` (lower case).
pub(crate) fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    format!("{}/{n}", prefix(&n))
}

/// Where `config.json`'s `dl` puts a `.crate`: its markers replaced, or
/// `/{crate}/{version}/download` appended when it has none.
pub(crate) fn download_url(dl: &str, name: &str, version: &str, cksum: &str) -> String {
    let markers = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !markers.iter().any(|m| dl.contains(m)) {
        return format!("{}/{name}/{version}/download", dl.trim_end_matches('/'));
    }
    dl.replace("{crate}", name)
        .replace("{version}", version)
        .replace("{prefix}", &prefix(name))
        .replace("{lowerprefix}", &prefix(&name.to_ascii_lowercase()))
        .replace("{sha256-checksum}", cksum)
}

fn without_build(mut v: semver::Version) -> semver::Version {
    v.build = semver::BuildMetadata::EMPTY;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_and_download_urls_are_cargos() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("Abc"), "3/a/abc");
        assert_eq!(index_path("mini-core"), "mi/ni/mini-core");
        assert_eq!(
            download_url("http://h/dl", "mini-core", "1.0.0", "ff"),
            "http://h/dl/mini-core/1.0.0/download"
        );
        assert_eq!(
            download_url(
                "http://h/{prefix}/{lowerprefix}/{crate}-{version}-{sha256-checksum}",
                "MiNi",
                "1.0.0",
                "ff"
            ),
            "http://h/Mi/Ni/mi/ni/MiNi-1.0.0-ff"
        );
    }
}
