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
//! The helpers here are shared; each surface's own naming is its
//! [`super::SurfaceKind::predict`].
//!
//! Each name comes with where it came from ([`Predicted::from`]), so that
//! a name that is not portable ([`crate::name::check_portable`]) is
//! refused naming the recipe key or manifest field that made it.

use crate::recipe::Recipe;

/// What [`super::predict`] reads: a selected file's bytes by its path relative to
/// the recipe's source directory, or `None` when it is not selected.
pub(crate) type Read<'a> = dyn FnMut(&str) -> Option<Vec<u8>> + 'a;

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

/// Names made of the recipe name (and its matrix cell), from the recipe.
pub(super) fn own(r: &Recipe, names: Vec<String>) -> Option<Vec<Predicted>> {
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
}

/// The archive of a tarball or zip recipe: its `output`, or
/// `<name>-<version><ext>`.
pub(super) fn archive(
    r: &Recipe,
    v: &VersionNames<'_>,
    ext: &str,
) -> Result<Option<Vec<Predicted>>, crate::recipe::RecipeError> {
    Ok(match &r.spec.output {
        Some(o) => Some(vec![Predicted {
            name: r.render("output", o, v.artifact)?,
            from: format!("key `output` = {o:?}"),
            key: Some("output"),
        }]),
        None => own(r, vec![format!("{}-{}{ext}", r.store_name(), v.artifact)]),
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
pub(super) fn from_manifest(name: String, manifest: &str, key: &str, value: &str) -> Predicted {
    Predicted {
        name,
        from: format!("{}: key `{key}` = {value:?}", crate::name::shown(manifest)),
        key: None,
    }
}

/// The version an artifact built from a manifest carrying `own` takes.
pub(super) fn version_of(v: &VersionNames<'_>, own: Option<&str>) -> String {
    match own {
        Some(own) if !v.canonical.iter().any(|c| c == own) => own.to_string(),
        _ => v.artifact.to_string(),
    }
}

/// A TOML manifest, parsed into plain values; `None` when absent or invalid.
pub(super) fn toml_at(read: &mut Read<'_>, path: &str) -> Option<serde_json::Value> {
    let bytes = read(path)?;
    toml_edit::de::from_str(std::str::from_utf8(&bytes).ok()?).ok()
}
