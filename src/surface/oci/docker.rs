//! The `docker load` archive of one image: a tar of the config as
//! `<config hex>.json`, each layer blob *as the layout stores it* as
//! `<blob hex>.tar.gz`, `.tar.zst` or `.tar`, and `manifest.json` =
//! `[{"Config":…,"RepoTags":[…],"Layers":[…]}]`.
//!
//! The layers are the layout's own blobs, copied — not decompressed again:
//! `docker load`, `podman load` and `skopeo` (containers/image) detect a
//! compressed layer file and decompress it while loading, checking it
//! against the config's `diff_ids`. So the archive costs one read of the
//! compressed blobs, and its layers are byte for byte those the manifest
//! names. (zstd layers need Docker 23 or later; podman and skopeo read them.)
//! Entries: GNU headers, mode 0444, mtime 0, owner 0/0 — no time or host
//! leaks, like skopeo's own archives.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::blobs::Digest;
use super::json::{canonical, MediaType};
use super::OciError;
use crate::archive::tar::{Dialect, TarWriter};

/// One layer as the archive needs it: its blob in the layout.
#[derive(Debug, Clone)]
pub(crate) struct DockerLayer {
    pub blob: PathBuf,
    pub media_type: MediaType,
    pub digest: Digest,
    pub size: u64,
}

impl DockerLayer {
    /// The archive entry's name: the blob digest, with the extension of
    /// its compression.
    fn name(&self) -> String {
        use crate::recipe::oci::LayerCompression as C;
        let ext = match self.media_type.layer_kind().flatten() {
            Some(C::Gzip) => "tar.gz",
            Some(C::Zstd) => "tar.zst",
            None => "tar",
        };
        format!("{}.{ext}", self.digest.hex())
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: &'a [String],
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// Write the archive to `path`; returns its sha256 (hex) and size.
pub(crate) fn write(
    path: &Path,
    config: &[u8],
    config_digest: &Digest,
    layers: &[DockerLayer],
    repo_tags: &[String],
) -> Result<(String, u64), OciError> {
    let io = |source| OciError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let out = super::blobs::Hashing::new(BufWriter::with_capacity(
        1 << 20,
        crate::fsutil::WriteBehind::new(file),
    ));
    let mut tar = TarWriter::new(out, Dialect::Gnu);
    let config_name = format!("{}.json", config_digest.hex());
    tar.append_file(&config_name, 0o444, 0, config)?;
    let mut names = Vec::new();
    for l in layers {
        let name = l.name();
        if !names.contains(&name) {
            let f = std::fs::File::open(&l.blob).map_err(|source| OciError::Io {
                path: l.blob.clone(),
                source,
            })?;
            tar.append_file_from(
                &name,
                0o444,
                0,
                l.size,
                BufReader::with_capacity(1 << 20, f),
            )?;
        }
        names.push(name);
    }
    let manifest = canonical(&[Entry {
        config: config_name,
        repo_tags,
        layers: names,
    }]);
    tar.append_file("manifest.json", 0o444, 0, &manifest)?;
    let mut w = tar.finish()?;
    w.flush().map_err(io)?;
    let (w, digest, size) = w.finish();
    // No fsync here: the store syncs every file of the output it registers.
    w.into_inner().map_err(|e| io(e.into_error()))?;
    Ok((digest.hex().to_string(), size))
}
