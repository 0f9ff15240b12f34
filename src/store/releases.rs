//! The store's sealed record of each release it built: (project, version)
//! → source.
//!
//! `.kiln/releases/<token>.json`, `<token>` 32 hex digits of a BLAKE3
//! digest of the project and the version, holds `{"project": P, "version":
//! V, "source": S}` after a MAC line bound to both, like every sealed blob.
//! `P` names the project as every clone of it does (the root commits of
//! its history; a directory's path), so two projects sharing a store may
//! each release `1.0.0`. `S` names what the
//! release was built from (`git:<commit>`, or `files:<digest>` of a
//! working tree or directory). The engine refuses a release of `V` from
//! another source (`crate::version::reuse` is the other witness, the
//! repository's tags); a record this machine's kiln did not seal is
//! ignored like any other.

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::trust::RecordKind;
use super::Store;

#[derive(Debug, Serialize, Deserialize)]
struct ReleaseRecord {
    project: String,
    version: String,
    source: String,
}

impl Store {
    fn release_path(&self, context: &str) -> std::path::PathBuf {
        let token = crate::hash::hex(&blake3::hash(context.as_bytes()).as_bytes()[..16]);
        self.kiln("releases").join(format!("{token}.json"))
    }

    /// The source an earlier release of `version` of `project` in this
    /// store was built from, if this machine's kiln recorded one.
    pub fn released_from(
        &self,
        project: &str,
        version: &str,
    ) -> Result<Option<String>, StoreError> {
        let context = context(project, version);
        let Some(bytes) = self.read_blob(
            RecordKind::Release,
            self.release_path(&context),
            context.as_bytes(),
        )?
        else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<ReleaseRecord>(&bytes)
            .ok()
            .filter(|r| r.project == project && r.version == version)
            .map(|r| r.source))
    }

    /// Record that `version` of `project` was released from `source`.
    pub fn record_release(
        &self,
        project: &str,
        version: &str,
        source: &str,
    ) -> Result<(), StoreError> {
        let record = ReleaseRecord {
            project: project.to_string(),
            version: version.to_string(),
            source: source.to_string(),
        };
        let mut bytes = serde_json::to_vec(&record).expect("records serialise");
        bytes.push(b'\n');
        let context = context(project, version);
        self.write_blob(
            RecordKind::Release,
            &self.release_path(&context),
            context.as_bytes(),
            &bytes,
        )
    }
}

/// What a release record is bound to (and its file named by).
fn context(project: &str, version: &str) -> String {
    format!("release\n{project}\n{version}")
}
