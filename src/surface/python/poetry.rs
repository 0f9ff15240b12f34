//! poetry-core 2.5's wheels of `[project]` (PEP 621) projects, written as
//! its sources write them (`poetry/core/factory.py`
//! `_configure_package_metadata`, `_configure_entry_points`;
//! `masonry/metadata.py` `Metadata.from_package`; `masonry/builders/
//! builder.py` `get_metadata_content`, `find_files_to_add`;
//! `masonry/builders/wheel.py` `_write_entry_points`, `tag`,
//! `_copy_module`; `masonry/utils/module.py` `Module`), for the
//! configurations [`coverage`] accepts; requirement spellings are in
//! [`super::poetry_requirements`].

use std::fmt::Write as _;

use super::files::SourceFiles;
use super::poetry_requirements::{canonical, requirement, Python};
use super::project::{Contact, License, Project};
use crate::recipe::Surface;

/// The version of poetry-core kiln writes like.
pub(crate) const POETRY_CORE_VERSION: &str = "2.5.0";

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
    use std::str::FromStr;
    let version = pep508_rs::pep440_rs::Version::from_str(POETRY_CORE_VERSION).expect("a version");
    let requires = doc
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array());
    let allows = requires.is_some_and(|a| {
        a.iter().filter_map(|v| v.as_str()).any(|r| {
            pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(r).is_ok_and(|req| {
                req.name.as_ref() == "poetry-core"
                    && match &req.version_or_url {
                        None => true,
                        Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) => s.contains(&version),
                        Some(pep508_rs::VersionOrUrl::Url(_)) => false,
                    }
            })
        })
    });
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
fn packages(tool: &dyn toml_edit::TableLike) -> Result<Vec<(String, String)>, String> {
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

/// The wheel tag poetry-core writes for a pure project.
pub(crate) fn tag(p: &Project) -> Result<&'static str, String> {
    let python = Python::parse(p.declared.requires_python.as_deref())?;
    Ok(if python.py2() {
        "py2.py3-none-any"
    } else {
        "py3-none-any"
    })
}

/// `WHEEL`, with kiln as its `Generator` (poetry-core writes
/// `poetry-core 2.5.0`).
pub(crate) fn wheel_file(tag: &str) -> String {
    format!(
        "Wheel-Version: 1.0\nGenerator: kiln {}\nRoot-Is-Purelib: true\nTag: {tag}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// `license_by_id(id).classifier` for the ids kiln writes a legacy
/// `{ text = "<id>" }` licence of (as poetry-core 2.5's SPDX data says).
fn license_classifier(id: &str) -> Option<&'static str> {
    Some(match id {
        "MIT" => "License :: OSI Approved :: MIT License",
        "Apache-2.0" => "License :: OSI Approved :: Apache Software License",
        "BSD-2-Clause" | "BSD-3-Clause" => "License :: OSI Approved :: BSD License",
        "ISC" | "MPL-2.0" => "License :: OSI Approved",
        _ => return None,
    })
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
fn nfc(text: &str) -> Option<String> {
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

/// The first contact (recomposed) as `AUTHOR_REGEX` splits `name <email>`.
fn first(list: &[Contact]) -> Result<(Option<String>, Option<String>), String> {
    let compose = |s: &str| nfc(s).ok_or_else(|| format!("`{s}` is not text kiln composes as NFC"));
    Ok(match list.first() {
        Some(Contact {
            name: Some(n),
            email,
        }) => (
            Some(compose(n)?),
            email.as_deref().map(compose).transpose()?,
        ),
        Some(Contact {
            name: None,
            email: Some(e),
        }) => (Some(compose(e)?), None),
        _ => (None, None),
    })
}

/// `Requires-Dist` values, sorted.
fn requires_dist(p: &Project) -> Result<Vec<String>, String> {
    let mut out = p
        .declared
        .dependencies
        .iter()
        .map(|r| requirement(r, None))
        .collect::<Result<Vec<_>, _>>()?;
    for (extra, reqs) in &p.declared.optional {
        for r in reqs {
            out.push(requirement(r, Some(extra))?);
        }
    }
    out.sort();
    Ok(out)
}

/// `Project-URL` values: Homepage, Repository, Documentation (matched
/// without case), then the others as declared, stably sorted by their
/// first character.
fn project_urls(p: &Project) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for known in ["Homepage", "Repository", "Documentation"] {
        if let Some((_, url)) = p
            .urls
            .iter()
            .rev()
            .find(|(l, _)| l.eq_ignore_ascii_case(known))
        {
            urls.push(format!("{known}, {url}"));
        }
    }
    let known = |l: &str| {
        ["homepage", "repository", "documentation"]
            .iter()
            .any(|k| l.eq_ignore_ascii_case(k))
    };
    urls.extend(
        p.urls
            .iter()
            .filter(|(l, _)| !known(l))
            .map(|(l, u)| format!("{l}, {u}")),
    );
    urls.sort_by_key(|u| u.chars().next());
    urls
}

/// `Package.all_classifiers`: `[tool.poetry] classifiers` sorted, with
/// poetry-core's Python classifiers inserted before the first that sorts
/// after `Programming Language :: Python`.
fn all_classifiers(p: &Project) -> Result<Vec<String>, String> {
    let python = Python::parse(p.declared.requires_python.as_deref())?.classifiers();
    let doc: toml_edit::DocumentMut = p
        .pyproject
        .parse()
        .map_err(|_| "pyproject.toml".to_string())?;
    let mut declared: Vec<String> = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|t| t.get("classifiers"))
        .and_then(|c| c.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let License::Text(id) = &p.license {
        let classifier = license_classifier(id).ok_or_else(|| format!("licence `{id}`"))?;
        declared.push(classifier.to_string());
    }
    declared.sort();
    declared.dedup();
    declared.retain(|c| !python.contains(c));
    let mut out = Vec::new();
    let mut inserted = false;
    for c in declared {
        if !inserted && c.as_str() > "Programming Language :: Python" {
            out.extend(python.iter().cloned());
            inserted = true;
        }
        out.push(c);
    }
    if !inserted {
        out.extend(python);
    }
    Ok(out)
}

/// `METADATA`, field for field as `get_metadata_content` writes it.
pub(crate) fn core_metadata(p: &Project) -> Result<String, String> {
    let mut s = String::new();
    let mut h = |k: &str, v: &str| {
        let _ = writeln!(s, "{k}: {v}");
    };
    h("Metadata-Version", "2.4");
    h("Name", &p.name);
    h("Version", &p.version);
    h("Summary", p.summary.as_deref().unwrap_or(""));
    match &p.license {
        License::Expression(e) => h("License-Expression", e),
        License::Text(id) => h("License", id),
        License::None => {}
    }
    for f in &p.license_files {
        h("License-File", f);
    }
    if !p.keywords.is_empty() {
        h("Keywords", &p.keywords.join(","));
    }
    for (field, list) in [("Author", &p.authors), ("Maintainer", &p.maintainers)] {
        let (name, email) = first(list)?;
        if let Some(n) = name {
            h(field, &n);
        }
        if let Some(e) = email {
            h(&format!("{field}-email"), &e);
        }
    }
    if let Some(r) = &p.declared.requires_python {
        h("Requires-Python", r);
    }
    let classifiers = if p.classifiers.is_empty() {
        all_classifiers(p)?
    } else {
        p.classifiers.clone()
    };
    for c in &classifiers {
        h("Classifier", c);
    }
    let mut extras: Vec<String> = p
        .declared
        .optional
        .iter()
        .map(|(e, _)| canonical(e))
        .collect();
    extras.sort();
    extras.dedup();
    for e in &extras {
        h("Provides-Extra", e);
    }
    for r in requires_dist(p)? {
        h("Requires-Dist", &r);
    }
    for u in project_urls(p) {
        h("Project-URL", &u);
    }
    if let Some(r) = &p.readme {
        h("Description-Content-Type", &r.content_type);
        // `Path.read_text` reads with universal newlines.
        let text = r.text.replace("\r\n", "\n").replace('\r', "\n");
        let _ = write!(s, "\n{text}\n");
    }
    Ok(s)
}

/// `entry_points.txt`: groups sorted, each group's `name = value` sorted
/// and written without spaces, a blank line after each group.
pub(crate) fn entry_points(p: &Project) -> Option<String> {
    if p.entry_points.is_empty() {
        return None;
    }
    let mut groups: Vec<&super::project::EntryGroup> = p.entry_points.iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut s = String::new();
    for (group, entries) in groups {
        let _ = writeln!(s, "[{group}]");
        let mut lines: Vec<String> = entries.iter().map(|(n, v)| format!("{n} = {v}")).collect();
        lines.sort();
        for l in lines {
            let _ = writeln!(s, "{}", l.replace(' ', ""));
        }
        s.push('\n');
    }
    Some(s)
}

/// The default module (`Module` without `packages`): `<m>/` or `<m>.py`,
/// else `src/<m>/` or `src/<m>.py`, with `<m>` the normalised name with
/// `_` — or `[tool.poetry] packages` ([`packages`]); every file below a
/// package (a directory with a `.py` file below it) but `__pycache__` and
/// `.pyc`, in poetry's order (source paths compared by component), moved
/// out of its `from`. (from, to) pairs.
pub(crate) fn select(p: &Project, src: &SourceFiles<'_>) -> Result<Vec<(String, String)>, String> {
    let doc: toml_edit::DocumentMut = p
        .pyproject
        .parse()
        .map_err(|_| "pyproject.toml".to_string())?;
    let tool = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|t| t.as_table_like());
    let listed = match tool {
        Some(t) => packages(t)?,
        None => Vec::new(),
    };
    let found = if listed.is_empty() {
        vec![default_module(p, src)?]
    } else {
        listed
            .into_iter()
            .map(|(include, from)| {
                let path = format!("{from}{include}");
                let is_dir = src
                    .paths()
                    .iter()
                    .any(|f| f.starts_with(&format!("{path}/")));
                if is_dir || src.contains(&path) && path.ends_with(".py") {
                    Ok((path, from))
                } else {
                    Err(format!(
                        "[tool.poetry] packages: {path} is neither a directory nor a .py module"
                    ))
                }
            })
            .collect::<Result<_, String>>()?
    };
    let mut files: Vec<(&String, usize)> = Vec::new();
    for (path, base) in &found {
        if src.contains(path) {
            files.push((
                src.paths().iter().find(|f| *f == path).expect("contained"),
                base.len(),
            ));
            continue;
        }
        let below = |f: &&String| f.starts_with(&format!("{path}/"));
        if !src.paths().iter().filter(below).any(|f| f.ends_with(".py")) {
            return Err(format!("{path}/ is not a package (no .py file below it)"));
        }
        files.extend(
            src.paths()
                .iter()
                .filter(|f| f.starts_with(&format!("{path}/")))
                .filter(|f| !f.split('/').any(|c| c == "__pycache__") && !f.ends_with(".pyc"))
                .map(|f| (f, base.len())),
        );
    }
    files.sort_by(|a, b| a.0.split('/').cmp(b.0.split('/')));
    files.dedup();
    Ok(files
        .into_iter()
        .map(|(f, base)| (f.clone(), f[base..].to_string()))
        .collect())
}

/// `Module`'s default package: (path, its `from` with `/`).
fn default_module(p: &Project, src: &SourceFiles<'_>) -> Result<(String, String), String> {
    let m = canonical(&p.name).replace('-', "_");
    let is_dir = |d: &str| src.paths().iter().any(|f| f.starts_with(&format!("{d}/")));
    let mut found = None;
    for base in ["", "src/"] {
        let (dir, file) = (format!("{base}{m}"), format!("{base}{m}.py"));
        match (is_dir(&dir), src.contains(&file)) {
            (true, true) => return Err(format!("both {dir}/ and {file} exist")),
            (true, false) => found = Some((dir, base)),
            (false, true) => found = Some((file, base)),
            (false, false) => continue,
        }
        break;
    }
    found
        .map(|(path, base)| (path, base.to_string()))
        .ok_or_else(|| format!("no file/folder found for package {}", p.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_composes_latin1_letters_and_refuses_the_rest() {
        assert_eq!(nfc("Rene\u{301} Co\u{302}te").as_deref(), Some("René Côte"));
        assert_eq!(nfc("Zoë").as_deref(), Some("Zoë"));
        assert_eq!(nfc("\u{301}x"), None);
        assert_eq!(nfc("s\u{30c}"), None);
        assert_eq!(nfc("\u{4e2d}"), None);
    }
}
