//! Backend mode with a declared directory of wheels, while building: the
//! backend's environment — the wheels [`super::wheels`] chose, installed
//! ([`super::install`]) into a store path kept by a key over the
//! interpreter's identity and the wheels' sha256 ([`wheels::environment_key`]),
//! built once and reused read-only by later builds.
//!
//! The hook's own requirements (`get_requires_for_build_sdist`/`_wheel`)
//! are asked of the backend running in that environment; when they add
//! wheels, they are resolved with `build-system.requires` the same way and
//! the build runs in the larger environment.

use std::path::{Path, PathBuf};

use super::backend::Environment;
use super::hook::{Hook, Runner};
use super::wheels::{self, ChosenWheel};
use super::{io, PythonError};

/// The store name of an environment.
const NAME: &str = "python-backend-env";
/// Longest list of requirements kiln reads from the hook.
const REQUIRES_CAP: u64 = 1 << 20;

/// The environment for `hook`: its host path and its wheels.
pub(super) fn prepare(
    runner: &Runner<'_>,
    env: &Environment,
    hook: Hook,
    pyproject: &Path,
) -> Result<(PathBuf, Vec<ChosenWheel>), PythonError> {
    let prefix = installed(runner, env, &env.wheels)?;
    let arg = format!("requires-{}", hook.arg());
    runner.run(&arg, Some(&prefix))?;
    let asked = read_requires(&runner.out_dir().join(".kiln-requires"))?;
    if asked.is_empty() {
        return Ok((prefix, env.wheels.clone()));
    }
    let bs = runner.bs;
    let mut roots: Vec<(String, String)> = bs
        .requires
        .iter()
        .map(|r| {
            (
                r.clone(),
                format!("build-system.requires of {}", pyproject.display()),
            )
        })
        .collect();
    let by = format!("{} of `{}`", hook_of(hook), bs.backend);
    roots.extend(asked.into_iter().map(|r| (r, by.clone())));
    let unavailable = |requirement: &str, detail: String| PythonError::BackendUnavailable {
        file: pyproject.to_path_buf(),
        backend: bs.backend.clone(),
        requirement: requirement.to_string(),
        detail,
    };
    let chosen = wheels::resolve(&env.dir, &env.interpreter, &roots, &unavailable)?;
    if chosen == env.wheels {
        return Ok((prefix, chosen));
    }
    let prefix = installed(runner, env, &chosen)?;
    Ok((prefix, chosen))
}

fn hook_of(hook: Hook) -> &'static str {
    match hook {
        Hook::Sdist => "get_requires_for_build_sdist",
        Hook::Wheel => "get_requires_for_build_wheel",
    }
}

/// The installed environment of `chosen`: found in the store by its key,
/// or installed into a staging directory and committed.
fn installed(
    runner: &Runner<'_>,
    env: &Environment,
    chosen: &[ChosenWheel],
) -> Result<PathBuf, PythonError> {
    let key = wheels::environment_key(&env.python, chosen);
    let Some(store) = runner.job.store else {
        // No store (never the case for `kiln build`): inside the workspace.
        let dir = runner.job.workspace.join(".kiln-backend-env");
        if !dir.exists() {
            install_all(env, chosen, &dir)?;
        }
        return Ok(dir);
    };
    let store_err = |e| PythonError::Store(Box::new(e));
    if let Some(sp) = store.environment(&key).map_err(store_err)? {
        return Ok(store.path_of(&sp));
    }
    let stage = store.staging().map_err(store_err)?;
    let staged = stage.path().join(NAME);
    install_all(env, chosen, &staged)?;
    let sp = store
        .add_environment(&key, &staged, NAME)
        .map_err(store_err)?;
    Ok(store.path_of(&sp))
}

/// Install every wheel of `chosen`, each checked again against the digest
/// it was chosen with (the directory may have changed since planning).
fn install_all(env: &Environment, chosen: &[ChosenWheel], dir: &Path) -> Result<(), PythonError> {
    std::fs::create_dir_all(dir.join(super::install::SITE_PACKAGES)).map_err(io(dir))?;
    for w in chosen {
        let path = wheels::wheel_path(&env.dir, w);
        let (digest, _) = crate::hash::Sha256::digest_file(&path).map_err(io(&path))?;
        if digest.to_hex() != w.sha256 {
            return Err(super::normalise::bad(
                &path,
                format!(
                    "changed since the build was planned (sha256 {}, planned with {})",
                    digest.to_hex(),
                    w.sha256
                ),
            ));
        }
        super::install::install(&path, dir)?;
    }
    Ok(())
}

/// The requirements the hook returned: a JSON list of strings.
fn read_requires(path: &Path) -> Result<Vec<String>, PythonError> {
    use std::io::Read;
    let (f, _) = crate::fsutil::open_regular(path).map_err(io(path))?;
    let mut bytes = Vec::new();
    f.take(REQUIRES_CAP + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > REQUIRES_CAP {
        return Err(super::normalise::bad(
            path,
            format!("the backend's requirements are longer than {REQUIRES_CAP} bytes"),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        super::normalise::bad(
            path,
            format!("the backend's requirements are not a list of strings: {e}"),
        )
    })
}
