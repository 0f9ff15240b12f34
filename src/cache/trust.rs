//! Which public keys a reader trusts, and whose word each one is.
//!
//! - **The user's word**, trusted: `--trusted-key` flags and
//!   `KILN_TRUSTED_PUBLIC_KEYS` (handled by the command line), the public
//!   half of the user's own `--signing-key`, and the user's configuration
//!   file ([`user_config_file`]), like `trusted-public-keys` in Nix's
//!   `nix.conf`:
//!
//!   ```toml
//!   # ~/.config/kiln/config.toml
//!   [cache]
//!   trusted-public-keys = ["ci.example.org-1:7udNhL099uWGdq2OPWUu/5XTpDM4Nlu5G1QwySRgrZM="]
//!   ```
//!
//! - **The repository's word**, not trusted until the user accepts it: the
//!   same table in the project's `recipes/release.toml`. Whoever wrote the
//!   repository chose these keys (like a flake's `nixConfig`); a clone must
//!   not make its author's cache a source of what the user runs.
//!   `--accept-repo-keys` accepts them for one command; listing them in the
//!   user's file accepts them for good. An entry signed by a key that only
//!   the repository vouches for is refused with [`RepoKeys`]' file and the
//!   key named, and how to accept it.
//!
//! Either table is optional; a malformed one is bad input naming the file,
//! key and value.

use std::path::{Path, PathBuf};

use super::CacheError;
use crate::cache::signing::{PublicKey, TrustedKeys};

/// The user's configuration file: `$XDG_CONFIG_HOME/kiln/config.toml` when
/// `XDG_CONFIG_HOME` is an absolute path, else `~/.config/kiln/config.toml`;
/// `None` when neither is set.
pub(crate) fn user_config_file() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| Path::new(x).is_absolute()) {
        return Some(PathBuf::from(x).join("kiln/config.toml"));
    }
    std::env::var_os("HOME")
        .filter(|h| Path::new(h).is_absolute())
        .map(|h| PathBuf::from(h).join(".config/kiln/config.toml"))
}

/// The `[cache] trusted-public-keys` of the user's configuration file
/// (empty when it or the table is absent). The user's own file, so it may
/// be a link (dotfile managers link them).
pub(crate) fn user_keys(file: &Path) -> Result<Vec<PublicKey>, CacheError> {
    match std::fs::read_to_string(file) {
        Ok(text) => parse_keys(file, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(CacheError::Io {
            path: file.to_path_buf(),
            source,
        }),
    }
}

/// Keys a repository proposes and the user has not accepted.
#[derive(Debug, Clone, Default)]
pub struct RepoKeys {
    /// The file that lists them (`<project>/recipes/release.toml`).
    pub file: PathBuf,
    pub keys: TrustedKeys,
}

/// The `[cache] trusted-public-keys` of `<project>/recipes/release.toml`
/// (empty when the file or the table is absent). The file came with the
/// project: it is read as a regular file, never through a link.
pub(crate) fn release_toml_keys(project_root: &Path) -> Result<RepoKeys, CacheError> {
    let file = project_root.join(crate::version::policy::POLICY_PATH);
    let text = match crate::fsutil::read_regular_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(RepoKeys {
                file,
                keys: TrustedKeys::default(),
            })
        }
        Err(source) => return Err(CacheError::Io { path: file, source }),
    };
    let keys = TrustedKeys::new(parse_keys(&file, &text)?);
    Ok(RepoKeys { file, keys })
}

fn parse_keys(file: &Path, text: &str) -> Result<Vec<PublicKey>, CacheError> {
    let bad = |key: &str, reason: String| CacheError::Config {
        file: file.to_path_buf(),
        key: key.to_string(),
        reason,
    };
    let doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| bad("(file)", e.message().to_string()))?;
    let Some(cache) = doc.get("cache") else {
        return Ok(Vec::new());
    };
    let table = cache
        .as_table_like()
        .ok_or_else(|| bad("cache", "expected a table".into()))?;
    let mut keys = Vec::new();
    for (k, v) in table.iter() {
        if k != "trusted-public-keys" {
            return Err(bad(k, "unknown key (expected trusted-public-keys)".into()));
        }
        let arr = v
            .as_array()
            .ok_or_else(|| bad(k, "expected an array of \"NAME:BASE64\" strings".into()))?;
        for item in arr.iter() {
            let s = item
                .as_str()
                .ok_or_else(|| bad(k, format!("{item} is not a string")))?;
            keys.push(s.parse::<PublicKey>().map_err(|e| bad(k, e.to_string()))?);
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_the_release_policy() {
        let f = Path::new("recipes/release.toml");
        let ok = "[version]\nsource = \"cargo\"\n[cache]\ntrusted-public-keys = [\"test-1:7udNhL099uWGdq2OPWUu/5XTpDM4Nlu5G1QwySRgrZM=\"]\n";
        let keys = parse_keys(f, ok).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].name().as_str(), "test-1");
        assert!(parse_keys(f, "[version]\n").unwrap().is_empty());
        for bad in [
            "[cache]\ntrusted-public-keys = \"x\"\n",
            "[cache]\ntrusted-public-keys = [\"nocolon\"]\n",
            "[cache]\nurl = \"x\"\n",
            "cache = 3\n",
        ] {
            let e = parse_keys(f, bad).unwrap_err();
            assert!(e.to_string().contains("recipes/release.toml"), "{e}");
        }
    }

    #[test]
    fn a_missing_user_file_holds_no_keys() {
        let dir = tempfile::tempdir().unwrap();
        assert!(user_keys(&dir.path().join("config.toml"))
            .unwrap()
            .is_empty());
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            "[cache]\ntrusted-public-keys = [\"me-1:7udNhL099uWGdq2OPWUu/5XTpDM4Nlu5G1QwySRgrZM=\"]\n",
        )
        .unwrap();
        assert_eq!(user_keys(&f).unwrap()[0].name().as_str(), "me-1");
    }
}
