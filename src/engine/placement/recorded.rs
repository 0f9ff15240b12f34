//! The names a realisation records for its artifacts, checked before they
//! become paths: `file` is the artifact's name in `dist/` and `path` where
//! it lies inside the store output. A realisation may come from a binary
//! cache (signed by someone else) or from an old store record, so neither
//! is trusted to be a plain name:
//!
//! ```text
//! {"file": "app-1.0.0.tar.gz", "path": ""}            ok
//! {"file": "app.oci", "path": "oci"}                  ok
//! {"file": "../../home/.bashrc", "path": ""}          refused: separator
//! {"file": "x.tgz", "path": "/etc/shadow"}            refused: separator
//! ```
//!
//! Each must be a portable name ([`crate::name::check_portable`]); `path`
//! may also be empty (the output itself). A directory artifact's `file` may
//! end in one `/`, which is not part of its name.

use crate::name::{check_portable, NameError, Shown};
use crate::store::RealisationMeta;

/// A recorded artifact whose names cannot become a path under `dist/`.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeArtifact {
    #[error("artifact {field} {}: {source}", Shown(name))]
    Name {
        field: &'static str,
        name: String,
        #[source]
        source: NameError,
    },
}

/// The `dist/` name of an artifact recorded as `file` at `path` inside its
/// store output, once both are checked.
pub(crate) fn dist_name<'a>(file: &'a str, path: &str) -> Result<&'a str, UnsafeArtifact> {
    let name = file.strip_suffix('/').unwrap_or(file);
    check_portable(name).map_err(|source| UnsafeArtifact::Name {
        field: "file",
        name: file.to_string(),
        source,
    })?;
    if !path.is_empty() {
        check_portable(path).map_err(|source| UnsafeArtifact::Name {
            field: "path",
            name: path.to_string(),
            source,
        })?;
    }
    Ok(name)
}

/// Check every artifact a realisation's metadata records (`meta.artifacts`),
/// as it arrives from a cache and before anything of it is written.
pub(crate) fn check_recorded(meta: &RealisationMeta) -> Result<(), UnsafeArtifact> {
    for a in &meta.artifacts {
        dist_name(&a.file, &a.path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_names_pass_and_paths_do_not() {
        assert_eq!(dist_name("app-1.0.tar.gz", "").unwrap(), "app-1.0.tar.gz");
        assert_eq!(dist_name("app.oci/", "oci").unwrap(), "app.oci");
        for (file, path) in [
            ("../../home/.bashrc", ""),
            ("/etc/passwd", ""),
            ("a\nb", ""),
            ("..", ""),
            ("", ""),
            ("ok.tgz", "../x"),
            ("ok.tgz", "/etc/shadow"),
            ("ok.tgz", "a/b"),
        ] {
            let e = dist_name(file, path).unwrap_err().to_string();
            assert!(e.starts_with("artifact "), "{e}");
        }
        let e = dist_name("../../home/.bashrc", "").unwrap_err().to_string();
        assert!(e.contains("`../../home/.bashrc`"), "{e}");
    }

    #[test]
    fn recorded_lists_are_checked_entry_by_entry() {
        let meta = |artifacts: serde_json::Value| -> RealisationMeta {
            serde_json::from_value(json!({"recipe": "r", "surface": "npm", "artifacts": artifacts}))
                .unwrap()
        };
        let art =
            |file: &str, path: &str| json!({"file": file, "path": path, "sha256": "00", "size": 0});
        check_recorded(&meta(json!([]))).unwrap();
        check_recorded(&meta(json!([art("a.tgz", "")]))).unwrap();
        let bad = meta(json!([art("a.tgz", ""), art("../../x", "")]));
        assert!(matches!(
            check_recorded(&bad),
            Err(UnsafeArtifact::Name { field: "file", .. })
        ));
        let bad = meta(json!([art("a", "../../../etc")]));
        assert!(matches!(
            check_recorded(&bad),
            Err(UnsafeArtifact::Name { field: "path", .. })
        ));
    }
}
