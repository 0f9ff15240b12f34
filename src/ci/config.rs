//! The `[ci]` table of `recipes/release.toml`: what the generated release
//! workflows are made of, every value checked against a strict character
//! set before it can reach a YAML file.
//!
//! ```toml
//! [ci]
//! kiln = "path:."                          # or "crate:0.1.0" (default: this kiln's version)
//! cache-url-secret = "KILN_CACHE_URL"      # the secret holding the binary cache's URL
//! signing-key-secret = "KILN_CACHE_SIGNING_KEY"
//! publish = true                           # a publish job on tag pushes (default false)
//! publish-secrets = ["TWINE_USERNAME", "TWINE_PASSWORD"]
//! environment = "release"                  # the publish job's deployment environment
//! cache-environment = "kiln-cache"         # the build and assemble jobs' environment
//! [ci.github]
//! runner = "ubuntu-24.04"                  # plan, assemble, verify, publish
//! runners = { "x86_64-linux" = "ubuntu-24.04", "aarch64-linux" = "ubuntu-24.04-arm" }
//! [ci.gitlab]
//! image = "rust:1-bookworm"
//! tags = { "x86_64-linux" = ["saas-linux-small-amd64"] }
//! ```
//!
//! The file is the repository's, so nothing in it is trusted: a runner
//! label, a secret name, an image or a tag template that could break out
//! of its place in the YAML (or into a shell line) is refused, naming the
//! file, line, key and value.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::error::CiError;

/// How a generated job installs kiln.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KilnInstall {
    /// `cargo install --locked --path DIR` (a checkout that holds kiln).
    Path(String),
    /// `cargo install --locked kiln --version =V`.
    Crate(semver::Version),
}

/// The validated `[ci]` table and what the workflows take from the rest of
/// the policy.
#[derive(Debug, Clone)]
pub(crate) struct CiConfig {
    pub kiln: KilnInstall,
    pub cache_url_secret: String,
    pub signing_key_secret: String,
    pub publish: bool,
    pub publish_secrets: Vec<String>,
    pub environment: String,
    /// The environment of the jobs that read the cache's secrets.
    pub cache_environment: String,
    /// The tag template's literal prefix and suffix (`v`, `` for `v{version}`).
    pub tag_prefix: String,
    pub tag_suffix: String,
    pub github: Github,
    pub gitlab: Gitlab,
}

#[derive(Debug, Clone)]
pub(crate) struct Github {
    /// The runner of the plan, assemble, verify and publish jobs.
    pub runner: String,
    /// System (`x86_64-linux`) → runner label of its build jobs.
    pub runners: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Gitlab {
    pub image: String,
    /// System → the runner tags of its build job.
    pub tags: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCi {
    kiln: Option<String>,
    cache_url_secret: Option<String>,
    signing_key_secret: Option<String>,
    publish: Option<bool>,
    publish_secrets: Option<Vec<String>>,
    environment: Option<String>,
    cache_environment: Option<String>,
    github: Option<RawGithub>,
    gitlab: Option<RawGitlab>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGithub {
    runner: Option<String>,
    runners: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGitlab {
    image: Option<String>,
    tags: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
struct RawFile {
    #[serde(default)]
    ci: Option<RawCi>,
}

const DEFAULT_SYSTEM: &str = "x86_64-linux";
const DEFAULT_GITHUB_RUNNER: &str = "ubuntu-24.04";
const DEFAULT_IMAGE: &str = "rust:1-bookworm";

/// Reads `[ci]` from the policy `text` (`file` for messages); `tag` is the
/// policy's tag template as written (`v{version}`).
pub(crate) fn parse(file: &Path, text: &str, tag: &str) -> Result<CiConfig, CiError> {
    let raw: RawFile = toml_edit::de::from_str(text).map_err(|e| CiError::Syntax {
        file: file.to_path_buf(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    let raw = raw.ci.unwrap_or_default();
    let invalid = |path: &[&str], value: &str, reason: &str| CiError::Invalid {
        file: file.to_path_buf(),
        line: key_line(text, path),
        key: path.join("."),
        value: format!("{value:?}"),
        reason: reason.to_string(),
    };
    let secret = |key: &str, v: Option<String>, default: &str| {
        let v = v.unwrap_or_else(|| default.to_string());
        check_secret_name(&v).map_err(|r| invalid(&["ci", key], &v, r))?;
        Ok::<_, CiError>(v)
    };
    let cache_url_secret = secret("cache-url-secret", raw.cache_url_secret, "KILN_CACHE_URL")?;
    let signing_key_secret = secret(
        "signing-key-secret",
        raw.signing_key_secret,
        "KILN_CACHE_SIGNING_KEY",
    )?;
    let mut publish_secrets = Vec::new();
    for s in raw.publish_secrets.unwrap_or_default() {
        check_secret_name(&s).map_err(|r| invalid(&["ci", "publish-secrets"], &s, r))?;
        publish_secrets.push(s);
    }
    let environment = raw.environment.unwrap_or_else(|| "release".into());
    check_word(&environment).map_err(|r| invalid(&["ci", "environment"], &environment, r))?;
    let cache_environment = raw.cache_environment.unwrap_or_else(|| "kiln-cache".into());
    check_word(&cache_environment)
        .map_err(|r| invalid(&["ci", "cache-environment"], &cache_environment, r))?;
    let kiln = match raw.kiln {
        None => KilnInstall::Crate(
            semver::Version::parse(env!("CARGO_PKG_VERSION")).expect("kiln's own version"),
        ),
        Some(k) => parse_install(&k).map_err(|r| invalid(&["ci", "kiln"], &k, r))?,
    };
    let (tag_prefix, tag_suffix) = tag.split_once("{version}").unwrap_or(("", ""));
    for part in [tag_prefix, tag_suffix] {
        check_tag_part(part).map_err(|r| invalid(&["tag", "template"], tag, r))?;
    }
    Ok(CiConfig {
        kiln,
        cache_url_secret,
        signing_key_secret,
        publish: raw.publish.unwrap_or(false),
        publish_secrets,
        environment,
        cache_environment,
        tag_prefix: tag_prefix.to_string(),
        tag_suffix: tag_suffix.to_string(),
        github: github(raw.github.unwrap_or_default(), &invalid)?,
        gitlab: gitlab(raw.gitlab.unwrap_or_default(), &invalid)?,
    })
}

type Invalid<'a> = dyn Fn(&[&str], &str, &str) -> CiError + 'a;

fn github(raw: RawGithub, invalid: &Invalid<'_>) -> Result<Github, CiError> {
    let runner = raw.runner.unwrap_or_else(|| DEFAULT_GITHUB_RUNNER.into());
    check_label(&runner).map_err(|r| invalid(&["ci", "github", "runner"], &runner, r))?;
    let runners = match raw.runners {
        None => BTreeMap::from([(DEFAULT_SYSTEM.into(), DEFAULT_GITHUB_RUNNER.into())]),
        Some(m) if m.is_empty() => {
            return Err(invalid(
                &["ci", "github", "runners"],
                "{}",
                "names no system",
            ))
        }
        Some(m) => m,
    };
    for (system, label) in &runners {
        let at = ["ci", "github", "runners", system.as_str()];
        check_system(system).map_err(|r| invalid(&at, system, r))?;
        check_label(label).map_err(|r| invalid(&at, label, r))?;
    }
    Ok(Github { runner, runners })
}

fn gitlab(raw: RawGitlab, invalid: &Invalid<'_>) -> Result<Gitlab, CiError> {
    let image = raw.image.unwrap_or_else(|| DEFAULT_IMAGE.into());
    check_image(&image).map_err(|r| invalid(&["ci", "gitlab", "image"], &image, r))?;
    let tags = match raw.tags {
        None => BTreeMap::from([(DEFAULT_SYSTEM.into(), Vec::new())]),
        Some(m) if m.is_empty() => {
            return Err(invalid(&["ci", "gitlab", "tags"], "{}", "names no system"))
        }
        Some(m) => m,
    };
    for (system, labels) in &tags {
        let at = ["ci", "gitlab", "tags", system.as_str()];
        check_system(system).map_err(|r| invalid(&at, system, r))?;
        for label in labels {
            check_label(label).map_err(|r| invalid(&at, label, r))?;
        }
    }
    Ok(Gitlab { image, tags })
}

fn parse_install(s: &str) -> Result<KilnInstall, &'static str> {
    const WHAT: &str = "expected \"path:<dir inside the checkout>\" or \"crate:<version>\"";
    match s.split_once(':') {
        Some(("path", p)) => {
            let ok = !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
                && Path::new(p)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if ok {
                Ok(KilnInstall::Path(p.to_string()))
            } else {
                Err("the path must be relative, inside the checkout, of [A-Za-z0-9_./-]")
            }
        }
        Some(("crate", v)) => semver::Version::parse(v)
            .map(KilnInstall::Crate)
            .map_err(|_| "the crate version must be a SemVer version"),
        _ => Err(WHAT),
    }
}

/// A secret's name, as GitHub and GitLab accept it and a shell variable
/// can carry it: `[A-Za-z_][A-Za-z0-9_]*`, not GitHub's reserved `GITHUB_`.
fn check_secret_name(s: &str) -> Result<(), &'static str> {
    let mut c = s.chars();
    let ok = c
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 100;
    if !ok {
        return Err("a secret name is [A-Za-z_][A-Za-z0-9_]*");
    }
    if s.to_ascii_uppercase().starts_with("GITHUB_") {
        return Err("names starting with GITHUB_ are reserved");
    }
    Ok(())
}

/// A runner label or tag: `[A-Za-z0-9][A-Za-z0-9._-]*`, at most 100.
fn check_label(s: &str) -> Result<(), &'static str> {
    let mut c = s.chars();
    let ok = c.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && c.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && s.len() <= 100;
    ok.then_some(())
        .ok_or("a runner label is [A-Za-z0-9][A-Za-z0-9._-]*, at most 100 characters")
}

/// A Nix-style system name: `<cpu>-<os>` of `[a-z0-9_]`.
fn check_system(s: &str) -> Result<(), &'static str> {
    let part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    match s.split_once('-') {
        Some((cpu, os)) if part(cpu) && part(os) && s.len() <= 64 => Ok(()),
        _ => Err("a system is <cpu>-<os> of [a-z0-9_], as x86_64-linux"),
    }
}

/// An environment name: `[A-Za-z0-9][A-Za-z0-9_-]*`.
fn check_word(s: &str) -> Result<(), &'static str> {
    let mut c = s.chars();
    let ok = c.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && c.all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        && s.len() <= 100;
    ok.then_some(())
        .ok_or("an environment name is [A-Za-z0-9][A-Za-z0-9_-]*")
}

/// A container image reference: `[a-z0-9][a-z0-9._/:@-]*`.
fn check_image(s: &str) -> Result<(), &'static str> {
    let mut c = s.chars();
    let ok = c
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && c.all(|c| c.is_ascii_alphanumeric() || "._/:@-".contains(c))
        && s.len() <= 255;
    ok.then_some(())
        .ok_or("an image is [a-z0-9][A-Za-z0-9._/:@-]*, at most 255 characters")
}

/// A literal part of the tag template that becomes a trigger pattern:
/// no glob or regex metacharacter, nothing a YAML scalar needs escaped.
fn check_tag_part(s: &str) -> Result<(), &'static str> {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
        .then_some(())
        .ok_or("a workflow's tag filter takes only [A-Za-z0-9_./-] around {version}")
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of the key at `path` in the document (1 when not found).
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
    span.map_or(1, |s| line_of(text, s.start))
}

/// Where the policy file is, for messages and reading.
pub(crate) fn policy_file(root: &Path) -> PathBuf {
    root.join(crate::version::policy::POLICY_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ci(text: &str) -> Result<CiConfig, CiError> {
        parse(Path::new("recipes/release.toml"), text, "v{version}")
    }

    #[test]
    fn defaults_build_on_one_linux_runner_and_do_not_publish() {
        let c = parse_ci("").unwrap();
        assert_eq!(c.github.runners.len(), 1);
        assert!(!c.publish);
        assert_eq!(c.cache_url_secret, "KILN_CACHE_URL");
        assert_eq!((c.tag_prefix.as_str(), c.tag_suffix.as_str()), ("v", ""));
    }

    #[test]
    fn values_that_could_leave_their_place_are_refused_with_file_line_and_key() {
        let cases = [
            (
                "[ci.github]\nrunners = { \"x86_64-linux\" = \"a\\nb\" }\n",
                "ci.github.runners.x86_64-linux",
            ),
            ("[ci]\ncache-url-secret = \"A$B\"\n", "ci.cache-url-secret"),
            (
                "[ci]\npublish-secrets = [\"GITHUB_TOKEN\"]\n",
                "ci.publish-secrets",
            ),
            ("[ci.gitlab]\nimage = \"x'; rm\"\n", "ci.gitlab.image"),
            ("[ci]\nkiln = \"path:../x\"\n", "ci.kiln"),
            (
                "[ci.github]\nrunners = { \"x86 linux\" = \"a\" }\n",
                "ci.github.runners.x86 linux",
            ),
        ];
        for (text, key) in cases {
            let e = parse_ci(text).unwrap_err().to_string();
            assert!(
                e.starts_with("recipes/release.toml:2: ") && e.contains(key),
                "{e}"
            );
        }
        let e = parse_ci("[ci.github]\nrunnerz = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("recipes/release.toml:2: [ci]: unknown field `runnerz`"),
            "{e}"
        );
        let e = parse(Path::new("r.toml"), "", "v*{version}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tag.template"), "{e}");
    }
}
