//! Binary caches in Nix's own format: push store paths and kiln's
//! realisations to a directory or an HTTP server, and pull them back into a
//! store, only when they are signed by a trusted key and only after their
//! bytes have been checked.
//!
//! - [`layout`]: where each object lies, and kiln's signed realisation record;
//! - [`transport`]: `file://` and `http(s)://` (GET, PUT), capped reads, retries;
//! - [`codec`]: NAR files, compressed and hashed on the way out, decompressed
//!   with a cap and checked on the way in;
//! - [`push`], [`pull`]: the two directions, parallel over items;
//! - [`narinfo`]: Nix's `.narinfo` text format, parsed strictly;
//! - [`signing`]: ed25519 narinfo signatures and `name:base64` keys, as Nix
//!   writes and checks them;
//! - [`keys`]: key files as `nix-store --generate-binary-cache-key` writes them;
//! - [`select`]: which derivations a push or pull is about (the engine's plan);
//! - [`substitute`]: the engine's substituter for `kiln build --cache`;
//! - [`trust`]: which public keys a reader trusts (flag, environment, the
//!   user's configuration) and which a repository only proposes
//!   (`recipes/release.toml`, trusted once the user accepts them).
//!
//! Push writes every NAR before any narinfo and every narinfo before any
//! realisation, so a reader never finds a record whose data is missing.
//! Pull checks the narinfo (signature, path, no references), downloads the
//! NAR (at most what `NarSize` bytes can compress to, and only when the
//! store's filesystem has room), checks file hash and size, decompresses at
//! most `NarSize` bytes, checks the NAR hash and size, and only then commits
//! through the store's atomic add: a refused entry leaves nothing in the
//! store. A realisation's recorded artifact names must be plain names inside
//! `dist/`. Every object has a deadline and a minimum rate
//! ([`transport::Pace`]).

pub(crate) mod codec;
pub mod keys;
pub mod layout;
pub mod narinfo;
pub(crate) mod pull;
pub(crate) mod push;
pub(crate) mod select;
pub(crate) mod signing;
pub(crate) mod substitute;
pub(crate) mod transport;
pub(crate) mod trust;

use std::io;
use std::path::PathBuf;

pub use pull::{PullOptions, PullOutcome};
pub use push::{PushOptions, PushOutcome};
pub use transport::{CacheUrl, Pace, Retry, Transport, TransportError};

use crate::cache::narinfo::NarInfoError;
use crate::cache::signing::SigningError;
use crate::error::{Classify, ErrorKind};
use crate::store::StoreError;

/// A cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{key}")]
    NarInfo {
        key: String,
        #[source]
        source: NarInfoError,
    },
    #[error("{what}: not signed by a trusted key{}; pass --trusted-key NAME:KEY (or KILN_TRUSTED_PUBLIC_KEYS, or [cache] trusted-public-keys in ~/.config/kiln/config.toml), or --trust-unsigned to accept it anyway", signed_by(.signers))]
    Untrusted { what: String, signers: Vec<String> },
    #[error("{what}: skipped: signed by {}, a key that only the repository vouches for ({} lists it); kiln trusts a repository's keys only once you accept them: pass --accept-repo-keys, or add the key to [cache] trusted-public-keys in {}", crate::name::Shown(key), file.display(), config_hint(config.as_deref()))]
    RepoKeyNotAccepted {
        what: String,
        key: String,
        file: PathBuf,
        /// The user's configuration file, where accepted keys are listed.
        config: Option<PathBuf>,
    },
    #[error("{what}: refused: its realisation records an {source}")]
    UnsafeArtifact {
        what: String,
        #[source]
        source: crate::engine::placement::UnsafeArtifact,
    },
    #[error("{what}: refused: it needs {needed} bytes in {}, whose filesystem has {available} bytes free", dir.display())]
    NoRoom {
        what: String,
        dir: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("{what}: refused: {reason}")]
    Integrity { what: String, reason: String },
    #[error("{what}: refused: {reason}")]
    Unsupported { what: String, reason: String },
    #[error("{what}: not in the cache")]
    Missing { what: String },
    #[error("{what} is not built in store {}; run `kiln build` first", store.display())]
    NotBuilt { what: String, store: PathBuf },
    #[error(transparent)]
    Engine(Box<crate::engine::BuildError>),
    #[error("{url}: not a binary cache for /nix/store ({reason})")]
    NotACache { url: String, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}", path.display())]
    Key {
        path: PathBuf,
        #[source]
        source: SigningError,
    },
    #[error("{}: already exists; kiln never overwrites a key", path.display())]
    KeyExists { path: PathBuf },
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tree(crate::hash::tree::TreeError),
    #[error("{file}: [cache] {key}: {reason}")]
    Config {
        file: PathBuf,
        key: String,
        reason: String,
    },
}

impl From<crate::engine::BuildError> for CacheError {
    fn from(e: crate::engine::BuildError) -> Self {
        CacheError::Engine(Box::new(e))
    }
}

fn config_hint(config: Option<&std::path::Path>) -> String {
    match config {
        Some(p) => p.display().to_string(),
        None => "~/.config/kiln/config.toml".to_string(),
    }
}

fn signed_by(signers: &[String]) -> String {
    if signers.is_empty() {
        " (it has no signature)".to_string()
    } else {
        format!(" (signed by {})", signers.join(", "))
    }
}

impl Classify for CacheError {
    fn kind(&self) -> ErrorKind {
        match self {
            CacheError::Untrusted { .. }
            | CacheError::RepoKeyNotAccepted { .. }
            | CacheError::UnsafeArtifact { .. }
            | CacheError::NoRoom { .. }
            | CacheError::Transport(TransportError::TooLarge { .. })
            | CacheError::Transport(TransportError::NotAFile { .. })
            | CacheError::Integrity { .. }
            | CacheError::Unsupported { .. }
            | CacheError::Missing { .. }
            | CacheError::NarInfo { .. } => ErrorKind::CheckFailed,
            CacheError::Transport(TransportError::BadUrl { .. })
            | CacheError::Transport(TransportError::BadPace { .. })
            | CacheError::Key { .. }
            | CacheError::KeyExists { .. }
            | CacheError::NotBuilt { .. }
            | CacheError::Signing(_)
            | CacheError::Config { .. } => ErrorKind::BadInput,
            CacheError::Store(e) => e.kind(),
            CacheError::Engine(e) => e.kind(),
            CacheError::Tree(e) => e.kind(),
            _ => ErrorKind::Internal,
        }
    }
}

/// What a transfer reports while it runs (progress display). Called from
/// several threads.
pub trait Progress: Sync {
    /// `total` items will be transferred.
    fn begin(&self, _total: usize) {}
    /// One item (`what`) is done; `bytes` crossed the wire.
    fn item_done(&self, _what: &str, _bytes: u64) {}
}

/// Reports nothing.
#[derive(Debug, Default)]
pub struct Quiet;
impl Progress for Quiet {}

/// An opened cache: its transport, checked to serve `/nix/store`.
#[derive(Debug)]
pub struct Cache {
    transport: Transport,
}

impl Cache {
    /// Open the cache at `url` for reading: its `nix-cache-info` must exist
    /// and name `/nix/store`.
    pub fn open(url: &CacheUrl) -> Result<Cache, CacheError> {
        Self::open_with(Transport::new(url.clone()))
    }

    pub fn open_with(transport: Transport) -> Result<Cache, CacheError> {
        let text = transport
            .get(layout::CACHE_INFO, 64 << 10)?
            .ok_or_else(|| CacheError::NotACache {
                url: transport.url().to_string(),
                reason: "it has no nix-cache-info".into(),
            })?;
        Self::check_info(&transport, &text)?;
        Ok(Cache { transport })
    }

    /// Open the cache at `url` for writing, creating `nix-cache-info` when
    /// it is missing.
    pub fn create(url: &CacheUrl) -> Result<Cache, CacheError> {
        Self::create_with(Transport::new(url.clone()))
    }

    pub fn create_with(transport: Transport) -> Result<Cache, CacheError> {
        match transport.get(layout::CACHE_INFO, 64 << 10)? {
            Some(text) => Self::check_info(&transport, &text)?,
            None => transport.put(
                layout::CACHE_INFO,
                layout::cache_info_text().as_bytes(),
                "text/x-nix-cache-info",
            )?,
        }
        Ok(Cache { transport })
    }

    fn check_info(transport: &Transport, text: &[u8]) -> Result<(), CacheError> {
        let text = String::from_utf8_lossy(text);
        match layout::cache_info_store_dir(&text) {
            Some(crate::nix::store_path::NIX_STORE_DIR) => Ok(()),
            other => Err(CacheError::NotACache {
                url: transport.url().to_string(),
                reason: format!("its StoreDir is {:?}", other.unwrap_or("missing")),
            }),
        }
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }
}
