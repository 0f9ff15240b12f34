//! Surfaces: one module per kind of artifact. Each implements
//! [`SurfaceKind`] over its typed recipe table and turns a prepared
//! workspace ([`Job`]) into an output in `<ws>/out` ([`Output`]).
//!
//! [`of`] is the one place that maps a recipe's surface to its
//! implementation; everything else asks that. Native surfaces (npm,
//! tarball, zip, native sdist/wheel, oci) write archives with kiln's own
//! writers (`src/archive/`); process surfaces (command, crate, PEP 517
//! backends) run tools only through `src/sandbox/`.

pub mod artifact;
pub mod bundle;
pub mod command;
pub mod crate_;
pub mod error;
pub mod job;
pub mod kind;
pub mod names;
pub mod npm;
pub mod oci;
mod origins;
pub mod python;

use std::collections::BTreeMap;

use crate::recipe::schema::SurfaceSpec;
use crate::recipe::Recipe;

pub use artifact::{Artifact, Output};
pub use error::SurfaceError;
pub use job::{git_source, GitSource, Job};
pub use kind::{Publication, Runs, SourceAccess, SurfaceKind};

/// The recipe's surface, bound to its typed table: the one registration
/// of every surface.
pub fn of(recipe: &Recipe) -> Box<dyn SurfaceKind + '_> {
    match &recipe.spec.surface {
        SurfaceSpec::Tarball(t) => Box::new(bundle::Tarball(t)),
        SurfaceSpec::Zip(z) => Box::new(bundle::Zip(z)),
        SurfaceSpec::Npm(n) => Box::new(npm::Npm(n)),
        SurfaceSpec::Command(c) => Box::new(command::Command(c)),
        SurfaceSpec::Crate(c) => Box::new(crate_::Crate(c)),
        SurfaceSpec::Oci(o) => Box::new(oci::Oci(o)),
        SurfaceSpec::Sdist(s) => Box::new(python::Sdist(s)),
        SurfaceSpec::Wheel(w) => Box::new(python::Wheel(w)),
    }
}

/// Build `job` with the recipe's surface.
pub fn build(job: &Job<'_>) -> Result<Output, SurfaceError> {
    of(job.recipe).build(job)
}

/// How the recipe's surface gets its selected files.
pub fn source_access(recipe: &Recipe) -> SourceAccess {
    of(recipe).source_access()
}

/// Identity of kiln and its writers for the recipe's surface (the
/// derivation's `builder`).
pub fn builder_identity(recipe: &Recipe) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("kiln".to_string(), env!("CARGO_PKG_VERSION").to_string());
    for (k, v) in of(recipe).builder() {
        m.insert(k.to_string(), v);
    }
    m
}

/// The names the recipe's artifacts take in `dist/` (without their
/// `.intoto.json`), or `None` when they are only known after building.
pub fn predict(
    r: &Recipe,
    v: &names::VersionNames<'_>,
    read: &mut names::Read<'_>,
) -> Result<Option<Vec<names::Predicted>>, crate::recipe::RecipeError> {
    of(r).predict(r, v, read)
}

/// Surface checks that need no workspace, run while planning so that bad
/// input fails before anything is built.
pub fn check(
    recipe: &Recipe,
    version: &crate::version::ResolvedVersion,
    artifact_version: &str,
) -> Result<(), SurfaceError> {
    of(recipe).check(recipe, version, artifact_version)
}

pub use crate::recipe::schema::HOST_INPUTS;
pub(crate) use artifact::sha256_file;
pub(crate) use error::failed_or;
pub(crate) use job::ws_rel;
