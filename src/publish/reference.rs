//! A reference to an artifact on a registry, as `kiln verify` takes it:
//! `pypi:NAME==VERSION`, `npm:NAME@VERSION`, `crate:NAME@VERSION`,
//! `oci:HOST/REPO:TAG` or `oci:HOST/REPO@sha256:HEX`. Every part is
//! checked against its ecosystem's grammar (a conservative subset) before
//! anything is fetched; a part that is not is refused, shown escaped.

use crate::name::shown;

/// Which image an `oci:` reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImageRef {
    Tag(String),
    /// `sha256:<hex>`.
    Digest(String),
}

/// A parsed registry reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegistryRef {
    Pypi {
        name: String,
        version: String,
    },
    Npm {
        name: String,
        version: String,
    },
    Crate {
        name: String,
        version: String,
    },
    Oci {
        host: String,
        repo: String,
        image: ImageRef,
    },
}

/// Why a reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("registry reference {}: {reason}", shown(reference))]
pub(crate) struct BadReference {
    pub reference: String,
    pub reason: String,
}

impl crate::error::Classify for BadReference {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

/// The prefixes that make an argument a registry reference.
pub(crate) const PREFIXES: [&str; 4] = ["pypi:", "npm:", "crate:", "oci:"];

/// Whether `arg` is meant as a registry reference (it starts with one of
/// [`PREFIXES`]); a local file of such a name is written `./NAME`.
pub(crate) fn is_reference(arg: &str) -> bool {
    PREFIXES.iter().any(|p| arg.starts_with(p))
}

impl std::fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryRef::Pypi { name, version } => write!(f, "pypi:{name}=={version}"),
            RegistryRef::Npm { name, version } => write!(f, "npm:{name}@{version}"),
            RegistryRef::Crate { name, version } => write!(f, "crate:{name}@{version}"),
            RegistryRef::Oci { host, repo, image } => match image {
                ImageRef::Tag(t) => write!(f, "oci:{host}/{repo}:{t}"),
                ImageRef::Digest(d) => write!(f, "oci:{host}/{repo}@{d}"),
            },
        }
    }
}

fn chars_ok(s: &str, max: usize, ok: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(ok)
}

/// A version as the four ecosystems spell a release (PEP 440, semver, OCI
/// tags are checked separately): letters, digits, `.+-_!`.
fn version_ok(v: &str) -> bool {
    chars_ok(v, 128, |b| {
        b.is_ascii_alphanumeric() || b".+-_!".contains(&b)
    }) && v.as_bytes()[0].is_ascii_alphanumeric()
}

/// PEP 508 project names.
fn pypi_name_ok(n: &str) -> bool {
    chars_ok(n, 128, |b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.as_bytes()[n.len() - 1].is_ascii_alphanumeric()
}

/// npm package names: `[@scope/]name`, lower case, URL-safe.
fn npm_name_ok(n: &str) -> bool {
    let part = |p: &str| {
        chars_ok(p, 214, |b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b)
        }) && !p.starts_with(['.', '_'])
    };
    match n.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(s, p)| part(s) && part(p)),
        None => part(n) && n.len() <= 214,
    }
}

/// crates.io names.
fn crate_name_ok(n: &str) -> bool {
    chars_ok(n, 64, |b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
        && n.as_bytes()[0].is_ascii_alphabetic()
}

/// A registry host, with an optional port.
fn host_ok(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    chars_ok(name, 253, |b| {
        b.is_ascii_alphanumeric() || b".-".contains(&b)
    }) && port.is_none_or(|p| chars_ok(p, 5, |b| b.is_ascii_digit()))
}

/// The distribution spec's repository names: `/`-separated components of
/// `[a-z0-9]+` joined by `.`, `_`, `__` or `-`.
fn repo_ok(r: &str) -> bool {
    r.len() <= 255
        && r.split('/').all(|c| {
            chars_ok(c, 255, |b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
            }) && c.as_bytes()[0].is_ascii_alphanumeric()
                && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        })
}

fn tag_ok(t: &str) -> bool {
    chars_ok(t, 128, |b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && (t.as_bytes()[0].is_ascii_alphanumeric() || t.starts_with('_'))
}

fn digest_ok(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl std::str::FromStr for RegistryRef {
    type Err = BadReference;

    fn from_str(s: &str) -> Result<RegistryRef, BadReference> {
        let bad = |reason: &str| BadReference {
            reference: s.to_string(),
            reason: reason.to_string(),
        };
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("expected pypi:, npm:, crate: or oci:"))?;
        let named = |sep: &str, name_ok: fn(&str) -> bool, what: &str| {
            let (name, version) = rest
                .rsplit_once(sep)
                .filter(|(n, _)| !n.is_empty())
                .ok_or_else(|| bad(&format!("expected {kind}:NAME{sep}VERSION")))?;
            if !name_ok(name) {
                return Err(bad(&format!("{} is not a {what} name", shown(name))));
            }
            if !version_ok(version) {
                return Err(bad(&format!("{} is not a version", shown(version))));
            }
            Ok((name.to_string(), version.to_string()))
        };
        match kind {
            "pypi" => named("==", pypi_name_ok, "PyPI project")
                .map(|(name, version)| RegistryRef::Pypi { name, version }),
            "npm" => named("@", npm_name_ok, "npm package")
                .map(|(name, version)| RegistryRef::Npm { name, version }),
            "crate" => named("@", crate_name_ok, "crate")
                .map(|(name, version)| RegistryRef::Crate { name, version }),
            "oci" => parse_oci(rest).map_err(|r| bad(&r)),
            _ => Err(bad("expected pypi:, npm:, crate: or oci:")),
        }
    }
}

/// `HOST/REPO:TAG` or `HOST/REPO@sha256:HEX`.
fn parse_oci(rest: &str) -> Result<RegistryRef, String> {
    let (host, path) = rest
        .split_once('/')
        .ok_or("expected oci:HOST/REPO:TAG or oci:HOST/REPO@sha256:…")?;
    if !host_ok(host) {
        return Err(format!("{} is not a registry host", shown(host)));
    }
    let (repo, image) = if let Some((repo, digest)) = path.split_once('@') {
        if !digest_ok(digest) {
            return Err(format!("{} is not a sha256 digest", shown(digest)));
        }
        (repo, ImageRef::Digest(digest.to_string()))
    } else {
        let (repo, tag) = path
            .rsplit_once(':')
            .ok_or("expected a tag (REPO:TAG) or a digest (REPO@sha256:…)")?;
        if !tag_ok(tag) {
            return Err(format!("{} is not an image tag", shown(tag)));
        }
        (repo, ImageRef::Tag(tag.to_string()))
    };
    if !repo_ok(repo) {
        return Err(format!("{} is not a repository name", shown(repo)));
    }
    Ok(RegistryRef::Oci {
        host: host.to_string(),
        repo: repo.to_string(),
        image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_print_back() {
        for s in [
            "pypi:mini-flow==0.3.0rc1",
            "npm:@mini/flow@0.3.0-rc.1",
            "npm:left-pad@1.0.0",
            "crate:mini_core@0.3.0",
            "oci:127.0.0.1:5000/mini-docs:1.0.0",
            "oci:ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            let r: RegistryRef = s.parse().unwrap();
            assert_eq!(r.to_string(), s);
        }
        let r: RegistryRef = "npm:@mini/flow@1.0.0".parse().unwrap();
        assert_eq!(
            r,
            RegistryRef::Npm {
                name: "@mini/flow".into(),
                version: "1.0.0".into()
            }
        );
    }

    #[test]
    fn bad_references_are_refused_and_shown_escaped() {
        for s in [
            "pypi:mini",
            "pypi:../x==1",
            "pypi:x==1/../../y",
            "npm:Upper@1",
            "npm:@scope@1",
            "crate:9x@1",
            "oci:host/Repo:1",
            "oci:host/repo",
            "oci:host/repo@sha256:12",
            "oci:ho st/repo:1",
            "oci:host/repo:-x",
            "conda:x==1",
            "pypi:x\u{1b}[31m==1",
        ] {
            let e = s.parse::<RegistryRef>().unwrap_err();
            assert!(!e.to_string().contains('\u{1b}'), "{e}");
        }
    }
}
