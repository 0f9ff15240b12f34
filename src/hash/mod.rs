//! Digests and tree hashing.
//!
//! [`Sha256`] and [`Blake3`] are digest newtypes that print and parse as hex,
//! nixbase32 and SRI (`sha256-<base64>`); their canonical string (`Display`,
//! `FromStr`, serde) is Nix's `sha256:<nixbase32>`.
//!
//! [`tree`] serialises a file or directory as a NAR straight into a hasher —
//! or any writer — without materialising it, reading files ahead in parallel
//! while the single hash stream consumes them in NAR order. This is
//! `nix-hash --type sha256 --base32 PATH`:
//!
//! ```no_run
//! let digest = kiln::hash::tree::nar_sha256(std::path::Path::new("src")).unwrap();
//! println!("{} ({} NAR bytes)", digest.hash.to_nix32(), digest.size);
//! ```

mod digest;
pub mod tree;

pub use digest::{Blake3, DigestParseError, Sha256};

/// Lowercase hex of any digest's bytes ([`crate::nix::base16::encode`]).
pub use crate::nix::base16::encode as hex;
