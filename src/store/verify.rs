//! `verify` and `--repair`: rehash registered outputs against their records.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{exists, fsops, Realisation, Store, StoreError};
use crate::hash::tree;
use crate::hash::Sha256;
use crate::nix::store_path::StorePath;

/// What is wrong with a registered output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// A record refers to it but it is not on disk.
    Missing,
    /// Its NAR no longer matches the record (or the record its name).
    Altered {
        expected: Sha256,
        actual: Sha256,
        expected_size: u64,
        actual_size: u64,
    },
    /// It can no longer be serialised (e.g. a special file appeared).
    Unreadable { error: String },
    /// Referenced by a root or realisation but has no validity record.
    Unregistered,
}

/// One finding of [`Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub store_path: StorePath,
    pub path: PathBuf,
    #[serde(flatten)]
    pub problem: Problem,
    /// `--repair` removed the output and every record of it.
    pub repaired: bool,
}

/// Result of [`Store::verify`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Number of outputs checked.
    pub checked: usize,
    pub findings: Vec<Finding>,
}

impl Store {
    /// Rehash every registered output (validity records, realisations and
    /// roots) and report each missing or altered one. With `repair`, remove
    /// each such output and every record of it, so that a rebuild or re-add
    /// recreates it.
    pub fn verify(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        if repair {
            self.exclusively(|| self.verify_inner(true))
        } else {
            self.verify_inner(false)
        }
    }

    fn verify_inner(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        let mut expected: BTreeMap<StorePath, Option<(Sha256, u64)>> = BTreeMap::new();
        for info in self.valid_infos()? {
            expected.insert(info.store_path, Some((info.nar_hash, info.nar_size)));
        }
        let realisations = self.realisations()?;
        for r in &realisations {
            if let Ok(sp) = r.store_path.parse::<StorePath>() {
                expected.entry(sp).or_insert(None);
            }
        }
        for sp in self.roots()? {
            expected.entry(sp).or_insert(None);
        }
        let mut report = VerifyReport {
            checked: expected.len(),
            findings: Vec::new(),
        };
        for (sp, want) in expected {
            let path = self.path_of(&sp.to_string());
            let problem = if !exists(&path) {
                Some(Problem::Missing)
            } else if let Some((hash, size)) = want {
                match tree::nar_sha256(&path) {
                    Ok(d)
                        if d.hash == hash
                            && d.size == size
                            && StorePath::from_source(&d.hash, sp.name().as_str())? == sp =>
                    {
                        None
                    }
                    Ok(d) => Some(Problem::Altered {
                        expected: hash,
                        actual: d.hash,
                        expected_size: size,
                        actual_size: d.size,
                    }),
                    Err(e) => Some(Problem::Unreadable {
                        error: crate::error::chain(&e),
                    }),
                }
            } else {
                Some(Problem::Unregistered)
            };
            if let Some(problem) = problem {
                if repair {
                    self.forget(&sp, &realisations)?;
                }
                report.findings.push(Finding {
                    store_path: sp,
                    path,
                    problem,
                    repaired: repair,
                });
            }
        }
        Ok(report)
    }

    /// Remove an output and every record of it.
    fn forget(&self, sp: &StorePath, realisations: &[Realisation]) -> Result<(), StoreError> {
        let base = sp.to_string();
        // Records first: an output without records is an ordinary leftover.
        for r in realisations.iter().filter(|r| r.store_path == base) {
            fsops::remove_file(&self.realisation_path(&r.drv))?;
            fsops::remove_file(&self.derivation_path(&r.drv))?;
        }
        fsops::remove_file(&self.root_record(sp))?;
        fsops::remove_file(&self.valid_record(sp))?;
        fsops::remove_file(&self.provenance_path(sp))?;
        fsops::remove_tree(&self.path_of(&base))
    }
}
