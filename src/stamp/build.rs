//! Build-time stamping: the stamping rule ([`super::rule`]) applied to a
//! build workspace, deciding from the whole commit (so an npm package
//! depending on a sibling the recipe does not read still gets its range
//! rewritten) and editing only the files the recipe reads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::model::{ManifestKind, StampError};
use super::rule;
use super::{stamp_tree, StampPlan};
use crate::source::tree::{SnapshotTree, Tree};
use crate::source::{Selection, Snapshot};
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
pub fn recipe_manifests(tree: &dyn Tree, kind: &OwnManifests, base: &str) -> BTreeSet<PathBuf> {
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

/// Stamps the build's version spellings into the workspace copies at `src`
/// of the manifests `selection` reads, by the stamping rule decided over
/// the whole `snapshot`. Returns the edited paths (project-relative, sorted).
pub fn stamp_workspace(
    src: &Path,
    snapshot: &Snapshot,
    policy: &ReleasePolicy,
    version: &ResolvedVersion,
    own: &OwnManifests,
    selection: &Selection<'_>,
) -> Result<Vec<String>, StampError> {
    match plan_for_build(snapshot, policy, version, own, selection)? {
        Some(plan) => apply(src, &plan),
        None => Ok(Vec::new()),
    }
}

/// Stamp the workspace at `src` per `plan`; the edited paths, sorted.
pub fn apply(src: &Path, plan: &StampPlan) -> Result<Vec<String>, StampError> {
    let changes = stamp_tree(src, plan)?;
    let mut stamped: Vec<String> = changes
        .iter()
        .map(|c| crate::source::tree::rel_str(&c.file))
        .collect();
    stamped.sort();
    stamped.dedup();
    Ok(stamped)
}

/// What [`stamp_workspace`] would edit, decided over the whole snapshot,
/// with the policy's `[[stamp.patterns]]` on files the recipe reads;
/// `None` when the recipe reads no file that is stamped.
pub fn plan_for_build(
    snapshot: &Snapshot,
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
    let tree = SnapshotTree::new(snapshot);
    let mut scope = match &policy.stamp_files {
        Some(files) => rule::declared(&tree, files)?,
        None => {
            let extra: Vec<PathBuf> = selected
                .iter()
                .filter(|f| ManifestKind::of(f).is_some())
                .cloned()
                .collect();
            let mut own = recipe_manifests(&tree, own_manifests, &selection.base);
            own.extend(super::own_source(policy));
            let candidates = rule::candidates(&tree, policy, &extra);
            let mut current = rule::current_spellings(&tree, policy);
            for s in rule::spellings(&version.canonical) {
                if !current.contains(&s) {
                    current.push(s);
                }
            }
            rule::decide(&tree, &candidates, &own, &current)
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
