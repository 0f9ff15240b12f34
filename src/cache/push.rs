//! Push: store paths and realisations from a store into a cache.
//!
//! Three phases, each parallel over items and each finished before the next
//! starts: NAR files, then narinfos, then realisations. A path whose narinfo
//! the cache already has with the same NAR hash (and, when signing, our
//! signature) is not uploaded again. The NAR is serialised from the store
//! and its hash compared with the store's validity record, so a store path
//! altered on disk is never published.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use super::codec::{self, NarFile};
use super::layout::{self, CacheRealisation};
use super::{Cache, CacheError, Progress};
use crate::cache::narinfo::{self, Compression, NarInfo};
use crate::cache::signing::{SecretKey, TrustedKeys};
use crate::nix::store_path::StorePath;
use crate::store::{ListEntry, Realisation, Store};

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Signs every narinfo and realisation; `None` pushes unsigned entries.
    pub key: Option<SecretKey>,
    pub compression: Compression,
    /// Parallel transfers.
    pub jobs: usize,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            key: None,
            compression: Compression::Zstd,
            jobs: 8,
        }
    }
}

/// What happened to one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Uploaded; `bytes` of NAR file (0 for a realisation).
    Uploaded { bytes: u64 },
    /// The cache already had it.
    Present,
}

/// One item's result: what it is (`/nix/store/…` or `realisation <drv>`) and
/// how it went.
pub(crate) type PushResult = (String, Result<PushOutcome, CacheError>);

/// Push `paths` and `realisations` (with their outputs) from `store`.
pub(crate) fn push(
    cache: &Cache,
    store: &Store,
    paths: &[StorePath],
    realisations: &[Realisation],
    opts: &PushOptions,
    progress: &dyn Progress,
) -> Result<Vec<PushResult>, CacheError> {
    let valid: BTreeMap<StorePath, ListEntry> = store
        .list()?
        .into_iter()
        .map(|e| (e.store_path.clone(), e))
        .collect();
    let mut wanted: Vec<StorePath> = paths.to_vec();
    for r in realisations {
        wanted.push(r.store_path.clone());
    }
    wanted.sort();
    wanted.dedup();
    progress.begin(wanted.len() + realisations.len());

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| CacheError::Io {
            path: store.root().to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    let stage = store.staging()?;

    // Phase 1: NAR files.
    let prepared: Vec<(StorePath, Result<Option<NarInfo>, CacheError>)> = pool.install(|| {
        wanted
            .par_iter()
            .enumerate()
            .map(|(i, sp)| {
                let r = match valid.get(sp) {
                    None => Err(CacheError::Missing {
                        what: format!("{} (in the local store)", sp.to_nix_path()),
                    }),
                    Some(entry) => {
                        let file = stage.path().join(format!("{i}.nar"));
                        upload_nar(cache, entry, &file, opts)
                    }
                };
                (sp.clone(), r)
            })
            .collect()
    });

    // Phase 2: narinfos, only for paths whose NAR is in the cache.
    let mut results: Vec<PushResult> = pool.install(|| {
        prepared
            .into_par_iter()
            .map(|(sp, r)| {
                let what = sp.to_nix_path();
                let r = r.and_then(|info| match info {
                    None => Ok(PushOutcome::Present),
                    Some(info) => {
                        cache.transport().put(
                            &layout::narinfo_key(&info.store_path),
                            info.render().as_bytes(),
                            "text/x-nix-narinfo",
                        )?;
                        Ok(PushOutcome::Uploaded {
                            bytes: info.file_size.unwrap_or(0),
                        })
                    }
                });
                if let Ok(PushOutcome::Uploaded { bytes }) = &r {
                    progress.item_done(&what, *bytes);
                } else {
                    progress.item_done(&what, 0);
                }
                (what, r)
            })
            .collect()
    });
    drop(stage);

    // Phase 3: realisations whose output is now in the cache.
    let ok_paths: Vec<String> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(w, _)| w.clone())
        .collect();
    let realised: Vec<PushResult> = pool.install(|| {
        realisations
            .par_iter()
            .map(|r| {
                let what = format!("realisation {}", r.drv);
                let out_path =
                    format!("{}/{}", crate::nix::store_path::NIX_STORE_DIR, r.store_path);
                let res = if ok_paths.contains(&out_path) {
                    upload_realisation(cache, store, r, out_path, opts)
                } else {
                    Err(CacheError::Missing {
                        what: format!("{what}: its output {out_path} (not pushed)"),
                    })
                };
                progress.item_done(&what, 0);
                (what, res)
            })
            .collect()
    });
    results.extend(realised);
    Ok(results)
}

/// Whether the cache already holds `entry` as we would publish it.
fn already_there(
    cache: &Cache,
    entry: &ListEntry,
    key: Option<&SecretKey>,
) -> Result<bool, CacheError> {
    let Some(bytes) = cache
        .transport()
        .get(&layout::narinfo_key(&entry.store_path), 1 << 20)?
    else {
        return Ok(false);
    };
    let Ok(info) = NarInfo::parse(&String::from_utf8_lossy(&bytes)) else {
        return Ok(false);
    };
    let signed = match key {
        None => true,
        Some(k) => info.trusted_by(&TrustedKeys::new([k.public()])).is_some(),
    };
    Ok(info.store_path == entry.store_path
        && info.nar_hash == entry.nar_hash
        && info.nar_size == entry.nar_size
        && signed)
}

/// Serialise, compress and upload the NAR of `entry`; the narinfo to
/// publish, or `None` when the cache already has it.
fn upload_nar(
    cache: &Cache,
    entry: &ListEntry,
    file: &Path,
    opts: &PushOptions,
) -> Result<Option<NarInfo>, CacheError> {
    if already_there(cache, entry, opts.key.as_ref())? {
        return Ok(None);
    }
    let NarFile {
        nar_hash,
        nar_size,
        file_hash,
        file_size,
    } = codec::write_nar_file(&entry.path, file, &opts.compression)?;
    if nar_hash != entry.nar_hash || nar_size != entry.nar_size {
        return Err(CacheError::Integrity {
            what: entry.path.display().to_string(),
            reason: format!(
                "its contents ({nar_hash}, {nar_size} bytes) differ from the store's record ({}, {} bytes); run `kiln store verify --repair`",
                entry.nar_hash, entry.nar_size
            ),
        });
    }
    let url = format!(
        "nar/{}.nar{}",
        file_hash.to_nix32(),
        opts.compression.extension()
    );
    cache
        .transport()
        .put_file(&url, file, "application/x-nix-nar")?;
    let _ = std::fs::remove_file(file);
    let mut info = NarInfo {
        store_path: entry.store_path.clone(),
        url,
        compression: opts.compression.clone(),
        file_hash: Some(file_hash),
        file_size: Some(file_size),
        nar_hash,
        nar_size,
        references: Vec::new(),
        deriver: None,
        sigs: Vec::new(),
        ca: Some(narinfo::source_ca(&nar_hash)),
    };
    if let Some(k) = &opts.key {
        info.sign(k);
    }
    Ok(Some(info))
}

fn upload_realisation(
    cache: &Cache,
    store: &Store,
    r: &Realisation,
    out_path: String,
    opts: &PushOptions,
) -> Result<PushOutcome, CacheError> {
    let derivation = super::pull::read_derivation(store, &r.drv)?;
    let mut rec = CacheRealisation {
        drv: r.drv.clone(),
        out_path,
        nar_hash: r.nar_hash,
        nar_size: r.nar_size,
        meta: r.meta.clone(),
        derivation,
        provenance: statement_of(store, r)?,
        signatures: Vec::new(),
    };
    if let Some(k) = &opts.key {
        rec.sign(k);
    }
    cache.transport().put(
        &layout::realisation_key(&r.drv),
        &rec.to_json(),
        "application/json",
    )?;
    Ok(PushOutcome::Uploaded { bytes: 0 })
}

/// The statement of the most recent build of `r`'s derivation that placed
/// its output, if the store holds one.
fn statement_of(
    store: &Store,
    r: &crate::store::Realisation,
) -> Result<Option<String>, CacheError> {
    for build in store.builds_of(&r.store_path)? {
        let Some(bytes) = store.provenance(&r.store_path, &build)? else {
            continue;
        };
        let of_drv = serde_json::from_slice(&bytes)
            .ok()
            .and_then(|v| crate::provenance::BuildKey::of_statement(&v))
            .is_some_and(|k| k.drv.as_str() == r.drv);
        if of_drv {
            return Ok(Some(String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    Ok(None)
}
