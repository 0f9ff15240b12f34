//! Version bumps with exactly `poetry version RULE` semantics.
//!
//! Bumps are defined on PEP 440 versions (poetry's model); a SemVer version is
//! converted to PEP 440, bumped, and converted back, so `prepatch` on `1.1.0`
//! gives `1.1.1-alpha.0` and `prerelease` on that gives `1.1.1-alpha.1`.
//!
//! | rule | stable `1.2.3` | pre-release `1.2.3rc1` |
//! |---|---|---|
//! | `major` / `minor` / `patch` | `2.0.0` / `1.3.0` / `1.2.4` | `2.0.0` / `1.3.0` / `1.2.3` |
//! | `premajor` / `preminor` / `prepatch` | the same, then `a0` | the same, then `a0` |
//! | `prerelease` | `1.2.4a0` | `1.2.3rc2` |
//!
//! A pre-release of `X.0.0` bumped `major` becomes `X.0.0` (poetry finishes the
//! release instead of skipping it); likewise for `minor` and `patch`.
//! Post-release and local segments are dropped. Release precision is kept
//! (`1.2` bumped `patch` is `1.2.1`, `minor` is `1.3`).

use std::fmt;
use std::str::FromStr;

use super::pep440::{Pep440, PrePhase};

/// One of poetry's bump rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BumpRule {
    Major,
    Minor,
    Patch,
    Premajor,
    Preminor,
    Prepatch,
    Prerelease,
}

impl BumpRule {
    pub const ALL: [BumpRule; 7] = [
        BumpRule::Patch,
        BumpRule::Minor,
        BumpRule::Major,
        BumpRule::Prepatch,
        BumpRule::Preminor,
        BumpRule::Premajor,
        BumpRule::Prerelease,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BumpRule::Major => "major",
            BumpRule::Minor => "minor",
            BumpRule::Patch => "patch",
            BumpRule::Premajor => "premajor",
            BumpRule::Preminor => "preminor",
            BumpRule::Prepatch => "prepatch",
            BumpRule::Prerelease => "prerelease",
        }
    }
}

impl fmt::Display for BumpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule name that is not one of the seven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bump rule {0:?}: expected patch, minor, major, prepatch, preminor, premajor or prerelease")]
pub struct UnknownRule(pub String);

impl crate::error::Classify for UnknownRule {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

impl FromStr for BumpRule {
    type Err = UnknownRule;
    fn from_str(s: &str) -> Result<BumpRule, UnknownRule> {
        BumpRule::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRule(s.to_string()))
    }
}

/// A bump poetry itself refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot bump {version} with rule {rule}: {reason}")]
pub struct BumpError {
    pub version: String,
    pub rule: BumpRule,
    pub reason: String,
}

impl crate::error::Classify for BumpError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

/// poetry-core's `Release` comparison: numbers with trailing zeros removed.
fn release_lt(a: &[u64], b: &[u64]) -> bool {
    fn trim(mut r: &[u64]) -> &[u64] {
        while let [rest @ .., 0] = r {
            r = rest;
        }
        r
    }
    trim(a) < trim(b)
}

fn release_with(v: &Pep440, f: impl FnOnce(&mut Vec<u64>)) -> Pep440 {
    let mut release = v.release.clone();
    f(&mut release);
    Pep440 {
        epoch: v.epoch,
        ..Pep440::from_release(release)
    }
}

fn is_stable(v: &Pep440) -> bool {
    v.pre.is_none() && v.dev.is_none()
}

fn increment_required(v: &Pep440) -> bool {
    is_stable(v) || (v.pre.is_none() && v.post.is_some())
}

fn next_major(v: &Pep440) -> Pep440 {
    let r = &v.release;
    if increment_required(v) || release_lt(&[r[0]], r) {
        release_with(v, |r| {
            r[0] += 1;
            r[1..].iter_mut().for_each(|x| *x = 0);
        })
    } else {
        release_with(v, |_| {})
    }
}

fn next_minor(v: &Pep440) -> Pep440 {
    let r = &v.release;
    if increment_required(v) || release_lt(&[r[0], v.release_part(1)], r) {
        release_with(v, |r| {
            if r.len() < 2 {
                r.push(0);
            }
            r[1] += 1;
            r[2..].iter_mut().for_each(|x| *x = 0);
        })
    } else {
        release_with(v, |_| {})
    }
}

fn next_patch(v: &Pep440) -> Pep440 {
    let r = &v.release;
    if increment_required(v) || release_lt(&[r[0], v.release_part(1), v.release_part(2)], r) {
        release_with(v, |r| {
            while r.len() < 3 {
                r.push(0);
            }
            r[2] += 1;
            r[3..].iter_mut().for_each(|x| *x = 0);
        })
    } else {
        release_with(v, |_| {})
    }
}

fn first_prerelease(mut v: Pep440) -> Pep440 {
    v.pre = Some((PrePhase::Alpha, 0));
    v
}

/// Applies `rule` to `v` as `poetry version RULE` does.
pub fn bump_pep440(v: &Pep440, rule: BumpRule) -> Result<Pep440, BumpError> {
    Ok(match rule {
        BumpRule::Major => next_major(v),
        BumpRule::Minor => next_minor(v),
        BumpRule::Patch => next_patch(v),
        BumpRule::Premajor => first_prerelease(next_major(v)),
        BumpRule::Preminor => first_prerelease(next_minor(v)),
        BumpRule::Prepatch => first_prerelease(next_patch(v)),
        BumpRule::Prerelease => {
            if is_stable(v) {
                first_prerelease(next_patch(v))
            } else {
                let (phase, n) = v.pre.ok_or_else(|| BumpError {
                    version: v.to_string(),
                    rule,
                    reason: "a dev release without a pre-release segment has no next pre-release (poetry fails too); use prepatch or set an explicit version".into(),
                })?;
                Pep440 {
                    epoch: v.epoch,
                    pre: Some((phase, n + 1)),
                    ..Pep440::from_release(v.release.clone())
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &str, r: &str) -> String {
        bump_pep440(&v.parse().unwrap(), r.parse().unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn issue_examples() {
        assert_eq!(b("1.1.0", "prepatch"), "1.1.1a0");
        assert_eq!(b("1.1.1a0", "prerelease"), "1.1.1a1");
        assert_eq!(b("1.2", "patch"), "1.2.1");
        assert_eq!(b("2.0.0rc1", "major"), "2.0.0");
    }
}
