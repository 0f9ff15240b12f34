//! The store and binary caches: the store API and CLI, caches between
//! machines, over HTTP, against Nix, and their integrity checks.
//!
//! One test binary per area (see ARCHITECTURE.md, "Tests"): each file
//! below is a module, its tests named `<file>::<test>`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../nix_support/mod.rs"]
mod nix_support;

mod cache_build;
mod cache_http;
mod cache_integrity;
mod cache_nix;
mod store_api;
mod store_cli;
