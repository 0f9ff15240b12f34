//! nixbase32: Nix's base-32 encoding of hashes.
//!
//! The alphabet is `0123456789abcdfghijklmnpqrsvwxyz` (no `e`, `o`, `t`, `u`)
//! and the bit order is Nix's own, not RFC 4648: the *last* character encodes
//! the lowest five bits of the first byte. `n` bytes take `ceil(8n/5)`
//! characters: 20 bytes (a store-path hash) → 32 characters, 32 bytes (a
//! sha256) → 52.

/// Nix's base-32 alphabet.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// A string that is not valid nixbase32 for the expected length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid nixbase32 character {ch:?} at position {pos} in {input:?}")]
    InvalidChar { input: String, ch: char, pos: usize },
    #[error("nixbase32 string {input:?} has length {len}, which no byte string encodes to")]
    InvalidLength { input: String, len: usize },
    #[error("nixbase32 string {input:?} has non-zero padding bits")]
    NonZeroPadding { input: String },
}

impl crate::error::Classify for DecodeError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

/// Length of the encoding of `n` bytes.
pub const fn encoded_len(n: usize) -> usize {
    (n * 8).div_ceil(5)
}

/// Number of bytes a nixbase32 string of `len` characters decodes to.
pub const fn decoded_len(len: usize) -> usize {
    len * 5 / 8
}

/// Encode bytes as nixbase32.
pub fn encode(bytes: &[u8]) -> String {
    let len = encoded_len(bytes.len());
    let mut out = String::with_capacity(len);
    for i in 0..len {
        let b = (len - 1 - i) * 5;
        let (j, k) = (b / 8, b % 8);
        let mut c = bytes[j] >> k;
        if k > 3 && j + 1 < bytes.len() {
            c |= bytes[j + 1] << (8 - k);
        }
        out.push(ALPHABET[usize::from(c & 31)] as char);
    }
    out
}

fn digit(c: u8) -> Option<u8> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u8)
}

/// Decode a nixbase32 string. Its length must be the encoding length of some
/// byte count, and the unused high bits must be zero.
pub fn decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    let input = s.as_bytes();
    let n = decoded_len(input.len());
    if encoded_len(n) != input.len() {
        return Err(DecodeError::InvalidLength {
            input: s.to_string(),
            len: input.len(),
        });
    }
    let mut out = vec![0u8; n];
    for (i, &c) in input.iter().rev().enumerate() {
        let d = digit(c).ok_or_else(|| DecodeError::InvalidChar {
            input: s.to_string(),
            ch: s[input.len() - 1 - i..].chars().next().unwrap_or('?'),
            pos: input.len() - 1 - i,
        })?;
        let b = i * 5;
        let (j, k) = (b / 8, b % 8);
        // `d << k` may exceed a byte: the low part goes to byte j, the rest to j+1.
        let wide = u16::from(d) << k;
        if j < n {
            out[j] |= wide as u8;
        } else if wide as u8 != 0 {
            return Err(DecodeError::NonZeroPadding {
                input: s.to_string(),
            });
        }
        let carry = (wide >> 8) as u8;
        if j + 1 < n {
            out[j + 1] |= carry;
        } else if carry != 0 {
            return Err(DecodeError::NonZeroPadding {
                input: s.to_string(),
            });
        }
    }
    Ok(out)
}

/// Decode into a fixed-size array (e.g. 20 or 32 bytes).
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], DecodeError> {
    if s.len() != encoded_len(N) {
        return Err(DecodeError::InvalidLength {
            input: s.to_string(),
            len: s.len(),
        });
    }
    let v = decode(s)?;
    let mut out = [0u8; N];
    out.copy_from_slice(&v);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(encoded_len(20), 32);
        assert_eq!(encoded_len(32), 52);
        assert_eq!(encoded_len(0), 0);
        assert_eq!(encode(&[]), "");
    }

    #[test]
    fn round_trip_all_lengths() {
        for n in 0..70usize {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8 ^ 0xa5).collect();
            let s = encode(&bytes);
            assert_eq!(s.len(), encoded_len(n));
            assert_eq!(decode(&s).unwrap(), bytes, "n={n}");
        }
        let ones = [0xffu8; 32];
        assert_eq!(decode(&encode(&ones)).unwrap(), ones);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            decode("e0"),
            Err(DecodeError::InvalidChar {
                ch: 'e',
                pos: 0,
                ..
            })
        ));
        assert!(matches!(
            decode("000"),
            Err(DecodeError::InvalidLength { .. })
        ));
        // One byte encodes to two characters; the top char may only use 3 bits.
        assert!(matches!(
            decode("z0"),
            Err(DecodeError::NonZeroPadding { .. })
        ));
        assert_eq!(decode("7z").unwrap(), vec![0xff]);
    }
}
