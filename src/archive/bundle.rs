//! kiln's own bundle layout in one place: mapped entries → `.tar`,
//! `.tar.gz`, `.tar.zst` or `.zip`.
//!
//! The `tarball` and `zip` surfaces call these with the output of
//! [`super::mapping::map_files`] and an `open` function that yields each
//! file's bytes (the surface owns the I/O; this module only streams). The
//! layout is the one documented in `docs/archives.md`: entries in the given
//! (path-byte sorted) order, no directory entries, mtime =
//! `SOURCE_DATE_EPOCH`, uid/gid 0, modes from the mapping, symlinks kept;
//! tar in the [`Dialect::Pax`] dialect, gzip with [`GzipOptions::KILN`], zstd
//! with [`super::compress::ZSTD_LEVEL`].
//!
//! ```
//! use kiln::archive::bundle::{write_tar_bundle, Compression};
//! use kiln::archive::mapping::{MappedEntry, SourceKind};
//! let entries = vec![MappedEntry {
//!     path: "app-1.0/README".into(),
//!     source: "README".into(),
//!     kind: SourceKind::File { disk: "README".into(), size: 3, executable: false },
//!     mode: 0o644,
//! }];
//! let mut out = Vec::new();
//! write_tar_bundle(&entries, 315532800, Compression::Gzip, &mut out, |_| Ok(&b"hi\n"[..])).unwrap();
//! assert_eq!(&out[..2], &[0x1f, 0x8b]);
//! ```

use std::io::{self, Read, Write};
use std::path::Path;

use super::compress::{GzipOptions, GzipWriter, ZstdWriter};
use super::mapping::{MappedEntry, SourceKind};
use super::tar::{Dialect, TarError, TarWriter};
use super::zip::{ZipError, ZipWriter};

/// The compression of a tar bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// `.tar`
    None,
    /// `.tar.gz`
    Gzip,
    /// `.tar.zst`
    Zstd,
}

impl Compression {
    /// The file name suffix: `.tar`, `.tar.gz` or `.tar.zst`.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => ".tar",
            Compression::Gzip => ".tar.gz",
            Compression::Zstd => ".tar.zst",
        }
    }
}

/// Errors while writing a bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("reading {}", crate::name::shown_path(path))]
    Open {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Tar(#[from] TarError),
    #[error(transparent)]
    Zip(#[from] ZipError),
    #[error("compressing the bundle")]
    Compress(#[source] io::Error),
}

impl crate::error::Classify for BundleError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            BundleError::Tar(e) => e.kind(),
            BundleError::Zip(e) => e.kind(),
            _ => crate::error::ErrorKind::Internal,
        }
    }
}

fn tar_entries<W: Write, R: Read>(
    tar: &mut TarWriter<W>,
    entries: &[MappedEntry],
    mtime: u64,
    open: &mut impl FnMut(&Path) -> io::Result<R>,
) -> Result<(), BundleError> {
    for e in entries {
        match &e.kind {
            SourceKind::File { disk, size, .. } => {
                let r = open(disk).map_err(|source| BundleError::Open {
                    path: disk.clone(),
                    source,
                })?;
                tar.append_file_from(&e.path, e.mode, mtime, *size, r)?;
            }
            SourceKind::Symlink { target } => tar.append_symlink(&e.path, target, mtime)?,
        }
    }
    Ok(())
}

/// Write `entries` as a tar bundle (pax dialect) with the given compression.
pub fn write_tar_bundle<W: Write, R: Read>(
    entries: &[MappedEntry],
    source_date_epoch: u64,
    compression: Compression,
    out: W,
    mut open: impl FnMut(&Path) -> io::Result<R>,
) -> Result<W, BundleError> {
    match compression {
        Compression::None => {
            let mut tar = TarWriter::new(out, Dialect::Pax);
            tar_entries(&mut tar, entries, source_date_epoch, &mut open)?;
            Ok(tar.finish()?)
        }
        Compression::Gzip => {
            let mut tar = TarWriter::new(GzipWriter::new(out, &GzipOptions::KILN), Dialect::Pax);
            tar_entries(&mut tar, entries, source_date_epoch, &mut open)?;
            tar.finish()?.finish().map_err(BundleError::Compress)
        }
        Compression::Zstd => {
            let z = ZstdWriter::new(out).map_err(BundleError::Compress)?;
            let mut tar = TarWriter::new(z, Dialect::Pax);
            tar_entries(&mut tar, entries, source_date_epoch, &mut open)?;
            tar.finish()?.finish().map_err(BundleError::Compress)
        }
    }
}

/// Write `entries` as a zip bundle.
pub fn write_zip_bundle<W: Write, R: Read>(
    entries: &[MappedEntry],
    source_date_epoch: u64,
    out: W,
    mut open: impl FnMut(&Path) -> io::Result<R>,
) -> Result<W, BundleError> {
    let mut zip = ZipWriter::new(out, source_date_epoch);
    for e in entries {
        match &e.kind {
            SourceKind::File { disk, size, .. } => {
                let r = open(disk).map_err(|source| BundleError::Open {
                    path: disk.clone(),
                    source,
                })?;
                zip.append_file_from(&e.path, e.mode, *size, r)?;
            }
            SourceKind::Symlink { target } => zip.append_symlink(&e.path, target)?,
        }
    }
    Ok(zip.finish()?)
}
