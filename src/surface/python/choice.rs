//! Which builder a Python recipe runs: kiln's native writer (and which
//! backend it writes like) or the project's own PEP 517 backend, and why.
//! The choice is made once, while planning (`engine::plan`), and carried
//! to the build in its [`crate::surface::Job`].
//!
//! - `backend = "auto"` (the default) runs the native builder where its
//!   output is the project's backend's, byte for byte, for the project's
//!   configuration ([`coverage`]), and the backend otherwise;
//! - `backend = "native"` runs the native builder where it writes what the
//!   project's backend writes ([`Emulation::FlitCore`],
//!   [`Emulation::Hatchling`], [`Emulation::UvBuild`]), and refuses the recipe otherwise
//!   ([`ChoiceError::NotCovered`]), before anything is written;
//! - `backend = "kiln"` runs kiln's own PEP 621 writer
//!   ([`Emulation::Generic`]) whatever backend the project names;
//! - `backend = "pep517"` runs the project's backend.
//!
//! One rule says when kiln's own writer builds ([`own_writer`]): with
//! `backend = "kiln"`, or with `auto`/`native` when the recipe sets a key
//! only the native builder reads (`wheel.packages`, `wheel.tag`,
//! `wheel.scripts`, `[[map]]`): the recipe then describes the wheel
//! itself, and no backend's output is the reference.
//!
//! The [`Choice`] carries the reason, which `kiln plan` prints. The
//! decision reads only the committed `pyproject.toml` and never its
//! version (`project.version`, `"version"` in `project.dynamic`): the
//! version stamp does not change it.

pub(crate) use super::emulation::Emulation;
use super::emulation::{
    FLIT_CORE_VERSION, PDM_BACKEND_VERSION, POETRY_CORE_VERSION, UV_BUILD_VERSION,
};
use crate::recipe::schema::PythonBackend;
use crate::recipe::Surface;

/// The mode a recipe runs in, decided while planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Native(Emulation),
    Backend,
}

/// The decision and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub mode: Mode,
    pub reason: String,
}

impl Choice {
    pub fn is_backend(&self) -> bool {
        self.mode == Mode::Backend
    }

    /// `native (flit_core 3.12)`, `backend`: the word `kiln plan` shows.
    pub fn label(&self) -> String {
        match self.mode {
            Mode::Backend => "backend".to_string(),
            Mode::Native(Emulation::Generic) => "native".to_string(),
            Mode::Native(Emulation::FlitCore) => format!("native:flit_core-{FLIT_CORE_VERSION}"),
            Mode::Native(Emulation::Hatchling) => {
                format!("native:hatchling-{}", super::emulation::HATCHLING_VERSION)
            }
            Mode::Native(Emulation::PdmBackend) => {
                format!("native:pdm-backend-{}", PDM_BACKEND_VERSION)
            }
            Mode::Native(Emulation::UvBuild) => {
                format!("native:uv_build-{}", UV_BUILD_VERSION)
            }
            Mode::Native(Emulation::PoetryCore) => {
                format!("native:poetry-core-{}", POETRY_CORE_VERSION)
            }
        }
    }
}

/// Why `backend = "native"` refuses a recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChoiceError {
    /// The project's backend, for its configuration, is not one kiln
    /// writes exactly (`why`, from [`coverage`]).
    NotCovered {
        /// `build-system.build-backend` as declared (or PEP 517's legacy
        /// fallback).
        backend: String,
        why: String,
    },
}

/// The one rule for kiln's own PEP 621 writer: the recipe asks for it
/// (`backend = "kiln"`), or, with `auto` or `native`, it sets a key only
/// the native builder reads (`wheel.packages`, `wheel.tag`,
/// `wheel.scripts`, `[[map]]`). `Some(why)` when it builds the recipe.
/// With `pep517` those keys are refused (`backend::check_native_keys`).
pub(crate) fn own_writer(recipe: &crate::recipe::Recipe, setting: PythonBackend) -> Option<String> {
    match setting {
        PythonBackend::Kiln => return Some("backend = \"kiln\": kiln's own PEP 621 writer".into()),
        PythonBackend::Pep517 => return None,
        PythonBackend::Auto | PythonBackend::Native => {}
    }
    let wheel = match &recipe.spec.surface {
        crate::recipe::schema::SurfaceSpec::Wheel(w) => Some(w),
        _ => None,
    };
    let native_key = wheel.and_then(|w| {
        [
            ("wheel.packages", !w.packages.is_empty()),
            ("wheel.tag", w.tag.is_some()),
            ("wheel.scripts", !w.scripts.is_empty()),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        .map(|(k, _)| k)
    });
    let key = native_key.or((!recipe.spec.map.is_empty()).then_some("map"))?;
    let mode = match setting {
        PythonBackend::Native => "backend = \"native\"",
        _ => "auto",
    };
    Some(format!(
        "{mode}: kiln's own PEP 621 writer, because the recipe sets `{key}`, a key of the native builder"
    ))
}

/// Decide for a Python recipe from its committed `pyproject.toml`
/// (`None`: none). `setting` is the recipe's `backend` key
/// (`backend::settings`).
pub(crate) fn for_recipe(
    recipe: &crate::recipe::Recipe,
    setting: PythonBackend,
    pyproject: Option<&str>,
) -> Result<Choice, ChoiceError> {
    if let Some(reason) = own_writer(recipe, setting) {
        return Ok(Choice {
            mode: Mode::Native(Emulation::Generic),
            reason,
        });
    }
    choose(setting, recipe.surface(), pyproject)
}

/// Decide for a recipe of `surface` with setting `setting` that sets no
/// native builder key, from the committed `pyproject.toml` (`None`: none).
pub(crate) fn choose(
    setting: PythonBackend,
    surface: Surface,
    pyproject: Option<&str>,
) -> Result<Choice, ChoiceError> {
    let covered = coverage(surface, pyproject);
    Ok(match (setting, covered) {
        (PythonBackend::Pep517, _) => Choice {
            mode: Mode::Backend,
            reason: "backend = \"pep517\"".to_string(),
        },
        (PythonBackend::Kiln, _) => Choice {
            mode: Mode::Native(Emulation::Generic),
            reason: "backend = \"kiln\": kiln's own PEP 621 writer".to_string(),
        },
        (PythonBackend::Native, Ok(e)) => Choice {
            mode: Mode::Native(e),
            reason: format!("backend = \"native\"; {}", covered_reason(e)),
        },
        (PythonBackend::Native, Err(why)) => {
            return Err(ChoiceError::NotCovered {
                backend: declared_backend(pyproject),
                why,
            })
        }
        (PythonBackend::Auto, Ok(e)) => Choice {
            mode: Mode::Native(e),
            reason: format!("auto: {}", covered_reason(e)),
        },
        (PythonBackend::Auto, Err(why)) => Choice {
            mode: Mode::Backend,
            reason: format!("auto: the project's backend, because {why}"),
        },
    })
}

/// `build-system.build-backend` as declared, or PEP 517's fallback.
fn declared_backend(pyproject: Option<&str>) -> String {
    pyproject
        .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
        .and_then(|d| {
            d.get("build-system")
                .and_then(|b| b.get("build-backend"))
                .and_then(|b| b.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| LEGACY_BACKEND.to_string())
}

/// PEP 517's fallback for a project that names no backend.
const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";

fn covered_reason(e: Emulation) -> String {
    match e {
        Emulation::FlitCore => format!(
            "the project's flit_core configuration is one kiln writes exactly as flit_core {FLIT_CORE_VERSION} does"
        ),
        Emulation::Hatchling => format!(
            "the project's hatchling configuration is one kiln writes exactly as hatchling {} does",
            super::emulation::HATCHLING_VERSION
        ),
        Emulation::PdmBackend => format!(
            "the project's pdm-backend configuration is one kiln writes exactly as pdm-backend {} does",
            PDM_BACKEND_VERSION
        ),
        Emulation::PoetryCore => format!(
            "the project's poetry-core configuration is one kiln writes exactly as poetry-core {} does",
            POETRY_CORE_VERSION
        ),
        Emulation::Generic => "kiln's own PEP 621 writer".to_string(),
        Emulation::UvBuild => format!(
            "the project's uv_build configuration is one kiln writes exactly as uv_build {} does",
            UV_BUILD_VERSION
        ),
    }
}

/// The emulation that reproduces the project's backend for this surface
/// and configuration, or why none does.
pub(crate) fn coverage(surface: Surface, pyproject: Option<&str>) -> Result<Emulation, String> {
    let Some(text) = pyproject else {
        return Err("there is no pyproject.toml (setuptools' legacy fallback)".into());
    };
    let doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|_| "pyproject.toml is not valid TOML".to_string())?;
    let backend = doc
        .get("build-system")
        .and_then(|b| b.get("build-backend"))
        .and_then(|b| b.as_str())
        .unwrap_or(LEGACY_BACKEND);
    match backend {
        "flit_core.buildapi" => flit_core(surface, &doc),
        "hatchling.build" => hatchling(surface, &doc),
        "pdm.backend" => pdm_backend(surface, &doc),
        "uv_build" => super::uv_coverage::coverage(surface, &doc).map(|()| Emulation::UvBuild),
        "poetry.core.masonry.api" => {
            super::poetry_coverage::coverage(surface, &doc)?;
            packaging_license(&doc)?;
            Ok(Emulation::PoetryCore)
        }
        other => Err(format!(
            "kiln has no exact writer for build backend `{other}` (it writes flit_core's, hatchling's, pdm-backend's, poetry-core's and uv_build's wheels)"
        )),
    }
}

/// flit_core 3.12, wheels, static `[project]` metadata (the version may be
/// dynamic: it is always the release version), no `[tool.flit]` table but
/// `module` and `sdist`, flit_core 3.12 allowed by `build-system.requires`.
fn flit_core(surface: Surface, doc: &toml_edit::DocumentMut) -> Result<Emulation, String> {
    if surface != Surface::Wheel {
        return Err("kiln does not write flit_core's sdists (only its wheels)".into());
    }
    let allows = super::emulation::build_requires_admit(doc, "flit-core", FLIT_CORE_VERSION);
    if !allows {
        return Err(format!(
            "build-system.requires does not allow flit_core {FLIT_CORE_VERSION}, the version kiln writes like"
        ));
    }
    let Some(project) = doc.get("project").and_then(|p| p.as_table_like()) else {
        return Err("flit_core reads [tool.flit.metadata] (no [project] table)".into());
    };
    let module = doc
        .get("tool")
        .and_then(|t| t.get("flit"))
        .and_then(|f| f.get("module"))
        .and_then(|m| m.get("name"));
    let dotted = project
        .get("name")
        .and_then(|n| n.as_str())
        .is_some_and(|n| n.contains('.'));
    if module.is_none() && dotted {
        return Err("project.name has a `.`: flit_core's module is a namespace package".into());
    }
    if project
        .get("keywords")
        .and_then(|k| k.as_array())
        .is_some_and(|k| k.is_empty())
    {
        return Err("project.keywords is empty (flit_core writes an empty `Keywords`)".into());
    }
    let other = super::emulation::dynamic_besides_version(project);
    if !other.is_empty() {
        return Err(format!(
            "project.dynamic lists {} (flit_core reads it from the module)",
            other.join(", ")
        ));
    }
    if let Some(tool) = doc
        .get("tool")
        .and_then(|t| t.get("flit"))
        .and_then(|f| f.as_table_like())
    {
        if let Some((k, _)) = tool.iter().find(|(k, _)| !["module", "sdist"].contains(k)) {
            return Err(format!(
                "[tool.flit.{k}] is a configuration kiln does not write"
            ));
        }
        if let Some(m) = tool.get("module").and_then(|m| m.get("name")) {
            if m.as_str().is_none_or(|n| n.contains('.')) {
                return Err("tool.flit.module.name names a namespace package".into());
            }
        }
    }
    if let Some(e) = project.get("license").and_then(|l| l.as_str()) {
        if let Some(id) = unknown_license_id(e) {
            return Err(format!(
                "project.license names `{id}`, which is not in kiln's table of SPDX ids flit_core normalises alike"
            ));
        }
    }
    let entry = project.get("entry-points").and_then(|e| e.as_table_like());
    if entry.is_some_and(|t| {
        t.iter()
            .any(|(k, _)| k == "console_scripts" || k == "gui_scripts")
    }) {
        return Err("project.entry-points declares scripts (flit_core refuses it)".into());
    }
    Ok(Emulation::FlitCore)
}

/// hatchling 1.33, wheels ([`super::hatch_coverage::coverage`]), with a
/// licence expression `packaging` keeps as written.
fn hatchling(surface: Surface, doc: &toml_edit::DocumentMut) -> Result<Emulation, String> {
    super::hatch_coverage::coverage(surface, doc)?;
    packaging_license(doc)?;
    Ok(Emulation::Hatchling)
}

/// pdm-backend 2.5, wheels ([`super::pdm_coverage::coverage`]), with a
/// licence expression `packaging` keeps as written.
fn pdm_backend(surface: Surface, doc: &toml_edit::DocumentMut) -> Result<Emulation, String> {
    super::pdm_coverage::coverage(surface, doc)?;
    packaging_license(doc)?;
    Ok(Emulation::PdmBackend)
}

/// A licence expression in `project.license` of ids `packaging` keeps as
/// written (hatchling, pdm-backend and poetry-core write it through
/// `packaging`).
fn packaging_license(doc: &toml_edit::DocumentMut) -> Result<(), String> {
    let license = doc
        .get("project")
        .and_then(|p| p.get("license"))
        .and_then(|l| l.as_str());
    match license.and_then(unknown_license_id) {
        Some(id) => Err(format!(
            "project.license names `{id}`, which is not in kiln's table of SPDX ids `packaging` keeps as written"
        )),
        None => Ok(()),
    }
}

/// SPDX ids whose spelling flit_core keeps (it rewrites an id to the case
/// of its licence list); an expression of only these, single-spaced and
/// without `WITH`, is written as flit_core writes it.
const SPDX_IDS: &[&str] = &[
    "0BSD",
    "AFL-3.0",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSL-1.0",
    "CC0-1.0",
    "EPL-2.0",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "ISC",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "MIT",
    "MIT-0",
    "MPL-2.0",
    "PSF-2.0",
    "Python-2.0",
    "Unlicense",
    "Zlib",
];

/// The first part of a licence expression flit_core may respell.
fn unknown_license_id(expr: &str) -> Option<String> {
    if expr.contains("  ") || expr.contains("( ") || expr.contains(" )") || expr.trim() != expr {
        return Some(expr.to_string());
    }
    let spaced = expr.replace(['(', ')'], " ");
    spaced
        .split(' ')
        .filter(|t| !t.is_empty() && *t != "AND" && *t != "OR")
        .find(|t| !SPDX_IDS.contains(t))
        .map(str::to_string)
}

/// A choice of [`Emulation::PdmBackend`] for a project that has the local
/// build hook [`super::pdm_coverage::HOOK_FILE`] (`has_hook`): `auto` runs the backend,
/// `native` is refused; any other choice is kept.
pub(crate) fn with_hook_file(
    choice: Choice,
    setting: PythonBackend,
    has_hook: bool,
) -> Result<Choice, ChoiceError> {
    if !has_hook || choice.mode != Mode::Native(Emulation::PdmBackend) {
        return Ok(choice);
    }
    let why = format!(
        "the project has {}, a pdm-backend build hook kiln does not run",
        super::pdm_coverage::HOOK_FILE
    );
    match setting {
        PythonBackend::Native => Err(ChoiceError::NotCovered {
            backend: "pdm.backend".into(),
            why,
        }),
        _ => Ok(Choice {
            mode: Mode::Backend,
            reason: format!("auto: the project's backend, because {why}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLIT: &str = "[build-system]\nrequires = [\"flit_core >=3.2,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n[project]\nname = \"x\"\ndynamic = [\"version\"]\n";

    #[test]
    fn auto_is_native_only_for_covered_configurations() {
        let c = choose(PythonBackend::Auto, Surface::Wheel, Some(FLIT)).unwrap();
        assert_eq!(c.mode, Mode::Native(Emulation::FlitCore), "{}", c.reason);
        let sdist = choose(PythonBackend::Auto, Surface::Sdist, Some(FLIT)).unwrap();
        assert!(sdist.is_backend());
        assert!(sdist.reason.contains("sdists"), "{}", sdist.reason);
        for (text, why) in [
            (
                FLIT.replace(
                    "dynamic = [\"version\"]",
                    "dynamic = [\"version\", \"description\"]",
                ),
                "description",
            ),
            (FLIT.replace(">=3.2,<4", ">=3.2,<3.10"), "does not allow"),
            (
                format!("{FLIT}[tool.flit.external-data]\ndirectory = \"d\"\n"),
                "external-data",
            ),
            (format!("{FLIT}license = \"mit\"\n"), "`mit`"),
            (FLIT.replace("flit_core.buildapi", "mesonpy"), "mesonpy"),
        ] {
            let c = choose(PythonBackend::Auto, Surface::Wheel, Some(&text)).unwrap();
            assert!(c.is_backend(), "{text}");
            assert!(c.reason.contains(why), "{why}: {}", c.reason);
            // `native` refuses what `auto` gives to the backend, with the
            // same reason.
            let Err(ChoiceError::NotCovered { why: refused, .. }) =
                choose(PythonBackend::Native, Surface::Wheel, Some(&text))
            else {
                panic!("native accepted {text}");
            };
            assert_eq!(
                refused,
                c.reason
                    .trim_start_matches("auto: the project's backend, because ")
            );
        }
        assert!(choose(PythonBackend::Auto, Surface::Wheel, None)
            .unwrap()
            .is_backend());
        assert_eq!(
            choose(PythonBackend::Native, Surface::Wheel, None),
            Err(ChoiceError::NotCovered {
                backend: LEGACY_BACKEND.into(),
                why: "there is no pyproject.toml (setuptools' legacy fallback)".into()
            })
        );
        let native = choose(PythonBackend::Native, Surface::Wheel, Some(FLIT)).unwrap();
        assert_eq!(native.mode, Mode::Native(Emulation::FlitCore));
        let hatch = FLIT.replace("flit_core.buildapi", "hatchling.build");
        assert!(matches!(
            choose(PythonBackend::Native, Surface::Wheel, Some(&hatch)),
            Err(ChoiceError::NotCovered { backend, .. }) if backend == "hatchling.build"
        ));
        let own = choose(PythonBackend::Kiln, Surface::Sdist, Some(&hatch)).unwrap();
        assert_eq!(own.mode, Mode::Native(Emulation::Generic));
        assert!(choose(PythonBackend::Pep517, Surface::Wheel, Some(FLIT))
            .unwrap()
            .is_backend());
    }

    fn recipe(text: &str) -> crate::recipe::Recipe {
        let recipes = crate::recipe::Recipes::from_files(
            std::path::Path::new("/p"),
            vec![(std::path::PathBuf::from("recipes/r.toml"), text.into())],
        )
        .unwrap();
        recipes.recipes.into_values().next().unwrap()
    }

    #[test]
    fn kiln_or_a_native_key_asks_for_kilns_own_writer() {
        let hatch = FLIT.replace("flit_core.buildapi", "hatchling.build");
        for (setting, text) in [
            (
                PythonBackend::Auto,
                "surface = \"wheel\"\n[wheel]\ntag = \"py3-none-linux_x86_64\"",
            ),
            (
                PythonBackend::Native,
                "surface = \"wheel\"\n[wheel]\nbackend = \"native\"\npackages = [\"src/x\"]",
            ),
            (
                PythonBackend::Kiln,
                "surface = \"sdist\"\n[sdist]\nbackend = \"kiln\"",
            ),
        ] {
            let r = recipe(text);
            let c = for_recipe(&r, setting, Some(&hatch)).unwrap();
            assert_eq!(c.mode, Mode::Native(Emulation::Generic), "{text}");
        }
        // Without a native key, an uncovered backend: auto runs it, native
        // refuses.
        let plain = recipe("surface = \"wheel\"");
        assert!(for_recipe(&plain, PythonBackend::Auto, Some(&hatch))
            .unwrap()
            .is_backend());
        assert!(for_recipe(&plain, PythonBackend::Native, Some(&hatch)).is_err());
        assert_eq!(own_writer(&plain, PythonBackend::Pep517), None);
    }

    const HATCH: &str = "[build-system]\nrequires = [\"hatchling>=1.26\"]\nbuild-backend = \"hatchling.build\"\n[project]\nname = \"x\"\ndynamic = [\"version\"]\ndependencies = [\"a>=1; python_version < '3.9'\"]\n";

    const VCS: &str = "[build-system]\nrequires = [\"hatchling\", \"hatch-vcs\"]\nbuild-backend = \"hatchling.build\"\n[project]\nname = \"x\"\ndynamic = [\"version\"]\n[tool.hatch.version]\nsource = \"vcs\"\n[tool.hatch.build.hooks.vcs]\nversion-file = \"x/_version.py\"\n";

    #[test]
    fn hatchling_is_native_only_for_covered_configurations() {
        let c = choose(PythonBackend::Auto, Surface::Wheel, Some(HATCH)).unwrap();
        assert_eq!(c.mode, Mode::Native(Emulation::Hatchling), "{}", c.reason);
        assert_eq!(
            Choice {
                mode: c.mode.clone(),
                reason: String::new()
            }
            .label(),
            "native:hatchling-1.33.0"
        );
        let packages = format!(
            "{HATCH}[tool.hatch.version]\npath = \"x/__init__.py\"\n[tool.hatch.build.targets.wheel]\npackages = [\"src/x\"]\nexclude = [\"*.txt\"]\n"
        );
        let c = choose(PythonBackend::Auto, Surface::Wheel, Some(&packages)).unwrap();
        assert_eq!(c.mode, Mode::Native(Emulation::Hatchling), "{}", c.reason);
        let c = choose(PythonBackend::Auto, Surface::Wheel, Some(VCS)).unwrap();
        assert_eq!(c.mode, Mode::Native(Emulation::Hatchling), "{}", c.reason);
        for (text, surface, why) in [
            (HATCH.to_string(), Surface::Sdist, "sdists"),
            (
                HATCH.replace(">=1.26", "<1.30"),
                Surface::Wheel,
                "does not allow hatchling 1.33.0",
            ),
            (
                HATCH.replace("[\"version\"]", "[\"version\", \"readme\"]"),
                Surface::Wheel,
                "dynamic fields other than version (readme)",
            ),
            (
                format!("{HATCH}[tool.hatch.build.hooks.vcs]\nversion-file = \"x/_v.py\"\n"),
                Surface::Wheel,
                "does not allow hatch-vcs 0.5.0",
            ),
            (
                format!("{VCS}template = \"{{version}}\"\n"),
                Surface::Wheel,
                "[tool.hatch.build.hooks.vcs] key `template`",
            ),
            (
                format!("{HATCH}[tool.hatch.build.hooks.custom]\n"),
                Surface::Wheel,
                "hatchling build hooks other than vcs",
            ),
            (
                format!("{HATCH}[tool.hatch.build.targets.wheel]\nonly-include = [\"x\"]\n"),
                Surface::Wheel,
                "[tool.hatch.build.targets.wheel] key `only-include`",
            ),
            (
                format!("{HATCH}[tool.hatch.build]\nsources = [\"src\"]\n"),
                Surface::Wheel,
                "[tool.hatch.build] key `sources`",
            ),
            (
                format!("{HATCH}[tool.hatch.version]\nsource = \"code\"\n"),
                Surface::Wheel,
                "source `code`",
            ),
            (
                HATCH.replace("a>=1;", "a @ https://e.org/a.whl ;"),
                Surface::Wheel,
                "direct reference",
            ),
            (
                format!("{HATCH}license = \"mit\"\n"),
                Surface::Wheel,
                "`mit`",
            ),
            (
                format!("{HATCH}classifiers = [\"Private :: Do Not Upload\"]\n"),
                Surface::Wheel,
                "Private",
            ),
            (
                format!("{HATCH}[project.optional-dependencies]\nall = [\"X[a]\"]\n"),
                Surface::Wheel,
                "names the project itself",
            ),
        ] {
            let c = choose(PythonBackend::Auto, surface, Some(&text)).unwrap();
            assert!(c.is_backend(), "{text}");
            assert!(c.reason.contains(why), "{why}: {}", c.reason);
        }
    }

    const POETRY: &str = "[build-system]\nrequires = [\"poetry-core>=2.0,<3\"]\nbuild-backend = \"poetry.core.masonry.api\"\n[project]\nname = \"x\"\nversion = \"1\"\nrequires-python = \">=3.9\"\ndependencies = [\"a~=1.2; python_version < '3.11'\"]\n";

    #[test]
    fn poetry_core_is_native_only_for_covered_configurations() {
        let c = choose(PythonBackend::Auto, Surface::Wheel, Some(POETRY)).unwrap();
        assert_eq!(c.mode, Mode::Native(Emulation::PoetryCore), "{}", c.reason);
        let packages = format!(
            "{POETRY}[tool.poetry]\npackages = [{{ include = \"x\", from = \"src\" }}]\ninclude = [{{ path = \"tests\", format = \"sdist\" }}]\n[tool.poetry.group.dev.dependencies]\npytest = \"^8\"\n"
        );
        let c = choose(PythonBackend::Auto, Surface::Wheel, Some(&packages)).unwrap();
        assert_eq!(c.mode, Mode::Native(Emulation::PoetryCore), "{}", c.reason);
        for (text, surface, why) in [
            (POETRY.to_string(), Surface::Sdist, "sdists"),
            (
                POETRY.replace(">=2.0,<3", "<2"),
                Surface::Wheel,
                "does not allow poetry-core 2.5.0",
            ),
            (
                POETRY.replace("[project]", "[tool.poetry]"),
                Surface::Wheel,
                "[tool.poetry]",
            ),
            (
                format!("{POETRY}[tool.poetry.build]\nscript = \"b.py\"\n"),
                Surface::Wheel,
                "key `build`",
            ),
            (
                format!("{POETRY}[tool.poetry]\ninclude = [\"x.txt\"]\n"),
                Surface::Wheel,
                "include adds files",
            ),
            (
                POETRY.replace(">=3.9", ">=3.9.1"),
                Surface::Wheel,
                "requires-python",
            ),
            (
                POETRY.replace("a~=1.2", "a>=1,!=1.5"),
                Surface::Wheel,
                "a dependency",
            ),
            (
                POETRY.replace("'3.11'", "'3.11' and (os_name == 'nt')"),
                Surface::Wheel,
                "marker",
            ),
            (
                format!("{POETRY}[[project.authors]]\nname = \"\u{4e2d}\"\n"),
                Surface::Wheel,
                "project.authors",
            ),
            (
                format!("{POETRY}license = {{ file = \"LICENSE\" }}\n"),
                Surface::Wheel,
                "table",
            ),
            (
                format!("{POETRY}license = \"mit\"\n"),
                Surface::Wheel,
                "`mit`",
            ),
            (
                POETRY.replace("version = \"1\"", "dynamic = [\"version\"]"),
                Surface::Wheel,
                "dynamic",
            ),
        ] {
            let c = choose(PythonBackend::Auto, surface, Some(&text)).unwrap();
            assert!(c.is_backend(), "{text}");
            assert!(c.reason.contains(why), "{why}: {}", c.reason);
        }
    }

    #[test]
    fn licence_ids_flit_core_keeps() {
        assert_eq!(unknown_license_id("MIT OR Apache-2.0"), None);
        assert_eq!(
            unknown_license_id("(MIT OR Apache-2.0) AND BSD-3-Clause"),
            None
        );
        assert_eq!(unknown_license_id("mit").as_deref(), Some("mit"));
        assert!(unknown_license_id("MIT  OR ISC").is_some());
        assert_eq!(unknown_license_id("MIT WITH x").as_deref(), Some("WITH"));
    }
}
