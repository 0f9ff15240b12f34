//! The OCI JSON documents kiln writes, and their one serialisation.
//!
//! A blob's digest is the sha256 of its exact bytes, so the bytes must never
//! drift: every document is a struct whose field order is the order written,
//! every map is a `BTreeMap` (sorted keys), and [`canonical`] writes compact
//! JSON with no trailing newline. (The `oci-spec` crate was considered: it
//! keeps labels and annotations in `HashMap`s, whose order changes between
//! runs, so kiln keeps these few types itself.)
//!
//! ```text
//! let d = Descriptor::new(MediaType::Empty, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", 2);
//! assert_eq!(
//!     String::from_utf8(canonical(&d)).unwrap(),
//!     r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#
//! );
//! ```
//!
//! (The unit test `module_doc_example` runs this example.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Media types kiln writes or accepts from base images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum MediaType {
    #[serde(rename = "application/vnd.oci.image.index.v1+json")]
    Index,
    #[serde(rename = "application/vnd.oci.image.manifest.v1+json")]
    Manifest,
    #[serde(rename = "application/vnd.oci.image.config.v1+json")]
    Config,
    #[serde(rename = "application/vnd.oci.image.layer.v1.tar")]
    Layer,
    #[serde(rename = "application/vnd.oci.image.layer.v1.tar+gzip")]
    LayerGzip,
    #[serde(rename = "application/vnd.oci.image.layer.v1.tar+zstd")]
    LayerZstd,
    #[serde(rename = "application/vnd.docker.image.rootfs.diff.tar.gzip")]
    DockerLayerGzip,
    #[serde(rename = "application/vnd.oci.empty.v1+json")]
    Empty,
}

impl MediaType {
    /// The layer's compression, if it is a layer type kiln can read.
    pub(crate) fn layer_kind(self) -> Option<Option<crate::recipe::oci::LayerCompression>> {
        use crate::recipe::oci::LayerCompression as C;
        match self {
            MediaType::Layer => Some(None),
            MediaType::LayerGzip | MediaType::DockerLayerGzip => Some(Some(C::Gzip)),
            MediaType::LayerZstd => Some(Some(C::Zstd)),
            _ => None,
        }
    }
}

/// `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err("expected os/arch or os/arch/variant in lowercase (linux/amd64)".into()),
        }
    }
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub media_type: MediaType,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub(crate) fn new(media_type: MediaType, digest: &str, size: u64) -> Self {
        Descriptor {
            media_type,
            digest: digest.to_string(),
            size,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// An image manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub schema_version: u32,
    #[serde(default = "manifest_type")]
    pub media_type: MediaType,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

fn manifest_type() -> MediaType {
    MediaType::Manifest
}

/// An image index (also `index.json` of a layout).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The image configuration (the parts kiln reads or writes; anything else a
/// base image carries is kept in `extra`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: RunConfig,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

/// `config` of an image configuration: how a container runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RunConfig {
    #[serde(rename = "User", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, Value>,
    #[serde(rename = "Env", default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub working_dir: Option<String>,
    #[serde(rename = "Labels", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Fields kiln does not set (Volumes, StopSignal, …), kept from the base.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `rootfs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

/// One `history` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The one byte serialisation of a document: compact JSON, fields in
/// declaration order, maps sorted, no trailing newline.
pub(crate) fn canonical<T: Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec(doc).expect("OCI documents serialise")
}

/// `SOURCE_DATE_EPOCH` as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
pub(crate) fn rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module documentation's example.
    #[test]
    fn module_doc_example() {
        let d = Descriptor::new(
            MediaType::Empty,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            2,
        );
        assert_eq!(
            String::from_utf8(canonical(&d)).unwrap(),
            r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#
        );
    }

    #[test]
    fn rfc3339_matches_date() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(315532800), "1980-01-01T00:00:00Z");
        // `date -u -d @1700000000 +%FT%TZ`
        assert_eq!(rfc3339(1700000000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951782400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn platform_round_trips() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!("Linux/amd64".parse::<Platform>().is_err());
        assert!("linux".parse::<Platform>().is_err());
    }

    #[test]
    fn config_keeps_unknown_fields_sorted() {
        let c: RunConfig =
            serde_json::from_str(r#"{"Volumes":{"/d":{}},"Env":["A=1"],"StopSignal":"SIGTERM"}"#)
                .unwrap();
        assert_eq!(
            String::from_utf8(canonical(&c)).unwrap(),
            r#"{"Env":["A=1"],"StopSignal":"SIGTERM","Volumes":{"/d":{}}}"#
        );
    }
}
