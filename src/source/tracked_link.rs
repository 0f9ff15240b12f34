//! Where kiln writes is never chosen by a checkout: [`tracked_link`] finds
//! a symlink that git tracks on the way to a directory kiln is about to
//! write (the store, `dist/`, `--out`). The store and `dist/` share it.
//!
//! The rule: every component of the path, whoever named it (kiln's default
//! or the user's `--out`/`--store`), is looked at; a symlink that a git
//! index tracks came with a checkout and is refused. A link git does not
//! track (made by the user, e.g. `dist` → a larger disk) is followed. A
//! directory that is no git work tree tells kiln nothing about where its
//! entries came from: its links are followed.

use std::path::{Path, PathBuf};

use super::git::{self, GitError};

/// A symlink git tracks, on the way to a directory kiln would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrackedLink {
    /// The link (the path up to and including it).
    pub link: PathBuf,
    /// What it points at, as stored in the link.
    pub target: PathBuf,
}

/// The first component of `path` (made absolute, components taken as
/// written) that is a symlink tracked by git; `None` when there is none.
/// Only links cost a git query; components that do not exist yet end the
/// walk (kiln creates them).
pub(crate) fn tracked_link(path: &Path) -> Result<Option<TrackedLink>, GitError> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut at = PathBuf::new();
    for c in abs.components() {
        at.push(c);
        let Ok(md) = std::fs::symlink_metadata(&at) else {
            break;
        };
        if !md.file_type().is_symlink() {
            continue;
        }
        let (Some(parent), Some(name)) = (at.parent(), at.file_name()) else {
            continue;
        };
        if git::tracks(parent, name)? {
            return Ok(Some(TrackedLink {
                target: std::fs::read_link(&at).unwrap_or_default(),
                link: at,
            }));
        }
    }
    Ok(None)
}
