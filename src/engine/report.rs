//! What the engine tells its caller while and after building: each
//! recipe's [`Status`] and [`RecipeReport`], and the [`Progress`] callbacks
//! (the CLI draws them; the library never prints).

use std::path::PathBuf;
use std::time::Duration;

use crate::derive::DrvHash;
use crate::nix::store_path::StorePath;
use crate::recipe::Surface;
use crate::store::Realisation;
use crate::surface::Artifact;

/// What happened to a recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Built,
    Cached,
    Checked,
    /// Fetched by the [`Substituter`] instead of built.
    Substituted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Built => "built",
            Status::Cached => "cached",
            Status::Substituted => "substituted",
            Status::Checked => "checked",
        }
    }
}

/// The result for one recipe.
#[derive(Debug, Clone)]
pub struct RecipeReport {
    pub id: String,
    pub surface: Surface,
    pub drv: DrvHash,
    /// The build's `provenance::BuildKey` token: which of the output's
    /// statements is this build's.
    pub build: String,
    pub status: Status,
    /// The output, and where it is on disk.
    pub output: StorePath,
    pub store_path: PathBuf,
    pub artifacts: Vec<Artifact>,
    /// The record of the output in the store (`output` and `artifacts` are
    /// its store path and its metadata's artifacts): what a push to a
    /// binary cache sends.
    pub realisation: Realisation,
    pub duration: Duration,
    /// `Some(version)` for a post release's code input: built as release
    /// `version` built it, an artifact of that release, not in this
    /// build's `dist/`.
    pub release_of: Option<String>,
}

/// Progress callbacks (the CLI draws them; the library never prints).
pub trait Progress: Sync {
    fn waiting(&self, _id: &str) {}
    /// Recipe `id` starts building derivation `drv` (not called for cache
    /// hits and substitutions).
    fn started(&self, _id: &str, _surface: crate::recipe::Surface, _drv: &crate::derive::DrvHash) {}
    fn finished(&self, _id: &str, _status: Status, _elapsed: Duration) {}
    fn warn(&self, _message: &str) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug)]
pub struct Quiet;
impl Progress for Quiet {}
