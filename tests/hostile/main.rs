//! Hostile input of every kind (docs/security.md): each file tests one group
//! of defences; none of these may be weakened.
//!
//! One test binary per area (see ARCHITECTURE.md, "Tests"): each file
//! below is a module, its tests named `<file>::<test>`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../diff_support/mod.rs"]
mod diff_support;

mod hostile_audit;
mod hostile_backend;
mod hostile_cache;
mod hostile_dist;
mod hostile_engine;
mod hostile_names;
mod hostile_oci;
mod hostile_sandbox;
mod hostile_store;
mod hostile_tree;
mod hostile_versions;
