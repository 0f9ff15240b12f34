//! The `dist/` names a recipe's artifacts will take, known before anything
//! is built, so that the engine can refuse two recipes (or a recipe and
//! kiln's own files) claiming one name before it builds either.
//!
//! Tarball, zip, command and OCI names follow from the recipe alone. npm,
//! crate and Python names come from the package's manifest in the snapshot,
//! read through `read` (the selected file's bytes, or `None`); a manifest
//! version that carries the project's canonical version (or is dynamic, or
//! inherited from a workspace that carries it) is stamped, so the artifact
//! takes the build's version spelling, and any other version is the
//! manifest's own. When the names cannot be known without building (a
//! workspace with glob members, a manifest that does not parse, a
//! `publish = false` member, a Python backend run in PEP 517 mode) the
//! answer is `None`, and the names are
//! checked again, after building and before `dist/` is written.
//!
//! Each name comes with where it came from ([`Predicted::from`]), so that
//! a name that is not portable ([`crate::name::check_portable`]) is
//! refused naming the recipe key or manifest field that made it.

use crate::recipe::{Recipe, Surface};

/// What [`predict`] reads: a selected file's bytes by its path relative to
/// the recipe's source directory, or `None` when it is not selected.
pub type Read<'a> = dyn FnMut(&str) -> Option<Vec<u8>> + 'a;

/// The build's version: `artifact` is the recipe surface's spelling, and
/// `canonical` every spelling of the canonical version a manifest may carry.
#[derive(Debug)]
pub struct VersionNames<'a> {
    pub artifact: &'a str,
    pub canonical: &'a [String],
}

/// One predicted `dist/` name and where it came from, for messages (any
/// untrusted text in `from` already escaped): ``key `output` = "…"``,
/// ``package.json: key `name` = "…"``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicted {
    pub name: String,
    pub from: String,
    /// The recipe key the name follows from (`output`, `name`, `matrix`),
    /// or `None` for a manifest's.
    pub key: Option<&'static str>,
}

/// The names the recipe's artifacts take in `dist/` (without their
/// `.intoto.json`), or `None` when they are only known after building.
pub fn predict(
    r: &Recipe,
    v: &VersionNames<'_>,
    read: &mut Read<'_>,
) -> Result<Option<Vec<Predicted>>, crate::recipe::RecipeError> {
    let own = |names: Vec<String>| {
        let (key, from) = recipe_origin(r);
        Some(
            names
                .into_iter()
                .map(|name| Predicted {
                    name,
                    from: from.clone(),
                    key: Some(key),
                })
                .collect(),
        )
    };
    let ext = match r.surface() {
        Surface::Tarball => match r.spec.tarball.as_ref().map(|t| t.compression) {
            Some(crate::recipe::schema::Compression::Zstd) => ".tar.zst",
            Some(crate::recipe::schema::Compression::None) => ".tar",
            _ => ".tar.gz",
        },
        Surface::Zip => ".zip",
        Surface::Command => return Ok(own(vec![r.store_name()])),
        Surface::Oci => return Ok(own(oci_names(r, v.artifact))),
        Surface::Npm => return Ok(npm_name(v, read).map(|n| vec![n])),
        Surface::Crate => return Ok(crate_names(r, v, read)),
        Surface::Sdist | Surface::Wheel => return Ok(python_name(r, v, read).map(|n| vec![n])),
    };
    Ok(match &r.spec.output {
        Some(o) => Some(vec![Predicted {
            name: r.render("output", o, v.artifact)?,
            from: format!("key `output` = {o:?}"),
            key: Some("output"),
        }]),
        None => own(vec![format!("{}-{}{ext}", r.store_name(), v.artifact)]),
    })
}

/// Where a name made of the recipe name and its matrix cell comes from.
fn recipe_origin(r: &Recipe) -> (&'static str, String) {
    if r.cell.is_empty() {
        ("name", format!("key `name` = {:?}", r.name))
    } else {
        let cell: Vec<&str> = r.cell.values().map(String::as_str).collect();
        ("matrix", format!("key `matrix` = {:?}", cell.join(",")))
    }
}

/// A name taken from a manifest's field.
fn from_manifest(name: String, manifest: &str, key: &str, value: &str) -> Predicted {
    Predicted {
        name,
        from: format!("{}: key `{key}` = {value:?}", crate::name::shown(manifest)),
        key: None,
    }
}

/// The version an artifact built from a manifest carrying `own` takes.
fn version_of(v: &VersionNames<'_>, own: Option<&str>) -> String {
    match own {
        Some(own) if !v.canonical.iter().any(|c| c == own) => own.to_string(),
        _ => v.artifact.to_string(),
    }
}

fn oci_names(r: &Recipe, version: &str) -> Vec<String> {
    let name = super::oci::output_name(r, version);
    let platforms: Vec<String> = r
        .spec
        .oci
        .as_ref()
        .map(|s| s.platforms.clone())
        .unwrap_or_default();
    let mut out = vec![format!("{name}.oci")];
    if platforms.len() <= 1 {
        out.push(format!("{name}.docker.tar"));
    } else {
        for p in &platforms {
            out.push(format!("{name}-{}.docker.tar", p.replace('/', "-")));
        }
    }
    out
}

fn npm_name(v: &VersionNames<'_>, read: &mut Read<'_>) -> Option<Predicted> {
    let json: serde_json::Value = serde_json::from_slice(&read("package.json")?).ok()?;
    let name = json.get("name")?.as_str()?;
    let own = json.get("version").and_then(|x| x.as_str());
    let file = super::npm::tarball_name(name, &version_of(v, own));
    Some(from_manifest(file, "package.json", "name", name))
}

/// `name-version.crate` of every package `cargo package` makes here.
fn crate_names(r: &Recipe, v: &VersionNames<'_>, read: &mut Read<'_>) -> Option<Vec<Predicted>> {
    let root = toml_at(read, "Cargo.toml")?;
    let ws = root.get("workspace");
    let ws_version = ws
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(|x| x.as_str())
        .map(str::to_string);
    let mut manifests = Vec::new();
    if root.get("package").is_some() {
        manifests.push(("Cargo.toml".to_string(), root.clone()));
    }
    if let Some(members) = ws.and_then(|w| w.get("members")).and_then(|m| m.as_array()) {
        for m in members {
            let m = m.as_str()?.trim_end_matches('/');
            if m.is_empty() || m.contains(['*', '?', '[']) {
                return None;
            }
            let path = format!("{m}/Cargo.toml");
            manifests.push((path.clone(), toml_at(read, &path)?));
        }
    }
    let wanted = &r
        .spec
        .crate_
        .as_ref()
        .map(|c| c.packages.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (path, m) in &manifests {
        let p = m.get("package")?;
        let name = p.get("name")?.as_str()?;
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        if p.get("publish").and_then(|x| x.as_bool()) == Some(false) {
            return None;
        }
        let own = match p.get("version") {
            Some(x) if x.get("workspace").and_then(|w| w.as_bool()) == Some(true) => {
                Some(ws_version.clone()?)
            }
            Some(x) => Some(x.as_str()?.to_string()),
            None => None,
        };
        let file = format!("{name}-{}.crate", version_of(v, own.as_deref()));
        out.push(from_manifest(file, path, "package.name", name));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Some(out)
}

fn python_name(r: &Recipe, v: &VersionNames<'_>, read: &mut Read<'_>) -> Option<Predicted> {
    use crate::recipe::schema::PythonBackend;
    // A PEP 517 backend names its own files (and picks its wheel tag).
    let backend = match r.surface() {
        Surface::Sdist => r.spec.sdist.as_ref().and_then(|s| s.backend),
        _ => r.spec.wheel.as_ref().and_then(|w| w.backend),
    };
    if backend == Some(PythonBackend::Pep517) {
        return None;
    }
    // With `auto` (or a native builder writing as a backend, which picks
    // the backend's tag) the name is the backend's.
    let text = read("pyproject.toml");
    let text = text.as_deref().and_then(|b| std::str::from_utf8(b).ok());
    let setting = super::python::backend::settings(r).backend;
    let choice = super::python::choice::for_recipe(r, setting, text);
    let generic = super::python::choice::Mode::Native(super::python::choice::Emulation::Generic);
    if choice.mode != generic {
        return None;
    }
    let py = toml_at(read, "pyproject.toml")?;
    let project = py.get("project")?;
    let declared = project.get("name")?.as_str()?;
    let name = super::python::names::file_component(declared);
    let own = project.get("version").and_then(|x| x.as_str());
    let version = version_of(v, own);
    let from = |file| from_manifest(file, "pyproject.toml", "project.name", declared);
    if r.surface() == Surface::Sdist {
        return Some(from(format!("{name}-{version}.tar.gz")));
    }
    let tag = match r.spec.wheel.as_ref().and_then(|w| w.tag.as_deref()) {
        Some(t) => super::python::names::WheelTag::parse(t).ok()?,
        None => super::python::names::WheelTag::pure(),
    };
    Some(from(format!("{name}-{version}-{tag}.whl")))
}

/// A TOML manifest, parsed into plain values; `None` when absent or invalid.
fn toml_at(read: &mut Read<'_>, path: &str) -> Option<serde_json::Value> {
    let bytes = read(path)?;
    toml_edit::de::from_str(std::str::from_utf8(&bytes).ok()?).ok()
}
