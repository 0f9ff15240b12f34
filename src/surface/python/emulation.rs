//! The backends kiln's native builder writes like ([`Emulation`]), the
//! version of each it writes like, and the facts every emulation's
//! coverage check reads alike. A leaf: the choice (`choice`), the coverage
//! checks and the writers all depend on it, it on none of them.

/// The backend whose output the native builder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulation {
    /// kiln's own PEP 621 writer (core metadata 2.4, hatchling's field
    /// order, `pep508_rs` spellings): no backend's exact output.
    Generic,
    /// flit_core 3.12 (`flit_core.buildapi`), wheels: its metadata writer,
    /// `entry_points.txt`, tags, license files and module discovery.
    FlitCore,
    /// hatchling 1.33 (`hatchling.build`), wheels: its core metadata 2.5
    /// writer, `entry_points.txt`, tags, license files and file selection.
    Hatchling,
    /// pdm-backend 2.5 (`pdm.backend`), wheels: its `pyproject-metadata`
    /// writer, `entry_points.txt`, tag, license files, default package
    /// discovery and file order.
    PdmBackend,
    /// uv_build 0.13 (`uv_build`), wheels: its core metadata 2.3/2.4
    /// writer, `entry_points.txt`, license files and module walk
    /// ([`super::uv`]).
    UvBuild,
    /// poetry-core 2.5 (`poetry.core.masonry.api`), wheels of `[project]`
    /// projects: its core metadata 2.4 writer, requirement spellings,
    /// `entry_points.txt`, tags, license files and default module.
    PoetryCore,
}

impl Emulation {
    /// The builder identity entry (part of every native derivation).
    pub fn identity(self) -> &'static str {
        match self {
            Emulation::Generic => "pep621-v1",
            Emulation::FlitCore => "flit_core-3.12-v1",
            Emulation::Hatchling => "hatchling-1.33-v1",
            Emulation::PdmBackend => "pdm-backend-2.5-v1",
            Emulation::UvBuild => "uv_build-0.13-v1",
            Emulation::PoetryCore => "poetry-core-2.5-v1",
        }
    }
}

/// The version of flit_core kiln writes like.
pub(crate) const FLIT_CORE_VERSION: &str = "3.12.0";
/// The version of hatchling kiln writes like.
pub(crate) const HATCHLING_VERSION: &str = "1.33.0";
/// The version of pdm-backend kiln writes like.
pub(crate) const PDM_BACKEND_VERSION: &str = "2.5.0";
/// The version of uv_build kiln writes like.
pub(crate) const UV_BUILD_VERSION: &str = "0.13.6";
/// The version of poetry-core kiln writes like.
pub(crate) const POETRY_CORE_VERSION: &str = "2.5.0";

/// The `[project]` keys of PEP 621 and PEP 639 but `dynamic`: what the
/// emulated backends read (hatchling ignores others; uv_build refuses
/// them, and `dynamic` too).
pub(crate) const STATIC_PROJECT_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "readme",
    "requires-python",
    "license",
    "license-files",
    "authors",
    "maintainers",
    "keywords",
    "classifiers",
    "urls",
    "scripts",
    "gui-scripts",
    "entry-points",
    "dependencies",
    "optional-dependencies",
];

/// The fields `project.dynamic` lists besides `version` (which kiln
/// stamps): what a backend would compute and kiln cannot write.
pub(crate) fn dynamic_besides_version(project: &dyn toml_edit::TableLike) -> Vec<&str> {
    project
        .get("dynamic")
        .and_then(|d| d.as_array())
        .map(|d| {
            d.iter()
                .filter_map(|v| v.as_str())
                .filter(|v| *v != "version")
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `build-system.requires` admits `name` at `version` (a
/// requirement of that name without a version, or whose specifiers contain
/// it; never a URL).
pub(super) fn build_requires_admit(
    doc: &toml_edit::DocumentMut,
    name: &str,
    version: &str,
) -> bool {
    use std::str::FromStr;
    let requires = doc
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array());
    let v = pep508_rs::pep440_rs::Version::from_str(version).expect("version");
    requires.is_some_and(|a| {
        a.iter().filter_map(|v| v.as_str()).any(|r| {
            pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(r).is_ok_and(|req| {
                req.name.as_ref() == name
                    && match &req.version_or_url {
                        None => true,
                        Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) => s.contains(&v),
                        Some(pep508_rs::VersionOrUrl::Url(_)) => false,
                    }
            })
        })
    })
}
