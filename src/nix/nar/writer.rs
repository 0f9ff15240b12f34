//! Streaming NAR writer.

use std::io::{self, Write};

use super::{invalid_name_reason, padding, MAGIC};

/// A NAR could not be written: an I/O error from the underlying writer, or the
/// caller broke the format's rules.
#[derive(Debug, thiserror::Error)]
pub enum NarWriteError {
    #[error("writing NAR")]
    Io(#[from] io::Error),
    #[error("NAR directory entries out of order: {name:?} after {previous:?} (entries must be sorted by name bytes)")]
    Unsorted { previous: String, name: String },
    #[error("duplicate NAR directory entry {name:?}")]
    Duplicate { name: String },
    #[error("invalid NAR entry name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("NAR file contents: {declared} bytes declared, {written} written")]
    ContentsLength { declared: u64, written: u64 },
    #[error("NAR writer misused: {0}")]
    State(&'static str),
}

impl crate::error::Classify for NarWriteError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Internal
    }
}

#[derive(Debug)]
enum State {
    /// A node must come next (the root, or after `entry`).
    ExpectNode,
    /// Inside a regular file's contents.
    Contents { declared: u64, remaining: u64 },
    /// Inside a directory, between entries.
    InDirectory,
    /// The root node is complete.
    Done,
}

/// Writes a NAR to `W`, node by node, in the order the format requires.
///
/// Use [`regular`](Self::regular) + [`contents`](Self::contents),
/// [`symlink`](Self::symlink), or [`directory`](Self::directory) +
/// ([`entry`](Self::entry) + a node)* + [`close_directory`](Self::close_directory),
/// then [`finish`](Self::finish). Entries must be given sorted by name bytes;
/// the writer checks it, and checks that exactly the declared number of
/// content bytes is written.
#[derive(Debug)]
pub struct NarWriter<W: Write> {
    w: W,
    state: State,
    /// For each open directory: the name of its last entry.
    dirs: Vec<Option<Vec<u8>>>,
    written: u64,
}

const ZEROS: [u8; 8] = [0; 8];

impl<W: Write> NarWriter<W> {
    /// Start a NAR: writes the magic string.
    pub fn new(w: W) -> Result<Self, NarWriteError> {
        let mut nw = NarWriter {
            w,
            state: State::ExpectNode,
            dirs: Vec::new(),
            written: 0,
        };
        nw.str(MAGIC)?;
        Ok(nw)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn str(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 64 {
            // One write for a short token: the common case, cheap for hashers.
            let mut buf = [0u8; 8 + 64 + 8];
            buf[..8].copy_from_slice(&(s.len() as u64).to_le_bytes());
            buf[8..8 + s.len()].copy_from_slice(s);
            let end = 8 + s.len() + padding(s.len() as u64);
            return self.raw(&buf[..end]);
        }
        self.raw(&(s.len() as u64).to_le_bytes())?;
        self.raw(s)?;
        self.raw(&ZEROS[..padding(s.len() as u64)])
    }

    fn expect_node(&self) -> Result<(), NarWriteError> {
        match self.state {
            State::ExpectNode => Ok(()),
            _ => Err(NarWriteError::State("a node is not expected here")),
        }
    }

    /// A node finished: close its entry in the parent, if any.
    fn node_done(&mut self) -> Result<(), NarWriteError> {
        self.str(b")")?;
        if self.dirs.is_empty() {
            self.state = State::Done;
        } else {
            self.str(b")")?;
            self.state = State::InDirectory;
        }
        Ok(())
    }

    /// Begin a regular file of `size` bytes; write them with
    /// [`contents`](Self::contents).
    pub fn regular(&mut self, executable: bool, size: u64) -> Result<(), NarWriteError> {
        self.expect_node()?;
        self.str(b"(")?;
        self.str(b"type")?;
        self.str(b"regular")?;
        if executable {
            self.str(b"executable")?;
            self.str(b"")?;
        }
        self.str(b"contents")?;
        self.raw(&size.to_le_bytes())?;
        self.state = State::Contents {
            declared: size,
            remaining: size,
        };
        if size == 0 {
            self.end_contents()?;
        }
        Ok(())
    }

    /// Write (part of) the current regular file's contents.
    pub fn contents(&mut self, buf: &[u8]) -> Result<(), NarWriteError> {
        let State::Contents {
            declared,
            remaining,
        } = self.state
        else {
            return Err(NarWriteError::State("no regular file is open"));
        };
        let n = buf.len() as u64;
        if n > remaining {
            return Err(NarWriteError::ContentsLength {
                declared,
                written: declared - remaining + n,
            });
        }
        self.raw(buf)?;
        self.state = State::Contents {
            declared,
            remaining: remaining - n,
        };
        if n == remaining {
            self.end_contents()?;
        }
        Ok(())
    }

    fn end_contents(&mut self) -> Result<(), NarWriteError> {
        let State::Contents { declared, .. } = self.state else {
            return Err(NarWriteError::State("no regular file is open"));
        };
        self.raw(&ZEROS[..padding(declared)])?;
        self.node_done()
    }

    /// A symlink node pointing at `target` (bytes, not interpreted).
    pub fn symlink(&mut self, target: &[u8]) -> Result<(), NarWriteError> {
        self.expect_node()?;
        self.str(b"(")?;
        self.str(b"type")?;
        self.str(b"symlink")?;
        self.str(b"target")?;
        self.str(target)?;
        self.node_done()
    }

    /// Open a directory node; give its entries with [`entry`](Self::entry).
    pub fn directory(&mut self) -> Result<(), NarWriteError> {
        self.expect_node()?;
        self.str(b"(")?;
        self.str(b"type")?;
        self.str(b"directory")?;
        self.dirs.push(None);
        self.state = State::InDirectory;
        Ok(())
    }

    /// Begin the entry `name` of the open directory; a node must follow.
    pub fn entry(&mut self, name: &[u8]) -> Result<(), NarWriteError> {
        if !matches!(self.state, State::InDirectory) {
            return Err(NarWriteError::State("no directory is open for an entry"));
        }
        if let Some(reason) = invalid_name_reason(name) {
            return Err(NarWriteError::InvalidName {
                name: String::from_utf8_lossy(name).into_owned(),
                reason,
            });
        }
        let last = self.dirs.last_mut().expect("a directory is open");
        if let Some(prev) = last.as_deref() {
            match prev.cmp(name) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    return Err(NarWriteError::Duplicate {
                        name: String::from_utf8_lossy(name).into_owned(),
                    })
                }
                std::cmp::Ordering::Greater => {
                    return Err(NarWriteError::Unsorted {
                        previous: String::from_utf8_lossy(prev).into_owned(),
                        name: String::from_utf8_lossy(name).into_owned(),
                    })
                }
            }
        }
        *last = Some(name.to_vec());
        self.str(b"entry")?;
        self.str(b"(")?;
        self.str(b"name")?;
        self.str(name)?;
        self.str(b"node")?;
        self.state = State::ExpectNode;
        Ok(())
    }

    /// Close the innermost open directory.
    pub fn close_directory(&mut self) -> Result<(), NarWriteError> {
        if !matches!(self.state, State::InDirectory) {
            return Err(NarWriteError::State("no directory to close here"));
        }
        self.dirs.pop();
        self.node_done()
    }

    /// Check the NAR is complete and return the underlying writer (flushed).
    pub fn finish(mut self) -> Result<W, NarWriteError> {
        match self.state {
            State::Done => {
                self.w.flush()?;
                Ok(self.w)
            }
            State::Contents {
                declared,
                remaining,
            } => Err(NarWriteError::ContentsLength {
                declared,
                written: declared - remaining,
            }),
            _ => Err(NarWriteError::State("the NAR is incomplete")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_misuse() {
        let mut w = NarWriter::new(Vec::new()).unwrap();
        w.directory().unwrap();
        w.entry(b"b").unwrap();
        w.symlink(b"x").unwrap();
        assert!(matches!(w.entry(b"a"), Err(NarWriteError::Unsorted { .. })));
        assert!(matches!(
            w.entry(b"b"),
            Err(NarWriteError::Duplicate { .. })
        ));
        assert!(matches!(
            w.entry(b".."),
            Err(NarWriteError::InvalidName { .. })
        ));
        assert!(matches!(
            w.entry(b"a/b"),
            Err(NarWriteError::InvalidName { .. })
        ));
        w.entry(b"c").unwrap();
        w.regular(false, 2).unwrap();
        assert!(matches!(
            w.contents(b"abc"),
            Err(NarWriteError::ContentsLength { .. })
        ));
        w.contents(b"a").unwrap();
        assert!(matches!(w.close_directory(), Err(NarWriteError::State(_))));
        w.contents(b"b").unwrap();
        assert!(matches!(
            NarWriter::new(Vec::new()).unwrap().finish(),
            Err(NarWriteError::State(_))
        ));
        w.close_directory().unwrap();
        assert!(w.finish().is_ok());
    }
}
