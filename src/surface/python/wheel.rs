//! The wheel layout (PEP 427/491, binary distribution format).
//!
//! `<name>-<version>-<tag>.whl`, a zip written by kiln's zip writer
//! (`SOURCE_DATE_EPOCH` timestamps, 0644/0755 modes, deflate
//! [`super::DEFLATE`]), in this
//! order:
//!
//! 1. the import packages (`[wheel] packages`, else discovered from the
//!    project name as hatchling does: `<name>/`, `src/<name>/`, `<name>.py`,
//!    `src/<name>.py`) and the `[[map]]` entries (a compiled extension made
//!    by an input recipe), sorted by path bytes;
//! 2. `<name>-<version>.data/scripts/<script>` for `[wheel] scripts`, sorted;
//! 3. `<name>-<version>.dist-info/`: `METADATA`, `WHEEL`,
//!    `entry_points.txt`, `licenses/<path>`, and `RECORD` last, listing
//!    every entry in archive order with its sha256 (urlsafe base64, no
//!    padding) and size. Writing as uv_build, uv_build's order instead
//!    ([`super::uv`]): `licenses/<path>` after the packages, then `WHEEL`,
//!    `entry_points.txt`, `METADATA` and `RECORD`.
//!
//! A compiled file (`.so`, `.pyd`, `.dylib`) in a wheel tagged `any` is bad
//! input: an extension module only loads on the platform it was built for.

use std::collections::BTreeMap;
use std::io::Write;

use super::emulation::Emulation;
use super::files::{is_junk, resolve, DiskFile, SourceFiles};
use super::names::{file_component, WheelTag};
use super::project::Project;
pub(super) use super::writer::csv_field;
pub(crate) use super::writer::record_hash;
use super::{io, metadata, PythonError};
use crate::archive::zip::{deflate_entry, ZipWriter};
use crate::recipe::schema::WheelSection;
use crate::surface::Job;

pub(crate) use super::wheel_plan::{recipe_err, WheelPlan};

/// Files below a selected directory `dir` ("" = the source root).
fn selected_below<'a>(src: &'a SourceFiles<'_>, dir: &'a str) -> impl Iterator<Item = &'a String> {
    src.paths()
        .iter()
        .filter(move |p| p.strip_prefix(dir).is_some_and(|r| r.starts_with('/')))
}

/// The import packages: (path below source, archive name at the wheel root).
fn packages(
    job: &Job<'_>,
    section: &WheelSection,
    project: &Project,
    src: &SourceFiles<'_>,
    emulation: Emulation,
) -> Result<Vec<(String, String)>, PythonError> {
    if emulation == Emulation::FlitCore {
        return flit_module(job, project, src);
    }
    let listed = &section.packages;
    let mut out = Vec::new();
    if listed.is_empty() {
        let n = file_component(&project.name);
        let candidates = [
            (format!("{n}/__init__.py"), n.clone()),
            (format!("src/{n}/__init__.py"), format!("src/{n}")),
            (format!("{n}.py"), format!("{n}.py")),
            (format!("src/{n}.py"), format!("src/{n}.py")),
        ];
        match candidates.iter().find(|(probe, _)| src.contains(probe)) {
            Some((_, p)) => out.push(p.clone()),
            None => {
                return Err(recipe_err(
                    job,
                    "wheel.packages",
                    "",
                    format!(
                        "no import package found for project {:?}: none of {} is selected; list the packages in [wheel] packages",
                        project.name,
                        candidates.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        }
    } else {
        out.clone_from(listed);
    }
    let mut res = Vec::new();
    for (i, p) in out.into_iter().enumerate() {
        let p = p.trim_end_matches('/').to_string();
        let key = format!("wheel.packages[{i}]");
        if crate::archive::check_entry_path(&p).is_err() {
            return Err(recipe_err(
                job,
                &key,
                &p,
                "must be a relative path below `source`",
            ));
        }
        let is_dir = selected_below(src, &p).next().is_some();
        if !(is_dir || src.contains(&p) && p.ends_with(".py")) {
            return Err(recipe_err(
                job,
                &key,
                &p,
                "is neither a selected directory nor a selected .py file",
            ));
        }
        let base = p.rsplit('/').next().unwrap_or(&p).to_string();
        res.push((p, base));
    }
    Ok(res)
}

/// flit_core's `Module`: `<m>/`, `<m>.py`, `src/<m>/`, `src/<m>.py` —
/// exactly one of them — with `<m>` the module name as flit_core derives it.
fn flit_module(
    job: &Job<'_>,
    project: &Project,
    src: &SourceFiles<'_>,
) -> Result<Vec<(String, String)>, PythonError> {
    let m = super::flit::module_name(&project.flit());
    let found: Vec<String> = [
        m.clone(),
        format!("{m}.py"),
        format!("src/{m}"),
        format!("src/{m}.py"),
    ]
    .into_iter()
    .filter(|c| {
        if c.ends_with(".py") {
            src.contains(c)
        } else {
            selected_below(src, c).next().is_some()
        }
    })
    .collect();
    match &found[..] {
        [one] => {
            let base = one.rsplit('/').next().unwrap_or(one).to_string();
            Ok(vec![(one.clone(), base)])
        }
        _ => Err(recipe_err(
            job,
            "wheel.packages",
            &m,
            format!(
                "flit_core needs exactly one of {m}/, {m}.py, src/{m}/, src/{m}.py; found {}",
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                }
            ),
        )),
    }
}

/// Resolve `from` (below `source`, or `inputs/<mount>/…`) to files: a
/// directory yields every file below it, keyed by relative path ("" for a file).
pub(super) fn mapped(
    job: &Job<'_>,
    key: &str,
    from: &str,
) -> Result<Vec<(String, DiskFile)>, PythonError> {
    let bad = |reason: &str| recipe_err(job, key, from, reason);
    let disk = match crate::recipe::schema::input_mount(from) {
        Some((mount, path)) => {
            let base = job
                .inputs
                .get(mount)
                .ok_or_else(|| bad("no input of that mount name (see `inputs`)"))?;
            if path.is_empty() {
                base.clone()
            } else {
                base.join(path)
            }
        }
        None => match job.view {
            Some(view) => return mapped_from_view(job, view, key, from),
            None => job.source_dir.join(from),
        },
    };
    let meta =
        std::fs::symlink_metadata(&disk).map_err(|_| bad("does not exist in the workspace"))?;
    let shown = || job.recipe.file.clone();
    if meta.is_dir() {
        let mut out = Vec::new();
        for (rel, p) in crate::fsutil::files_below(&disk).map_err(io(&disk))? {
            out.push((rel, resolve(job.workspace, &p, shown)?));
        }
        Ok(out)
    } else {
        Ok(vec![(String::new(), resolve(job.workspace, &disk, shown)?)])
    }
}

/// [`mapped`] for a path of the recipe's source read from the snapshot.
fn mapped_from_view(
    job: &Job<'_>,
    view: &crate::source::view::SourceView,
    key: &str,
    from: &str,
) -> Result<Vec<(String, DiskFile)>, PythonError> {
    let from = from.trim_end_matches('/');
    let src = SourceFiles::new(job);
    if view.contains(from) {
        return Ok(vec![(String::new(), src.file(from)?)]);
    }
    let below: Vec<(String, DiskFile)> = view
        .below(from)
        .map(|p| {
            let rel = if from.is_empty() {
                p
            } else {
                &p[from.len() + 1..]
            };
            Ok((rel.to_string(), src.file(p)?))
        })
        .collect::<Result<_, PythonError>>()?;
    if below.is_empty() {
        return Err(recipe_err(
            job,
            key,
            from,
            "does not exist in the workspace",
        ));
    }
    Ok(below)
}

/// A pure wheel (`py3-none-any`) holds no compiled module among `paths`.
fn check_pure<'a>(
    job: &Job<'_>,
    tag: &WheelTag,
    mut paths: impl Iterator<Item = &'a String>,
) -> Result<(), PythonError> {
    if tag.is_pure() {
        if let Some(p) = paths.find(|p| {
            [".so", ".pyd", ".dylib"].iter().any(|x| p.ends_with(x)) || p.contains(".so.")
        }) {
            return Err(recipe_err(
                job,
                "wheel.tag",
                &tag.to_string(),
                format!("{p} is a compiled module; declare the platform tag it was built for"),
            ));
        }
    }
    Ok(())
}

/// `wheel.scripts`: each named file, executable, as
/// `<stem>.data/scripts/<name>`.
fn scripts(
    job: &Job<'_>,
    scripts: &BTreeMap<String, String>,
    stem: &str,
) -> Result<Vec<(String, DiskFile)>, PythonError> {
    let mut entries = Vec::new();
    for (name, from) in scripts {
        let key = format!("wheel.scripts.{name}");
        if name.contains('/') || crate::archive::check_entry_path(name).is_err() {
            return Err(recipe_err(
                job,
                &key,
                name,
                "a script name is a plain file name",
            ));
        }
        let files = mapped(job, &key, from)?;
        let [(rel, f)] = &files[..] else {
            return Err(recipe_err(job, &key, from, "must name one file"));
        };
        debug_assert!(rel.is_empty());
        entries.push((
            format!("{stem}.data/scripts/{name}"),
            DiskFile {
                executable: true,
                ..f.clone()
            },
        ));
    }
    Ok(entries)
}

/// Decide the wheel's tag and files.
pub(crate) fn plan(
    job: &Job<'_>,
    section: &WheelSection,
    project: &Project,
    src: &SourceFiles<'_>,
    emulation: Emulation,
) -> Result<WheelPlan, PythonError> {
    // The emulated backends decide their own tags and files.
    match emulation {
        Emulation::Hatchling => return hatchling_plan(job, project, src),
        Emulation::PdmBackend => return super::pdm::plan(job, project, src),
        Emulation::UvBuild => return super::uv::plan(job, project, src),
        Emulation::PoetryCore => return poetry_plan(job, project, src),
        Emulation::Generic | Emulation::FlitCore => {}
    }
    let tag = match (&section.tag, emulation) {
        (None, Emulation::FlitCore) => {
            WheelTag::parse(super::flit::tag(&project.flit())).expect("flit_core's tags are valid")
        }
        (None, _) => WheelTag::pure(),
        (Some(t), _) => WheelTag::parse(t).map_err(|r| recipe_err(job, "wheel.tag", t, r))?,
    };
    let stem = project.dist_stem();
    let mut root: BTreeMap<String, (String, DiskFile)> = BTreeMap::new();
    let mut add = |path: String, origin: String, f: DiskFile| -> Result<(), PythonError> {
        if let Err(reason) = crate::archive::check_entry_path(&path) {
            return Err(recipe_err(job, &origin, &path, reason));
        }
        let top = path.split('/').next().unwrap_or("");
        if top == format!("{stem}.dist-info") || top == format!("{stem}.data") {
            return Err(recipe_err(
                job,
                &origin,
                &path,
                "collides with the wheel's generated directories",
            ));
        }
        if let Some((first, _)) = root.get(&path) {
            return Err(recipe_err(
                job,
                &origin,
                &path,
                format!("already placed by {first}"),
            ));
        }
        root.insert(path, (origin, f));
        Ok(())
    };
    for (i, (p, base)) in packages(job, section, project, src, emulation)?
        .into_iter()
        .enumerate()
    {
        let origin = format!("wheel.packages[{i}]");
        if src.contains(&p) {
            add(base, origin, src.file(&p)?)?;
            continue;
        }
        for rel in selected_below(src, &p) {
            if is_junk(rel) {
                continue;
            }
            let inner = &rel[p.len() + 1..];
            add(format!("{base}/{inner}"), origin.clone(), src.file(rel)?)?;
        }
    }
    for (i, m) in job.recipe.spec.map.iter().enumerate() {
        let render = |key: String, t: &str| {
            job.recipe
                .render(&key, t, job.version)
                .map_err(|e| recipe_err(job, &key, t, e.to_string()))
        };
        let from = render(format!("map[{i}].from"), &m.from)?;
        let to = render(format!("map[{i}].to"), &m.to)?;
        let to = to.trim_end_matches('/');
        for (rel, f) in mapped(job, &format!("map[{i}].from"), &from)? {
            let path = if rel.is_empty() {
                to.to_string()
            } else {
                format!("{to}/{rel}")
            };
            add(path, format!("map[{i}]"), f)?;
        }
    }
    check_pure(job, &tag, root.keys())?;
    let mut entries: Vec<(String, DiskFile)> = root.into_iter().map(|(p, (_, f))| (p, f)).collect();
    entries.extend(scripts(job, &section.scripts, &stem)?);
    with_licenses(emulation, tag, entries, project, src)
}

/// hatchling's files in hatchling's order ([`super::hatch_files::select`]).
fn hatchling_plan(
    job: &Job<'_>,
    project: &Project,
    src: &SourceFiles<'_>,
) -> Result<WheelPlan, PythonError> {
    let bad = |key: &str, r: String| recipe_err(job, key, "", r);
    let tag = super::hatch::tag(project).map_err(|r| bad("project.requires-python", r))?;
    let tag = WheelTag::parse(&tag).map_err(|r| bad("wheel.tag", r))?;
    let selected = super::hatch_files::select(project, src)
        .map_err(|r| bad("tool.hatch.build.targets.wheel.packages", r))?;
    let generated = super::hatch_files::version_file(&project.pyproject).map(|path| {
        let text = super::hatch::vcs_version_file(&path, &project.version).unwrap_or_default();
        let data: std::sync::Arc<[u8]> = text.into_bytes().into();
        let file = DiskFile {
            at: job.source_dir.join(&path),
            size: data.len() as u64,
            data: crate::source::view::FileData::Memory(data),
            executable: false,
        };
        (path, file)
    });
    let entries = selected
        .into_iter()
        .map(|(from, to)| match &generated {
            Some((path, file)) if *path == from => Ok((to, file.clone())),
            _ => Ok((to, src.file(&from)?)),
        })
        .collect::<Result<Vec<_>, PythonError>>()?;
    check_pure(job, &tag, entries.iter().map(|(p, _)| p))?;
    with_licenses(Emulation::Hatchling, tag, entries, project, src)
}

/// The plan of `entries` with the project's license files.
fn with_licenses(
    emulation: Emulation,
    tag: WheelTag,
    entries: Vec<(String, DiskFile)>,
    project: &Project,
    src: &SourceFiles<'_>,
) -> Result<WheelPlan, PythonError> {
    let licenses = project
        .license_files
        .iter()
        .map(|l| Ok((l.clone(), src.file(l)?)))
        .collect::<Result<Vec<_>, PythonError>>()?;
    Ok(WheelPlan {
        emulation,
        tag,
        entries,
        licenses,
    })
}

/// poetry-core's default module in poetry's order
/// ([`super::poetry::select`]).
fn poetry_plan(
    job: &Job<'_>,
    project: &Project,
    src: &SourceFiles<'_>,
) -> Result<WheelPlan, PythonError> {
    let bad = |key: &str, r: String| recipe_err(job, key, "", r);
    let tag = super::poetry::tag(project).map_err(|r| bad("project.requires-python", r))?;
    let tag = WheelTag::parse(tag).map_err(|r| bad("wheel.tag", r))?;
    let entries = super::poetry::select(project, src)
        .map_err(|r| bad("project.name", r))?
        .into_iter()
        .map(|(from, to)| Ok((to, src.file(&from)?)))
        .collect::<Result<Vec<_>, PythonError>>()?;
    check_pure(job, &tag, entries.iter().map(|(p, _)| p))?;
    with_licenses(Emulation::PoetryCore, tag, entries, project, src)
}

struct Record<W: Write> {
    zip: ZipWriter<W>,
    lines: String,
}

impl<W: Write> Record<W> {
    fn add(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), PythonError> {
        self.zip.append_file(path, mode, data)?;
        self.lines.push_str(&format!(
            "{},{},{}\n",
            csv_field(path),
            record_hash(data),
            data.len()
        ));
        Ok(())
    }
}

/// Write the wheel; returns its file name.
pub(crate) fn write<W: Write>(
    project: &Project,
    plan: &WheelPlan,
    source_date_epoch: i64,
    out: W,
) -> Result<String, PythonError> {
    if plan.emulation == Emulation::PdmBackend {
        return super::pdm::write(project, plan, source_date_epoch, out);
    }
    let stem = project.dist_stem();
    let file_name = format!("{stem}-{}.whl", plan.tag);
    let dist_info = format!("{stem}.dist-info");
    let mut rec = Record {
        zip: ZipWriter::new(out, source_date_epoch.max(0) as u64).with_deflate(super::DEFLATE),
        lines: String::new(),
    };
    // Read, hash and deflate the payload in parallel; write in order.
    use rayon::prelude::*;
    let prepared = plan
        .entries
        .par_iter()
        .map(|(path, f)| {
            let data = f.read()?;
            let deflated = deflate_entry(super::DEFLATE, path, &data)?;
            Ok((record_hash(&data), deflated))
        })
        .collect::<Result<Vec<_>, PythonError>>()?;
    for ((path, f), (hash, d)) in plan.entries.iter().zip(prepared) {
        rec.zip
            .append_deflated(path, if f.executable { 0o755 } else { 0o644 }, &d)?;
        rec.lines
            .push_str(&format!("{},{hash},{}\n", csv_field(path), d.size));
    }
    let (meta, wheel, entry_points) = match plan.emulation {
        Emulation::Generic => (
            metadata::core_metadata(project)?,
            metadata::wheel_file(&plan.tag),
            metadata::entry_points(project),
        ),
        Emulation::Hatchling => (
            super::hatch::core_metadata(project)
                .map_err(|r| PythonError::field("pyproject.toml", "project", "", r))?,
            super::hatch::wheel_file(&plan.tag.to_string()),
            super::hatch::entry_points(project),
        ),
        Emulation::PdmBackend => (
            super::pdm::core_metadata(project)
                .map_err(|r| PythonError::field("pyproject.toml", "project", "", r))?,
            super::pdm::wheel_file(&plan.tag.to_string()),
            Some(super::pdm::entry_points(project)),
        ),
        Emulation::UvBuild => (
            super::uv::core_metadata(project),
            super::uv::wheel_file(),
            super::uv::entry_points(project),
        ),
        Emulation::PoetryCore => (
            super::poetry::core_metadata(project)
                .map_err(|r| PythonError::field("pyproject.toml", "project", "", r))?,
            super::poetry::wheel_file(&plan.tag.to_string()),
            super::poetry::entry_points(project),
        ),
        Emulation::FlitCore => {
            let f = project.flit();
            (
                super::flit::core_metadata(&f),
                super::flit::wheel_file(&f),
                super::flit::entry_points(&f),
            )
        }
    };
    let generated = [
        ("METADATA", Some(meta)),
        ("WHEEL", Some(wheel)),
        ("entry_points.txt", entry_points),
    ];
    // uv_build writes `WHEEL`, `entry_points.txt`, then `METADATA`.
    let order = match plan.emulation {
        Emulation::UvBuild => [1, 2, 0],
        _ => [0, 1, 2],
    };
    for i in order {
        if let (name, Some(text)) = &generated[i] {
            rec.add(&format!("{dist_info}/{name}"), 0o644, text.as_bytes())?;
        }
    }
    for (rel, f) in &plan.licenses {
        let data = f.read()?;
        rec.add(&format!("{dist_info}/licenses/{rel}"), 0o644, &data)?;
    }
    let record_path = format!("{dist_info}/RECORD");
    rec.lines
        .push_str(&format!("{},,\n", csv_field(&record_path)));
    let Record { mut zip, lines } = rec;
    zip.append_file(&record_path, 0o644, lines.as_bytes())?;
    let mut w = zip.finish()?;
    w.flush().map_err(|e| PythonError::Io {
        path: file_name.clone().into(),
        source: e,
    })?;
    Ok(file_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_fields() {
        // sha256 of the empty string, as pip's installer writes it.
        assert_eq!(
            record_hash(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("pkg/x.py"), "pkg/x.py");
    }
}
