//! Store paths of content-addressed *source* paths, exactly as
//! `nix-store --add` names them.
//!
//! A store path's base name is `<hash>-<name>`: `<hash>` is 32 nixbase32
//! characters encoding 20 bytes, computed from the fingerprint
//! `source:sha256:<hex NAR sha256>:/nix/store:<name>`, sha256'd and folded
//! to 20 bytes (`out[i % 20] ^= digest[i]`). The logical store directory is
//! always `/nix/store`, so the hash does not depend on where a kiln store
//! lives on disk and matches real Nix.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use super::base32;

/// The store directory that enters every fingerprint.
pub const NIX_STORE_DIR: &str = "/nix/store";
/// Longest name Nix accepts (a base name is at most 32 + 1 + 211 = 244 bytes).
pub const MAX_NAME_LEN: usize = 211;
/// Length of the hash part of a base name.
pub const HASH_LEN: usize = 32;

/// A malformed store-path name or base name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorePathError {
    #[error("invalid store path name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("invalid store path {path:?}: expected <32 nixbase32 characters>-<name>")]
    Malformed { path: String },
    #[error("invalid store path {path:?}: bad hash part")]
    BadHash {
        path: String,
        #[source]
        source: base32::DecodeError,
    },
}

impl crate::error::Classify for StorePathError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

/// A valid store-path name: 1–211 bytes of `[A-Za-z0-9+-._?=]`, neither `.`
/// nor `..`. (Nix 2.8 accepts other names with a leading dot.)
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePathName(String);

impl StorePathName {
    pub fn new(name: &str) -> Result<Self, StorePathError> {
        let bad = |reason| StorePathError::InvalidName {
            name: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("it is empty"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(bad("it is longer than 211 bytes"));
        }
        if name == "." || name == ".." {
            return Err(bad("it is `.` or `..`"));
        }
        if !name.bytes().all(is_name_byte) {
            return Err(bad("only A-Z a-z 0-9 and + - . _ ? = are allowed"));
        }
        Ok(StorePathName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `b` may appear in a store-path name.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+-._?=".contains(&b)
}

/// The one sanitiser for store-path names: every character a name may not
/// hold becomes `_` (recipe ids with matrix cells, artifact file names,
/// versions). The result may still be rejected by [`StorePathName::new`]
/// (empty, `.`, `..`, too long); that is checked where a path is made.
pub fn sanitize_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && is_name_byte(c as u8) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl fmt::Display for StorePathName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StorePathName {
    type Err = StorePathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StorePathName::new(s)
    }
}

/// A store path's base name `<hash>-<name>`; prints and parses as that string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePath {
    digest: [u8; 20],
    name: StorePathName,
}

impl StorePath {
    /// The path `nix-store --add` gives a tree whose NAR has sha256 `nar_hash`
    /// (no references).
    pub fn from_source<D: AsRef<[u8; 32]> + ?Sized>(
        nar_sha256: &D,
        name: &str,
    ) -> Result<Self, StorePathError> {
        let name = StorePathName::new(name)?;
        let hex = super::base16::encode(nar_sha256.as_ref());
        let fingerprint = format!("source:sha256:{hex}:{NIX_STORE_DIR}:{name}");
        Ok(StorePath {
            digest: fold(&sha2::Sha256::digest(fingerprint.as_bytes()).into()),
            name,
        })
    }

    /// The 20-byte hash part.
    pub fn digest(&self) -> &[u8; 20] {
        &self.digest
    }

    /// The 32-character nixbase32 hash part.
    pub fn hash_part(&self) -> String {
        base32::encode(&self.digest)
    }

    pub fn name(&self) -> &StorePathName {
        &self.name
    }

    /// The full path in Nix's logical store, `/nix/store/<hash>-<name>`.
    pub fn to_nix_path(&self) -> String {
        format!("{NIX_STORE_DIR}/{self}")
    }
}

/// Fold a sha256 to the 20 bytes of a store-path hash.
pub fn fold(digest: &[u8; 32]) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (i, b) in digest.iter().enumerate() {
        out[i % 20] ^= b;
    }
    out
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", base32::encode(&self.digest), self.name)
    }
}

impl FromStr for StorePath {
    type Err = StorePathError;
    /// Parses a base name `<hash>-<name>` (a leading `/nix/store/` is accepted too).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let base = s
            .strip_prefix(NIX_STORE_DIR)
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(s);
        let malformed = || StorePathError::Malformed {
            path: s.to_string(),
        };
        if base.len() < HASH_LEN + 2 || base.as_bytes()[HASH_LEN] != b'-' {
            return Err(malformed());
        }
        let (hash, name) = (&base[..HASH_LEN], &base[HASH_LEN + 1..]);
        let digest =
            base32::decode_array::<20>(hash).map_err(|source| StorePathError::BadHash {
                path: s.to_string(),
                source,
            })?;
        Ok(StorePath {
            digest,
            name: StorePathName::new(name)?,
        })
    }
}

impl serde::Serialize for StorePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for StorePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "f.txt", ".hidden", "a+b-c_d?e=f", &"x".repeat(211)] {
            StorePathName::new(ok).unwrap();
        }
        for bad in ["", ".", "..", "a b", "a/b", "é", &"x".repeat(212)] {
            assert!(StorePathName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parse_print() {
        let s = "if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt";
        let p: StorePath = s.parse().unwrap();
        assert_eq!(p.to_string(), s);
        assert_eq!(p.name().as_str(), "f.txt");
        assert_eq!(p.to_nix_path().parse::<StorePath>().unwrap(), p);
        for bad in [
            "short-x",
            "if2l83kc9xc6imigiw8g3mmvl0sg9cv8_f.txt",
            "if2l83kc9xc6imigiw8g3mmvl0sg9cve-f",
        ] {
            assert!(bad.parse::<StorePath>().is_err(), "{bad}");
        }
    }
}
