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
pub(super) struct Built {
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
    // (`SourceView`); only the files stamping edits are written (and, for
    // an in-place view, what has no file of its own to read: git blobs and
    // symlinks). What is stamped was planned with the build
    // (`Node::stamping`); here the planned contents are only written.
    // A Python recipe that runs its backend gets a full workspace.
    let access = if p.python.as_ref().is_some_and(|c| c.is_backend()) {
        surface::SourceAccess::Workspace
    } else {
        surface::source_access(p.recipe)
    };
    write_sources(p, access, &src)?;
    let input_paths = copy_inputs(cx, inputs, &inputs_dir)?;
    let stamped = p.stamping.apply(&src)?;
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
        git: p.git,
        versions: &drv.versions,
        backend_env: p.backend_env.as_ref(),
        python: p.python.as_ref(),
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
    src: &Path,
) -> Result<(), BuildError> {
    let resolved = p.resolved;
    if access == surface::SourceAccess::Workspace {
        resolved.snapshot.materialise(&p.selection.files, src)?;
    } else {
        use crate::source::model::{Content, FileKind};
        let to_stamp: std::collections::BTreeSet<&std::path::Path> = p.stamping.files().collect();
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

/// How an input's store output is copied into the workspace: symlinks
/// kept, the executable bit kept, everything writable by the owner.
const INPUT_COPY: crate::fsutil::TreeCopy = crate::fsutil::TreeCopy {
    exec_file: 0o755,
    file: 0o644,
    dir: 0o755,
    exact_dir: true,
    replace: true,
    keep_mtime: false,
};

/// Copy each input's store output into `inputs_dir/<mount>`; returns the
/// copies by mount.
fn copy_inputs(
    cx: &Ctx<'_>,
    inputs: &BTreeMap<String, Realised>,
    inputs_dir: &Path,
) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    let mut input_paths = BTreeMap::new();
    let dir = crate::fsutil::Dir::open(inputs_dir).map_err(io(inputs_dir))?;
    for (mount, x) in inputs {
        let from = cx.store.path_of(&x.realisation.store_path);
        crate::fsutil::copy_tree(&from, &dir, Path::new(mount), &INPUT_COPY)?;
        input_paths.insert(mount.clone(), inputs_dir.join(mount));
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
