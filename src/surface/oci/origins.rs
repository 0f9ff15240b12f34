//! Where each file of an image came from, reported through [`Origins`] for
//! both artifacts (the layout and the docker archive): layer files by
//! their image path (`<os>-<arch>/` first when there are several
//! platforms; a later layer's file replaces an earlier one's), the base
//! image by its layout's `index.json`, and the JSON documents kiln writes.

use super::plan::{EntryKind, ImagePlan};
use crate::provenance::origin::{EntryOrigin, Origins};
use crate::surface::Artifact;

pub(super) fn image(plan: &ImagePlan, artifacts: &[Artifact]) -> Origins {
    let mut o = Origins::default();
    let many = plan.platforms.len() > 1;
    for a in artifacts {
        for pp in &plan.platforms {
            let prefix = match (&pp.platform, many) {
                (Some(p), true) => format!("{}-{}/", p.os, p.architecture),
                _ => String::new(),
            };
            // The base is its layout's `index.json`, the document that
            // names the pinned manifest: a snapshot file or an input's
            // file, never something the build made.
            if let Some(base) = &pp.base {
                o.add(
                    &a.file,
                    format!("{prefix}base image {}", base.name),
                    EntryOrigin::Workspace(base.dir.join("index.json")),
                );
            }
            for layer in &pp.layers {
                for e in &layer.entries {
                    if let EntryKind::File { disk, .. } = &e.kind {
                        o.add(
                            &a.file,
                            format!("{prefix}{}", e.path),
                            EntryOrigin::Workspace(disk.clone()),
                        );
                    }
                }
            }
            o.add(
                &a.file,
                format!("{prefix}image config"),
                EntryOrigin::Generated("OCI image config"),
            );
            o.add(
                &a.file,
                format!("{prefix}image manifest"),
                EntryOrigin::Generated("OCI image manifest"),
            );
        }
    }
    o
}
