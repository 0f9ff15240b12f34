//! The per-entry provenance record of an output (`crate::provenance::origin`),
//! sealed like the statement beside it: `.kiln/provenance/<hash>.origins.zst`.

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

    /// Record where each entry of the output `store_base_name` came from
    /// (an `OriginsRecord` in its stored form), sealed with this user's key.
    pub fn write_origins(&self, store_base_name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let sp: StorePath = store_base_name.parse()?;
        let sealed =
            self.write_key()?
                .seal_blob(RecordKind::Origins, store_base_name.as_bytes(), bytes);
        fsops::atomic_write(&self.tmp(), &self.origins_path(&sp), &sealed)
    }

    /// The per-entry provenance recorded for `store_base_name`, if this
    /// machine's kiln wrote it (anything else is ignored, with a notice).
    pub fn origins(&self, store_base_name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let sp: StorePath = store_base_name.parse()?;
        let p = self.origins_path(&sp);
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
        match trust::open_blob(
            key.as_ref(),
            RecordKind::Origins,
            store_base_name.as_bytes(),
            &bytes,
        ) {
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
