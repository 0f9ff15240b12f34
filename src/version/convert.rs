//! SemVer ⇄ PEP 440, faithfully or not at all.
//!
//! | SemVer | PEP 440 |
//! |---|---|
//! | `1.2.3-alpha` / `-alpha.0` / `-a.0` | `1.2.3a0` |
//! | `-beta.2` / `-rc.1` / `-rc` | `b2` / `rc1` / `rc0` |
//! | `-0.dev.3` (also read: `-dev.3`) | `.dev3` |
//! | `-rc.1.dev.2`, `-post.1`, `-rc.1.post.2` | `rc1.dev2`, `.post1`, `rc1.post2` |
//! | `+x.y` (build metadata) | `+x.y` (local label) |
//!
//! PEP 440 → SemVer prints the left column's first spelling. A dev release of a
//! final version becomes `-0.dev.N` because a numeric identifier sorts below
//! every alphanumeric one, so `1.0.0-0.dev.1 < 1.0.0-alpha.0` as `1.0.0.dev1 <
//! 1.0.0a0`. Post releases keep their value but not their order (SemVer has no
//! way to sort after a release). An epoch, more than three non-zero release
//! components, or a SemVer pre-release identifier outside this table is an
//! error naming the part that has no spelling on the other side.

use super::pep440::{LocalSegment, Pep440, PrePhase};

/// A version with no faithful spelling in the other scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value} has no {to} spelling: {reason}")]
pub struct ConvertError {
    pub value: String,
    /// `"PEP 440"` or `"SemVer"`.
    pub to: &'static str,
    pub reason: String,
}

impl crate::error::Classify for ConvertError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

fn phase_of(word: &str) -> Option<PrePhase> {
    match word {
        "alpha" | "a" => Some(PrePhase::Alpha),
        "beta" | "b" => Some(PrePhase::Beta),
        "rc" | "c" | "pre" | "preview" => Some(PrePhase::Rc),
        _ => None,
    }
}

/// Splits `rc1` into (`rc`, Some(1)); plain words give (word, None).
fn split_word_number(id: &str) -> (&str, Option<&str>) {
    let cut = id.find(|c: char| c.is_ascii_digit()).unwrap_or(id.len());
    let (w, n) = id.split_at(cut);
    if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
        (w, Some(n))
    } else {
        (id, None)
    }
}

/// SemVer → PEP 440.
pub fn semver_to_pep440(v: &semver::Version) -> Result<Pep440, ConvertError> {
    let err = |reason: String| ConvertError {
        value: v.to_string(),
        to: "PEP 440",
        reason,
    };
    let mut out = Pep440::from_release(vec![v.major, v.minor, v.patch]);
    let ids: Vec<&str> = if v.pre.is_empty() {
        Vec::new()
    } else {
        v.pre.as_str().split('.').collect()
    };
    let mut i = 0;
    // Takes `label[.N]` or `labelN` at position i for the given label test.
    let take = |i: &mut usize, accept: &dyn Fn(&str) -> bool| -> Option<u64> {
        let id = *ids.get(*i)?;
        let (w, n) = split_word_number(id);
        if !accept(w) {
            return None;
        }
        *i += 1;
        if let Some(n) = n {
            return n.parse().ok();
        }
        match ids.get(*i) {
            Some(next) if next.bytes().all(|b| b.is_ascii_digit()) => {
                *i += 1;
                next.parse().ok()
            }
            _ => Some(0),
        }
    };
    if ids.len() >= 2 && ids[0] == "0" && ids[1] == "dev" {
        i = 1; // `-0.dev.N`: the order-preserving spelling of a final's dev release
        out.dev = take(&mut i, &|w| w == "dev");
        if i != ids.len() {
            return Err(err(format!(
                "unexpected {:?} after the dev release number",
                ids[i..].join(".")
            )));
        }
    } else {
        let first = ids.first().copied().unwrap_or("");
        let (w, _) = split_word_number(first);
        if let Some(p) = phase_of(w) {
            out.pre = take(&mut i, &|w| phase_of(w).is_some()).map(|n| (p, n));
        }
        out.post = take(&mut i, &|w| w == "post");
        out.dev = take(&mut i, &|w| w == "dev");
        if i != ids.len() {
            return Err(err(format!(
                "pre-release identifier {:?} is not alpha|beta|rc[.N], post[.N] or dev[.N] in that order",
                ids[i]
            )));
        }
    }
    if !v.build.is_empty() {
        for part in v.build.as_str().split(['.', '-']) {
            let p = part.to_ascii_lowercase();
            out.local.push(match p.parse::<u64>() {
                Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => LocalSegment::Number(n),
                _ => LocalSegment::Text(p),
            });
        }
    }
    Ok(out)
}

/// PEP 440 → SemVer.
pub fn pep440_to_semver(v: &Pep440) -> Result<semver::Version, ConvertError> {
    let err = |reason: String| ConvertError {
        value: v.to_string(),
        to: "SemVer",
        reason,
    };
    if v.epoch != 0 {
        return Err(err(format!("the epoch `{}!` cannot be expressed", v.epoch)));
    }
    if v.release.len() > 3 && v.release[3..].iter().any(|&n| n != 0) {
        return Err(err(format!(
            "SemVer has three release numbers, this has {}",
            v.release.len()
        )));
    }
    let mut ids: Vec<String> = Vec::new();
    if let Some((p, n)) = v.pre {
        let w = match p {
            PrePhase::Alpha => "alpha",
            PrePhase::Beta => "beta",
            PrePhase::Rc => "rc",
        };
        ids.extend([w.to_string(), n.to_string()]);
    }
    if let Some(n) = v.post {
        ids.extend(["post".to_string(), n.to_string()]);
    }
    if let Some(n) = v.dev {
        if ids.is_empty() {
            ids.push("0".into());
        }
        ids.extend(["dev".to_string(), n.to_string()]);
    }
    let pre = semver::Prerelease::new(&ids.join("."))
        .map_err(|e| err(format!("pre-release {:?}: {e}", ids.join("."))))?;
    let local: Vec<String> = v.local.iter().map(ToString::to_string).collect();
    let build = semver::BuildMetadata::new(&local.join("."))
        .map_err(|e| err(format!("local label {:?}: {e}", local.join("."))))?;
    Ok(semver::Version {
        major: v.release_part(0),
        minor: v.release_part(1),
        patch: v.release_part(2),
        pre,
        build,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s2p(s: &str) -> Result<String, ConvertError> {
        semver_to_pep440(&s.parse().unwrap()).map(|v| v.to_string())
    }

    #[test]
    fn issue_table() {
        assert_eq!(s2p("1.2.3-alpha.0").unwrap(), "1.2.3a0");
        assert_eq!(s2p("1.2.3-alpha").unwrap(), "1.2.3a0");
        assert_eq!(s2p("1.2.3-beta.2").unwrap(), "1.2.3b2");
        assert_eq!(s2p("1.2.3-rc.1").unwrap(), "1.2.3rc1");
        assert_eq!(s2p("1.2.3-rc").unwrap(), "1.2.3rc0");
        assert_eq!(s2p("1.2.3-dev.3").unwrap(), "1.2.3.dev3");
        assert_eq!(s2p("1.2.3-post.1").unwrap(), "1.2.3.post1");
        assert_eq!(s2p("1.2.3+x.y").unwrap(), "1.2.3+x.y");
        assert!(s2p("1.2.3-foo.bar").is_err());
        assert!(s2p("1.0.0-0.3.7").is_err());
    }

    #[test]
    fn inverse() {
        for s in ["1.2.3a0", "1.2.3rc1.dev2", "1.2.3.dev4", "1.2.3.post1+x.7"] {
            let p: Pep440 = s.parse().unwrap();
            let sv = pep440_to_semver(&p).unwrap();
            assert_eq!(semver_to_pep440(&sv).unwrap(), p, "{s} -> {sv}");
        }
        assert!(pep440_to_semver(&"1!1.0".parse().unwrap()).is_err());
        assert!(pep440_to_semver(&"1.2.3.4".parse().unwrap()).is_err());
    }
}
