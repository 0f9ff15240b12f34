//! The engine's [`Substituter`] backed by a binary cache: before building a
//! derivation, `kiln build --cache URL` asks here for its realisation.
//!
//! A refused entry (untrusted, altered, signed by a repository key the user
//! has not accepted) is reported and the derivation is built locally; a
//! cache that cannot be reached, or that misses an object's deadline or
//! minimum rate, is reported once and not asked again during this build.

use std::sync::atomic::{AtomicBool, Ordering};

use super::pull::{self, PullOptions};
use super::{Cache, CacheError};
use crate::engine::Substituter;
use crate::error::chain;
use crate::store::{Realisation, Store};

/// Substitutes from one cache.
#[derive(Debug)]
pub(crate) struct CacheSubstituter {
    cache: Cache,
    opts: PullOptions,
    down: AtomicBool,
}

impl CacheSubstituter {
    pub(crate) fn new(cache: Cache, opts: PullOptions) -> Self {
        CacheSubstituter {
            cache,
            opts,
            down: AtomicBool::new(false),
        }
    }
}

impl Substituter for CacheSubstituter {
    fn substitute(&self, store: &Store, drv: &str) -> Result<Option<Realisation>, String> {
        if self.down.load(Ordering::Relaxed) {
            return Ok(None);
        }
        match pull::substitute(&self.cache, store, drv, &self.opts) {
            Ok(found) => Ok(found.map(|(real, _)| real)),
            Err(CacheError::Transport(e)) if e.is_unreachable() || e.is_too_slow() => {
                self.down.store(true, Ordering::Relaxed);
                Err(format!(
                    "cache {} is {} ({}); not asking it again",
                    self.cache.transport().url(),
                    if e.is_too_slow() {
                        "too slow"
                    } else {
                        "unreachable"
                    },
                    chain(&e)
                ))
            }
            Err(e) => Err(format!("cache entry refused: {}", chain(&e))),
        }
    }
}
