//! The one place a registry kind is mapped to its client.

use super::model::{Client, Kind, Registry};

/// The client of `registry`.
pub(super) fn client(registry: &Registry) -> Box<dyn Client + '_> {
    match registry.kind {
        Kind::Oci => Box::new(super::oci::Oci::new(registry)),
        Kind::Npm => Box::new(super::npm::Npm::new(registry)),
        Kind::Pypi => Box::new(super::pypi::Pypi::new(registry)),
        Kind::Cargo => Box::new(super::cargo::Cargo::new(registry)),
    }
}
