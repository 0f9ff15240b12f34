//! Python names and wheel tags.
//!
//! - distribution names (PEP 508 `^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
//!   normalised as `packaging.utils.canonicalize_name` does (lowercase, runs
//!   of `-_.` → `-`), and in file names with `_` (PEP 625, PEP 427);
//! - wheel tags `python-abi-platform` (PEP 425), each part a `.`-separated
//!   set of lowercase `[a-z0-9_]` tags.

use std::fmt;

/// Whether `name` is a valid distribution name.
pub(crate) fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// `canonicalize_name`: lowercase, runs of `-`, `_`, `.` folded to one `-`.
pub(crate) fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The name as it appears in file names: canonical with `_` for `-`.
pub(crate) fn file_component(name: &str) -> String {
    canonical(name).replace('-', "_")
}

/// A validated wheel tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WheelTag {
    pub python: String,
    pub abi: String,
    pub platform: String,
}

impl WheelTag {
    /// `py3-none-any`.
    pub(crate) fn pure() -> Self {
        WheelTag {
            python: "py3".into(),
            abi: "none".into(),
            platform: "any".into(),
        }
    }

    /// Parse and validate `python-abi-platform`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('-').collect();
        let [python, abi, platform] = parts[..] else {
            return Err("a wheel tag has three `-`-separated parts: python-abi-platform".into());
        };
        for (what, part) in [("python", python), ("abi", abi), ("platform", platform)] {
            if part.is_empty() || part.split('.').any(str::is_empty) {
                return Err(format!("the {what} tag is empty"));
            }
            if let Some(c) = part
                .chars()
                .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.')))
            {
                return Err(format!(
                    "the {what} tag {part:?} contains {c:?} (tags are lowercase [a-z0-9_], `.` between alternatives)"
                ));
            }
        }
        for py in python.split('.') {
            let interp = py.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_');
            if !["py", "cp", "pp", "ip", "jy", "graalpy"].contains(&interp) || interp == py {
                return Err(format!(
                    "python tag {py:?} is not an interpreter tag with a version (py3, cp312, pp310, …)"
                ));
            }
        }
        let tag = WheelTag {
            python: python.into(),
            abi: abi.into(),
            platform: platform.into(),
        };
        if platform == "any" && abi != "none" {
            return Err(format!("platform `any` goes with abi `none`, not {abi:?}"));
        }
        Ok(tag)
    }

    /// A wheel that installs into purelib: platform `any`.
    pub(crate) fn is_pure(&self) -> bool {
        self.platform == "any"
    }

    /// Every expanded tag, for `Tag:` lines in `WHEEL`.
    pub(crate) fn expanded(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in self.python.split('.') {
            for a in self.abi.split('.') {
                for pl in self.platform.split('.') {
                    out.push(format!("{p}-{a}-{pl}"));
                }
            }
        }
        out
    }
}

impl fmt::Display for WheelTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_match_packaging() {
        assert_eq!(canonical("My.Cool_Pkg"), "my-cool-pkg");
        assert_eq!(canonical("a--__b"), "a-b");
        assert_eq!(file_component("My.Cool_Pkg"), "my_cool_pkg");
        assert!(valid_name("a.b-c_d"));
        assert!(!valid_name("-a"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn wheel_tags_are_validated() {
        let t = WheelTag::parse("cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64").unwrap();
        assert!(!t.is_pure());
        assert_eq!(t.expanded().len(), 2);
        assert!(WheelTag::parse("py3-none-any").unwrap().is_pure());
        assert!(WheelTag::parse("py2.py3-none-any").is_ok());
        for bad in [
            "py3-none",
            "py3-none-any-x",
            "Py3-none-any",
            "py3-none-linux x86",
            "python-none-any",
            "py3--any",
            "cp311-cp311-any",
        ] {
            assert!(WheelTag::parse(bad).is_err(), "{bad}");
        }
    }
}
