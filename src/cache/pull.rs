//! Pull: store paths and realisations from a cache into a store.
//!
//! Nothing enters the store before every check has passed:
//!
//! 1. the narinfo parses, describes the path asked for, has no references
//!    (kiln's store holds self-contained source paths), its `NarHash` gives
//!    the path's name as `nix-store --add` would, and it is signed by a
//!    trusted key (unless unsigned entries are explicitly trusted; a key
//!    that only the repository proposes is not trusted, see
//!    [`super::trust`]);
//! 2. the store's filesystem has room for it; the NAR file is at most what
//!    `NarSize` bytes can compress to ([`max_file_size`]: `FileSize` is not
//!    signed, and may be missing), and has the narinfo's `FileSize` and
//!    `FileHash`;
//! 3. it decompresses to at most `NarSize` bytes (a larger stream is cut
//!    there), restores into a staging directory under the strict NAR reader,
//!    and has exactly the narinfo's `NarHash` and `NarSize`;
//! 4. only then the store commits it (atomic rename, sealed validity
//!    record), and for a realisation records the derivation and the
//!    realisation with its [`Origin`]: the key that signed it (or the cache,
//!    under `--trust-unsigned`). From then on it is exactly as trusted as an
//!    output built here.
//!
//! A realisation must itself be trusted, agree with its output's narinfo,
//! and record only artifact names that are plain names inside `dist/`
//! ([`crate::engine::placement::check_recorded`]), whoever signed it. A narinfo
//! or realisation larger than its cap is refused like any other bad entry.
//! Each item succeeds or is refused on its own.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::codec;
use super::layout::{self, CacheRealisation};
use super::{Cache, CacheError, Progress};
use crate::cache::narinfo::{self, Compression, NarInfo};
use crate::cache::signing::{KeyName, TrustedKeys};
use crate::cache::trust::RepoKeys;
use crate::cache::TransportError;
use crate::error::chain;
use crate::nix::store_path::StorePath;
use crate::store::{Origin, Realisation, Store};

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The user's keys.
    pub trusted: TrustedKeys,
    /// Keys the repository proposes and the user has not accepted: an entry
    /// they sign is refused, saying so.
    pub repo_keys: RepoKeys,
    /// The user's configuration file, named when a repository key is not
    /// accepted.
    pub user_config: Option<PathBuf>,
    /// Accept entries that no trusted key signed (`--trust-unsigned`).
    pub trust_unsigned: bool,
    /// Largest NAR accepted, in bytes.
    pub max_nar_size: u64,
    /// Parallel transfers.
    pub jobs: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            trusted: TrustedKeys::default(),
            repo_keys: RepoKeys::default(),
            user_config: None,
            trust_unsigned: false,
            max_nar_size: 64 << 30,
            jobs: 8,
        }
    }
}

impl PullOptions {
    /// Who vouches for `what`: the trusted key that signed it (`signed_by`
    /// asks a key set), `None` when unsigned entries are trusted; otherwise
    /// refused, naming a repository key that signed it but is not accepted.
    fn vouch(
        &self,
        what: &str,
        signed_by: impl Fn(&TrustedKeys) -> Option<KeyName>,
        signers: impl Iterator<Item = String>,
    ) -> Result<Option<KeyName>, CacheError> {
        if let Some(key) = signed_by(&self.trusted) {
            return Ok(Some(key));
        }
        if self.trust_unsigned {
            return Ok(None);
        }
        if let Some(key) = signed_by(&self.repo_keys.keys) {
            return Err(CacheError::RepoKeyNotAccepted {
                what: what.to_string(),
                key: key.to_string(),
                file: self.repo_keys.file.clone(),
                config: self.user_config.clone(),
            });
        }
        Err(CacheError::Untrusted {
            what: what.to_string(),
            signers: signers.collect(),
        })
    }
}

/// The largest file `nar_size` bytes of NAR can be stored as: the NAR
/// itself uncompressed; compressed, at most 1/128 more plus 64 KiB (zstd's
/// and xz's worst case on incompressible data is well inside this).
pub(crate) fn max_file_size(compression: &Compression, nar_size: u64) -> u64 {
    match compression {
        Compression::None => nar_size,
        _ => nar_size
            .saturating_add(nar_size / 128)
            .saturating_add(64 << 10),
    }
}

/// Refuse `what` unless the filesystem of `dir` has `needed` bytes free.
fn check_room(what: &str, dir: &Path, needed: u64) -> Result<(), CacheError> {
    let st = rustix::fs::statvfs(dir).map_err(|e| CacheError::Io {
        path: dir.to_path_buf(),
        source: e.into(),
    })?;
    let available = st.f_bavail.saturating_mul(st.f_frsize);
    if available < needed {
        return Err(CacheError::NoRoom {
            what: what.to_string(),
            dir: dir.to_path_buf(),
            needed,
            available,
        });
    }
    Ok(())
}

/// Get a small object (narinfo, realisation) of at most `limit` bytes; a
/// larger one is a refused entry.
fn get_small(
    cache: &Cache,
    what: &str,
    key: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, CacheError> {
    cache.transport().get(key, limit).map_err(|e| match e {
        TransportError::TooLarge { .. } => CacheError::Integrity {
            what: what.to_string(),
            reason: format!("{key} is larger than {limit} bytes"),
        },
        other => other.into(),
    })
}

/// What happened to one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullOutcome {
    /// Fetched and committed; `bytes` of NAR file crossed the wire.
    Pulled { bytes: u64 },
    /// The store already had it.
    Present,
}

/// One item's result: what it is and how it went.
pub(crate) type PullResult = (String, Result<PullOutcome, CacheError>);

/// The canonical derivation text the store recorded for `drv`.
pub(crate) fn read_derivation(store: &Store, drv: &str) -> Result<String, CacheError> {
    let path = store
        .root()
        .join(".kiln/derivations")
        .join(format!("{drv}.json"));
    match std::fs::read(&path) {
        Ok(b) => String::from_utf8(b).map_err(|_| CacheError::Integrity {
            what: path.display().to_string(),
            reason: "not UTF-8".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CacheError::Missing {
            what: format!("derivation {drv} (in the local store)"),
        }),
        Err(source) => Err(CacheError::Io { path, source }),
    }
}

fn pool(jobs: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .unwrap_or_else(|_| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .expect("a one-thread pool")
        })
}

/// Pull the store paths `paths` into `store`.
pub(crate) fn pull_paths(
    cache: &Cache,
    store: &Store,
    paths: &[StorePath],
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Vec<PullResult>, CacheError> {
    let valid: Vec<StorePath> = store.list()?.into_iter().map(|e| e.store_path).collect();
    progress.begin(paths.len());
    Ok(pool(opts.jobs).install(|| {
        paths
            .par_iter()
            .map(|sp| {
                let what = sp.to_nix_path();
                let r = if valid.contains(sp) {
                    Ok(PullOutcome::Present)
                } else {
                    pull_path(cache, store, sp, opts)
                };
                progress.item_done(&what, bytes_of(&r));
                (what, r)
            })
            .collect()
    }))
}

fn bytes_of(r: &Result<PullOutcome, CacheError>) -> u64 {
    match r {
        Ok(PullOutcome::Pulled { bytes }) => *bytes,
        _ => 0,
    }
}

fn pull_path(
    cache: &Cache,
    store: &Store,
    sp: &StorePath,
    opts: &PullOptions,
) -> Result<PullOutcome, CacheError> {
    let stage = store.staging()?;
    let (info, staged) = fetch(cache, stage.path(), sp, opts)?;
    let added = store.add_path(&staged, sp.name().as_str(), false)?;
    if &added != sp {
        return Err(CacheError::Integrity {
            what: sp.to_nix_path(),
            reason: format!("the store named it {added}"),
        });
    }
    Ok(PullOutcome::Pulled {
        bytes: info.file_size.unwrap_or(info.nar_size),
    })
}

/// Pull the realisations of `drvs` (and their outputs) into `store`. A
/// derivation the cache does not know is [`CacheError::Missing`].
pub(crate) fn pull_realisations(
    cache: &Cache,
    store: &Store,
    drvs: &[String],
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Vec<PullResult> {
    progress.begin(drvs.len());
    pool(opts.jobs).install(|| {
        drvs.par_iter()
            .map(|drv| {
                let what = format!("realisation {drv}");
                let r = match store.realisation(drv) {
                    Ok(Some(_)) => Ok(PullOutcome::Present),
                    Ok(None) => substitute(cache, store, drv, opts).and_then(|r| {
                        r.map(|(_, bytes)| PullOutcome::Pulled { bytes })
                            .ok_or_else(|| CacheError::Missing { what: what.clone() })
                    }),
                    Err(e) => Err(e.into()),
                };
                progress.item_done(&what, bytes_of(&r));
                (what, r)
            })
            .collect()
    })
}

/// Fetch the realisation of `drv` and its output from the cache and
/// register both in `store`; `None` when the cache has no realisation of
/// `drv`. Returns the realisation and the bytes transferred.
pub(crate) fn substitute(
    cache: &Cache,
    store: &Store,
    drv: &str,
    opts: &PullOptions,
) -> Result<Option<(Realisation, u64)>, CacheError> {
    let what = format!("realisation {drv}");
    if !layout::is_drv_name(drv) {
        return Err(CacheError::Integrity {
            what,
            reason: "not a derivation name".into(),
        });
    }
    let Some(bytes) = get_small(cache, &what, &layout::realisation_key(drv), 16 << 20)? else {
        return Ok(None);
    };
    let refuse = |reason: String| CacheError::Integrity {
        what: what.clone(),
        reason,
    };
    let rec: CacheRealisation =
        serde_json::from_slice(&bytes).map_err(|e| refuse(format!("unreadable record: {e}")))?;
    if rec.drv != drv {
        return Err(refuse(format!(
            "the record is for derivation {:?}",
            rec.drv
        )));
    }
    // Who vouches for it, recorded with the realisation in the store.
    let origin = match opts.vouch(
        &what,
        |keys| rec.trusted_by(keys).cloned(),
        rec.signatures.iter().map(|s| s.name().to_string()),
    )? {
        Some(key) => Origin::Signed {
            key: key.to_string(),
        },
        None => Origin::Unsigned {
            cache: cache.transport().url().to_string(),
        },
    };
    // Whoever signed it: its artifact names become paths under dist/.
    crate::engine::placement::check_recorded(&rec.meta).map_err(|source| {
        CacheError::UnsafeArtifact {
            what: what.clone(),
            source,
        }
    })?;
    let sp = rec.store_path().ok_or_else(|| {
        refuse(format!(
            "{:?} is not a store path under /nix/store",
            rec.out_path
        ))
    })?;
    let stage = store.staging()?;
    let (info, staged) = match fetch(cache, stage.path(), &sp, opts) {
        Err(CacheError::Missing { .. }) => {
            return Err(refuse(format!(
                "it points at {}, which the cache does not have",
                sp.to_nix_path()
            )))
        }
        other => other?,
    };
    if info.nar_hash != rec.nar_hash || info.nar_size != rec.nar_size {
        return Err(refuse(format!(
            "it records {} ({} bytes) but the narinfo of {} says {} ({} bytes)",
            rec.nar_hash,
            rec.nar_size,
            sp.to_nix_path(),
            info.nar_hash,
            info.nar_size
        )));
    }
    // Provenance first: once the realisation is visible, so is its statement.
    // Filed under the build it names, and only when that build is of this
    // derivation (the engine writes its own build's statement on use).
    let build = rec
        .provenance
        .as_ref()
        .and_then(|p| serde_json::from_str(p).ok())
        .and_then(|v| crate::provenance::BuildKey::of_statement(&v))
        .filter(|k| k.drv.as_str() == drv);
    if let (Some(p), Some(build)) = (&rec.provenance, build) {
        store.write_provenance(&sp, &build.token(), p.as_bytes())?;
    }
    let real = store.register_output_as(
        drv,
        rec.derivation.as_bytes(),
        &staged,
        sp.name().as_str(),
        rec.meta,
        origin,
    )?;
    Ok(Some((real, info.file_size.unwrap_or(info.nar_size))))
}

/// The most bytes of NAR file to download: what `NarSize` (signed) can
/// compress to, or the smaller `FileSize` (not signed) when given.
fn download_limit(info: &NarInfo) -> Result<u64, String> {
    let cap = max_file_size(&info.compression, info.nar_size);
    match info.file_size {
        Some(n) if n > cap => Err(format!(
            "its FileSize {n} is more than a {}-byte NAR can be stored in ({cap} bytes)",
            info.nar_size
        )),
        Some(n) => Ok(n),
        None => Ok(cap),
    }
}

/// The narinfo describes a path as `nix-store --add` makes it: no
/// references, its name given by its `NarHash`, a `CA` (if any) that
/// agrees.
fn check_self_contained(info: &NarInfo, sp: &StorePath) -> Result<(), CacheError> {
    let what = sp.to_nix_path();
    let refuse = |reason: String| CacheError::Integrity {
        what: what.clone(),
        reason,
    };
    if !info.references.is_empty() {
        return Err(CacheError::Unsupported {
            what: what.clone(),
            reason: "it references other store paths; kiln's store holds only self-contained paths"
                .into(),
        });
    }
    if StorePath::from_source(&info.nar_hash, sp.name().as_str())
        .map_err(crate::store::StoreError::Name)?
        != *sp
    {
        return Err(refuse(format!(
            "its NarHash {} does not give this path's name (not a path as `nix-store --add` makes it)",
            info.nar_hash
        )));
    }
    if info
        .ca
        .as_ref()
        .is_some_and(|ca| *ca != narinfo::source_ca(&info.nar_hash))
    {
        return Err(refuse(format!(
            "its CA {:?} disagrees with its NarHash",
            info.ca
        )));
    }
    Ok(())
}

/// Download the NAR file of `info` to `file` (at most `limit` bytes) and
/// check its size and hash against the narinfo's.
fn download(
    cache: &Cache,
    info: &NarInfo,
    file: &Path,
    limit: u64,
    what: &str,
) -> Result<(), CacheError> {
    let refuse = |reason: String| CacheError::Integrity {
        what: what.to_string(),
        reason,
    };
    let got = cache
        .transport()
        .get_file(&info.url, file, limit)
        .map_err(|e| match e {
            TransportError::TooLarge { limit, .. } => refuse(format!(
                "{} is larger than its narinfo allows ({limit} bytes)",
                info.url
            )),
            other => other.into(),
        })?
        .ok_or_else(|| {
            refuse(format!(
                "its NAR file {} is missing from the cache",
                info.url
            ))
        })?;
    if let Some(n) = info.file_size {
        if got != n {
            return Err(refuse(format!(
                "{} is {got} bytes, its narinfo says {n}",
                info.url
            )));
        }
    }
    if let Some(h) = info.file_hash {
        let (actual, _) = codec::file_digest(file)?;
        if actual != h {
            return Err(refuse(format!(
                "{} has hash {actual}, its narinfo says {h}",
                info.url
            )));
        }
    }
    Ok(())
}

/// Check `sp`'s narinfo, download and check its NAR, restore it under
/// `stage`; returns the narinfo and the restored path. Nothing is committed.
fn fetch(
    cache: &Cache,
    stage: &Path,
    sp: &StorePath,
    opts: &PullOptions,
) -> Result<(NarInfo, PathBuf), CacheError> {
    let what = sp.to_nix_path();
    let key = layout::narinfo_key(sp);
    let bytes = get_small(cache, &what, &key, 1 << 20)?
        .ok_or_else(|| CacheError::Missing { what: what.clone() })?;
    let refuse = |reason: String| CacheError::Integrity {
        what: what.clone(),
        reason,
    };
    let text = String::from_utf8(bytes).map_err(|_| refuse(format!("{key} is not UTF-8")))?;
    let info = NarInfo::parse(&text).map_err(|source| CacheError::NarInfo {
        key: format!("{what}: {key}"),
        source,
    })?;
    if &info.store_path != sp {
        return Err(refuse(format!(
            "{key} describes another path, {}",
            info.store_path.to_nix_path()
        )));
    }
    opts.vouch(
        &format!("{what} ({key})"),
        |keys| info.trusted_by(keys).cloned(),
        info.sigs.iter().map(|s| s.name().to_string()),
    )?;
    check_self_contained(&info, sp)?;
    let limit = download_limit(&info).map_err(refuse)?;
    // The NAR file and the tree it unpacks to are both staged here.
    check_room(&what, stage, limit.saturating_add(info.nar_size))?;
    if info.nar_size > opts.max_nar_size {
        return Err(refuse(format!(
            "its NAR is {} bytes, over the limit of {}",
            info.nar_size, opts.max_nar_size
        )));
    }
    if let Compression::Other(c) = &info.compression {
        return Err(CacheError::Unsupported {
            what,
            reason: format!("compression {c:?} (kiln reads zstd, xz or none)"),
        });
    }
    // `#` cannot occur in a store path name, so this never meets `staged`.
    let file = stage.join("#download");
    download(cache, &info, &file, limit, &what)?;
    let staged = stage.join(sp.name().as_str());
    let (nar_hash, nar_size) =
        codec::restore_nar_file(&file, &info.compression, info.nar_size, &staged)
            .map_err(|e| refuse(format!("its NAR does not unpack: {}", chain(&e))))?;
    let _ = std::fs::remove_file(&file);
    if nar_size != info.nar_size || nar_hash != info.nar_hash {
        return Err(refuse(format!(
            "its NAR is {nar_hash} ({nar_size} bytes), its narinfo says {} ({} bytes)",
            info.nar_hash, info.nar_size
        )));
    }
    Ok((info, staged))
}
