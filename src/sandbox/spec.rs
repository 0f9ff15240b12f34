//! What one sandboxed run is: the isolation ([`SandboxMode`]), the process
//! and its inputs ([`Spec`], [`RoInput`]) and what confines it beyond that
//! ([`Confine`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::error::SandboxError;
use super::limits::Limits;
use super::tools::Tool;

/// How a build process is isolated. Serialises as `"bubblewrap"` / `"none"`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// bubblewrap: namespaces, fixed filesystem layout, no network.
    #[default]
    #[value(alias = "bwrap")]
    Bubblewrap,
    /// No isolation; same environment discipline. Must be recorded by the caller.
    None,
}

impl SandboxMode {
    /// The stable spelling used on the command line and in derivations.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Bubblewrap => "bubblewrap",
            SandboxMode::None => "none",
        }
    }
}

impl std::fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SandboxMode {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bubblewrap" | "bwrap" => Ok(SandboxMode::Bubblewrap),
            "none" => Ok(SandboxMode::None),
            other => Err(SandboxError::BadMode {
                value: other.to_string(),
            }),
        }
    }
}

/// A host path made visible read-only inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoInput {
    /// Existing host file or directory.
    pub host: PathBuf,
    /// Absolute in-sandbox path, e.g. `/tmp/cargo-home/registry/cache`. Must
    /// not be `/` or lie under `/build`, `/kiln`, `/usr`, `/etc`, `/proc`,
    /// `/dev` or the other system directories.
    pub at: String,
}

/// One process to run in the sandbox.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Host directory mounted read-write at `/build`.
    pub workspace: PathBuf,
    /// Working directory relative to `/build` (`""` or `"."` = `/build`).
    pub cwd: String,
    /// Program and arguments; the program is looked up on the sandbox PATH
    /// (the declared tools) unless it is an absolute path.
    pub argv: Vec<String>,
    /// Declared tools (from [`resolve_tools`](super::resolve_tools)): the only programs on PATH.
    pub tools: Vec<Tool>,
    /// Extra read-only inputs.
    pub ro_inputs: Vec<RoInput>,
    /// Extra environment variables. The fixed ones of [`env::RESERVED`](super::env::RESERVED)
    /// cannot be overridden.
    pub env: BTreeMap<String, String>,
    /// `SOURCE_DATE_EPOCH` exported to the process.
    pub source_date_epoch: u64,
    pub mode: SandboxMode,
}

/// What confines a run beyond its [`Spec`]: its resource limits, and the
/// workspace directories it may not see.
#[derive(Debug, Clone, Default)]
pub struct Confine {
    pub limits: Limits,
    /// Directories relative to the workspace (`/build/<dir>`) that are
    /// replaced, inside the sandbox, by an empty read-only directory: where
    /// kiln stages outputs, which the process must not write.
    pub hidden: Vec<String>,
}
