//! PEP 440 versions: parsing with the specification's permissive spellings,
//! printing in normalised form, and ordering.
//!
//! ```
//! use kiln::version::pep440::Pep440;
//! let v: Pep440 = "V1.0-RC.1-2.DEV+ABC-def_1".parse().unwrap();
//! assert_eq!(v.to_string(), "1.0rc1.post2.dev0+abc.def.1");
//! ```
//!
//! The accepted grammar is `packaging`'s `VERSION_PATTERN` (case-insensitive,
//! optional leading `v`, `-`/`_`/`.` separators, `alpha`/`c`/`pre`/`preview`/
//! `rev`/`r` synonyms, implicit numbers). The printed form is what
//! `str(packaging.version.Version(s))` prints, so a normalised string parses
//! and prints back to itself.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The pre-release phase: `a` < `b` < `rc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrePhase {
    Alpha,
    Beta,
    Rc,
}

impl PrePhase {
    /// The normalised PEP 440 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PrePhase::Alpha => "a",
            PrePhase::Beta => "b",
            PrePhase::Rc => "rc",
        }
    }
}

/// One dot-separated part of a local version label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LocalSegment {
    Number(u64),
    Text(String),
}

impl fmt::Display for LocalSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalSegment::Number(n) => write!(f, "{n}"),
            LocalSegment::Text(s) => f.write_str(s),
        }
    }
}

impl Ord for LocalSegment {
    /// Numeric segments sort above alphanumeric ones (PEP 440).
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (LocalSegment::Number(a), LocalSegment::Number(b)) => a.cmp(b),
            (LocalSegment::Text(a), LocalSegment::Text(b)) => a.cmp(b),
            (LocalSegment::Number(_), LocalSegment::Text(_)) => Ordering::Greater,
            (LocalSegment::Text(_), LocalSegment::Number(_)) => Ordering::Less,
        }
    }
}

impl PartialOrd for LocalSegment {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pep440 {
    pub epoch: u64,
    /// At least one component.
    pub release: Vec<u64>,
    pub pre: Option<(PrePhase, u64)>,
    pub post: Option<u64>,
    pub dev: Option<u64>,
    /// Empty when there is no local label.
    pub local: Vec<LocalSegment>,
}

/// Why a string is not a PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a PEP 440 version: {reason}")]
pub struct Pep440Error {
    pub value: String,
    pub reason: String,
}

impl crate::error::Classify for Pep440Error {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

impl Pep440 {
    /// A plain release `major.minor.patch`.
    pub fn from_release(release: Vec<u64>) -> Pep440 {
        Pep440 {
            epoch: 0,
            release,
            pre: None,
            post: None,
            dev: None,
            local: Vec::new(),
        }
    }

    /// Has a pre-release or dev-release segment (`packaging`'s `is_prerelease`).
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// Has a post-release segment.
    pub fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }

    /// Release component `i`, 0 when absent.
    pub fn release_part(&self, i: usize) -> u64 {
        self.release.get(i).copied().unwrap_or(0)
    }

    /// The same version without its local label (the part PyPI accepts).
    pub fn public(&self) -> Pep440 {
        Pep440 {
            local: Vec::new(),
            ..self.clone()
        }
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_sep(&mut self) -> bool {
        matches!(self.peek(), Some(b'-' | b'_' | b'.')) && {
            self.i += 1;
            true
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            true
        } else {
            false
        }
    }
    fn digits(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }
}

fn number(d: &[u8], value: &str) -> Result<u64, Pep440Error> {
    std::str::from_utf8(d)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Pep440Error {
            value: value.to_string(),
            reason: "a number does not fit in 64 bits".into(),
        })
}

/// Parses an optional `[-_.]?N` after a label; the separator is consumed
/// even when no number follows (as `packaging`'s pattern does).
fn label_number(c: &mut Cursor<'_>, value: &str) -> Result<u64, Pep440Error> {
    let save = c.i;
    c.eat_sep();
    match c.digits() {
        Some(d) => number(d, value),
        None => {
            // A trailing separator is part of the label only at the very end
            // or before another separator-led segment; keep it otherwise out.
            if c.peek().is_some() {
                c.i = save;
            }
            Ok(0)
        }
    }
}

/// A pre-release segment: `[-_.]?(a|alpha|b|beta|c|rc|pre|preview)[-_.]?N?`.
fn pre_release(c: &mut Cursor<'_>, value: &str) -> Result<Option<(PrePhase, u64)>, Pep440Error> {
    let save = c.i;
    c.eat_sep();
    let phase = [
        ("alpha", PrePhase::Alpha),
        ("a", PrePhase::Alpha),
        ("beta", PrePhase::Beta),
        ("b", PrePhase::Beta),
        ("preview", PrePhase::Rc),
        ("pre", PrePhase::Rc),
        ("rc", PrePhase::Rc),
        ("c", PrePhase::Rc),
    ]
    .into_iter()
    .find(|(w, _)| c.eat_word(w))
    .map(|(_, p)| p);
    Ok(match phase {
        Some(p) => Some((p, label_number(c, value)?)),
        None => {
            c.i = save;
            None
        }
    })
}

/// A post-release segment: `-N` or `[-_.]?(post|rev|r)[-_.]?N?`.
fn post_release(c: &mut Cursor<'_>, value: &str) -> Result<Option<u64>, Pep440Error> {
    let save = c.i;
    let mut post = None;
    if c.eat(b'-') {
        if let Some(d) = c.digits() {
            post = Some(number(d, value)?);
        } else {
            c.i = save;
        }
    }
    if post.is_none() {
        c.eat_sep();
        if ["post", "rev", "r"].iter().any(|w| c.eat_word(w)) {
            post = Some(label_number(c, value)?);
        } else {
            c.i = save;
        }
    }
    Ok(post)
}

/// A dev-release segment: `[-_.]?dev[-_.]?N?`.
fn dev_release(c: &mut Cursor<'_>, value: &str) -> Result<Option<u64>, Pep440Error> {
    let save = c.i;
    c.eat_sep();
    Ok(if c.eat_word("dev") {
        Some(label_number(c, value)?)
    } else {
        c.i = save;
        None
    })
}

/// A local version label: `+` and segments of `[a-z0-9]` separated by
/// `-`, `_` or `.` (read lowercased).
fn local_label(c: &mut Cursor<'_>, value: &str) -> Result<Vec<LocalSegment>, Pep440Error> {
    let mut local = Vec::new();
    if c.eat(b'+') {
        loop {
            let start = c.i;
            while matches!(c.peek(), Some(b'a'..=b'z' | b'0'..=b'9')) {
                c.i += 1;
            }
            if c.i == start {
                return Err(Pep440Error {
                    value: value.to_string(),
                    reason: "empty segment in the local version label".to_string(),
                });
            }
            // Only `[a-z0-9]` bytes: ASCII.
            let seg = &c.s[start..c.i];
            local.push(if seg.iter().all(u8::is_ascii_digit) {
                LocalSegment::Number(number(seg, value)?)
            } else {
                LocalSegment::Text(String::from_utf8_lossy(seg).into_owned())
            });
            if !c.eat_sep() {
                break;
            }
        }
    }
    Ok(local)
}

impl FromStr for Pep440 {
    type Err = Pep440Error;

    fn from_str(value: &str) -> Result<Pep440, Pep440Error> {
        let err = |reason: &str| Pep440Error {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let lower = value.trim().to_ascii_lowercase();
        let mut c = Cursor {
            s: lower.as_bytes(),
            i: 0,
        };
        c.eat(b'v');
        let first = c.digits().ok_or_else(|| err("expected a release number"))?;
        let mut epoch = 0;
        let mut release = Vec::new();
        if c.eat(b'!') {
            epoch = number(first, value)?;
            let d = c
                .digits()
                .ok_or_else(|| err("expected a release number after the epoch"))?;
            release.push(number(d, value)?);
        } else {
            release.push(number(first, value)?);
        }
        loop {
            let save = c.i;
            if c.eat(b'.') {
                if let Some(d) = c.digits() {
                    release.push(number(d, value)?);
                    continue;
                }
            }
            c.i = save;
            break;
        }
        let pre = pre_release(&mut c, value)?;
        let post = post_release(&mut c, value)?;
        let dev = dev_release(&mut c, value)?;
        let local = local_label(&mut c, value)?;
        if c.i != lower.len() {
            return Err(Pep440Error {
                value: value.to_string(),
                reason: format!("unexpected {:?}", &lower[c.i..]),
            });
        }
        Ok(Pep440 {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }
}

impl fmt::Display for Pep440 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let mut first = true;
        for r in &self.release {
            if !first {
                f.write_str(".")?;
            }
            first = false;
            write!(f, "{r}")?;
        }
        if let Some((p, n)) = self.pre {
            write!(f, "{}{n}", p.as_str())?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        if !self.local.is_empty() {
            f.write_str("+")?;
            for (i, s) in self.local.iter().enumerate() {
                if i > 0 {
                    f.write_str(".")?;
                }
                write!(f, "{s}")?;
            }
        }
        Ok(())
    }
}

/// `packaging`'s comparison key: release without trailing zeros; a dev-only
/// release sorts before any pre-release; no pre-release sorts after all.
fn cmp_key(v: &Pep440) -> impl Ord + '_ {
    let mut rel: &[u64] = &v.release;
    while let [rest @ .., 0] = rel {
        rel = rest;
    }
    // pre: 0 = dev-only (lowest), 1 = has pre (then phase, n), 2 = none (highest)
    let pre = match (v.pre, v.post, v.dev) {
        (None, None, Some(_)) => (0u8, None),
        (Some(p), _, _) => (1, Some(p)),
        (None, _, _) => (2, None),
    };
    let post = v.post.map_or((0u8, 0), |n| (1, n));
    let dev = v.dev.map_or((1u8, 0), |n| (0, n));
    let local = (!v.local.is_empty(), &v.local);
    (v.epoch, rel, pre, post, dev, local)
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_key(self).cmp(&cmp_key(other))
    }
}

impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_normalised_form() {
        for s in ["1.0", "1!2.0a1.post3.dev4+x.5", "0.2.0rc1", "3.1.4.post1"] {
            assert_eq!(s.parse::<Pep440>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "1.", "1.0foo", "1.0+", "1.0+a..b", "a1"] {
            assert!(s.parse::<Pep440>().is_err(), "{s}");
        }
    }
}
