//! The uniform view every reader produces: a [`Listing`] of [`Entry`]s with
//! raw byte names, plus container-level fields and the hazards seen.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// An entry name or link target exactly as stored: bytes, never a path.
/// `Display` prints it quoted with control characters, quotes, backslashes
/// and invalid UTF-8 escaped, so a name can never move the terminal or forge
/// a line of the report.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Name(pub Vec<u8>);

impl Name {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The escaped form without surrounding quotes; a name longer than
    /// [`crate::name::SHOWN_MAX_BYTES`] is elided to its first bytes, `…`,
    /// its length and SHA-256 ([`crate::name::elide`]).
    pub fn escaped(&self) -> String {
        match crate::name::elide(&self.0) {
            None => escape(&self.0),
            Some((keep, rest)) => escape(&self.0[..keep]) + &rest,
        }
    }
}

/// `b` with control characters, quotes, backslashes and invalid UTF-8 escaped.
fn escape(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() || is_invisible(c) => {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32))
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Format and bidirectional controls that would make two different names
/// look the same on a terminal.
fn is_invisible(c: char) -> bool {
    matches!(c as u32, 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2069 | 0xfeff)
}

impl fmt::Display for Name {
    /// Quoted; an elided name (see [`Name::escaped`]) is its quoted first
    /// bytes followed by `… (<n> bytes, sha256 <hex>)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::name::elide(&self.0) {
            None => write!(f, "\"{}\"", escape(&self.0)),
            Some((keep, rest)) => write!(f, "\"{}\"{rest}", escape(&self.0[..keep])),
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(s.as_bytes().to_vec())
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    /// Anything else, named (`"character device"`, `"fifo"`, `"tar type 'x'"`).
    Other(String),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::File => f.write_str("file"),
            Kind::Dir => f.write_str("directory"),
            Kind::Symlink => f.write_str("symlink"),
            Kind::Hardlink => f.write_str("hardlink"),
            Kind::Other(s) => f.write_str(s),
        }
    }
}

/// One entry of a container. Fields a format does not record are `None`.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub name: Name,
    pub kind: Option<Kind>,
    /// Symlink or hardlink target.
    pub target: Option<Name>,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: Option<u32>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub uname: Option<Name>,
    pub gname: Option<Name>,
    /// Seconds since the epoch.
    pub mtime: Option<i64>,
    pub size: u64,
    pub sha256: [u8; 32],
    /// Format-specific per-entry fields (zip method, extra fields, …), as
    /// (name, printed value); a small vector because a million entries
    /// must stay cheap.
    pub meta: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// The contents, when kept for a text diff or a nested comparison
    /// (shared with the nested listing read from them).
    pub data: Option<std::sync::Arc<Vec<u8>>>,
    /// The contents would have been kept (an archive, or small text) but
    /// the memory budget did not allow it: compared by digest only.
    pub over_budget: bool,
}

/// A container format as recognised by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Tar,
    TarGz,
    TarZst,
    Gzip,
    Zstd,
    Zip,
    Nar,
    Directory,
    OciLayout,
    DockerArchive,
    /// Not a container: one file compared by its bytes.
    File,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::TarZst => "tar.zst",
            Format::Gzip => "gzip",
            Format::Zstd => "zstd",
            Format::Zip => "zip",
            Format::Nar => "nar",
            Format::Directory => "directory",
            Format::OciLayout => "oci-layout",
            Format::DockerArchive => "docker-archive",
            Format::File => "file",
        })
    }
}

/// Something hostile or suspicious in one container; reported, never acted on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hazard {
    pub entry: String,
    pub issue: String,
}

/// Everything a reader learned about one container.
#[derive(Debug, Clone)]
pub struct Listing {
    pub format: Format,
    /// Container-level fields (gzip header, zip comment, OCI annotations, …).
    pub fields: BTreeMap<String, String>,
    pub entries: Vec<Entry>,
    pub hazards: Vec<Hazard>,
    /// For compressed containers: the raw bytes and the offset of the
    /// compressed stream, kept to guess the compression level.
    pub compressed: Option<Compressed>,
}

/// A single-member gzip stream kept for the level guess.
#[derive(Debug, Clone)]
pub struct Compressed {
    pub raw: std::sync::Arc<Vec<u8>>,
    /// Offset of the deflate data in `raw`.
    pub deflate_at: usize,
    /// SHA-256 of the decompressed stream.
    pub inner_sha256: [u8; 32],
}

impl Listing {
    pub fn new(format: Format) -> Self {
        Listing {
            format,
            fields: BTreeMap::new(),
            entries: Vec::new(),
            hazards: Vec::new(),
            compressed: None,
        }
    }
}

pub(crate) use crate::hash::hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(
            Name(b"a\x1b[31m\n\xff\"".to_vec()).to_string(),
            r#""a\u{1b}[31m\n\xff\"""#
        );
        assert_eq!(Name("é/b".into()).to_string(), "\"é/b\"");
        assert_eq!(Name("a\u{202e}b".into()).escaped(), "a\\u{202e}b");
    }
}
