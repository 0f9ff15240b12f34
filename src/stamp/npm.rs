//! Stamping `package.json` and `package-lock.json` by replacing version
//! string tokens in place (see [`super::json`]); nothing else in the file
//! changes, not even escapes or spacing.
//!
//! - `package.json`: `version` (as [`OwnField`] says), and dependency ranges
//!   on stamped packages (`dependencies`, `devDependencies`,
//!   `peerDependencies`, `optionalDependencies`) that pin the package's
//!   current version (`0.1.0`, `^0.1.0`, `~0.1.0`, `=0.1.0`, `>=0.1.0`);
//!   `workspace:*`, `file:`, `*` and other versions stay.
//! - `package-lock.json`: `packages["<dir>"].version` for each stamped
//!   package directory; the top-level `version` and `packages[""].version`
//!   only when the root package is stamped (a private workspace root has
//!   none); the same internal pins inside the project's own entries (keys
//!   outside `node_modules/`) — what `npm install --package-lock-only`
//!   writes after the same `package.json` edits.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::cargo::rewrite_pin;
use super::json::{quote, splice, Node};
use super::model::{Edit, FieldError, OwnField};

const DEP_KEYS: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "peerDependencies",
    "optionalDependencies",
];

fn parse(text: &str) -> Result<Node, FieldError> {
    Node::parse(text).map_err(|e| FieldError {
        key: "(document)".into(),
        reason: format!("not valid JSON: {e}"),
    })
}

/// `workspaces` patterns of a package.json (array or `{packages: [...]}`).
pub(crate) fn workspaces(text: &str) -> Vec<String> {
    let Ok(doc) = Node::parse(text) else {
        return Vec::new();
    };
    let ws = doc.get("workspaces");
    let arr = ws.and_then(|w| w.get("packages")).or(ws);
    match arr.map(|a| &a.value) {
        Some(super::json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

type Edits = Vec<(Range<usize>, String)>;

fn required_version(
    node: &Node,
    key: &str,
    version: &str,
    edits: &mut Edits,
    log: &mut Vec<Edit>,
) -> Result<(), FieldError> {
    let v = node.get("version").ok_or_else(|| FieldError {
        key: key.into(),
        reason: "is missing".into(),
    })?;
    let old = v.as_str().ok_or_else(|| FieldError {
        key: key.into(),
        reason: "is not a string".into(),
    })?;
    if old != version {
        edits.push((v.span.clone(), quote(version)));
        log.push(Edit {
            key: key.into(),
            old: old.into(),
            new: version.into(),
        });
    }
    Ok(())
}

fn pins(
    node: &Node,
    prefix: &str,
    internal: &BTreeMap<String, String>,
    version: &str,
    edits: &mut Edits,
    log: &mut Vec<Edit>,
) {
    for dk in DEP_KEYS {
        let Some(deps) = node.get(dk) else { continue };
        for (name, spec) in deps.members() {
            let Some(current) = internal.get(name) else {
                continue;
            };
            let Some(old) = spec.as_str() else { continue };
            let Some(new) = rewrite_pin(old, current, version) else {
                continue;
            };
            if new != old {
                edits.push((spec.span.clone(), quote(&new)));
                log.push(Edit {
                    key: format!("{prefix}{dk}.{name}"),
                    old: old.into(),
                    new,
                });
            }
        }
    }
}

/// Stamps a package.json; `internal` maps the stamped packages to their
/// current versions.
pub(crate) fn stamp_package_json(
    text: &str,
    version: &str,
    own: OwnField,
    internal: &BTreeMap<String, String>,
) -> Result<(String, Vec<Edit>), FieldError> {
    let doc = parse(text)?;
    let (mut edits, mut log) = (Vec::new(), Vec::new());
    match own {
        OwnField::Required => required_version(&doc, "version", version, &mut edits, &mut log)?,
        OwnField::IfPresent if doc.get("version").is_some() => {
            required_version(&doc, "version", version, &mut edits, &mut log)?
        }
        _ => {}
    }
    pins(&doc, "", internal, version, &mut edits, &mut log);
    Ok((splice(text, edits), log))
}

/// Stamps a package-lock.json: `root` says whether the package at the
/// lockfile's directory is stamped, `dirs` are the other stamped package
/// directories relative to it, `internal` the stamped packages' current
/// versions.
pub(crate) fn stamp_lock(
    text: &str,
    version: &str,
    root: bool,
    dirs: &BTreeSet<String>,
    internal: &BTreeMap<String, String>,
) -> Result<(String, Vec<Edit>), FieldError> {
    let doc = parse(text)?;
    let (mut edits, mut log) = (Vec::new(), Vec::new());
    if root {
        required_version(&doc, "version", version, &mut edits, &mut log)?;
    }
    if let Some(packages) = doc.get("packages") {
        for (dir, entry) in packages.members() {
            if dir.split('/').any(|c| c == "node_modules") {
                continue;
            }
            let stamped = if dir.is_empty() {
                root
            } else {
                dirs.contains(dir)
            };
            if stamped {
                let key = format!("packages[{dir:?}].version");
                if dir.is_empty() || entry.get("version").is_some() {
                    required_version(entry, &key, version, &mut edits, &mut log)?;
                }
            }
            pins(
                entry,
                &format!("packages[{dir:?}]."),
                internal,
                version,
                &mut edits,
                &mut log,
            );
        }
    }
    Ok((splice(text, edits), log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_entries() {
        let text = "{\n  \"name\": \"root\",\n  \"version\": \"0.1.0\",\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"\": {\n      \"name\": \"root\",\n      \"version\": \"0.1.0\",\n      \"workspaces\": [\"node\"]\n    },\n    \"node\": {\n      \"name\": \"@x/node\",\n      \"version\": \"0.1.0\",\n      \"dependencies\": {\"left-pad\": \"^0.1.0\"}\n    },\n    \"node_modules/left-pad\": {\"version\": \"0.1.0\"}\n  }\n}\n";
        let dirs = BTreeSet::from(["node".to_string()]);
        let internal = BTreeMap::from([("@x/node".to_string(), "0.1.0".to_string())]);
        let (out, log) = stamp_lock(text, "0.2.0", true, &dirs, &internal).unwrap();
        assert_eq!(log.len(), 3);
        assert!(out.contains("\"node_modules/left-pad\": {\"version\": \"0.1.0\"}"));
        assert!(out.contains("{\"left-pad\": \"^0.1.0\"}"));
        assert_eq!(out.matches("0.2.0").count(), 3);
    }
}
