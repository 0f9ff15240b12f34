//! Recipes (`recipes/*.toml`) and the release policy (`recipes/release.toml`):
//! schemas, validation with file/line/key in every error, matrices and the
//! input graph.
//!
//! - [`schema`]: one recipe file as written ([`schema::WrittenRecipe`]) and
//!   validated ([`RecipeFile`], its surface's table typed in [`SurfaceSpec`]);
//! - [`validate`]: checks of one parsed file;
//! - [`template`]: `{version}`/`{name}`/matrix placeholders;
//! - [`project`]: every recipe of a project, matrix cells, the input graph;
//! - [`load`]: reading the recipe files from a [`Checkout`](crate::source::Checkout).

pub(crate) mod error;
pub mod load;
/// The release policy lives with the version engine (`crate::version::policy`);
/// re-exported here because it is read from `recipes/release.toml`.
pub use crate::version::policy;
pub(crate) mod oci;
pub(crate) mod project;
pub(crate) mod schema;
pub(crate) mod template;
pub(crate) mod validate;

pub use error::RecipeError;
pub use project::{Recipe, Recipes};
pub use schema::{RecipeFile, Surface, SurfaceSpec};
