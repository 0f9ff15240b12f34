//! Garbage collection: outputs no root or trusted realisation references,
//! leftovers of interrupted work (`.kiln/tmp`, sandbox support directories
//! `.kiln/logs/.kiln-sandbox-*` of killed builds) and outputs set aside in
//! `.kiln/quarantine`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use super::error::StoreError;
use super::{exists, list_dir, Store};
use crate::nix::store_path::StorePath;

/// Something [`Store::gc`] removes (or would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GcKind {
    /// An output no root or realisation references.
    Output,
    /// A leftover in `.kiln/tmp` (interrupted staging or record write) or a
    /// sandbox support directory in `.kiln/logs` of a build that was killed.
    Leftover,
    /// An output set aside because its bytes changed after registration.
    SetAside,
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
    /// Remove outputs that no root or trusted realisation references, their
    /// records, every leftover in `.kiln/tmp` (except staging directories this
    /// handle still holds), sandbox support directories left in `.kiln/logs`,
    /// and set-aside outputs. Refuses ([`StoreError::Busy`]) while any other
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
        live.extend(
            self.realisations()?
                .into_iter()
                .map(|r| r.store_path.to_string()),
        );
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
                path: self.entry_path(&n),
                kind: GcKind::Output,
            });
            if !dry_run {
                self.remove(&self.valid_record(&sp))?;
                self.remove_provenance(&sp)?;
                self.remove(&self.entry_path(&n))?;
            }
        }
        // Validity records of unreferenced outputs that are gone (a live one
        // stays, so that verify reports it missing).
        if !dry_run {
            for info in self.valid_infos()? {
                let base = info.store_path.to_string();
                if !live.contains(&base) && !exists(&self.entry_path(&base)) {
                    self.remove(&self.valid_record(&info.store_path))?;
                }
            }
        }
        let in_use: Vec<PathBuf> = self
            .staged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut leftovers: Vec<(PathBuf, GcKind)> = Vec::new();
        let tmp = self.tmp();
        for n in list_dir(&tmp)? {
            let p = tmp.join(&n);
            if !in_use.contains(&p) {
                leftovers.push((p, GcKind::Leftover));
            }
        }
        // A sandbox keeps its support files (`/etc` stubs, tool links, the
        // scratch root) beside the log while a command runs and removes them
        // when it ends; a killed build leaves them. No build runs now: gc
        // holds the store exclusively (a dry run only lists).
        let logs = self.kiln("logs");
        for n in list_dir(&logs)? {
            if n.starts_with(".kiln-sandbox-") {
                leftovers.push((logs.join(n), GcKind::Leftover));
            }
        }
        let quarantine = self.kiln("quarantine");
        for n in list_dir(&quarantine)? {
            leftovers.push((quarantine.join(n), GcKind::SetAside));
        }
        for (p, kind) in leftovers {
            if !dry_run {
                self.remove(&p)?;
            }
            report.removed.push(GcItem { path: p, kind });
        }
        Ok(report)
    }
}
