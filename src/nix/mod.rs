//! Nix's wire formats, byte for byte: base16 and nixbase32, the NAR archive
//! format and store-path names. (Binary-cache narinfo files and their
//! signatures carry digests, so they live with the cache, in `cache::narinfo`
//! and `cache::signing`.)
//!
//! This module is pure: it reads and writes through [`std::io::Read`] and
//! [`std::io::Write`] only and never touches the filesystem. It depends on no
//! other kiln module: walking a directory into a NAR (`hash::tree`) and
//! putting paths into a store (`store`) build on it, never the reverse.
//!
//! ```
//! use kiln::nix::{base32, nar::NarWriter, store_path::StorePath};
//! use kiln::hash::Sha256;
//!
//! // The NAR of a single file containing "abc" (FORMATS.md worked example B).
//! let mut nar = NarWriter::new(Vec::new()).unwrap();
//! nar.regular(false, 3).unwrap();
//! nar.contents(b"abc").unwrap();
//! let bytes = nar.finish().unwrap();
//! assert_eq!(bytes.len(), 120);
//! let digest = Sha256::digest(&bytes);
//! assert_eq!(digest.to_nix32(), "0c2jffsl15masdjkw0akr32jl4daplrwaq81lapg84nqai3ip9qi");
//! let path = StorePath::from_source(&digest, "f.txt").unwrap();
//! assert_eq!(path.to_string(), "if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt");
//! assert_eq!(base32::encode(&[0xff]), "7z");
//! ```

pub(crate) mod base16;
pub mod base32;
pub mod nar;

pub mod store_path;
