//! Whether kiln writes a project's wheel exactly as uv_build
//! [`UV_BUILD_VERSION`] does ([`coverage`]), and why not otherwise: the
//! build requirement, `[tool.uv.build-backend]` and `[project]` keys. Reads
//! `pyproject.toml` only (the writer is `super::uv`).

use std::str::FromStr;

use super::emulation::UV_BUILD_VERSION;

/// Releases uv itself builds as [`UV_BUILD_VERSION`] does
/// (`uv-build-backend` `COMPATIBLE_VERSIONS`: "no breaking changes were
/// introduced to the uv build backend since these releases").
const COMPATIBLE_VERSIONS: &[&str] = &["0.9.30", "0.10.12", "0.11.33", "0.12.24"];

/// `[tool.uv.build-backend]` keys kiln writes as uv_build does
/// (`source-include` changes only the sdist).
const SETTINGS: &[&str] = &["module-root", "module-name", "source-include"];

/// Whether `build-system.requires` is one `uv_build` requirement admitting
/// [`UV_BUILD_VERSION`] or a release uv builds alike (`check_direct_build`).
pub(super) fn requires_allows(doc: &toml_edit::DocumentMut) -> Result<(), String> {
    use pep508_rs::pep440_rs::Version;
    let requires: Vec<&str> = doc
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let refused = || {
        format!(
            "build-system.requires does not allow uv_build {UV_BUILD_VERSION} (or {}, which uv builds alike), the version kiln writes like",
            COMPATIBLE_VERSIONS.join(", ")
        )
    };
    let [one] = requires[..] else {
        return Err(format!(
            "build-system.requires lists {} requirements (uv_build's own, alone, is what kiln writes like)",
            requires.len()
        ));
    };
    let req =
        pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(one).map_err(|_| refused())?;
    if req.name.as_ref() != "uv-build" {
        return Err(refused());
    }
    match &req.version_or_url {
        None => Ok(()),
        Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) => {
            let admitted = COMPATIBLE_VERSIONS
                .iter()
                .chain([&UV_BUILD_VERSION])
                .any(|v| s.contains(&Version::from_str(v).expect("version")));
            admitted.then_some(()).ok_or_else(refused)
        }
        Some(pep508_rs::VersionOrUrl::Url(_)) => Err(refused()),
    }
}

/// `[tool.uv.build-backend]`: only [`SETTINGS`], a module root inside the
/// project, no namespace.
fn settings(doc: &toml_edit::DocumentMut) -> Result<(), String> {
    let Some(settings) = doc
        .get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("build-backend"))
    else {
        return Ok(());
    };
    let Some(settings) = settings.as_table_like() else {
        return Err("[tool.uv.build-backend] is not a table".into());
    };
    if let Some((k, _)) = settings.iter().find(|(k, _)| !SETTINGS.contains(k)) {
        return Err(format!(
            "[tool.uv.build-backend] key `{k}` is a configuration kiln does not write"
        ));
    }
    if let Some(root) = settings.get("module-root") {
        let ok = root
            .as_str()
            .is_some_and(|r| !r.starts_with('/') && r.split('/').all(|c| c != ".."));
        if !ok {
            return Err("tool.uv.build-backend.module-root is not a path below the project".into());
        }
    }
    if let Some(name) = settings.get("module-name") {
        let names: Vec<&str> = match name.as_array() {
            Some(a) => a.iter().filter_map(|v| v.as_str()).collect(),
            None => name.as_str().into_iter().collect(),
        };
        if names.is_empty() || names.iter().any(|n| n.contains("-stubs")) {
            return Err(
                "tool.uv.build-backend.module-name names no module, or a stubs package".into(),
            );
        }
    }
    Ok(())
}

/// The `[project]` configurations kiln writes as uv_build does: static
/// (uv_build refuses `dynamic`), no `import-names`, readme content types
/// uv_build accepts, no empty entry point table, group names uv_build
/// accepts.
fn project(doc: &toml_edit::DocumentMut) -> Result<(), String> {
    let Some(project) = doc.get("project").and_then(|p| p.as_table_like()) else {
        return Err("uv_build needs a [project] table".into());
    };
    if let Some((k, _)) = project
        .iter()
        .find(|(k, _)| !super::emulation::STATIC_PROJECT_KEYS.contains(k))
    {
        return Err(format!(
            "project.{k} is a key kiln does not write as uv_build does (uv_build refuses `dynamic`)"
        ));
    }
    if project
        .get("name")
        .and_then(|n| n.as_str())
        .is_some_and(|n| n.ends_with("-stubs"))
    {
        return Err("project.name ends in `-stubs` (uv_build's stubs packages)".into());
    }
    if let Some(path) = project.get("readme").and_then(|r| r.as_str()) {
        let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        if !["md", "rst", "txt"].contains(&ext) {
            return Err(format!(
                "project.readme `{path}` has no extension uv_build reads (.md, .rst, .txt, in lower case)"
            ));
        }
    }
    let long_label = project
        .get("urls")
        .and_then(|u| u.as_table_like())
        .and_then(|u| {
            u.iter()
                .find(|(k, _)| k.len() > 32)
                .map(|(k, _)| k.to_string())
        });
    if let Some(label) = long_label {
        return Err(format!(
            "project.urls label `{label}` is longer than 32 characters (kiln refuses it, uv_build writes it)"
        ));
    }
    if let Some(readme) = project.get("readme").and_then(|r| r.as_table_like()) {
        let ct = readme
            .get("content-type")
            .and_then(|c| c.as_str())
            .unwrap_or("");
        let charset = readme.get("charset").and_then(|c| c.as_str());
        if !["text/plain", "text/x-rst", "text/markdown"].contains(&ct)
            || charset.is_some_and(|c| c != "UTF-8")
        {
            return Err(format!(
                "project.readme content-type `{ct}` or its charset is one uv_build refuses"
            ));
        }
    }
    for key in ["scripts", "gui-scripts"] {
        if let Some(t) = project.get(key).and_then(|t| t.as_table_like()) {
            if t.is_empty() {
                return Err(format!("project.{key} is an empty table"));
            }
        }
    }
    if let Some(groups) = project.get("entry-points").and_then(|t| t.as_table_like()) {
        let bad = groups.iter().find(|(g, t)| {
            t.as_table_like().is_none_or(|t| t.is_empty())
                || !g
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '_')
        });
        if groups.is_empty() || bad.is_some() {
            return Err(format!(
                "project.entry-points{} is empty or has a group name uv_build refuses",
                bad.map(|(g, _)| format!(".{g}")).unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// Whether kiln writes this project's wheel exactly as uv_build
/// [`UV_BUILD_VERSION`] does, and why not.
pub(crate) fn coverage(
    surface: crate::recipe::Surface,
    doc: &toml_edit::DocumentMut,
) -> Result<(), String> {
    if surface != crate::recipe::Surface::Wheel {
        return Err("kiln does not write uv_build's sdists (only its wheels)".into());
    }
    requires_allows(doc)?;
    settings(doc)?;
    project(doc)
}
