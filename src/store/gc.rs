//! Garbage collection: outputs no root or realisation references, and
//! leftovers of interrupted work in `.kiln/tmp`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use super::{exists, fsops, list_dir, Store, StoreError};
use crate::nix::store_path::StorePath;

/// Something [`Store::gc`] removes (or would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GcKind {
    /// An output no root or realisation references.
    Output,
    /// A leftover in `.kiln/tmp` (interrupted staging or record write).
    Leftover,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcItem {
    pub path: PathBuf,
    pub kind: GcKind,
}

/// Result of [`Store::gc`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub removed: Vec<GcItem>,
}

impl Store {
    /// Remove outputs that no root or realisation references, their records,
    /// and every leftover in `.kiln/tmp` (except staging directories this
    /// handle still holds). Refuses ([`StoreError::Busy`]) while any other
    /// handle on the store is open, in this or another process; within one
    /// process, do not commit through this handle from another thread while
    /// gc runs. With `dry_run`, only list what would go.
    pub fn gc(&self, dry_run: bool) -> Result<GcReport, StoreError> {
        if dry_run {
            self.gc_inner(true)
        } else {
            self.exclusively(|| self.gc_inner(false))
        }
    }

    fn gc_inner(&self, dry_run: bool) -> Result<GcReport, StoreError> {
        let mut live: BTreeSet<String> = self.roots()?.iter().map(|s| s.to_string()).collect();
        live.extend(self.realisations()?.into_iter().map(|r| r.store_path));
        let mut report = GcReport {
            dry_run,
            removed: Vec::new(),
        };
        for n in list_dir(&self.root)? {
            let Ok(sp) = n.parse::<StorePath>() else {
                continue; // `.kiln`, `.gitignore` and anything not ours
            };
            if live.contains(&n) {
                continue;
            }
            report.removed.push(GcItem {
                path: self.path_of(&n),
                kind: GcKind::Output,
            });
            if !dry_run {
                fsops::remove_file(&self.valid_record(&sp))?;
                fsops::remove_file(&self.provenance_path(&sp))?;
                fsops::remove_tree(&self.path_of(&n))?;
            }
        }
        // Validity records of unreferenced outputs that are gone (a live one
        // stays, so that verify reports it missing).
        if !dry_run {
            for info in self.valid_infos()? {
                let base = info.store_path.to_string();
                if !live.contains(&base) && !exists(&self.path_of(&base)) {
                    fsops::remove_file(&self.valid_record(&info.store_path))?;
                }
            }
        }
        let tmp = self.tmp();
        let in_use: Vec<PathBuf> = self
            .staged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for n in list_dir(&tmp)? {
            let p = tmp.join(&n);
            if in_use.contains(&p) {
                continue;
            }
            report.removed.push(GcItem {
                path: p.clone(),
                kind: GcKind::Leftover,
            });
            if !dry_run {
                fsops::remove_tree(&p)?;
            }
        }
        Ok(report)
    }
}
