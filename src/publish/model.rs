//! The vocabulary the plan, the gate and the registry clients share: what
//! kind of registry a target is ([`Kind`]), a configured [`Registry`] with
//! its [`Auth`] (a [`Secret`] that never prints), one artifact to upload
//! ([`Item`]), what a registry already holds ([`RemoteFile`]) and the
//! [`Step`]s of a publish plan.

use std::path::PathBuf;

use serde::Serialize;

/// The registry kinds, in upload order: registries that can delete what
/// was pushed come first, those that cannot (cargo registries, PyPI) last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Oci,
    Npm,
    Cargo,
    Pypi,
}

impl Kind {
    /// The kind of registry a surface's artifacts go to, of those kiln
    /// publishes to; `None` for the others.
    pub(crate) fn of(p: crate::surface::Publication) -> Option<Kind> {
        use crate::surface::Publication;
        match p {
            Publication::Pypi => Some(Kind::Pypi),
            Publication::Oci => Some(Kind::Oci),
            Publication::Npm => Some(Kind::Npm),
            Publication::Cargo => Some(Kind::Cargo),
            Publication::None => None,
        }
    }
}

/// A credential: kept out of every `Debug`, `Display` and serialisation.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(s: String) -> Secret {
        Secret(s)
    }

    /// The credential itself, for the one header that sends it.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Credentials: HTTP basic, as `~/.pypirc`, `TWINE_*` and `auth.json`
/// give them, a bearer token, as `.npmrc`'s `_authToken` does, or a
/// token that is the whole `Authorization` header, as cargo sends it.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    Basic { username: String, password: Secret },
    Bearer(Secret),
    Token(Secret),
}

/// One configured registry.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Registry {
    /// Its name in `[publish]`, `--registry` and the native configuration.
    pub name: String,
    pub kind: Kind,
    /// Where uploads go (never with user information).
    pub url: String,
    /// Where the read API is (PyPI: the simple index).
    pub index: String,
    /// Where the URL and credentials came from (`--registry`, `~/.pypirc`, …).
    pub configured_by: String,
    #[serde(skip)]
    pub auth: Option<Auth>,
}

/// One artifact of the release build, to go to one registry.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Item {
    pub recipe: String,
    /// Index into the plan's registries.
    #[serde(skip)]
    pub registry: usize,
    /// The package name as the registry knows it (OCI: the repository).
    pub package: String,
    /// The version as the registry knows it (OCI: the version's tag).
    pub version: String,
    /// Further names the version is published under (OCI: alias and
    /// channel tags, moved to this release).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The artifact's name in `dist/`.
    pub file: String,
    /// The name the registry lists it under (PyPI: the file name; OCI:
    /// the version's tag).
    #[serde(skip)]
    pub remote: String,
    /// The store file whose bytes are uploaded.
    #[serde(skip)]
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// What the registry's read API shows for these bytes (PyPI: the
    /// file's SHA-256; OCI: the top manifest's digest).
    pub digest: String,
}

/// A file a registry holds for one version of a package (named as
/// [`Item::remote`], with its digest as [`Item::digest`] spells it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RemoteFile {
    pub file: String,
    pub digest: String,
}

/// What a step will do, or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Action {
    /// The registry does not have it: upload.
    Upload,
    /// The registry has these very bytes (an earlier run): skip.
    AlreadyPublished,
    /// Uploaded by this run.
    Uploaded,
}

/// One step of the plan: an item, what happens to it, and whether this
/// store recorded an earlier upload of it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Step {
    pub registry: String,
    #[serde(flatten)]
    pub item: Item,
    pub action: Action,
    pub recorded: bool,
}

/// The result of [`super::publish`].
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PublishReport {
    pub version: String,
    pub tag: String,
    pub dry_run: bool,
    pub registries: Vec<Registry>,
    pub steps: Vec<Step>,
}

/// What a registry said to an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Uploaded {
    Accepted,
    /// It holds a file of that name already (a rerun after a lost answer,
    /// or a race): the caller looks again at what it holds.
    Exists,
}

/// One registry kind's client: its read API (which files a version
/// already has, with their digests) and its upload API.
pub(super) trait Client {
    /// The files `version` of `package` has on the registry (empty: none).
    fn listing(&self, package: &str, version: &str) -> Result<Vec<RemoteFile>, PublishError>;
    /// Upload one artifact.
    fn upload(&self, item: &Item) -> Result<Uploaded, PublishError>;
}

use super::error::PublishError;
