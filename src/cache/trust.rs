//! Which public keys a reader trusts: `--trusted-key` flags and
//! `KILN_TRUSTED_PUBLIC_KEYS` (handled by the command line), and the
//! project's `recipes/release.toml`:
//!
//! ```toml
//! [cache]
//! trusted-public-keys = ["ci.example.org-1:7udNhL099uWGdq2OPWUu/5XTpDM4Nlu5G1QwySRgrZM="]
//! ```
//!
//! The table is optional; a malformed one is bad input naming the file, key
//! and value.

use std::path::Path;

use super::CacheError;
use crate::cache::signing::PublicKey;

/// The `[cache] trusted-public-keys` of `<project>/recipes/release.toml`
/// (empty when the file or the table is absent).
pub fn release_toml_keys(project_root: &Path) -> Result<Vec<PublicKey>, CacheError> {
    let file = project_root.join("recipes/release.toml");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CacheError::Io { path: file, source }),
    };
    parse_keys(&file, &text)
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
}
