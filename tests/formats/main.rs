//! Formats against their oracles: tar, zip, NAR and derivation goldens, the
//! fuzz corpus, `kiln hash` and Nix's own serialisation.
//!
//! One test binary per area (see ARCHITECTURE.md, "Tests"): each file
//! below is a module, its tests named `<file>::<test>`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../nix_support/mod.rs"]
mod nix_support;

mod archive_tar;
mod archive_zip;
mod fuzz_corpus;
mod golden_derivation;
mod golden_nar;
mod hash_cli;
mod nix_oracle;
