//! The NAR (Nix ARchive) format: a canonical serialisation of a file, a
//! symlink or a directory tree.
//!
//! Every token is a *string*: a u64 little-endian length, the bytes, and zero
//! padding to a multiple of 8. A NAR is `"nix-archive-1"` followed by one
//! node:
//!
//! ```text
//! ( type regular [executable ""] contents <bytes> )
//! ( type symlink target <target> )
//! ( type directory { entry ( name <name> node <node> ) }* )
//! ```
//!
//! Directory entries appear sorted by the raw bytes of their names, each name
//! at most once, never `.`/`..`, never containing `/` or NUL. Nothing else
//! (timestamps, owners, modes beyond the executable bit) is recorded.
//!
//! [`NarWriter`] streams a NAR into any [`std::io::Write`] and checks these
//! invariants itself; [`NarReader`] parses one from any [`std::io::Read`],
//! bounded, rejecting everything Nix rejects.

mod reader;
mod writer;

pub use reader::{Entry, Event, NarReadError, NarReader, MAX_NAME};
pub use writer::{NarWriteError, NarWriter};

/// The magic string that opens every NAR.
pub const MAGIC: &[u8] = b"nix-archive-1";

/// Why a name cannot be a NAR directory entry, if it cannot.
pub fn invalid_name_reason(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == b"." || name == b".." {
        Some("it is `.` or `..`")
    } else if name.contains(&b'/') {
        Some("it contains `/`")
    } else if name.contains(&0) {
        Some("it contains a NUL byte")
    } else {
        None
    }
}

/// Padding needed after `len` bytes to reach a multiple of 8.
pub(crate) fn padding(len: u64) -> usize {
    ((8 - (len % 8)) % 8) as usize
}
