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
//! - **Never through a checkout's link.** `dist/` (or `--out`) is refused
//!   when a symlink git tracks lies on the way to it ([`check_out`], the
//!   rule the store follows too: [`crate::source::tracked_link`]), before
//!   anything is built. Once opened, `dist/` is written relative to its
//!   descriptor ([`crate::fsutil::Dir`]): no entry in it is followed, a
//!   link swapped in is replaced or removed as a link.
//! - **Names are checked first.** Every recorded artifact name is a plain
//!   name inside `dist/` ([`recorded`]: a realisation may come from a cache
//!   or an old store record), and two artifacts, an artifact and another's
//!   `.intoto.json`, or an artifact and one of kiln's own files
//!   ([`super::plan::RESERVED_DIST_NAMES`]) never share a name.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use crate::fsutil::Dir;

use super::error::io;
use super::plan::RESERVED_DIST_NAMES;
use super::{BuildError, RecipeReport};
use crate::hash::Sha256;
use crate::store::Store;

mod entry;
mod place;
mod recorded;

use entry::{temp_name, Entry, TMP_PREFIX};

use place::{place, Retire};
pub(crate) use recorded::{check_recorded, dist_name, UnsafeArtifact};

/// The lock a build holds while it writes `dist/`.
pub(crate) const LOCK_NAME: &str = ".kiln-dist.lock";
/// Which source the artifacts in `dist/` were built from.
pub(crate) const STATE_NAME: &str = ".kiln-dist.json";

/// A file written into `dist/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub name: String,
    pub sha256: String,
}

/// What `dist/` is published for.
#[derive(Debug, Clone)]
pub(crate) struct Publication<'a> {
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

/// Refuse an output directory reached through a symlink git tracks
/// ([`BuildError::LinkedOut`]); writes nothing. [`crate::engine::build`]
/// calls it before building, [`write_dist`] again before writing.
pub(crate) fn check_out(out: &Path) -> Result<(), BuildError> {
    match crate::source::tracked_link::tracked_link(out)? {
        Some(l) => Err(BuildError::LinkedOut {
            out: out.to_path_buf(),
            link: l.link,
            target: l.target,
        }),
        None => Ok(()),
    }
}

/// Check `out`, create it if needed and open it.
fn open_out(out: &Path) -> Result<Dir, BuildError> {
    check_out(out)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    Dir::open(out).map_err(io(out))
}

/// Take `dist/`'s lock. Anything but a regular file at its name (a link
/// that came with a checkout) is no lock of kiln's: it is removed, as a
/// link, first.
fn lock_dist(dir: &Dir) -> Result<std::fs::File, BuildError> {
    let path = dir.join(LOCK_NAME);
    if dir
        .metadata(LOCK_NAME)
        .map_err(io(&path))?
        .is_some_and(|m| !m.is_file())
    {
        dir.remove(LOCK_NAME).map_err(io(&path))?;
    }
    let lock = dir.open_or_create(LOCK_NAME).map_err(io(&path))?;
    lock.lock().map_err(io(&path))?;
    Ok(lock)
}

/// Copy every artifact into `out`, write provenance and `SHA256SUMS`.
pub(crate) fn write_dist(
    store: &Store,
    publication: &Publication<'_>,
    out: &Path,
) -> Result<Vec<DistFile>, BuildError> {
    let (entries, provenance) = plan_names(store, publication.reports)?;
    let dir = open_out(out)?;
    let lock = lock_dist(&dir)?;
    remove_leftovers(&dir)?;

    let old: State = dir
        .read(STATE_NAME)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let old_sums = read_sums(&dir);
    let mut state = State {
        source: publication.source.clone(),
        entries: BTreeMap::new(),
        copied: BTreeMap::new(),
    };
    let mut sums = kept(&dir, publication, &old, &old_sums, &entries, &mut state);
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
    let doomed_dir = dir.sub(".").map_err(io(out))?;
    let (retired, doomed) = std::sync::mpsc::channel::<String>();
    let remover = std::thread::spawn(move || -> Result<(), BuildError> {
        doomed
            .into_iter()
            .try_for_each(|n| doomed_dir.remove(&n).map_err(io(&doomed_dir.join(&n))))
    });
    let retire = Retire {
        dir: &dir,
        to: retired,
    };
    let placed = place_all(&dir, &entries, &old, &in_store, &retire);
    let placed = match placed {
        Ok(p) => p,
        Err(e) => {
            drop(retire);
            let _ = remover.join();
            return Err(e);
        }
    };
    for ((name, e), hashes) in entries.iter().zip(placed) {
        sums.extend(hashes);
        state.copied.insert(name.clone(), in_store(e));
        state
            .entries
            .entry(e.recipe.clone())
            .or_default()
            .push(name.clone());
    }
    for (name, (recipe, bytes)) in &provenance {
        write_if_changed(&dir, name, bytes)?;
        sums.insert(name.clone(), Sha256::digest(bytes).to_hex());
        state
            .entries
            .entry(recipe.clone())
            .or_default()
            .push(name.clone());
    }
    drop_unlisted(&dir, &state, &old_sums, &retire)?;
    for names in state.entries.values_mut() {
        names.sort();
    }
    let state_bytes = serde_json::to_vec_pretty(&state).expect("state serialises");
    write_if_changed(&dir, STATE_NAME, &state_bytes)?;
    let mut text = String::new();
    for (name, hex) in &sums {
        text.push_str(&format!("{hex}  {name}\n"));
    }
    write_if_changed(&dir, "SHA256SUMS", text.as_bytes())?;
    drop(retire);
    remover.join().expect("dist remover thread")?;
    drop(lock);
    Ok(sums
        .into_iter()
        .map(|(name, sha256)| DistFile { name, sha256 })
        .collect())
}

/// The `SHA256SUMS` lines of the entries an earlier build of the same
/// source wrote that this (partial) build keeps, recording them in `state`.
fn kept(
    dir: &Dir,
    publication: &Publication<'_>,
    old: &State,
    old_sums: &BTreeMap<String, String>,
    entries: &BTreeMap<String, Entry>,
    state: &mut State,
) -> BTreeMap<String, String> {
    let mut sums = BTreeMap::new();
    let ids: BTreeSet<&str> = publication.reports.iter().map(|r| r.id.as_str()).collect();
    if publication.complete || old.source != publication.source {
        return sums;
    }
    for (id, names) in &old.entries {
        if ids.contains(id.as_str()) || names.iter().any(|n| entries.contains_key(n)) {
            continue;
        }
        if names
            .iter()
            .all(|n| dir.metadata(n).ok().flatten().is_some())
        {
            for (name, hex) in old_sums {
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
    sums
}

/// Copy (and hash) every artifact, side by side: an image's layout and its
/// docker archive are each hundreds of MB.
fn place_all(
    dir: &Dir,
    entries: &BTreeMap<String, Entry>,
    old: &State,
    in_store: &(dyn Fn(&Entry) -> String + Sync),
    retire: &Retire<'_>,
) -> Result<Vec<Vec<(String, String)>>, BuildError> {
    use rayon::prelude::*;
    let list: Vec<(&String, &Entry)> = entries.iter().collect();
    list.par_iter()
        .map(|(name, e)| {
            let same_source = old.copied.get(name.as_str()) == Some(&in_store(e));
            place(dir, name, e, same_source, retire)
        })
        .collect()
}

/// Remove every top-level entry that is not kept: what earlier builds
/// wrote, and anything else but kiln's own files.
fn drop_unlisted(
    dir: &Dir,
    state: &State,
    old_sums: &BTreeMap<String, String>,
    retire: &Retire<'_>,
) -> Result<(), BuildError> {
    let wanted: BTreeSet<&str> = state
        .entries
        .values()
        .flatten()
        .map(String::as_str)
        .chain(RESERVED_DIST_NAMES.iter().copied())
        .chain([STATE_NAME])
        .collect();
    for name in dir.entries().map_err(io(dir.path()))? {
        let name = name.to_string_lossy();
        let listed = old_sums
            .keys()
            .any(|n| n.split('/').next() == Some(name.as_ref()));
        if !wanted.contains(name.as_ref()) && listed {
            retire.aside(&name)?;
        }
    }
    Ok(())
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
            // A name this invocation's build produced is the project's
            // (bad input); one recorded earlier or pulled is the record's.
            if r.status == super::Status::Built {
                check_name(a.file.trim_end_matches('/'), &r.id)?;
            }
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
                recorded_files(&own, &name).map_err(|source| BuildError::BadProvenance {
                    store_path: r.store_path.clone(),
                    source,
                })?
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
fn recorded_files(
    statement: &[u8],
    name: &str,
) -> Result<BTreeMap<String, String>, serde_json::Error> {
    let prefix = format!("{name}/");
    Ok(crate::provenance::subjects(statement)?
        .into_iter()
        .filter_map(|s| {
            let rel = s.name.strip_prefix(&prefix)?.to_string();
            Some((rel, s.sha256))
        })
        .collect())
}

/// `SHA256SUMS` as name → hex (empty unless a regular file).
fn read_sums(dir: &Dir) -> BTreeMap<String, String> {
    dir.read("SHA256SUMS")
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
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
fn remove_leftovers(dir: &Dir) -> Result<(), BuildError> {
    for name in dir.entries().map_err(io(dir.path()))? {
        if name.to_string_lossy().starts_with(TMP_PREFIX) {
            dir.remove(&name).map_err(io(&dir.join(&name)))?;
        }
    }
    Ok(())
}

/// Replace `dir/name` with a file holding `bytes` (0644) unless it already
/// is one.
fn write_if_changed(dir: &Dir, name: &str, bytes: &[u8]) -> Result<(), BuildError> {
    if dir.read(name).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt;
    let tmp = temp_name(name);
    let mut f = dir.create_new(&tmp, 0o644).map_err(io(&dir.join(&tmp)))?;
    f.write_all(bytes).map_err(io(&dir.join(name)))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(io(&dir.join(name)))?;
    dir.rename(&tmp, name).map_err(io(&dir.join(name)))
}
