//! Backend mode: `[[map]]` puts files into the project directory before the
//! PEP 517 hook runs, so a file another recipe generated (rendered docs, a
//! compiled frontend: `inputs/<mount>/…`) is in the tree the backend packs.
//!
//! A target is relative to the recipe's `source` (validated: no `..`, not
//! absolute), a portable archive path, and must be new: a selected file of
//! the recipe, an earlier map's file, or anything already in the workspace
//! at that path is bad input (exit 2) — a generated file never shadows a
//! committed one silently. Directories are created without following a
//! link. [`Placed`] remembers where each placed file came from, for
//! provenance ([`super::origins::backend`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::wheel::{mapped, recipe_err};
use super::PythonError;
use crate::surface::Job;

/// Project-relative target → the workspace file its bytes came from
/// (`inputs/<mount>/…` or a file below `src/`).
pub(super) type Placed = BTreeMap<String, PathBuf>;

/// Copy every `[[map]]` entry of the recipe into `job.source_dir`.
pub(super) fn place(job: &Job<'_>) -> Result<Placed, PythonError> {
    let selected: BTreeSet<&str> = job.files.iter().map(String::as_str).collect();
    let mut placed = Placed::new();
    for (i, m) in job.recipe.spec.map.iter().enumerate() {
        let (from_key, to_key) = (format!("map[{i}].from"), format!("map[{i}].to"));
        let render = |key: &str, t: &str| {
            job.recipe
                .render(key, t, job.version)
                .map_err(|e| recipe_err(job, key, t, e.to_string()))
        };
        let from = render(&from_key, &m.from)?;
        let to = render(&to_key, &m.to)?;
        let to = to.trim_end_matches('/');
        for (rel, f) in mapped(job, &from_key, &from)? {
            let target = if rel.is_empty() {
                to.to_string()
            } else {
                format!("{to}/{rel}")
            };
            let refuse = |reason: String| recipe_err(job, &to_key, &target, reason);
            crate::archive::check_entry_path(&target).map_err(|r| refuse(r.to_string()))?;
            if selected.contains(target.as_str()) {
                return Err(refuse(
                    "is a selected file of the recipe's source; a mapped file must not replace a committed one (map it elsewhere or exclude the file)".into(),
                ));
            }
            if placed.contains_key(&target) {
                return Err(refuse(
                    "is already the target of an earlier [[map]] entry".into(),
                ));
            }
            let bytes = f.read()?;
            write_new(job.source_dir, &target, &bytes, f.executable).map_err(refuse)?;
            placed.insert(target, f.at);
        }
    }
    Ok(placed)
}

/// Write `bytes` at `root/rel`, creating directories on the way without
/// following a link; the file itself must not exist yet.
fn write_new(root: &Path, rel: &str, bytes: &[u8], executable: bool) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    let (name, parents) = parts.split_last().expect("a checked entry path");
    for p in parents {
        dir.push(p);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("{} is in the way: not a directory", dir.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                "already exists in the workspace; a mapped file must be a new file".to_string()
            }
            _ => format!("{}: {e}", path.display()),
        })?;
    f.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}
