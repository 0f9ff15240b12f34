//! `kiln publish`: arguments → `publish::PublishOptions` → one library
//! call → the plan and what happened, as lines or JSON.

use super::context::{CliError, Context};
use crate::name::shown;
use crate::publish::{self, Action, PublishOptions, Secret};

/// Upload the current release build's artifacts to each recipe's
/// registries (`[publish]` in recipes/release.toml).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recipes to publish; default: every recipe `[publish]` names.
    pub recipes: Vec<String>,
    /// Read this git revision instead of HEAD (it must carry the release tag).
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Print the plan (after every check of the release gate); upload nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where registry NAME is (overrides ~/.pypirc); repeatable.
    #[arg(long = "registry", value_name = "NAME=URL")]
    pub registries: Vec<String>,
    /// Print the plan and its outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<u8, CliError> {
    let registries = args
        .registries
        .iter()
        .map(|r| publish::parse_override(r))
        .collect::<Result<Vec<_>, _>>()?;
    let selection = super::selection::Selection {
        recipes: args.recipes,
        version: None,
        tag: None,
        rev: args.rev,
        dirty: false,
        sandbox: crate::sandbox::SandboxMode::Bubblewrap,
    };
    let opts = PublishOptions {
        build: super::selection::options(selection, ctx)?,
        dry_run: args.dry_run,
        registries,
        env: environment(),
    };
    let report = publish::publish(&opts)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serialises")
        );
        return Ok(0);
    }
    let verb = if report.dry_run {
        "would publish"
    } else {
        "published"
    };
    println!("{verb} {} (tag {})", report.version, shown(&report.tag));
    for s in &report.steps {
        let what = match (s.action, report.dry_run) {
            (Action::Upload, true) => "upload",
            (Action::Upload, false) => "not uploaded",
            (Action::Uploaded, _) => "uploaded",
            (Action::AlreadyPublished, _) => "already published",
        };
        println!(
            "{:18} {:12} {} {}",
            what,
            shown(&s.registry),
            shown(&s.item.file),
            &s.item.sha256[..16.min(s.item.sha256.len())]
        );
    }
    Ok(0)
}

/// The environment variables the native tools read for credentials.
pub(super) fn environment() -> publish::Environment {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    publish::Environment {
        home: std::env::var_os("HOME").map(std::path::PathBuf::from),
        twine_username: var("TWINE_USERNAME"),
        twine_password: var("TWINE_PASSWORD").map(Secret::new),
        registry_auth_file: var("REGISTRY_AUTH_FILE").map(std::path::PathBuf::from),
        xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(std::path::PathBuf::from),
        docker_config: var("DOCKER_CONFIG").map(std::path::PathBuf::from),
        npm_userconfig: var("NPM_CONFIG_USERCONFIG").map(std::path::PathBuf::from),
        cargo_home: var("CARGO_HOME").map(std::path::PathBuf::from),
        cargo_vars: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, v)| {
                !v.is_empty()
                    && (k == "CARGO_REGISTRY_TOKEN"
                        || (k.starts_with("CARGO_REGISTRIES_")
                            && (k.ends_with("_TOKEN") || k.ends_with("_INDEX"))))
            })
            .map(|(k, v)| (k, Secret::new(v)))
            .collect(),
    }
}
