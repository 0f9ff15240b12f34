//! The stamping rule — the one place deciding what kiln rewrites, for
//! `kiln version set`/`bump` in the checkout and for build workspaces alike:
//!
//! - a manifest's own version is rewritten only if it equals the canonical
//!   version (any of its spellings), or the manifest is *ours by
//!   declaration*: the recipe's own (the `package.json` an npm recipe packs,
//!   the workspace root and members of a crate recipe, the `pyproject.toml`
//!   of a Python recipe) or the policy's version source;
//! - an internal dependency requirement is rewritten only if it names a
//!   package whose version is being stamped and pins exactly that package's
//!   current version (`=V`, `V`, `^V`, `~V`, `>=V`, keeping the operator) —
//!   `serde_derive = { version = "1", path = … }` stays;
//! - nothing under `node_modules/`, `vendor/` or `third_party/` is looked at;
//! - `[stamp] files` replaces all of this: every listed file is ours, and a
//!   listed file without its version field is an error (fail-fast).
//!
//! Lockfiles follow their manifests: `package-lock.json` entries of stamped
//! workspace packages (the root entry and top-level `version` only when the
//! root `package.json` is stamped), `Cargo.lock` entries of stamped crates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml_edit::ImDocument;

use super::json::Node;
use super::model::{ManifestKind, OwnField, StampError};
use crate::source::tree::{expand_dir_globs, Tree};
use crate::version::policy::{ReleasePolicy, VersionSource};

/// Directory names whose contents are never the project's own manifests.
pub(crate) const VENDORED: [&str; 3] = ["node_modules", "vendor", "third_party"];

/// Whether `path` lies under a vendored directory.
pub(crate) fn is_vendored(path: &Path) -> bool {
    path.components().any(|c| {
        c.as_os_str()
            .to_str()
            .is_some_and(|s| VENDORED.contains(&s))
    })
}

/// What the rule decided for one tree.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Files to edit (project-relative), with how their own version is treated.
    pub files: BTreeMap<PathBuf, OwnField>,
    /// Crates whose version is stamped: name → version before stamping.
    pub cargo: BTreeMap<String, String>,
    /// npm packages whose version is stamped: name → version before, and
    /// their directories (project-relative).
    pub npm: BTreeMap<String, String>,
    pub npm_dirs: BTreeSet<PathBuf>,
}

/// A manifest's own version as written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Own {
    Literal(String),
    /// `version.workspace = true`.
    Inherited,
    /// pyproject `dynamic = ["version"]`.
    Dynamic,
    Absent,
}

struct Facts {
    kind: ManifestKind,
    own: Own,
    name: Option<String>,
    /// For Cargo: the workspace root's `workspace.package.version`.
    ws_version: Option<String>,
}

fn facts(kind: ManifestKind, text: &str) -> Facts {
    let mut f = Facts {
        kind,
        own: Own::Absent,
        name: None,
        ws_version: None,
    };
    match kind {
        ManifestKind::Cargo | ManifestKind::Pyproject => {
            let Ok(doc) = ImDocument::parse(text) else {
                return f;
            };
            let (table, alt) = if kind == ManifestKind::Cargo {
                ("package", None)
            } else {
                ("project", Some(("tool", "poetry")))
            };
            let mut t = doc.get(table);
            if t.and_then(|t| t.get("version")).is_none() {
                if let Some((a, b)) = alt {
                    t = doc.get(a).and_then(|x| x.get(b)).or(t);
                }
            }
            f.name = t
                .and_then(|t| t.get("name"))
                .and_then(|n| n.as_str())
                .map(str::to_string);
            f.own = match t.and_then(|t| t.get("version")) {
                Some(v) if v.as_str().is_some() => Own::Literal(v.as_str().unwrap().to_string()),
                Some(v) if v.get("workspace").and_then(|w| w.as_bool()) == Some(true) => {
                    Own::Inherited
                }
                _ => Own::Absent,
            };
            if kind == ManifestKind::Pyproject && f.own == Own::Absent {
                let dynamic = doc
                    .get("project")
                    .and_then(|p| p.get("dynamic"))
                    .and_then(|d| d.as_array())
                    .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
                if dynamic {
                    f.own = Own::Dynamic;
                }
            }
            f.ws_version = doc
                .get("workspace")
                .and_then(|w| w.get("package"))
                .and_then(|p| p.get("version"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
        }
        ManifestKind::PackageJson => {
            if let Ok(doc) = Node::parse(text) {
                f.name = doc.get("name").and_then(Node::as_str).map(str::to_string);
                if let Some(v) = doc.get("version").and_then(Node::as_str) {
                    f.own = Own::Literal(v.to_string());
                }
            }
        }
        ManifestKind::PackageLock => {}
    }
    f
}

/// The manifests the rule considers in `tree`: the root `Cargo.toml` and its
/// `workspace.members`, the root `package.json` and its `workspaces`, the
/// root `package-lock.json` and `pyproject.toml`, the version source
/// manifest, plus `extra` — those that exist, none vendored.
pub(crate) fn candidates(
    tree: &dyn Tree,
    policy: &ReleasePolicy,
    extra: &[PathBuf],
) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    if let Some(text) = tree.read(Path::new("Cargo.toml")) {
        out.insert(PathBuf::from("Cargo.toml"));
        for m in cargo_members(tree, Path::new(""), &text) {
            out.insert(m.join("Cargo.toml"));
        }
    }
    if let Some(text) = tree.read(Path::new("package.json")) {
        out.insert(PathBuf::from("package.json"));
        for m in expand_dir_globs(tree, &super::npm::workspaces(&text)) {
            out.insert(m.join("package.json"));
        }
    }
    out.extend(["package-lock.json", "pyproject.toml"].map(PathBuf::from));
    if let VersionSource::Cargo(p) | VersionSource::Npm(p) | VersionSource::Pyproject(p) =
        &policy.source
    {
        out.insert(p.clone());
    }
    out.extend(extra.iter().cloned());
    out.into_iter()
        .filter(|p| ManifestKind::of(p).is_some() && !is_vendored(p) && tree.is_file(p))
        .collect()
}

/// Member directories of the Cargo workspace root in directory `base`
/// (minus `workspace.exclude`), relative to the tree's root.
pub(crate) fn cargo_members(tree: &dyn Tree, base: &Path, text: &str) -> Vec<PathBuf> {
    let Ok(doc) = ImDocument::parse(text) else {
        return Vec::new();
    };
    let list = |key: &str| -> Vec<String> {
        doc.get("workspace")
            .and_then(|w| w.get(key))
            .and_then(|m| m.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let under = |pats: Vec<String>| -> Vec<String> {
        pats.into_iter()
            .map(|p| crate::source::tree::rel_str(&base.join(p)))
            .collect()
    };
    let exclude: Vec<PathBuf> = under(list("exclude"))
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let mut out = expand_dir_globs(tree, &under(list("members")));
    out.retain(|d| !exclude.contains(d));
    out
}

/// The current canonical version's spellings as manifests write them
/// (SemVer for Cargo/npm, PEP 440 for pyproject), read from the policy's
/// source in `tree`; empty when it cannot be read (e.g. `source = "tag"`).
pub(crate) fn current_spellings(tree: &dyn Tree, policy: &ReleasePolicy) -> Vec<String> {
    use crate::version::source as src;
    use crate::version::Version;
    type Reader = fn(&str) -> Result<src::Found, src::NotFound>;
    let (path, reader): (&PathBuf, Reader) = match &policy.source {
        VersionSource::Cargo(p) => (p, src::cargo_version),
        VersionSource::Npm(p) => (p, src::npm_version),
        VersionSource::Pyproject(p) => (p, src::pyproject_version),
        VersionSource::File(p) => (p, src::file_version),
        VersionSource::Tag => return Vec::new(),
    };
    let Some(text) = tree.read(path) else {
        return Vec::new();
    };
    let found = match &policy.source {
        VersionSource::Cargo(_) => src::cargo_version_in(&text, path, &|p| tree.read(p), &|pats| {
            expand_dir_globs(tree, pats)
        }),
        _ => reader(&text),
    };
    let Ok(found) = found else {
        return Vec::new();
    };
    let scheme = policy.source.native_scheme().unwrap_or(policy.scheme);
    match Version::parse(scheme, &found.value) {
        Ok(v) => spellings(&v),
        Err(_) => vec![found.value],
    }
}

/// SemVer and PEP 440 spellings of `v` (those that exist).
pub(crate) fn spellings(v: &crate::version::Version) -> Vec<String> {
    let mut out = Vec::new();
    for s in [
        v.semver().map(|x| x.to_string()).ok(),
        v.pep440().map(|x| x.to_string()).ok(),
    ]
    .into_iter()
    .flatten()
    {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Applies the rule to `candidates` of `tree`: `own` are the manifests that
/// are ours by declaration, `current` the canonical version's spellings.
pub(crate) fn decide(
    tree: &dyn Tree,
    candidates: &[PathBuf],
    own: &BTreeSet<PathBuf>,
    current: &[String],
) -> Scope {
    let mut scope = Scope::default();
    let mut facts_of: BTreeMap<PathBuf, Facts> = BTreeMap::new();
    for p in candidates {
        let (Some(kind), Some(text)) = (ManifestKind::of(p), tree.read(p)) else {
            continue;
        };
        facts_of.insert(p.clone(), facts(kind, &text));
    }
    // Cargo workspace roots whose `workspace.package.version` is stamped:
    // their members inheriting it are stamped with them.
    let mut stamped_roots: Vec<(PathBuf, String)> = Vec::new();
    for (p, f) in &facts_of {
        let ours = own.contains(p);
        let field = match (&f.own, f.kind) {
            (_, ManifestKind::PackageLock) => continue,
            (Own::Literal(v), _) if ours || current.contains(v) => OwnField::IfPresent,
            (Own::Dynamic, _) if ours => OwnField::IfPresent,
            (Own::Absent, _) if ours => OwnField::IfPresent,
            _ => OwnField::No,
        };
        let ws_stamped = f
            .ws_version
            .as_ref()
            .filter(|v| ours || current.contains(v));
        if let Some(v) = ws_stamped {
            let dir = p.parent().unwrap_or(Path::new("")).to_path_buf();
            stamped_roots.push((dir, v.clone()));
        }
        let field = if ws_stamped.is_some() {
            OwnField::IfPresent
        } else {
            field
        };
        scope.files.insert(p.clone(), field);
        if field == OwnField::No {
            continue;
        }
        if let (Some(name), Own::Literal(v)) = (&f.name, &f.own) {
            match f.kind {
                ManifestKind::Cargo => {
                    scope.cargo.insert(name.clone(), v.clone());
                }
                ManifestKind::PackageJson => {
                    scope.npm.insert(name.clone(), v.clone());
                    scope
                        .npm_dirs
                        .insert(p.parent().unwrap_or(Path::new("")).to_path_buf());
                }
                _ => {}
            }
        }
    }
    for (p, f) in &facts_of {
        if f.kind != ManifestKind::Cargo || f.own != Own::Inherited {
            continue;
        }
        let root = stamped_roots
            .iter()
            .filter(|(d, _)| p.starts_with(d))
            .max_by_key(|(d, _)| d.components().count());
        if let (Some((_, v)), Some(name)) = (root, &f.name) {
            scope.cargo.insert(name.clone(), v.clone());
        }
    }
    for (p, f) in &facts_of {
        if f.kind == ManifestKind::PackageLock {
            scope.files.insert(p.clone(), OwnField::No);
        }
    }
    scope
}

/// The members of the Cargo workspace root in `dir` (text `root_text`)
/// that inherit its version and are not in `listed`: their version changes
/// with the root's, so the root's (and every listed manifest's) pins on
/// them are stamped too, although their own manifests are not listed.
fn inheriting_members(
    tree: &dyn Tree,
    dir: &Path,
    root_text: &str,
    listed: &[PathBuf],
) -> Vec<(PathBuf, String)> {
    cargo_members(tree, dir, root_text)
        .into_iter()
        .map(|m| m.join("Cargo.toml"))
        .filter(|p| !listed.contains(p) && !is_vendored(p))
        .filter_map(|p| {
            let f = facts(ManifestKind::Cargo, &tree.read(&p)?);
            (f.own == Own::Inherited).then_some((p, f.name?))
        })
        .collect()
}

/// The scope of an explicit file list (`[stamp] files`, or a plan built by
/// hand): every file is ours and must carry its version field.
pub(crate) fn declared(tree: &dyn Tree, files: &[PathBuf]) -> Result<Scope, StampError> {
    let mut scope = Scope::default();
    let mut roots: Vec<(PathBuf, String)> = Vec::new();
    let mut inherited = Vec::new();
    for p in files {
        let kind =
            ManifestKind::of(p).ok_or_else(|| StampError::UnknownKind { path: p.clone() })?;
        let text = tree.read(p).ok_or_else(|| StampError::Read {
            path: p.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        })?;
        let f = facts(kind, &text);
        scope.files.insert(p.clone(), OwnField::Required);
        let dir = p.parent().unwrap_or(Path::new("")).to_path_buf();
        if let Some(v) = &f.ws_version {
            roots.push((dir.clone(), v.clone()));
            inherited.extend(inheriting_members(tree, &dir, &text, files));
        }
        match (&f.name, &f.own, kind) {
            (Some(n), Own::Literal(v), ManifestKind::Cargo) => {
                scope.cargo.insert(n.clone(), v.clone());
            }
            (Some(n), Own::Inherited, ManifestKind::Cargo) => {
                inherited.push((p.clone(), n.clone()))
            }
            (Some(n), Own::Literal(v), ManifestKind::PackageJson) => {
                scope.npm.insert(n.clone(), v.clone());
                scope.npm_dirs.insert(dir);
            }
            _ => {}
        }
    }
    for (p, n) in inherited {
        if let Some((_, v)) = roots
            .iter()
            .filter(|(d, _)| p.starts_with(d))
            .max_by_key(|(d, _)| d.components().count())
        {
            scope.cargo.insert(n, v.clone());
        }
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tree::FsTree;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn only_what_carries_the_version() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r, "Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\n[workspace.package]\nversion = \"1.0.0\"\n[workspace.dependencies]\na = { path = \"a\", version = \"=1.0.0\" }\n");
        write(
            r,
            "a/Cargo.toml",
            "[package]\nname = \"a\"\nversion.workspace = true\n",
        );
        write(
            r,
            "b/Cargo.toml",
            "[package]\nname = \"b\"\nversion = \"0.3.0\"\n",
        );
        write(
            r,
            "package.json",
            "{\"private\": true, \"workspaces\": [\"node/*\"]}\n",
        );
        write(
            r,
            "node/x/package.json",
            "{\"name\": \"x\", \"version\": \"1.0.0\"}\n",
        );
        write(
            r,
            "node/x/vendor/y/package.json",
            "{\"name\": \"y\", \"version\": \"9.0.0\"}\n",
        );
        let tree = FsTree(r);
        let policy = ReleasePolicy::default();
        let cands = candidates(
            &tree,
            &policy,
            &[PathBuf::from("node/x/vendor/y/package.json")],
        );
        assert!(!cands.iter().any(|c| is_vendored(c)));
        let cur = current_spellings(&tree, &policy);
        assert_eq!(cur, ["1.0.0"]);
        let s = decide(&tree, &cands, &BTreeSet::new(), &cur);
        assert_eq!(s.files[Path::new("b/Cargo.toml")], OwnField::No);
        assert_eq!(s.files[Path::new("package.json")], OwnField::No);
        assert_eq!(s.files[Path::new("Cargo.toml")], OwnField::IfPresent);
        assert_eq!(s.cargo.get("a").map(String::as_str), Some("1.0.0"));
        assert!(!s.cargo.contains_key("b"));
        assert_eq!(s.npm.get("x").map(String::as_str), Some("1.0.0"));
    }
}
