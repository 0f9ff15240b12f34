//! The subset of minimatch that npm's ignore rules use.
//!
//! ignore-walk compiles every rule with `{matchBase: true, dot: true,
//! flipNegate: true, nocase: true}` and sometimes matches in *partial* mode
//! (could a file below this directory match?). This module reproduces
//! minimatch 10 for that configuration:
//!
//! - leading `!`s toggle negation; `#…` is a comment, an empty rule matches
//!   only the empty string;
//! - brace expansion `{a,b}` (nested, `{,x}` included; ranges are literal);
//! - a pattern is split on runs of `/`; a rule without `/` matches the
//!   basename (`matchBase`); a leading `/` anchors it (its first part is `""`);
//! - per part: `*`, `?`, `[…]` classes (`!`/`^` negation, ranges), `\`
//!   escapes; a magic part never matches `.`, `..` or the empty string;
//!   `**` as a whole part matches zero or more parts (one or more at the end
//!   of the pattern), none of them `.` or `..`; comparisons ignore case.
//!
//! - extglobs `@(a|b)`, `?(…)`, `+(…)`, `*(…)`, `!(…)` within a part; `!(x)`
//!   rejects a position where `x` followed by the rest of the part would
//!   match (minimatch's negative lookahead), then matches like `*`.
//!
//! ```text
//! let r = Rule::new("!/lib/**");
//! assert!(r.negate && r.matches("/lib/a/b.js", false));
//! ```
//!
//! (The unit test `module_doc_example` runs this example.)

/// A compiled ignore rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// The rule started with an odd number of `!`.
    pub negate: bool,
    comment: bool,
    empty: bool,
    /// The brace-expanded, `/`-split pattern strings (minimatch `globParts`).
    pub glob_parts: Vec<Vec<String>>,
    set: Vec<Vec<Part>>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Magic(Vec<Tok>),
    GlobStar,
}

#[derive(Debug, Clone)]
enum Tok {
    Char(char),
    Any,
    Star,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
    /// An extglob `kind(alt|alt…)`, `kind` one of `@ ? + * !`.
    Ext {
        kind: char,
        alts: Vec<Vec<Tok>>,
    },
}

/// Expand `{a,b}` alternatives (brace-expansion semantics for comma lists).
pub(crate) fn brace_expand(p: &str) -> Vec<String> {
    let chars: Vec<char> = p.chars().collect();
    // find the first `{` with a matching `}` that has a top-level comma
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == '{' {
            let mut depth = 0;
            let mut commas = Vec::new();
            let mut j = i;
            let mut close = None;
            while j < chars.len() {
                match chars[j] {
                    '\\' => j += 1,
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(j);
                            break;
                        }
                    }
                    ',' if depth == 1 => commas.push(j),
                    _ => {}
                }
                j += 1;
            }
            if let Some(close) = close {
                if !commas.is_empty() {
                    let pre: String = chars[..i].iter().collect();
                    let post: String = chars[close + 1..].iter().collect();
                    let mut bounds = vec![i];
                    bounds.extend(&commas);
                    bounds.push(close);
                    let mut out = Vec::new();
                    for w in bounds.windows(2) {
                        let alt: String = chars[w[0] + 1..w[1]].iter().collect();
                        for a in brace_expand(&alt) {
                            for rest in brace_expand(&post) {
                                out.push(format!("{pre}{a}{rest}"));
                            }
                        }
                    }
                    return out;
                }
            }
        }
        i += 1;
    }
    vec![p.to_string()]
}

fn split_slashes(p: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut prev_slash = false;
    for c in p.chars() {
        if c == '/' {
            if !prev_slash {
                parts.push(std::mem::take(&mut cur));
            }
            prev_slash = true;
        } else {
            cur.push(c);
            prev_slash = false;
        }
    }
    parts.push(cur);
    parts
}

fn parse_part(s: &str) -> Part {
    if s == "**" {
        return Part::GlobStar;
    }
    let chars: Vec<char> = s.chars().collect();
    let (toks, magic) = tokenize(&chars);
    if magic {
        Part::Magic(toks)
    } else {
        Part::Literal(
            toks.iter()
                .map(|t| match t {
                    Tok::Char(c) => *c,
                    _ => unreachable!(),
                })
                .collect(),
        )
    }
}

/// The index of the `)` closing the extglob whose `(` is at `open`, and
/// the `|`-separated alternatives' bounds (nesting and `\` escapes honoured).
fn extglob_close(chars: &[char], open: usize) -> Option<(usize, Vec<(usize, usize)>)> {
    let mut depth = 0;
    let mut alts = Vec::new();
    let mut from = open + 1;
    let mut j = open;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    alts.push((from, j));
                    return Some((j, alts));
                }
            }
            '|' if depth == 1 => {
                alts.push((from, j));
                from = j + 1;
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// Tokens of one path part; `true` when any of them is magic.
fn tokenize(chars: &[char]) -> (Vec<Tok>, bool) {
    let mut toks = Vec::new();
    let mut magic = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // extglob: `@(a|b)`, `?(…)`, `+(…)`, `*(…)`, `!(…)`
        if matches!(c, '@' | '?' | '+' | '*' | '!') && chars.get(i + 1) == Some(&'(') {
            if let Some((close, bounds)) = extglob_close(chars, i + 1) {
                let alts = bounds
                    .iter()
                    .map(|&(a, b)| tokenize(&chars[a..b]).0)
                    .collect();
                toks.push(Tok::Ext { kind: c, alts });
                magic = true;
                i = close + 1;
                continue;
            }
        }
        match c {
            '\\' if i + 1 < chars.len() => {
                toks.push(Tok::Char(chars[i + 1]));
                i += 1;
            }
            '*' => {
                magic = true;
                if !matches!(toks.last(), Some(Tok::Star)) {
                    toks.push(Tok::Star);
                }
            }
            '?' => {
                magic = true;
                toks.push(Tok::Any);
            }
            '[' => {
                // find the closing bracket (a `]` right after `[`/`[!` is literal)
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!') | Some('^'));
                if negated {
                    j += 1;
                }
                let start = j;
                let mut end = None;
                while j < chars.len() {
                    if chars[j] == ']' && j > start {
                        end = Some(j);
                        break;
                    }
                    if chars[j] == '\\' {
                        j += 1;
                    }
                    j += 1;
                }
                match end {
                    Some(end) => {
                        let body = &chars[start..end];
                        let mut items = Vec::new();
                        let mut k = 0;
                        while k < body.len() {
                            let mut a = body[k];
                            if a == '\\' && k + 1 < body.len() {
                                k += 1;
                                a = body[k];
                            }
                            if k + 2 < body.len() && body[k + 1] == '-' {
                                items.push((a, body[k + 2]));
                                k += 3;
                            } else {
                                items.push((a, a));
                                k += 1;
                            }
                        }
                        magic = true;
                        toks.push(Tok::Class { negated, items });
                        i = end;
                    }
                    None => toks.push(Tok::Char('[')),
                }
            }
            _ => toks.push(Tok::Char(c)),
        }
        i += 1;
    }
    (toks, magic)
}

fn eq_nocase(a: char, b: char) -> bool {
    if a.is_ascii() && b.is_ascii() {
        // The common case, without Unicode tables (two ASCII letters fold
        // together only with each other; K's Kelvin-sign twin is not ASCII).
        return a.eq_ignore_ascii_case(&b);
    }
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

fn char_ok(t: &Tok, c: char) -> bool {
    match t {
        Tok::Char(p) => eq_nocase(*p, c),
        Tok::Any => true,
        Tok::Class { negated, items } => {
            let (lc, uc) = if c.is_ascii() {
                (c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                (
                    c.to_lowercase().next().unwrap_or(c),
                    c.to_uppercase().next().unwrap_or(c),
                )
            };
            let hit = items.iter().any(|&(a, b)| {
                (a..=b).contains(&c) || (a..=b).contains(&lc) || (a..=b).contains(&uc)
            });
            hit != *negated
        }
        Tok::Star | Tok::Ext { .. } => unreachable!(),
    }
}

fn match_toks(toks: &[Tok], s: &[char]) -> bool {
    if toks.iter().any(|t| matches!(t, Tok::Ext { .. })) {
        return ext_ends(toks, s, 0, &[])[s.len()];
    }
    match toks.split_first() {
        None => s.is_empty(),
        Some((Tok::Star, rest)) => (0..=s.len()).any(|k| match_toks(rest, &s[k..])),
        Some((t, rest)) => {
            let Some((&c, srest)) = s.split_first() else {
                return false;
            };
            char_ok(t, c) && match_toks(rest, srest)
        }
    }
}

/// The positions of `s` that `toks` can reach when started at `from`
/// (a set, indexed `0..=s.len()`). `tail` is what follows `toks` in the
/// enclosing pattern: minimatch's `!(x)` is a negative lookahead over `x`
/// *and the rest of the path part*, then `[^/]*?`.
fn ext_ends(toks: &[Tok], s: &[char], from: usize, tail: &[Tok]) -> Vec<bool> {
    let n = s.len();
    let mut cur = vec![false; n + 1];
    cur[from] = true;
    for (t, tok) in toks.iter().enumerate() {
        let mut next = vec![false; n + 1];
        let rest: Vec<Tok> = toks[t + 1..].iter().chain(tail).cloned().collect();
        for p in (0..=n).filter(|&p| cur[p]) {
            match tok {
                Tok::Star => next[p..].iter_mut().for_each(|b| *b = true),
                Tok::Ext { kind: '!', alts } => {
                    let excluded = alts.iter().any(|a| {
                        let whole: Vec<Tok> = a.iter().chain(&rest).cloned().collect();
                        ext_ends(&whole, s, p, &[])[n]
                    });
                    if !excluded {
                        next[p..].iter_mut().for_each(|b| *b = true);
                    }
                }
                Tok::Ext { kind, alts } => {
                    let once = |q: usize| {
                        let mut r = vec![false; n + 1];
                        for a in alts {
                            for (j, hit) in ext_ends(a, s, q, &rest).into_iter().enumerate() {
                                r[j] |= hit;
                            }
                        }
                        r
                    };
                    if matches!(kind, '?' | '*') {
                        next[p] = true;
                    }
                    if matches!(kind, '+' | '*') {
                        // one or more repetitions: a closure over positions
                        let mut seen = vec![false; n + 1];
                        let mut todo = vec![p];
                        while let Some(q) = todo.pop() {
                            for (j, hit) in once(q).into_iter().enumerate() {
                                if hit && !seen[j] {
                                    seen[j] = true;
                                    next[j] = true;
                                    todo.push(j);
                                }
                            }
                        }
                    } else {
                        for (j, hit) in once(p).into_iter().enumerate() {
                            next[j] |= hit;
                        }
                    }
                }
                t => {
                    if p < n && char_ok(t, s[p]) {
                        next[p + 1] = true;
                    }
                }
            }
        }
        cur = next;
    }
    cur
}

fn match_part(p: &Part, f: &str) -> bool {
    match p {
        Part::Literal(l) if f.is_ascii() => {
            l == f
                || l.len() == f.len()
                    && l.bytes()
                        .zip(f.bytes())
                        .all(|(a, b)| a == b.to_ascii_lowercase())
        }
        Part::Literal(l) => l == f || l.chars().eq(f.chars().flat_map(char::to_lowercase)),
        Part::Magic(toks) => {
            if f.is_empty() || f == "." || f == ".." {
                return false;
            }
            let chars: Vec<char> = f.chars().collect();
            match_toks(toks, &chars)
        }
        Part::GlobStar => unreachable!("globstar handled by match_one"),
    }
}

fn is_dots(f: &str) -> bool {
    f == "." || f == ".."
}

fn match_one(file: &[&str], pat: &[Part], partial: bool) -> bool {
    if partial {
        if let Some(gs) = pat.iter().position(|p| matches!(p, Part::GlobStar)) {
            let head = &pat[..gs];
            let n = head.len().min(file.len());
            return match_one(&file[..n], head, true);
        }
    }
    match_rec(file, pat, partial)
}

fn match_rec(file: &[&str], pat: &[Part], partial: bool) -> bool {
    let Some((p, prest)) = pat.split_first() else {
        return file.is_empty() || (file.len() == 1 && file[0].is_empty());
    };
    if let Part::GlobStar = p {
        if prest.is_empty() {
            return !file.is_empty() && !file.iter().any(|f| is_dots(f));
        }
        for k in 0..=file.len() {
            if k > 0 && is_dots(file[k - 1]) {
                return false;
            }
            if match_rec(&file[k..], prest, partial) {
                return true;
            }
        }
        return false;
    }
    let Some((f, frest)) = file.split_first() else {
        return partial;
    };
    match_part(p, f) && match_rec(frest, prest, partial)
}

impl Rule {
    /// Compile one rule line (already trimmed).
    pub(crate) fn new(pattern: &str) -> Rule {
        let mut rule = Rule {
            negate: false,
            comment: false,
            empty: false,
            glob_parts: Vec::new(),
            set: Vec::new(),
        };
        if pattern.starts_with('#') {
            rule.comment = true;
            return rule;
        }
        if pattern.is_empty() {
            rule.empty = true;
            return rule;
        }
        let bangs = pattern.chars().take_while(|&c| c == '!').count();
        rule.negate = bangs % 2 == 1;
        let body = &pattern[bangs..];
        let mut seen = std::collections::HashSet::new();
        for alt in brace_expand(body) {
            if !seen.insert(alt.clone()) {
                continue;
            }
            let mut parts: Vec<String> = Vec::new();
            for part in split_slashes(&alt) {
                if part == "**" && parts.last().is_some_and(|p| p == "**") {
                    continue;
                }
                if part == ".."
                    && parts
                        .last()
                        .is_some_and(|p| p != ".." && p != "." && p != "**")
                {
                    parts.pop();
                    continue;
                }
                parts.push(part);
            }
            if parts.is_empty() {
                parts.push(String::new());
            }
            rule.set.push(parts.iter().map(|p| parse_part(p)).collect());
            rule.glob_parts.push(parts);
        }
        rule
    }

    /// minimatch's `match(f, partial)` with `flipNegate`: whether the
    /// pattern matches, regardless of negation.
    pub(crate) fn matches(&self, f: &str, partial: bool) -> bool {
        if self.comment {
            return false;
        }
        if self.empty {
            return f.is_empty();
        }
        if f == "/" && partial {
            return true;
        }
        let ff: Vec<&str> = {
            // Sized once: growing it cost more than the matching itself.
            let mut v = Vec::with_capacity(1 + f.bytes().filter(|&b| b == b'/').count());
            let mut start = 0;
            let b = f.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'/' {
                    v.push(&f[start..i]);
                    while i < b.len() && b[i] == b'/' {
                        i += 1;
                    }
                    start = i;
                } else {
                    i += 1;
                }
            }
            v.push(&f[start..]);
            v
        };
        let filename = ff
            .iter()
            .rev()
            .find(|s| !s.is_empty())
            .copied()
            .unwrap_or("");
        for pat in &self.set {
            let hit = if pat.len() == 1 {
                match_one(&[filename], pat, partial)
            } else {
                match_one(&ff, pat, partial)
            };
            if hit {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module documentation's example.
    #[test]
    fn module_doc_example() {
        let r = Rule::new("!/lib/**");
        assert!(r.negate && r.matches("/lib/a/b.js", false));
    }

    #[test]
    fn braces() {
        assert_eq!(
            brace_expand("/readme{,.*[^~$]}"),
            ["/readme", "/readme.*[^~$]"]
        );
        assert_eq!(brace_expand("a{b,c{d,e}}"), ["ab", "acd", "ace"]);
        assert_eq!(brace_expand("a{b}"), ["a{b}"]);
    }

    #[test]
    fn basics() {
        let r = Rule::new("!/readme{,.*[^~$]}");
        assert!(r.negate);
        assert!(r.matches("/README.md", false));
        assert!(r.matches("/readme", false));
        assert!(!r.matches("/README.md~", false));
        assert!(!r.matches("/lib/README.md", false));
        let base = Rule::new("*.orig");
        assert!(base.matches("lib/x.orig", false));
        let gs = Rule::new("**/.git/**");
        assert!(gs.matches("a/.git/config", false));
        assert!(!gs.matches("a/.git", false));
        let dir = Rule::new("lib/**");
        assert!(dir.matches("lib/a/b.js", false));
        assert!(dir.matches("lib", true));
        assert!(!Rule::new("*").matches("", false));
    }

    #[test]
    fn extglobs_match_like_minimatch() {
        // (pattern, path, minimatch 10.2.5 with ignore-walk's options)
        let cases = [
            ("dist/cjs/**/!(*.tsbuildinfo)", "dist/cjs/a/b.js", true),
            (
                "dist/cjs/**/!(*.tsbuildinfo)",
                "dist/cjs/tsconfig.tsbuildinfo",
                false,
            ),
            (
                "dist/cjs/**/!(*.tsbuildinfo)",
                "dist/cjs/x.TSBUILDINFO",
                false,
            ),
            ("a!(b)c", "abc", false),
            ("a!(b)c", "axc", true),
            ("a!(b)c", "ac", true),
            ("a!(b)c", "abbc", true),
            ("*.+(js|ts)", "x.js", true),
            ("*.+(js|ts)", "x.jsts", true),
            ("*.+(js|ts)", "x.", false),
            ("*.?(js)", "x.", true),
            ("*.@(js|ts)", "x.jsts", false),
            ("*(a|b)x", "abbax", true),
            ("*(a|b)x", "acx", false),
            ("!(*.d).ts", "x.d.ts", false),
            ("!(*.d).ts", "x.ts", false),
            ("lib/!(test)", "lib/test", false),
            ("lib/!(test)", "lib/tests", true),
        ];
        for (pat, path, want) in cases {
            assert_eq!(Rule::new(pat).matches(path, false), want, "{pat} vs {path}");
        }
    }
}
