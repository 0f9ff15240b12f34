//! flit_core 3.12's wheel files, written as its sources write them
//! (`flit_core/common.py` `Metadata.write_metadata_file`,
//! `write_entry_points`, `Module`; `flit_core/config.py`
//! `read_pep621_metadata`, `pep621_people`, `_expand_requires_extra`;
//! `flit_core/wheel.py` `_write_wheel_file`), for the configurations
//! [`super::choice::coverage`] accepts.

use std::fmt::Write as _;

/// `[project]` fields as written (validated, not respelled).
#[derive(Debug, Clone, Default)]
pub(crate) struct Declared {
    pub requires_python: Option<String>,
    pub dependencies: Vec<String>,
    /// Extra (as declared) → its requirements, in declaration order.
    pub optional: Vec<(String, Vec<String>)>,
    /// The license expression as written.
    pub license_expression: Option<String>,
}

/// A (name, email) of `authors`/`maintainers`.
pub(super) type Person<'a> = (Option<&'a str>, Option<&'a str>);

/// What flit_core's writer reads of a validated project
/// (`project::Project::flit`).
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub summary: Option<&'a str>,
    /// (text, content type).
    pub readme: Option<(&'a str, &'a str)>,
    pub authors: Vec<Person<'a>>,
    pub maintainers: Vec<Person<'a>>,
    pub keywords: &'a [String],
    pub classifiers: &'a [String],
    pub license_files: &'a [String],
    pub urls: &'a [(String, String)],
    pub entry_points: &'a [(String, Vec<(String, String)>)],
    pub declared: &'a Declared,
    /// The (stamped) `pyproject.toml`.
    pub pyproject: &'a str,
}

type Project<'a> = Fields<'a>;

/// flit_core's `normalise_core_metadata_name`: runs of `-_.` to `-`,
/// lowercase.
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

/// `str(email.headerregistry.Address(name, addr_spec=email))`: the name
/// quoted when it holds one of the email parser's specials.
pub(super) fn address(name: &str, email: &str) -> String {
    if name.is_empty() {
        return email.to_string();
    }
    let specials = ['(', ')', '<', '>', '@', ',', ':', ';', '.', '"', '[', ']'];
    let shown = if name.contains(specials) {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        name.to_string()
    };
    format!("{shown} <{email}>")
}

/// `pep621_people`: (names, emails) joined with `, `.
fn people(list: &[Person<'_>]) -> (Option<String>, Option<String>) {
    let mut names = Vec::new();
    let mut emails = Vec::new();
    for c in list {
        match *c {
            (Some(n), Some(e)) => emails.push(address(n, e)),
            (None, Some(e)) => emails.push(e.to_string()),
            (Some(n), None) => names.push(n.to_string()),
            (None, None) => {}
        }
    }
    let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join(", "));
    (join(names), join(emails))
}

/// `Metadata._normalise_requires_dist`: the extras in brackets normalised.
fn requires_dist(req: &str) -> String {
    let (Some(open), Some(close)) = (req.find('['), req.find(']')) else {
        return req.to_string();
    };
    if close < open {
        return req.to_string();
    }
    let extras: Vec<String> = req[open + 1..close]
        .split(',')
        .map(|e| normalise_name(e.trim()))
        .collect();
    format!(
        "{}[{}]{}",
        &req[..open],
        extras.join(", "),
        &req[close + 1..]
    )
}

/// `Requires-Dist` values: the dependencies as written, then each extra's
/// (extras sorted by normalised name) with flit_core's extra marker.
fn requirements(p: &Project) -> Vec<String> {
    let mut out: Vec<String> = p.declared.dependencies.clone();
    let mut extras: Vec<(String, &Vec<String>)> = p
        .declared
        .optional
        .iter()
        .map(|(e, reqs)| (normalise_name(e), reqs))
        .collect();
    extras.sort_by(|a, b| a.0.cmp(&b.0));
    for (extra, reqs) in extras {
        for req in reqs {
            out.push(match req.split_once(';') {
                Some((name, marker)) => {
                    format!("{name} ; extra == \"{extra}\" and ({marker})")
                }
                None => format!("{req} ; extra == \"{extra}\""),
            });
        }
    }
    out
}

/// `Metadata.supports_py2`: no `requires-python` part excludes Python 2.
pub(super) fn supports_py2(p: &Project) -> bool {
    let spec = p.declared.requires_python.as_deref().unwrap_or("");
    !spec.split(',').any(|part| {
        let s = part.trim_start();
        let s = ["===", "==", ">=", "~=", ">"]
            .iter()
            .find_map(|op| s.strip_prefix(op))
            .unwrap_or(s)
            .trim_start();
        s.starts_with(|c: char| ('3'..='9').contains(&c))
    })
}

/// The wheel tag flit_core writes.
pub(super) fn tag(p: &Project) -> &'static str {
    if supports_py2(p) {
        "py2.py3-none-any"
    } else {
        "py3-none-any"
    }
}

/// `METADATA`, field for field as `write_metadata_file` writes it.
pub(super) fn core_metadata(p: &Project) -> String {
    let mut s = String::new();
    let mut h = |k: &str, v: &str| {
        let v = v.lines().collect::<Vec<_>>().join("\n        ");
        let _ = writeln!(s, "{k}: {v}");
    };
    h("Metadata-Version", "2.4");
    h("Name", p.name);
    h("Version", p.version);
    let (author, author_email) = people(&p.authors);
    let (maintainer, maintainer_email) = people(&p.maintainers);
    let keywords = (!p.keywords.is_empty()).then(|| p.keywords.join(","));
    let optional = [
        ("Summary", p.summary.map(str::to_string)),
        ("Keywords", keywords),
        ("Author", author),
        ("Author-email", author_email),
        ("Maintainer", maintainer),
        ("Maintainer-email", maintainer_email),
        ("Requires-Python", p.declared.requires_python.clone()),
        (
            "Description-Content-Type",
            p.readme.map(|r| r.1.to_string()),
        ),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            h(k, &v);
        }
    }
    // A license table's text is not written (flit_core: `License` is not
    // the full text); an expression is, as declared.
    if let Some(e) = &p.declared.license_expression {
        h("License-Expression", e);
    }
    for c in p.classifiers {
        h("Classifier", c);
    }
    for f in p.license_files {
        h("License-File", f);
    }
    for r in requirements(p) {
        h("Requires-Dist", &requires_dist(&r));
    }
    let mut urls: Vec<&(String, String)> = p.urls.iter().collect();
    urls.sort();
    for (label, url) in urls {
        h("Project-URL", &format!("{label}, {url}"));
    }
    let mut extras: Vec<String> = p
        .declared
        .optional
        .iter()
        .map(|(e, _)| normalise_name(e))
        .collect();
    extras.sort();
    for e in extras {
        h("Provides-Extra", &e);
    }
    if let Some((text, _)) = p.readme {
        s.push('\n');
        s.push_str(text);
        s.push('\n');
    }
    s
}

/// `entry_points.txt`: groups and names sorted, `name=value`, a blank line
/// after each group.
pub(super) fn entry_points(p: &Project) -> Option<String> {
    if p.entry_points.is_empty() {
        return None;
    }
    let mut groups: Vec<&(String, Vec<(String, String)>)> = p.entry_points.iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut s = String::new();
    for (group, entries) in groups {
        let _ = writeln!(s, "[{group}]");
        let mut entries: Vec<&(String, String)> = entries.iter().collect();
        entries.sort();
        for (name, value) in entries {
            let _ = writeln!(s, "{name}={value}");
        }
        s.push('\n');
    }
    Some(s)
}

/// The `WHEEL` file, with kiln as its `Generator` (flit_core writes
/// `flit <version>`; kiln does not claim to be flit).
pub(super) fn wheel_file(p: &Project) -> String {
    let mut s = format!(
        "Wheel-Version: 1.0\nGenerator: kiln {}\nRoot-Is-Purelib: true\n",
        env!("CARGO_PKG_VERSION"),
    );
    if supports_py2(p) {
        s.push_str("Tag: py2-none-any\n");
    }
    s.push_str("Tag: py3-none-any\n");
    s
}

/// The import module's name: `[tool.flit.module] name`, else the project
/// name with `-` as `_` (`read_pep621_metadata`).
pub(super) fn module_name(p: &Project) -> String {
    let doc: Option<toml_edit::DocumentMut> = p.pyproject.parse().ok();
    doc.as_ref()
        .and_then(|d| {
            d.get("tool")?
                .get("flit")?
                .get("module")?
                .get("name")?
                .as_str()
        })
        .map(str::to_string)
        .unwrap_or_else(|| p.name.replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flit_spellings() {
        assert_eq!(normalise_name("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(address("Ada Lovelace", "a@x.org"), "Ada Lovelace <a@x.org>");
        assert_eq!(address("A. B", "a@x.org"), "\"A. B\" <a@x.org>");
        assert_eq!(requires_dist("x[Fast_IO, b] >=1"), "x[fast-io, b] >=1");
    }

    /// `supports_py2`: a part matching `^\s*(>=?|~=|===?)?\s*[3-9]` excludes
    /// Python 2 (flit_core/common.py).
    #[test]
    fn python_2_support_as_flit_core_reads_requires_python() {
        let declared = |r: Option<&str>| Declared {
            requires_python: r.map(str::to_string),
            ..Declared::default()
        };
        let fields = |d: &Declared| {
            let f = Fields {
                name: "x",
                version: "1",
                summary: None,
                readme: None,
                authors: Vec::new(),
                maintainers: Vec::new(),
                keywords: &[],
                classifiers: &[],
                license_files: &[],
                urls: &[],
                entry_points: &[],
                declared: d,
                pyproject: "",
            };
            supports_py2(&f)
        };
        for (spec, py2) in [
            (None, true),
            (Some(">=2.7, !=3.0.*"), true),
            (Some("<4"), true),
            (Some(">=3.8"), false),
            (Some(" ~= 3.8"), false),
            (Some(">3"), false),
            (Some("===3.9"), false),
            (Some(">=2.7,>=3.6"), false),
        ] {
            assert_eq!(fields(&declared(spec)), py2, "{spec:?}");
        }
    }
}
