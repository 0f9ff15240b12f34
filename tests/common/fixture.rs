//! Copies of `tests/fixtures/monorepo` as real git repositories.

use std::path::{Path, PathBuf};

use super::{cmd, run_ok};

/// Fixed commit date of fixture commits (2024-01-02T03:04:05Z).
pub const COMMIT_DATE: &str = "1704164645 +0000";

/// The fixture's source directory.
pub fn monorepo_src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/monorepo")
}

/// Run git in `dir` with a fixed identity and the fixture's commit date.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_dated(dir, args, COMMIT_DATE)
}

/// Run git in `dir` with a fixed identity, no user or system configuration,
/// and author and committer dates `date`.
pub fn git_dated(dir: &Path, args: &[&str], date: &str) -> String {
    run_ok(
        cmd("git")
            .current_dir(dir)
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "tag.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Kiln Test")
            .env("GIT_AUTHOR_EMAIL", "kiln@example.invalid")
            .env("GIT_COMMITTER_NAME", "Kiln Test")
            .env("GIT_COMMITTER_EMAIL", "kiln@example.invalid")
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .env("TZ", "UTC"),
    )
}

/// Copy a directory tree; `reverse` creates entries in reverse name order
/// (so that directory order on disk differs between two copies).
pub fn copy_dir(from: &Path, to: &Path, reverse: bool) {
    std::fs::create_dir_all(to).unwrap();
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    if reverse {
        entries.reverse();
    }
    for e in entries {
        let ft = e.file_type().unwrap();
        let dest = to.join(e.file_name());
        if ft.is_dir() {
            if e.file_name() == "target"
                || e.file_name() == "store"
                || e.file_name() == "dist"
                || e.file_name() == "node_modules"
            {
                continue;
            }
            copy_dir(&e.path(), &dest, reverse);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A committed copy of the monorepo fixture at `dir` (created).
pub fn monorepo_at(dir: &Path, reverse: bool) -> PathBuf {
    copy_dir(&monorepo_src(), dir, reverse);
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "fixture"]);
    dir.to_path_buf()
}

/// A committed copy of the fixture in a fresh temporary directory.
pub fn monorepo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = monorepo_at(&tmp.path().join("mono"), false);
    (tmp, root)
}

/// sha256 over every file of a tree (path + mode + content), for "the
/// checkout is unchanged" assertions.
pub fn tree_digest(root: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::PermissionsExt;
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(f.strip_prefix(root).unwrap().to_string_lossy().as_bytes());
        let meta = std::fs::symlink_metadata(&f).unwrap();
        h.update(meta.permissions().mode().to_le_bytes());
        if meta.file_type().is_symlink() {
            h.update(std::fs::read_link(&f).unwrap().to_string_lossy().as_bytes());
        } else {
            h.update(std::fs::read(&f).unwrap());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The monorepo's sdist and wheel recipes (`mini-sdist`, `mini-wheel`) of
/// its `python/` project, written (not committed) below `root`.
pub fn python_recipes(root: &Path) {
    super::write(
        &root.join("recipes/mini-sdist.toml"),
        "surface = \"sdist\"\nsource = \"python\"\n[sdist]\nbackend = \"kiln\"\n",
    );
    super::write(
        &root.join("recipes/mini-wheel.toml"),
        "surface = \"wheel\"\nsource = \"python\"\n[wheel]\nbackend = \"kiln\"\n",
    );
}
