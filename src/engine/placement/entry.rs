//! One top-level `dist/` entry to place ([`Entry`]), and the names kiln
//! gives its own files in `dist/` while placing (a new copy's temporary
//! name, a retired entry's name while it waits for removal).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Prefix of temporary names.
pub(super) const TMP_PREFIX: &str = ".kiln-tmp-";

/// One top-level `dist/` entry to place.
pub(super) struct Entry {
    pub recipe: String,
    pub src: PathBuf,
    pub directory: bool,
    /// sha256 recorded at registration (files only).
    pub sha256: Option<String>,
    /// A directory's files' sha256 as its provenance records them, by
    /// relative path.
    pub files: BTreeMap<String, String>,
}

/// The temporary name a new copy of `name` is written under.
pub(super) fn temp_name(name: &str) -> String {
    format!("{TMP_PREFIX}{}-{name}", std::process::id())
}

/// Where a retired entry waits for removal (never a [`temp_name`]).
pub(super) fn aside_name(name: &str) -> String {
    format!("{TMP_PREFIX}{}.old.{name}", std::process::id())
}
