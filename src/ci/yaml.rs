//! The YAML subset the generated workflows are written in, and its one
//! deterministic writer.
//!
//! A document is a tree of [`Yaml`] values in block style: mappings keep the
//! order they were built in, so the same model always gives the same bytes.
//! A string is written plain only when it cannot be read back as anything
//! else (a conservative character set, never a YAML 1.1 boolean, null or
//! number); otherwise single-quoted, or double-quoted with escapes when it
//! holds a character a single-quoted scalar cannot carry. Scripts are literal
//! blocks (`|`) when every line is printable text, else double-quoted.

/// One YAML value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Yaml {
    Str(String),
    Bool(bool),
    Int(u64),
    /// A shell script: a literal block scalar.
    Script(String),
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    pub(crate) fn str(s: impl Into<String>) -> Yaml {
        Yaml::Str(s.into())
    }

    /// A mapping from `(key, value)` pairs, in that order.
    pub(crate) fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Yaml)>) -> Yaml {
        Yaml::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A sequence of strings.
    pub(crate) fn strs<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Yaml {
        Yaml::Seq(items.into_iter().map(|s| Yaml::Str(s.into())).collect())
    }
}

/// The document: `header` lines as `# ` comments, then `root`.
pub(crate) fn document(header: &[&str], root: &Yaml) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    match root {
        Yaml::Map(entries) => write_map(&mut out, entries, 0),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_map(out: &mut String, entries: &[(String, Yaml)], indent: usize) {
    for (i, (k, v)) in entries.iter().enumerate() {
        // The first entry of a mapping inside a sequence item follows its `- `.
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str(&key(k));
        out.push(':');
        write_value(out, v, indent);
    }
}

/// After `key:` (or `- `): the value, inline or as a nested block.
fn write_value(out: &mut String, v: &Yaml, indent: usize) {
    match v {
        Yaml::Map(e) if !e.is_empty() => {
            out.push('\n');
            write_map(out, e, indent + 2);
        }
        Yaml::Seq(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        Yaml::Script(s) if literal_ok(s) => {
            out.push_str(" |\n");
            for line in s.trim_end_matches('\n').split('\n') {
                if !line.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, items: &[Yaml], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push('-');
        match item {
            Yaml::Map(e) if !e.is_empty() => {
                out.push(' ');
                write_map(out, e, indent + 2);
            }
            other => write_value(out, other, indent),
        }
    }
}

/// A value on one line: a scalar, `{}` or `[]`.
fn inline(v: &Yaml) -> String {
    match v {
        Yaml::Str(s) | Yaml::Script(s) => scalar(s),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Int(n) => n.to_string(),
        Yaml::Map(_) => "{}".into(),
        Yaml::Seq(_) => "[]".into(),
    }
}

/// A literal block keeps every character as written: only printable text
/// and newlines, a first line that does not start with a blank (the
/// block's indentation is read from it), nothing empty.
fn literal_ok(s: &str) -> bool {
    !s.trim().is_empty()
        && s.chars()
            .all(|c| c == '\n' || (!c.is_control() && c != '\u{feff}'))
        && !s.starts_with([' ', '\t', '\n'])
}

/// A mapping key: plain when its characters allow, else quoted.
fn key(k: &str) -> String {
    if is_plain_chars(k) {
        k.to_string()
    } else {
        quoted(k)
    }
}

/// A string scalar.
pub(crate) fn scalar(s: &str) -> String {
    if is_plain_chars(s) && !is_special(s) {
        s.to_string()
    } else {
        quoted(s)
    }
}

fn is_plain_chars(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
}

/// What a YAML 1.1 or 1.2 reader takes for a boolean, null or number.
fn is_special(s: &str) -> bool {
    const WORDS: [&str; 12] = [
        "y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf", "~",
    ];
    WORDS.contains(&s.to_ascii_lowercase().as_str())
        || s.starts_with(|c: char| c.is_ascii_digit())
        || s.starts_with(".")
}

fn quoted(s: &str) -> String {
    if s.chars().all(|c| !c.is_control() && c != '\u{feff}') {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        // JSON's escapes are a subset of YAML's double-quoted ones.
        serde_json::to_string(s).expect("a string serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_that_would_read_back_as_something_else_are_quoted() {
        for s in [
            "on", "No", "1.0", "0x1", "", "a: b", "#x", "-x", "${{ x }}", ".5",
        ] {
            assert_ne!(scalar(s), s, "{s}");
        }
        assert_eq!(scalar("ubuntu-24.04"), "ubuntu-24.04");
        assert_eq!(scalar("it's"), "'it''s'");
        assert_eq!(scalar("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn nested_blocks_are_indented_and_ordered_as_built() {
        let doc = Yaml::map([
            (
                "on",
                Yaml::map([("push", Yaml::map([("tags", Yaml::strs(["v*"]))]))]),
            ),
            ("permissions", Yaml::map::<String>([])),
            (
                "steps",
                Yaml::Seq(vec![Yaml::map([
                    ("name", Yaml::str("Build")),
                    ("run", Yaml::Script("a\n\nb \"$X\"\n".into())),
                ])]),
            ),
        ]);
        assert_eq!(
            document(&["header"], &doc),
            "# header\non:\n  push:\n    tags:\n      - 'v*'\npermissions: {}\nsteps:\n  - name: Build\n    run: |\n      a\n\n      b \"$X\"\n"
        );
    }

    #[test]
    fn a_script_that_a_literal_block_cannot_carry_is_double_quoted() {
        let doc = Yaml::map([("run", Yaml::Script(" lead\x07".into()))]);
        assert_eq!(document(&[], &doc), "run: \" lead\\u0007\"\n");
    }
}
