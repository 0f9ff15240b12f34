//! Provenance: an in-toto Statement v1 with a SLSA Provenance v1 predicate
//! for each output.
//!
//! The statement is derived only from the derivation and the output bytes, so
//! it is itself reproducible: no timestamps (`startedOn`/`finishedOn` are
//! omitted), no host names, no absolute paths. Keys are written in canonical
//! order (sorted), with a final newline.
//!
//! Where each entry of each artifact came from is recorded beside it
//! ([`origin`]) and named here by digest, as a `byproducts` descriptor.

pub(crate) mod origin;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::derive::{canonical_json, Derivation, DrvHash};

/// The in-toto statement type.
pub(crate) const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The SLSA provenance predicate type.
pub(crate) const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// kiln's build type URI.
pub(crate) const BUILD_TYPE: &str = "https://kiln.invalid/build/v1";

/// One file the statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subject {
    pub name: String,
    pub sha256: String,
}

/// Where the sources came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceInfo {
    /// Full git commit id, when the project is a git repository.
    pub commit: Option<String>,
    /// Whether the working tree (not the commit) was read.
    pub dirty: bool,
}

/// The build a statement and an origins record describe: its derivation
/// and the source it read. One output (a store path) can be placed by many
/// builds — a cache hit from another commit, another version whose docs
/// are byte-identical — and each gets its own statement naming its own
/// commit, version and derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuildKey {
    pub drv: DrvHash,
    pub source: SourceInfo,
}

impl BuildKey {
    /// The key's file-name token: 32 hex characters of a BLAKE3 digest of
    /// the derivation hash, the commit and the dirty flag.
    pub(crate) fn token(&self) -> String {
        let mut h = blake3::Hasher::new();
        h.update(b"kiln-build-1\0");
        h.update(self.drv.as_str().as_bytes());
        h.update(b"\0");
        h.update(self.source.commit.as_deref().unwrap_or("").as_bytes());
        h.update(if self.source.dirty {
            b"\0dirty"
        } else {
            b"\0clean"
        });
        crate::hash::hex(&h.finalize().as_bytes()[..16])
    }

    /// The build a statement describes, read back from it: its derivation,
    /// its `git+commit:` dependency and its `dirty` flag.
    pub(crate) fn of_statement(statement: &Value) -> Option<BuildKey> {
        let internal = statement.pointer("/predicate/buildDefinition/internalParameters")?;
        let drv = DrvHash::parse(internal.get("derivation")?.as_str()?)?;
        let dirty = internal.get("dirty")?.as_bool()?;
        let commit = statement
            .pointer("/predicate/buildDefinition/resolvedDependencies")?
            .as_array()?
            .iter()
            .find_map(|d| d.pointer("/digest/gitCommit").and_then(Value::as_str))
            .map(str::to_string);
        Some(BuildKey {
            drv,
            source: SourceInfo { commit, dirty },
        })
    }
}

/// Name of the per-entry provenance record in a statement's `byproducts`.
pub(crate) const ORIGINS_NAME: &str = "kiln-entry-origins.json";

/// Build the statement for `subjects` produced by `drv` (whose hash is
/// `drv_hash`); `origins` is the SHA-256 (hex) of the output's per-entry
/// provenance record, when there is one.
pub(crate) fn statement(
    drv: &Derivation,
    drv_hash: &DrvHash,
    source: &SourceInfo,
    subjects: &[Subject],
    origins: Option<&str>,
) -> Value {
    let subject: Vec<Value> = subjects
        .iter()
        .map(|s| json!({"name": s.name, "digest": {"sha256": s.sha256}}))
        .collect();
    let mut deps: Vec<Value> = Vec::new();
    if let Some(c) = &source.commit {
        deps.push(json!({"uri": format!("git+commit:{c}"), "digest": {"gitCommit": c}}));
    }
    deps.push(json!({
        "uri": format!("kiln-snapshot:{}", if drv.source_dir.is_empty() { "." } else { &drv.source_dir }),
        "digest": {"blake3": drv.source_digest.trim_start_matches("blake3:")},
    }));
    for (mount, i) in &drv.inputs {
        deps.push(json!({
            "name": mount,
            "uri": format!("kiln-store:{}", i.store_path),
            "digest": {"nixNarSha256": format!("sha256:{}", i.nar_hash.to_nix32())},
            "annotations": {"recipe": i.recipe, "derivation": i.drv.as_str()},
        }));
    }
    for t in &drv.tools {
        deps.push(json!({"name": t.name, "uri": format!("kiln-tool:{}", t.name), "digest": {"sha256": t.sha256},
            "annotations": {"version": t.version}}));
    }
    let builder: BTreeMap<&str, &String> =
        drv.builder.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut run_details = json!({
        "builder": {"id": format!("https://kiln.invalid/kiln@{}", env!("CARGO_PKG_VERSION")), "version": builder},
        "metadata": {"invocationId": drv_hash.as_str()},
    });
    if let Some(sha) = origins {
        run_details["byproducts"] = json!([{
            "name": ORIGINS_NAME,
            "uri": format!("kiln-origins:{}", drv_hash.as_str()),
            "digest": {"sha256": sha},
            "mediaType": "application/json",
        }]);
    }
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "recipe": drv.recipe,
                    "surface": drv.surface.as_str(),
                    "config": drv.config.to_value(),
                    "cell": drv.cell,
                    "versions": drv.versions.to_value(),
                },
                "internalParameters": {
                    "derivation": drv_hash.as_str(),
                    "sourceDateEpoch": drv.source_date_epoch.seconds(),
                    "sandbox": drv.isolation.as_str(),
                    "dirty": source.dirty,
                },
                "resolvedDependencies": deps,
            },
            "runDetails": run_details,
        },
    })
}

/// Canonical bytes of a statement, with a final newline.
pub(crate) fn to_bytes(statement: &Value) -> Vec<u8> {
    let mut b = canonical_json(statement);
    b.push(b'\n');
    b
}

/// The statement for one artifact of an output: `statement` (the output's,
/// as stored) with only the subjects that are that artifact — the file
/// `name`, or every file below `name/` for a directory artifact. Shared
/// build facts repeat in each artifact's statement.
pub(crate) fn for_artifact(statement: &[u8], name: &str) -> Result<Vec<u8>, serde_json::Error> {
    let mut v: Value = serde_json::from_slice(statement)?;
    let dir = format!("{name}/");
    if let Some(Value::Array(subjects)) = v.get_mut("subject") {
        subjects.retain(|s| {
            s.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n == name || n.starts_with(&dir))
        });
    }
    Ok(to_bytes(&v))
}

/// A statement's subjects as it is written: `{"name", "digest": {"sha256"}}`.
#[derive(serde::Deserialize)]
struct Written {
    subject: Vec<WrittenSubject>,
}

#[derive(serde::Deserialize)]
struct WrittenSubject {
    name: String,
    digest: WrittenDigest,
}

#[derive(serde::Deserialize)]
struct WrittenDigest {
    sha256: String,
}

/// The subjects of a statement as stored (the bytes [`to_bytes`] wrote); a
/// statement without them, or with a subject lacking its name or SHA-256,
/// does not read.
pub(crate) fn subjects(statement: &[u8]) -> Result<Vec<Subject>, serde_json::Error> {
    let written: Written = serde_json::from_slice(statement)?;
    Ok(written
        .subject
        .into_iter()
        .map(|s| Subject {
            name: s.name,
            sha256: s.digest.sha256,
        })
        .collect())
}

/// The SHA-256 (hex) of the per-entry provenance record a statement names,
/// if it names one.
pub(crate) fn origins_digest(statement: &Value) -> Option<&str> {
    statement
        .pointer("/predicate/runDetails/byproducts")?
        .as_array()?
        .iter()
        .find(|b| b.get("name").and_then(Value::as_str) == Some(ORIGINS_NAME))?
        .pointer("/digest/sha256")?
        .as_str()
}
