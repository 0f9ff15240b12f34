//! Dependencies as hatchling 1.33 writes them into core metadata:
//! `packaging` 26's `Requirement`, `SpecifierSet` and `Marker` spellings
//! after hatchling's `normalize_requirement` and `format_dependency`
//! (`hatchling/metadata/utils.py`; `packaging/requirements.py`,
//! `specifiers.py`, `markers.py` `_format_marker`, `_parser.py`).

use std::fmt::Write as _;
use std::str::FromStr;

/// Runs of `-_.` to `-`, lowercase (`normalize_project_name`).
pub(super) fn normalise_name(name: &str) -> String {
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
pub(super) fn marker(text: &str) -> Result<String, String> {
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
pub(super) fn specifier_set(text: &str) -> Result<String, String> {
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
    Ok(packaging_requirement(text, true)?.replace('"', "'"))
}

/// `str(packaging.requirements.Requirement(text))`: the name as written,
/// the extras sorted, the specifiers sorted, the marker as `Marker` spells
/// it — with `normalise`, the name and extras normalised and the
/// specifiers lowercased first (hatchling's `normalize_requirement`). A
/// direct reference (`name @ url`) is refused.
pub(crate) fn packaging_requirement(text: &str, normalise: bool) -> Result<String, String> {
    pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(text)
        .map_err(|_| format!("`{text}` is not a PEP 508 requirement"))?;
    let name_of = |n: &str| {
        if normalise {
            normalise_name(n)
        } else {
            n.to_string()
        }
    };
    let s = text.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(s.len());
    let mut out = name_of(&s[..end]);
    let mut rest = s[end..].trim_start();
    if let Some(r) = rest.strip_prefix('[') {
        let close = r.find(']').ok_or("an unclosed `[`")?;
        let mut extras: Vec<String> = r[..close]
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(name_of)
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
    let spec = if normalise {
        spec.to_lowercase()
    } else {
        spec.to_string()
    };
    out.push_str(&specifier_set(&spec)?);
    if let Some(m) = mark {
        let _ = write!(out, "; {}", marker(m)?);
    }
    Ok(out)
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
}
