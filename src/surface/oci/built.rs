//! One platform's image as the layout holds it ([`Built`]): what the
//! image index and the docker archive are written from, whether the image
//! was built here (`mod.rs`) or joined from another output (`index.rs`).

use super::blobs::Digest;
use super::docker;
use super::json::{Descriptor, Platform};

/// One platform's image in the layout.
pub(super) struct Built {
    pub(super) descriptor: Descriptor,
    pub(super) config: Vec<u8>,
    pub(super) config_digest: Digest,
    pub(super) docker_layers: Vec<docker::DockerLayer>,
    pub(super) platform: Platform,
    /// What the base layers hold that is worth a warning.
    pub(super) warnings: Vec<String>,
}
