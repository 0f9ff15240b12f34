//! The `crate` surface: the `.crate` files `cargo publish` would upload.
//!
//! crates.io accepts only what cargo itself packs, so kiln runs the real
//! `cargo package --offline --allow-dirty` in the sandbox on the
//! already stamped workspace, for the members the recipe names (`-p a -p b`,
//! or `--workspace` when it names none): packing several members in one
//! invocation lets cargo resolve their path dependencies on each other at the
//! stamped version without a registry. Steps:
//!
//! 1. `cargo package` (sandboxed) with `SOURCE_DATE_EPOCH`, `CARGO_HOME` =
//!    `/tmp/cargo-home` whose registry index and crate cache are the host's,
//!    read-only (see [`crate::sandbox::cargo_registry_inputs`]), so members
//!    with crates.io dependencies package offline; `--target-dir target` so
//!    project configuration cannot move the output (an existing
//!    `target/package` is removed first). Unless the recipe says
//!    `verify = false` (then `--no-verify` is passed), this includes cargo's
//!    own verify step, as `cargo publish` runs it: every packed `.crate` is
//!    unpacked below `target/package/` and built (`cargo build`, offline,
//!    with the `Cargo.lock` the crate carries; sibling members come from
//!    cargo's temporary registry of the crates just packed). That build
//!    needs a C toolchain ([`VERIFY_TOOLS`]: the linker, and what build
//!    scripts compiling C use), whose identities enter the derivation with
//!    `cargo` and `rustc`. A crate that does not build from its own `.crate`
//!    is [`CrateError::Verify`] (a failed check, exit 1), naming the crate
//!    cargo was verifying and carrying the tail of cargo's output.
//! 2. If cargo fails before verifying and members were named, `cargo metadata --offline
//!    --format-version 1 --no-deps` (sandboxed) lists the workspace members:
//!    a requested member the workspace does not contain is
//!    [`CrateError::UnknownMember`] (bad input). Running it only on failure
//!    keeps a successful build to one cargo invocation.
//! 3. Every `target/package/*.crate` is checked ([`check_conventions`], which
//!    also reads the crate's name and version from its normalised
//!    `Cargo.toml`); those of the requested members are copied to
//!    `<staging>/` (mode 0644).
//!
//! **From a git checkout.** When the project is the root of its git
//! repository, the surface (see `surface::crate_surface`) first makes the
//! workspace a git checkout of the commit being built
//! ([`crate::source::vcs::attach_commit`]: a shallow fetch of that one
//! commit from the project's repository, `HEAD` detached at it, the index
//! its tree). cargo then does what it does in a clean clone: lists files
//! from git (tracked dot-files included) and writes `.cargo_vcs_info.json`
//! (`git.sha1`, `path_in_vcs`, and `dirty` when stamping changed a file of
//! the package) — so at a clean tag the `.crate` equals `cargo package` in a
//! clean `git clone`. `--allow-dirty` keeps cargo from refusing stamped
//! dev builds; it does not change the bytes. The commit id is in the
//! derivation. Otherwise (a directory source, a project below its
//! repository's root) cargo packs a plain directory and writes no VCS
//! information; the sandbox mounts nothing above `/build`, so cargo cannot
//! find an unrelated repository.

//! **Determinism check.** cargo's packer is itself reproducible: entry
//! metadata is fixed and files are sorted. Packing twice to compare would
//! double the cost, so kiln instead verifies, in one pass over the archive,
//! that nothing environment-dependent reached it: the gzip header is cargo's
//! fixed one (`1f8b 08 08`, MTIME 0, OS 255, FNAME = the file name); every
//! tar header is GNU, a regular file under `{name}-{version}/`, owned by
//! 0/0 (octal zeros, or all NUL for generated files) with empty owner names, mode 0644 or 0755, and carries cargo's fixed
//! mtime (1153704088, or 0 for generated files from older cargo); paths are
//! unique and in Rust `Path` order; the archive ends with two zero blocks.
//! The gzip stream is expanded at most [`CRATE_RATIO`]:1 of the file's size
//! and to [`CRATE_MAX`] bytes (it came out of the sandbox).
//! A violation is [`CrateError::NotDeterministic`] (a failed check). The
//! reproducibility tests additionally pack twice under different paths and
//! umasks and compare bytes.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

mod surface;
pub use surface::Crate;

use sha2::{Digest, Sha256};

use crate::sandbox::{self, SandboxError, SandboxMode, Spec, Tool};

/// The tools the crate surface runs; resolve them with
/// [`crate::sandbox::resolve_tools`] and record them in the derivation.
pub const TOOLS: &[&str] = &["cargo", "rustc"];

/// The tools cargo's verify step needs besides [`TOOLS`]: `cc`, rustc's
/// linker driver (build scripts, proc macros and binaries are linked), and
/// the assembler and archiver that `cc` and the `cc` crate of build scripts
/// compiling C run. The same set builds kiln in its own `kiln-bin` recipe.
pub const VERIFY_TOOLS: &[&str] = &["cc", "as", "ar"];

/// The tools a crate recipe declares: [`TOOLS`], plus [`VERIFY_TOOLS`] when
/// it runs cargo's verify step.
pub fn tools(verify: bool) -> Vec<String> {
    let extra = if verify { VERIFY_TOOLS } else { &[] };
    TOOLS.iter().chain(extra).map(|t| t.to_string()).collect()
}

/// The mtime cargo writes into every `.crate` entry (`DETERMINISTIC_TIMESTAMP`
/// in cargo's `ops/cargo_package`); generated entries had 0 before Rust 1.93.
const CARGO_MTIMES: [u64; 2] = [1_153_704_088, 0];

/// What to package.
#[derive(Debug, Clone)]
pub struct CrateSpec {
    /// Directory of the workspace's root `Cargo.toml`, relative to the
    /// workspace root (`""` = the root itself).
    pub manifest_dir: String,
    /// Package names to pack; empty = every workspace member.
    pub members: Vec<String>,
    /// [`TOOLS`], resolved.
    pub tools: Vec<Tool>,
    /// Host cargo home whose `registry/index` and `registry/cache` are
    /// mounted read-only (see [`crate::sandbox::host_cargo_home`]); `None`
    /// packs without any registry (only crates without crates.io dependencies).
    pub cargo_home: Option<PathBuf>,
    pub source_date_epoch: u64,
    pub mode: SandboxMode,
    /// Limits of the cargo runs (`[crate]`'s limit keys).
    pub limits: sandbox::Limits,
    /// Run cargo's verify step (build each packed crate from its `.crate`).
    pub verify: bool,
}

/// One packed crate, copied into the staging directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagedCrate {
    pub name: String,
    /// The version as cargo wrote it (build metadata kept).
    pub version: String,
    /// `{name}-{version}.crate`.
    pub file_name: String,
    /// `<staging>/<file_name>`.
    pub path: PathBuf,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    pub size: u64,
}

/// Errors of the crate surface.
#[derive(Debug, thiserror::Error)]
pub enum CrateError {
    #[error("crate {name:?} is not a member of the workspace {manifest} (members: {})", available.join(", "))]
    UnknownMember {
        name: String,
        manifest: String,
        available: Vec<String>,
    },
    #[error(
        "manifest directory {dir:?} must be a relative path inside the workspace without `..`"
    )]
    BadManifestDir { dir: String },
    #[error(
        "crate {} {version} does not build from its packaged .crate (cargo's verify step, \
         offline in the sandbox; `verify = false` in [crate] skips it); last lines of {log}:\n{tail}",
        crate::name::shown(name)
    )]
    Verify {
        name: String,
        version: String,
        log: PathBuf,
        tail: String,
    },
    #[error("`cargo metadata` output could not be read: {detail}")]
    Metadata { detail: String },
    #[error(
        "`cargo package` did not produce a crate for {name:?} in {}",
        crate::name::shown_path(dir)
    )]
    NotProduced { name: String, dir: PathBuf },
    #[error("{} is not deterministic", crate::name::shown(file))]
    NotDeterministic {
        file: String,
        #[source]
        detail: Box<Violation>,
    },
    #[error("copying {from} to {to}")]
    Io {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

impl crate::error::Classify for CrateError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            CrateError::UnknownMember { .. } | CrateError::BadManifestDir { .. } => {
                ErrorKind::BadInput
            }
            CrateError::NotDeterministic { .. } | CrateError::Verify { .. } => {
                ErrorKind::CheckFailed
            }
            CrateError::Sandbox(e) => e.kind(),
            CrateError::Metadata { .. }
            | CrateError::NotProduced { .. }
            | CrateError::Io { .. } => ErrorKind::Internal,
        }
    }
}

/// The part of `cargo metadata` kiln reads.
#[derive(Debug, serde::Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
    workspace_members: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct MetaPackage {
    name: String,
    id: String,
}

/// Pack the requested members of the stamped workspace at `workspace` (the
/// host directory mounted at `/build`) and copy the `.crate` files to
/// `staging`. Returns them in the order requested (workspace order when
/// `members` is empty). Every cargo run logs to `log`.
pub fn build(
    workspace: &Path,
    spec: &CrateSpec,
    staging: &Path,
    log: &Path,
) -> Result<Vec<PackagedCrate>, CrateError> {
    let manifest_dir =
        normal_dir(&spec.manifest_dir).ok_or_else(|| CrateError::BadManifestDir {
            dir: spec.manifest_dir.clone(),
        })?;
    let cargo = Cargo::new(workspace, spec, manifest_dir);
    // Pack into a target directory kiln chooses (project configuration
    // cannot move it), emptied of any earlier packages.
    let package_dir = workspace.join(&cargo.cwd).join("target/package");
    // Reached from the workspace without following a link on the way.
    let rel = Path::new(&cargo.cwd).join("target/package");
    crate::fsutil::remove_below(workspace, &rel).map_err(io(&package_dir, &package_dir))?;
    pack(&cargo, spec, log)?;
    collect(&package_dir, spec, staging)
}

fn io(from: &Path, to: &Path) -> impl FnOnce(std::io::Error) -> CrateError {
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    move |source| CrateError::Io { from, to, source }
}

/// How cargo runs: in the sandbox, from the manifest directory, with the
/// offline cargo environment and the host registry read-only.
struct Cargo<'a> {
    workspace: &'a Path,
    spec: &'a CrateSpec,
    cwd: String,
    ro_inputs: Vec<sandbox::RoInput>,
}

impl<'a> Cargo<'a> {
    fn new(workspace: &'a Path, spec: &'a CrateSpec, cwd: String) -> Cargo<'a> {
        let ro_inputs = spec
            .cargo_home
            .as_deref()
            .map(sandbox::cargo_registry_inputs)
            .unwrap_or_default();
        Cargo {
            workspace,
            spec,
            cwd,
            ro_inputs,
        }
    }

    fn spec(&self, args: &[&str]) -> Spec {
        Spec {
            workspace: self.workspace.to_path_buf(),
            cwd: self.cwd.clone(),
            argv: std::iter::once("cargo")
                .chain(args.iter().copied())
                .map(String::from)
                .collect(),
            tools: self.spec.tools.clone(),
            ro_inputs: self.ro_inputs.clone(),
            env: sandbox::cargo_env(),
            source_date_epoch: self.spec.source_date_epoch,
            mode: self.spec.mode,
        }
    }

    /// The `[crate]` limit keys, for every cargo run.
    fn confine(&self) -> sandbox::Confine {
        sandbox::Confine {
            limits: self.spec.limits,
            hidden: Vec::new(),
        }
    }
}

/// `cargo package` (with its verify step unless `spec.verify` is off); on
/// failure, say which crate failed verification, or which requested member
/// is unknown, rather than only quoting cargo.
fn pack(cargo: &Cargo<'_>, spec: &CrateSpec, log: &Path) -> Result<(), CrateError> {
    let mut args = vec!["package"];
    if !spec.verify {
        args.push("--no-verify");
    }
    args.extend(["--offline", "--allow-dirty", "--target-dir", "target"]);
    if spec.members.is_empty() {
        args.push("--workspace");
    } else {
        for name in &spec.members {
            args.extend(["-p", name.as_str()]);
        }
    }
    let logged_before = std::fs::metadata(log).map_or(0, |m| m.len());
    let err = match sandbox::run_confined(&cargo.spec(&args), &cargo.confine(), log) {
        Ok(()) => return Ok(()),
        Err(err) => err,
    };
    let SandboxError::Failed { tail, .. } = &err else {
        return Err(err.into());
    };
    if let Some((name, version)) = verifying(log, logged_before) {
        return Err(CrateError::Verify {
            name,
            version,
            log: log.to_path_buf(),
            tail: tail.clone(),
        });
    }
    if !spec.members.is_empty() {
        let json = sandbox::run_capture_confined(
            &cargo.spec(&[
                "metadata",
                "--offline",
                "--format-version",
                "1",
                "--no-deps",
            ]),
            &cargo.confine(),
            log,
        )?;
        check_members(&json, &spec.members, &cargo.cwd)?;
    }
    Err(err.into())
}

/// The crate cargo was verifying when it failed: the last `Verifying
/// <name> v<version>` status line it wrote to `log` after byte `from`.
/// cargo verifies only after every crate is packed, so such a line means the
/// packaging itself succeeded.
fn verifying(log: &Path, from: u64) -> Option<(String, String)> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(log).ok()?;
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut text = Vec::new();
    file.read_to_end(&mut text).ok()?;
    let text = String::from_utf8_lossy(&text);
    let line = text
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("Verifying "))?;
    let mut words = line.split_whitespace();
    let name = words.next()?.to_string();
    let version = words.next()?;
    Some((
        name,
        version.strip_prefix('v').unwrap_or(version).to_string(),
    ))
}

/// Check every packed `.crate` in `package_dir` and copy the requested
/// members' to `staging`.
fn collect(
    package_dir: &Path,
    spec: &CrateSpec,
    staging: &Path,
) -> Result<Vec<PackagedCrate>, CrateError> {
    std::fs::create_dir_all(staging).map_err(io(package_dir, staging))?;
    let mut files: Vec<String> = std::fs::read_dir(package_dir)
        .map_err(io(package_dir, staging))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".crate"))
        .collect();
    files.sort();
    let mut packed = Vec::with_capacity(files.len());
    for file_name in files {
        let from = package_dir.join(&file_name);
        let bytes = std::fs::read(&from).map_err(io(&from, staging))?;
        let id = check_conventions(&bytes, &file_name).map_err(|detail| {
            CrateError::NotDeterministic {
                file: file_name.clone(),
                detail: Box::new(detail),
            }
        })?;
        packed.push((id, file_name, bytes));
    }
    let order: Vec<String> = if spec.members.is_empty() {
        packed.iter().map(|(id, _, _)| id.name.clone()).collect()
    } else {
        spec.members.clone()
    };
    let mut out = Vec::with_capacity(order.len());
    for name in order {
        let (id, file_name, bytes) = packed
            .iter()
            .find(|(id, _, _)| id.name == name)
            .ok_or_else(|| CrateError::NotProduced {
                name: name.clone(),
                dir: package_dir.to_path_buf(),
            })?;
        let to = staging.join(file_name);
        std::fs::write(&to, bytes).map_err(io(&package_dir.join(file_name), &to))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644))
            .map_err(io(&package_dir.join(file_name), &to))?;
        out.push(PackagedCrate {
            name: id.name.clone(),
            version: id.version.clone(),
            file_name: file_name.clone(),
            path: to,
            sha256: crate::hash::hex(&Sha256::digest(bytes)),
            size: bytes.len() as u64,
        });
    }
    Ok(out)
}

/// After a failed `cargo package -p …`: an unknown member is bad input.
fn check_members(metadata: &[u8], wanted: &[String], manifest_dir: &str) -> Result<(), CrateError> {
    let meta: Metadata = serde_json::from_slice(metadata).map_err(|e| CrateError::Metadata {
        detail: e.to_string(),
    })?;
    let members: Vec<&str> = meta
        .workspace_members
        .iter()
        .filter_map(|id| meta.packages.iter().find(|p| &p.id == id))
        .map(|p| p.name.as_str())
        .collect();
    match wanted.iter().find(|w| !members.contains(&w.as_str())) {
        Some(name) => Err(CrateError::UnknownMember {
            name: name.clone(),
            manifest: Path::new(manifest_dir)
                .join("Cargo.toml")
                .display()
                .to_string(),
            available: members.iter().map(|m| m.to_string()).collect(),
        }),
        None => Ok(()),
    }
}

/// A crate's name and version, as its normalised `Cargo.toml` states them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateId {
    pub name: String,
    pub version: String,
}

/// How far a `.crate`'s gzip stream may expand: this many times its size
/// (plus 1 MiB), and never past [`CRATE_MAX`] bytes.
pub const CRATE_RATIO: u64 = 250;
/// The most bytes of tar a `.crate` may expand to.
pub const CRATE_MAX: u64 = 2 << 30;

/// Check that the `.crate` file `file_name` carries only cargo's fixed
/// metadata (see the module docs) and return the name and version from its
/// normalised `Cargo.toml`, which must match the file name and the entries'
/// `{name}-{version}/` prefix. `Err` is the first violation.
pub fn check_conventions(bytes: &[u8], file_name: &str) -> Result<CrateId, Violation> {
    let stem = file_name
        .strip_suffix(".crate")
        .ok_or_else(|| Violation::FileName(file_name.to_string()))?;
    check_gzip_header(bytes, file_name)?;
    let tar = expand(bytes)?;
    let prefix = format!("{stem}/");
    let manifest_path = PathBuf::from(format!("{stem}/Cargo.toml"));
    let mut manifest = None;
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut previous: Option<PathBuf> = None;
    for entry in archive.entries().map_err(Violation::Tar)? {
        let mut entry = entry.map_err(Violation::Tar)?;
        let path = entry.path().map_err(Violation::Tar)?.into_owned();
        let shown = path.display().to_string();
        let bad = |problem: EntryProblem| Violation::Entry {
            path: shown.clone(),
            problem,
        };
        check_entry_header(entry.header(), &path, &shown, &prefix)?;
        if let Some(prev) = &previous {
            if prev.as_path() >= path.as_path() {
                return Err(bad(EntryProblem::Order(prev.display().to_string())));
            }
        }
        if path == manifest_path {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|source| Violation::EntryField {
                    path: shown.clone(),
                    what: "contents",
                    source,
                })?;
            manifest = Some(text);
        }
        previous = Some(path);
    }
    let id = manifest_id(&manifest_path, manifest)?;
    if format!("{}-{}", id.name, id.version) != stem {
        return Err(Violation::Mismatch {
            file: file_name.to_string(),
            name: id.name,
            version: id.version,
        });
    }
    Ok(id)
}

/// The gzip header cargo writes: deflate, `FNAME` = `file_name`, no
/// mtime, OS 255.
fn check_gzip_header(bytes: &[u8], file_name: &str) -> Result<(), Violation> {
    // gzip: ID1 ID2 CM=8 FLG=FNAME, MTIME=0, XFL, OS=255, FNAME\0.
    let fixed = [0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0];
    if bytes.len() < 10 || bytes[..8] != fixed {
        return Err(Violation::GzipHeader(bytes[..bytes.len().min(8)].to_vec()));
    }
    if bytes[9] != 0xff {
        return Err(Violation::GzipOs(bytes[9]));
    }
    let fname_end = 10 + file_name.len();
    if bytes.get(10..fname_end) != Some(file_name.as_bytes()) || bytes.get(fname_end) != Some(&0) {
        return Err(Violation::GzipName(file_name.to_string()));
    }
    Ok(())
}

/// The tar inside a `.crate` (which came out of the sandbox), expanded
/// within [`CRATE_RATIO`] and [`CRATE_MAX`] and ending in two zero blocks.
fn expand(bytes: &[u8]) -> Result<Vec<u8>, Violation> {
    let limit = (bytes.len() as u64)
        .saturating_mul(CRATE_RATIO)
        .saturating_add(1 << 20)
        .min(CRATE_MAX);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(limit + 1)
        .read_to_end(&mut tar)
        .map_err(Violation::Gzip)?;
    if tar.len() as u64 > limit {
        return Err(Violation::TooLarge { limit });
    }
    if tar.len() < 1024 || tar[tar.len() - 1024..].iter().any(|&b| b != 0) {
        return Err(Violation::TarEnd);
    }
    Ok(tar)
}

/// One entry's header is as cargo writes it: GNU, a regular file under
/// `prefix`, mode 644 or 755, owner 0/0 with no names, a cargo mtime.
fn check_entry_header(
    h: &tar::Header,
    path: &Path,
    shown: &str,
    prefix: &str,
) -> Result<(), Violation> {
    let bad = |problem: EntryProblem| Violation::Entry {
        path: shown.to_string(),
        problem,
    };
    let field = |r: std::io::Result<u64>, what: &'static str| {
        r.map_err(|source| Violation::EntryField {
            path: shown.to_string(),
            what,
            source,
        })
    };
    if h.as_gnu().is_none() {
        return Err(bad(EntryProblem::NotGnu));
    }
    if !h.entry_type().is_file() {
        return Err(bad(EntryProblem::NotFile(h.entry_type())));
    }
    if !path.to_string_lossy().starts_with(prefix) {
        return Err(bad(EntryProblem::OutsidePrefix(prefix.to_string())));
    }
    let mode = field(h.mode().map(u64::from), "mode")?;
    if mode != 0o644 && mode != 0o755 {
        return Err(bad(EntryProblem::Mode(mode)));
    }
    // Generated entries leave the owner fields all NUL; files from disk
    // carry octal zeros.
    let old = h.as_old();
    let uid = if old.uid.iter().all(|&b| b == 0) {
        0
    } else {
        field(h.uid(), "uid")?
    };
    let gid = if old.gid.iter().all(|&b| b == 0) {
        0
    } else {
        field(h.gid(), "gid")?
    };
    if uid != 0 || gid != 0 {
        return Err(bad(EntryProblem::Owner(uid, gid)));
    }
    if h.username_bytes().is_some_and(|u| !u.is_empty())
        || h.groupname_bytes().is_some_and(|g| !g.is_empty())
    {
        return Err(bad(EntryProblem::OwnerNames));
    }
    let mtime = field(h.mtime(), "mtime")?;
    if !CARGO_MTIMES.contains(&mtime) {
        return Err(bad(EntryProblem::Mtime(mtime)));
    }
    Ok(())
}

/// The name and version the normalised `Cargo.toml` (at `manifest_path`,
/// `None` if the crate has none) states under `[package]`.
fn manifest_id(manifest_path: &Path, manifest: Option<String>) -> Result<CrateId, Violation> {
    let shown = manifest_path.display().to_string();
    let manifest = manifest.ok_or_else(|| Violation::NoManifest(shown.clone()))?;
    let doc: toml_edit::DocumentMut = manifest.parse().map_err(|source| Violation::Manifest {
        path: shown.clone(),
        source,
    })?;
    let field = |key: &'static str| {
        doc.get("package")
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| Violation::ManifestKey {
                path: shown.clone(),
                key,
            })
    };
    Ok(CrateId {
        name: field("name")?,
        version: field("version")?,
    })
}

/// How a packed `.crate` breaks cargo's conventions ([`check_conventions`]).
#[derive(Debug, thiserror::Error)]
pub enum Violation {
    #[error("{0:?} does not end in .crate")]
    FileName(String),
    #[error("gzip header {0:02x?} is not cargo's (1f8b0808, MTIME 0)")]
    GzipHeader(Vec<u8>),
    #[error("gzip OS byte is {0:#04x}, not 0xff")]
    GzipOs(u8),
    #[error("gzip FNAME is not {0:?}")]
    GzipName(String),
    #[error("gzip stream")]
    Gzip(#[source] std::io::Error),
    #[error("the gzip stream expands past {limit} bytes ({CRATE_RATIO}:1 of the file, at most {CRATE_MAX}), which kiln does not read")]
    TooLarge { limit: u64 },
    #[error("the tar does not end with two zero blocks")]
    TarEnd,
    #[error("tar")]
    Tar(#[source] std::io::Error),
    #[error("{}: {problem}", crate::name::shown(path))]
    Entry { path: String, problem: EntryProblem },
    #[error("{}: {what}", crate::name::shown(path))]
    EntryField {
        path: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("no {0} in the archive")]
    NoManifest(String),
    #[error("{}", crate::name::shown(path))]
    Manifest {
        path: String,
        #[source]
        source: toml_edit::TomlError,
    },
    #[error("{}: no package.{key}", crate::name::shown(path))]
    ManifestKey { path: String, key: &'static str },
    #[error(
        "{} holds {} {version}, not what its name says",
        crate::name::shown(file),
        crate::name::shown(name)
    )]
    Mismatch {
        file: String,
        name: String,
        version: String,
    },
}

/// What is wrong with one entry of a packed `.crate`.
#[derive(Debug, thiserror::Error)]
pub enum EntryProblem {
    #[error("not a GNU tar header")]
    NotGnu,
    #[error("entry type {0:?}, not a regular file")]
    NotFile(tar::EntryType),
    #[error("not under {0}")]
    OutsidePrefix(String),
    #[error("mode {0:o}")]
    Mode(u64),
    #[error("owner {0}:{1}")]
    Owner(u64, u64),
    #[error("owner names are not empty")]
    OwnerNames,
    #[error("mtime {0}, not cargo's fixed timestamp")]
    Mtime(u64),
    #[error("out of order or duplicate after {0}")]
    Order(String),
}

/// A relative directory without `..`, normalised (`""` = the root).
fn normal_dir(dir: &str) -> Option<String> {
    use std::path::Component;
    let mut parts = Vec::new();
    for c in Path::new(dir).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}
