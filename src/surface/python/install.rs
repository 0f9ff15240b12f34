//! Installing wheels into a backend environment, by `installer`'s rules
//! (PEP 427/491), never importing from the archive.
//!
//! The prefix has the layout of a scheme without a Python version:
//! `site-packages/` (purelib and platlib, the wheel's root), `bin/`
//! (`.data/scripts`), `include/<name>/` (`.data/headers`) and the prefix
//! itself for `.data/data`. Nothing is byte-compiled. Before a byte is
//! read the wheel is checked as a backend's wheel is
//! ([`super::normalise`]: no links, devices, absolute or `..` paths,
//! duplicates, or more than one `.dist-info`); then each file's sha256 and
//! size must be the ones its `RECORD` states, every file must be listed and
//! every listed file present — a wheel that disagrees is refused (exit 1)
//! naming the wheel and the entry. Two wheels writing one path are refused
//! too.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::normalise::{self, WHEEL_CAPS};
use super::wheel::record_hash;
use super::{io, PythonError};

/// Where a wheel's `.data/<scheme>` goes below the prefix.
fn scheme_dir(scheme: &str, name: &str) -> Option<String> {
    match scheme {
        "purelib" | "platlib" => Some(SITE_PACKAGES.to_string()),
        "scripts" => Some("bin".to_string()),
        "headers" => Some(format!("include/{name}")),
        "data" => Some(String::new()),
        _ => None,
    }
}

/// The prefix's import directory.
pub(super) const SITE_PACKAGES: &str = "site-packages";

/// Install the wheel at `wheel` into `prefix` (which exists).
pub(super) fn install(wheel: &Path, prefix: &Path) -> Result<(), PythonError> {
    let (f, _) = crate::fsutil::open_regular(wheel).map_err(io(wheel))?;
    let mut ar = ::zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| normalise::bad(wheel, format!("is not a zip archive: {e}")))?;
    let planned = normalise::plan_wheel(wheel, &mut ar, &WHEEL_CAPS)?;
    let dist_info = normalise::dist_info(wheel, &planned)?;
    let record_path = format!("{dist_info}/RECORD");
    let record = normalise::read_small(wheel, &mut ar, &planned, &record_path, &WHEEL_CAPS)?;
    let mut listed = normalise::parse_record(wheel, &record, &record_path)?;
    let stem = dist_info.trim_end_matches(".dist-info");
    let data_dir = format!("{stem}.data/");
    let name = stem.split('-').next().unwrap_or(stem);
    // Written into the environment's staging directory, which a refused
    // wheel discards whole.
    for m in &planned {
        let data = normalise::read_member(wheel, &mut ar, m)?;
        if m.path != record_path {
            check_listed(wheel, &record_path, &mut listed, &m.path, &data)?;
        }
        let dest = match m.path.strip_prefix(&data_dir) {
            Some(rest) => {
                let (scheme, path) = rest.split_once('/').unwrap_or((rest, ""));
                let dir = scheme_dir(scheme, name).filter(|_| !path.is_empty());
                let Some(dir) = dir else {
                    return Err(normalise::bad(
                        wheel,
                        format!("entry {:?} is in no scheme installer knows", m.path),
                    ));
                };
                if dir.is_empty() {
                    path.to_string()
                } else {
                    format!("{dir}/{path}")
                }
            }
            None => format!("{SITE_PACKAGES}/{}", m.path),
        };
        write_new(wheel, prefix, &dest, m.executable, &data)?;
    }
    listed.remove(&record_path);
    if let Some(missing) = listed.keys().next() {
        return Err(normalise::bad(
            wheel,
            format!("{record_path} lists {missing:?}, which the wheel does not hold"),
        ));
    }
    Ok(())
}

/// `path` with `data` must be listed in `RECORD` with that sha256 and size.
fn check_listed(
    wheel: &Path,
    record_path: &str,
    listed: &mut BTreeMap<String, (String, String)>,
    path: &str,
    data: &[u8],
) -> Result<(), PythonError> {
    let signature = path == format!("{record_path}.jws") || path == format!("{record_path}.p7s");
    let Some((hash, size)) = listed.remove(path) else {
        if signature {
            return Ok(());
        }
        return Err(normalise::bad(
            wheel,
            format!("{path:?} is not listed in {record_path}"),
        ));
    };
    if signature && hash.is_empty() {
        return Ok(());
    }
    let actual = record_hash(data);
    if hash != actual || size != data.len().to_string() {
        return Err(normalise::bad(
            wheel,
            format!(
                "{path:?} has {actual} and {} bytes, but {record_path} says {hash:?} and {size:?}",
                data.len()
            ),
        ));
    }
    Ok(())
}

/// Write a new file at `prefix/rel` (directories created as needed).
fn write_new(
    wheel: &Path,
    prefix: &Path,
    rel: &str,
    executable: bool,
    data: &[u8],
) -> Result<(), PythonError> {
    crate::archive::check_entry_path(rel).map_err(|reason| {
        normalise::bad(wheel, format!("installs to {rel:?}, which is {reason}"))
    })?;
    let dest: PathBuf = prefix.join(rel);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&dest)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                normalise::bad(
                    wheel,
                    format!("installs {rel:?}, which another wheel of the environment installed"),
                )
            } else {
                io(&dest)(e)
            }
        })?;
    f.write_all(data).map_err(io(&dest))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
            .map_err(io(&dest))?;
    }
    Ok(())
}
