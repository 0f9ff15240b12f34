//! What a sandboxed process sees: the bubblewrap argument list (mounts,
//! namespaces) or, without a sandbox, the host stand-ins for the fixed paths.
//!
//! Everything here is decided from the [`Spec`] alone, so the same spec gives
//! the same layout on every machine. Per-run support files (the generated
//! `/etc` files; without a sandbox also the tool links and the scratch
//! directory) live in a temporary directory removed after the run.
//!
//! Tools: a tool whose real binary lies in a system directory (`/usr`, `/bin`,
//! `/lib*`) is already visible and only gets a link in `/kiln/bin`. A binary
//! in `<prefix>/bin/` (a rustup toolchain, an `/opt/<x>` install) has the
//! prefix's `bin`, `etc`, `lib`, `lib64`, `libexec` and `share` mounted
//! read-only under `/kiln/tools/<name>`, `<name>` being the first declared
//! tool (in name order) from that prefix: `cargo` and `rustc` from one
//! toolchain share `/kiln/tools/cargo`, whose `lib/rustlib` is the sysroot
//! rustc finds next to its own binary. Only those parts are mounted, so a
//! tool in `~/bin` does not expose the rest of the home directory. Any other
//! binary is mounted alone at `/kiln/tools/<name>/<file>`. Each library of
//! a tool's ELF closure outside the system directories is mounted at its
//! host path (where the binary's RUNPATH names it), and one found through
//! the executable's `$ORIGIN` also where that `$ORIGIN` is in the sandbox.
//! A tool found in a venv has the venv and its base interpreter's
//! installation mounted at their host paths, and `/kiln/bin/<name>` is a
//! script that `exec`s the venv's own `bin/<file>`.
//!
//! Without a sandbox, argv elements and environment values are rewritten:
//! an in-sandbox path (`/build`, `/tmp`, an `RoInput::at`) at the start of a
//! value or right after `=` or `:`, and ending at the end of the value or at
//! `/`, `=` or `:`, becomes its host stand-in.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use super::env::{self, BUILD_DIR, TMP_DIR, TOOLS_BIN, TOOLS_ROOT};
use super::error::SandboxError;
use super::spec::{RoInput, SandboxMode, Spec};
use super::tools::Tool;

/// The shell wrapper that sets the umask, drops the `PWD` the shell itself
/// exports, and then replaces itself with the build command. `/bin/sh` is the system shell, the command is passed as
/// positional parameters (never interpolated into the script), and the
/// environment is already the sandbox's.
const UMASK_WRAPPER: [&str; 3] = [
    "/bin/sh",
    "-c",
    "umask 022 && unset PWD OLDPWD && exec \"$@\"",
];
const WRAPPER_ARG0: &str = "kiln-build";

/// In-sandbox directories an `RoInput` may not cover.
const RESERVED_MOUNTS: &[&str] = &[
    "/build", "/kiln", "/usr", "/etc", "/proc", "/dev", "/bin", "/sbin", "/lib", "/lib32",
    "/lib64", "/libx32",
];
/// Host directories mounted (or mirrored) read-only as system directories.
const SYSTEM_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];
/// `/etc` entries shared read-only with the host: the dynamic linker's cache
/// and configuration, and Debian's alternatives links (`cc`, `awk`, …).
const ETC_SHARED: &[&str] = &["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives"];

/// A process ready to spawn.
#[derive(Debug)]
pub(super) struct Prepared {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: BTreeMap<String, String>,
    /// Under bubblewrap, the file of its options (NUL-separated), which
    /// the runner opens as descriptor [`ARGS_FD`] for `--args`.
    pub options_file: Option<PathBuf>,
    /// Host working directory of the spawned program.
    pub cwd: PathBuf,
    /// Keeps the support directory alive until the process has finished.
    _support: tempfile::TempDir,
}

/// Validate `spec` and lay it out. `bwrap` is the bubblewrap binary (for
/// `SandboxMode::Bubblewrap`); `support_parent` receives the per-run
/// temporary directory.
pub(super) fn prepare(
    spec: &Spec,
    hidden: &[String],
    bwrap: Option<&Path>,
    support_parent: &Path,
) -> Result<Prepared, SandboxError> {
    let checked = check(spec, hidden)?;
    let support = tempfile::Builder::new()
        .prefix(".kiln-sandbox-")
        .tempdir_in(support_parent)
        .map_err(support_err(support_parent))?;
    match (spec.mode, bwrap) {
        (SandboxMode::Bubblewrap, Some(bwrap)) => bubblewrap(spec, &checked, bwrap, support),
        (SandboxMode::Bubblewrap, None) => Err(SandboxError::BwrapMissing),
        (SandboxMode::None, _) => unsandboxed(spec, &checked, support),
    }
}

/// What [`check`] found valid in a spec: the workspace (canonical), the
/// working directory and hidden directories relative to it, the read-only
/// inputs.
struct Checked {
    workspace: PathBuf,
    cwd: PathBuf,
    ro_inputs: Vec<RoInput>,
    hidden: Vec<PathBuf>,
}

/// Validate `spec` and the `hidden` directories before anything is laid
/// out: an argv, an existing workspace and working directory, mount points.
fn check(spec: &Spec, hidden: &[String]) -> Result<Checked, SandboxError> {
    if spec.argv.is_empty() || spec.argv.iter().any(|a| a.contains('\0')) {
        return Err(SandboxError::BadArgv {
            argv: spec.argv.clone(),
        });
    }
    let workspace = std::fs::canonicalize(&spec.workspace)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| SandboxError::BadWorkspace {
            path: spec.workspace.clone(),
        })?;
    let cwd = relative_cwd(&spec.cwd)?;
    if !workspace.join(&cwd).is_dir() {
        return Err(SandboxError::MissingCwd {
            path: workspace.join(&cwd),
        });
    }
    let ro_inputs = check_ro_inputs(&spec.ro_inputs)?;
    let hidden = hidden
        .iter()
        .map(|h| match relative_cwd(h) {
            Ok(p) if !p.as_os_str().is_empty() => Ok(p),
            _ => Err(SandboxError::BadHidden { dir: h.clone() }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checked {
        workspace,
        cwd,
        ro_inputs,
        hidden,
    })
}

/// The error of writing support file `path`.
fn support_err(path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.to_path_buf();
    move |source| SandboxError::Support { path, source }
}

/// Lay out a bubblewrap run in `support`: `/etc` files, the options file
/// (mounts, with an empty directory over each hidden one) and bwrap's argv.
fn bubblewrap(
    spec: &Spec,
    checked: &Checked,
    bwrap: &Path,
    support: tempfile::TempDir,
) -> Result<Prepared, SandboxError> {
    let Checked {
        workspace,
        cwd,
        ro_inputs,
        hidden,
    } = checked;
    let s = support.path().to_path_buf();
    let etc = s.join("etc");
    std::fs::create_dir(&etc).map_err(support_err(&etc))?;
    for (name, text) in env::etc_files() {
        let p = etc.join(name);
        std::fs::write(&p, text).map_err(support_err(&p))?;
    }
    let empty = s.join("empty");
    std::fs::create_dir(&empty).map_err(support_err(&empty))?;
    let env = env::build_env(&spec.env, spec.source_date_epoch, TOOLS_BIN, TMP_DIR)?;
    let wrappers = venv_wrappers(&spec.tools, &s.join("venv-bin"))
        .map_err(support_err(&s.join("venv-bin")))?;
    let mut args = bwrap_args(workspace, cwd, &etc, &spec.tools, ro_inputs);
    // A venv's interpreter finds its venv from the path it was
    // started by, so its PATH entry runs it by that path.
    let at = args.len() - 4;
    let binds: Vec<OsString> = wrappers
        .iter()
        .flat_map(|(name, w)| {
            [
                OsString::from("--ro-bind"),
                w.clone().into_os_string(),
                OsString::from(format!("{TOOLS_BIN}/{name}")),
            ]
        })
        .collect();
    args.splice(at..at, binds);
    // After the workspace and before `--remount-ro /`, which ends
    // the mounts: an empty read-only directory over each hidden one.
    let at = args.len() - 4;
    let masks: Vec<OsString> = hidden
        .iter()
        .flat_map(|h| {
            [
                OsString::from("--ro-bind"),
                empty.clone().into_os_string(),
                Path::new(BUILD_DIR).join(h).into_os_string(),
            ]
        })
        .collect();
    args.splice(at..at, masks);
    // The options name host paths (the workspace, the tools, the
    // inputs): bwrap reads them from a descriptor, so that its own
    // argv, which the build sees as /proc/1/cmdline, holds none.
    let options_file = s.join("bwrap-args");
    write_options(&options_file, &args).map_err(support_err(&options_file))?;
    let mut args: Vec<OsString> = vec!["--args".into(), ARGS_FD.to_string().into(), "--".into()];
    args.extend(UMASK_WRAPPER.iter().map(OsString::from));
    args.push(WRAPPER_ARG0.into());
    args.extend(spec.argv.iter().map(OsString::from));
    Ok(Prepared {
        program: bwrap.to_path_buf(),
        args,
        env,
        options_file: Some(options_file),
        cwd: PathBuf::from("/"),
        _support: support,
    })
}

/// Lay out an unsandboxed run in `support`: tool links, stand-ins for the
/// read-only inputs, and sandbox paths in argv and env rewritten to host
/// paths.
fn unsandboxed(
    spec: &Spec,
    checked: &Checked,
    support: tempfile::TempDir,
) -> Result<Prepared, SandboxError> {
    let Checked {
        workspace,
        cwd,
        ro_inputs,
        ..
    } = checked;
    let s = support.path().to_path_buf();
    let bin = s.join("bin");
    let root = s.join("root");
    let tmp = root.join("tmp");
    for d in [&bin, &tmp] {
        std::fs::create_dir_all(d).map_err(support_err(d))?;
    }
    let wrappers = venv_wrappers(&spec.tools, &bin).map_err(support_err(&bin))?;
    for tool in spec
        .tools
        .iter()
        .filter(|t| !wrappers.contains_key(&t.name))
    {
        let link = bin.join(&tool.name);
        std::os::unix::fs::symlink(&tool.path, &link).map_err(support_err(&link))?;
    }
    let mut map: Vec<(String, String)> = vec![
        (BUILD_DIR.to_string(), path_string(workspace)),
        (TMP_DIR.to_string(), path_string(&tmp)),
    ];
    for input in ro_inputs {
        let stand_in = root.join(input.at.trim_start_matches('/'));
        if let Some(parent) = stand_in.parent() {
            std::fs::create_dir_all(parent).map_err(support_err(parent))?;
        }
        let host = std::fs::canonicalize(&input.host).map_err(support_err(&input.host))?;
        std::os::unix::fs::symlink(&host, &stand_in).map_err(support_err(&stand_in))?;
        if !under(&input.at, TMP_DIR) {
            map.push((input.at.clone(), path_string(&stand_in)));
        }
    }
    // Longest in-sandbox path first, so nested mounts win.
    map.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    let extra: BTreeMap<String, String> = spec
        .env
        .iter()
        .map(|(k, v)| (k.clone(), rewrite(v, &map)))
        .collect();
    let env = env::build_env(
        &extra,
        spec.source_date_epoch,
        &path_string(&bin),
        &path_string(&tmp),
    )?;
    let mut args: Vec<OsString> = UMASK_WRAPPER[1..].iter().map(OsString::from).collect();
    args.push(WRAPPER_ARG0.into());
    args.extend(spec.argv.iter().map(|a| OsString::from(rewrite(a, &map))));
    Ok(Prepared {
        program: PathBuf::from(UMASK_WRAPPER[0]),
        args,
        env,
        options_file: None,
        cwd: workspace.join(cwd),
        _support: support,
    })
}

/// The descriptor bubblewrap reads its options from (`--args`).
pub(super) const ARGS_FD: u32 = 3;

/// `options` NUL-terminated one after the other, as `bwrap --args` reads them.
fn write_options(file: &Path, options: &[OsString]) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let mut bytes = Vec::new();
    for o in options {
        bytes.extend_from_slice(o.as_bytes());
        bytes.push(0);
    }
    std::fs::write(file, bytes)
}

/// The bubblewrap options (everything before `--`).
fn bwrap_args(
    workspace: &Path,
    cwd: &Path,
    etc: &Path,
    tools: &[Tool],
    ro_inputs: &[RoInput],
) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |items: &[&dyn AsRef<std::ffi::OsStr>]| {
        a.extend(items.iter().map(|i| i.as_ref().to_os_string()));
    };
    let (uid, gid) = (env::BUILD_UID.to_string(), env::BUILD_GID.to_string());
    push(&[&"--unshare-all", &"--uid", &uid, &"--gid", &gid]);
    push(&[
        &"--hostname",
        &"localhost",
        &"--die-with-parent",
        &"--new-session",
    ]);

    // System directories, read-only; merged-/usr symlinks mirrored as symlinks.
    push(&[&"--ro-bind", &"/usr", &"/usr"]);
    for d in SYSTEM_DIRS {
        let host = Path::new("/").join(d);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(&host) {
                    push(&[&"--symlink", &target, &host]);
                }
            }
            Ok(m) if m.is_dir() => push(&[&"--ro-bind", &host, &host]),
            _ => {}
        }
    }
    push(&[&"--perms", &"0755", &"--dir", &"/etc"]);
    for (name, _) in env::etc_files() {
        push(&[&"--ro-bind", &etc.join(name), &Path::new("/etc").join(name)]);
    }
    for name in ETC_SHARED {
        let p = Path::new("/etc").join(name);
        push(&[&"--ro-bind-try", &p, &p]);
    }
    push(&[&"--proc", &"/proc", &"--dev", &"/dev", &"--tmpfs", &TMP_DIR]);
    push(&[&"--bind", &workspace, &BUILD_DIR]);

    // Tools: prefixes under /kiln/tools, links in /kiln/bin.
    push(&[&"--perms", &"0755", &"--dir", &"/kiln"]);
    push(&[&"--perms", &"0755", &"--dir", &TOOLS_BIN]);
    let (mounts, links) = tool_layout(tools);
    for (host, at) in &mounts {
        push(&[&"--ro-bind", host, at]);
    }
    for (name, target) in &links {
        if tools.iter().any(|t| t.name == *name && t.venv.is_some()) {
            // A file bound here by `prepare` (see `venv_wrappers`).
            continue;
        }
        push(&[&"--symlink", target, &format!("{TOOLS_BIN}/{name}")]);
    }
    for input in ro_inputs {
        push(&[&"--ro-bind", &input.host, &input.at]);
    }
    // Only /build and /tmp stay writable. (These four arguments stay
    // last: `prepare` inserts the hidden-directory masks before them.)
    push(&[&"--remount-ro", &"/"]);
    let chdir = Path::new(BUILD_DIR).join(cwd);
    push(&[&"--chdir", &chdir]);
    a
}

/// For each tool found in a venv, a script in `dir` named after the tool
/// that `exec`s the venv's own `bin/<file>` (mounted at its host path):
/// Python recognises a venv by the `pyvenv.cfg` beside the path it was
/// started by, which a symlink in `/kiln/bin` would hide.
fn venv_wrappers(tools: &[Tool], dir: &Path) -> std::io::Result<BTreeMap<String, PathBuf>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    for tool in tools.iter().filter(|t| t.venv.is_some()) {
        std::fs::create_dir_all(dir)?;
        let quoted = path_string(&tool.path).replace('\'', "'\\''");
        let script = format!("#!/bin/sh\nexec '{quoted}' \"$@\"\n");
        let file = dir.join(&tool.name);
        std::fs::write(&file, script)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
        out.insert(tool.name.clone(), file);
    }
    Ok(out)
}

/// `(host path, in-sandbox path)`: part of a tool installation, read-only.
type ToolMount = (PathBuf, String);
/// `(tool name, in-sandbox target)`: a link in `/kiln/bin`.
type ToolLink = (String, String);

/// The parts of an installation prefix that are mounted: what toolchains
/// need next to their binaries (a rustup toolchain's `lib/rustlib`, node's
/// `lib/node_modules`), and nothing else that may share the prefix (a home
/// directory's other contents).
const PREFIX_PARTS: &[&str] = &["bin", "etc", "lib", "lib64", "libexec", "share"];

/// What of installation prefix `prefix` is mounted at `at`: its
/// [`PREFIX_PARTS`].
fn prefix_mounts(prefix: &Path, at: &str) -> Vec<ToolMount> {
    PREFIX_PARTS
        .iter()
        .map(|part| (prefix.join(part), format!("{at}/{part}")))
        .filter(|(host, _)| host.is_dir())
        .collect()
}

/// An interpreter's headers also where its relocated prefix (`prefix`,
/// mounted at `at`) puts them: `sysconfig`'s `include` path, which CMake's
/// FindPython reads.
fn headers_mount(prefix: &Path, at: &str, tool: &Tool) -> Option<ToolMount> {
    let h = tool.headers.as_ref()?;
    let rel = h.dir.strip_prefix(prefix).ok()?;
    Some((h.dir.clone(), format!("{at}/{}", path_string(rel))))
}

/// Mounts and `/kiln/bin` links for the declared tools.
fn tool_layout(tools: &[Tool]) -> (Vec<ToolMount>, Vec<ToolLink>) {
    let mut sorted: Vec<&Tool> = tools.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut prefixes: Vec<(PathBuf, String)> = Vec::new();
    let mut mounts: Vec<ToolMount> = Vec::new();
    // Mounted at their own host path: libraries, venvs, venv base prefixes.
    let mut same_path: Vec<PathBuf> = Vec::new();
    let mut links = Vec::new();
    for tool in sorted {
        let target = if let Some(venv) = &tool.venv {
            same_path.push(venv.dir.clone());
            if let Some(base) = venv.home.parent().filter(|b| !in_system(b)) {
                same_path.extend(
                    PREFIX_PARTS
                        .iter()
                        .map(|p| base.join(p))
                        .filter(|p| p.is_dir()),
                );
            }
            path_string(&tool.path)
        } else {
            match install_of(&tool.path) {
                Install::System => path_string(&tool.path),
                Install::Prefix(prefix) => {
                    let at = match prefixes.iter().find(|(h, _)| *h == prefix) {
                        Some((_, at)) => at.clone(),
                        None => {
                            let at = format!("{TOOLS_ROOT}/{}", tool.name);
                            mounts.extend(prefix_mounts(&prefix, &at));
                            prefixes.push((prefix.clone(), at.clone()));
                            at
                        }
                    };
                    if let Some(m) = headers_mount(&prefix, &at, tool) {
                        if !mounts.contains(&m) {
                            mounts.push(m);
                        }
                    }
                    let rel = tool.path.strip_prefix(&prefix).unwrap_or(&tool.path);
                    format!("{at}/{}", path_string(rel))
                }
                Install::Lone => {
                    let file = tool
                        .path
                        .file_name()
                        .map(Path::new)
                        .unwrap_or(Path::new(""));
                    let at = format!("{TOOLS_ROOT}/{}/{}", tool.name, path_string(file));
                    mounts.push((tool.path.clone(), at.clone()));
                    at
                }
            }
        };
        lib_mounts(tool, &target, &mut mounts, &mut same_path);
        // Where the interpreter's sysconfig sends a C compiler.
        same_path.extend(tool.headers.iter().map(|h| h.dir.clone()));
        links.push((tool.name.clone(), target));
    }
    same_path.sort();
    same_path.dedup();
    // A path inside another one mounted here is visible through it.
    // The sandbox's own places are never shadowed by a host path.
    let kept: Vec<PathBuf> = same_path
        .iter()
        .filter(|p| !same_path.iter().any(|q| q != *p && p.starts_with(q)))
        .filter(|p| {
            [BUILD_DIR, TOOLS_ROOT, "/kiln", "/proc", "/dev"]
                .iter()
                .all(|r| !p.starts_with(r))
        })
        .cloned()
        .collect();
    let mut all: Vec<ToolMount> = kept
        .into_iter()
        .map(|p| {
            let at = path_string(&p);
            (p, at)
        })
        .collect();
    all.extend(mounts);
    (all, links)
}

/// The libraries of `tool`'s closure that the system directories do not
/// already show, where the sandboxed loader looks for them: one found
/// through the executable's `$ORIGIN` where that `$ORIGIN` is in the
/// sandbox (`target` is the binary's in-sandbox path) unless a prefix mount
/// already shows it there — so a rustup toolchain's `librustc_driver` adds
/// no host path —, any other at its host path (an absolute `RUNPATH`, such
/// as pyenv's `libpython`). A venv tool's binary runs from its host path.
fn lib_mounts(tool: &Tool, target: &str, mounts: &mut Vec<ToolMount>, same: &mut Vec<PathBuf>) {
    for lib in &tool.libs {
        let origin = Path::new(target).parent().filter(|_| tool.venv.is_none());
        let at = match (&lib.origin_rel, origin) {
            (Some(rel), Some(origin)) => super::elf::normalise(&origin.join(rel)),
            _ => lib.path.clone(),
        };
        if at == lib.path {
            if !in_system(&lib.path) {
                same.push(lib.path.clone());
            }
            continue;
        }
        let covered = mounts.iter().any(|(h, m)| h.is_dir() && at.starts_with(m));
        if !covered {
            mounts.push((lib.path.clone(), path_string(&at)));
        }
    }
}

/// Whether the sandbox shows host path `p` anyway (a system directory).
fn in_system(p: &Path) -> bool {
    std::iter::once("usr")
        .chain(SYSTEM_DIRS.iter().copied())
        .any(|d| p.starts_with(Path::new("/").join(d)))
}

/// The in-sandbox installation prefix of the declared tool `name`
/// (`/kiln/tools/<first tool of that prefix>`), when its binary lies in
/// `<prefix>/bin/` outside the system directories (and not in a venv,
/// which is mounted at its host path); `None` otherwise.
pub fn tool_prefix(tools: &[Tool], name: &str) -> Option<String> {
    let tool = tools.iter().find(|t| t.name == name)?;
    if tool.venv.is_some() || !matches!(install_of(&tool.path), Install::Prefix(_)) {
        return None;
    }
    let (_, links) = tool_layout(tools);
    let (_, target) = links.into_iter().find(|(n, _)| n == name)?;
    target
        .rsplit_once("/bin/")
        .map(|(prefix, _)| prefix.to_string())
}

/// The in-sandbox path the `/kiln/bin` link of tool `name` points to.
pub(super) fn tool_target(tools: &[Tool], name: &str) -> Option<String> {
    let (_, links) = tool_layout(tools);
    links.into_iter().find(|(n, _)| n == name).map(|(_, t)| t)
}

/// Where a tool binary is installed.
#[derive(Debug, PartialEq)]
enum Install {
    /// In a system directory, mounted anyway.
    System,
    /// `<prefix>/bin/<binary>`: the prefix's [`PREFIX_PARTS`] are mounted.
    Prefix(PathBuf),
    /// Anywhere else: only the binary itself is mounted.
    Lone,
}

fn install_of(binary: &Path) -> Install {
    if in_system(binary) {
        return Install::System;
    }
    match binary.parent() {
        Some(dir) if dir.file_name().is_some_and(|n| n == "bin") => match dir.parent() {
            Some(prefix) => Install::Prefix(prefix.to_path_buf()),
            None => Install::Lone,
        },
        _ => Install::Lone,
    }
}

/// `cwd` as a normalised relative path (no `..`, not absolute).
fn relative_cwd(cwd: &str) -> Result<PathBuf, SandboxError> {
    let mut out = PathBuf::new();
    for c in Path::new(cwd).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return Err(SandboxError::BadCwd { cwd: cwd.into() }),
        }
    }
    Ok(out)
}

/// Check mount points; return the inputs sorted so parents mount first.
fn check_ro_inputs(inputs: &[RoInput]) -> Result<Vec<RoInput>, SandboxError> {
    let bad = |i: &RoInput, reason| SandboxError::BadMountPoint {
        host: i.host.clone(),
        at: i.at.clone(),
        reason,
    };
    let mut sorted = inputs.to_vec();
    sorted.sort_by(|a, b| a.at.cmp(&b.at));
    for (n, i) in sorted.iter().enumerate() {
        let p = Path::new(&i.at);
        if !p.is_absolute() || i.at.contains('\0') {
            return Err(bad(i, "the mount point must be an absolute path"));
        }
        let normal = p
            .components()
            .skip(1)
            .all(|c| matches!(c, Component::Normal(_)))
            && !i.at.ends_with('/')
            && !i.at.contains("//");
        if !normal || p.components().count() < 2 {
            return Err(bad(
                i,
                "the mount point must be a normalised path below `/` (no `.`, `..` or `//`)",
            ));
        }
        if i.at == TMP_DIR {
            return Err(bad(
                i,
                "/tmp itself is the build's scratch tmpfs; mount below it",
            ));
        }
        if RESERVED_MOUNTS.iter().any(|r| under(&i.at, r)) {
            return Err(bad(
                i,
                "the path is reserved for the workspace, the tools or the system directories",
            ));
        }
        if n > 0 && sorted[n - 1].at == i.at {
            return Err(bad(i, "two inputs are mounted at the same path"));
        }
        if !i.host.exists() {
            return Err(SandboxError::MissingInput {
                host: i.host.clone(),
                at: i.at.clone(),
            });
        }
    }
    Ok(sorted)
}

/// Whether in-sandbox path `p` is `dir` or below it.
fn under(p: &str, dir: &str) -> bool {
    p == dir || (p.starts_with(dir) && p.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// Rewrite in-sandbox paths to host stand-ins (see the module docs).
fn rewrite(value: &str, map: &[(String, String)]) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    'outer: while i < value.len() {
        let at_boundary = i == 0 || matches!(bytes[i - 1], b'=' | b':');
        if at_boundary {
            for (from, to) in map {
                if value[i..].starts_with(from.as_str()) {
                    let end = i + from.len();
                    if end == value.len() || matches!(bytes[end], b'/' | b'=' | b':') {
                        out.push_str(to);
                        i = end;
                        continue 'outer;
                    }
                }
            }
        }
        let ch = value[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, path: &str) -> Tool {
        Tool {
            name: name.into(),
            path: path.into(),
            ..Tool::default()
        }
    }

    #[test]
    fn toolchain_prefix_is_shared_and_named_by_the_first_tool() {
        let t = tempfile::tempdir().unwrap();
        let tc = t.path().join("toolchains/1.95.0");
        for d in ["bin", "lib/rustlib", "share"] {
            std::fs::create_dir_all(tc.join(d)).unwrap();
        }
        std::fs::write(t.path().join("secret"), "").unwrap();
        let tcs = tc.display().to_string();
        let lone = t.path().join("lone-tool");
        let tools = [
            tool("rustc", &format!("{tcs}/bin/rustc")),
            tool("cc", "/usr/bin/x86_64-linux-gnu-gcc-12"),
            tool("cargo", &format!("{tcs}/bin/cargo")),
            tool("zz", lone.to_str().unwrap()),
        ];
        let (mounts, links) = tool_layout(&tools);
        let m = |host: PathBuf, at: &str| (host, at.to_string());
        assert_eq!(
            mounts,
            vec![
                m(tc.join("bin"), "/kiln/tools/cargo/bin"),
                m(tc.join("lib"), "/kiln/tools/cargo/lib"),
                m(tc.join("share"), "/kiln/tools/cargo/share"),
                m(lone.clone(), "/kiln/tools/zz/lone-tool"),
            ]
        );
        let l = |name: &str, target: &str| (name.to_string(), target.to_string());
        assert_eq!(
            links,
            vec![
                l("cargo", "/kiln/tools/cargo/bin/cargo"),
                l("cc", "/usr/bin/x86_64-linux-gnu-gcc-12"),
                l("rustc", "/kiln/tools/cargo/bin/rustc"),
                l("zz", "/kiln/tools/zz/lone-tool"),
            ]
        );
    }

    #[test]
    fn interpreter_headers_are_mounted_at_their_host_path_and_in_the_prefix() {
        let t = tempfile::tempdir().unwrap();
        let py = t.path().join("versions/3.11.7");
        let include = py.join("include/python3.11");
        for d in ["bin", "lib/python3.11"] {
            std::fs::create_dir_all(py.join(d)).unwrap();
        }
        std::fs::create_dir_all(&include).unwrap();
        let bin = |f: &str| py.join("bin").join(f).display().to_string();
        // The prefix is named by `pip`, sorted first, which has no headers.
        let mut python = tool("python3", &bin("python3.11"));
        python.headers = Some(crate::sandbox::ToolHeaders {
            dir: include.clone(),
            digest: "00".into(),
        });
        let (mounts, _) = tool_layout(&[python, tool("pip", &bin("pip"))]);
        let m = |host: PathBuf, at: &str| (host, at.to_string());
        assert_eq!(
            mounts,
            vec![
                m(include.clone(), &include.display().to_string()),
                m(py.join("bin"), "/kiln/tools/pip/bin"),
                m(py.join("lib"), "/kiln/tools/pip/lib"),
                m(include, "/kiln/tools/pip/include/python3.11"),
            ]
        );
    }

    #[test]
    fn closure_libraries_outside_the_system_are_mounted_where_the_loader_looks() {
        let t = tempfile::tempdir().unwrap();
        let pfx = t.path().join("pfx");
        std::fs::create_dir_all(pfx.join("bin")).unwrap();
        std::fs::create_dir_all(pfx.join("lib")).unwrap();
        let lib = |name: &str, path: PathBuf, origin_rel: Option<&str>| super::super::ToolLib {
            name: name.into(),
            path,
            sha256: String::new(),
            origin_rel: origin_rel.map(PathBuf::from),
        };
        let mut prog = tool("prog", &format!("{}/bin/prog", pfx.display()));
        prog.libs = vec![
            lib("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6".into(), None),
            // Absolute RUNPATH elsewhere: at its host path.
            lib("libpy.so", t.path().join("py/lib/libpy.so"), None),
            // $ORIGIN/../lib: the prefix's lib mount already shows it.
            lib("liba.so", pfx.join("lib/liba.so"), Some("../lib/liba.so")),
            // $ORIGIN/../vendor: not a mounted part, so mounted there too.
            lib(
                "libv.so",
                pfx.join("vendor/libv.so"),
                Some("../vendor/libv.so"),
            ),
        ];
        let (mounts, _) = tool_layout(&[prog]);
        let m = |host: PathBuf, at: &str| (host, at.to_string());
        let at = |p: &PathBuf| p.display().to_string();
        let py = t.path().join("py/lib/libpy.so");
        let v = pfx.join("vendor/libv.so");
        assert_eq!(
            mounts,
            vec![
                // Host-path mounts first, sorted (parents before children).
                m(py.clone(), &at(&py)),
                m(pfx.join("bin"), "/kiln/tools/prog/bin"),
                m(pfx.join("lib"), "/kiln/tools/prog/lib"),
                m(v.clone(), "/kiln/tools/prog/vendor/libv.so"),
            ]
        );
    }

    #[test]
    fn bubblewrap_mode_without_bwrap_refuses_and_says_how_to_install_it() {
        let t = tempfile::tempdir().unwrap();
        let spec = Spec {
            workspace: t.path().to_path_buf(),
            cwd: String::new(),
            argv: vec!["true".into()],
            tools: Vec::new(),
            ro_inputs: Vec::new(),
            env: BTreeMap::new(),
            source_date_epoch: 0,
            mode: SandboxMode::Bubblewrap,
        };
        let err = prepare(&spec, &[], None, t.path()).unwrap_err();
        assert!(matches!(err, SandboxError::BwrapMissing));
        assert!(err.to_string().contains("apt-get install bubblewrap"));
        // Without a sandbox the same spec is prepared on the host.
        let none = Spec {
            mode: SandboxMode::None,
            ..spec
        };
        let p = prepare(&none, &[], None, t.path()).unwrap();
        assert_eq!(p.program, PathBuf::from("/bin/sh"));
    }

    #[test]
    fn cwd_must_stay_inside_build() {
        assert_eq!(relative_cwd("./a/b").unwrap(), PathBuf::from("a/b"));
        assert_eq!(relative_cwd("").unwrap(), PathBuf::new());
        assert!(relative_cwd("../x").is_err());
        assert!(relative_cwd("/etc").is_err());
        assert!(relative_cwd("a/../../x").is_err());
    }

    #[test]
    fn mount_points_are_checked() {
        let host = PathBuf::from("/");
        let input = |at: &str| RoInput {
            host: host.clone(),
            at: at.into(),
        };
        for bad in [
            "relative", "/", "/build/x", "/usr", "/tmp", "/a/../b", "/kiln/x", "/a/",
        ] {
            assert!(
                matches!(
                    check_ro_inputs(&[input(bad)]),
                    Err(SandboxError::BadMountPoint { .. })
                ),
                "{bad} accepted"
            );
        }
        assert!(
            check_ro_inputs(&[input("/tmp/cargo-home/registry/cache"), input("/inputs/x")]).is_ok()
        );
        assert!(check_ro_inputs(&[input("/x"), input("/x")]).is_err());
    }

    #[test]
    fn rewrite_only_at_path_boundaries() {
        let map = vec![
            ("/build".to_string(), "/host/ws".to_string()),
            ("/tmp".to_string(), "/host/s/tmp".to_string()),
        ];
        assert_eq!(rewrite("/build/x", &map), "/host/ws/x");
        assert_eq!(
            rewrite("--remap-path-prefix=/build=/kiln-src", &map),
            "--remap-path-prefix=/host/ws=/kiln-src"
        );
        assert_eq!(rewrite("/buildx /tmpfoo", &map), "/buildx /tmpfoo");
        assert_eq!(rewrite("a:/tmp:b", &map), "a:/host/s/tmp:b");
        assert_eq!(rewrite("ünï/build", &map), "ünï/build");
    }
}
