//! What every subcommand is given and returns: the invocation's
//! [`Context`] (project root, output mode) and [`CliError`] with its exit
//! code.

use std::path::{Path, PathBuf};

use crate::error::{chain, Classify, ErrorKind};

/// Global settings shared by every subcommand.
#[derive(Debug)]
pub struct Context {
    pub(super) project_flag: Option<PathBuf>,
    pub(super) store_flag: Option<PathBuf>,
}

impl Context {
    /// The project root: `-C DIR`, else the nearest ancestor of the current
    /// directory that holds `recipes/`.
    pub fn project_root(&self) -> Result<PathBuf, CliError> {
        if let Some(dir) = &self.project_flag {
            if !dir.is_dir() {
                return Err(CliError::bad_input(format!(
                    "-C {}: not a directory",
                    dir.display()
                )));
            }
            return Ok(dir.clone());
        }
        let cwd = std::env::current_dir()
            .map_err(|e| CliError::internal(format!("current directory: {e}")))?;
        find_project_root(&cwd).ok_or_else(|| {
            CliError::bad_input(format!(
                "no `recipes/` directory in {} or any parent; run inside a kiln project or pass -C DIR",
                cwd.display()
            ))
        })
    }

    /// The store directory: `--store`/`KILN_STORE`, else `<project>/store`,
    /// else (outside any project) `./store`.
    pub fn store_dir(&self) -> Result<PathBuf, CliError> {
        if let Some(s) = &self.store_flag {
            return Ok(s.clone());
        }
        match self.project_root() {
            Ok(root) => Ok(root.join("store")),
            Err(_) if self.project_flag.is_none() => {
                let cwd = std::env::current_dir()
                    .map_err(|e| CliError::internal(format!("current directory: {e}")))?;
                Ok(cwd.join("store"))
            }
            Err(e) => Err(e),
        }
    }
}

/// Nearest ancestor of `start` (inclusive) holding a `recipes/` directory.
pub fn find_project_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join("recipes").is_dir())
        .map(Path::to_path_buf)
}

/// An error on its way to the terminal: the typed error (its `source()`
/// chain intact until it is printed) and its kind, which decides the exit
/// code (`ErrorKind::exit_code`).
#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub error: Box<dyn std::error::Error + 'static>,
}

/// A problem with how kiln was invoked (a flag's value, a path argument),
/// found by the command-line front end itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

impl CliError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        CliError {
            kind: ErrorKind::BadInput,
            error: Box::new(Usage(message.into())),
        }
    }
    pub fn check_failed(message: impl Into<String>) -> Self {
        CliError {
            kind: ErrorKind::CheckFailed,
            error: Box::new(Usage(message.into())),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        CliError {
            kind: ErrorKind::Internal,
            error: Box::new(Usage(message.into())),
        }
    }
    /// Convert any classified library error, keeping it (and its cause chain).
    pub fn from_lib<E: Classify + std::error::Error + 'static>(err: E) -> Self {
        CliError {
            kind: err.kind(),
            error: Box::new(err),
        }
    }
    /// The message printed: the error and its causes, `a: b: c`.
    pub fn message(&self) -> String {
        chain(self.error.as_ref())
    }
}

impl<E: Classify + std::error::Error + 'static> From<E> for CliError {
    fn from(err: E) -> Self {
        CliError::from_lib(err)
    }
}
