//! hatchling 1.33's wheel metadata, written as its sources write it
//! (`hatchling/metadata/spec.py` `construct_metadata_file_2_5`, the
//! default core metadata version; `hatchling/metadata/core.py`
//! `CoreMetadata` for each field's normalisation; `hatchling/metadata/utils.py`
//! `normalize_requirement`/`format_dependency` with `packaging` 26's
//! requirement and marker spellings; `hatchling/builders/wheel.py`
//! `construct_entry_points_file`, `write_archive_metadata`,
//! `get_default_tag`), for the configurations [`coverage`] accepts. The
//! files of the wheel are chosen in [`super::hatch_files`].

use std::fmt::Write as _;
use std::str::FromStr;

use super::project::{License, Project};

/// The version of hatchling kiln writes like.
pub(crate) const HATCHLING_VERSION: &str = "1.33.0";

/// runs of `-_.` to `-`, lowercase (`normalize_project_name`).
fn normalise_name(name: &str) -> String {
    let mut out = String::new();
    let mut run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !run {
                out.push('-');
            }
            run = true;
        } else {
            out.extend(c.to_lowercase());
            run = false;
        }
    }
    out
}

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

/// A marker expression: items, groups and the `and`/`or` between them
/// (`packaging._parser`'s `MarkerList`).
enum Marker {
    Item(String),
    Group(Vec<Marker>),
    Bool(&'static str),
}

#[derive(Debug, PartialEq)]
enum Tok {
    Open,
    Close,
    Str(String),
    Var(String),
    Op(String),
    Bool(&'static str),
}

/// The marker variables `packaging` knows, as it spells them.
const MARKER_VARIABLES: &[&str] = &[
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_full_version",
    "python_version",
    "sys_platform",
];

fn marker_tokens(text: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        let rest = &text[i..];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            toks.push(if c == '(' { Tok::Open } else { Tok::Close });
            i += 1;
        } else if c == '\'' || c == '"' {
            let end = rest[1..]
                .find(c)
                .ok_or_else(|| format!("an unclosed string in marker `{text}`"))?;
            let v = &rest[1..1 + end];
            if v.contains(['\\', '"', '\'']) || v.chars().any(|c| c.is_control()) {
                return Err(format!(
                    "marker string {v:?} has a quote, backslash or control character"
                ));
            }
            toks.push(Tok::Str(v.to_string()));
            i += end + 2;
        } else if let Some(op) = ["===", "==", "~=", "!=", "<=", ">=", "<", ">"]
            .iter()
            .find(|op| rest.starts_with(**op))
        {
            toks.push(Tok::Op(op.to_string()));
            i += op.len();
        } else if c.is_ascii_alphabetic() || c == '_' {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            let word = &rest[..len];
            i += len;
            match word {
                "and" => toks.push(Tok::Bool("and")),
                "or" => toks.push(Tok::Bool("or")),
                "in" => toks.push(Tok::Op("in".into())),
                "not" => {
                    let after = text[i..].trim_start();
                    if !after.starts_with("in") || after.len() == text[i..].len() {
                        return Err(format!("`not` without ` in` in marker `{text}`"));
                    }
                    i = text.len() - after.len() + 2;
                    toks.push(Tok::Op("not in".into()));
                }
                v => {
                    let v = v.replace('.', "_");
                    let v = if v == "python_implementation" {
                        "platform_python_implementation".to_string()
                    } else {
                        v
                    };
                    if !MARKER_VARIABLES.contains(&v.as_str()) {
                        return Err(format!("marker variable `{word}` (kiln writes only environment markers, not `extra`)"));
                    }
                    toks.push(Tok::Var(v));
                }
            }
        } else {
            return Err(format!("unexpected `{c}` in marker `{text}`"));
        }
    }
    Ok(toks)
}

fn marker_list(t: &[Tok], i: &mut usize) -> Result<Vec<Marker>, String> {
    let mut out = vec![marker_atom(t, i)?];
    while let Some(Tok::Bool(b)) = t.get(*i) {
        *i += 1;
        out.push(Marker::Bool(b));
        out.push(marker_atom(t, i)?);
    }
    Ok(out)
}

fn marker_atom(t: &[Tok], i: &mut usize) -> Result<Marker, String> {
    if t.get(*i) == Some(&Tok::Open) {
        *i += 1;
        let inner = marker_list(t, i)?;
        if t.get(*i) != Some(&Tok::Close) {
            return Err("an unbalanced `(` in a marker".into());
        }
        *i += 1;
        return Ok(Marker::Group(inner));
    }
    let side = |tok: Option<&Tok>| match tok {
        Some(Tok::Var(v)) => Ok(v.clone()),
        Some(Tok::Str(s)) => Ok(format!("\"{s}\"")),
        _ => Err("a marker item is `variable op value`".to_string()),
    };
    let lhs = side(t.get(*i))?;
    let Some(Tok::Op(op)) = t.get(*i + 1) else {
        return Err("a marker item is `variable op value`".into());
    };
    let rhs = side(t.get(*i + 2))?;
    *i += 3;
    Ok(Marker::Item(format!("{lhs} {op} {rhs}")))
}

/// `packaging.markers._format_marker`.
fn format_marker(m: &Marker, first: bool) -> String {
    match m {
        Marker::Item(s) => s.clone(),
        Marker::Bool(b) => (*b).to_string(),
        Marker::Group(v) => {
            if let [one @ (Marker::Item(_) | Marker::Group(_))] = &v[..] {
                return format_marker(one, first);
            }
            let inner: Vec<String> = v.iter().map(|m| format_marker(m, false)).collect();
            if first {
                inner.join(" ")
            } else {
                format!("({})", inner.join(" "))
            }
        }
    }
}

/// A marker as `str(packaging.markers.Marker(text))` spells it.
fn marker(text: &str) -> Result<String, String> {
    let toks = marker_tokens(text)?;
    let mut i = 0;
    let list = marker_list(&toks, &mut i)?;
    if i != toks.len() {
        return Err(format!("marker `{text}` has text after its end"));
    }
    Ok(format_marker(&Marker::Group(list), true))
}

/// `SpecifierSet(text)` as `str` gives it: each `op` + version (stripped),
/// sorted, without repeats, joined by `,`.
fn specifier_set(text: &str) -> Result<String, String> {
    let mut specs = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let op = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"]
            .iter()
            .find(|op| part.starts_with(**op))
            .ok_or_else(|| format!("`{part}` is not a version specifier"))?;
        let version = part[op.len()..].trim();
        if version.is_empty() || version.contains(char::is_whitespace) {
            return Err(format!("`{part}` is not a version specifier"));
        }
        specs.push(format!("{op}{version}"));
    }
    specs.sort();
    specs.dedup();
    Ok(specs.join(","))
}

/// A dependency as hatchling writes it: `packaging`'s `Requirement`,
/// normalised by `normalize_requirement` (name and extras normalised,
/// specifiers lowercased), `"` as `'` (`format_dependency`). A direct
/// reference (`name @ url`) is refused.
pub(crate) fn requirement(text: &str) -> Result<String, String> {
    if text.contains('{') {
        return Err(format!(
            "dependency `{text}` holds `{{`, which hatchling formats as a context field"
        ));
    }
    pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(text)
        .map_err(|_| format!("`{text}` is not a PEP 508 requirement"))?;
    let s = text.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(s.len());
    let mut out = normalise_name(&s[..end]);
    let mut rest = s[end..].trim_start();
    if let Some(r) = rest.strip_prefix('[') {
        let close = r.find(']').ok_or("an unclosed `[`")?;
        let mut extras: Vec<String> = r[..close]
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(normalise_name)
            .collect();
        extras.sort();
        extras.dedup();
        if !extras.is_empty() {
            let _ = write!(out, "[{}]", extras.join(","));
        }
        rest = r[close + 1..].trim_start();
    }
    if rest.starts_with('@') {
        return Err(format!("`{text}` is a direct reference"));
    }
    let (spec, mark) = match rest.split_once(';') {
        Some((a, b)) => (a.trim(), Some(b)),
        None => (rest.trim(), None),
    };
    let spec = spec
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(spec);
    out.push_str(&specifier_set(&spec.to_lowercase())?);
    if let Some(m) = mark {
        let _ = write!(out, "; {}", marker(m)?);
    }
    Ok(out.replace('"', "'"))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Spellings checked against `packaging` 26.4 as hatchling 1.33 calls it.
    #[test]
    fn requirements_as_hatchling_formats_them() {
        for (text, want) in [
            ("Requests >= 2.8, <3", "requests<3,>=2.8"),
            ("Foo_Bar[Fast_IO, b] (>=1.0)", "foo-bar[b,fast-io]>=1.0"),
            (
                "attrs; python_version < \"3.10\" and (os_name == 'nt' or sys.platform == 'linux')",
                "attrs; python_version < '3.10' and (os_name == 'nt' or sys_platform == 'linux')",
            ),
            ("x ; ((python_version<'3'))", "x; python_version < '3'"),
            (
                "x; 'a' not   in platform_release",
                "x; 'a' not in platform_release",
            ),
            ("X==1.0RC1", "x==1.0rc1"),
        ] {
            assert_eq!(requirement(text).as_deref(), Ok(want), "{text}");
        }
        assert!(requirement("x @ https://e.org/x.whl").is_err());
        assert!(requirement("x; extra == 'a'").is_err());
        assert!(requirement("x>={root}").is_err());
    }

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

    #[test]
    fn python_splitlines() {
        assert_eq!(split_lines("a\r\nb\rc\n\nd\n"), ["a", "b", "c", "", "d"]);
        assert_eq!(split_lines(""), Vec::<&str>::new());
    }
}
