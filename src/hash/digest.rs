//! Digest newtypes.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

use crate::nix::base32;

/// A digest string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    #[error("invalid {algo} digest {input:?}: expected `{algo}:<nixbase32|hex|base64>` or SRI `{algo}-<base64>`")]
    Malformed { algo: &'static str, input: String },
}

impl crate::error::Classify for DigestParseError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

macro_rules! digest_newtype {
    ($(#[$doc:meta])* $ty:ident, $algo:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty([u8; 32]);

        impl AsRef<[u8; 32]> for $ty {
            fn as_ref(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl $ty {
            /// The algorithm name used in prefixes (`sha256:`, `sha256-`).
            pub const ALGO: &'static str = $algo;

            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                $ty(bytes)
            }
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            /// Lowercase hex (64 characters).
            pub fn to_hex(&self) -> String {
                super::hex(&self.0)
            }
            /// nixbase32 (52 characters).
            pub fn to_nix32(&self) -> String {
                base32::encode(&self.0)
            }
            /// Subresource-integrity form `<algo>-<base64>`.
            pub fn to_sri(&self) -> String {
                format!("{}-{}", $algo, b64().encode(self.0))
            }
            /// Parse the bare digest in any of hex (64), nixbase32 (52) or base64 (44).
            pub fn from_bare(s: &str) -> Result<Self, DigestParseError> {
                let err = || DigestParseError::Malformed {
                    algo: $algo,
                    input: s.to_string(),
                };
                let bytes: Vec<u8> = match s.len() {
                    64 => (0..32)
                        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2).ok_or_else(err)?, 16).map_err(|_| err()))
                        .collect::<Result<_, _>>()?,
                    52 => base32::decode(s).map_err(|_| err())?,
                    44 => b64().decode(s).map_err(|_| err())?,
                    _ => return Err(err()),
                };
                let arr: [u8; 32] = bytes.try_into().map_err(|_| err())?;
                Ok($ty(arr))
            }
        }

        /// `<algo>:<nixbase32>`, as Nix prints hashes in narinfo files.
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}:{}", $algo, self.to_nix32())
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self)
            }
        }

        /// Accepts `<algo>:<nixbase32|hex|base64>` and SRI `<algo>-<base64>`.
        impl FromStr for $ty {
            type Err = DigestParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = || DigestParseError::Malformed {
                    algo: $algo,
                    input: s.to_string(),
                };
                let rest = s.strip_prefix($algo).ok_or_else(err)?;
                if let Some(b) = rest.strip_prefix(':') {
                    $ty::from_bare(b).map_err(|_| err())
                } else if let Some(b) = rest.strip_prefix('-') {
                    let bytes = b64().decode(b).map_err(|_| err())?;
                    Ok($ty(bytes.try_into().map_err(|_| err())?))
                } else {
                    Err(err())
                }
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

digest_newtype!(
    /// A SHA-256 digest.
    Sha256,
    "sha256"
);
digest_newtype!(
    /// A BLAKE3 digest (32 bytes).
    Blake3,
    "blake3"
);

impl Sha256 {
    /// SHA-256 of a byte string.
    pub fn digest(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    /// SHA-256 of everything `r` yields, streamed (memory does not grow
    /// with the input).
    pub fn digest_reader(r: impl std::io::Read) -> std::io::Result<Self> {
        Ok(Self::digest_reader_len(r)?.0)
    }

    /// SHA-256 and length of everything `r` yields, read in 1 MiB blocks
    /// (an 8 KiB copy buffer spends more on system calls than on hashing).
    pub fn digest_reader_len(mut r: impl std::io::Read) -> std::io::Result<(Self, u64)> {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    h.update(&buf[..k]);
                    n += k as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((Sha256(h.finalize().into()), n))
    }

    /// SHA-256 and length of the file at `path`.
    pub fn digest_file(path: &std::path::Path) -> std::io::Result<(Self, u64)> {
        Self::digest_reader_len(std::fs::File::open(path)?)
    }
}

impl Blake3 {
    /// BLAKE3 of a byte string.
    pub fn digest(bytes: &[u8]) -> Self {
        Blake3(*blake3::hash(bytes).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_round_trips() {
        let d = Sha256::digest(b"kiln");
        assert_eq!(d.to_string().parse::<Sha256>().unwrap(), d);
        assert_eq!(d.to_sri().parse::<Sha256>().unwrap(), d);
        assert_eq!(
            format!("sha256:{}", d.to_hex()).parse::<Sha256>().unwrap(),
            d
        );
        assert_eq!(Sha256::from_bare(&d.to_nix32()).unwrap(), d);
        assert_eq!(d.to_hex().len(), 64);
        assert_eq!(d.to_sri().len(), 7 + 44);
        let b = Blake3::digest(b"kiln");
        assert_eq!(b.to_string().parse::<Blake3>().unwrap(), b);
        assert_eq!(b.to_sri().parse::<Blake3>().unwrap(), b);
        for bad in [
            "",
            "sha256:",
            "sha256:xyz",
            "md5:abc",
            "sha256-!!",
            &d.to_nix32(),
        ] {
            assert!(bad.parse::<Sha256>().is_err(), "{bad}");
        }
        assert!(b.to_string().parse::<Sha256>().is_err());
    }
}
