//! Whether kiln writes a poetry-core project's wheel exactly as
//! poetry-core [`POETRY_CORE_VERSION`] does ([`coverage`]), and why not
//! otherwise; with what the writer (`super::poetry`) shares of it: the
//! `[tool.poetry] packages` forms kiln reads and poetry-core's NFC
//! recomposition of names. Reads `pyproject.toml` only.

use super::emulation::POETRY_CORE_VERSION;
use super::poetry_requirements::{canonical, requirement, Python};
use crate::recipe::Surface;

/// `[tool.poetry]` keys that do not change a `[project]` project's wheel.
/// `packages` and `include` are read as [`packages`] says.
const NEUTRAL_TOOL_KEYS: &[&str] = &[
    "requires-poetry",
    "group",
    "version",
    "packages",
    "include",
    "classifiers",
];

/// Whether kiln writes this poetry-core project's wheel exactly, or why not.
pub(crate) fn coverage(surface: Surface, doc: &toml_edit::DocumentMut) -> Result<(), String> {
    if surface != Surface::Wheel {
        return Err("kiln does not write poetry-core's sdists (only its wheels)".into());
    }
    requires_allows(doc)?;
    let Some(project) = doc.get("project").and_then(|p| p.as_table_like()) else {
        return Err(
            "the metadata is in [tool.poetry] (kiln writes poetry-core's [project] projects)"
                .into(),
        );
    };
    tool_poetry(doc, project)?;
    let text = |k: &str| project.get(k).and_then(|v| v.as_str());
    Python::parse(text("requires-python"))?;
    if let Some(readme) = project.get("readme").and_then(|r| r.as_table_like()) {
        if readme.get("text").is_some() {
            return Err("project.readme is inline text (kiln writes readme files)".into());
        }
    }
    if let Some(table) = project.get("license").and_then(|l| l.as_table_like()) {
        let text = table.get("text").and_then(|t| t.as_str());
        let known = text.and_then(license_classifier).is_some();
        if table.len() != 1 || !known || project.contains_key("license-files") {
            return Err(
                "project.license is a table other than `{ text = \"<id>\" }` of an id in kiln's table of poetry-core's licence classifiers".into(),
            );
        }
    }
    let globs = project.get("license-files").and_then(|l| l.as_array());
    if globs.is_some_and(|g| {
        g.iter()
            .any(|v| v.as_str().is_none_or(|s| s.contains("**")))
    }) {
        return Err("project.license-files has a `**` glob".into());
    }
    for key in ["authors", "maintainers"] {
        let first: Option<Vec<Option<&str>>> = match project.get(key) {
            Some(toml_edit::Item::ArrayOfTables(a)) => a
                .get(0)
                .map(|t| t.iter().map(|(_, v)| v.as_str()).collect()),
            Some(item) => item
                .as_array()
                .and_then(|a| a.get(0))
                .and_then(|c| c.as_inline_table())
                .map(|t| t.iter().map(|(_, v)| v.as_str()).collect()),
            None => None,
        };
        let odd = first.is_some_and(|values| {
            values.iter().any(|v| {
                v.is_none_or(|s| nfc(s).is_none() || s.contains(['<', '>']) || s.is_empty())
            })
        });
        if odd {
            return Err(format!(
                "the first of project.{key} has a character from U+0300 on that kiln does not compose as NFC, or `<`/`>` (poetry-core recomposes and parses it)"
            ));
        }
    }
    requirements(project)?;
    let reserved = project
        .get("entry-points")
        .and_then(|e| e.as_table_like())
        .is_some_and(|t| {
            t.iter()
                .any(|(k, _)| matches!(k, "console-scripts" | "gui-scripts"))
        });
    if reserved {
        return Err("project.entry-points uses a reserved group (poetry-core refuses it)".into());
    }
    Ok(())
}

/// `build-system.requires` allows poetry-core [`POETRY_CORE_VERSION`].
fn requires_allows(doc: &toml_edit::DocumentMut) -> Result<(), String> {
    let allows = super::emulation::build_requires_admit(doc, "poetry-core", POETRY_CORE_VERSION);
    if allows {
        Ok(())
    } else {
        Err(format!(
            "build-system.requires does not allow poetry-core {POETRY_CORE_VERSION}, the version kiln writes like"
        ))
    }
}

/// `[tool.poetry]` holds only keys that leave the wheel alone, and
/// `project.dynamic` at most the version poetry reads from it.
fn tool_poetry(
    doc: &toml_edit::DocumentMut,
    project: &dyn toml_edit::TableLike,
) -> Result<(), String> {
    let tool = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.as_table_like());
    if let Some(tool) = tool {
        if let Some((k, _)) = tool.iter().find(|(k, _)| !NEUTRAL_TOOL_KEYS.contains(k)) {
            return Err(format!(
                "[tool.poetry] key `{k}` is a configuration kiln does not write"
            ));
        }
        packages(tool)?;
        sdist_only(tool)?;
        let main = tool.get("group").and_then(|g| g.get("main"));
        if main.is_some() {
            return Err("[tool.poetry.group.main] adds to the dependencies".into());
        }
    }
    let dynamic: Vec<&str> = project
        .get("dynamic")
        .and_then(|d| d.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let tool_version = tool.and_then(|t| t.get("version")).is_some();
    let odd: Vec<&str> = dynamic
        .iter()
        .copied()
        .filter(|d| !(*d == "classifiers" || *d == "version" && tool_version))
        .collect();
    if !odd.is_empty() {
        return Err(format!(
            "project.dynamic lists {} (poetry-core fills it from [tool.poetry])",
            odd.join(", ")
        ));
    }
    let classifiers = tool.and_then(|t| t.get("classifiers"));
    if classifiers.is_some_and(|c| c.as_array().is_none_or(|a| a.iter().any(|v| !v.is_str()))) {
        return Err("tool.poetry.classifiers is not an array of strings".into());
    }
    Ok(())
}

/// A plain relative path: no glob, no `..`, no leading `/`.
fn plain_path(p: &str) -> bool {
    !p.is_empty()
        && !p.contains(['*', '?', '[', '\\'])
        && !p.starts_with('/')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// `[tool.poetry] packages` as kiln writes it: `{ include = "<name>" }`
/// or `{ include = "<name>", from = "<dir>" }`, a package directory or a
/// `.py` module, no glob, no `to`, no `format`. (include, from) pairs;
/// none when `packages` is absent.
pub(super) fn packages(tool: &dyn toml_edit::TableLike) -> Result<Vec<(String, String)>, String> {
    let Some(list) = tool.get("packages") else {
        return Ok(Vec::new());
    };
    let refuse = |what: &str| {
        format!("[tool.poetry] packages entry {what} (kiln writes `{{ include = \"<name>\", from = \"<dir>\" }}`)")
    };
    let entries: Vec<&dyn toml_edit::TableLike> = match list {
        toml_edit::Item::Value(toml_edit::Value::Array(a)) => a
            .iter()
            .map(|v| v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike))
            .collect::<Option<_>>()
            .ok_or_else(|| refuse("that is not a table"))?,
        toml_edit::Item::ArrayOfTables(a) => {
            a.iter().map(|t| t as &dyn toml_edit::TableLike).collect()
        }
        _ => return Err(refuse("that is not an array")),
    };
    let mut out = Vec::new();
    for t in entries {
        if let Some((k, _)) = t.iter().find(|(k, _)| *k != "include" && *k != "from") {
            return Err(refuse(&format!("with `{k}`")));
        }
        let include = t.get("include").and_then(|i| i.as_str()).unwrap_or("");
        if !plain_path(include) || include.contains('/') {
            return Err(refuse(&format!("`{include}`")));
        }
        let from = match t.get("from") {
            None => String::new(),
            Some(f) => match f.as_str() {
                Some(f) if plain_path(f.trim_end_matches('/')) => {
                    format!("{}/", f.trim_end_matches('/'))
                }
                _ => return Err(refuse("with an odd `from`")),
            },
        };
        out.push((include.to_string(), from));
    }
    if out.is_empty() {
        return Err(refuse("list that is empty"));
    }
    Ok(out)
}

/// `[tool.poetry] include` entries all of `format = "sdist"`: none reaches
/// the wheel.
fn sdist_only(tool: &dyn toml_edit::TableLike) -> Result<(), String> {
    let Some(list) = tool.get("include") else {
        return Ok(());
    };
    let sdist = |f: Option<&toml_edit::Value>| match f {
        Some(toml_edit::Value::String(s)) => s.value() == "sdist",
        Some(toml_edit::Value::Array(a)) => {
            a.len() == 1 && a.get(0).and_then(|v| v.as_str()) == Some("sdist")
        }
        _ => false,
    };
    let all = list.as_array().is_some_and(|a| {
        a.iter()
            .all(|v| v.as_inline_table().is_some_and(|t| sdist(t.get("format"))))
    });
    if all {
        Ok(())
    } else {
        Err("[tool.poetry] include adds files to the wheel (kiln writes only `format = \"sdist\"` entries)".into())
    }
}

/// Every dependency has a spelling kiln writes as poetry-core does, and no
/// name is both a dependency and an optional one.
fn requirements(project: &dyn toml_edit::TableLike) -> Result<(), String> {
    let list = |v: Option<&toml_edit::Item>| -> Vec<String> {
        v.and_then(|d| d.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let name_of = |r: &str| {
        let end = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(r.len());
        canonical(&r[..end])
    };
    let main = list(project.get("dependencies"));
    let why = |e: String| format!("a dependency is {e}, which poetry-core may respell");
    for r in &main {
        requirement(r, None).map_err(why)?;
    }
    let mains: Vec<String> = main.iter().map(|r| name_of(r)).collect();
    if let Some(opt) = project
        .get("optional-dependencies")
        .and_then(|o| o.as_table_like())
    {
        for (extra, reqs) in opt.iter() {
            for r in list(Some(reqs)) {
                requirement(&r, Some(extra)).map_err(why)?;
                if mains.contains(&name_of(&r)) {
                    return Err(format!(
                        "`{}` is both a dependency and in extra `{extra}` (poetry-core merges them)",
                        name_of(&r)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Latin-1 letters as NFC composes a base letter and one combining mark.
#[rustfmt::skip]
const LATIN1_COMPOSED: &[(char, char, char)] = &[
    ('A', '\u{300}', 'À'), ('A', '\u{301}', 'Á'), ('A', '\u{302}', 'Â'), ('A', '\u{303}', 'Ã'), ('A', '\u{308}', 'Ä'), ('A', '\u{30a}', 'Å'), ('C', '\u{327}', 'Ç'), ('E', '\u{300}', 'È'), ('E', '\u{301}', 'É'), ('E', '\u{302}', 'Ê'), ('E', '\u{308}', 'Ë'), ('I', '\u{300}', 'Ì'), ('I', '\u{301}', 'Í'), ('I', '\u{302}', 'Î'), ('I', '\u{308}', 'Ï'), ('N', '\u{303}', 'Ñ'), ('O', '\u{300}', 'Ò'), ('O', '\u{301}', 'Ó'), ('O', '\u{302}', 'Ô'), ('O', '\u{303}', 'Õ'), ('O', '\u{308}', 'Ö'), ('U', '\u{300}', 'Ù'), ('U', '\u{301}', 'Ú'), ('U', '\u{302}', 'Û'), ('U', '\u{308}', 'Ü'), ('Y', '\u{301}', 'Ý'),
    ('a', '\u{300}', 'à'), ('a', '\u{301}', 'á'), ('a', '\u{302}', 'â'), ('a', '\u{303}', 'ã'), ('a', '\u{308}', 'ä'), ('a', '\u{30a}', 'å'), ('c', '\u{327}', 'ç'), ('e', '\u{300}', 'è'), ('e', '\u{301}', 'é'), ('e', '\u{302}', 'ê'), ('e', '\u{308}', 'ë'), ('i', '\u{300}', 'ì'), ('i', '\u{301}', 'í'), ('i', '\u{302}', 'î'), ('i', '\u{308}', 'ï'), ('n', '\u{303}', 'ñ'), ('o', '\u{300}', 'ò'), ('o', '\u{301}', 'ó'), ('o', '\u{302}', 'ô'), ('o', '\u{303}', 'õ'), ('o', '\u{308}', 'ö'), ('u', '\u{300}', 'ù'), ('u', '\u{301}', 'ú'), ('u', '\u{302}', 'û'), ('u', '\u{308}', 'ü'), ('y', '\u{301}', 'ý'), ('y', '\u{308}', 'ÿ'),
];

/// `combine_unicode` (NFC) for text whose NFC kiln knows: characters
/// below U+0300, and a letter with one combining mark of a Latin-1
/// letter. `None` for anything else.
pub(super) fn nfc(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.chars() {
        if c < '\u{300}' {
            out.push(c);
            continue;
        }
        let base = out.pop()?;
        let (_, _, composed) = LATIN1_COMPOSED
            .iter()
            .find(|(b, m, _)| *b == base && *m == c)?;
        out.push(*composed);
    }
    Some(out)
}

/// `license_by_id(id).classifier` for the ids kiln writes a legacy
/// `{ text = "<id>" }` licence of (as poetry-core 2.5's SPDX data says).
pub(super) fn license_classifier(id: &str) -> Option<&'static str> {
    Some(match id {
        "MIT" => "License :: OSI Approved :: MIT License",
        "Apache-2.0" => "License :: OSI Approved :: Apache Software License",
        "BSD-2-Clause" | "BSD-3-Clause" => "License :: OSI Approved :: BSD License",
        "ISC" | "MPL-2.0" => "License :: OSI Approved",
        _ => return None,
    })
}
