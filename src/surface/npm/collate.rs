//! npm-packlist's file order: ICU `localeCompare(…, 'en')`, reimplemented.
//!
//! npm-packlist sorts the packed files "for compressibility" by three keys,
//! each compared with JavaScript's `String.prototype.localeCompare(other,
//! 'en')`: the lowercased extension (`path.extname`), then the lowercased
//! basename, then the full path (paths starting with `@` are compared as
//! `./@…`, as ignore-walk emits them).
//!
//! `localeCompare` is ICU's CLDR root collation at tertiary strength with
//! non-ignorable punctuation. For the characters that occur in file names
//! this means, level by level:
//!
//! 1. **primary**: symbols and punctuation first, in the CLDR order
//!    `␠ _ - , ; : ! ? . ' " ( ) [ ] { } @ * / \ & # % ` ^ + < = > | ~ $`,
//!    then digits, then letters case- and accent-blind (`a`≡`A`≡`ä`;
//!    `æ`≡`ae`, `ß`≡`ss`, `½`≡`1⁄2`; `þ` after `z`);
//! 2. **secondary**: accents (`a` < `á` < `à` < `â` < `å` < `ä` < `ã`);
//! 3. **tertiary**: case and variants (`a` < `A` < `ª`).
//!
//! Levels are compared over the whole string before moving to the next, so
//! `ab < aB < Ab < b`. The table covers ASCII and Latin-1 and is checked
//! against node's `localeCompare` on generated names (tests/ecosystems/npm_collation.rs);
//! symbols beyond Latin-1 (arrows, math, technical, shapes, dingbats,
//! emoji, currency) are slotted into the symbol order by block (see
//! `symbol_block_primary`); other
//! characters sort after all of Latin-1 by their lowercase code point at the
//! primary level (case at the tertiary), which matches ICU across Greek,
//! Cyrillic and CJK but not for Latin letters beyond Latin-1 (`č`, `ł`, `ﬁ`
//! sort after `z`, ICU sorts them with `c`, `l`, `f`).

use std::cmp::Ordering;

/// One collation element: primary, secondary, tertiary weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ce(u32, u8, u8);

const S_NONE: u8 = 1;
const T_LOWER: u8 = 1;
const T_UPPER: u8 = 2;
const T_VARIANT: u8 = 3;

/// Primary order of the non-letter Latin-1 characters (CLDR root).
const SYMBOLS: &str = " _-,;:!¡?¿.·'\"«»()[]{}§¶@*/\\&#%`´^¯¨¸°©®+±÷×<=>¬|¦~¤¢$£¥0123456789";
/// ⁄ (U+2044 FRACTION SLASH) in the expansions of ¼ ½ ¾ sorts right after `~`.
const FRACTION_SLASH_AFTER: char = '~';

/// Primaries are spaced `1 << SHIFT` apart so that characters beyond
/// Latin-1 can be slotted between two Latin-1 neighbours by code point.
const SHIFT: u32 = 21;

fn symbol_primary(c: char) -> Option<u32> {
    SYMBOLS
        .chars()
        .position(|s| s == c)
        .map(|i| (10 + 2 * i as u32) << SHIFT)
}

/// Symbols beyond Latin-1 placed where ICU puts them relative to the
/// Latin-1 symbols (measured with node 20's `localeCompare`, code point by
/// code point): arrows and the first math operators right after `®`; most
/// other math, technical symbols, box drawing, shapes, dingbats and emoji
/// after `~`; currency after `¥` — all before the digits. Inside a group
/// they are ordered by code point, which is exact for currency but only
/// approximate elsewhere (ICU's symbol order is not the code point order).
/// Characters of those blocks that ICU sorts elsewhere (brackets, circled
/// digits, `≠`, …) are not listed and fall back to the letter order.
fn symbol_block_primary(c: char) -> Option<u32> {
    const AFTER: &[(u32, u32, char)] = &[
        (0x20A0, 0x20A6, '¥'),
        (0x20A9, 0x20C1, '¥'),
        (0x2044, 0x2044, '~'),
        (0x2190, 0x2211, '®'),
        (0x2212, 0x225F, '~'),
        (0x2261, 0x226D, '~'),
        (0x2270, 0x22FF, '~'),
        (0x2300, 0x2307, '~'),
        (0x230C, 0x2328, '~'),
        (0x232B, 0x23FF, '~'),
        (0x2500, 0x2767, '~'),
        (0x2794, 0x27BF, '~'),
        (0x2900, 0x2982, '~'),
        (0x2999, 0x29D7, '~'),
        (0x29DC, 0x29FB, '~'),
        (0x29FE, 0x2A73, '~'),
        (0x2A77, 0x2B73, '~'),
        (0x2B76, 0x2BFF, '~'),
        (0x1F300, 0x1F6D8, '~'),
        (0x1F6DC, 0x1F6EC, '~'),
        (0x1F6F0, 0x1F6FC, '~'),
    ];
    let cp = c as u32;
    let &(_, _, after) = AFTER.iter().find(|&&(a, b, _)| (a..=b).contains(&cp))?;
    Some(symbol_primary(after)? + 1 + cp)
}

fn letter_primary(lower: char) -> u32 {
    // letters start after the symbols; `þ` after z, `µ` after that
    let base = 10 + 2 * SYMBOLS.chars().count() as u32 + 10;
    match lower {
        'a'..='z' => (base + (lower as u32 - 'a' as u32) * 2) << SHIFT,
        'þ' => (base + 26 * 2) << SHIFT,
        'µ' => (base + 27 * 2) << SHIFT,
        _ => ((base + 28 * 2) << SHIFT) + lower as u32,
    }
}

/// Secondary weights of the Latin-1 accents, in ICU's order.
fn accent(c: char) -> (char, u8) {
    let (base, s) = match c {
        'á' | 'é' | 'í' | 'ó' | 'ú' | 'ý' => ("aeiouy", 2),
        'à' | 'è' | 'ì' | 'ò' | 'ù' => ("aeiou", 3),
        'â' | 'ê' | 'î' | 'ô' | 'û' => ("aeiou", 4),
        'å' => ("a", 5),
        'ä' | 'ë' | 'ï' | 'ö' | 'ü' | 'ÿ' => ("aeiouy", 6),
        'ã' | 'ñ' | 'õ' => ("ano", 7),
        'ç' => ("c", 8),
        'ø' | 'ð' => ("od", 9),
        _ => return (c, S_NONE),
    };
    let b = match c {
        'á' | 'à' | 'â' | 'å' | 'ä' | 'ã' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'ñ' => 'n',
        'ç' => 'c',
        'ð' => 'd',
        _ => unreachable!("{base}"),
    };
    (b, s)
}

fn push_ces(c: char, out: &mut Vec<Ce>) {
    // ignorable: soft hyphen and C0/C1 controls
    if c == '\u{ad}' || (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) {
        return;
    }
    match c {
        '\u{a0}' => return out.push(Ce(symbol_primary(' ').unwrap_or(0), S_NONE, T_VARIANT)),
        '¹' | '²' | '³' => {
            let d = match c {
                '¹' => '1',
                '²' => '2',
                _ => '3',
            };
            return out.push(Ce(symbol_primary(d).unwrap_or(0), S_NONE, T_VARIANT));
        }
        '¼' | '½' | '¾' => {
            let (a, b) = match c {
                '¼' => ('1', '4'),
                '½' => ('1', '2'),
                _ => ('3', '4'),
            };
            let slash = symbol_primary(FRACTION_SLASH_AFTER).unwrap_or(0) + 1 + 0x2044;
            out.push(Ce(symbol_primary(a).unwrap_or(0), S_NONE, T_VARIANT));
            out.push(Ce(slash, S_NONE, T_VARIANT));
            out.push(Ce(symbol_primary(b).unwrap_or(0), S_NONE, T_VARIANT));
            return;
        }
        'ª' => return out.push(Ce(letter_primary('a'), S_NONE, T_VARIANT)),
        'º' => return out.push(Ce(letter_primary('o'), S_NONE, T_VARIANT)),
        'æ' | 'Æ' => {
            let t = if c == 'Æ' { T_UPPER } else { T_LOWER };
            out.push(Ce(letter_primary('a'), 10, t));
            out.push(Ce(letter_primary('e'), S_NONE, t));
            return;
        }
        'ß' => {
            out.push(Ce(letter_primary('s'), 11, T_LOWER));
            out.push(Ce(letter_primary('s'), S_NONE, T_LOWER));
            return;
        }
        _ => {}
    }
    if let Some(p) = symbol_primary(c).or_else(|| symbol_block_primary(c)) {
        return out.push(Ce(p, S_NONE, S_NONE));
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    let t = if lower != c { T_UPPER } else { T_LOWER };
    let (base, s) = accent(lower);
    out.push(Ce(letter_primary(base), s, t));
}

fn elements(s: &str) -> Vec<Ce> {
    let mut v = Vec::with_capacity(s.len());
    for c in s.chars() {
        push_ces(c, &mut v);
    }
    v
}

fn compare_elements(x: &[Ce], y: &[Ce]) -> Ordering {
    x.iter()
        .map(|c| c.0)
        .cmp(y.iter().map(|c| c.0))
        .then_with(|| x.iter().map(|c| c.1).cmp(y.iter().map(|c| c.1)))
        .then_with(|| x.iter().map(|c| c.2).cmp(y.iter().map(|c| c.2)))
}

/// `a.localeCompare(b, 'en')` for ASCII and Latin-1 strings.
pub fn locale_compare(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    compare_elements(&elements(a), &elements(b))
}

/// node's `path.posix.extname`.
pub fn extname(path: &str) -> &str {
    let b = path.as_bytes();
    let mut start_dot: Option<usize> = None;
    let mut start_part = 0;
    let mut end: Option<usize> = None;
    let mut matched_slash = true;
    let mut pre_dot_state = 0i8;
    for i in (0..b.len()).rev() {
        let c = b[i];
        if c == b'/' {
            if !matched_slash {
                start_part = i + 1;
                break;
            }
            continue;
        }
        if end.is_none() {
            matched_slash = false;
            end = Some(i + 1);
        }
        if c == b'.' {
            if start_dot.is_none() {
                start_dot = Some(i);
            } else if pre_dot_state != 1 {
                pre_dot_state = 1;
            }
        } else if start_dot.is_some() {
            pre_dot_state = -1;
        }
    }
    match (start_dot, end) {
        (Some(d), Some(e)) => {
            if pre_dot_state == 0 || (pre_dot_state == 1 && d + 1 == e && d == start_part + 1) {
                ""
            } else {
                &path[d..e]
            }
        }
        _ => "",
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The three collation keys npm-packlist compares, computed once per path.
struct SortKey {
    ext: Vec<Ce>,
    base: Vec<Ce>,
    full: Vec<Ce>,
}

impl SortKey {
    fn new(p: &str) -> SortKey {
        let p = if p.starts_with('@') {
            format!("./{p}")
        } else {
            p.to_string()
        };
        SortKey {
            ext: elements(&extname(&p).to_lowercase()),
            base: elements(&basename(&p).to_lowercase()),
            full: elements(&p),
        }
    }

    fn cmp(&self, o: &SortKey) -> Ordering {
        compare_elements(&self.ext, &o.ext)
            .then_with(|| compare_elements(&self.base, &o.base))
            .then_with(|| compare_elements(&self.full, &o.full))
    }
}

/// npm-packlist's comparison of two packed paths: lowercased extension,
/// lowercased basename, then the path (`@…` compared as `./@…`).
pub fn npm_compare(a: &str, b: &str) -> Ordering {
    SortKey::new(a).cmp(&SortKey::new(b))
}

/// Sort paths the way `npm pack` orders them (stable).
pub fn npm_sort(paths: &mut Vec<String>) {
    let mut keyed: Vec<(SortKey, String)> =
        paths.drain(..).map(|p| (SortKey::new(&p), p)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    paths.extend(keyed.into_iter().map(|(_, p)| p));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_md_samples() {
        // FORMATS.md §3: ICU order of samples
        let mut v: Vec<String> = "_x -x ~x A ä a_b a-b a.b a1 ab aB alpha zeta Zeta"
            .split(' ')
            .map(String::from)
            .collect();
        let want = v.clone();
        v.reverse();
        v.sort_by(|a, b| locale_compare(a, b));
        assert_eq!(v, want);
    }
}
