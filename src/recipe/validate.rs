//! Validation of one parsed recipe file: every error names the file, the key
//! and the value (the line is attached by the caller, which has the text).

use std::path::Path;

use super::error::RecipeError;
use super::schema::{
    LimitKeys, PythonBackend, RecipeFile, Surface, HOST_INPUTS, PYTHON_HOST_INPUTS,
};

pub(crate) fn invalid(
    file: &Path,
    key: &str,
    value: &str,
    reason: impl Into<String>,
) -> RecipeError {
    RecipeError::Invalid {
        file: file.to_path_buf(),
        line: None,
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

/// Check a relative path written in a recipe: no absolute paths, no `..`.
pub fn check_relative(file: &Path, key: &str, value: &str) -> Result<(), RecipeError> {
    if value.starts_with('/') {
        return Err(invalid(file, key, value, "must be a relative path"));
    }
    if value.split('/').any(|c| c == "..") {
        return Err(invalid(
            file,
            key,
            value,
            "must not contain `..` (it would leave the workspace)",
        ));
    }
    if value.contains('\0') || value.contains('\\') {
        return Err(invalid(
            file,
            key,
            value,
            "must not contain NUL or backslashes",
        ));
    }
    Ok(())
}

/// The most cells a recipe's matrix may expand to: the product of the
/// axes' lengths is checked before anything is expanded.
pub const MAX_MATRIX_CELLS: usize = 256;

/// Check one parsed recipe file: paths, globs, mounts, matrix axes,
/// surface tables and host inputs.
pub(crate) fn validate(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    if !r.surface.is_supported() {
        return Err(RecipeError::Unsupported {
            file: file.to_path_buf(),
            surface: r.surface.to_string(),
        });
    }
    check_selection(file, r)?;
    check_mounts(file, r)?;
    check_matrix(file, r)?;
    check_placement(file, r)?;
    check_surface_tables(file, r)?;
    if let Some(s) = &r.source_date_epoch {
        if *s < 0 {
            return Err(invalid(
                file,
                "source-date-epoch",
                &s.to_string(),
                "must be ≥ 0",
            ));
        }
    }
    check_host_inputs(file, r)?;
    check_native_limits(file, r)
}

/// What a recipe selects from the checkout: `source` and the
/// `include`/`exclude` globs.
fn check_selection(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    check_relative(file, "source", &r.source)?;
    for (i, g) in r.include.iter().chain(r.exclude.iter()).enumerate() {
        let key = if i < r.include.len() {
            "include"
        } else {
            "exclude"
        };
        check_relative(file, key, g)?;
        globset::Glob::new(g).map_err(|e| invalid(file, key, g, e.to_string()))?;
    }
    Ok(())
}

/// Input mount names are `[A-Za-z0-9_-]+`.
fn check_mounts(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    for mount in r.inputs.keys() {
        if mount.is_empty()
            || !mount
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                file,
                &format!("inputs.{mount}"),
                mount,
                "mount names are [A-Za-z0-9_-]+",
            ));
        }
    }
    Ok(())
}

/// The matrix: at most [`MAX_MATRIX_CELLS`] cells, no empty axis, no
/// control characters, no reserved placeholder as a key.
fn check_matrix(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    let mut count: u128 = 1;
    for values in r.matrix.values() {
        count = count.saturating_mul(values.len() as u128);
    }
    if count > MAX_MATRIX_CELLS as u128 {
        return Err(invalid(
            file,
            "matrix",
            &format!("{count} cells"),
            format!("a matrix may have at most {MAX_MATRIX_CELLS} cells (the product of its axes' lengths)"),
        ));
    }
    for (k, values) in &r.matrix {
        if values.is_empty() {
            return Err(invalid(
                file,
                &format!("matrix.{k}"),
                "[]",
                "a matrix axis needs at least one value",
            ));
        }
        if k.chars().any(char::is_control) {
            return Err(invalid(
                file,
                &format!("matrix.{k}"),
                k,
                "a matrix key may not hold control characters",
            ));
        }
        if let Some(v) = values.iter().find(|v| v.chars().any(char::is_control)) {
            return Err(invalid(
                file,
                &format!("matrix.{k}"),
                v,
                "a matrix value may not hold control characters (it goes into ids, names and messages)",
            ));
        }
        if ["version", "name"].contains(&k.as_str()) {
            return Err(invalid(
                file,
                &format!("matrix.{k}"),
                k,
                "reserved placeholder name",
            ));
        }
    }
    Ok(())
}

/// Where files go: `[[map]]` paths, `prefix` and the `output` file name.
fn check_placement(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    for (i, m) in r.map.iter().enumerate() {
        check_relative(file, &format!("map[{i}].from"), &m.from)?;
        check_relative(file, &format!("map[{i}].to"), &m.to)?;
    }
    if let Some(p) = &r.prefix {
        check_relative(file, "prefix", p)?;
    }
    if let Some(o) = &r.output {
        if o.contains('/') || o.is_empty() {
            return Err(invalid(file, "output", o, "must be a plain file name"));
        }
    }
    Ok(())
}

/// The surface's table is there (`[command]` for a command recipe) and no
/// other surface's table is.
fn check_surface_tables(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    let want_section = |present: bool, name: &str| -> Result<(), RecipeError> {
        if present {
            Ok(())
        } else {
            Err(invalid(
                file,
                name,
                "",
                format!(
                    "surface = {:?} requires a [{name}] table",
                    r.surface.as_str()
                ),
            ))
        }
    };
    match r.surface {
        Surface::Command => {
            want_section(r.command.is_some(), "command")?;
            let c = r.command.as_ref().expect("checked");
            if c.argv.is_empty() {
                return Err(invalid(
                    file,
                    "command.argv",
                    "[]",
                    "needs at least the program",
                ));
            }
            if c.outputs.is_empty() {
                return Err(invalid(
                    file,
                    "command.outputs",
                    "[]",
                    "declare at least one output",
                ));
            }
            for (i, o) in c.outputs.iter().enumerate() {
                check_relative(file, &format!("command.outputs[{i}]"), o)?;
            }
        }
        _ => {
            if r.command.is_some() {
                return Err(invalid(
                    file,
                    "command",
                    "",
                    "a [command] table only goes with surface = \"command\"",
                ));
            }
        }
    }
    // A surface's own table only goes with that surface.
    for (present, table, surface) in [
        (r.tarball.is_some(), "tarball", Surface::Tarball),
        (r.zip.is_some(), "zip", Surface::Zip),
        (r.npm.is_some(), "npm", Surface::Npm),
        (r.crate_.is_some(), "crate", Surface::Crate),
    ] {
        if present && r.surface != surface {
            return Err(invalid(
                file,
                table,
                "",
                format!(
                    "a [{table}] table only goes with surface = {:?}, not {:?}",
                    surface.as_str(),
                    r.surface.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// Host inputs are ones kiln knows: [`HOST_INPUTS`] for commands and
/// crates, [`PYTHON_HOST_INPUTS`] for sdists and wheels.
fn check_host_inputs(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    let host_inputs = r
        .command
        .iter()
        .flat_map(|c| c.host_inputs.iter().map(|h| ("command.host-inputs", h)))
        .chain(r.crate_.iter().flat_map(|c| {
            c.host_inputs
                .iter()
                .flatten()
                .map(|h| ("crate.host-inputs", h))
        }));
    for (key, h) in host_inputs {
        if !HOST_INPUTS.contains(&h.as_str()) {
            return Err(invalid(
                file,
                key,
                h,
                format!("unknown host input (known: {})", HOST_INPUTS.join(", ")),
            ));
        }
    }
    let python_inputs = r
        .sdist
        .iter()
        .flat_map(|s| s.host_inputs.iter().map(|h| ("sdist.host-inputs", h)))
        .chain(
            r.wheel
                .iter()
                .flat_map(|w| w.host_inputs.iter().map(|h| ("wheel.host-inputs", h))),
        );
    for (key, h) in python_inputs {
        if !PYTHON_HOST_INPUTS.contains(&h.as_str()) {
            return Err(invalid(
                file,
                key,
                h,
                format!(
                    "unknown host input (known: {})",
                    PYTHON_HOST_INPUTS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Limit keys bound a sandboxed run; the native Python builders run none.
fn check_native_limits(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    let tables = [
        ("sdist", r.sdist.as_ref().map(|s| (s.backend, s.limits))),
        ("wheel", r.wheel.as_ref().map(|w| (w.backend, w.limits))),
    ];
    for (table, section) in tables {
        let Some((backend, limits)) = section else {
            continue;
        };
        // `auto` may run the backend.
        if backend.unwrap_or_default() != PythonBackend::Native || !limits.is_set() {
            continue;
        }
        let LimitKeys {
            timeout_seconds,
            memory_mib,
            max_processes,
        } = limits;
        let (key, value) = match (timeout_seconds, memory_mib, max_processes) {
            (Some(v), _, _) => ("timeout-seconds", v.to_string()),
            (_, Some(v), _) => ("memory-mib", v.to_string()),
            (_, _, Some(v)) => ("max-processes", v.to_string()),
            _ => continue,
        };
        return Err(invalid(
            file,
            &format!("{table}.{key}"),
            &value,
            "limits a sandboxed run, and the native builder runs none: set backend = \"pep517\" or remove the key",
        ));
    }
    Ok(())
}
