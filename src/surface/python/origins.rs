//! Where each entry of a native sdist or wheel came from, reported through
//! [`Origins`] by the same rules `sdist::write` and `wheel::write` follow.

use super::files::{is_junk, SourceFiles};
use super::project::Project;
use super::wheel::WheelPlan;
use super::{metadata, PythonError};
use crate::provenance::origin::{EntryOrigin, Origins};

/// The entries of the sdist `artifact`.
pub(super) fn sdist(
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
        let disk = src.file(rel)?.at;
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
pub(super) fn wheel(artifact: &str, project: &Project, plan: &WheelPlan) -> Origins {
    let dist_info = format!("{}.dist-info", project.dist_stem());
    let mut o = Origins::default();
    for (path, f) in &plan.entries {
        o.add(artifact, path.clone(), EntryOrigin::Workspace(f.at.clone()));
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
            EntryOrigin::Workspace(f.at.clone()),
        );
    }
    o
}

/// The entries of an archive a PEP 517 backend made (after normalisation):
/// an entry whose bytes equal the selected file at the same path (below the
/// sdist's top directory; at the wheel root or below `src/`) came from that
/// file — for a file `[[map]]` placed, from the file it was copied from
/// (an input's output) — a wheel's `RECORD` was recomputed by kiln, and the
/// rest is the backend's.
pub(super) fn backend(
    job: &crate::surface::Job<'_>,
    placed: &super::placed::Placed,
    artifact: &str,
    facts: &super::normalise::Facts,
    backend: &str,
    wheel: bool,
) -> Origins {
    let by = format!("the PEP 517 backend {backend}");
    let selected: std::collections::BTreeSet<&str> = job.files.iter().map(String::as_str).collect();
    let mut o = Origins::default();
    for (path, digest) in &facts.entries {
        let rel = if wheel {
            path.as_str()
        } else {
            path.split_once('/').map_or(path.as_str(), |(_, r)| r)
        };
        let candidates = [rel.to_string(), format!("src/{rel}")];
        let from = candidates.iter().find_map(|c| {
            let disk = match placed.get(c.as_str()) {
                Some(at) => at.clone(),
                None if selected.contains(c.as_str()) => job.source_dir.join(c),
                None => return None,
            };
            crate::fsutil::read_regular(&disk)
                .is_ok_and(|b| crate::hash::Sha256::digest(&b) == *digest)
                .then_some(disk)
        });
        let origin = match from {
            Some(disk) => EntryOrigin::Workspace(disk),
            None => EntryOrigin::Built(by.clone()),
        };
        o.add(artifact, path.clone(), origin);
    }
    if wheel {
        if let Some(dist_info) = facts
            .entries
            .iter()
            .find_map(|(p, _)| p.split('/').next().filter(|t| t.ends_with(".dist-info")))
        {
            o.add(
                artifact,
                format!("{dist_info}/RECORD"),
                EntryOrigin::Generated("the wheel's RECORD, recomputed after normalising"),
            );
        }
    }
    o
}
