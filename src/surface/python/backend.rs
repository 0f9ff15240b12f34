//! Backend mode, while planning: which PEP 517 backend a project declares,
//! the tools that run it, and the backend's identity for the derivation.
//!
//! A recipe chooses the mode with `backend = "native" | "pep517"` in its
//! `[sdist]`/`[wheel]` table ([`Settings`]; native is the default). In
//! backend mode kiln reads `[build-system]` of the project's
//! `pyproject.toml` ([`BuildSystem`]; without one, PEP 517's fallback
//! `setuptools.build_meta:__legacy__`), resolves the interpreter (`python`,
//! default `python3`) and, for maturin, `maturin`, `cargo`, `rustc` and `cc`
//! as tools, and runs a probe ([`PROBE`]) with that interpreter in the
//! sandbox, which reports the interpreter's PEP 508 marker environment and
//! wheel tags. The backend's distributions then come from one of two places
//! — nothing is ever downloaded:
//!
//! - a declared directory of wheels (`host-inputs = ["python-wheels"]`):
//!   [`super::wheels`] chooses the wheels `build-system.requires` needs,
//!   with their dependencies, and [`super::environment`] installs them into
//!   a store path when building ([`Environment`]); each chosen wheel's
//!   name, version and sha256 enters the derivation;
//! - otherwise the interpreter's own site-packages: every requirement must
//!   be installed for it and satisfy its specifier, and its identity — its
//!   name, version and the sha256 of all its files — enters the derivation.
//!
//! Running the hook and normalising its result is [`super::pep517`].

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use pep508_rs::pep440_rs::Version;
use pep508_rs::{Requirement, VerbatimUrl, VersionOrUrl};
use sha2::{Digest, Sha256};

use super::PythonError;
use crate::derive::ToolRef;
use crate::recipe::schema::{LimitKeys, PythonBackend, SurfaceSpec};
use crate::recipe::Recipe;
use crate::sandbox::{self, SandboxMode, Spec, Tool};

const PROBE: &str = include_str!("pep517_probe.py");

/// PEP 517's fallback for a project without `build-system.build-backend`.
const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";
/// PEP 518's default `requires` when `[build-system]` is missing.
const LEGACY_REQUIRES: &[&str] = &["setuptools>=40.8.0"];

/// The Python keys of a recipe's `[sdist]`/`[wheel]` table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings<'a> {
    pub backend: PythonBackend,
    /// The interpreter's tool name.
    pub python: &'a str,
    /// Extra tools the backend runs.
    pub tools: &'a [String],
    /// Named host inputs (`python-wheels`).
    pub host_inputs: &'a [String],
    /// The limits of the backend's run.
    pub limits: LimitKeys,
}

/// The recipe's Python settings.
pub(crate) fn settings(recipe: &Recipe) -> Settings<'_> {
    let (backend, python, tools, host_inputs, limits) = match &recipe.spec.surface {
        SurfaceSpec::Sdist(s) => Some((
            s.backend,
            s.python.as_deref(),
            &s.tools[..],
            &s.host_inputs[..],
            s.limits,
        )),
        SurfaceSpec::Wheel(w) => Some((
            w.backend,
            w.python.as_deref(),
            &w.tools[..],
            &w.host_inputs[..],
            w.limits,
        )),
        _ => None,
    }
    .unwrap_or((None, None, &[], &[], LimitKeys::default()));
    Settings {
        backend: backend.unwrap_or_default(),
        python: python.unwrap_or("python3"),
        tools,
        host_inputs,
        limits,
    }
}

/// `[build-system]` of a `pyproject.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuildSystem {
    /// `module.path:object.path`.
    pub backend: String,
    /// In-tree backend directories, relative to the project.
    pub backend_path: Vec<String>,
    pub requires: Vec<String>,
}

fn strings(
    item: Option<&toml_edit::Item>,
    file: &Path,
    key: &str,
) -> Result<Option<Vec<String>>, PythonError> {
    let Some(item) = item else { return Ok(None) };
    let bad = || {
        PythonError::field(
            file,
            key,
            item.to_string().trim(),
            "must be an array of strings",
        )
    };
    let arr = item.as_array().ok_or_else(bad)?;
    arr.iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn valid_backend(spec: &str) -> bool {
    let dotted = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|p| {
                p.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
    };
    match spec.split_once(':') {
        Some((m, o)) => dotted(m) && dotted(o),
        None => dotted(spec),
    }
}

impl BuildSystem {
    /// Parse `text` (`None`: no `pyproject.toml`, the legacy fallback).
    pub(crate) fn parse(text: Option<&str>, file: &Path) -> Result<BuildSystem, PythonError> {
        let Some(text) = text else {
            return Ok(BuildSystem {
                backend: LEGACY_BACKEND.to_string(),
                backend_path: Vec::new(),
                requires: LEGACY_REQUIRES.iter().map(|s| s.to_string()).collect(),
            });
        };
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
            PythonError::field(file, "(document)", "", e.message().trim())
        })?;
        let bs = doc.get("build-system");
        let get = |k: &str| bs.and_then(|b| b.get(k));
        let backend = match get("build-backend") {
            None => LEGACY_BACKEND.to_string(),
            Some(v) => {
                let s = v.as_str().unwrap_or_default();
                if !valid_backend(s) {
                    return Err(PythonError::field(
                        file,
                        "build-system.build-backend",
                        v.to_string().trim(),
                        "must be `module.path` or `module.path:object.path` (PEP 517)",
                    ));
                }
                s.to_string()
            }
        };
        let requires = strings(get("requires"), file, "build-system.requires")?
            .unwrap_or_else(|| LEGACY_REQUIRES.iter().map(|s| s.to_string()).collect());
        let backend_path =
            strings(get("backend-path"), file, "build-system.backend-path")?.unwrap_or_default();
        for p in &backend_path {
            if crate::archive::check_entry_path(p).is_err() {
                return Err(PythonError::field(
                    file,
                    "build-system.backend-path",
                    p,
                    "must be a relative path inside the project",
                ));
            }
        }
        Ok(BuildSystem {
            backend,
            backend_path,
            requires,
        })
    }

    /// The backend's top-level module.
    pub(crate) fn module(&self) -> &str {
        let m = self.backend.split(':').next().unwrap_or_default();
        m.split('.').next().unwrap_or(m)
    }

    pub(crate) fn is_maturin(&self) -> bool {
        self.module() == "maturin"
    }

    /// The tools a build with this backend runs, the interpreter first.
    pub(crate) fn tool_names(&self, s: &Settings<'_>) -> Vec<String> {
        let mut names = vec![s.python.to_string()];
        if self.is_maturin() {
            names.extend(["maturin", "cargo", "rustc", "cc"].map(String::from));
        }
        names.extend(s.tools.iter().cloned());
        let mut seen = std::collections::BTreeSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }
}

/// The environment of every backend run: no user site, no bytecode
/// written, a fixed hash seed, pip unable to reach an index. (The
/// interpreter's shared libpython needs no library path: the sandbox mounts
/// each tool's ELF closure where the interpreter's RUNPATH names it.)
pub(crate) fn python_env() -> BTreeMap<String, String> {
    let env: BTreeMap<String, String> = [
        ("PYTHONHASHSEED", "0"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
        ("PYTHONNOUSERSITE", "1"),
        ("PIP_NO_INDEX", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env
}

/// The directory of wheels the recipe declares (`host-inputs =
/// ["python-wheels"]`, from `$KILN_PYTHON_WHEELS`), which must exist on
/// this host; `None` when it declares none.
pub(crate) fn wheels_dir<'h>(
    recipe: &Recipe,
    s: &Settings<'_>,
    host: &'h BTreeMap<String, std::path::PathBuf>,
) -> Result<Option<&'h std::path::PathBuf>, PythonError> {
    let mut found = None;
    for name in s.host_inputs {
        let dir = host.get(name).filter(|d| d.is_dir()).ok_or_else(|| {
            PythonError::field(
                &recipe.file,
                format!("{}.host-inputs", recipe.surface().as_str()),
                name,
                "no such directory on this host: set KILN_PYTHON_WHEELS to a directory of .whl files",
            )
        })?;
        found.get_or_insert(dir);
    }
    Ok(found)
}

/// A backend recipe's tools and backend identity, fixed while planning.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub tools: Vec<Tool>,
    /// One entry per distribution the backend runs with: `pep517:<name>`,
    /// its version, and the sha256 of the wheel installed (a declared
    /// directory of wheels) or over its installed files (the interpreter's
    /// own site-packages).
    pub identity: Vec<ToolRef>,
    /// With a declared directory of wheels: the environment to install.
    pub environment: Option<Environment>,
}

/// A backend environment installed from a declared directory of wheels
/// ([`super::wheels`]), built by [`super::pep517`] into the store.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The directory on the host.
    pub dir: std::path::PathBuf,
    /// The interpreter the wheels are for.
    pub interpreter: super::wheels::Interpreter,
    /// Its identity (part of the environment's key).
    pub python: ToolRef,
    /// The wheels `build-system.requires` needs, with their dependencies.
    pub wheels: Vec<super::wheels::ChosenWheel>,
}

/// The derivation's entry for the whole declared directory of wheels
/// ([`super::wheels::directory_digest`]).
pub(crate) const WHEEL_DIRECTORY_ENTRY: &str = "pep517-wheel-directory";

/// The derivation's entry for a wheel of the environment.
pub(crate) fn wheel_identity(w: &super::wheels::ChosenWheel) -> ToolRef {
    ToolRef::plain(
        format!("pep517:{}", w.name),
        w.version.clone(),
        w.sha256.clone(),
    )
}

/// For a recipe in backend mode, resolve its tools and probe its backend;
/// `None` for native recipes. `pyproject` is the project's file as
/// committed (`None` when there is none) and `file` its project path.
pub(crate) fn resolve(
    recipe: &Recipe,
    pyproject: Option<&str>,
    file: &Path,
    mode: SandboxMode,
    root: &Path,
    tool_cache: Option<&Path>,
    host: &BTreeMap<String, std::path::PathBuf>,
) -> Result<Option<Resolved>, PythonError> {
    let s = settings(recipe);
    check_native_keys(recipe)?;
    let bs = BuildSystem::parse(pyproject, file)?;
    let names = bs.tool_names(&s);
    let wheels_dir = wheels_dir(recipe, &s, host)?;
    sandbox::check_available(mode).map_err(PythonError::Sandbox)?;
    let tools =
        sandbox::resolve_tools_cached(&names, root, tool_cache).map_err(PythonError::Sandbox)?;
    let env = python_env();
    let probe_names = if wheels_dir.is_some() {
        Vec::new()
    } else {
        bs.requires.clone()
    };
    let probe = Probe {
        bs: &bs,
        tools: &tools,
        python: s.python,
        mode,
        file,
        env,
    };
    let (facts, probed) = probe.run(&probe_names)?;
    let Some(dir) = wheels_dir else {
        let identity = probe.check(&probed)?;
        return Ok(Some(Resolved {
            tools,
            identity,
            environment: None,
        }));
    };
    let interpreter = super::wheels::Interpreter::new(&facts)
        .map_err(|e| probe.unavailable(s.python, format!("unexpected marker environment ({e})")))?;
    let roots: Vec<(String, String)> = bs
        .requires
        .iter()
        .map(|r| {
            (
                r.clone(),
                format!("build-system.requires of {}", file.display()),
            )
        })
        .collect();
    let wheels =
        super::wheels::resolve(dir, &interpreter, &roots, &|r, d| probe.unavailable(r, d))?;
    let python = tools
        .iter()
        .find(|t| t.name == s.python)
        .map(ToolRef::of_tool)
        .unwrap_or_else(|| ToolRef::plain(s.python.to_string(), String::new(), String::new()));
    let directory = super::wheels::directory_digest(dir, &interpreter)?;
    let mut identity: Vec<ToolRef> = wheels.iter().map(wheel_identity).collect();
    identity.push(ToolRef::plain(
        WHEEL_DIRECTORY_ENTRY.to_string(),
        String::new(),
        directory,
    ));
    Ok(Some(Resolved {
        tools,
        identity,
        environment: Some(Environment {
            dir: dir.clone(),
            interpreter,
            python,
            wheels,
        }),
    }))
}

/// The native builder's keys mean nothing to a backend.
fn check_native_keys(recipe: &Recipe) -> Result<(), PythonError> {
    let refuse = |key: &str, value: String| {
        Err(PythonError::field(
            &recipe.file,
            key,
            value,
            "applies to the native builder only; with backend = \"pep517\" the project's backend decides the files",
        ))
    };
    if let SurfaceSpec::Wheel(w) = &recipe.spec.surface {
        if !w.packages.is_empty() {
            return refuse("wheel.packages", w.packages.join(", "));
        }
        if let Some(t) = &w.tag {
            return refuse("wheel.tag", t.clone());
        }
        if !w.scripts.is_empty() {
            return refuse(
                "wheel.scripts",
                w.scripts.keys().cloned().collect::<Vec<_>>().join(", "),
            );
        }
    }
    Ok(())
}

#[derive(Debug, serde::Deserialize)]
struct Probed {
    name: String,
    #[serde(default)]
    missing: bool,
    #[serde(default)]
    version: String,
    #[serde(default)]
    files: Vec<(String, String)>,
}

/// A requirement (as written, parsed) and what the probe found for it.
type ProbedReq = (String, Requirement<VerbatimUrl>, Probed);

#[derive(Debug, serde::Deserialize)]
struct ProbeOutput {
    env: super::wheels::InterpreterFacts,
    dists: Vec<Probed>,
}

/// The probe's run: the interpreter in the sandbox, reporting itself and
/// the distributions it has.
struct Probe<'a> {
    bs: &'a BuildSystem,
    tools: &'a [Tool],
    python: &'a str,
    mode: SandboxMode,
    file: &'a Path,
    env: BTreeMap<String, String>,
}

impl Probe<'_> {
    fn unavailable(&self, requirement: &str, detail: String) -> PythonError {
        PythonError::BackendUnavailable {
            file: self.file.to_path_buf(),
            backend: self.bs.backend.clone(),
            requirement: requirement.to_string(),
            detail,
        }
    }

    /// Run the probe for the distributions named by `requires`.
    fn run(
        &self,
        requires: &[String],
    ) -> Result<(super::wheels::InterpreterFacts, Vec<ProbedReq>), PythonError> {
        let reqs = requires
            .iter()
            .map(|r| {
                Requirement::<VerbatimUrl>::from_str(r)
                    .map(|req| (r.clone(), req))
                    .map_err(|e| {
                        PythonError::field(self.file, "build-system.requires", r, e.to_string())
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dir = tempfile::Builder::new()
            .prefix("kiln-probe-")
            .tempdir()
            // While planning the store may not exist yet: the probe's scratch
            // directory is a system temporary directory, removed after it.
            .map_err(super::io(Path::new(
                "(temporary directory for the backend probe)",
            )))?;
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).map_err(super::io(&ws))?;
        let log = dir.path().join("probe.log");
        let script = ws.join("kiln-probe.py");
        std::fs::write(&script, PROBE).map_err(super::io(&script))?;
        let in_sandbox = format!("{}/kiln-probe.py", sandbox::env::BUILD_DIR);
        let python = self.python;
        let mut argv: Vec<String> = [python, "-s", "-B", &in_sandbox].map(String::from).to_vec();
        argv.extend(reqs.iter().map(|(_, r)| r.name.to_string()));
        let spec = Spec {
            workspace: ws,
            cwd: String::new(),
            argv,
            tools: self.tools.to_vec(),
            ro_inputs: Vec::new(),
            env: self.env.clone(),
            source_date_epoch: 0,
            mode: self.mode,
        };
        let out = sandbox::run_capture(&spec, &log).map_err(|e| match e {
            sandbox::SandboxError::Failed { tail, status, .. } => self.unavailable(
                python,
                format!("the interpreter cannot run in the sandbox ({status}): {tail}"),
            ),
            other => PythonError::Sandbox(other),
        })?;
        let probed: ProbeOutput = serde_json::from_slice(&out)
            .map_err(|e| self.unavailable(python, format!("unexpected probe output ({e})")))?;
        if probed.dists.len() != reqs.len() {
            return Err(self.unavailable(python, "unexpected probe output".into()));
        }
        let dists = reqs
            .into_iter()
            .zip(probed.dists)
            .map(|((raw, req), p)| (raw, req, p))
            .collect();
        Ok((probed.env, dists))
    }

    /// Every requirement installed for the interpreter; their identities.
    fn check(&self, probed: &[ProbedReq]) -> Result<Vec<ToolRef>, PythonError> {
        let python = self.python;
        let mut identity: BTreeMap<String, ToolRef> = BTreeMap::new();
        for (raw, req, p) in probed {
            debug_assert_eq!(p.name, req.name.to_string());
            let needed = req.marker.is_true();
            if p.missing {
                if needed {
                    return Err(self.unavailable(
                        raw,
                        format!(
                            "`{}` is not installed for the interpreter `{python}` (kiln looked in its own site-packages: the recipe declares no host-inputs = [\"python-wheels\"]); install it for that interpreter, or declare a directory of wheels (kiln never downloads a backend)",
                            req.name
                        ),
                    ));
                }
                continue;
            }
            match &req.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(spec)) => {
                    let ok = Version::from_str(&p.version).is_ok_and(|v| spec.contains(&v));
                    if !ok && needed {
                        return Err(self.unavailable(
                            raw,
                            format!(
                                "version {} is installed for the interpreter `{python}` (its own site-packages), which `{}` {spec} does not allow",
                                p.version, req.name
                            ),
                        ));
                    }
                }
                Some(VersionOrUrl::Url(_)) => {
                    return Err(
                        self.unavailable(raw, "a URL requirement cannot be met offline".into())
                    )
                }
                None => {}
            }
            let mut h = Sha256::new();
            for (path, digest) in &p.files {
                h.update(path.as_bytes());
                h.update(b"\t");
                h.update(digest.as_bytes());
                h.update(b"\n");
            }
            let sha256: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            identity.insert(
                p.name.clone(),
                ToolRef::plain(format!("pep517:{}", p.name), p.version.clone(), sha256),
            );
        }
        Ok(identity.into_values().collect())
    }
}

/// The `pyproject.toml` of the recipe's source directory `base` as
/// committed in the snapshot being built.
fn committed_pyproject(
    snapshot: &crate::source::Snapshot,
    base: &str,
) -> (std::path::PathBuf, Option<String>) {
    use crate::source::tree::Tree;
    let file = Path::new(base).join("pyproject.toml");
    let text = crate::source::tree::SnapshotTree::new(snapshot).read(&file);
    (file, text)
}

/// Which builder a Python recipe runs ([`super::choice`]), decided once
/// from its committed `pyproject.toml`; `None` for other surfaces. The
/// build uses this choice (`Job::python`). `backend = "native"` on a
/// configuration kiln does not write exactly is refused here, while
/// planning, naming `pyproject.toml`, its backend and why.
pub(crate) fn choice(
    recipe: &Recipe,
    snapshot: &crate::source::Snapshot,
    base: &str,
) -> Result<Option<super::choice::Choice>, PythonError> {
    if !matches!(
        recipe.surface(),
        crate::recipe::Surface::Sdist | crate::recipe::Surface::Wheel
    ) {
        return Ok(None);
    }
    let (file, text) = committed_pyproject(snapshot, base);
    let setting = settings(recipe).backend;
    let hook = Path::new(base).join(super::pdm_coverage::HOOK_FILE);
    let has_hook = || {
        use crate::source::tree::Tree;
        crate::source::tree::SnapshotTree::new(snapshot)
            .read(&hook)
            .is_some()
    };
    super::choice::for_recipe(recipe, setting, text.as_deref())
        .and_then(|c| super::choice::with_hook_file(c, setting, has_hook()))
        .map(Some)
        .map_err(|e| not_covered(recipe, &file, e))
}

/// `backend = "native"` refused: the project's `build-system.build-backend`,
/// why kiln does not write it exactly, and the settings that would build it.
fn not_covered(recipe: &Recipe, file: &Path, e: super::choice::ChoiceError) -> PythonError {
    let super::choice::ChoiceError::NotCovered { backend, why } = e;
    PythonError::field(
        file,
        "build-system.build-backend",
        backend,
        format!(
            "`backend = \"native\"` in [{}] of {} writes only what kiln writes exactly as the project's backend does, and here {why}; `backend = \"auto\"` or `backend = \"pep517\"` would build it with the project's backend (or `backend = \"kiln\"` with kiln's own PEP 621 writer)",
            recipe.surface().as_str(),
            crate::name::shown_path(&recipe.file),
        ),
    )
}

/// [`resolve`] for a recipe of the plan that runs its backend (`choice`),
/// reading `<base>/pyproject.toml` from the snapshot being built (`base` =
/// the recipe's source directory); `None` when it runs the native builder.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan(
    recipe: &Recipe,
    choice: Option<&super::choice::Choice>,
    snapshot: &crate::source::Snapshot,
    base: &str,
    mode: SandboxMode,
    root: &Path,
    tool_cache: Option<&Path>,
    host: &BTreeMap<String, std::path::PathBuf>,
) -> Result<Option<Resolved>, PythonError> {
    if !choice.is_some_and(super::choice::Choice::is_backend) {
        return Ok(None);
    }
    let (file, text) = committed_pyproject(snapshot, base);
    resolve(recipe, text.as_deref(), &file, mode, root, tool_cache, host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::pyproject::maturin_manifest;

    #[test]
    fn build_system_defaults_and_checks() {
        let f = Path::new("pyproject.toml");
        let legacy = BuildSystem::parse(None, f).unwrap();
        assert_eq!(legacy.backend, LEGACY_BACKEND);
        let bs = BuildSystem::parse(
            Some("[build-system]\nrequires = [\"maturin>=1,<2\"]\nbuild-backend = \"maturin\"\n"),
            f,
        )
        .unwrap();
        assert!(bs.is_maturin());
        let s = Settings {
            backend: PythonBackend::Pep517,
            python: "python3",
            tools: &[],
            host_inputs: &[],
            limits: LimitKeys::default(),
        };
        assert_eq!(
            bs.tool_names(&s),
            ["python3", "maturin", "cargo", "rustc", "cc"]
        );
        let only_requires =
            BuildSystem::parse(Some("[build-system]\nrequires = [\"setuptools\"]\n"), f).unwrap();
        assert_eq!(only_requires.backend, LEGACY_BACKEND);
        for bad in [
            "[build-system]\nbuild-backend = \"os; import x\"\n",
            "[build-system]\nbuild-backend = \"a:b\"\nbackend-path = [\"../x\"]\n",
            "[build-system]\nrequires = \"setuptools\"\n",
        ] {
            assert!(BuildSystem::parse(Some(bad), f).is_err(), "{bad}");
        }
        assert!(valid_backend("poetry.core.masonry.api"));
        assert!(valid_backend("setuptools.build_meta:__legacy__"));
    }

    #[test]
    fn maturin_crate_is_found() {
        let p = "[build-system]\nbuild-backend = \"maturin\"\n[tool.maturin]\nmanifest-path = \"crates/python/Cargo.toml\"\n";
        assert_eq!(
            maturin_manifest(p).as_deref(),
            Some("crates/python/Cargo.toml")
        );
        assert_eq!(
            maturin_manifest("[build-system]\nbuild-backend = \"maturin\"\n").as_deref(),
            Some("Cargo.toml")
        );
        assert_eq!(
            maturin_manifest("[build-system]\nbuild-backend = \"hatchling.build\"\n"),
            None
        );
        let escape = "[build-system]\nbuild-backend = \"maturin\"\n[tool.maturin]\nmanifest-path = \"../x/Cargo.toml\"\n";
        assert_eq!(maturin_manifest(escape), None);
    }
}
