//! The `[oci]` table of a recipe, as written (serde). Validation and
//! templating happen in `surface::oci::plan`.
//!
//! ```toml
//! surface = "oci"
//! inputs = { bin = "hello-static" }
//! [oci]
//! repository = "example.org/hello"
//! entrypoint = ["/usr/local/bin/hello"]
//! [oci.base]
//! layout = "bases/busybox"
//! digest = "sha256:…"
//! [[oci.layers]]
//! name = "app"
//! map = { "inputs/bin/hello" = "/usr/local/bin/hello" }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Layer compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerCompression {
    #[default]
    Gzip,
    Zstd,
}

/// `[oci]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OciSection {
    /// Repository for the docker archive's `RepoTags` (default: the recipe name).
    pub repository: Option<String>,
    /// `org.opencontainers.image.title` (default: the recipe name).
    pub title: Option<String>,
    /// `org.opencontainers.image.source`: where the source code lives (a URL).
    pub source_url: Option<String>,
    /// Platforms as `os/arch[/variant]`; more than one gives an image index
    /// (default: the base image's platform, else `linux/amd64`).
    #[serde(default)]
    pub platforms: Vec<String>,
    /// An image index over per-platform images other recipes build: one
    /// input mount per `platforms` entry, in the same order, each an `oci`
    /// recipe of that one platform (built on a machine of its system).
    /// No `base` or `layers` beside it.
    pub index: Option<Vec<String>>,
    #[serde(default)]
    pub compression: LayerCompression,
    /// The compressor's level: gzip (libdeflate) 1–12, default 6; zstd
    /// 1–19, default 3. Lower is faster and larger.
    pub compression_level: Option<u32>,
    /// Appended to every tag after `-` (templated with the matrix keys).
    pub tag_suffix: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `8080/tcp`, `53/udp`, `80` (= tcp).
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    pub base: Option<BaseSection>,
    #[serde(default)]
    pub layers: Vec<LayerSection>,
}

/// `[oci.base]`: an OCI image layout on disk, pinned by digest.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BaseSection {
    /// The layout directory: below `source`, or `inputs/<mount>/…`; templated
    /// (`{python}`, `{os}`, `{arch}`).
    pub layout: String,
    /// The manifest (or image index) digest, `sha256:<hex>`.
    pub digest: Option<String>,
    /// One pin per rendered `layout` (matrix and multi-platform recipes).
    #[serde(default)]
    pub digests: BTreeMap<String, String>,
    /// Publish base layers holding members with absolute or `..` names, or
    /// hardlinks leaving the root (still reported as warnings); refused
    /// otherwise (`surface::oci::hazards`).
    #[serde(default)]
    pub allow_unsafe_base_names: bool,
}

/// `[[oci.layers]]`: one layer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LayerSection {
    /// Recorded in the image history.
    pub name: String,
    /// Source (a file or directory below `source`, or `inputs/<mount>/…`;
    /// templated) → absolute path in the image. A directory maps its tree.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// Absolute path in the image → link target.
    #[serde(default)]
    pub symlinks: BTreeMap<String, String>,
}
