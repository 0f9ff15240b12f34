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
//! - [`sdist`], [`wheel`]: the archive layouts.
//!
//! The byte layout and every difference from uv_build and hatchling are
//! documented in `docs/python.md`.

pub mod files;
pub mod metadata;
pub mod names;
mod origins;
pub mod project;
pub mod sdist;
pub mod wheel;

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Classify, ErrorKind};

use super::{sha256_file, Artifact, Job, Output, SurfaceError};

/// Errors of the Python surfaces.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// A field of `pyproject.toml` or of the recipe that kiln cannot accept.
    #[error("{file}: `{key}` = {value:?}: {reason}")]
    Field {
        file: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    #[error(transparent)]
    Tar(#[from] crate::archive::tar::TarError),
    #[error(transparent)]
    Zip(#[from] crate::archive::zip::ZipError),
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for PythonError {
    fn kind(&self) -> ErrorKind {
        match self {
            PythonError::Field { .. } => ErrorKind::BadInput,
            PythonError::Tar(e) => e.kind(),
            PythonError::Zip(e) => e.kind(),
            PythonError::Io { .. } => ErrorKind::Internal,
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

fn load<'a>(job: &'a Job<'a>) -> Result<(project::Project, files::SourceFiles<'a>), PythonError> {
    let src = files::SourceFiles::new(job);
    let project = project::Project::load(&src, job.version)?;
    Ok((project, src))
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
            file: file_name,
            path: String::new(),
            sha256,
            size,
            directory: false,
            extra: map,
        }],
    })
}

/// Build the recipe's sdist natively.
pub fn build_sdist(job: &Job<'_>) -> Result<Output, SurfaceError> {
    let (project, src) = load(job)?;
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

/// Build the recipe's wheel natively.
pub fn build_wheel(job: &Job<'_>) -> Result<Output, SurfaceError> {
    let (project, src) = load(job)?;
    let plan = wheel::plan(job, &project, &src)?;
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
