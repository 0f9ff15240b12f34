//! Surfaces: one module per kind of artifact kiln builds (`crate`, `sdist`,
//! `wheel`, `npm`, `tarball`, `zip`, `oci`, `command`). Each turns a
//! materialised, stamped workspace into the artifact's bytes using the
//! writers of [`crate::archive`].

pub mod npm;
