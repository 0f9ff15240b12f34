//! What a surface's build produces: an [`Output`] of [`Artifact`]s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::SurfaceError;

/// One artifact of an output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Artifact {
    /// Name in `dist/`.
    pub file: String,
    /// Path inside the store output ("" = the output itself).
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// A directory (copied as a tree into `dist/<file>/`).
    #[serde(default)]
    pub directory: bool,
    /// Extra facts (npm integrity and dist-tag, …).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, Value>,
    /// For a directory artifact: the SHA-256 (hex) of files the surface
    /// digested as it wrote them, by path relative to the artifact (an
    /// image layout's blobs are named by theirs). Provenance hashes only
    /// the others. Not stored.
    #[serde(skip)]
    pub files: BTreeMap<String, String>,
}

/// What a surface produced.
#[derive(Debug)]
pub struct Output {
    /// The file or directory to register (inside `Job::out`).
    pub path: PathBuf,
    /// Store name of the output.
    pub name: String,
    pub artifacts: Vec<Artifact>,
    /// Where each entry of each artifact came from.
    pub origins: crate::provenance::origin::Origins,
}

/// The SHA-256 (hex) and size of a file.
pub(crate) fn sha256_file(path: &Path) -> Result<(String, u64), SurfaceError> {
    let (digest, n) =
        crate::hash::Sha256::digest_file(path).map_err(|source| SurfaceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok((digest.to_hex(), n))
}
