//! Base images: an OCI image layout on disk, pinned by the digest of its
//! manifest (or of an image index, from which the wanted platform's manifest
//! is taken). The layout is untrusted input: every document and blob kiln
//! uses is checked against its digest, documents are size-limited, a blob
//! path is only ever built from a parsed digest, and every file is opened
//! below the layout directory one component at a time without following a
//! link (`openat` with `O_NOFOLLOW`), so a committed `blobs` linked to a host
//! directory is refused instead of read. Each layer's members are judged
//! while its `diff_id` is taken ([`check_layers`], [`super::hazards`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::blobs::{Blobs, Digest};
use super::json::{Descriptor, ImageConfig, Index, Manifest, MediaType, Platform};
use super::plan::BasePin;
use super::OciError;

/// Largest JSON document read from a base layout.
const MAX_DOC: u64 = 4 << 20;

/// A base image, verified.
#[derive(Debug, Clone)]
pub(crate) struct BaseImage {
    pub name: String,
    pub pinned: Digest,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub config: ImageConfig,
    /// `allow-unsafe-base-names`.
    pub allow_unsafe_names: bool,
}

fn bad(pin: &BasePin, reason: impl Into<String>) -> OciError {
    OciError::Base {
        layout: pin.name.clone(),
        reason: reason.into(),
    }
}

/// A blob's path inside the layout, built only from a parsed digest.
fn blob_rel(d: &str) -> Option<String> {
    let d: Digest = d.parse().ok()?;
    Some(format!("blobs/sha256/{}", d.hex()))
}

/// Why the directory `name` in `at` cannot be entered: it is a link (the
/// layout would be read from wherever it points) or no directory.
fn not_a_dir(
    layout: &str,
    at: impl rustix::fd::AsFd,
    name: impl rustix::path::Arg,
    component: &str,
) -> OciError {
    use rustix::fs::{statat, AtFlags, FileType};
    let link = statat(at, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
    let what = if link {
        "is a symbolic link"
    } else {
        "is not a directory"
    };
    OciError::Base {
        layout: layout.to_string(),
        reason: format!(
            "{} {what}; a base layout is read only inside the snapshot, through real directories",
            crate::name::Shown(component)
        ),
    }
}

fn errno_io(path: &Path, e: rustix::io::Errno) -> OciError {
    OciError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// Open `rel` (`oci-layout`, `blobs/sha256/<hex>`) below the layout
/// directory `dir` one component at a time, `openat` with `O_NOFOLLOW`:
/// the layout directory and every directory below it must be real
/// directories (a committed `blobs` linked to a host directory is refused,
/// naming it), and the file a regular file ([`crate::fsutil::open_regular`]'s
/// rule: a blob linked to `/dev/zero` would never end). Returns the file
/// with its size; `None` when it is missing.
fn open_file(
    pin_name: &str,
    dir: &Path,
    rel: &str,
    what: &str,
) -> Result<Option<(std::fs::File, u64)>, OciError> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    use rustix::io::Errno;
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut at = match openat(CWD, dir, dir_flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP | Errno::NOTDIR) => return Err(not_a_dir(pin_name, CWD, dir, pin_name)),
        Err(e) => return Err(errno_io(dir, e)),
    };
    let (parents, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let mut walked = String::new();
    for c in parents.split('/').filter(|c| !c.is_empty()) {
        if !walked.is_empty() {
            walked.push('/');
        }
        walked.push_str(c);
        at = match openat(&at, c, dir_flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP | Errno::NOTDIR) => return Err(not_a_dir(pin_name, &at, c, &walked)),
            Err(e) => return Err(errno_io(&dir.join(&walked), e)),
        };
    }
    let file_flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let refused = |reason: &str| OciError::Base {
        layout: pin_name.to_string(),
        reason: format!("{what} {rel} {reason}"),
    };
    let f = match openat(&at, file, file_flags, Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd),
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP) => return Err(refused("is a symbolic link, not a regular file")),
        Err(e) => return Err(errno_io(&dir.join(rel), e)),
    };
    let meta = f.metadata().map_err(|source| OciError::Io {
        path: dir.join(rel),
        source,
    })?;
    if !meta.is_file() {
        return Err(refused("is not a regular file"));
    }
    Ok(Some((f, meta.len())))
}

fn read_doc(pin: &BasePin, rel: &str, what: &str) -> Result<Vec<u8>, OciError> {
    let path = pin.dir.join(rel);
    let (f, len) = open_file(&pin.name, &pin.dir, rel, what)?.ok_or_else(|| match what == rel {
        true => bad(pin, format!("{rel} is missing")),
        false => bad(pin, format!("{what} {rel} is missing")),
    })?;
    if len > MAX_DOC {
        return Err(bad(pin, format!("{what} is larger than {MAX_DOC} bytes")));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(MAX_DOC + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| OciError::Io { path, source })?;
    if bytes.len() as u64 > MAX_DOC {
        return Err(bad(pin, format!("{what} is larger than {MAX_DOC} bytes")));
    }
    Ok(bytes)
}

fn read_blob(pin: &BasePin, d: &Descriptor, what: &str) -> Result<Vec<u8>, OciError> {
    let rel = blob_rel(&d.digest).ok_or_else(|| {
        bad(
            pin,
            format!("{what} digest {:?} is not sha256:<hex>", d.digest),
        )
    })?;
    let bytes = read_doc(pin, &rel, what)?;
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

/// The descriptor the layout's `index.json` lists under the pinned digest,
/// in a layout of version 1.0.0.
fn pinned_descriptor(pin: &BasePin) -> Result<Descriptor, OciError> {
    let layout = read_doc(pin, "oci-layout", "oci-layout")?;
    let v: serde_json::Value = parse(pin, &layout, "oci-layout")?;
    if v.get("imageLayoutVersion").and_then(|x| x.as_str()) != Some("1.0.0") {
        return Err(bad(
            pin,
            "oci-layout does not declare imageLayoutVersion 1.0.0",
        ));
    }
    let index: Index = parse(
        pin,
        &read_doc(pin, "index.json", "index.json")?,
        "index.json",
    )?;
    let Some(top) = index
        .manifests
        .iter()
        .find(|d| d.digest == pin.digest.as_str())
        .cloned()
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
    Ok(top)
}

/// The image manifest the pinned descriptor `top` stands for: itself, or
/// the one manifest for `platform` of the image index it names.
fn manifest_bytes(
    pin: &BasePin,
    top: Descriptor,
    platform: Option<&Platform>,
) -> Result<Vec<u8>, OciError> {
    let mut desc = top;
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
    Ok(bytes)
}

/// Open and verify the pinned base image for `platform` (`None`: the only
/// image, or the only one of an index).
pub(crate) fn open(pin: &BasePin, platform: Option<&Platform>) -> Result<BaseImage, OciError> {
    let top = pinned_descriptor(pin)?;
    let bytes = manifest_bytes(pin, top, platform)?;
    let manifest: Manifest = parse(pin, &bytes, "manifest")?;
    let config: ImageConfig = parse(pin, &read_blob(pin, &manifest.config, "config")?, "config")?;
    super::settings::check_run_config(&config.config).map_err(|b| {
        bad(
            pin,
            format!(
                "its config's {} value {}: {}",
                b.key,
                crate::name::Shown(&b.value),
                b.reason
            ),
        )
    })?;
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
        allow_unsafe_names: pin.allow_unsafe_names,
    })
}

impl BaseImage {
    /// Copy every layer byte for byte into `blobs`, checking digests and sizes.
    pub(crate) fn copy_layers(&self, blobs: &Blobs) -> Result<(), OciError> {
        for l in &self.manifest.layers {
            let rel = blob_rel(&l.digest).expect("digests were checked in open");
            let src = self.dir.join(&rel);
            let (f, len) =
                open_file(&self.name, &self.dir, &rel, "layer blob")?.ok_or_else(|| {
                    OciError::Base {
                        layout: self.name.clone(),
                        reason: format!("layer blob {} is missing", l.digest),
                    }
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
pub(crate) fn uncompressed(path: &Path, media: MediaType) -> std::io::Result<Box<dyn Read>> {
    use crate::recipe::oci::LayerCompression as C;
    let f = std::io::BufReader::with_capacity(256 << 10, std::fs::File::open(path)?);
    Ok(match media.layer_kind().flatten() {
        Some(C::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(f)),
        Some(C::Zstd) => Box::new(zstd::stream::read::Decoder::new(f)?),
        None => Box::new(f),
    })
}

/// Read the copy of each base layer in `blobs` once: its uncompressed
/// digest must be the config's diff id, and its members are judged
/// ([`super::hazards`]). A member with an unsafe name is refused (naming the
/// layer and the member) unless the recipe allows them; every other finding
/// is returned as a warning naming the layer digest and the member.
pub(crate) fn check_layers(base: &BaseImage, blobs: &Blobs) -> Result<Vec<String>, OciError> {
    let mut warnings = Vec::new();
    for (l, diff) in base
        .manifest
        .layers
        .iter()
        .zip(&base.config.rootfs.diff_ids)
    {
        let bad = |reason: String| OciError::Base {
            layout: base.name.clone(),
            reason: format!("layer {} {reason}", l.digest),
        };
        let d: Digest = l
            .digest
            .parse()
            .map_err(|_| bad("has a digest that is not sha256:<64 hex>".into()))?;
        let blob = blobs.path(&d);
        let inspected = uncompressed(&blob, l.media_type)
            .map_err(super::hazards::InspectError::Io)
            .and_then(super::hazards::inspect)
            .map_err(|e| match e {
                super::hazards::InspectError::Io(source) => OciError::Io {
                    path: blob.clone(),
                    source,
                },
                e => bad(e.to_string()),
            })?;
        if inspected.diff_id.as_str() != diff {
            return Err(bad(format!(
                "uncompresses to {}, but its config says {diff}",
                inspected.diff_id
            )));
        }
        let unsafe_names: Vec<_> = inspected
            .findings
            .iter()
            .filter(|f| f.unsafe_name)
            .collect();
        if let (Some(first), false) = (unsafe_names.first(), base.allow_unsafe_names) {
            return Err(bad(format!(
                "{first} ({} such member{}); an unpacker writes it outside the image's root or fails — set `allow-unsafe-base-names = true` in [oci.base] to publish it anyway",
                unsafe_names.len(),
                if unsafe_names.len() == 1 { "" } else { "s" }
            )));
        }
        warnings.extend(
            inspected
                .findings
                .iter()
                .map(|f| format!("base {} layer {}: {f}", base.name, l.digest)),
        );
    }
    Ok(warnings)
}
