//! Key files: `kiln cache keygen` writes `PREFIX.secret` and `PREFIX.public`
//! exactly as `nix-store --generate-binary-cache-key NAME SECRET PUBLIC`
//! does (one `NAME:BASE64` line without a newline each), and push reads the
//! secret back.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use super::CacheError;
use crate::cache::signing::{PublicKey, SecretKey};

/// `PREFIX.secret` and `PREFIX.public`.
pub fn key_files(prefix: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    (with(".secret"), with(".public"))
}

/// Generate a key named `name`; write the secret (mode 0600) and public
/// files next to `prefix`. Existing files are never overwritten.
pub fn keygen(name: &str, prefix: &Path) -> Result<(PublicKey, PathBuf, PathBuf), CacheError> {
    let key = SecretKey::generate(name)?;
    let (secret, public) = key_files(prefix);
    for p in [&secret, &public] {
        if std::fs::symlink_metadata(p).is_ok() {
            return Err(CacheError::KeyExists { path: p.clone() });
        }
    }
    write_new(&secret, key.to_string().as_bytes(), 0o600)?;
    write_new(&public, key.public().to_string().as_bytes(), 0o644)?;
    Ok((key.public(), secret, public))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CacheError> {
    let io = |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Read a secret key file (as written by keygen or by Nix).
pub fn read_secret_key(path: &Path) -> Result<SecretKey, CacheError> {
    let text = std::fs::read_to_string(path).map_err(|source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.parse().map_err(|source| CacheError::Key {
        path: path.to_path_buf(),
        source,
    })
}
