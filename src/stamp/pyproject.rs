//! Stamping `pyproject.toml` (PEP 440 spelling) with `toml_edit`.
//!
//! - static `[project].version` and `[tool.poetry].version` are replaced;
//! - a dynamic version (`dynamic = ["version"]`, no static value) is left
//!   alone in the checkout (the build backend computes it), but in a build
//!   workspace kiln sets `[project].version` and removes `"version"` from
//!   `dynamic` (and `dynamic` itself when it becomes empty), so every backend
//!   builds exactly the resolved version;
//! - a file with none of these is an error.

use toml_edit::{DocumentMut, Item, Value};

use super::cargo::{child, set_string};
use super::model::{Edit, FieldError, StampMode};

/// The key of the error for a file that declares no version at all.
pub(crate) const MISSING_KEY: &str = "project.version";

fn dynamic_version(doc: &DocumentMut) -> bool {
    doc.get("project")
        .and_then(|p| p.get("dynamic"))
        .and_then(Item::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")))
}

/// Stamps one pyproject.toml with PEP 440 `version`.
pub(crate) fn stamp(
    text: &str,
    version: &str,
    mode: StampMode,
) -> Result<(String, Vec<Edit>), FieldError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| FieldError {
        key: "(document)".into(),
        reason: format!("not valid TOML: {}", e.message().trim()),
    })?;
    let mut edits = Vec::new();
    let mut found = false;
    for (key, table) in [
        ("project.version", &["project"][..]),
        ("tool.poetry.version", &["tool", "poetry"][..]),
    ] {
        let mut item = Some(doc.as_item_mut());
        for k in table {
            item = item.and_then(|i| child(i, k));
        }
        let Some(v) = item.and_then(|t| child(t, "version")) else {
            continue;
        };
        let v: &mut Value = v
            .as_value_mut()
            .filter(|v| v.is_str())
            .ok_or_else(|| FieldError {
                key: key.into(),
                reason: "is not a string".into(),
            })?;
        found = true;
        let old = v.as_str().unwrap_or_default().to_string();
        if old != version {
            set_string(v, version);
            edits.push(Edit {
                key: key.into(),
                old,
                new: version.into(),
            });
        }
    }
    let dynamic = dynamic_version(&doc);
    if dynamic && mode == StampMode::Workspace {
        let project = doc["project"]
            .as_table_like_mut()
            .ok_or_else(|| FieldError {
                key: "project".into(),
                reason: "is not a table".into(),
            })?;
        if project.get("version").is_none() {
            project.insert("version", toml_edit::value(version));
            edits.push(Edit {
                key: "project.version".into(),
                old: "(dynamic)".into(),
                new: version.into(),
            });
        }
        let emptied = match project.get_mut("dynamic").and_then(Item::as_array_mut) {
            Some(arr) => {
                arr.retain(|v| v.as_str() != Some("version"));
                arr.is_empty()
            }
            None => false,
        };
        if emptied {
            project.remove("dynamic");
        }
        found = true;
    }
    if !found && !dynamic {
        return Err(FieldError {
            key: MISSING_KEY.into(),
            reason:
                "is missing (and neither tool.poetry.version nor a dynamic version is declared)"
                    .into(),
        });
    }
    Ok((doc.to_string(), edits))
}

/// The crate a maturin project builds (`[tool.maturin] manifest-path`,
/// default `Cargo.toml`), relative to the project; `None` for other
/// backends. Its version is the project's, so kiln stamps it too.
pub(crate) fn maturin_manifest(pyproject: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = pyproject.parse().ok()?;
    let backend = doc.get("build-system")?.get("build-backend")?.as_str()?;
    if backend.split([':', '.']).next() != Some("maturin") {
        return None;
    }
    let path = doc
        .get("tool")
        .and_then(|t| t.get("maturin"))
        .and_then(|m| m.get("manifest-path"))
        .and_then(|p| p.as_str())
        .unwrap_or("Cargo.toml");
    let path = path.strip_prefix("./").unwrap_or(path);
    crate::archive::check_entry_path(path).ok()?;
    Some(path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DYN: &str = "[project]\nname = \"x\"\ndynamic = [\"version\", \"readme\"]\n\n[build-system]\nrequires = [\"hatchling\"]\n";

    #[test]
    fn dynamic_left_alone_in_checkout() {
        let (out, edits) = stamp(DYN, "1.0.0", StampMode::Checkout).unwrap();
        assert_eq!(out, DYN);
        assert!(edits.is_empty());
    }

    #[test]
    fn dynamic_made_static_in_workspace() {
        let (out, _) = stamp(DYN, "1.0.0rc1", StampMode::Workspace).unwrap();
        let doc: DocumentMut = out.parse().unwrap();
        assert_eq!(doc["project"]["version"].as_str(), Some("1.0.0rc1"));
        let dynamic = doc["project"]["dynamic"].as_array().unwrap();
        assert_eq!(dynamic.len(), 1);
    }

    #[test]
    fn static_and_missing() {
        let t = "[project]\nname = \"x\"\nversion = \"0.1.0\"  # keep\n";
        let (out, _) = stamp(t, "0.2.0", StampMode::Checkout).unwrap();
        assert_eq!(out, t.replace("0.1.0", "0.2.0"));
        assert!(stamp("[project]\nname = \"x\"\n", "1.0", StampMode::Checkout).is_err());
    }
}
