//! The store's sealed record of each release it built: version → source.
//!
//! `.kiln/releases/<token>.json`, `<token>` 32 hex digits of a BLAKE3
//! digest of the version, holds `{"version": V, "source": S}` after a MAC
//! line bound to the version, like every sealed blob. `S` names what the
//! release was built from (`git:<commit>`, or `files:<digest>` of a
//! working tree or directory). The engine refuses a release of `V` from
//! another source (`crate::version::reuse` is the other witness, the
//! repository's tags); a record this machine's kiln did not seal is
//! ignored like any other.

use serde::{Deserialize, Serialize};

use super::trust::RecordKind;
use super::{Store, StoreError};

#[derive(Debug, Serialize, Deserialize)]
struct ReleaseRecord {
    version: String,
    source: String,
}

impl Store {
    fn release_path(&self, version: &str) -> std::path::PathBuf {
        let token = crate::hash::hex(&blake3::hash(version.as_bytes()).as_bytes()[..16]);
        self.kiln("releases").join(format!("{token}.json"))
    }

    /// The source an earlier release of `version` in this store was built
    /// from, if this machine's kiln recorded one.
    pub fn released_from(&self, version: &str) -> Result<Option<String>, StoreError> {
        let context = format!("release\n{version}");
        let Some(bytes) = self.read_blob(
            RecordKind::Release,
            self.release_path(version),
            context.as_bytes(),
        )?
        else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<ReleaseRecord>(&bytes)
            .ok()
            .filter(|r| r.version == version)
            .map(|r| r.source))
    }

    /// Record that `version` was released from `source`.
    pub fn record_release(&self, version: &str, source: &str) -> Result<(), StoreError> {
        let record = ReleaseRecord {
            version: version.to_string(),
            source: source.to_string(),
        };
        let mut bytes = serde_json::to_vec(&record).expect("records serialise");
        bytes.push(b'\n');
        let context = format!("release\n{version}");
        self.write_blob(
            RecordKind::Release,
            &self.release_path(version),
            context.as_bytes(),
            &bytes,
        )
    }
}
