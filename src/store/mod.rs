//! The content-addressed store: layout, atomic registration, locks, lookup,
//! verify/repair and garbage collection. It builds nothing.
//!
//! ```text
//! store/<hash>-<name>                   immutable output (file, symlink or directory), read-only
//! store/.kiln/valid/<hash>-<name>.json  validity record: NAR sha256 and size of a committed output
//! store/.kiln/roots/<hash>-<name>       gc root: a path added by `kiln store add`
//! store/.kiln/derivations/<drv>.json    canonical derivation, for audit and verify
//! store/.kiln/realisations/<drv>.json   drv -> store path, NAR hash and size, metadata (a gc root)
//! store/.kiln/provenance/<hash>.<build>.json    MAC line, then the in-toto statement of that output as one build placed it
//! store/.kiln/provenance/<hash>.<build>.origins.zst  MAC line, then where each artifact entry came from in that build
//! store/.kiln/locks/<drv>.lock          one builder per derivation at a time
//! store/.kiln/locks/paths/<hash>.lock   one committer per store path at a time
//! store/.kiln/logs/<drv>.log            build logs
//! store/.kiln/times.json                recipe id -> milliseconds of its last build (written by `engine::jobs`, a scheduling hint)
//! store/.kiln/tmp/                      staging on the same filesystem; rename is the commit point
//! store/.kiln/quarantine/               outputs set aside because their bytes changed (gc removes them)
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
//!
//! Trust (`docs/security.md`): validity records and realisations are sealed
//! with this user's key ([`trust`]), each validity record carries the output's
//! stat [`fingerprint`], and [`Store::realisation`] serves only trusted,
//! unaltered outputs ([`lookup`]). A store whose records git tracks is refused.

mod commit;
mod environments;
mod error;
mod fingerprint;
mod fsops;
mod gc;
mod lock;
mod lookup;
pub(crate) mod meta;
mod origins;
mod publications;
mod records;
mod releases;
mod restore;
mod trust;
mod verify;

pub use error::StoreError;
pub use fingerprint::Fingerprint;
pub use gc::{GcItem, GcKind, GcReport};
pub use lock::{DrvLock, LockHolder, LockWait};
pub use lookup::Notice;
pub use meta::{Artifact, ArtifactFacts, RealisationMeta};
pub use publications::Publication;
pub use records::{ListEntry, PathInfo, Realisation};
pub use restore::restore_nar;
pub use trust::{default_state_dir, Origin};
pub use verify::{Finding, Problem, VerifyReport};

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use error::io_err;
use fsops::lock_file;
use trust::{MacKey, Record, RecordKind};

use crate::fsutil;
use crate::hash::tree::{self, NarDigest};
use crate::hash::Sha256;
use crate::nix::store_path::{StorePath, StorePathName};

/// An open store. Holds a shared lock on `.kiln/store.lock` for its lifetime,
/// so that gc and repair never run while it commits. A store kiln cannot
/// write (a read-only mount, another user's) is opened without one: what
/// only reads it works, and gc, repair and commits fail at their first write.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    /// `Err`: why the lock file could not be opened for writing.
    lock: Result<File, io::ErrorKind>,
    /// Staging directories this handle created; gc leaves those that still
    /// exist (their `TempDir` is alive in this process).
    staged: std::sync::Mutex<Vec<PathBuf>>,
    /// Where the key lives (`None`: [`default_state_dir`], resolved on use).
    state_dir: Option<PathBuf>,
    /// The key, once read (`Some(None)`: there is none yet).
    key: std::sync::Mutex<Option<Option<MacKey>>>,
    /// What lookups noticed, for [`Store::take_notices`].
    notices: std::sync::Mutex<Vec<Notice>>,
}

/// The store's own directories below `.kiln`, created on open.
const SUBDIRS: &[&str] = &[
    "tmp",
    "derivations",
    "realisations",
    "provenance",
    "releases",
    "publications",
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

/// Records are small; anything larger is not one of ours.
const MAX_RECORD: u64 = 16 << 20;

/// The bytes of a record file; `Ok(None)` if absent, `Err(Ok(message))` if
/// it is not a record-sized regular file (a directory, symlink, FIFO or
/// device planted in a store is never opened).
fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, Result<String, StoreError>> {
    use std::io::Read;
    let md = match fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Err(io_err(path)(e))),
    };
    if !md.file_type().is_file() {
        return Err(Ok("not a regular file".into()));
    }
    if md.len() > MAX_RECORD {
        return Err(Ok(format!("{} bytes, larger than any record", md.len())));
    }
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_RECORD + 1).read_to_end(&mut bytes))
        .map_err(|e| Err(io_err(path)(e)))?;
    Ok(Some(bytes))
}

/// Open `dir/name` as one of the store's own directories, creating it when
/// absent; a symlink there is [`StoreError::LinkedDir`] (a copied store
/// whose `.kiln/tmp` points elsewhere must not have gc empty the target).
/// `Ok(None)`: absent, and the store cannot be written (a reader sees it empty).
fn own_dir(dir: &fsutil::Dir, name: &str) -> Result<Option<fsutil::Dir>, StoreError> {
    let path = dir.join(name);
    match dir.metadata(name).map_err(io_err(&path))? {
        Some(m) if m.is_symlink() => Err(StoreError::LinkedDir {
            target: dir.read_link(name).unwrap_or_default(),
            dir: path,
        }),
        Some(_) => dir.sub(name).map(Some).map_err(io_err(&path)),
        None => match dir.ensure_sub(name) {
            Ok(d) => Ok(Some(d)),
            Err(e) if read_only(&e) => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        },
    }
}

/// Open (creating) `.kiln` and every directory kiln keeps in it, refusing
/// any that is a link; `quarantine` is checked when it exists.
fn own_dirs(root: &Path) -> Result<fsutil::Dir, StoreError> {
    let top = fsutil::Dir::open(root).map_err(io_err(root))?;
    let kiln = own_dir(&top, ".kiln")?.ok_or_else(|| {
        let path = root.join(".kiln");
        io_err(&path)(io::ErrorKind::ReadOnlyFilesystem.into())
    })?;
    for d in SUBDIRS {
        match d.rsplit_once('/') {
            Some((p, n)) => {
                if let Some(parent) = own_dir(&kiln, p)? {
                    own_dir(&parent, n)?;
                }
            }
            None => {
                own_dir(&kiln, d)?;
            }
        }
    }
    if kiln.metadata("quarantine").ok().flatten().is_some() {
        own_dir(&kiln, "quarantine")?;
    }
    Ok(kiln)
}

/// Take the shared lock on `.kiln/store.lock` (a link there is
/// [`StoreError::LinkedDir`]). When
/// the store cannot be written (read-only mount, no permission), only
/// readers can use it: it is opened without the lock.
fn shared_lock(kiln: &fsutil::Dir) -> Result<Result<File, io::ErrorKind>, StoreError> {
    let path = kiln.join("store.lock");
    if kiln
        .metadata("store.lock")
        .map_err(io_err(&path))?
        .is_some_and(|m| m.is_symlink())
    {
        return Err(StoreError::LinkedDir {
            target: kiln.read_link("store.lock").unwrap_or_default(),
            dir: path,
        });
    }
    let lock = match kiln.open_or_create("store.lock") {
        Ok(f) => f,
        Err(e) if read_only(&e) => return Ok(Err(e.kind())),
        Err(e) => return Err(io_err(&path)(e)),
    };
    lock.lock_shared().map_err(io_err(&path))?;
    Ok(Ok(lock))
}

/// Whether `e` says that the store cannot be written at all.
fn read_only(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
    )
}

/// A store root that [`Store::check_root`] found untracked by git.
#[derive(Debug)]
pub struct CheckedRoot(PathBuf);

/// Refuse a store that came with a checkout: a symlink git tracks on the
/// way to `root` ([`crate::source::tracked_link`]: the checkout would
/// choose where kiln writes), or paths in `root`
/// that git tracks and kiln would read — anything under `.kiln/` or named
/// like a store path (a tracked `.gitignore` is fine).
fn refuse_if_tracked(root: &Path) -> Result<(), StoreError> {
    let in_git = |dir: &Path| dir.ancestors().any(|a| exists(&a.join(".git")));
    if let Some(l) = crate::source::tracked_link::tracked_link(root)? {
        return Err(StoreError::TrackedSymlink {
            root: root.to_path_buf(),
            link: l.link,
            target: l.target,
        });
    }
    if !root.is_dir() || !in_git(root) {
        return Ok(());
    }
    let ours: Vec<String> = crate::source::git::tracked_under(root)?
        .into_iter()
        .filter(|p| {
            let first = p.split('/').next().unwrap_or_default();
            first == ".kiln" || first.parse::<StorePath>().is_ok()
        })
        .collect();
    if ours.is_empty() {
        return Ok(());
    }
    Err(StoreError::TrackedByGit {
        root: root.to_path_buf(),
        count: ours.len(),
        paths: ours.into_iter().take(3).collect(),
    })
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
    /// Open (creating if needed) the store at `root`; its records are
    /// authenticated with the key in [`default_state_dir`]. Refuses a store
    /// whose contents git tracks ([`StoreError::TrackedByGit`]) before
    /// writing anything.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        Self::open_inner(root.into(), None)
    }

    /// [`open`](Self::open) with the key kept in `state_dir` instead.
    pub fn open_with_state_dir(
        root: impl Into<PathBuf>,
        state_dir: impl Into<PathBuf>,
    ) -> Result<Store, StoreError> {
        Self::open_inner(root.into(), Some(state_dir.into()))
    }

    /// The read-only half of [`open`](Self::open): refuse a store whose
    /// contents git tracks, writing nothing, so that it can run beside
    /// planning; [`open_checked`](Self::open_checked) then opens it.
    pub fn check_root(root: impl Into<PathBuf>) -> Result<CheckedRoot, StoreError> {
        let root = root.into();
        refuse_if_tracked(&root)?;
        Ok(CheckedRoot(root))
    }

    /// Open (creating if needed) a store whose root was checked, with the
    /// key in `state_dir` (`None`: [`default_state_dir`]).
    pub fn open_checked(
        root: CheckedRoot,
        state_dir: Option<PathBuf>,
    ) -> Result<Store, StoreError> {
        Self::create(root.0, state_dir)
    }

    fn open_inner(root: PathBuf, state_dir: Option<PathBuf>) -> Result<Store, StoreError> {
        refuse_if_tracked(&root)?;
        Self::create(root, state_dir)
    }

    fn create(root: PathBuf, state_dir: Option<PathBuf>) -> Result<Store, StoreError> {
        fs::create_dir_all(&root).map_err(io_err(&root))?;
        let root = fs::canonicalize(&root).map_err(io_err(&root))?;
        let kiln = own_dirs(&root)?;
        let lock = shared_lock(&kiln)?;
        Ok(Store {
            root,
            lock,
            staged: std::sync::Mutex::new(Vec::new()),
            state_dir,
            key: std::sync::Mutex::new(None),
            notices: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The directory holding this store's key; never inside the store.
    fn key_dir(&self) -> Result<PathBuf, StoreError> {
        let dir = match &self.state_dir {
            Some(d) => d.clone(),
            None => default_state_dir()?,
        };
        let dir = std::path::absolute(&dir).map_err(io_err(&dir))?;
        // Compare real paths: the nearest existing ancestor, resolved.
        let real = dir
            .ancestors()
            .find_map(|a| fs::canonicalize(a).ok().map(|c| (a, c)))
            .map(|(a, c)| c.join(dir.strip_prefix(a).unwrap_or(Path::new(""))));
        if real.is_some_and(|r| r.starts_with(&self.root)) {
            return Err(StoreError::KeyInStore {
                dir,
                store: self.root.clone(),
            });
        }
        Ok(dir)
    }

    /// The key to check records with (`None`: this user has written none yet).
    fn read_key(&self) -> Result<Option<MacKey>, StoreError> {
        let mut k = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = &*k {
            return Ok(k.clone());
        }
        let loaded = trust::load_key(&self.key_dir()?)?;
        *k = Some(loaded.clone());
        Ok(loaded)
    }

    /// The key to seal records with, created on first use.
    fn write_key(&self) -> Result<MacKey, StoreError> {
        let mut k = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(Some(k)) = &*k {
            return Ok(k.clone());
        }
        let created = trust::load_or_create_key(&self.key_dir()?)?;
        *k = Some(Some(created.clone()));
        Ok(created)
    }

    /// Read and classify the sealed record at `path`.
    pub(crate) fn read_record<T: serde::de::DeserializeOwned>(
        &self,
        path: &Path,
        kind: RecordKind,
    ) -> Result<Record<T>, StoreError> {
        match read_bytes(path) {
            Ok(None) => Ok(Record::Absent),
            Ok(Some(bytes)) => Ok(trust::open(self.read_key()?.as_ref(), kind, &bytes)),
            Err(Ok(error)) => Ok(Record::Malformed { error }),
            Err(Err(e)) => Err(e),
        }
    }

    /// Seal and atomically write a validity record.
    fn write_validity(&self, info: &PathInfo) -> Result<(), StoreError> {
        let bytes = self.write_key()?.seal(RecordKind::Validity, info);
        fsops::atomic_write(&self.tmp(), &self.valid_record(&info.store_path), &bytes)
    }

    /// The lock serialising commits (and set-asides) of one store path.
    fn path_lock(&self, sp: &StorePath) -> Result<File, StoreError> {
        lock_file(
            &self
                .kiln("locks/paths")
                .join(format!("{}.lock", sp.hash_part())),
        )
    }

    /// The store directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Remove `path`, which is below the store root: a file, a link (as a
    /// link) or a tree, reached from the root without following any link
    /// on the way ([`fsutil::remove_below`]); absent is fine.
    fn remove(&self, path: &Path) -> Result<(), StoreError> {
        let rel = path.strip_prefix(&self.root).map_err(|_| {
            io_err(path)(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not below the store root",
            ))
        })?;
        fsutil::remove_below(&self.root, rel).map_err(io_err(path))
    }

    fn kiln(&self, rel: &str) -> PathBuf {
        self.root.join(".kiln").join(rel)
    }

    fn tmp(&self) -> PathBuf {
        self.kiln("tmp")
    }

    /// The store's area for temporary files (a verify's downloads).
    pub(crate) fn temp_area(&self) -> PathBuf {
        self.tmp()
    }

    /// Where the output `sp` lives: `store/<hash>-<name>`.
    pub fn path_of(&self, sp: &StorePath) -> PathBuf {
        self.root.join(sp.to_string())
    }

    /// `store/<entry>` for a directory entry that may not be a store path
    /// (what `gc` and `verify` find on disk).
    fn entry_path(&self, entry: &str) -> PathBuf {
        self.root.join(entry)
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

    /// Take the store-wide lock exclusively (no other open store), run `f`,
    /// return to shared.
    fn exclusively<T>(&self, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        let lock = match &self.lock {
            Ok(lock) => lock,
            Err(kind) => return Err(io_err(&self.kiln("store.lock"))((*kind).into())),
        };
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                // A failed flock conversion drops the shared lock: take it back.
                lock.lock_shared()
                    .map_err(io_err(&self.kiln("store.lock")))?;
                return Err(StoreError::Busy {
                    root: self.root.clone(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&self.kiln("store.lock"))(e)),
        }
        let out = f();
        let back = lock.lock_shared().map_err(io_err(&self.kiln("store.lock")));
        let out = out?;
        back?;
        Ok(out)
    }
}
