//! `verify` and `--repair`: rehash registered outputs against their records,
//! and report records this machine's kiln did not write or cannot read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::error::StoreError;
use super::trust::{Record, RecordKind};
use super::{exists, PathInfo, Realisation, Store};
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
    /// A record not written by this machine's kiln (copied, committed or
    /// forged); lookups ignore it. `path` is the record.
    Untrusted { reason: String },
    /// A record that cannot be read as one; lookups ignore it. `path` is the
    /// record.
    Malformed { error: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing"),
            Problem::Altered {
                expected, actual, ..
            } => write!(f, "altered (expected {expected}, found {actual})"),
            Problem::Unreadable { error } => write!(f, "unreadable ({error})"),
            Problem::Unregistered => f.write_str("unregistered (no validity record)"),
            Problem::Untrusted { reason } => {
                write!(
                    f,
                    "untrusted record, ignored (not written by this machine's kiln: {reason})"
                )
            }
            Problem::Malformed { error } => write!(f, "malformed record, ignored ({error})"),
        }
    }
}

/// One finding of [`Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The output concerned (for a record problem: the one it names, if readable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_path: Option<StorePath>,
    /// The output, or for `untrusted`/`malformed` the record file.
    pub path: PathBuf,
    #[serde(flatten)]
    pub problem: Problem,
    /// `--repair` removed the output and every record of it (for a record
    /// problem: the record).
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
        let mut report = VerifyReport::default();
        let mut expected: BTreeMap<StorePath, Option<(Sha256, u64)>> = BTreeMap::new();
        for (path, rec) in self.scan::<PathInfo>("valid", RecordKind::Validity)? {
            match rec {
                Record::Trusted(i) if self.valid_record(&i.store_path) == path => {
                    expected.insert(i.store_path, Some((i.nar_hash, i.nar_size)));
                }
                Record::Trusted(i) => self.record_finding(
                    &mut report,
                    path,
                    Some(i.store_path),
                    Problem::Untrusted {
                        reason: "it is the validity record of another path".into(),
                    },
                    repair,
                )?,
                other => self.bad_record(&mut report, path, other, repair)?,
            }
        }
        let mut realisations = Vec::new();
        for (path, rec) in self.scan::<Realisation>("realisations", RecordKind::Realisation)? {
            match rec {
                Record::Trusted(r) if self.realisation_path(&r.drv) == path => {
                    expected.entry(r.store_path.clone()).or_insert(None);
                    realisations.push(r);
                }
                Record::Trusted(r) => self.record_finding(
                    &mut report,
                    path,
                    Some(r.store_path.clone()),
                    Problem::Untrusted {
                        reason: format!("it is the realisation of another derivation ({})", r.drv),
                    },
                    repair,
                )?,
                other => self.bad_record(&mut report, path, other, repair)?,
            }
        }
        for sp in self.roots()? {
            expected.entry(sp).or_insert(None);
        }
        report.checked = expected.len();
        for (sp, want) in expected {
            let path = self.path_of(&sp);
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
                    store_path: Some(sp),
                    path,
                    problem,
                    repaired: repair,
                });
            }
        }
        Ok(report)
    }

    /// Report an untrusted or malformed record (removing it with `repair`).
    fn bad_record<T>(
        &self,
        report: &mut VerifyReport,
        path: PathBuf,
        rec: Record<T>,
        repair: bool,
    ) -> Result<(), StoreError> {
        let problem = match rec {
            Record::Untrusted { reason } => Problem::Untrusted { reason },
            Record::Malformed { error } => Problem::Malformed { error },
            Record::Absent | Record::Trusted(_) => return Ok(()),
        };
        self.record_finding(report, path, None, problem, repair)
    }

    fn record_finding(
        &self,
        report: &mut VerifyReport,
        path: PathBuf,
        store_path: Option<StorePath>,
        problem: Problem,
        repair: bool,
    ) -> Result<(), StoreError> {
        if repair {
            self.remove(&path)?;
        }
        report.findings.push(Finding {
            store_path,
            path,
            problem,
            repaired: repair,
        });
        Ok(())
    }

    /// Remove an output and every record of it.
    fn forget(&self, sp: &StorePath, realisations: &[Realisation]) -> Result<(), StoreError> {
        let base = sp.to_string();
        // Records first: an output without records is an ordinary leftover.
        for r in realisations.iter().filter(|r| &r.store_path == sp) {
            self.remove(&self.realisation_path(&r.drv))?;
            self.remove(&self.derivation_path(&r.drv))?;
        }
        self.remove(&self.root_record(sp))?;
        self.remove(&self.valid_record(sp))?;
        self.remove_provenance(sp)?;
        self.remove(&self.entry_path(&base))
    }
}
