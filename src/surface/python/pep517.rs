//! Backend mode, while building: run the project's PEP 517 hook
//! (`build_sdist` or `build_wheel`) in the sandbox on the stamped
//! workspace, then normalise its result ([`super::normalise`]).
//!
//! The hook runs through [`DRIVER`] with the recipe's interpreter, in the
//! project directory (`/build/src/<source>`). With a declared directory of
//! wheels the backend's environment ([`super::environment`]) is mounted
//! read-only at [`super::hook::ENV_AT`] and the interpreter runs with `-S`: only that
//! environment's `site-packages` and the standard library are importable;
//! otherwise the interpreter's own site-packages. Offline: the sandbox has no
//! network, only the resolved tools on `PATH`, and the environment of
//! [`super::backend::python_env`] plus `SOURCE_DATE_EPOCH`. A maturin
//! backend also gets the cargo registry cache read-only (the `cargo-registry`
//! host input, as the crate surface), `CARGO_NET_OFFLINE` and `RUSTFLAGS`
//! that remap `/build` and the registry sources (`--remap-path-prefix`).
//! The backend writes into `/build/pep517/`; kiln's own output directory
//! is hidden from it. Before the hook runs, the recipe's `[[map]]` entries
//! are copied into the project directory ([`super::placed`]).
//!
//! The result must name the release: the distribution's version in its file
//! name and in `PKG-INFO`/`METADATA` must equal the release version in its
//! PEP 440 spelling, otherwise the version comes from somewhere kiln does
//! not stamp and the build stops (exit 2) naming what the backend built.

use std::str::FromStr;

use pep508_rs::pep440_rs::Version;

use super::backend::{settings, BuildSystem};
pub(crate) use super::hook::Hook;
use super::hook::{Runner, BACKEND_OUT, DRIVER_FILE};
use super::{io, normalise, PythonError};
use crate::surface::{sha256_file, Artifact, Job, Output, SurfaceError};

/// kiln's PEP 517 front end.
const DRIVER: &str = include_str!("pep517_driver.py");

/// Build the recipe's sdist or wheel with the project's backend.
pub(crate) fn build(job: &Job<'_>, hook: Hook) -> Result<Output, SurfaceError> {
    let s = settings(job.recipe);
    let pyproject = job.source_dir.join("pyproject.toml");
    let shown = super::files::project_rel(job, "pyproject.toml");
    let text = match crate::fsutil::read_regular_string(&pyproject) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&pyproject)(e).into()),
    };
    let bs = BuildSystem::parse(text.as_deref(), &shown)?;
    // Generated files enter the tree before the backend sees it.
    let placed = super::placed::place(job)?;
    let out_dir = job.workspace.join(BACKEND_OUT);
    std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
    // The driver lives at the workspace root, beside src/, inputs/, out/.
    let driver = job.workspace.join(DRIVER_FILE);
    std::fs::write(&driver, DRIVER).map_err(io(&driver))?;
    let runner = Runner {
        job,
        bs: &bs,
        python: s.python,
        limits: s.limits.limits(),
    };
    let mut env_wheels = Vec::new();
    let prefix = match job.backend_env {
        Some(env) => {
            let (prefix, wheels) = super::environment::prepare(&runner, env, hook, &shown)?;
            env_wheels = wheels;
            Some(prefix)
        }
        None => None,
    };
    runner.run(hook.arg(), prefix.as_deref())?;
    let raw_name = result_name(&out_dir, hook, &bs.backend)?;
    let raw = out_dir.join(&raw_name);
    let tmp = job.out.join(".pep517.tmp");
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let w = std::io::BufWriter::new(file);
    let facts = match hook {
        Hook::Sdist => normalise::sdist(&raw, &raw_name, job.source_date_epoch, w)?,
        Hook::Wheel => normalise::wheel(&raw, job.source_date_epoch, w)?,
    };
    check_version(&bs.backend, &raw_name, &facts, job.version, hook)?;
    let dest = job.out.join(&raw_name);
    std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
    let (sha256, size) = sha256_file(&dest)?;
    let wheel_tag = (hook == Hook::Wheel).then(|| {
        let stem = raw_name.trim_end_matches(".whl");
        let tag: Vec<&str> = stem.rsplitn(4, '-').take(3).collect();
        let tag: Vec<&str> = tag.into_iter().rev().collect();
        tag.join("-")
    });
    let warnings = wheel_tag
        .as_deref()
        .and_then(unaudited)
        .into_iter()
        .collect();
    let artifact_facts = crate::surface::ArtifactFacts {
        warnings,
        python: Some(crate::surface::PythonFacts {
            python_name: facts.name.clone(),
            python_version: facts.version.clone(),
            python_backend: Some(bs.backend.clone()),
            python_backend_environment: prefix.as_ref().map(|p| p.display().to_string()),
            python_backend_wheels: prefix.as_ref().map(|_| {
                env_wheels
                    .iter()
                    .map(|w| format!("{} sha256:{}", w.file, w.sha256))
                    .collect()
            }),
            wheel_tag,
        }),
        ..Default::default()
    };
    let origins = super::origins::backend(
        job,
        &placed,
        &raw_name,
        &facts,
        &bs.backend,
        hook == Hook::Wheel,
    );
    Ok(Output {
        path: dest,
        name: crate::nix::store_path::sanitize_name(&raw_name),
        origins,
        artifacts: vec![Artifact {
            files: Default::default(),
            file: raw_name,
            path: String::new(),
            sha256,
            size,
            directory: false,
            facts: artifact_facts,
        }],
    })
}

/// What a wheel tagged `tag` (`cp311-cp311-linux_x86_64`) lacks to be
/// published: a plain `linux_*` platform is this machine's, which PyPI
/// refuses; a `manylinux`/`musllinux` tag is a claim about the libraries
/// the module links that `auditwheel` checks, and kiln does not audit —
/// it keeps the backend's tag, never claims one.
fn unaudited(tag: &str) -> Option<String> {
    let platform = tag.rsplit('-').next()?;
    let arch = platform.strip_prefix("linux_")?;
    Some(format!(
        "the wheel's platform tag is {platform}, this machine's: PyPI accepts Linux wheels only with a manylinux or musllinux tag, which `auditwheel repair` gives after checking the libraries the extension links (kiln keeps the backend's tag and does not audit: build in a manylinux image, e.g. quay.io/pypa/manylinux_2_28_{arch}, and repair there)"
    ))
}

/// The file the hook returned: a plain name of the right kind, a regular file.
fn result_name(
    out_dir: &std::path::Path,
    hook: Hook,
    backend: &str,
) -> Result<String, PythonError> {
    let marker = out_dir.join(".kiln-result");
    let name = read_marker(&marker)?;
    let bad = |detail: String| PythonError::Normalise {
        file: std::path::PathBuf::from(&name),
        detail: format!("build backend `{backend}` returned {detail}"),
    };
    if name.is_empty()
        || name.contains('/')
        || name.starts_with('.')
        || !name.ends_with(hook.extension())
    {
        return Err(bad(format!(
            "{name:?} from {}, not a {} file name",
            hook.name(),
            hook.extension()
        )));
    }
    let meta = std::fs::symlink_metadata(out_dir.join(&name))
        .map_err(|_| bad(format!("{name:?}, which it did not write")))?;
    if !meta.is_file() {
        return Err(bad(format!("{name:?}, which is not a regular file")));
    }
    Ok(name)
}

/// Longest result marker kiln reads: a file name, never more.
const MARKER_CAP: u64 = 4096;

/// The driver's result marker: a regular file of at most [`MARKER_CAP`]
/// bytes of UTF-8 (the backend can write anything there).
fn read_marker(marker: &std::path::Path) -> Result<String, PythonError> {
    use std::io::Read;
    let (f, _) = crate::fsutil::open_regular(marker).map_err(io(marker))?;
    let mut bytes = Vec::new();
    f.take(MARKER_CAP + 1)
        .read_to_end(&mut bytes)
        .map_err(io(marker))?;
    if bytes.len() as u64 > MARKER_CAP {
        return Err(PythonError::Normalise {
            file: marker.to_path_buf(),
            detail: format!(
                "the backend's result is longer than the {MARKER_CAP} bytes kiln reads of a file name"
            ),
        });
    }
    String::from_utf8(bytes).map_err(|_| PythonError::Normalise {
        file: marker.to_path_buf(),
        detail: "the backend's result is not a UTF-8 file name".into(),
    })
}

/// The version in the file name and the metadata must be the release's.
fn check_version(
    backend: &str,
    file_name: &str,
    facts: &normalise::Facts,
    release: &str,
    hook: Hook,
) -> Result<(), PythonError> {
    let stem = file_name.trim_end_matches(hook.extension());
    let from_name = match hook {
        Hook::Sdist => stem.rsplit_once('-').map(|(_, v)| v),
        Hook::Wheel => stem.split('-').nth(1),
    }
    .unwrap_or_default();
    // PEP 440 equality: `3.10` is the release `3.10.0`.
    let wanted = Version::from_str(release).ok();
    let same = |v: &str| Version::from_str(v).ok().is_some_and(|v| Some(v) == wanted);
    for (what, found) in [
        ("file name", from_name),
        ("metadata `Version`", facts.version.as_str()),
    ] {
        if !same(found) {
            return Err(PythonError::VersionMismatch {
                backend: backend.to_string(),
                file: file_name.to_string(),
                what,
                found: found.to_string(),
                release: release.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::unaudited;

    #[test]
    fn only_a_plain_linux_platform_is_named_unaudited() {
        let w = unaudited("cp311-cp311-linux_x86_64").unwrap();
        assert!(
            w.contains("linux_x86_64") && w.contains("manylinux_2_28_x86_64"),
            "{w}"
        );
        for tag in [
            "py3-none-any",
            "cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64",
            "cp311-cp311-musllinux_1_2_aarch64",
            "cp311-cp311-macosx_11_0_arm64",
        ] {
            assert_eq!(unaudited(tag), None, "{tag}");
        }
    }
}
