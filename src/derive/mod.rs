//! Derivations: the canonical, fully resolved description of one build.
//!
//! A derivation holds everything that can change an output — the surface and
//! its configuration, the snapshot digest, the version spellings, the
//! `SOURCE_DATE_EPOCH`, the NAR hashes of input outputs, tool identities, the
//! sandbox mode and the identity of kiln's own writers — and nothing that must
//! not: no absolute path, no user, no clock, no file mtimes. Its canonical
//! encoding is JSON with keys sorted by bytes, no insignificant whitespace and
//! no floats; the blake3 of those bytes (hex) is the cache key.
//!
//! ```text
//! {"builder":{…},"inputs":{},"name":"docs-bundle","recipe":"docs-bundle",…}
//! ```

use std::collections::BTreeMap;

use serde_json::Value;

/// Version of the derivation format itself; bump when the encoding changes.
pub const FORMAT: u64 = 1;

/// An input of a derivation: another recipe's registered output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRef {
    pub recipe: String,
    pub drv: String,
    pub store_path: String,
    /// `sha256:<nixbase32>` NAR hash of the input's output.
    pub nar_hash: String,
}

/// A tool's identity as it enters a derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRef {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// One resolved build.
#[derive(Debug, Clone)]
pub struct Derivation {
    /// Store-path-safe name of the output.
    pub name: String,
    /// The recipe id (with matrix cell).
    pub recipe: String,
    pub surface: String,
    /// The recipe's settings, as written (serialised schema).
    pub config: Value,
    /// Matrix cell values.
    pub cell: BTreeMap<String, String>,
    /// Source directory relative to the project root.
    pub source_dir: String,
    /// Digest of the selected snapshot files.
    pub source_digest: String,
    pub source_files: usize,
    /// Version spellings the build uses (target → string).
    pub versions: BTreeMap<String, String>,
    pub source_date_epoch: i64,
    pub inputs: BTreeMap<String, InputRef>,
    pub tools: Vec<ToolRef>,
    /// Identity of the builder: kiln's version, writer versions, compressor.
    pub builder: BTreeMap<String, String>,
    /// `bubblewrap` or `none` for command surfaces; `native` otherwise.
    pub sandbox: String,
}

impl Derivation {
    /// The derivation as a JSON value (map order irrelevant: see [`canonical_json`]).
    pub fn to_value(&self) -> Value {
        let inputs: serde_json::Map<String, Value> = self
            .inputs
            .iter()
            .map(|(k, i)| {
                (
                    k.clone(),
                    serde_json::json!({
                        "recipe": i.recipe, "drv": i.drv, "store_path": i.store_path, "nar_hash": i.nar_hash,
                    }),
                )
            })
            .collect();
        let tools: Vec<Value> = self
            .tools
            .iter()
            .map(|t| serde_json::json!({"name": t.name, "version": t.version, "sha256": t.sha256}))
            .collect();
        serde_json::json!({
            "kiln_derivation": FORMAT,
            "name": self.name,
            "recipe": self.recipe,
            "surface": self.surface,
            "config": self.config,
            "cell": self.cell,
            "source": {"dir": self.source_dir, "digest": self.source_digest, "files": self.source_files},
            "versions": self.versions,
            "source_date_epoch": self.source_date_epoch,
            "inputs": Value::Object(inputs),
            "tools": tools,
            "builder": self.builder,
            "sandbox": self.sandbox,
        })
    }

    /// Canonical bytes (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical_json(&self.to_value())
    }

    /// The cache key: blake3 of the canonical bytes, hex.
    pub fn hash(&self) -> String {
        blake3::hash(&self.canonical_bytes()).to_hex().to_string()
    }
}

/// Serialise a JSON value canonically: object keys sorted by their UTF-8
/// bytes, no whitespace, serde_json's string escaping. Floats never occur in
/// derivations; should one appear it is written as serde_json writes it.
pub fn canonical_json(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&serde_json::to_vec(k).expect("string serialises"));
                out.push(b':');
                write_canonical(&m[*k], out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out);
            }
            out.push(b']');
        }
        other => out.extend_from_slice(&serde_json::to_vec(other).expect("scalar serialises")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Derivation {
        Derivation {
            name: "docs".into(),
            recipe: "docs".into(),
            surface: "tarball".into(),
            config: serde_json::json!({"b": 1, "a": [true, null, "x"]}),
            cell: BTreeMap::new(),
            source_dir: "docs".into(),
            source_digest: "blake3:00".into(),
            source_files: 3,
            versions: [("plain".to_string(), "1.0.0".to_string())]
                .into_iter()
                .collect(),
            source_date_epoch: 315532800,
            inputs: BTreeMap::new(),
            tools: vec![],
            builder: [("kiln".to_string(), "0.1.0".to_string())]
                .into_iter()
                .collect(),
            sandbox: "native".into(),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = serde_json::json!({"z": {"b": 1, "a": 2}, "a": [ {"y": 1, "x": 2} ]});
        assert_eq!(
            canonical_json(&v),
            br#"{"a":[{"x":2,"y":1}],"z":{"a":2,"b":1}}"#.to_vec()
        );
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = sample().hash();
        let mut variants: Vec<Derivation> = Vec::new();
        let mut d = sample();
        d.source_digest = "blake3:01".into();
        variants.push(d);
        let mut d = sample();
        d.versions.insert("plain".into(), "1.0.1".into());
        variants.push(d);
        let mut d = sample();
        d.source_date_epoch += 1;
        variants.push(d);
        let mut d = sample();
        d.inputs.insert(
            "bin".into(),
            InputRef {
                recipe: "b".into(),
                drv: "d".into(),
                store_path: "p".into(),
                nar_hash: "h".into(),
            },
        );
        variants.push(d);
        let mut d = sample();
        d.tools.push(ToolRef {
            name: "cargo".into(),
            version: "1".into(),
            sha256: "00".into(),
        });
        variants.push(d);
        let mut d = sample();
        d.builder.insert("deflate".into(), "zlib-rs".into());
        variants.push(d);
        let mut d = sample();
        d.config = serde_json::json!({"b": 2});
        variants.push(d);
        let mut d = sample();
        d.sandbox = "none".into();
        variants.push(d);
        for v in variants {
            assert_ne!(v.hash(), base);
        }
        assert_eq!(sample().hash(), base);
    }
}
