//! A package's `bin` field as npm normalises it: which files are
//! executables (`directories.bin` included), for the manifest reader and
//! for bundled dependencies.

use std::io;
use std::path::Path;

use serde_json::Value;

use super::error::NpmError;
use super::tree::{join, Kind, PackageTree};

/// @npmcli/package-json's `secureAndUnixifyPath`:
/// `path.join('.', path.join('/', p))`, `""` when that is the root.
pub(super) fn normalize_bin_target(t: &str) -> String {
    let t = t.replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for c in t.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// The targets of `bin` after @npmcli/package-json's normalisation (what
/// `npm pack` sees): a string is `{name: target}`, an array is keyed by
/// basename; keys become their basename, entries whose key or target
/// normalises to nothing are dropped, later keys overwrite earlier ones.
/// Without `bin`, `directories.bin` is expanded to every file and directory
/// below it (glob `**`: no dot names, symlinked directories not followed),
/// keyed by basename. `dir` is the package's directory in `tree`, `path`
/// its package.json for messages.
pub(super) fn package_bins(
    tree: &dyn PackageTree,
    dir: &str,
    path: &Path,
    name: &str,
    v: &Value,
) -> Result<Vec<String>, NpmError> {
    let truthy = |x: Option<&Value>| match x {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(_) => true,
    };
    let bin = v.get("bin");
    let bin_dir = v.get("directories").and_then(|d| d.get("bin"));
    if !truthy(bin) && truthy(bin_dir) {
        let Some(rel) = bin_dir.and_then(Value::as_str) else {
            return Err(NpmError::BadField {
                path: path.to_path_buf(),
                field: "directories.bin",
                value: bin_dir.map(Value::to_string).unwrap_or_default(),
                reason: "must be a string",
            });
        };
        let base = normalize_bin_target(rel);
        let mut found = Vec::new();
        list_bin_dir(tree, &join(dir, &base), "", &mut found)?;
        let mut by_name: Vec<(String, String)> = Vec::new();
        for f in found {
            let key = f.rsplit('/').next().unwrap_or(&f).to_string();
            if let Some((_, other)) = by_name.iter().find(|(k, _)| *k == key) {
                return Err(NpmError::BadField {
                    path: path.to_path_buf(),
                    field: "directories.bin",
                    value: format!("{rel:?} ({other} and {f})"),
                    reason: "holds two entries with the same name; npm would keep one of them depending on directory order",
                });
            }
            by_name.push((key, f));
        }
        return Ok(by_name
            .into_iter()
            .map(|(_, f)| format!("{base}/{f}"))
            .collect());
    }
    let mut map: Vec<(String, Value)> = match bin {
        Some(Value::String(s)) if !s.is_empty() => {
            vec![(name.to_string(), Value::String(s.clone()))]
        }
        Some(Value::Array(a)) if truthy(bin) => {
            let mut m: Vec<(String, Value)> = Vec::new();
            for k in a.iter().filter_map(Value::as_str) {
                let key = k.rsplit('/').next().unwrap_or(k).to_string();
                set_key(&mut m, key, Value::String(k.to_string()));
            }
            m
        }
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    };
    let keys: Vec<String> = map.iter().map(|(k, _)| k.clone()).collect();
    for key in keys {
        let Some(i) = map.iter().position(|(k, _)| *k == key) else {
            continue;
        };
        let Value::String(target) = map[i].1.clone() else {
            map.remove(i);
            continue;
        };
        let secured = normalize_bin_target(&key);
        let base = secured.rsplit('/').next().unwrap_or("").to_string();
        let target = normalize_bin_target(&target);
        if base.is_empty() || target.is_empty() {
            map.remove(i);
            continue;
        }
        if base != key {
            map.remove(i);
        }
        set_key(&mut map, base, Value::String(target));
    }
    Ok(map
        .into_iter()
        .filter_map(|(_, v)| v.as_str().map(String::from))
        .collect())
}

/// `obj[key] = value` keeping JavaScript's insertion order.
fn set_key(map: &mut Vec<(String, Value)>, key: String, value: Value) {
    match map.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => map.push((key, value)),
    }
}

/// glob `**` below `dir`: every entry, no dot names, symlinks listed but
/// not followed; relative, `/`-separated, sorted.
fn list_bin_dir(
    tree: &dyn PackageTree,
    dir: &str,
    rel: &str,
    out: &mut Vec<String>,
) -> Result<(), NpmError> {
    let entries = match tree.entries(dir) {
        Ok(e) => e,
        Err(NpmError::Io { source, .. })
            if rel.is_empty() && source.kind() == io::ErrorKind::NotFound =>
        {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    for (n, kind) in entries {
        if n.starts_with('.') {
            continue;
        }
        let r = format!("{rel}{n}");
        out.push(r.clone());
        if kind == Kind::Dir {
            list_bin_dir(tree, &join(dir, &n), &format!("{r}/"), out)?;
        }
    }
    Ok(())
}
