//! `bundleDependencies` (or `bundledDependencies`) as npm-packlist 10's
//! `gatherBundles` packs them: the root's listed dependencies (`true` = all
//! of `dependencies`) that are production or optional dependencies and are
//! installed, then — transitively — every production and optional
//! dependency of a bundled package, each found the way Node resolves it
//! (`node_modules/<name>` in the package's directory, then in each ancestor
//! up to the packed package's root). Missing ones are skipped, as npm does.
//! Each bundled package is walked with [`packlist::Walk::Bundled`] rules
//! (or `BundledLink` for a symlinked one, whose target must lie inside the
//! package directory). Paths are relative to the packed package.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::bins::package_bins;
use super::error::NpmError;
use super::packlist::{self, Walk};

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

/// Where `name` resolves from `from` (relative to `root`): the nearest
/// `node_modules/<name>` directory at or above it, or `None`.
fn resolve(root: &Path, from: &Path, name: &str) -> Option<PathBuf> {
    let mut dir = Some(from.to_path_buf());
    while let Some(d) = dir {
        let cand = d.join("node_modules").join(name);
        if fs::metadata(root.join(&cand)).is_ok_and(|m| m.is_dir()) {
            return Some(cand);
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    None
}

/// Files of the bundled dependencies of the package at `root` whose
/// package.json is `manifest`, relative to `root`, unsorted.
pub(crate) fn bundled_files(root: &Path, manifest: &Value) -> Result<Vec<String>, NpmError> {
    let names = bundled_names(&root.join("package.json"), manifest)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let canon_root = fs::canonicalize(root).map_err(|source| NpmError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let runtime: BTreeSet<String> = keys(manifest, "dependencies")
        .into_iter()
        .chain(keys(manifest, "optionalDependencies"))
        .collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut queue: Vec<(PathBuf, String)> = names
        .into_iter()
        .filter(|n| runtime.contains(n))
        .map(|n| (PathBuf::new(), n))
        .collect();
    queue.reverse();
    while let Some((from, name)) = queue.pop() {
        if !safe_name(&name) {
            continue;
        }
        let Some(rel) = resolve(root, &from, &name) else {
            continue;
        };
        let abs = root.join(&rel);
        let link = fs::symlink_metadata(&abs).is_ok_and(|m| m.file_type().is_symlink());
        let target = fs::canonicalize(&abs).map_err(|source| NpmError::Io {
            path: abs.clone(),
            source,
        })?;
        if !target.starts_with(&canon_root) {
            return Err(NpmError::BadField {
                path: root.join("package.json"),
                field: "bundleDependencies",
                value: format!("{name:?} ({} links outside the package)", rel.display()),
                reason: "names a dependency kiln will not read",
            });
        }
        if !seen.insert(target.clone()) {
            continue;
        }
        let pj = abs.join("package.json");
        // Followed like npm does, but only to a regular file (never a
        // FIFO or a device such as /dev/zero).
        let bytes = if pj.is_file() {
            fs::read(&pj).ok()
        } else {
            None
        };
        let v: Value = match bytes {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| NpmError::InvalidJson {
                    path: pj.clone(),
                    source,
                })?
            }
            None => Value::Object(Default::default()),
        };
        let sel = dep_selection(&abs, &pj, &v)?;
        let walk = if link {
            Walk::BundledLink
        } else {
            Walk::Bundled
        };
        let prefix = rel_string(&rel);
        for f in packlist::select_as(&abs, &sel, walk)? {
            out.push(format!("{prefix}/{f}"));
        }
        // A link's dependencies resolve from where it points.
        let base = if link {
            target
                .strip_prefix(&canon_root)
                .map(Path::to_path_buf)
                .unwrap_or_default()
        } else {
            rel.clone()
        };
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
fn dep_selection(dir: &Path, path: &Path, v: &Value) -> Result<packlist::Selection, NpmError> {
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
        bin: package_bins(dir, path, name, v)?,
        workspaces: false,
    })
}

/// Copies an input's tree (regular files and directories; symlinks are
/// skipped) to `to`, which must not exist: how an input mounted as
/// `node_modules` becomes the package's `node_modules/`.
pub(crate) fn install_input(from: &Path, to: &Path) -> Result<(), NpmError> {
    let io = |p: &Path| {
        let path = p.to_path_buf();
        move |source| NpmError::Io { path, source }
    };
    fs::create_dir(to).map_err(io(to))?;
    let mut entries: Vec<_> = fs::read_dir(from)
        .map_err(io(from))?
        .collect::<Result<_, _>>()
        .map_err(io(from))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ft = e.file_type().map_err(io(&e.path()))?;
        let dest = to.join(e.file_name());
        if ft.is_dir() {
            install_input(&e.path(), &dest)?;
        } else if ft.is_file() {
            fs::copy(e.path(), &dest).map_err(io(&dest))?;
        }
    }
    Ok(())
}

/// `/`-separated form of a relative path.
fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_input_copies() {
        let v: Value =
            serde_json::json!({"dependencies": {"a": "1", "b": "1"}, "bundledDependencies": true});
        assert_eq!(bundled_names(Path::new("p"), &v).unwrap(), ["a", "b"]);
        let v: Value = serde_json::json!({"bundleDependencies": "a"});
        assert!(bundled_names(Path::new("p"), &v).is_err());
        assert!(!safe_name("../x") && !safe_name("@s/../x") && safe_name("@s/x"));
        let t = tempfile::tempdir().unwrap();
        let from = t.path().join("in");
        fs::create_dir_all(from.join("a/lib")).unwrap();
        fs::write(from.join("a/lib/x.js"), "1").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", from.join("a/leak")).unwrap();
        install_input(&from, &t.path().join("nm")).unwrap();
        assert_eq!(fs::read(t.path().join("nm/a/lib/x.js")).unwrap(), b"1");
        assert!(!t.path().join("nm/a/leak").exists());
        assert!(
            install_input(&from, &t.path().join("nm")).is_err(),
            "never merges"
        );
    }
}
