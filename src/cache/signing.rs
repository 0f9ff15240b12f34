//! Nix's binary-cache keys and signatures: ed25519 with a key name.
//!
//! Every value is `<name>:<base64>`, exactly as
//! `nix-store --generate-binary-cache-key NAME SECRET PUBLIC` writes them:
//!
//! ```text
//! secret key   test-1:<base64 of 64 bytes: the 32-byte seed, then the 32-byte public key>
//! public key   test-1:<base64 of the 32-byte public key>
//! signature    test-1:<base64 of the 64-byte ed25519 signature>
//! ```
//!
//! A signature is *by* a key when the names are equal and the ed25519
//! signature verifies under that key's public half. What is signed is the
//! caller's business (a narinfo fingerprint, see [`super::narinfo`]).
//! Key names are 1–128 bytes without `:` or whitespace (Nix itself only
//! forbids an empty name; a colon or a space would make the files ambiguous).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use ed25519_dalek::{Signer as _, Verifier as _};

/// A key, signature or key name that does not parse, or no randomness.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("invalid key name {name:?}: use 1-128 characters, no `:` and no whitespace")]
    BadName { name: String },
    #[error("invalid {what} {input:?}: expected `<name>:<base64 of {len} bytes>`")]
    Malformed {
        what: &'static str,
        input: String,
        len: usize,
    },
    #[error("invalid secret key {name:?}: its public half does not match its seed")]
    Inconsistent { name: String },
    #[error("no randomness for a new key: {reason}")]
    Random { reason: String },
}

impl crate::error::Classify for SigningError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            SigningError::Random { .. } => crate::error::ErrorKind::Internal,
            _ => crate::error::ErrorKind::BadInput,
        }
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// A key name, such as `cache.example.org-1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyName(String);

impl KeyName {
    pub fn new(name: &str) -> Result<Self, SigningError> {
        let ok = !name.is_empty()
            && name.len() <= 128
            && !name.contains(':')
            && !name.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(KeyName(name.to_string()))
        } else {
            Err(SigningError::BadName {
                name: name.to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Split `name:base64` and decode exactly `N` bytes.
fn split<const N: usize>(s: &str, what: &'static str) -> Result<(KeyName, [u8; N]), SigningError> {
    let malformed = || SigningError::Malformed {
        what,
        input: s.to_string(),
        len: N,
    };
    let (name, data) = s.trim().split_once(':').ok_or_else(malformed)?;
    let name = KeyName::new(name)?;
    let bytes = b64().decode(data).map_err(|_| malformed())?;
    let arr: [u8; N] = bytes.try_into().map_err(|_| malformed())?;
    Ok((name, arr))
}

/// A secret signing key (`name:base64(seed ‖ public)`).
#[derive(Clone)]
pub struct SecretKey {
    name: KeyName,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}:…)", self.name)
    }
}

impl SecretKey {
    /// A new random key named `name` (from the operating system's generator).
    pub fn generate(name: &str) -> Result<Self, SigningError> {
        let name = KeyName::new(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| SigningError::Random {
            reason: e.to_string(),
        })?;
        Ok(SecretKey {
            name,
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Sign `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature {
            name: self.name.clone(),
            bytes: self.key.sign(message).to_bytes(),
        }
    }
}

/// Prints the secret file's contents (no newline, as Nix writes it).
impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.name,
            b64().encode(self.key.to_keypair_bytes())
        )
    }
}

impl FromStr for SecretKey {
    type Err = SigningError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, bytes) = split::<64>(s, "secret key")?;
        let key = ed25519_dalek::SigningKey::from_keypair_bytes(&bytes).map_err(|_| {
            SigningError::Inconsistent {
                name: name.to_string(),
            }
        })?;
        Ok(SecretKey { name, key })
    }
}

/// A public key (`name:base64(32 bytes)`), as listed in Nix's
/// `trusted-public-keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: KeyName,
    key: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// Whether `sig` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], sig: &Signature) -> bool {
        sig.name == self.name
            && self
                .key
                .verify(message, &ed25519_dalek::Signature::from_bytes(&sig.bytes))
                .is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, b64().encode(self.key.as_bytes()))
    }
}

impl FromStr for PublicKey {
    type Err = SigningError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, bytes) = split::<32>(s, "public key")?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| {
            SigningError::Malformed {
                what: "public key",
                input: s.to_string(),
                len: 32,
            }
        })?;
        Ok(PublicKey { name, key })
    }
}

/// A signature (`name:base64(64 bytes)`), as in a narinfo's `Sig:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    name: KeyName,
    bytes: [u8; 64],
}

impl Signature {
    pub fn name(&self) -> &KeyName {
        &self.name
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, b64().encode(self.bytes))
    }
}

impl FromStr for Signature {
    type Err = SigningError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, bytes) = split::<64>(s, "signature")?;
        Ok(Signature { name, bytes })
    }
}

impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The keys a reader trusts; a message is trusted when one of its signatures
/// is by one of them.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut out = TrustedKeys::default();
        for k in keys {
            out.add(k);
        }
        out
    }

    /// Add `key` (a duplicate is ignored).
    pub fn add(&mut self, key: PublicKey) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The name of the first trusted key that signed `message` among `sigs`.
    pub fn verify<'a>(&self, message: &[u8], sigs: &'a [Signature]) -> Option<&'a KeyName> {
        sigs.iter()
            .find(|sig| self.keys.iter().any(|k| k.verifies(message, sig)))
            .map(Signature::name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written by `nix-store --generate-binary-cache-key test-1 k.sec k.pub`
    // (Nix 2.8); SIG by `nix store sign --key-file k.sec` of
    // /nix/store/if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt ("abc", no references).
    const SECRET: &str = "test-1:HrQzoLwLib8WAH8YBtksHRoxJyTG3yKfgDwEfOkYvEzu502EvT325YZ2rY49ZS7/ldOkMzg2W7kbVDDJJGCtkw==";
    const PUBLIC: &str = "test-1:7udNhL099uWGdq2OPWUu/5XTpDM4Nlu5G1QwySRgrZM=";
    const SIG: &str = "test-1:iKbopWK6AbKEmy0JgJ75Yv4hck8AztMmm6yVJs+Ofme+bRlXKsf/GB3u4oNL/KI3J0GvAw3sSkKvFM762vmRBA==";
    const FINGERPRINT: &str = "1;/nix/store/if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt;sha256:0c2jffsl15masdjkw0akr32jl4daplrwaq81lapg84nqai3ip9qi;120;";

    #[test]
    fn keys_written_by_nix_round_trip_and_sign_like_nix() {
        let sk: SecretKey = SECRET.parse().unwrap();
        assert_eq!(sk.to_string(), SECRET);
        assert_eq!(sk.public().to_string(), PUBLIC);
        // ed25519 is deterministic: the same key signs the same bytes alike.
        assert_eq!(sk.sign(FINGERPRINT.as_bytes()).to_string(), SIG);
        let pk: PublicKey = PUBLIC.parse().unwrap();
        let sig: Signature = SIG.parse().unwrap();
        assert!(pk.verifies(FINGERPRINT.as_bytes(), &sig));
        assert!(!pk.verifies(b"1;other", &sig));
        let trusted = TrustedKeys::new([pk]);
        assert_eq!(
            trusted
                .verify(FINGERPRINT.as_bytes(), &[sig])
                .unwrap()
                .as_str(),
            "test-1"
        );
    }

    #[test]
    fn a_signature_under_another_name_is_not_by_the_key() {
        let pk: PublicKey = PUBLIC.parse().unwrap();
        let renamed: Signature = SIG.replacen("test-1", "test-2", 1).parse().unwrap();
        assert!(!pk.verifies(FINGERPRINT.as_bytes(), &renamed));
    }

    #[test]
    fn generated_keys_parse_back() {
        let sk = SecretKey::generate("ci.example-1").unwrap();
        let again: SecretKey = sk.to_string().parse().unwrap();
        assert_eq!(again.public(), sk.public());
        let sig = again.sign(b"m");
        assert!(sk.public().verifies(b"m", &sig));
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            "nocolon",
            ":AAAA",
            "a b:AAAA",
            "k:not base64!",
            "k:AAAA",
        ] {
            assert!(bad.parse::<PublicKey>().is_err(), "{bad}");
            assert!(bad.parse::<Signature>().is_err(), "{bad}");
            assert!(bad.parse::<SecretKey>().is_err(), "{bad}");
        }
        // A secret whose public half was altered.
        let mut bytes = b64().decode(SECRET.split_once(':').unwrap().1).unwrap();
        bytes[63] ^= 1;
        let tampered = format!("test-1:{}", b64().encode(bytes));
        assert!(matches!(
            tampered.parse::<SecretKey>(),
            Err(SigningError::Inconsistent { .. })
        ));
    }
}
