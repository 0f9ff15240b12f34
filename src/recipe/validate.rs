//! Validation of one parsed recipe file: every error names the file, the key
//! and the value (the line is attached by the caller, which has the text).

use std::path::Path;

use super::error::RecipeError;
use super::schema::{
    LimitKeys, PythonBackend, RecipeFile, Surface, SurfaceSpec, WrittenRecipe, HOST_INPUTS,
    PYTHON_HOST_INPUTS,
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
pub(crate) fn check_relative(file: &Path, key: &str, value: &str) -> Result<(), RecipeError> {
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
pub(crate) const MAX_MATRIX_CELLS: usize = 256;

/// Check one parsed recipe file (paths, globs, mounts, matrix axes,
/// surface tables and host inputs) and type its surface table.
pub(crate) fn validate(file: &Path, w: WrittenRecipe) -> Result<RecipeFile, RecipeError> {
    if !w.surface.is_supported() {
        return Err(RecipeError::Unsupported {
            file: file.to_path_buf(),
            surface: w.surface.to_string(),
        });
    }
    check_selection(file, &w)?;
    check_mounts(file, &w)?;
    check_matrix(file, &w)?;
    check_placement(file, &w)?;
    let r = typed(file, w)?;
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
    check_host_inputs(file, &r)?;
    check_native_limits(file, &r)?;
    Ok(r)
}

/// What a recipe selects from the checkout: `source` and the
/// `include`/`exclude` globs.
fn check_selection(file: &Path, r: &WrittenRecipe) -> Result<(), RecipeError> {
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
fn check_mounts(file: &Path, r: &WrittenRecipe) -> Result<(), RecipeError> {
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
fn check_matrix(file: &Path, r: &WrittenRecipe) -> Result<(), RecipeError> {
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
fn check_placement(file: &Path, r: &WrittenRecipe) -> Result<(), RecipeError> {
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

/// The recipe with its surface's table typed: no other surface's table
/// is written, and a command recipe has its `[command]`.
fn typed(file: &Path, w: WrittenRecipe) -> Result<RecipeFile, RecipeError> {
    for (present, table, surface) in w.tables() {
        if present && w.surface != surface {
            return Err(invalid(
                file,
                table,
                "",
                format!(
                    "a [{table}] table only goes with surface = {:?}, not {:?}",
                    surface.as_str(),
                    w.surface.as_str()
                ),
            ));
        }
    }
    let table_written = w.tables().iter().any(|(present, ..)| *present);
    let surface = match w.surface {
        Surface::Command => SurfaceSpec::Command(command_table(file, w.command)?),
        Surface::Crate => SurfaceSpec::Crate(w.crate_.unwrap_or_default()),
        Surface::Tarball => SurfaceSpec::Tarball(w.tarball.unwrap_or_default()),
        Surface::Zip => SurfaceSpec::Zip(w.zip.unwrap_or_default()),
        Surface::Npm => SurfaceSpec::Npm(w.npm.unwrap_or_default()),
        Surface::Oci => SurfaceSpec::Oci(Box::new(w.oci.unwrap_or_default())),
        Surface::Sdist => SurfaceSpec::Sdist(w.sdist.unwrap_or_default()),
        Surface::Wheel => SurfaceSpec::Wheel(w.wheel.unwrap_or_default()),
    };
    Ok(RecipeFile {
        name: w.name,
        source: w.source,
        include: w.include,
        exclude: w.exclude,
        inputs: w.inputs,
        prefix: w.prefix,
        output: w.output,
        source_date_epoch: w.source_date_epoch,
        matrix: w.matrix,
        system: w.system,
        map: w.map,
        surface,
        table_written,
    })
}

/// A command recipe's `[command]`: required, with a program and outputs.
fn command_table(
    file: &Path,
    c: Option<super::schema::CommandSection>,
) -> Result<super::schema::CommandSection, RecipeError> {
    let Some(c) = c else {
        return Err(invalid(
            file,
            "command",
            "",
            "surface = \"command\" requires a [command] table",
        ));
    };
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
    Ok(c)
}

/// Host inputs are ones kiln knows: [`HOST_INPUTS`] for commands and
/// crates, [`PYTHON_HOST_INPUTS`] for sdists and wheels.
fn check_host_inputs(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    let (key, known, written): (&str, &[&str], &[String]) = match &r.surface {
        SurfaceSpec::Command(c) => ("command.host-inputs", HOST_INPUTS, &c.host_inputs),
        SurfaceSpec::Crate(c) => (
            "crate.host-inputs",
            HOST_INPUTS,
            c.host_inputs.as_deref().unwrap_or_default(),
        ),
        SurfaceSpec::Sdist(s) => ("sdist.host-inputs", PYTHON_HOST_INPUTS, &s.host_inputs),
        SurfaceSpec::Wheel(w) => ("wheel.host-inputs", PYTHON_HOST_INPUTS, &w.host_inputs),
        _ => return Ok(()),
    };
    for h in written {
        if !known.contains(&h.as_str()) {
            return Err(invalid(
                file,
                key,
                h,
                format!("unknown host input (known: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Limit keys bound a sandboxed run; the native Python builders run none.
fn check_native_limits(file: &Path, r: &RecipeFile) -> Result<(), RecipeError> {
    let (table, backend, limits) = match &r.surface {
        SurfaceSpec::Sdist(s) => ("sdist", s.backend, s.limits),
        SurfaceSpec::Wheel(w) => ("wheel", w.backend, w.limits),
        _ => return Ok(()),
    };
    // `auto` may run the backend.
    if !matches!(
        backend.unwrap_or_default(),
        PythonBackend::Native | PythonBackend::Kiln
    ) || !limits.is_set()
    {
        return Ok(());
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
        _ => return Ok(()),
    };
    Err(invalid(
        file,
        &format!("{table}.{key}"),
        &value,
        "limits a sandboxed run, and the native builder runs none: set backend = \"pep517\" or remove the key",
    ))
}
