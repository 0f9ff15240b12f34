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

pub(crate) mod config;
pub(crate) mod epoch;
pub(crate) mod system;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::hash::Sha256;
use crate::nix::store_path::StorePath;
use crate::recipe::Surface;
use crate::sandbox::SandboxMode;

pub use config::Config;
pub use epoch::{EpochError, EpochOrigin, SourceDateEpoch};
pub use system::{System, UnknownSystem};

/// Version of the derivation format itself (the `kiln_derivation` field).
/// Every cache key changes with it: bump it only as a deliberate decision
/// (the golden test in `tests/formats/golden_derivation.rs` pins the bytes).
/// 2: unset recipe keys are left out of `config` (adding a recipe key to
/// kiln no longer changes every existing derivation).
/// 3: the `system` a derivation is built for is part of it.
pub const FORMAT: u64 = 3;

/// A derivation's hash: the blake3 of its canonical bytes, 64 hex digits.
/// It is the cache key and names locks, logs and realisations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DrvHash(String);

impl DrvHash {
    /// The hash of canonical derivation bytes.
    pub fn of(canonical: &[u8]) -> DrvHash {
        DrvHash(blake3::hash(canonical).to_hex().to_string())
    }

    /// A hash as written in a record or statement: 64 lowercase hex digits.
    pub fn parse(s: &str) -> Option<DrvHash> {
        (s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| DrvHash(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 hex digits, as `kiln plan` prints them.
    pub fn short(&self) -> &str {
        &self.0[..16]
    }
}

impl std::fmt::Display for DrvHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The version spellings a build uses, one field per ecosystem.
/// `artifact` is the spelling of the recipe's own surface; the others are
/// what stamped manifests carry (absent when the version has no spelling
/// there, e.g. a PEP 440 post release for cargo).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions {
    pub artifact: String,
    pub cargo: Option<String>,
    pub npm: Option<String>,
    pub pypi: Option<String>,
    /// OCI recipes: every tag the image is published under (the version's
    /// OCI spelling, then alias and channel tags), in order.
    pub oci_tags: Vec<String>,
    /// OCI recipes: the clean commit the image is built from (its
    /// `org.opencontainers.image.revision`), if any.
    pub revision: Option<String>,
    /// OCI recipes of a post release: the base release's spelling (the
    /// `{release}` of the recipe's templates). Not written: it follows
    /// from `artifact`.
    pub release: Option<String>,
}

impl Versions {
    /// As written in derivations and provenance: `{"artifact": …, "cargo": …}`.
    pub fn to_value(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("artifact".into(), Value::String(self.artifact.clone()));
        for (k, v) in [
            ("cargo", &self.cargo),
            ("npm", &self.npm),
            ("pypi", &self.pypi),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v.clone()));
            }
        }
        // Present only for the surfaces that use them, so other derivations
        // (and their cache keys) do not change.
        if !self.oci_tags.is_empty() {
            m.insert("oci-tags".into(), Value::String(self.oci_tags.join(" ")));
        }
        if let Some(rev) = &self.revision {
            m.insert("revision".into(), Value::String(rev.clone()));
        }
        Value::Object(m)
    }
}

/// How the build's processes are isolated, as recorded in the derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// kiln's own writers; no process runs.
    Native,
    /// A process surface, run in this sandbox mode.
    Process(SandboxMode),
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Native => "native",
            Isolation::Process(m) => m.as_str(),
        }
    }
}

/// An input of a derivation: another recipe's registered output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRef {
    pub recipe: String,
    pub drv: DrvHash,
    pub store_path: StorePath,
    /// NAR sha256 of the input's output (written `sha256:<nixbase32>`).
    pub nar_hash: Sha256,
}

/// A tool's identity as it enters a derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRef {
    pub name: String,
    pub version: String,
    /// Lowercase hex sha256 of the real binary.
    pub sha256: String,
    /// What the tool loads: `(DT_NEEDED name, sha256)` of each library of
    /// its ELF closure, sorted by name (written only when not empty).
    pub libs: Vec<(String, String)>,
    /// A Python interpreter's standard library digest.
    pub stdlib: Option<String>,
    /// A Python interpreter's C headers digest (written only when known).
    pub headers: Option<String>,
    /// A venv tool's site-packages digest.
    pub venv: Option<String>,
}

impl ToolRef {
    /// A tool reference with only a name, version and digest (a backend
    /// distribution, a test's stand-in).
    pub fn plain(name: String, version: String, sha256: String) -> ToolRef {
        ToolRef {
            name,
            version,
            sha256,
            libs: Vec::new(),
            stdlib: None,
            headers: None,
            venv: None,
        }
    }

    /// The derivation's entry for a resolved tool: its name, version,
    /// binary digest and what it loads (never its host path).
    pub fn of_tool(t: &crate::sandbox::Tool) -> ToolRef {
        ToolRef {
            name: t.name.clone(),
            version: t.version.clone(),
            sha256: t.sha256.clone(),
            libs: t
                .libs
                .iter()
                .map(|l| (l.name.clone(), l.sha256.clone()))
                .collect(),
            stdlib: t.stdlib.clone(),
            headers: t.headers.as_ref().map(|h| h.digest.clone()),
            venv: t.venv.as_ref().map(|v| v.site_packages.clone()),
        }
    }

    fn to_value(&self) -> Value {
        let mut v = json!({"name": self.name, "version": self.version, "sha256": self.sha256});
        if let Value::Object(m) = &mut v {
            if !self.libs.is_empty() {
                let libs: Vec<Value> = self
                    .libs
                    .iter()
                    .map(|(n, d)| json!({"name": n, "sha256": d}))
                    .collect();
                m.insert("libs".into(), Value::Array(libs));
            }
            if let Some(s) = &self.stdlib {
                m.insert("stdlib".into(), Value::String(s.clone()));
            }
            if let Some(s) = &self.headers {
                m.insert("headers".into(), Value::String(s.clone()));
            }
            if let Some(s) = &self.venv {
                m.insert("venv_site_packages".into(), Value::String(s.clone()));
            }
        }
        v
    }
}

/// One resolved build.
#[derive(Debug, Clone)]
pub struct Derivation {
    /// Store-path-safe name of the output.
    pub name: String,
    /// The recipe id (with matrix cell).
    pub recipe: String,
    pub surface: Surface,
    /// The recipe's settings, as written, and what kiln adds to them.
    pub config: Config,
    /// Matrix cell values.
    pub cell: BTreeMap<String, String>,
    /// Source directory relative to the project root.
    pub source_dir: String,
    /// Digest of the selected snapshot files.
    pub source_digest: String,
    pub source_files: usize,
    pub versions: Versions,
    pub source_date_epoch: SourceDateEpoch,
    pub inputs: BTreeMap<String, InputRef>,
    pub tools: Vec<ToolRef>,
    /// Identity of the builder: kiln's version, writer versions, compressor.
    pub builder: BTreeMap<String, String>,
    pub isolation: Isolation,
    /// The system it is built for ([`System`]): only a machine that
    /// declares it builds it.
    pub system: System,
}

impl Derivation {
    /// The derivation as a JSON value (map order irrelevant: see [`canonical_json`]).
    /// The epoch's origin is not part of it: only its value changes outputs.
    pub fn to_value(&self) -> Value {
        let inputs: serde_json::Map<String, Value> = self
            .inputs
            .iter()
            .map(|(k, i)| {
                (
                    k.clone(),
                    json!({
                        "recipe": i.recipe,
                        "drv": i.drv.as_str(),
                        "store_path": i.store_path.to_string(),
                        "nar_hash": format!("sha256:{}", i.nar_hash.to_nix32()),
                    }),
                )
            })
            .collect();
        let tools: Vec<Value> = self.tools.iter().map(ToolRef::to_value).collect();
        json!({
            "kiln_derivation": FORMAT,
            "name": self.name,
            "recipe": self.recipe,
            "surface": self.surface.as_str(),
            "config": self.config.to_value(),
            "cell": self.cell,
            "source": {"dir": self.source_dir, "digest": self.source_digest, "files": self.source_files},
            "versions": self.versions.to_value(),
            "source_date_epoch": self.source_date_epoch.seconds(),
            "inputs": Value::Object(inputs),
            "tools": tools,
            "builder": self.builder,
            "sandbox": self.isolation.as_str(),
            "system": self.system.as_str(),
        })
    }

    /// Canonical bytes (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical_json(&self.to_value())
    }

    /// The cache key: blake3 of the canonical bytes, hex.
    pub fn hash(&self) -> DrvHash {
        DrvHash::of(&self.canonical_bytes())
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
            surface: Surface::Tarball,
            config: Config {
                settings: serde_json::from_value(
                    serde_json::json!({"b": 1, "a": [true, null, "x"]}),
                )
                .unwrap(),
                vcs_commit: None,
            },
            cell: BTreeMap::new(),
            source_dir: "docs".into(),
            source_digest: "blake3:00".into(),
            source_files: 3,
            versions: Versions {
                artifact: "1.0.0".into(),
                ..Versions::default()
            },
            source_date_epoch: SourceDateEpoch::resolve(None, None, None, None),
            inputs: BTreeMap::new(),
            tools: vec![],
            builder: [("kiln".to_string(), "0.1.0".to_string())]
                .into_iter()
                .collect(),
            isolation: Isolation::Native,
            system: System::parse("x86_64-linux").unwrap(),
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
        d.versions.artifact = "1.0.1".into();
        variants.push(d);
        let mut d = sample();
        d.source_date_epoch = SourceDateEpoch::resolve(None, Some(315532801), None, None);
        variants.push(d);
        let mut d = sample();
        d.inputs.insert(
            "bin".into(),
            InputRef {
                recipe: "b".into(),
                drv: DrvHash::of(b"d"),
                store_path: "if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt".parse().unwrap(),
                nar_hash: Sha256::digest(b"h"),
            },
        );
        variants.push(d);
        let mut d = sample();
        d.tools
            .push(ToolRef::plain("cargo".into(), "1".into(), "00".into()));
        variants.push(d);
        let mut d = sample();
        let mut t = ToolRef::plain("cargo".into(), "1".into(), "00".into());
        t.libs.push(("libc.so.6".into(), "11".into()));
        d.tools.push(t);
        variants.push(d);
        let mut d = sample();
        let mut t = ToolRef::plain("cargo".into(), "1".into(), "00".into());
        t.libs.push(("libc.so.6".into(), "12".into()));
        d.tools.push(t);
        variants.push(d);
        let mut d = sample();
        let mut t = ToolRef::plain("python3".into(), "1".into(), "00".into());
        t.stdlib = Some("11".into());
        d.tools.push(t);
        variants.push(d);
        let mut d = sample();
        let mut t = ToolRef::plain("python3".into(), "1".into(), "00".into());
        t.headers = Some("11".into());
        d.tools.push(t);
        variants.push(d);
        let mut d = sample();
        let mut t = ToolRef::plain("python3".into(), "1".into(), "00".into());
        t.venv = Some("11".into());
        d.tools.push(t);
        variants.push(d);
        let mut d = sample();
        d.builder.insert("deflate".into(), "zlib-rs".into());
        variants.push(d);
        let mut d = sample();
        d.config.settings = serde_json::from_value(serde_json::json!({"b": 2})).unwrap();
        variants.push(d);
        let mut d = sample();
        d.config.vcs_commit = Some("4b825dc642cb6eb9a060e54bf8d69288fbee4904".into());
        variants.push(d);
        let mut d = sample();
        d.isolation = Isolation::Process(SandboxMode::None);
        variants.push(d);
        let mut d = sample();
        d.system = System::parse("aarch64-linux").unwrap();
        variants.push(d);
        for v in variants {
            assert_ne!(v.hash(), base);
        }
        assert_eq!(sample().hash(), base);
    }
}
