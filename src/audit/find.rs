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
/// of the NAR serialisation of a directory artifact. The artifact is opened
/// as [`crate::diff::input::open_named`] opens it: a FIFO or device is
/// refused (bad input), never read.
pub fn sha256_of(path: &Path) -> Result<String, AuditError> {
    use crate::diff::input::{open_named, Named};
    match open_named(path).map_err(io(path))? {
        Named::Dir => {
            let d = crate::hash::tree::nar_sha256(path).map_err(|e| {
                use crate::error::{Classify, ErrorKind};
                // A FIFO or device inside it is bad input, as is the artifact.
                let kind = match e.kind() {
                    ErrorKind::BadInput => std::io::ErrorKind::InvalidInput,
                    _ => std::io::ErrorKind::Other,
                };
                AuditError::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::new(kind, crate::error::chain(&e)),
                }
            })?;
            Ok(d.hash.to_hex())
        }
        Named::File(f, _) => Ok(crate::hash::Sha256::digest_reader_len(f)
            .map_err(io(path))?
            .0
            .to_hex()),
    }
}

/// `<artifact>.intoto.json` beside `path`.
pub(crate) fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".intoto.json");
    PathBuf::from(s)
}

/// The largest statement read.
const STATEMENT_MAX: u64 = 16 << 20;

/// The statement beside `path`, if there is one: a regular file (never
/// through a link, never a FIFO) of at most 16 MiB, whose subject names
/// are all names inside an artifact ([`check_subjects`]).
pub(crate) fn read_sidecar(path: &Path) -> Result<Option<Value>, AuditError> {
    use std::io::Read;
    let side = sidecar_path(path);
    let bad = |reason: String| AuditError::BadStatement {
        path: side.clone(),
        reason,
    };
    let (file, md) = match crate::fsutil::open_regular(&side) {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(bad(format!("{e}; a statement is a regular file")))
        }
        Err(e) => return Err(io(&side)(e)),
    };
    if md.len() > STATEMENT_MAX {
        return Err(bad(format!(
            "is {} bytes, more than a statement's {STATEMENT_MAX}",
            md.len()
        )));
    }
    let mut bytes = Vec::with_capacity(md.len() as usize);
    file.take(STATEMENT_MAX)
        .read_to_end(&mut bytes)
        .map_err(io(&side))?;
    let statement: Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    check_subjects(&statement).map_err(bad)?;
    Ok(Some(statement))
}

/// Every subject of a statement must name a file inside an artifact: a
/// non-empty relative name, no `..` or `.` component, no empty component,
/// and no control character. The reason names the first that
/// does not (escaped, and elided when long).
pub(crate) fn check_subjects(statement: &Value) -> Result<(), String> {
    let Some(subjects) = statement.get("subject") else {
        return Ok(());
    };
    let subjects = subjects
        .as_array()
        .ok_or_else(|| "subject is not a list".to_string())?;
    for (i, s) in subjects.iter().enumerate() {
        let name = s
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("subject[{i}].name is not a string"))?;
        if let Some(why) = subject_fault(name) {
            return Err(format!(
                "subject[{i}].name {} {why}; a subject names a file inside the artifact",
                crate::name::Shown(&crate::name::elided(name)),
            ));
        }
    }
    Ok(())
}

/// What is wrong with a subject name, if anything.
fn subject_fault(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.starts_with('/') {
        Some("is an absolute path")
    } else if name.chars().any(char::is_control) {
        Some("holds a control character")
    } else if name.split('/').any(|c| c == "..") {
        Some("holds a `..` component")
    } else if name.split('/').any(|c| c.is_empty() || c == ".") {
        Some("holds an empty or `.` component")
    } else {
        None
    }
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
        for a in &r.meta.artifacts {
            if a.sha256 == sha256 {
                hits.push((r.clone(), a.file.clone()));
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
            let artifact = r
                .meta
                .artifacts
                .iter()
                .find(|a| a.sha256 == sha256)
                .map(|a| a.file.clone())
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
