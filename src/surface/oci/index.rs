//! An image index joined from per-platform images (`[oci] index`): each
//! input mount holds the output of an `oci` recipe of one platform, built
//! wherever its system is built; this recipe copies each image's blobs
//! byte for byte and lists its manifest under its platform. So the index
//! (and its digest) is the same wherever it is assembled, and the same as
//! one recipe listing every platform writes for the same images.
//!
//! Each input layout is opened like a pinned base ([`super::base::open`]:
//! the manifest its `index.json` names, its config checked against the
//! platform, each layer copied with its digest and size checked); the
//! manifest and config are written again canonically, as kiln wrote them,
//! and must come out with the digests the input lists.

use std::path::Path;

use super::base::{self, BaseImage};
use super::blobs::{Blobs, Digest};
use super::built::Built;
use super::error::invalid;
use super::json::{canonical, Descriptor, Index, MediaType, Platform};
use super::plan::BasePin;
use super::{docker, OciError};
use crate::surface::Job;

/// The mounts and platforms of an index recipe, checked at planning time:
/// one declared input per platform, no base and no layers.
pub(crate) fn check(r: &crate::recipe::Recipe) -> Result<(), OciError> {
    let crate::recipe::schema::SurfaceSpec::Oci(s) = &r.spec.surface else {
        return Ok(());
    };
    let Some(mounts) = &s.index else {
        return Ok(());
    };
    let bad = |key: &str, value: &str, reason: &str| invalid(r, key, value, reason);
    if s.base.is_some() || !s.layers.is_empty() {
        return Err(bad(
            "oci.index",
            &mounts.join(", "),
            "an index takes its images from its inputs: no oci.base or oci.layers beside it",
        ));
    }
    if mounts.len() != s.platforms.len() || mounts.is_empty() {
        return Err(bad(
            "oci.index",
            &mounts.join(", "),
            "names one input per oci.platforms entry, in the same order",
        ));
    }
    for m in mounts {
        if !r.spec.inputs.contains_key(m) {
            return Err(bad("oci.index", m, "is not an input mount of the recipe"));
        }
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OciError + '_ {
    move |source| OciError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Copy each input image into `blobs`: one [`Built`] per platform, in
/// `oci.platforms` order.
pub(super) fn join(
    job: &Job<'_>,
    mounts: &[String],
    platforms: &[String],
    blobs: &Blobs,
) -> Result<Vec<Built>, OciError> {
    let mut built = Vec::new();
    for (mount, platform) in mounts.iter().zip(platforms) {
        let platform: Platform = platform
            .parse()
            .map_err(|reason: String| invalid(job.recipe, "oci.platforms", platform, reason))?;
        let dir = job
            .inputs
            .get(mount)
            .map(|d| d.join("oci"))
            .ok_or_else(|| invalid(job.recipe, "oci.index", mount, "is not an input mount"))?;
        let pin = BasePin {
            name: format!("inputs/{mount}"),
            digest: top_digest(&dir, mount)?,
            dir,
            allow_unsafe_names: true,
        };
        let image = base::open(&pin, Some(&platform))?;
        image.copy_layers(blobs)?;
        built.push(copy_image(&image, &pin, platform, blobs)?);
    }
    Ok(built)
}

/// The digest of the one image an input layout's `index.json` lists (under
/// each of its tags).
fn top_digest(dir: &Path, mount: &str) -> Result<Digest, OciError> {
    let path = dir.join("index.json");
    let bytes = crate::fsutil::read_regular(&path).map_err(io(&path))?;
    let index: Index = serde_json::from_slice(&bytes).map_err(|e| OciError::Base {
        layout: format!("inputs/{mount}"),
        reason: format!("index.json: {e}"),
    })?;
    let mut digests: Vec<&str> = index.manifests.iter().map(|d| d.digest.as_str()).collect();
    digests.dedup();
    match digests.as_slice() {
        [one] => one.parse().map_err(|_| OciError::Base {
            layout: format!("inputs/{mount}"),
            reason: format!("index.json names {one:?}, not sha256:<hex>"),
        }),
        _ => Err(OciError::Base {
            layout: format!("inputs/{mount}"),
            reason: format!(
                "index.json lists {} images; an index joins images of one platform each",
                digests.len()
            ),
        }),
    }
}

/// Write an input image's config and manifest into `blobs` as kiln wrote
/// them (their digests must not change) and describe it for the index.
fn copy_image(
    image: &BaseImage,
    pin: &BasePin,
    platform: Platform,
    blobs: &Blobs,
) -> Result<Built, OciError> {
    let config = canonical(&image.config);
    let (config_digest, _) = blobs.put(&config).map_err(io(&pin.dir))?;
    let (manifest_digest, size) = blobs
        .put(&canonical(&image.manifest))
        .map_err(io(&pin.dir))?;
    if config_digest.as_str() != image.manifest.config.digest || manifest_digest != pin.digest {
        return Err(OciError::Base {
            layout: pin.name.clone(),
            reason: "its manifest or config is not as kiln writes them (not a kiln image?)".into(),
        });
    }
    let mut descriptor = Descriptor::new(MediaType::Manifest, manifest_digest.as_str(), size);
    descriptor.platform = Some(platform.clone());
    let docker_layers = image
        .manifest
        .layers
        .iter()
        .map(|l| {
            let digest: Digest = l.digest.parse().expect("checked by base::open");
            docker::DockerLayer {
                blob: blobs.path(&digest),
                media_type: l.media_type,
                digest,
                size: l.size,
            }
        })
        .collect();
    Ok(Built {
        descriptor,
        config,
        config_digest,
        docker_layers,
        platform,
        warnings: Vec::new(),
    })
}
