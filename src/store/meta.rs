//! What a realisation records about its output ([`RealisationMeta`]): the
//! recipe, its surface and each artifact ([`Artifact`]) with the facts its
//! surface knows of it ([`ArtifactFacts`]). Surfaces produce these, the
//! engine registers them, `dist/`, the CLI, the binary cache and
//! `kiln provenance` read them back.
//!
//! The JSON is the shape realisation records and cache records have always
//! had, member for member and in the same order (a cache signature covers
//! these bytes):
//!
//! ```text
//! {"recipe": "web", "surface": "npm", "artifacts": [
//!   {"file": "web-1.0.0.tgz", "path": "", "sha256": "…", "size": 1234, "directory": false,
//!    "extra": {"integrity": "sha512-…", "shasum": "…", "npm_name": "web",
//!              "npm_version": "1.0.0", "dist_tag": "latest"}}]}
//! ```
//!
//! A record that does not have this shape does not read: it is malformed,
//! never an empty artifact list.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::recipe::Surface;

/// A realisation's metadata: which recipe built the output, and its artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealisationMeta {
    pub recipe: String,
    pub surface: Surface,
    pub artifacts: Vec<Artifact>,
}

/// One artifact of an output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Name in `dist/`.
    pub file: String,
    /// Path inside the store output ("" = the output itself).
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// A directory (copied as a tree into `dist/<file>/`).
    #[serde(default)]
    pub directory: bool,
    /// What the surface knows of it beyond its bytes (npm integrity and
    /// dist-tag, image digest, …); stored as the member `extra`.
    #[serde(
        rename = "extra",
        default,
        skip_serializing_if = "ArtifactFacts::is_empty"
    )]
    pub facts: ArtifactFacts,
    /// For a directory artifact: the SHA-256 (hex) of files the surface
    /// digested as it wrote them, by path relative to the artifact (an
    /// image layout's blobs are named by theirs). Provenance hashes only
    /// the others. Not stored.
    #[serde(skip)]
    pub files: BTreeMap<String, String>,
}

/// The facts of one artifact, by the surface that knows them. Each group
/// is present only for its kind of artifact; their members are flat in the
/// JSON (`extra`), in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactFacts {
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub npm: Option<NpmFacts>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageFacts>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub crate_: Option<CrateFacts>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PythonFacts>,
    /// What the surface warned about as it built it (a base image layer's
    /// hazards, an npm `files` entry that matches nothing), every untrusted
    /// name already escaped ([`crate::name::Shown`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ArtifactFacts {
    pub fn is_empty(&self) -> bool {
        *self == ArtifactFacts::default()
    }
}

/// An npm tarball: what `npm publish` would send with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NpmFacts {
    /// Subresource integrity (`sha512-<base64>`).
    pub integrity: String,
    /// SHA-1 (hex) of the tarball.
    pub shasum: String,
    pub npm_name: String,
    /// The version spelling in its `package.json`.
    pub npm_version: String,
    /// The dist-tag this version is published under.
    pub dist_tag: String,
}

/// An OCI image layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// `sha256:<hex>` of the top manifest (or index).
    pub manifest_digest: String,
    pub repository: String,
    pub tags: Vec<String>,
}

/// A `.crate` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrateFacts {
    pub crate_name: String,
    /// The version spelling in its `Cargo.toml`.
    pub crate_version: String,
}

/// A Python sdist or wheel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonFacts {
    pub python_name: String,
    /// The version spelling in its metadata.
    pub python_version: String,
    /// The PEP 517 backend that built it (backend mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_backend: Option<String>,
    /// Where the backend's environment was kept, when it came from a
    /// declared directory of wheels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_backend_environment: Option<String>,
    /// That environment's wheels, `<file> sha256:<hex>` each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_backend_wheels: Option<Vec<String>>,
    /// A wheel's `<python>-<abi>-<platform>` tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheel_tag: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records written before these types existed read back, and write
    /// again byte for byte.
    #[test]
    fn recorded_metadata_reads_and_writes_the_same_bytes() {
        for text in [
            r#"{"recipe":"web","surface":"npm","artifacts":[{"file":"web-1.0.0.tgz","path":"","sha256":"aa","size":3,"directory":false,"extra":{"integrity":"sha512-x","shasum":"bb","npm_name":"web","npm_version":"1.0.0","dist_tag":"latest","warnings":["w"]}}]}"#,
            r#"{"recipe":"img","surface":"oci","artifacts":[{"file":"img.oci","path":"oci","sha256":"aa","size":3,"directory":true,"extra":{"manifest_digest":"sha256:cc","repository":"r","tags":["1.0"]}},{"file":"img.docker.tar","path":"d","sha256":"aa","size":3,"directory":false}]}"#,
            r#"{"recipe":"c","surface":"crate","artifacts":[{"file":"c-1.0.0.crate","path":"c-1.0.0.crate","sha256":"aa","size":3,"directory":false,"extra":{"crate_name":"c","crate_version":"1.0.0"}}]}"#,
            r#"{"recipe":"w","surface":"wheel","artifacts":[{"file":"w-1-py3-none-any.whl","path":"","sha256":"aa","size":3,"directory":false,"extra":{"python_name":"w","python_version":"1","python_backend":"hatchling.build","python_backend_environment":"/s/e","python_backend_wheels":["h.whl sha256:dd"],"wheel_tag":"py3-none-any"}}]}"#,
            r#"{"recipe":"s","surface":"sdist","artifacts":[{"file":"s-1.tar.gz","path":"","sha256":"aa","size":3,"directory":false,"extra":{"python_name":"s","python_version":"1"}}]}"#,
        ] {
            let meta: RealisationMeta = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&meta).unwrap(), text);
        }
    }

    #[test]
    fn metadata_without_its_artifacts_does_not_read() {
        for text in [
            r#"{"recipe":"r","surface":"npm"}"#,
            r#"{"recipe":"r","surface":"npm","artifacts":3}"#,
            r#"{"recipe":"r","surface":"npm","artifacts":[{"file":"a"}]}"#,
            r#"{"recipe":"r","surface":"nope","artifacts":[]}"#,
        ] {
            assert!(
                serde_json::from_str::<RealisationMeta>(text).is_err(),
                "{text}"
            );
        }
    }

    /// A realisation record sealed with this store's key whose metadata
    /// has no artifact list is a malformed record naming its file (lookups
    /// ignore it and say so, `verify` reports it), never an output with no
    /// artifacts.
    #[test]
    fn a_realisation_whose_metadata_does_not_read_is_a_malformed_record() {
        use crate::store::trust::RecordKind;
        use crate::store::verify::Problem;
        use crate::store::{Notice, Store};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let stage = store.staging().unwrap();
        let out = stage.path().join("o.txt");
        std::fs::write(&out, "x\n").unwrap();
        let meta = RealisationMeta {
            recipe: "r".into(),
            surface: Surface::Tarball,
            artifacts: vec![],
        };
        let real = store
            .register_output("drv1", b"{}", &out, "o.txt", meta)
            .unwrap();
        assert!(store.realisation("drv1").unwrap().is_some());
        let mut v = serde_json::to_value(&real).unwrap();
        v["meta"] = serde_json::json!({"recipe": "r", "surface": "tarball"});
        let path = store.realisation_path("drv1");
        let bytes = store.write_key().unwrap().seal(RecordKind::Realisation, &v);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, bytes).unwrap();

        assert_eq!(store.realisation("drv1").unwrap(), None);
        let notices = store.take_notices();
        assert!(
            matches!(&notices[..], [Notice::Ignored { record, reason }]
                if *record == path && reason.contains("malformed")
                    && reason.contains("missing field `artifacts`")),
            "{notices:?}"
        );
        assert!(store.realisations().unwrap().is_empty());
        let report = store.verify(false).unwrap();
        assert!(
            report.findings.iter().any(|f| f.path == path
                && matches!(&f.problem, Problem::Malformed { error } if error.contains("artifacts"))),
            "{report:?}"
        );
    }
}
