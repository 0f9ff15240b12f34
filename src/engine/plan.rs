//! Planning: options + checkout + recipes → a typed [`Plan`], exactly once.
//!
//! [`Resolved::load`] resolves the [`Checkout`], reads the recipes and the
//! release policy from it, and takes the snapshot and the version side by
//! side. [`Plan::new`] then selects the recipes (with their inputs, in
//! dependency order) and, for each, its snapshot files, version spellings,
//! `SOURCE_DATE_EPOCH`, tools and sandbox: everything that can be checked
//! without building, so bad input fails before the store is opened.
//! [`Node::derivation`] assembles a node's derivation once its inputs are
//! registered (a derivation names its inputs by the NAR hash of their
//! outputs); that is the only place a derivation is assembled.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::resolved::Resolved;
use super::{BuildError, BuildOptions};
use crate::derive::{
    Derivation, DrvHash, InputRef, Isolation, SourceDateEpoch, System, ToolRef, Versions,
};
use crate::nix::store_path::StorePath;
use crate::recipe::{Recipe, Surface};
use crate::sandbox::Tool;
use crate::source::tree::SnapshotTree;
use crate::source::{Selection, Snapshot};
use crate::stamp::build::Stamping;
use crate::store::{Realisation, Store};
use crate::surface;
use crate::version::Target;

/// Names kiln itself writes into `dist/`; no artifact may take them.
pub const RESERVED_DIST_NAMES: &[&str] = &["SHA256SUMS", ".kiln-dist.lock", ".kiln-dist.json"];

/// One recipe to build, with everything resolved but its inputs' outputs.
#[derive(Debug)]
pub struct Node<'r> {
    pub recipe: &'r Recipe,
    /// What it is built from: the plan's [`Resolved`], or for a post
    /// release's code input, the base release's ([`super::post`]).
    pub resolved: &'r Resolved,
    pub selection: Selection<'r>,
    pub versions: Versions,
    pub epoch: SourceDateEpoch,
    pub tools: Vec<Tool>,
    /// A Python recipe in backend mode: its backend's identity (one entry
    /// per build requirement), recorded with the tools.
    pub backend: Vec<ToolRef>,
    /// With a declared directory of wheels: the backend's environment,
    /// installed into the store when the recipe is built.
    pub backend_env: Option<surface::python::backend::Environment>,
    /// A Python recipe: whether it runs the native builder (and as which
    /// backend) or the project's backend, and why.
    pub python: Option<surface::python::choice::Choice>,
    pub isolation: Isolation,
    /// The commit a crate is packed from as a git checkout, decided here
    /// once: the workspace hands it to the surface, and cargo writes its id
    /// into `.cargo_vcs_info.json`, so it is an input of the derivation.
    pub git: Option<surface::GitSource<'r>>,
    /// What the build stamps into its workspace copies of the sources.
    pub stamping: Stamping,
    /// The system it is built for ([`system_of`]).
    pub system: System,
}

/// The selected recipes in dependency order (inputs first, then by id).
#[derive(Debug)]
pub struct Plan<'r> {
    pub resolved: &'r Resolved,
    pub nodes: Vec<Node<'r>>,
    /// A post release: the code recipes selected but not built (not an
    /// input of any selected image).
    pub skipped: Vec<String>,
}

/// The snapshot trees stamping decides over (the whole commit), one per
/// side (the plan's, a post release's base), made when first needed.
#[derive(Default)]
struct Trees<'r>(Vec<(&'r Resolved, SnapshotTree<'r>)>);

impl<'r> Trees<'r> {
    fn of(&mut self, side: &'r Resolved) -> &SnapshotTree<'r> {
        let i = match self.0.iter().position(|(s, _)| std::ptr::eq(*s, side)) {
            Some(i) => i,
            None => {
                self.0.push((side, SnapshotTree::new(&side.snapshot)));
                self.0.len() - 1
            }
        };
        &self.0[i].1
    }
}

/// A registered input as a dependent derivation sees it.
#[derive(Debug, Clone)]
pub struct Realised {
    pub drv: DrvHash,
    pub store_path: StorePath,
    pub realisation: Realisation,
}

impl Realised {
    pub fn new(drv: DrvHash, realisation: Realisation) -> Realised {
        Realised {
            drv,
            store_path: realisation.store_path.clone(),
            realisation,
        }
    }
}

/// The version spellings of a recipe whose artifacts carry `target`'s
/// built from `side`; only an image names the clean commit it is built
/// from as its revision.
fn versions_of(side: &Resolved, target: Target) -> Result<Versions, BuildError> {
    let version = &side.version;
    let oci = target == Target::Oci;
    let revision = side
        .snapshot
        .origin
        .clean_commit()
        .filter(|_| oci)
        .map(str::to_string);
    Ok(Versions {
        artifact: version.render(target)?,
        cargo: version.render(Target::Cargo).ok(),
        npm: version.render(Target::Npm).ok(),
        pypi: version.render(Target::Pypi).ok(),
        oci_tags: if oci { version.oci_tags()? } else { Vec::new() },
        revision,
        release: if oci && version.canonical.is_post() {
            Some(version.code_release(Target::Oci)?)
        } else {
            None
        },
    })
}

/// The version spelling a recipe's artifacts carry: its publication's.
pub fn target_of(recipe: &Recipe) -> Target {
    surface::of(recipe).publication().version_target()
}

/// No file a build reads is uncommitted: the selected files (`read`), the
/// recipe files and the release policy.
fn check_committed(resolved: &Resolved, read: &BTreeSet<&str>) -> Result<(), BuildError> {
    let recipes = &resolved.recipes;
    let mut read: BTreeSet<&str> = read.iter().copied().collect();
    // The recipe files and the policy are read too.
    let recipe_files: Vec<String> = recipes
        .recipes
        .values()
        .map(|r| r.file.to_string_lossy().into_owned())
        .chain(std::iter::once(
            crate::version::policy::POLICY_PATH.to_string(),
        ))
        .collect();
    read.extend(recipe_files.iter().map(String::as_str));
    let dirty = resolved.snapshot.uncommitted_in(&read);
    if !dirty.is_empty() {
        return Err(BuildError::Uncommitted { files: dirty });
    }
    Ok(())
}

/// What a node's build runs: a Python backend's tools (and its identity),
/// the sandboxed tools of a command or crate, or nothing (a native
/// builder).
fn node_tools(
    recipe: &Recipe,
    snapshot: &Snapshot,
    selection: &Selection<'_>,
    opts: &BuildOptions,
    tool_cache: Option<&Path>,
) -> Result<NodeTools, BuildError> {
    let python =
        surface::python::backend::choice(recipe, snapshot, &selection.base).map_err(|source| {
            BuildError::Surface {
                recipe: recipe.id.clone(),
                source: Box::new(source.into()),
            }
        })?;
    let process = Isolation::Process(opts.sandbox);
    let (tools, isolation, backend, backend_env) = match surface::of(recipe).runs() {
        surface::Runs::Backend => {
            let planned = surface::python::backend::plan(
                recipe,
                python.as_ref(),
                snapshot,
                &selection.base,
                opts.sandbox,
                &opts.root,
                tool_cache,
                &opts.host_inputs,
            )
            .map_err(|source| BuildError::Surface {
                recipe: recipe.id.clone(),
                source: Box::new(source.into()),
            })?;
            match planned {
                Some(b) => (b.tools, process, b.identity, b.environment),
                None => (Vec::new(), Isolation::Native, Vec::new(), None),
            }
        }
        surface::Runs::Tools(names) => {
            let tools = crate::sandbox::resolve_tools_cached(&names, &opts.root, tool_cache)?;
            (tools, process, Vec::new(), None)
        }
        surface::Runs::Native => (Vec::new(), Isolation::Native, Vec::new(), None),
    };
    Ok(NodeTools {
        tools,
        isolation,
        backend,
        backend_env,
        python,
    })
}

/// What a node runs with: its tools, how it is isolated, its backend's
/// distributions (derivation entries) and, for a backend recipe with a
/// declared wheels directory, the environment those wheels make.
struct NodeTools {
    tools: Vec<Tool>,
    isolation: Isolation,
    backend: Vec<ToolRef>,
    backend_env: Option<surface::python::backend::Environment>,
    python: Option<surface::python::choice::Choice>,
}

/// The recipes a build selects, each with the checkout it is built from
/// (a post release builds its code inputs from the base release), and the
/// code recipes a post release skips.
#[allow(clippy::type_complexity)]
fn select<'r>(
    resolved: &'r Resolved,
    opts: &BuildOptions,
) -> Result<(Vec<(&'r Recipe, &'r Resolved)>, Vec<String>), BuildError> {
    Ok(match &resolved.base {
        Some(base) => {
            let s = super::post::select(resolved, base, &opts.recipes)?;
            (s.nodes, s.skipped)
        }
        None => {
            let selected = resolved.recipes.select(&opts.recipes)?;
            (
                selected.into_iter().map(|r| (r, resolved)).collect(),
                Vec::new(),
            )
        }
    })
}

impl<'r> Plan<'r> {
    /// Select recipes and their snapshot files, and check everything that can
    /// be checked without building: uncommitted sources, templates, `dist/`
    /// names, the sandbox and tools.
    pub fn new(resolved: &'r Resolved, opts: &BuildOptions) -> Result<Plan<'r>, BuildError> {
        let (selected, skipped) = select(resolved, opts)?;
        if selected
            .iter()
            .any(|(r, _)| matches!(surface::of(r).runs(), surface::Runs::Tools(_)))
        {
            crate::sandbox::check_available(opts.sandbox)?;
        }
        let mut read: BTreeSet<&str> = BTreeSet::new();
        let mut names = DistNames::default();
        let mut nodes = Vec::new();
        for (r, side) in selected {
            let (snapshot, version) = (&side.snapshot, &side.version);
            let selection =
                snapshot.select(&r.file, &r.spec.source, &r.spec.include, &r.spec.exclude)?;
            check_includes(snapshot, r, &selection)?;
            if std::ptr::eq(side, resolved) {
                read.extend(selection.files.iter().map(|f| f.path.as_str()));
            }
            let versions = versions_of(side, target_of(r))?;
            check_templates(r, &versions.artifact)?;
            let system = system_of(r, &versions.artifact)?;
            check_map(r, &selection, &versions.artifact)?;
            surface::check(r, version, &versions.artifact).map_err(|source| {
                BuildError::Surface {
                    recipe: r.id.clone(),
                    source: Box::new(source),
                }
            })?;
            // A post release's code inputs are the base release's
            // artifacts, not this build's: they take no `dist/` name.
            if std::ptr::eq(side, resolved) {
                names.claim(r, version, &versions.artifact, snapshot, &selection)?;
            }
            // A post release's code inputs are built as the base release
            // built them, at its commit's time: an explicit epoch (the
            // environment's, or the one `kiln verify` reads from the
            // image's statement) is the post release's own.
            let explicit = if std::ptr::eq(side, resolved) {
                opts.source_date_epoch
            } else {
                None
            };
            let epoch = SourceDateEpoch::resolve(
                explicit,
                snapshot.commit_time,
                r.spec.source_date_epoch,
                side.policy.source_date_epoch,
            );
            nodes.push((r, side, selection, versions, epoch, system));
        }
        check_committed(resolved, &read)?;
        // The tool cache lives beside the store key, in the per-user state
        // directory: nothing that came with a checkout (a committed store)
        // can answer for a tool's identity. Without a home it is skipped.
        let tool_cache = opts.state_dir.as_ref().map(|d| d.join("tools"));
        let tool_cache = tool_cache.as_deref();
        let mut trees = Trees::default();
        let nodes = nodes
            .into_iter()
            .map(|(recipe, side, selection, versions, epoch, system)| {
                let snapshot = &side.snapshot;
                // The whole commit's tree is indexed only for a recipe that
                // reads a file stamping could edit (a no-op build of a
                // bundle of 20,000 files spent a quarter of its time here).
                let stamping = if Stamping::may_stamp(&side.policy, &selection) {
                    Stamping::plan(
                        trees.of(side),
                        &side.policy,
                        &side.version,
                        &surface::of(recipe).own_manifests(),
                        &selection,
                    )?
                } else {
                    Stamping::default()
                };
                let NodeTools {
                    tools,
                    isolation,
                    backend,
                    backend_env,
                    python,
                } = node_tools(recipe, snapshot, &selection, opts, tool_cache)?;
                let git = surface::of(recipe)
                    .reads_git()
                    .then(|| surface::git_source(snapshot, &opts.root))
                    .flatten();
                Ok(Node {
                    recipe,
                    resolved: side,
                    selection,
                    versions,
                    epoch,
                    tools,
                    backend,
                    backend_env,
                    python,
                    isolation,
                    git,
                    stamping,
                    system,
                })
            })
            .collect::<Result<Vec<_>, BuildError>>()?;
        Ok(Plan {
            resolved,
            nodes,
            skipped,
        })
    }

    /// Each node's derivation hash and whether it is registered, without
    /// building (`kiln plan`). A node whose inputs are not registered has no
    /// hash yet.
    pub fn describe(&self, store: &Store) -> Result<Vec<Planned>, BuildError> {
        let mut realised: BTreeMap<String, Realised> = BTreeMap::new();
        let mut out = Vec::new();
        for node in &self.nodes {
            let r = node.recipe;
            let inputs: Option<BTreeMap<String, Realised>> = r
                .inputs()
                .iter()
                .map(|(mount, dep)| realised.get(dep).map(|x| (mount.clone(), x.clone())))
                .collect();
            let (drv, derivation, cached) = match inputs {
                Some(inputs) => {
                    let d = node.derivation(&inputs);
                    let h = d.hash();
                    let real = store.realisation(h.as_str())?;
                    let cached = real.is_some();
                    if let Some(real) = real {
                        realised.insert(r.id.clone(), Realised::new(h.clone(), real));
                    }
                    (Some(h), Some(d.to_value()), cached)
                }
                None => (None, None, false),
            };
            out.push(Planned {
                id: r.id.clone(),
                surface: r.surface(),
                drv,
                derivation,
                inputs: r.inputs().clone(),
                cached,
                stamping: node.stamping.changes().cloned().collect(),
                python: node.python.clone(),
            });
        }
        Ok(out)
    }
}

impl Node<'_> {
    /// The derivation of this node, given its registered inputs.
    pub fn derivation(&self, inputs: &BTreeMap<String, Realised>) -> Derivation {
        let r = self.recipe;
        let inputs = inputs
            .iter()
            .map(|(mount, x)| {
                (
                    mount.clone(),
                    InputRef {
                        recipe: r.spec.inputs[mount].clone(),
                        drv: x.drv.clone(),
                        store_path: x.store_path.clone(),
                        nar_hash: x.realisation.nar_hash,
                    },
                )
            })
            .collect();
        let mut drv = assemble(
            r,
            &self.selection,
            self.versions.clone(),
            self.epoch,
            inputs,
            &self.tools,
            &self.backend,
            self.isolation,
            self.git.map(|g| g.commit),
            self.system.clone(),
        );
        // A native builder writing as a backend writes other bytes than
        // kiln's own PEP 621 writer: its identity is part of the builder.
        use surface::python::choice::{Emulation, Mode};
        if let Some(Mode::Native(e)) = self.python.as_ref().map(|c| &c.mode) {
            if *e != Emulation::Generic {
                drv.builder
                    .insert("emulates".to_string(), e.identity().to_string());
            }
        }
        drv
    }
}

/// Assemble a derivation from resolved parts. `config` is the recipe as
/// written minus its identity (`name` and `matrix` are carried by `recipe`
/// and `cell`) and minus unset keys, so that a kiln which knows more recipe
/// keys (a new surface's table) gives existing recipes the same cache keys.
/// `backend` (a Python build backend's identity) follows the tools;
/// `system` is what it is built for ([`system_of`]).
// Every argument is one distinct, typed part of the derivation; a struct of
// them would only repeat `Derivation`'s own fields.
#[allow(clippy::too_many_arguments)]
pub fn assemble(
    r: &Recipe,
    selection: &Selection<'_>,
    versions: Versions,
    epoch: SourceDateEpoch,
    inputs: BTreeMap<String, InputRef>,
    tools: &[Tool],
    backend: &[ToolRef],
    isolation: Isolation,
    vcs_commit: Option<&str>,
    system: System,
) -> Derivation {
    Derivation {
        name: r.store_name(),
        recipe: r.id.clone(),
        surface: r.surface(),
        config: crate::derive::Config::of_recipe(&r.spec, vcs_commit),
        cell: r.cell.clone(),
        source_dir: selection.base.clone(),
        source_digest: selection.digest(),
        source_files: selection.files.len(),
        versions,
        source_date_epoch: epoch,
        inputs,
        tools: tools
            .iter()
            .map(ToolRef::of_tool)
            .chain(backend.iter().cloned())
            .collect(),
        builder: surface::builder_identity(r),
        isolation,
        system,
    }
}

/// The system a recipe is built for: its `system` key (templated with the
/// matrix keys), else its matrix cell's `system`, else a one-platform
/// image's platform, else the host's. An unknown name is bad input.
pub fn system_of(r: &Recipe, version: &str) -> Result<System, BuildError> {
    let written = match (&r.spec.system, r.cell.get("system")) {
        (Some(t), _) => Some(("system", r.render("system", t, version)?)),
        (None, Some(v)) => Some(("matrix.system", v.clone())),
        (None, None) => None,
    };
    if let Some((key, value)) = written {
        return System::parse(&value).map_err(|source| BuildError::System {
            file: r.file.clone(),
            key: key.to_string(),
            source,
        });
    }
    if let crate::recipe::schema::SurfaceSpec::Oci(oci) = &r.spec.surface {
        if let [one] = oci.platforms.as_slice() {
            if let Some(s) = System::of_oci_platform(one) {
                return Ok(s);
            }
        }
    }
    Ok(System::host())
}

/// A planned recipe, for `kiln plan`.
#[derive(Debug, Clone)]
pub struct Planned {
    pub id: String,
    pub surface: Surface,
    /// `None` while an input is not built yet (its NAR hash is unknown).
    pub drv: Option<DrvHash>,
    pub derivation: Option<Value>,
    pub inputs: BTreeMap<String, String>,
    pub cached: bool,
    /// Each field the build stamps into its copies of the sources.
    pub stamping: Vec<crate::stamp::StampChange>,
    /// A Python recipe's builder and why ([`surface::python::choice`]).
    pub python: Option<surface::python::choice::Choice>,
}

/// Every `include` pattern must select at least one file (a typo would
/// otherwise give an archive missing what it was meant to hold).
fn check_includes(
    snapshot: &Snapshot,
    r: &Recipe,
    selected: &Selection<'_>,
) -> Result<(), BuildError> {
    for p in &r.spec.include {
        // With one pattern, a non-empty selection already shows it matches.
        if r.spec.include.len() == 1 && !selected.files.is_empty() {
            break;
        }
        let s = snapshot.select(&r.file, &r.spec.source, std::slice::from_ref(p), &[])?;
        if s.files.is_empty() {
            return Err(no_match(r, p));
        }
    }
    Ok(())
}

/// Every `[[map]]` source must exist before anything is built: an input
/// mount the recipe declares, or a selected file or directory below `source`.
fn check_map(r: &Recipe, selected: &Selection<'_>, version: &str) -> Result<(), BuildError> {
    for (i, m) in r.spec.map.iter().enumerate() {
        let key = format!("map[{i}].from");
        let from = r.render(&key, &m.from, version)?;
        let bad = |reason: String| BuildError::Map {
            file: r.file.clone(),
            line: crate::recipe::project::key_line(&r.text, &key),
            key: key.clone(),
            value: from.clone(),
            reason,
        };
        if let Some((mount, _)) = crate::recipe::schema::input_mount(&from) {
            if !r.spec.inputs.contains_key(mount) {
                return Err(bad(format!("no input mounted as {mount:?} (see `inputs`)")));
            }
            continue;
        }
        let from = from.trim_end_matches('/');
        let dir = format!("{from}/");
        let found = selected.files.iter().any(|f| {
            let rel = selected.relative(f);
            rel == from || rel.starts_with(&dir)
        });
        if !found {
            return Err(bad(format!(
                "no selected file of {:?} is there (check `source`, `include` and `exclude`)",
                r.spec.source
            )));
        }
    }
    Ok(())
}

fn no_match(r: &Recipe, pattern: &str) -> BuildError {
    BuildError::IncludeMatchesNothing {
        file: r.file.clone(),
        line: crate::recipe::project::key_line(&r.text, "include"),
        pattern: pattern.to_string(),
        source_dir: r.spec.source.clone(),
    }
}

/// Render every template of a recipe once, so a bad placeholder is reported
/// at planning time.
fn check_templates(r: &Recipe, version: &str) -> Result<(), BuildError> {
    if let Some(p) = &r.spec.prefix {
        r.render("prefix", p, version)?;
    }
    if let Some(o) = &r.spec.output {
        r.render("output", o, version)?;
    }
    for (i, m) in r.spec.map.iter().enumerate() {
        for (key, t) in [("from", &m.from), ("to", &m.to)] {
            let key = format!("map[{i}].{key}");
            let path = r.render(&key, t, version)?;
            // A matrix value can make a path that leaves the workspace.
            crate::recipe::validate::check_relative(&r.file, &key, &path)?;
        }
    }
    if let crate::recipe::schema::SurfaceSpec::Command(c) = &r.spec.surface {
        for (i, a) in c.argv.iter().enumerate() {
            r.render(&format!("command.argv[{i}]"), a, version)?;
        }
        for (k, v) in &c.env {
            r.render(&format!("command.env.{k}"), v, version)?;
        }
    }
    Ok(())
}

/// The `dist/` names claimed so far, by recipe id: artifacts, their
/// `.intoto.json` and kiln's own files.
#[derive(Debug, Default)]
struct DistNames(BTreeMap<String, String>);

impl DistNames {
    /// Claim the names a recipe's artifacts will take in `dist/`, when they
    /// are known before building ([`surface::predict`]; the others
    /// are checked again before `dist/` is written).
    fn claim(
        &mut self,
        r: &Recipe,
        version: &crate::version::ResolvedVersion,
        artifact: &str,
        snapshot: &Snapshot,
        selection: &crate::source::Selection<'_>,
    ) -> Result<(), BuildError> {
        let canonical = crate::stamp::rule::spellings(&version.canonical);
        let v = surface::names::VersionNames {
            artifact,
            canonical: &canonical,
        };
        let mut read = |rel: &str| {
            let path = match selection.base.as_str() {
                "" => rel.to_string(),
                base => format!("{base}/{rel}"),
            };
            let f = selection.files.iter().find(|f| f.path == path)?;
            // Unreadable here means unknown until built, not an error.
            snapshot.read(f).ok().flatten()
        };
        let Some(names) = surface::predict(r, &v, &mut read)? else {
            return Ok(());
        };
        for p in names {
            let name = &p.name;
            for n in [name.clone(), format!("{name}.intoto.json")] {
                if RESERVED_DIST_NAMES.contains(&n.as_str()) {
                    return Err(BuildError::ReservedName {
                        name: n,
                        recipe: r.id.clone(),
                    });
                }
                crate::name::check_portable(&n).map_err(|source| {
                    crate::recipe::RecipeError::ArtifactName {
                        file: r.file.clone(),
                        line: p
                            .key
                            .and_then(|k| crate::recipe::project::key_line(&r.text, k)),
                        from: p.from.clone(),
                        name: n.clone(),
                        source,
                    }
                })?;
                if let Some(first) = self.0.insert(n.clone(), r.id.clone()) {
                    if first != r.id {
                        return Err(BuildError::ArtifactClash {
                            name: n,
                            first,
                            second: r.id.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}
