//! `kiln verify`: rebuild an artifact from its commit of the local
//! repository, in a fresh temporary store, and compare. Only inputs for
//! systems this machine does not build may come from a binary cache; the
//! artifact's own recipe is always rebuilt here.
//!
//! The recipe comes from `--recipe`, the statement beside the artifact, or
//! its kind and file name; the commit from `--rev`, the statement, or the
//! artifact itself ([`super::identity`]). The rebuild uses the version the
//! commit resolves to, and if that makes another file name, the version the
//! artifact carries. The result is one [`Outcome`]; a statement beside the
//! artifact that disagrees with it (or with the rebuild's) is reported field
//! by field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::find::{read_sidecar, sha256_of};
use super::identity::{self, CommitFrom};
use super::AuditError;
use crate::diff::{Change, Difference};
use crate::engine::{BuildOptions, Quiet};
use crate::sandbox::SandboxMode;

/// What `kiln verify` requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// The same bytes.
    #[default]
    Bytes,
    /// The same entries, metadata and file bytes (the compressed stream may differ).
    Content,
}

/// How the rebuild compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    BytesIdentical,
    ContentIdentical,
    Different,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::BytesIdentical => "bytes identical",
            Outcome::ContentIdentical => {
                "content identical (same entries, metadata and file bytes; the compressed stream differs)"
            }
            Outcome::Different => "different",
        })
    }
}

/// How the artifact is matched with the rebuild's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compare {
    /// The rebuild's file of the same name, by its bytes (or content).
    #[default]
    File,
    /// An image layout fetched from a registry: the recipe's one `.oci`
    /// output, compared by the digest of its top manifest, which names
    /// every other blob by digest. The layout's `index.json` (the tags a
    /// registry keeps, which move) is not part of it.
    Image,
}

/// What to verify and how to rebuild.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The project root (its git repository holds the commit).
    pub root: PathBuf,
    pub artifact: PathBuf,
    pub rev: Option<String>,
    pub recipe: Option<String>,
    pub level: Level,
    pub sandbox: SandboxMode,
    pub host_inputs: BTreeMap<String, PathBuf>,
    pub compare: Compare,
    /// A commit recorded beside the artifact where it came from (npm's
    /// `gitHead`), used when neither `--rev` nor the artifact names one.
    pub vcs_commit: Option<(String, CommitFrom)>,
    /// The systems this machine builds (`--system`; empty: the host's).
    /// The artifact's own recipe must be one of them.
    pub systems: Vec<crate::derive::System>,
    /// Where inputs for other systems come from (`--cache`): only what this
    /// machine may not build is substituted, never the artifact's recipe.
    pub substituter: Option<std::sync::Arc<dyn crate::engine::Substituter>>,
}

/// A field of the statement beside the artifact that does not match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldMismatch {
    /// JSON path in the statement.
    pub field: String,
    pub statement: String,
    /// What the artifact (or its rebuild) says.
    pub actual: String,
}

/// Everything `kiln verify` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub artifact: String,
    pub sha256: String,
    pub recipe: String,
    pub recipe_from: &'static str,
    pub commit: String,
    pub commit_from: CommitFrom,
    /// The version the rebuild was told (`None`: the commit's own).
    pub version: Option<String>,
    pub rebuilt_sha256: String,
    pub outcome: Outcome,
    pub level: Level,
    pub differences: Vec<Difference>,
    pub provenance: Vec<FieldMismatch>,
}

impl VerifyReport {
    /// Whether the requested level holds and the statement (if any) matches.
    pub fn passed(&self) -> bool {
        let level = match self.level {
            Level::Bytes => self.outcome == Outcome::BytesIdentical,
            Level::Content => self.outcome != Outcome::Different,
        };
        level && self.provenance.is_empty()
    }
}

fn cannot(path: &Path, reason: impl Into<String>) -> AuditError {
    AuditError::CannotRebuild {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

/// The git commit a statement names, with its JSON path.
fn statement_commit(st: &Value) -> Option<(String, String)> {
    let deps = st
        .pointer("/predicate/buildDefinition/resolvedDependencies")?
        .as_array()?;
    deps.iter().enumerate().find_map(|(i, d)| {
        let c = str_at(d, "/digest/gitCommit")?;
        Some((
            c.to_string(),
            format!("predicate.buildDefinition.resolvedDependencies[{i}].digest.gitCommit"),
        ))
    })
}

/// The statement's claims about the artifact itself: the digest of the
/// subject of its name (of each file below it, for a directory artifact),
/// its commit and version.
fn check_sidecar(
    st: &Value,
    path: &Path,
    file: &str,
    sha256: &str,
    id: &identity::Identity,
) -> Vec<FieldMismatch> {
    let mut out = Vec::new();
    let subjects: &[Value] = st
        .get("subject")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let dir = format!("{file}/");
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let mut named = 0;
    for (i, s) in subjects.iter().enumerate() {
        let Some(n) = str_at(s, "/name") else {
            continue;
        };
        let actual = if n == file {
            sha256.to_string()
        } else if let Some(rest) = n.strip_prefix(&dir).filter(|_| is_dir) {
            inside_sha256(path, rest)
        } else {
            continue;
        };
        named += 1;
        let d = str_at(s, "/digest/sha256").unwrap_or("(absent)");
        if d != actual {
            out.push(FieldMismatch {
                field: format!("subject[{i}].digest.sha256"),
                statement: d.to_string(),
                actual,
            });
        }
    }
    if named == 0 {
        out.push(FieldMismatch {
            field: "subject".into(),
            statement: "(no subject of that name)".into(),
            actual: file.to_string(),
        });
    }
    if let (Some((c, field)), Some((own, from))) = (statement_commit(st), &id.commit) {
        if &c != own {
            out.push(FieldMismatch {
                field,
                statement: c,
                actual: format!("{own} ({from})"),
            });
        }
    }
    let vptr = "/predicate/buildDefinition/externalParameters/versions/artifact";
    if let (Some(v), Some(own)) = (str_at(st, vptr), &id.version) {
        if v != own {
            out.push(FieldMismatch {
                field: "predicate.buildDefinition.externalParameters.versions.artifact".into(),
                statement: v.to_string(),
                actual: format!("{own} (inside the artifact)"),
            });
        }
    }
    out
}

/// The SHA-256 of the file `rest` inside the directory artifact `root`,
/// reached without following any link ([`crate::diff::input::open_inside`]),
/// or why there is none.
fn inside_sha256(root: &Path, rest: &str) -> String {
    match crate::diff::input::open_inside(root, rest.as_bytes()) {
        Ok((f, _)) => crate::hash::Sha256::digest_reader_len(f)
            .map(|(d, _)| d.to_hex())
            .unwrap_or_else(|e| format!("(unreadable: {e})")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "(no such file)".to_string(),
        Err(e) => format!("(not a regular file inside the artifact: {e})"),
    }
}

/// The parts of a statement that describe the artifact and its sources
/// (not the machine: tool digests and derivation hashes are left out).
fn comparable(st: &Value) -> Value {
    let mut deps = Vec::new();
    for d in st
        .pointer("/predicate/buildDefinition/resolvedDependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let uri = str_at(d, "/uri").unwrap_or_default();
        if uri.starts_with("git+commit:") || uri.starts_with("kiln-snapshot:") {
            deps.push(d.clone());
        } else if uri.starts_with("kiln-store:") {
            deps.push(serde_json::json!({"uri": uri, "digest": d.get("digest")}));
        }
    }
    serde_json::json!({
        "subject": st.get("subject"),
        "predicate": {
            "buildDefinition": {
                "externalParameters": st.pointer("/predicate/buildDefinition/externalParameters"),
                "resolvedDependencies": deps,
            },
            "runDetails": {"byproducts": st.pointer("/predicate/runDetails/byproducts")},
        },
    })
}

fn flatten(v: &Value, at: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                flatten(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(x, format!("{at}[{i}]"), out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(at, other.to_string());
        }
    }
}

/// Fields where `sidecar` and the rebuild's statement disagree.
fn compare_statements(sidecar: &Value, rebuilt: &Value) -> Vec<FieldMismatch> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(&comparable(sidecar), String::new(), &mut a);
    flatten(&comparable(rebuilt), String::new(), &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| FieldMismatch {
            field: k.clone(),
            statement: a.get(k).cloned().unwrap_or_else(|| "(absent)".into()),
            actual: format!(
                "{} (the rebuild's statement)",
                b.get(k).cloned().unwrap_or_else(|| "(absent)".into())
            ),
        })
        .collect()
}

/// Only fields of the outermost container differ: not the format, and not
/// bytes that no field explains.
fn content_only(diffs: &[Difference]) -> bool {
    diffs.iter().all(|d| {
        d.location.is_empty()
            && d.entry.is_none()
            && matches!(&d.change, Change::Container { field, .. }
                if field != "format" && !field.starts_with("bytes"))
    })
}

/// `kiln diff`'s last word: the bytes differ, no field of the format does.
fn is_bytes_only(d: &Difference) -> bool {
    d.location.is_empty()
        && d.entry.is_none()
        && matches!(&d.change, Change::Container { field, .. } if field.starts_with("bytes"))
}

/// The SHA-256 of the decompressed streams of two compressed artifacts
/// (`None` unless both are): content identical means only the compression
/// differs, not bytes of the archive that no entry field shows.
fn inner_streams(a: &Path, b: &Path) -> Result<Option<(String, String)>, AuditError> {
    let limits = crate::diff::Limits::default();
    let read = |p: &Path| {
        crate::diff::source::read_path(p, &limits).map_err(|source| AuditError::Unreadable {
            path: p.to_path_buf(),
            source,
        })
    };
    let (la, lb) = (read(a)?, read(b)?);
    Ok(match (la.compressed, lb.compressed) {
        (Some(x), Some(y)) => Some((
            crate::diff::model::hex(&x.inner_sha256),
            crate::diff::model::hex(&y.inner_sha256),
        )),
        _ => None,
    })
}

/// Verify the artifact of `opts`.
pub fn verify(opts: &VerifyOptions) -> Result<VerifyReport, AuditError> {
    let path = &opts.artifact;
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| cannot(path, "not a file name"))?;
    let sha256 = digest_of(path, opts.compare)?;
    let (_, mut id) = identity::read(path).map_err(|source| AuditError::Unreadable {
        path: path.clone(),
        source,
    })?;
    if id.commit.is_none() {
        id.commit.clone_from(&opts.vcs_commit);
    }
    let sidecar = read_sidecar(path)?;
    let mut provenance = sidecar
        .as_ref()
        .map(|st| check_sidecar(st, path, &file, &sha256, &id))
        .unwrap_or_default();
    let (commit, commit_from) = commit_to_rebuild(opts, path, sidecar.as_ref(), &id)?;
    let sidecar_version = sidecar
        .as_ref()
        .and_then(|st| {
            str_at(
                st,
                "/predicate/buildDefinition/externalParameters/versions/artifact",
            )
        })
        .map(str::to_string);
    // A build made with an explicit SOURCE_DATE_EPOCH is rebuilt with it.
    let sidecar_epoch = sidecar
        .as_ref()
        .and_then(|st| st.pointer("/predicate/buildDefinition/internalParameters/sourceDateEpoch"))
        .and_then(Value::as_i64)
        .and_then(|n| crate::derive::SourceDateEpoch::from_env_value(&n.to_string()).ok());
    let tmp = tempfile::Builder::new()
        .prefix("kiln-verify-")
        .tempdir()
        .map_err(|source| AuditError::Io {
            path: PathBuf::from("(the temporary directory)"),
            source,
        })?;
    let base = BuildOptions {
        root: opts.root.clone(),
        store_dir: tmp.path().join("store"),
        rev: Some(commit.clone()),
        sandbox: opts.sandbox,
        host_inputs: opts.host_inputs.clone(),
        source_date_epoch: sidecar_epoch,
        systems: opts.systems.clone(),
        substituter: opts.substituter.clone(),
        // What can be neither built here nor substituted is named before
        // anything is built.
        require_complete: true,
        ..BuildOptions::default()
    };
    let (recipe, recipe_from) = choose_recipe(opts, &base, sidecar.as_ref(), &id, &file)?;
    let mut version = None;
    let mut rebuilt = rebuild(&base, &recipe, None, &tmp.path().join("a"), path)?;
    if rebuilt_file(&rebuilt, &file, opts.compare).is_none() {
        if let Some(v) = sidecar_version.clone().or_else(|| id.version.clone()) {
            let v = identity::canonical_at(&opts.root, &commit, &id, &v).map_err(|e| {
                AuditError::Build {
                    path: path.clone(),
                    source: Box::new(e),
                }
            })?;
            rebuilt = rebuild(&base, &recipe, Some(v.clone()), &tmp.path().join("b"), path)?;
            version = Some(v);
        }
    }
    let Some(rebuilt_file) = rebuilt_file(&rebuilt, &file, opts.compare) else {
        return Err(cannot(
            path,
            format!(
                "recipe {recipe} at commit {commit} makes {}, not {file}",
                made_files(&rebuilt).join(", ")
            ),
        ));
    };
    let rebuilt_sha256 = digest_of(&rebuilt_file, opts.compare)?;
    let (outcome, differences) = compare(path, &rebuilt_file, rebuilt_sha256 == sha256)?;
    if let (Some(st), Ok(Some(fresh))) = (&sidecar, read_sidecar(&rebuilt_file)) {
        if outcome == Outcome::BytesIdentical {
            provenance.extend(compare_statements(st, &fresh));
        }
    }
    Ok(VerifyReport {
        artifact: path.display().to_string(),
        sha256,
        recipe,
        recipe_from,
        commit,
        commit_from,
        version,
        rebuilt_sha256,
        outcome,
        level: opts.level,
        differences,
        provenance,
    })
}

/// The file of the rebuild's `dist` that `file` is compared with: the one
/// of that name, or for an image from a registry, the one image layout.
fn rebuilt_file(dist: &Path, file: &str, compare: Compare) -> Option<PathBuf> {
    match compare {
        Compare::File => Some(dist.join(file)).filter(|p| p.exists()),
        Compare::Image => {
            let layouts: Vec<PathBuf> = std::fs::read_dir(dist)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "oci") && p.is_dir())
                .collect();
            match layouts.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            }
        }
    }
}

/// What is compared: the SHA-256 of the file (the NAR hash of a
/// directory), or an image layout's top manifest digest.
fn digest_of(path: &Path, compare: Compare) -> Result<String, AuditError> {
    if compare == Compare::File {
        return sha256_of(path);
    }
    let index = path.join("index.json");
    let bytes = crate::fsutil::read_regular(&index).map_err(|source| AuditError::Io {
        path: index.clone(),
        source,
    })?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| cannot(&index, format!("not an image index: {e}")))?;
    str_at(&v, "/manifests/0/digest")
        .map(str::to_string)
        .ok_or_else(|| cannot(&index, "lists no image"))
}

/// The commit to rebuild from, resolved in the repository at `opts.root`,
/// and where it was named: `--rev`, the statement beside the artifact or
/// the artifact itself (those two only as a full commit id).
fn commit_to_rebuild(
    opts: &VerifyOptions,
    path: &Path,
    sidecar: Option<&Value>,
    id: &identity::Identity,
) -> Result<(String, CommitFrom), AuditError> {
    let repo = crate::source::git::Repo::discover(&opts.root).map_err(|e| {
        cannot(
            path,
            format!(
                "{}: no git repository to rebuild from ({e})",
                opts.root.display()
            ),
        )
    })?;
    let (wanted, commit_from) = match (&opts.rev, sidecar.and_then(statement_commit), &id.commit) {
    (Some(r), _, _) => (r.clone(), CommitFrom::Flag),
    (None, Some((c, _)), _) => (c, CommitFrom::Sidecar),
    (None, None, Some((c, from))) => (c.clone(), *from),
    (None, None, None) => {
        return Err(cannot(
            path,
            "no commit to rebuild from: no provenance statement beside it and it names none itself; pass --rev",
        ))
    }
};
    // A commit named by the artifact or its statement is data: a full id,
    // never a revision expression such as `HEAD`.
    let is_id =
        (wanted.len() == 40 || wanted.len() == 64) && wanted.bytes().all(|b| b.is_ascii_hexdigit());
    if commit_from != CommitFrom::Flag && !is_id {
        return Err(cannot(
            path,
            format!("{commit_from} names {wanted:?}, which is not a full commit id; pass --rev"),
        ));
    }
    let commit = repo.resolve(&wanted).map_err(|e| {
        cannot(
            path,
            format!(
                "commit {wanted} (from {commit_from}) is not in the repository at {}: {e}",
                repo.root().display()
            ),
        )
    })?;
    Ok((commit, commit_from))
}

/// What a rebuild made into its dist `dir` (its top-level names),
/// provenance, sums and the directory's own records aside.
fn made_files(dir: &Path) -> Vec<String> {
    use crate::engine::placement::{LOCK_NAME, STATE_NAME};
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            !n.ends_with(".intoto.json")
                && !matches!(n.as_str(), "SHA256SUMS" | LOCK_NAME | STATE_NAME)
        })
        .collect();
    names.sort();
    names
}

/// How the artifact at `path` compares with its rebuild: identical bytes
/// (`same_bytes`), the same contents in other compressed bytes, or the
/// differences `kiln diff` finds.
fn compare(
    path: &Path,
    rebuilt_file: &Path,
    same_bytes: bool,
) -> Result<(Outcome, Vec<Difference>), AuditError> {
    Ok(if same_bytes {
        (Outcome::BytesIdentical, Vec::new())
    } else {
        let report = crate::diff::diff_paths(path, rebuilt_file, &crate::diff::Limits::default())
            .map_err(|source| AuditError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let mut differences = report.differences;
        let mut outcome = Outcome::Different;
        // Only the bytes differ, no field of the format: for a compressed
        // artifact, the decompressed streams say whether more than the
        // compression does.
        let only_bytes = matches!(differences.as_slice(), [d] if is_bytes_only(d));
        if content_only(&differences) || only_bytes {
            match inner_streams(path, rebuilt_file)? {
                Some((a, b)) if a != b => {
                    differences.retain(|d| !is_bytes_only(d));
                    differences.push(Difference {
                        location: Vec::new(),
                        entry: None,
                        change: Change::Container {
                            field: "decompressed stream (same entries and metadata)".into(),
                            a: format!("sha256 {a}"),
                            b: format!("sha256 {b}"),
                        },
                    });
                }
                None if only_bytes => {}
                _ => outcome = Outcome::ContentIdentical,
            }
        }
        (outcome, differences)
    })
}

/// Build `recipe` into a fresh store and dist under `dir`; returns the dist.
fn rebuild(
    base: &BuildOptions,
    recipe: &str,
    version: Option<String>,
    dir: &Path,
    artifact: &Path,
) -> Result<PathBuf, AuditError> {
    let opts = BuildOptions {
        store_dir: dir.join("store"),
        out_dir: Some(dir.join("dist")),
        recipes: vec![recipe.to_string()],
        version,
        verifying: Some(recipe.to_string()),
        ..base.clone()
    };
    crate::engine::build(&opts, &Quiet).map_err(|e| AuditError::Build {
        path: artifact.to_path_buf(),
        source: Box::new(e),
    })?;
    Ok(dir.join("dist"))
}

/// The recipe that makes `file`: `--recipe`, the statement's, or the one
/// recipe at the commit of the artifact's kind whose file name fits.
fn choose_recipe(
    opts: &VerifyOptions,
    base: &BuildOptions,
    sidecar: Option<&Value>,
    id: &identity::Identity,
    file: &str,
) -> Result<(String, &'static str), AuditError> {
    if let Some(r) = &opts.recipe {
        return Ok((r.clone(), "--recipe"));
    }
    if let Some(r) =
        sidecar.and_then(|st| str_at(st, "/predicate/buildDefinition/externalParameters/recipe"))
    {
        return Ok((r.to_string(), "the provenance statement beside it"));
    }
    let path = &opts.artifact;
    let resolved = crate::engine::Resolved::load(base).map_err(|e| AuditError::Build {
        path: path.clone(),
        source: Box::new(e),
    })?;
    let version = id
        .version
        .clone()
        .unwrap_or_else(|| resolved.version.canonical.to_string());
    // Names that follow from the recipe alone (no manifest is read here).
    let name_of = |r: &crate::recipe::Recipe| {
        let v = crate::surface::names::VersionNames {
            artifact: &version,
            canonical: &[],
        };
        crate::surface::predict(r, &v, &mut |_| None).ok().flatten()
    };
    // The most specific kind first: a recipe whose artifact name is known
    // must match the file's; of the others, there must be exactly one.
    let mut seen: Vec<&str> = Vec::new();
    for surface in &id.surfaces {
        let of_kind: Vec<&crate::recipe::Recipe> = resolved
            .recipes
            .recipes
            .values()
            .filter(|r| r.surface() == *surface)
            .collect();
        seen.extend(of_kind.iter().map(|r| r.id.as_str()));
        let named: Vec<&&crate::recipe::Recipe> = of_kind
            .iter()
            .filter(|r| {
                name_of(r).is_some_and(|n| {
                    n.iter().any(|n| {
                        n.name == file
                            || (opts.compare == Compare::Image && n.name.ends_with(".oci"))
                    })
                })
            })
            .collect();
        let unnamed: Vec<&&crate::recipe::Recipe> =
            of_kind.iter().filter(|r| name_of(r).is_none()).collect();
        match (named.as_slice(), unnamed.as_slice()) {
            ([one], _) | ([], [one]) => return Ok((one.id.clone(), "its kind and file name")),
            ([], []) => continue,
            _ => {
                let ids: Vec<&str> = of_kind.iter().map(|r| r.id.as_str()).collect();
                return Err(cannot(
                    path,
                    format!(
                        "several recipes could make it ({}); name one with --recipe",
                        ids.join(", ")
                    ),
                ));
            }
        }
    }
    Err(cannot(
        path,
        if seen.is_empty() {
            "no recipe at that commit makes an artifact of this kind; name one with --recipe"
                .to_string()
        } else {
            format!(
                "no recipe at that commit makes a file of this name (of {}); name one with --recipe",
                seen.join(", ")
            )
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A subject that reaches a file outside a directory artifact through a
    /// link inside it is not digested: the report says why instead.
    #[test]
    fn subjects_are_digested_without_following_links() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        std::fs::create_dir_all(out.join("bin")).unwrap();
        std::fs::write(out.join("bin/tool"), b"tool\n").unwrap();
        std::fs::create_dir(t.path().join("elsewhere")).unwrap();
        std::fs::write(t.path().join("elsewhere/secret"), b"secret\n").unwrap();
        std::os::unix::fs::symlink(t.path().join("elsewhere"), out.join("link")).unwrap();
        std::os::unix::fs::symlink(t.path().join("elsewhere/secret"), out.join("s")).unwrap();
        let secret = crate::hash::Sha256::digest(b"secret\n").to_hex();
        let tool = crate::hash::Sha256::digest(b"tool\n").to_hex();
        let st = serde_json::json!({"subject": [
            {"name": "out/bin/tool", "digest": {"sha256": tool}},
            {"name": "out/link/secret", "digest": {"sha256": "00"}},
            {"name": "out/s", "digest": {"sha256": "00"}},
        ]});
        let found = check_sidecar(&st, &out, "out", "", &identity::Identity::default());
        let actual: Vec<(&str, &str)> = found
            .iter()
            .map(|m| (m.field.as_str(), m.actual.as_str()))
            .collect();
        assert_eq!(actual.len(), 2, "{found:?}");
        assert_eq!(actual[0].0, "subject[1].digest.sha256");
        assert!(actual[0].1.contains("passes through `link`"), "{found:?}");
        assert_eq!(actual[1].0, "subject[2].digest.sha256");
        assert!(actual[1].1.contains("symbolic link"), "{found:?}");
        assert!(
            found.iter().all(|m| !m.actual.contains(&secret)),
            "{found:?}"
        );
    }
}
