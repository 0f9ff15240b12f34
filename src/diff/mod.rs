//! `kiln diff`: an archive-aware explanation of how two artifacts differ.
//!
//! The structure follows diffoscope's: every input is recognised by its
//! bytes and read by one reader per container format into the same
//! [`Listing`] (entries with raw byte names, metadata, SHA-256 and, for small
//! or nested ones, contents) — [`source`] dispatches to [`tar`], [`zip`],
//! [`nar`] (NAR streams and directory trees) and [`image`] (OCI layouts and
//! docker archives). [`compare`] then matches entries by name bytes and
//! reports, per entry, what differs: presence, metadata, order, contents (a
//! unified diff for small text, a key summary for JSON/TOML manifests —
//! [`text`]) and, for nested archives (a wheel inside a tarball, the layers
//! of an image), the same comparison one level down. Container fields
//! (gzip header, compression level, zip extra fields, OCI annotations) are
//! compared too.
//!
//! Inputs are hostile: nothing is ever written to the filesystem, names are
//! only compared and printed escaped ([`Name`]), and every reader is bounded
//! by [`Limits`]; hitting one is an error naming the cap ([`DiffError::Cap`],
//! exit 2). Traversal, absolute paths, duplicates, case-fold collisions,
//! links leaving the root, entries below a symlink and zip header
//! disagreements are reported as [`Hazard`]s ([`hazards`]), never resolved.
//!
//! ```
//! use kiln::archive::tar::{Dialect, TarWriter};
//! use kiln::diff::{diff_bytes, Limits};
//! let tar = |body: &[u8]| {
//!     let mut t = TarWriter::new(Vec::new(), Dialect::Pax);
//!     t.append_file("a.txt", 0o644, 0, body).unwrap();
//!     t.finish().unwrap()
//! };
//! let report = diff_bytes(&tar(b"one\n"), &tar(b"two\n"), &Limits::default()).unwrap();
//! assert_eq!(report.differences.len(), 1);
//! assert!(report.differences[0].to_string().contains("\"a.txt\""));
//! ```

pub(crate) mod budget;
pub(crate) mod compare;
mod fuzz;
pub(crate) mod hazards;
pub(crate) mod image;
pub(crate) mod input;
pub(crate) mod model;
pub(crate) mod nar;
pub(crate) mod report;
pub(crate) mod sniff;
pub(crate) mod source;
pub(crate) mod tar;
pub(crate) mod text;
pub(crate) mod zip;

use std::path::Path;

pub use budget::{Cap, DiffError, Limits};
pub use fuzz::{fuzz_diff, fuzz_image, fuzz_limits, fuzz_nar, fuzz_tar, fuzz_zip};
pub use model::{Entry, Format, Hazard, Kind, Listing, Name};
pub use report::{Change, Difference, Report};

/// Compare two files or directories.
pub fn diff_paths(a: &Path, b: &Path, limits: &Limits) -> Result<Report, DiffError> {
    let (la, lb) = rayon::join(
        || source::read_path(a, limits),
        || source::read_path(b, limits),
    );
    let (la, lb) = (la?, lb?);
    let shown = |p: &Path| crate::name::shown(&p.to_string_lossy()).into_owned();
    let mut report = Report::new(shown(a), shown(b));
    compare::compare(&la, &lb, &[], limits, &mut report)?;
    if report.identical {
        // like diffoscope: no format-specific difference, yet the bytes differ?
        if let (Some(da), Some(db)) = (file_digest(a)?, file_digest(b)?) {
            if da != db {
                report.push(
                    &[],
                    None,
                    Change::Container {
                        field: "bytes (no format-specific difference found)".into(),
                        a: format!("sha256 {da}"),
                        b: format!("sha256 {db}"),
                    },
                );
            }
        }
    }
    Ok(report)
}

/// The SHA-256 of the file named `p` (`None` for a directory).
fn file_digest(p: &Path) -> Result<Option<String>, DiffError> {
    let io = |source| DiffError::Io {
        path: p.to_path_buf(),
        source,
    };
    match input::open_named(p).map_err(io)? {
        input::Named::Dir => Ok(None),
        input::Named::File(f, _) => {
            let (d, _) = crate::hash::Sha256::digest_reader_len(f).map_err(io)?;
            Ok(Some(d.to_hex()))
        }
    }
}

/// Compare two in-memory artifacts.
pub fn diff_bytes(a: &[u8], b: &[u8], limits: &Limits) -> Result<Report, DiffError> {
    let la = source::read_bytes(std::sync::Arc::new(a.to_vec()), "A", None, limits, 0)?;
    let lb = source::read_bytes(std::sync::Arc::new(b.to_vec()), "B", None, limits, 0)?;
    let mut report = Report::new("A".into(), "B".into());
    compare::compare(&la, &lb, &[], limits, &mut report)?;
    Ok(report)
}
