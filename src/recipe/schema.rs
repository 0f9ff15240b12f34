//! The serde schema of one `recipes/<name>.toml` file, and the recipe it
//! validates into: every surface's table is defined here (the `[oci]` table
//! in [`super::oci`]), and [`SurfaceSpec`] holds the one the recipe's surface
//! reads, typed.
//!
//! Unknown keys are rejected everywhere (`deny_unknown_fields`) so that a typo
//! is an error naming the key, never a silently ignored setting. Keys are
//! kebab-case like Cargo's. The full reference is `docs/recipes.md`.
//!
//! ```toml
//! surface = "tarball"
//! source = "docs"
//! include = ["**/*.md"]
//! prefix = "docs-{version}/"
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kind of artifact a recipe builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    Crate,
    Sdist,
    Wheel,
    Npm,
    Tarball,
    Zip,
    Oci,
    Command,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Crate => "crate",
            Surface::Sdist => "sdist",
            Surface::Wheel => "wheel",
            Surface::Npm => "npm",
            Surface::Tarball => "tarball",
            Surface::Zip => "zip",
            Surface::Oci => "oci",
            Surface::Command => "command",
        }
    }

    /// Surfaces this version of kiln can build.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Surface::Crate
                | Surface::Npm
                | Surface::Tarball
                | Surface::Zip
                | Surface::Command
                | Surface::Oci
                | Surface::Sdist
                | Surface::Wheel
        )
    }
}

impl std::fmt::Display for Surface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Named host caches a recipe may mount read-only (`host-inputs`):
/// `cargo-registry` is the cargo home whose registry offline cargo reads.
pub const HOST_INPUTS: &[&str] = &["cargo-registry"];
/// Host inputs of `sdist`/`wheel` recipes in backend mode: `python-wheels`
/// is a directory of wheels (`KILN_PYTHON_WHEELS`) put on the backend's
/// `sys.path`, read-only.
pub(crate) const PYTHON_HOST_INPUTS: &[&str] = &["python-wheels"];

/// One recipe file, validated: the keys every surface shares, and the
/// surface with its typed table ([`SurfaceSpec`]). It is made from the
/// file as written ([`WrittenRecipe`]) by `validate`, and serialises back
/// to that shape (the derivation's `config` is the recipe as written).
#[derive(Debug, Clone, Serialize)]
#[serde(into = "WrittenRecipe")]
pub struct RecipeFile {
    /// Recipe name (default: the file stem).
    pub name: Option<String>,
    /// Directory inside the snapshot the recipe reads (default `.`).
    pub source: String,
    /// Globs relative to `source` selecting the files the recipe reads (default `**`).
    pub include: Vec<String>,
    /// Globs relative to `source` removed from the selection.
    pub exclude: Vec<String>,
    /// Other recipes whose outputs this one reads: mount name → recipe name.
    /// Each is available at `inputs/<mount>/` in the workspace.
    pub inputs: BTreeMap<String, String>,
    /// Path prefix inside archives (tarball, zip); templated.
    pub prefix: Option<String>,
    /// Artifact file name (tarball, zip); templated.
    pub output: Option<String>,
    /// `SOURCE_DATE_EPOCH` for directory (non-git) sources.
    pub source_date_epoch: Option<i64>,
    /// Matrix axes: each combination of values is its own derivation.
    pub matrix: BTreeMap<String, Vec<String>>,
    /// The system the recipe is built for (`aarch64-linux`; templated with
    /// the matrix keys). Unset: a matrix key named `system`, a one-platform
    /// image's platform, else the host's (`engine::plan`).
    pub system: Option<String>,
    /// Extra files mapped into archives: `from` (a path below `source`, or
    /// `inputs/<mount>/…`) → `to` (a path inside the archive, below `prefix`).
    pub map: Vec<MapEntry>,
    /// The surface and its table (the table's defaults when not written).
    pub surface: SurfaceSpec,
    /// Whether the surface's table was written: a derivation carries the
    /// recipe as written, so an unwritten table stays out of it.
    pub(super) table_written: bool,
}

/// The surface of a recipe with its table, typed: one variant per
/// [`Surface`], each holding its own table's settings.
#[derive(Debug, Clone)]
pub enum SurfaceSpec {
    Crate(CrateSection),
    Sdist(SdistSection),
    Wheel(WheelSection),
    Npm(NpmSection),
    Tarball(TarballSection),
    Zip(ZipSection),
    /// Boxed: the largest table by far.
    Oci(Box<crate::recipe::oci::OciSection>),
    Command(CommandSection),
}

impl SurfaceSpec {
    /// The kind of artifact.
    pub fn kind(&self) -> Surface {
        match self {
            SurfaceSpec::Crate(_) => Surface::Crate,
            SurfaceSpec::Sdist(_) => Surface::Sdist,
            SurfaceSpec::Wheel(_) => Surface::Wheel,
            SurfaceSpec::Npm(_) => Surface::Npm,
            SurfaceSpec::Tarball(_) => Surface::Tarball,
            SurfaceSpec::Zip(_) => Surface::Zip,
            SurfaceSpec::Oci(_) => Surface::Oci,
            SurfaceSpec::Command(_) => Surface::Command,
        }
    }
}

/// One recipe file, as written (serde): `surface = "…"` and at most one
/// surface table, which `validate` checks is the surface's own.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct WrittenRecipe {
    /// Recipe name (default: the file stem).
    pub name: Option<String>,
    pub surface: Surface,
    #[serde(default = "default_source")]
    pub source: String,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    pub prefix: Option<String>,
    pub output: Option<String>,
    pub source_date_epoch: Option<i64>,
    #[serde(default)]
    pub matrix: BTreeMap<String, Vec<String>>,
    pub system: Option<String>,
    #[serde(default)]
    pub map: Vec<MapEntry>,
    pub command: Option<CommandSection>,
    #[serde(rename = "crate")]
    pub crate_: Option<CrateSection>,
    pub tarball: Option<TarballSection>,
    pub zip: Option<ZipSection>,
    pub npm: Option<NpmSection>,
    pub oci: Option<crate::recipe::oci::OciSection>,
    pub sdist: Option<SdistSection>,
    pub wheel: Option<WheelSection>,
}

impl WrittenRecipe {
    /// The surface tables written, by table name and the surface each
    /// belongs to.
    pub(crate) fn tables(&self) -> [(bool, &'static str, Surface); 8] {
        [
            (self.command.is_some(), "command", Surface::Command),
            (self.crate_.is_some(), "crate", Surface::Crate),
            (self.tarball.is_some(), "tarball", Surface::Tarball),
            (self.zip.is_some(), "zip", Surface::Zip),
            (self.npm.is_some(), "npm", Surface::Npm),
            (self.oci.is_some(), "oci", Surface::Oci),
            (self.sdist.is_some(), "sdist", Surface::Sdist),
            (self.wheel.is_some(), "wheel", Surface::Wheel),
        ]
    }
}

impl From<RecipeFile> for WrittenRecipe {
    fn from(r: RecipeFile) -> WrittenRecipe {
        let mut w = WrittenRecipe {
            name: r.name,
            surface: r.surface.kind(),
            source: r.source,
            include: r.include,
            exclude: r.exclude,
            inputs: r.inputs,
            prefix: r.prefix,
            output: r.output,
            source_date_epoch: r.source_date_epoch,
            matrix: r.matrix,
            system: r.system,
            map: r.map,
            command: None,
            crate_: None,
            tarball: None,
            zip: None,
            npm: None,
            oci: None,
            sdist: None,
            wheel: None,
        };
        if r.table_written {
            match r.surface {
                SurfaceSpec::Command(t) => w.command = Some(t),
                SurfaceSpec::Crate(t) => w.crate_ = Some(t),
                SurfaceSpec::Tarball(t) => w.tarball = Some(t),
                SurfaceSpec::Zip(t) => w.zip = Some(t),
                SurfaceSpec::Npm(t) => w.npm = Some(t),
                SurfaceSpec::Oci(t) => w.oci = Some(*t),
                SurfaceSpec::Sdist(t) => w.sdist = Some(t),
                SurfaceSpec::Wheel(t) => w.wheel = Some(t),
            }
        }
        w
    }
}

fn default_source() -> String {
    ".".to_string()
}

/// One `[[map]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MapEntry {
    pub from: String,
    pub to: String,
}

/// `[command]`: a sandboxed process.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CommandSection {
    /// The program and its arguments (no shell); templated.
    pub argv: Vec<String>,
    /// Programs resolved on the host `PATH` and made visible in the sandbox.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Paths relative to `source` collected into the output.
    pub outputs: Vec<String>,
    /// Extra environment variables (templated).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Named host caches mounted read-only (`cargo-registry`).
    #[serde(default)]
    pub host_inputs: Vec<String>,
    /// `timeout-seconds`, `memory-mib`, `max-processes`.
    #[serde(flatten)]
    pub limits: LimitKeys,
}

/// The resource limits of a sandboxed run, one schema piece for every
/// surface that runs one (`[command]`, `[crate]`, and `[sdist]`/`[wheel]`
/// with `backend = "pep517"`): flattened into each table, so the keys sit
/// beside the table's own. The defaults are `sandbox::limits`'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LimitKeys {
    /// Wall-clock limit in seconds (default 3600). The three limits are
    /// left out of the derivation when unset, so recipes without them keep
    /// their derivation hashes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limit::timeout_seconds"
    )]
    pub timeout_seconds: Option<std::num::NonZeroU64>,
    /// Memory of all the run's processes together, in MiB (default 8192).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limit::memory_mib"
    )]
    pub memory_mib: Option<std::num::NonZeroU64>,
    /// Processes and threads alive at once (default 4096).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limit::max_processes"
    )]
    pub max_processes: Option<std::num::NonZeroU32>,
}

impl LimitKeys {
    /// Whether any key is set.
    pub fn is_set(&self) -> bool {
        *self != LimitKeys::default()
    }

    /// The sandbox's defaults with these keys applied.
    pub fn limits(&self) -> crate::sandbox::Limits {
        crate::sandbox::Limits::from_keys(self.timeout_seconds, self.memory_mib, self.max_processes)
    }
}

/// Limit keys: whole numbers of at least 1, errors naming the key.
mod limit {
    use serde::{Deserialize, Deserializer};
    use std::num::{NonZeroU32, NonZeroU64};

    fn positive<'de, D: Deserializer<'de>>(d: D, key: &str, max: u64) -> Result<u64, D::Error> {
        let v = i64::deserialize(d).map_err(|e| {
            serde::de::Error::custom(format!("key `{key}`: expected a whole number ({e})"))
        })?;
        if v < 1 || v as u64 > max {
            return Err(serde::de::Error::custom(format!(
                "key `{key}` = {v}: must be a whole number from 1 to {max}"
            )));
        }
        Ok(v as u64)
    }

    pub(super) fn timeout_seconds<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<NonZeroU64>, D::Error> {
        Ok(NonZeroU64::new(positive(
            d,
            "timeout-seconds",
            i64::MAX as u64,
        )?))
    }

    pub(super) fn memory_mib<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<NonZeroU64>, D::Error> {
        Ok(NonZeroU64::new(positive(d, "memory-mib", 1 << 40)?))
    }

    pub(super) fn max_processes<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<NonZeroU32>, D::Error> {
        Ok(NonZeroU32::new(
            positive(d, "max-processes", u64::from(u32::MAX))? as u32,
        ))
    }
}

/// `[crate]`: `.crate` files as `cargo package` writes them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CrateSection {
    /// Workspace members to package (default: all members).
    #[serde(default)]
    pub packages: Vec<String>,
    /// Named host caches mounted read-only (default `["cargo-registry"]`).
    pub host_inputs: Option<Vec<String>>,
    /// The limits of the `cargo package` run.
    #[serde(flatten)]
    pub limits: LimitKeys,
    /// Run cargo's verify step, building each packed crate from its
    /// `.crate` (default `true`). Unset stays out of the derivation.
    pub verify: Option<bool>,
}

impl CrateSection {
    /// Whether cargo's verify step runs (`verify`, default `true`).
    pub fn verify(&self) -> bool {
        self.verify.unwrap_or(true)
    }
}

/// Archive compression of a tarball.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
    None,
}

/// `[tarball]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TarballSection {
    #[serde(default)]
    pub compression: Compression,
}

/// `[zip]` (no settings yet: deflate level 9 is part of the format).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ZipSection {}

/// `[npm]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NpmSection {}

/// Who builds a Python sdist or wheel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PythonBackend {
    /// The native builder where it writes what the project's backend
    /// writes for its configuration, the backend otherwise
    /// (`surface::python::choice`).
    #[default]
    Auto,
    /// The native builder writing exactly as the project's backend does;
    /// a configuration it does not cover is refused.
    Native,
    /// kiln's own PEP 621 writers, from static `[project]` metadata,
    /// whatever backend the project names.
    Kiln,
    /// The project's PEP 517 backend, run in the sandbox, then normalised.
    Pep517,
}

/// `[sdist]`: the file set is the recipe's selection (native), or what the
/// project's backend packs (`backend = "pep517"`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SdistSection {
    /// `auto` (default), `native`, `kiln` or `pep517`
    /// (`surface::python::choice`). Unset keys stay out of derivations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<PythonBackend>,
    /// Backend mode: the interpreter's tool name (default `python3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// Backend mode: extra tools the backend runs (e.g. `cc`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Backend mode: named host inputs ([`PYTHON_HOST_INPUTS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_inputs: Vec<String>,
    /// Backend mode: the limits of the backend's run.
    #[serde(flatten)]
    pub limits: LimitKeys,
}

/// `[wheel]`: what goes into a wheel besides its metadata.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WheelSection {
    /// Import packages or modules (paths below `source`, e.g. `src/pkg` or
    /// `pkg.py`), each placed at the wheel root under its last component.
    /// Default: discovered from the project name (`src/<name>/`, `<name>/`,
    /// `src/<name>.py`, `<name>.py`).
    #[serde(default)]
    pub packages: Vec<String>,
    /// The wheel tag `python-abi-platform` (default `py3-none-any`); a
    /// platform tag makes the wheel non-pure.
    pub tag: Option<String>,
    /// Files installed as scripts: name in `<dist>.data/scripts/` → a path
    /// below `source` or `inputs/<mount>/…`.
    #[serde(default)]
    pub scripts: BTreeMap<String, String>,
    /// As in [`SdistSection`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<PythonBackend>,
    /// Backend mode: the interpreter's tool name (default `python3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// Backend mode: extra tools the backend runs (e.g. `cc`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Backend mode: named host inputs ([`PYTHON_HOST_INPUTS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_inputs: Vec<String>,
    /// Backend mode: the limits of the backend's run.
    #[serde(flatten)]
    pub limits: LimitKeys,
}

/// A `map` source below an input mount, `inputs/<mount>[/<path>]`, split
/// into the mount and the path inside it (empty for the mount itself);
/// `None` for a path in the project.
pub(crate) fn input_mount(from: &str) -> Option<(&str, &str)> {
    let rest = from.strip_prefix("inputs/")?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RecipeFile, String> {
        let written =
            toml_edit::de::from_str::<WrittenRecipe>(text).map_err(|e| e.message().to_string())?;
        super::super::validate::validate(std::path::Path::new("r.toml"), written)
            .map_err(|e| e.to_string())
    }

    fn limits(r: RecipeFile) -> LimitKeys {
        match r.surface {
            SurfaceSpec::Command(c) => c.limits,
            SurfaceSpec::Crate(c) => c.limits,
            SurfaceSpec::Sdist(s) => s.limits,
            SurfaceSpec::Wheel(w) => w.limits,
            other => panic!("{:?} has no limit keys", other.kind()),
        }
    }

    #[test]
    fn every_sandboxed_table_takes_the_limit_keys() {
        let keys = "timeout-seconds = 5\nmemory-mib = 64\nmax-processes = 32\n";
        let want = LimitKeys {
            timeout_seconds: std::num::NonZeroU64::new(5),
            memory_mib: std::num::NonZeroU64::new(64),
            max_processes: std::num::NonZeroU32::new(32),
        };
        let command = parse(&format!(
            "surface = \"command\"\n[command]\nargv = [\"true\"]\noutputs = [\"o\"]\n{keys}"
        ))
        .unwrap();
        assert_eq!(limits(command), want);
        let krate = parse(&format!("surface = \"crate\"\n[crate]\n{keys}")).unwrap();
        assert_eq!(limits(krate), want);
        let wheel = parse(&format!(
            "surface = \"wheel\"\n[wheel]\nbackend = \"pep517\"\n{keys}"
        ))
        .unwrap();
        assert_eq!(limits(wheel), want);
        let sdist = parse(&format!(
            "surface = \"sdist\"\n[sdist]\nbackend = \"pep517\"\n{keys}"
        ))
        .unwrap();
        assert_eq!(limits(sdist), want);
    }

    #[test]
    fn limit_keys_keep_unknown_keys_refused_and_unset_keys_unserialised() {
        let err = parse("surface = \"wheel\"\n[wheel]\ntimeout-secs = 5\n").unwrap_err();
        assert!(err.contains("timeout-secs"), "{err}");
        let err = parse("surface = \"crate\"\n[crate]\nmemory-mib = 0\n").unwrap_err();
        assert!(err.contains("memory-mib"), "{err}");
        let wheel = parse("surface = \"wheel\"\n[wheel]\nbackend = \"pep517\"\n").unwrap();
        let json = serde_json::to_value(&wheel).unwrap();
        assert_eq!(
            json["wheel"],
            serde_json::json!({"backend": "pep517", "packages": [], "scripts": {}, "tag": null})
        );
    }

    #[test]
    fn a_recipe_serialises_as_written_with_its_table_typed() {
        // An unwritten table stays out of the derivation's config, a written
        // one (even empty) is in it.
        let bare = parse("surface = \"tarball\"\n").unwrap();
        assert!(matches!(bare.surface, SurfaceSpec::Tarball(_)));
        let json = serde_json::to_value(&bare).unwrap();
        assert_eq!(json["surface"], "tarball");
        assert!(json["tarball"].is_null(), "{json}");
        let written = parse("surface = \"tarball\"\n[tarball]\n").unwrap();
        let json = serde_json::to_value(&written).unwrap();
        assert_eq!(json["tarball"], serde_json::json!({"compression": "gzip"}));
    }

    #[test]
    fn only_the_surface_own_table_goes_with_it() {
        let err = parse("surface = \"sdist\"\n[wheel]\n").unwrap_err();
        assert!(
            err.contains("a [wheel] table only goes with surface = \"wheel\", not \"sdist\""),
            "{err}"
        );
        let err =
            parse("surface = \"oci\"\n[command]\nargv = [\"x\"]\noutputs = [\"o\"]\n").unwrap_err();
        assert!(err.contains("a [command] table only goes with"), "{err}");
        let err = parse("surface = \"command\"\n").unwrap_err();
        assert!(
            err.contains("surface = \"command\" requires a [command] table"),
            "{err}"
        );
    }
}
