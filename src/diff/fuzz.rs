//! Entry points of the fuzz targets in `fuzz/`, kept in the library so that
//! `tests/formats/fuzz_corpus.rs` replays the corpus through exactly the same code
//! on stable. Each must return (any result) without panicking, hanging or
//! allocating beyond the small limits below.

use std::io::Cursor;
use std::sync::Arc;

use super::budget::Limits;
use super::source;
use crate::archive::read as ar;

/// Small caps, so that a fuzz input can never exhaust memory.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_entries: 10_000,
        max_total_size: 64 << 20,
        max_entry_size: 16 << 20,
        max_ratio: 250,
        max_depth: 3,
        max_retained: 32 << 20,
    }
}

fn archive_limits() -> ar::Limits {
    ar::Limits {
        max_entries: 10_000,
        max_total_size: 64 << 20,
        max_entry_size: 16 << 20,
    }
}

/// The NAR reader and diff's NAR listing.
pub fn fuzz_nar(data: &[u8]) {
    let _ = crate::nix::nar::NarReader::new(data).validate();
    let _ = super::nar::read_nar(data, "fuzz", &fuzz_limits());
}

/// tar streams, plain and compressed.
pub fn fuzz_tar(data: &[u8]) {
    let l = archive_limits();
    let _ = ar::list_tar(data, &l);
    let _ = ar::list_tar_gz(data, &l);
    let _ = ar::list_tar_zst(data, &l);
    let _ = ar::visit_tar_raw(data, &l, |_, r| -> Result<(), ar::ReadError> {
        std::io::copy(r, &mut std::io::sink()).map_err(ar::ReadError::Io)?;
        Ok(())
    });
    let _ = source::read_bytes(Arc::new(data.to_vec()), "fuzz", None, &fuzz_limits(), 0);
}

/// zip archives.
pub fn fuzz_zip(data: &[u8]) {
    let _ = ar::list_zip(Cursor::new(data), &archive_limits());
    let _ = super::zip::read(data, "fuzz", &fuzz_limits());
}

/// Images inside a tar (docker archives, OCI layouts as tar); what
/// `kiln verify` reads from such a listing is `audit::fuzz_identity`.
pub fn fuzz_image(data: &[u8]) {
    let Ok(l) = source::read_bytes(Arc::new(data.to_vec()), "fuzz", None, &fuzz_limits(), 0) else {
        return;
    };
    let _ = super::image::from_tar(&l, "fuzz", &fuzz_limits());
}

/// Detection and comparison of anything.
pub fn fuzz_diff(data: &[u8]) {
    let mut other = data.to_vec();
    let half = other.len() / 2;
    other[half..].reverse();
    let _ = super::diff_bytes(data, &other, &fuzz_limits());
}
