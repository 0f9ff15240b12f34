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

pub(crate) mod backend;
pub(crate) mod choice;
pub(crate) mod emulation;
mod environment;
pub(crate) mod error;
pub(crate) mod files;
mod flit;
mod hatch;
mod hatch_coverage;
mod hatch_files;
mod hatch_requirements;
mod hook;
mod install;
pub(crate) mod metadata;
pub(crate) mod names;
pub(crate) mod normalise;
mod origins;
mod pdm;
mod pdm_coverage;
pub(crate) mod pep517;
mod placed;
mod poetry;
mod poetry_coverage;
mod poetry_requirements;
pub(crate) mod project;
pub(crate) mod sdist;
mod uv;
mod uv_coverage;
pub(crate) mod wheel;
mod wheel_plan;
pub(crate) mod wheels;
mod writer;

use std::path::PathBuf;

use super::kind::{Publication, Runs, SourceAccess, SurfaceKind};
use super::names::{Predicted, Read, VersionNames};
use super::{sha256_file, Artifact, Job, Output, SurfaceError};
use crate::recipe::schema::{PythonBackend, SdistSection, WheelSection};
use crate::recipe::{Recipe, RecipeError};
use crate::stamp::build::OwnManifests;

pub(crate) use error::io;
pub(crate) use error::PythonError;
pub(crate) use writer::DEFLATE;

fn load<'a>(
    job: &'a Job<'a>,
    emulation: choice::Emulation,
) -> Result<(project::Project, files::SourceFiles<'a>), PythonError> {
    let src = files::SourceFiles::new(job);
    let project =
        project::Project::load(&src, job.version, emulation).map_err(|e| needs_backend(job, e))?;
    Ok((project, src))
}

/// The recipe's [`choice::Choice`], made once while planning and carried
/// in the job.
fn job_choice<'a>(job: &Job<'a>) -> Result<&'a choice::Choice, PythonError> {
    job.python.ok_or_else(|| {
        PythonError::field(
            &job.recipe.file,
            "backend",
            "(not planned)",
            "the build of a Python recipe needs the builder its plan chose",
        )
    })
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

fn finish(
    job: &Job<'_>,
    tmp: PathBuf,
    file_name: String,
    project: &project::Project,
    wheel_tag: Option<String>,
) -> Result<Output, SurfaceError> {
    let dest = job.out.join(&file_name);
    std::fs::rename(&tmp, &dest).map_err(|source| SurfaceError::Io {
        path: dest.clone(),
        source,
    })?;
    let (sha256, size) = sha256_file(&dest)?;
    let facts = crate::surface::ArtifactFacts {
        python: Some(crate::surface::PythonFacts {
            python_name: project.name.clone(),
            python_version: project.version.clone(),
            python_backend: None,
            python_backend_environment: None,
            python_backend_wheels: None,
            wheel_tag,
        }),
        ..Default::default()
    };
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
            facts,
        }],
    })
}

/// Build the recipe's sdist (natively, or with the project's backend).
fn build_sdist(job: &Job<'_>) -> Result<Output, SurfaceError> {
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
    let mut out = finish(job, tmp, name, &project, None)?;
    out.origins = origins;
    Ok(out)
}

/// Build the recipe's wheel (natively, or with the project's backend).
fn build_wheel(job: &Job<'_>, section: &WheelSection) -> Result<Output, SurfaceError> {
    let choice = job_choice(job)?;
    let emulation = match choice.mode {
        choice::Mode::Backend => return pep517::build(job, pep517::Hook::Wheel),
        choice::Mode::Native(e) => e,
    };
    let (project, src) = load(job, emulation)?;
    let plan = wheel::plan(job, section, &project, &src, emulation)?;
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
    let mut out = finish(job, tmp, name, &project, Some(tag))?;
    out.origins = origins;
    Ok(out)
}

/// The `sdist` surface over its `[sdist]` table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sdist<'a>(pub &'a SdistSection);

/// The `wheel` surface over its `[wheel]` table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wheel<'a>(pub &'a WheelSection);

/// What a Python recipe's build runs: its backend in backend mode; with
/// `auto`, the plan asks [`choice`] whether the project's backend runs.
fn runs(backend: Option<PythonBackend>) -> Runs {
    match backend.unwrap_or_default() {
        PythonBackend::Native | PythonBackend::Kiln => Runs::Native,
        PythonBackend::Pep517 | PythonBackend::Auto => Runs::Backend,
    }
}

/// The native builders read the selection through a view; a backend reads
/// the workspace.
fn source_access(backend: Option<PythonBackend>) -> SourceAccess {
    match backend.unwrap_or_default() {
        // With `auto` the workspace is made full when the plan chose the
        // backend (`engine::workspace`).
        PythonBackend::Native | PythonBackend::Kiln | PythonBackend::Auto => SourceAccess::View,
        PythonBackend::Pep517 => SourceAccess::Workspace,
    }
}

impl SurfaceKind for Sdist<'_> {
    fn publication(&self) -> Publication {
        Publication::Pypi
    }

    fn builder(&self) -> Vec<(&'static str, String)> {
        writer::identity("sdist")
    }

    fn runs(&self) -> Runs {
        runs(self.0.backend)
    }

    fn source_access(&self) -> SourceAccess {
        source_access(self.0.backend)
    }

    fn own_manifests(&self) -> OwnManifests {
        OwnManifests::Pyproject
    }

    fn predict(
        &self,
        r: &Recipe,
        v: &VersionNames<'_>,
        read: &mut Read<'_>,
    ) -> Result<Option<Vec<Predicted>>, RecipeError> {
        if !names_by_kiln(r, read) {
            return Ok(None);
        }
        Ok(predicted(v, read, |name, version| {
            Some(format!("{name}-{version}.tar.gz"))
        }))
    }

    fn build(&self, job: &Job<'_>) -> Result<Output, SurfaceError> {
        build_sdist(job)
    }
}

impl SurfaceKind for Wheel<'_> {
    fn publication(&self) -> Publication {
        Publication::Pypi
    }

    fn builder(&self) -> Vec<(&'static str, String)> {
        writer::identity("wheel")
    }

    fn runs(&self) -> Runs {
        runs(self.0.backend)
    }

    fn source_access(&self) -> SourceAccess {
        source_access(self.0.backend)
    }

    fn own_manifests(&self) -> OwnManifests {
        OwnManifests::Pyproject
    }

    fn predict(
        &self,
        r: &Recipe,
        v: &VersionNames<'_>,
        read: &mut Read<'_>,
    ) -> Result<Option<Vec<Predicted>>, RecipeError> {
        if !names_by_kiln(r, read) {
            return Ok(None);
        }
        let tag = self.0.tag.as_deref();
        Ok(predicted(v, read, |name, version| {
            let tag = match tag {
                Some(t) => names::WheelTag::parse(t).ok()?,
                None => names::WheelTag::pure(),
            };
            Some(format!("{name}-{version}-{tag}.whl"))
        }))
    }

    fn build(&self, job: &Job<'_>) -> Result<Output, SurfaceError> {
        build_wheel(job, self.0)
    }
}

/// Whether kiln's own writer names the recipe's file: a PEP 517 backend
/// names its own (and picks its wheel tag), and so does a native builder
/// writing as a backend (`auto`), which takes the backend's tag.
fn names_by_kiln(r: &Recipe, read: &mut Read<'_>) -> bool {
    let text = read("pyproject.toml");
    let text = text.as_deref().and_then(|b| std::str::from_utf8(b).ok());
    let setting = backend::settings(r).backend;
    choice::for_recipe(r, setting, text)
        .is_ok_and(|c| c.mode == choice::Mode::Native(choice::Emulation::Generic))
}

/// The file a native builder names from `[project]` of `pyproject.toml`:
/// `file(name, version)` with the normalised name and the version the
/// artifact takes.
fn predicted(
    v: &VersionNames<'_>,
    read: &mut Read<'_>,
    file: impl FnOnce(&str, &str) -> Option<String>,
) -> Option<Vec<Predicted>> {
    use super::names as dist;
    let py = dist::toml_at(read, "pyproject.toml")?;
    let project = py.get("project")?;
    let declared = project.get("name")?.as_str()?;
    let name = names::file_component(declared);
    let own = project.get("version").and_then(|x| x.as_str());
    let version = dist::version_of(v, own);
    let file = file(&name, &version)?;
    Some(vec![dist::from_manifest(
        file,
        "pyproject.toml",
        "project.name",
        declared,
    )])
}
