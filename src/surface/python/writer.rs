//! What kiln's Python archive writers share with the normaliser of a
//! backend's archives: the deflate level and builder identity, the sdist
//! gzip member, and `RECORD`'s hash and CSV spelling.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::archive::compress::GzipOptions;
use crate::archive::deflate::gzip_whole;

/// How Python archives are deflated (sdist gzip, wheel entries): level 6,
/// Python's `zipfile` default (which uv and hatchling write too), with
/// libdeflate, which on Python sources is both smaller and faster than
/// zlib at that level. Part of the builder identity.
pub(crate) const DEFLATE: crate::archive::deflate::Deflate =
    crate::archive::deflate::Deflate::Libdeflate(6);

/// The identity of kiln's writer of `surface` (sdist, wheel).
pub(super) fn identity(surface: &str) -> Vec<(&'static str, String)> {
    vec![
        ("writer", format!("{surface}-v1")),
        ("deflate", DEFLATE.identity()),
        ("pep508_rs", "0.9.2".to_string()),
    ]
}

/// The gzip header of kiln's sdists.
pub(crate) fn gzip_options(source_date_epoch: i64) -> GzipOptions {
    GzipOptions {
        mtime: source_date_epoch.clamp(0, u32::MAX as i64) as u32,
        ..GzipOptions::KILN
    }
}

/// The gzip member of an sdist's tar (one whole-buffer deflate with
/// [`DEFLATE`]).
pub(crate) fn gzip(tar: &[u8], source_date_epoch: i64) -> std::io::Result<Vec<u8>> {
    gzip_whole(tar, &gzip_options(source_date_epoch), DEFLATE)
}

/// `RECORD` hash of some bytes.
pub(crate) fn record_hash(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// A CSV field as Python's `csv` module writes it.
pub(super) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
