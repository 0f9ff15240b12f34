//! `kiln version`: show, render, check-tag, bump and set the project version.
//!
//! Only `bump` and `set` write the checkout, and only the manifests' version
//! fields: one library call, `crate::release::set_version`. Everything else
//! is read-only.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::context::{CliError, Context};
use crate::release::{set_version, NewVersion, SetOptions, SetReport};
use crate::stamp::diff::unified_diff;
use crate::version::policy::ReleasePolicy;
use crate::version::{
    resolve, resolve::check_tag, resolve::Channel, BuildStatus, BumpRule, Overrides,
    ResolvedVersion, Scheme, Target, Version, VersionError,
};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Canonical version, its source, every rendering, channel tags, and whether HEAD is a release or a dev build.
    Show {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Describe this revision (read from its tree) instead of the working tree and HEAD.
        #[arg(long, value_name = "REV")]
        rev: Option<String>,
    },
    /// Check a tag against the template and the canonical version (exit 0 match, 1 mismatch, 2 malformed).
    CheckTag {
        /// The tag, e.g. `v1.2.3`.
        tag: String,
    },
    /// Spell a version for another scheme or publication target.
    Render {
        /// The version, in the project's scheme (or `--from`).
        #[arg(value_name = "VERSION")]
        value: String,
        /// What to spell it as.
        #[arg(long = "as", value_enum)]
        as_: RenderAs,
        /// The scheme VERSION is written in (default: the policy's).
        #[arg(long, value_enum)]
        from: Option<SchemeArg>,
    },
    /// Bump the version with poetry's rules and write it like `set`.
    Bump {
        /// patch, minor, major, prepatch, preminor, premajor or prerelease.
        rule: String,
        /// Print the unified diff instead of writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write VERSION into every declared manifest (the release-prep commit).
    Set {
        /// The new version, in the project's scheme.
        #[arg(value_name = "VERSION")]
        value: String,
        /// Print the unified diff instead of writing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderAs {
    Semver,
    Pep440,
    Cargo,
    Npm,
    Pypi,
    Oci,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    Semver,
    Pep440,
}

pub(crate) fn run(cmd: Command, ctx: &Context) -> Result<u8, CliError> {
    match cmd {
        Command::Show { json, rev } => {
            let (root, policy) = project(ctx)?;
            show(&root, &policy, rev.as_deref(), json)
        }
        Command::CheckTag { tag } => {
            let (root, policy) = project(ctx)?;
            let v = check_tag(&root, &policy, &tag)?;
            println!("{tag}: well-formed, names {v}, matches the canonical version");
            Ok(0)
        }
        Command::Render { value, as_, from } => {
            let policy = match ctx.project_root() {
                Ok(root) => ReleasePolicy::load(&root)?,
                Err(_) => ReleasePolicy::default(),
            };
            let scheme = match from {
                Some(SchemeArg::Semver) => Scheme::SemVer,
                Some(SchemeArg::Pep440) => Scheme::Pep440,
                None => policy.scheme,
            };
            let v = Version::parse(scheme, &value).map_err(|source| VersionError::Parse {
                origin: "kiln version render".into(),
                source,
            })?;
            let out = match as_ {
                RenderAs::Semver => v.semver().map_err(VersionError::from)?.to_string(),
                RenderAs::Pep440 => v.pep440().map_err(VersionError::from)?.to_string(),
                RenderAs::Cargo | RenderAs::Npm | RenderAs::Pypi | RenderAs::Oci => {
                    let target = match as_ {
                        RenderAs::Cargo => Target::Cargo,
                        RenderAs::Npm => Target::Npm,
                        RenderAs::Pypi => Target::Pypi,
                        _ => Target::Oci,
                    };
                    let r = ResolvedVersion::release(v, "argument".into(), &policy);
                    if let Some(w) = r.warning(target) {
                        eprintln!(
                            "kiln: warning: {}",
                            crate::name::shown_message(&w.to_string())
                        );
                    }
                    r.render(target)?
                }
            };
            println!("{out}");
            Ok(0)
        }
        Command::Bump { rule, dry_run } => {
            let rule: BumpRule = rule.parse().map_err(VersionError::from)?;
            let report = set_version(&SetOptions {
                root: ctx.project_root()?,
                new: NewVersion::Bump(rule),
                dry_run,
            })?;
            if let Some(current) = &report.current {
                eprintln!("{current} -> {} ({rule})", report.new);
            }
            print_set(&report);
            Ok(0)
        }
        Command::Set { value, dry_run } => {
            let report = set_version(&SetOptions {
                root: ctx.project_root()?,
                new: NewVersion::Exactly(value),
                dry_run,
            })?;
            print_set(&report);
            Ok(0)
        }
    }
}

fn project(ctx: &Context) -> Result<(PathBuf, ReleasePolicy), CliError> {
    let root = ctx.project_root()?;
    let policy = ReleasePolicy::load(&root)?;
    Ok((root, policy))
}

/// Print what `version set`/`bump` did: the diff with `--dry-run`, else
/// each changed field, the release tag and any line still naming the old
/// version.
fn print_set(report: &SetReport) {
    let mut stdout = std::io::stdout().lock();
    if !report.written {
        for e in &report.edits {
            let path = e.file.to_string_lossy().replace('\\', "/");
            let _ = stdout.write_all(unified_diff(&path, &e.before, &e.after).as_bytes());
        }
        return;
    }
    let new = &report.new;
    if report.changes().next().is_none() {
        let _ = writeln!(
            stdout,
            "{new}: already set in every manifest; nothing changed"
        );
    }
    for c in report.changes() {
        let _ = writeln!(
            stdout,
            "{}: {} {} -> {}",
            c.file.display(),
            c.key,
            c.old,
            c.new
        );
    }
    let _ = writeln!(stdout, "release tag for {new}: {}", report.release_tag);
    if let Some(old) = &report.current {
        for l in &report.leftovers {
            eprintln!(
                "kiln: warning: {}:{}: still mentions the old version {old}: {}",
                crate::name::shown_path(&l.file),
                l.line,
                crate::name::shown(&l.text)
            );
        }
    }
}

#[derive(Debug, serde::Serialize)]
struct ShowJson<'a> {
    version: String,
    scheme: &'static str,
    source: String,
    origin: &'a str,
    status: &'a BuildStatus,
    commit: Option<&'a str>,
    release_tag: String,
    renderings: std::collections::BTreeMap<&'static str, Option<String>>,
    errors: std::collections::BTreeMap<&'static str, String>,
    warnings: Vec<String>,
    npm_dist_tag: &'a str,
    oci_tags: Vec<String>,
    /// The canonical version has a pre-release or dev segment.
    prerelease: bool,
    /// Its post-release number (`3.1.0.post1`, SemVer `-post.1`).
    post: Option<u64>,
    /// Its dev-release number (`1.2.3.dev3`, SemVer `-0.dev.3`).
    dev: Option<u64>,
    /// `stable`, `prerelease` or `dev` (a dev build).
    channel: Channel,
}

fn show(
    root: &Path,
    policy: &ReleasePolicy,
    rev: Option<&str>,
    json: bool,
) -> Result<u8, CliError> {
    let r = resolve(root, policy, rev, &Overrides::default())?;
    let mut renderings = std::collections::BTreeMap::new();
    let mut errors = std::collections::BTreeMap::new();
    let mut warnings = Vec::new();
    for t in Target::ALL {
        match r.render(t) {
            Ok(s) => {
                renderings.insert(t.as_str(), Some(s));
            }
            Err(e) => {
                renderings.insert(t.as_str(), None);
                errors.insert(t.as_str(), e.to_string());
            }
        }
        warnings.extend(r.warning(t).map(|w| w.to_string()));
    }
    let oci_tags = r.oci_tags().unwrap_or_default();
    let pep = r.canonical.pep440().ok();
    let doc = ShowJson {
        version: r.canonical.to_string(),
        scheme: match r.canonical.scheme() {
            Scheme::SemVer => "semver",
            Scheme::Pep440 => "pep440",
        },
        source: policy.source.to_string(),
        origin: &r.origin,
        status: &r.status,
        commit: r.commit.as_deref(),
        release_tag: r.release_tag(),
        renderings,
        errors,
        warnings,
        npm_dist_tag: r.npm_dist_tag(),
        oci_tags,
        prerelease: pep
            .as_ref()
            .map_or(r.canonical.is_prerelease(), |p| p.is_prerelease()),
        post: pep.as_ref().and_then(|p| p.post),
        dev: pep.as_ref().and_then(|p| p.dev),
        channel: r.channel(),
    };
    let mut out = std::io::stdout().lock();
    if json {
        let s =
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::internal(e.to_string()))?;
        let _ = writeln!(out, "{s}");
        return Ok(0);
    }
    let _ = writeln!(
        out,
        "version     {} ({}, {})",
        doc.version,
        doc.origin,
        r.canonical.scheme().name()
    );
    let status = match &r.status {
        BuildStatus::Release { tag: Some(t) } => format!("release (tag {t})"),
        BuildStatus::Release { tag: None } => "release (no git commit: not a dev build)".into(),
        BuildStatus::Dev(d) => format!(
            "dev build (commit {}, {} commit{} since the last tag, {})",
            d.commit,
            d.distance,
            if d.distance == 1 { "" } else { "s" },
            d.date
        ),
    };
    let _ = writeln!(out, "status      {status}");
    let _ = writeln!(out, "release tag {}", doc.release_tag);
    for t in Target::ALL {
        let k = t.as_str();
        match (&doc.renderings[k], doc.errors.get(k)) {
            (Some(s), _) => {
                let _ = writeln!(out, "{k:<11} {s}");
            }
            (None, Some(e)) => {
                let _ = writeln!(out, "{k:<11} (none: {e})");
            }
            _ => {}
        }
    }
    let _ = writeln!(out, "channel     {}", channel_name(doc.channel));
    let _ = writeln!(out, "npm tag     {}", doc.npm_dist_tag);
    let _ = writeln!(out, "oci tags    {}", doc.oci_tags.join(" "));
    for w in &doc.warnings {
        eprintln!(
            "kiln: warning: {}",
            crate::name::shown_message(&w.to_string())
        );
    }
    Ok(0)
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Stable => "stable",
        Channel::Prerelease => "prerelease",
        Channel::Dev => "dev",
    }
}
