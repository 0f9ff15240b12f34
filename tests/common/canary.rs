//! "Nothing outside kiln's own places changed": a canary directory and a
//! `$HOME` that a hostile project points at, hashed before and after.

use std::path::{Path, PathBuf};

use super::fixture::tree_digest;
use super::write;

/// A canary directory and a home directory, each holding a few files, with
/// their digests taken when made.
pub struct Canary {
    pub dir: PathBuf,
    pub home: PathBuf,
    before: (String, String),
}

impl Canary {
    /// Make `<root>/canary` and `<root>/home` (with a `.bashrc` and a
    /// nested directory each) and record their digests.
    pub fn new(root: &Path) -> Canary {
        let dir = root.join("canary");
        let home = root.join("home");
        for d in [&dir, &home] {
            write(&d.join(".bashrc"), "echo canary\n");
            write(&d.join("keep/secret.txt"), "do not touch\n");
            write(&d.join("keep/deeper/file"), "still here\n");
        }
        let before = (tree_digest(&dir), tree_digest(&home));
        Canary { dir, home, before }
    }

    /// Panic when either directory changed (a file written, removed or
    /// replaced, a mode changed) since [`Canary::new`].
    pub fn assert_untouched(&self) {
        assert!(
            self.dir.join("keep/deeper/file").is_file(),
            "canary files removed"
        );
        assert_eq!(
            tree_digest(&self.dir),
            self.before.0,
            "the canary directory changed"
        );
        assert_eq!(tree_digest(&self.home), self.before.1, "$HOME changed");
    }
}
