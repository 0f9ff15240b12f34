//! A small JSON reader that records where every value sits in the text, so a
//! version string can be replaced in place: key order, indentation, escapes
//! elsewhere and the final newline stay byte-identical.
//!
//! ```text
//! let text = "{\n  \"version\": \"1.0.0\"\n}\n";
//! let doc = Node::parse(text).unwrap();
//! let span = doc.get("version").unwrap().span.clone();
//! assert_eq!(&text[span], "\"1.0.0\"");
//! ```
//!
//! (The unit test `module_doc_example` runs this example.)

use std::ops::Range;

/// A JSON value and its byte span (for strings: including the quotes).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub span: Range<usize>,
    pub value: Value,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Members in document order.
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    String(String),
    /// Numbers, booleans and null (not needed beyond their span).
    Scalar,
}

/// Where and why the text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub(crate) struct JsonError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, reason: impl Into<String>) -> JsonError {
        let before = &self.text[..self.i.min(self.text.len())];
        JsonError {
            line: before.matches('\n').count() + 1,
            column: before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1,
            reason: reason.into(),
        }
    }

    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), JsonError> {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected `{}`", b as char)))
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while !matches!(self.s.get(self.i), Some(b'"' | b'\\') | None) {
                if self.s[self.i] < 0x20 {
                    return Err(self.err("control character in a string"));
                }
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.s.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => {
                    self.i += 1;
                    let e = *self
                        .s
                        .get(self.i)
                        .ok_or_else(|| self.err("unterminated escape"))?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hex = self
                                .text
                                .get(self.i..self.i + 4)
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or_else(|| self.err("bad \\u escape"))?;
                            self.i += 4;
                            // Surrogate pairs are kept as U+FFFD: only keys and
                            // version strings are ever compared.
                            out.push(char::from_u32(hex).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
            }
        }
    }

    fn value(&mut self) -> Result<Node, JsonError> {
        self.ws();
        self.depth += 1;
        if self.depth > 256 {
            return Err(self.err("nesting deeper than 256"));
        }
        let start = self.i;
        let value = match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.ws();
                        self.expect(b':')?;
                        let v = self.value()?;
                        members.push((k, v));
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err("expected `,` or `}`")),
                        }
                    }
                }
                Value::Object(members)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err("expected `,` or `]`")),
                        }
                    }
                }
                Value::Array(items)
            }
            Some(b'"') => Value::String(self.string()?),
            Some(b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
                while matches!(
                    self.s.get(self.i),
                    Some(b'a'..=b'z' | b'0'..=b'9' | b'-' | b'+' | b'.' | b'E')
                ) {
                    self.i += 1;
                }
                let lit = &self.text[start..self.i];
                let ok = matches!(lit, "true" | "false" | "null") || lit.parse::<f64>().is_ok();
                if !ok {
                    return Err(self.err(format!("bad literal {lit:?}")));
                }
                Value::Scalar
            }
            _ => return Err(self.err("expected a value")),
        };
        self.depth -= 1;
        Ok(Node {
            span: start..self.i,
            value,
        })
    }
}

impl Node {
    /// Parses a whole JSON document.
    pub(crate) fn parse(text: &str) -> Result<Node, JsonError> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            i: 0,
            depth: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != text.len() {
            return Err(p.err("trailing characters after the document"));
        }
        Ok(v)
    }

    /// The member `key` of an object (the last one if repeated, as JSON.parse does).
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Object members in document order (empty for non-objects).
    pub(crate) fn members(&self) -> &[(String, Node)] {
        match &self.value {
            Value::Object(m) => m,
            _ => &[],
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// JSON string literal for `s` (escaping `"`, `\` and control characters).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Applies non-overlapping replacements `(span, text)` to `text`.
pub(crate) fn splice(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (r, new) in edits {
        out.push_str(&text[at..r.start]);
        out.push_str(&new);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module documentation's example.
    #[test]
    fn module_doc_example() {
        let text = "{\n  \"version\": \"1.0.0\"\n}\n";
        let doc = Node::parse(text).unwrap();
        let span = doc.get("version").unwrap().span.clone();
        assert_eq!(&text[span], "\"1.0.0\"");
    }

    #[test]
    fn spans_and_splice() {
        let text = "{\"a\": [1, true, null], \"v\" : \"1\\u0041\", \"o\": {}}\n";
        let doc = Node::parse(text).unwrap();
        let v = doc.get("v").unwrap();
        assert_eq!(v.as_str(), Some("1A"));
        let out = splice(text, vec![(v.span.clone(), quote("2.0.0"))]);
        assert_eq!(
            out,
            "{\"a\": [1, true, null], \"v\" : \"2.0.0\", \"o\": {}}\n"
        );
    }

    #[test]
    fn rejects_bad_json() {
        for t in ["{", "{\"a\" 1}", "[1,]", "\"x", "{} x", "tru"] {
            assert!(Node::parse(t).is_err(), "{t}");
        }
    }
}
