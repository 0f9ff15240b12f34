//! The system a derivation is built for (`x86_64-linux`, `aarch64-linux`,
//! …), in Nix's spelling: `<cpu>-<kernel>`. It is part of every
//! derivation, so the same recipe for two systems has two hashes and a
//! cache serves each by its own. Which machine may build which system is
//! the engine's business (`--system`); this file only names systems, maps
//! OCI platforms onto them and knows the host's.

/// The systems kiln knows, with the OCI platform (`os/arch[/variant]`) of
/// each.
const KNOWN: &[(&str, &str)] = &[
    ("aarch64-darwin", "darwin/arm64"),
    ("aarch64-linux", "linux/arm64"),
    ("armv6l-linux", "linux/arm/v6"),
    ("armv7l-linux", "linux/arm/v7"),
    ("i686-linux", "linux/386"),
    ("powerpc64le-linux", "linux/ppc64le"),
    ("riscv64-linux", "linux/riscv64"),
    ("s390x-linux", "linux/s390x"),
    ("x86_64-darwin", "darwin/amd64"),
    ("x86_64-linux", "linux/amd64"),
];

/// A known system, as Nix spells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct System(&'static str);

/// A system kiln does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "unknown system {} (known: {})",
    crate::name::shown(value),
    KNOWN.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
)]
pub struct UnknownSystem {
    pub value: String,
}

impl crate::error::Classify for UnknownSystem {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

impl System {
    /// A system by its name (`aarch64-linux`).
    pub fn parse(s: &str) -> Result<System, UnknownSystem> {
        KNOWN
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(name, _)| System(name))
            .ok_or_else(|| UnknownSystem {
                value: s.to_string(),
            })
    }

    /// A comma-separated list (`--system x86_64-linux,aarch64-linux`),
    /// sorted, without repeats.
    pub fn parse_list(s: &str) -> Result<Vec<System>, UnknownSystem> {
        let mut out = s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(System::parse)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The system of the machine kiln runs on (`x86_64-linux` on an
    /// x86-64 Linux host); a host kiln has no name for counts as
    /// `x86_64-linux`.
    pub fn host() -> System {
        let cpu = match std::env::consts::ARCH {
            "arm" => "armv7l",
            "x86" => "i686",
            "powerpc64" => "powerpc64le",
            other => other,
        };
        let kernel = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        System::parse(&format!("{cpu}-{kernel}")).unwrap_or(System("x86_64-linux"))
    }

    /// The system of an OCI platform (`linux/arm64` → `aarch64-linux`).
    pub fn of_oci_platform(platform: &str) -> Option<System> {
        KNOWN
            .iter()
            .find(|(_, p)| *p == platform)
            .map(|(name, _)| System(name))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl serde::Serialize for System {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_systems_and_lists_and_maps_platforms() {
        assert_eq!(
            System::parse("aarch64-linux").unwrap().as_str(),
            "aarch64-linux"
        );
        assert!(System::parse("arm64-linux").is_err());
        let l = System::parse_list("x86_64-linux, aarch64-linux,x86_64-linux").unwrap();
        assert_eq!(
            l.iter().map(System::as_str).collect::<Vec<_>>(),
            ["aarch64-linux", "x86_64-linux"]
        );
        assert_eq!(
            System::of_oci_platform("linux/arm64").map(|s| s.as_str()),
            Some("aarch64-linux")
        );
        assert!(KNOWN.iter().any(|(s, _)| *s == System::host().as_str()));
    }
}
