//! The store's records (validity, roots, realisations) and reading them back.
//! Listings see only trusted records; `verify` reports the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::fingerprint::Fingerprint;
use super::meta::RealisationMeta;
use super::trust::{Origin, Record, RecordKind};
use super::{list_dir, Store};
use crate::hash::Sha256;
use crate::nix::store_path::StorePath;

/// The record `derivation hash → store path` of a built output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Realisation {
    pub drv: String,
    pub store_path: StorePath,
    pub nar_hash: Sha256,
    pub nar_size: u64,
    /// The recipe, its surface and its artifacts.
    pub meta: RealisationMeta,
    /// Who vouches for it: built here, or signed by a trusted key.
    pub origin: Origin,
}

/// A validity record: the output at `store_path` was committed with this NAR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathInfo {
    pub store_path: StorePath,
    pub nar_hash: Sha256,
    pub nar_size: u64,
    /// Stat fingerprint of the output as committed (or last rehashed).
    pub fingerprint: Fingerprint,
}

/// A gc root written by `kiln store add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RootRecord {
    pub(crate) store_path: StorePath,
    pub(crate) added_by: String,
}

/// One valid output, as `kiln store ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListEntry {
    pub store_path: StorePath,
    /// Absolute path on disk.
    pub path: PathBuf,
    pub name: String,
    pub nar_hash: Sha256,
    pub nar_size: u64,
    /// Added by `kiln store add` (a gc root).
    pub rooted: bool,
    /// Derivations whose realisation points here.
    pub derivations: Vec<String>,
}

impl Store {
    /// Every record file in `.kiln/<sub>/`, classified.
    pub(crate) fn scan<T: serde::de::DeserializeOwned>(
        &self,
        sub: &str,
        kind: RecordKind,
    ) -> Result<Vec<(PathBuf, Record<T>)>, StoreError> {
        let dir = self.kiln(sub);
        let mut out = Vec::new();
        for n in list_dir(&dir)? {
            if n.ends_with(".json") {
                let p = dir.join(&n);
                let rec = self.read_record(&p, kind)?;
                out.push((p, rec));
            }
        }
        Ok(out)
    }

    /// Trusted validity records whose file name matches their path.
    pub(crate) fn valid_infos(&self) -> Result<Vec<PathInfo>, StoreError> {
        Ok(self
            .scan::<PathInfo>("valid", RecordKind::Validity)?
            .into_iter()
            .filter_map(|(p, r)| match r {
                Record::Trusted(i) if self.valid_record(&i.store_path) == p => Some(i),
                _ => None,
            })
            .collect())
    }

    /// Every trusted realisation (records not written by this machine's kiln,
    /// or malformed, are left out: `verify` reports them).
    pub fn realisations(&self) -> Result<Vec<Realisation>, StoreError> {
        Ok(self
            .scan::<Realisation>("realisations", RecordKind::Realisation)?
            .into_iter()
            .filter_map(|(p, r)| match r {
                Record::Trusted(r) if self.realisation_path(&r.drv) == p => Some(r),
                _ => None,
            })
            .collect())
    }

    pub(crate) fn roots(&self) -> Result<Vec<StorePath>, StoreError> {
        Ok(list_dir(&self.kiln("roots"))?
            .into_iter()
            .filter_map(|n| n.parse().ok())
            .collect())
    }

    /// Every valid output, sorted by name then path.
    pub fn list(&self) -> Result<Vec<ListEntry>, StoreError> {
        let roots: BTreeSet<StorePath> = self.roots()?.into_iter().collect();
        let mut drvs: BTreeMap<StorePath, Vec<String>> = BTreeMap::new();
        for r in self.realisations()? {
            drvs.entry(r.store_path).or_default().push(r.drv);
        }
        let mut out: Vec<ListEntry> = self
            .valid_infos()?
            .into_iter()
            .map(|info| {
                let base = info.store_path.to_string();
                ListEntry {
                    path: self.entry_path(&base),
                    name: info.store_path.name().to_string(),
                    rooted: roots.contains(&info.store_path),
                    derivations: drvs.remove(&info.store_path).unwrap_or_default(),
                    store_path: info.store_path,
                    nar_hash: info.nar_hash,
                    nar_size: info.nar_size,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.name, &a.store_path).cmp(&(&b.name, &b.store_path)));
        Ok(out)
    }
}
