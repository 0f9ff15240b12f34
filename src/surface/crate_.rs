//! The `crate` surface: the `.crate` files `cargo publish` would upload.
//!
//! crates.io accepts only what cargo itself packs, so kiln runs the real
//! `cargo package --no-verify --offline --allow-dirty` in the sandbox on the
//! already stamped workspace, for the members the recipe names (`-p a -p b`,
//! or `--workspace` when it names none): packing several members in one
//! invocation lets cargo resolve their path dependencies on each other at the
//! stamped version without a registry. Steps:
//!
//! 1. `cargo metadata --offline --format-version 1 --no-deps` (sandboxed)
//!    lists the workspace members, their versions and the target directory;
//!    a requested member the workspace does not contain is
//!    [`CrateError::UnknownMember`] (bad input).
//! 2. `cargo package` (sandboxed) with `SOURCE_DATE_EPOCH`, `CARGO_HOME` =
//!    `/tmp/cargo-home` whose registry index and crate cache are the host's,
//!    read-only (see [`crate::sandbox::cargo_registry_inputs`]), so members
//!    with crates.io dependencies package offline.
//! 3. `<target>/package/{name}-{version}.crate` of each requested member is
//!    checked ([`check_conventions`]) and copied to `<staging>/` (mode 0644).
//!
//! **No VCS information.** The workspace is a plain directory, not a git
//! repository, so cargo writes no `.cargo_vcs_info.json` (it does so only
//! inside git) and `--allow-dirty` merely keeps cargo from asking. kiln does
//! not fabricate a repository: its commit would not be the checkout's, and
//! stamped manifests would mark it dirty. The source commit is recorded in
//! kiln's provenance instead. (Without a sandbox, a workspace that happens
//! to lie inside a git checkout would let cargo find that repository; the
//! sandbox mounts nothing above `/build`.)
//!
//! **Determinism check.** cargo's packer is itself reproducible: entry
//! metadata is fixed and files are sorted. Packing twice to compare would
//! double the cost, so kiln instead verifies, in one pass over the archive,
//! that nothing environment-dependent reached it: the gzip header is cargo's
//! fixed one (`1f8b 08 08`, MTIME 0, OS 255, FNAME = the file name); every
//! tar header is GNU, a regular file under `{name}-{version}/`, owned by
//! 0/0 (octal zeros, or all NUL for generated files) with empty owner names, mode 0644 or 0755, and carries cargo's fixed
//! mtime (1153704088, or 0 for generated files from older cargo); paths are
//! unique and in Rust `Path` order; the archive ends with two zero blocks.
//! A violation is [`CrateError::NotDeterministic`] (a failed check). The
//! reproducibility tests additionally pack twice under different paths and
//! umasks and compare bytes.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::sandbox::{self, SandboxError, SandboxMode, Spec, Tool};

/// The tools the crate surface runs; resolve them with
/// [`crate::sandbox::resolve_tools`] and record them in the derivation.
pub const TOOLS: &[&str] = &["cargo", "rustc"];

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
    #[error("`cargo metadata` output could not be read: {detail}")]
    Metadata { detail: String },
    #[error(
        "cargo's target directory {dir} is outside the workspace; kiln cannot collect from it"
    )]
    TargetOutside { dir: String },
    #[error("`cargo package` did not produce {path}")]
    NotProduced { path: PathBuf },
    #[error("{file} is not deterministic: {detail}")]
    NotDeterministic { file: String, detail: String },
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
            CrateError::NotDeterministic { .. } => ErrorKind::CheckFailed,
            CrateError::Sandbox(e) => e.kind(),
            CrateError::Metadata { .. }
            | CrateError::TargetOutside { .. }
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
    target_directory: String,
}

#[derive(Debug, serde::Deserialize)]
struct MetaPackage {
    name: String,
    version: String,
    id: String,
}

/// Pack the requested members of the stamped workspace at `workspace` (the
/// host directory mounted at `/build`) and copy the `.crate` files to
/// `staging`. Returns them in the order requested (workspace order when
/// `members` is empty). Both cargo runs log to `log`.
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
    let env = sandbox::cargo_env();
    let ro_inputs = spec
        .cargo_home
        .as_deref()
        .map(sandbox::cargo_registry_inputs)
        .unwrap_or_default();
    let cargo = |args: &[&str]| Spec {
        workspace: workspace.to_path_buf(),
        cwd: manifest_dir.clone(),
        argv: std::iter::once("cargo")
            .chain(args.iter().copied())
            .map(String::from)
            .collect(),
        tools: spec.tools.clone(),
        ro_inputs: ro_inputs.clone(),
        env: env.clone(),
        source_date_epoch: spec.source_date_epoch,
        mode: spec.mode,
    };

    // 1. Members.
    let json = sandbox::run_capture(
        &cargo(&[
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ]),
        log,
    )?;
    let meta: Metadata = serde_json::from_slice(&json).map_err(|e| CrateError::Metadata {
        detail: e.to_string(),
    })?;
    let members: Vec<&MetaPackage> = meta
        .workspace_members
        .iter()
        .filter_map(|id| meta.packages.iter().find(|p| &p.id == id))
        .collect();
    let wanted: Vec<&MetaPackage> = if spec.members.is_empty() {
        members.clone()
    } else {
        spec.members
            .iter()
            .map(|name| {
                members
                    .iter()
                    .find(|p| &p.name == name)
                    .copied()
                    .ok_or_else(|| CrateError::UnknownMember {
                        name: name.clone(),
                        manifest: Path::new(&manifest_dir)
                            .join("Cargo.toml")
                            .display()
                            .to_string(),
                        available: members.iter().map(|p| p.name.clone()).collect(),
                    })
            })
            .collect::<Result<_, _>>()?
    };

    // 2. Pack.
    let mut args = vec!["package", "--no-verify", "--offline", "--allow-dirty"];
    if spec.members.is_empty() {
        args.push("--workspace");
    } else {
        for p in &wanted {
            args.extend(["-p", p.name.as_str()]);
        }
    }
    sandbox::run(&cargo(&args), log)?;

    // 3. Collect.
    let target = host_target_dir(workspace, &meta.target_directory)?;
    let io = |from: &Path, to: &Path| {
        let (from, to) = (from.to_path_buf(), to.to_path_buf());
        move |source| CrateError::Io { from, to, source }
    };
    std::fs::create_dir_all(staging).map_err(io(&target, staging))?;
    let mut out = Vec::with_capacity(wanted.len());
    for p in wanted {
        let file_name = format!("{}-{}.crate", p.name, p.version);
        let from = target.join("package").join(&file_name);
        let bytes =
            std::fs::read(&from).map_err(|_| CrateError::NotProduced { path: from.clone() })?;
        check_conventions(&bytes, &p.name, &p.version).map_err(|detail| {
            CrateError::NotDeterministic {
                file: file_name.clone(),
                detail,
            }
        })?;
        let to = staging.join(&file_name);
        std::fs::write(&to, &bytes).map_err(io(&from, &to))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644))
            .map_err(io(&from, &to))?;
        out.push(PackagedCrate {
            name: p.name.clone(),
            version: p.version.clone(),
            file_name,
            path: to,
            sha256: Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            size: bytes.len() as u64,
        });
    }
    Ok(out)
}

/// Check that a `.crate` carries only cargo's fixed metadata (see the module
/// docs); `Err` describes the first violation.
pub fn check_conventions(bytes: &[u8], name: &str, version: &str) -> Result<(), String> {
    let file_name = format!("{name}-{version}.crate");
    // gzip: ID1 ID2 CM=8 FLG=FNAME, MTIME=0, XFL, OS=255, FNAME\0.
    let fixed = [0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0];
    if bytes.len() < 10 || bytes[..8] != fixed {
        return Err(format!(
            "gzip header {:02x?} is not cargo's (1f8b0808, MTIME 0)",
            &bytes[..bytes.len().min(8)]
        ));
    }
    if bytes[9] != 0xff {
        return Err(format!("gzip OS byte is {:#04x}, not 0xff", bytes[9]));
    }
    let fname_end = 10 + file_name.len();
    if bytes.get(10..fname_end) != Some(file_name.as_bytes()) || bytes.get(fname_end) != Some(&0) {
        return Err(format!("gzip FNAME is not {file_name:?}"));
    }

    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut tar)
        .map_err(|e| format!("gzip stream: {e}"))?;
    if tar.len() < 1024 || tar[tar.len() - 1024..].iter().any(|&b| b != 0) {
        return Err("the tar does not end with two zero blocks".into());
    }
    let prefix = format!("{name}-{version}/");
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut previous: Option<PathBuf> = None;
    for entry in archive.entries().map_err(|e| format!("tar: {e}"))? {
        let entry = entry.map_err(|e| format!("tar: {e}"))?;
        let h = entry.header();
        let path = entry
            .path()
            .map_err(|e| format!("tar path: {e}"))?
            .into_owned();
        let shown = path.display();
        let field =
            |r: std::io::Result<u64>, what: &str| r.map_err(|e| format!("{shown}: {what}: {e}"));
        if h.as_gnu().is_none() {
            return Err(format!("{shown}: not a GNU tar header"));
        }
        if !h.entry_type().is_file() {
            return Err(format!(
                "{shown}: entry type {:?}, not a regular file",
                h.entry_type()
            ));
        }
        if !path.to_string_lossy().starts_with(&prefix) {
            return Err(format!("{shown}: not under {prefix}"));
        }
        let mode = h.mode().map_err(|e| format!("{shown}: mode: {e}"))?;
        if mode != 0o644 && mode != 0o755 {
            return Err(format!("{shown}: mode {mode:o}"));
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
            return Err(format!("{shown}: owner {uid}:{gid}"));
        }
        if h.username_bytes().is_some_and(|u| !u.is_empty())
            || h.groupname_bytes().is_some_and(|g| !g.is_empty())
        {
            return Err(format!("{shown}: owner names are not empty"));
        }
        let mtime = field(h.mtime(), "mtime")?;
        if !CARGO_MTIMES.contains(&mtime) {
            return Err(format!(
                "{shown}: mtime {mtime}, not cargo's fixed timestamp"
            ));
        }
        if let Some(prev) = &previous {
            if prev.as_path() >= path.as_path() {
                return Err(format!(
                    "{shown}: out of order or duplicate after {}",
                    prev.display()
                ));
            }
        }
        previous = Some(path);
    }
    if previous.is_none() {
        return Err("the archive is empty".into());
    }
    Ok(())
}

/// cargo's target directory (an in-sandbox path under `/build`, or a host
/// path inside the workspace without a sandbox) as a host path.
fn host_target_dir(workspace: &Path, dir: &str) -> Result<PathBuf, CrateError> {
    let outside = || CrateError::TargetOutside {
        dir: dir.to_string(),
    };
    let p = Path::new(dir);
    if let Ok(rest) = p.strip_prefix(sandbox::env::BUILD_DIR) {
        return Ok(workspace.join(rest));
    }
    let root = std::fs::canonicalize(workspace).map_err(|_| outside())?;
    if p.starts_with(&root) {
        Ok(p.to_path_buf())
    } else {
        Err(outside())
    }
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
