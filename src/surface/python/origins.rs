//! Where each entry of a native sdist or wheel came from, reported through
//! [`Origins`] by the same rules `sdist::write` and `wheel::write` follow.

use super::files::{is_junk, SourceFiles};
use super::project::Project;
use super::wheel::WheelPlan;
use super::{metadata, PythonError};
use crate::provenance::origin::{EntryOrigin, Origins};

/// The entries of the sdist `artifact`.
pub fn sdist(
    artifact: &str,
    project: &Project,
    src: &SourceFiles<'_>,
) -> Result<Origins, PythonError> {
    let stem = project.dist_stem();
    let mut o = Origins::default();
    for rel in src.paths() {
        if is_junk(rel) || rel == "PKG-INFO" {
            continue;
        }
        let disk = src.file(rel)?.disk;
        let origin = if rel == "pyproject.toml" {
            EntryOrigin::Rewritten {
                from: disk,
                content: project.pyproject.clone().into_bytes(),
            }
        } else {
            EntryOrigin::Workspace(disk)
        };
        o.add(artifact, format!("{stem}/{rel}"), origin);
    }
    o.add(
        artifact,
        format!("{stem}/PKG-INFO"),
        EntryOrigin::Generated("core metadata (PKG-INFO)"),
    );
    Ok(o)
}

/// The entries of the wheel `artifact`.
pub fn wheel(artifact: &str, project: &Project, plan: &WheelPlan) -> Origins {
    let dist_info = format!("{}.dist-info", project.dist_stem());
    let mut o = Origins::default();
    for (path, f) in &plan.entries {
        o.add(
            artifact,
            path.clone(),
            EntryOrigin::Workspace(f.disk.clone()),
        );
    }
    let generated = [
        ("METADATA", "core metadata (METADATA)"),
        ("WHEEL", "wheel metadata (WHEEL)"),
        ("RECORD", "the wheel's file list with digests (RECORD)"),
    ];
    for (name, what) in generated {
        o.add(
            artifact,
            format!("{dist_info}/{name}"),
            EntryOrigin::Generated(what),
        );
    }
    if metadata::entry_points(project).is_some() {
        o.add(
            artifact,
            format!("{dist_info}/entry_points.txt"),
            EntryOrigin::Generated("entry points from [project.scripts]"),
        );
    }
    for (rel, f) in &plan.licenses {
        o.add(
            artifact,
            format!("{dist_info}/licenses/{rel}"),
            EntryOrigin::Workspace(f.disk.clone()),
        );
    }
    o
}
