//! Reading what kiln wrote: `kiln verify`, `kiln provenance`, in-toto
//! statements and `kiln diff`.
//!
//! One test binary per area (see ARCHITECTURE.md, "Tests"): each file
//! below is a module, its tests named `<file>::<test>`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../diff_support/mod.rs"]
mod diff_support;

mod audit_provenance;
mod audit_statement;
mod audit_verify;
mod diff_hostile;
mod diff_pairs;
mod provenance_builds;
