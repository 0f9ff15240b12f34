//! `[project]` (PEP 621) of a recipe's `pyproject.toml`, validated into the
//! facts core metadata is written from.
//!
//! The version is always the release version: a dynamic version is filled
//! in (the same edit the workspace stamp makes, so the sdist's
//! `pyproject.toml` builds without git), and a static version must already
//! equal it. Any other dynamic field needs the project's own backend, so the
//! native builder refuses it. Unknown `[project]` keys are errors (PEP 621).

use std::str::FromStr;

use indexmap::IndexMap;
use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, Requirement, VerbatimUrl};
use serde::Deserialize;

use super::emulation::Emulation;
use super::files::SourceFiles;
use super::flit::Declared;
use super::names;
use super::PythonError;

/// An entry point group and its (name, object reference) pairs.
pub(crate) type EntryGroup = (String, Vec<(String, String)>);

/// The validated project.
#[derive(Debug, Clone)]
pub(crate) struct Project {
    /// The name as written.
    pub name: String,
    /// Normalised PEP 440 version.
    pub version: String,
    pub summary: Option<String>,
    pub readme: Option<Readme>,
    pub requires_python: Option<String>,
    pub license: License,
    /// Selected license files, sorted.
    pub license_files: Vec<String>,
    pub authors: Vec<Contact>,
    pub maintainers: Vec<Contact>,
    pub keywords: Vec<String>,
    pub classifiers: Vec<String>,
    pub urls: Vec<(String, String)>,
    /// `Requires-Dist` values of `dependencies`.
    pub dependencies: Vec<String>,
    /// Normalised extra → its `Requires-Dist` values (with the extra marker).
    pub extras: Vec<(String, Vec<String>)>,
    /// Group → (name, object reference), in declaration order.
    pub entry_points: Vec<EntryGroup>,
    /// The `pyproject.toml` that goes into the sdist (version static).
    pub pyproject: String,
    /// Fields as declared, for writers that copy them (flit_core).
    pub declared: Declared,
}

/// The long description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Readme {
    pub text: String,
    pub content_type: String,
}

/// PEP 639 expression, or the legacy free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum License {
    None,
    Expression(String),
    Text(String),
}

/// An author or maintainer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawReadme {
    Path(String),
    Table(ReadmeTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ReadmeTable {
    file: Option<String>,
    text: Option<String>,
    content_type: Option<String>,
    charset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawLicense {
    Expression(String),
    Table(LicenseTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenseTable {
    file: Option<String>,
    text: Option<String>,
}

type Table = IndexMap<String, String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawProject {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    readme: Option<RawReadme>,
    requires_python: Option<String>,
    license: Option<RawLicense>,
    license_files: Option<Vec<String>>,
    #[serde(default)]
    authors: Vec<Contact>,
    #[serde(default)]
    maintainers: Vec<Contact>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    classifiers: Vec<String>,
    #[serde(default)]
    urls: Table,
    #[serde(default)]
    scripts: Table,
    #[serde(default)]
    gui_scripts: Table,
    #[serde(default)]
    entry_points: IndexMap<String, Table>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    optional_dependencies: IndexMap<String, Vec<String>>,
    #[serde(default)]
    dynamic: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawPyproject {
    project: Option<RawProject>,
}

/// hatchling's default `license-files` (matched at the project root).
const DEFAULT_LICENSE_FILES: &[&str] = &["LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*"];
/// flit_core's default `license-files`.
const FLIT_LICENSE_FILES: &[&str] = &["COPYING*", "LICEN[CS]E*"];
/// pdm-backend's default license files (`find_license_files`).
const PDM_LICENSE_FILES: &[&str] = &["LICEN[CS]E*", "COPYING*", "NOTICE*"];
/// poetry-core's default `license-files`: hatchling's and `LICENSES/`.
const POETRY_LICENSE_FILES: &[&str] = &[
    "LICEN[CS]E*",
    "COPYING*",
    "NOTICE*",
    "AUTHORS*",
    "LICENSES/**",
];

impl Project {
    /// Read and validate `pyproject.toml` of the recipe's source for release
    /// version `version` (PEP 440 spelling), for the writer `emulation`
    /// (which decides the default license files).
    pub(crate) fn load(
        src: &SourceFiles<'_>,
        version: &str,
        emulation: Emulation,
    ) -> Result<Project, PythonError> {
        let file = src.display("pyproject.toml");
        let bad = |key: &str, value: &str, reason: &str| {
            PythonError::field(file.clone(), key, value, reason)
        };
        let version = Version::from_str(version)
            .map_err(|e| bad("version", version, &format!("not a PEP 440 version: {e}")))?
            .to_string();
        let original = src.read_text("pyproject.toml")?;
        let read = match emulation {
            Emulation::Hatchling => super::hatch_coverage::as_hatchling_reads(&original),
            _ => original.clone(),
        };
        let raw: RawPyproject = toml_edit::de::from_str(&read)
            .map_err(|e| bad("(document)", "", e.message().trim()))?;
        let p = raw.project.ok_or_else(|| {
            bad(
                "project",
                "",
                "missing: the native builder needs a [project] table (PEP 621)",
            )
        })?;
        let name = project_name(&p, &bad)?;
        let declared = Declared::of(&p);
        check_version(&p, &version, emulation, &bad)?;
        let (pyproject, _) =
            crate::stamp::pyproject::stamp(&original, &version, crate::stamp::StampMode::Workspace)
                .map_err(|e| bad(&e.key, "", &e.reason))?;

        let summary = match p.description {
            Some(d) if d.contains('\n') => {
                return Err(bad("project.description", &d, "a summary is one line"))
            }
            d => d,
        };
        let readme = match p.readme {
            None => None,
            Some(r) => Some(readme(src, r, &bad)?),
        };
        let requires_python = match p.requires_python {
            None => None,
            Some(s) => Some(
                VersionSpecifiers::from_str(&s)
                    .map_err(|e| bad("project.requires-python", &s, &e.to_string()))?
                    .to_string(),
            ),
        };
        let table_file = match &p.license {
            Some(RawLicense::Table(LicenseTable { file: Some(f), .. })) => Some(f.clone()),
            _ => None,
        };
        let (license, license_globs) = license(src, p.license, p.license_files, emulation, &bad)?;
        let mut license_files = license_files(src, license_globs.as_deref(), emulation, &bad)?;
        if let (Emulation::FlitCore, Some(f)) = (emulation, table_file) {
            // flit_core ships a license table's file as a license file.
            license_files.push(f);
            license_files.sort();
            license_files.dedup();
        }
        for (key, list) in [
            ("project.authors", &p.authors),
            ("project.maintainers", &p.maintainers),
        ] {
            if list.iter().any(|c| c.name.is_none() && c.email.is_none()) {
                return Err(bad(key, "{}", "each entry needs `name` or `email`"));
            }
        }
        let dependencies = dependencies(&p.dependencies, &bad)?;
        let extras = extras(&p.optional_dependencies, &bad)?;
        let entry_points = entry_points(p.scripts, p.gui_scripts, p.entry_points, &bad)?;
        for (k, v) in &p.urls {
            if k.len() > 32 {
                return Err(bad(
                    &format!("project.urls.{k}"),
                    v,
                    "labels are at most 32 characters",
                ));
            }
        }
        Ok(Project {
            name,
            version,
            summary,
            readme,
            requires_python,
            license,
            license_files,
            authors: p.authors,
            maintainers: p.maintainers,
            keywords: p.keywords,
            classifiers: p.classifiers,
            urls: p.urls.into_iter().collect(),
            dependencies,
            extras,
            entry_points,
            pyproject,
            declared,
        })
    }

    /// `<name>-<version>` with the name and version as file names spell them.
    pub(crate) fn dist_stem(&self) -> String {
        format!("{}-{}", names::file_component(&self.name), self.version)
    }
}

impl Project {
    /// What flit_core's writer reads of the project.
    pub(crate) fn flit(&self) -> super::flit::Fields<'_> {
        fn people(l: &[Contact]) -> Vec<super::flit::Person<'_>> {
            l.iter()
                .map(|c| (c.name.as_deref(), c.email.as_deref()))
                .collect()
        }
        super::flit::Fields {
            name: &self.name,
            version: &self.version,
            summary: self.summary.as_deref(),
            readme: self
                .readme
                .as_ref()
                .map(|r| (r.text.as_str(), r.content_type.as_str())),
            authors: people(&self.authors),
            maintainers: people(&self.maintainers),
            keywords: &self.keywords,
            classifiers: &self.classifiers,
            license_files: &self.license_files,
            urls: &self.urls,
            entry_points: &self.entry_points,
            declared: &self.declared,
            pyproject: &self.pyproject,
        }
    }
}

impl Declared {
    fn of(p: &RawProject) -> Declared {
        Declared {
            requires_python: p.requires_python.clone(),
            dependencies: p.dependencies.clone(),
            optional: p
                .optional_dependencies
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            license_expression: match &p.license {
                Some(RawLicense::Expression(e)) => Some(e.clone()),
                _ => None,
            },
        }
    }
}

/// `project.name`, which every distribution needs, checked as a
/// distribution name.
fn project_name(
    p: &RawProject,
    bad: &dyn Fn(&str, &str, &str) -> PythonError,
) -> Result<String, PythonError> {
    let name = p.name.clone().ok_or_else(|| {
        bad(
            "project.name",
            "",
            "missing: every distribution needs a name",
        )
    })?;
    if !names::valid_name(&name) {
        return Err(bad(
            "project.name",
            &name,
            "not a valid distribution name (letters, digits, `.`, `_`, `-`; starting and ending with a letter or digit)",
        ));
    }
    Ok(name)
}

/// `project.version` is the release `version`, or is dynamic (kiln stamps
/// it); no other field may be dynamic but, writing as poetry-core, the
/// classifiers it computes (`super::poetry`).
fn check_version(
    p: &RawProject,
    version: &str,
    emulation: Emulation,
    bad: &dyn Fn(&str, &str, &str) -> PythonError,
) -> Result<(), PythonError> {
    let version_dynamic = p.dynamic.iter().any(|d| d == "version");
    match &p.version {
        Some(v) if version_dynamic => {
            return Err(bad(
                "project.version",
                v,
                "is static but also listed in `project.dynamic`",
            ))
        }
        Some(v) => {
            let ok = Version::from_str(v).is_ok_and(|x| x.to_string() == version);
            if !ok {
                return Err(bad(
                    "project.version",
                    v,
                    &format!("differs from the release version {version}; make it dynamic or let kiln stamp it"),
                ));
            }
        }
        None if !version_dynamic => {
            return Err(bad(
                "project.version",
                "",
                "missing: set it, or list \"version\" in `project.dynamic`",
            ))
        }
        None => {}
    }
    let other: Vec<&str> = p
        .dynamic
        .iter()
        .map(String::as_str)
        .filter(|d| *d != "version")
        .filter(|d| !(emulation == Emulation::PoetryCore && *d == "classifiers"))
        .collect();
    if !other.is_empty() {
        return Err(bad(
            "project.dynamic",
            &other.join(", "),
            "the native builder needs these fields static in [project] (a build backend computes them)",
        ));
    }
    Ok(())
}

/// `project.license` and the `license-files` globs (PEP 639), or a license
/// table's text (read from its file) with no globs — or with them, writing
/// as hatchling, which reads both.
fn license(
    src: &SourceFiles<'_>,
    license: Option<RawLicense>,
    globs: Option<Vec<String>>,
    emulation: Emulation,
    bad: &dyn Fn(&str, &str, &str) -> PythonError,
) -> Result<(License, Option<Vec<String>>), PythonError> {
    Ok(match (license, globs) {
        (Some(RawLicense::Table(_)), Some(_)) if emulation != Emulation::Hatchling => {
            return Err(bad(
                "project.license",
                "(table)",
                "`license-files` requires `license` to be an SPDX expression string (PEP 639)",
            ))
        }
        (None, globs) => (License::None, globs),
        (Some(RawLicense::Expression(e)), globs) => {
            check_spdx(&e).map_err(|r| bad("project.license", &e, &r))?;
            (License::Expression(e), globs)
        }
        (Some(RawLicense::Table(t)), globs) => match (t.file, t.text) {
            (Some(f), None) => (License::Text(src.read_text(&f)?), globs),
            (None, Some(text)) => (License::Text(text), globs),
            _ => {
                return Err(bad(
                    "project.license",
                    "(table)",
                    "a license table has exactly one of `file` or `text`",
                ))
            }
        },
    })
}

/// `project.dependencies` as PEP 508 requirements, as core metadata
/// spells them.
fn dependencies(
    deps: &[String],
    bad: &dyn Fn(&str, &str, &str) -> PythonError,
) -> Result<Vec<String>, PythonError> {
    deps.iter()
        .enumerate()
        .map(|(i, d)| {
            requirement(d, None).map_err(|r| bad(&format!("project.dependencies[{i}]"), d, &r))
        })
        .collect::<Result<Vec<_>, _>>()
}

/// `project.optional-dependencies`: each extra's normalised name and its
/// requirements, sorted by name; two extras may not normalise alike.
fn extras(
    optional: &IndexMap<String, Vec<String>>,
    bad: &dyn Fn(&str, &str, &str) -> PythonError,
) -> Result<Vec<(String, Vec<String>)>, PythonError> {
    let mut extras = Vec::new();
    for (extra, deps) in optional {
        let key = format!("project.optional-dependencies.{extra}");
        let x = ExtraName::new(extra.clone()).map_err(|e| bad(&key, extra, &e.to_string()))?;
        let reqs = deps
            .iter()
            .enumerate()
            .map(|(i, d)| requirement(d, Some(&x)).map_err(|r| bad(&format!("{key}[{i}]"), d, &r)))
            .collect::<Result<Vec<_>, _>>()?;
        extras.push((x.to_string(), reqs));
    }
    // Sorted by normalised name, as uv_build and hatchling write them.
    extras.sort_by(|a: &(String, Vec<String>), b| a.0.cmp(&b.0));
    if let Some(w) = extras.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(bad(
            "project.optional-dependencies",
            &w[0].0,
            "two extras normalise to this name",
        ));
    }
    Ok(extras)
}

fn readme(
    src: &SourceFiles<'_>,
    r: RawReadme,
    bad: &dyn Fn(&str, &str, &str) -> PythonError,
) -> Result<Readme, PythonError> {
    let from_ext = |path: &str| -> Result<String, PythonError> {
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("md") => Ok("text/markdown".into()),
            Some("rst") => Ok("text/x-rst".into()),
            Some("txt") => Ok("text/plain".into()),
            _ => Err(bad(
                "project.readme",
                path,
                "unknown extension (.md, .rst, .txt); give `content-type` in a table",
            )),
        }
    };
    match r {
        RawReadme::Path(path) => Ok(Readme {
            content_type: from_ext(&path)?,
            text: src.read_text(&path)?,
        }),
        RawReadme::Table(t) => {
            if t.charset
                .as_deref()
                .is_some_and(|c| !c.eq_ignore_ascii_case("utf-8"))
            {
                return Err(bad(
                    "project.readme.charset",
                    t.charset.as_deref().unwrap_or(""),
                    "only UTF-8 is supported",
                ));
            }
            let text = match (t.file, t.text) {
                (Some(f), None) => src.read_text(&f)?,
                (None, Some(text)) => text,
                _ => {
                    return Err(bad(
                        "project.readme",
                        "(table)",
                        "a readme table has exactly one of `file` or `text`",
                    ))
                }
            };
            let content_type = t.content_type.ok_or_else(|| {
                bad(
                    "project.readme.content-type",
                    "",
                    "missing (required in a readme table)",
                )
            })?;
            let base = content_type.split(';').next().unwrap_or("").trim();
            if !["text/markdown", "text/x-rst", "text/plain"].contains(&base) {
                return Err(bad(
                    "project.readme.content-type",
                    &content_type,
                    "must be text/markdown, text/x-rst or text/plain",
                ));
            }
            Ok(Readme { text, content_type })
        }
    }
}

/// A dependency as `Requires-Dist` writes it (validated by `pep508_rs`,
/// rendered as uv_build renders it).
fn requirement(text: &str, extra: Option<&ExtraName>) -> Result<String, String> {
    let mut r = Requirement::<VerbatimUrl>::from_str(text).map_err(|e| {
        e.to_string()
            .lines()
            .next()
            .unwrap_or("not a PEP 508 dependency specifier")
            .to_string()
    })?;
    if let Some(x) = extra {
        r = r.with_extra_marker(x);
    }
    Ok(r.to_string())
}

/// A light PEP 639 check: SPDX-style identifiers joined by AND/OR/WITH with
/// balanced parentheses. (The identifier list itself is not checked.)
fn check_spdx(e: &str) -> Result<(), String> {
    let spaced = e.replace('(', " ( ").replace(')', " ) ");
    let mut depth = 0i32;
    let mut want_operand = true;
    for tok in spaced.split_whitespace() {
        match tok {
            "(" if want_operand => depth += 1,
            ")" if !want_operand => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced `)`".into());
                }
            }
            "AND" | "OR" | "WITH" if !want_operand => want_operand = true,
            t if want_operand
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':'))
                && !["AND", "OR", "WITH"].contains(&t) =>
            {
                want_operand = false
            }
            t => return Err(format!("unexpected {t:?} in an SPDX license expression")),
        }
    }
    if want_operand || depth != 0 {
        return Err("incomplete SPDX license expression".into());
    }
    Ok(())
}

/// A `license-files` glob. Writing as hatchling, as Python's `glob.glob`
/// (what hatchling runs) matches: component by component, `**` as `*`,
/// `.`-names only for a component that starts with `.`, `./` dropped.
/// Otherwise one glob over the path, `*` not crossing `/`.
enum LicenseGlob {
    Path(globset::GlobMatcher),
    Python(Vec<(globset::GlobMatcher, bool)>),
}

impl LicenseGlob {
    fn new(pat: &str, emulation: Emulation) -> Result<Self, globset::Error> {
        let glob = |p: &str| {
            globset::GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher())
        };
        if emulation != Emulation::Hatchling {
            return Ok(LicenseGlob::Path(glob(pat)?));
        }
        let mut parts = Vec::new();
        for c in pat.split('/').filter(|c| !c.is_empty() && *c != ".") {
            let mut one = String::new();
            for ch in c.chars() {
                if !(ch == '*' && one.ends_with('*')) {
                    one.push(ch);
                }
            }
            parts.push((glob(&one)?, c.starts_with('.')));
        }
        Ok(LicenseGlob::Python(parts))
    }

    fn is_match(&self, path: &str) -> bool {
        match self {
            LicenseGlob::Path(m) => m.is_match(path),
            LicenseGlob::Python(parts) => {
                let names: Vec<&str> = path.split('/').collect();
                names.len() == parts.len()
                    && names
                        .iter()
                        .zip(parts)
                        .all(|(n, (m, dot))| (*dot || !n.starts_with('.')) && m.is_match(n))
            }
        }
    }
}

fn license_files(
    src: &SourceFiles<'_>,
    globs: Option<&[String]>,
    emulation: Emulation,
    bad: &dyn Fn(&str, &str, &str) -> PythonError,
) -> Result<Vec<String>, PythonError> {
    let explicit = globs.is_some();
    let defaults = match emulation {
        Emulation::Generic | Emulation::Hatchling => DEFAULT_LICENSE_FILES,
        Emulation::FlitCore => FLIT_LICENSE_FILES,
        Emulation::PdmBackend => PDM_LICENSE_FILES,
        // uv_build ships only the declared `license-files`.
        Emulation::UvBuild => &[],
        Emulation::PoetryCore => POETRY_LICENSE_FILES,
    };
    let patterns: Vec<String> = match globs {
        Some(g) => g.to_vec(),
        None => defaults.iter().map(|s| s.to_string()).collect(),
    };
    let mut out = Vec::new();
    for pat in &patterns {
        if pat.starts_with('/') || pat.split('/').any(|c| c == "..") || pat.contains('\\') {
            return Err(bad(
                "project.license-files",
                pat,
                "must be a relative glob without `..` (PEP 639)",
            ));
        }
        let m = LicenseGlob::new(pat, emulation)
            .map_err(|e| bad("project.license-files", pat, &e.to_string()))?;
        let hits: Vec<&String> = src.paths().iter().filter(|p| m.is_match(p)).collect();
        // hatchling drops a glob that matches nothing.
        if hits.is_empty() && explicit && emulation != Emulation::Hatchling {
            return Err(bad(
                "project.license-files",
                pat,
                "matches no selected file",
            ));
        }
        out.extend(hits.into_iter().cloned());
    }
    out.sort();
    out.dedup();
    for f in &out {
        src.read_text(f)?;
    }
    Ok(out)
}

fn entry_points(
    scripts: Table,
    gui: Table,
    other: IndexMap<String, Table>,
    bad: &dyn Fn(&str, &str, &str) -> PythonError,
) -> Result<Vec<EntryGroup>, PythonError> {
    let mut groups = Vec::new();
    for (group, key, table) in [
        ("console_scripts", "project.scripts", scripts),
        ("gui_scripts", "project.gui-scripts", gui),
    ] {
        if !table.is_empty() {
            groups.push((group.to_string(), key.to_string(), table));
        }
    }
    for (group, table) in other {
        let key = format!("project.entry-points.{group}");
        if group == "console_scripts" || group == "gui_scripts" {
            return Err(bad(
                &key,
                &group,
                "use [project.scripts] / [project.gui-scripts] (PEP 621)",
            ));
        }
        let ok = group
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
            && group
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '_' || c == '-');
        if !ok {
            return Err(bad(
                &key,
                &group,
                "group names are letters, digits, `.`, `_`, `-`",
            ));
        }
        groups.push((group, key, table));
    }
    let mut out = Vec::new();
    for (group, key, table) in groups {
        let mut entries = Vec::new();
        for (name, value) in table {
            let script = group == "console_scripts" || group == "gui_scripts";
            let name_ok = !name.is_empty()
                && !name.contains('=')
                && !name.starts_with('[')
                && (!script
                    || name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_')));
            if !name_ok {
                return Err(bad(
                    &format!("{key}.{name}"),
                    &name,
                    "not a valid entry point name",
                ));
            }
            if !object_reference(&value) {
                return Err(bad(
                    &format!("{key}.{name}"),
                    &value,
                    "not an object reference `module.path:attr.path` (optionally followed by extras, `[extra1, extra2]`)",
                ));
            }
            entries.push((name, value));
        }
        out.push((group, entries));
    }
    Ok(out)
}

/// `importable.module[:object.attr][ [extra, ...]]` (entry points
/// specification; the extras are deprecated but valid, and are written as
/// given, as flit_core and hatchling write them).
fn object_reference(v: &str) -> bool {
    let ident_path = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|i| {
                i.chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                    && i.chars().all(|c| c.is_alphanumeric() || c == '_')
            })
    };
    let (reference, extras) = match v.split_once('[') {
        Some((r, rest)) => (r, Some(rest)),
        None => (v, None),
    };
    let extras_ok = extras.is_none_or(|rest| {
        rest.trim_end().strip_suffix(']').is_some_and(|list| {
            list.split(',').all(|x| {
                let x = x.trim();
                !x.is_empty()
                    && x.chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
            })
        })
    });
    let reference_ok = match reference.split_once(':') {
        Some((m, o)) => ident_path(m.trim()) && ident_path(o.trim()),
        None => ident_path(reference.trim()),
    };
    extras_ok && reference_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Python 3.11's `glob.glob` (hatchling's `license_files`) finds
    /// in a tree of these files, observed with python3.
    #[test]
    fn license_globs_as_python_globs_them_writing_as_hatchling() {
        let files = [
            "LICENSE",
            "licenses/a.txt",
            "licenses/.h.txt",
            "licenses/sub/b.txt",
            ".hidden/LICENSE",
            "d/LICENSE",
        ];
        for (pat, want) in [
            ("licenses/**", &["licenses/a.txt"][..]),
            ("**/LICENSE", &["d/LICENSE"]),
            ("./LICENSE", &["LICENSE"]),
            ("licenses/.*", &["licenses/.h.txt"]),
            ("*/LICENSE", &["d/LICENSE"]),
            (".*/LICENSE", &[".hidden/LICENSE"]),
            ("licenses/*/*.txt", &["licenses/sub/b.txt"]),
            ("LICEN[CS]E*", &["LICENSE"]),
        ] {
            let m = LicenseGlob::new(pat, Emulation::Hatchling).unwrap();
            let mut got: Vec<&str> = files.into_iter().filter(|f| m.is_match(f)).collect();
            got.sort_unstable();
            assert_eq!(got, want, "{pat}");
        }
    }

    #[test]
    fn spdx_expressions() {
        for ok in [
            "MIT",
            "MIT OR Apache-2.0",
            "(MIT AND BSD-3-Clause) OR GPL-2.0-or-later WITH Classpath-exception-2.0",
            "LicenseRef-Proprietary",
        ] {
            check_spdx(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "MIT OR", "(MIT", "MIT)", "MIT Apache-2.0", "MIT, BSD"] {
            assert!(check_spdx(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requirements_render_like_uv_build() {
        assert_eq!(
            requirement("Requests >= 2.8", None).unwrap(),
            "requests>=2.8"
        );
        let x = ExtraName::new("Fast".into()).unwrap();
        assert_eq!(
            requirement("uvloop; sys_platform != 'win32'", Some(&x)).unwrap(),
            "uvloop ; sys_platform != 'win32' and extra == 'fast'"
        );
        assert!(requirement("requests >=", None).is_err());
        assert!(requirement("requests[", None).is_err());
    }

    #[test]
    fn object_references() {
        assert!(object_reference("pkg.cli:main"));
        assert!(object_reference("pkg"));
        assert!(!object_reference("pkg cli:main"));
        assert!(!object_reference("pkg:"));
        assert!(!object_reference("1pkg:main"));
        // Extras: deprecated, valid.
        assert!(object_reference("pkg.cli:main [fast]"));
        assert!(object_reference("pkg.cli:main [fast, colour.x]"));
        assert!(object_reference("pkg.cli:main[fast]"));
        assert!(!object_reference("pkg.cli:main [fast"));
        assert!(!object_reference("pkg.cli:main [fast,]"));
        assert!(!object_reference("pkg.cli:main [] x"));
        // Every form the entry points specification allows: a module alone,
        // nested attributes, whitespace around the colon and the extras,
        // identifiers beyond ASCII, extras after a bare module.
        for ok in [
            "pkg.cli : main",
            "pkg.cli:Main.run",
            "_p.q_1:_r",
            "pkg.cli:main  [ a , b ]",
            "pkg [x]",
            "pâquet.cli:main",
        ] {
            assert!(object_reference(ok), "{ok}");
        }
        for bad in ["pkg.cli:main:x", "pkg..cli:main", "pkg.cli:main.", ":main"] {
            assert!(!object_reference(bad), "{bad}");
        }
    }
}
