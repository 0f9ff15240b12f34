//! Stamping `Cargo.toml`: package and workspace versions, and the version
//! requirements of internal path dependencies, edited with `toml_edit` so
//! that comments, ordering and spacing survive.
//!
//! Fields: `workspace.package.version`, `package.version` (unless
//! `version.workspace = true`), and `version` of every dependency in
//! `workspace.dependencies`, `[dependencies]`, `[dev-dependencies]`,
//! `[build-dependencies]` and their `target.*` forms that has a `path`
//! inside the project. A requirement keeps its operator: `=0.1.0` → `=0.2.0`.

use std::path::{Component, Path, PathBuf};

use toml_edit::{DocumentMut, Item, Value};

use super::{Edit, FieldError};

/// Names of the `[package] name` of a manifest, if any.
pub fn package_name(text: &str) -> Option<String> {
    let doc: DocumentMut = text.parse().ok()?;
    doc.get("package")?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// The child `key` of a table item, without inserting it (unlike `Item::get_mut`).
pub(super) fn child<'a>(item: &'a mut Item, key: &str) -> Option<&'a mut Item> {
    item.as_table_like_mut()?
        .get_mut(key)
        .filter(|i| !i.is_none())
}

/// Replaces a string value in place, keeping its surrounding decoration.
pub(super) fn set_string(v: &mut Value, new: &str) {
    let decor = v.decor().clone();
    *v = Value::from(new);
    *v.decor_mut() = decor;
}

/// `op` + `version` for a single-comparator requirement (`0.1`, `=0.1.0`,
/// `^0.1.0`, `~0.1`, `>=0.1.0`), or `None` when it is not one.
pub fn rewrite_requirement(req: &str, version: &str) -> Option<String> {
    let t = req.trim();
    let op_len = t
        .find(|c: char| !matches!(c, '=' | '^' | '~' | '>' | '<' | ' '))
        .unwrap_or(t.len());
    let (op, rest) = t.split_at(op_len);
    let op = op.trim();
    if !matches!(op, "" | "=" | "^" | "~" | ">=") {
        return None;
    }
    let ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        && rest.starts_with(|c: char| c.is_ascii_digit());
    ok.then(|| format!("{op}{version}"))
}

/// Whether `manifest_dir/path` stays inside the project root.
fn inside(manifest_dir: &Path, path: &str) -> bool {
    let mut out: Vec<Component> = Vec::new();
    for c in manifest_dir.join(path).components() {
        match c {
            Component::ParentDir => {
                if out.pop().is_none() {
                    return false;
                }
            }
            Component::CurDir => {}
            Component::Normal(_) => out.push(c),
            _ => return false,
        }
    }
    true
}

const DEP_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

fn stamp_deps(
    table: &mut Item,
    prefix: &str,
    manifest_dir: &Path,
    version: &str,
    edits: &mut Vec<Edit>,
) -> Result<(), FieldError> {
    let Some(t) = table.as_table_like_mut() else {
        return Ok(());
    };
    for (name, dep) in t.iter_mut() {
        let Some(dep) = dep.as_table_like_mut() else {
            continue;
        };
        let internal = dep
            .get("path")
            .and_then(|p| p.as_str())
            .is_some_and(|p| inside(manifest_dir, p));
        if !internal {
            continue;
        }
        let key = format!("{prefix}.{}.version", name.get());
        let Some(item) = dep.get_mut("version") else {
            continue;
        };
        let Some(v) = item.as_value_mut() else {
            continue;
        };
        let Some(old) = v.as_str().map(str::to_string) else {
            continue;
        };
        let new = rewrite_requirement(&old, version).ok_or_else(|| FieldError {
            key: key.clone(),
            reason: format!("requirement {old:?} is not a single version (like \"0.1.0\" or \"=0.1.0\"); kiln cannot rewrite it"),
        })?;
        if new != old {
            set_string(v, &new);
            edits.push(Edit { key, old, new });
        }
    }
    Ok(())
}

/// Stamps one `Cargo.toml`; `manifest_dir` is its directory relative to the
/// project root (for deciding which `path` dependencies are internal).
pub fn stamp(
    text: &str,
    manifest_dir: &Path,
    version: &str,
) -> Result<(String, Vec<Edit>), FieldError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| FieldError {
        key: "(document)".into(),
        reason: format!("not valid TOML: {}", e.message().trim()),
    })?;
    let mut edits = Vec::new();
    let mut found = false;
    let set =
        |item: Option<&mut Item>, key: &str, edits: &mut Vec<Edit>| -> Result<bool, FieldError> {
            let Some(item) = item else { return Ok(false) };
            if item.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
                return Ok(true);
            }
            let v = item
                .as_value_mut()
                .filter(|v| v.is_str())
                .ok_or_else(|| FieldError {
                    key: key.into(),
                    reason: "is not a string".into(),
                })?;
            let old = v.as_str().unwrap_or_default().to_string();
            if old != version {
                set_string(v, version);
                edits.push(Edit {
                    key: key.into(),
                    old,
                    new: version.into(),
                });
            }
            Ok(true)
        };
    if doc.get("package").is_some() {
        let item = child(doc.as_item_mut(), "package").and_then(|p| child(p, "version"));
        if !set(item, "package.version", &mut edits)? {
            return Err(FieldError {
                key: "package.version".into(),
                reason: "is missing".into(),
            });
        }
        found = true;
    }
    if let Some(ws) = child(doc.as_item_mut(), "workspace") {
        let item = child(ws, "package").and_then(|p| child(p, "version"));
        found |= set(item, "workspace.package.version", &mut edits)?;
        if let Some(deps) = child(ws, "dependencies") {
            stamp_deps(
                deps,
                "workspace.dependencies",
                manifest_dir,
                version,
                &mut edits,
            )?;
        }
    }
    if !found {
        return Err(FieldError {
            key: "workspace.package.version".into(),
            reason: "is missing, and there is no [package] version either".into(),
        });
    }
    for t in DEP_TABLES {
        if let Some(deps) = child(doc.as_item_mut(), t) {
            stamp_deps(deps, t, manifest_dir, version, &mut edits)?;
        }
    }
    if let Some(targets) = child(doc.as_item_mut(), "target").and_then(|t| t.as_table_like_mut()) {
        for (cfg, tt) in targets.iter_mut() {
            for t in DEP_TABLES {
                if let Some(deps) = child(tt, t) {
                    let prefix = format!("target.{}.{t}", cfg.get());
                    stamp_deps(deps, &prefix, manifest_dir, version, &mut edits)?;
                }
            }
        }
    }
    Ok((doc.to_string(), edits))
}

/// Whether a manifest declares a version (`package.version`, inherited or
/// not, or `workspace.package.version`).
pub fn has_version(text: &str) -> bool {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return true; // let stamping report the parse error
    };
    doc.get("package").and_then(|p| p.get("version")).is_some()
        || doc
            .get("workspace")
            .and_then(|w| w.get("package"))
            .and_then(|p| p.get("version"))
            .is_some()
}

/// Stamps the `[[package]]` entries of a `Cargo.lock` that are the
/// project's own (no `source`) and named in `names`.
pub fn stamp_lock(
    text: &str,
    names: &std::collections::BTreeSet<String>,
    version: &str,
) -> Result<(String, Vec<Edit>), FieldError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| FieldError {
        key: "(document)".into(),
        reason: format!("not valid TOML: {}", e.message().trim()),
    })?;
    let mut edits = Vec::new();
    if let Some(packages) =
        child(doc.as_item_mut(), "package").and_then(Item::as_array_of_tables_mut)
    {
        for t in packages.iter_mut() {
            let name = t
                .get("name")
                .and_then(Item::as_str)
                .unwrap_or_default()
                .to_string();
            if t.contains_key("source") || !names.contains(&name) {
                continue;
            }
            let Some(v) = t.get_mut("version").and_then(Item::as_value_mut) else {
                continue;
            };
            let old = v.as_str().unwrap_or_default().to_string();
            if old != version {
                set_string(v, version);
                edits.push(Edit {
                    key: format!("package.{name}.version"),
                    old,
                    new: version.into(),
                });
            }
        }
    }
    Ok((doc.to_string(), edits))
}

/// Member directories named by `workspace.members` (globs with `*` expanded
/// against `root`), minus `workspace.exclude`; sorted, relative to `root`.
pub fn workspace_members(text: &str, root: &Path) -> Vec<PathBuf> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let list = |key: &str| -> Vec<String> {
        doc.get("workspace")
            .and_then(|w| w.get(key))
            .and_then(|m| m.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let exclude = list("exclude");
    let mut out = super::expand_dir_globs(root, &list("members"));
    out.retain(|d| !exclude.iter().any(|e| Path::new(e) == d));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements() {
        assert_eq!(
            rewrite_requirement("0.1.0", "0.2.0").as_deref(),
            Some("0.2.0")
        );
        assert_eq!(
            rewrite_requirement("=0.1.0", "0.2.0").as_deref(),
            Some("=0.2.0")
        );
        assert_eq!(
            rewrite_requirement("^0.1", "0.2.0").as_deref(),
            Some("^0.2.0")
        );
        assert_eq!(rewrite_requirement(">=0.1, <0.3", "0.2.0"), None);
        assert_eq!(rewrite_requirement("*", "0.2.0"), None);
    }

    #[test]
    fn stamps_only_internal_pins() {
        let text = "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\nversion = \"0.1.0\" # the one\n\n[workspace.dependencies]\na = { path = \"a\", version = \"=0.1.0\" }\nserde = \"1\"\nout = { path = \"../out\", version = \"0.1.0\" }\n";
        let (out, edits) = stamp(text, Path::new(""), "0.2.0").unwrap();
        assert_eq!(
            out,
            text.replace("\"0.1.0\" #", "\"0.2.0\" #")
                .replace("\"=0.1.0\"", "\"=0.2.0\"")
        );
        assert_eq!(edits.len(), 2);
        let (again, none) = stamp(&out, Path::new(""), "0.2.0").unwrap();
        assert_eq!(again, out);
        assert!(none.is_empty());
    }

    #[test]
    fn missing_version_is_an_error() {
        assert!(stamp("[package]\nname = \"a\"\n", Path::new(""), "1.0.0").is_err());
        assert!(stamp("[workspace]\nmembers = []\n", Path::new(""), "1.0.0").is_err());
    }
}
