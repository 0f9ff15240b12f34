//! The `command` surface: the facts of a command recipe and its build from
//! a prepared workspace (the sandboxed run of [`super::build`]).

use crate::recipe::schema::CommandSection;
use crate::recipe::{Recipe, RecipeError};
use crate::surface::kind::{Publication, Runs, SurfaceKind};
use crate::surface::names::{self, Predicted, Read, VersionNames};
use crate::surface::{failed_or, ws_rel, Artifact, Job, Output, SurfaceError};

/// The `command` surface over its `[command]` table.
#[derive(Debug, Clone, Copy)]
pub struct Command<'a>(pub &'a CommandSection);

impl SurfaceKind for Command<'_> {
    fn publication(&self) -> Publication {
        Publication::None
    }

    fn runs(&self) -> Runs {
        Runs::Tools(self.0.tools.clone())
    }

    fn predict(
        &self,
        r: &Recipe,
        _: &VersionNames<'_>,
        _: &mut Read<'_>,
    ) -> Result<Option<Vec<Predicted>>, RecipeError> {
        Ok(names::own(r, vec![r.store_name()]))
    }

    fn build(&self, job: &Job<'_>) -> Result<Output, SurfaceError> {
        build(job, self.0)
    }
}

fn build(job: &Job<'_>, c: &CommandSection) -> Result<Output, SurfaceError> {
    use crate::sandbox::{self, RoInput};
    let r = job.recipe;
    let argv = c
        .argv
        .iter()
        .enumerate()
        .map(|(i, a)| r.render(&format!("command.argv[{i}]"), a, job.version))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env = std::collections::BTreeMap::new();
    let mut ro_inputs: Vec<RoInput> = Vec::new();
    for name in &c.host_inputs {
        match name.as_str() {
            "cargo-registry" => {
                if let Some(home) = job.host_inputs.get(name) {
                    ro_inputs.extend(sandbox::cargo_registry_inputs(home));
                }
                env.extend(sandbox::cargo_env());
                env.insert(
                    "RUSTFLAGS".to_string(),
                    sandbox::REMAP_RUSTFLAGS.to_string(),
                );
            }
            other => unreachable!("recipe validation rejects host input {other}"),
        }
    }
    for (k, v) in &c.env {
        let v = r.render(&format!("command.env.{k}"), v, job.version)?;
        match env.get_mut(k) {
            Some(existing) if k == "RUSTFLAGS" => {
                existing.push(' ');
                existing.push_str(&v);
            }
            _ => {
                env.insert(k.clone(), v);
            }
        }
    }
    let spec = super::CommandSpec {
        argv,
        tools: job.tools.to_vec(),
        outputs: c.outputs.clone(),
        ro_inputs,
        env,
        source_date_epoch: job.source_date_epoch.max(0) as u64,
        mode: job.sandbox,
        limits: c.limits.limits(),
    };
    let name = r.store_name();
    let staging = job.out.join(&name);
    std::fs::create_dir_all(&staging).map_err(|source| SurfaceError::Io {
        path: staging.clone(),
        source,
    })?;
    super::build(job.workspace, &ws_rel(job), &spec, &staging, job.log).map_err(|e| match e {
        super::CommandError::Sandbox(s) => failed_or(s),
        other => SurfaceError::Command(other),
    })?;
    let nar = crate::hash::tree::nar_sha256(&staging).map_err(|source| SurfaceError::Hash {
        path: staging.clone(),
        source,
    })?;
    let origins = crate::surface::origins::command(&staging, &name, &c.argv)?;
    Ok(Output {
        path: staging,
        name: name.clone(),
        origins,
        artifacts: vec![Artifact {
            files: Default::default(),
            file: name,
            path: String::new(),
            sha256: nar.hash.to_hex(),
            size: nar.size,
            directory: true,
            facts: Default::default(),
        }],
    })
}
