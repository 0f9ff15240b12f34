//! Which scheme a canonical version is written in ([`Scheme`]) and where a
//! version is published ([`Target`]), shared by every part of `version/`.

use std::fmt;

/// The scheme the canonical version is written in.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// SemVer 2.0 (`1.2.3-rc.1`).
    #[default]
    SemVer,
    /// PEP 440 (`1.2.3rc1`, `1.2.3.post1`).
    Pep440,
}

impl Scheme {
    /// Human name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::SemVer => "SemVer",
            Scheme::Pep440 => "PEP 440",
        }
    }
}

/// Where a version is published; each has its own spelling and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// crates.io: SemVer; no post releases.
    Cargo,
    /// npm: SemVer; no post releases.
    Npm,
    /// PyPI: PEP 440; no post releases; local labels are rejected by PyPI (warning).
    Pypi,
    /// OCI image tag: the canonical scheme's spelling with `+` → `_`.
    Oci,
    /// The canonical scheme's spelling (tarballs, zips, docs).
    Plain,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::Cargo,
        Target::Npm,
        Target::Pypi,
        Target::Oci,
        Target::Plain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Cargo => "cargo",
            Target::Npm => "npm",
            Target::Pypi => "pypi",
            Target::Oci => "oci",
            Target::Plain => "plain",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
