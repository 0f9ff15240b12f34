//! Publishing built outputs into `dist/` (or `--out DIR`).
//!
//! Each file artifact is placed under its own name, each directory artifact
//! as `DIR/<name>/`, each with its provenance beside it as
//! `<name>.intoto.json`; `SHA256SUMS` lists every file (`<hex>  <name>`,
//! sorted by name). Store outputs are immutable, so artifacts are hard links
//! to them when `DIR` is on the store's filesystem (a copy otherwise), and a
//! file that already is that link is left alone: publishing a fully cached
//! build rewrites nothing. Files are written to temporary names and renamed, and
//! files a previous `kiln build` wrote (listed in the old `SHA256SUMS`) that
//! this build does not produce are removed, so `dist/` always describes one
//! build. Nothing is touched until every recipe has built.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{BuildError, RecipeReport};
use crate::store::Store;

/// A file written into `dist/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub name: String,
    pub sha256: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |source| BuildError::Io { path, source }
}

/// Copy every artifact of `reports` into `out`, write provenance and `SHA256SUMS`.
pub fn write_dist(
    store: &Store,
    reports: &[RecipeReport],
    out: &Path,
) -> Result<Vec<DistFile>, BuildError> {
    // name -> (source path, is_dir, provenance bytes)
    let mut plan: BTreeMap<String, (PathBuf, bool, Option<Vec<u8>>)> = BTreeMap::new();
    for r in reports {
        let prov = store.provenance(
            r.store_path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default(),
        )?;
        for a in &r.artifacts {
            let src = if a.path.is_empty() {
                r.store_path.clone()
            } else {
                r.store_path.join(&a.path)
            };
            let name = a.file.trim_end_matches('/').to_string();
            if plan.contains_key(&name) {
                let first = reports
                    .iter()
                    .find(|o| {
                        o.artifacts
                            .iter()
                            .any(|x| x.file.trim_end_matches('/') == name)
                    })
                    .map(|o| o.id.clone())
                    .unwrap_or_default();
                return Err(BuildError::ArtifactClash {
                    name,
                    first,
                    second: r.id.clone(),
                });
            }
            plan.insert(name, (src, a.directory, prov.clone()));
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let sums_path = out.join("SHA256SUMS");
    let previous: Vec<String> = std::fs::read_to_string(&sums_path)
        .map(|s| {
            s.lines()
                .filter_map(|l| l.split_once("  ").map(|(_, n)| n.to_string()))
                .collect()
        })
        .unwrap_or_default();

    let mut sums: BTreeMap<String, String> = BTreeMap::new();
    let recorded: BTreeMap<String, String> = reports
        .iter()
        .flat_map(|r| r.artifacts.iter())
        .filter(|a| !a.directory)
        .map(|a| (a.file.clone(), a.sha256.clone()))
        .collect();
    for (name, (src, is_dir, prov)) in &plan {
        let dest = out.join(name);
        if *is_dir {
            if !same_tree(src, &dest)? {
                let tmp = out.join(format!(".{name}.kiln-tmp"));
                let _ = std::fs::remove_dir_all(&tmp);
                link_tree(src, &tmp)?;
                if dest.exists() {
                    std::fs::remove_dir_all(&dest).map_err(io(&dest))?;
                }
                std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
            }
            for (rel, hex) in hash_tree(&dest)? {
                sums.insert(format!("{name}/{rel}"), hex);
            }
        } else {
            let hex = match recorded.get(name) {
                Some(hex) => {
                    place_file(src, &dest)?;
                    hex.clone()
                }
                None => copy_file(src, &dest)?,
            };
            sums.insert(name.clone(), hex);
        }
        if let Some(p) = prov {
            let pname = format!("{name}.intoto.json");
            let pdest = out.join(&pname);
            write_if_changed(&pdest, p)?;
            sums.insert(pname, hex_sha256(p));
        }
    }
    // Remove what an earlier build wrote and this one does not.
    for old in previous {
        if !sums.contains_key(&old) && !old.contains("..") && !old.starts_with('/') {
            let top = old.split('/').next().unwrap_or(&old).to_string();
            if plan.contains_key(&top) {
                continue;
            }
            let p = out.join(&top);
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
    let mut text = String::new();
    for (name, hex) in &sums {
        text.push_str(&format!("{hex}  {name}\n"));
    }
    write_if_changed(&sums_path, text.as_bytes())?;
    Ok(sums
        .into_iter()
        .map(|(name, sha256)| DistFile { name, sha256 })
        .collect())
}

fn hex_sha256(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
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

fn write_if_changed(dest: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    if std::fs::read(dest).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    write_atomic(dest, bytes)
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Make `dest` the store file `src`: a hard link when possible (store files
/// never change), else a copy; nothing happens when it already is one.
fn place_file(src: &Path, dest: &Path) -> Result<(), BuildError> {
    if same_file(src, dest) {
        return Ok(());
    }
    let dir = dest.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.kiln-link",
        dest.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let _ = std::fs::remove_file(&tmp);
    match std::fs::hard_link(src, &tmp) {
        Ok(()) => std::fs::rename(&tmp, dest).map_err(io(dest)),
        Err(_) => copy_file(src, dest).map(|_| ()),
    }
}

/// Whether every file of the store tree `src` is already linked at `dest`.
fn same_tree(src: &Path, dest: &Path) -> Result<bool, BuildError> {
    if !dest.is_dir() {
        return Ok(false);
    }
    let a = walk_files(src)?;
    let b = walk_files(dest)?;
    if a.len() != b.len() {
        return Ok(false);
    }
    Ok(a.iter()
        .zip(&b)
        .all(|((ra, pa), (rb, pb))| ra == rb && same_file(pa, pb)))
}

fn walk_files(root: &Path) -> Result<Vec<(String, PathBuf)>, BuildError> {
    crate::fsutil::files_below(root).map_err(io(root))
}

/// Link (or copy) a store tree into `dest`, keeping symlinks.
fn link_tree(src: &Path, dest: &Path) -> Result<(), BuildError> {
    let meta = std::fs::symlink_metadata(src).map_err(io(src))?;
    if meta.file_type().is_symlink() {
        let t = std::fs::read_link(src).map_err(io(src))?;
        return std::os::unix::fs::symlink(t, dest).map_err(io(dest));
    }
    if meta.is_dir() {
        std::fs::create_dir_all(dest).map_err(io(dest))?;
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .map_err(io(src))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io(src))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            link_tree(&e.path(), &dest.join(e.file_name()))?;
        }
        return Ok(());
    }
    place_file(src, dest)
}

/// Copy `src` to `dest` via a temporary file, hashing on the way.
fn copy_file(src: &Path, dest: &Path) -> Result<String, BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    let mut input = std::fs::File::open(src).map_err(io(src))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut input, &mut buf).map_err(io(src))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(io(dest))?;
    }
    let exec = std::fs::metadata(src)
        .map_err(io(src))?
        .permissions()
        .mode()
        & 0o100
        != 0;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(if exec {
            0o755
        } else {
            0o644
        }))
        .map_err(io(dest))?;
    tmp.persist(dest).map_err(|e| BuildError::Io {
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect())
}

/// sha256 of every regular file below `root`, by relative path.
fn hash_tree(root: &Path) -> Result<Vec<(String, String)>, BuildError> {
    let mut out = Vec::new();
    for (rel, p) in walk_files(root)? {
        if std::fs::symlink_metadata(&p).map_err(io(&p))?.is_file() {
            // Streamed: directory artifacts (OCI layouts) hold large blobs.
            let mut h = Sha256::new();
            let mut f = std::fs::File::open(&p).map_err(io(&p))?;
            std::io::copy(&mut f, &mut h).map_err(io(&p))?;
            out.push((
                rel,
                h.finalize().iter().map(|x| format!("{x:02x}")).collect(),
            ));
        }
    }
    Ok(out)
}
