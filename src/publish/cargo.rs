//! Cargo registries as `cargo publish` talks to them: the read API is the
//! index ([`super::cargo_index`]: a version's `cksum`, the SHA-256 of its
//! `.crate`); an upload is `PUT {api}/api/v1/crates/new` of a u32-LE
//! length, the JSON metadata cargo sends (built from the `.crate`'s own
//! normalised `Cargo.toml`, [`new_crate`]), a u32-LE length and the exact
//! `.crate` bytes, with the token as the whole `Authorization` header.

use std::collections::BTreeMap;
use std::io::Read as _;

use serde::{Deserialize, Serialize};

use super::cargo_index::{IndexReader, CRATES_IO_INDEX, CRATES_IO_SPARSE};
use super::error::PublishError;
use super::http::{Http, Method, Request};
use super::model::{Client, Item, Registry, RemoteFile, Uploaded};

/// The largest `Cargo.toml` or README read from a `.crate`.
const MEMBER_LIMIT: u64 = 10 << 20;

/// The client of one cargo registry.
#[derive(Debug)]
pub(super) struct Cargo<'a> {
    registry: &'a Registry,
    http: Http,
}

impl<'a> Cargo<'a> {
    pub(super) fn new(registry: &'a Registry) -> Cargo<'a> {
        Cargo {
            registry,
            http: Http::new(&registry.name),
        }
    }

    /// A fresh reader of the registry's index (a git index is cloned
    /// anew: what an upload just added is seen).
    pub(super) fn reader(&self) -> IndexReader<'_> {
        IndexReader::new(
            &self.registry.name,
            &self.registry.index,
            self.registry.auth.as_ref(),
        )
    }
}

impl Client for Cargo<'_> {
    fn listing(&self, name: &str, version: &str) -> Result<Vec<RemoteFile>, PublishError> {
        Ok(self
            .reader()
            .cksum(name, version)?
            .map(|digest| RemoteFile {
                file: version.to_string(),
                digest,
            })
            .into_iter()
            .collect())
    }

    fn upload(&self, item: &Item) -> Result<Uploaded, PublishError> {
        let bytes = crate::fsutil::read_regular(&item.path).map_err(|source| PublishError::Io {
            path: item.path.clone(),
            source,
        })?;
        let meta = new_crate(&bytes, &item.file, &self.registry.index)?;
        let json = serde_json::to_vec(&meta).expect("JSON serialises");
        let mut body = Vec::with_capacity(json.len() + bytes.len() + 8);
        for part in [&json, &bytes] {
            let len = u32::try_from(part.len()).map_err(|_| PublishError::Artifact {
                file: item.file.clone(),
                reason: "is larger than the Web API takes (4 GiB)".into(),
            })?;
            body.extend_from_slice(&len.to_le_bytes());
            body.extend_from_slice(part);
        }
        let config = self.reader().config()?;
        let api = config.api.ok_or_else(|| PublishError::Refused {
            registry: self.registry.name.clone(),
            url: self.registry.index.clone(),
            status: 0,
            reason: "the index's config.json has no `api`: the registry takes no uploads".into(),
        })?;
        let url = format!("{}/api/v1/crates/new", api.trim_end_matches('/'));
        let req = Request {
            accept: Some("application/json"),
            body: Some(("application/octet-stream", &body)),
            ..Request::with(Method::Put, &url)
        };
        let r = self.http.request(req, self.registry.auth.as_ref())?;
        // A registry's `errors` (ktra and older crates.io answer 200 with
        // them): the version may exist already; the caller looks.
        let errors = serde_json::from_slice::<Answer>(&r.body).is_ok_and(|a| !a.errors.is_empty());
        match r.status {
            200 | 201 if !errors => Ok(Uploaded::Accepted),
            200 | 201 | 400 | 409 | 422 => Ok(Uploaded::Exists),
            s => Err(self.http.refused(&url, s)),
        }
    }
}

/// A Web API answer, as far as it matters: whether it carries `errors`
/// (their text is the registry's and never quoted).
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    errors: Vec<serde::de::IgnoredAny>,
}

/// The metadata `cargo publish` sends (cargo's `NewCrate`).
#[derive(Debug, Serialize)]
pub(super) struct NewCrate {
    name: String,
    vers: String,
    deps: Vec<NewDep>,
    features: BTreeMap<String, Vec<String>>,
    authors: Vec<String>,
    description: Option<String>,
    documentation: Option<String>,
    homepage: Option<String>,
    readme: Option<String>,
    readme_file: Option<String>,
    keywords: Vec<String>,
    categories: Vec<String>,
    license: Option<String>,
    license_file: Option<String>,
    repository: Option<String>,
    badges: BTreeMap<String, BTreeMap<String, String>>,
    links: Option<String>,
    rust_version: Option<String>,
}

/// One dependency as cargo sends it (`NewCrateDependency`).
#[derive(Debug, Serialize)]
struct NewDep {
    optional: bool,
    default_features: bool,
    name: String,
    features: Vec<String>,
    version_req: String,
    target: Option<String>,
    kind: &'static str,
    /// The index of the registry it comes from; `None`: the one published to.
    registry: Option<String>,
    explicit_name_in_toml: Option<String>,
}

/// The normalised `Cargo.toml` cargo writes into a `.crate`.
#[derive(Debug, Deserialize)]
struct Manifest {
    package: Package,
    #[serde(flatten)]
    deps: DepTables,
    #[serde(default)]
    target: BTreeMap<String, DepTables>,
    #[serde(default)]
    features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    badges: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
struct DepTables {
    #[serde(default)]
    dependencies: BTreeMap<String, Dep>,
    #[serde(default, rename = "dev-dependencies")]
    dev: BTreeMap<String, Dep>,
    #[serde(default, rename = "build-dependencies")]
    build: BTreeMap<String, Dep>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Dep {
    Version(String),
    Detail(DepDetail),
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct DepDetail {
    version: Option<String>,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    optional: bool,
    default_features: Option<bool>,
    package: Option<String>,
    registry_index: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Package {
    name: String,
    version: String,
    #[serde(default)]
    authors: Vec<String>,
    description: Option<String>,
    documentation: Option<String>,
    homepage: Option<String>,
    readme: Option<Readme>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    license: Option<String>,
    license_file: Option<String>,
    repository: Option<String>,
    links: Option<String>,
    rust_version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Readme {
    Path(String),
    #[allow(dead_code)]
    Off(bool),
}

/// The metadata of the `.crate` `bytes` (dist name `file`) for a registry
/// whose index is `index`: its normalised `Cargo.toml` and README, as
/// cargo's `transmit` reads them from the package.
pub(super) fn new_crate(bytes: &[u8], file: &str, index: &str) -> Result<NewCrate, PublishError> {
    let bad = |reason: String| PublishError::Artifact {
        file: file.to_string(),
        reason,
    };
    let members = crate_members(bytes, file)?;
    let (root, toml) = members
        .iter()
        .find(|(p, _)| p.matches('/').count() == 1 && p.ends_with("/Cargo.toml"))
        .map(|(p, b)| (p.trim_end_matches("Cargo.toml").to_string(), b))
        .ok_or_else(|| bad("has no <name>-<version>/Cargo.toml".into()))?;
    let text = std::str::from_utf8(toml).map_err(|_| bad("Cargo.toml is not UTF-8".into()))?;
    let m: Manifest =
        toml_edit::de::from_str(text).map_err(|e| bad(format!("Cargo.toml: {}", e.message())))?;
    let mut deps = Vec::new();
    push_deps(&mut deps, &m.deps, None, index)?;
    for (platform, tables) in &m.target {
        push_deps(&mut deps, tables, Some(platform), index)?;
    }
    let p = m.package;
    let readme_file = match p.readme {
        Some(Readme::Path(f)) => Some(f),
        _ => None,
    };
    let readme = readme_file.as_ref().and_then(|f| {
        let want = format!("{root}{}", f.trim_start_matches("./"));
        members
            .iter()
            .find(|(p, _)| *p == want)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
    });
    Ok(NewCrate {
        name: p.name,
        vers: p.version,
        deps,
        features: m.features,
        authors: p.authors,
        description: p.description,
        documentation: p.documentation,
        homepage: p.homepage,
        readme,
        readme_file,
        keywords: p.keywords,
        categories: p.categories,
        license: p.license,
        license_file: p.license_file,
        repository: p.repository,
        badges: m.badges,
        links: p.links,
        rust_version: p.rust_version,
    })
}

/// The dependencies of one set of tables (`target`: their platform).
fn push_deps(
    out: &mut Vec<NewDep>,
    tables: &DepTables,
    target: Option<&String>,
    index: &str,
) -> Result<(), PublishError> {
    for (kind, table) in [
        ("normal", &tables.dependencies),
        ("build", &tables.build),
        ("dev", &tables.dev),
    ] {
        for (key, dep) in table {
            let d = match dep {
                Dep::Version(v) => DepDetail {
                    version: Some(v.clone()),
                    ..DepDetail::default()
                },
                Dep::Detail(d) => DepDetail {
                    version: d.version.clone(),
                    features: d.features.clone(),
                    optional: d.optional,
                    default_features: d.default_features,
                    package: d.package.clone(),
                    registry_index: d.registry_index.clone(),
                },
            };
            let from = d.registry_index.as_deref().unwrap_or(CRATES_IO_INDEX);
            // cargo sends the requirement as semver prints it (`^1.2`).
            let version_req = match &d.version {
                Some(v) => {
                    semver::VersionReq::parse(v).map_or_else(|_| v.clone(), |r| r.to_string())
                }
                None => "*".into(),
            };
            out.push(NewDep {
                optional: d.optional,
                default_features: d.default_features.unwrap_or(true),
                name: d.package.clone().unwrap_or_else(|| key.clone()),
                features: d.features,
                version_req,
                target: target.cloned(),
                kind,
                registry: (!same_registry(from, index)).then(|| from.to_string()),
                explicit_name_in_toml: d.package.is_some().then(|| key.clone()),
            });
        }
    }
    Ok(())
}

/// Whether two index URLs name one registry (crates.io's git and sparse
/// indexes are one).
fn same_registry(a: &str, b: &str) -> bool {
    let canon = |u: &str| {
        let u = u.trim_end_matches('/');
        if u == CRATES_IO_SPARSE.trim_end_matches('/') {
            CRATES_IO_INDEX.to_string()
        } else {
            u.to_string()
        }
    };
    canon(a) == canon(b)
}

/// The `.crate`'s regular members of at most [`MEMBER_LIMIT`] bytes
/// (its `Cargo.toml`, its README), by path.
fn crate_members(bytes: &[u8], file: &str) -> Result<Vec<(String, Vec<u8>)>, PublishError> {
    let bad = |e: std::io::Error| PublishError::Artifact {
        file: file.to_string(),
        reason: e.to_string(),
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = Vec::new();
    for entry in tar.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() || entry.size() > MEMBER_LIMIT {
            continue;
        }
        let path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry
            .take(MEMBER_LIMIT)
            .read_to_end(&mut data)
            .map_err(bad)?;
        out.push((path, data));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crates_io_dependency_names_its_registry_unless_published_there() {
        assert!(same_registry(CRATES_IO_INDEX, CRATES_IO_SPARSE));
        assert!(same_registry("file:///x/", "file:///x"));
        assert!(!same_registry(CRATES_IO_INDEX, "file:///x"));
    }
}
