//! Selecting a recipe's files from a snapshot: `source`, then `include`
//! and `exclude` globs relative to it (`*` does not cross `/`, `**` does; a
//! pattern naming a directory selects all of it), and the digest of the
//! selection that enters the derivation.

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::model::{SnapFile, SnapshotError};
use super::snapshot::Snapshot;

impl Snapshot {
    /// The files below `source_dir` selected by `include` (default: all) and
    /// not matched by `exclude`. Globs are relative to `source_dir`; `*` does
    /// not cross `/`, `**` does; a pattern naming a directory selects all of it.
    pub fn select(
        &self,
        recipe_file: &Path,
        source_dir: &str,
        include: &[String],
        exclude: &[String],
    ) -> Result<Selection<'_>, SnapshotError> {
        let base = normalise_dir(source_dir);
        let inc = build_globs(recipe_file, "include", include)?;
        let exc = build_globs(recipe_file, "exclude", exclude)?;
        let mut files = Vec::new();
        let mut any_under = false;
        for f in &self.files {
            let rel = if base.is_empty() {
                f.path.as_str()
            } else if let Some(r) = f.path.strip_prefix(&base).and_then(|r| r.strip_prefix('/')) {
                r
            } else {
                continue;
            };
            any_under = true;
            let included = include.is_empty() || matches_path_or_parent(&inc, rel);
            if included && !(matches_path_or_parent(&exc, rel)) {
                files.push(f);
            }
        }
        // Names that are not UTF-8 only matter when the recipe selects one
        // (globs match their escaped spelling).
        for u in &self.unreadable {
            let rel = if base.is_empty() {
                u.as_str()
            } else if let Some(r) = u.strip_prefix(&base).and_then(|r| r.strip_prefix('/')) {
                r
            } else {
                continue;
            };
            let included = include.is_empty() || matches_path_or_parent(&inc, rel);
            if included && !matches_path_or_parent(&exc, rel) {
                return Err(SnapshotError::NonUtf8 {
                    file: recipe_file.to_path_buf(),
                    path: u.clone(),
                });
            }
        }
        if !any_under {
            return Err(SnapshotError::EmptySource {
                file: recipe_file.to_path_buf(),
                source_dir: source_dir.to_string(),
            });
        }
        Ok(Selection { base, files })
    }
}

/// A recipe's files: those below `base` that its globs select.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    /// The recipe's source directory relative to the project root ("" = root).
    pub base: String,
    pub files: Vec<&'a SnapFile>,
}

impl Selection<'_> {
    /// blake3 over the canonical listing `kind path digest\n` (paths relative
    /// to the project root, sorted by bytes): the snapshot's part of a
    /// derivation.
    pub fn digest(&self) -> String {
        let mut h = blake3::Hasher::new();
        for f in &self.files {
            h.update(f.kind.as_str().as_bytes());
            h.update(b" ");
            h.update(f.path.as_bytes());
            h.update(b" ");
            h.update(f.digest.as_bytes());
            h.update(b"\n");
        }
        format!("blake3:{}", h.finalize().to_hex())
    }

    /// Path of `f` relative to the source directory.
    pub fn relative<'f>(&self, f: &'f SnapFile) -> &'f str {
        if self.base.is_empty() {
            &f.path
        } else {
            f.path
                .strip_prefix(&self.base)
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(&f.path)
        }
    }
}

fn normalise_dir(d: &str) -> String {
    let parts: Vec<&str> = d
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    parts.join("/")
}

fn build_globs(file: &Path, key: &str, pats: &[String]) -> Result<GlobSet, SnapshotError> {
    let mut b = GlobSetBuilder::new();
    for p in pats {
        let p = p.trim_start_matches("./").trim_end_matches('/');
        let g = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| SnapshotError::Glob {
                file: file.to_path_buf(),
                key: key.to_string(),
                pattern: p.to_string(),
                reason: e.to_string(),
            })?;
        b.add(g);
    }
    b.build().map_err(|e| SnapshotError::Glob {
        file: file.to_path_buf(),
        key: key.to_string(),
        pattern: pats.join(", "),
        reason: e.to_string(),
    })
}

fn matches_path_or_parent(set: &GlobSet, rel: &str) -> bool {
    if set.is_match(rel) {
        return true;
    }
    let mut p = rel;
    while let Some(i) = p.rfind('/') {
        p = &p[..i];
        if set.is_match(p) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_select_directories_and_do_not_cross_separators_with_star() {
        let set = build_globs(
            Path::new("r.toml"),
            "include",
            &["src".into(), "*.md".into()],
        )
        .unwrap();
        assert!(matches_path_or_parent(&set, "src/a/b.rs"));
        assert!(matches_path_or_parent(&set, "README.md"));
        assert!(!matches_path_or_parent(&set, "docs/x.md"));
    }
}
