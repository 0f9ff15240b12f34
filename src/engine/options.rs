//! What a caller asks of the engine: [`BuildOptions`] (everything the CLI
//! resolved — the project, store, state and working directories, the
//! selection, version overrides, sandbox, caches) and the [`Substituter`] a
//! binary cache plugs in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::derive::{SourceDateEpoch, System};
use crate::sandbox::SandboxMode;
use crate::store::{Realisation, Store};

/// What to build and how.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The project root.
    pub root: PathBuf,
    /// The store directory.
    pub store_dir: PathBuf,
    /// Where artifacts go (`--out`; default `<root>/dist`).
    pub out_dir: Option<PathBuf>,
    /// Recipe names (empty: all).
    pub recipes: Vec<String>,
    /// Build from this revision instead of `HEAD`.
    pub rev: Option<String>,
    /// Use the working tree instead of the commit.
    pub dirty: bool,
    /// Override the version (as if it were the canonical one, release build).
    pub version: Option<String>,
    /// Build as if `HEAD` carried this tag.
    pub tag: Option<String>,
    /// Rebuild registered derivations and compare.
    pub check: bool,
    /// Parallel builds (default: number of CPUs).
    pub jobs: Option<usize>,
    /// How command recipes run.
    pub sandbox: SandboxMode,
    /// An explicit `SOURCE_DATE_EPOCH` (from the environment).
    pub source_date_epoch: Option<SourceDateEpoch>,
    /// Host cache locations for `host-inputs` (e.g. `cargo-registry`).
    pub host_inputs: BTreeMap<String, PathBuf>,
    /// Where to fetch derivations from before building them (`--cache`).
    pub substituter: Option<Arc<dyn Substituter>>,
    /// How long to wait for a derivation another process is building
    /// (`--lock-timeout`; `None`: as long as it takes).
    pub lock_timeout: Option<std::time::Duration>,
    /// The per-user state directory (the store key, the tool cache),
    /// resolved once by the caller (`kiln` uses `store::default_state_dir`).
    /// `None`: no tool cache, and the store looks its key up itself.
    pub state_dir: Option<PathBuf>,
    /// The directory relative paths in these options are relative to (the
    /// caller's working directory); `None`: they are taken as they are.
    pub cwd: Option<PathBuf>,
    /// The systems this machine builds (`--system`; empty: the host's).
    /// A derivation for any other system is substituted or reported.
    pub systems: Vec<System>,
    /// Which part of the release this invocation builds.
    pub part: Part,
    /// Fail (exit 1) before building anything when a derivation can be
    /// neither built here nor substituted (`--require-complete`).
    pub require_complete: bool,
    /// Split a system's job into shards when its recorded build time
    /// exceeds this many seconds (`kiln plan --jobs`, `build --job`).
    pub job_seconds: Option<u64>,
    /// The jobs as `kiln plan --jobs --json` printed them on the planning
    /// machine (`--plan FILE`): its shards hold on a runner whose store
    /// recorded other build times.
    pub job_plan: Option<super::jobplan::JobPlan>,
}

/// Which part of a release one invocation builds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Part {
    /// Everything selected this machine can build (the default).
    #[default]
    All,
    /// Exactly the derivations of one job of `kiln plan --jobs`
    /// (`--job ID`), substituting their inputs.
    Job(String),
    /// Nothing: every output is substituted (`--assemble`).
    Assemble,
}

/// Fetches a derivation's output from elsewhere (a binary cache, see
/// [`crate::cache`]) instead of building it.
pub trait Substituter: Send + Sync + std::fmt::Debug {
    /// Register the realisation of `drv` and its output in `store` and
    /// return it; `Ok(None)` when the source does not have it. An error is
    /// reported as a warning and the derivation is built here.
    fn substitute(&self, store: &Store, drv: &str) -> Result<Option<Realisation>, String>;
}

/// The `dist/` directory below the project root when `--out` is not given.
pub const DIST_DIR: &str = "dist";

impl BuildOptions {
    /// The systems this machine builds: `--system`, else the host's.
    pub fn systems(&self) -> Vec<System> {
        if self.systems.is_empty() {
            vec![System::host()]
        } else {
            self.systems.clone()
        }
    }

    /// The `dist/` directory: `--out`, else `<root>/dist` ([`DIST_DIR`]).
    pub fn dist_dir(&self) -> PathBuf {
        self.out_dir
            .clone()
            .unwrap_or_else(|| self.root.join(DIST_DIR))
    }
}
