//! Build-time stamping: the stamping rule ([`super::rule`]) applied to a
//! build, deciding from the whole commit (so an npm package depending on a
//! sibling the recipe does not read still gets its range rewritten) and
//! editing only the files the recipe reads. It is planned with the build
//! ([`Stamping::plan`], contents read from the snapshot) and applied to
//! the workspace copies ([`Stamping::apply`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::model::{ManifestKind, StampError};
use super::rule;
use super::{FileEdit, StampChange, StampPlan};
use crate::source::tree::{SnapshotTree, Tree};
use crate::source::Selection;
use crate::version::policy::ReleasePolicy;
use crate::version::ResolvedVersion;

/// Which manifests a recipe's surface makes its package from (the
/// surface says: `crate::surface::SurfaceKind::own_manifests`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnManifests {
    /// None: the surface packs no manifest's package.
    None,
    /// The `package.json` of the source directory (npm).
    PackageJson,
    /// The `pyproject.toml` of the source directory (sdist, wheel).
    Pyproject,
    /// The cargo workspace at the source directory: these members
    /// (every published member when empty).
    Cargo { packages: Vec<String> },
}

/// The manifests a recipe builds from, which are ours whatever version they
/// state: the `package.json` an npm recipe packs, the workspace root and
/// the packed members of a crate recipe (every published member when it
/// names none), the `pyproject.toml` of a Python recipe (and the crate of
/// a maturin project, `[tool.maturin] manifest-path`).
pub(crate) fn recipe_manifests(
    tree: &dyn Tree,
    kind: &OwnManifests,
    base: &str,
) -> BTreeSet<PathBuf> {
    let base = Path::new(base);
    let mut own = BTreeSet::new();
    match kind {
        OwnManifests::PackageJson => {
            own.insert(base.join("package.json"));
        }
        OwnManifests::Pyproject => {
            let pyproject = base.join("pyproject.toml");
            // A maturin project's version is also its crate's.
            if let Some(m) = tree
                .read(&pyproject)
                .and_then(|t| super::pyproject::maturin_manifest(&t))
            {
                own.insert(base.join(m));
            }
            own.insert(pyproject);
        }
        OwnManifests::Cargo { packages: wanted } => {
            let root = base.join("Cargo.toml");
            if let Some(text) = tree.read(&root) {
                for m in rule::cargo_members(tree, base, &text) {
                    let f = m.join("Cargo.toml");
                    let Some(doc) = tree
                        .read(&f)
                        .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
                    else {
                        continue;
                    };
                    let pkg = doc.get("package");
                    let name = pkg.and_then(|p| p.get("name")).and_then(|n| n.as_str());
                    let published =
                        pkg.and_then(|p| p.get("publish")).and_then(|p| p.as_bool()) != Some(false);
                    let ours = if wanted.is_empty() {
                        published
                    } else {
                        name.is_some_and(|n| wanted.iter().any(|w| w == n))
                    };
                    if ours {
                        own.insert(f);
                    }
                }
            }
            own.insert(root);
        }
        OwnManifests::None => {}
    }
    own
}

/// What one build stamps, decided when the build is planned (so `kiln
/// plan` shows it and a bad pattern is refused before anything is
/// written) and applied to the workspace copies by [`Stamping::apply`].
#[derive(Debug, Clone, Default)]
pub struct Stamping {
    /// Every file stamping reads, with its content before and after.
    pub edits: Vec<FileEdit>,
}

impl Stamping {
    /// Plan a recipe's stamping: the stamping rule decided over the whole
    /// snapshot (`tree`), with the policy's `[[stamp.patterns]]`, on the
    /// files `selection` reads, their contents read from the snapshot.
    pub fn plan(
        tree: &SnapshotTree<'_>,
        policy: &ReleasePolicy,
        version: &ResolvedVersion,
        own: &OwnManifests,
        selection: &Selection<'_>,
    ) -> Result<Stamping, StampError> {
        let Some(plan) = plan_for_build(tree, policy, version, own, selection)? else {
            return Ok(Stamping::default());
        };
        let scope = plan.scope.clone().unwrap_or_default();
        let files = Selected { tree, selection };
        Ok(Stamping {
            edits: super::edits(&files, &plan, &scope)?,
        })
    }

    /// Whether a recipe reading `selection` can have anything stamped: it
    /// reads a manifest (stamping edits only manifests), a file of the
    /// policy's `[[stamp.patterns]]`, or the policy declares its stamped
    /// files (whose errors are reported whatever the recipe reads). When
    /// false, [`Stamping::plan`] would plan nothing.
    pub(crate) fn may_stamp(policy: &ReleasePolicy, selection: &Selection<'_>) -> bool {
        policy.stamp_files.is_some()
            || selection.files.iter().any(|f| {
                let p = Path::new(&f.path);
                ManifestKind::of(p).is_some() || policy.stamp_patterns.iter().any(|s| s.file == p)
            })
    }

    /// Every file stamping reads (the workspace must hold a copy of each).
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.edits.iter().map(|e| e.file.as_path())
    }

    /// Every field stamping changes, file by file.
    pub fn changes(&self) -> impl Iterator<Item = &StampChange> {
        self.edits.iter().flat_map(|e| e.changes.iter())
    }

    /// The paths stamping edits (project-relative, sorted).
    pub fn stamped(&self) -> Vec<String> {
        let mut stamped: Vec<String> = self
            .changes()
            .map(|c| crate::source::tree::rel_str(&c.file))
            .collect();
        stamped.sort();
        stamped.dedup();
        stamped
    }

    /// Write the planned contents over the workspace copies at `src`;
    /// returns [`stamped`](Self::stamped).
    pub fn apply(&self, src: &Path) -> Result<Vec<String>, StampError> {
        super::write_edits_with(src, &self.edits, false)?;
        Ok(self.stamped())
    }
}

/// The files a recipe reads, in its snapshot: what build stamping reads.
struct Selected<'a, 's> {
    tree: &'a SnapshotTree<'s>,
    selection: &'a Selection<'s>,
}

impl Selected<'_, '_> {
    fn file(&self, rel: &Path) -> Option<&crate::source::SnapFile> {
        let rel = crate::source::tree::rel_str(rel);
        self.selection.files.iter().copied().find(|f| f.path == rel)
    }
}

impl super::Files for Selected<'_, '_> {
    fn has_file(&self, rel: &Path) -> bool {
        self.file(rel).is_some() && self.tree.is_file(rel)
    }

    fn text(&self, rel: &Path) -> Result<String, StampError> {
        let read = |kind: std::io::ErrorKind, why: &str| StampError::Read {
            path: rel.to_path_buf(),
            source: std::io::Error::new(kind, why.to_string()),
        };
        let f = self
            .file(rel)
            .ok_or_else(|| read(std::io::ErrorKind::NotFound, "not a file the recipe reads"))?;
        if f.kind == crate::source::model::FileKind::Symlink {
            return Err(StampError::Symlink {
                path: rel.to_path_buf(),
            });
        }
        self.tree
            .read(rel)
            .ok_or_else(|| read(std::io::ErrorKind::InvalidData, "unreadable or not UTF-8"))
    }
}

/// What a build would stamp, decided over the whole snapshot (`tree`),
/// with the policy's `[[stamp.patterns]]` on files the recipe reads;
/// `None` when the recipe reads no file that is stamped.
pub(crate) fn plan_for_build(
    tree: &SnapshotTree<'_>,
    policy: &ReleasePolicy,
    version: &ResolvedVersion,
    own_manifests: &OwnManifests,
    selection: &Selection<'_>,
) -> Result<Option<StampPlan>, StampError> {
    let selected: BTreeSet<PathBuf> = selection
        .files
        .iter()
        .map(|f| PathBuf::from(&f.path))
        .collect();
    let mut scope = match &policy.stamp_files {
        Some(files) => rule::declared(tree, files)?,
        None => {
            let extra: Vec<PathBuf> = selected
                .iter()
                .filter(|f| ManifestKind::of(f).is_some())
                .cloned()
                .collect();
            let mut own = recipe_manifests(tree, own_manifests, &selection.base);
            own.extend(super::own_source(policy));
            let candidates = rule::candidates(tree, policy, &extra);
            let mut current = rule::current_spellings(tree, policy);
            for s in rule::spellings(&version.canonical) {
                if !current.contains(&s) {
                    current.push(s);
                }
            }
            rule::decide(tree, &candidates, &own, &current)
        }
    };
    scope.files.retain(|f, _| selected.contains(f));
    let patterns: Vec<_> = policy
        .stamp_patterns
        .iter()
        .filter(|p| selected.contains(&p.file))
        .cloned()
        .collect();
    if scope.files.is_empty() && patterns.is_empty() {
        return Ok(None);
    }
    let mut plan = StampPlan::for_build(version, scope.files.keys().cloned().collect());
    plan.scope = Some(scope);
    plan.patterns = patterns;
    Ok(Some(plan))
}
