//! The `crate` surface: the facts of a crate recipe and its build from a
//! prepared workspace (`cargo package` in the sandbox, [`super::build`]).

use crate::recipe::schema::CrateSection;
use crate::recipe::{Recipe, RecipeError};
use crate::stamp::build::OwnManifests;
use crate::surface::kind::{Publication, Runs, SurfaceKind};
use crate::surface::names::{self, Predicted, Read, VersionNames};
use crate::surface::{
    failed_or, ws_rel, Artifact, ArtifactFacts, CrateFacts, Job, Output, SurfaceError,
};

/// The `crate` surface over its `[crate]` table.
#[derive(Debug, Clone, Copy)]
pub struct Crate<'a>(pub &'a CrateSection);

impl SurfaceKind for Crate<'_> {
    fn publication(&self) -> Publication {
        Publication::Cargo
    }

    fn runs(&self) -> Runs {
        Runs::Tools(super::tools(self.0.verify()))
    }

    fn reads_git(&self) -> bool {
        true
    }

    fn own_manifests(&self) -> OwnManifests {
        OwnManifests::Cargo {
            packages: self.0.packages.clone(),
        }
    }

    fn predict(
        &self,
        _: &Recipe,
        v: &VersionNames<'_>,
        read: &mut Read<'_>,
    ) -> Result<Option<Vec<Predicted>>, RecipeError> {
        Ok(predicted(&self.0.packages, v, read))
    }

    fn build(&self, job: &Job<'_>) -> Result<Output, SurfaceError> {
        build(job, self.0)
    }
}

/// `name-version.crate` of every package `cargo package` makes here.
fn predicted(
    wanted: &[String],
    v: &VersionNames<'_>,
    read: &mut Read<'_>,
) -> Option<Vec<Predicted>> {
    let root = names::toml_at(read, "Cargo.toml")?;
    let ws = root.get("workspace");
    let ws_version = ws
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(|x| x.as_str())
        .map(str::to_string);
    let mut manifests = Vec::new();
    if root.get("package").is_some() {
        manifests.push(("Cargo.toml".to_string(), root.clone()));
    }
    if let Some(members) = ws.and_then(|w| w.get("members")).and_then(|m| m.as_array()) {
        for m in members {
            let m = m.as_str()?.trim_end_matches('/');
            if m.is_empty() || m.contains(['*', '?', '[']) {
                return None;
            }
            let path = format!("{m}/Cargo.toml");
            manifests.push((path.clone(), names::toml_at(read, &path)?));
        }
    }
    let mut out = Vec::new();
    for (path, m) in &manifests {
        let p = m.get("package")?;
        let name = p.get("name")?.as_str()?;
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        if p.get("publish").and_then(|x| x.as_bool()) == Some(false) {
            return None;
        }
        let own = match p.get("version") {
            Some(x) if x.get("workspace").and_then(|w| w.as_bool()) == Some(true) => {
                Some(ws_version.clone()?)
            }
            Some(x) => Some(x.as_str()?.to_string()),
            None => None,
        };
        let file = format!("{name}-{}.crate", names::version_of(v, own.as_deref()));
        out.push(names::from_manifest(file, path, "package.name", name));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Some(out)
}

fn build(job: &Job<'_>, section: &CrateSection) -> Result<Output, SurfaceError> {
    let r = job.recipe;
    let verify = section.verify();
    let host = section
        .host_inputs
        .clone()
        .unwrap_or_else(|| vec!["cargo-registry".to_string()]);
    let cargo_home = if host.iter().any(|h| h == "cargo-registry") {
        job.host_inputs.get("cargo-registry").cloned()
    } else {
        None
    };
    if let Some(git) = job.git {
        let src = job.workspace.join("src");
        crate::source::vcs::attach_commit(git.repo, git.commit, &src).map_err(|e| {
            SurfaceError::Io {
                path: src.clone(),
                source: std::io::Error::other(crate::error::chain(&e)),
            }
        })?;
    }
    let spec = super::CrateSpec {
        manifest_dir: ws_rel(job),
        verify,
        members: section.packages.clone(),
        tools: job.tools.to_vec(),
        cargo_home,
        source_date_epoch: job.source_date_epoch.max(0) as u64,
        mode: job.sandbox,
        limits: section.limits.limits(),
    };
    let name = format!(
        "{}-{}",
        r.store_name(),
        crate::nix::store_path::sanitize_name(job.version)
    );
    let staging = job.out.join(&name);
    std::fs::create_dir_all(&staging).map_err(|source| SurfaceError::Io {
        path: staging.clone(),
        source,
    })?;
    let crates = super::build(job.workspace, &spec, &staging, job.log).map_err(|e| match e {
        super::CrateError::Sandbox(s) => failed_or(s),
        other => SurfaceError::Crate(other),
    })?;
    let artifacts = crates
        .into_iter()
        .map(|c| Artifact {
            files: Default::default(),
            path: c.file_name.clone(),
            file: c.file_name,
            sha256: c.sha256,
            size: c.size,
            directory: false,
            facts: ArtifactFacts {
                crate_: Some(CrateFacts {
                    crate_name: c.name,
                    crate_version: c.version,
                }),
                ..Default::default()
            },
        })
        .collect::<Vec<_>>();
    let origins = crate::surface::origins::crates(job, &spec.manifest_dir, &staging, &artifacts)?;
    Ok(Output {
        path: staging,
        name,
        artifacts,
        origins,
    })
}
