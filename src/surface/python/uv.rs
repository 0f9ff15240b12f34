//! uv_build [`super::emulation::UV_BUILD_VERSION`]'s wheel, written as its sources write it
//! (`crates/uv-build-backend`: `metadata.rs` `PyProjectToml::to_metadata`,
//! `license_metadata`, `to_entry_points`; `lib.rs` `find_roots`,
//! `compare_build_entries`; `wheel.rs` `write_wheel`, `write_dist_info`,
//! `WheelInfo`; `uv-pypi-types` `Metadata23::core_metadata_format`), for
//! the configurations [`super::uv_coverage::coverage`] accepts: the module (or modules) below
//! `module-root`, walked in uv_build's order without `__pycache__`/`*.pyc`,
//! then `.dist-info/licenses/`, then `WHEEL`, `entry_points.txt`,
//! `METADATA` and `RECORD`.

use std::fmt::Write as _;

use super::emulation::Emulation;
use super::files::SourceFiles;
use super::names::{file_component, WheelTag};
use super::project::{Contact, License, Project};
use super::wheel_plan::{recipe_err, WheelPlan};
use super::PythonError;
use crate::surface::Job;

/// `write_str` of `Metadata23::core_metadata_format`: the first line after
/// the key, the others indented by the key's width and two.
fn field(s: &mut String, key: &str, value: &str) {
    let mut lines = value.lines();
    let _ = writeln!(s, "{key}: {}", lines.next().unwrap_or(""));
    for l in lines {
        let _ = writeln!(s, "{}{l}", " ".repeat(key.len() + 2));
    }
}

/// (`Author`, `Author-email`): names, then `name <email>` or the email,
/// each joined with `, ` and left out when empty.
fn people(list: &[Contact]) -> (Option<String>, Option<String>) {
    let names: Vec<&str> = list.iter().filter_map(|c| c.name.as_deref()).collect();
    let emails: Vec<String> = list
        .iter()
        .filter_map(|c| match (&c.name, &c.email) {
            (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
            (None, Some(e)) => Some(e.clone()),
            _ => None,
        })
        .collect();
    let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join(", "));
    (
        join(names.into_iter().map(str::to_string).collect()),
        join(emails),
    )
}

/// The (stamped) `pyproject.toml`, parsed.
fn declared(p: &Project) -> Option<toml_edit::DocumentMut> {
    p.pyproject.parse().ok()
}

/// `METADATA`, field for field as `core_metadata_format` writes it:
/// 2.4 with PEP 639 license declarations, 2.3 otherwise.
pub(super) fn core_metadata(p: &Project) -> String {
    let doc = declared(p);
    let project = doc.as_ref().and_then(|d| d.get("project"));
    let has = |k: &str| project.and_then(|t| t.get(k)).is_some();
    let pep639 = has("license-files") || matches!(p.license, License::Expression(_));
    let mut s = String::new();
    field(
        &mut s,
        "Metadata-Version",
        if pep639 { "2.4" } else { "2.3" },
    );
    field(&mut s, "Name", &p.name);
    field(&mut s, "Version", &p.version);
    if let Some(d) = &p.summary {
        field(&mut s, "Summary", d);
    }
    if has("keywords") {
        field(&mut s, "Keywords", &p.keywords.join(","));
    }
    let (author, author_email) = people(&p.authors);
    let (maintainer, maintainer_email) = people(&p.maintainers);
    for (k, v) in [("Author", author), ("Author-email", author_email)] {
        if let Some(v) = v {
            field(&mut s, k, &v);
        }
    }
    match &p.license {
        License::Text(t) => field(&mut s, "License", t),
        License::Expression(e) => field(&mut s, "License-Expression", e),
        License::None => {}
    }
    for f in &p.license_files {
        field(&mut s, "License-File", f);
    }
    for c in &p.classifiers {
        field(&mut s, "Classifier", c);
    }
    let extras = p.extras.iter().flat_map(|(_, reqs)| reqs);
    for r in p.dependencies.iter().chain(extras) {
        field(&mut s, "Requires-Dist", r);
    }
    for (k, v) in [
        ("Maintainer", maintainer),
        ("Maintainer-email", maintainer_email),
        ("Requires-Python", p.requires_python.clone()),
    ] {
        if let Some(v) = v {
            field(&mut s, k, &v);
        }
    }
    for (label, url) in &p.urls {
        field(&mut s, "Project-URL", &format!("{label}, {url}"));
    }
    for (extra, _) in &p.extras {
        field(&mut s, "Provides-Extra", extra);
    }
    if let Some(r) = &p.readme {
        field(&mut s, "Description-Content-Type", &r.content_type);
        s.push('\n');
        s.push_str(&r.text);
    }
    s
}

/// `entry_points.txt` as `to_entry_points` writes it: scripts, GUI
/// scripts, then the other groups sorted; names sorted; `name = ref`; a
/// blank line after each group.
pub(super) fn entry_points(p: &Project) -> Option<String> {
    if p.entry_points.is_empty() {
        return None;
    }
    let rank = |g: &str| match g {
        "console_scripts" => 0,
        "gui_scripts" => 1,
        _ => 2,
    };
    let mut groups: Vec<&(String, Vec<(String, String)>)> = p.entry_points.iter().collect();
    groups.sort_by(|a, b| (rank(&a.0), &a.0).cmp(&(rank(&b.0), &b.0)));
    let mut s = String::new();
    for (group, entries) in groups {
        let _ = writeln!(s, "[{group}]");
        let mut entries: Vec<&(String, String)> = entries.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in entries {
            let _ = writeln!(s, "{name} = {value}");
        }
        s.push('\n');
    }
    Some(s)
}

/// The `WHEEL` file, with kiln as its `Generator` (uv_build writes
/// `uv <version>`; kiln does not claim to be uv).
pub(super) fn wheel_file() -> String {
    format!(
        "Wheel-Version: 1.0\nGenerator: kiln {}\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        env!("CARGO_PKG_VERSION"),
    )
}

/// A relative path without empty or `.` components (`normalize_path`).
fn normalise(path: &str) -> String {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// `find_roots`: the module root and the modules below it (each as a
/// `/`-separated path): `module-name` (a list sorted, without repeats or
/// modules inside another), else the project name as a dist-info name.
fn roots(p: &Project) -> (String, Vec<String>) {
    let doc = declared(p);
    let settings = doc
        .as_ref()
        .and_then(|d| d.get("tool")?.get("uv")?.get("build-backend"));
    let root = settings
        .and_then(|s| s.get("module-root"))
        .and_then(|r| r.as_str())
        .unwrap_or("src");
    let names: Vec<String> = match settings.and_then(|s| s.get("module-name")) {
        Some(n) => match n.as_array() {
            Some(a) => {
                let mut names: Vec<String> = a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                names.sort();
                let mut pruned: Vec<String> = Vec::new();
                for n in names {
                    let inside = pruned.last().is_some_and(|last| {
                        n == *last
                            || n.strip_prefix(last.as_str())
                                .is_some_and(|r| r.starts_with('.'))
                    });
                    if !inside {
                        pruned.push(n);
                    }
                }
                pruned
            }
            None => n.as_str().map(str::to_string).into_iter().collect(),
        },
        None => vec![file_component(&p.name)],
    };
    let modules = names.iter().map(|n| n.replace('.', "/")).collect();
    (normalise(root), modules)
}

/// `DEFAULT_EXCLUDES` (`__pycache__`, `*.pyc`, `*.pyo`, unanchored).
fn excluded(rel: &str) -> bool {
    rel.split('/')
        .any(|c| c == "__pycache__" || c.ends_with(".pyc") || c.ends_with(".pyo"))
}

/// The wheel's files in uv_build's order: each module's files walked by
/// file name directory by directory, then the license files below
/// `.dist-info/licenses/`.
pub(crate) fn plan(
    job: &Job<'_>,
    project: &Project,
    src: &SourceFiles<'_>,
) -> Result<WheelPlan, PythonError> {
    let (root, modules) = roots(project);
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            format!("{a}/{b}")
        }
    };
    let mut entries = Vec::new();
    for module in &modules {
        let dir = join(&root, module);
        let init = format!("{dir}/__init__.py");
        if !src.contains(&init) {
            return Err(recipe_err(
                job,
                "tool.uv.build-backend.module-name",
                module,
                format!("uv_build expects a Python module at {init}, which is not among the selected files"),
            ));
        }
        let parents: Vec<&str> = module
            .rmatch_indices('/')
            .map(|(i, _)| &module[..i])
            .collect();
        for parent in parents {
            let at = join(&root, parent);
            if src.contains(&format!("{at}/__init__.py"))
                || src.contains(&format!("{at}/__init__.pyi"))
            {
                return Err(recipe_err(
                    job,
                    "tool.uv.build-backend.module-name",
                    module,
                    format!(
                        "{at} has an __init__.py, so it is not a namespace (uv_build refuses this)"
                    ),
                ));
            }
        }
        let mut files: Vec<&String> = src
            .paths()
            .iter()
            .filter(|p| p.strip_prefix(&dir).is_some_and(|r| r.starts_with('/')) && !excluded(p))
            .collect();
        // walkdir sorted by file name: component by component.
        files.sort_by(|a, b| a.split('/').cmp(b.split('/')));
        for f in files {
            let archive = if root.is_empty() {
                f.clone()
            } else {
                f[root.len() + 1..].to_string()
            };
            entries.push((archive, src.file(f)?));
        }
    }
    let tag = WheelTag::pure();
    let licenses_dir = format!("{}.dist-info/licenses", project.dist_stem());
    for l in &project.license_files {
        entries.push((format!("{licenses_dir}/{l}"), src.file(l)?));
    }
    Ok(WheelPlan {
        emulation: Emulation::UvBuild,
        tag,
        entries,
        licenses: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::uv_coverage::requires_allows;
    use super::*;

    fn doc(extra: &str, requires: &str) -> toml_edit::DocumentMut {
        format!("[build-system]\nrequires = [{requires}]\nbuild-backend = \"uv_build\"\n[project]\nname = \"x\"\nversion = \"1.0\"\n{extra}")
            .parse()
            .unwrap()
    }

    #[test]
    fn requirements_uv_builds_alike() {
        for ok in [
            "\"uv_build>=0.13.6,<0.14\"",
            "\"uv_build\"",
            "\"uv-build>=0.9.5,<0.10.0\"",
            "\"uv_build>=0.12,<0.13\"",
        ] {
            requires_allows(&doc("", ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "\"uv_build>=0.8,<0.9\"",
            "\"uv_build==0.13.5\"",
            "\"uv_build\", \"x\"",
            "\"hatchling\"",
        ] {
            assert!(requires_allows(&doc("", bad)).is_err(), "{bad}");
        }
    }

    /// `auto` and `native` through [`super::super::choice::choose`]: native
    /// for the covered configuration, the backend (native: refused) with
    /// the reason otherwise.
    #[test]
    fn uv_build_is_native_only_for_covered_configurations() {
        use super::super::choice::{choose, Emulation, Mode};
        use crate::recipe::schema::PythonBackend;
        use crate::recipe::Surface;
        let base = doc("", "\"uv_build>=0.13.6,<0.14\"").to_string();
        let c = choose(PythonBackend::Auto, Surface::Wheel, Some(&base)).unwrap();
        assert_eq!(c.mode, Mode::Native(Emulation::UvBuild), "{}", c.reason);
        for (text, surface, why) in [
            (base.clone(), Surface::Sdist, "sdists"),
            (
                base.replace("0.13.6,<0.14", "0.8,<0.9"),
                Surface::Wheel,
                "does not allow uv_build 0.13.6",
            ),
            (
                base.replace("version = \"1.0\"", "dynamic = [\"version\"]"),
                Surface::Wheel,
                "project.dynamic",
            ),
            (
                format!("{base}[tool.uv.build-backend]\nnamespace = true\n"),
                Surface::Wheel,
                "key `namespace`",
            ),
            (
                format!("{base}[project.entry-points.my-group]\na = \"b\"\n"),
                Surface::Wheel,
                "entry-points.my-group",
            ),
            (
                format!("{base}readme = \"README.MD\"\n"),
                Surface::Wheel,
                "README.MD",
            ),
        ] {
            let c = choose(PythonBackend::Auto, surface, Some(&text)).unwrap();
            assert!(c.is_backend(), "{text}");
            assert!(c.reason.contains(why), "{why}: {}", c.reason);
            assert!(choose(PythonBackend::Native, surface, Some(&text)).is_err());
        }
    }

    #[test]
    fn continuation_lines_as_core_metadata_format() {
        let mut s = String::new();
        field(&mut s, "License", "a\r\n\nb\n");
        field(&mut s, "Summary", "");
        assert_eq!(s, "License: a\n         \n         b\nSummary: \n");
    }

    #[test]
    fn walk_order_is_by_component() {
        let mut v = vec!["p/sub.py", "p/sub/x.py", "p/Data.json", "p/__init__.py"];
        v.sort_by(|a, b| a.split('/').cmp(b.split('/')));
        assert_eq!(
            v,
            ["p/Data.json", "p/__init__.py", "p/sub/x.py", "p/sub.py"]
        );
        assert!(excluded("src/p/__pycache__/x.cpython-311.pyc"));
        assert!(excluded("src/p/x.pyo"));
        assert!(!excluded("src/p/pyc.py"));
    }
}
