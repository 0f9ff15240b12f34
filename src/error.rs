//! How library errors map onto kiln's exit codes.
//!
//! Every module has its own typed error enum (thiserror) carrying the path,
//! key or value at fault. Each implements [`Classify`] so that the binary can
//! choose the exit code of DESIGN.md without inspecting message text:
//! 1 = a check failed, 2 = bad input, 3 = an internal or environment failure.

/// What kind of failure an error is, as far as the user is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A comparison or verification found a difference (exit 1).
    CheckFailed,
    /// Usage, recipe, version, tag, archive or path given by the user is wrong (exit 2).
    BadInput,
    /// I/O failure, a tool crashed, or a bug (exit 3).
    Internal,
}

impl ErrorKind {
    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::CheckFailed => 1,
            ErrorKind::BadInput => 2,
            ErrorKind::Internal => 3,
        }
    }

    /// The kind of an I/O error met reading a file that came with the
    /// project: one that is a symlink or special file
    /// ([`crate::fsutil::open_regular`]'s `InvalidInput`) or not UTF-8
    /// (`InvalidData`) is bad input; any other is the environment's.
    pub fn of_io(e: &std::io::Error) -> ErrorKind {
        match e.kind() {
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                ErrorKind::BadInput
            }
            _ => ErrorKind::Internal,
        }
    }
}

/// The exit code of a command that ran to completion: 0, or 1 when what it
/// checked showed problems (`kiln store verify` finding altered outputs).
pub fn completed(problems_found: bool) -> u8 {
    if problems_found {
        ErrorKind::CheckFailed.exit_code()
    } else {
        0
    }
}

/// Implemented by every library error type.
pub trait Classify {
    fn kind(&self) -> ErrorKind;
}

/// Render an error and its `source()` chain as `a: b: c`.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}
