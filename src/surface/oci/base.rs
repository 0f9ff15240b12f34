//! Base images: an OCI image layout on disk, pinned by the digest of its
//! manifest (or of an image index, from which the wanted platform's manifest
//! is taken). The layout is untrusted input: every document and blob kiln
//! uses is checked against its digest, documents are size-limited, and a
//! blob path is only ever built from a parsed digest.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::blobs::{Blobs, Digest};
use super::json::{Descriptor, ImageConfig, Index, Manifest, MediaType, Platform};
use super::plan::BasePin;
use super::OciError;

/// Largest JSON document read from a base layout.
const MAX_DOC: u64 = 4 << 20;

/// A base image, verified.
#[derive(Debug, Clone)]
pub struct BaseImage {
    pub name: String,
    pub pinned: Digest,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub config: ImageConfig,
}

fn bad(pin: &BasePin, reason: impl Into<String>) -> OciError {
    OciError::Base {
        layout: pin.name.clone(),
        reason: reason.into(),
    }
}

fn blob_path(dir: &Path, d: &str) -> Option<PathBuf> {
    let d: Digest = d.parse().ok()?;
    Some(dir.join("blobs/sha256").join(d.hex()))
}

/// Open a file of the layout for reading ([`crate::fsutil::open_regular`]:
/// a blob linked to `/dev/zero` would never end). Returns it with its
/// size; `None` when it is missing.
fn open_file(
    pin_name: &str,
    path: &Path,
    what: &str,
) -> Result<Option<(std::fs::File, u64)>, OciError> {
    match crate::fsutil::open_regular(path) {
        Ok((f, meta)) => Ok(Some((f, meta.len()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Err(OciError::Base {
            layout: pin_name.to_string(),
            reason: format!("{what} {} {e}", path.display()),
        }),
        Err(source) => Err(OciError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn read_doc(pin: &BasePin, path: &Path, what: &str) -> Result<Vec<u8>, OciError> {
    let (f, len) = open_file(&pin.name, path, what)?
        .ok_or_else(|| bad(pin, format!("{what} {} is missing", path.display())))?;
    if len > MAX_DOC {
        return Err(bad(pin, format!("{what} is larger than {MAX_DOC} bytes")));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(MAX_DOC + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| OciError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > MAX_DOC {
        return Err(bad(pin, format!("{what} is larger than {MAX_DOC} bytes")));
    }
    Ok(bytes)
}

fn read_blob(pin: &BasePin, d: &Descriptor, what: &str) -> Result<Vec<u8>, OciError> {
    let path = blob_path(&pin.dir, &d.digest).ok_or_else(|| {
        bad(
            pin,
            format!("{what} digest {:?} is not sha256:<hex>", d.digest),
        )
    })?;
    let bytes = read_doc(pin, &path, what)?;
    if Digest::of(&bytes).as_str() != d.digest || bytes.len() as u64 != d.size {
        return Err(bad(
            pin,
            format!("{what} blob does not match its descriptor {}", d.digest),
        ));
    }
    Ok(bytes)
}

fn parse<T: serde::de::DeserializeOwned>(
    pin: &BasePin,
    bytes: &[u8],
    what: &str,
) -> Result<T, OciError> {
    serde_json::from_slice(bytes).map_err(|e| bad(pin, format!("{what} is not valid: {e}")))
}

/// Open and verify the pinned base image for `platform` (`None`: the only
/// image, or the only one of an index).
pub fn open(pin: &BasePin, platform: Option<&Platform>) -> Result<BaseImage, OciError> {
    let layout = read_doc(pin, &pin.dir.join("oci-layout"), "oci-layout")?;
    let v: serde_json::Value = parse(pin, &layout, "oci-layout")?;
    if v.get("imageLayoutVersion").and_then(|x| x.as_str()) != Some("1.0.0") {
        return Err(bad(
            pin,
            "oci-layout does not declare imageLayoutVersion 1.0.0",
        ));
    }
    let index: Index = parse(
        pin,
        &read_doc(pin, &pin.dir.join("index.json"), "index.json")?,
        "index.json",
    )?;
    let Some(top) = index
        .manifests
        .iter()
        .find(|d| d.digest == pin.digest.as_str())
    else {
        let found: Vec<&str> = index.manifests.iter().map(|d| d.digest.as_str()).collect();
        return Err(bad(
            pin,
            format!(
                "its index.json lists no image with the pinned digest {} (it lists: {}); the layout changed — check it and update the pin",
                pin.digest,
                if found.is_empty() { "nothing".to_string() } else { found.join(", ") }
            ),
        ));
    };
    let mut desc = top.clone();
    let mut bytes = read_blob(pin, &desc, "pinned document")?;
    if desc.media_type == MediaType::Index {
        let inner: Index = parse(pin, &bytes, "image index")?;
        let wanted: Vec<&Descriptor> = inner
            .manifests
            .iter()
            .filter(|d| d.media_type == MediaType::Manifest)
            .filter(|d| match platform {
                Some(p) => d.platform.as_ref() == Some(p),
                None => true,
            })
            .collect();
        desc = match wanted.as_slice() {
            [one] => (*one).clone(),
            _ => {
                return Err(bad(
                    pin,
                    format!(
                        "its image index has {} manifests for platform {}; name one platform in `oci.platforms`",
                        wanted.len(),
                        platform.map_or("(any)".to_string(), |p| p.to_string())
                    ),
                ))
            }
        };
        bytes = read_blob(pin, &desc, "manifest")?;
    }
    if desc.media_type != MediaType::Manifest {
        return Err(bad(
            pin,
            format!(
                "the pinned document is a {:?}, not an image manifest",
                desc.media_type
            ),
        ));
    }
    let manifest: Manifest = parse(pin, &bytes, "manifest")?;
    let config: ImageConfig = parse(pin, &read_blob(pin, &manifest.config, "config")?, "config")?;
    if let Some(p) = platform {
        if (&config.os, &config.architecture) != (&p.os, &p.architecture) {
            return Err(bad(
                pin,
                format!(
                    "its config is for {}/{}, not {p}",
                    config.os, config.architecture
                ),
            ));
        }
    }
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(bad(
            pin,
            "its config lists a different number of diff_ids than the manifest has layers",
        ));
    }
    for l in &manifest.layers {
        if l.media_type.layer_kind().is_none() {
            return Err(bad(
                pin,
                format!(
                    "layer {} has media type {:?}, which kiln cannot reuse",
                    l.digest, l.media_type
                ),
            ));
        }
        l.digest.parse::<Digest>().map_err(|_| {
            bad(
                pin,
                format!("layer digest {:?} is not sha256:<hex>", l.digest),
            )
        })?;
    }
    Ok(BaseImage {
        name: pin.name.clone(),
        pinned: pin.digest.clone(),
        dir: pin.dir.clone(),
        manifest,
        config,
    })
}

impl BaseImage {
    /// The on-disk blob of a layer descriptor.
    pub fn layer_path(&self, d: &Descriptor) -> PathBuf {
        blob_path(&self.dir, &d.digest).expect("digests were checked in open")
    }

    /// Copy every layer byte for byte into `blobs`, checking digests and sizes.
    pub fn copy_layers(&self, blobs: &Blobs) -> Result<(), OciError> {
        for l in &self.manifest.layers {
            let src = self.layer_path(l);
            let (f, len) =
                open_file(&self.name, &src, "layer blob")?.ok_or_else(|| OciError::Base {
                    layout: self.name.clone(),
                    reason: format!("layer blob {} is missing", l.digest),
                })?;
            if len != l.size {
                return Err(OciError::Base {
                    layout: self.name.clone(),
                    reason: format!(
                        "layer blob {} has {len} bytes, its descriptor says {}",
                        l.digest, l.size
                    ),
                });
            }
            let mut w = blobs.writer().map_err(|source| OciError::Io {
                path: src.clone(),
                source,
            })?;
            // Never more than the descriptor's size, whatever the file does.
            std::io::copy(&mut f.take(l.size), &mut w).map_err(|source| OciError::Io {
                path: src.clone(),
                source,
            })?;
            let (digest, size) = w.commit().map_err(|source| OciError::Io {
                path: src.clone(),
                source,
            })?;
            if digest.as_str() != l.digest || size != l.size {
                let _ = std::fs::remove_file(blobs.path(&digest));
                return Err(OciError::Base {
                    layout: self.name.clone(),
                    reason: format!(
                        "layer blob {} does not match its digest (got {digest}, {size} bytes)",
                        l.digest
                    ),
                });
            }
        }
        Ok(())
    }
}

/// A reader of a layer's uncompressed tar.
pub fn uncompressed(path: &Path, media: MediaType) -> std::io::Result<Box<dyn Read>> {
    use super::schema::LayerCompression as C;
    let f = std::io::BufReader::with_capacity(256 << 10, std::fs::File::open(path)?);
    Ok(match media.layer_kind().flatten() {
        Some(C::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(f)),
        Some(C::Zstd) => Box::new(zstd::stream::read::Decoder::new(f)?),
        None => Box::new(f),
    })
}

/// Size and digest of a layer's uncompressed tar.
pub fn measure(path: &Path, media: MediaType) -> std::io::Result<(Digest, u64)> {
    let mut r = uncompressed(path, media)?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut r, &mut h)?;
    Ok((Digest::from_hasher(h), n))
}
