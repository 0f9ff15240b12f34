//! The verified lookup: a realisation is served only when its record is
//! trusted ([`super::trust`]) and its output is still the bytes registered.
//!
//! Each hit compares the output's stat [fingerprint](super::fingerprint) with
//! the one in its (trusted) validity record. When they differ, the output is
//! rehashed under its path lock: same NAR → the fingerprint is refreshed and
//! the hit stands; different (or unreadable) → the output is *set aside* under
//! `.kiln/quarantine/`, its validity record dropped, a [`Notice`] queued, and
//! the lookup answers "absent" so that the caller rebuilds it.

use std::path::{Path, PathBuf};

use super::error::{io_err, StoreError};
use super::fingerprint::fingerprint;
use super::trust::{Record, RecordKind};
use super::{exists, fsops, validate_drv, PathInfo, Realisation, Store};
use crate::hash::tree;
use crate::hash::Sha256;
use crate::nix::store_path::StorePath;

/// Something a lookup noticed and did about it, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A registered output's bytes changed; it was moved to `moved_to` and
    /// is treated as absent.
    SetAside {
        store_path: String,
        moved_to: PathBuf,
        expected: Sha256,
        /// `None` when it could no longer be read as a NAR at all.
        found: Option<Sha256>,
    },
    /// A record was ignored: not written by this machine's kiln, or not a
    /// record at all.
    Ignored { record: PathBuf, reason: String },
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::SetAside {
                store_path,
                moved_to,
                expected,
                found,
            } => {
                write!(
                    f,
                    "store output {store_path} changed on disk since it was registered (NAR sha256 {}, now {}); set aside as {} and rebuilt",
                    expected.to_nix32(),
                    found.as_ref().map_or("unreadable".to_string(), |h| h.to_nix32()),
                    moved_to.display()
                )
            }
            Notice::Ignored { record, reason } => {
                write!(f, "ignoring store record {}: {reason}", record.display())
            }
        }
    }
}

/// Whether a registered output may be served.
pub(super) enum Output {
    Intact,
    Gone,
}

impl Store {
    pub(crate) fn notice(&self, n: Notice) {
        let mut q = self.notices.lock().unwrap_or_else(|p| p.into_inner());
        if !q.contains(&n) {
            q.push(n);
        }
    }

    /// What lookups noticed since the last call (set-aside outputs, ignored
    /// records), oldest first, each once.
    pub fn take_notices(&self) -> Vec<Notice> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Read a sealed record, queueing a notice when it is ignored.
    pub(crate) fn trusted_record<T: serde::de::DeserializeOwned>(
        &self,
        path: &Path,
        kind: RecordKind,
    ) -> Result<Option<T>, StoreError> {
        match self.read_record(path, kind)? {
            Record::Absent => Ok(None),
            Record::Trusted(t) => Ok(Some(t)),
            Record::Untrusted { reason } => {
                self.notice(Notice::Ignored {
                    record: path.to_path_buf(),
                    reason: format!("not written by this machine's kiln ({reason})"),
                });
                Ok(None)
            }
            Record::Malformed { error } => {
                self.notice(Notice::Ignored {
                    record: path.to_path_buf(),
                    reason: format!("malformed ({error}); `kiln store verify --repair` removes it"),
                });
                Ok(None)
            }
        }
    }

    /// The realisation of `drv`, if its record is trusted and its output is
    /// on disk with exactly the registered bytes. An altered output is set
    /// aside (see the module docs); [`take_notices`](Self::take_notices) says so.
    pub fn realisation(&self, drv: &str) -> Result<Option<Realisation>, StoreError> {
        validate_drv(drv)?;
        let path = self.realisation_path(drv);
        let Some(r) = self.trusted_record::<Realisation>(&path, RecordKind::Realisation)? else {
            return Ok(None);
        };
        if r.drv != drv {
            self.notice(Notice::Ignored {
                record: path,
                reason: format!("it is the realisation of another derivation ({})", r.drv),
            });
            return Ok(None);
        }
        match self.check_output(&r.store_path, &r.nar_hash, r.nar_size)? {
            Output::Intact => Ok(Some(r)),
            Output::Gone => Ok(None),
        }
    }

    /// Whether the output `sp` is registered with this NAR and unchanged.
    pub(super) fn check_output(
        &self,
        sp: &StorePath,
        hash: &Sha256,
        size: u64,
    ) -> Result<Output, StoreError> {
        let dest = self.path_of(sp);
        if !exists(&dest) {
            return Ok(Output::Gone);
        }
        let record = self.valid_record(sp);
        let Some(info) = self.trusted_record::<PathInfo>(&record, RecordKind::Validity)? else {
            return Ok(Output::Gone);
        };
        if info.store_path != *sp || info.nar_hash != *hash || info.nar_size != size {
            return Ok(Output::Gone);
        }
        if fingerprint(&dest).ok().as_ref() == Some(&info.fingerprint) {
            return Ok(Output::Intact);
        }
        let _lock = self.path_lock(sp)?;
        self.recheck(sp, &dest)
    }

    /// Under the path lock: rehash `dest` against its validity record;
    /// refresh the fingerprint, or set the output aside.
    fn recheck(&self, sp: &StorePath, dest: &Path) -> Result<Output, StoreError> {
        let record = self.valid_record(sp);
        // Re-read: another process may have replaced it meanwhile.
        let Some(info) = self.trusted_record::<PathInfo>(&record, RecordKind::Validity)? else {
            return Ok(Output::Gone);
        };
        if !exists(dest) {
            return Ok(Output::Gone);
        }
        let before = fingerprint(dest).ok();
        if before.as_ref() == Some(&info.fingerprint) {
            return Ok(Output::Intact);
        }
        let found = tree::nar_sha256(dest).ok();
        if let (Some(d), Some(fp)) = (&found, before) {
            if d.hash == info.nar_hash && d.size == info.nar_size {
                let fresh = PathInfo {
                    fingerprint: fp,
                    ..info
                };
                self.write_validity(&fresh)?;
                return Ok(Output::Intact);
            }
        }
        let moved_to = self.set_aside(sp, dest)?;
        self.notice(Notice::SetAside {
            store_path: sp.to_string(),
            moved_to,
            expected: info.nar_hash,
            found: found.map(|d| d.hash),
        });
        Ok(Output::Gone)
    }

    /// Move the output at `dest` to `.kiln/quarantine/<base>.<random>/<base>`
    /// and drop its validity record. The caller holds the path lock.
    pub(crate) fn set_aside(&self, sp: &StorePath, dest: &Path) -> Result<PathBuf, StoreError> {
        let base = sp.to_string();
        let qdir = self.kiln("quarantine");
        // Never a link: gc empties what is set aside.
        let kiln = crate::fsutil::Dir::open(&self.root)
            .and_then(|d| d.sub(".kiln"))
            .map_err(io_err(&qdir))?;
        super::own_dir(&kiln, "quarantine")?;
        let holder = tempfile::Builder::new()
            .prefix(&format!("{base}."))
            .tempdir_in(&qdir)
            .map_err(io_err(&qdir))?
            .keep();
        let to = holder.join(&base);
        // Moving a directory to another parent needs write access to it.
        fsops::unseal_top(dest)?;
        std::fs::rename(dest, &to).map_err(io_err(dest))?;
        self.remove(&self.valid_record(sp))?;
        fsops::sync_dir(self.root())?;
        Ok(to)
    }
}
