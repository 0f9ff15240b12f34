//! Sealed blobs filed under an output, one pair per build that placed it:
//! the provenance statement (`.kiln/provenance/<hash>.<build>.json`, shipped
//! to `dist/` as is) and the per-entry provenance record
//! (`crate::provenance::origin`, `.kiln/provenance/<hash>.<build>.origins.zst`).
//! `<build>` is a `provenance::BuildKey` token (derivation, commit, dirty
//! flag): an output shared by two builds — a cache hit from another
//! commit, two versions with byte-identical docs — has a statement naming
//! each build's own commit, version and derivation. Both are sealed with
//! this user's key, bound to the output's name and the build, and read
//! back only if this machine's kiln wrote them.

use std::path::PathBuf;

use super::error::StoreError;
use super::lookup::Notice;
use super::trust::{self, Record, RecordKind};
use super::{fsops, read_bytes, Store};
use crate::nix::store_path::StorePath;

impl Store {
    fn blob_path(&self, sp: &StorePath, build: &str, ext: &str) -> PathBuf {
        self.kiln("provenance")
            .join(format!("{}.{build}.{ext}", sp.hash_part()))
    }

    /// Record the provenance statement of the output `sp` as placed by the
    /// build `build` (a `provenance::BuildKey` token).
    pub fn write_provenance(
        &self,
        sp: &StorePath,
        build: &str,
        json: &[u8],
    ) -> Result<(), StoreError> {
        let path = self.blob_path(sp, check_build(build)?, "json");
        self.write_blob(RecordKind::Provenance, &path, &context(sp, build), json)
    }

    /// The provenance statement of the output `sp` for the build `build`,
    /// if this machine's kiln wrote it (others are ignored, with a notice).
    pub fn provenance(&self, sp: &StorePath, build: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.blob_path(sp, check_build(build)?, "json");
        self.read_blob(RecordKind::Provenance, path, &context(sp, build))
    }

    /// Record where each entry of the output `sp` came from in the build
    /// `build` (an `OriginsRecord` in its stored form).
    pub fn write_origins(
        &self,
        sp: &StorePath,
        build: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let path = self.blob_path(sp, check_build(build)?, "origins.zst");
        self.write_blob(RecordKind::Origins, &path, &context(sp, build), bytes)
    }

    /// The per-entry provenance of the output `sp` in the build `build`, if
    /// this machine's kiln wrote it (anything else is ignored, with a notice).
    pub fn origins(&self, sp: &StorePath, build: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.blob_path(sp, check_build(build)?, "origins.zst");
        self.read_blob(RecordKind::Origins, path, &context(sp, build))
    }

    /// The builds that have a statement file for the output `sp`, the most
    /// recently written first (names only: each is checked when read).
    pub fn builds_of(&self, sp: &StorePath) -> Result<Vec<String>, StoreError> {
        let dir = self.kiln("provenance");
        let prefix = format!("{}.", sp.hash_part());
        let mut found = Vec::new();
        for name in super::list_dir(&dir)? {
            let Some(build) = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".json"))
            else {
                continue;
            };
            if check_build(build).is_err() {
                continue;
            }
            let mtime = std::fs::symlink_metadata(dir.join(&name))
                .and_then(|m| m.modified())
                .ok();
            found.push((std::cmp::Reverse(mtime), build.to_string()));
        }
        found.sort();
        Ok(found.into_iter().map(|(_, b)| b).collect())
    }

    /// Remove every statement and origins record of the output `sp`.
    pub(super) fn remove_provenance(&self, sp: &StorePath) -> Result<(), StoreError> {
        let dir = self.kiln("provenance");
        let prefix = format!("{}.", sp.hash_part());
        for name in super::list_dir(&dir)? {
            if name.starts_with(&prefix) {
                self.remove(&dir.join(name))?;
            }
        }
        Ok(())
    }

    pub(super) fn write_blob(
        &self,
        kind: RecordKind,
        path: &std::path::Path,
        context: &[u8],
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let sealed = self.write_key()?.seal_blob(kind, context, bytes);
        fsops::atomic_write(&self.tmp(), path, &sealed)
    }

    pub(super) fn read_blob(
        &self,
        kind: RecordKind,
        p: PathBuf,
        context: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let bytes = match read_bytes(&p) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(Ok(error)) => {
                self.notice(Notice::Ignored {
                    record: p,
                    reason: format!("malformed ({error})"),
                });
                return Ok(None);
            }
            Err(Err(e)) => return Err(e),
        };
        let key = self.read_key()?;
        match trust::open_blob(key.as_ref(), kind, context, &bytes) {
            Record::Trusted(b) => Ok(Some(b)),
            Record::Absent => Ok(None),
            Record::Untrusted { reason } | Record::Malformed { error: reason } => {
                self.notice(Notice::Ignored {
                    record: p,
                    reason: format!("not written by this machine's kiln ({reason})"),
                });
                Ok(None)
            }
        }
    }
}

/// What a sealed blob is bound to: the output's name and the build.
fn context(sp: &StorePath, build: &str) -> Vec<u8> {
    format!("{sp}\n{build}").into_bytes()
}

/// A build token is 32 lowercase hex digits (`provenance::BuildKey::token`):
/// it names a file, so nothing else is accepted.
fn check_build(build: &str) -> Result<&str, StoreError> {
    if build.len() == 32
        && build
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(build)
    } else {
        Err(StoreError::BadBuildKey {
            build: build.to_string(),
        })
    }
}
