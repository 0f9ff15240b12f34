//! hatchling 1.33's wheel: which files go into it, in the order hatchling
//! adds them, for the configurations [`super::hatch_coverage`] accepts (`hatchling/builders/wheel.py`
//! `default_file_selection_options`; `hatchling/builders/config.py`
//! `packages`, `sources`, `only_include`, `exclude_spec`,
//! `load_vcs_exclusion_patterns`, `default_global_exclude`;
//! `hatchling/builders/plugin/interface.py` `recurse_explicit_files`;
//! `hatchling/builders/constants.py`).

use super::files::SourceFiles;
use super::project::Project;

/// Directories hatchling never walks into (`EXCLUDED_DIRECTORIES`).
const EXCLUDED_DIRECTORIES: &[&str] = &[
    "__pycache__",
    ".venv",
    ".git",
    ".hg",
    ".hatch",
    ".tox",
    ".nox",
    ".ruff_cache",
    ".pytest_cache",
    ".mypy_cache",
    ".pixi",
];
/// Files hatchling never ships (`EXCLUDED_FILES`).
const EXCLUDED_FILES: &[&str] = &[".DS_Store", ".git"];

/// `[tool.hatch.build.targets.wheel] key`, else `[tool.hatch.build] key`:
/// an array of strings.
fn build_list(doc: &toml_edit::DocumentMut, key: &str) -> Vec<String> {
    let build = doc
        .get("tool")
        .and_then(|t| t.get("hatch"))
        .and_then(|h| h.get("build"));
    let target = build
        .and_then(|b| b.get("targets"))
        .and_then(|t| t.get("wheel"))
        .and_then(|w| w.get(key));
    target
        .or_else(|| build.and_then(|b| b.get(key)))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `normalize_relative_path`: no `./`, no trailing `/`.
fn normalise_path(p: &str) -> String {
    p.trim()
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// `default_file_selection_options`: the packages (or the one module
/// file) hatchling finds for the project name.
fn discovered(project: &Project, src: &SourceFiles<'_>) -> Result<Vec<String>, String> {
    let component = |n: &str| n.replace('-', "_");
    let names = [
        component(&project.name),
        component(&super::names::canonical(&project.name)),
    ];
    for n in &names {
        for probe in [format!("{n}/__init__.py"), format!("src/{n}/__init__.py")] {
            if src.contains(&probe) {
                return Ok(vec![probe.trim_end_matches("/__init__.py").to_string()]);
            }
        }
        if src.contains(&format!("{n}.py")) {
            return Ok(vec![format!("{n}.py")]);
        }
        let namespaces: Vec<&str> = src
            .paths()
            .iter()
            .filter_map(|p| {
                let mut parts = p.split('/');
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(d), Some(m), Some("__init__.py"), None)
                        if m == n && !d.starts_with('.') =>
                    {
                        Some(d)
                    }
                    _ => None,
                }
            })
            .collect();
        if let [one] = &namespaces[..] {
            return Ok(vec![one.to_string()]);
        }
    }
    Err(format!(
        "hatchling finds no package to ship for project {:?} ({}/, src/{}/ or {}.py); list them in [tool.hatch.build.targets.wheel] packages",
        project.name, names[1], names[1], names[1]
    ))
}

/// gitignore-style patterns as one matcher (`pathspec.GitIgnoreSpec`).
fn matcher(lines: &[String]) -> Result<ignore::gitignore::Gitignore, String> {
    let mut b = ignore::gitignore::GitignoreBuilder::new("");
    for l in lines {
        b.add_line(None, l)
            .map_err(|e| format!("pattern `{l}`: {e}"))?;
    }
    b.build().map_err(|e| e.to_string())
}

/// The files hatchling's walk sees: the selected files and the version
/// file hatch-vcs writes, with the exclusions.
struct Walk {
    paths: Vec<String>,
    exclude: ignore::gitignore::Gitignore,
    /// The version file: a build artifact, shipped where walked even when
    /// excluded (`path_is_build_artifact`).
    artifact: Option<String>,
}

impl Walk {
    /// Whether hatchling's walk of `dir` ("" the project) reaches `rel`
    /// (`EXCLUDED_DIRECTORIES`, `EXCLUDED_FILES`) and keeps it: an
    /// artifact, or `included` and not excluded.
    fn keeps(&self, dir: &str, rel: &str, included: bool) -> bool {
        let inner: Vec<&str> = rel[dir.len()..]
            .trim_start_matches('/')
            .split('/')
            .collect();
        let (name, dirs) = inner.split_last().expect("a file name");
        let reached = !dirs.iter().any(|d| EXCLUDED_DIRECTORIES.contains(d))
            && !EXCLUDED_FILES.contains(name);
        let kept = self.artifact.as_deref() == Some(rel)
            || included
                && !self
                    .exclude
                    .matched_path_or_any_parents(rel, false)
                    .is_ignore();
        reached && kept
    }

    /// Files below `dir` hatchling keeps, in its walk order.
    fn below(&self, dir: &str, include: Option<&ignore::gitignore::Gitignore>) -> Vec<&String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut files: Vec<&String> = self
            .paths
            .iter()
            .filter(|f| f.starts_with(&prefix))
            .filter(|f| {
                let included =
                    include.is_none_or(|i| i.matched_path_or_any_parents(f, false).is_ignore());
                self.keeps(dir, f, included)
            })
            .collect();
        files.sort_by(|a, b| walk_key(a).cmp(&walk_key(b)));
        files
    }
}

/// The exclusion patterns: `*.py[cdo]`, `/dist`, the project's
/// `.gitignore`, then `exclude`, as one gitignore-style matcher.
fn exclusions(
    doc: &toml_edit::DocumentMut,
    src: &SourceFiles<'_>,
) -> Result<ignore::gitignore::Gitignore, String> {
    let mut lines: Vec<String> = vec!["*.py[cdo]".into(), "/dist".into()];
    if src.contains(".gitignore") {
        let text = src.read_text(".gitignore").map_err(|e| e.to_string())?;
        lines.extend(text.lines().map(str::to_string));
    }
    lines.extend(build_list(doc, "exclude"));
    matcher(&lines)
}

/// The walk order of `os.walk` with sorted names: a directory's files
/// before its subdirectories.
fn walk_key(p: &str) -> Vec<(bool, &str)> {
    let parts: Vec<&str> = p.split('/').collect();
    let last = parts.len() - 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (i != last, c))
        .collect()
}

/// `[tool.hatch.build.hooks.vcs] version-file`, if hatch-vcs's hook is
/// configured.
pub(super) fn version_file(pyproject: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = pyproject.parse().ok()?;
    doc.get("tool")?
        .get("hatch")?
        .get("build")?
        .get("hooks")?
        .get("vcs")?
        .get("version-file")?
        .as_str()
        .map(normalise_path)
}

/// The wheel's payload: (path below the source, path in the wheel), in
/// the order hatchling writes them. The version file of hatch-vcs is
/// among them where hatchling's walk would find it.
pub(super) fn select(
    project: &Project,
    src: &SourceFiles<'_>,
) -> Result<Vec<(String, String)>, String> {
    let doc: toml_edit::DocumentMut = project
        .pyproject
        .parse()
        .map_err(|_| "pyproject.toml is not valid TOML".to_string())?;
    let artifact = version_file(&project.pyproject);
    let mut paths = src.paths().to_vec();
    if let Some(a) = artifact.as_ref().filter(|a| !src.contains(a)) {
        paths.push(a.clone());
    }
    let walk = Walk {
        paths,
        exclude: exclusions(&doc, src)?,
        artifact,
    };
    let mut packages: Vec<String> = build_list(&doc, "packages")
        .iter()
        .map(|p| normalise_path(p))
        .collect();
    let include = build_list(&doc, "include");
    if packages.is_empty() && !include.is_empty() {
        // `recurse_project_files`: the whole project, walked, each file
        // kept when `include` matches it.
        let include = matcher(&include)?;
        let files = walk.below("", Some(&include));
        return Ok(files.into_iter().map(|f| (f.clone(), f.clone())).collect());
    }
    if packages.is_empty() {
        packages = discovered(project, src)?;
    }
    packages.sort();
    let mut sources: Vec<String> = packages
        .iter()
        .filter_map(|p| p.rsplit_once('/').map(|(parent, _)| format!("{parent}/")))
        .collect();
    sources.sort();
    sources.dedup();
    let dist_path = |rel: &str| -> String {
        sources
            .iter()
            .find(|s| rel.starts_with(s.as_str()))
            .map_or_else(|| rel.to_string(), |s| rel[s.len()..].to_string())
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for p in &packages {
        if src.contains(p) {
            out.push((p.clone(), dist_path(p)));
            continue;
        }
        let below = walk.below(p, None);
        if below.is_empty() {
            return Err(format!(
                "package `{p}` is neither a selected file nor a directory with selected files"
            ));
        }
        out.extend(below.into_iter().map(|f| (f.clone(), dist_path(f))));
    }
    let mut seen: Vec<&str> = out.iter().map(|(_, d)| d.as_str()).collect();
    seen.sort_unstable();
    if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!(
            "two packages place `{}` (hatchling refuses it)",
            w[0]
        ));
    }
    Ok(out)
}
