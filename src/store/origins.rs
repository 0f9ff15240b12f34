//! Sealed blobs filed under an output: its provenance statement
//! (`.kiln/provenance/<hash>.json`, shipped to `dist/` as is) and its
//! per-entry provenance record (`crate::provenance::origin`,
//! `.kiln/provenance/<hash>.origins.zst`). Both are sealed with this user's
//! key, bound to the output's name, and read back only if this machine's
//! kiln wrote them.

use std::path::PathBuf;

use super::lookup::Notice;
use super::trust::{self, Record, RecordKind};
use super::{fsops, read_bytes, Store, StoreError};
use crate::nix::store_path::StorePath;

impl Store {
    pub(super) fn origins_path(&self, sp: &StorePath) -> PathBuf {
        self.kiln("provenance")
            .join(format!("{}.origins.zst", sp.hash_part()))
    }

    pub(super) fn provenance_path(&self, sp: &StorePath) -> PathBuf {
        self.kiln("provenance")
            .join(format!("{}.json", sp.hash_part()))
    }

    /// Record the provenance statement of the output `sp`.
    pub fn write_provenance(&self, sp: &StorePath, json: &[u8]) -> Result<(), StoreError> {
        self.write_blob(RecordKind::Provenance, &self.provenance_path(sp), sp, json)
    }

    /// The provenance statement recorded for the output `sp`, if there is
    /// one this machine's kiln wrote (others are ignored, with a notice).
    pub fn provenance(&self, sp: &StorePath) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_blob(RecordKind::Provenance, self.provenance_path(sp), sp)
    }

    /// Record where each entry of the output `sp` came from (an
    /// `OriginsRecord` in its stored form).
    pub fn write_origins(&self, sp: &StorePath, bytes: &[u8]) -> Result<(), StoreError> {
        self.write_blob(RecordKind::Origins, &self.origins_path(sp), sp, bytes)
    }

    /// The per-entry provenance recorded for the output `sp`, if this
    /// machine's kiln wrote it (anything else is ignored, with a notice).
    pub fn origins(&self, sp: &StorePath) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_blob(RecordKind::Origins, self.origins_path(sp), sp)
    }

    fn write_blob(
        &self,
        kind: RecordKind,
        path: &std::path::Path,
        sp: &StorePath,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let sealed = self
            .write_key()?
            .seal_blob(kind, sp.to_string().as_bytes(), bytes);
        fsops::atomic_write(&self.tmp(), path, &sealed)
    }

    fn read_blob(
        &self,
        kind: RecordKind,
        p: PathBuf,
        sp: &StorePath,
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
        match trust::open_blob(key.as_ref(), kind, sp.to_string().as_bytes(), &bytes) {
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
