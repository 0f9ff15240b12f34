//! Reading a project's recipes and release policy from a [`Checkout`]: from
//! the commit being built (so that `--rev` rebuilds an old commit with its
//! own recipes, and an uncommitted recipe edit cannot change an artifact
//! whose provenance names a clean commit), or from disk for a working-tree
//! (`--dirty`) or directory build.

use std::path::PathBuf;

use super::error::RecipeError;
use super::project::{is_recipe_file, Recipes};
use crate::source::git::GitError;
use crate::source::Checkout;
use crate::version::policy::{PolicyError, ReleasePolicy};

/// Errors reading recipes from a checkout.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("reading recipes/ of commit {commit}")]
    Git {
        commit: String,
        #[source]
        source: GitError,
    },
}

impl crate::error::Classify for LoadError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            LoadError::Recipe(e) => e.kind(),
            LoadError::Policy(e) => e.kind(),
            LoadError::Git { source, .. } => source.kind(),
        }
    }
}

/// The recipes and release policy the build of `checkout` reads.
pub fn project(checkout: &Checkout) -> Result<(Recipes, ReleasePolicy), LoadError> {
    let Some((repo, commit)) = checkout.read_tree() else {
        return Ok((
            Recipes::load(&checkout.root)?,
            ReleasePolicy::load(&checkout.root)?,
        ));
    };
    let git = |source| LoadError::Git {
        commit: commit.id.clone(),
        source,
    };
    let dir = checkout.in_repo("recipes");
    let entries = repo.ls_dir(&commit.id, &dir).map_err(git)?;
    let mut reader = repo.object_reader().map_err(git)?;
    let mut files = Vec::new();
    let mut policy = None;
    for e in entries {
        let rel = PathBuf::from(e.path.strip_prefix(&checkout.prefix).unwrap_or(&e.path));
        let bytes = reader.read(&e.oid).map_err(git)?;
        let text = String::from_utf8(bytes).map_err(|_| RecipeError::Parse {
            file: rel.clone(),
            line: 1,
            message: "is not UTF-8".into(),
        })?;
        if rel.file_name().is_some_and(|n| n == "release.toml") {
            policy = Some(ReleasePolicy::parse(&rel, &text)?);
        } else if is_recipe_file(&rel) {
            files.push((rel, text));
        }
    }
    if files.is_empty() {
        return Err(RecipeError::NoRecipes {
            dir: PathBuf::from(format!("{dir}/ in commit {}", commit.id)),
        }
        .into());
    }
    Ok((
        Recipes::from_files(&checkout.root, files)?,
        policy.unwrap_or_default(),
    ))
}
