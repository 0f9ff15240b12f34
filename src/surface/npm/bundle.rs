//! `bundleDependencies` (or `bundledDependencies`) as npm-packlist 10's
//! `gatherBundles` packs them: the root's listed dependencies (`true` = all
//! of `dependencies`) that are production or optional dependencies and are
//! installed, then — transitively — every production and optional
//! dependency of a bundled package, each found the way Node resolves it
//! (`node_modules/<name>` in the package's directory, then in each ancestor
//! up to the packed package's root). Missing ones are skipped, as npm does.
//! Each bundled package is walked with [`packlist::Walk::Bundled`] rules
//! (or `BundledLink` for a symlinked one, whose target must lie inside the
//! package directory). Paths are relative to the packed package, and
//! everything is read through its [`PackageTree`].

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::bins::package_bins;
use super::error::NpmError;
use super::packlist::{self, Walk};
use super::tree::{join, Kind, PackageTree};

/// The names `bundleDependencies`/`bundledDependencies` lists (`true` =
/// every `dependencies` key), or an error naming the bad value.
pub(crate) fn bundled_names(path: &Path, v: &Value) -> Result<Vec<String>, NpmError> {
    let (field, value) = match (v.get("bundleDependencies"), v.get("bundledDependencies")) {
        (Some(b), _) if !b.is_null() => ("bundleDependencies", b),
        (_, Some(b)) => ("bundledDependencies", b),
        _ => return Ok(Vec::new()),
    };
    let bad = || NpmError::BadField {
        path: path.to_path_buf(),
        field: if field == "bundleDependencies" {
            "bundleDependencies"
        } else {
            "bundledDependencies"
        },
        value: value.to_string(),
        reason: "must be an array of package names or a boolean",
    };
    match value {
        Value::Null | Value::Bool(false) => Ok(Vec::new()),
        Value::Bool(true) => Ok(keys(v, "dependencies")),
        Value::Array(a) => a
            .iter()
            .map(|n| n.as_str().map(String::from).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

fn keys(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Whether `name` is a package name that cannot leave `node_modules/`.
fn safe_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let ok = |p: &str| !p.is_empty() && p != "." && p != ".." && !p.contains('\\');
    match parts.as_slice() {
        [n] => ok(n) && !n.starts_with('@'),
        [scope, n] => scope.starts_with('@') && ok(scope) && ok(n),
        _ => false,
    }
}

/// Where `name` resolves from `from` (a directory of `tree`): the nearest
/// `node_modules/<name>` directory at or above it, or `None`.
fn resolve(tree: &dyn PackageTree, from: &str, name: &str) -> Option<String> {
    let mut dir = Some(from);
    while let Some(d) = dir {
        let cand = join(&join(d, "node_modules"), name);
        if tree.is_dir(&cand) {
            return Some(cand);
        }
        dir = (!d.is_empty()).then(|| d.rsplit_once('/').map_or("", |(p, _)| p));
    }
    None
}

/// Files of the bundled dependencies of the package at the root of `tree`
/// whose package.json is `manifest`, relative to the root, unsorted.
pub(crate) fn bundled_files(
    tree: &dyn PackageTree,
    manifest: &Value,
) -> Result<Vec<String>, NpmError> {
    let names = bundled_names(&tree.path("package.json"), manifest)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let runtime: BTreeSet<String> = keys(manifest, "dependencies")
        .into_iter()
        .chain(keys(manifest, "optionalDependencies"))
        .collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut queue: Vec<(String, String)> = names
        .into_iter()
        .filter(|n| runtime.contains(n))
        .map(|n| (String::new(), n))
        .collect();
    queue.reverse();
    while let Some((from, name)) = queue.pop() {
        if !safe_name(&name) {
            continue;
        }
        let Some(rel) = resolve(tree, &from, &name) else {
            continue;
        };
        let link = tree.kind(&rel) == Some(Kind::Symlink);
        let Some(target) = tree.canonical(&rel)? else {
            return Err(NpmError::BadField {
                path: tree.path("package.json"),
                field: "bundleDependencies",
                value: format!("{name:?} ({rel} links outside the package)"),
                reason: "names a dependency kiln will not read",
            });
        };
        if !seen.insert(target.clone()) {
            continue;
        }
        let pj = join(&rel, "package.json");
        // Followed like npm does, but only to a regular file (never a
        // FIFO or a device such as /dev/zero).
        let bytes = if tree.is_file(&pj) {
            tree.read(&pj).ok()
        } else {
            None
        };
        let v: Value = match bytes {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| NpmError::InvalidJson {
                    path: tree.path(&pj),
                    source,
                })?
            }
            None => Value::Object(Default::default()),
        };
        let sel = dep_selection(tree, &rel, &tree.path(&pj), &v)?;
        let walk = if link {
            Walk::BundledLink
        } else {
            Walk::Bundled
        };
        for f in packlist::select_as(tree, &rel, &sel, walk)? {
            out.push(format!("{rel}/{f}"));
        }
        // A link's dependencies resolve from where it points.
        let base = if link { target } else { rel };
        let mut deps: Vec<String> = keys(&v, "dependencies");
        deps.extend(keys(&v, "optionalDependencies"));
        for d in deps.into_iter().rev() {
            queue.push((base.clone(), d));
        }
    }
    Ok(out)
}

/// The selection fields of a bundled package's package.json, read leniently
/// (npm packs a bundled package whatever its name and version say).
fn dep_selection(
    tree: &dyn PackageTree,
    dir: &str,
    path: &Path,
    v: &Value,
) -> Result<packlist::Selection, NpmError> {
    let files = v.get("files").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    });
    let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
    Ok(packlist::Selection {
        files,
        main: v.get("main").and_then(Value::as_str).map(String::from),
        browser: v.get("browser").and_then(Value::as_str).map(String::from),
        bin: package_bins(tree, dir, path, name, v)?,
        workspaces: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let v: Value =
            serde_json::json!({"dependencies": {"a": "1", "b": "1"}, "bundledDependencies": true});
        assert_eq!(bundled_names(Path::new("p"), &v).unwrap(), ["a", "b"]);
        let v: Value = serde_json::json!({"bundleDependencies": "a"});
        assert!(bundled_names(Path::new("p"), &v).is_err());
        assert!(!safe_name("../x") && !safe_name("@s/../x") && safe_name("@s/x"));
    }
}
