//! Names kiln writes or prints: the one check of a portable file name and the
//! one way of showing any name on a terminal.
//!
//! A *portable name* is what kiln accepts as an artifact's file name in
//! `dist/`, a recipe name or any other single path component it writes:
//!
//! ```text
//! kiln-0.2.0-x86_64-unknown-linux-gnu.tar.gz     ok
//! demo_pkg-0.3.0rc1+abc-py3-none-any.whl         ok
//! ../../victim/.bashrc                            refused: separator
//! x\n<64 hex>  forged.tar.gz                      refused: control character
//! --help, .hidden                                 refused: leading '-' or '.'
//! ```
//!
//! ASCII letters and digits and `. _ - + ~ @ ,` are allowed, at most
//! [`MAX_NAME_BYTES`] bytes, not starting with `-` or `.`. The set is the
//! POSIX portable file name characters plus the few that package names and
//! versions of kiln's ecosystems use (`+` local versions, `@` scopes, `~`
//! Debian-style versions, `,` lists).
//!
//! [`shown`] escapes any string for a terminal or a log: control characters
//! (C0, DEL, C1), Unicode bidirectional controls, and the backslash are
//! written as Rust escapes, so a hostile name can neither move the cursor,
//! forge a line nor reorder what follows it.

use std::borrow::Cow;
use std::fmt;

/// The longest portable name in bytes (`NAME_MAX` of Linux filesystems).
pub(crate) const MAX_NAME_BYTES: usize = 255;

/// Why a name is not portable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is empty")]
    Empty,
    #[error("is {len} bytes long (at most {max})", max = MAX_NAME_BYTES)]
    TooLong { len: usize },
    #[error("starts with {0:?} (a name may not start with '-' or '.')")]
    Leading(char),
    #[error("holds a path separator {0:?}")]
    Separator(char),
    #[error("holds a control character {}", shown_char(*.0))]
    Control(char),
    #[error("holds {} (allowed: ASCII letters, digits and . _ - + ~ @ ,)", shown_char(*.0))]
    Disallowed(char),
}

/// One character as [`shown`] prints it.
fn shown_char(c: char) -> String {
    shown(c.encode_utf8(&mut [0; 4])).into_owned()
}

/// Is `c` allowed anywhere in a portable name?
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~' | '@' | ',')
}

/// Check that `name` is a portable single path component (see the module doc).
pub(crate) fn check_portable(name: &str) -> Result<(), NameError> {
    let first = name.chars().next().ok_or(NameError::Empty)?;
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong { len: name.len() });
    }
    if let Some(c) = name.chars().find(|c| !allowed(*c)) {
        return Err(match c {
            '/' | '\\' => NameError::Separator(c),
            c if is_control(c) => NameError::Control(c),
            c => NameError::Disallowed(c),
        });
    }
    if first == '-' || first == '.' {
        return Err(NameError::Leading(first));
    }
    Ok(())
}

/// A control character: C0, DEL or C1.
fn is_control(c: char) -> bool {
    c.is_control()
}

/// A Unicode bidirectional formatting character (embeddings, overrides,
/// isolates, marks), which can reorder how the rest of a line is displayed.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` as it may be printed: unchanged when it holds nothing to escape,
/// otherwise with every control character, bidirectional control and
/// backslash written as a Rust escape (`\n`, `\u{1b}`, `\u{202e}`, `\\`).
pub(crate) fn shown(s: &str) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| c == '\\' || is_control(c) || is_bidi_control(c))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_control(c) || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A path to put in a message: [`shown`] of its (lossy UTF-8) text.
pub(crate) fn shown_path(p: &std::path::Path) -> String {
    shown(&p.to_string_lossy()).into_owned()
}

/// A whole message (which may span lines) as it may be printed: like
/// [`shown`], but line feeds and tabs stay and backslashes are left alone,
/// so kiln's own multi-line messages keep their shape while no other
/// control or bidirectional character reaches the terminal. The last line
/// of defence where the CLI prints; names inside messages use [`shown`].
pub(crate) fn shown_message(s: &str) -> Cow<'_, str> {
    let escape = |c: char| (is_control(c) && c != '\n' && c != '\t') || is_bidi_control(c);
    if !s.chars().any(escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Names longer than this (in bytes) are printed elided ([`elide`]).
pub(crate) const SHOWN_MAX_BYTES: usize = 1024;

/// Bytes of an elided name that are printed.
pub(crate) const ELIDED_KEEP_BYTES: usize = 200;

/// For a name longer than [`SHOWN_MAX_BYTES`]: how many of its first bytes
/// to print (at most [`ELIDED_KEEP_BYTES`], never splitting a UTF-8
/// character) and what follows them, `… (<n> bytes, sha256 <hex>)`, so that
/// a hostile 48 MiB name costs a line, yet two long names remain told
/// apart. `None` for a name printed whole.
pub(crate) fn elide(name: &[u8]) -> Option<(usize, String)> {
    use sha2::Digest;
    if name.len() <= SHOWN_MAX_BYTES {
        return None;
    }
    let mut keep = ELIDED_KEEP_BYTES;
    while keep > ELIDED_KEEP_BYTES - 3 && name[keep] & 0xc0 == 0x80 {
        keep -= 1;
    }
    let digest = crate::nix::base16::encode(&sha2::Sha256::digest(name));
    Some((keep, format!("… ({} bytes, sha256 {digest})", name.len())))
}

/// `s`, elided when longer than [`SHOWN_MAX_BYTES`] (see [`elide`]); to be
/// printed through [`shown`] or [`Shown`].
pub(crate) fn elided(s: &str) -> Cow<'_, str> {
    match elide(s.as_bytes()) {
        None => Cow::Borrowed(s),
        Some((keep, rest)) => {
            let head = String::from_utf8_lossy(&s.as_bytes()[..keep]);
            Cow::Owned(format!("{head}{rest}"))
        }
    }
}

/// A name to put in a message: [`shown`] inside backticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", shown(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_names() {
        for ok in [
            "kiln-0.2.0-x86_64-unknown-linux-gnu.tar.gz",
            "demo_pkg-0.3.0rc1+abc-py3-none-any.whl",
            "scope-name-1.0.0.tgz",
            "a",
            "x~1,2@3",
        ] {
            assert_eq!(check_portable(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_portable(""), Err(NameError::Empty));
        assert_eq!(
            check_portable("../../victim/.bashrc"),
            Err(NameError::Separator('/'))
        );
        assert_eq!(check_portable("a\\b"), Err(NameError::Separator('\\')));
        assert_eq!(
            check_portable("x\n0123  forged.tar.gz"),
            Err(NameError::Control('\n'))
        );
        assert_eq!(check_portable("--help"), Err(NameError::Leading('-')));
        assert_eq!(check_portable(".hidden"), Err(NameError::Leading('.')));
        assert_eq!(check_portable("a b"), Err(NameError::Disallowed(' ')));
        assert_eq!(
            check_portable("evil\u{202e}gpj.exe"),
            Err(NameError::Disallowed('\u{202e}'))
        );
        assert_eq!(check_portable("é"), Err(NameError::Disallowed('é')));
        let long = "a".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(
            check_portable(&long),
            Err(NameError::TooLong {
                len: MAX_NAME_BYTES + 1
            })
        );
        assert_eq!(check_portable(&long[1..]), Ok(()));
    }

    #[test]
    fn shown_escapes_what_a_terminal_would_act_on() {
        assert!(matches!(shown("plain-name"), Cow::Borrowed(_)));
        assert_eq!(shown("a\nb"), "a\\nb");
        assert_eq!(shown("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(shown("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(shown("c:\\d"), "c:\\\\d");
        assert_eq!(shown("\u{85}"), "\\u{85}");
        assert_eq!(Shown("a\tb").to_string(), "`a\\tb`");
        assert_eq!(
            shown_message("line\n  c:\\x \u{1b}[2J\u{202e}\r"),
            "line\n  c:\\x \\u{1b}[2J\\u{202e}\\r"
        );
        assert_eq!(shown_path(std::path::Path::new("a\nb")), "a\\nb");
        assert_eq!(
            NameError::Control('\u{1b}').to_string(),
            "holds a control character \\u{1b}"
        );
    }

    #[test]
    fn long_names_are_elided_with_their_digest() {
        let short = "a".repeat(SHOWN_MAX_BYTES);
        assert!(matches!(elided(&short), Cow::Borrowed(_)));
        let long = format!("{}é{}", "a".repeat(ELIDED_KEEP_BYTES - 1), "b".repeat(5000));
        let e = elided(&long);
        assert!(e.starts_with(&"a".repeat(ELIDED_KEEP_BYTES - 1)), "{e}");
        assert!(
            e.contains(&format!("… ({} bytes, sha256 ", long.len())),
            "{e}"
        );
        assert!(e.len() < 300, "{e}");
        assert!(!e.contains('é'), "a character is never split: {e}");
        let other = format!("{}c", &long[..long.len() - 1]);
        assert_ne!(elided(&other), e);
    }
}
