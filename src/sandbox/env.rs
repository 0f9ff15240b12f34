//! The sandbox's environment: the one place where the variables a build
//! process sees are decided.
//!
//! A build starts from an empty environment. kiln sets the fixed variables
//! below (DESIGN.md, "Determinism rules"); the recipe may add its own
//! variables but cannot override these. The umask (022) is set by the
//! runner, not by a variable.
//!
//! | variable | value |
//! |---|---|
//! | `HOME` | `/homeless-shelter` (never exists, so nothing can read or write a home) |
//! | `TZ` | `UTC` |
//! | `LC_ALL` | `C.UTF-8` |
//! | `SOURCE_DATE_EPOCH` | the derivation's timestamp, decimal seconds |
//! | `PATH` | `/kiln/bin`: one symlink per declared tool, nothing else |
//! | `TMPDIR` | `/tmp` (a fresh tmpfs) |

use std::collections::BTreeMap;

use super::error::SandboxError;

/// The (non-existent) home directory.
pub(crate) const HOME: &str = "/homeless-shelter";
/// Where the workspace is mounted.
pub(crate) const BUILD_DIR: &str = "/build";
/// The scratch tmpfs.
pub(crate) const TMP_DIR: &str = "/tmp";
/// The directory of tool symlinks, the whole `PATH`.
pub(crate) const TOOLS_BIN: &str = "/kiln/bin";
/// Where tool installation prefixes outside the system directories are mounted.
pub(crate) const TOOLS_ROOT: &str = "/kiln/tools";
/// uid and gid of the build user inside the sandbox.
pub(crate) const BUILD_UID: u32 = 1000;
pub(crate) const BUILD_GID: u32 = 100;

/// Variables the sandbox sets itself; a recipe cannot set them.
pub(crate) const RESERVED: &[&str] = &[
    "HOME",
    "LC_ALL",
    "PATH",
    "SOURCE_DATE_EPOCH",
    "TMPDIR",
    "TZ",
];

/// The complete environment of a build process: the fixed variables plus
/// `extra`. `path` and `tmpdir` are the in-sandbox values (`/kiln/bin`,
/// `/tmp`) or, without a sandbox, their host stand-ins.
pub(crate) fn build_env(
    extra: &BTreeMap<String, String>,
    source_date_epoch: u64,
    path: &str,
    tmpdir: &str,
) -> Result<BTreeMap<String, String>, SandboxError> {
    let mut env = BTreeMap::new();
    for (k, v) in extra {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(SandboxError::BadEnv {
                key: k.clone(),
                value: v.clone(),
            });
        }
        if RESERVED.contains(&k.as_str()) {
            return Err(SandboxError::ReservedEnv {
                key: k.clone(),
                value: v.clone(),
            });
        }
        env.insert(k.clone(), v.clone());
    }
    env.insert("HOME".into(), HOME.into());
    env.insert("TZ".into(), "UTC".into());
    env.insert("LC_ALL".into(), "C.UTF-8".into());
    env.insert("SOURCE_DATE_EPOCH".into(), source_date_epoch.to_string());
    env.insert("PATH".into(), path.into());
    env.insert("TMPDIR".into(), tmpdir.into());
    Ok(env)
}

/// Generated `/etc` files: a build user with no real home, and localhost.
pub(super) fn etc_files() -> [(&'static str, String); 4] {
    [
        (
            "passwd",
            format!(
                "root:x:0:0:root:/build:/noshell\nkiln:x:{BUILD_UID}:{BUILD_GID}:kiln build user:{HOME}:/noshell\nnobody:x:65534:65534:nobody:/:/noshell\n"
            ),
        ),
        (
            "group",
            format!("root:x:0:\nkiln:x:{BUILD_GID}:\nnogroup:x:65534:\n"),
        ),
        ("hosts", "127.0.0.1 localhost\n::1 localhost\n".to_string()),
        (
            "nsswitch.conf",
            "passwd: files\ngroup: files\nhosts: files\n".to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_variables_win_and_cannot_be_overridden() {
        let mut extra = BTreeMap::new();
        extra.insert("CARGO_HOME".to_string(), "/tmp/c".to_string());
        let env = build_env(&extra, 42, TOOLS_BIN, TMP_DIR).unwrap();
        assert_eq!(env["HOME"], HOME);
        assert_eq!(env["SOURCE_DATE_EPOCH"], "42");
        assert_eq!(env["CARGO_HOME"], "/tmp/c");
        extra.insert("TZ".to_string(), "Europe/Paris".to_string());
        assert!(matches!(
            build_env(&extra, 42, TOOLS_BIN, TMP_DIR),
            Err(SandboxError::ReservedEnv { key, .. }) if key == "TZ"
        ));
    }

    #[test]
    fn malformed_names_are_rejected() {
        let mut extra = BTreeMap::new();
        extra.insert("A=B".to_string(), "x".to_string());
        assert!(matches!(
            build_env(&extra, 0, TOOLS_BIN, TMP_DIR),
            Err(SandboxError::BadEnv { .. })
        ));
    }
}
