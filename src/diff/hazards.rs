//! Hostile or suspicious entries in one listing, reported and never acted
//! on: absolute paths, `..` traversal, names with control characters, NUL or
//! invalid UTF-8, duplicates, case-fold collisions, entries below a symlink,
//! and links that leave the root or point nowhere. [`Rules`] say whether
//! the listing is an archive extracted anywhere or a container image layer
//! (applied to an image's root on Linux).

use std::collections::{HashMap, HashSet};

use super::model::{Format, Hazard, Kind, Listing, Name};

/// Components of a name, `.` and empty ones dropped.
fn components(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    b.split(|&c| c == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
}

/// Whether `target` resolved against `base` (a list of components) climbs
/// above the root.
fn escapes(base: &[&[u8]], target: &[u8]) -> bool {
    if target.starts_with(b"/") {
        return true;
    }
    let mut depth = base.len() as i64;
    for c in components(target) {
        if c == b".." {
            depth -= 1;
            if depth < 0 {
                return true;
            }
        } else {
            depth += 1;
        }
    }
    false
}

/// Whether an entry name has a `..` component.
pub(crate) fn has_dotdot(raw: &[u8]) -> bool {
    raw.split(|&c| c == b'/' || c == b'\\').any(|c| c == b"..")
}

/// Whether a hardlink target (an archive path) is absolute or climbs above
/// the root.
pub(crate) fn hardlink_escapes(target: &[u8]) -> bool {
    escapes(&[], target)
}

/// Which rules apply to a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    /// Report names that differ only in case.
    pub case_folding: bool,
    /// Absolute symlink targets resolve from the listing's root (a container
    /// image layer, applied to the image's root), not the host's.
    pub rooted_symlinks: bool,
}

impl Rules {
    /// An archive extracted into a directory, anywhere (`kiln diff`).
    pub(crate) const ARCHIVE: Rules = Rules {
        case_folding: true,
        rooted_symlinks: false,
    };
    /// A layer of a Linux container image.
    pub(crate) const IMAGE_LAYER: Rules = Rules {
        case_folding: false,
        rooted_symlinks: true,
    };
}

/// Add every hazard of `l` to `l.hazards`.
pub(crate) fn scan(l: &mut Listing) {
    scan_with(l, Rules::ARCHIVE);
}

/// Add every hazard of `l` under `rules` to `l.hazards`.
pub(crate) fn scan_with(l: &mut Listing, rules: Rules) {
    let mut out = Vec::new();
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    let mut folded: HashMap<String, &[u8]> = HashMap::new();
    let mut symlinks: HashSet<Vec<u8>> = HashSet::new();
    let mut names: HashSet<Vec<u8>> = HashSet::new();
    let nar_like = matches!(l.format, Format::Nar | Format::Directory);
    for e in &l.entries {
        let raw = e.name.as_bytes();
        let name = e.name.to_string();
        let mut push = |issue: String| {
            out.push(Hazard {
                entry: name.clone(),
                issue,
            })
        };
        if raw.starts_with(b"/") || raw.starts_with(b"\\") || (raw.len() > 1 && raw[1] == b':') {
            push("absolute path".into());
        }
        if has_dotdot(raw) {
            push("`..` component (path traversal)".into());
        }
        if raw.contains(&b'\\') {
            push("backslash in name (a separator on Windows)".into());
        }
        if raw.contains(&0) {
            push("NUL byte in name".into());
        }
        if raw.iter().any(|&c| c < 0x20 || c == 0x7f) {
            push("control character in name".into());
        }
        if std::str::from_utf8(raw).is_err() {
            push("name is not UTF-8".into());
        }
        let trimmed: &[u8] = {
            let mut t = raw;
            while let Some(r) = t.strip_prefix(b"./") {
                t = r;
            }
            t.strip_suffix(b"/").unwrap_or(t)
        };
        let count = seen.entry(trimmed).or_insert(0);
        *count += 1;
        if *count == 2 {
            push("duplicate entry (a later one silently replaces the first when extracted)".into());
        }
        let lower = String::from_utf8_lossy(trimmed).to_lowercase();
        match folded.get(lower.as_str()) {
            Some(other) if *other != trimmed && rules.case_folding => push(format!(
                "differs only in case from {} (collides on case-insensitive filesystems)",
                Name(other.to_vec())
            )),
            Some(_) => {}
            None => {
                folded.insert(lower, trimmed);
            }
        }
        let comps: Vec<&[u8]> = components(trimmed).collect();
        for i in 1..comps.len() {
            let prefix = comps[..i].join(&b'/');
            if symlinks.contains(&prefix) {
                push(format!(
                    "lies below the symlink {} (extracting it writes through the link)",
                    Name(prefix)
                ));
                break;
            }
        }
        match (&e.kind, &e.target) {
            (Some(Kind::Symlink), Some(t)) => {
                let escaped = match t.as_bytes().strip_prefix(b"/") {
                    Some(from_root) if rules.rooted_symlinks => escapes(&[], from_root),
                    _ => escapes(&comps[..comps.len().saturating_sub(1)], t.as_bytes()),
                };
                if escaped {
                    push(format!("symlink to {t} leaves the archive root"));
                }
                symlinks.insert(comps.join(&b'/'));
            }
            (Some(Kind::Hardlink), Some(t)) => {
                let tb = t.as_bytes();
                let tcomps: Vec<&[u8]> = components(tb).collect();
                if hardlink_escapes(tb) {
                    push(format!("hardlink to {t} leaves the archive root"));
                } else if !names.contains(&tcomps.join(&b'/')) {
                    push(format!("hardlink to {t}, which is not an earlier entry"));
                }
            }
            _ => {}
        }
        if !nar_like || !comps.is_empty() {
            names.insert(comps.join(&b'/'));
        }
    }
    l.hazards.extend(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_rules() {
        assert!(escapes(&[], b"/etc"));
        assert!(escapes(&[b"a"], b"../../x"));
        assert!(!escapes(&[b"a"], b"../x"));
    }
}
