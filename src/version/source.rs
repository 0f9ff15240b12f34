//! Reading the canonical version out of manifest text (no I/O).
//!
//! | source | key read |
//! |---|---|
//! | `cargo` | `workspace.package.version`, else `package.version` |
//! | `pyproject` | `project.version`, else `tool.poetry.version` |
//! | `npm` | `version` |
//! | `file:<path>` | the whole file, trimmed |

/// A version string found in a manifest, with the key it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub key: &'static str,
    pub value: String,
}

/// Why no version could be read: the key looked for and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    pub key: &'static str,
    pub reason: String,
}

fn toml_doc(text: &str) -> Result<toml_edit::ImDocument<&str>, NotFound> {
    toml_edit::ImDocument::parse(text).map_err(|e| NotFound {
        key: "(document)",
        reason: format!("not valid TOML: {}", e.message().trim()),
    })
}

fn toml_string(doc: &toml_edit::Item, path: &[&str]) -> Option<Result<String, String>> {
    let mut item = doc;
    for k in path {
        item = item.get(k)?;
    }
    Some(match item.as_str() {
        Some(s) => Ok(s.to_string()),
        None if item.get("workspace").and_then(|w| w.as_bool()) == Some(true) => {
            Err("is inherited from the workspace (`version.workspace = true`)".to_string())
        }
        None => Err(format!("is not a string but {}", item.type_name())),
    })
}

/// `workspace.package.version`, else `package.version`.
pub fn cargo_version(text: &str) -> Result<Found, NotFound> {
    let doc = toml_doc(text)?;
    for (key, path) in [
        (
            "workspace.package.version",
            &["workspace", "package", "version"][..],
        ),
        ("package.version", &["package", "version"][..]),
    ] {
        match toml_string(doc.as_item(), path) {
            Some(Ok(value)) => return Ok(Found { key, value }),
            Some(Err(reason)) if key == "package.version" => return Err(NotFound { key, reason }),
            _ => {}
        }
    }
    Err(NotFound {
        key: "workspace.package.version",
        reason: "neither it nor package.version is set".into(),
    })
}

/// `project.version`, else `tool.poetry.version`.
pub fn pyproject_version(text: &str) -> Result<Found, NotFound> {
    let doc = toml_doc(text)?;
    for (key, path) in [
        ("project.version", &["project", "version"][..]),
        ("tool.poetry.version", &["tool", "poetry", "version"][..]),
    ] {
        match toml_string(doc.as_item(), path) {
            Some(Ok(value)) => return Ok(Found { key, value }),
            Some(Err(reason)) => return Err(NotFound { key, reason }),
            None => {}
        }
    }
    let dynamic = doc
        .get("project")
        .and_then(|p| p.get("dynamic"))
        .and_then(|d| d.as_array())
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
    Err(NotFound {
        key: "project.version",
        reason: if dynamic {
            "the version is dynamic (computed at build time); use [version] source = \"tag\" or \"file:<path>\"".into()
        } else {
            "neither it nor tool.poetry.version is set".into()
        },
    })
}

/// `version` of a `package.json`.
pub fn npm_version(text: &str) -> Result<Found, NotFound> {
    let key = "version";
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| NotFound {
        key: "(document)",
        reason: format!("not valid JSON: {e}"),
    })?;
    match v.get(key) {
        Some(serde_json::Value::String(s)) => Ok(Found {
            key,
            value: s.clone(),
        }),
        Some(other) => Err(NotFound {
            key,
            reason: format!("is not a string: {other}"),
        }),
        None => Err(NotFound {
            key,
            reason: "is missing".into(),
        }),
    }
}

/// The trimmed content of a version file; it must be one line.
pub fn file_version(text: &str) -> Result<Found, NotFound> {
    let t = text.trim();
    if t.is_empty() || t.contains('\n') {
        return Err(NotFound {
            key: "(content)",
            reason: "must hold exactly one version on one line".into(),
        });
    }
    Ok(Found {
        key: "(content)",
        value: t.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_prefers_workspace() {
        let t = "[workspace.package]\nversion = \"1.0.0\"\n[package]\nname=\"a\"\nversion.workspace = true\n";
        assert_eq!(cargo_version(t).unwrap().value, "1.0.0");
        assert_eq!(
            cargo_version("[package]\nversion = \"2.0.0\"\n")
                .unwrap()
                .key,
            "package.version"
        );
        assert!(cargo_version("[package]\nversion.workspace = true\n").is_err());
    }

    #[test]
    fn pyproject_dynamic_is_explained() {
        let e =
            pyproject_version("[project]\nname = \"x\"\ndynamic = [\"version\"]\n").unwrap_err();
        assert!(e.reason.contains("dynamic"));
        let t = "[tool.poetry]\nversion = \"1.0a1\"\n";
        assert_eq!(pyproject_version(t).unwrap().value, "1.0a1");
    }
}
