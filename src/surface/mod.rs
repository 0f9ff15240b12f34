//! Surfaces: one module per kind of artifact a recipe can build.
pub mod command;
pub mod crate_;
