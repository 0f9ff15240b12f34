//! Explaining a content difference: a unified diff of small UTF-8 text, and
//! for JSON/TOML manifests the keys added, removed and changed.

use std::collections::BTreeMap;

/// Text files up to this size get a unified diff.
pub(crate) const TEXT_MAX: usize = 256 * 1024;
/// Lines of unified diff kept per entry.
const DIFF_LINES: usize = 200;

/// A unified diff when both sides are small UTF-8 text.
pub(crate) fn unified(a: &[u8], b: &[u8]) -> Option<String> {
    if a.len() > TEXT_MAX || b.len() > TEXT_MAX || a.contains(&0) || b.contains(&0) {
        return None;
    }
    let (a, b) = (std::str::from_utf8(a).ok()?, std::str::from_utf8(b).ok()?);
    let diff = similar::TextDiff::from_lines(a, b);
    let text = diff.unified_diff().context_radius(3).to_string();
    let mut lines: Vec<&str> = text.lines().collect();
    let more = lines.len().saturating_sub(DIFF_LINES);
    lines.truncate(DIFF_LINES);
    let mut out: String = lines
        .iter()
        .map(|l| format!("{}\n", escape_line(l)))
        .collect();
    if more > 0 {
        out.push_str(&format!("[{more} more lines]\n"));
    }
    Some(out)
}

/// Control characters (escape sequences) in a diff line, made visible.
fn escape_line(l: &str) -> String {
    l.chars()
        .map(|c| {
            if (c.is_control() && c != '\t')
                || matches!(c as u32, 0x202a..=0x202e | 0x2066..=0x2069)
            {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One manifest key that differs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyChange {
    pub key: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(&key, v, out);
            }
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                flatten_json(&format!("{prefix}[{i}]"), v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn parse(name: &[u8], data: &[u8]) -> Option<BTreeMap<String, String>> {
    let text = std::str::from_utf8(data).ok()?;
    let mut out = BTreeMap::new();
    if name.ends_with(b".json") {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        flatten_json("", &v, &mut out);
    } else if name.ends_with(b".toml") || name.ends_with(b"Cargo.toml.orig") {
        let doc: serde_json::Value = toml_edit::de::from_str(text).ok()?;
        flatten_json("", &doc, &mut out);
    } else {
        return None;
    }
    Some(out)
}

/// Keys that differ between two JSON or TOML manifests (by entry name), or
/// `None` when the entry is not a manifest or either side does not parse.
pub(crate) fn manifest_keys(name: &[u8], a: &[u8], b: &[u8]) -> Option<Vec<KeyChange>> {
    let (a, b) = (parse(name, a)?, parse(name, b)?);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    Some(
        keys.into_iter()
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| KeyChange {
                key: k.clone(),
                a: a.get(k).cloned(),
                b: b.get(k).cloned(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_toml_keys() {
        let k = manifest_keys(
            b"package.json",
            br#"{"a":1,"b":{"c":[1,2]}}"#,
            br#"{"a":1,"b":{"c":[1,3]},"d":true}"#,
        )
        .unwrap();
        assert_eq!(
            k.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
            ["b.c[1]", "d"]
        );
        let k = manifest_keys(
            b"Cargo.toml",
            b"[package]\nversion = \"1.0.0\"\n",
            b"[package]\nversion = \"1.0.1\"\n",
        )
        .unwrap();
        assert_eq!(k[0].key, "package.version");
        assert_eq!(k[0].b.as_deref(), Some("\"1.0.1\""));
    }

    #[test]
    fn diff_escapes_control_characters() {
        let d = unified(b"a\n", b"\x1b[2Jb\n").unwrap();
        assert!(d.contains("+\\u{1b}[2Jb"), "{d}");
    }
}
