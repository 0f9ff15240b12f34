//! `kiln ci github` and `kiln ci gitlab`: the release workflow, generated
//! from the project's release policy and written into the checkout.
//!
//! - `config.rs`: the `[ci]` table of `recipes/release.toml` (runners per
//!   system, secret names, how kiln is installed, publishing), every value
//!   checked against a strict character set before it reaches YAML.
//! - `github.rs`, `gitlab.rs`: the workflow of each CI as a typed model of
//!   its jobs and steps; `yaml.rs`: the one deterministic YAML writer.
//! - here: where the file goes (inside the checkout only, never through a
//!   link), writing it when its bytes change, and `--check`.
//!
//! The same policy always gives the same bytes, so regenerating is
//! idempotent and a committed workflow can be checked for staleness.

pub(crate) mod config;
pub(crate) mod error;
pub(crate) mod github;
pub(crate) mod gitlab;
pub(crate) mod yaml;

use std::path::{Component, Path, PathBuf};

pub(crate) use error::CiError;

use crate::fsutil::Dir;

/// The CI a workflow is generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Github,
    Gitlab,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Github => "github",
            Kind::Gitlab => "gitlab",
        }
    }

    /// Where the file goes by default, relative to the project root.
    pub(crate) fn default_path(self) -> &'static str {
        match self {
            Kind::Github => ".github/workflows/release.yml",
            Kind::Gitlab => ".gitlab/kiln-release.yml",
        }
    }
}

/// What `kiln ci` is asked to do.
#[derive(Debug, Clone)]
pub(crate) struct CiOptions {
    /// The project root (the checkout the file is written into).
    pub root: PathBuf,
    pub kind: Kind,
    /// Where to write, relative to the root (default [`Kind::default_path`]).
    pub out: Option<PathBuf>,
    /// Compare with the file instead of writing it.
    pub check: bool,
}

/// What happened to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Written(PathBuf),
    Unchanged(PathBuf),
    /// `--check`: the file holds what would be generated.
    Current(PathBuf),
}

/// The workflow text for the policy of the project at `root`.
pub(crate) fn generate(root: &Path, kind: Kind) -> Result<String, CiError> {
    let file = config::policy_file(root);
    let text = match crate::fsutil::read_regular_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(CiError::Io { path: file, source }),
    };
    let policy = crate::version::policy::ReleasePolicy::parse(&file, &text)?;
    let c = config::parse(&file, &text, &policy.tag.to_string())?;
    // Jobs without the signing key (assemble, publish) trust the cache
    // through the keys the repository lists: without one they could not.
    if crate::cache::trust::release_toml_keys(root)?
        .keys
        .is_empty()
    {
        return Err(CiError::NoTrustedKey { file });
    }
    Ok(match kind {
        Kind::Github => github::workflow(&c),
        Kind::Gitlab => gitlab::pipeline(&c),
    })
}

/// Generate, then write (or `--check`) the file.
pub(crate) fn run(opts: &CiOptions) -> Result<Outcome, CiError> {
    let rel = target(&opts.root, opts.out.as_deref(), opts.kind)?;
    let text = generate(&opts.root, opts.kind)?;
    let shown = opts.root.join(&rel);
    let io = |source| CiError::Io {
        path: shown.clone(),
        source,
    };
    let name = rel.file_name().expect("a checked path has a file name");
    let parent = rel.parent().unwrap_or(Path::new(""));
    let root = Dir::open(&opts.root).map_err(io)?;
    if opts.check {
        let current = match root.walk(parent).and_then(|d| d.read(name)) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        return match current {
            Some(b) if b == text.as_bytes() => Ok(Outcome::Current(shown)),
            _ => Err(CiError::Stale {
                path: shown,
                kind: opts.kind.as_str(),
            }),
        };
    }
    let mut dir = root;
    for c in parent.components() {
        dir = dir.ensure_sub(c.as_os_str()).map_err(io)?;
    }
    match dir.read(name) {
        Ok(b) if b == text.as_bytes() => return Ok(Outcome::Unchanged(shown)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let tmp = format!(".kiln-tmp-{}", name.to_string_lossy());
    match dir.remove(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let mut f = dir.create_new(&tmp, 0o644).map_err(io)?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    dir.rename(&tmp, name).map_err(io)?;
    Ok(Outcome::Written(shown))
}

/// `--out` as a path relative to the root: a relative one is taken from
/// the root; an absolute one must lie below it. Each component is a plain
/// name (no `..`); links on the way are refused when the file is written.
fn target(root: &Path, out: Option<&Path>, kind: Kind) -> Result<PathBuf, CiError> {
    let Some(out) = out else {
        return Ok(PathBuf::from(kind.default_path()));
    };
    let bad = |reason: &str| CiError::Out {
        path: out.to_path_buf(),
        reason: reason.to_string(),
    };
    let rel = if out.is_absolute() {
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let root = canon(root);
        let parent = out.parent().map(canon);
        match (parent, out.file_name()) {
            (Some(p), Some(n)) => p.join(n).strip_prefix(&root).map(Path::to_path_buf),
            _ => return Err(bad("names no file")),
        }
        .map_err(|_| bad("is outside the checkout"))?
    } else {
        out.to_path_buf()
    };
    let mut clean = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => {
                let ok = n.to_str().is_some_and(|s| {
                    s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                });
                if !ok {
                    return Err(bad("each component must be a name of [A-Za-z0-9._-]"));
                }
                clean.push(n);
            }
            Component::CurDir => {}
            _ => return Err(bad("is outside the checkout (no `..`)")),
        }
    }
    if clean.file_name().is_none() {
        return Err(bad("names no file"));
    }
    Ok(clean)
}
