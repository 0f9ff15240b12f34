//! Tag templates: `{version}`, `v{version}`, `version/{version}`.
//!
//! A template is a literal prefix, the placeholder `{version}` exactly once,
//! and a literal suffix. A tag is *well-formed* when it carries the prefix and
//! suffix and the middle is the canonical scheme's version in its normalised
//! spelling — so `v1.2.3` under `{version}`, `1.2`, `01.2.3` and `1.2.3-01` are
//! all malformed, whichever scheme.

use std::fmt;
use std::str::FromStr;

use super::error::MalformedTag;
use super::scheme::Scheme;
use super::Version;

/// A parsed tag template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagTemplate {
    prefix: String,
    suffix: String,
}

/// A template that is not `<prefix>{version}<suffix>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tag template {template:?} {reason}")]
pub struct TemplateError {
    pub template: String,
    pub reason: String,
}

impl crate::error::Classify for TemplateError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

impl FromStr for TagTemplate {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<TagTemplate, TemplateError> {
        let err = |reason: &str| TemplateError {
            template: s.to_string(),
            reason: reason.to_string(),
        };
        let (prefix, suffix) = s
            .split_once("{version}")
            .ok_or_else(|| err("must contain `{version}`"))?;
        if suffix.contains("{version}") {
            return Err(err("must contain `{version}` only once"));
        }
        if [prefix, suffix].iter().any(|p| p.contains(['{', '}'])) {
            return Err(err("may use no placeholder other than `{version}`"));
        }
        if [prefix, suffix].iter().any(|p| {
            p.chars()
                .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c))
        }) {
            return Err(err("contains characters git does not allow in tag names"));
        }
        Ok(TagTemplate {
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
        })
    }
}

impl fmt::Display for TagTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{{version}}{}", self.prefix, self.suffix)
    }
}

/// The local label of `p`, without its `+`.
fn local_label(p: &super::pep440::Pep440) -> String {
    let parts: Vec<String> = p.local.iter().map(ToString::to_string).collect();
    parts.join(".")
}

impl TagTemplate {
    /// The tag naming `version`.
    pub fn render(&self, version: &Version) -> String {
        format!("{}{version}{}", self.prefix, self.suffix)
    }

    /// The version a tag names, if the tag is well-formed.
    pub fn parse_tag(&self, tag: &str, scheme: Scheme) -> Result<Version, MalformedTag> {
        let example = match scheme {
            Scheme::SemVer => ["1.2.3", "1.2.3-rc.1"],
            Scheme::Pep440 => ["1.2.3", "1.2.3rc1"],
        }
        .map(|v| format!("{}{v}{}", self.prefix, self.suffix))
        .join(" or ");
        let err = |reason: String| MalformedTag {
            tag: super::abbreviated(tag),
            reason,
            expected: format!("{self} with a {} version", scheme.name()),
            example: example.clone(),
        };
        let middle = tag
            .strip_prefix(&self.prefix)
            .ok_or_else(|| err(format!("it does not start with {:?}", self.prefix)))?
            .strip_suffix(&self.suffix)
            .ok_or_else(|| err(format!("it does not end with {:?}", self.suffix)))?;
        let v = Version::parse(scheme, middle).map_err(|e| err(e.reason))?;
        if v.to_string() != middle {
            return Err(err(format!(
                "{middle:?} is not in normalised form (that would be {})",
                self.render(&v)
            )));
        }
        if let Some(reason) = self.not_release_form(&v) {
            return Err(err(reason));
        }
        Ok(v)
    }

    /// Why `v` is not spelled in the full release form a release tag must
    /// use (`Major.Minor.Patch[pre][.postN][.devN]`: three release numbers,
    /// no epoch, no local version or build metadata), with the tag it
    /// would be.
    fn not_release_form(&self, v: &Version) -> Option<String> {
        let (what, fixed) = match v {
            Version::SemVer(s) if !s.build.is_empty() => {
                let mut f = s.clone();
                f.build = semver::BuildMetadata::EMPTY;
                (format!("build metadata `+{}`", s.build), Version::SemVer(f))
            }
            Version::SemVer(_) => return None,
            Version::Pep440(p) => {
                let mut f = p.clone();
                f.epoch = 0;
                f.local.clear();
                f.release.resize(f.release.len().max(3), 0);
                let what = if p.release.len() > 3 {
                    return Some(format!(
                        "{v} has {} release numbers; a release tag names Major.Minor.Patch",
                        p.release.len()
                    ));
                } else if p.epoch != 0 {
                    format!("an epoch `{}!`", p.epoch)
                } else if !p.local.is_empty() {
                    format!("a local version `+{}`", local_label(p))
                } else if p.release.len() < 3 {
                    format!(
                        "only {} release number(s), not Major.Minor.Patch",
                        p.release.len()
                    )
                } else {
                    return None;
                };
                (what, Version::Pep440(f))
            }
        };
        Some(format!(
            "a release tag names the full release form, and {v} has {what} (that would be {})",
            self.render(&fixed)
        ))
    }

    /// Whether `tag` looks like an attempt at this template's release tag:
    /// it has the prefix and suffix, and (when both are empty) starts with a
    /// digit. Such a tag at a built commit must parse.
    pub fn looks_like(&self, tag: &str) -> bool {
        let Some(middle) = tag
            .strip_prefix(&self.prefix)
            .and_then(|m| m.strip_suffix(&self.suffix))
        else {
            return false;
        };
        !(self.prefix.is_empty() && self.suffix.is_empty())
            || middle.starts_with(|c: char| c.is_ascii_digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_forms() {
        assert!("{version}".parse::<TagTemplate>().is_ok());
        assert!("version/{version}".parse::<TagTemplate>().is_ok());
        assert!("release".parse::<TagTemplate>().is_err());
        assert!("{version}-{version}".parse::<TagTemplate>().is_err());
        assert!("{major}/{version}".parse::<TagTemplate>().is_err());
    }

    #[test]
    fn malformed_tags() {
        let t: TagTemplate = "{version}".parse().unwrap();
        for tag in ["v1.2.3", "1.2", "01.2.3", "1.2.3-01"] {
            assert!(t.parse_tag(tag, Scheme::SemVer).is_err(), "{tag}");
        }
        let t: TagTemplate = "version/{version}".parse().unwrap();
        for tag in [
            "v1.2.3",
            "version/01.2.3",
            "version/1.2.3-rc1",
            "version/v1.2.3",
        ] {
            assert!(t.parse_tag(tag, Scheme::Pep440).is_err(), "{tag}");
        }
        assert!(t.parse_tag("version/1.2.3rc1", Scheme::Pep440).is_ok());
    }

    #[test]
    fn release_tags_spell_the_full_release_form() {
        let t: TagTemplate = "version/{version}".parse().unwrap();
        for (tag, fixed) in [
            ("version/3.1", "version/3.1.0"),
            ("version/3.1.0+abc", "version/3.1.0"),
            ("version/1!3.1.0", "version/3.1.0"),
            ("version/3.1.0-post1", "version/3.1.0.post1"),
        ] {
            let e = t.parse_tag(tag, Scheme::Pep440).unwrap_err();
            assert!(e.to_string().contains(&format!("would be {fixed})")), "{e}");
        }
        assert!(t.parse_tag("version/3.1.0.post1", Scheme::Pep440).is_ok());
        let e = t
            .parse_tag("version/3.1.0+abc", Scheme::SemVer)
            .unwrap_err();
        assert!(e.to_string().contains("would be version/3.1.0)"), "{e}");
        assert!(t.looks_like("version/x"));
        assert!(!t.looks_like("nightly"));
        let raw: TagTemplate = "{version}".parse().unwrap();
        assert!(raw.looks_like("3.1") && !raw.looks_like("stable"));
    }
}
