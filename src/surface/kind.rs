//! What a surface is: the [`SurfaceKind`] trait every surface implements
//! over its typed recipe table, and the facts it answers with. The
//! engine, stamping and `dist/` naming ask a recipe's surface
//! ([`super::of`]) instead of matching on its kind.

use crate::recipe::{Recipe, RecipeError};
use crate::stamp::build::OwnManifests;
use crate::version::{ResolvedVersion, Target};

use super::artifact::Output;
use super::error::SurfaceError;
use super::job::Job;
use super::names::{Predicted, Read, VersionNames};

/// One kind of artifact, bound to a recipe's typed table (`[npm]`,
/// `[crate]`, …). Implemented once per surface and registered in
/// [`super::of`].
pub trait SurfaceKind {
    /// The registry kind the artifacts would be published to; it also
    /// decides which spelling of the version the artifacts carry.
    fn publication(&self) -> Publication;

    /// Identity of kiln's own writers for this surface, beside kiln's
    /// version: any change is a change of output format and must change
    /// every derivation of the surface.
    fn builder(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// What the build runs: kiln's own writers, sandboxed tools, or a
    /// Python build backend.
    fn runs(&self) -> Runs {
        Runs::Native
    }

    /// How the build gets the recipe's selected files.
    fn source_access(&self) -> SourceAccess {
        SourceAccess::Workspace
    }

    /// Whether the build packs from a git checkout of the commit (when the
    /// project is its repository's root), as `cargo publish` does.
    fn reads_git(&self) -> bool {
        false
    }

    /// The manifests the build makes its package from, which stamping
    /// treats as the recipe's own.
    fn own_manifests(&self) -> OwnManifests {
        OwnManifests::None
    }

    /// The `dist/` names of the artifacts (without their `.intoto.json`),
    /// or `None` when they are only known after building.
    fn predict(
        &self,
        r: &Recipe,
        v: &VersionNames<'_>,
        read: &mut Read<'_>,
    ) -> Result<Option<Vec<Predicted>>, RecipeError>;

    /// Checks that need no workspace, run while planning so that bad input
    /// fails before anything is built.
    fn check(
        &self,
        r: &Recipe,
        version: &ResolvedVersion,
        artifact_version: &str,
    ) -> Result<(), SurfaceError> {
        let _ = (r, version, artifact_version);
        Ok(())
    }

    /// Build the prepared workspace into `job.out`.
    fn build(&self, job: &Job<'_>) -> Result<Output, SurfaceError>;
}

/// The registry kind a surface's artifacts are published to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publication {
    /// PyPI (sdists, wheels).
    Pypi,
    /// A cargo registry (`.crate` files).
    Cargo,
    /// An npm registry (package tarballs).
    Npm,
    /// An OCI registry (images).
    Oci,
    /// Not published to a registry (tarballs, zips, command outputs).
    None,
}

impl Publication {
    /// The version spelling the artifacts carry.
    pub fn version_target(self) -> Target {
        match self {
            Publication::Pypi => Target::Pypi,
            Publication::Cargo => Target::Cargo,
            Publication::Npm => Target::Npm,
            Publication::Oci => Target::Oci,
            Publication::None => Target::Plain,
        }
    }
}

/// What a surface's build runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runs {
    /// kiln's own writers, in process.
    Native,
    /// These tools (resolved on the host `PATH`) in the sandbox.
    Tools(Vec<String>),
    /// A Python project's PEP 517 backend in the sandbox
    /// ([`super::python::backend::plan`] resolves its tools).
    Backend,
}

/// How a surface gets its selected files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceAccess {
    /// Every selected file is written into the workspace (process surfaces,
    /// PEP 517 backends, and every surface that reads paths).
    Workspace,
    /// Read from the snapshot through a [`crate::source::view::SourceView`]
    /// (git blobs held in memory): the native sdist and wheel builders,
    /// the npm packer.
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
