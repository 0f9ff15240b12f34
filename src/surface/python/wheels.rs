//! Backend mode with a declared directory of wheels: choosing the wheels a
//! backend needs, as a PEP 517 front end's installer would.
//!
//! [`resolve`] reads the directory's `.whl` file names (PEP 427: name,
//! version, optional build tag, compressed tag sets), keeps the wheels whose
//! tags the interpreter supports ([`Interpreter::tags`], best first, as
//! `packaging.tags.sys_tags` orders them), and for each requirement — the
//! project's `build-system.requires`, then every chosen wheel's
//! `Requires-Dist` with the extras asked of it, markers evaluated for the
//! interpreter ([`Interpreter::markers`]) — chooses the highest version
//! that satisfies every specifier seen for that name (among equal
//! versions, the best tag). Choices are revisited until none changes, so a
//! later, narrower specifier replaces an earlier choice.
//!
//! A requirement nothing satisfies is [`PythonError::BackendUnavailable`]
//! (exit 2: the recipe's declared inputs cannot build the project, decided
//! before anything is built), naming the requirement, its specifier, the
//! versions found and the directory looked in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep508_rs::pep440_rs::Version;
use pep508_rs::{ExtraName, MarkerEnvironment, PackageName, Requirement, VerbatimUrl};
use pep508_rs::{MarkerEnvironmentBuilder, VersionOrUrl};

use super::normalise::{self, WHEEL_CAPS};
use super::{io, PythonError};

/// What the sandbox's interpreter says about itself (the probe's `env`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct InterpreterFacts {
    pub implementation_name: String,
    pub implementation_version: String,
    pub os_name: String,
    pub platform_machine: String,
    pub platform_python_implementation: String,
    pub platform_release: String,
    pub platform_system: String,
    pub platform_version: String,
    pub python_full_version: String,
    pub python_version: String,
    pub sys_platform: String,
    /// Supported wheel tags, best first.
    pub tags: Vec<String>,
}

/// The interpreter a backend environment is for.
#[derive(Debug, Clone)]
pub struct Interpreter {
    pub markers: MarkerEnvironment,
    /// Supported tag → its rank (0 best).
    pub tags: BTreeMap<String, usize>,
}

impl Interpreter {
    pub fn new(f: &InterpreterFacts) -> Result<Interpreter, String> {
        let markers = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: &f.implementation_name,
            implementation_version: &f.implementation_version,
            os_name: &f.os_name,
            platform_machine: &f.platform_machine,
            platform_python_implementation: &f.platform_python_implementation,
            platform_release: &f.platform_release,
            platform_system: &f.platform_system,
            platform_version: &f.platform_version,
            python_full_version: &f.python_full_version,
            python_version: &f.python_version,
            sys_platform: &f.sys_platform,
        })
        .map_err(|e| e.to_string())?;
        let mut tags = BTreeMap::new();
        for (i, t) in f.tags.iter().enumerate() {
            tags.entry(t.clone()).or_insert(i);
        }
        Ok(Interpreter { markers, tags })
    }
}

/// One wheel chosen for a backend environment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChosenWheel {
    /// The normalised distribution name.
    pub name: String,
    pub version: String,
    /// The file name in the directory.
    pub file: String,
    /// The sha256 of the file (hex).
    pub sha256: String,
}

/// A wheel of the directory the interpreter can install.
#[derive(Debug, Clone)]
struct Candidate {
    name: String,
    version: Version,
    /// Rank of its best tag for the interpreter.
    rank: usize,
    file: String,
}

/// A wheel file name's parts: normalised name, version, expanded tags.
pub(crate) fn parse_file_name(file: &str) -> Option<(String, Version, Vec<String>)> {
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    let (name, version, py, abi, plat) = match parts[..] {
        [n, v, py, abi, plat] | [n, v, _, py, abi, plat] => (n, v, py, abi, plat),
        _ => return None,
    };
    let name = PackageName::from_str(name).ok()?.to_string();
    let version = Version::from_str(version).ok()?;
    let mut tags = Vec::new();
    for p in py.split('.') {
        for a in abi.split('.') {
            for l in plat.split('.') {
                tags.push(format!("{p}-{a}-{l}"));
            }
        }
    }
    Some((name, version, tags))
}

/// The directory's wheels by name, each list best first; and every wheel
/// seen by name (for messages), installable or not.
type Listing = (
    BTreeMap<String, Vec<Candidate>>,
    BTreeMap<String, Vec<String>>,
);

fn list(dir: &Path, interp: &Interpreter) -> Result<Listing, PythonError> {
    let mut by_name: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(io(dir))?;
    for e in entries {
        let e = e.map_err(io(dir))?;
        let Some(file) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some((name, version, tags)) = parse_file_name(&file) else {
            continue;
        };
        seen.entry(name.clone()).or_default().push(file.clone());
        let Some(rank) = tags.iter().filter_map(|t| interp.tags.get(t)).min() else {
            continue;
        };
        by_name.entry(name.clone()).or_default().push(Candidate {
            name,
            version,
            rank: *rank,
            file,
        });
    }
    for list in by_name.values_mut() {
        list.sort_by(|a, b| {
            b.version
                .cmp(&a.version)
                .then(a.rank.cmp(&b.rank))
                .then(a.file.cmp(&b.file))
        });
    }
    for files in seen.values_mut() {
        files.sort();
    }
    Ok((by_name, seen))
}

/// A digest of every wheel in `dir` that `interp` could install: sha256
/// over the sorted lines `file \t sha256`. What the backend's own
/// `get_requires_for_build_*` will ask for is known only while building,
/// and it is resolved against this directory; the derivation keeps this
/// digest so that any wheel that could be chosen then is part of its
/// identity, not only those `build-system.requires` chose while planning.
pub(crate) fn directory_digest(dir: &Path, interp: &Interpreter) -> Result<String, PythonError> {
    let (by_name, _) = list(dir, interp)?;
    let mut files: Vec<&str> = by_name
        .values()
        .flatten()
        .map(|c| c.file.as_str())
        .collect();
    files.sort_unstable();
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for file in files {
        let path = dir.join(file);
        let (f, _) = crate::fsutil::open_regular(&path).map_err(io(&path))?;
        let (digest, _) = crate::hash::Sha256::digest_reader_len(f).map_err(io(&path))?;
        h.update(format!("{file}\t{}\n", digest.to_hex()).as_bytes());
    }
    Ok(crate::hash::hex(&h.finalize()))
}

/// The `Requires-Dist` of a wheel's `METADATA` (read from the wheel,
/// whose entries are checked as for a backend's wheel).
fn requires_dist(path: &Path) -> Result<Vec<Requirement<VerbatimUrl>>, PythonError> {
    let (f, _) = crate::fsutil::open_regular(path).map_err(io(path))?;
    let mut ar = ::zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| normalise::bad(path, format!("is not a zip archive: {e}")))?;
    let planned = normalise::plan_wheel(path, &mut ar, &WHEEL_CAPS)?;
    let dist_info = normalise::dist_info(path, &planned)?;
    let meta_path = format!("{dist_info}/METADATA");
    let meta = normalise::read_small(path, &mut ar, &planned, &meta_path, &WHEEL_CAPS)?;
    let text = String::from_utf8(meta)
        .map_err(|_| normalise::bad(path, format!("{meta_path} is not UTF-8")))?;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Requires-Dist:") {
            let req = Requirement::<VerbatimUrl>::from_str(v.trim()).map_err(|e| {
                normalise::bad(path, format!("{meta_path}: Requires-Dist {v:?}: {e}"))
            })?;
            out.push(req);
        }
    }
    Ok(out)
}

/// Why a requirement is asked for: the project (`build-system.requires` or
/// a hook) or a chosen wheel.
#[derive(Debug, Clone)]
struct Asked {
    req: Requirement<VerbatimUrl>,
    by: String,
}

/// The resolution's state for one pass.
struct Pass<'a> {
    by_name: &'a BTreeMap<String, Vec<Candidate>>,
    previous: &'a BTreeMap<String, Candidate>,
    asked: BTreeMap<String, Vec<Asked>>,
    extras: BTreeMap<String, BTreeSet<ExtraName>>,
}

fn satisfies(c: &Candidate, req: &Requirement<VerbatimUrl>) -> bool {
    match &req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) => s.contains(&c.version),
        Some(VersionOrUrl::Url(_)) => false,
        None => true,
    }
}

impl Pass<'_> {
    /// The best candidate for `name` under every specifier asked so far.
    fn best(&self, name: &str) -> Option<&Candidate> {
        let asked = self.asked.get(name)?;
        if let Some(p) = self.previous.get(name) {
            if asked.iter().all(|a| satisfies(p, &a.req)) {
                return Some(p);
            }
        }
        self.by_name
            .get(name)?
            .iter()
            .find(|c| asked.iter().all(|a| satisfies(c, &a.req)))
    }
}

/// Choose the wheels of `dir` for `roots` (requirement text, who asks).
pub(crate) fn resolve(
    dir: &Path,
    interp: &Interpreter,
    roots: &[(String, String)],
    unavailable: &dyn Fn(&str, String) -> PythonError,
) -> Result<Vec<ChosenWheel>, PythonError> {
    let (by_name, seen) = list(dir, interp)?;
    let mut metadata: BTreeMap<String, Vec<Requirement<VerbatimUrl>>> = BTreeMap::new();
    let mut roots_parsed = Vec::new();
    for (text, by) in roots {
        let req = Requirement::<VerbatimUrl>::from_str(text)
            .map_err(|e| unavailable(text, format!("not a PEP 508 requirement: {e}")))?;
        roots_parsed.push(Asked {
            req,
            by: by.clone(),
        });
    }
    let mut previous: BTreeMap<String, Candidate> = BTreeMap::new();
    for _ in 0..32 {
        let mut pass = Pass {
            by_name: &by_name,
            previous: &previous,
            asked: BTreeMap::new(),
            extras: BTreeMap::new(),
        };
        let mut queue: Vec<Asked> = roots_parsed
            .iter()
            .filter(|a| a.req.evaluate_markers(&interp.markers, &[]))
            .cloned()
            .collect();
        let mut expanded: BTreeSet<(String, String, Vec<ExtraName>)> = BTreeSet::new();
        while let Some(a) = queue.pop() {
            let name = a.req.name.to_string();
            if let Some(VersionOrUrl::Url(u)) = &a.req.version_or_url {
                return Err(unavailable(
                    &a.req.to_string(),
                    format!("a URL requirement ({u}) cannot be met from a directory of wheels"),
                ));
            }
            pass.asked.entry(name.clone()).or_default().push(a.clone());
            let extras = pass.extras.entry(name.clone()).or_default();
            extras.extend(a.req.extras.iter().cloned());
            let extras: Vec<ExtraName> = extras.iter().cloned().collect();
            let Some(c) = pass.best(&name).cloned() else {
                return Err(unsatisfied(dir, &a, &pass, &seen, unavailable));
            };
            if !expanded.insert((name.clone(), c.file.clone(), extras.clone())) {
                continue;
            }
            if !metadata.contains_key(&c.file) {
                metadata.insert(c.file.clone(), requires_dist(&dir.join(&c.file))?);
            }
            for req in &metadata[&c.file] {
                if req.evaluate_markers(&interp.markers, &extras) {
                    queue.push(Asked {
                        req: req.clone(),
                        by: format!("{} {}", c.name, c.version),
                    });
                }
            }
        }
        let mut chosen = BTreeMap::new();
        for name in pass.asked.keys() {
            let c = pass.best(name).cloned().ok_or_else(|| {
                let a = pass.asked[name].last().expect("asked").clone();
                unsatisfied(dir, &a, &pass, &seen, unavailable)
            })?;
            chosen.insert(name.clone(), c);
        }
        let same = chosen.len() == previous.len()
            && chosen
                .iter()
                .all(|(n, c)| previous.get(n).is_some_and(|p| p.file == c.file));
        if same {
            return chosen.into_values().map(|c| digested(dir, c)).collect();
        }
        previous = chosen;
    }
    Err(unavailable(
        &roots
            .iter()
            .map(|(r, _)| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        format!(
            "the wheels of {} do not settle on one choice per name",
            crate::name::shown_path(dir)
        ),
    ))
}

/// A chosen candidate with the sha256 of its file.
fn digested(dir: &Path, c: Candidate) -> Result<ChosenWheel, PythonError> {
    let path = dir.join(&c.file);
    let (sha256, _) = crate::hash::Sha256::digest_file(&path).map_err(io(&path))?;
    Ok(ChosenWheel {
        name: c.name,
        version: c.version.to_string(),
        file: c.file,
        sha256: sha256.to_hex(),
    })
}

/// The message for a requirement no wheel of `dir` satisfies.
fn unsatisfied(
    dir: &Path,
    a: &Asked,
    pass: &Pass<'_>,
    seen: &BTreeMap<String, Vec<String>>,
    unavailable: &dyn Fn(&str, String) -> PythonError,
) -> PythonError {
    let name = a.req.name.to_string();
    let specifier = match &a.req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) if !s.is_empty() => s.to_string(),
        _ => "any version".to_string(),
    };
    let others: Vec<String> = pass
        .asked
        .get(&name)
        .into_iter()
        .flatten()
        .filter(|o| o.by != a.by)
        .map(|o| format!("`{}` (asked by {})", o.req, o.by))
        .collect();
    let found = match seen.get(&name) {
        None => "no wheel of that name".to_string(),
        Some(files) => {
            let usable: BTreeSet<&str> = pass
                .by_name
                .get(&name)
                .into_iter()
                .flatten()
                .map(|c| c.file.as_str())
                .collect();
            let other: Vec<&str> = files
                .iter()
                .map(String::as_str)
                .filter(|f| !usable.contains(f))
                .collect();
            let shown = |v: Vec<&str>| {
                v.into_iter()
                    .map(crate::name::shown)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut found = shown(usable.iter().copied().collect());
            if found.is_empty() {
                found = "no wheel this interpreter can install".into();
            }
            if !other.is_empty() {
                found.push_str(&format!("; for other interpreters: {}", shown(other)));
            }
            found
        }
    };
    let mut detail = format!(
        "asked by {}: no wheel satisfies `{name}` {specifier} in {} (the declared python-wheels directory; found {found})",
        a.by,
        crate::name::shown_path(dir)
    );
    if !others.is_empty() {
        detail.push_str(&format!("; also asked: {}", others.join(", ")));
    }
    unavailable(&a.req.to_string(), detail)
}

/// The key of an environment of `wheels` for the interpreter `python`
/// (its identity): sha256 over both, the wheels sorted.
pub(crate) fn environment_key(python: &crate::derive::ToolRef, wheels: &[ChosenWheel]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"kiln python backend environment v1\n");
    h.update(format!("{}\t{}\t{}\n", python.name, python.version, python.sha256).as_bytes());
    let mut sorted: Vec<&ChosenWheel> = wheels.iter().collect();
    sorted.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    for w in sorted {
        h.update(format!("{}\t{}\n", w.sha256, w.file).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The host path of a chosen wheel.
pub(crate) fn wheel_path(dir: &Path, w: &ChosenWheel) -> PathBuf {
    dir.join(&w.file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_expand_their_tags() {
        let (n, v, tags) = parse_file_name("Poetry_Core-2.1.2-py3-none-any.whl").unwrap();
        assert_eq!(n, "poetry-core");
        assert_eq!(v.to_string(), "2.1.2");
        assert_eq!(tags, ["py3-none-any"]);
        let (_, _, tags) = parse_file_name("x-1.0-1build-py2.py3-none-any.whl").unwrap();
        assert_eq!(tags, ["py2-none-any", "py3-none-any"]);
        assert!(parse_file_name("x-1.0.tar.gz").is_none());
        assert!(parse_file_name("x-1.0-py3-none.whl").is_none());
    }
}
