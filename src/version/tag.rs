//! Tag templates: `{version}`, `v{version}`, `version/{version}`.
//!
//! A template is a literal prefix, the placeholder `{version}` exactly once,
//! and a literal suffix. A tag is *well-formed* when it carries the prefix and
//! suffix and the middle is the canonical scheme's version in its normalised
//! spelling — so `v1.2.3` under `{version}`, `1.2`, `01.2.3` and `1.2.3-01` are
//! all malformed, whichever scheme.

use std::fmt;
use std::str::FromStr;

use super::{Scheme, Version};

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

/// A tag that does not have the template's form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tag {tag:?} is malformed: {reason}; expected {expected} (e.g. {example})")]
pub struct MalformedTag {
    pub tag: String,
    pub reason: String,
    /// The template, e.g. `v{version}`.
    pub expected: String,
    /// A well-formed example tag.
    pub example: String,
}

impl crate::error::Classify for MalformedTag {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
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
            tag: tag.to_string(),
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
                "{middle:?} is not in normalised form (that would be {v})"
            )));
        }
        Ok(v)
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
}
