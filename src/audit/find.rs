//! Finding an artifact's build by its SHA-256: the store's realisations
//! first, then the statement beside it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::AuditError;
use crate::provenance::origin::OriginsRecord;
use crate::store::{Origin, Realisation, Store};

/// How an artifact was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoundBy {
    /// An artifact of a trusted realisation has its SHA-256.
    StoreIndex,
    /// Its `<artifact>.intoto.json` names the derivation.
    Sidecar,
}

/// An artifact and the build that made it.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its name in `dist/` when it was built.
    pub artifact: String,
    pub sha256: String,
    pub by: FoundBy,
    pub realisation: Realisation,
    /// The output's statement as the store holds it.
    pub statement: Option<Value>,
    /// Its per-entry provenance, when recorded and named by the statement.
    pub origins: Option<OriginsRecord>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The SHA-256 (hex) kiln records for an artifact: of the file's bytes, or
/// of the NAR serialisation of a directory artifact.
pub fn sha256_of(path: &Path) -> Result<String, AuditError> {
    let md = std::fs::symlink_metadata(path).map_err(io(path))?;
    if md.is_dir() {
        let d = crate::hash::tree::nar_sha256(path).map_err(|e| AuditError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(crate::error::chain(&e)),
        })?;
        return Ok(d.hash.to_hex());
    }
    Ok(crate::hash::Sha256::digest_file(path)
        .map_err(io(path))?
        .0
        .to_hex())
}

/// `<artifact>.intoto.json` beside `path`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".intoto.json");
    PathBuf::from(s)
}

/// The statement beside `path`, if there is one (at most 16 MiB).
pub fn read_sidecar(path: &Path) -> Result<Option<Value>, AuditError> {
    let side = sidecar_path(path);
    let md = match std::fs::symlink_metadata(&side) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&side)(e)),
    };
    if !md.is_file() || md.len() > 16 << 20 {
        return Err(AuditError::BadStatement {
            path: side,
            reason: "not a statement-sized regular file".into(),
        });
    }
    let bytes = std::fs::read(&side).map_err(io(&side))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| AuditError::BadStatement {
            path: side,
            reason: format!("not JSON: {e}"),
        })
}

/// Find the build of the artifact at `path` in `store`.
pub fn find(store: &Store, path: &Path) -> Result<Found, AuditError> {
    let sha256 = sha256_of(path)?;
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut hits: Vec<(Realisation, String)> = Vec::new();
    for r in store.realisations()? {
        for a in crate::engine::artifacts_of(&r) {
            if a.sha256 == sha256 {
                hits.push((r.clone(), a.file));
            }
        }
    }
    // The same bytes under the same name first, then the build the
    // statement beside the artifact names (one output can be placed by
    // several derivations), then by derivation.
    let named = read_sidecar(path)
        .ok()
        .flatten()
        .and_then(|v| crate::provenance::BuildKey::of_statement(&v))
        .map(|k| k.drv.as_str().to_string());
    hits.sort_by_key(|(r, a)| (*a != file, named.as_ref() != Some(&r.drv), r.drv.clone()));
    let (realisation, artifact, by) = match hits.into_iter().next() {
        Some((r, a)) => (r, a, FoundBy::StoreIndex),
        None => {
            let unknown = || AuditError::Unknown {
                path: path.to_path_buf(),
                sha256: sha256.clone(),
                store: store.root().to_path_buf(),
                sidecar: sidecar_path(path),
            };
            let statement = read_sidecar(path)?.ok_or_else(unknown)?;
            let drv = statement
                .pointer("/predicate/buildDefinition/internalParameters/derivation")
                .and_then(Value::as_str)
                .ok_or_else(|| AuditError::BadStatement {
                    path: sidecar_path(path),
                    reason: "predicate.buildDefinition.internalParameters.derivation is missing"
                        .into(),
                })?;
            let r = store.realisation(drv).ok().flatten().ok_or_else(unknown)?;
            let artifact = crate::engine::artifacts_of(&r)
                .into_iter()
                .find(|a| a.sha256 == sha256)
                .map(|a| a.file)
                .ok_or_else(unknown)?;
            (r, artifact, FoundBy::Sidecar)
        }
    };
    let (statement, build) = statement_of(store, path, &realisation)?.unzip();
    // The record counts only when the statement names its digest.
    let named = statement
        .as_ref()
        .and_then(crate::provenance::origins_digest)
        .map(str::to_string);
    let origins = match &build {
        Some(b) => store
            .origins(&realisation.store_path, b)?
            .and_then(|b| OriginsRecord::from_stored(&b).ok())
            .filter(|(_, sha)| named.as_ref() == Some(sha))
            .map(|(r, _)| r),
        None => None,
    };
    Ok(Found {
        artifact,
        sha256,
        by,
        realisation,
        statement,
        origins,
    })
}

/// The statement of the build that placed the artifact at `path`, with its
/// build token: the build its statement beside it names (a `dist/` holds
/// the statement of the build that wrote it), else the output's most
/// recent build. The statement read is the store's sealed copy, never the
/// file beside the artifact.
fn statement_of(
    store: &Store,
    path: &Path,
    realisation: &Realisation,
) -> Result<Option<(Value, String)>, AuditError> {
    let sp = &realisation.store_path;
    let named = read_sidecar(path)
        .ok()
        .flatten()
        .and_then(|v| crate::provenance::BuildKey::of_statement(&v))
        .filter(|k| k.drv.as_str() == realisation.drv)
        .map(|k| k.token());
    let mut builds: Vec<String> = named.into_iter().collect();
    builds.extend(store.builds_of(sp)?);
    for build in builds {
        let statement = store
            .provenance(sp, &build)?
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        if let Some(st) = statement {
            return Ok(Some((st, build)));
        }
    }
    Ok(None)
}

impl Found {
    /// Whether the realisation came from a binary cache.
    pub fn substituted(&self) -> bool {
        !matches!(self.realisation.origin, Origin::Built)
    }
}
