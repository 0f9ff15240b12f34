//! Which recipes a build reads and how, as `build`, `plan` and `cache push`
//! take it on the command line ([`Selection`]), turned into the engine's
//! options once ([`options`]); the host inputs the CLI passes down.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::context::{CliError, Context};
use crate::derive::SourceDateEpoch;
use crate::engine::BuildOptions;
use crate::sandbox::SandboxMode;

/// What to build from: the recipes, the revision and the version. Shared by
/// `kiln build` and `kiln plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct Selection {
    /// Recipes (with their inputs); default: all.
    pub recipes: Vec<String>,
    /// Use this version instead of the canonical one (a release build).
    #[arg(long, value_name = "V", conflicts_with = "tag")]
    pub version: Option<String>,
    /// Act as if the source commit carried this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Read this git revision instead of HEAD.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Read the working tree, uncommitted changes included (recorded in provenance).
    #[arg(long)]
    pub dirty: bool,
    /// How command recipes run: `bubblewrap`, or `none` (no isolation; recorded).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = SandboxMode::Bubblewrap)]
    pub sandbox: SandboxMode,
}

/// Host caches that recipes may mount read-only by name: `cargo-registry`
/// is the cargo home (`$CARGO_HOME`, else `~/.cargo`) whose registry index
/// and downloaded crates offline cargo reads; `python-wheels` is the
/// directory of wheels `$KILN_PYTHON_WHEELS` names (Python backend mode).
pub fn host_inputs() -> BTreeMap<String, PathBuf> {
    let mut m = BTreeMap::new();
    if let Some(home) = crate::sandbox::host_cargo_home() {
        m.insert("cargo-registry".to_string(), home);
    }
    if let Some(dir) = std::env::var_os("KILN_PYTHON_WHEELS").filter(|d| !d.is_empty()) {
        m.insert("python-wheels".to_string(), PathBuf::from(dir));
    }
    m
}

/// The build options of a selection: the project, the store and the one
/// reading of the environment (`SOURCE_DATE_EPOCH`, parsed here).
pub(crate) fn options(sel: Selection, ctx: &Context) -> Result<BuildOptions, CliError> {
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(SourceDateEpoch::from_env_value(&v)?),
        Err(_) => None,
    };
    Ok(BuildOptions {
        root: ctx.project_root()?,
        store_dir: ctx.store_dir()?,
        recipes: sel.recipes,
        rev: sel.rev,
        dirty: sel.dirty,
        version: sel.version,
        tag: sel.tag,
        sandbox: sel.sandbox,
        source_date_epoch,
        host_inputs: host_inputs(),
        state_dir: crate::store::default_state_dir().ok(),
        cwd: std::env::current_dir().ok(),
        ..BuildOptions::default()
    })
}
