//! The `npm` surface: a native `npm pack` (no `npm` at build time).
//!
//! An npm tarball is a gzipped tar whose entries all live under `package/`:
//!
//! ```text
//! scope-name-1.2.3.tgz            (from "@scope/name", "1.2.3")
//! └── gzip: 1f8b 08 00 00000000 00 ff, level 6, in 256 KiB pieces
//!     └── tar (node-tar portable ustar, see archive::tar::Dialect::NpmUstar)
//!         package/LICENSE          mode 0644, mtime 499162500 (1985-10-26T08:15:00Z)
//!         package/lib/index.js     uid/gid/uname/gname empty
//!         package/bin/cli.js       0755
//!         package/package.json     as-is (the stamped copy)
//!         …                        npm-packlist's order (ICU collation)
//! ```
//!
//! - **selection** ([`packlist`]): npm-packlist 10's rules — `files`,
//!   `.npmignore`/`.gitignore` (nested too), always-included and
//!   always-excluded files; symlinks are never packed;
//! - **order** ([`collate`]): extension, basename, path, each by ICU
//!   `localeCompare(…, 'en')`;
//! - **modes**: `0644`, or `0755` when the owner-executable bit is set or the
//!   file is a `bin` target npm marks executable. npm itself keeps
//!   `(mode | 0600) & ~022` from disk; kiln normalises to 0644/0755 (DESIGN.md)
//!   so the umask of a checkout cannot reach the tarball — identical for every
//!   file a git snapshot can hold;
//! - **gzip**: one member, MTIME 0, OS 255, flate2 + zlib-rs at level 6,
//!   deflated in 256 KiB pieces on all cores (writer `npm-v2`,
//!   [`crate::archive::deflate::gzip_pieces`]). The uncompressed
//!   tar is byte-identical to `npm pack`'s; the deflate stream is not,
//!   because Node's bundled zlib (Chromium's fork) emits different deflate
//!   blocks — see `docs/npm.md`.
//!
//! A `files` entry that matches nothing is reported as a warning
//! ([`NpmPack::warnings`]) — npm ignores it silently, and real packages ship
//! such entries. Bundled dependencies are packed from `node_modules/` as
//! npm-packlist does ([`bundle`]).
//!
//! Everything is read through a [`tree::PackageTree`]: [`pack`] and its
//! siblings take a directory on disk; a build packs the recipe's snapshot
//! view ([`pack_tree`] over a [`tree::ViewTree`]), so no workspace copy of
//! the sources is written.

pub(crate) mod bins;
pub(crate) mod bundle;
pub mod collate;
pub(crate) mod error;
pub(crate) mod glob;
pub(crate) mod packlist;
mod surface;
pub mod tree;

use bins::package_bins;
pub use error::NpmError;
pub use surface::Npm;

use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha512};

use crate::archive::compress::GzipOptions;
use crate::archive::tar::{Dialect, TarWriter};
use tree::{DiskTree, PackageTree};

/// npm's fixed entry mtime: 1985-10-26T08:15:00Z.
pub const NPM_MTIME: u64 = 499_162_500;

/// What [`pack`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmPack {
    /// `scope-name-<version>.tgz`.
    pub file_name: String,
    pub name: String,
    pub version: String,
    /// Packed paths relative to the package root, in tarball order.
    pub files: Vec<String>,
    /// `sha512-<base64>` of the `.tgz` (npm's `integrity`).
    pub integrity: String,
    /// Hex SHA-1 of the `.tgz` (npm's `shasum`).
    pub shasum: String,
    /// Size of the `.tgz` in bytes.
    pub size: u64,
    /// Sum of the packed files' sizes.
    pub unpacked_size: u64,
    /// What npm accepts silently but a release engineer should see
    /// (a `files` entry that matches nothing).
    pub warnings: Vec<String>,
}

/// The fields of package.json the packer needs.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub selection: packlist::Selection,
    /// Raw `bin` targets after npm's normalisation.
    pub bin: Vec<String>,
    /// The parsed package.json (for bundled dependencies).
    pub raw: Value,
}

/// `@scope/name` + `1.2.3` → `scope-name-1.2.3.tgz`.
pub fn tarball_name(name: &str, version: &str) -> String {
    let n = name.strip_prefix('@').unwrap_or(name).replacen('/', "-", 1);
    format!("{n}-{version}.tgz")
}

/// `workspaces` (an array, or `{packages: [...]}`) as a list of patterns.
fn workspace_patterns(path: &Path, v: &Value) -> Result<Vec<String>, NpmError> {
    let ws = match v.get("workspaces") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(w) => w,
    };
    let list = match ws.get("packages") {
        Some(p @ Value::Array(_)) => p,
        _ => ws,
    };
    let bad = || NpmError::BadField {
        path: path.to_path_buf(),
        field: "workspaces",
        value: ws.to_string(),
        reason: "must be an array of strings (or {\"packages\": [...]})",
    };
    list.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|p| p.as_str().map(String::from).ok_or_else(bad))
        .collect()
}

fn string_field(path: &Path, v: &Value, field: &'static str) -> Result<Option<String>, NpmError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(NpmError::BadField {
            path: path.to_path_buf(),
            field,
            value: other.to_string(),
            reason: "must be a string",
        }),
    }
}

/// Read and validate `<dir>/package.json`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, NpmError> {
    read_manifest_in(&DiskTree::new(dir))
}

/// Read and validate the `package.json` at the root of `tree`.
pub fn read_manifest_in(tree: &dyn PackageTree) -> Result<Manifest, NpmError> {
    let path = tree.path("package.json");
    let text = match tree.read("package.json") {
        Ok(t) => t,
        Err(NpmError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Err(NpmError::MissingManifest { path })
        }
        Err(e) => return Err(e),
    };
    let v: Value = serde_json::from_slice(&text).map_err(|source| NpmError::InvalidJson {
        path: path.clone(),
        source,
    })?;
    if !v.is_object() {
        return Err(NpmError::BadField {
            path,
            field: "(root)",
            value: v.to_string(),
            reason: "must be a JSON object",
        });
    }
    let name = string_field(&path, &v, "name")?.ok_or_else(|| NpmError::MissingField {
        path: path.clone(),
        field: "name",
    })?;
    if name.trim().is_empty() {
        return Err(NpmError::BadField {
            path,
            field: "name",
            value: format!("{name:?}"),
            reason: "must not be empty",
        });
    }
    let version = string_field(&path, &v, "version")?.ok_or_else(|| NpmError::MissingField {
        path: path.clone(),
        field: "version",
    })?;
    if semver::Version::parse(&version).is_err() {
        return Err(NpmError::BadField {
            path,
            field: "version",
            value: format!("{version:?}"),
            reason: "is not a valid semver version",
        });
    }
    let files = match v.get("files") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for it in items {
                match it {
                    Value::String(s) => out.push(s.clone()),
                    other => {
                        return Err(NpmError::BadField {
                            path,
                            field: "files",
                            value: other.to_string(),
                            reason: "entries must be strings",
                        })
                    }
                }
            }
            Some(out)
        }
        Some(other) => {
            return Err(NpmError::BadField {
                path,
                field: "files",
                value: other.to_string(),
                reason: "must be an array of strings",
            })
        }
    };
    // Checked here so that a bad value is reported before packing.
    bundle::bundled_names(&path, &v)?;
    let main = string_field(&path, &v, "main")?;
    let browser = v.get("browser").and_then(Value::as_str).map(String::from);
    let bin = package_bins(tree, "", &path, &name, &v)?;
    Ok(Manifest {
        name,
        version,
        selection: packlist::Selection {
            files,
            main,
            browser,
            bin: bin.clone(),
            workspaces: packlist::has_workspaces(tree, &workspace_patterns(&path, &v)?)?,
        },
        bin,
        raw: v,
    })
}

/// The files `npm pack` would put in the tarball, in tarball order.
pub fn packed_files(dir: &Path) -> Result<(Manifest, Vec<String>), NpmError> {
    packed_files_warn(dir).map(|(m, f, _)| (m, f))
}

/// [`packed_files`], plus warnings for `files` entries that match nothing.
pub fn packed_files_warn(dir: &Path) -> Result<(Manifest, Vec<String>, Vec<String>), NpmError> {
    packed_files_in(&DiskTree::new(dir))
}

/// [`packed_files_warn`] of the package at the root of `tree`.
pub fn packed_files_in(
    tree: &dyn PackageTree,
) -> Result<(Manifest, Vec<String>, Vec<String>), NpmError> {
    let manifest = read_manifest_in(tree)?;
    let mut files = packlist::select(tree, &manifest.selection)?;
    let mut warnings = Vec::new();
    if let Some(entries) = &manifest.selection.files {
        for e in entries {
            if !e.starts_with('!') && !packlist::files_entry_matches(e, &files) {
                warnings.push(format!(
                    "{}: `files` entry {e:?} matches no file in the package (npm ignores it)",
                    tree.path("package.json").display()
                ));
            }
        }
    }
    let mut bundled = bundle::bundled_files(tree, &manifest.raw)?;
    files.append(&mut bundled);
    files.sort();
    files.dedup();
    collate::npm_sort(&mut files);
    Ok((manifest, files, warnings))
}

/// pacote's `isPackageBin`: the path with its first component removed
/// equals a normalised `bin` target.
fn is_package_bin(manifest: &Manifest, rel: &str) -> bool {
    let key = if rel.starts_with('@') {
        format!("./{rel}")
    } else {
        rel.to_string()
    };
    let stripped = match key.find('/') {
        Some(i) => &key[i + 1..],
        None => key.as_str(),
    };
    manifest.bin.iter().any(|b| b == stripped)
}

/// Write the uncompressed npm tar of `dir` to `out`; returns the manifest,
/// the packed files and their total size.
pub fn write_tar(dir: &Path, out: impl Write) -> Result<(Manifest, Vec<String>, u64), NpmError> {
    write_tar_warn(dir, out).map(|(m, f, n, _)| (m, f, n))
}

/// [`write_tar`], plus the warnings of [`packed_files_warn`].
pub fn write_tar_warn(
    dir: &Path,
    mut out: impl Write,
) -> Result<(Manifest, Vec<String>, u64, Vec<String>), NpmError> {
    let tree = DiskTree::new(dir);
    let (manifest, files, warnings) = packed_files_in(&tree)?;
    let (tar, unpacked) = tar_bytes(&tree, &manifest, &files)?;
    out.write_all(&tar).map_err(NpmError::Write)?;
    Ok((manifest, files, unpacked, warnings))
}

/// The uncompressed tar of `files` and their total size. The files are
/// read in parallel (rayon), then laid out in order: the tar is in memory,
/// as the parallel gzip of [`pack`] needs it whole.
fn tar_bytes(
    tree: &dyn PackageTree,
    manifest: &Manifest,
    files: &[String],
) -> Result<(Vec<u8>, u64), NpmError> {
    use rayon::prelude::*;
    let read: Vec<(u32, tree::Bytes)> = files
        .par_iter()
        .map(|rel| {
            let (data, exec) = tree.packed(rel)?;
            let mode = if exec || is_package_bin(manifest, rel) {
                0o755
            } else {
                0o644
            };
            Ok((mode, data))
        })
        .collect::<Result<_, NpmError>>()?;
    let size: usize = read
        .iter()
        .map(|(_, d)| 512 + d.len().next_multiple_of(512))
        .sum();
    let mut tar = TarWriter::new(Vec::with_capacity(size + 1024), Dialect::NpmUstar);
    let mut unpacked = 0u64;
    for (rel, (mode, data)) in files.iter().zip(&read) {
        tar.append_file(&format!("package/{rel}"), *mode, NPM_MTIME, data)
            .map_err(NpmError::Tar)?;
        unpacked += data.len() as u64;
    }
    Ok((tar.finish().map_err(NpmError::Tar)?, unpacked))
}

/// Pack the npm package in `package_dir` into `out` as a `.tgz`: the tar
/// of [`write_tar`] gzipped in pieces on both cores
/// ([`crate::archive::deflate::gzip_pieces`], npm format v2).
pub fn pack(package_dir: &Path, out: impl Write) -> Result<NpmPack, NpmError> {
    pack_tree(&DiskTree::new(package_dir), out)
}

/// [`pack`] the package at the root of `tree`.
pub fn pack_tree(tree: &dyn PackageTree, mut out: impl Write) -> Result<NpmPack, NpmError> {
    let (manifest, files, warnings) = packed_files_in(tree)?;
    let (tar, unpacked_size) = tar_bytes(tree, &manifest, &files)?;
    let tgz =
        crate::archive::deflate::gzip_pieces(&tar, &GzipOptions::NPM).map_err(NpmError::Write)?;
    drop(tar);
    let (sha512, sha1) = rayon::join(|| Sha512::digest(&tgz), || Sha1::digest(&tgz));
    out.write_all(&tgz).map_err(NpmError::Write)?;
    out.flush().map_err(NpmError::Write)?;
    Ok(NpmPack {
        file_name: tarball_name(&manifest.name, &manifest.version),
        name: manifest.name,
        version: manifest.version,
        files,
        integrity: format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sha512)
        ),
        shasum: crate::hash::hex(&sha1),
        size: tgz.len() as u64,
        unpacked_size,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::bins::normalize_bin_target;
    use super::*;

    #[test]
    fn tarball_names() {
        assert_eq!(
            tarball_name("@acme/tool", "1.0.0-rc.1"),
            "acme-tool-1.0.0-rc.1.tgz"
        );
        assert_eq!(tarball_name("left-pad", "1.3.0"), "left-pad-1.3.0.tgz");
    }

    #[test]
    fn bin_normalisation() {
        assert_eq!(normalize_bin_target("./bin/cli.js"), "bin/cli.js");
        assert_eq!(normalize_bin_target("bin//x"), "bin/x");
    }
}
