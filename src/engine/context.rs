//! What every build of one invocation shares ([`Ctx`]), and the sweeper's
//! work ([`Sweep`]): the execution's state, which the scheduler
//! (`execute`) and the workspace builder (`workspace`) both use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::Sender;

use super::jobplan::Here;
use super::plan::Plan;
use super::{BuildOptions, Progress};
use crate::store::Store;

/// What every build of one invocation shares.
pub(super) struct Ctx<'a> {
    pub plan: &'a Plan<'a>,
    pub store: &'a Store,
    pub opts: &'a BuildOptions,
    pub progress: &'a dyn Progress,
    /// Where finished workspaces go to be removed off the build's path.
    pub sweep: &'a Sender<Sweep>,
    /// Whether this machine builds each node, by recipe id.
    pub here: &'a BTreeMap<String, Here>,
    /// The derivations substituted before building started.
    pub substituted: &'a BTreeSet<String>,
}

/// What the sweeper removes.
#[derive(Debug)]
pub(crate) enum Sweep {
    /// A build's whole workspace, once its output is registered.
    Workspace(tempfile::TempDir),
    /// A part of a workspace no longer read (its sources and input copies,
    /// once the surface has built): removed while the output registers.
    Tree(std::path::PathBuf),
}

impl Sweep {
    /// Remove it, never following a link a build left in it
    /// ([`crate::fsutil::remove_tree`]); errors are left to `kiln store gc`.
    pub(crate) fn remove(self) {
        let path = match self {
            Sweep::Workspace(dir) => dir.keep(),
            Sweep::Tree(path) => path,
        };
        let _ = crate::fsutil::remove_tree(&path);
    }
}
