//! Reading the canonical version from the policy's source: in the working
//! tree or in the tree of a commit. Used by the resolver and by the check
//! of a release tag against the manifest.

use std::path::{Path, PathBuf};

use super::error::VersionError;
use super::policy::{ReleasePolicy, VersionSource};
use super::source::{self as manifest, Found, NotFound};
use super::Version;
use crate::source::git::Repo;
use crate::source::Checkout;

/// Reads a version out of one manifest format's text.
type ManifestReader = fn(&str) -> Result<Found, NotFound>;

/// The canonical version read from the policy's source in the working tree
/// (`at = None`) or in the tree of the commit `at` reads; not for
/// `source = "tag"`.
pub(crate) fn read_canonical(
    project_root: &Path,
    policy: &ReleasePolicy,
    at: Option<&Checkout>,
) -> Result<(Version, String), VersionError> {
    let git_rev = at
        .and_then(Checkout::read_tree)
        .map(|(repo, c)| (repo, c.id.as_str()));
    let (path, reader): (&PathBuf, ManifestReader) = match &policy.source {
        VersionSource::Cargo(p) => (p, manifest::cargo_version),
        VersionSource::Pyproject(p) => (p, manifest::pyproject_version),
        VersionSource::Npm(p) => (p, manifest::npm_version),
        VersionSource::File(p) => (p, manifest::file_version),
        VersionSource::Tag => {
            return Err(VersionError::NoTag {
                what: "the version was asked for without a commit".into(),
                template: policy.tag.to_string(),
            })
        }
    };
    let file = project_root.join(path);
    let text = match git_rev {
        Some((repo, rev)) => read_at_rev(repo, at.map_or("", |c| c.prefix.as_str()), rev, path),
        None => match crate::source::read_inside(project_root, path) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| VersionError::Manifest {
                file: path.clone(),
                key: "(document)".into(),
                reason: "is not UTF-8".into(),
            }),
            Err(crate::source::ReadInsideError::Io { source, .. }) => Err(VersionError::Io {
                path: file.clone(),
                source,
            }),
            Err(outside) => Err(VersionError::Manifest {
                file: path.clone(),
                key: "(document)".into(),
                reason: outside.to_string(),
            }),
        },
    }
    .map_err(|e| match e {
        VersionError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            VersionError::NoSource {
                path: path.clone(),
                source_kind: policy.source.to_string(),
                defaulted: policy.file.is_none(),
                in_commit: git_rev.is_some(),
            }
        }
        other => other,
    })?;
    let found = match &policy.source {
        VersionSource::Cargo(_) => cargo_in_tree(
            project_root,
            git_rev,
            at.map_or("", |c| c.prefix.as_str()),
            path,
            &text,
        ),
        _ => reader(&text),
    }
    .map_err(|e| VersionError::Manifest {
        file: path.clone(),
        key: e.key.to_string(),
        reason: e.reason,
    })?;
    let origin = format!("{}: {}", path.display(), found.key);
    let native = policy.source.native_scheme().unwrap_or(policy.scheme);
    let parsed = Version::parse(native, &found.value).map_err(|source| VersionError::Parse {
        origin: origin.clone(),
        source,
    })?;
    Ok((parsed.to_scheme(policy.scheme)?, origin))
}

/// The content of `rel` (relative to the project root, whose directory in
/// the repository is `prefix`) in commit `rev`.
pub(super) fn read_at_rev(
    repo: &Repo,
    prefix: &str,
    rev: &str,
    rel: &Path,
) -> Result<String, VersionError> {
    let want = format!("{prefix}{}", rel.to_string_lossy().replace('\\', "/"));
    let bytes = repo
        .read_file_at(rev, &want)?
        .ok_or_else(|| VersionError::Io {
            path: rel.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("not in the tree of commit {rev}"),
            ),
        })?;
    String::from_utf8(bytes).map_err(|_| VersionError::Manifest {
        file: rel.to_path_buf(),
        key: "(document)".into(),
        reason: "is not UTF-8".into(),
    })
}

/// [`manifest::cargo_version_in`] over the checkout or commit `rev` (the
/// project's directory in the repository is `prefix`, empty or ending in `/`).
fn cargo_in_tree(
    project_root: &Path,
    git_rev: Option<(&Repo, &str)>,
    prefix: &str,
    path: &Path,
    text: &str,
) -> Result<Found, NotFound> {
    use crate::source::tree::{expand_dir_globs, FsTree, PathList};
    let read = |p: &Path| match git_rev {
        Some((repo, rev)) => read_at_rev(repo, prefix, rev, p).ok(),
        None => std::fs::read_to_string(project_root.join(p)).ok(),
    };
    let expand = |pats: &[String]| match git_rev {
        Some((repo, rev)) => {
            let files = repo
                .ls_tree(rev)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|e| {
                    e.path
                        .strip_prefix(prefix.as_bytes())
                        .and_then(|p| std::str::from_utf8(p).ok())
                        .map(str::to_string)
                })
                .collect();
            expand_dir_globs(&PathList::new(files), pats)
        }
        None => expand_dir_globs(&FsTree(project_root), pats),
    };
    manifest::cargo_version_in(text, path, &read, &expand)
}
