//! Which pdm-backend configurations kiln writes exactly
//! ([`super::choice::Emulation::PdmBackend`]), and why the others are not:
//! wheels of static `[project]` metadata (the version may be dynamic:
//! kiln stamps the release version, and pdm-backend's version hook then
//! keeps it), package discovery as pdm-backend's default (with
//! `[tool.pdm.build]` only a plain `package-dir`, `source-includes` and
//! `excludes`), no local build hook (`pdm_build.py`), pdm-backend 2.5 allowed by
//! `build-system.requires`.

use crate::recipe::Surface;

/// Keys of `[tool.pdm.build]` kiln writes as pdm-backend does for a wheel
/// (`editable-backend` only concerns editable wheels).
const BUILD_KEYS: &[&str] = &[
    "package-dir",
    "source-includes",
    "excludes",
    "editable-backend",
];

/// A path kiln globs as `glob.iglob` does: a literal one (no `*?[`),
/// relative, without `.`/`..` or empty components (a leading `./` and a
/// trailing `/` aside).
fn literal_path(key: &str, path: &str) -> Result<(), String> {
    let n = normpath(path);
    let bad = path.contains(['*', '?', '[', '\\'])
        || path.starts_with('/')
        || n.is_empty()
        || n.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(format!(
            "[tool.pdm.build] {key} `{path}` is not a plain relative path (kiln does not expand pdm-backend's globs)"
        ));
    }
    Ok(())
}

/// `[tool.pdm.build]`: a plain `package-dir`, plain `source-includes` and
/// `excludes`. (`[tool.pdm.version]` is not read: kiln stamps the release
/// version into `project.version`, and pdm-backend's version hook then
/// keeps it without reading its source or writing a version file.)
fn tool_pdm(doc: &toml_edit::DocumentMut) -> Result<(), String> {
    let Some(build) = doc
        .get("tool")
        .and_then(|t| t.get("pdm"))
        .and_then(|p| p.get("build"))
    else {
        return Ok(());
    };
    let build = build
        .as_table_like()
        .ok_or("[tool.pdm.build] is not a table")?;
    if let Some((k, _)) = build.iter().find(|(k, _)| !BUILD_KEYS.contains(k)) {
        return Err(format!(
            "[tool.pdm.build] key `{k}` is a configuration kiln does not write"
        ));
    }
    if let Some(d) = build.get("package-dir") {
        let d = d
            .as_str()
            .ok_or("[tool.pdm.build] package-dir is not a string")?;
        if !d.is_empty() {
            literal_path("package-dir", d)?;
        }
    }
    for key in ["source-includes", "excludes"] {
        let Some(v) = build.get(key) else {
            continue;
        };
        let list = v
            .as_array()
            .ok_or_else(|| format!("[tool.pdm.build] {key} is not an array"))?;
        for p in list.iter() {
            let p = p
                .as_str()
                .ok_or_else(|| format!("[tool.pdm.build] {key} holds a non-string"))?;
            literal_path(key, p)?;
        }
    }
    Ok(())
}

/// `[project]` fields pdm-backend writes otherwise than kiln reads them.
fn project(project: &dyn toml_edit::TableLike) -> Result<(), String> {
    let other = super::emulation::dynamic_besides_version(project);
    if !other.is_empty() {
        return Err(format!(
            "project.dynamic lists {} (a pdm-backend hook computes them)",
            other.join(", ")
        ));
    }
    for key in ["import-names", "import-namespaces"] {
        if project.get(key).is_some() {
            return Err(format!("project.{key} is a field kiln does not write"));
        }
    }
    let description = project.get("description").and_then(|d| d.as_str());
    if description.is_some_and(|d| d.contains(['\n', '\r'])) {
        return Err("project.description has a line break (pdm-backend folds it)".into());
    }
    readme(project.get("readme"))?;
    let license = project.get("license");
    if license.is_some_and(|l| l.is_str()) {
        let classifiers = project.get("classifiers").and_then(|c| c.as_array());
        if classifiers.is_some_and(|c| {
            c.iter()
                .filter_map(|v| v.as_str())
                .any(|c| c.starts_with("License ::"))
        }) {
            return Err(
                "project.license is an SPDX expression beside `License ::` classifiers (pdm-backend refuses it)"
                    .into(),
            );
        }
    }
    let deps = project.get("dependencies").and_then(|d| d.as_array());
    let optional = project
        .get("optional-dependencies")
        .and_then(|o| o.as_table_like());
    let all = deps.into_iter().flat_map(|a| a.iter()).chain(
        optional
            .into_iter()
            .flat_map(|t| t.iter())
            .filter_map(|(_, v)| v.as_array())
            .flat_map(|a| a.iter()),
    );
    for dep in all.filter_map(|v| v.as_str()) {
        requirement(dep)?;
    }
    Ok(())
}

/// A readme pdm-backend takes as kiln does: a `.md`/`.rst` path, or a
/// table of `file`/`text` and a markdown, reST or plain `content-type`.
fn readme(readme: Option<&toml_edit::Item>) -> Result<(), String> {
    let Some(r) = readme else {
        return Ok(());
    };
    if let Some(path) = r.as_str() {
        if !(path.ends_with(".md") || path.ends_with(".rst")) {
            return Err(format!(
                "project.readme `{path}` has neither `.md` nor `.rst` (pdm-backend refuses it)"
            ));
        }
        return Ok(());
    }
    let table = r
        .as_table_like()
        .ok_or("project.readme is neither a path nor a table")?;
    if let Some((k, _)) = table
        .iter()
        .find(|(k, _)| !["file", "text", "content-type"].contains(k))
    {
        return Err(format!(
            "project.readme key `{k}` is one pdm-backend refuses"
        ));
    }
    let content_type = table
        .get("content-type")
        .and_then(|c| c.as_str())
        .unwrap_or("");
    let base = content_type.split(';').next().unwrap_or("").trim();
    if !["text/markdown", "text/x-rst", "text/plain"].contains(&base) {
        return Err(format!(
            "project.readme content-type `{content_type}` is not markdown, reST or plain text"
        ));
    }
    Ok(())
}

/// The pdm-backend configurations kiln writes exactly (wheels).
pub(super) fn coverage(surface: Surface, doc: &toml_edit::DocumentMut) -> Result<(), String> {
    if surface != Surface::Wheel {
        return Err("kiln does not write pdm-backend's sdists (only its wheels)".into());
    }
    if !super::emulation::build_requires_admit(
        doc,
        "pdm-backend",
        super::emulation::PDM_BACKEND_VERSION,
    ) {
        return Err(format!(
            "build-system.requires does not allow pdm-backend {}, the version kiln writes like",
            super::emulation::PDM_BACKEND_VERSION
        ));
    }
    let Some(p) = doc.get("project").and_then(|p| p.as_table_like()) else {
        return Err("pdm-backend needs a [project] table".into());
    };
    tool_pdm(doc)?;
    project(p)
}

/// The local build hook pdm-backend runs when the project has one.
pub(crate) const HOOK_FILE: &str = "pdm_build.py";

/// `os.path.normpath` of a literal path this module accepts:
/// without a leading `./` and a trailing `/`.
pub(super) fn normpath(path: &str) -> &str {
    let p = path.strip_prefix("./").unwrap_or(path);
    p.strip_suffix('/').unwrap_or(p)
}

/// `str(packaging.requirements.Requirement(text))` (packaging 26): the
/// name as written, the extras sorted, the specifiers sorted, the marker
/// as `Marker` spells it. A direct reference (`name @ url`) and a
/// `${VAR}` (which pdm-backend expands from the environment) are refused.
pub(super) fn requirement(text: &str) -> Result<String, String> {
    if text.contains('$') {
        return Err(format!(
            "dependency `{text}` holds `$`, which pdm-backend expands from the environment"
        ));
    }
    super::hatch_requirements::packaging_requirement(text, false)
}

#[cfg(test)]
mod tests {
    use super::super::choice::{with_hook_file, Choice, Mode};
    use super::super::emulation::Emulation;
    use super::*;
    use crate::recipe::schema::PythonBackend;

    const PDM: &str = "[build-system]\nrequires = [\"pdm-backend>=2.1\"]\nbuild-backend = \"pdm.backend\"\n[project]\nname = \"x\"\ndynamic = [\"version\"]\ndependencies = [\"a>=1; python_version < '3.9'\"]\n[tool.pdm.version]\nsource = \"file\"\npath = \"x/__init__.py\"\n";

    fn choose(text: &str) -> Choice {
        super::super::choice::choose(PythonBackend::Auto, Surface::Wheel, Some(text)).unwrap()
    }

    #[test]
    fn pdm_backend_is_native_only_for_covered_configurations() {
        let c = choose(PDM);
        assert_eq!(c.mode, Mode::Native(Emulation::PdmBackend), "{}", c.reason);
        assert_eq!(c.label(), "native:pdm-backend-2.5.0");
        let scm = PDM.replace(
            "source = \"file\"\npath = \"x/__init__.py\"",
            "source = \"scm\"",
        );
        assert_eq!(choose(&scm).mode, Mode::Native(Emulation::PdmBackend));
        for (text, why) in [
            (PDM.replace(">=2.1", "<2.4"), "does not allow pdm-backend 2.5.0"),
            (
                PDM.replace("[\"version\"]", "[\"version\", \"readme\"]"),
                "project.dynamic lists readme",
            ),
            (
                format!("{PDM}[tool.pdm.build]\nincludes = [\"x\"]\n"),
                "[tool.pdm.build] key `includes`",
            ),
            (
                format!("{PDM}[tool.pdm.build]\nsource-includes = [\"docs/*.md\"]\n"),
                "source-includes `docs/*.md` is not a plain relative path",
            ),
            (
                format!("{PDM}[tool.pdm.build]\nrun-setuptools = true\n"),
                "key `run-setuptools`",
            ),
            (PDM.replace("a>=1;", "a @ https://e.org/a.whl ;"), "direct reference"),
            (PDM.replace("a>=1;", "a>=${V};"), "`$`"),
            (
                PDM.replace("name = \"x\"", "name = \"x\"\nreadme = \"README.txt\""),
                "`.rst`",
            ),
            (
                PDM.replace(
                    "name = \"x\"",
                    "name = \"x\"\nlicense = \"MIT\"\nclassifiers = [\"License :: OSI Approved :: MIT License\"]",
                ),
                "classifiers",
            ),
            (
                PDM.replace("name = \"x\"", "name = \"x\"\nlicense = \"mit\""),
                "`mit`",
            ),
        ] {
            let c = choose(&text);
            assert!(c.is_backend(), "{text}");
            assert!(c.reason.contains(why), "{why}: {}", c.reason);
        }
        let sdist =
            super::super::choice::choose(PythonBackend::Auto, Surface::Sdist, Some(PDM)).unwrap();
        assert!(sdist.reason.contains("sdists"), "{}", sdist.reason);
    }

    #[test]
    fn a_hook_file_is_not_covered() {
        let c = choose(PDM);
        let auto = with_hook_file(c.clone(), PythonBackend::Auto, true).unwrap();
        assert!(auto.is_backend());
        assert!(auto.reason.contains("pdm_build.py"), "{}", auto.reason);
        assert!(with_hook_file(c.clone(), PythonBackend::Native, true).is_err());
        assert_eq!(with_hook_file(c.clone(), PythonBackend::Auto, false), Ok(c));
    }
}
