//! The `sdist` and `wheel` surfaces: Python source distributions (PEP 625)
//! and wheels (PEP 427/491) built natively from static PEP 621 metadata.
//!
//! - [`project`]: `[project]` of the (stamped) `pyproject.toml` → a validated
//!   [`project::Project`]; the version is always the release version;
//! - [`metadata`]: core metadata 2.4 (`PKG-INFO`/`METADATA`) and
//!   `entry_points.txt`;
//! - [`names`]: name normalisation and wheel tags;
//! - [`files`]: reading the recipe's selected files safely (symlinks must stay
//!   inside the workspace) and finding the import packages of a wheel;
//! - [`sdist`], [`wheel`]: the archive layouts;
//! - backend mode (`backend = "pep517"`): [`backend`] (the declared backend,
//!   its tools and identity, while planning), [`pep517`] (running its hook
//!   in the sandbox), [`normalise`] (its result made reproducible without
//!   changing any file's content).
//!
//! The byte layout and every difference from uv_build and hatchling are
//! documented in `docs/python.md`.

/// How Python archives are deflated (sdist gzip, wheel entries): level 6,
/// Python's `zipfile` default (which uv and hatchling write too), with
/// libdeflate, which on Python sources is both smaller and faster than
/// zlib at that level. Part of the builder identity.
pub const DEFLATE: crate::archive::deflate::Deflate =
    crate::archive::deflate::Deflate::Libdeflate(6);

pub mod backend;
pub mod choice;
mod environment;
pub mod files;
mod flit;
mod install;
pub mod metadata;
pub mod names;
pub mod normalise;
mod origins;
pub mod pep517;
mod placed;
pub mod project;
pub mod sdist;
pub mod wheel;
pub mod wheels;

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Classify, ErrorKind};

use super::{sha256_file, Artifact, Job, Output, SurfaceError};

/// Errors of the Python surfaces.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// A field of `pyproject.toml` or of the recipe that kiln cannot accept.
    #[error("{}: `{key}` = {value:?}: {reason}", crate::name::shown_path(file))]
    Field {
        file: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    /// A build-system requirement the interpreter cannot provide offline.
    #[error("{}: build backend `{backend}` is not available offline: {requirement}: {detail}", file.display())]
    BackendUnavailable {
        file: PathBuf,
        backend: String,
        requirement: String,
        detail: String,
    },
    #[error(
        "build backend `{backend}` failed in {hook} ({status}); last lines of its log:\n{tail}"
    )]
    BackendFailed {
        backend: String,
        hook: &'static str,
        status: String,
        tail: String,
    },
    #[error("build backend `{backend}` built {} whose {what} says version {found:?}, but the release is {release:?}: the version comes from somewhere kiln does not stamp (kiln stamps `pyproject.toml` and a maturin crate's `Cargo.toml`)", crate::name::shown(file))]
    VersionMismatch {
        backend: String,
        file: String,
        what: &'static str,
        found: String,
        release: String,
    },
    /// What a backend built cannot be normalised (or is inconsistent).
    #[error("{}: {detail}", crate::name::shown_path(file))]
    Normalise { file: PathBuf, detail: String },
    /// What a backend built expands beyond what kiln reads of it
    /// (`normalise::Caps`): a decompression bomb, or a build's output
    /// too large to accept.
    #[error("{}: member {} {detail}; kiln does not accept the build's output", .archive.display(), crate::name::Shown(.member))]
    TooLarge {
        archive: PathBuf,
        member: String,
        detail: String,
    },
    #[error(transparent)]
    Sandbox(crate::sandbox::SandboxError),
    /// Keeping a backend environment in the store.
    #[error(transparent)]
    Store(Box<crate::store::StoreError>),
    #[error(transparent)]
    Tar(#[from] crate::archive::tar::TarError),
    #[error(transparent)]
    Zip(#[from] crate::archive::zip::ZipError),
    #[error("{}", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for PythonError {
    fn kind(&self) -> ErrorKind {
        match self {
            PythonError::Field { .. }
            | PythonError::BackendUnavailable { .. }
            | PythonError::BackendFailed { .. }
            | PythonError::VersionMismatch { .. } => ErrorKind::BadInput,
            PythonError::Normalise { .. } | PythonError::TooLarge { .. } => ErrorKind::CheckFailed,
            PythonError::Sandbox(e) => e.kind(),
            PythonError::Store(e) => e.kind(),
            PythonError::Tar(e) => e.kind(),
            PythonError::Zip(e) => e.kind(),
            PythonError::Io { source, .. } => ErrorKind::of_io(source),
        }
    }
}

impl PythonError {
    pub(crate) fn field(
        file: impl Into<PathBuf>,
        key: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        PythonError::Field {
            file: file.into(),
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> PythonError {
    let path = path.to_path_buf();
    move |source| PythonError::Io { path, source }
}

/// The project-relative path of a file of the recipe's source, for messages.
fn project_rel(job: &Job<'_>, rel: &str) -> PathBuf {
    if job.source_rel.is_empty() {
        PathBuf::from(rel)
    } else {
        PathBuf::from(job.source_rel).join(rel)
    }
}

fn load<'a>(
    job: &'a Job<'a>,
    emulation: choice::Emulation,
) -> Result<(project::Project, files::SourceFiles<'a>), PythonError> {
    let src = files::SourceFiles::new(job);
    let project =
        project::Project::load(&src, job.version, emulation).map_err(|e| needs_backend(job, e))?;
    Ok((project, src))
}

/// The recipe's [`choice::Choice`], from its project's `pyproject.toml` in
/// the workspace (stamped: the decision never reads the version, so it is
/// the one made while planning from the committed file).
fn job_choice(job: &Job<'_>) -> Result<choice::Choice, PythonError> {
    let src = files::SourceFiles::new(job);
    let text = if src.contains("pyproject.toml") {
        Some(src.read_text("pyproject.toml")?)
    } else {
        None
    };
    let setting = backend::settings(job.recipe).backend;
    Ok(choice::for_recipe(job.recipe, setting, text.as_deref()))
}

/// `[project]` keys the native builder refuses although the metadata is
/// valid: the fields a backend computes (or reads from elsewhere), and a
/// readme charset the specification lets a tool support.
const NATIVE_ONLY: &[&str] = &["project", "project.dynamic", "project.readme.charset"];

/// A metadata refusal of the native builder says whether backend mode
/// would accept the project: yes for what only the native builder lacks
/// ([`NATIVE_ONLY`]), telling how to set it; no for invalid metadata, which
/// the project's backend refuses as well.
fn needs_backend(job: &Job<'_>, e: PythonError) -> PythonError {
    match e {
        PythonError::Field {
            file,
            key,
            value,
            reason,
        } => {
            let reason = if NATIVE_ONLY.contains(&key.as_str()) {
                format!(
                    "{reason}; backend mode would accept the project: to build it with its own build backend set `backend = \"pep517\"` in [{}] of {}",
                    job.recipe.surface().as_str(),
                    job.recipe.file.display()
                )
            } else {
                format!(
                    "{reason}; this is invalid metadata, which backend mode (`backend = \"pep517\"`) would not accept either: the project's backend validates the same field"
                )
            };
            PythonError::Field {
                file,
                key,
                value,
                reason,
            }
        }
        other => other,
    }
}

/// The recipe always runs its backend (`backend = "pep517"`); with
/// `auto`, [`choice`] decides per project.
pub(crate) fn pep517_mode(recipe: &crate::recipe::Recipe) -> bool {
    backend::settings(recipe).backend == crate::recipe::schema::PythonBackend::Pep517
}

fn finish(
    job: &Job<'_>,
    tmp: PathBuf,
    file_name: String,
    project: &project::Project,
    extra: &[(&str, String)],
) -> Result<Output, SurfaceError> {
    let dest = job.out.join(&file_name);
    std::fs::rename(&tmp, &dest).map_err(|source| SurfaceError::Io {
        path: dest.clone(),
        source,
    })?;
    let (sha256, size) = sha256_file(&dest)?;
    let mut map = serde_json::Map::new();
    map.insert("python_name".into(), Value::String(project.name.clone()));
    map.insert(
        "python_version".into(),
        Value::String(project.version.clone()),
    );
    for (k, v) in extra {
        map.insert((*k).to_string(), Value::String(v.clone()));
    }
    Ok(Output {
        path: dest,
        origins: Default::default(),
        name: crate::nix::store_path::sanitize_name(&file_name),
        artifacts: vec![Artifact {
            files: Default::default(),
            file: file_name,
            path: String::new(),
            sha256,
            size,
            directory: false,
            extra: map,
        }],
    })
}

/// Build the recipe's sdist (natively, or with the project's backend).
pub fn build_sdist(job: &Job<'_>) -> Result<Output, SurfaceError> {
    let choice = job_choice(job)?;
    if choice.is_backend() {
        return pep517::build(job, pep517::Hook::Sdist);
    }
    let (project, src) = load(job, choice::Emulation::Generic)?;
    if !job.recipe.spec.map.is_empty() {
        return Err(PythonError::field(
            &job.recipe.file,
            "map",
            format!("{} entries", job.recipe.spec.map.len()),
            "an sdist holds the recipe's selected files only; [[map]] applies to wheels",
        )
        .into());
    }
    let tmp = job.out.join(".sdist.tmp");
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let name = sdist::write(
        &project,
        &src,
        job.source_date_epoch,
        std::io::BufWriter::new(file),
    )?;
    let origins = origins::sdist(&name, &project, &src)?;
    let mut out = finish(job, tmp, name, &project, &[])?;
    out.origins = origins;
    Ok(out)
}

/// Build the recipe's wheel (natively, or with the project's backend).
pub fn build_wheel(job: &Job<'_>) -> Result<Output, SurfaceError> {
    let choice = job_choice(job)?;
    let emulation = match choice.mode {
        choice::Mode::Backend => return pep517::build(job, pep517::Hook::Wheel),
        choice::Mode::Native(e) => e,
    };
    let (project, src) = load(job, emulation)?;
    let plan = wheel::plan(job, &project, &src, emulation)?;
    let tmp = job.out.join(".wheel.tmp");
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let name = wheel::write(
        &project,
        &plan,
        job.source_date_epoch,
        std::io::BufWriter::new(file),
    )?;
    let tag = plan.tag.to_string();
    let origins = origins::wheel(&name, &project, &plan);
    let mut out = finish(job, tmp, name, &project, &[("wheel_tag", tag)])?;
    out.origins = origins;
    Ok(out)
}
