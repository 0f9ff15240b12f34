//! Stamping `Cargo.toml`: package and workspace versions, and the version
//! requirements of internal path dependencies, edited with `toml_edit` so
//! that comments, ordering and spacing survive.
//!
//! Fields: `workspace.package.version`, `package.version` (unless
//! `version.workspace = true`) as [`OwnField`] says, and `version` of every
//! dependency in `workspace.dependencies`, `[dependencies]`,
//! `[dev-dependencies]`, `[build-dependencies]` and their `target.*` forms
//! that has a `path` inside the project, names a stamped crate and pins its
//! current version exactly (see [`super::rule`]). A requirement keeps its
//! operator: `=0.1.0` → `=0.2.0`; `"1"` on a `1.0.228` crate stays.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use toml_edit::{DocumentMut, Item, Value};

use super::model::{Edit, FieldError, OwnField};

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

/// The operator and version of a single-comparator requirement (`0.1.0`,
/// `=0.1.0`, `^0.1.0`, `~0.1.0`, `>=0.1.0`), or `None` when it is not one.
pub(crate) fn split_requirement(req: &str) -> Option<(&str, &str)> {
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
    ok.then_some((op, rest))
}

/// `req` with its version replaced by `new` when it pins exactly `old`
/// (keeping the operator), else `None`.
pub(crate) fn rewrite_pin(req: &str, old: &str, new: &str) -> Option<String> {
    let (op, v) = split_requirement(req)?;
    (v == old).then(|| format!("{op}{new}"))
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
    internal: &BTreeMap<String, String>,
    edits: &mut Vec<Edit>,
) {
    let Some(t) = table.as_table_like_mut() else {
        return;
    };
    for (name, dep) in t.iter_mut() {
        let Some(dep) = dep.as_table_like_mut() else {
            continue;
        };
        let in_project = dep
            .get("path")
            .and_then(|p| p.as_str())
            .is_some_and(|p| inside(manifest_dir, p));
        let package = dep
            .get("package")
            .and_then(|p| p.as_str())
            .unwrap_or(name.get())
            .to_string();
        let Some(current) = internal.get(&package).filter(|_| in_project) else {
            continue;
        };
        let key = format!("{prefix}.{}.version", name.get());
        let Some(v) = dep.get_mut("version").and_then(Item::as_value_mut) else {
            continue;
        };
        let Some(old) = v.as_str().map(str::to_string) else {
            continue;
        };
        let Some(new) = rewrite_pin(&old, current, version) else {
            continue;
        };
        if new != old {
            set_string(v, &new);
            edits.push(Edit { key, old, new });
        }
    }
}

/// Stamps one `Cargo.toml`; `manifest_dir` is its directory relative to the
/// project root (for deciding which `path` dependencies are internal),
/// `own` says whether its own version is rewritten, `internal` maps the
/// stamped crates to their current versions.
pub(crate) fn stamp(
    text: &str,
    manifest_dir: &Path,
    version: &str,
    own: OwnField,
    internal: &BTreeMap<String, String>,
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
    if own != OwnField::No {
        if doc.get("package").is_some() {
            let item = child(doc.as_item_mut(), "package").and_then(|p| child(p, "version"));
            let present = set(item, "package.version", &mut edits)?;
            if !present && own == OwnField::Required {
                return Err(FieldError {
                    key: "package.version".into(),
                    reason: "is missing".into(),
                });
            }
            found |= present;
        }
        if let Some(ws) = child(doc.as_item_mut(), "workspace") {
            let item = child(ws, "package").and_then(|p| child(p, "version"));
            found |= set(item, "workspace.package.version", &mut edits)?;
        }
        if !found && own == OwnField::Required {
            return Err(FieldError {
                key: "workspace.package.version".into(),
                reason: "is missing, and there is no [package] version either".into(),
            });
        }
    }
    if let Some(deps) =
        child(doc.as_item_mut(), "workspace").and_then(|ws| child(ws, "dependencies"))
    {
        stamp_deps(
            deps,
            "workspace.dependencies",
            manifest_dir,
            version,
            internal,
            &mut edits,
        );
    }
    for t in DEP_TABLES {
        if let Some(deps) = child(doc.as_item_mut(), t) {
            stamp_deps(deps, t, manifest_dir, version, internal, &mut edits);
        }
    }
    if let Some(targets) = child(doc.as_item_mut(), "target").and_then(|t| t.as_table_like_mut()) {
        for (cfg, tt) in targets.iter_mut() {
            for t in DEP_TABLES {
                if let Some(deps) = child(tt, t) {
                    let prefix = format!("target.{}.{t}", cfg.get());
                    stamp_deps(deps, &prefix, manifest_dir, version, internal, &mut edits);
                }
            }
        }
    }
    Ok((doc.to_string(), edits))
}

/// Stamps the `[[package]]` entries of a `Cargo.lock` that are the
/// project's own (no `source`) and named in `names`.
pub(crate) fn stamp_lock(
    text: &str,
    names: &BTreeMap<String, String>,
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
            let Some(current) = names.get(&name).filter(|_| !t.contains_key("source")) else {
                continue;
            };
            let Some(v) = t.get_mut("version").and_then(Item::as_value_mut) else {
                continue;
            };
            let old = v.as_str().unwrap_or_default().to_string();
            if old != version && old == *current {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements() {
        assert_eq!(
            rewrite_pin("0.1.0", "0.1.0", "0.2.0").as_deref(),
            Some("0.2.0")
        );
        assert_eq!(
            rewrite_pin("=0.1.0", "0.1.0", "0.2.0").as_deref(),
            Some("=0.2.0")
        );
        assert_eq!(rewrite_pin("^0.1", "0.1.0", "0.2.0"), None);
        assert_eq!(rewrite_pin("1", "1.0.228", "1.0.229"), None);
        assert_eq!(rewrite_pin(">=0.1, <0.3", "0.1.0", "0.2.0"), None);
        assert_eq!(rewrite_pin("*", "0.1.0", "0.2.0"), None);
    }

    fn names(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn stamps_only_internal_pins() {
        let text = "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\nversion = \"0.1.0\" # the one\n\n[workspace.dependencies]\na = { path = \"a\", version = \"=0.1.0\" }\nd = { path = \"d\", version = \"1\" }\nserde = \"1\"\nout = { path = \"../out\", version = \"0.1.0\" }\n";
        let internal = names(&[("a", "0.1.0"), ("d", "1.0.5"), ("out", "0.1.0")]);
        let (out, edits) =
            stamp(text, Path::new(""), "0.2.0", OwnField::IfPresent, &internal).unwrap();
        assert_eq!(
            out,
            text.replace("\"0.1.0\" #", "\"0.2.0\" #")
                .replace("\"=0.1.0\"", "\"=0.2.0\"")
        );
        assert_eq!(edits.len(), 2);
        let internal = names(&[("a", "0.2.0")]);
        let (again, none) =
            stamp(&out, Path::new(""), "0.2.0", OwnField::IfPresent, &internal).unwrap();
        assert_eq!(again, out);
        assert!(none.is_empty());
    }

    #[test]
    fn missing_version_is_an_error_only_when_required() {
        let none = BTreeMap::new();
        assert!(stamp(
            "[package]\nname = \"a\"\n",
            Path::new(""),
            "1.0.0",
            OwnField::Required,
            &none
        )
        .is_err());
        assert!(stamp(
            "[workspace]\nmembers = []\n",
            Path::new(""),
            "1.0.0",
            OwnField::Required,
            &none
        )
        .is_err());
        assert!(stamp(
            "[workspace]\nmembers = []\n",
            Path::new(""),
            "1.0.0",
            OwnField::IfPresent,
            &none
        )
        .is_ok());
    }
}
