//! Surfaces: one module per kind of artifact. Each turns a prepared
//! workspace ([`Job`]) into an output in `<ws>/out` ([`Output`]).
//!
//! Native surfaces (npm, tarball, zip) write archives with kiln's own writers
//! (`src/archive/`); process surfaces (command, crate) run tools only through
//! `src/sandbox/`.

pub mod bundle;
pub mod command;
pub mod crate_;
pub mod names;
pub mod npm;
pub mod oci;
mod origins;
pub mod python;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Classify, ErrorKind};
use crate::recipe::{Recipe, Surface};
use crate::sandbox::SandboxMode;

/// Everything a surface may read.
#[derive(Debug)]
pub struct Job<'a> {
    pub recipe: &'a Recipe,
    /// The workspace root (`/build` in the sandbox).
    pub workspace: &'a Path,
    /// The recipe's source directory inside the workspace.
    pub source_dir: &'a Path,
    /// The recipe's source directory relative to the project root ("" = root).
    pub source_rel: &'a str,
    /// The selected files, relative to `source_dir`, sorted by bytes.
    pub files: &'a [String],
    /// The selected files, for a surface that does not get them all in the
    /// workspace ([`source_access`]); then only what the view says was
    /// written is in `source_dir`. `None`: every file is there.
    pub view: Option<&'a crate::source::view::SourceView>,
    /// Input mount name → its copy in the workspace.
    pub inputs: &'a BTreeMap<String, PathBuf>,
    /// The version spelling for this surface.
    pub version: &'a str,
    pub source_date_epoch: i64,
    /// Empty directory the output goes into.
    pub out: &'a Path,
    pub sandbox: SandboxMode,
    pub host_inputs: &'a BTreeMap<String, PathBuf>,
    /// Build log file.
    pub log: &'a Path,
    /// Manifests stamped in the workspace (project-relative paths).
    pub stamped: &'a [String],
    /// npm dist-tag for this version.
    pub npm_dist_tag: String,
    /// Resolved tools (process surfaces).
    pub tools: &'a [crate::sandbox::Tool],
    /// The commit the workspace was materialised from, when the project is
    /// the root of its git repository (the crate surface packs from a git
    /// checkout of it, as `cargo publish` does).
    pub git: Option<GitSource<'a>>,
    /// The derivation's version facts (`artifact`, and for OCI recipes
    /// `oci-tags` and `revision`).
    pub versions: &'a crate::derive::Versions,
    /// A Python backend's environment from a declared directory of wheels.
    pub backend_env: Option<&'a python::backend::Environment>,
    /// The store, where tool environments are kept (`None`: built in the
    /// workspace, not kept).
    pub store: Option<&'a crate::store::Store>,
}

/// A commit of the project's repository.
#[derive(Debug, Clone, Copy)]
pub struct GitSource<'a> {
    pub repo: &'a crate::source::git::Repo,
    /// Full commit id.
    pub commit: &'a str,
}

/// The commit a crate recipe's workspace is checked out at, if any: only
/// for git snapshots of a project that is its repository's root (else a
/// clean clone would not have the project at the workspace's root).
pub fn git_source<'a>(
    snapshot: &'a crate::source::Snapshot,
    project_root: &Path,
) -> Option<GitSource<'a>> {
    let crate::source::Origin::Git { commit, .. } = &snapshot.origin else {
        return None;
    };
    let repo = snapshot.repo()?;
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    (canon(repo.root())? == canon(project_root)?).then_some(GitSource {
        repo,
        commit: commit.as_str(),
    })
}

pub use crate::store::meta::{
    Artifact, ArtifactFacts, CrateFacts, ImageFacts, NpmFacts, PythonFacts,
};

/// What a surface produced.
#[derive(Debug)]
pub struct Output {
    /// The file or directory to register (inside `Job::out`).
    pub path: PathBuf,
    /// Store name of the output.
    pub name: String,
    pub artifacts: Vec<Artifact>,
    /// Where each entry of each artifact came from.
    pub origins: crate::provenance::origin::Origins,
}

/// Errors of surfaces.
#[derive(Debug, thiserror::Error)]
pub enum SurfaceError {
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    #[error(transparent)]
    Npm(#[from] npm::NpmError),
    #[error(transparent)]
    Command(#[from] command::CommandError),
    #[error(transparent)]
    Crate(#[from] crate_::CrateError),
    #[error(transparent)]
    Oci(#[from] oci::OciError),
    #[error(transparent)]
    Python(#[from] python::PythonError),
    #[error(transparent)]
    Recipe(#[from] crate::recipe::RecipeError),
    #[error(transparent)]
    Sandbox(crate::sandbox::SandboxError),
    #[error(transparent)]
    Version(Box<crate::version::VersionError>),
    #[error("version {version} is a post release, which only OCI images may publish; a {surface} recipe cannot (build the image recipes alone)")]
    PostRelease { version: String, surface: Surface },
    #[error("the build command failed:\n{tail}")]
    Failed { tail: String },
    #[error("{}", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hashing the output {}", crate::name::shown_path(path))]
    Hash {
        path: PathBuf,
        #[source]
        source: crate::hash::tree::TreeError,
    },
}

impl Classify for SurfaceError {
    fn kind(&self) -> ErrorKind {
        match self {
            SurfaceError::Bundle(e) => e.kind(),
            SurfaceError::Npm(e) => e.kind(),
            SurfaceError::Command(e) => e.kind(),
            SurfaceError::Crate(e) => e.kind(),
            SurfaceError::Oci(e) => e.kind(),
            SurfaceError::Python(e) => e.kind(),
            SurfaceError::Recipe(e) => e.kind(),
            SurfaceError::Sandbox(e) => e.kind(),
            SurfaceError::Version(e) => e.kind(),
            SurfaceError::PostRelease { .. } => ErrorKind::BadInput,
            SurfaceError::Failed { .. } | SurfaceError::Io { .. } | SurfaceError::Hash { .. } => {
                ErrorKind::Internal
            }
        }
    }
}

/// Build `job` with the recipe's surface.
pub fn build(job: &Job<'_>) -> Result<Output, SurfaceError> {
    match job.recipe.surface() {
        Surface::Tarball => bundle::build_tarball(job),
        Surface::Zip => bundle::build_zip(job),
        Surface::Npm => npm_surface(job),
        Surface::Command => command_surface(job),
        Surface::Crate => crate_surface(job),
        Surface::Oci => oci::build(job),
        Surface::Sdist => python::build_sdist(job),
        Surface::Wheel => python::build_wheel(job),
    }
}

/// How a surface gets its selected files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceAccess {
    /// Every selected file is written into the workspace (process surfaces,
    /// PEP 517 backends, and every surface that reads paths).
    Workspace,
    /// Read from the snapshot through a [`crate::source::view::SourceView`]
    /// (git blobs held in memory): the native sdist and wheel builders.
    /// Only the manifests stamping edits are written.
    View,
    /// A [`crate::source::view::SourceView::in_place`] view: git blobs,
    /// symlinks and stamped manifests are written into the workspace, the
    /// regular files of a directory snapshot are streamed from where they
    /// are (checked against their snapshot digest). OCI layers, whose
    /// files may be large; not when the base layout is a source path, which
    /// is read as a directory.
    InPlace,
}

/// How the recipe's surface gets its selected files.
pub fn source_access(recipe: &Recipe) -> SourceAccess {
    match recipe.surface() {
        Surface::Sdist | Surface::Wheel if !python::pep517_mode(recipe) => SourceAccess::View,
        Surface::Oci if oci::reads_sources_in_place(recipe) => SourceAccess::InPlace,
        _ => SourceAccess::Workspace,
    }
}

/// The tools a process surface runs, for tool identities in the derivation.
pub fn tools_for(recipe: &Recipe) -> Vec<String> {
    match recipe.surface() {
        Surface::Command => recipe
            .spec
            .command
            .as_ref()
            .map(|c| c.tools.clone())
            .unwrap_or_default(),
        Surface::Crate => crate_::tools(recipe.spec.crate_.as_ref().is_none_or(|c| c.verify())),
        _ => Vec::new(),
    }
}

/// Identity of kiln's own writers for a surface: any change here is a change
/// of output format and must change every derivation of that surface.
pub fn builder_identity(surface: Surface) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("kiln".to_string(), env!("CARGO_PKG_VERSION").to_string());
    match surface {
        Surface::Sdist | Surface::Wheel => {
            m.insert("writer".to_string(), format!("{}-v1", surface.as_str()));
            m.insert("deflate".to_string(), python::DEFLATE.identity());
            m.insert("pep508_rs".to_string(), "0.9.2".to_string());
        }
        Surface::Tarball | Surface::Zip | Surface::Npm => {
            m.insert("writer".to_string(), format!("{}-v1", surface.as_str()));
            m.insert(
                "deflate".to_string(),
                crate::archive::bundle_deflate().identity(),
            );
            if surface == Surface::Tarball {
                m.insert(
                    "zstd".to_string(),
                    crate::archive::ZSTD_IDENTITY.to_string(),
                );
            }
        }
        Surface::Oci => {
            for (k, v) in oci::identity() {
                m.insert(k.to_string(), v);
            }
        }
        _ => {}
    }
    m
}

/// Surface checks that need no workspace, run while planning so that bad
/// input fails before anything is built.
pub fn check(
    recipe: &Recipe,
    version: &crate::version::ResolvedVersion,
    artifact_version: &str,
) -> Result<(), SurfaceError> {
    // Post releases (`1.2.3.post1`) republish an image of a release; every
    // other published artifact keeps the release's bytes. Command recipes
    // are build steps (their outputs feed images), not publications.
    if matches!(recipe.surface(), Surface::Tarball | Surface::Zip) && version.canonical.is_post() {
        return Err(SurfaceError::PostRelease {
            version: version.canonical.to_string(),
            surface: recipe.surface(),
        });
    }
    if recipe.surface() == Surface::Oci {
        let tags = version
            .oci_tags()
            .map_err(|e| SurfaceError::Version(Box::new(e)))?;
        let release = version
            .code_release(crate::version::Target::Oci)
            .map_err(|e| SurfaceError::Version(Box::new(e)))?;
        let spelling = oci::plan::Spelling::new(artifact_version, Some(&release));
        oci::check(recipe, &tags, spelling)?;
    }
    Ok(())
}

pub(crate) fn sha256_file(path: &Path) -> Result<(String, u64), SurfaceError> {
    let (digest, n) =
        crate::hash::Sha256::digest_file(path).map_err(|source| SurfaceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok((digest.to_hex(), n))
}

fn npm_surface(job: &Job<'_>) -> Result<Output, SurfaceError> {
    let tmp = job.out.join(".npm-pack.tgz");
    let file = std::fs::File::create(&tmp).map_err(|source| SurfaceError::Io {
        path: tmp.clone(),
        source,
    })?;
    // Bundled dependencies may come from an input mounted as `node_modules`.
    let mut installed = false;
    if let Some(nm) = job.inputs.get("node_modules") {
        let dest = job.source_dir.join("node_modules");
        if !dest.exists() {
            npm::bundle::install_input(nm, &dest)?;
            installed = true;
        }
    }
    let mut w = std::io::BufWriter::new(file);
    let pack = npm::pack(job.source_dir, &mut w)?;
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
    let origins = origins::npm(job, &pack, installed);
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

pub use crate::recipe::schema::HOST_INPUTS;

fn failed_or(e: crate::sandbox::SandboxError) -> SurfaceError {
    match e {
        crate::sandbox::SandboxError::Failed {
            tail, argv, status, ..
        } => SurfaceError::Failed {
            tail: format!("`{argv}` exited with {status}:\n{tail}"),
        },
        other => SurfaceError::Sandbox(other),
    }
}

pub(crate) fn ws_rel(job: &Job<'_>) -> String {
    if job.source_rel.is_empty() {
        "src".to_string()
    } else {
        format!("src/{}", job.source_rel)
    }
}

fn command_surface(job: &Job<'_>) -> Result<Output, SurfaceError> {
    use crate::sandbox::{self, RoInput};
    let r = job.recipe;
    let c = r
        .spec
        .command
        .as_ref()
        .expect("validated: command recipes have [command]");
    let argv = c
        .argv
        .iter()
        .enumerate()
        .map(|(i, a)| r.render(&format!("command.argv[{i}]"), a, job.version))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env = std::collections::BTreeMap::new();
    let mut ro_inputs: Vec<RoInput> = Vec::new();
    for name in &c.host_inputs {
        match name.as_str() {
            "cargo-registry" => {
                if let Some(home) = job.host_inputs.get(name) {
                    ro_inputs.extend(sandbox::cargo_registry_inputs(home));
                }
                env.extend(sandbox::cargo_env());
                env.insert(
                    "RUSTFLAGS".to_string(),
                    sandbox::REMAP_RUSTFLAGS.to_string(),
                );
            }
            other => unreachable!("recipe validation rejects host input {other}"),
        }
    }
    for (k, v) in &c.env {
        let v = r.render(&format!("command.env.{k}"), v, job.version)?;
        match env.get_mut(k) {
            Some(existing) if k == "RUSTFLAGS" => {
                existing.push(' ');
                existing.push_str(&v);
            }
            _ => {
                env.insert(k.clone(), v);
            }
        }
    }
    let spec = command::CommandSpec {
        argv,
        tools: job.tools.to_vec(),
        outputs: c.outputs.clone(),
        ro_inputs,
        env,
        source_date_epoch: job.source_date_epoch.max(0) as u64,
        mode: job.sandbox,
        limits: c.limits.limits(),
    };
    let name = r.store_name();
    let staging = job.out.join(&name);
    std::fs::create_dir_all(&staging).map_err(|source| SurfaceError::Io {
        path: staging.clone(),
        source,
    })?;
    command::build(job.workspace, &ws_rel(job), &spec, &staging, job.log).map_err(|e| match e {
        command::CommandError::Sandbox(s) => failed_or(s),
        other => SurfaceError::Command(other),
    })?;
    let nar = crate::hash::tree::nar_sha256(&staging).map_err(|source| SurfaceError::Hash {
        path: staging.clone(),
        source,
    })?;
    let origins = origins::command(&staging, &name, &c.argv)?;
    Ok(Output {
        path: staging,
        name: name.clone(),
        origins,
        artifacts: vec![Artifact {
            files: Default::default(),
            file: name,
            path: String::new(),
            sha256: nar.hash.to_hex(),
            size: nar.size,
            directory: true,
            facts: Default::default(),
        }],
    })
}

fn crate_surface(job: &Job<'_>) -> Result<Output, SurfaceError> {
    let r = job.recipe;
    let section = r.spec.crate_.clone().unwrap_or_default();
    let verify = section.verify();
    let host = section
        .host_inputs
        .unwrap_or_else(|| vec!["cargo-registry".to_string()]);
    let cargo_home = if host.iter().any(|h| h == "cargo-registry") {
        job.host_inputs.get("cargo-registry").cloned()
    } else {
        None
    };
    if let Some(git) = job.git {
        let src = job.workspace.join("src");
        crate::source::vcs::attach_commit(git.repo, git.commit, &src).map_err(|e| {
            SurfaceError::Io {
                path: src.clone(),
                source: std::io::Error::other(crate::error::chain(&e)),
            }
        })?;
    }
    let spec = crate_::CrateSpec {
        manifest_dir: ws_rel(job),
        verify,
        members: section.packages,
        tools: job.tools.to_vec(),
        cargo_home,
        source_date_epoch: job.source_date_epoch.max(0) as u64,
        mode: job.sandbox,
        limits: section.limits.limits(),
    };
    let name = format!(
        "{}-{}",
        r.store_name(),
        crate::nix::store_path::sanitize_name(job.version)
    );
    let staging = job.out.join(&name);
    std::fs::create_dir_all(&staging).map_err(|source| SurfaceError::Io {
        path: staging.clone(),
        source,
    })?;
    let crates = crate_::build(job.workspace, &spec, &staging, job.log).map_err(|e| match e {
        crate_::CrateError::Sandbox(s) => failed_or(s),
        other => SurfaceError::Crate(other),
    })?;
    let artifacts = crates
        .into_iter()
        .map(|c| Artifact {
            files: Default::default(),
            path: c.file_name.clone(),
            file: c.file_name,
            sha256: c.sha256,
            size: c.size,
            directory: false,
            facts: ArtifactFacts {
                crate_: Some(CrateFacts {
                    crate_name: c.name,
                    crate_version: c.version,
                }),
                ..Default::default()
            },
        })
        .collect::<Vec<_>>();
    let origins = origins::crates(job, &spec.manifest_dir, &staging, &artifacts)?;
    Ok(Output {
        path: staging,
        name,
        artifacts,
        origins,
    })
}
