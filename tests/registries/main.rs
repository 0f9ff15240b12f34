//! `kiln publish` against real registry servers on 127.0.0.1, each started
//! and stopped by its test: the release gate, uploads checked with the
//! ecosystem's own clients, reruns after faults, and credentials kept out
//! of every output and file.
//!
//! One test binary per area (see ARCHITECTURE.md, "Tests"): each file
//! below is a module, its tests named `<file>::<test>`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../oci_support/mod.rs"]
mod oci_support;

mod cargo_ktra;
mod cargo_publish;
mod mixed;
mod npm;
mod oci;
mod oci_token;
mod publish_gate;
mod pypi;
mod release_poetry;
mod release_post;
mod release_workspace;
mod support;
mod verify_hostile;
mod verify_mixed;
mod verify_npm;
mod verify_oci;
mod verify_pypi;
