//! hatchling 1.33's wheel metadata, written as its sources write it
//! (`hatchling/metadata/spec.py` `construct_metadata_file_2_5`, the
//! default core metadata version; `hatchling/metadata/core.py`
//! `CoreMetadata` for each field's normalisation; `hatchling/metadata/utils.py`
//! `normalize_requirement`/`format_dependency` with `packaging` 26's
//! requirement and marker spellings; `hatchling/builders/wheel.py`
//! `construct_entry_points_file`, `write_archive_metadata`,
//! `get_default_tag`), for the configurations
//! [`super::hatch_coverage::coverage`] accepts. The
//! files of the wheel are chosen in [`super::hatch_files`], dependencies
//! spelled in [`super::hatch_requirements`].

use std::fmt::Write as _;
use std::str::FromStr;

use super::hatch_requirements::{normalise_name, requirement, specifier_set};
use super::project::{License, Project};

/// Python's `str.splitlines` (the separators it splits on).
fn split_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.char_indices().find(|(_, c)| {
            matches!(
                c,
                '\n' | '\r'
                    | '\x0b'
                    | '\x0c'
                    | '\x1c'
                    | '\x1d'
                    | '\x1e'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            )
        }) {
            None => {
                out.push(rest);
                break;
            }
            Some((i, c)) => {
                out.push(&rest[..i]);
                let mut next = i + c.len_utf8();
                if c == '\r' && rest[next..].starts_with('\n') {
                    next += 1;
                }
                rest = &rest[next..];
            }
        }
    }
    out
}

/// A file's text as Python's `open(..., encoding="utf-8").read()` gives
/// it: universal newlines.
fn universal_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}
/// `dependencies` as hatchling writes them: formatted, sorted, without
/// repeats.
fn dependencies(reqs: &[String]) -> Result<Vec<String>, String> {
    let mut out = reqs
        .iter()
        .map(|r| requirement(r))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// The sort key of `trove_classifiers.sorted_classifiers` (its order is
/// the text–number order of `(\D*)(\d*)` runs, a missing number first).
fn classifier_key(c: &str) -> Vec<(String, i128)> {
    let mut out = Vec::new();
    let mut rest = c;
    loop {
        let t = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (text, after) = rest.split_at(t);
        let d = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        let (digits, after) = after.split_at(d);
        let n = if digits.is_empty() {
            -1
        } else {
            digits.parse().unwrap_or(i128::MAX)
        };
        out.push((text.to_string(), n));
        if text.is_empty() && digits.is_empty() {
            return out;
        }
        rest = after;
    }
}

/// `str(email.headerregistry.Address(...))` joined as hatchling joins
/// them: (names, emails).
fn people(list: &[super::project::Contact]) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    let mut emails = Vec::new();
    for c in list {
        match (
            c.name.as_deref().unwrap_or(""),
            c.email.as_deref().unwrap_or(""),
        ) {
            ("", "") => {}
            (n, "") => names.push(n.to_string()),
            (n, e) => emails.push(super::flit::address(n, e)),
        }
    }
    (names, emails)
}

/// `METADATA`, field for field as `construct_metadata_file_2_5` writes it.
pub(super) fn core_metadata(p: &Project) -> Result<String, String> {
    let mut s = String::new();
    let mut h = |k: &str, v: &str| {
        let _ = writeln!(s, "{k}: {v}");
    };
    h("Metadata-Version", "2.5");
    h("Name", &p.name);
    h("Version", &p.version);
    if let Some(d) = p.summary.as_deref().filter(|d| !d.is_empty()) {
        h("Summary", &split_lines(d).join(" "));
    }
    for (label, url) in &p.urls {
        h("Project-URL", &format!("{label}, {url}"));
    }
    for (field, list) in [("Author", &p.authors), ("Maintainer", &p.maintainers)] {
        let (names, emails) = people(list);
        if !names.is_empty() {
            h(field, &names.join(", "));
        }
        if !emails.is_empty() {
            h(&format!("{field}-email"), &emails.join(", "));
        }
    }
    match &p.license {
        License::Text(t) if !t.is_empty() => {
            let t = universal_newlines(t);
            h("License", &split_lines(&t).join("\n        "));
        }
        License::Expression(e) => h("License-Expression", e),
        _ => {}
    }
    for f in &p.license_files {
        h("License-File", f);
    }
    let mut keywords = p.keywords.clone();
    keywords.sort();
    keywords.dedup();
    if !keywords.is_empty() {
        h("Keywords", &keywords.join(","));
    }
    let mut classifiers = p.classifiers.clone();
    classifiers.sort_by_cached_key(|c| classifier_key(c));
    classifiers.dedup();
    for c in &classifiers {
        h("Classifier", c);
    }
    if let Some(r) = &p.declared.requires_python {
        let r = specifier_set(r)?;
        if !r.is_empty() {
            h("Requires-Python", &r);
        }
    }
    for d in dependencies(&p.declared.dependencies)? {
        h("Requires-Dist", &d);
    }
    let mut extras: Vec<(String, &Vec<String>)> = p
        .declared
        .optional
        .iter()
        .map(|(e, reqs)| (normalise_name(e), reqs))
        .collect();
    extras.sort_by(|a, b| a.0.cmp(&b.0));
    for (extra, reqs) in extras {
        h("Provides-Extra", &extra);
        for d in dependencies(reqs)? {
            match d.split_once(';') {
                Some((name, m)) => h(
                    "Requires-Dist",
                    &format!("{name}; ({}) and extra == '{extra}'", m.trim()),
                ),
                None => h("Requires-Dist", &format!("{d}; extra == '{extra}'")),
            }
        }
    }
    if let Some(r) = p.readme.as_ref().filter(|r| !r.text.is_empty()) {
        h("Description-Content-Type", &r.content_type);
        s.push('\n');
        s.push_str(&universal_newlines(&r.text));
    }
    Ok(s)
}

/// `entry_points.txt` as `construct_entry_points_file` writes it: scripts,
/// GUI scripts, then the other groups sorted; names sorted; `name = ref`;
/// a blank line between groups.
pub(super) fn entry_points(p: &Project) -> Option<String> {
    type Group<'a> = (usize, &'a str, Vec<&'a (String, String)>);
    let mut groups: Vec<Group<'_>> = p
        .entry_points
        .iter()
        .filter(|(_, e)| !e.is_empty())
        .map(|(g, e)| {
            let rank = match g.as_str() {
                "console_scripts" => 0,
                "gui_scripts" => 1,
                _ => 2,
            };
            let mut e: Vec<&(String, String)> = e.iter().collect();
            e.sort_by(|a, b| a.0.cmp(&b.0));
            (rank, g.as_str(), e)
        })
        .collect();
    groups.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut s = String::new();
    for (_, group, entries) in groups {
        let _ = writeln!(s, "\n[{group}]");
        for (name, value) in entries {
            let _ = writeln!(s, "{name} = {value}");
        }
    }
    let s = s.trim_start().to_string();
    (!s.is_empty()).then_some(s)
}

/// `get_default_tag`: `py2`/`py3` for each major version `requires-python`
/// admits (`X.Y.100` for some minor `Y < 100`, else any `X.Y.Z`), `-none-any`.
pub(super) fn tag(p: &Project) -> Result<String, String> {
    use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
    let spec = p.declared.requires_python.as_deref().unwrap_or("");
    let set = VersionSpecifiers::from_str(spec)
        .map_err(|e| format!("project.requires-python `{spec}`: {e}"))?;
    let admits = |major: u64, patch: &mut dyn Iterator<Item = u64>| {
        let patch: Vec<u64> = patch.collect();
        (0..100u64).any(|minor| {
            patch
                .iter()
                .any(|z| set.contains(&Version::new([major, minor, *z])))
        })
    };
    let mut majors: Vec<String> = [2u64, 3]
        .into_iter()
        .filter(|m| admits(*m, &mut std::iter::once(100)))
        .map(|m| format!("py{m}"))
        .collect();
    if majors.is_empty() {
        majors = [2u64, 3]
            .into_iter()
            .filter(|m| admits(*m, &mut (0..100)))
            .map(|m| format!("py{m}"))
            .collect();
    }
    if majors.is_empty() {
        return Err(format!(
            "project.requires-python `{spec}` admits no Python 2 or 3 version"
        ));
    }
    Ok(format!("{}-none-any", majors.join(".")))
}

/// The `WHEEL` file, with kiln as its `Generator` (hatchling writes
/// `hatchling <version>`; kiln does not claim to be hatchling).
pub(super) fn wheel_file(tag: &str) -> String {
    let mut s = format!(
        "Wheel-Version: 1.0\nGenerator: kiln {}\nRoot-Is-Purelib: true\n",
        env!("CARGO_PKG_VERSION"),
    );
    let (py, rest) = tag.split_once('-').unwrap_or((tag, "none-any"));
    let mut tags: Vec<String> = py.split('.').map(|p| format!("{p}-{rest}")).collect();
    tags.sort();
    for t in tags {
        let _ = writeln!(s, "Tag: {t}");
    }
    s
}
/// `_version_as_tuple` of vcs-versioning, as Python's `repr` shows it:
/// the release numbers, then `'N!'` first for an epoch, and `'rcN'`,
/// `'postN'`, `'devN'`, the local part as strings.
fn version_tuple(version: &str) -> String {
    let (public, local) = match version.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (version, None),
    };
    let (epoch, rest) = match public.split_once('!') {
        Some((e, r)) => (Some(e), r),
        None => (None, public),
    };
    let mut parts: Vec<String> = epoch.map(|e| format!("'{e}!'")).into_iter().collect();
    // A normal-form version: `1.2.0rc1` splits into `1`, `2`, `0rc1`.
    for seg in rest.split('.') {
        let d = seg.find(|c: char| !c.is_ascii_digit()).unwrap_or(seg.len());
        if d > 0 {
            parts.push(seg[..d].to_string());
        }
        if d < seg.len() {
            parts.push(format!("'{}'", &seg[d..]));
        }
    }
    if let Some(l) = local {
        parts.push(format!("'{l}'"));
    }
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

/// The version file hatch-vcs 0.5 writes (`dump_version` of
/// vcs-versioning 2.6 with its default template for `.py` and `.txt`, no
/// SCM version: `commit_id` is `None`), or `None` for another suffix.
pub(super) fn vcs_version_file(path: &str, version: &str) -> Option<String> {
    if path.ends_with(".txt") {
        return Some(version.to_string());
    }
    if !path.ends_with(".py") {
        return None;
    }
    Some(format!(
        "# file generated by vcs-versioning\n\
         # don't change, don't track in version control\n\
         from __future__ import annotations\n\
         \n\
         __all__ = [\n    \"__version__\",\n    \"__version_tuple__\",\n    \"version\",\n    \"version_tuple\",\n    \"__commit_id__\",\n    \"commit_id\",\n]\n\
         \n\
         version: str\n\
         __version__: str\n\
         __version_tuple__: tuple[int | str, ...]\n\
         version_tuple: tuple[int | str, ...]\n\
         commit_id: str | None\n\
         __commit_id__: str | None\n\
         \n\
         __version__ = version = '{version}'\n\
         __version_tuple__ = version_tuple = {}\n\
         \n\
         __commit_id__ = commit_id = None\n",
        version_tuple(version)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifiers_in_trove_order() {
        let mut c = vec![
            "Programming Language :: Python :: 3.10",
            "Programming Language :: Python :: 3 :: Only",
            "Programming Language :: Python :: 3",
            "Programming Language :: Python :: 3.9",
            "License :: OSI Approved :: MIT License",
        ];
        c.sort_by_cached_key(|c| classifier_key(c));
        assert_eq!(
            c,
            [
                "License :: OSI Approved :: MIT License",
                "Programming Language :: Python :: 3",
                "Programming Language :: Python :: 3 :: Only",
                "Programming Language :: Python :: 3.9",
                "Programming Language :: Python :: 3.10",
            ]
        );
    }

    /// As `vcs_versioning._version_cls._version_as_tuple` gives them.
    #[test]
    fn version_tuples() {
        for (v, t) in [
            ("1.2.0rc1", "(1, 2, 0, 'rc1')"),
            ("1.2.0", "(1, 2, 0)"),
            ("5", "(5,)"),
            ("1.0.post1", "(1, 0, 'post1')"),
            ("1.0.dev3", "(1, 0, 'dev3')"),
            ("1!2.0", "('1!', 2, 0)"),
            ("1.2.0a1.post2.dev3", "(1, 2, 0, 'a1', 'post2', 'dev3')"),
            ("1.0+local.7", "(1, 0, 'local.7')"),
        ] {
            assert_eq!(version_tuple(v), t, "{v}");
        }
    }

    #[test]
    fn python_splitlines() {
        assert_eq!(split_lines("a\r\nb\rc\n\nd\n"), ["a", "b", "c", "", "d"]);
        assert_eq!(split_lines(""), Vec::<&str>::new());
    }
}
