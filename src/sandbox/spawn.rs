//! The one place the sandbox creates a process (runs and tool
//! identification alike).

use std::path::Path;
use std::process::Command;

/// A new process for `program`. Every spawn of the sandbox (and of tool
/// identification) goes through here.
#[allow(clippy::disallowed_methods)]
pub(super) fn command(program: &Path) -> Command {
    Command::new(program)
}
