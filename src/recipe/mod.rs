//! Recipes and the release policy: serde schemas with validation that names file, line and key.

pub mod policy;
