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

use super::context::Ctx;
use super::error::io;
use super::plan::{Node, Realised};
use super::BuildError;
use crate::derive::{Derivation, DrvHash};
use crate::surface::{self, Artifact, Job};

/// What a surface produced, ready to register.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub name: String,
    pub artifacts: Vec<Artifact>,
    /// Where each artifact entry came from.
    pub origins: crate::provenance::origin::OriginsRecord,
}

pub(super) fn run(
    cx: &Ctx<'_>,
    p: &Node<'_>,
    drv: &Derivation,
    drv_hash: &DrvHash,
    inputs: &BTreeMap<String, Realised>,
    ws: &Path,
) -> Result<Built, BuildError> {
    let resolved = p.resolved;
    let src = ws.join("src");
    let inputs_dir = ws.join("inputs");
    let out = ws.join("out");
    for d in [&src, &inputs_dir, &out] {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    // A surface that only reads its sources gets them from the snapshot
    // (`SourceView`); only the manifests stamping edits are written (and,
    // for an in-place view, what has no file of its own to read: git
    // blobs and symlinks).
    // A Python recipe that runs its backend gets a full workspace.
    let access = if p.python.as_ref().is_some_and(|c| c.is_backend()) {
        surface::SourceAccess::Workspace
    } else {
        surface::source_access(p.recipe)
    };
    let plan = crate::stamp::build::plan_for_build(
        &resolved.snapshot,
        &resolved.policy,
        &resolved.version,
        p.recipe,
        &p.selection,
    )?;
    write_sources(p, access, plan.as_ref(), &src)?;
    let input_paths = copy_inputs(cx, inputs, &inputs_dir)?;
    let stamped = match &plan {
        Some(plan) => crate::stamp::build::apply(&src, plan)?,
        None => Vec::new(),
    };
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
    let view = source_view(p, access, &src)?;
    let log = cx.store.log_path(drv_hash.as_str());
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let job = Job {
        recipe: p.recipe,
        workspace: ws,
        source_dir: &source_dir,
        source_rel: &p.selection.base,
        files: &files,
        view: view.as_ref(),
        inputs: &input_paths,
        version: &drv.versions.artifact,
        source_date_epoch: drv.source_date_epoch.seconds(),
        out: &out,
        sandbox: cx.opts.sandbox,
        host_inputs: &cx.opts.host_inputs,
        log: &log,
        stamped: &stamped,
        npm_dist_tag: resolved.version.npm_dist_tag().to_string(),
        tools: &p.tools,
        git: surface::git_source(&resolved.snapshot, &resolved.checkout.root)
            .filter(|_| p.recipe.surface() == crate::recipe::Surface::Crate),
        versions: &drv.versions,
        backend_env: p.backend_env.as_ref(),
        store: Some(cx.store),
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
    let origins = resolve_origins(ws, p, &stamped, inputs, &output.origins)?;
    // Nothing reads the sources and input copies any more.
    for d in [src, inputs_dir] {
        let _ = cx.sweep.send(super::context::Sweep::Tree(d));
    }
    Ok(Built {
        path: output.path,
        name: output.name,
        artifacts: output.artifacts,
        origins,
    })
}

/// Write the sources the surface reads from disk into `src`: the whole
/// selection for a workspace surface; for one reading a view, only the
/// files stamping edits (and, in place, git blobs and symlinks, which
/// have no file of their own to read).
fn write_sources(
    p: &Node<'_>,
    access: surface::SourceAccess,
    plan: Option<&crate::stamp::StampPlan>,
    src: &Path,
) -> Result<(), BuildError> {
    let resolved = p.resolved;
    if access == surface::SourceAccess::Workspace {
        resolved.snapshot.materialise(&p.selection.files, src)?;
    } else {
        use crate::source::model::{Content, FileKind};
        let to_stamp: std::collections::BTreeSet<&std::path::Path> =
            plan.into_iter().flat_map(|plan| plan.touched()).collect();
        let in_place = access == surface::SourceAccess::InPlace;
        let written: Vec<&crate::source::SnapFile> = p
            .selection
            .files
            .iter()
            .copied()
            .filter(|f| {
                to_stamp.contains(std::path::Path::new(&f.path))
                    || (in_place
                        && (f.kind == FileKind::Symlink
                            || matches!(f.content, Content::GitBlob(_))))
            })
            .collect();
        resolved.snapshot.materialise(&written, src)?;
    }
    Ok(())
}

/// Copy each input's store output into `inputs_dir/<mount>`; returns the
/// copies by mount.
fn copy_inputs(
    cx: &Ctx<'_>,
    inputs: &BTreeMap<String, Realised>,
    inputs_dir: &Path,
) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    let mut input_paths = BTreeMap::new();
    for (mount, x) in inputs {
        let from = cx.store.path_of(&x.realisation.store_path);
        let to = inputs_dir.join(mount);
        copy_tree(&from, &to)?;
        input_paths.insert(mount.clone(), to);
    }
    Ok(input_paths)
}

/// The snapshot view a surface reads its sources through (none for a
/// workspace surface): in place over `src`, or read from the snapshot
/// with the files written to `src` (stamped) taking their place.
fn source_view(
    p: &Node<'_>,
    access: surface::SourceAccess,
    src: &Path,
) -> Result<Option<crate::source::view::SourceView>, BuildError> {
    Ok(match access {
        surface::SourceAccess::Workspace => None,
        surface::SourceAccess::InPlace => Some(crate::source::view::SourceView::in_place(
            &p.selection,
            src,
        )?),
        surface::SourceAccess::View => {
            let overrides = p
                .selection
                .files
                .iter()
                .filter(|f| src.join(&f.path).exists())
                .map(|f| (p.selection.relative(f).to_string(), src.join(&f.path)))
                .collect();
            Some(crate::source::view::SourceView::read(
                &p.resolved.snapshot,
                &p.selection,
                &overrides,
            )?)
        }
    })
}

/// Where each entry of the output came from, in terms of the snapshot,
/// the stamped files and the inputs (recipe and store path by mount).
fn resolve_origins(
    ws: &Path,
    p: &Node<'_>,
    stamped: &[String],
    inputs: &BTreeMap<String, Realised>,
    origins: &crate::provenance::origin::Origins,
) -> Result<crate::provenance::origin::OriginsRecord, BuildError> {
    let resolver = super::origins::Resolver {
        ws,
        snapshot: &p.resolved.snapshot,
        stamped,
        inputs: inputs
            .iter()
            .map(|(mount, x)| {
                let recipe = p.recipe.inputs().get(mount).cloned().unwrap_or_default();
                (
                    mount.clone(),
                    (recipe, x.realisation.store_path.to_string()),
                )
            })
            .collect(),
    };
    resolver.resolve(origins)
}

/// Copy a store output (file or tree) into the workspace, keeping symlinks
/// and the executable bit, making copies writable by the owner.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
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
        crate::fsutil::copy_with_mode(from, to).map_err(io(to))?;
    }
    Ok(())
}
