//! The `command` surface: run a recipe's argv in the sandbox, then collect
//! its declared outputs.
//!
//! ```toml
//! surface = "command"
//! source = "."
//! [command]
//! argv = ["cargo", "build", "--release", "--offline", "-p", "mini-cli"]
//! tools = ["cargo", "rustc", "cc"]
//! outputs = ["target/release/mini"]
//! ```
//!
//! The command runs with the recipe's source directory (inside `/build`) as
//! working directory. Each declared output is a path relative to that
//! directory: it must be relative, normalised within the source directory
//! (`a/../b` is fine, `../b` is not: a recipe that needs files above its
//! source uses a wider `source`), and must not overlap another output. After
//! the command succeeds, each output is copied to `<staging>/<output>`.
//! Only kiln writes there: when the staging directory lies in the workspace
//! (the engine's `/build/out`), the sandbox hides its top directory behind an
//! empty read-only one, and anything found in staging after the command ran
//! fails the build ([`CommandError::Injected`]). Collecting:
//!
//! - regular files get mode 0644, or 0755 when the owner may execute them;
//!   directories 0755; entries are visited in byte order of their names;
//! - symbolic links inside a declared directory are followed and stored as
//!   what they point to (as cargo and most archive formats do), provided the
//!   target resolves, as the sandboxed process saw it (`/build/…` is the
//!   workspace), inside that same declared output; a declared output that
//!   *is* a link, a link leading out of its output, a dangling link or a
//!   link cycle fails the build (exit 1) naming the output and the entry;
//! - sockets, FIFOs and devices are errors;
//! - a declared output the command did not produce fails the build with
//!   [`CommandError::MissingOutput`].

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

mod surface;
pub use surface::Command;

use crate::sandbox::{self, Confine, Limits, RoInput, SandboxError, SandboxMode, Spec, Tool};

/// Everything the command surface needs from a recipe (the engine maps the
/// recipe's `[command]` table and the resolved tools onto it).
#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub argv: Vec<String>,
    pub tools: Vec<Tool>,
    /// Paths relative to the source directory.
    pub outputs: Vec<String>,
    pub ro_inputs: Vec<RoInput>,
    pub env: BTreeMap<String, String>,
    pub source_date_epoch: u64,
    pub mode: SandboxMode,
    /// Time, memory and process limits of the run.
    pub limits: Limits,
}

/// The kind of a collected output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutputKind {
    File,
    Executable,
    Directory,
}

/// One collected output, as staged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Collected {
    /// The normalised declared path, `/`-separated; also its place under staging.
    pub path: String,
    pub kind: OutputKind,
}

/// Errors of the command surface.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("declared output {path:?}: {reason}")]
    BadOutput { path: String, reason: &'static str },
    #[error("declared outputs {a:?} and {b:?} overlap")]
    OverlappingOutputs { a: String, b: String },
    #[error("source directory {dir:?} must be a relative path inside the workspace without `..`")]
    BadSourceDir { dir: String },
    #[error(
        "the command did not produce declared output {path:?} (looked for {})",
        crate::name::shown_path(host)
    )]
    MissingOutput { path: String, host: PathBuf },
    #[error(
        "the command wrote {} into the output staging directory, which only kiln writes",
        crate::name::shown_path(entry)
    )]
    Injected { entry: PathBuf },
    #[error(
        "declared output {path:?}: {entry} is a symbolic link to {target}, outside the output"
    )]
    Escapes {
        path: String,
        entry: PathBuf,
        target: PathBuf,
    },
    #[error(
        "declared output {path:?}: {} is a dangling symbolic link",
        crate::name::shown_path(entry)
    )]
    Dangling { path: String, entry: PathBuf },
    #[error(
        "declared output {path:?}: symbolic link cycle at {}",
        crate::name::shown_path(entry)
    )]
    Cycle { path: String, entry: PathBuf },
    #[error(
        "declared output {path:?}: {} is a {kind}, which an output cannot hold",
        crate::name::shown_path(entry)
    )]
    Unsupported {
        path: String,
        entry: PathBuf,
        kind: &'static str,
    },
    #[error("collecting output {path:?} from {from} into {to}")]
    Io {
        path: String,
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

impl crate::error::Classify for CommandError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            CommandError::Sandbox(e) => e.kind(),
            CommandError::Io { .. } => ErrorKind::Internal,
            // The command ran and produced something kiln refuses to ship.
            CommandError::Injected { .. }
            | CommandError::Escapes { .. }
            | CommandError::Dangling { .. }
            | CommandError::Cycle { .. }
            | CommandError::Unsupported { .. } => ErrorKind::CheckFailed,
            _ => ErrorKind::BadInput,
        }
    }
}

/// Check declared outputs without running anything (the engine calls this
/// when it validates recipes). Returns the normalised paths in order.
pub fn validate_outputs(outputs: &[String]) -> Result<Vec<String>, CommandError> {
    let mut normal = Vec::with_capacity(outputs.len());
    for o in outputs {
        let bad = |reason| CommandError::BadOutput {
            path: o.clone(),
            reason,
        };
        if o.contains('\0') {
            return Err(bad("contains a NUL byte"));
        }
        if Path::new(o).is_absolute() {
            return Err(bad(
                "must be relative to the recipe's source directory, not absolute",
            ));
        }
        let n = normalise(o).ok_or_else(|| {
            bad("climbs out of the recipe's source directory with `..`; widen `source` instead")
        })?;
        if n.is_empty() {
            return Err(bad("names the source directory itself; declare the files or subdirectories it produces"));
        }
        normal.push(n);
    }
    for (i, a) in normal.iter().enumerate() {
        for (j, b) in normal.iter().enumerate().skip(i + 1) {
            if a == b || b.starts_with(&format!("{a}/")) || a.starts_with(&format!("{b}/")) {
                return Err(CommandError::OverlappingOutputs {
                    a: outputs[i].clone(),
                    b: outputs[j].clone(),
                });
            }
        }
    }
    Ok(normal)
}

/// Run `spec` in the sandbox with `/build/<source_dir>` as working directory
/// (`workspace` is the host directory mounted at `/build`), then copy the
/// declared outputs to `staging/<output>`. The command's output goes to `log`.
pub fn build(
    workspace: &Path,
    source_dir: &str,
    spec: &CommandSpec,
    staging: &Path,
    log: &Path,
) -> Result<Vec<Collected>, CommandError> {
    let outputs = validate_outputs(&spec.outputs)?;
    let source = normalise(source_dir).ok_or_else(|| CommandError::BadSourceDir {
        dir: source_dir.to_string(),
    })?;
    // The staging directory is hidden from the command when it lies in the
    // workspace (it does for the engine: `/build/out`).
    let hidden = staging
        .strip_prefix(workspace)
        .ok()
        .and_then(|rel| rel.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .into_iter()
        .collect();
    sandbox::run_confined(
        &Spec {
            workspace: workspace.to_path_buf(),
            cwd: source.clone(),
            argv: spec.argv.clone(),
            tools: spec.tools.clone(),
            ro_inputs: spec.ro_inputs.clone(),
            env: spec.env.clone(),
            source_date_epoch: spec.source_date_epoch,
            mode: spec.mode,
        },
        &Confine {
            limits: spec.limits,
            hidden,
        },
        log,
    )?;
    refuse_injected(staging)?;
    collect(workspace, &source, &outputs, staging)
}

/// Whatever is in `staging` after the command ran was not put there by kiln
/// (without a sandbox nothing hides it): refuse it.
fn refuse_injected(staging: &Path) -> Result<(), CommandError> {
    let entries = match std::fs::read_dir(staging) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CommandError::Io {
                path: String::new(),
                from: staging.to_path_buf(),
                to: staging.to_path_buf(),
                source,
            })
        }
    };
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    match names.into_iter().next() {
        Some(entry) => Err(CommandError::Injected { entry }),
        None => Ok(()),
    }
}

/// Copy already-validated outputs from `workspace/source/<o>` to `staging/<o>`.
fn collect(
    workspace: &Path,
    source: &str,
    outputs: &[String],
    staging: &Path,
) -> Result<Vec<Collected>, CommandError> {
    let root = std::fs::canonicalize(workspace).map_err(|e| CommandError::Io {
        path: String::new(),
        from: workspace.to_path_buf(),
        to: staging.to_path_buf(),
        source: e,
    })?;
    let mut collected = Vec::with_capacity(outputs.len());
    for out in outputs {
        let src = root.join(source).join(out);
        if std::fs::symlink_metadata(&src).is_err() {
            return Err(CommandError::MissingOutput {
                path: out.clone(),
                host: src,
            });
        }
        let dest = staging.join(out);
        let io = |from: &Path, to: &Path| {
            let (path, from, to) = (out.clone(), from.to_path_buf(), to.to_path_buf());
            move |source| CommandError::Io {
                path,
                from,
                to,
                source,
            }
        };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(&src, parent))?;
        }
        // Where the output itself lies, its parent directories resolved
        // (but not the output, which must not be a link out of itself).
        let own = match src.parent().map(|parent| resolve(&root, parent)) {
            Some(Resolved::Inside(p)) => p.join(src.file_name().unwrap_or_default()),
            _ => {
                return Err(CommandError::Escapes {
                    path: out.clone(),
                    entry: src.clone(),
                    target: src.parent().unwrap_or(&src).to_path_buf(),
                })
            }
        };
        let mut copier = Copier {
            output: out,
            workspace: &root,
            root: &own,
            stack: Vec::new(),
        };
        let kind = copier.copy(&src, &dest)?;
        collected.push(Collected {
            path: out.clone(),
            kind,
        });
    }
    Ok(collected)
}

struct Copier<'a> {
    output: &'a str,
    /// The workspace (`/build` in the sandbox).
    workspace: &'a Path,
    /// The declared output: links must resolve inside it.
    root: &'a Path,
    /// Canonical directories being copied, to detect link cycles.
    stack: Vec<PathBuf>,
}

impl Copier<'_> {
    fn copy(&mut self, entry: &Path, dest: &Path) -> Result<OutputKind, CommandError> {
        let io = |from: &Path, to: &Path| {
            let (path, from, to) = (
                self.output.to_string(),
                from.to_path_buf(),
                to.to_path_buf(),
            );
            move |source| CommandError::Io {
                path,
                from,
                to,
                source,
            }
        };
        let real = match resolve(self.workspace, entry) {
            Resolved::Inside(real) if real.starts_with(self.root) => real,
            Resolved::Inside(real) => {
                let target = match real.strip_prefix(self.workspace) {
                    Ok(rel) => Path::new(crate::sandbox::env::BUILD_DIR).join(rel),
                    Err(_) => real,
                };
                return Err(CommandError::Escapes {
                    path: self.output.to_string(),
                    entry: entry.to_path_buf(),
                    target,
                });
            }
            Resolved::Escapes(target) => {
                return Err(CommandError::Escapes {
                    path: self.output.to_string(),
                    entry: entry.to_path_buf(),
                    target,
                })
            }
            Resolved::Dangling => {
                return Err(CommandError::Dangling {
                    path: self.output.to_string(),
                    entry: entry.to_path_buf(),
                })
            }
            Resolved::Loop => {
                return Err(CommandError::Cycle {
                    path: self.output.to_string(),
                    entry: entry.to_path_buf(),
                })
            }
        };
        let meta = std::fs::metadata(&real).map_err(io(&real, dest))?;
        let ft = meta.file_type();
        if ft.is_file() {
            std::fs::copy(&real, dest).map_err(io(&real, dest))?;
            let exec = meta.permissions().mode() & 0o100 != 0;
            let mode = if exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(dest, std::fs::Permissions::from_mode(mode))
                .map_err(io(&real, dest))?;
            Ok(if exec {
                OutputKind::Executable
            } else {
                OutputKind::File
            })
        } else if ft.is_dir() {
            if self.stack.contains(&real) {
                return Err(CommandError::Cycle {
                    path: self.output.to_string(),
                    entry: entry.to_path_buf(),
                });
            }
            std::fs::create_dir(dest).map_err(io(&real, dest))?;
            let mut names: Vec<_> = std::fs::read_dir(&real)
                .map_err(io(&real, dest))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()
                .map_err(io(&real, dest))?;
            names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
            self.stack.push(real.clone());
            for name in names {
                self.copy(&entry.join(&name), &dest.join(&name))?;
            }
            self.stack.pop();
            std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))
                .map_err(io(&real, dest))?;
            Ok(OutputKind::Directory)
        } else {
            use std::os::unix::fs::FileTypeExt;
            let kind = if ft.is_fifo() {
                "FIFO"
            } else if ft.is_socket() {
                "socket"
            } else {
                "device"
            };
            Err(CommandError::Unsupported {
                path: self.output.to_string(),
                entry: entry.to_path_buf(),
                kind,
            })
        }
    }
}

/// Where a path inside the workspace really leads.
enum Resolved {
    /// The real path, inside the workspace root.
    Inside(PathBuf),
    /// A link leads here, outside the workspace.
    Escapes(PathBuf),
    Dangling,
    Loop,
}

/// Symbolic links followed before giving up (as Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Resolve `path` (absolute, below `root`) component by component, following
/// symbolic links as the sandboxed process saw them: an absolute target under
/// `/build` is inside the workspace (so is one under the host path of
/// `root`, as written without a sandbox); any other absolute target, or `..`
/// above the root, escapes.
fn resolve(root: &Path, path: &Path) -> Resolved {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    let Ok(rel) = path.strip_prefix(root) else {
        return Resolved::Escapes(path.to_path_buf());
    };
    let mut pending: VecDeque<OsString> = rel.iter().map(OsString::from).collect();
    let mut cur = root.to_path_buf();
    let mut links = 0;
    while let Some(c) = pending.pop_front() {
        if c == "." || c.is_empty() {
            continue;
        }
        if c == ".." {
            if cur == root {
                return Resolved::Escapes(root.parent().unwrap_or(root).to_path_buf());
            }
            cur.pop();
            continue;
        }
        let next = cur.join(&c);
        let Ok(meta) = std::fs::symlink_metadata(&next) else {
            return Resolved::Dangling;
        };
        if !meta.file_type().is_symlink() {
            cur = next;
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Resolved::Loop;
        }
        let Ok(target) = std::fs::read_link(&next) else {
            return Resolved::Dangling;
        };
        let rest: Vec<OsString> = if target.is_absolute() {
            let inside = target
                .strip_prefix(crate::sandbox::env::BUILD_DIR)
                .or_else(|_| target.strip_prefix(root));
            match inside {
                Ok(r) => {
                    cur = root.to_path_buf();
                    r.iter().map(OsString::from).collect()
                }
                Err(_) => return Resolved::Escapes(target),
            }
        } else {
            target.iter().map(OsString::from).collect()
        };
        for part in rest.into_iter().rev() {
            pending.push_front(part);
        }
    }
    Resolved::Inside(cur)
}

/// Lexically normalise a relative path; `None` if it is absolute or climbs
/// above its start. `""` for the start itself.
fn normalise(p: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn outputs_are_normalised_and_checked() {
        assert_eq!(
            validate_outputs(&v(&["./target/release/x", "a/../b"])).unwrap(),
            v(&["target/release/x", "b"])
        );
        for bad in ["/etc/passwd", "../x", "a/../../x", ".", ""] {
            assert!(
                matches!(
                    validate_outputs(&v(&[bad])),
                    Err(CommandError::BadOutput { .. })
                ),
                "{bad:?} accepted"
            );
        }
        assert!(matches!(
            validate_outputs(&v(&["dist", "dist/a"])),
            Err(CommandError::OverlappingOutputs { .. })
        ));
        assert!(matches!(
            validate_outputs(&v(&["a", "./a"])),
            Err(CommandError::OverlappingOutputs { .. })
        ));
        assert!(validate_outputs(&v(&["dist", "dist-x"])).is_ok());
        assert!(validate_outputs(&v(&["dist", "dist-x", "dist/a"])).is_err());
    }
}
