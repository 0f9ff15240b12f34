//! The store's sealed record of each artifact `kiln publish` uploaded:
//! (registry, package, version, file) → the SHA-256 sent.
//!
//! `.kiln/publications/<token>.json`, `<token>` 32 hex digits of a BLAKE3
//! digest of the registry URL, package, version and file, holds the
//! [`Publication`] after a MAC line bound to that context, like every
//! sealed blob. A rerun of an interrupted publish reads these to say which
//! steps an earlier run finished; the registry's own index stays the
//! authority on what it holds. No credential is ever part of a record.

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::trust::RecordKind;
use super::Store;

/// One upload that a registry accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// The registry's name in the configuration (`pypi`, `local`, …).
    pub registry: String,
    /// Its upload URL, without credentials.
    pub url: String,
    pub package: String,
    pub version: String,
    /// The artifact's name in `dist/` (an OCI step: what was pushed).
    pub file: String,
    /// SHA-256 (hex) of the bytes uploaded.
    pub sha256: String,
}

impl Publication {
    fn context(&self) -> String {
        context(&self.url, &self.package, &self.version, &self.file)
    }
}

impl Store {
    fn publication_path(&self, context: &str) -> std::path::PathBuf {
        let token = crate::hash::hex(&blake3::hash(context.as_bytes()).as_bytes()[..16]);
        self.kiln("publications").join(format!("{token}.json"))
    }

    /// The record of `file` of `package` `version` uploaded to `url`, if
    /// this machine's kiln sealed one.
    pub fn publication(
        &self,
        url: &str,
        package: &str,
        version: &str,
        file: &str,
    ) -> Result<Option<Publication>, StoreError> {
        let context = context(url, package, version, file);
        let Some(bytes) = self.read_blob(
            RecordKind::Publication,
            self.publication_path(&context),
            context.as_bytes(),
        )?
        else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<Publication>(&bytes)
            .ok()
            .filter(|p| p.context() == context))
    }

    /// Record that a registry accepted `p`.
    pub fn record_publication(&self, p: &Publication) -> Result<(), StoreError> {
        let mut bytes = serde_json::to_vec(p).expect("records serialise");
        bytes.push(b'\n');
        let context = p.context();
        self.write_blob(
            RecordKind::Publication,
            &self.publication_path(&context),
            context.as_bytes(),
            &bytes,
        )
    }
}

/// What a publication record is bound to (and its file named by).
fn context(url: &str, package: &str, version: &str, file: &str) -> String {
    format!("publication\n{url}\n{package}\n{version}\n{file}")
}
