//! The slow real-world corpora in one place: real npm packages, published
//! PyPI sdists, and kiln building its own release (two release compiles).
//!
//! One test binary per area (see ARCHITECTURE.md, "Tests"): each file
//! below is a module, its tests named `<file>::<test>`.

#[path = "../common/mod.rs"]
mod common;

mod npm_registry;
mod python_auto;
mod python_pypi;
mod self_release;
