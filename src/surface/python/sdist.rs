//! The sdist layout (PEP 625, source distribution format).
//!
//! `<name>-<version>.tar.gz` holding one top directory `<name>-<version>/`
//! with every selected file of the recipe (build leftovers such as
//! `__pycache__/` excluded), the stamped `pyproject.toml` in place of the
//! checkout's, and a generated `PKG-INFO` (a selected one is replaced).
//! Entries are sorted by path bytes with `PKG-INFO` last, as hatchling
//! writes it; pax tar (Python `tarfile`'s layout), mtime
//! `SOURCE_DATE_EPOCH`, uid/gid 0 with empty names, modes 0644/0755, no
//! directory entries; gzip ([`super::DEFLATE`], one member compressed
//! whole), header MTIME `SOURCE_DATE_EPOCH`, OS 255, no file name.

use std::io::Write;

use super::files::{is_junk, SourceFiles};
use super::project::Project;
use super::{io, metadata, PythonError};
use crate::archive::tar::{Dialect, TarWriter};

pub(crate) use super::writer::gzip;

/// Write the sdist of `project` to `out`; returns its file name.
pub(crate) fn write<W: Write>(
    project: &Project,
    src: &SourceFiles<'_>,
    source_date_epoch: i64,
    out: W,
) -> Result<String, PythonError> {
    let stem = project.dist_stem();
    let file_name = format!("{stem}.tar.gz");
    let pkg_info = metadata::core_metadata(project)?;
    let mtime = source_date_epoch.max(0) as u64;
    let mut tar = TarWriter::new(Vec::new(), Dialect::Pax);
    for rel in src.paths() {
        if is_junk(rel) || rel == "PKG-INFO" {
            continue;
        }
        let path = format!("{stem}/{rel}");
        if rel == "pyproject.toml" {
            tar.append_file(&path, 0o644, mtime, project.pyproject.as_bytes())?;
            continue;
        }
        let f = src.file(rel)?;
        let mode = if f.executable { 0o755 } else { 0o644 };
        let reader = f.data.reader().map_err(io(&f.at))?;
        tar.append_file_from(&path, mode, mtime, f.size, reader)?;
    }
    tar.append_file(
        &format!("{stem}/PKG-INFO"),
        0o644,
        mtime,
        pkg_info.as_bytes(),
    )?;
    let bytes = tar.finish()?;
    let ioe = |e| PythonError::Io {
        path: file_name.clone().into(),
        source: e,
    };
    let gz = gzip(&bytes, source_date_epoch).map_err(ioe)?;
    let mut out = out;
    out.write_all(&gz).map_err(ioe)?;
    out.flush().map_err(ioe)?;
    Ok(file_name)
}
