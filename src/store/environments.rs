//! Tool environments: a store path built from inputs kiln chose (a Python
//! backend's wheels, installed), found again by a key over those inputs.
//!
//! The environment itself is an ordinary content-addressed store path
//! (committed like an output: normalised, read-only, sealed validity
//! record) and, like any path no realisation or root names, a cache that
//! `kiln store gc` may collect (gc holds the store exclusively, so never
//! while a build uses it); a later build then installs it again.
//! `.kiln/environments/<key>.json` is a record,
//! sealed with this user's key, naming the store path and its NAR, so a
//! later build with the same key reuses it after the same checks as a
//! cached output (an altered environment is set aside, then rebuilt).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::lookup::Output;
use super::trust::RecordKind;
use super::{fsops, io_err, Store, StoreError};
use crate::hash::Sha256;
use crate::nix::store_path::StorePath;

/// The record of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct EnvironmentRecord {
    key: String,
    store_path: StorePath,
    nar_hash: Sha256,
    nar_size: u64,
}

/// A key is lowercase hex (a digest over the environment's inputs).
fn check_key(key: &str) -> Result<(), StoreError> {
    if key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        Ok(())
    } else {
        Err(StoreError::Io {
            path: PathBuf::from(key),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an environment key is 64 lowercase hex digits",
            ),
        })
    }
}

impl Store {
    fn environment_record(&self, key: &str) -> PathBuf {
        self.kiln("environments").join(format!("{key}.json"))
    }

    /// The environment recorded for `key`, when its record is trusted and
    /// its store path is intact.
    pub fn environment(&self, key: &str) -> Result<Option<StorePath>, StoreError> {
        check_key(key)?;
        let path = self.environment_record(key);
        let Some(r) = self.trusted_record::<EnvironmentRecord>(&path, RecordKind::Environment)?
        else {
            return Ok(None);
        };
        if r.key != key {
            return Ok(None);
        }
        match self.check_output(&r.store_path, &r.nar_hash, r.nar_size)? {
            Output::Intact => Ok(Some(r.store_path)),
            Output::Gone => Ok(None),
        }
    }

    /// Commit `staged` (a tree inside a [`staging`](Self::staging)
    /// directory) as `name` and record it for `key`.
    pub fn add_environment(
        &self,
        key: &str,
        staged: &Path,
        name: &str,
    ) -> Result<StorePath, StoreError> {
        check_key(key)?;
        let (sp, digest) = self.commit(staged, name)?;
        let record = EnvironmentRecord {
            key: key.to_string(),
            store_path: sp.clone(),
            nar_hash: digest.hash,
            nar_size: digest.size,
        };
        let dir = self.kiln("environments");
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let bytes = self.write_key()?.seal(RecordKind::Environment, &record);
        fsops::atomic_write(&self.tmp(), &self.environment_record(key), &bytes)?;
        Ok(sp)
    }
}
