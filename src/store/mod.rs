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
mod restore;

pub use restore::restore_nar;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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

/// The record `derivation hash → store path` of a built output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Realisation {
    pub drv: String,
    /// Base name `<hash>-<name>`.
    pub store_path: String,
    pub nar_hash: Sha256,
    pub nar_size: u64,
    /// Whatever the builder records (artifact list, digests, ...).
    pub meta: serde_json::Value,
}

/// A validity record: the output at `store_path` was committed with this NAR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathInfo {
    pub store_path: StorePath,
    pub nar_hash: Sha256,
    pub nar_size: u64,
}

/// A gc root written by `kiln store add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RootRecord {
    store_path: StorePath,
    added_by: String,
}

/// One valid output, as `kiln store ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListEntry {
    pub store_path: StorePath,
    /// Absolute path on disk.
    pub path: PathBuf,
    pub name: String,
    pub nar_hash: Sha256,
    pub nar_size: u64,
    /// Added by `kiln store add` (a gc root).
    pub rooted: bool,
    /// Derivations whose realisation points here.
    pub derivations: Vec<String>,
}

/// What is wrong with a registered output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// A record refers to it but it is not on disk.
    Missing,
    /// Its NAR no longer matches the record (or the record its name).
    Altered {
        expected: Sha256,
        actual: Sha256,
        expected_size: u64,
        actual_size: u64,
    },
    /// It can no longer be serialised (e.g. a special file appeared).
    Unreadable { error: String },
    /// Referenced by a root or realisation but has no validity record.
    Unregistered,
}

/// One finding of [`Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub store_path: StorePath,
    pub path: PathBuf,
    #[serde(flatten)]
    pub problem: Problem,
    /// `--repair` removed the output and every record of it.
    pub repaired: bool,
}

/// Result of [`Store::verify`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Number of outputs checked.
    pub checked: usize,
    pub findings: Vec<Finding>,
}

/// Something [`Store::gc`] removes (or would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GcKind {
    /// An output no root or realisation references.
    Output,
    /// A leftover in `.kiln/tmp` (interrupted staging or record write).
    Leftover,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcItem {
    pub path: PathBuf,
    pub kind: GcKind,
}

/// Result of [`Store::gc`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub removed: Vec<GcItem>,
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

    fn valid_infos(&self) -> Result<Vec<PathInfo>, StoreError> {
        let dir = self.kiln("valid");
        let mut out = Vec::new();
        for n in list_dir(&dir)? {
            if n.ends_with(".json") {
                if let Some(info) = read_json::<PathInfo>(&dir.join(&n))? {
                    out.push(info);
                }
            }
        }
        Ok(out)
    }

    /// Every realisation (unreadable ones are errors).
    pub fn realisations(&self) -> Result<Vec<Realisation>, StoreError> {
        let dir = self.kiln("realisations");
        let mut out = Vec::new();
        for n in list_dir(&dir)? {
            if n.ends_with(".json") {
                if let Some(r) = read_json::<Realisation>(&dir.join(&n))? {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    fn roots(&self) -> Result<Vec<StorePath>, StoreError> {
        Ok(list_dir(&self.kiln("roots"))?
            .into_iter()
            .filter_map(|n| n.parse().ok())
            .collect())
    }

    /// Every valid output, sorted by name then path.
    pub fn list(&self) -> Result<Vec<ListEntry>, StoreError> {
        let roots: BTreeSet<StorePath> = self.roots()?.into_iter().collect();
        let mut drvs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in self.realisations()? {
            drvs.entry(r.store_path.clone()).or_default().push(r.drv);
        }
        let mut out: Vec<ListEntry> = self
            .valid_infos()?
            .into_iter()
            .map(|info| {
                let base = info.store_path.to_string();
                ListEntry {
                    path: self.path_of(&base),
                    name: info.store_path.name().to_string(),
                    rooted: roots.contains(&info.store_path),
                    derivations: drvs.remove(&base).unwrap_or_default(),
                    store_path: info.store_path,
                    nar_hash: info.nar_hash,
                    nar_size: info.nar_size,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.name, &a.store_path).cmp(&(&b.name, &b.store_path)));
        Ok(out)
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

    /// Rehash every registered output (validity records, realisations and
    /// roots) and report each missing or altered one. With `repair`, remove
    /// each such output and every record of it, so that a rebuild or re-add
    /// recreates it.
    pub fn verify(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        if repair {
            self.exclusively(|| self.verify_inner(true))
        } else {
            self.verify_inner(false)
        }
    }

    fn verify_inner(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        let mut expected: BTreeMap<StorePath, Option<(Sha256, u64)>> = BTreeMap::new();
        for info in self.valid_infos()? {
            expected.insert(info.store_path, Some((info.nar_hash, info.nar_size)));
        }
        let realisations = self.realisations()?;
        for r in &realisations {
            if let Ok(sp) = r.store_path.parse::<StorePath>() {
                expected.entry(sp).or_insert(None);
            }
        }
        for sp in self.roots()? {
            expected.entry(sp).or_insert(None);
        }
        let mut report = VerifyReport {
            checked: expected.len(),
            findings: Vec::new(),
        };
        for (sp, want) in expected {
            let path = self.path_of(&sp.to_string());
            let problem = if !exists(&path) {
                Some(Problem::Missing)
            } else if let Some((hash, size)) = want {
                match tree::nar_sha256(&path) {
                    Ok(d)
                        if d.hash == hash
                            && d.size == size
                            && StorePath::from_source(&d.hash, sp.name().as_str())? == sp =>
                    {
                        None
                    }
                    Ok(d) => Some(Problem::Altered {
                        expected: hash,
                        actual: d.hash,
                        expected_size: size,
                        actual_size: d.size,
                    }),
                    Err(e) => Some(Problem::Unreadable {
                        error: crate::error::chain(&e),
                    }),
                }
            } else {
                Some(Problem::Unregistered)
            };
            if let Some(problem) = problem {
                if repair {
                    self.forget(&sp, &realisations)?;
                }
                report.findings.push(Finding {
                    store_path: sp,
                    path,
                    problem,
                    repaired: repair,
                });
            }
        }
        Ok(report)
    }

    /// Remove an output and every record of it.
    fn forget(&self, sp: &StorePath, realisations: &[Realisation]) -> Result<(), StoreError> {
        let base = sp.to_string();
        // Records first: an output without records is an ordinary leftover.
        for r in realisations.iter().filter(|r| r.store_path == base) {
            fsops::remove_file(&self.realisation_path(&r.drv))?;
            fsops::remove_file(&self.derivation_path(&r.drv))?;
        }
        fsops::remove_file(&self.root_record(sp))?;
        fsops::remove_file(&self.valid_record(sp))?;
        fsops::remove_file(&self.provenance_path(sp))?;
        fsops::remove_tree(&self.path_of(&base))
    }

    /// Remove outputs that no root or realisation references, their records,
    /// and every leftover in `.kiln/tmp` (except staging directories this
    /// handle still holds). Refuses ([`StoreError::Busy`]) while any other
    /// handle on the store is open, in this or another process. With
    /// `dry_run`, only list what would go.
    pub fn gc(&self, dry_run: bool) -> Result<GcReport, StoreError> {
        if dry_run {
            self.gc_inner(true)
        } else {
            self.exclusively(|| self.gc_inner(false))
        }
    }

    fn gc_inner(&self, dry_run: bool) -> Result<GcReport, StoreError> {
        let mut live: BTreeSet<String> = self.roots()?.iter().map(|s| s.to_string()).collect();
        live.extend(self.realisations()?.into_iter().map(|r| r.store_path));
        let mut report = GcReport {
            dry_run,
            removed: Vec::new(),
        };
        for n in list_dir(&self.root)? {
            let Ok(sp) = n.parse::<StorePath>() else {
                continue; // `.kiln`, `.gitignore` and anything not ours
            };
            if live.contains(&n) {
                continue;
            }
            report.removed.push(GcItem {
                path: self.path_of(&n),
                kind: GcKind::Output,
            });
            if !dry_run {
                fsops::remove_file(&self.valid_record(&sp))?;
                fsops::remove_file(&self.provenance_path(&sp))?;
                fsops::remove_tree(&self.path_of(&n))?;
            }
        }
        // Validity records of outputs that are gone.
        if !dry_run {
            for info in self.valid_infos()? {
                if !exists(&self.path_of(&info.store_path.to_string())) {
                    fsops::remove_file(&self.valid_record(&info.store_path))?;
                }
            }
        }
        let tmp = self.tmp();
        let in_use: Vec<PathBuf> = self
            .staged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for n in list_dir(&tmp)? {
            let p = tmp.join(&n);
            if in_use.contains(&p) {
                continue;
            }
            report.removed.push(GcItem {
                path: p.clone(),
                kind: GcKind::Leftover,
            });
            if !dry_run {
                fsops::remove_tree(&p)?;
            }
        }
        Ok(report)
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
