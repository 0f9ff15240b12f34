//! The result of a comparison: a flat list of [`Difference`]s, each located
//! by the chain of nested entries it lies in, plus the hazards of each side.
//! Printed as text (one line per difference, details indented) or JSON.

use std::fmt;

use super::model::Hazard;
use super::text::KeyChange;

/// Which input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    A,
    B,
}

/// What differs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    /// A container-level field (format, gzip header, zip comment, …).
    Container { field: String, a: String, b: String },
    /// The entry exists on one side only.
    OnlyIn { side: Side, kind: String },
    /// A metadata field of an entry present on both sides.
    Field { field: String, a: String, b: String },
    /// The entry sits at another position relative to the common entries.
    Order { a: usize, b: usize },
    /// The contents differ.
    Content {
        size_a: u64,
        size_b: u64,
        sha256_a: String,
        sha256_b: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        keys: Option<Vec<KeyChange>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        unified_diff: Option<String>,
        /// The entry is itself an archive; its differences follow with this
        /// entry in their location.
        nested: bool,
        /// Why only the digests were compared (the contents were not kept).
        #[serde(skip_serializing_if = "Option::is_none")]
        digest_only: Option<String>,
    },
}

/// One difference. `location` lists the (escaped, quoted) names of the
/// nested containers from the outside in; `entry` is the entry within the
/// innermost one (`None` for container fields).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    pub location: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    #[serde(flatten)]
    pub change: Change,
}

/// A hazard, with the side and nesting where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SideHazard {
    pub side: Side,
    pub location: Vec<String>,
    #[serde(flatten)]
    pub hazard: Hazard,
}

/// Everything `kiln diff` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub a: String,
    pub b: String,
    pub identical: bool,
    pub differences: Vec<Difference>,
    pub hazards: Vec<SideHazard>,
}

impl Report {
    pub fn new(a: String, b: String) -> Self {
        Report {
            a,
            b,
            identical: true,
            differences: Vec::new(),
            hazards: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, location: &[String], entry: Option<String>, change: Change) {
        self.identical = false;
        self.differences.push(Difference {
            location: location.to_vec(),
            entry,
            change,
        });
    }

    /// 0 identical, 1 different.
    pub fn exit_code(&self) -> u8 {
        if self.identical {
            0
        } else {
            1
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.location {
            write!(f, "in {l}: ")?;
        }
        match &self.entry {
            Some(e) => write!(f, "{e}: ")?,
            None => f.write_str("container: ")?,
        }
        match &self.change {
            Change::Container { field, a, b } | Change::Field { field, a, b } => {
                write!(f, "{field}: {a} -> {b}")
            }
            Change::OnlyIn { side, kind } => write!(f, "only in {side:?} ({kind})"),
            Change::Order { a, b } => write!(f, "order: position {a} -> {b}"),
            Change::Content {
                size_a,
                size_b,
                sha256_a,
                sha256_b,
                keys,
                unified_diff,
                nested,
                digest_only,
            } => {
                write!(f, "contents differ: ")?;
                if size_a != size_b {
                    write!(f, "size {size_a} -> {size_b}, ")?;
                } else {
                    write!(f, "size {size_a}, ")?;
                }
                write!(f, "sha256 {}… -> {}…", &sha256_a[..12], &sha256_b[..12])?;
                if *nested {
                    write!(f, " (archive: differences inside follow)")?;
                }
                if let Some(why) = digest_only {
                    write!(f, " (compared by digest only: {why})")?;
                }
                if let Some(keys) = keys {
                    for k in keys {
                        let none = || "(absent)".to_string();
                        write!(
                            f,
                            "\n    key {}: {} -> {}",
                            k.key,
                            k.a.clone().unwrap_or_else(none),
                            k.b.clone().unwrap_or_else(none)
                        )?;
                    }
                }
                if let Some(d) = unified_diff {
                    for line in d.lines() {
                        write!(f, "\n    {line}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- {}", self.a)?;
        writeln!(f, "+++ {}", self.b)?;
        for d in &self.differences {
            writeln!(f, "{d}")?;
        }
        for h in &self.hazards {
            write!(f, "warning: {:?}: ", h.side)?;
            for l in &h.location {
                write!(f, "in {l}: ")?;
            }
            writeln!(f, "{}: {}", h.hazard.entry, h.hazard.issue)?;
        }
        if self.identical {
            writeln!(f, "identical")?;
        } else {
            writeln!(f, "{} difference(s)", self.differences.len())?;
        }
        Ok(())
    }
}
