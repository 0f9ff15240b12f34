//! Release versions: `kiln version`, the mappings against their reference
//! implementations, stamping, post releases and version reuse.
//!
//! One test binary per area (see ARCHITECTURE.md, "Tests"): each file
//! below is a module, its tests named `<file>::<test>`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../oci_support/mod.rs"]
mod oci_support;

mod ci_workflow;
mod many_machines;
mod post_release;
mod realrepo;
mod release_shapes;
mod stamp_patterns;
mod stamp_plan;
mod stamp_setversion;
mod version_cli;
mod version_oracles;
mod version_reuse;
