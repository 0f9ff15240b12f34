//! The build engine, the surfaces through `kiln build`, the command and
//! crate surfaces, the sandbox, the flake and the human CLI output.
//!
//! One test binary per area (see ARCHITECTURE.md, "Tests"): each file
//! below is a module, its tests named `<file>::<test>`.

#[path = "../common/mod.rs"]
mod common;

mod build_engine;
mod build_surfaces;
mod cli_snapshots;
mod command_cargo_build;
mod command_outputs;
mod crate_git;
mod crate_package;
mod flake;
mod interpreters;
mod sandbox_isolation;
