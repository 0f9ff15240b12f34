//! What a wheel holds besides its generated metadata ([`WheelPlan`]),
//! decided by the generic writer (`super::wheel`) or an emulated backend's
//! (`super::pdm`, `super::uv`), and the error for a bad recipe value they
//! share. A leaf of the writers: it depends on none of them.

use super::emulation::Emulation;
use super::files::DiskFile;
use super::names::WheelTag;
use super::PythonError;
use crate::surface::Job;

/// What goes into a wheel besides its generated metadata.
#[derive(Debug)]
pub(crate) struct WheelPlan {
    /// Whose files the wheel's metadata is written like.
    pub emulation: Emulation,
    pub tag: WheelTag,
    /// Archive path → file, packages and mapped files first, then `.data/`.
    pub entries: Vec<(String, DiskFile)>,
    /// License files: path relative to the project → file.
    pub licenses: Vec<(String, DiskFile)>,
}

/// A bad value of the recipe (`key` = `value`), named with its file.
pub(crate) fn recipe_err(
    job: &Job<'_>,
    key: &str,
    value: &str,
    reason: impl Into<String>,
) -> PythonError {
    PythonError::field(&job.recipe.file, key, value, reason)
}
