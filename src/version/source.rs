//! Reading the canonical version out of manifest text (no I/O).
//!
//! | source | key read |
//! |---|---|
//! | `cargo` | `workspace.package.version`, else `package.version`; a root without either: its members' (see [`cargo_version_in`]) |
//! | `pyproject` | `project.version`, else `tool.poetry.version` |
//! | `npm` | `version` |
//! | `file:<path>` | the whole file, trimmed |

/// A version string found in a manifest, with the key it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub key: String,
    pub value: String,
}

/// Why no version could be read: the key looked for and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotFound {
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
pub(crate) fn cargo_version(text: &str) -> Result<Found, NotFound> {
    let doc = toml_doc(text)?;
    for (key, path) in [
        (
            "workspace.package.version",
            &["workspace", "package", "version"][..],
        ),
        ("package.version", &["package", "version"][..]),
    ] {
        match toml_string(doc.as_item(), path) {
            Some(Ok(value)) => {
                return Ok(Found {
                    key: key.into(),
                    value,
                })
            }
            Some(Err(reason)) if key == "package.version" => return Err(NotFound { key, reason }),
            _ => {}
        }
    }
    Err(NotFound {
        key: "workspace.package.version",
        reason: "neither it nor package.version is set".into(),
    })
}

/// The Cargo version of the manifest at `path` (project-relative), looking
/// beyond it the way cargo does:
///
/// - `version.workspace = true` reads `workspace.package.version` of the
///   workspace root (the nearest ancestor manifest with `[workspace]`);
/// - a workspace root with neither `workspace.package.version` nor
///   `package.version` (serde, clap, rayon) reads its members: every
///   member with its own version that is published (`publish` not `false`)
///   must state the same one, else the policy must name a member
///   (`source = "cargo:<member>/Cargo.toml"`).
///
/// `read` reads a project-relative file; `expand` expands
/// `workspace.members` patterns to member directories.
pub(crate) fn cargo_version_in(
    text: &str,
    path: &std::path::Path,
    read: &dyn Fn(&std::path::Path) -> Option<String>,
    expand: &dyn Fn(&[String]) -> Vec<std::path::PathBuf>,
) -> Result<Found, NotFound> {
    use std::path::Path;
    let inherits = |t: &str| {
        toml_edit::ImDocument::parse(t).ok().is_some_and(|d| {
            d.get("package")
                .and_then(|p| p.get("version"))
                .and_then(|v| v.get("workspace"))
                .and_then(|w| w.as_bool())
                == Some(true)
        })
    };
    if inherits(text) {
        let mut dir = path.parent();
        while let Some(d) = dir.and_then(Path::parent) {
            let root = d.join("Cargo.toml");
            if let Some(t) = read(&root).filter(|t| is_workspace_root(t)) {
                return cargo_version(&t).map(|f| Found {
                    key: format!("{} (inherited from {})", f.key, root.display()),
                    value: f.value,
                });
            }
            dir = Some(d);
        }
        return Err(NotFound {
            key: "package.version",
            reason: "is inherited from the workspace (`version.workspace = true`), but no workspace root was found above it".into(),
        });
    }
    match cargo_version(text) {
        Err(e) if e.key == "workspace.package.version" && is_workspace_root(text) => {
            let dir = path.parent().unwrap_or(Path::new(""));
            let prefix = dir.to_string_lossy();
            let members: Vec<String> = workspace_list(text, "members")
                .into_iter()
                .map(|m| match prefix.as_ref() {
                    "" => m,
                    p => format!("{p}/{m}"),
                })
                .collect();
            let mut seen: Vec<(String, String)> = Vec::new();
            for m in expand(&members) {
                let mp = m.join("Cargo.toml");
                let Some(t) = read(&mp) else { continue };
                let Ok(doc) = toml_edit::ImDocument::parse(t.as_str()) else {
                    continue;
                };
                let pkg = doc.get("package");
                let published =
                    pkg.and_then(|p| p.get("publish")).and_then(|p| p.as_bool()) != Some(false);
                if let Some(v) = pkg.and_then(|p| p.get("version")).and_then(|v| v.as_str()) {
                    if published {
                        seen.push((mp.display().to_string(), v.to_string()));
                    }
                }
            }
            let mut versions: Vec<&str> = seen.iter().map(|(_, v)| v.as_str()).collect();
            versions.sort();
            versions.dedup();
            match versions.as_slice() {
                [one] => Ok(Found {
                    key: format!("package.version of the members ({})", seen.len()),
                    value: one.to_string(),
                }),
                [] => Err(e),
                _ => Err(NotFound {
                    key: "workspace.package.version",
                    reason: format!(
                        "is not set and the members disagree ({}); name the member that carries the release version: [version] source = \"cargo:<member>/Cargo.toml\"",
                        seen.iter()
                            .map(|(p, v)| format!("{p}: {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
            }
        }
        other => other,
    }
}

fn is_workspace_root(text: &str) -> bool {
    toml_edit::ImDocument::parse(text)
        .ok()
        .is_some_and(|d| d.get("workspace").is_some_and(|w| w.is_table_like()))
}

fn workspace_list(text: &str, key: &str) -> Vec<String> {
    toml_edit::ImDocument::parse(text)
        .ok()
        .and_then(|d| {
            d.get("workspace")?.get(key)?.as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// `project.version`, else `tool.poetry.version`.
pub(crate) fn pyproject_version(text: &str) -> Result<Found, NotFound> {
    let doc = toml_doc(text)?;
    for (key, path) in [
        ("project.version", &["project", "version"][..]),
        ("tool.poetry.version", &["tool", "poetry", "version"][..]),
    ] {
        match toml_string(doc.as_item(), path) {
            Some(Ok(value)) => {
                return Ok(Found {
                    key: key.into(),
                    value,
                })
            }
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
pub(crate) fn npm_version(text: &str) -> Result<Found, NotFound> {
    let key = "version";
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| NotFound {
        key: "(document)",
        reason: format!("not valid JSON: {e}"),
    })?;
    match v.get(key) {
        Some(serde_json::Value::String(s)) => Ok(Found {
            key: key.into(),
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
pub(crate) fn file_version(text: &str) -> Result<Found, NotFound> {
    let t = text.trim();
    if t.is_empty() || t.contains('\n') {
        return Err(NotFound {
            key: "(content)",
            reason: "must hold exactly one version on one line".into(),
        });
    }
    Ok(Found {
        key: "(content)".into(),
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
    fn cargo_workspace_without_a_version_reads_members() {
        use std::collections::BTreeMap;
        use std::path::{Path, PathBuf};
        let files: BTreeMap<&str, &str> = BTreeMap::from([
            ("Cargo.toml", "[workspace]\nmembers = [\"serde\", \"serde_derive\", \"test_suite\"]\n[workspace.package]\nedition = \"2021\"\n"),
            ("serde/Cargo.toml", "[package]\nname = \"serde\"\nversion = \"1.0.228\"\n"),
            ("serde_derive/Cargo.toml", "[package]\nname = \"serde_derive\"\nversion = \"1.0.228\"\n"),
            ("test_suite/Cargo.toml", "[package]\nname = \"t\"\nversion = \"0.0.0\"\npublish = false\n"),
            ("sub/Cargo.toml", "[workspace]\nmembers = [\"a\"]\n[workspace.package]\nversion = \"2.0.0\"\n"),
            ("sub/a/Cargo.toml", "[package]\nname = \"a\"\nversion.workspace = true\n"),
            ("internals/Cargo.toml", "[package]\nname = \"i\"\nversion = \"0.29.1\"\n"),
        ]);
        let read = |p: &Path| files.get(p.to_str().unwrap()).map(|s| s.to_string());
        let expand = |pats: &[String]| pats.iter().map(PathBuf::from).collect::<Vec<_>>();
        let root = cargo_version_in(files["Cargo.toml"], Path::new("Cargo.toml"), &read, &expand);
        assert_eq!(root.unwrap().value, "1.0.228");
        let a = Path::new("sub/a/Cargo.toml");
        assert_eq!(
            cargo_version_in(files["sub/a/Cargo.toml"], a, &read, &expand)
                .unwrap()
                .value,
            "2.0.0"
        );
        let split = "[workspace]\nmembers = [\"serde\", \"internals\"]\n";
        let err = cargo_version_in(split, Path::new("Cargo.toml"), &read, &expand).unwrap_err();
        assert!(err.reason.contains("disagree"), "{err:?}");
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
