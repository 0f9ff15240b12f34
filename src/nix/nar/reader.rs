//! Bounded, strict NAR reader (a pull parser).

use std::io::{self, Read};

use super::{invalid_name_reason, padding, MAGIC};

/// Longest entry name accepted (Linux `NAME_MAX`).
pub const MAX_NAME: usize = 255;
/// Longest symlink target accepted (Linux `PATH_MAX` − 1).
pub(super) const MAX_TARGET: usize = 4095;
/// Deepest directory nesting accepted.
pub(super) const MAX_DEPTH: usize = 2048;
/// Longest keyword token (`"directory"` is 9 bytes).
const MAX_TOKEN: usize = 16;

/// Why a byte stream is not an acceptable NAR. `offset` is the byte position
/// in the stream where the problem was found.
#[derive(Debug, thiserror::Error)]
pub enum NarReadError {
    #[error("reading NAR")]
    Io(#[source] io::Error),
    #[error("NAR is truncated at byte {offset}")]
    Truncated { offset: u64 },
    #[error("not a NAR: the stream does not start with \"nix-archive-1\"")]
    BadMagic,
    #[error("malformed NAR at byte {offset}: expected {expected}, found {found:?}")]
    Unexpected {
        offset: u64,
        expected: &'static str,
        found: String,
    },
    #[error("malformed NAR at byte {offset}: non-zero padding")]
    NonZeroPadding { offset: u64 },
    #[error("NAR entry {path:?} has an invalid name: {reason}")]
    InvalidName { path: String, reason: &'static str },
    #[error("NAR directory {dir:?} is not sorted: {name:?} comes after {previous:?}")]
    Unsorted {
        dir: String,
        previous: String,
        name: String,
    },
    #[error("NAR directory {dir:?} contains {name:?} twice")]
    Duplicate { dir: String, name: String },
    #[error("malformed NAR at byte {offset}: {what} of {len} bytes exceeds the limit of {max}")]
    TooLong {
        offset: u64,
        what: &'static str,
        len: u64,
        max: usize,
    },
    #[error("NAR nests directories deeper than {MAX_DEPTH} at {path:?}")]
    TooDeep { path: String },
    #[error("NAR has trailing data after the root node, at byte {offset}")]
    TrailingData { offset: u64 },
    #[error("NAR reader misused: {0}")]
    State(&'static str),
}

impl crate::error::Classify for NarReadError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            NarReadError::Io(_) | NarReadError::State(_) => crate::error::ErrorKind::Internal,
            _ => crate::error::ErrorKind::BadInput,
        }
    }
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file; its `size` bytes of contents follow, readable with
    /// [`NarReader::read_contents`] (skipped if not read).
    Regular { executable: bool, size: u64 },
    /// A symlink.
    Symlink { target: Vec<u8> },
    /// A directory opens; its entries follow until [`Entry::EndDirectory`].
    Directory,
    /// The directory at `path` is complete.
    EndDirectory,
}

/// One step of a NAR: the node at `path` (entry names joined by `/`; empty
/// for the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub path: Vec<u8>,
    pub entry: Entry,
}

#[derive(Debug)]
enum State {
    Start,
    /// Contents of a regular file are being read.
    Contents {
        size: u64,
        remaining: u64,
    },
    InDirectory,
    Done,
}

/// Reads a NAR from `R` event by event; see [`Event`].
///
/// Every string length is bounded before anything is allocated, so a hostile
/// NAR cannot make the reader allocate more than a few kilobytes. After the
/// root node, the stream must end.
#[derive(Debug)]
pub struct NarReader<R: Read> {
    r: R,
    offset: u64,
    state: State,
    /// For each open directory: the length of `path` before its name and the
    /// last entry name seen.
    dirs: Vec<(usize, Option<Vec<u8>>)>,
    path: Vec<u8>,
}

impl<R: Read> NarReader<R> {
    pub fn new(r: R) -> Self {
        NarReader {
            r,
            offset: 0,
            state: State::Start,
            dirs: Vec::new(),
            path: Vec::new(),
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), NarReadError> {
        match self.r.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(NarReadError::Truncated {
                offset: self.offset,
            }),
            Err(e) => Err(NarReadError::Io(e)),
        }
    }

    fn u64(&mut self) -> Result<u64, NarReadError> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn pad(&mut self, len: u64) -> Result<(), NarReadError> {
        let n = padding(len);
        let mut b = [0u8; 8];
        let at = self.offset;
        self.fill(&mut b[..n])?;
        if b.iter().any(|&x| x != 0) {
            return Err(NarReadError::NonZeroPadding { offset: at });
        }
        Ok(())
    }

    /// A string of at most `max` bytes.
    fn string(&mut self, what: &'static str, max: usize) -> Result<Vec<u8>, NarReadError> {
        let at = self.offset;
        let len = self.u64()?;
        if len > max as u64 {
            return Err(NarReadError::TooLong {
                offset: at,
                what,
                len,
                max,
            });
        }
        let mut s = vec![0u8; len as usize];
        self.fill(&mut s)?;
        self.pad(len)?;
        Ok(s)
    }

    fn token(&mut self, expected: &'static str) -> Result<Vec<u8>, NarReadError> {
        let at = self.offset;
        match self.string("keyword", MAX_TOKEN) {
            Err(NarReadError::TooLong { .. }) => Err(NarReadError::Unexpected {
                offset: at,
                expected,
                found: "a long string".into(),
            }),
            other => other,
        }
    }

    fn expect(&mut self, tok: &'static str) -> Result<(), NarReadError> {
        let at = self.offset;
        let got = self.token(tok)?;
        if got != tok.as_bytes() {
            return Err(unexpected(at, tok, &got));
        }
        Ok(())
    }

    fn lossy(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    /// Parse a node header after `(`-less position; returns its event.
    fn node(&mut self) -> Result<Event, NarReadError> {
        self.expect("(")?;
        self.expect("type")?;
        let at = self.offset;
        let ty = self.token("regular, symlink or directory")?;
        let path = self.path.clone();
        match ty.as_slice() {
            b"regular" => {
                let at = self.offset;
                let mut tok = self.token("executable or contents")?;
                let mut executable = false;
                if tok == b"executable" {
                    executable = true;
                    self.expect("")?;
                    tok = self.token("contents")?;
                }
                if tok != b"contents" {
                    return Err(unexpected(at, "contents", &tok));
                }
                let size = self.u64()?;
                self.state = State::Contents {
                    size,
                    remaining: size,
                };
                if size == 0 {
                    self.end_contents()?;
                }
                Ok(Event {
                    path,
                    entry: Entry::Regular { executable, size },
                })
            }
            b"symlink" => {
                self.expect("target")?;
                let target = self.string("symlink target", MAX_TARGET)?;
                self.expect(")")?;
                self.node_done()?;
                Ok(Event {
                    path,
                    entry: Entry::Symlink { target },
                })
            }
            b"directory" => {
                if self.dirs.len() >= MAX_DEPTH {
                    return Err(NarReadError::TooDeep {
                        path: Self::lossy(&self.path),
                    });
                }
                self.dirs.push((self.path.len(), None));
                self.state = State::InDirectory;
                Ok(Event {
                    path,
                    entry: Entry::Directory,
                })
            }
            _ => Err(unexpected(at, "regular, symlink or directory", &ty)),
        }
    }

    fn end_contents(&mut self) -> Result<(), NarReadError> {
        let State::Contents { size, .. } = self.state else {
            return Err(NarReadError::State("not in file contents"));
        };
        self.pad(size)?;
        self.expect(")")?;
        self.node_done()
    }

    /// The node at `path` is closed: close the parent's entry, or end.
    fn node_done(&mut self) -> Result<(), NarReadError> {
        match self.dirs.last() {
            Some(&(parent_len, _)) => {
                self.expect(")")?;
                self.path.truncate(parent_len);
                self.state = State::InDirectory;
            }
            None => {
                let mut b = [0u8; 1];
                loop {
                    match self.r.read(&mut b) {
                        Ok(0) => break,
                        Ok(_) => {
                            return Err(NarReadError::TrailingData {
                                offset: self.offset,
                            })
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(NarReadError::Io(e)),
                    }
                }
                self.state = State::Done;
            }
        }
        Ok(())
    }

    /// The next event, or `None` after the root node (and end of stream).
    pub fn next_event(&mut self) -> Result<Option<Event>, NarReadError> {
        loop {
            match self.state {
                State::Start => {
                    let magic = self.string("magic", MAX_TOKEN).map_err(|e| match e {
                        NarReadError::Io(e) => NarReadError::Io(e),
                        _ => NarReadError::BadMagic,
                    })?;
                    if magic != MAGIC {
                        return Err(NarReadError::BadMagic);
                    }
                    return self.node().map(Some);
                }
                State::Contents { remaining, .. } => {
                    // Skip unread contents.
                    let mut left = remaining;
                    let mut buf = [0u8; 8192];
                    while left > 0 {
                        let n = left.min(buf.len() as u64) as usize;
                        self.fill(&mut buf[..n])?;
                        left -= n as u64;
                    }
                    if let State::Contents { remaining, .. } = &mut self.state {
                        *remaining = 0;
                    }
                    self.end_contents()?;
                }
                State::InDirectory => return self.directory_step().map(Some),
                State::Done => return Ok(None),
            }
        }
    }

    fn directory_step(&mut self) -> Result<Event, NarReadError> {
        let at = self.offset;
        let tok = self.token("entry or )")?;
        if tok == b")" {
            self.dirs.pop();
            let path = self.path.clone();
            self.node_done()?;
            return Ok(Event {
                path,
                entry: Entry::EndDirectory,
            });
        }
        if tok != b"entry" {
            return Err(unexpected(at, "entry or )", &tok));
        }
        self.expect("(")?;
        self.expect("name")?;
        let name = self.string("entry name", MAX_NAME)?;
        let dir = Self::lossy(&self.path);
        if let Some(reason) = invalid_name_reason(&name) {
            return Err(NarReadError::InvalidName {
                path: join(&dir, &Self::lossy(&name)),
                reason,
            });
        }
        let (_, last) = self.dirs.last_mut().expect("in a directory");
        if let Some(prev) = last.as_deref() {
            if prev == name.as_slice() {
                return Err(NarReadError::Duplicate {
                    dir,
                    name: Self::lossy(&name),
                });
            }
            if prev > name.as_slice() {
                return Err(NarReadError::Unsorted {
                    dir,
                    previous: Self::lossy(prev),
                    name: Self::lossy(&name),
                });
            }
        }
        *last = Some(name.clone());
        self.expect("node")?;
        if !self.path.is_empty() {
            self.path.push(b'/');
        }
        self.path.extend_from_slice(&name);
        self.node()
    }

    /// Read contents of the current regular file; `Ok(0)` at its end.
    pub fn read_contents(&mut self, buf: &mut [u8]) -> Result<usize, NarReadError> {
        let State::Contents { remaining, .. } = self.state else {
            return Ok(0);
        };
        if remaining == 0 {
            return Ok(0);
        }
        let n = remaining.min(buf.len() as u64) as usize;
        self.fill(&mut buf[..n])?;
        if let State::Contents { remaining, .. } = &mut self.state {
            *remaining -= n as u64;
            if *remaining == 0 {
                self.end_contents()?;
            }
        }
        Ok(n)
    }

    /// Read the whole NAR, checking it; returns the number of events.
    pub fn validate(mut self) -> Result<u64, NarReadError> {
        let mut n = 0;
        while self.next_event()?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

fn unexpected(offset: u64, expected: &'static str, found: &[u8]) -> NarReadError {
    NarReadError::Unexpected {
        offset,
        expected,
        found: String::from_utf8_lossy(found).into_owned(),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nix::nar::NarWriter;

    fn sample() -> Vec<u8> {
        let mut w = NarWriter::new(Vec::new()).unwrap();
        w.directory().unwrap();
        w.entry(b"a").unwrap();
        w.regular(true, 3).unwrap();
        w.contents(b"abc").unwrap();
        w.entry(b"d").unwrap();
        w.directory().unwrap();
        w.entry(b"l").unwrap();
        w.symlink(b"../a").unwrap();
        w.close_directory().unwrap();
        w.close_directory().unwrap();
        w.finish().unwrap()
    }

    fn walk(nar: &[u8]) -> Result<Vec<Event>, NarReadError> {
        let mut r = NarReader::new(nar);
        let mut out = Vec::new();
        while let Some(ev) = r.next_event()? {
            out.push(ev);
        }
        Ok(out)
    }

    #[test]
    fn reads_what_the_writer_writes() {
        let evs = walk(&sample()).unwrap();
        let kinds: Vec<(&[u8], &Entry)> =
            evs.iter().map(|e| (e.path.as_slice(), &e.entry)).collect();
        assert_eq!(
            kinds,
            vec![
                (&b""[..], &Entry::Directory),
                (
                    &b"a"[..],
                    &Entry::Regular {
                        executable: true,
                        size: 3
                    }
                ),
                (&b"d"[..], &Entry::Directory),
                (
                    &b"d/l"[..],
                    &Entry::Symlink {
                        target: b"../a".to_vec()
                    }
                ),
                (&b"d"[..], &Entry::EndDirectory),
                (&b""[..], &Entry::EndDirectory),
            ]
        );
    }

    #[test]
    fn every_truncation_and_byte_flip_is_an_error_or_harmless() {
        let nar = sample();
        for cut in 0..nar.len() {
            assert!(walk(&nar[..cut]).is_err(), "accepted a NAR cut at {cut}");
        }
        for i in 0..nar.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = nar.clone();
                bad[i] ^= bit;
                // Must not panic or allocate wildly; flips inside file
                // contents or names may still be valid NARs.
                let _ = walk(&bad);
            }
        }
    }
}
