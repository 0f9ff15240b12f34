//! Dev-build versions: what a build gets when its commit carries no matching tag.
//!
//! A template such as `{version}-{commit}` (SemVer surfaces) or
//! `{version}+{commit}` (PEP 440) is filled with:
//!
//! | variable | value |
//! |---|---|
//! | `{version}` | the canonical version in the target's scheme |
//! | `{commit}` | the short commit id (7 hex digits, longer if ambiguous) |
//! | `{distance}` | commits since the last matching tag (all commits if none) |
//! | `{date}` | the commit's committer date, UTC, `YYYYMMDD` |
//!
//! so nightly schemes like `{version}-nightly.{date}` and `{version}.dev{distance}`
//! work. The result must parse in the target scheme. A short hash made only of
//! digits with a leading zero would be an invalid SemVer numeric identifier, so
//! in SemVer templates such a hash is written with a `g` in front
//! (`g0123456`, as `git describe` does).

use std::fmt;
use std::str::FromStr;

use super::error::VersionError;
use super::scheme::Scheme;
use super::Version;

/// A dev-version template using only the four variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevTemplate(String);

/// A template with an unknown or unbalanced placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dev template {template:?}: {reason}")]
pub struct DevTemplateError {
    pub template: String,
    pub reason: String,
}

const VARS: [&str; 4] = ["version", "commit", "distance", "date"];

/// Splits a template into literal text and `{name}` placeholders, checking names.
pub(crate) fn placeholders<'a>(
    template: &'a str,
    allowed: &[&str],
) -> Result<Vec<(bool, &'a str)>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err("has an unmatched `}`".into());
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| "has an unclosed `{`".to_string())?
            + open;
        let name = &rest[open + 1..close];
        if !allowed.contains(&name) {
            return Err(format!(
                "unknown placeholder `{{{name}}}` (allowed: {})",
                allowed
                    .iter()
                    .map(|a| format!("{{{a}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if open > 0 {
            parts.push((false, &rest[..open]));
        }
        parts.push((true, name));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push((false, rest));
    }
    Ok(parts)
}

impl FromStr for DevTemplate {
    type Err = DevTemplateError;
    fn from_str(s: &str) -> Result<DevTemplate, DevTemplateError> {
        let err = |reason: String| DevTemplateError {
            template: s.to_string(),
            reason,
        };
        let parts = placeholders(s, &VARS).map_err(err)?;
        if !parts.iter().any(|&(var, name)| var && name == "version") {
            return Err(err("must contain `{version}`".into()));
        }
        Ok(DevTemplate(s.to_string()))
    }
}

impl fmt::Display for DevTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl DevTemplate {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Fills the template and parses the result in `scheme`; `key` names the
    /// policy key for the error (`semver` or `pep440`).
    pub fn render(
        &self,
        key: &'static str,
        version: &Version,
        info: &DevInfo,
        scheme: Scheme,
    ) -> Result<Version, VersionError> {
        let commit = match scheme {
            Scheme::SemVer
                if info.commit.starts_with('0')
                    && info.commit.bytes().all(|b| b.is_ascii_digit()) =>
            {
                format!("g{}", info.commit)
            }
            _ => info.commit.clone(),
        };
        let mut out = String::new();
        // The template was checked at parse time.
        for (var, text) in placeholders(&self.0, &VARS).unwrap_or_default() {
            match (var, text) {
                (false, t) => out.push_str(t),
                (true, "version") => out.push_str(&version.to_string()),
                (true, "commit") => out.push_str(&commit),
                (true, "distance") => out.push_str(&info.distance.to_string()),
                (true, _) => out.push_str(&info.date),
            }
        }
        Version::parse(scheme, &out).map_err(|e| VersionError::DevTemplate {
            key,
            template: super::abbreviated(&self.0),
            result: super::abbreviated(&out),
            scheme,
            reason: e.reason,
        })
    }
}

/// The facts a dev version is made of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DevInfo {
    /// Short commit id.
    pub commit: String,
    /// Commits since the last matching tag.
    pub distance: u64,
    /// Committer date `YYYYMMDD` (UTC).
    pub date: String,
}

/// `YYYYMMDD` of a Unix time, UTC (proleptic Gregorian).
pub fn utc_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "19700101");
        assert_eq!(utc_date(315_532_800), "19800101");
        assert_eq!(utc_date(951_782_400), "20000229");
        assert_eq!(utc_date(1_700_000_000), "20231114");
    }

    #[test]
    fn leading_zero_hash() {
        let t: DevTemplate = "{version}-{commit}".parse().unwrap();
        let v = Version::parse(Scheme::SemVer, "1.0.0").unwrap();
        let info = DevInfo {
            commit: "0123456".into(),
            distance: 3,
            date: "20240101".into(),
        };
        let out = t.render("semver", &v, &info, Scheme::SemVer).unwrap();
        assert_eq!(out.to_string(), "1.0.0-g0123456");
    }

    #[test]
    fn bad_templates() {
        assert!("{version}-{sha}".parse::<DevTemplate>().is_err());
        assert!("{commit}".parse::<DevTemplate>().is_err());
        assert!("{version".parse::<DevTemplate>().is_err());
    }
}
