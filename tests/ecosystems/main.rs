//! The npm, Python and OCI surfaces against the real clients of each
//! ecosystem (npm, pip, twine, uv, skopeo, umoci, podman).
//!
//! One test binary per area (see ARCHITECTURE.md, "Tests"): each file
//! below is a module, its tests named `<file>::<test>`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../oci_support/mod.rs"]
mod oci_support;

mod emulated;
mod npm_collation;
mod npm_pack;
mod oci_image;
mod python_backend;
mod python_backend_env;
mod python_backend_map;
mod python_flit;
mod python_hatch;
mod python_native;
mod python_pdm;
mod python_poetry;
mod python_uv;
