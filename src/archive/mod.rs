//! Deterministic archive writers and bounded archive readers.
//!
//! Everything here is a pure format: writers stream over any
//! [`std::io::Write`], readers over [`std::io::Read`]; no module opens a
//! file. Surfaces (`crate::surface`) decide *what* goes in an archive and
//! feed the bytes in.
//!
//! - [`tar`]: tar in three explicit dialects (npm's ustar, cargo's GNU,
//!   Python's pax — kiln's default);
//! - [`compress`]: gzip with explicit header fields, zstd with fixed settings;
//! - [`deflate`]: which deflate implementation and level (zlib-rs or
//!   libdeflate), and whole-buffer deflate;
//! - [`zip`]: zip with DOS time from `SOURCE_DATE_EPOCH` and Unix modes;
//! - [`read`]: listing tar, tar.gz, tar.zst and zip archives with limits,
//!   refusing hostile input;
//! - [`mapping`]: source files + globs + prefix/renames → the sorted entry
//!   list shared by the `tarball` and `zip` surfaces;
//! - [`bundle`]: that entry list → `.tar[.gz|.zst]` or `.zip` in kiln's
//!   layout (the caller supplies the file contents).
//!
//! kiln's own bundles (`tarball`/`zip` surfaces) follow one layout,
//! documented in `docs/archives.md`: entries sorted by path bytes, no
//! directory entries, mtime = `SOURCE_DATE_EPOCH`, uid/gid 0, empty owner
//! names, modes 0644/0755, symlinks kept as symlinks.

pub mod bundle;
pub mod compress;
pub(crate) mod deflate;
pub mod mapping;
pub mod read;
pub mod tar;
pub mod zip;

/// Why an entry path is unacceptable in an archive, if it is: empty,
/// absolute, containing NUL, a backslash-free `..` component, or an empty
/// component (`a//b`).
pub fn check_entry_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty");
    }
    if path.starts_with('/') {
        return Err("absolute");
    }
    if path.contains('\0') {
        return Err("contains NUL");
    }
    if path.split('/').any(|c| c == "..") {
        return Err("contains a `..` component");
    }
    if path.split('/').any(str::is_empty) {
        return Err("contains an empty component");
    }
    Ok(())
}

/// Sort items by the raw bytes of their archive path (DESIGN.md's default
/// order). Stable, so equal paths keep their relative order.
pub fn sort_by_path<T>(items: &mut [T], path: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| path(a).as_bytes().cmp(path(b).as_bytes()));
}

/// Identity of the deflate behind kiln's bundles (gzip and zip); npm
/// tarballs name theirs with `deflate::pieces_identity`. Part of each
/// derivation of a native surface: changing the backend, its version or
/// the level is a change of output format (FORMATS.md §7).
pub fn bundle_deflate() -> deflate::Deflate {
    deflate::Deflate::ZlibRs(compress::DEFLATE_LEVEL)
}

/// Identity of the zstd encoder behind `.tar.zst` bundles.
pub const ZSTD_IDENTITY: &str = "zstd-sys=2.1.3+zstd.1.5.7 level=19";
