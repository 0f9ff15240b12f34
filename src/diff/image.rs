//! Container images: OCI image layouts (a directory or a tar holding
//! `oci-layout` and `index.json`) and docker archives (a tar whose
//! `manifest.json` lists `Config` and `Layers`).
//!
//! An image is compared by role, not by blob name (every digest changes when
//! anything does): the listing holds `index.json`, `manifest.json` and
//! `config.json` (compared key by key, so an annotation or config field is
//! named) and `layers/N` (compared as nested archives). With several
//! manifests, each one's entries sit under `manifests/N/`.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::budget::{cap, Cap, DiffError, Limits, SMALL};
use super::model::{hex, Entry, Format, Hazard, Kind, Listing, Name};

/// Where blobs come from.
trait Blobs {
    /// The bytes stored under `name` (`blobs/sha256/<hex>` or a docker
    /// archive path), if present.
    fn get(&self, name: &str) -> Result<Option<Arc<Vec<u8>>>, DiffError>;
}

struct TarBlobs<'a>(&'a Listing, &'a str, &'a Limits);

impl Blobs for TarBlobs<'_> {
    fn get(&self, name: &str) -> Result<Option<Arc<Vec<u8>>>, DiffError> {
        let want = name.trim_start_matches("./");
        let Some(e) = self.0.entries.iter().find(|e| {
            e.name
                .as_bytes()
                .strip_prefix(b"./")
                .unwrap_or(e.name.as_bytes())
                == want.as_bytes()
        }) else {
            return Ok(None);
        };
        match &e.data {
            Some(d) => Ok(Some(d.clone())),
            None if e.over_budget => Err(cap(self.1, Cap::Retained, self.2)),
            None => Err(DiffError::Malformed {
                at: self.1.into(),
                format: Format::Tar,
                detail: format!("image blob {} is neither small nor an archive", e.name),
            }),
        }
    }
}

struct DirBlobs<'a> {
    root: &'a Path,
    limits: &'a Limits,
    at: &'a str,
}

impl Blobs for DirBlobs<'_> {
    fn get(&self, name: &str) -> Result<Option<Arc<Vec<u8>>>, DiffError> {
        use std::io::Read;
        // `name` was checked by `blob_path`: fixed shape, no traversal; no
        // component of it is followed (`blobs` may be a link out).
        let p = self.root.join(name);
        let (file, m) = match super::input::open_inside(self.root, name.as_bytes()) {
            Ok(opened) => opened,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(DiffError::Malformed {
                    at: self.at.into(),
                    format: Format::OciLayout,
                    detail: format!("{name}: {e}"),
                })
            }
        };
        if m.len() > self.limits.max_entry_size {
            return Err(cap(self.at, Cap::EntrySize, self.limits));
        }
        let mut data = Vec::with_capacity(m.len() as usize);
        file.take(self.limits.max_entry_size + 1)
            .read_to_end(&mut data)
            .map_err(|source| DiffError::Io { path: p, source })?;
        if data.len() as u64 > self.limits.max_entry_size {
            return Err(cap(self.at, Cap::EntrySize, self.limits));
        }
        Ok(Some(Arc::new(data)))
    }
}

/// `blobs/<alg>/<hex>` for a digest, if it has the only accepted shape.
fn blob_path(digest: &str) -> Option<String> {
    let (alg, h) = digest.split_once(':')?;
    let ok = matches!(alg, "sha256" | "sha512")
        && !h.is_empty()
        && h.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    ok.then(|| format!("blobs/{alg}/{h}"))
}

fn bad(at: &str, format: Format, detail: impl Into<String>) -> DiffError {
    DiffError::Malformed {
        at: at.into(),
        format,
        detail: detail.into(),
    }
}

fn json(at: &str, format: Format, what: &str, b: &[u8]) -> Result<serde_json::Value, DiffError> {
    serde_json::from_slice(b).map_err(|e| bad(at, format, format!("{what}: {e}")))
}

fn blob_entry(name: String, data: Arc<Vec<u8>>) -> Entry {
    let keep = data.len() as u64 <= SMALL
        || super::sniff::sniff(&data[..data.len().min(512)]).is_container();
    Entry {
        name: Name(name.into_bytes()),
        kind: Some(Kind::File),
        size: data.len() as u64,
        sha256: Sha256::digest(&data[..]).into(),
        data: keep.then_some(data),
        ..Entry::default()
    }
}

/// The OCI listing from a store of blobs.
fn oci(blobs: &dyn Blobs, at: &str, limits: &Limits) -> Result<Listing, DiffError> {
    let f = Format::OciLayout;
    let mut l = Listing::new(f);
    let layout = blobs
        .get("oci-layout")?
        .ok_or_else(|| bad(at, f, "no oci-layout"))?;
    l.fields
        .insert("oci-layout".into(), Name(layout.to_vec()).to_string());
    let index_bytes = blobs
        .get("index.json")?
        .ok_or_else(|| bad(at, f, "no index.json"))?;
    let index = json(at, f, "index.json", &index_bytes)?;
    l.entries.push(blob_entry("index.json".into(), index_bytes));
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    if manifests.len() > limits.max_entries {
        return Err(cap(at, Cap::Entries, limits));
    }
    let several = manifests.len() > 1;
    let mut retained = 0u64;
    for (i, desc) in manifests.iter().enumerate() {
        let prefix = if several {
            format!("manifests/{i}/")
        } else {
            String::new()
        };
        let mut fetch = |desc: &serde_json::Value,
                         role: String,
                         l: &mut Listing|
         -> Result<Option<Arc<Vec<u8>>>, DiffError> {
            let digest = desc["digest"].as_str().unwrap_or_default();
            let Some(path) = blob_path(digest) else {
                l.hazards.push(Hazard {
                    entry: role,
                    issue: format!("descriptor digest {} is malformed", Name::from(digest)),
                });
                return Ok(None);
            };
            let Some(data) = blobs.get(&path)? else {
                l.hazards.push(Hazard {
                    entry: role,
                    issue: format!("blob {path} is missing"),
                });
                return Ok(None);
            };
            if digest.starts_with("sha256:") && hex(&Sha256::digest(&data[..])) != digest[7..] {
                l.hazards.push(Hazard {
                    entry: role.clone(),
                    issue: format!("blob {path} does not hash to its digest"),
                });
            }
            if desc["size"].as_u64() != Some(data.len() as u64) {
                l.hazards.push(Hazard {
                    entry: role.clone(),
                    issue: format!(
                        "descriptor size {} but blob has {} bytes",
                        desc["size"],
                        data.len()
                    ),
                });
            }
            retained += data.len() as u64;
            if retained > limits.max_retained {
                return Err(cap(at, Cap::Retained, limits));
            }
            Ok(Some(data))
        };
        let Some(mbytes) = fetch(desc, format!("{prefix}manifest.json"), &mut l)? else {
            continue;
        };
        let manifest = json(at, f, "manifest", &mbytes)?;
        l.entries
            .push(blob_entry(format!("{prefix}manifest.json"), mbytes));
        if let Some(cbytes) = fetch(&manifest["config"], format!("{prefix}config.json"), &mut l)? {
            l.entries
                .push(blob_entry(format!("{prefix}config.json"), cbytes));
        }
        let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
        if layers.len() > limits.max_entries {
            return Err(cap(at, Cap::Entries, limits));
        }
        for (j, layer) in layers.iter().enumerate() {
            let role = format!("{prefix}layers/{j}");
            if let Some(b) = fetch(layer, role.clone(), &mut l)? {
                l.entries.push(blob_entry(role, b));
            }
        }
    }
    Ok(l)
}

/// The docker-archive listing.
fn docker(
    blobs: &dyn Blobs,
    manifest_bytes: Arc<Vec<u8>>,
    at: &str,
    limits: &Limits,
) -> Result<Listing, DiffError> {
    let f = Format::DockerArchive;
    let mut l = Listing::new(f);
    let manifest = json(at, f, "manifest.json", &manifest_bytes)?;
    l.entries
        .push(blob_entry("manifest.json".into(), manifest_bytes));
    let items = manifest.as_array().cloned().unwrap_or_default();
    if items.len() > limits.max_entries {
        return Err(cap(at, Cap::Entries, limits));
    }
    let several = items.len() > 1;
    for (i, item) in items.iter().enumerate() {
        let prefix = if several {
            format!("images/{i}/")
        } else {
            String::new()
        };
        let get = |path: &str, role: String, l: &mut Listing| -> Result<(), DiffError> {
            match blobs.get(path)? {
                Some(b) => l.entries.push(blob_entry(role, b)),
                None => l.hazards.push(Hazard {
                    entry: role,
                    issue: format!("{} is missing", Name::from(path)),
                }),
            }
            Ok(())
        };
        if let Some(c) = item["Config"].as_str() {
            get(c, format!("{prefix}config.json"), &mut l)?;
        }
        for (j, layer) in item["Layers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(p) = layer.as_str() {
                get(p, format!("{prefix}layers/{j}"), &mut l)?;
            }
        }
    }
    if let Some(r) = blobs.get("repositories")? {
        l.entries.push(blob_entry("repositories".into(), r));
    }
    Ok(l)
}

/// An OCI layout directory.
pub(crate) fn read_oci_dir(root: &Path, at: &str, limits: &Limits) -> Result<Listing, DiffError> {
    oci(&DirBlobs { root, limits, at }, at, limits)
}

/// The image view of a tar listing, if the tar is an OCI archive or a docker
/// archive. The tar's own hazards are kept.
pub(crate) fn from_tar(
    tar: &Listing,
    at: &str,
    limits: &Limits,
) -> Result<Option<Listing>, DiffError> {
    let blobs = TarBlobs(tar, at, limits);
    let has = |n: &str| {
        tar.entries.iter().any(|e| {
            e.name
                .as_bytes()
                .strip_prefix(b"./")
                .unwrap_or(e.name.as_bytes())
                == n.as_bytes()
        })
    };
    let mut img = if has("oci-layout") && has("index.json") {
        oci(&blobs, at, limits)?
    } else if has("manifest.json") {
        let Some(m) = blobs.get("manifest.json")? else {
            return Ok(None);
        };
        match serde_json::from_slice::<serde_json::Value>(&m) {
            Ok(v)
                if v.as_array()
                    .is_some_and(|a| a.iter().all(|i| i.get("Layers").is_some())) =>
            {
                docker(&blobs, m, at, limits)?
            }
            _ => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    img.fields
        .insert("image.transport".into(), tar.format.to_string());
    for (k, v) in &tar.fields {
        img.fields.insert(k.clone(), v.clone());
    }
    img.hazards.extend(tar.hazards.iter().cloned());
    img.compressed = tar.compressed.clone();
    Ok(Some(img))
}
