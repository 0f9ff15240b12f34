//! Publishing built outputs into `dist/` (or `--out DIR`).
//!
//! Each file artifact is placed under its own name, each directory artifact
//! as `DIR/<name>/`, each with its provenance beside it as
//! `<name>.intoto.json`; `SHA256SUMS` lists every file of `dist/` (`<hex>
//! <name>`, sorted by name) with the digest recorded when it was built (its
//! provenance subject), so a copy of a store file damaged since does not
//! pass `sha256sum -c`. Nothing is touched until every recipe has built.
//!
//! - **No shared inodes with the store.** Artifacts are copies (the kernel
//!   may share extents: `copy_file_range` reflinks on filesystems that can),
//!   never hard links, so nothing done to `dist/` can change a store output.
//!   A copy gets its store file's mtime; a `dist/` file copied from the
//!   same store output (recorded in `dist/.kiln-dist.json`) whose type,
//!   size and mtime still equal its store file's is left alone, so
//!   publishing a cached build rewrites nothing (the no-op bar). Every
//!   store file has the same mtime, so a new output is always copied, even
//!   when its files have the sizes of the last ones.
//! - **Locked and atomic.** A build holds `dist/.kiln-dist.lock` while it
//!   writes; files go to `.kiln-tmp-*` names and are renamed into place;
//!   leftovers of an interrupted build are removed under the lock.
//!   `SHA256SUMS` is written last.
//! - **Which artifacts stay.** `dist/` holds the artifacts of the builds of
//!   one source (commit, or working tree): a build of every recipe replaces
//!   `dist/` with its artifacts; a build of some recipes updates their
//!   entries and keeps the others only when they were built from the same
//!   source (recorded in `dist/.kiln-dist.json`), else it replaces `dist/`.
//!   Either way `SHA256SUMS` lists exactly what is in `dist/`.
//! - **Names are checked first.** Every recorded artifact name is a plain
//!   name inside `dist/` ([`recorded`]: a realisation may come from a cache
//!   or an old store record), and two artifacts, an artifact and another's
//!   `.intoto.json`, or an artifact and one of kiln's own files
//!   ([`super::plan::RESERVED_DIST_NAMES`]) never share a name.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::io;
use super::plan::RESERVED_DIST_NAMES;
use super::{BuildError, RecipeReport};
use crate::hash::Sha256;
use crate::store::Store;

mod place;
mod recorded;

use place::{place, Retire};
pub use recorded::{check_recorded, dist_name, UnsafeArtifact};

/// The lock a build holds while it writes `dist/`.
pub const LOCK_NAME: &str = ".kiln-dist.lock";
/// Which source the artifacts in `dist/` were built from.
pub const STATE_NAME: &str = ".kiln-dist.json";
/// Prefix of temporary names.
const TMP_PREFIX: &str = ".kiln-tmp-";

/// A file written into `dist/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub name: String,
    pub sha256: String,
}

/// What `dist/` is published for.
#[derive(Debug, Clone)]
pub struct Publication<'a> {
    pub reports: &'a [RecipeReport],
    /// The source built: `git:<commit>`, `git:<commit>+dirty` or `directory`.
    pub source: String,
    /// Whether every recipe was built (no recipe names given).
    pub complete: bool,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    source: String,
    /// Top-level `dist/` names (artifacts and provenance) by recipe id.
    entries: BTreeMap<String, Vec<String>>,
    /// The store file or tree each artifact was copied from, relative to
    /// the store (`<hash>-<name>/…`, the same on every machine). Store
    /// outputs never change and every store file has the same mtime, so
    /// only this tells an untouched copy of *this* output from a copy of
    /// an earlier one of the same size.
    #[serde(default)]
    copied: BTreeMap<String, String>,
}

/// One top-level `dist/` entry to place.
struct Entry {
    recipe: String,
    src: PathBuf,
    directory: bool,
    /// sha256 recorded at registration (files only).
    sha256: Option<String>,
    /// A directory's files' sha256 as its provenance records them, by
    /// relative path.
    files: BTreeMap<String, String>,
}

/// Copy every artifact into `out`, write provenance and `SHA256SUMS`.
pub fn write_dist(
    store: &Store,
    publication: &Publication<'_>,
    out: &Path,
) -> Result<Vec<DistFile>, BuildError> {
    let (entries, provenance) = plan_names(store, publication.reports)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    let lock_path = out.join(LOCK_NAME);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    remove_leftovers(out)?;

    let state_path = out.join(STATE_NAME);
    let old: State = std::fs::read(&state_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let old_sums = read_sums(&out.join("SHA256SUMS"));
    let ids: BTreeSet<&str> = publication.reports.iter().map(|r| r.id.as_str()).collect();
    let keep_others = !publication.complete && old.source == publication.source;
    let mut state = State {
        source: publication.source.clone(),
        entries: BTreeMap::new(),
        copied: BTreeMap::new(),
    };
    let mut sums: BTreeMap<String, String> = BTreeMap::new();
    if keep_others {
        for (id, names) in &old.entries {
            if ids.contains(id.as_str()) || names.iter().any(|n| entries.contains_key(n)) {
                continue;
            }
            if names.iter().all(|n| out.join(n).exists()) {
                for (name, hex) in &old_sums {
                    let top = name.split('/').next().unwrap_or(name);
                    if names.iter().any(|n| n == top) {
                        sums.insert(name.clone(), hex.clone());
                    }
                }
                for n in names {
                    if let Some(src) = old.copied.get(n) {
                        state.copied.insert(n.clone(), src.clone());
                    }
                }
                state.entries.insert(id.clone(), names.clone());
            }
        }
    }
    // Artifacts are copied (and hashed) side by side: an image's layout and
    // its docker archive are each hundreds of MB.
    use rayon::prelude::*;
    let in_store = |e: &Entry| {
        e.src
            .strip_prefix(store.root())
            .unwrap_or(&e.src)
            .to_string_lossy()
            .into_owned()
    };
    // What is replaced or dropped is renamed aside and removed on another
    // thread while the copies go on (freeing a 263 MB file takes a third
    // of a second); a leftover is removed by the next build, under the lock.
    let (retired, doomed) = std::sync::mpsc::channel::<PathBuf>();
    let remover = std::thread::spawn(move || -> Result<(), BuildError> {
        doomed.into_iter().try_for_each(|p| remove(&p))
    });
    let retire = Retire { out, to: retired };
    let list: Vec<(&String, &Entry)> = entries.iter().collect();
    let placed = list
        .par_iter()
        .map(|(name, e)| {
            let same_source = old.copied.get(name.as_str()) == Some(&in_store(e));
            place(out, name, e, same_source, &retire)
        })
        .collect::<Result<Vec<_>, BuildError>>();
    let placed = match placed {
        Ok(p) => p,
        Err(e) => {
            drop(retire);
            let _ = remover.join();
            return Err(e);
        }
    };
    for ((name, e), hashes) in list.into_iter().zip(placed) {
        sums.extend(hashes);
        state.copied.insert(name.clone(), in_store(e));
        state
            .entries
            .entry(e.recipe.clone())
            .or_default()
            .push(name.clone());
    }
    for (name, (recipe, bytes)) in &provenance {
        write_if_changed(out, &out.join(name), bytes)?;
        sums.insert(name.clone(), Sha256::digest(bytes).to_hex());
        state
            .entries
            .entry(recipe.clone())
            .or_default()
            .push(name.clone());
    }
    // Remove every top-level entry that is not kept: what earlier builds
    // wrote, and anything else but kiln's own files.
    let wanted: BTreeSet<&str> = state
        .entries
        .values()
        .flatten()
        .map(String::as_str)
        .chain(RESERVED_DIST_NAMES.iter().copied())
        .chain([STATE_NAME])
        .collect();
    for e in std::fs::read_dir(out).map_err(io(out))? {
        let e = e.map_err(io(out))?;
        let name = e.file_name();
        let listed = old_sums
            .keys()
            .any(|n| n.split('/').next() == name.to_str());
        if !wanted.contains(name.to_string_lossy().as_ref()) && listed {
            retire.aside(&e.path(), &name.to_string_lossy())?;
        }
    }
    for names in state.entries.values_mut() {
        names.sort();
    }
    let state_bytes = serde_json::to_vec_pretty(&state).expect("state serialises");
    write_if_changed(out, &state_path, &state_bytes)?;
    let mut text = String::new();
    for (name, hex) in &sums {
        text.push_str(&format!("{hex}  {name}\n"));
    }
    write_if_changed(out, &out.join("SHA256SUMS"), text.as_bytes())?;
    drop(retire);
    remover.join().expect("dist remover thread")?;
    drop(lock);
    Ok(sums
        .into_iter()
        .map(|(name, sha256)| DistFile { name, sha256 })
        .collect())
}

/// Every `dist/` name of this build, checked for collisions with each other
/// and with kiln's own files: artifacts, and provenance by name (with the
/// recipe it belongs to).
#[allow(clippy::type_complexity)]
fn plan_names(
    store: &Store,
    reports: &[RecipeReport],
) -> Result<(BTreeMap<String, Entry>, BTreeMap<String, (String, Vec<u8>)>), BuildError> {
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut claim = |name: &str, recipe: &str| -> Result<(), BuildError> {
        if RESERVED_DIST_NAMES.contains(&name) || name.starts_with(TMP_PREFIX) {
            return Err(BuildError::ReservedName {
                name: name.to_string(),
                recipe: recipe.to_string(),
            });
        }
        check_name(name, recipe)?;
        if let Some(first) = owner.insert(name.to_string(), recipe.to_string()) {
            if first != recipe {
                return Err(BuildError::ArtifactClash {
                    name: name.to_string(),
                    first,
                    second: recipe.to_string(),
                });
            }
        }
        Ok(())
    };
    let mut entries = BTreeMap::new();
    let mut provenance = BTreeMap::new();
    for r in reports {
        let prov = store.provenance(&r.output, &r.build)?;
        for a in &r.artifacts {
            let name = dist_name(&a.file, &a.path)
                .map_err(|source| BuildError::UnsafeArtifact {
                    recipe: r.id.clone(),
                    store_path: r.store_path.clone(),
                    source,
                })?
                .to_string();
            claim(&name, &r.id)?;
            let pname = format!("{name}.intoto.json");
            claim(&pname, &r.id)?;
            let src = if a.path.is_empty() {
                r.store_path.clone()
            } else {
                r.store_path.join(&a.path)
            };
            if a.directory {
                check_tree_names(&src, &name, &r.id)?;
            }
            let statement = prov
                .as_deref()
                .ok_or_else(|| BuildError::MissingProvenance {
                    recipe: r.id.clone(),
                    store_path: r.store_path.clone(),
                })?;
            let own = crate::provenance::for_artifact(statement, &name).map_err(|source| {
                BuildError::BadProvenance {
                    store_path: r.store_path.clone(),
                    source,
                }
            })?;
            let files = if a.directory {
                recorded_files(&own, &name)
            } else {
                BTreeMap::new()
            };
            provenance.insert(pname, (r.id.clone(), own));
            entries.insert(
                name,
                Entry {
                    recipe: r.id.clone(),
                    src,
                    directory: a.directory,
                    sha256: (!a.directory).then(|| a.sha256.clone()),
                    files,
                },
            );
        }
    }
    Ok((entries, provenance))
}

/// An artifact's `dist/` name must be portable ([`crate::name`]): names
/// only known after building (from a manifest, or what a backend wrote)
/// are checked here, before anything in `dist/` changes.
fn check_name(name: &str, recipe: &str) -> Result<(), BuildError> {
    crate::name::check_portable(name).map_err(|source| BuildError::ArtifactName {
        name: name.to_string(),
        recipe: recipe.to_string(),
        source,
    })
}

/// The files of a directory artifact are listed in `SHA256SUMS` as
/// `<name>/<path>`: none may hold a control character (a line feed would
/// forge a line).
fn check_tree_names(src: &Path, name: &str, recipe: &str) -> Result<(), BuildError> {
    for (rel, _) in crate::fsutil::files_below(src).map_err(io(src))? {
        if let Some(c) = rel.chars().find(|c| c.is_control()) {
            return Err(BuildError::ArtifactName {
                name: format!("{name}/{rel}"),
                recipe: recipe.to_string(),
                source: crate::name::NameError::Control(c),
            });
        }
    }
    Ok(())
}

/// The sha256 of each file of directory artifact `name` that its
/// statement names as a subject, by path relative to the directory.
fn recorded_files(statement: &[u8], name: &str) -> BTreeMap<String, String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(statement) else {
        return BTreeMap::new();
    };
    let prefix = format!("{name}/");
    v.get("subject")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let rel = s.get("name")?.as_str()?.strip_prefix(&prefix)?;
            let hex = s.pointer("/digest/sha256")?.as_str()?;
            Some((rel.to_string(), hex.to_string()))
        })
        .collect()
}

/// `SHA256SUMS` as name → hex.
fn read_sums(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .map(|s| {
            s.lines()
                .filter_map(|l| l.split_once("  "))
                .filter(|(_, n)| !n.contains("..") && !n.starts_with('/'))
                .map(|(h, n)| (n.to_string(), h.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Remove temporary entries an interrupted build left (under the lock).
fn remove_leftovers(out: &Path) -> Result<(), BuildError> {
    for e in std::fs::read_dir(out).map_err(io(out))? {
        let e = e.map_err(io(out))?;
        if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            remove(&e.path())?;
        }
    }
    Ok(())
}

fn remove(p: &Path) -> Result<(), BuildError> {
    let meta = std::fs::symlink_metadata(p).map_err(io(p))?;
    if meta.is_dir() {
        std::fs::remove_dir_all(p).map_err(io(p))
    } else {
        std::fs::remove_file(p).map_err(io(p))
    }
}

fn temp_name(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{TMP_PREFIX}{}-{name}", std::process::id()))
}

/// Where a retired entry waits for removal (never a [`temp_name`]).
fn aside_name(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{TMP_PREFIX}{}.old.{name}", std::process::id()))
}

fn write_if_changed(dir: &Path, dest: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    if std::fs::read(dest).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(dest))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(io(dest))?;
    tmp.persist(dest).map_err(|e| BuildError::Io {
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}
