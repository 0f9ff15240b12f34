//! What a surface's build produces: an [`Output`] of [`Artifact`]s.

use std::path::{Path, PathBuf};

use super::error::SurfaceError;

pub use crate::store::meta::{
    Artifact, ArtifactFacts, CrateFacts, ImageFacts, NpmFacts, PythonFacts,
};

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
