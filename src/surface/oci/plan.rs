//! A recipe's `[oci]` table, checked and resolved against the workspace:
//! tags, platforms, config settings, the base pin, and every layer's entry
//! list (absolute image paths, implied parent directories, modes, symlinks).
//!
//! Everything that can be wrong with a recipe is found here, before a byte
//! is written: [`check`] runs at planning time (no inputs needed), [`plan`]
//! in the workspace (inputs present).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::blobs::Digest;
use super::compress::Encoding;
pub(crate) use super::entry::{Entry, EntryKind};
use super::error::invalid;
use super::json::Platform;
use super::settings;
use super::sources::{Found, Listing, Sources};
use super::OciError;
use crate::recipe::oci::OciSection;
use crate::recipe::Recipe;
use crate::version::channels::is_valid_oci_tag;

/// The resolved image description of one recipe (cell).
#[derive(Debug, Clone)]
pub(crate) struct ImagePlan {
    pub platforms: Vec<PlatformPlan>,
    pub compression: Encoding,
    pub tags: Vec<String>,
    pub repository: String,
    pub annotations: BTreeMap<String, String>,
    pub section: OciSection,
}

/// What goes into the image of one platform.
#[derive(Debug, Clone)]
pub(crate) struct PlatformPlan {
    /// `None` = the base image's platform (or linux/amd64 without a base).
    pub platform: Option<Platform>,
    pub base: Option<BasePin>,
    pub layers: Vec<LayerPlan>,
}

/// A base layout and its pin.
#[derive(Debug, Clone)]
pub(crate) struct BasePin {
    /// As rendered from the recipe (for messages and annotations).
    pub name: String,
    pub dir: PathBuf,
    pub digest: Digest,
    /// `allow-unsafe-base-names`: publish layers with unsafe member names.
    pub allow_unsafe_names: bool,
}

/// One layer: its history name and its entries, sorted, parents first.
#[derive(Debug, Clone)]
pub(crate) struct LayerPlan {
    pub name: String,
    pub entries: Vec<Entry>,
}

/// The recipe's `[oci]` table (its defaults for a recipe of another surface).
fn section(r: &Recipe) -> OciSection {
    match &r.spec.surface {
        crate::recipe::schema::SurfaceSpec::Oci(s) => (**s).clone(),
        _ => OciSection::default(),
    }
}

/// The version spellings an image recipe's templates use: `{version}`,
/// and `{release}`, the version of the code it carries (a post release's
/// base release; else the version).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spelling<'a> {
    pub version: &'a str,
    pub release: &'a str,
}

impl<'a> Spelling<'a> {
    /// `{release}` from a post release's base (`None`: the version).
    pub(crate) fn new(version: &'a str, release: Option<&'a str>) -> Self {
        Spelling {
            version,
            release: release.unwrap_or(version),
        }
    }

    fn vars(&self) -> [(&'static str, &'a str); 1] {
        [("release", self.release)]
    }
}

/// The tags of one image: the version's OCI tags (for stable releases with
/// the policy's aliases and per-major channel), each with the recipe's tag
/// suffix.
pub(crate) fn tags(
    r: &Recipe,
    version_tags: &[String],
    version: &str,
) -> Result<Vec<String>, OciError> {
    let s = section(r);
    let suffix = match &s.tag_suffix {
        Some(t) => Some(r.render("oci.tag-suffix", t, version)?),
        None if !r.cell.is_empty() => Some(r.cell.values().cloned().collect::<Vec<_>>().join("-")),
        None => None,
    };
    let mut out = Vec::new();
    for t in version_tags {
        let tag = match &suffix {
            Some(sfx) => format!("{t}-{sfx}"),
            None => t.clone(),
        };
        if !is_valid_oci_tag(&tag) {
            return Err(invalid(
                r,
                "oci.tag-suffix",
                &tag,
                "renders an invalid OCI tag (allowed: [A-Za-z0-9_][A-Za-z0-9._-]{0,127})",
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

fn platforms(r: &Recipe, s: &OciSection) -> Result<Vec<Option<Platform>>, OciError> {
    if s.platforms.is_empty() {
        return Ok(vec![None]);
    }
    let mut out: Vec<Option<Platform>> = Vec::new();
    for p in &s.platforms {
        let parsed: Platform = p
            .parse()
            .map_err(|reason: String| invalid(r, "oci.platforms", p, reason))?;
        if out.contains(&Some(parsed.clone())) {
            return Err(invalid(r, "oci.platforms", p, "listed twice"));
        }
        out.push(Some(parsed));
    }
    Ok(out)
}

/// Render a template with the recipe's variables plus the platform's.
fn render(
    r: &Recipe,
    key: &str,
    template: &str,
    version: Spelling<'_>,
    platform: Option<&Platform>,
) -> Result<String, OciError> {
    let mut vars: BTreeMap<&str, &str> = BTreeMap::new();
    vars.insert("version", version.version);
    vars.insert("release", version.release);
    vars.insert("name", &r.name);
    for (k, v) in &r.cell {
        vars.insert(k, v);
    }
    if let Some(p) = platform {
        vars.insert("os", &p.os);
        vars.insert("arch", &p.architecture);
        vars.insert("variant", p.variant.as_deref().unwrap_or(""));
    }
    crate::recipe::template::render_template(template, &vars)
        .map_err(|reason| invalid(r, key, template, reason.to_string()))
}

/// An absolute image path → its relative tar spelling (`/usr/bin/x` →
/// `usr/bin/x`; `/` → ``).
fn image_path(r: &Recipe, key: &str, to: &str) -> Result<String, OciError> {
    let Some(rel) = to.strip_prefix('/') else {
        return Err(invalid(
            r,
            key,
            to,
            "must be an absolute path in the image (/usr/local/bin/app)",
        ));
    };
    let rel = rel.trim_end_matches('/');
    if rel.is_empty() {
        return Ok(String::new());
    }
    if let Err(reason) = crate::archive::check_entry_path(rel) {
        return Err(invalid(
            r,
            key,
            to,
            format!("is not a clean image path: {reason}"),
        ));
    }
    if rel.split('/').any(|c| c == ".") {
        return Err(invalid(
            r,
            key,
            to,
            "is not a clean image path: contains a `.` component",
        ));
    }
    Ok(rel.to_string())
}

fn check_source_path(r: &Recipe, key: &str, from: &str) -> Result<(), OciError> {
    crate::recipe::validate::check_relative(&r.file, key, from)?;
    if from.is_empty() {
        return Err(invalid(r, key, from, "is empty"));
    }
    Ok(())
}

/// The layer compressor and level the recipe asks for.
fn encoding(r: &Recipe, s: &OciSection) -> Result<Encoding, OciError> {
    Encoding::new(s.compression, s.compression_level).map_err(|why| {
        let level = s.compression_level.unwrap_or_default().to_string();
        invalid(r, "oci.compression-level", &level, &why)
    })
}

/// Everything that can be checked without the workspace.
pub(crate) fn check(
    r: &Recipe,
    version_tags: &[String],
    version: Spelling<'_>,
) -> Result<(), OciError> {
    let s = section(r);
    shadowed_axes(r, &s)?;
    encoding(r, &s)?;
    tags(r, version_tags, version.version)?;
    let plats = platforms(r, &s)?;
    if let Some(repo) = &s.repository {
        let ok = !repo.is_empty()
            && repo.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b'-' | b'/' | b':')
            })
            && !repo.starts_with(['/', '.', '-'])
            && !repo.ends_with('/');
        if !ok {
            return Err(invalid(
                r,
                "oci.repository",
                repo,
                "must be a lowercase image repository name (example.org/team/app)",
            ));
        }
    }
    for p in &s.exposed_ports {
        port(r, p)?;
    }
    run_settings(r, &s, version)?;
    if let Some(w) = &s.working_dir {
        image_path(r, "oci.working-dir", w)?;
    }
    if let Some(b) = &s.base {
        for p in &plats {
            let layout = render(r, "oci.base.layout", &b.layout, version, p.as_ref())?;
            check_source_path(r, "oci.base.layout", &layout)?;
            pin(r, b, &layout)?;
        }
    }
    for p in &plats {
        for (i, l) in s.layers.iter().enumerate() {
            check_layer(r, i, l, version, p.as_ref())?;
        }
    }
    Ok(())
}

/// A matrix axis may not take the name of a placeholder an image's
/// templates define, which would silently replace one or the other:
/// `release` always, `os`, `arch` and `variant` when the recipe lists
/// `platforms` (then they are the platform's, in layer maps and
/// `base.layout`).
fn shadowed_axes(r: &Recipe, s: &OciSection) -> Result<(), OciError> {
    for k in r.cell.keys() {
        let reason = match k.as_str() {
            "release" => "reserved placeholder name in an oci recipe ({release} is the version of the code the image carries); name the matrix axis otherwise",
            "os" | "arch" | "variant" if !s.platforms.is_empty() => {
                "is a platform placeholder of a recipe with `oci.platforms` ({os}, {arch}, {variant} in layer maps and base.layout); name the matrix axis otherwise"
            }
            _ => continue,
        };
        return Err(invalid(r, &format!("matrix.{k}"), k, reason));
    }
    Ok(())
}

/// One layer's templates and paths, for one platform.
fn check_layer(
    r: &Recipe,
    i: usize,
    l: &crate::recipe::oci::LayerSection,
    version: Spelling<'_>,
    p: Option<&Platform>,
) -> Result<(), OciError> {
    render(r, &format!("oci.layers[{i}].name"), &l.name, version, p)?;
    for (from, to) in &l.map {
        let key = format!("oci.layers[{i}].map");
        check_source_path(r, &key, &render(r, &key, from, version, p)?)?;
        image_path(r, &key, &render(r, &key, to, version, p)?)?;
    }
    for (path, target) in &l.symlinks {
        let key = format!("oci.layers[{i}].symlinks");
        let path = render(r, &key, path, version, p)?;
        let target = render(r, &key, target, version, p)?;
        if image_path(r, &key, &path)?.is_empty() {
            return Err(invalid(r, &key, &path, "cannot replace `/`"));
        }
        if target.is_empty() || target.contains('\0') {
            return Err(invalid(
                r,
                &key,
                &target,
                "a link target is a non-empty path",
            ));
        }
    }
    Ok(())
}

fn port(r: &Recipe, p: &str) -> Result<String, OciError> {
    settings::port(p).map_err(|reason| invalid(r, "oci.exposed-ports", p, reason))
}

/// A key of a recipe table named by an untrusted map key (escaped where
/// the error is printed).
fn keyed(table: &str, k: &str) -> String {
    format!("{table}.{k}")
}

/// The run settings (env, labels, user, entrypoint, cmd), rendered where
/// templated, against what runtimes accept ([`settings`]).
fn run_settings(r: &Recipe, s: &OciSection, version: Spelling<'_>) -> Result<(), OciError> {
    for (k, v) in &s.env {
        let key = keyed("oci.env", k);
        settings::env_key(k).map_err(|reason| invalid(r, &key, k, reason))?;
        let value = r.render_with(&format!("oci.env.{k}"), v, version.version, &version.vars())?;
        settings::no_nul(&value).map_err(|reason| invalid(r, &key, &value, reason))?;
    }
    for (k, v) in &s.labels {
        let key = keyed("oci.labels", k);
        settings::label_key(k).map_err(|reason| invalid(r, &key, k, reason))?;
        let value = r.render_with(
            &format!("oci.labels.{k}"),
            v,
            version.version,
            &version.vars(),
        )?;
        settings::label_value(&value).map_err(|reason| invalid(r, &key, &value, reason))?;
    }
    if let Some(u) = &s.user {
        settings::user(u).map_err(|reason| invalid(r, "oci.user", u, reason))?;
    }
    for (key, args) in [("oci.entrypoint", &s.entrypoint), ("oci.cmd", &s.cmd)] {
        for a in args.iter().flatten() {
            settings::no_nul(a).map_err(|reason| invalid(r, key, a, reason))?;
        }
    }
    Ok(())
}

fn pin(r: &Recipe, b: &crate::recipe::oci::BaseSection, layout: &str) -> Result<Digest, OciError> {
    let (key, value) = match (&b.digest, b.digests.get(layout)) {
        (Some(d), None) if b.digests.is_empty() => ("oci.base.digest".to_string(), d),
        (None, Some(d)) => (format!("oci.base.digests.{layout}"), d),
        _ => {
            return Err(invalid(
                r,
                "oci.base",
                layout,
                "pin the base layout by digest: `digest = \"sha256:…\"`, or one entry per rendered layout in `digests`",
            ))
        }
    };
    value
        .parse()
        .map_err(|reason: &str| invalid(r, &key, value, reason))
}

/// Exposed ports in their canonical spelling.
pub(crate) fn ports(r: &Recipe) -> Result<Vec<String>, OciError> {
    section(r)
        .exposed_ports
        .iter()
        .map(|p| port(r, p))
        .collect()
}

/// Add an entry and its implied parents; refuse two sources for one path.
fn insert(
    entries: &mut BTreeMap<String, (Entry, String)>,
    e: Entry,
    origin: &str,
) -> Result<(), OciError> {
    let mut parent = e.path.as_str();
    while let Some(i) = parent.rfind('/') {
        parent = &parent[..i];
        match entries.get(parent) {
            Some((p, _)) if p.kind == EntryKind::Dir => {}
            Some((_, o)) => {
                return Err(OciError::Duplicate {
                    path: format!("/{parent}"),
                    first: o.clone(),
                    second: format!("{origin} (needs it as a directory)"),
                })
            }
            None => {
                entries.insert(
                    parent.to_string(),
                    (
                        Entry {
                            path: parent.to_string(),
                            kind: EntryKind::Dir,
                        },
                        format!("parent of {origin}"),
                    ),
                );
            }
        }
    }
    match entries.get(&e.path) {
        Some((prev, _)) if prev.kind == EntryKind::Dir && e.kind == EntryKind::Dir => Ok(()),
        Some((_, first)) => Err(OciError::Duplicate {
            path: format!("/{}", e.path),
            first: first.clone(),
            second: origin.to_string(),
        }),
        None => {
            entries.insert(e.path.clone(), (e, origin.to_string()));
            Ok(())
        }
    }
}

/// The pinned base image of `platform`, if the recipe names one: its
/// layout directory (rendered, found in the workspace) and digest.
fn base_pin(
    r: &Recipe,
    s: &OciSection,
    version: Spelling<'_>,
    platform: Option<&Platform>,
    sources: &Sources<'_>,
) -> Result<Option<BasePin>, OciError> {
    Ok(match &s.base {
        Some(b) => {
            let name = render(r, "oci.base.layout", &b.layout, version, platform)?;
            let digest = pin(r, b, &name)?;
            let dir = match sources.find(r, "oci.base.layout", &name)? {
                Found::Disk(dir) => dir,
                Found::View(_) => {
                    return Err(invalid(
                        r,
                        "oci.base.layout",
                        &name,
                        "is not in the workspace (kiln's own error: a base below the source directory needs every file there)",
                    ))
                }
            };
            Some(BasePin {
                name,
                dir,
                digest,
                allow_unsafe_names: b.allow_unsafe_base_names,
            })
        }
        None => None,
    })
}

/// Layer `i` of the recipe (`l`) for `platform`: its mapped files and
/// symlinks as image paths, each path once.
fn layer_plan(
    r: &Recipe,
    i: usize,
    l: &crate::recipe::oci::LayerSection,
    version: Spelling<'_>,
    platform: Option<&Platform>,
    sources: &Sources<'_>,
) -> Result<LayerPlan, OciError> {
    let key = format!("oci.layers[{i}].map");
    let mut entries: BTreeMap<String, (Entry, String)> = BTreeMap::new();
    for (from_t, to_t) in &l.map {
        let from = render(r, &key, from_t, version, platform)?;
        let to = &render(r, &key, to_t, version, platform)?;
        let dest = image_path(r, &key, to)?;
        let found = sources.find(r, &key, &from)?;
        match sources.list(&found)? {
            Listing::Dir(files) => {
                if !dest.is_empty() {
                    insert(
                        &mut entries,
                        Entry {
                            path: dest.clone(),
                            kind: EntryKind::Dir,
                        },
                        &from,
                    )?;
                }
                for (rel, kind) in files {
                    let path = if dest.is_empty() {
                        rel.clone()
                    } else {
                        format!("{dest}/{rel}")
                    };
                    insert(&mut entries, Entry { path, kind }, &format!("{from}/{rel}"))?;
                }
            }
            Listing::One(kind) => {
                let path = if to.ends_with('/') {
                    let base = Path::new(&from)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if dest.is_empty() {
                        base
                    } else {
                        format!("{dest}/{base}")
                    }
                } else if dest.is_empty() {
                    return Err(invalid(r, &key, to, "a file cannot replace `/`"));
                } else {
                    dest.clone()
                };
                insert(&mut entries, Entry { path, kind }, &from)?;
            }
        }
    }
    for (path_t, target_t) in &l.symlinks {
        let key = format!("oci.layers[{i}].symlinks");
        let path = render(r, &key, path_t, version, platform)?;
        let target = render(r, &key, target_t, version, platform)?;
        let p = image_path(r, &key, &path)?;
        insert(
            &mut entries,
            Entry {
                path: p,
                kind: EntryKind::Symlink { target },
            },
            &format!("symlink {path}"),
        )?;
    }
    Ok(LayerPlan {
        name: render(
            r,
            &format!("oci.layers[{i}].name"),
            &l.name,
            version,
            platform,
        )?,
        entries: entries.into_values().map(|(e, _)| e).collect(),
    })
}

/// The image's annotations: created, version, title, and the revision and
/// source URL when known.
fn annotations(
    r: &Recipe,
    s: &OciSection,
    version: Spelling<'_>,
    revision: Option<&str>,
    created: &str,
) -> BTreeMap<String, String> {
    let title = s.title.clone().unwrap_or_else(|| r.name.clone());
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "org.opencontainers.image.created".to_string(),
        created.to_string(),
    );
    annotations.insert(
        "org.opencontainers.image.version".to_string(),
        version.version.to_string(),
    );
    annotations.insert("org.opencontainers.image.title".to_string(), title);
    if let Some(rev) = revision {
        annotations.insert(
            "org.opencontainers.image.revision".to_string(),
            rev.to_string(),
        );
    }
    if let Some(u) = &s.source_url {
        annotations.insert("org.opencontainers.image.source".to_string(), u.clone());
    }
    annotations
}

/// The full plan in the workspace.
pub(crate) fn plan(
    r: &Recipe,
    version_tags: &[String],
    version: Spelling<'_>,
    sources: Sources<'_>,
    revision: Option<&str>,
    created: &str,
) -> Result<ImagePlan, OciError> {
    check(r, version_tags, version)?;
    let s = section(r);
    let mut out_platforms = Vec::new();
    for platform in platforms(r, &s)? {
        let base = base_pin(r, &s, version, platform.as_ref(), &sources)?;
        let mut layers = Vec::new();
        for (i, l) in s.layers.iter().enumerate() {
            layers.push(layer_plan(r, i, l, version, platform.as_ref(), &sources)?);
        }
        out_platforms.push(PlatformPlan {
            platform,
            base,
            layers,
        });
    }
    let annotations = annotations(r, &s, version, revision, created);
    Ok(ImagePlan {
        platforms: out_platforms,
        compression: encoding(r, &s)?,
        tags: tags(r, version_tags, version.version)?,
        repository: s
            .repository
            .clone()
            .unwrap_or_else(|| r.name.to_ascii_lowercase()),
        annotations,
        section: s,
    })
}
