//! Where things lie in a cache, and kiln's own record in it.
//!
//! ```text
//! nix-cache-info                     StoreDir: /nix/store
//! <hash>.narinfo                     one per store path (see crate::cache::narinfo)
//! nar/<filehash>.nar[.zst|.xz]       the (compressed) NAR; <filehash> = nixbase32 sha256 of the file
//! realisations/<drv>.json            kiln: derivation hash -> store path, signed
//! ```
//!
//! The first three are Nix's binary-cache layout, so `nix copy --from` and
//! `nix path-info --store` read a kiln cache. `realisations/<drv>.json` is
//! kiln's: it lets a reader learn a derivation's output without building it.
//! Its signature covers the fingerprint
//!
//! ```text
//! kiln-realisation-1;<drv>;/nix/store/<hash>-<name>;sha256:<nar hash>;<nar size>;sha256:<hex of meta>;sha256:<hex of derivation>;<provenance>
//! ```
//!
//! where `meta` is the compact JSON of the `meta` field, `derivation` the
//! canonical derivation text and `<provenance>` `sha256:<hex>` of the
//! output's in-toto statement or `-` when there is none, so no field can
//! change without breaking it.
//! (Nix's own `realisations/<drv>!out.doi` files are for content-addressed
//! Nix derivations and are not written.)

use serde::{Deserialize, Serialize};

use crate::cache::signing::{KeyName, SecretKey, Signature, TrustedKeys};
use crate::hash::Sha256;
use crate::nix::store_path::{StorePath, NIX_STORE_DIR};

/// The `nix-cache-info` kiln writes.
pub const CACHE_INFO: &str = "nix-cache-info";

/// Contents of `nix-cache-info` for a cache kiln creates.
pub fn cache_info_text() -> String {
    format!("StoreDir: {NIX_STORE_DIR}\n")
}

/// The `StoreDir:` a `nix-cache-info` names, if any.
pub fn cache_info_store_dir(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.strip_prefix("StoreDir:"))
        .map(str::trim)
}

/// `<hash>.narinfo`.
pub fn narinfo_key(path: &StorePath) -> String {
    format!("{}.narinfo", path.hash_part())
}

/// `realisations/<drv>.json`.
pub fn realisation_key(drv: &str) -> String {
    format!("realisations/{drv}.json")
}

/// Whether `drv` is a derivation name kiln accepts (the store's own rule:
/// 1-200 of `A-Z a-z 0-9 + - . _`, not starting with `.`). Checked before a
/// name read from anywhere becomes part of a key.
pub fn is_drv_name(drv: &str) -> bool {
    !drv.is_empty()
        && drv.len() <= 200
        && !drv.starts_with('.')
        && drv
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._".contains(&b))
}

/// kiln's record `realisations/<drv>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheRealisation {
    pub drv: String,
    /// `/nix/store/<hash>-<name>`.
    pub out_path: String,
    pub nar_hash: Sha256,
    pub nar_size: u64,
    /// What the engine recorded with the realisation (recipe, artifacts).
    pub meta: crate::store::RealisationMeta,
    /// The canonical derivation text.
    pub derivation: String,
    /// The output's provenance statement (in-toto JSON), if the store has one.
    #[serde(default)]
    pub provenance: Option<String>,
    #[serde(default)]
    pub signatures: Vec<Signature>,
}

impl CacheRealisation {
    /// The bytes a signature covers.
    pub fn fingerprint(&self) -> String {
        let meta = serde_json::to_vec(&self.meta).expect("metadata serialises");
        let provenance = match &self.provenance {
            Some(p) => format!("sha256:{}", Sha256::digest(p.as_bytes()).to_hex()),
            None => "-".to_string(),
        };
        format!(
            "kiln-realisation-1;{};{};{};{};sha256:{};sha256:{};{provenance}",
            self.drv,
            self.out_path,
            self.nar_hash,
            self.nar_size,
            Sha256::digest(&meta).to_hex(),
            Sha256::digest(self.derivation.as_bytes()).to_hex()
        )
    }

    /// The store path it points at, if `out_path` is one under `/nix/store/`.
    pub fn store_path(&self) -> Option<StorePath> {
        self.out_path
            .strip_prefix(NIX_STORE_DIR)?
            .strip_prefix('/')
            .filter(|r| !r.contains('/'))?
            .parse()
            .ok()
    }

    pub fn sign(&mut self, key: &SecretKey) {
        let sig = key.sign(self.fingerprint().as_bytes());
        self.signatures.retain(|s| s.name() != key.name());
        self.signatures.push(sig);
    }

    pub fn trusted_by<'a>(&'a self, keys: &TrustedKeys) -> Option<&'a KeyName> {
        keys.verify(self.fingerprint().as_bytes(), &self.signatures)
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("realisations serialise");
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CacheRealisation {
        CacheRealisation {
            drv: "abc123".into(),
            out_path: "/nix/store/if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt".into(),
            nar_hash: "sha256:0c2jffsl15masdjkw0akr32jl4daplrwaq81lapg84nqai3ip9qi"
                .parse()
                .unwrap(),
            nar_size: 120,
            meta: serde_json::from_value(serde_json::json!({"recipe": "r", "surface": "tarball",
                "artifacts": [{"file": "f.txt", "path": "", "sha256": "00", "size": 1}]}))
            .unwrap(),
            derivation: "{\"surface\":\"tarball\"}".into(),
            provenance: Some("{\"_type\":\"https://in-toto.io/Statement/v1\"}".into()),
            signatures: vec![],
        }
    }

    #[test]
    fn signed_realisations_survive_a_round_trip_and_nothing_else() {
        let key = SecretKey::generate("k-1").unwrap();
        let trusted = TrustedKeys::new([key.public()]);
        let mut r = sample();
        assert!(r.trusted_by(&trusted).is_none());
        r.sign(&key);
        let back: CacheRealisation = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(back.trusted_by(&trusted).unwrap().as_str(), "k-1");
        assert_eq!(
            back.store_path().unwrap().to_string(),
            "if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt"
        );
        let mut m = back.clone();
        m.meta.recipe = "other".into();
        assert!(m.trusted_by(&trusted).is_none());
        let mut d = back.clone();
        d.derivation.push(' ');
        assert!(d.trusted_by(&trusted).is_none());
        let mut v = back.clone();
        v.provenance = None;
        assert!(v.trusted_by(&trusted).is_none());
        let mut p = back;
        p.out_path = "/nix/store/4d09fvfc9jmlskq1fkz4y2s73fxrj850-d".into();
        assert!(p.trusted_by(&trusted).is_none());
    }

    #[test]
    fn keys_and_names() {
        let p: StorePath = "if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt".parse().unwrap();
        assert_eq!(narinfo_key(&p), "if2l83kc9xc6imigiw8g3mmvl0sg9cv8.narinfo");
        assert!(is_drv_name("0abc.def"));
        for bad in ["", ".x", "a/b", "..", "a b"] {
            assert!(!is_drv_name(bad), "{bad}");
        }
        assert_eq!(
            cache_info_store_dir("WantMassQuery: 1\nStoreDir: /nix/store\n"),
            Some("/nix/store")
        );
    }
}
