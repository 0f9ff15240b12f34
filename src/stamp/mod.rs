//! Format-preserving version stamping of manifests: `Cargo.toml`,
//! `package.json`, `package-lock.json`, `pyproject.toml`.
//!
//! Used twice: by `kiln version set` on the checkout (the release-prep
//! commit, [`StampMode::Checkout`]) and by the build engine, planned from
//! the commit's snapshot and applied to *copies* in a workspace
//! ([`build::Stamping`], [`StampMode::Workspace`], which also turns a
//! dynamic `pyproject.toml` version static). Either way the files are read
//! through [`Files`]. Cargo and npm files get the SemVer
//! spelling, `pyproject.toml` the PEP 440 one.
//!
//! Every edit replaces a value in place — `toml_edit` for TOML, the span
//! reader of [`json`] for JSON — so a diff of a stamped file touches only
//! version strings. All new contents are computed before anything is written:
//! a missing declared field or an unparseable manifest leaves every file as
//! it was. Each file is then replaced atomically (temp file + rename).
//!
//! A `Cargo.lock` beside a stamped root `Cargo.toml` is kept in step: its
//! entries for the stamped packages (path packages, no `source`) get the new
//! version, so `cargo build --locked` still works after `kiln version set`.
//!
//! The per-format string functions ([`cargo::stamp`], [`cargo::stamp_lock`],
//! [`npm::stamp_package_json`], [`npm::stamp_lock`], [`pyproject::stamp`])
//! are pure and usable on their own.

pub(crate) mod build;
pub(crate) mod cargo;
pub(crate) mod diff;
pub(crate) mod json;
pub(crate) mod model;
pub(crate) mod npm;
pub(crate) mod pyproject;
pub(crate) mod rule;

pub use model::{Edit, FieldError, ManifestKind, StampError, StampMode};

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::version::pattern::{PatternSpelling, StampPattern};
use crate::version::policy::{ReleasePolicy, VersionSource};
use crate::version::{ResolvedVersion, Scheme, Version, VersionError};

/// A version spelling, or why there is none (e.g. a PEP 440 epoch has no
/// SemVer form). Shared so that a plan can be cloned.
pub type Spelling = Result<String, Arc<VersionError>>;

/// What to stamp: files (relative to the root) and the spellings to write.
#[derive(Debug, Clone)]
pub struct StampPlan {
    /// Files to edit. Without a `scope`, each is ours and must carry its
    /// version field (an explicit list, like `[stamp] files`).
    pub files: Vec<PathBuf>,
    /// What the stamping rule decided ([`rule::decide`]); `None` = `files`
    /// is an explicit list ([`rule::declared`]).
    pub scope: Option<rule::Scope>,
    /// For `Cargo.toml`, `package.json`, `package-lock.json`.
    pub semver: Spelling,
    /// For `pyproject.toml`.
    pub pep440: Spelling,
    /// The canonical version's scheme (a pattern's `{version}`).
    pub scheme: Scheme,
    /// `[[stamp.patterns]]` to apply (after the manifests' edits).
    pub patterns: Vec<StampPattern>,
    pub mode: StampMode,
}

impl StampPlan {
    /// Stamping a plain version (no dev suffix) — `kiln version set`.
    pub fn for_version(version: &Version, files: Vec<PathBuf>, mode: StampMode) -> StampPlan {
        StampPlan {
            files,
            scope: None,
            semver: version
                .semver()
                .map(|v| v.to_string())
                .map_err(|e| Arc::new(e.into())),
            pep440: version
                .pep440()
                .map(|v| v.to_string())
                .map_err(|e| Arc::new(e.into())),
            scheme: version.scheme(),
            patterns: Vec::new(),
            mode,
        }
    }

    /// Stamping a build's versions (dev suffixes included) — the build engine.
    /// Manifests get the version even for a post release (an image may
    /// carry one); refusing to *publish* it is [`ResolvedVersion::render`]'s job.
    pub fn for_build(resolved: &ResolvedVersion, files: Vec<PathBuf>) -> StampPlan {
        let spell = |s: Scheme| resolved.spelled(s).map(|v| v.to_string()).map_err(Arc::new);
        StampPlan {
            files,
            scope: None,
            semver: spell(Scheme::SemVer),
            pep440: spell(Scheme::Pep440),
            scheme: resolved.canonical.scheme(),
            patterns: Vec::new(),
            mode: StampMode::Workspace,
        }
    }

    /// Every file the plan may edit: its manifests and its patterns' files.
    pub fn touched(&self) -> impl Iterator<Item = &Path> {
        self.files
            .iter()
            .map(PathBuf::as_path)
            .chain(self.patterns.iter().map(|p| p.file.as_path()))
    }

    /// The spelling a pattern's placeholder writes.
    fn pattern_spelling(&self, p: &StampPattern) -> Result<String, StampError> {
        let scheme = match p.spelling {
            PatternSpelling::Canonical => self.scheme,
            PatternSpelling::Scheme(s) => s,
        };
        let (spelling, name) = match scheme {
            Scheme::SemVer => (&self.semver, "SemVer"),
            Scheme::Pep440 => (&self.pep440, "PEP 440"),
        };
        spelling.clone().map_err(|reason| StampError::Spelling {
            path: p.file.clone(),
            scheme: name,
            reason,
        })
    }
}

/// One field changed by stamping.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StampChange {
    pub file: PathBuf,
    /// Dotted key, e.g. `workspace.dependencies.core.version`, `packages[""].version`.
    pub key: String,
    pub old: String,
    pub new: String,
}

/// The new content of one file.
#[derive(Debug, Clone)]
pub struct FileEdit {
    pub file: PathBuf,
    pub before: String,
    pub after: String,
    pub changes: Vec<StampChange>,
}

/// Where stamping reads the files it edits: the checkout ([`Dir`]) for
/// `kiln version set`, the build's snapshot when a build is planned
/// ([`build::Selected`]).
pub trait Files {
    /// Whether `rel` is a regular file stamping may read (a `Cargo.lock`
    /// beside a stamped `Cargo.toml` is edited only then).
    fn has_file(&self, rel: &Path) -> bool;
    /// The text of `rel`, refusing a symbolic link: a link in a repository
    /// may point anywhere, and what is read is what gets written back.
    fn text(&self, rel: &Path) -> Result<String, StampError>;
}

/// A directory on disk: the checkout `kiln version set` stamps.
#[derive(Debug, Clone, Copy)]
pub struct Dir<'a>(pub &'a Path);

impl Files for Dir<'_> {
    fn has_file(&self, rel: &Path) -> bool {
        crate::source::tree::Tree::is_file(&crate::source::tree::FsTree(self.0), rel)
    }

    fn text(&self, rel: &Path) -> Result<String, StampError> {
        let path = self.0.join(rel);
        let read = |source| StampError::Read {
            path: rel.to_path_buf(),
            source,
        };
        if std::fs::symlink_metadata(&path)
            .map_err(read)?
            .file_type()
            .is_symlink()
        {
            return Err(StampError::Symlink {
                path: rel.to_path_buf(),
            });
        }
        std::fs::read_to_string(&path).map_err(read)
    }
}

/// Computes every file's new content; reads only, writes nothing.
pub fn plan_edits(root: &Path, plan: &StampPlan) -> Result<Vec<FileEdit>, StampError> {
    let scope = match &plan.scope {
        Some(s) => s.clone(),
        None => rule::declared(&crate::source::tree::FsTree(root), &plan.files)?,
    };
    edits(&Dir(root), plan, &scope)
}

/// Every file's new content under `scope`, read from `files`: the
/// manifests' edits, the `Cargo.lock`s beside them, then the patterns.
pub fn edits(
    files: &dyn Files,
    plan: &StampPlan,
    scope: &rule::Scope,
) -> Result<Vec<FileEdit>, StampError> {
    let mut texts = Vec::new();
    for (f, own) in &scope.files {
        let kind =
            ManifestKind::of(f).ok_or_else(|| StampError::UnknownKind { path: f.clone() })?;
        let text = files.text(f)?;
        texts.push((f.clone(), kind, *own, text));
    }
    let spelling = |f: &Path, s: &Spelling, scheme: &'static str| {
        s.clone().map_err(|reason| StampError::Spelling {
            path: f.to_path_buf(),
            scheme,
            reason,
        })
    };
    // A Cargo.lock beside an edited Cargo.toml follows the stamped crates.
    let mut cargo_locks = BTreeSet::new();
    if !scope.cargo.is_empty() {
        for (f, kind, _, _) in &texts {
            if *kind == ManifestKind::Cargo {
                let lock = f.with_file_name("Cargo.lock");
                if !rule::is_vendored(&lock) && files.has_file(&lock) {
                    cargo_locks.insert(lock);
                }
            }
        }
    }
    let mut out = Vec::new();
    for lock in cargo_locks {
        let text = files.text(&lock)?;
        let result = cargo::stamp_lock(
            &text,
            &scope.cargo,
            &spelling(&lock, &plan.semver, "SemVer")?,
        );
        out.push(file_edit(lock, text, result)?);
    }
    for (f, kind, own, text) in texts {
        let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
        let result = match kind {
            ManifestKind::Cargo => cargo::stamp(
                &text,
                &dir,
                &spelling(&f, &plan.semver, "SemVer")?,
                own,
                &scope.cargo,
            ),
            ManifestKind::PackageJson => npm::stamp_package_json(
                &text,
                &spelling(&f, &plan.semver, "SemVer")?,
                own,
                &scope.npm,
            ),
            ManifestKind::PackageLock => {
                let dirs: BTreeSet<String> = scope
                    .npm_dirs
                    .iter()
                    .filter_map(|d| d.strip_prefix(&dir).ok().map(crate::source::tree::rel_str))
                    .filter(|d| !d.is_empty())
                    .collect();
                npm::stamp_lock(
                    &text,
                    &spelling(&f, &plan.semver, "SemVer")?,
                    scope.npm_dirs.contains(&dir),
                    &dirs,
                    &scope.npm,
                )
            }
            ManifestKind::Pyproject if own == model::OwnField::No => Ok((text.clone(), Vec::new())),
            ManifestKind::Pyproject => {
                match pyproject::stamp(&text, &spelling(&f, &plan.pep440, "PEP 440")?, plan.mode) {
                    // A recipe's own pyproject.toml whose version lives
                    // elsewhere (setup.cfg, setuptools-scm) has nothing to
                    // stamp; the backend's result is checked instead.
                    Err(e)
                        if own == model::OwnField::IfPresent && e.key == pyproject::MISSING_KEY =>
                    {
                        Ok((text.clone(), Vec::new()))
                    }
                    r => r,
                }
            }
        };
        out.push(file_edit(f, text, result)?);
    }
    apply_patterns(files, plan, &mut out)?;
    Ok(out)
}

/// Applies the plan's patterns on top of the manifests' edits in `out`:
/// each pattern must match its file exactly once, and its version is
/// replaced by the pattern's spelling.
fn apply_patterns(
    files: &dyn Files,
    plan: &StampPlan,
    out: &mut Vec<FileEdit>,
) -> Result<(), StampError> {
    for p in &plan.patterns {
        let new = plan.pattern_spelling(p)?;
        let i = match out.iter().position(|e| e.file == p.file) {
            Some(i) => i,
            None => {
                let text = files.text(&p.file)?;
                out.push(FileEdit {
                    file: p.file.clone(),
                    before: text.clone(),
                    after: text,
                    changes: Vec::new(),
                });
                out.len() - 1
            }
        };
        let edit = &mut out[i];
        let m = p
            .find_once(&edit.after)
            .map_err(|source| StampError::Pattern {
                path: p.file.clone(),
                pattern: p.pattern.clone(),
                source,
            })?;
        edit.after.replace_range(m.start..m.end, &new);
        edit.changes.push(StampChange {
            file: p.file.clone(),
            key: format!("pattern {}", p.pattern),
            old: m.old,
            new,
        });
    }
    Ok(())
}

/// The [`FileEdit`] of one per-format stamping result.
fn file_edit(
    file: PathBuf,
    before: String,
    result: Result<(String, Vec<Edit>), FieldError>,
) -> Result<FileEdit, StampError> {
    let (after, edits) = result.map_err(|e| StampError::Field {
        path: file.clone(),
        key: e.key,
        reason: e.reason,
    })?;
    let changes = edits
        .into_iter()
        .map(|e| StampChange {
            file: file.clone(),
            key: e.key,
            old: e.old,
            new: e.new,
        })
        .collect();
    Ok(FileEdit {
        file,
        before,
        after,
        changes,
    })
}

/// Writes the files whose content changed, each atomically (temp file in the
/// same directory, permissions copied, rename), synced to disk first.
pub fn write_edits(root: &Path, edits: &[FileEdit]) -> Result<(), StampError> {
    write_edits_with(root, edits, true)
}

/// [`write_edits`], syncing to disk only when `durable` (a build
/// workspace is a throwaway copy: a crash discards it).
pub(crate) fn write_edits_with(
    root: &Path,
    edits: &[FileEdit],
    durable: bool,
) -> Result<(), StampError> {
    for e in edits.iter().filter(|e| e.before != e.after) {
        let path = root.join(&e.file);
        let werr = |source| StampError::Write {
            path: e.file.clone(),
            source,
        };
        let dir = path.parent().unwrap_or(root);
        let mut tmp = tempfile::Builder::new()
            .prefix(".kiln-stamp")
            .tempfile_in(dir)
            .map_err(werr)?;
        tmp.write_all(e.after.as_bytes()).map_err(werr)?;
        if durable {
            tmp.as_file().sync_all().map_err(werr)?;
        }
        if let Ok(meta) = std::fs::metadata(&path) {
            std::fs::set_permissions(tmp.path(), meta.permissions()).map_err(werr)?;
        }
        tmp.persist(&path).map_err(|e| werr(e.error))?;
    }
    Ok(())
}

/// Stamps the tree at `root` per `plan`: all or nothing, then writes.
///
/// Checkout edits are synced to disk; a build workspace is a throwaway copy
/// (a crash discards it), so its edits are not.
pub fn stamp_tree(root: &Path, plan: &StampPlan) -> Result<Vec<StampChange>, StampError> {
    let edits = plan_edits(root, plan)?;
    write_edits_with(root, &edits, plan.mode == StampMode::Checkout)?;
    Ok(edits.into_iter().flat_map(|e| e.changes).collect())
}

/// The files `kiln version set` considers: `[stamp] files` when declared,
/// else the root `Cargo.toml` and its workspace members' manifests, the root
/// `package.json` and its `workspaces`, the root `package-lock.json` and
/// `pyproject.toml`, and the version source manifest — those that exist and
/// are not vendored. Which of them are edited, and where, is
/// [`plan_for_checkout`]'s rule.
pub fn discover(root: &Path, policy: &ReleasePolicy) -> Vec<PathBuf> {
    if let Some(files) = &policy.stamp_files {
        return files.clone();
    }
    rule::candidates(&crate::source::tree::FsTree(root), policy, &[])
}

/// The plan of `kiln version set`/`bump`: write `new` where the stamping
/// rule ([`rule`]) says the checkout carries the current canonical version.
pub fn plan_for_checkout(
    root: &Path,
    policy: &ReleasePolicy,
    new: &Version,
) -> Result<StampPlan, StampError> {
    let files = discover(root, policy);
    let mut plan = StampPlan::for_version(new, files, StampMode::Checkout);
    plan.patterns = policy.stamp_patterns.clone();
    if policy.stamp_files.is_none() {
        let tree = crate::source::tree::FsTree(root);
        let own = own_source(policy);
        let current = rule::current_spellings(&tree, policy);
        let scope = rule::decide(&tree, &plan.files, &own, &current);
        plan.files = scope.files.keys().cloned().collect();
        plan.scope = Some(scope);
    }
    Ok(plan)
}

/// The policy's version source manifest, which is always ours.
pub(crate) fn own_source(policy: &ReleasePolicy) -> BTreeSet<PathBuf> {
    match &policy.source {
        VersionSource::Cargo(p) | VersionSource::Npm(p) | VersionSource::Pyproject(p) => {
            BTreeSet::from([p.clone()])
        }
        _ => BTreeSet::new(),
    }
}

/// A line that still holds an old version after `set`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Leftover {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    pub text: String,
}

fn is_version_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-' | b'_')
}

/// Whether `line` contains `needle` as a whole version token.
fn contains_token(line: &str, needle: &str) -> bool {
    let b = line.as_bytes();
    line.match_indices(needle).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| b[j]);
        let after = b.get(i + needle.len()).copied();
        !before.is_some_and(is_version_char) && !after.is_some_and(is_version_char)
    })
}

/// Lines to skip in a lockfile: entries of third-party packages.
fn skipped_lines(name: &str, text: &str) -> BTreeSet<usize> {
    let mut skip = BTreeSet::new();
    match name {
        "Cargo.lock" | "uv.lock" => {
            let lines: Vec<&str> = text.lines().collect();
            let mut start = 0;
            for i in 0..=lines.len() {
                if i == lines.len() || (i > start && lines[i].starts_with("[[")) {
                    if lines[start..i].iter().any(|l| {
                        l.starts_with("source = ")
                            && !l.contains("editable")
                            && !l.contains("virtual")
                    }) {
                        skip.extend(start..i);
                    }
                    start = i;
                }
            }
        }
        "package-lock.json" => {
            if let Ok(doc) = json::Node::parse(text) {
                if let Some(p) = doc.get("packages") {
                    for (k, v) in p.members() {
                        let link = v.get("link").is_some();
                        if k.contains("node_modules/") && !link {
                            let a = text[..v.span.start].matches('\n').count();
                            let b = text[..v.span.end].matches('\n').count();
                            skip.extend(a..=b);
                        }
                    }
                }
            }
        }
        _ => {}
    }
    skip
}

/// Searches the stamped manifests and the lockfiles beside them for `old`
/// version spellings that remain (third-party lockfile entries excluded).
pub fn find_leftovers(root: &Path, files: &[PathBuf], old: &[String]) -> Vec<Leftover> {
    let mut candidates = BTreeSet::new();
    for f in files {
        candidates.insert(f.clone());
        let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
        for lock in ["Cargo.lock", "package-lock.json", "uv.lock"] {
            candidates.insert(dir.join(lock));
        }
    }
    let mut out = Vec::new();
    for f in candidates {
        // Regular files only: a lockfile linked out of the tree is not read.
        let Ok(text) = crate::fsutil::read_regular_string(&root.join(&f)) else {
            continue;
        };
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let skip = skipped_lines(name, &text);
        for (i, line) in text.lines().enumerate() {
            if !skip.contains(&i) && old.iter().any(|o| !o.is_empty() && contains_token(line, o)) {
                out.push(Leftover {
                    file: f.clone(),
                    line: i + 1,
                    text: line.trim().to_string(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Classify, ErrorKind};

    #[test]
    fn tokens() {
        assert!(contains_token("version = \"0.1.0\"", "0.1.0"));
        assert!(!contains_token("version = \"10.1.0\"", "0.1.0"));
        assert!(!contains_token("version = \"0.1.0-rc.1\"", "0.1.0"));
        assert!(contains_token("\"dep\": \"^0.1.0\"", "0.1.0"));
    }

    #[test]
    fn a_declared_manifest_that_is_a_symlink_is_refused_unread() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside.toml");
        let secret = "[package]\nname = \"secret\"\nversion = \"0.1.0\"\n";
        std::fs::write(&outside, secret).unwrap();
        let root = tmp.path().join("proj");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("Cargo.toml")).unwrap();
        let v = Version::parse(crate::version::Scheme::SemVer, "0.2.0").unwrap();
        let plan = StampPlan::for_version(&v, vec!["Cargo.toml".into()], StampMode::Checkout);
        let err = plan_edits(&root, &plan).unwrap_err();
        // Refused before any content is read: the rule's tree does not
        // follow links, and the edit reader refuses them too.
        assert!(
            matches!(err, StampError::Symlink { .. } | StampError::Read { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("Cargo.toml"), "{err}");
        assert_eq!(err.kind(), ErrorKind::BadInput);
        let scope = rule::Scope {
            files: [(PathBuf::from("Cargo.toml"), model::OwnField::Required)].into(),
            ..rule::Scope::default()
        };
        let plan = StampPlan {
            scope: Some(scope),
            ..plan
        };
        let err = plan_edits(&root, &plan).unwrap_err();
        assert!(matches!(err, StampError::Symlink { .. }), "{err}");
        assert_eq!(err.kind(), ErrorKind::BadInput);
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), secret);
    }

    #[test]
    fn cargo_lock_third_party_skipped() {
        let t = "[[package]]\nname = \"a\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"b\"\nversion = \"0.1.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let s = skipped_lines("Cargo.lock", t);
        assert!(!s.contains(&2) && s.contains(&6));
    }
}
