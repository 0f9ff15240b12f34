//! Which hatchling configurations kiln writes exactly as hatchling
//! [`HATCHLING_VERSION`] does ([`coverage`]), and why not otherwise; and
//! `[project]` as hatchling reads it ([`as_hatchling_reads`]). It reads
//! only `pyproject.toml` (`hatchling/metadata/core.py`,
//! `hatchling/builders/config.py` for what each key changes).

use std::str::FromStr;

use super::hatch_requirements::requirement;

/// The version of hatchling kiln writes like.
pub(crate) use super::emulation::HATCHLING_VERSION;

/// hatchling's older `license-files = {globs = [...]}` (or `{paths}`):
/// its globs.
fn legacy_globs(item: &toml_edit::Item) -> Option<toml_edit::Array> {
    let t = item.as_table_like()?;
    let globs = t.get("globs").or_else(|| t.get("paths"))?.as_array()?;
    globs.iter().all(|g| g.is_str()).then(|| globs.clone())
}

/// `pyproject.toml` as hatchling reads `[project]`: keys outside PEP
/// 621/639 left out (hatchling ignores them), an older `license-files`
/// table as its array of globs.
pub(crate) fn as_hatchling_reads(pyproject: &str) -> String {
    let Ok(mut doc) = pyproject.parse::<toml_edit::DocumentMut>() else {
        return pyproject.to_string();
    };
    let Some(project) = doc.get_mut("project").and_then(|p| p.as_table_like_mut()) else {
        return pyproject.to_string();
    };
    let unknown: Vec<String> = project
        .iter()
        // hatchling ignores other keys, and so does kiln writing as it.
        .filter(|(k, _)| *k != "dynamic" && !super::emulation::STATIC_PROJECT_KEYS.contains(k))
        .map(|(k, _)| k.to_string())
        .collect();
    for k in unknown {
        project.remove(&k);
    }
    if let Some(globs) = project.get("license-files").and_then(legacy_globs) {
        project.insert("license-files", toml_edit::value(globs));
    }
    doc.to_string()
}

/// Keys of `[tool.hatch.build]` and `[tool.hatch.build.targets.wheel]`
/// kiln writes as hatchling does.
const BUILD_KEYS: &[&str] = &["packages", "include", "exclude"];

/// The version of hatch-vcs whose version file kiln writes.
pub(crate) const HATCH_VCS_VERSION: &str = "0.5.0";

/// `[tool.hatch.build.hooks]`: only hatch-vcs's, with only `version-file`
/// (`.py` or `.txt`, the default templates), hatch-vcs 0.5 admitted by
/// `build-system.requires`.
fn vcs_hook(doc: &toml_edit::DocumentMut, hooks: &toml_edit::Item) -> Result<(), String> {
    let none = "hatchling build hooks other than vcs (kiln runs none)";
    let Some(hooks) = hooks.as_table_like() else {
        return Err(none.into());
    };
    if hooks.iter().any(|(k, _)| k != "vcs") {
        return Err(none.into());
    }
    let Some(vcs) = hooks.get("vcs").and_then(|v| v.as_table_like()) else {
        return Ok(());
    };
    if let Some((k, _)) = vcs.iter().find(|(k, _)| *k != "version-file") {
        return Err(format!("[tool.hatch.build.hooks.vcs] key `{k}`"));
    }
    let file = vcs
        .get("version-file")
        .and_then(|f| f.as_str())
        .unwrap_or("");
    if !(file.ends_with(".py") || file.ends_with(".txt")) {
        return Err(format!(
            "[tool.hatch.build.hooks.vcs] version-file `{file}` has no default template (.py, .txt)"
        ));
    }
    if !super::emulation::build_requires_admit(doc, "hatch-vcs", HATCH_VCS_VERSION) {
        return Err(format!(
            "build-system.requires does not allow hatch-vcs {HATCH_VCS_VERSION}, whose version file kiln writes"
        ));
    }
    Ok(())
}

/// `[tool.hatch]`: only `version` (the regex or vcs source, no hooks),
/// `build` with [`BUILD_KEYS`] and `targets`, and hatch's own `envs`.
fn tool_hatch(doc: &toml_edit::DocumentMut) -> Result<(), String> {
    let Some(hatch) = doc
        .get("tool")
        .and_then(|t| t.get("hatch"))
        .and_then(|h| h.as_table_like())
    else {
        return Ok(());
    };
    for (k, v) in hatch.iter() {
        match k {
            "envs" | "env" | "publish" => {}
            "version" => {
                let source = v.get("source").and_then(|s| s.as_str()).unwrap_or("regex");
                if !["regex", "vcs"].contains(&source) {
                    return Err(format!(
                        "[tool.hatch.version] source `{source}` (kiln writes the regex and vcs sources' release version)"
                    ));
                }
            }
            "metadata" => {
                if let Some((k, _)) = v
                    .as_table_like()
                    .and_then(|t| t.iter().find(|(k, _)| *k != "allow-direct-references"))
                {
                    return Err(format!("[tool.hatch.metadata] key `{k}`"));
                }
            }
            "build" => {
                let Some(t) = v.as_table_like() else {
                    return Err("[tool.hatch.build] is not a table".into());
                };
                for (k, v) in t.iter() {
                    match k {
                        "hooks" => vcs_hook(doc, v)?,
                        "targets" => {
                            let wheel = v.get("wheel").and_then(|w| w.as_table_like());
                            if let Some((k, _)) =
                                wheel.and_then(|w| w.iter().find(|(k, _)| !BUILD_KEYS.contains(k)))
                            {
                                return Err(if k == "hooks" {
                                    "hatchling build hooks (kiln runs none)".into()
                                } else {
                                    format!("[tool.hatch.build.targets.wheel] key `{k}`")
                                });
                            }
                        }
                        k if BUILD_KEYS.contains(&k) => {}
                        k => return Err(format!("[tool.hatch.build] key `{k}`")),
                    }
                }
            }
            k => {
                return Err(format!(
                    "[tool.hatch.{k}] is a configuration kiln does not write"
                ))
            }
        }
    }
    Ok(())
}

/// The hatchling configurations kiln writes exactly: wheels, hatchling
/// 1.33 admitted by `build-system.requires`, static `[project]` metadata
/// but the version, dependencies kiln spells as `packaging` does, no
/// private classifiers, and
/// [`tool_hatch`]'s tables.
pub(crate) fn coverage(
    surface: crate::recipe::Surface,
    doc: &toml_edit::DocumentMut,
) -> Result<(), String> {
    if surface != crate::recipe::Surface::Wheel {
        return Err("kiln does not write hatchling's sdists (only its wheels)".into());
    }
    if !super::emulation::build_requires_admit(doc, "hatchling", HATCHLING_VERSION) {
        return Err(format!(
            "build-system.requires does not allow hatchling {HATCHLING_VERSION}, the version kiln writes like"
        ));
    }
    let Some(project) = doc.get("project").and_then(|p| p.as_table_like()) else {
        return Err("there is no [project] table".into());
    };
    project_fields(project)?;
    tool_hatch(doc)
}

/// The `[project]` part of [`coverage`].
fn project_fields(project: &dyn toml_edit::TableLike) -> Result<(), String> {
    let strings = |key: &str| -> Vec<String> {
        project
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let other: Vec<String> = strings("dynamic")
        .into_iter()
        .filter(|d| d != "version")
        .collect();
    if !other.is_empty() {
        return Err(format!(
            "dynamic fields other than version ({})",
            other.join(", ")
        ));
    }
    for k in ["import-names", "import-namespaces"] {
        if project.contains_key(k) {
            return Err(format!("project.{k} (core metadata 2.5's Import-Name)"));
        }
    }
    if project
        .get("license-files")
        .is_some_and(|l| l.as_array().is_none() && legacy_globs(l).is_none())
    {
        return Err(
            "project.license-files is neither an array nor a `{globs}`/`{paths}` table".into(),
        );
    }
    if let Some(v) = project.get("version").and_then(|v| v.as_str()) {
        let normal = pep508_rs::pep440_rs::Version::from_str(v).is_ok_and(|n| n.to_string() == v);
        if !normal {
            return Err(format!("project.version `{v}` is not in PEP 440 normal form (hatchling writes it as written)"));
        }
    }
    let name = project.get("name").and_then(|n| n.as_str()).unwrap_or("");
    let mut deps = strings("dependencies");
    if let Some(opt) = project
        .get("optional-dependencies")
        .and_then(|o| o.as_table_like())
    {
        for (_, reqs) in opt.iter() {
            for r in reqs
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
            {
                let same = requirement(r).is_ok_and(|f| {
                    f.split(['[', ';', '<', '>', '=', '!', '~'])
                        .next()
                        .is_some_and(|n| n == super::names::canonical(name))
                });
                if same {
                    return Err(format!(
                        "optional dependency `{r}` names the project itself"
                    ));
                }
                deps.push(r.to_string());
            }
        }
    }
    for d in &deps {
        requirement(d)?;
    }
    if strings("classifiers")
        .iter()
        .any(|c| c.starts_with("Private ::"))
    {
        return Err("a `Private ::` classifier (hatchling orders them by set order)".into());
    }
    for key in ["readme", "license"] {
        let text = project
            .get(key)
            .and_then(|r| r.get("text"))
            .and_then(|t| t.as_str());
        if text.is_some_and(|t| t.contains('\r')) {
            return Err(format!("project.{key}.text holds a carriage return"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n[project]\nname = \"x\"\nversion = \"1.0\"\n";

    fn covered(extra: &str) -> Result<(), String> {
        let doc: toml_edit::DocumentMut = format!("{BASE}{extra}").parse().unwrap();
        coverage(crate::recipe::Surface::Wheel, &doc)
    }

    /// hatchling 1.33's `license_files`: an array, or a table's `globs`
    /// (else its `paths`); keys outside PEP 621/639 are ignored.
    #[test]
    fn older_license_tables_and_unknown_keys_as_hatchling_reads_them() {
        for extra in [
            "license-files = [\"LICENSE*\"]\n",
            "license-files = { paths = [\"LICENSE.txt\"] }\n",
            "license-files = { globs = [\"LICENSE*\"] }\n",
            "license = { text = \"MIT\" }\nlicense-files = [\"COPYING\"]\n",
            "repository = \"https://example.org\"\n",
        ] {
            assert_eq!(covered(extra), Ok(()), "{extra}");
        }
        for extra in [
            "license-files = {}\n",
            "license-files = { paths = [1] }\n",
            "license-files = \"LICENSE\"\n",
            "import-names = [\"x\"]\n",
        ] {
            assert!(covered(extra).is_err(), "{extra}");
        }
        let read = as_hatchling_reads(&format!(
            "{BASE}repository = \"r\"\nlicense-files = {{ globs = [\"L*\"], paths = [\"P\"] }}\n"
        ));
        let doc: toml_edit::DocumentMut = read.parse().unwrap();
        let project = doc["project"].as_table().unwrap();
        assert!(!project.contains_key("repository"));
        let globs: Vec<&str> = project["license-files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(globs, ["L*"]);
    }
}
