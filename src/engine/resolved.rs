//! Resolving: what one invocation reads from the checkout, once — the
//! recipes and release policy, the snapshot and the version, side by side
//! ([`Resolved::load`]); for a post release, the release it re-issues too,
//! read at that release's tag ([`load_base`]).

use std::path::{Path, PathBuf};

use super::{BuildError, BuildOptions};
use crate::recipe::policy::ReleasePolicy;
use crate::recipe::Recipes;
use crate::source::{Checkout, Snapshot, SnapshotOptions};
use crate::version::{ResolvedVersion, Version};

/// Everything read from the checkout, once per invocation.
#[derive(Debug)]
pub struct Resolved {
    pub checkout: Checkout,
    pub recipes: Recipes,
    pub policy: ReleasePolicy,
    pub snapshot: Snapshot,
    pub version: ResolvedVersion,
    /// A post release: the release it re-issues, read at that release's
    /// tag; its code recipes are built from there ([`super::post`]).
    pub base: Option<Box<Resolved>>,
}

impl Resolved {
    /// Resolve the checkout, load recipes and policy from it, then take the
    /// snapshot and resolve the version (independent git work, side by side).
    pub fn load(opts: &BuildOptions) -> Result<Resolved, BuildError> {
        let checkout = Checkout::resolve(&opts.root, opts.rev.as_deref(), opts.dirty)?;
        let mut resolved = Resolved::load_checkout(opts, checkout)?;
        resolved.base = load_base(opts, &resolved.version)?;
        Ok(resolved)
    }

    /// [`load`](Self::load) from a resolved checkout, without a base release.
    fn load_checkout(opts: &BuildOptions, checkout: Checkout) -> Result<Resolved, BuildError> {
        let root = &opts.root;
        let (recipes, policy) = crate::recipe::load::project(&checkout)?;
        let cwd = opts.cwd.as_deref();
        let mut exclude_dirs = vec![absolute(&opts.store_dir, cwd)];
        if let Some(o) = &opts.out_dir {
            exclude_dirs.push(absolute(o, cwd));
        }
        exclude_dirs.push(absolute(&root.join(super::DIST_DIR), cwd));
        let snap_opts = SnapshotOptions { exclude_dirs };
        let overrides = crate::version::Overrides {
            version: opts.version.clone(),
            tag: opts.tag.clone(),
        };
        // The version side runs on its own thread so that the snapshot's own
        // parallel git queries get both rayon workers.
        let (snapshot, version) = std::thread::scope(|s| {
            let version =
                s.spawn(|| crate::version::resolve::resolve_at(&checkout, &policy, &overrides));
            let snapshot = Snapshot::take(&checkout, &snap_opts);
            match version.join() {
                Ok(v) => (snapshot, v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        let version = version?;
        crate::version::reuse::check_tags(&checkout, &policy, &version, opts.tag.as_deref())?;
        Ok(Resolved {
            snapshot: snapshot?,
            version,
            checkout,
            recipes,
            policy,
            base: None,
        })
    }
}

/// The release a post release re-issues: `3.1.0.post1` → `3.1.0`, in the
/// same scheme. `None` for a version that is not a post release.
pub(super) fn base_version(v: &Version) -> Option<Version> {
    v.post_base()
}

/// The base release of a post release, read at its tag: `None` when
/// `version` is not a post release. A missing tag is bad input naming it.
pub(super) fn load_base(
    opts: &BuildOptions,
    version: &ResolvedVersion,
) -> Result<Option<Box<Resolved>>, BuildError> {
    let Some(base) = base_version(&version.canonical) else {
        return Ok(None);
    };
    let tag = version.policy().tag.render(&base);
    let post_error = |reason: String| BuildError::PostReleaseBase {
        version: version.canonical.to_string(),
        base: base.to_string(),
        tag: tag.clone(),
        reason,
    };
    let rev = format!("refs/tags/{tag}");
    let checkout = Checkout::resolve(&opts.root, Some(&rev), false).map_err(|source| {
        BuildError::PostReleaseTag {
            version: version.canonical.to_string(),
            base: base.to_string(),
            tag: tag.clone(),
            source: Box::new(source),
        }
    })?;
    // Built as the tag's release: the tag names the base version by
    // construction, so that is the version (a post release's own
    // `--version`/`--tag` are not the base's).
    let base_opts = BuildOptions {
        rev: Some(rev),
        dirty: false,
        version: Some(base.to_string()),
        tag: None,
        ..opts.clone()
    };
    let resolved = Resolved::load_checkout(&base_opts, checkout)?;
    if resolved.version.canonical.to_string() != base.to_string() || !resolved.version.is_release()
    {
        return Err(post_error(format!(
            "its commit builds version {}, not release {base}",
            resolved.version.canonical
        )));
    }
    Ok(Some(Box::new(resolved)))
}

/// An absolute, symlink-free spelling of `p` (which may not exist yet,
/// relative to `cwd`), so it compares equal to the canonical project root of
/// a snapshot.
fn absolute(p: &Path, cwd: Option<&Path>) -> PathBuf {
    let abs = match cwd {
        Some(c) if !p.is_absolute() => c.join(p),
        _ => p.to_path_buf(),
    };
    if let Ok(c) = std::fs::canonicalize(&abs) {
        return c;
    }
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|c| c.join(name))
            .unwrap_or(abs),
        _ => abs,
    }
}
