//! `kiln cache`: keys, push and pull against a Nix binary cache
//! (`file:///dir` or `http(s)://host/path`).
use std::io::IsTerminal as _;
use std::path::PathBuf;

use super::{CliError, Context};
use crate::cache::{self, keys, trust, Cache, CacheUrl, Progress, PullOptions, PushOptions};
use crate::nix::narinfo::Compression;
use crate::nix::signing::{PublicKey, TrustedKeys};
use crate::nix::store_path::StorePath;
use crate::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate a signing key: PREFIX.secret and PREFIX.public, as
    /// `nix-store --generate-binary-cache-key NAME PREFIX.secret PREFIX.public` writes them.
    Keygen(KeygenArgs),
    /// Upload built outputs, their narinfos and realisations (signed) to a cache.
    Push(PushArgs),
    /// Download realisations and store paths from a cache, checked and signed
    /// by a trusted key; exit 1 naming every entry refused.
    Pull(PullArgs),
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Key name, e.g. `ci.example.org-1` (it prefixes every signature).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Write PREFIX.secret (mode 0600) and PREFIX.public; never overwrites.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
}

/// Options shared by push and pull.
#[derive(Debug, clap::Args)]
pub struct Transfer {
    /// Cache URL: file:///dir, http://host[:port]/path or https://….
    #[arg(value_name = "URL")]
    pub url: String,
    /// Only these recipes' realisations (default: every realisation in the store for push).
    #[arg(value_name = "RECIPE")]
    pub recipes: Vec<String>,
    /// A store path to transfer as well (`/nix/store/<hash>-<name>` or `<hash>-<name>`); repeatable.
    #[arg(long = "path", value_name = "STORE_PATH")]
    pub paths: Vec<String>,
    /// A derivation hash whose realisation to transfer; repeatable.
    #[arg(long = "drv", value_name = "DRV")]
    pub drvs: Vec<String>,
    /// Parallel transfers.
    #[arg(short = 'j', long, default_value_t = 8, value_name = "N")]
    pub jobs: usize,
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub transfer: Transfer,
    /// Secret key file that signs every narinfo and realisation.
    #[arg(long, env = "KILN_SIGNING_KEY_FILE", value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Push without signatures (readers must pass --trust-unsigned).
    #[arg(long, conflicts_with = "signing_key")]
    pub unsigned: bool,
    /// Compression of NAR files.
    #[arg(long, default_value = "zstd", value_parser = ["zstd", "xz", "none"])]
    pub compression: String,
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub transfer: Transfer,
    /// A trusted public key `NAME:BASE64`; repeatable. Also read from
    /// KILN_TRUSTED_PUBLIC_KEYS (space-separated) and `[cache]
    /// trusted-public-keys` in recipes/release.toml.
    #[arg(
        long = "trusted-key",
        value_name = "KEY",
        env = "KILN_TRUSTED_PUBLIC_KEYS",
        value_delimiter = ' '
    )]
    pub trusted_keys: Vec<String>,
    /// Accept entries no trusted key signed.
    #[arg(long)]
    pub trust_unsigned: bool,
}

pub fn run(cmd: Command, ctx: &Context) -> Result<u8, CliError> {
    match cmd {
        Command::Keygen(a) => keygen(a),
        Command::Push(a) => push(a, ctx),
        Command::Pull(a) => pull(a, ctx),
    }
}

fn keygen(a: KeygenArgs) -> Result<u8, CliError> {
    let (public, secret_file, public_file) = keys::keygen(&a.name, &a.out)?;
    eprintln!(
        "wrote {} (keep it secret) and {}",
        secret_file.display(),
        public_file.display()
    );
    println!("{public}");
    Ok(0)
}

/// The trusted keys: flags and environment, then the project's release.toml.
pub fn trusted_keys(flags: &[String], ctx: &Context) -> Result<TrustedKeys, CliError> {
    let mut keys = TrustedKeys::default();
    for k in flags.iter().filter(|k| !k.trim().is_empty()) {
        keys.add(k.parse::<PublicKey>().map_err(|e| {
            CliError::bad_input(format!("--trusted-key / KILN_TRUSTED_PUBLIC_KEYS: {e}"))
        })?);
    }
    if let Ok(root) = ctx.project_root() {
        for k in trust::release_toml_keys(&root)? {
            keys.add(k);
        }
    }
    Ok(keys)
}

fn parse_paths(paths: &[String]) -> Result<Vec<StorePath>, CliError> {
    paths
        .iter()
        .map(|p| {
            p.parse::<StorePath>()
                .map_err(|e| CliError::bad_input(format!("--path: {e}")))
        })
        .collect()
}

fn url(s: &str) -> Result<CacheUrl, CliError> {
    Ok(CacheUrl::parse(s).map_err(cache::CacheError::from)?)
}

/// A progress bar on a terminal, nothing otherwise.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(verb: &str) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_prefix(verb.to_string());
        Bar(Some(b))
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn begin(&self, total: usize) {
        if let Some(b) = &self.0 {
            b.set_length(total as u64);
        }
    }
    fn item_done(&self, what: &str, _bytes: u64) {
        if let Some(b) = &self.0 {
            b.set_message(what.to_string());
            b.inc(1);
        }
    }
}

fn push(a: PushArgs, ctx: &Context) -> Result<u8, CliError> {
    let t = &a.transfer;
    let key = match (&a.signing_key, a.unsigned) {
        (Some(f), _) => Some(keys::read_secret_key(f)?),
        (None, true) => None,
        (None, false) => {
            return Err(CliError::bad_input(
                "kiln cache push needs --signing-key FILE (or KILN_SIGNING_KEY_FILE; make one with `kiln cache keygen`), or --unsigned",
            ))
        }
    };
    let compression: Compression = a.compression.parse().unwrap_or(Compression::Zstd);
    let url = url(&t.url)?;
    let paths = parse_paths(&t.paths)?;
    let store = Store::open(ctx.store_dir()?)?;
    let mut realisations = Vec::new();
    let all = store.realisations()?;
    let select_all = t.recipes.is_empty() && t.paths.is_empty() && t.drvs.is_empty();
    for r in &all {
        let recipe = r.meta.get("recipe").and_then(|v| v.as_str()).unwrap_or("");
        if select_all || t.recipes.iter().any(|x| x == recipe) || t.drvs.contains(&r.drv) {
            realisations.push(r.clone());
        }
    }
    for recipe in &t.recipes {
        if !all
            .iter()
            .any(|r| r.meta.get("recipe").and_then(|v| v.as_str()) == Some(recipe))
        {
            return Err(CliError::bad_input(format!(
                "recipe {recipe:?}: nothing built in store {}; run `kiln build {recipe}` first",
                store.root().display()
            )));
        }
    }
    for drv in &t.drvs {
        if !all.iter().any(|r| &r.drv == drv) {
            return Err(CliError::bad_input(format!(
                "--drv {drv}: no realisation in store {}",
                store.root().display()
            )));
        }
    }
    let cache = Cache::create(&url)?;
    let bar = Bar::new("push");
    let opts = PushOptions {
        key,
        compression,
        jobs: t.jobs,
    };
    let results = cache::push::push(&cache, &store, &paths, &realisations, &opts, &bar)?;
    bar.finish();
    report(results.into_iter().map(|(w, r)| {
        (
            w,
            r.map(|o| match o {
                cache::PushOutcome::Uploaded { .. } => "pushed",
                cache::PushOutcome::Present => "present",
            }),
        )
    }))
}

fn pull(a: PullArgs, ctx: &Context) -> Result<u8, CliError> {
    let t = &a.transfer;
    if !t.recipes.is_empty() {
        return Err(CliError::bad_input(
            "kiln cache pull RECIPE: not available in this build; name derivations with --drv or store paths with --path, or use `kiln build --cache URL`",
        ));
    }
    if t.paths.is_empty() && t.drvs.is_empty() {
        return Err(CliError::bad_input(
            "kiln cache pull: name what to pull with --drv DRV or --path STORE_PATH",
        ));
    }
    let url = url(&t.url)?;
    let paths = parse_paths(&t.paths)?;
    let opts = PullOptions {
        trusted: trusted_keys(&a.trusted_keys, ctx)?,
        trust_unsigned: a.trust_unsigned,
        jobs: t.jobs,
        ..PullOptions::default()
    };
    if opts.trusted.is_empty() && !opts.trust_unsigned {
        return Err(CliError::bad_input(
            "no trusted public key: pass --trusted-key NAME:BASE64 (or set KILN_TRUSTED_PUBLIC_KEYS, or [cache] trusted-public-keys in recipes/release.toml), or --trust-unsigned",
        ));
    }
    let store = Store::open(ctx.store_dir()?)?;
    let cache = Cache::open(&url)?;
    let bar = Bar::new("pull");
    let mut results = cache::pull::pull_realisations(&cache, &store, &t.drvs, &opts, &bar);
    results.extend(cache::pull::pull_paths(
        &cache, &store, &paths, &opts, &bar,
    )?);
    bar.finish();
    report(results.into_iter().map(|(w, r)| {
        (
            w,
            r.map(|o| match o {
                cache::PullOutcome::Pulled { .. } => "pulled",
                cache::PullOutcome::Present => "present",
            }),
        )
    }))
}

/// Print one line per item; exit 1 when any failed.
fn report(
    results: impl Iterator<Item = (String, Result<&'static str, cache::CacheError>)>,
) -> Result<u8, CliError> {
    let mut failed = 0usize;
    let mut worst = crate::error::ErrorKind::CheckFailed;
    for (what, r) in results {
        match r {
            Ok(verb) => println!("{verb} {what}"),
            Err(e) => {
                failed += 1;
                if crate::error::Classify::kind(&e) == crate::error::ErrorKind::Internal {
                    worst = crate::error::ErrorKind::Internal;
                }
                eprintln!("kiln: error: {}", crate::error::chain(&e));
            }
        }
    }
    if failed > 0 {
        return Err(CliError {
            kind: worst,
            message: format!(
                "{failed} entr{} refused or failed",
                if failed == 1 { "y" } else { "ies" }
            ),
        });
    }
    Ok(0)
}
