//! Stamp patterns of the release policy: the version written into code.
//!
//! Projects keep their version in files no manifest format covers — a
//! `_version.py`, a `VERSION` constant, a Helm `Chart.yaml`. A pattern names
//! the file and the line shape, with exactly one placeholder where the
//! version stands:
//!
//! ```toml
//! [[stamp.patterns]]
//! file = "src/demo/_version.py"
//! pattern = '__version__ = "{pypi}"'
//! ```
//!
//! The placeholder says which spelling is written: `{version}` (the
//! canonical scheme's), `{semver}`/`{cargo}`/`{npm}` (SemVer) or
//! `{pep440}`/`{pypi}` (PEP 440). Everything else in the pattern is literal
//! text, braces included. The pattern must match the file exactly once —
//! the literal text around a run of version characters — or the policy is
//! wrong for that file (0 or 2+ matches refuse the build or `version set`).
//!
//! This module parses patterns and finds their match; writing the edit is
//! `stamp`'s.

use std::path::PathBuf;

use super::scheme::Scheme;

/// Which spelling a pattern's placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternSpelling {
    /// `{version}`: the canonical version's own scheme.
    Canonical,
    /// `{semver}`, `{cargo}`, `{npm}`.
    Scheme(Scheme),
}

/// The placeholders a pattern may hold, and what each stands for.
const PLACEHOLDERS: [(&str, PatternSpelling); 6] = [
    ("{version}", PatternSpelling::Canonical),
    ("{semver}", PatternSpelling::Scheme(Scheme::SemVer)),
    ("{cargo}", PatternSpelling::Scheme(Scheme::SemVer)),
    ("{npm}", PatternSpelling::Scheme(Scheme::SemVer)),
    ("{pep440}", PatternSpelling::Scheme(Scheme::Pep440)),
    ("{pypi}", PatternSpelling::Scheme(Scheme::Pep440)),
];

/// One `[[stamp.patterns]]` entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampPattern {
    /// Project-relative file.
    pub file: PathBuf,
    /// The pattern as written in the policy.
    pub pattern: String,
    /// Literal text before the placeholder.
    prefix: String,
    /// Literal text after it.
    suffix: String,
    pub spelling: PatternSpelling,
}

/// The one place a pattern matched: the byte range of the version in the
/// text, and the version found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternMatch {
    pub start: usize,
    pub end: usize,
    pub old: String,
}

/// Why a pattern is not usable, or did not match exactly once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("holds no placeholder (one of {})", placeholder_names())]
    NoPlaceholder,
    #[error("holds {count} placeholders; exactly one is allowed", count = .0)]
    Several(usize),
    #[error("holds the unknown placeholder `{name}` (known: {known})", name = .0, known = placeholder_names())]
    Unknown(String),
    #[error("has no literal text around its placeholder, so it would match any version")]
    Bare,
    #[error("matches nowhere in the file")]
    NoMatch,
    #[error("matches {count} times in the file (lines {lines}); it must match exactly once")]
    Ambiguous { count: usize, lines: String },
}

fn placeholder_names() -> String {
    PLACEHOLDERS
        .iter()
        .map(|(p, _)| *p)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A byte that may stand in a version (SemVer, PEP 440, dev suffixes).
fn is_version_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-' | b'_' | b'!')
}

/// `{word}` runs in `s` that look like placeholders (lowercase word inside
/// braces), with their byte offsets.
fn braced_words(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    for (i, _) in s.match_indices('{') {
        let rest = &b[i + 1..];
        let len = rest
            .iter()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || **c == b'_')
            .count();
        if len > 0 && rest.get(len) == Some(&b'}') {
            out.push((i, &s[i..i + len + 2]));
        }
    }
    out
}

impl StampPattern {
    /// Parse `pattern` for `file`.
    pub fn parse(file: PathBuf, pattern: &str) -> Result<StampPattern, PatternError> {
        let words = braced_words(pattern);
        if let Some((_, w)) = words
            .iter()
            .find(|(_, w)| !PLACEHOLDERS.iter().any(|(p, _)| p == w))
        {
            return Err(PatternError::Unknown((*w).to_string()));
        }
        let (at, word) = match words.as_slice() {
            [] => return Err(PatternError::NoPlaceholder),
            [one] => *one,
            more => return Err(PatternError::Several(more.len())),
        };
        let spelling = PLACEHOLDERS
            .iter()
            .find(|(p, _)| *p == word)
            .map(|(_, s)| *s)
            .expect("checked above");
        let prefix = pattern[..at].to_string();
        let suffix = pattern[at + word.len()..].to_string();
        if prefix.is_empty() && suffix.is_empty() {
            return Err(PatternError::Bare);
        }
        Ok(StampPattern {
            file,
            pattern: pattern.to_string(),
            prefix,
            suffix,
            spelling,
        })
    }

    /// The places in `text` where the pattern matches: its prefix, a
    /// non-empty run of version characters, its suffix. Where the suffix
    /// itself starts with version characters, the longest run that is
    /// followed by the suffix is the version.
    fn matches(&self, text: &str) -> Vec<PatternMatch> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut from = 0;
        while from <= text.len() {
            let Some(found) = text[from..].find(&self.prefix) else {
                break;
            };
            let start = from + found + self.prefix.len();
            let run = b[start..]
                .iter()
                .take_while(|c| is_version_byte(**c))
                .count();
            let end = (1..=run)
                .rev()
                .map(|n| start + n)
                .find(|&e| text[e..].starts_with(&self.suffix));
            from = match end {
                Some(end) => {
                    out.push(PatternMatch {
                        start,
                        end,
                        old: text[start..end].to_string(),
                    });
                    end + self.suffix.len()
                }
                // Go on after the first character of this occurrence.
                None => {
                    let at = from + found;
                    at + text[at..].chars().next().map_or(1, char::len_utf8)
                }
            };
        }
        out
    }

    /// The one match of the pattern in `text`.
    pub fn find_once(&self, text: &str) -> Result<PatternMatch, PatternError> {
        let mut all = self.matches(text);
        match all.len() {
            0 => Err(PatternError::NoMatch),
            1 => Ok(all.remove(0)),
            count => Err(PatternError::Ambiguous {
                count,
                lines: all
                    .iter()
                    .map(|m| (text[..m.start].matches('\n').count() + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(p: &str) -> StampPattern {
        StampPattern::parse(PathBuf::from("v.py"), p).unwrap()
    }

    #[test]
    fn parse_rules() {
        let p = pat("__version__ = \"{pypi}\"");
        assert_eq!(p.spelling, PatternSpelling::Scheme(Scheme::Pep440));
        assert_eq!(
            pat("VERSION: &str = \"{version}\";").spelling,
            PatternSpelling::Canonical
        );
        let err = |p: &str| StampPattern::parse(PathBuf::from("f"), p).unwrap_err();
        assert_eq!(err("__version__ = \"0\""), PatternError::NoPlaceholder);
        assert_eq!(err("{pypi} {npm}"), PatternError::Several(2));
        assert_eq!(err("v = {pyp}"), PatternError::Unknown("{pyp}".into()));
        assert_eq!(err("{semver}"), PatternError::Bare);
        // Other braces are literal text.
        assert_eq!(
            pat("d = {\"v\": \"{npm}\"}").spelling,
            PatternSpelling::Scheme(Scheme::SemVer)
        );
    }

    #[test]
    fn exactly_one_match() {
        let p = pat("__version__ = \"{pypi}\"");
        let text = "# x\n__version__ = \"0.1.0rc1\"\nother = \"__version__\"\n";
        let m = p.find_once(text).unwrap();
        assert_eq!(m.old, "0.1.0rc1");
        assert_eq!(&text[m.start..m.end], "0.1.0rc1");
        assert_eq!(p.find_once("x = 1\n"), Err(PatternError::NoMatch));
        assert_eq!(
            p.find_once("__version__ = \"1\"\n\n__version__ = \"2\"\n"),
            Err(PatternError::Ambiguous {
                count: 2,
                lines: "1, 3".into()
            })
        );
        // An empty version does not match.
        assert_eq!(
            p.find_once("__version__ = \"\"\n"),
            Err(PatternError::NoMatch)
        );
        // A suffix that starts with version characters.
        let chart = pat("appVersion: {version}-chart");
        assert_eq!(
            chart
                .find_once("appVersion: 1.2.3-rc.1-chart\n")
                .unwrap()
                .old,
            "1.2.3-rc.1"
        );
        // Suffix at the end of a line, prefix only.
        let v = pat("VERSION={semver}\n");
        assert_eq!(v.find_once("A=1\nVERSION=0.2.0\n").unwrap().old, "0.2.0");
        let bare_prefix = pat("version {npm}");
        assert_eq!(bare_prefix.find_once("version 1.0.0").unwrap().old, "1.0.0");
    }
}
