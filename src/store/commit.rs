//! Committing outputs: `store add`, build registration and (for binary
//! caches) registration of outputs another trusted party vouched for. Every
//! record written here is sealed with this user's key.

use std::fs;
use std::io;
use std::path::Path;

use super::error::{io_err, StoreError};
use super::fingerprint::fingerprint;
use super::lookup::Notice;
use super::meta::RealisationMeta;
use super::records::RootRecord;
use super::trust::{Origin, RecordKind};
use super::{exists, fsops, to_json, validate_drv, PathInfo, Realisation, Store};
use crate::hash::tree::{self, NarDigest, TreeError};
use crate::hash::Sha256;
use crate::nix::store_path::{StorePath, StorePathName};

impl Store {
    /// Add `src` (a file, symlink or tree) under `name`; returns its store
    /// path. Adding the same content again returns the same path. With
    /// `dry_run`, only computes the path.
    pub fn add_path(&self, src: &Path, name: &str, dry_run: bool) -> Result<StorePath, StoreError> {
        StorePathName::new(name)?;
        if dry_run {
            return super::source_path(src, name).map(|(sp, _)| sp);
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

    /// Normalise, hash and move `staged` into place; write its sealed
    /// validity record with the fingerprint of what is now on disk.
    pub(super) fn commit(
        &self,
        staged: &Path,
        name: &str,
    ) -> Result<(StorePath, NarDigest<Sha256>), StoreError> {
        let to_sync = fsops::normalise(staged)?;
        // The writeback and the hash read the same pages: overlap them.
        let (synced, digest) = std::thread::scope(|s| {
            let syncing = s.spawn(|| fsops::sync_tree(&to_sync));
            let digest = tree::nar_sha256(staged);
            (syncing.join().expect("sync thread"), digest)
        });
        synced?;
        let digest = digest?;
        let sp = StorePath::from_source(&digest.hash, name)?;
        // Fail before touching the store if no key can be had.
        let key = self.write_key()?;
        let _lock = self.path_lock(&sp)?;
        let dest = self.path_of(&sp);
        let record = self.valid_record(&sp);
        let info = if exists(&dest) {
            self.trusted_record::<PathInfo>(&record, RecordKind::Validity)?
                .filter(|i| i.store_path == sp && i.nar_hash == digest.hash)
        } else {
            None
        };
        if let Some(info) = info {
            let now = fingerprint(&dest).map_err(io_err(&dest))?;
            if now == info.fingerprint {
                self.remove(staged)?;
                return Ok((sp, digest));
            }
            let found = tree::nar_sha256(&dest).ok();
            if found
                .as_ref()
                .is_some_and(|d| d.hash == digest.hash && d.size == digest.size)
            {
                self.remove(staged)?;
                self.write_validity(&PathInfo {
                    fingerprint: now,
                    ..info
                })?;
                return Ok((sp, digest));
            }
            // Registered, then altered: keep it aside for inspection.
            let moved_to = self.set_aside(&sp, &dest)?;
            self.notice(Notice::SetAside {
                store_path: sp.to_string(),
                moved_to,
                expected: info.nar_hash,
                found: found.map(|d| d.hash),
            });
        } else {
            // An unregistered leftover of an interrupted commit, or something
            // this machine's kiln did not register: replace it.
            self.remove(&dest)?;
        }
        fs::rename(staged, &dest).map_err(io_err(&dest))?;
        fsops::seal_top(&dest)?;
        fsops::sync_dir(self.root())?;
        let info = PathInfo {
            store_path: sp.clone(),
            nar_hash: digest.hash,
            nar_size: digest.size,
            fingerprint: fingerprint(&dest).map_err(io_err(&dest))?,
        };
        let bytes = key.seal(RecordKind::Validity, &info);
        fsops::atomic_write(&self.tmp(), &record, &bytes)?;
        Ok((sp, digest))
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
        meta: RealisationMeta,
    ) -> Result<Realisation, StoreError> {
        self.register_output_as(drv, derivation_json, staged, name, meta, Origin::Built)
    }

    /// [`register_output`](Self::register_output) for an output vouched for
    /// by `origin`. The caller has established that trust (for
    /// [`Origin::Signed`]: a signature by a trusted key over the realisation
    /// and the NAR whose restored tree is `staged`); from here on the entry is
    /// exactly as trusted as one built on this machine.
    pub fn register_output_as(
        &self,
        drv: &str,
        derivation_json: &[u8],
        staged: &Path,
        name: &str,
        meta: RealisationMeta,
        origin: Origin,
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
            store_path: sp,
            nar_hash: digest.hash,
            nar_size: digest.size,
            meta,
            origin,
        };
        let bytes = self.write_key()?.seal(RecordKind::Realisation, &r);
        fsops::atomic_write(&tmp, &self.realisation_path(drv), &bytes)?;
        Ok(r)
    }
}
