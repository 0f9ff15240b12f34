//! The one place `kiln publish` reads what a surface recorded on an
//! artifact beyond its name and digest (today `Artifact.extra`; when that
//! map becomes typed, only this file changes).

use crate::surface::Artifact;

/// What an image layout artifact says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// The top descriptor's digest (`sha256:…`): a manifest or an index.
    pub manifest_digest: String,
    /// The recipe's `[oci] repository`.
    pub repository: String,
    /// Its tags, the version's own first.
    pub tags: Vec<String>,
}

/// The facts of an OCI layout artifact; `None` for any other artifact.
pub fn image(a: &Artifact) -> Option<ImageFacts> {
    if !a.directory {
        return None;
    }
    let s = |k: &str| a.extra.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let tags = a
        .extra
        .get("tags")?
        .as_array()?
        .iter()
        .map(|t| t.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()?;
    Some(ImageFacts {
        manifest_digest: s("manifest_digest")?,
        repository: s("repository")?,
        tags,
    })
}

/// What an npm tarball artifact says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmFacts {
    /// `name` and `version` of its `package.json`.
    pub name: String,
    pub version: String,
    /// `sha512-…` of the tarball, and its SHA-1 (hex), as npm records them.
    pub integrity: String,
    pub shasum: String,
    /// The dist-tag the version engine gives this version.
    pub dist_tag: String,
}

/// The facts of an npm tarball artifact; `None` for any other artifact.
pub fn npm(a: &Artifact) -> Option<NpmFacts> {
    let s = |k: &str| a.extra.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Some(NpmFacts {
        name: s("npm_name")?,
        version: s("npm_version")?,
        integrity: s("integrity")?,
        shasum: s("shasum")?,
        dist_tag: s("dist_tag")?,
    })
}
