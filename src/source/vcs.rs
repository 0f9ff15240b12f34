//! Giving a build workspace the git metadata of the commit it was
//! materialised from, so that tools which read it (cargo's `.cargo_vcs_info.json`
//! and its git-based file listing) see what they would see in a clean
//! `git clone` of that commit.
//!
//! Only the commit and its tree are fetched (`git fetch --depth=1` from the
//! project's own repository: no network, no history), `HEAD` is detached at
//! the commit and the index is the commit's tree, refreshed against the
//! materialised files. Nothing outside `dest` is written; git runs with no
//! system or global configuration and no hooks or templates.

use std::path::Path;
use std::process::Stdio;

use super::git::{git_command, GitError, Repo};

/// Makes `dest` — which holds the files of `commit` (and possibly stamped
/// edits of them) — a git work tree whose `HEAD` is `commit`.
pub(crate) fn attach_commit(repo: &Repo, commit: &str, dest: &Path) -> Result<(), GitError> {
    if commit.len() < 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(GitError::Parse {
            args: "attach_commit".into(),
            detail: format!("{commit:?} is not a full commit id"),
        });
    }
    use std::ffi::OsString;
    let os = |args: &[&str]| -> Vec<OsString> { args.iter().map(OsString::from).collect() };
    let mut fetch = os(&[
        "fetch",
        "-q",
        "--depth=1",
        "--no-tags",
        "--no-write-fetch-head",
    ]);
    fetch.push(repo.root().as_os_str().to_owned());
    fetch.push(commit.into());
    let steps = [
        os(&["init", "-q", "--template=", "."]),
        fetch,
        os(&["update-ref", "--no-deref", "HEAD", commit]),
        os(&["read-tree", commit]),
        // Exit status 1 only means some files differ from the index.
        os(&["update-index", "-q", "--refresh"]),
    ];
    for args in &steps {
        let out = git_command(dest)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(GitError::Spawn)?;
        let refresh = args[0] == "update-index";
        let ok = out.status.success() || (refresh && out.status.code() == Some(1));
        if !ok {
            return Err(GitError::Failed {
                dir: dest.to_path_buf(),
                args: args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
    }
    Ok(())
}
