//! `.narinfo` files of a Nix binary cache: parse, render, fingerprint, sign.
//!
//! A narinfo describes one store path and where its NAR lies in the cache,
//! as `Key: value` lines. kiln writes them in the order Nix writes them:
//!
//! ```text
//! StorePath: /nix/store/if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt
//! URL: nar/04gqcryzaync3q2r9nfm9013g681z12phpc92l979js49gl5mbjq.nar.xz
//! Compression: xz
//! FileHash: sha256:04gqcryzaync3q2r9nfm9013g681z12phpc92l979js49gl5mbjq
//! FileSize: 124
//! NarHash: sha256:0c2jffsl15masdjkw0akr32jl4daplrwaq81lapg84nqai3ip9qi
//! NarSize: 120
//! References:
//! Sig: test-1:iKbopWK6…
//! CA: fixed:r:sha256:0c2jffsl15masdjkw0akr32jl4daplrwaq81lapg84nqai3ip9qi
//! ```
//!
//! (`References:` keeps its trailing space when empty; `Deriver:` is omitted
//! when there is none.) A signature covers the *fingerprint*
//! `1;<store path>;<NarHash>;<NarSize>;<full reference paths, comma-joined>`,
//! not the file, so URL, compression and file hash may change without
//! re-signing. Parsing is strict where a hostile cache could mislead a
//! reader: a duplicated key, a store path outside `/nix/store`, a URL that is
//! absolute or climbs out of the cache (`..`), or an unparsable hash is an
//! error. Unknown keys are ignored, as Nix does.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use super::signing::{KeyName, SecretKey, Signature, SigningError, TrustedKeys};
use crate::hash::{DigestParseError, Sha256};
use crate::nix::store_path::{StorePath, StorePathError, NIX_STORE_DIR};

/// A narinfo that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NarInfoError {
    #[error("narinfo line {line}: expected `Key: value`")]
    Syntax { line: usize },
    #[error("narinfo: `{key}` appears twice")]
    Duplicate { key: &'static str },
    #[error("narinfo: `{key}` is missing")]
    Missing { key: &'static str },
    #[error("narinfo: {key} {value:?} is invalid")]
    BadValue { key: &'static str, value: String },
    #[error("narinfo: store path {path:?} is not under {NIX_STORE_DIR}/")]
    ForeignStore { path: String },
    #[error("narinfo: URL {url:?} is not a relative path inside the cache")]
    UnsafeUrl { url: String },
    #[error("narinfo: {key}")]
    Path {
        key: &'static str,
        #[source]
        source: StorePathError,
    },
    #[error("narinfo: {key}")]
    Digest {
        key: &'static str,
        #[source]
        source: DigestParseError,
    },
    #[error("narinfo: Sig")]
    Sig {
        #[source]
        source: SigningError,
    },
}

impl crate::error::Classify for NarInfoError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

/// How the NAR file is compressed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Xz,
    Zstd,
    /// Named by the cache but not read by kiln (`bzip2`, `br`, …).
    Other(String),
}

impl Compression {
    /// The file extension after `.nar`: `""`, `".xz"`, `".zst"`.
    pub fn extension(&self) -> &str {
        match self {
            Compression::None => "",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
            Compression::Other(_) => ".unknown",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Other(s) => s,
        })
    }
}

impl FromStr for Compression {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "none" => Compression::None,
            "xz" => Compression::Xz,
            "zstd" => Compression::Zstd,
            other => Compression::Other(other.to_string()),
        })
    }
}

/// One parsed `.narinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfo {
    pub store_path: StorePath,
    /// Relative to the cache root, e.g. `nar/<filehash>.nar.zst`.
    pub url: String,
    pub compression: Compression,
    pub file_hash: Option<Sha256>,
    pub file_size: Option<u64>,
    pub nar_hash: Sha256,
    pub nar_size: u64,
    /// Sorted by base name, without duplicates.
    pub references: Vec<StorePath>,
    pub deriver: Option<StorePath>,
    pub sigs: Vec<Signature>,
    /// The `CA:` field as written (`fixed:r:sha256:<nixbase32>` for source paths).
    pub ca: Option<String>,
}

/// The `CA:` value of a path named by the sha256 of its NAR
/// (`nix-store --add`, and every kiln output).
pub fn source_ca(nar_hash: &Sha256) -> String {
    format!("fixed:r:sha256:{}", nar_hash.to_nix32())
}

fn is_safe_url(url: &str) -> bool {
    !url.is_empty()
        && !url.starts_with('/')
        && url
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && url
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._+/".contains(&b))
}

/// The fields a narinfo may hold once each, in Nix's order.
const KEYS: [&str; 11] = [
    "StorePath",
    "URL",
    "Compression",
    "FileHash",
    "FileSize",
    "NarHash",
    "NarSize",
    "References",
    "Deriver",
    "CA",
    "System",
];

/// A narinfo's known fields by their index in [`KEYS`] (each at most once)
/// and its signatures.
fn split_fields(text: &str) -> Result<([Option<&str>; 11], Vec<Signature>), NarInfoError> {
    let mut fields: [Option<&str>; 11] = [None; 11];
    let mut sigs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .or_else(|| line.strip_suffix(':').map(|k| (k, "")))
            .ok_or(NarInfoError::Syntax { line: i + 1 })?;
        if key == "Sig" {
            sigs.push(
                value
                    .parse::<Signature>()
                    .map_err(|source| NarInfoError::Sig { source })?,
            );
            continue;
        }
        if let Some(k) = KEYS.iter().position(|k| *k == key) {
            if fields[k].replace(value).is_some() {
                return Err(NarInfoError::Duplicate { key: KEYS[k] });
            }
        }
    }
    Ok((fields, sigs))
}

/// The `References` field's store paths (space-separated), in Nix's order.
fn references(v: &str) -> Result<Vec<StorePath>, NarInfoError> {
    let mut references = v
        .split(' ')
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.parse::<StorePath>().map_err(|source| NarInfoError::Path {
                key: "References",
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Nix orders references by their printed base names (not by the
    // hash bytes), in the file and in the fingerprint.
    references.sort_by_cached_key(ToString::to_string);
    references.dedup();
    Ok(references)
}

impl NarInfo {
    /// The bytes a signature covers.
    pub fn fingerprint(&self) -> String {
        let mut refs: Vec<String> = self.references.iter().map(StorePath::to_nix_path).collect();
        refs.sort();
        format!(
            "1;{};{};{};{}",
            self.store_path.to_nix_path(),
            self.nar_hash,
            self.nar_size,
            refs.join(",")
        )
    }

    /// Add `key`'s signature (replacing an earlier one by the same key name).
    pub fn sign(&mut self, key: &SecretKey) {
        let sig = key.sign(self.fingerprint().as_bytes());
        self.sigs.retain(|s| s.name() != key.name());
        self.sigs.push(sig);
    }

    /// The trusted key that signed this narinfo, if any.
    pub fn trusted_by<'a>(&'a self, keys: &TrustedKeys) -> Option<&'a KeyName> {
        keys.verify(self.fingerprint().as_bytes(), &self.sigs)
    }

    /// Parse a narinfo's text.
    pub fn parse(text: &str) -> Result<NarInfo, NarInfoError> {
        let (fields, sigs) = split_fields(text)?;
        let get = |k: usize| fields[k];
        let need = |k: usize| get(k).ok_or(NarInfoError::Missing { key: KEYS[k] });
        let path = |key: &'static str, v: &str| -> Result<StorePath, NarInfoError> {
            let rest = v
                .strip_prefix(NIX_STORE_DIR)
                .and_then(|r| r.strip_prefix('/'))
                .filter(|r| !r.contains('/'))
                .ok_or_else(|| NarInfoError::ForeignStore {
                    path: v.to_string(),
                })?;
            rest.parse()
                .map_err(|source| NarInfoError::Path { key, source })
        };
        let digest = |key: &'static str, v: &str| -> Result<Sha256, NarInfoError> {
            v.parse()
                .map_err(|source| NarInfoError::Digest { key, source })
        };
        let number = |key: &'static str, v: &str| -> Result<u64, NarInfoError> {
            v.parse().map_err(|_| NarInfoError::BadValue {
                key,
                value: v.to_string(),
            })
        };
        let store_path = path("StorePath", need(0)?)?;
        let url = need(1)?.to_string();
        if !is_safe_url(&url) {
            return Err(NarInfoError::UnsafeUrl { url });
        }
        // Nix's default when the field is absent.
        let compression = get(2)
            .unwrap_or("bzip2")
            .parse()
            .unwrap_or(Compression::None);
        let file_hash = get(3).map(|v| digest("FileHash", v)).transpose()?;
        let file_size = get(4).map(|v| number("FileSize", v)).transpose()?;
        let nar_hash = digest("NarHash", need(5)?)?;
        let nar_size = number("NarSize", need(6)?)?;
        let references = references(get(7).unwrap_or(""))?;
        let deriver = match get(8) {
            None | Some("") | Some("unknown-deriver") => None,
            Some(d) => Some(d.parse().map_err(|source| NarInfoError::Path {
                key: "Deriver",
                source,
            })?),
        };
        Ok(NarInfo {
            store_path,
            url,
            compression,
            file_hash,
            file_size,
            nar_hash,
            nar_size,
            references,
            deriver,
            sigs,
            ca: get(9).map(str::to_string),
        })
    }

    /// The narinfo's text, in Nix's field order.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "StorePath: {}", self.store_path.to_nix_path());
        let _ = writeln!(s, "URL: {}", self.url);
        let _ = writeln!(s, "Compression: {}", self.compression);
        if let Some(h) = &self.file_hash {
            let _ = writeln!(s, "FileHash: {h}");
        }
        if let Some(n) = self.file_size {
            let _ = writeln!(s, "FileSize: {n}");
        }
        let _ = writeln!(s, "NarHash: {}", self.nar_hash);
        let _ = writeln!(s, "NarSize: {}", self.nar_size);
        let mut refs: Vec<String> = self.references.iter().map(ToString::to_string).collect();
        refs.sort();
        let _ = writeln!(s, "References: {}", refs.join(" "));
        if let Some(d) = &self.deriver {
            let _ = writeln!(s, "Deriver: {d}");
        }
        for sig in &self.sigs {
            let _ = writeln!(s, "Sig: {sig}");
        }
        if let Some(ca) = &self.ca {
            let _ = writeln!(s, "CA: {ca}");
        }
        s
    }
}

impl FromStr for NarInfo {
    type Err = NarInfoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NarInfo::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::signing::PublicKey;

    // Written by Nix 2.8: `nix store sign --key-file k.sec` of the path added
    // by `nix-store --add f.txt` ("abc"), then `nix copy --to file://…`.
    const NIX: &str = "StorePath: /nix/store/if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt
URL: nar/04gqcryzaync3q2r9nfm9013g681z12phpc92l979js49gl5mbjq.nar.xz
Compression: xz
FileHash: sha256:04gqcryzaync3q2r9nfm9013g681z12phpc92l979js49gl5mbjq
FileSize: 124
NarHash: sha256:0c2jffsl15masdjkw0akr32jl4daplrwaq81lapg84nqai3ip9qi
NarSize: 120
References: 
Sig: test-1:iKbopWK6AbKEmy0JgJ75Yv4hck8AztMmm6yVJs+Ofme+bRlXKsf/GB3u4oNL/KI3J0GvAw3sSkKvFM762vmRBA==
CA: fixed:r:sha256:0c2jffsl15masdjkw0akr32jl4daplrwaq81lapg84nqai3ip9qi
";
    const PUBLIC: &str = "test-1:7udNhL099uWGdq2OPWUu/5XTpDM4Nlu5G1QwySRgrZM=";

    #[test]
    fn nix_written_narinfo_round_trips_and_verifies() {
        let info = NarInfo::parse(NIX).unwrap();
        assert_eq!(info.render(), NIX);
        assert_eq!(info.compression, Compression::Xz);
        assert_eq!(info.nar_size, 120);
        assert_eq!(info.ca.as_deref(), Some(source_ca(&info.nar_hash).as_str()));
        assert_eq!(
            StorePath::from_source(&info.nar_hash, "f.txt").unwrap(),
            info.store_path
        );
        let keys = TrustedKeys::new([PUBLIC.parse::<PublicKey>().unwrap()]);
        assert_eq!(info.trusted_by(&keys).unwrap().as_str(), "test-1");
        // Any change to a fingerprinted field breaks the signature.
        let mut altered = info.clone();
        altered.nar_size = 121;
        assert!(altered.trusted_by(&keys).is_none());
        // URL and compression are not signed.
        let mut moved = info.clone();
        moved.url = "nar/x.nar".into();
        assert!(moved.trusted_by(&keys).is_some());
    }

    #[test]
    fn fingerprint_joins_sorted_full_reference_paths() {
        let mut info = NarInfo::parse(NIX).unwrap();
        info.references = vec![
            "if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt".parse().unwrap(),
            "4d09fvfc9jmlskq1fkz4y2s73fxrj850-d".parse().unwrap(),
        ];
        let again = NarInfo::parse(&info.render()).unwrap();
        assert_eq!(
            again.fingerprint(),
            "1;/nix/store/if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt;sha256:0c2jffsl15masdjkw0akr32jl4daplrwaq81lapg84nqai3ip9qi;120;/nix/store/4d09fvfc9jmlskq1fkz4y2s73fxrj850-d,/nix/store/if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt"
        );
    }

    #[test]
    fn hostile_fields_are_refused() {
        let cases = [
            ("URL: nar/", "URL: /etc/passwd\nX: nar/"),
            ("URL: nar/", "URL: ../../x/"),
            ("URL: nar/", "URL: http://evil/"),
            ("/nix/store/if2l", "/tmp/store/if2l"),
            ("NarSize: 120", "NarSize: -1"),
            ("NarSize: 120", "NarSize: 120\nNarSize: 121"),
            ("NarHash: sha256:0c2", "NarHash: md5:0c2"),
            ("Sig: test-1:", "Sig: test-1:short"),
        ];
        for (from, to) in cases {
            let text = NIX.replacen(from, to, 1);
            assert!(NarInfo::parse(&text).is_err(), "{to}");
        }
        assert!(matches!(
            NarInfo::parse(&NIX.replace("NarSize: 120\n", "")),
            Err(NarInfoError::Missing { key: "NarSize" })
        ));
    }

    #[test]
    fn missing_compression_means_bzip2_as_in_nix() {
        let info = NarInfo::parse(&NIX.replace("Compression: xz\n", "")).unwrap();
        assert_eq!(info.compression, Compression::Other("bzip2".into()));
    }
}
