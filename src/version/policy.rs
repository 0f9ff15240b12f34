//! `recipes/release.toml`: the release policy, parsed and validated.
//!
//! ```toml
//! [version]
//! source = "cargo"              # cargo | pyproject | npm [":<manifest>"] | file:<path> | tag
//! scheme = "semver"             # semver | pep440 (default: pep440 for pyproject, else semver)
//! [tag]
//! template = "v{version}"
//! [dev]
//! semver = "{version}-{commit}"
//! pep440 = "{version}+{commit}"
//! [channels]
//! npm-prerelease = "next"
//! oci-aliases = ["{major}.{minor}", "{major}", "latest"]
//! oci-major = { "3" = "petronas", "2" = "harukas" }   # or [channels.oci-major-names]
//! [stamp]
//! files = ["Cargo.toml", "package.json", "package-lock.json"]
//! ```
//!
//! Every table and key is optional; a missing file means all defaults.
//! Unknown keys are errors. Every error names the file, the line and the key.
//! The user documentation is `docs/versions.md`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::channels::{check_alias_template, is_valid_oci_tag};
use super::dev::DevTemplate;
use super::pattern::StampPattern;
use super::scheme::Scheme;
use super::tag::TagTemplate;
use crate::error::{Classify, ErrorKind};

/// Path of the policy file relative to the project root.
pub const POLICY_PATH: &str = "recipes/release.toml";

/// Where the canonical version is read from. Paths are relative to the
/// project root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    /// `workspace.package.version`, else `package.version`.
    Cargo(PathBuf),
    /// `[project].version`, else `[tool.poetry].version`.
    Pyproject(PathBuf),
    /// `version` of a `package.json`.
    Npm(PathBuf),
    /// The whole (trimmed) content of a file.
    File(PathBuf),
    /// The tag at the source commit, read through the tag template.
    Tag,
}

impl VersionSource {
    /// The scheme the manifest itself speaks, if any (`Cargo.toml` and
    /// `package.json` hold SemVer, `pyproject.toml` PEP 440).
    pub fn native_scheme(&self) -> Option<Scheme> {
        match self {
            VersionSource::Cargo(_) | VersionSource::Npm(_) => Some(Scheme::SemVer),
            VersionSource::Pyproject(_) => Some(Scheme::Pep440),
            VersionSource::File(_) | VersionSource::Tag => None,
        }
    }
}

impl std::fmt::Display for VersionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionSource::Cargo(p) => write!(f, "cargo:{}", p.display()),
            VersionSource::Pyproject(p) => write!(f, "pyproject:{}", p.display()),
            VersionSource::Npm(p) => write!(f, "npm:{}", p.display()),
            VersionSource::File(p) => write!(f, "file:{}", p.display()),
            VersionSource::Tag => f.write_str("tag"),
        }
    }
}

/// The validated release policy.
#[derive(Debug, Clone)]
pub struct ReleasePolicy {
    /// The file it was read from; `None` when absent (all defaults).
    pub file: Option<PathBuf>,
    pub source: VersionSource,
    pub scheme: Scheme,
    pub tag: TagTemplate,
    /// `[dev] semver`: cargo, npm and (SemVer projects) OCI.
    pub dev_semver: DevTemplate,
    /// `[dev] pep440`: PyPI and (PEP 440 projects) OCI.
    pub dev_pep440: DevTemplate,
    /// `[channels] npm-prerelease`.
    pub npm_prerelease: String,
    /// `[channels] oci-aliases`, already checked.
    pub oci_aliases: Vec<String>,
    /// `[channels.oci-major-names]`: major version → channel tag.
    pub oci_major_names: BTreeMap<u64, String>,
    /// `[stamp] files`; `None` = discover (see `stamp::discover`).
    pub stamp_files: Option<Vec<PathBuf>>,
    /// `[[stamp.patterns]]`: versions written into code.
    pub stamp_patterns: Vec<StampPattern>,
    /// `source-date-epoch`: `SOURCE_DATE_EPOCH` for directory sources.
    pub source_date_epoch: Option<i64>,
}

impl Default for ReleasePolicy {
    fn default() -> Self {
        ReleasePolicy {
            file: None,
            source: VersionSource::Cargo(PathBuf::from("Cargo.toml")),
            scheme: Scheme::SemVer,
            tag: TagTemplate::default(),
            dev_semver: DEFAULT_DEV_SEMVER.parse().expect("valid default"),
            dev_pep440: DEFAULT_DEV_PEP440.parse().expect("valid default"),
            npm_prerelease: "next".into(),
            oci_aliases: DEFAULT_OCI_ALIASES.iter().map(|s| s.to_string()).collect(),
            oci_major_names: BTreeMap::new(),
            stamp_files: None,
            stamp_patterns: Vec::new(),
            source_date_epoch: None,
        }
    }
}

pub const DEFAULT_DEV_SEMVER: &str = "{version}-{commit}";
pub const DEFAULT_DEV_PEP440: &str = "{version}+{commit}";
pub const DEFAULT_OCI_ALIASES: [&str; 3] = ["{major}.{minor}", "{major}", "latest"];

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("reading {}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}: {key} = {value}: {reason}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        key: String,
        value: String,
        reason: String,
    },
}

impl Classify for PolicyError {
    fn kind(&self) -> ErrorKind {
        match self {
            PolicyError::Io { source, .. } => ErrorKind::of_io(source),
            _ => ErrorKind::BadInput,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    version: Option<RawVersion>,
    tag: Option<RawTag>,
    dev: Option<RawDev>,
    channels: Option<RawChannels>,
    stamp: Option<RawStamp>,
    source_date_epoch: Option<i64>,
    /// `[cache]` (trusted binary-cache keys) belongs to `crate::cache::trust`.
    #[serde(rename = "cache")]
    _cache: Option<serde::de::IgnoredAny>,
    /// `[ci]` (the generated release workflows) belongs to `crate::ci`.
    #[serde(rename = "ci")]
    _ci: Option<serde::de::IgnoredAny>,
    /// `[publish]` (each recipe's registries) belongs to `crate::publish`.
    #[serde(rename = "publish")]
    _publish: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    source: Option<String>,
    scheme: Option<Scheme>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTag {
    template: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDev {
    semver: Option<String>,
    pep440: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawChannels {
    npm_prerelease: Option<String>,
    oci_aliases: Option<Vec<String>>,
    /// `oci-major = { "3" = "petronas" }` (the inline spelling) or the
    /// `[channels.oci-major-names]` table.
    #[serde(alias = "oci-major")]
    oci_major_names: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStamp {
    files: Option<Vec<String>>,
    patterns: Option<Vec<RawPattern>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    file: String,
    pattern: String,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// The line of `path` (e.g. `["tag", "template"]`) in the document.
fn key_line(text: &str, path: &[&str]) -> usize {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else {
        return 1;
    };
    let mut item: &toml_edit::Item = doc.as_item();
    let mut span = None;
    for key in path {
        let Some(next) = item.get(key) else { break };
        item = next;
        span = item.span().or(span);
    }
    span.map_or(1, |s| line_col(text, s.start).0)
}

/// A relative path that stays inside the project.
fn relative_path(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if s.is_empty() {
        return Err("is empty".into());
    }
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("must be a relative path inside the project (no `/…`, no `..`)".into());
    }
    Ok(p)
}

/// `[channels]`: the npm pre-release dist-tag, the OCI alias templates and
/// the OCI names of major versions, checked, into `p`.
fn parse_channels(
    c: RawChannels,
    p: &mut ReleasePolicy,
    invalid: &dyn Fn(&[&str], &str, String) -> PolicyError,
) -> Result<(), PolicyError> {
    if let Some(t) = c.npm_prerelease {
        let bad = t.is_empty()
            || t == "latest"
            || t.contains(|ch: char| ch.is_whitespace() || ch == '/' || ch == '@')
            || semver::VersionReq::parse(&t).is_ok();
        if bad {
            return Err(invalid(
                &["channels", "npm-prerelease"],
                &t,
                "must be an npm dist-tag name other than `latest` that is not a version range"
                    .into(),
            ));
        }
        p.npm_prerelease = t;
    }
    if let Some(a) = c.oci_aliases {
        for t in &a {
            check_alias_template(t).map_err(|r| invalid(&["channels", "oci-aliases"], t, r))?;
        }
        p.oci_aliases = a;
    }
    if let Some(m) = c.oci_major_names {
        for (k, name) in m {
            let path = ["channels", "oci-major-names", k.as_str()];
            let major: u64 = k
                .parse()
                .map_err(|_| invalid(&path, &k, "keys must be major version numbers".into()))?;
            if !is_valid_oci_tag(&name) {
                return Err(invalid(
                    &path,
                    &name,
                    "is not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})".into(),
                ));
            }
            p.oci_major_names.insert(major, name);
        }
    }
    Ok(())
}

/// `[stamp]`: the declared manifest list and the patterns.
fn parse_stamp(
    raw: RawStamp,
    invalid: &dyn Fn(&[&str], &str, String) -> PolicyError,
) -> Result<(Option<Vec<PathBuf>>, Vec<StampPattern>), PolicyError> {
    let mut files = None;
    if let Some(list) = raw.files {
        let mut out = Vec::new();
        for f in &list {
            let path = relative_path(f).map_err(|r| invalid(&["stamp", "files"], f, r))?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !STAMPABLE.contains(&name) {
                return Err(invalid(
                    &["stamp", "files"],
                    f,
                    format!("kiln stamps only {}", STAMPABLE.join(", ")),
                ));
            }
            out.push(path);
        }
        files = Some(out);
    }
    let mut patterns = Vec::new();
    for r in raw.patterns.unwrap_or_default() {
        let file = relative_path(&r.file)
            .map_err(|why| invalid(&["stamp", "patterns", "file"], &r.file, why))?;
        let pattern = StampPattern::parse(file, &r.pattern)
            .map_err(|e| invalid(&["stamp", "patterns", "pattern"], &r.pattern, e.to_string()))?;
        patterns.push(pattern);
    }
    Ok((files, patterns))
}

/// Manifest file names `[stamp] files` may list.
pub const STAMPABLE: [&str; 4] = [
    "Cargo.toml",
    "package.json",
    "package-lock.json",
    "pyproject.toml",
];

impl ReleasePolicy {
    /// Reads `recipes/release.toml` under `project_root`; all defaults when
    /// the file does not exist.
    pub fn load(project_root: &Path) -> Result<ReleasePolicy, PolicyError> {
        let file = project_root.join(POLICY_PATH);
        match crate::fsutil::read_regular_string(&file) {
            Ok(text) => ReleasePolicy::parse(&file, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ReleasePolicy::default()),
            Err(source) => Err(PolicyError::Io { file, source }),
        }
    }

    /// Parses and validates policy text; `file` is used in messages.
    pub fn parse(file: &Path, text: &str) -> Result<ReleasePolicy, PolicyError> {
        let raw: Raw = toml_edit::de::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            PolicyError::Syntax {
                file: file.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let invalid = |path: &[&str], value: &str, reason: String| PolicyError::Invalid {
            file: file.to_path_buf(),
            line: key_line(text, path),
            key: path.join("."),
            value: format!("{value:?}"),
            reason,
        };
        let mut p = ReleasePolicy {
            file: Some(file.to_path_buf()),
            ..ReleasePolicy::default()
        };
        let mut explicit_scheme = None;
        if let Some(v) = raw.version {
            if let Some(s) = v.source {
                p.source = parse_source(&s).map_err(|r| invalid(&["version", "source"], &s, r))?;
            }
            explicit_scheme = v.scheme;
        }
        p.scheme = explicit_scheme.unwrap_or(match p.source {
            VersionSource::Pyproject(_) => Scheme::Pep440,
            _ => Scheme::SemVer,
        });
        if let Some(t) = raw.tag.and_then(|t| t.template) {
            p.tag = t.parse().map_err(|e: crate::version::tag::TemplateError| {
                invalid(&["tag", "template"], &t, e.reason)
            })?;
        }
        if let Some(d) = raw.dev {
            if let Some(s) = d.semver {
                p.dev_semver = s
                    .parse()
                    .map_err(|e: crate::version::dev::DevTemplateError| {
                        invalid(&["dev", "semver"], &s, e.reason)
                    })?;
            }
            if let Some(s) = d.pep440 {
                p.dev_pep440 = s
                    .parse()
                    .map_err(|e: crate::version::dev::DevTemplateError| {
                        invalid(&["dev", "pep440"], &s, e.reason)
                    })?;
            }
        }
        if let Some(c) = raw.channels {
            parse_channels(c, &mut p, &invalid)?;
        }
        if let Some(stamp) = raw.stamp {
            (p.stamp_files, p.stamp_patterns) = parse_stamp(stamp, &invalid)?;
        }
        p.source_date_epoch = raw.source_date_epoch;
        if let Some(e) = p.source_date_epoch {
            if e < 0 {
                return Err(invalid(
                    &["source-date-epoch"],
                    &e.to_string(),
                    "must be seconds since 1970 (not negative)".into(),
                ));
            }
        }
        Ok(p)
    }

    /// The dev template for a scheme.
    pub fn dev_template(&self, scheme: Scheme) -> (&'static str, &DevTemplate) {
        match scheme {
            Scheme::SemVer => ("semver", &self.dev_semver),
            Scheme::Pep440 => ("pep440", &self.dev_pep440),
        }
    }
}

fn parse_source(s: &str) -> Result<VersionSource, String> {
    let (kind, path) = match s.split_once(':') {
        Some((k, p)) => (k, Some(p)),
        None => (s, None),
    };
    let path_or = |default: &str| relative_path(path.unwrap_or(default));
    match kind {
        "cargo" => Ok(VersionSource::Cargo(path_or("Cargo.toml")?)),
        "pyproject" => Ok(VersionSource::Pyproject(path_or("pyproject.toml")?)),
        "npm" => Ok(VersionSource::Npm(path_or("package.json")?)),
        "file" => match path {
            Some(p) => Ok(VersionSource::File(relative_path(p)?)),
            None => Err("`file` needs a path: \"file:VERSION\"".into()),
        },
        "tag" if path.is_none() => Ok(VersionSource::Tag),
        _ => Err(
            "expected cargo, pyproject or npm (optionally \":<manifest path>\"), file:<path>, or tag"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ReleasePolicy, PolicyError> {
        ReleasePolicy::parse(Path::new("recipes/release.toml"), text)
    }

    #[test]
    fn defaults() {
        let p = parse("").unwrap();
        assert_eq!(p.source, VersionSource::Cargo("Cargo.toml".into()));
        assert_eq!(p.scheme, Scheme::SemVer);
        assert_eq!(p.npm_prerelease, "next");
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = parse("[tag]\n\ntemplate = \"v\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":3: tag.template = \"v\""), "{e}");
        let e = parse("[version]\nsorce = \"cargo\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2:") && e.contains("sorce"), "{e}");
        let e = parse("[channels.oci-major-names]\nthree = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2:") && e.contains("three"), "{e}");
    }

    #[test]
    fn oci_major_channels_inline() {
        let p = parse("[channels]\noci-major = { \"3\" = \"petronas\", \"2\" = \"harukas\" }\n")
            .unwrap();
        assert_eq!(
            p.oci_major_names.get(&3).map(String::as_str),
            Some("petronas")
        );
        assert_eq!(
            p.oci_major_names.get(&2).map(String::as_str),
            Some("harukas")
        );
    }

    #[test]
    fn pyproject_defaults_to_pep440() {
        let p = parse("[version]\nsource = \"pyproject\"\n").unwrap();
        assert_eq!(p.scheme, Scheme::Pep440);
    }
}
