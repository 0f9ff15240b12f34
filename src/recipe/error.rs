//! The error of reading recipes ([`RecipeError`]), shared by loading,
//! validation and the input graph, and how a recipe location is printed.

use std::path::{Path, PathBuf};

use super::template::TemplateError;
use crate::error::{Classify, ErrorKind};
use crate::name::{shown, shown_path, Shown};

/// Errors in recipes. Every variant names the file and, where there is one,
/// the line and key at fault.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("reading {}", shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", shown_path(file))]
    Parse {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: key `{}` = {value:?}: {reason}", location(file, *line), shown(key))]
    Invalid {
        file: PathBuf,
        /// 1-based line of the key, when it is written in the file.
        line: Option<usize>,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{}: key `{}` = {value:?}: {source}", location(file, *line), shown(key))]
    Template {
        file: PathBuf,
        line: Option<usize>,
        key: String,
        value: String,
        #[source]
        source: Box<TemplateError>,
    },
    #[error("{}: key `inputs.{}` names recipe {recipe:?}, which does not exist (recipes: {available})", location(file, *line), shown(mount))]
    UnknownInput {
        file: PathBuf,
        line: Option<usize>,
        mount: String,
        recipe: String,
        available: String,
    },
    /// An artifact name known at plan time (rendered from `output`, the
    /// recipe name and matrix values, or a package manifest) that is not a
    /// portable file name ([`crate::name::check_portable`]).
    #[error("{}: {from}: the artifact name {} {source}; artifact names must be portable file names", location(file, *line), Shown(name))]
    ArtifactName {
        file: PathBuf,
        line: Option<usize>,
        /// Where the name came from, already escaped: ``key `output` = "…"``.
        from: String,
        name: String,
        #[source]
        source: crate::name::NameError,
    },
    #[error("recipes form a cycle through their inputs: {}", cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },
    #[error("{}: key `surface` = {surface:?}: this kiln cannot build that surface yet (supported: crate, npm, tarball, zip, sdist, wheel, oci, command)", shown_path(file))]
    Unsupported { file: PathBuf, surface: String },
    #[error(
        "{} and {} both define recipe {name:?}",
        shown_path(file),
        shown_path(other)
    )]
    Duplicate {
        file: PathBuf,
        other: PathBuf,
        name: String,
    },
    #[error("no recipe named {name:?} (recipes: {available}){hint}")]
    UnknownRecipe {
        name: String,
        available: String,
        hint: String,
    },
    #[error("{} holds no recipes (expected recipes/*.toml)", shown_path(dir))]
    NoRecipes { dir: PathBuf },
}

impl Classify for RecipeError {
    fn kind(&self) -> ErrorKind {
        match self {
            RecipeError::Io { source, .. } => ErrorKind::of_io(source),
            _ => ErrorKind::BadInput,
        }
    }
}

pub(crate) fn location(file: &Path, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{}:{l}", shown_path(file)),
        None => shown_path(file),
    }
}
