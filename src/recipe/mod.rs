//! Recipes (`recipes/*.toml`) and the release policy (`recipes/release.toml`):
//! schemas, validation with file/line/key in every error, matrices and the
//! input graph.

pub mod policy;
pub mod project;
pub mod schema;

pub use project::{Recipe, RecipeError, Recipes};
pub use schema::{RecipeFile, Surface};
