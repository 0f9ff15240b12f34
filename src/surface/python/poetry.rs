//! poetry-core 2.5's wheels of `[project]` (PEP 621) projects, written as
//! its sources write them (`poetry/core/factory.py`
//! `_configure_package_metadata`, `_configure_entry_points`;
//! `masonry/metadata.py` `Metadata.from_package`; `masonry/builders/
//! builder.py` `get_metadata_content`, `find_files_to_add`;
//! `masonry/builders/wheel.py` `_write_entry_points`, `tag`,
//! `_copy_module`; `masonry/utils/module.py` `Module`), for the
//! configurations [`super::poetry_coverage::coverage`] accepts; requirement spellings are in
//! [`super::poetry_requirements`].

use std::fmt::Write as _;

use super::files::SourceFiles;
use super::poetry_coverage::{license_classifier, nfc, packages};
use super::poetry_requirements::{canonical, requirement, Python};
use super::project::{Contact, License, Project};

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
