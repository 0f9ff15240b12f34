//! The `docker load` archive of one image (the layout `docker save` and
//! `skopeo copy … docker-archive:` write): a tar of the config as
//! `<config hex>.json`, each layer *uncompressed* as `<diff id hex>.tar`, and
//! `manifest.json` = `[{"Config":…,"RepoTags":[…],"Layers":[…]}]`.
//! Entries: GNU headers, mode 0444, mtime 0, owner 0/0 — no time or host
//! leaks, like skopeo's own archives.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::blobs::Digest;
use super::json::{canonical, MediaType};
use super::OciError;
use crate::archive::tar::{Dialect, TarWriter};

/// One layer as the archive needs it.
#[derive(Debug, Clone)]
pub struct DockerLayer {
    pub blob: PathBuf,
    pub media_type: MediaType,
    pub diff_id: Digest,
    pub tar_size: u64,
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
pub fn write(
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
    let out = super::blobs::Hashing::new(BufWriter::with_capacity(1 << 20, file));
    let mut tar = TarWriter::new(out, Dialect::Gnu);
    let config_name = format!("{}.json", config_digest.hex());
    tar.append_file(&config_name, 0o444, 0, config)?;
    let mut names = Vec::new();
    for l in layers {
        let name = format!("{}.tar", l.diff_id.hex());
        if !names.contains(&name) {
            let r = super::base::uncompressed(&l.blob, l.media_type).map_err(|source| {
                OciError::Io {
                    path: l.blob.clone(),
                    source,
                }
            })?;
            tar.append_file_from(&name, 0o444, 0, l.tar_size, r)?;
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
    w.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    Ok((digest.hex().to_string(), size))
}
