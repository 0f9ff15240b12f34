//! One build in its ephemeral workspace.
//!
//! Layout (the same inside the sandbox, where it is mounted at `/build`):
//!
//! ```text
//! <ws>/src/…             the recipe's snapshot files at project-relative paths, stamped
//! <ws>/inputs/<mount>/   copies of input outputs
//! <ws>/out/              where the surface writes the output
//! ```
//!
//! The workspace lives under `store/.kiln/tmp` so the output is renamed into
//! the store without a copy, and is deleted when the build ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{BuildError, Engine, Prepared};
use crate::derive::Derivation;
use crate::store::Realisation;
use crate::surface::{self, Artifact, Job};

/// What a surface produced, ready to register.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub name: String,
    pub artifacts: Vec<Artifact>,
}

pub(super) fn run(
    engine: &Engine,
    p: &Prepared<'_>,
    drv: &Derivation,
    drv_hash: &str,
    inputs: &BTreeMap<String, (String, Realisation)>,
    tools: &[crate::sandbox::Tool],
    ws: &Path,
) -> Result<Built, BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let src = ws.join("src");
    let inputs_dir = ws.join("inputs");
    let out = ws.join("out");
    for d in [&src, &inputs_dir, &out] {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    engine.snapshot.materialise(&p.selection.files, &src)?;
    let mut input_paths = BTreeMap::new();
    for (mount, (_, real)) in inputs {
        let from = engine.store.path_of(&real.store_path);
        let to = inputs_dir.join(mount);
        copy_tree(&from, &to)?;
        input_paths.insert(mount.clone(), to);
    }
    let stamped = stamp(engine, p, &src)?;
    let source_dir = if p.selection.base.is_empty() {
        src.clone()
    } else {
        src.join(&p.selection.base)
    };
    let files: Vec<String> = p
        .selection
        .files
        .iter()
        .map(|f| p.selection.relative(f).to_string())
        .collect();
    let log = engine.store.log_path(drv_hash);
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let job = Job {
        recipe: p.recipe,
        workspace: ws,
        source_dir: &source_dir,
        source_rel: &p.selection.base,
        files: &files,
        inputs: &input_paths,
        version: drv
            .versions
            .get("artifact")
            .map(String::as_str)
            .unwrap_or_default(),
        source_date_epoch: drv.source_date_epoch,
        out: &out,
        sandbox: engine.opts.sandbox,
        host_inputs: &engine.opts.host_inputs,
        log: &log,
        stamped: &stamped,
        npm_dist_tag: engine.version.npm_dist_tag().to_string(),
        tools,
        versions: &drv.versions,
    };
    let output = surface::build(&job).map_err(|source| match source {
        surface::SurfaceError::Failed { tail } => BuildError::Failed {
            recipe: p.recipe.id.clone(),
            log: log.clone(),
            tail,
        },
        source => BuildError::Surface {
            recipe: p.recipe.id.clone(),
            source: Box::new(source),
        },
    })?;
    Ok(Built {
        path: output.path,
        name: output.name,
        artifacts: output.artifacts,
    })
}

/// Stamp the build's version spellings into the workspace copies of the
/// manifests the recipe reads: the policy's `[stamp] files` when declared,
/// else every `Cargo.toml`, `package.json`, `package-lock.json` and
/// `pyproject.toml` that carries a version (`Cargo.lock` follows its
/// workspace). Returns the stamped paths.
fn stamp(engine: &Engine, p: &Prepared<'_>, src: &Path) -> Result<Vec<String>, BuildError> {
    use crate::stamp::{self, ManifestKind, StampPlan};
    let selected: std::collections::BTreeSet<&str> =
        p.selection.files.iter().map(|f| f.path.as_str()).collect();
    let candidates: Vec<PathBuf> = match &engine.policy.stamp_files {
        Some(files) => files
            .iter()
            .filter(|f| selected.contains(f.to_string_lossy().as_ref()))
            .cloned()
            .collect(),
        None => stamp::discover(src, &engine.policy)
            .into_iter()
            .chain(
                p.selection
                    .files
                    .iter()
                    .map(|f| PathBuf::from(&f.path))
                    .filter(|f| ManifestKind::of(f).is_some()),
            )
            .filter(|f| selected.contains(f.to_string_lossy().as_ref()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let files: Vec<PathBuf> = candidates
        .into_iter()
        .filter(|f| {
            let text = std::fs::read_to_string(src.join(f)).unwrap_or_default();
            match ManifestKind::of(f) {
                Some(ManifestKind::Cargo) => {
                    stamp::cargo::has_version(&text) || text.contains("[workspace")
                }
                Some(ManifestKind::PackageJson) => stamp::npm::has_version(&text),
                Some(_) => true,
                None => false,
            }
        })
        .collect();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let plan = StampPlan::for_build(&engine.version, files);
    let changes = stamp::stamp_tree(src, &plan)?;
    let mut stamped: Vec<String> = changes
        .iter()
        .map(|c| c.file.to_string_lossy().into_owned())
        .collect();
    stamped.sort();
    stamped.dedup();
    Ok(stamped)
}

/// Copy a store output (file or tree) into the workspace, keeping symlinks
/// and the executable bit, making copies writable by the owner.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let meta = std::fs::symlink_metadata(from).map_err(io(from))?;
    if meta.file_type().is_symlink() {
        let t = std::fs::read_link(from).map_err(io(from))?;
        std::os::unix::fs::symlink(t, to).map_err(io(to))?;
    } else if meta.is_dir() {
        std::fs::create_dir_all(to).map_err(io(to))?;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).map_err(io(to))?;
        let mut entries: Vec<_> = std::fs::read_dir(from)
            .map_err(io(from))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io(from))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
    } else {
        std::fs::copy(from, to).map_err(io(to))?;
        let exec = meta.permissions().mode() & 0o100 != 0;
        std::fs::set_permissions(
            to,
            std::fs::Permissions::from_mode(if exec { 0o755 } else { 0o644 }),
        )
        .map_err(io(to))?;
    }
    Ok(())
}
