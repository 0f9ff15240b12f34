//! The version policy engine: one canonical version, many spellings.
//!
//! A project has one canonical version, read from the place the release
//! policy names (`recipes/release.toml` `[version] source`), in one scheme:
//! SemVer 2.0 (default) or PEP 440. Everything else is derived from it:
//!
//! ```
//! use kiln::version::{Scheme, Version};
//! let v = Version::parse(Scheme::SemVer, "0.2.0-rc.1").unwrap();
//! assert_eq!(v.pep440().unwrap().to_string(), "0.2.0rc1");
//! ```
//!
//! - [`pep440`]: PEP 440 parsing, normalisation and order;
//! - [`convert`]: SemVer ⇄ PEP 440, faithfully or an error;
//! - [`tag`]: tag templates and tag checks;
//! - [`dev`]: dev-build templates (`{version}-{commit}`…);
//! - [`bump`]: poetry's bump rules;
//! - [`channels`]: OCI tag spelling, alias tags, npm dist-tags;
//! - [`source`]: reading the version out of manifest text;
//! - [`resolve`]: the version of one build (release or dev) and its
//!   per-target renderings — the entry point for the build engine.
//!
//! Only [`resolve`] touches the file system or git; the rest is pure.

pub mod bump;
pub(crate) mod canonical;
pub(crate) mod channels;
pub mod convert;
pub mod dev;
pub(crate) mod error;
pub(crate) mod pattern;
pub mod pep440;
pub mod policy;
pub(crate) mod resolve;
pub(crate) mod reuse;
pub(crate) mod scheme;
pub(crate) mod source;
pub(crate) mod tag;
mod tag_check;

use std::fmt;

pub use bump::BumpRule;
pub use error::{VersionError, VersionParseError};
pub use resolve::{resolve, BuildStatus, Overrides, ResolvedVersion};
pub use scheme::{Scheme, Target};

use convert::ConvertError;
use pep440::Pep440;

/// A canonical version: SemVer or PEP 440, printed in normalised form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Version {
    SemVer(semver::Version),
    Pep440(Pep440),
}

/// The longest version kiln accepts, in bytes, in any spelling (a
/// rendered dev version too). Every version becomes an OCI tag, which the
/// OCI distribution specification caps at 128 characters; PyPI, npm and
/// crates.io versions in practice stay far below it. It leaves room for the
/// package name and suffix in a file name of at most
/// [`crate::name::MAX_NAME_BYTES`]: a 10,000-byte pre-release would
/// otherwise fail only when `dist/` is written ("File name too long").
pub const MAX_VERSION_BYTES: usize = 128;

/// Why `s` is too long to be a version, if it is.
pub(crate) fn too_long(s: &str) -> Option<String> {
    (s.len() > MAX_VERSION_BYTES).then(|| {
        format!(
            "it is {} bytes long; a version is at most {MAX_VERSION_BYTES} bytes",
            s.len()
        )
    })
}

/// `s` for a message: whole when short, else its start and its length, so a
/// 10,000-byte value does not flood the terminal.
pub(crate) fn abbreviated(s: &str) -> String {
    const SHOWN: usize = 40;
    if s.len() <= MAX_VERSION_BYTES {
        return s.to_string();
    }
    let mut end = SHOWN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

impl Version {
    /// Parses `s` strictly in `scheme` (SemVer: exactly the grammar of
    /// semver.org; PEP 440: any spelling PEP 440 accepts).
    pub fn parse(scheme: Scheme, s: &str) -> Result<Version, VersionParseError> {
        let err = |reason: String| VersionParseError {
            value: abbreviated(s),
            scheme,
            reason,
        };
        if let Some(reason) = too_long(s) {
            return Err(err(reason));
        }
        match scheme {
            Scheme::SemVer => semver::Version::parse(s)
                .map(Version::SemVer)
                .map_err(|e| err(e.to_string())),
            Scheme::Pep440 => s
                .parse::<Pep440>()
                .map(Version::Pep440)
                .map_err(|e| err(e.reason)),
        }
    }

    /// The inverse of the spellings: the canonical version (in `scheme`)
    /// that `target` spells `s` (`0.3.0rc1` on PyPI is SemVer `0.3.0-rc.1`;
    /// `3.1.0_abc` as an OCI tag is `3.1.0+abc`). An OCI image's version
    /// annotation, which keeps the `+`, is read as well.
    pub fn from_spelling(target: Target, s: &str, scheme: Scheme) -> Result<Version, VersionError> {
        let (native, text) = match target {
            Target::Cargo | Target::Npm => (Scheme::SemVer, s.to_string()),
            Target::Pypi => (Scheme::Pep440, s.to_string()),
            Target::Oci => (scheme, s.replace('_', "+")),
            Target::Plain => (scheme, s.to_string()),
        };
        let v = Version::parse(native, &text).map_err(|source| VersionError::Parse {
            origin: format!("the {target} spelling"),
            source,
        })?;
        Ok(v.to_scheme(scheme)?)
    }

    pub fn scheme(&self) -> Scheme {
        match self {
            Version::SemVer(_) => Scheme::SemVer,
            Version::Pep440(_) => Scheme::Pep440,
        }
    }

    /// The SemVer spelling (cargo, npm).
    pub fn semver(&self) -> Result<semver::Version, ConvertError> {
        match self {
            Version::SemVer(v) => Ok(v.clone()),
            Version::Pep440(v) => convert::pep440_to_semver(v),
        }
    }

    /// The PEP 440 spelling (PyPI).
    pub fn pep440(&self) -> Result<Pep440, ConvertError> {
        match self {
            Version::SemVer(v) => convert::semver_to_pep440(v),
            Version::Pep440(v) => Ok(v.clone()),
        }
    }

    /// The same version in another scheme.
    pub fn to_scheme(&self, scheme: Scheme) -> Result<Version, ConvertError> {
        Ok(match scheme {
            Scheme::SemVer => Version::SemVer(self.semver()?),
            Scheme::Pep440 => Version::Pep440(self.pep440()?),
        })
    }

    /// A pre-release in its own scheme (SemVer: any pre-release identifier;
    /// PEP 440: a pre- or dev-release segment).
    pub fn is_prerelease(&self) -> bool {
        match self {
            Version::SemVer(v) => !v.pre.is_empty(),
            Version::Pep440(v) => v.is_prerelease(),
        }
    }

    /// A post release (`.postN`, SemVer `-post.N`): published as images only.
    pub fn is_post(&self) -> bool {
        self.pep440().map(|p| p.post.is_some()).unwrap_or(false)
    }

    /// The release a post release re-issues: `3.1.0.post1` → `3.1.0`, in
    /// the same scheme. `None` for a version that is not a post release.
    pub fn post_base(&self) -> Option<Version> {
        if !self.is_post() {
            return None;
        }
        let mut p = self.pep440().ok()?;
        p.post = None;
        Version::Pep440(p).to_scheme(self.scheme()).ok()
    }

    /// Major, minor and patch numbers.
    pub fn triple(&self) -> (u64, u64, u64) {
        match self {
            Version::SemVer(v) => (v.major, v.minor, v.patch),
            Version::Pep440(v) => (v.release_part(0), v.release_part(1), v.release_part(2)),
        }
    }

    /// Applies a poetry bump rule, keeping the scheme.
    pub fn bump(&self, rule: BumpRule) -> Result<Version, VersionError> {
        let p = self.pep440()?;
        let bumped = bump::bump_pep440(&p, rule)?;
        Ok(Version::Pep440(bumped).to_scheme(self.scheme())?)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::SemVer(v) => v.fmt(f),
            Version::Pep440(v) => v.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_map_back_to_the_canonical_version() {
        for (target, spelled, scheme, canonical) in [
            (Target::Pypi, "0.3.0rc1", Scheme::SemVer, "0.3.0-rc.1"),
            (Target::Pypi, "1.2.3.post1", Scheme::SemVer, "1.2.3-post.1"),
            (Target::Pypi, "1.2.3.dev3", Scheme::SemVer, "1.2.3-0.dev.3"),
            (Target::Pypi, "1.2.3+abc", Scheme::SemVer, "1.2.3+abc"),
            (Target::Npm, "0.3.0-rc.1", Scheme::Pep440, "0.3.0rc1"),
            (Target::Cargo, "0.3.0-rc.1", Scheme::SemVer, "0.3.0-rc.1"),
            (Target::Oci, "1.2.3_abc", Scheme::SemVer, "1.2.3+abc"),
            (Target::Oci, "3.1.0.post1", Scheme::Pep440, "3.1.0.post1"),
        ] {
            let v = Version::from_spelling(target, spelled, scheme).unwrap();
            assert_eq!(v.to_string(), canonical, "{target} {spelled}");
        }
        assert!(Version::from_spelling(Target::Cargo, "0.3.0rc1", Scheme::SemVer).is_err());
    }

    #[test]
    fn long_versions_are_refused_with_their_length() {
        let long = format!("1.0.0-{}", "a".repeat(10_000));
        let e = Version::parse(Scheme::SemVer, &long).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("10006 bytes long") && msg.contains("at most 128"),
            "{msg}"
        );
        assert!(msg.len() < 300, "{msg}");
        let ok = format!("1.0.0-{}", "a".repeat(122));
        assert!(Version::parse(Scheme::SemVer, &ok).is_ok());
    }
}
