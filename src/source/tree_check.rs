//! Which source paths kiln accepts: the one check between a repository's
//! tree (hostile input) and the files kiln writes into a workspace.
//!
//! A git tree is a list of `(mode, name, object)` entries, and nothing but
//! `git fsck` stops a crafted one (`git hash-object -t tree --literally`) from
//! holding names like `/tmp/x`, `..`, `a/b` or `.git`, or the same name twice
//! (a symlink `zlink` *and* a directory `zlink/`). Written out naively, such
//! a tree creates files outside the workspace or through a link. So every
//! path of a listing is checked before anything is written:
//!
//! - each name (the parts between `/`) passes the NAR rules
//!   ([`crate::nix::nar::invalid_name_reason`]: not empty, not `.` or `..`,
//!   no `/`, no NUL) and is not `.git` (in any case);
//! - every directory a path goes through is itself listed as a tree: this is
//!   what catches a single entry whose *name* contains `/` (git prints it
//!   joined like a real path) and a file or symlink below a symlink;
//! - no path is listed twice.
//!
//! Names are bytes: a name that is not UTF-8 is valid here (it only matters
//! if a recipe selects it, see `Snapshot::select`).

use std::collections::HashSet;

use crate::nix::nar::{invalid_name_reason, MAX_NAME};

/// Longest path below a workspace directory kiln writes (Linux `PATH_MAX`
/// − 1 minus room for the workspace's own location).
pub(crate) const MAX_PATH: usize = 4095 - 512;

/// One path of a listing and whether it is a directory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listed<'a> {
    pub path: &'a [u8],
    pub directory: bool,
}

/// Why a path of a listing is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The offending path, as listed (escaped when not UTF-8).
    pub path: String,
    pub reason: String,
}

/// Check every path of a listing (see the module docs); the first refusal,
/// in listing order, is returned.
pub(crate) fn check_listing<'a>(
    entries: impl IntoIterator<Item = Listed<'a>> + Clone,
) -> Result<(), Refusal> {
    // Membership only (nothing is iterated), so hash sets: a no-op build
    // checks every path of the commit.
    let mut dirs: HashSet<&[u8]> = HashSet::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    for e in entries.clone() {
        if e.directory {
            dirs.insert(e.path);
        }
    }
    for e in entries {
        check_names(e.path)?;
        if !seen.insert(e.path) {
            return Err(refuse(
                e.path,
                "the tree lists this path twice (e.g. a symlink and a directory of the same name); \
                 writing it would go through the first",
            ));
        }
        let mut end = 0;
        while let Some(i) = e.path[end..].iter().position(|b| *b == b'/') {
            let parent = &e.path[..end + i];
            if !dirs.contains(parent) {
                return Err(refuse(
                    e.path,
                    &format!(
                        "{} is not a directory of the tree (a name containing `/`, or a path below a file or symlink)",
                        display(parent)
                    ),
                ));
            }
            end += i + 1;
        }
    }
    Ok(())
}

/// Check the names of one `/`-separated relative path (no listing context:
/// for working-tree files and materialisation).
pub(crate) fn check_names(path: &[u8]) -> Result<(), Refusal> {
    if path.len() > MAX_PATH {
        return Err(refuse(
            path,
            &format!("the path is longer than {MAX_PATH} bytes, more than file systems can hold below a workspace"),
        ));
    }
    for name in path.split(|b| *b == b'/') {
        if let Some(why) = invalid_name_reason(name) {
            return Err(refuse(path, &format!("a name in it is invalid: {why}")));
        }
        if name.eq_ignore_ascii_case(b".git") {
            return Err(refuse(
                path,
                "a name in it is `.git`, which kiln never writes into a workspace",
            ));
        }
        if name.len() > MAX_NAME {
            return Err(refuse(
                path,
                &format!(
                    "a name in it is {} bytes long; file systems hold at most {MAX_NAME}",
                    name.len()
                ),
            ));
        }
    }
    Ok(())
}

fn refuse(path: &[u8], reason: &str) -> Refusal {
    Refusal {
        path: display(path),
        reason: reason.to_string(),
    }
}

/// A path for messages: UTF-8 as is, other bytes and control characters
/// as `\xNN`, bidirectional controls and backslashes as
/// [`crate::name::shown`] writes them.
pub(crate) fn display(path: &[u8]) -> String {
    path.utf8_chunks()
        .map(|c| {
            let mut s = String::new();
            for ch in c.valid().chars() {
                if ch.is_control() {
                    s.push_str(&format!("\\x{:02x}", ch as u32));
                } else {
                    s.push_str(&crate::name::shown(ch.encode_utf8(&mut [0; 4])));
                }
            }
            for b in c.invalid() {
                s.push_str(&format!("\\x{b:02x}"));
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(items: &[(&'static str, bool)]) -> Vec<Listed<'static>> {
        items
            .iter()
            .map(|(p, d)| Listed {
                path: p.as_bytes(),
                directory: *d,
            })
            .collect()
    }

    #[test]
    fn well_formed_listings_pass() {
        let l = listing(&[
            ("a", true),
            ("a/b", false),
            ("a/c", true),
            ("a/c/d", false),
            ("e", false),
        ]);
        assert_eq!(check_listing(l.iter().copied()), Ok(()));
        assert_eq!(check_names(b"dir/\xff.txt"), Ok(()));
    }

    #[test]
    fn crafted_names_are_refused() {
        for bad in [
            "/tmp/x/pwned",
            "a//b",
            "a/",
            "..",
            "a/../b",
            "./a",
            ".git/config",
            "x/.GIT",
        ] {
            let l = listing(&[(bad, false)]);
            let err = check_listing(l.iter().copied()).unwrap_err();
            assert_eq!(err.path, bad);
        }
        // A name holding `/`: git prints it like the path of a file in `zlink`.
        let err = check_listing(
            listing(&[("zlink", false), ("zlink/x", false)])
                .iter()
                .copied(),
        )
        .unwrap_err();
        assert!(err.reason.contains("zlink is not a directory"), "{err:?}");
        // A symlink and a directory of the same name.
        let err = check_listing(
            listing(&[("zlink", false), ("zlink", true), ("zlink/x", false)])
                .iter()
                .copied(),
        )
        .unwrap_err();
        assert!(err.reason.contains("twice"), "{err:?}");
        let long = "n".repeat(256);
        assert!(check_names(long.as_bytes()).is_err());
        assert!(check_names(b"a\0b").is_err());
        assert_eq!(display(b"a/\xffb\n"), "a/\\xffb\\x0a");
        assert_eq!(display("a\u{202e}b".as_bytes()), "a\\u{202e}b");
    }
}
