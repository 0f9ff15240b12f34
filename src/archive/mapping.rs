//! From source files to archive entries: the file mapping shared by the
//! `tarball` and `zip` surfaces.
//!
//! Steps, in order, for each source file (path relative to the recipe's
//! source directory, `/`-separated):
//!
//! 1. **select**: kept if it matches an `include` glob (no includes = all)
//!    and no `exclude` glob. Globs are `globset` globs where `*` and `?` stop
//!    at `/` and `**` crosses it; a glob that matches a directory selects
//!    everything below it (`docs` ≡ `docs/**`).
//! 2. **strip**: a leading directory `strip` is removed from paths under it.
//! 3. **rename**: the first [`Rename`] whose `from` equals the path, or is a
//!    directory prefix of it, replaces that part with `to`.
//! 4. **prefix**: `prefix` (a directory, trailing `/` optional) is prepended.
//!
//! The result is sorted by the bytes of the archive path; two sources that
//! land on the same archive path, or a mapped path that is absolute or
//! contains `..`, are errors. Modes are normalised: 0755 if the source is
//! executable, else 0644; symlinks are kept as symlinks.
//!
//! ```
//! use kiln::archive::mapping::{map_files, MappingOptions, SourceFile, SourceKind};
//! let files = vec![
//!     SourceFile { path: "docs/b.md".into(), kind: SourceKind::File { disk: "x/docs/b.md".into(), size: 1, executable: false } },
//!     SourceFile { path: "docs/a.md".into(), kind: SourceKind::File { disk: "x/docs/a.md".into(), size: 1, executable: true } },
//!     SourceFile { path: "src/main.rs".into(), kind: SourceKind::File { disk: "x/src/main.rs".into(), size: 1, executable: false } },
//! ];
//! let opts = MappingOptions { include: vec!["docs".into()], strip: Some("docs".into()), prefix: "docs-1.0/".into(), ..Default::default() };
//! let entries = map_files(files, &opts).unwrap();
//! let paths: Vec<_> = entries.iter().map(|e| (e.path.as_str(), e.mode)).collect();
//! assert_eq!(paths, [("docs-1.0/a.md", 0o755), ("docs-1.0/b.md", 0o644)]);
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// What a source file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A regular file on disk with its size and owner-executable bit.
    File {
        disk: PathBuf,
        size: u64,
        executable: bool,
    },
    /// A symbolic link, kept as a link.
    Symlink { target: String },
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the source directory, `/`-separated.
    pub path: String,
    pub kind: SourceKind,
}

/// Rename a file or a directory prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

/// How to select and place files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingOptions {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub strip: Option<String>,
    pub renames: Vec<Rename>,
    pub prefix: String,
}

/// One archive entry, ready for a writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedEntry {
    /// Path inside the archive.
    pub path: String,
    /// The source path it came from.
    pub source: String,
    pub kind: SourceKind,
    /// 0o644, 0o755, or 0o777 for symlinks.
    pub mode: u32,
}

/// Errors from [`map_files`].
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("invalid {field} glob {pattern:?}")]
    BadGlob {
        field: &'static str,
        pattern: String,
        #[source]
        source: globset::Error,
    },
    #[error("{first:?} and {second:?} both map to archive path {path:?}")]
    Duplicate {
        path: String,
        first: String,
        second: String,
    },
    #[error("source {source_path:?} maps to invalid archive path {path:?}: {reason}")]
    BadPath {
        source_path: String,
        path: String,
        reason: &'static str,
    },
}

impl crate::error::Classify for MappingError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

fn build(field: &'static str, patterns: &[String]) -> Result<GlobSet, MappingError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = GlobBuilder::new(p.trim_end_matches('/'))
            .literal_separator(true)
            .build()
            .map_err(|source| MappingError::BadGlob {
                field,
                pattern: p.clone(),
                source,
            })?;
        b.add(g);
    }
    b.build().map_err(|source| MappingError::BadGlob {
        field,
        pattern: patterns.join(", "),
        source,
    })
}

/// Whether the path or one of its ancestor directories matches.
fn matches(set: &GlobSet, path: &str) -> bool {
    if set.is_match(path) {
        return true;
    }
    path.match_indices('/')
        .any(|(i, _)| set.is_match(&path[..i]))
}

fn under<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    let dir = dir.trim_end_matches('/');
    path.strip_prefix(dir)?.strip_prefix('/')
}

/// Select, map and sort source files (see the module documentation).
pub fn map_files(
    files: impl IntoIterator<Item = SourceFile>,
    opts: &MappingOptions,
) -> Result<Vec<MappedEntry>, MappingError> {
    let include = build("include", &opts.include)?;
    let exclude = build("exclude", &opts.exclude)?;
    let prefix = match opts.prefix.trim_end_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    };
    let mut out: BTreeMap<Vec<u8>, MappedEntry> = BTreeMap::new();
    for f in files {
        if (!opts.include.is_empty() && !matches(&include, &f.path)) || matches(&exclude, &f.path) {
            continue;
        }
        let mut p = f.path.clone();
        if let Some(s) = &opts.strip {
            if let Some(rest) = under(&p, s) {
                p = rest.to_string();
            }
        }
        for r in &opts.renames {
            if p == r.from.trim_end_matches('/') {
                p = r.to.clone();
                break;
            }
            if let Some(rest) = under(&p, &r.from) {
                p = format!("{}/{rest}", r.to.trim_end_matches('/'));
                break;
            }
        }
        let path = format!("{prefix}{p}");
        if let Err(reason) = super::check_entry_path(&path) {
            return Err(MappingError::BadPath {
                source_path: f.path,
                path,
                reason,
            });
        }
        let mode = match &f.kind {
            SourceKind::File { executable, .. } if *executable => 0o755,
            SourceKind::File { .. } => 0o644,
            SourceKind::Symlink { .. } => 0o777,
        };
        let entry = MappedEntry {
            path: path.clone(),
            source: f.path,
            kind: f.kind,
            mode,
        };
        if let Some(prev) = out.get(path.as_bytes()) {
            let (a, b) = (prev.source.clone(), entry.source);
            let (first, second) = if a <= b { (a, b) } else { (b, a) };
            return Err(MappingError::Duplicate {
                path,
                first,
                second,
            });
        }
        out.insert(path.into_bytes(), entry);
    }
    Ok(out.into_values().collect())
}
