//! Release channels: OCI tag spelling and aliases, npm dist-tags.
//!
//! OCI tags must match `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`; a version's `+`
//! (SemVer build metadata, PEP 440 local label) becomes `_`. Stable releases
//! (no pre-release, no dev build) also get alias tags from templates such as
//! `{major}.{minor}`, `{major}`, `latest`, and the channel name the policy
//! gives their major version (`[channels.oci-major-names] 3 = "petronas"`).
//! npm publishes stable versions under `latest` and pre-releases under the
//! configured dist-tag (default `next`).

use super::dev::placeholders;
use super::Version;

/// Whether `tag` is a valid OCI tag.
pub(crate) fn is_valid_oci_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// The OCI tag spelling of a version string: `+` → `_`.
pub(crate) fn oci_spelling(version: &str) -> String {
    version.replace('+', "_")
}

/// Placeholders of alias templates.
pub(crate) const ALIAS_VARS: [&str; 4] = ["major", "minor", "patch", "version"];

/// Checks an alias template's placeholders.
pub(crate) fn check_alias_template(template: &str) -> Result<(), String> {
    placeholders(template, &ALIAS_VARS).map(|_| ())
}

/// Fills an alias template (`{major}.{minor}`) for `version`.
pub(crate) fn render_alias(template: &str, version: &Version) -> String {
    let (major, minor, patch) = version.triple();
    let mut out = String::new();
    for (var, text) in placeholders(template, &ALIAS_VARS).unwrap_or_default() {
        match (var, text) {
            (false, t) => out.push_str(t),
            (true, "major") => out.push_str(&major.to_string()),
            (true, "minor") => out.push_str(&minor.to_string()),
            (true, "patch") => out.push_str(&patch.to_string()),
            (true, _) => out.push_str(&oci_spelling(&version.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_tags() {
        assert!(is_valid_oci_tag("1.2.3_build.5"));
        assert!(!is_valid_oci_tag("1.2.3+build.5"));
        assert!(!is_valid_oci_tag(".x"));
        assert!(!is_valid_oci_tag(&"a".repeat(129)));
        assert_eq!(oci_spelling("1.2.3+x.y"), "1.2.3_x.y");
    }
}
