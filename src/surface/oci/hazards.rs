//! What a base image's layer holds, read once while its uncompressed digest
//! (the diff id) is taken: every member is judged by `kiln diff`'s rules
//! ([`crate::diff::hazards`], as for a layer of a Linux image: absolute
//! symlink targets resolve from the image's root, case does not fold) plus
//! the layer rules of the OCI image spec (device nodes, malformed
//! whiteouts).
//!
//! A member whose name is absolute or has a `..` component, or a hardlink
//! whose target is absolute or climbs out of the root, is *unsafe*: it
//! breaks or escapes every unpacker, so the build refuses it unless the
//! recipe says `allow-unsafe-base-names = true` in `[oci.base]`. Everything
//! else is a warning. Whiteouts (`.wh.<name>`, `.wh..wh..opq`) are how
//! layers delete files and are only reported when malformed.

use std::io::Read;

use sha2::{Digest as _, Sha256};

use super::blobs::Digest;
use crate::diff::hazards::{hardlink_escapes, has_dotdot, scan_with, Rules};
use crate::diff::tar::kind;
use crate::diff::{Entry, Kind, Listing, Name};

/// One hazard of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// The member's name as stored (lossy UTF-8; print it with
    /// [`crate::name::Shown`]).
    pub member: String,
    pub issue: String,
    /// Absolute, `..`, or a hardlink leaving the root: refused by default.
    pub unsafe_name: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "member {}: {}",
            crate::name::Shown(&self.member),
            self.issue
        )
    }
}

/// A layer's diff id and findings.
#[derive(Debug)]
pub(crate) struct Inspected {
    pub diff_id: Digest,
    pub findings: Vec<Finding>,
}

/// Why a layer could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InspectError {
    #[error("is not a readable tar stream: {0}")]
    Malformed(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Hashes everything read through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    read: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Read the uncompressed tar `r` to its end: its digest, size and findings.
pub(crate) fn inspect(r: impl Read) -> Result<Inspected, InspectError> {
    let mut h = Hashing {
        inner: r,
        hash: Sha256::new(),
        read: 0,
    };
    let mut listing = Listing::new(crate::diff::Format::Tar);
    let mut own = Vec::new();
    let limits = crate::archive::read::Limits::default();
    crate::archive::read::visit_tar_raw(&mut h, &limits, |raw, _| {
        let member = String::from_utf8_lossy(&raw.path).into_owned();
        own.extend(member_rules(&raw, &member));
        // The image's root directory itself (`/`, `./`; umoci writes `/`)
        // sets the root's attributes and lies nowhere else.
        let root = raw
            .path
            .split(|&b| b == b'/')
            .all(|c| c.is_empty() || c == b".");
        if raw.flag == b'5' && root {
            return Ok(());
        }
        listing.entries.push(Entry {
            name: Name(raw.path),
            kind: Some(kind(raw.flag)),
            target: raw.link.map(Name),
            size: raw.size,
            ..Entry::default()
        });
        Ok::<(), crate::archive::read::ReadError>(())
    })
    .map_err(|e| match e {
        crate::archive::read::ReadError::Io(e) => InspectError::Io(e),
        e => InspectError::Malformed(crate::error::chain(&e)),
    })?;
    // The end-of-archive blocks and record padding are part of the diff id.
    std::io::copy(&mut h, &mut std::io::sink())?;
    let mut findings = shared_rules(&mut listing);
    findings.extend(own);
    Ok(Inspected {
        diff_id: Digest::from_hasher(h.hash),
        findings,
    })
}

/// `kiln diff`'s hazards of the whole listing, with the unsafe ones marked.
fn shared_rules(listing: &mut Listing) -> Vec<Finding> {
    scan_with(listing, Rules::IMAGE_LAYER);
    let by_shown: std::collections::HashMap<String, &Entry> = listing
        .entries
        .iter()
        .map(|e| (e.name.to_string(), e))
        .collect();
    listing
        .hazards
        .iter()
        .map(|hz| {
            let e = by_shown.get(&hz.entry);
            let raw = e.map_or(&[][..], |e| e.name.as_bytes());
            let link_out = e.is_some_and(|e| {
                e.kind == Some(Kind::Hardlink)
                    && e.target
                        .as_ref()
                        .is_some_and(|t| hardlink_escapes(t.as_bytes()))
            });
            Finding {
                member: String::from_utf8_lossy(raw).into_owned(),
                issue: hz.issue.clone(),
                unsafe_name: raw.starts_with(b"/") || has_dotdot(raw) || link_out,
            }
        })
        .collect()
}

/// The OCI layer rules of one member: device nodes, whiteouts.
fn member_rules(raw: &crate::archive::read::RawTarHeader, member: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |issue: String| {
        out.push(Finding {
            member: member.to_string(),
            issue,
            unsafe_name: false,
        })
    };
    match raw.flag {
        b'3' | b'4' => push(format!(
            "{} (a container gets the host's device when it runs as root)",
            kind(raw.flag)
        )),
        b'0' | 0 | b'7' | b'1' | b'2' | b'5' | b'6' | b'g' => {}
        other => push(format!("{}, which unpackers do not agree on", kind(other))),
    }
    let comps: Vec<&str> = member
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let Some((last, parents)) = comps.split_last() else {
        return out;
    };
    if parents.iter().any(|c| c.starts_with(".wh.")) {
        push("lies below a whiteout name (a whiteout is a file, not a directory)".into());
    }
    if let Some(hidden) = last.strip_prefix(".wh.") {
        let empty_file = matches!(raw.flag, b'0' | 0) && raw.size == 0;
        if *last == ".wh..wh..opq" {
            if !empty_file {
                push("opaque whiteout that is not an empty regular file".into());
            }
        } else if hidden.starts_with(".wh.") {
            push("reserved whiteout name (AUFS metadata, not a whiteout)".into());
        } else if matches!(hidden, "" | "." | "..") {
            push("whiteout that names no file (or its own directory)".into());
        } else if !empty_file {
            push("whiteout that is not an empty regular file".into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(path: &str, flag: u8, size: u64) -> crate::archive::read::RawTarHeader {
        crate::archive::read::RawTarHeader {
            path: path.as_bytes().to_vec(),
            flag,
            link: None,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            uname: Vec::new(),
            gname: Vec::new(),
            size,
            format: "ustar",
            pax: Vec::new(),
        }
    }

    #[test]
    fn whiteouts_are_reported_only_when_malformed() {
        for ok in ["etc/.wh.passwd", "a/.wh..wh..opq", "./.wh.tmp"] {
            assert_eq!(member_rules(&header(ok, b'0', 0), ok), vec![], "{ok}");
        }
        for bad in [
            ("a/.wh..wh..opq", b'5', 0),
            ("a/.wh.x", b'0', 3),
            ("a/.wh..wh.plnk", b'0', 0),
            ("a/.wh...", b'0', 0),
            ("a/.wh.x/y", b'0', 0),
        ] {
            assert_eq!(
                member_rules(&header(bad.0, bad.1, bad.2), bad.0).len(),
                1,
                "{bad:?}"
            );
        }
        assert_eq!(
            member_rules(&header("dev/sda", b'4', 0), "dev/sda").len(),
            1
        );
    }
}
