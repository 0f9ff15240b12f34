//! The `npm` surface: the facts of an npm recipe and its build (the
//! package tarball [`super::pack_tree`] writes) from the recipe's snapshot
//! view, with an input mounted as `node_modules` read where it is.

use crate::archive::compress::GzipOptions;
use crate::provenance::origin::{EntryOrigin, Origins};
use crate::recipe::schema::NpmSection;
use crate::recipe::{Recipe, RecipeError};
use crate::stamp::build::OwnManifests;
use crate::surface::kind::{Publication, SourceAccess, SurfaceKind};
use crate::surface::names::{self, Predicted, Read, VersionNames};
use crate::surface::{sha256_file, Artifact, ArtifactFacts, Job, NpmFacts, Output, SurfaceError};

use super::tree::{DiskTree, Mounted, PackageTree, ViewTree};

/// The `npm` surface over its `[npm]` table.
#[derive(Debug, Clone, Copy)]
pub struct Npm<'a>(pub &'a NpmSection);

impl SurfaceKind for Npm<'_> {
    fn publication(&self) -> Publication {
        Publication::Npm
    }

    fn builder(&self) -> Vec<(&'static str, String)> {
        // v2: the gzip stream is deflated in pieces on all cores (format
        // change from v1's one streaming zlib-rs deflate).
        vec![
            ("writer", "npm-v2".to_string()),
            (
                "deflate",
                crate::archive::deflate::pieces_identity(GzipOptions::NPM.level),
            ),
        ]
    }

    fn source_access(&self) -> SourceAccess {
        SourceAccess::View
    }

    fn own_manifests(&self) -> OwnManifests {
        OwnManifests::PackageJson
    }

    fn predict(
        &self,
        _: &Recipe,
        v: &VersionNames<'_>,
        read: &mut Read<'_>,
    ) -> Result<Option<Vec<Predicted>>, RecipeError> {
        Ok(predicted(v, read).map(|n| vec![n]))
    }

    fn build(&self, job: &Job<'_>) -> Result<Output, SurfaceError> {
        build(job)
    }
}

fn predicted(v: &VersionNames<'_>, read: &mut Read<'_>) -> Option<Predicted> {
    let json: serde_json::Value = serde_json::from_slice(&read("package.json")?).ok()?;
    let name = json.get("name")?.as_str()?;
    let own = json.get("version").and_then(|x| x.as_str());
    let file = super::tarball_name(name, &names::version_of(v, own));
    Some(names::from_manifest(file, "package.json", "name", name))
}

fn build(job: &Job<'_>) -> Result<Output, SurfaceError> {
    let tmp = job.out.join(".npm-pack.tgz");
    let file = std::fs::File::create(&tmp).map_err(|source| SurfaceError::Io {
        path: tmp.clone(),
        source,
    })?;
    let view_tree = job.view.map(|v| ViewTree::new(v, job.source_dir));
    let disk_tree = DiskTree::new(job.source_dir);
    let base: &dyn PackageTree = match &view_tree {
        Some(t) => t,
        None => &disk_tree,
    };
    // Bundled dependencies may come from an input mounted as
    // `node_modules` (its regular files, read where they are) when the
    // package has no `node_modules/` of its own.
    let mounted = job
        .inputs
        .get("node_modules")
        .filter(|_| base.kind("node_modules").is_none())
        .map(|nm| Mounted {
            base,
            modules: DiskTree::input(nm),
        });
    let installed = mounted.is_some();
    let tree: &dyn PackageTree = match &mounted {
        Some(m) => m,
        None => base,
    };
    let mut w = std::io::BufWriter::new(file);
    let pack = super::pack_tree(tree, &mut w)?;
    std::io::Write::flush(&mut w).map_err(|source| SurfaceError::Io {
        path: tmp.clone(),
        source,
    })?;
    drop(w);
    let dest = job.out.join(&pack.file_name);
    std::fs::rename(&tmp, &dest).map_err(|source| SurfaceError::Io {
        path: dest.clone(),
        source,
    })?;
    let (sha256, size) = sha256_file(&dest)?;
    let facts = ArtifactFacts {
        npm: Some(NpmFacts {
            integrity: pack.integrity.clone(),
            shasum: pack.shasum.clone(),
            npm_name: pack.name.clone(),
            npm_version: pack.version.clone(),
            dist_tag: job.npm_dist_tag.clone(),
        }),
        // Paths in the messages are the workspace's; name them from the project.
        warnings: pack
            .warnings
            .iter()
            .map(|w| w.replace(&format!("{}/", job.source_dir.display()), ""))
            .collect(),
        ..Default::default()
    };
    if !facts.warnings.is_empty() {
        let text: String = facts
            .warnings
            .iter()
            .map(|w| format!("warning: {w}\n"))
            .collect();
        std::fs::write(job.log, text).map_err(|source| SurfaceError::Io {
            path: job.log.to_path_buf(),
            source,
        })?;
    }
    let origins = origins(job, &pack, installed);
    Ok(Output {
        path: dest,
        name: crate::nix::store_path::sanitize_name(&pack.file_name),
        origins,
        artifacts: vec![Artifact {
            files: Default::default(),
            file: pack.file_name,
            path: String::new(),
            sha256,
            size,
            directory: false,
            facts,
        }],
    })
}

/// npm: every packed file is named by its workspace path (whether or not
/// it was written there), except bundled dependencies read from the
/// `node_modules` input.
fn origins(job: &Job<'_>, pack: &super::NpmPack, installed: bool) -> Origins {
    let mut o = Origins::default();
    for f in &pack.files {
        let origin = match f.strip_prefix("node_modules/").filter(|_| installed) {
            Some(rest) => EntryOrigin::Input {
                mount: "node_modules".into(),
                path: rest.to_string(),
            },
            None => EntryOrigin::Workspace(job.source_dir.join(f)),
        };
        o.add(&pack.file_name, format!("package/{f}"), origin);
    }
    o
}
