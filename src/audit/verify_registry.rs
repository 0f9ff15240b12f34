//! `kiln verify REF`: verify what a registry serves. The artifacts of the
//! reference are fetched ([`crate::publish::fetch`]) into a temporary
//! directory of the store's temporary area, each checked against the
//! digest the registry states, then each is verified exactly as a local
//! file is ([`super::verify`]): the commit from `--rev`, the artifact
//! itself (an image's revision) or the registry's vcs information (npm's
//! `gitHead`), rebuilt in a fresh store and compared.

use std::path::PathBuf;

use super::identity::CommitFrom;
use super::verify::{verify, Compare, VerifyOptions, VerifyReport};
use super::AuditError;
use crate::error::{Classify, ErrorKind};
use crate::publish::{FetchError, FetchOptions, RegistryRef};

/// What `kiln verify REF` is asked.
#[derive(Debug, Clone)]
pub(crate) struct RegistryVerifyOptions {
    pub reference: RegistryRef,
    /// `--registry NAME[=URL]`.
    pub registry: Option<(String, Option<String>)>,
    pub env: crate::publish::Environment,
    /// Where the download directory is made (the store's temporary area).
    pub temp: PathBuf,
    /// How to rebuild and compare (`artifact` is set per file).
    pub verify: VerifyOptions,
}

/// One artifact the registry serves, and its verification.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct RegistryVerifyReport {
    /// The registry's name and URL.
    pub registry: String,
    pub url: String,
    /// The package (OCI: repository) and version (OCI: tag or digest).
    pub name: String,
    pub registry_version: String,
    /// The digest the registry states for it, as it spells it.
    pub digest: String,
    #[serde(flatten)]
    pub report: VerifyReport,
}

/// Why a registry's artifact could not be verified.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryVerifyError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{}: cannot make a download directory", crate::name::shown_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for RegistryVerifyError {
    fn kind(&self) -> ErrorKind {
        match self {
            RegistryVerifyError::Fetch(e) => e.kind(),
            RegistryVerifyError::Audit(e) => e.kind(),
            RegistryVerifyError::Store(e) => e.kind(),
            RegistryVerifyError::Io { source, .. } => ErrorKind::of_io(source),
        }
    }
}

/// Fetch every artifact `opts.reference` names and verify each.
pub(crate) fn verify_registry(
    opts: &RegistryVerifyOptions,
) -> Result<Vec<RegistryVerifyReport>, RegistryVerifyError> {
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| RegistryVerifyError::Io { path, source }
    };
    std::fs::create_dir_all(&opts.temp).map_err(io(&opts.temp))?;
    let dir = tempfile::Builder::new()
        .prefix("verify-fetch-")
        .tempdir_in(&opts.temp)
        .map_err(io(&opts.temp))?;
    let fetched = crate::publish::fetch(&FetchOptions {
        reference: opts.reference.clone(),
        registry: opts.registry.clone(),
        env: opts.env.clone(),
        dir: dir.path().to_path_buf(),
    })?;
    let mut out = Vec::new();
    for f in &fetched.files {
        let v = VerifyOptions {
            artifact: f.path.clone(),
            compare: if f.image {
                Compare::Image
            } else {
                Compare::File
            },
            vcs_commit: f.vcs_commit.clone().map(|c| (c, CommitFrom::NpmGitHead)),
            ..opts.verify.clone()
        };
        let mut report = verify(&v)?;
        report.artifact.clone_from(&f.file);
        out.push(RegistryVerifyReport {
            registry: fetched.registry.clone(),
            url: fetched.url.clone(),
            name: fetched.name.clone(),
            registry_version: fetched.version.clone(),
            digest: f.digest.clone(),
            report,
        });
    }
    Ok(out)
}
