//! Entry origins of the command and crate surfaces: what each reports through [`Origins`].

use std::collections::BTreeMap;
use std::path::Path;

use super::{Artifact, Job, SurfaceError};
use crate::provenance::origin::{EntryOrigin, Origins};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SurfaceError + '_ {
    move |source| SurfaceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Command outputs: every file was made by the command.
pub(super) fn command(
    out: &Path,
    artifact: &str,
    argv: &[String],
) -> Result<Origins, SurfaceError> {
    let by = format!(
        "the command `{}`",
        argv.first().map(String::as_str).unwrap_or_default()
    );
    let mut o = Origins::default();
    for (rel, _) in crate::fsutil::files_below(out).map_err(io(out))? {
        o.add(artifact, rel, EntryOrigin::Built(by.clone()));
    }
    Ok(o)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    *crate::hash::Sha256::digest(bytes).as_bytes()
}

/// Crates: `cargo package` wrote them; an entry whose bytes equal the file
/// at the same path of its package directory came from that file,
/// `Cargo.toml.orig` is the (stamped) manifest, the rest is cargo's.
pub(super) fn crates(
    job: &Job<'_>,
    manifest_dir: &str,
    staging: &Path,
    artifacts: &[Artifact],
) -> Result<Origins, SurfaceError> {
    let mut o = Origins::default();
    let limits = crate::diff::Limits::default();
    let manifests: Vec<&String> = job
        .files
        .iter()
        .filter(|f| *f == "Cargo.toml" || f.ends_with("/Cargo.toml"))
        .collect();
    let root_lock = job.workspace.join(manifest_dir).join("Cargo.lock");
    for a in artifacts {
        let path = staging.join(&a.path);
        let listing =
            crate::diff::source::read_path(&path, &limits).map_err(|e| SurfaceError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let by_name: BTreeMap<&[u8], &crate::diff::Entry> = listing
            .entries
            .iter()
            .map(|e| (e.name.as_bytes(), e))
            .collect();
        // The package directory: the selected Cargo.toml whose bytes are
        // the crate's Cargo.toml.orig.
        let orig = listing
            .entries
            .iter()
            .find(|e| e.name.as_bytes().ends_with(b"/Cargo.toml.orig"));
        let mut pkg_dir = None;
        if let Some(orig) = orig {
            for m in &manifests {
                let disk = job.source_dir.join(m);
                if std::fs::read(&disk).is_ok_and(|b| sha256(&b) == orig.sha256) {
                    pkg_dir = disk.parent().map(Path::to_path_buf);
                    break;
                }
            }
        }
        for (name, e) in by_name {
            if e.kind != Some(crate::diff::Kind::File) {
                continue;
            }
            let name = String::from_utf8_lossy(name).into_owned();
            let rel = name.split_once('/').map_or("", |(_, r)| r);
            let same = |disk: &Path| std::fs::read(disk).is_ok_and(|b| sha256(&b) == e.sha256);
            let origin = match (rel, &pkg_dir) {
                ("Cargo.toml.orig", Some(d)) => EntryOrigin::Workspace(d.join("Cargo.toml")),
                ("Cargo.toml", _) => {
                    EntryOrigin::Built("cargo package (normalised manifest)".into())
                }
                (".cargo_vcs_info.json", _) => {
                    EntryOrigin::Built("cargo package (VCS information)".into())
                }
                ("Cargo.lock", _) if same(&root_lock) => EntryOrigin::Workspace(root_lock.clone()),
                (_, Some(d)) if same(&d.join(rel)) => EntryOrigin::Workspace(d.join(rel)),
                _ => EntryOrigin::Built("cargo package".into()),
            };
            o.add(&a.file, name, origin);
        }
    }
    Ok(o)
}
