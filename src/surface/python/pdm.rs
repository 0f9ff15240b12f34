//! pdm-backend 2.5's wheels, written as its sources write them
//! (`pdm/backend/wheel.py` `WheelBuilder`: `_write_dist_info`,
//! `_write_entry_points`, `_write_wheel_file`, `_get_tag`, `build_artifact`
//! with every file sorted by path and `RECORD` last; `pdm/backend/base.py`
//! `_get_include_and_exclude`, `_collect_files`, `find_license_files`;
//! the vendored `pyproject-metadata` 0.12.1 `StandardMetadata._write_metadata`
//! with its `RFC822Policy`, and `packaging` 26's `Requirement`, `Marker`
//! and `SpecifierSet` spellings), for the configurations
//! [`super::pdm_coverage::coverage`] accepts.

use std::fmt::Write as _;
use std::io::Write;
use std::str::FromStr;

use super::emulation::Emulation;
use super::files::{DiskFile, SourceFiles};
use super::names::WheelTag;
use super::pdm_coverage::{normpath, requirement};
use super::project::{Contact, License, Project};
use super::wheel_plan::{recipe_err, WheelPlan};
use super::writer::{csv_field, record_hash};
use super::PythonError;
use crate::archive::zip::ZipWriter;
use crate::surface::Job;

/// `re.split(r"[\r\n]+", text)`.
fn split_eol(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\r' || b[i] == b'\n' {
            out.push(&text[start..i]);
            while i < b.len() && (b[i] == b'\r' || b[i] == b'\n') {
                i += 1;
            }
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&text[start..]);
    out
}

/// One header as `RFC822Policy` stores and folds it: each `\n` followed by
/// as many spaces as `name: ` is long, lines split at runs of CR/LF.
fn header(s: &mut String, name: &str, value: &str) {
    let indent = format!("\n{}", " ".repeat(name.len() + 2));
    let stored = value.replace('\n', &indent);
    let _ = writeln!(s, "{name}: {}", split_eol(&stored).join("\n"));
}

/// A file's text as `Path.read_text(encoding="utf-8")` gives it.
fn universal_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// `_format_address`: the name quoted when it holds one of `[]\()<>@,:;".`.
fn address(name: &str, email: &str) -> String {
    if name.contains([
        '[', ']', '\\', '(', ')', '<', '>', '@', ',', ':', ';', '"', '.',
    ]) {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{email}>")
    } else {
        format!("{name} <{email}>")
    }
}

/// `_name_list` and `_email_list` of `ensure_people` (a missing name is
/// `Unknown`).
fn people(list: &[Contact]) -> (Option<String>, Option<String>) {
    let mut names = Vec::new();
    let mut emails = Vec::new();
    for c in list {
        let name = c.name.as_deref().unwrap_or("Unknown");
        match c.email.as_deref() {
            Some(e) if !e.is_empty() => emails.push(address(name, e)),
            _ => names.push(name.to_string()),
        }
    }
    let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join(", "));
    (join(names), join(emails))
}

/// `packaging.utils.canonicalize_name`: runs of `-_.` to `-`, lowercase.
fn canonical(name: &str) -> String {
    super::hatch_requirements::normalise_name(name)
}

/// Whether a marker as `Marker` spells it has an `or` outside parentheses
/// (its strings hold no quote or parenthesis that counts: they are skipped).
fn top_level_or(marker: &str) -> bool {
    let mut depth = 0i32;
    let mut quoted = false;
    for (i, c) in marker.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ' ' if !quoted && depth == 0 && marker[i..].starts_with(" or ") => return true,
            _ => {}
        }
    }
    false
}

/// `_build_extra_req`: the requirement with `extra == '<extra>'` joined to
/// its marker (parenthesised when it has a top-level `or`), re-spelled by
/// `Marker` (which canonicalises the extra).
fn extra_requirement(text: &str, extra: &str) -> Result<String, String> {
    let req = requirement(text)?;
    let x = canonical(extra);
    Ok(match req.split_once("; ") {
        None => format!("{req}; extra == \"{x}\""),
        Some((head, m)) if top_level_or(m) => format!("{head}; ({m}) and extra == \"{x}\""),
        Some((head, m)) => format!("{head}; {m} and extra == \"{x}\""),
    })
}

/// What pdm-backend reads of `[project]` beyond [`Project`]: whether
/// `license-files` is set, and a license table's file.
struct Declared {
    license_files_key: bool,
    license_table_file: Option<String>,
}

fn declared(project: &Project) -> Declared {
    let doc: Option<toml_edit::DocumentMut> = project.pyproject.parse().ok();
    let p = doc.as_ref().and_then(|d| d.get("project"));
    Declared {
        license_files_key: p.and_then(|p| p.get("license-files")).is_some(),
        license_table_file: p
            .and_then(|p| p.get("license"))
            .and_then(|l| l.get("file"))
            .and_then(|f| f.as_str())
            .map(str::to_string),
    }
}

/// `sorted(set(license_files))` of `pathlib.Path`s: by path components.
fn sort_as_paths(files: &[String]) -> Vec<String> {
    let mut out = files.to_vec();
    out.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    out.dedup();
    out
}

/// `METADATA`, field for field as `_write_metadata` writes it.
pub(super) fn core_metadata(p: &Project) -> Result<String, String> {
    let d = declared(p);
    let expression = matches!(p.license, License::Expression(_));
    let version = if expression || d.license_files_key {
        "2.4"
    } else {
        "2.1"
    };
    let mut s = String::new();
    header(&mut s, "Metadata-Version", version);
    header(&mut s, "Name", &p.name);
    header(&mut s, "Version", &p.version);
    if let Some(summary) = p.summary.as_deref().filter(|d| !d.is_empty()) {
        header(&mut s, "Summary", summary);
    }
    if !p.keywords.is_empty() && !p.keywords.join(",").is_empty() {
        header(&mut s, "Keywords", &p.keywords.join(","));
    }
    for (field, list) in [("Author", &p.authors), ("Maintainer", &p.maintainers)] {
        let (names, emails) = people(list);
        if let Some(n) = names {
            header(&mut s, field, &n);
        }
        if let Some(e) = emails {
            header(&mut s, &format!("{field}-Email"), &e);
        }
    }
    match &p.license {
        License::Text(t) => {
            let text = match d.license_table_file {
                Some(_) => universal_newlines(t),
                None => t.clone(),
            };
            header(&mut s, "License", &text);
        }
        License::Expression(e) => header(&mut s, "License-Expression", e),
        License::None => {}
    }
    if d.license_files_key {
        for f in sort_as_paths(&p.license_files) {
            header(&mut s, "License-File", &f);
        }
    }
    for c in &p.classifiers {
        header(&mut s, "Classifier", c);
    }
    for (label, url) in &p.urls {
        header(&mut s, "Project-URL", &format!("{label}, {url}"));
    }
    if let Some(r) = &p.declared.requires_python {
        let r = super::hatch_requirements::specifier_set(r)?;
        if !r.is_empty() {
            header(&mut s, "Requires-Python", &r);
        }
    }
    for dep in &p.declared.dependencies {
        header(&mut s, "Requires-Dist", &requirement(dep)?);
    }
    for (extra, reqs) in &p.declared.optional {
        let norm = extra.replace(['.', '_'], "-").to_lowercase();
        header(&mut s, "Provides-Extra", &norm);
        for r in reqs {
            header(&mut s, "Requires-Dist", &extra_requirement(r, &norm)?);
        }
    }
    if let Some(r) = &p.readme {
        header(&mut s, "Description-Content-Type", &r.content_type);
    }
    s.push('\n');
    if let Some(r) = &p.readme {
        s.push_str(&universal_newlines(&r.text));
    }
    Ok(s)
}

/// `entry_points.txt` as `_write_entry_points` writes it: `[project.entry-points]`
/// with `console_scripts` and `gui_scripts` always (empty or not), groups
/// and names sorted, `name = value`, a blank line after each group.
pub(super) fn entry_points(p: &Project) -> String {
    let mut groups: Vec<(&str, Vec<&(String, String)>)> = p
        .entry_points
        .iter()
        .map(|(g, e)| (g.as_str(), e.iter().collect()))
        .collect();
    for always in ["console_scripts", "gui_scripts"] {
        if !groups.iter().any(|(g, _)| *g == always) {
            groups.push((always, Vec::new()));
        }
    }
    groups.sort_by(|a, b| a.0.cmp(b.0));
    let mut s = String::new();
    for (group, mut entries) in groups {
        let _ = writeln!(s, "[{group}]");
        entries.sort();
        for (name, value) in entries {
            let _ = writeln!(s, "{name} = {value}");
        }
        s.push('\n');
    }
    s
}

/// `_get_tag` for a pure wheel: `py2.py3` when `requires-python` admits
/// 2.7, else `py3`.
pub(super) fn tag(p: &Project) -> Result<String, String> {
    let spec = p.declared.requires_python.as_deref().unwrap_or("");
    let set = pep508_rs::pep440_rs::VersionSpecifiers::from_str(spec)
        .map_err(|e| format!("`{spec}` is not a version specifier set: {e}"))?;
    let v27 = pep508_rs::pep440_rs::Version::from_str("2.7").expect("a version");
    Ok(if set.contains(&v27) {
        "py2.py3-none-any".to_string()
    } else {
        "py3-none-any".to_string()
    })
}

/// The `WHEEL` file, with kiln as its `Generator` (pdm-backend writes
/// `pdm-backend (2.5.0)`).
pub(super) fn wheel_file(tag: &str) -> String {
    format!(
        "Wheel-Version: 1.0\nGenerator: kiln {}\nRoot-Is-Purelib: true\nTag: {tag}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// `[tool.pdm.build]` as kiln reads it (the keys
/// [`super::pdm_coverage::coverage`] accepts): the package dir and the
/// literal paths excluded from a wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Layout {
    /// `package-dir` (`None`: `src` when a `src/` directory exists).
    pub package_dir: Option<String>,
    /// `excludes`, then `source-includes` (default `tests`), as written.
    pub excludes: Vec<String>,
}

impl Layout {
    /// Read from the (stamped) `pyproject.toml`.
    pub(super) fn of(pyproject: &str) -> Layout {
        let doc: Option<toml_edit::DocumentMut> = pyproject.parse().ok();
        let build = doc
            .as_ref()
            .and_then(|d| d.get("tool")?.get("pdm")?.get("build").cloned());
        let list = |key: &str| -> Vec<String> {
            build
                .as_ref()
                .and_then(|b| b.get(key))
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut excludes = list("excludes");
        let source_includes = list("source-includes");
        if source_includes.is_empty() {
            excludes.push("tests".into());
        } else {
            excludes.extend(source_includes);
        }
        Layout {
            package_dir: build
                .as_ref()
                .and_then(|b| b.get("package-dir"))
                .and_then(|v| v.as_str())
                .map(|d| normpath(d).to_string()),
            excludes,
        }
    }
}

/// The paths `glob.iglob` finds for the literal patterns of `excludes`:
/// each that exists (as a directory, when it ends with `/`), normalised.
fn exclude_paths(paths: &[String], layout: &Layout) -> Vec<String> {
    let is_dir = |d: &str| {
        paths
            .iter()
            .any(|p| p.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
    };
    layout
        .excludes
        .iter()
        .filter(|pat| {
            let n = normpath(pat);
            if pat.ends_with('/') {
                is_dir(n)
            } else {
                is_dir(n) || paths.iter().any(|p| p == n)
            }
        })
        .map(|pat| normpath(pat).to_string())
        .collect()
}

/// The payload as `_get_include_and_exclude` and `_collect_files` choose
/// it: (source path, wheel path).
///
/// The package dir is `package-dir`, else `src` when a `src/` directory
/// exists. Its top packages (directories with `__init__.py`, or `-stubs`
/// ones with `__init__.pyi`) are included whole but `*.pyc`; without any,
/// its top-level `*.py` modules (not hidden). An excluded path (the
/// `excludes` and `source-includes` that exist, `tests` when no
/// source-include is set) is left out with what is below it; a path both
/// included and excluded is excluded (`_merge_globs`: equal weights).
pub(super) fn select(paths: &[String], layout: &Layout) -> Vec<(String, String)> {
    let package_dir = match &layout.package_dir {
        Some(d) => d.clone(),
        None if paths.iter().any(|p| p.starts_with("src/")) => "src".to_string(),
        None => String::new(),
    };
    let prefix = if package_dir.is_empty() {
        String::new()
    } else {
        format!("{package_dir}/")
    };
    let excluded_paths = exclude_paths(paths, layout);
    let excluded = |path: &str| {
        excluded_paths.iter().any(|e| {
            path == e
                || path
                    .strip_prefix(e.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
    };
    let mut packages: Vec<&str> = paths
        .iter()
        .filter_map(|p| p.strip_prefix(prefix.as_str()))
        .filter_map(|rel| {
            let (dir, file) = rel.split_once('/')?;
            let package =
                file == "__init__.py" || (file == "__init__.pyi" && dir.ends_with("-stubs"));
            (package && !["__pycache__", "__pypackages__"].contains(&dir)).then_some(dir)
        })
        .filter(|dir| !excluded_paths.contains(&format!("{prefix}{dir}")))
        .collect();
    packages.sort_unstable();
    packages.dedup();
    let top_level = |rel: &str| !rel.contains('/') && rel.ends_with(".py") && !rel.starts_with('.');
    let mut out = Vec::new();
    for p in paths {
        let Some(rel) = p.strip_prefix(prefix.as_str()) else {
            continue;
        };
        let keep = if packages.is_empty() {
            top_level(rel) && !excluded_paths.contains(p)
        } else {
            rel.split_once('/')
                .is_some_and(|(dir, _)| packages.binary_search(&dir).is_ok())
                && !rel.ends_with(".pyc")
                && !excluded(p)
        };
        if keep {
            out.push((p.clone(), rel.to_string()));
        }
    }
    out
}

/// The license files pdm-backend copies to `licenses/`: those of
/// `license-files`, else a license table's file, else the root's
/// `LICEN[CS]E*`, `COPYING*` and `NOTICE*` ([`Project::license_files`]).
fn license_files(p: &Project) -> Vec<String> {
    let d = declared(p);
    match (d.license_files_key, d.license_table_file) {
        (false, Some(f)) => vec![f],
        _ => p.license_files.clone(),
    }
}

/// pdm-backend's files, tag and license files.
pub(super) fn plan(
    job: &Job<'_>,
    project: &Project,
    src: &SourceFiles<'_>,
) -> Result<WheelPlan, PythonError> {
    let tag = tag(project).map_err(|r| recipe_err(job, "project.requires-python", "", r))?;
    let tag = WheelTag::parse(&tag).map_err(|r| recipe_err(job, "wheel.tag", &tag, r))?;
    let entries = select(src.paths(), &Layout::of(&project.pyproject))
        .into_iter()
        .map(|(from, to)| Ok((to, src.file(&from)?)))
        .collect::<Result<Vec<_>, PythonError>>()?;
    let licenses = license_files(project)
        .into_iter()
        .map(|l| Ok((l.clone(), src.file(&l)?)))
        .collect::<Result<Vec<_>, PythonError>>()?;
    Ok(WheelPlan {
        emulation: Emulation::PdmBackend,
        tag,
        entries,
        licenses,
    })
}

/// Write the wheel as `build_artifact` does: every file (payload and
/// `.dist-info`) sorted by path, `RECORD` last; returns its file name.
pub(super) fn write<W: Write>(
    project: &Project,
    plan: &WheelPlan,
    source_date_epoch: i64,
    out: W,
) -> Result<String, PythonError> {
    let stem = project.dist_stem();
    let tag = plan.tag.to_string();
    let file_name = format!("{stem}-{tag}.whl");
    let dist_info = format!("{stem}.dist-info");
    let meta = core_metadata(project)
        .map_err(|r| PythonError::field("pyproject.toml", "project", "", r))?;
    let mut files: Vec<(String, std::sync::Arc<[u8]>, u32)> = Vec::new();
    for (path, f) in &plan.entries {
        files.push((path.clone(), f.read()?, mode(f)));
    }
    for (name, text) in [
        ("METADATA", meta),
        ("WHEEL", wheel_file(&tag)),
        ("entry_points.txt", entry_points(project)),
    ] {
        files.push((
            format!("{dist_info}/{name}"),
            text.into_bytes().into(),
            0o644,
        ));
    }
    for (rel, f) in &plan.licenses {
        files.push((format!("{dist_info}/licenses/{rel}"), f.read()?, 0o644));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);
    let mut zip = ZipWriter::new(out, source_date_epoch.max(0) as u64).with_deflate(super::DEFLATE);
    let mut record = String::new();
    for (path, data, mode) in &files {
        zip.append_file(path, *mode, data)?;
        let _ = writeln!(
            record,
            "{},{},{}",
            csv_field(path),
            record_hash(data),
            data.len()
        );
    }
    let record_path = format!("{dist_info}/RECORD");
    let _ = writeln!(record, "{},,", csv_field(&record_path));
    zip.append_file(&record_path, 0o644, record.as_bytes())?;
    let mut w = zip.finish()?;
    w.flush().map_err(|e| PythonError::Io {
        path: file_name.clone().into(),
        source: e,
    })?;
    Ok(file_name)
}

fn mode(f: &DiskFile) -> u32 {
    if f.executable {
        0o755
    } else {
        0o644
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_fold_as_rfc822_policy_does() {
        let mut s = String::new();
        header(&mut s, "License", "MIT\r\n\nx\n");
        assert_eq!(s, "License: MIT\n         \n         x\n         \n");
        assert_eq!(split_eol("a\r\n\rb"), vec!["a", "b"]);
    }

    /// Spellings of `packaging` 26.3 as pdm-backend 2.5 vendors it.
    #[test]
    fn requirements_as_packaging_spells_them() {
        for (text, want) in [
            ("Requests >= 2.8, <3", "Requests<3,>=2.8"),
            ("Foo_Bar[b, Fast_IO] (>=1.0)", "Foo_Bar[Fast_IO,b]>=1.0"),
            (
                "attrs; python_version < \"3.10\" and (os_name == 'nt' or sys.platform == 'linux')",
                "attrs; python_version < \"3.10\" and (os_name == \"nt\" or sys_platform == \"linux\")",
            ),
        ] {
            assert_eq!(requirement(text).as_deref(), Ok(want), "{text}");
        }
        assert_eq!(
            extra_requirement("x; os_name == 'nt' or os_name == 'posix'", "a__b").as_deref(),
            Ok("x; (os_name == \"nt\" or os_name == \"posix\") and extra == \"a-b\"")
        );
        assert!(requirement("x @ https://e.org/x.whl").is_err());
        assert!(requirement("x>=${V}").is_err());
    }

    #[test]
    fn default_selection() {
        let paths = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let default = Layout::of("");
        let got = select(
            &paths(&[
                "README.md",
                "src/a/__init__.py",
                "src/a/x.pyc",
                "src/a/sub/b.py",
                "src/top.py",
                "tests/test_a.py",
            ]),
            &default,
        );
        assert_eq!(
            got,
            vec![
                ("src/a/__init__.py".into(), "a/__init__.py".into()),
                ("src/a/sub/b.py".into(), "a/sub/b.py".into()),
            ]
        );
        let got = select(
            &paths(&["mod.py", "setup.py", ".hidden.py", "tests/__init__.py"]),
            &default,
        );
        assert_eq!(
            got,
            vec![
                ("mod.py".into(), "mod.py".into()),
                ("setup.py".into(), "setup.py".into())
            ]
        );
        let layout = Layout::of(
            "[tool.pdm.build]\npackage-dir = \"lib/\"\nsource-includes = [\"lib/a/docs/\"]\nexcludes = [\"./lib/a/x.py\"]\n",
        );
        let got = select(
            &paths(&[
                "lib/a/__init__.py",
                "lib/a/docs/d.md",
                "lib/a/x.py",
                "lib/a/y.py",
                "tests/__init__.py",
            ]),
            &layout,
        );
        assert_eq!(
            got,
            vec![
                ("lib/a/__init__.py".into(), "a/__init__.py".into()),
                ("lib/a/y.py".into(), "a/y.py".into()),
            ]
        );
    }
}
