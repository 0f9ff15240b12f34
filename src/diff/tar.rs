//! tar streams (plain or already decompressed) as a [`Listing`], through
//! the raw walker of `archive::read`.

use std::io::Read;

use crate::archive::read::{self as ar, ReadError};

use super::budget::{capture, Budget, Cap, DiffError, Limits};
use super::model::{Entry, Format, Kind, Listing, Name};

/// Everything that can stop the walk: a reader error or ours.
enum Stop {
    Read(ReadError),
    Io(std::io::Error),
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Self {
        Stop::Read(e)
    }
}

/// The kind of a tar member by its type flag (the one mapping, shared with
/// the OCI base-layer scan).
pub(crate) fn kind(flag: u8) -> Kind {
    match flag {
        b'0' | 0 | b'7' => Kind::File,
        b'5' => Kind::Dir,
        b'2' => Kind::Symlink,
        b'1' => Kind::Hardlink,
        b'3' => Kind::Other("character device".into()),
        b'4' => Kind::Other("block device".into()),
        b'6' => Kind::Other("fifo".into()),
        other => Kind::Other(format!("tar type {}", Name(vec![other]))),
    }
}

/// List a tar stream; `budget` names the cap when the stream runs over.
pub(crate) fn read(
    r: impl Read,
    format: Format,
    at: &str,
    limits: &Limits,
    budget: &Budget,
) -> Result<Listing, DiffError> {
    let mut listing = Listing::new(format);
    let walk_limits = ar::Limits {
        max_entries: limits.max_entries,
        max_total_size: u64::MAX,
        max_entry_size: limits.max_entry_size,
    };
    let mut retained = 0u64;
    let result = ar::visit_tar_raw(r, &walk_limits, |h, contents| {
        let c = capture(contents, limits, &mut retained).map_err(Stop::Io)?;
        let mut meta = vec![("tar.header".into(), h.format.into())];
        for (k, v) in &h.pax {
            let k = Name(k.clone()).escaped();
            if k == "path" || k == "linkpath" {
                continue;
            }
            meta.push((
                format!("pax.{k}").into(),
                Name(v.clone()).to_string().into(),
            ));
        }
        listing.entries.push(Entry {
            name: Name(h.path),
            kind: Some(kind(h.flag)),
            target: h.link.map(Name),
            mode: Some(h.mode),
            uid: Some(h.uid),
            gid: Some(h.gid),
            uname: Some(Name(h.uname)),
            gname: Some(Name(h.gname)),
            mtime: Some(h.mtime as i64),
            size: c.size,
            sha256: c.sha256,
            meta,
            data: c.data,
            over_budget: c.over_budget,
        });
        Ok(())
    });
    match result {
        Ok(()) => Ok(listing),
        Err(Stop::Io(e)) => Err(budget.error(e, format)),
        Err(Stop::Read(e)) => Err(match (budget.hit(), e) {
            (Some(c), _) => super::budget::cap(at, c, limits),
            (None, ReadError::TooManyEntries { .. }) => {
                super::budget::cap(at, Cap::Entries, limits)
            }
            (None, ReadError::EntryTooLarge { .. }) => {
                super::budget::cap(at, Cap::EntrySize, limits)
            }
            (None, ReadError::Io(e)) => budget.error(e, format),
            (None, e) => DiffError::Malformed {
                at: at.into(),
                format,
                detail: crate::error::chain(&e),
            },
        }),
    }
}
