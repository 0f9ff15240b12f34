//! Running one PEP 517 hook of the project's backend in the sandbox: which
//! hook ([`Hook`]), and the [`Runner`] that starts kiln's driver with the
//! recipe's interpreter, the backend's environment mounted at [`ENV_AT`]
//! and the sandbox's limits. Shared by the build ([`super::pep517`]) and
//! the environment it prepares first ([`super::environment`], which asks
//! the `get_requires_for_build_*` hooks), so neither imports the other.

use super::backend::{python_env, BuildSystem};
use super::PythonError;
use crate::sandbox::{self, Confine, Spec};
use crate::surface::{ws_rel, Job};

/// The driver's file name at the workspace root.
pub(super) const DRIVER_FILE: &str = "kiln-pep517.py";
/// Where the backend writes, below the workspace.
pub(super) const BACKEND_OUT: &str = "pep517";

/// Which hook to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    Sdist,
    Wheel,
}

impl Hook {
    pub(super) fn arg(self) -> &'static str {
        match self {
            Hook::Sdist => "sdist",
            Hook::Wheel => "wheel",
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Hook::Sdist => "build_sdist",
            Hook::Wheel => "build_wheel",
        }
    }

    pub(super) fn extension(self) -> &'static str {
        match self {
            Hook::Sdist => ".tar.gz",
            Hook::Wheel => ".whl",
        }
    }
}

/// Runs the driver in the sandbox for one build.
pub(super) struct Runner<'a> {
    pub job: &'a Job<'a>,
    pub bs: &'a BuildSystem,
    pub python: &'a str,
    pub limits: sandbox::Limits,
}

impl Runner<'_> {
    /// Run the driver's `arg` (a hook, or `requires-<hook>`), with the
    /// backend environment at `prefix` (host path) or, without one, the
    /// interpreter's own site-packages.
    pub(super) fn run(
        &self,
        arg: &str,
        prefix: Option<&std::path::Path>,
    ) -> Result<(), PythonError> {
        let job = self.job;
        let bs = self.bs;
        let in_sandbox = format!("{}/{DRIVER_FILE}", sandbox::env::BUILD_DIR);
        // -S: no site-packages of the interpreter when the backend has its
        // own environment (the driver adds the environment's).
        let flags: &[&str] = if prefix.is_some() {
            &["-S", "-s", "-B"]
        } else {
            &["-s", "-B"]
        };
        let mut argv: Vec<String> = vec![self.python.to_string()];
        argv.extend(flags.iter().map(|f| f.to_string()));
        argv.extend([in_sandbox, arg.to_string()]);
        argv.push(format!("{}/{BACKEND_OUT}", sandbox::env::BUILD_DIR));
        argv.push(bs.backend.clone());
        argv.extend(bs.backend_path.iter().cloned());
        let mut env = python_env();
        let mut ro_inputs = Vec::new();
        if let Some(prefix) = prefix {
            ro_inputs.push(sandbox::RoInput {
                host: prefix.to_path_buf(),
                at: ENV_AT.to_string(),
            });
            env.insert("KILN_BACKEND_PREFIX".into(), ENV_AT.into());
        }
        if bs.is_maturin() {
            if let Some(home) = job.host_inputs.get("cargo-registry") {
                ro_inputs.extend(sandbox::cargo_registry_inputs(home));
            }
            env.extend(sandbox::cargo_env());
            env.insert("RUSTFLAGS".into(), sandbox::REMAP_RUSTFLAGS.into());
            env.insert("MATURIN_NO_INSTALL_RUST".into(), "1".into());
        }
        let spec = Spec {
            workspace: job.workspace.to_path_buf(),
            cwd: ws_rel(job),
            argv,
            tools: job.tools.to_vec(),
            ro_inputs,
            env,
            source_date_epoch: job.source_date_epoch.max(0) as u64,
            mode: job.sandbox,
        };
        let hidden = job
            .out
            .strip_prefix(job.workspace)
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
            .into_iter()
            .collect();
        let confine = Confine {
            limits: self.limits,
            hidden,
        };
        sandbox::run_confined(&spec, &confine, job.log).map_err(|e| match e {
            sandbox::SandboxError::Failed { tail, status, .. } => PythonError::BackendFailed {
                backend: bs.backend.clone(),
                hook: hook_name(arg),
                status,
                tail,
            },
            other => PythonError::Sandbox(other),
        })?;
        Ok(())
    }

    /// The backend's output directory (host path).
    pub(super) fn out_dir(&self) -> std::path::PathBuf {
        self.job.workspace.join(BACKEND_OUT)
    }
}

/// The PEP 517 hook a driver argument runs.
fn hook_name(arg: &str) -> &'static str {
    match arg {
        "sdist" => "build_sdist",
        "wheel" => "build_wheel",
        "requires-sdist" => "get_requires_for_build_sdist",
        _ => "get_requires_for_build_wheel",
    }
}

/// Where the backend environment is mounted in the sandbox.
pub(crate) const ENV_AT: &str = "/opt/kiln-backend-env";
