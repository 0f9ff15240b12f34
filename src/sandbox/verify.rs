//! The in-sandbox identity check: the program a build runs must be the one
//! its derivation records.
//!
//! Before the first bubblewrap run of a spec's tools in this kiln process,
//! each tool whose host `--version` succeeded is run once more, inside the
//! same sandbox (same tools, mounts and environment), as
//! `<in-sandbox binary> --version`, and its answer (stdout, or stderr when
//! stdout is empty, trimmed: the host rule) must equal the recorded one. A
//! difference means the sandbox would load another interpreter or library
//! than the identity names (e.g. the system `libpython` instead of pyenv's),
//! and is [`SandboxError::ToolMismatch`] (exit 3).
//!
//! The check is remembered per (tools, environment) for the life of the
//! process, so a build spawns it once per tool, not per process; a cached
//! build runs nothing and so checks nothing.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use super::{layout, process, Confine, SandboxError, SandboxMode, Spec, Tool};

/// Tool sets (with environment) already checked in this process.
static CHECKED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// What separates the captured stdout from stderr in the check's output.
const MARK: &str = "\n--kiln-version-stderr--\n";

/// Check `spec`'s tools once (bubblewrap only).
pub(super) fn check_tools(spec: &Spec, log: &Path) -> Result<(), SandboxError> {
    if spec.mode != SandboxMode::Bubblewrap || spec.tools.is_empty() {
        return Ok(());
    }
    let key = serde_json::to_string(&(&spec.tools, &spec.env)).unwrap_or_default();
    {
        let mut done = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        if !done.insert(key.clone()) {
            return Ok(());
        }
    }
    let result = spec
        .tools
        .iter()
        .filter(|t| t.version_ok)
        .try_for_each(|t| check_one(spec, t, log));
    if result.is_err() {
        CHECKED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
    result
}

fn check_one(spec: &Spec, tool: &Tool, log: &Path) -> Result<(), SandboxError> {
    // Run as the link in /kiln/bin points (its file name is the real
    // binary's, as on the host: gcc prints the name it was called by).
    let target = layout::tool_target(&spec.tools, &tool.name)
        .unwrap_or_else(|| format!("/kiln/bin/{}", tool.name));
    // Only the shell's builtins: the sandbox PATH holds the declared tools.
    let script = format!(
        "o=$(\"$0\" --version 2>/tmp/.kiln-version-stderr); \
         e=$(while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; done \
         </tmp/.kiln-version-stderr); printf '%s{}%s' \"$o\" \"$e\"",
        MARK.replace('\n', "\\n")
    );
    let probe = Spec {
        cwd: String::new(),
        argv: vec!["/bin/sh".into(), "-c".into(), script, target.clone()],
        ..spec.clone()
    };
    let out = process::execute(&probe, &Confine::default(), log, true)?;
    let text = String::from_utf8_lossy(&out);
    let (stdout, stderr) = text.split_once(MARK).unwrap_or((&text, ""));
    let ran = if stdout.bytes().all(|b| b.is_ascii_whitespace()) {
        stderr
    } else {
        stdout
    }
    .trim();
    if ran == tool.version || same_but_for_path(tool, &target, ran) {
        return Ok(());
    }
    Err(SandboxError::ToolMismatch {
        name: tool.name.clone(),
        path: tool.path.clone(),
        recorded: tool.version.clone(),
        ran: ran.to_string(),
    })
}

/// A `--version` that prints its own invocation path (`target` inside, the
/// real binary on the host) still matches.
fn same_but_for_path(tool: &Tool, target: &str, ran: &str) -> bool {
    ran.contains(target) && ran.replace(target, &tool.path.to_string_lossy()) == tool.version
}
