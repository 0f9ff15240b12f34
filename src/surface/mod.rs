//! Surfaces: one module per kind of artifact. Each implements
//! [`SurfaceKind`] over its typed recipe table and turns a prepared
//! workspace ([`Job`]) into an output in `<ws>/out` ([`Output`]).
//!
//! [`of`] is the one place that maps a recipe's surface to its
//! implementation; everything else asks that. Native surfaces (npm,
//! tarball, zip, native sdist/wheel, oci) write archives with kiln's own
//! writers (`src/archive/`); process surfaces (command, crate, PEP 517
//! backends) run tools only through `src/sandbox/`.

pub(crate) mod artifact;
pub(crate) mod bundle;
pub mod command;
pub mod crate_;
pub(crate) mod error;
pub(crate) mod job;
pub(crate) mod kind;
pub(crate) mod names;
pub mod npm;
pub(crate) mod oci;
mod origins;
pub(crate) mod python;

use std::collections::BTreeMap;

use crate::recipe::schema::SurfaceSpec;
use crate::recipe::Recipe;

pub use artifact::{
    Artifact, ArtifactFacts, CrateFacts, ImageFacts, NpmFacts, Output, PythonFacts,
};
pub use error::SurfaceError;
pub use job::{git_source, GitSource, Job};
pub use kind::{Publication, Runs, SourceAccess, SurfaceKind};

/// The recipe's surface, bound to its typed table: the one registration
/// of every surface.
pub fn of(recipe: &Recipe) -> Box<dyn SurfaceKind + '_> {
    match &recipe.spec.surface {
        SurfaceSpec::Tarball(t) => Box::new(bundle::Tarball(t)),
        SurfaceSpec::Zip(_) => Box::new(bundle::Zip),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::Surface;

    fn recipe(text: &str) -> Recipe {
        let file = std::path::PathBuf::from("recipes/r.toml");
        let recipes = crate::recipe::Recipes::from_files(
            std::path::Path::new("/p"),
            vec![(file, text.into())],
        )
        .unwrap();
        recipes.recipes.into_values().next().unwrap()
    }

    #[test]
    fn every_surface_is_registered_with_its_publication_and_writers() {
        let cases = [
            (
                "surface = \"tarball\"",
                Surface::Tarball,
                Publication::None,
                3,
            ),
            ("surface = \"zip\"", Surface::Zip, Publication::None, 2),
            ("surface = \"npm\"", Surface::Npm, Publication::Npm, 2),
            ("surface = \"crate\"", Surface::Crate, Publication::Cargo, 0),
            (
                "surface = \"command\"\n[command]\nargv = [\"true\"]\noutputs = [\"o\"]",
                Surface::Command,
                Publication::None,
                0,
            ),
            ("surface = \"oci\"", Surface::Oci, Publication::Oci, 3),
            ("surface = \"sdist\"", Surface::Sdist, Publication::Pypi, 3),
            ("surface = \"wheel\"", Surface::Wheel, Publication::Pypi, 3),
        ];
        for (text, kind, publication, writers) in cases {
            let r = recipe(text);
            assert_eq!(r.surface(), kind);
            let s = of(&r);
            assert_eq!(s.publication(), publication, "{kind}");
            assert_eq!(s.builder().len(), writers, "{kind}");
            assert_eq!(builder_identity(&r)["kiln"], env!("CARGO_PKG_VERSION"));
            assert_eq!(s.reads_git(), kind == Surface::Crate, "{kind}");
            let process = matches!(kind, Surface::Command | Surface::Crate);
            assert_eq!(matches!(s.runs(), Runs::Tools(_)), process, "{kind}");
        }
    }

    #[test]
    fn a_python_backend_changes_what_the_surface_runs_and_reads() {
        for native in ["native", "kiln"] {
            let native = recipe(&format!(
                "surface = \"wheel\"\n[wheel]\nbackend = \"{native}\""
            ));
            assert_eq!(of(&native).runs(), Runs::Native);
            assert_eq!(source_access(&native), SourceAccess::View);
        }
        // `auto`, the default, may run the backend: the plan decides, and
        // makes the workspace full when it does.
        let auto = recipe("surface = \"wheel\"");
        assert_eq!(of(&auto).runs(), Runs::Backend);
        assert_eq!(source_access(&auto), SourceAccess::View);
        let backend = recipe("surface = \"sdist\"\n[sdist]\nbackend = \"pep517\"");
        assert_eq!(of(&backend).runs(), Runs::Backend);
        assert_eq!(source_access(&backend), SourceAccess::Workspace);
        let command = recipe(
            "surface = \"command\"\n[command]\nargv = [\"make\"]\ntools = [\"make\", \"cc\"]\noutputs = [\"o\"]",
        );
        assert_eq!(
            of(&command).runs(),
            Runs::Tools(vec!["make".into(), "cc".into()])
        );
    }
}
