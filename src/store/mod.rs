//! The content-addressed store: layout, atomic registration, locks, lookup,
//! verify/repair and garbage collection. It builds nothing.
//!
//! ```text
//! store/<hash>-<name>                   immutable output (file, symlink or directory), read-only
//! store/.kiln/valid/<hash>-<name>.json  validity record: NAR sha256 and size of a committed output
//! store/.kiln/roots/<hash>-<name>       gc root: a path added by `kiln store add`
//! store/.kiln/derivations/<drv>.json    canonical derivation, for audit and verify
//! store/.kiln/realisations/<drv>.json   drv -> store path, NAR hash and size, metadata (a gc root)
//! store/.kiln/provenance/<hash>.json    in-toto statement for that output
//! store/.kiln/locks/<drv>.lock          one builder per derivation at a time
//! store/.kiln/locks/paths/<hash>.lock   one committer per store path at a time
//! store/.kiln/logs/<drv>.log            build logs
//! store/.kiln/tmp/                      staging on the same filesystem; rename is the commit point
//! store/.kiln/store.lock                shared by every open store, exclusive for gc and repair
//! store/.kiln/tools/                    tool identity cache of the sandbox (resolve_tools_cached; safe to delete)
//! ```
//!
//! `<hash>-<name>` is exactly the path `nix-store --add` gives the same file or
//! tree ([`StorePath::from_source`]). Committing an output: stage it under
//! `tmp/`, normalise it (files 0444/0555, directories 0555, mtime 1, fsync),
//! NAR-hash the staged copy, take the path lock, rename it into place (or drop
//! it if that path is already valid), then write the validity record and the
//! root or realisation, each atomically (temp file + rename). A process killed
//! at any moment leaves at most an unregistered leftover: a staging directory
//! (removed by gc) or an output without a validity record (replaced by the
//! next commit of the same path, removed by gc). See `docs/store.md`.

mod fsops;
mod gc;
mod records;
mod restore;
mod verify;

pub use gc::{GcItem, GcKind, GcReport};
pub use records::{ListEntry, PathInfo, Realisation};
pub use restore::restore_nar;
pub use verify::{Finding, Problem, VerifyReport};

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use records::RootRecord;

use crate::error::{Classify, ErrorKind};
use crate::hash::tree::{self, NarDigest, TreeError};
use crate::hash::Sha256;
use crate::nix::store_path::{StorePath, StorePathError, StorePathName};

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    Name(#[from] StorePathError),
    #[error(transparent)]
    Nar(#[from] crate::nix::nar::NarReadError),
    #[error("invalid derivation name {drv:?}: use 1-200 characters of A-Z a-z 0-9 + - . _, not starting with `.`")]
    InvalidDrv { drv: String },
    #[error("{}: unreadable store record", path.display())]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: staged output must be inside the store's staging directory {}", path.display(), tmp.display())]
    NotStaged { path: PathBuf, tmp: PathBuf },
    #[error("store {} is in use by another kiln process; run this again when it has finished", root.display())]
    Busy { root: PathBuf },
}

impl Classify for StoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Tree(e) => e.kind(),
            StoreError::Nar(e) => e.kind(),
            StoreError::Name(_) | StoreError::InvalidDrv { .. } => ErrorKind::BadInput,
            _ => ErrorKind::Internal,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An exclusive per-derivation lock, released on drop or process death.
#[derive(Debug)]
pub struct DrvLock {
    _file: File,
    path: PathBuf,
}

impl DrvLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// An open store. Holds a shared lock on `.kiln/store.lock` for its lifetime,
/// so that gc and repair never run while it commits.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    lock: File,
    /// Staging directories this handle created; gc leaves those that still
    /// exist (their `TempDir` is alive in this process).
    staged: std::sync::Mutex<Vec<PathBuf>>,
}

const SUBDIRS: &[&str] = &[
    "tmp",
    "derivations",
    "realisations",
    "provenance",
    "locks",
    "locks/paths",
    "logs",
    "roots",
    "valid",
];

fn validate_drv(drv: &str) -> Result<(), StoreError> {
    let ok = !drv.is_empty()
        && drv.len() <= 200
        && !drv.starts_with('.')
        && drv
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidDrv {
            drv: drv.to_string(),
        })
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StoreError::Record {
                    path: path.to_path_buf(),
                    source,
                })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).expect("records serialise");
    out.push(b'\n');
    out
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Names of the entries of `dir` (empty if it does not exist), sorted.
fn list_dir(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    match fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd {
                let e = e.map_err(io_err(dir))?;
                if let Ok(n) = e.file_name().into_string() {
                    names.push(n);
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(dir)(e)),
    }
    names.sort();
    Ok(names)
}

/// The store path `nix-store --add` would give `src` under `name`, without
/// touching any store (what `kiln store add --dry-run` prints).
pub fn source_path(src: &Path, name: &str) -> Result<(StorePath, NarDigest<Sha256>), StoreError> {
    StorePathName::new(name)?;
    let digest = tree::nar_sha256(src)?;
    Ok((StorePath::from_source(&digest.hash, name)?, digest))
}

impl Store {
    /// Open (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_err(&root))?;
        let root = fs::canonicalize(&root).map_err(io_err(&root))?;
        for d in SUBDIRS {
            let p = root.join(".kiln").join(d);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        let lock_path = root.join(".kiln/store.lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        lock.lock_shared().map_err(io_err(&lock_path))?;
        Ok(Store {
            root,
            lock,
            staged: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The store directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn kiln(&self, rel: &str) -> PathBuf {
        self.root.join(".kiln").join(rel)
    }

    fn tmp(&self) -> PathBuf {
        self.kiln("tmp")
    }

    /// `store/<base_name>`.
    pub fn path_of(&self, base_name: &str) -> PathBuf {
        self.root.join(base_name)
    }

    /// `.kiln/logs/<drv>.log`.
    pub fn log_path(&self, drv: &str) -> PathBuf {
        self.kiln("logs").join(format!("{drv}.log"))
    }

    fn valid_record(&self, sp: &StorePath) -> PathBuf {
        self.kiln("valid").join(format!("{sp}.json"))
    }

    fn root_record(&self, sp: &StorePath) -> PathBuf {
        self.kiln("roots").join(sp.to_string())
    }

    fn realisation_path(&self, drv: &str) -> PathBuf {
        self.kiln("realisations").join(format!("{drv}.json"))
    }

    fn derivation_path(&self, drv: &str) -> PathBuf {
        self.kiln("derivations").join(format!("{drv}.json"))
    }

    fn provenance_path(&self, sp: &StorePath) -> PathBuf {
        self.kiln("provenance")
            .join(format!("{}.json", sp.hash_part()))
    }

    /// A fresh directory under `.kiln/tmp` (same filesystem as the store, so
    /// the final rename is atomic). Removed on drop.
    pub fn staging(&self) -> Result<tempfile::TempDir, StoreError> {
        let tmp = self.tmp();
        let dir = tempfile::Builder::new()
            .prefix("stage-")
            .tempdir_in(&tmp)
            .map_err(io_err(&tmp))?;
        let mut staged = self.staged.lock().unwrap_or_else(|p| p.into_inner());
        staged.retain(|p| p.exists());
        staged.push(dir.path().to_path_buf());
        Ok(dir)
    }

    /// Block until this process holds the exclusive lock of derivation `drv`.
    pub fn lock_derivation(&self, drv: &str) -> Result<DrvLock, StoreError> {
        validate_drv(drv)?;
        let path = self.kiln("locks").join(format!("{drv}.lock"));
        let file = lock_file(&path)?;
        Ok(DrvLock { _file: file, path })
    }

    /// Add `src` (a file, symlink or tree) under `name`; returns its store
    /// path. Adding the same content again returns the same path. With
    /// `dry_run`, only computes the path.
    pub fn add_path(&self, src: &Path, name: &str, dry_run: bool) -> Result<StorePath, StoreError> {
        StorePathName::new(name)?;
        if dry_run {
            return source_path(src, name).map(|(sp, _)| sp);
        }
        if let Err(e) = fs::symlink_metadata(src) {
            return Err(if e.kind() == io::ErrorKind::NotFound {
                StoreError::Tree(TreeError::NotFound {
                    path: src.to_path_buf(),
                })
            } else {
                io_err(src)(e)
            });
        }
        let stage = self.staging()?;
        let staged = stage.path().join(name);
        fsops::copy_tree(src, &staged)?;
        let (sp, _) = self.commit(&staged, name)?;
        let root = RootRecord {
            store_path: sp.clone(),
            added_by: "kiln store add".into(),
        };
        fsops::atomic_write(&self.tmp(), &self.root_record(&sp), &to_json(&root))?;
        drop(stage);
        Ok(sp)
    }

    /// Normalise, hash and move `staged` into place; write its validity record.
    fn commit(
        &self,
        staged: &Path,
        name: &str,
    ) -> Result<(StorePath, NarDigest<Sha256>), StoreError> {
        fsops::normalise(staged)?;
        let digest = tree::nar_sha256(staged)?;
        let sp = StorePath::from_source(&digest.hash, name)?;
        let _lock = lock_file(
            &self
                .kiln("locks/paths")
                .join(format!("{}.lock", sp.hash_part())),
        )?;
        let dest = self.path_of(&sp.to_string());
        let record = self.valid_record(&sp);
        let already = exists(&dest)
            && read_json::<PathInfo>(&record)
                .ok()
                .flatten()
                .is_some_and(|info| info.nar_hash == digest.hash && info.store_path == sp);
        if already {
            fsops::remove_tree(staged)?;
            return Ok((sp, digest));
        }
        // An unregistered leftover of an interrupted commit: replace it.
        fsops::remove_tree(&dest)?;
        fs::rename(staged, &dest).map_err(io_err(&dest))?;
        fsops::seal_top(&dest)?;
        fsops::sync_dir(&self.root)?;
        let info = PathInfo {
            store_path: sp.clone(),
            nar_hash: digest.hash,
            nar_size: digest.size,
        };
        fsops::atomic_write(&self.tmp(), &record, &to_json(&info))?;
        Ok((sp, digest))
    }

    /// The realisation of `drv`, if it is fully registered and its output exists.
    pub fn realisation(&self, drv: &str) -> Result<Option<Realisation>, StoreError> {
        validate_drv(drv)?;
        let Some(r) = read_json::<Realisation>(&self.realisation_path(drv))? else {
            return Ok(None);
        };
        Ok(exists(&self.path_of(&r.store_path)).then_some(r))
    }

    /// Commit the built output `staged` (inside a [`staging`](Self::staging)
    /// directory) as `name`, then record `derivation_json` and the realisation
    /// of `drv` (with `meta`). If the output's store path is already valid, the
    /// staged copy is dropped.
    pub fn register_output(
        &self,
        drv: &str,
        derivation_json: &[u8],
        staged: &Path,
        name: &str,
        meta: serde_json::Value,
    ) -> Result<Realisation, StoreError> {
        validate_drv(drv)?;
        StorePathName::new(name)?;
        let tmp = self.tmp();
        let parent = staged
            .parent()
            .and_then(|p| fs::canonicalize(p).ok())
            .unwrap_or_default();
        if !parent.starts_with(&tmp) {
            return Err(StoreError::NotStaged {
                path: staged.to_path_buf(),
                tmp,
            });
        }
        let (sp, digest) = self.commit(staged, name)?;
        fsops::atomic_write(&tmp, &self.derivation_path(drv), derivation_json)?;
        let r = Realisation {
            drv: drv.to_string(),
            store_path: sp.to_string(),
            nar_hash: digest.hash,
            nar_size: digest.size,
            meta,
        };
        fsops::atomic_write(&tmp, &self.realisation_path(drv), &to_json(&r))?;
        Ok(r)
    }

    /// Record the provenance statement of the output `store_base_name`.
    pub fn write_provenance(&self, store_base_name: &str, json: &[u8]) -> Result<(), StoreError> {
        let sp: StorePath = store_base_name.parse()?;
        fsops::atomic_write(&self.tmp(), &self.provenance_path(&sp), json)
    }

    /// The provenance statement recorded for `store_base_name`, if any.
    pub fn provenance(&self, store_base_name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let sp: StorePath = store_base_name.parse()?;
        let p = self.provenance_path(&sp);
        match fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    /// Take the store-wide lock exclusively (no other open store), run `f`,
    /// return to shared.
    fn exclusively<T>(&self, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        match self.lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                // A failed flock conversion drops the shared lock: take it back.
                self.lock
                    .lock_shared()
                    .map_err(io_err(&self.kiln("store.lock")))?;
                return Err(StoreError::Busy {
                    root: self.root.clone(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&self.kiln("store.lock"))(e)),
        }
        let out = f();
        let back = self
            .lock
            .lock_shared()
            .map_err(io_err(&self.kiln("store.lock")));
        let out = out?;
        back?;
        Ok(out)
    }
}

/// Open (creating) `path` and block until it is exclusively locked.
fn lock_file(path: &Path) -> Result<File, StoreError> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    f.lock().map_err(io_err(path))?;
    Ok(f)
}
