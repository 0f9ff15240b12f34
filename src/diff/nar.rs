//! NAR streams (through `nix::nar::NarReader`) and directory trees as
//! [`Listing`]s. Both record only what a NAR records plus, for directories,
//! the full permission bits and owners; directory mtimes are left out (every
//! copy changes them).

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::nix::nar::{Entry as NarEntry, NarReadError, NarReader};

use super::budget::{cap, capture, Cap, CapHit, DiffError, Limits};
use super::model::{Entry, Format, Kind, Listing, Name};

fn nar_error(at: &str, e: NarReadError) -> DiffError {
    DiffError::Malformed {
        at: at.into(),
        format: Format::Nar,
        detail: crate::error::chain(&e),
    }
}

/// Adapts the NAR reader's contents to `Read`.
struct Contents<'a, R: Read>(&'a mut NarReader<R>);

impl<R: Read> Read for Contents<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .read_contents(buf)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
    }
}

fn io_to_diff(at: &str, format: Format, e: std::io::Error, limits: &Limits) -> DiffError {
    match e.get_ref().and_then(|i| i.downcast_ref::<CapHit>()) {
        Some(h) => cap(at, h.0, limits),
        None => DiffError::Malformed {
            at: at.into(),
            format,
            detail: e.to_string(),
        },
    }
}

/// List a NAR stream.
pub(crate) fn read_nar(r: impl Read, at: &str, limits: &Limits) -> Result<Listing, DiffError> {
    let mut nar = NarReader::new(r);
    let mut listing = Listing::new(Format::Nar);
    let mut retained = 0u64;
    let mut total = 0u64;
    while let Some(ev) = nar.next_event().map_err(|e| nar_error(at, e))? {
        let mut entry = Entry {
            name: Name(ev.path),
            ..Entry::default()
        };
        match ev.entry {
            NarEntry::EndDirectory => continue,
            NarEntry::Directory => entry.kind = Some(Kind::Dir),
            NarEntry::Symlink { target } => {
                entry.kind = Some(Kind::Symlink);
                entry.target = Some(Name(target));
            }
            NarEntry::Regular { executable, .. } => {
                entry.kind = Some(Kind::File);
                entry.meta = vec![(
                    "nar.executable".into(),
                    if executable { "true" } else { "false" }.into(),
                )];
                let c = capture(&mut Contents(&mut nar), limits, &mut retained)
                    .map_err(|e| io_to_diff(at, Format::Nar, e, limits))?;
                total += c.size;
                if total > limits.max_total_size {
                    return Err(cap(at, Cap::TotalSize, limits));
                }
                entry.size = c.size;
                entry.sha256 = c.sha256;
                entry.data = c.data;
                entry.over_budget = c.over_budget;
            }
        }
        if listing.entries.len() >= limits.max_entries {
            return Err(cap(at, Cap::Entries, limits));
        }
        listing.entries.push(entry);
    }
    Ok(listing)
}

/// List a directory tree without following symlinks, in name-byte order.
pub(crate) fn read_dir(root: &Path, at: &str, limits: &Limits) -> Result<Listing, DiffError> {
    let mut listing = Listing::new(Format::Directory);
    let mut retained = 0u64;
    let mut total = 0u64;
    let mut stack = vec![Vec::<u8>::new()];
    while let Some(rel) = stack.pop() {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(std::ffi::OsStr::from_bytes(&rel))
        };
        let io = |source| DiffError::Io {
            path: dir.clone(),
            source,
        };
        let mut names: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.file_name().as_bytes().to_vec()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        names.sort();
        let mut subdirs = Vec::new();
        for n in names {
            if listing.entries.len() >= limits.max_entries {
                return Err(cap(at, Cap::Entries, limits));
            }
            let mut path = rel.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&n);
            let full = root.join(std::ffi::OsStr::from_bytes(&path));
            let io = |source| DiffError::Io {
                path: full.clone(),
                source,
            };
            let m = std::fs::symlink_metadata(&full).map_err(io)?;
            let ft = m.file_type();
            let mut e = Entry {
                name: Name(path.clone()),
                mode: Some(m.mode() & 0o7777),
                uid: Some(m.uid() as u64),
                gid: Some(m.gid() as u64),
                ..Entry::default()
            };
            if ft.is_dir() {
                e.kind = Some(Kind::Dir);
                subdirs.push(path);
            } else if ft.is_symlink() {
                e.kind = Some(Kind::Symlink);
                e.target = Some(Name(
                    std::fs::read_link(&full)
                        .map_err(io)?
                        .as_os_str()
                        .as_bytes()
                        .to_vec(),
                ));
            } else if ft.is_file() {
                e.kind = Some(Kind::File);
                // Never through a link or into a FIFO swapped in since the lstat.
                let (mut f, _) = crate::fsutil::open_regular(&full).map_err(io)?;
                let c = capture(&mut f, limits, &mut retained).map_err(|err| {
                    match err.get_ref().and_then(|i| i.downcast_ref::<CapHit>()) {
                        Some(h) => cap(at, h.0, limits),
                        None => DiffError::Io {
                            path: full.clone(),
                            source: err,
                        },
                    }
                })?;
                total += c.size;
                if total > limits.max_total_size {
                    return Err(cap(at, Cap::TotalSize, limits));
                }
                e.size = c.size;
                e.sha256 = c.sha256;
                e.data = c.data;
                e.over_budget = c.over_budget;
            } else {
                e.kind = Some(Kind::Other("special file".into()));
            }
            listing.entries.push(e);
        }
        // depth-first, in order: push in reverse
        stack.extend(subdirs.into_iter().rev());
    }
    listing
        .entries
        .sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(listing)
}
