//! The vocabulary of a release across many machines, shared by planning
//! the jobs (`jobs.rs`), substituting ahead (`ahead.rs`), executing and
//! the engine's errors: a [`Job`] of `kiln plan --jobs`, whether this
//! machine builds a node ([`Here`]) and what it could not have
//! ([`Missing`]).

use crate::derive::{DrvHash, System};
use crate::name::shown;

/// One job of the release plan, as `kiln plan --jobs --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// `x86_64-linux`, or `x86_64-linux-2` for a system's second shard.
    pub id: String,
    /// The system every derivation of the job is built for.
    pub system: String,
    /// The recipes it builds, in plan order.
    pub recipes: Vec<String>,
    /// The jobs whose outputs it substitutes from the cache (run them first).
    pub needs: Vec<String>,
    /// The recipes of other jobs it substitutes (inputs of its recipes).
    pub substitutes: Vec<String>,
    /// The recorded build time of its recipes, when every one is known.
    pub seconds: Option<u64>,
}

/// `kiln plan --jobs --json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobPlan {
    pub jobs: Vec<Job>,
}

/// Why a derivation is not built here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// It is for a system this machine does not declare.
    System(System),
    /// Another job builds it (`--job`, `--assemble`).
    Job(String),
    /// One of its inputs could not be had.
    Input(String),
}

/// Whether this machine builds a node, or only substitutes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Here {
    Build,
    Substitute(Why),
}

/// An output that could be neither built here nor substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub recipe: String,
    /// Its derivation, when its inputs were had.
    pub drv: Option<DrvHash>,
    pub why: Why,
    /// What the cache said, if it refused an entry.
    pub detail: Option<String>,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", shown(&self.recipe))?;
        if let Some(d) = &self.drv {
            write!(f, " ({})", d.short())?;
        }
        match &self.why {
            Why::System(s) => write!(f, ": needs an {s} builder (not in the cache)")?,
            Why::Job(j) => write!(
                f,
                ": not in the cache; job {} builds it (did it run with --push?)",
                shown(j)
            )?,
            Why::Input(i) => write!(f, ": its input {} is missing", shown(i))?,
        }
        if let Some(d) = &self.detail {
            write!(f, "; {}", shown(d))?;
        }
        Ok(())
    }
}
