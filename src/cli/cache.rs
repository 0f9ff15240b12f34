//! `kiln cache`: keys, push and pull against a Nix binary cache
//! (`file:///dir` or `http(s)://host/path`).
use std::io::IsTerminal as _;
use std::path::PathBuf;

use super::context::{CliError, Context};
use std::sync::Arc;

use crate::cache::narinfo::Compression;
use crate::cache::signing::{PublicKey, SecretKey, TrustedKeys};
use crate::cache::substitute::CacheSubstituter;
use crate::cache::{self, keys, trust, Cache, CacheUrl, Progress, PullOptions, PushOptions};
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
    /// Recipes whose derivations to transfer (with their inputs), planned
    /// from the project like `kiln plan`. Default: every recipe, unless
    /// --path or --drv is given.
    #[command(flatten)]
    pub selection: super::selection::Selection,
    /// A store path to transfer as well (`/nix/store/<hash>-<name>` or `<hash>-<name>`); repeatable.
    #[arg(long = "path", value_name = "STORE_PATH")]
    pub paths: Vec<String>,
    /// A derivation hash whose realisation to transfer as well; repeatable.
    #[arg(long = "drv", value_name = "DRV")]
    pub drvs: Vec<String>,
    /// Parallel transfers.
    #[arg(short = 'j', long, default_value_t = 8, value_name = "N")]
    pub jobs: usize,
}

impl Transfer {
    /// Whether to plan the project's recipes: named ones, or all when
    /// nothing else was named.
    fn plans(&self) -> bool {
        !self.selection.recipes.is_empty() || (self.paths.is_empty() && self.drvs.is_empty())
    }
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
    /// trusted-public-keys` in ~/.config/kiln/config.toml.
    #[arg(
        long = "trusted-key",
        value_name = "KEY",
        env = "KILN_TRUSTED_PUBLIC_KEYS",
        value_delimiter = ' '
    )]
    pub trusted_keys: Vec<String>,
    /// Trust the keys the project's recipes/release.toml lists
    /// (`[cache] trusted-public-keys`) for this command.
    #[arg(long)]
    pub accept_repo_keys: bool,
    /// Accept entries no trusted key signed.
    #[arg(long)]
    pub trust_unsigned: bool,
}

pub(crate) fn run(cmd: Command, ctx: &Context) -> Result<u8, CliError> {
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

/// Whose keys a reader trusts, as the command line says.
struct Trust<'a> {
    /// `--trusted-key` and `KILN_TRUSTED_PUBLIC_KEYS`.
    flags: &'a [String],
    /// Our own signing key (`build --push`): its public half is trusted.
    own: Option<&'a SecretKey>,
    /// `--accept-repo-keys`.
    accept_repo_keys: bool,
    trust_unsigned: bool,
}

/// The user's keys (flags and environment, the public half of our own
/// signing key, the user's configuration file), and the project's
/// release.toml keys: trusted with --accept-repo-keys, else only proposed.
fn trusted_keys(
    t: &Trust<'_>,
    ctx: &Context,
) -> Result<(TrustedKeys, trust::RepoKeys, Option<PathBuf>), CliError> {
    let mut keys = TrustedKeys::default();
    if let Some(k) = t.own {
        keys.add(k.public());
    }
    for k in t.flags.iter().filter(|k| !k.trim().is_empty()) {
        keys.add(k.parse::<PublicKey>().map_err(|e| {
            CliError::bad_input(format!("--trusted-key / KILN_TRUSTED_PUBLIC_KEYS: {e}"))
        })?);
    }
    let config = trust::user_config_file();
    if let Some(file) = &config {
        for k in trust::user_keys(file)? {
            keys.add(k);
        }
    }
    let mut repo = match ctx.project_root() {
        Ok(root) => trust::release_toml_keys(&root)?,
        Err(_) => trust::RepoKeys::default(),
    };
    if t.accept_repo_keys {
        for k in std::mem::take(&mut repo.keys).keys() {
            keys.add(k.clone());
        }
    }
    Ok((keys, repo, config))
}

/// Pull options; without any key, trusted or proposed by the repository,
/// pulling needs --trust-unsigned.
fn pull_options(t: &Trust<'_>, jobs: usize, ctx: &Context) -> Result<PullOptions, CliError> {
    let (trusted, repo_keys, user_config) = trusted_keys(t, ctx)?;
    if trusted.is_empty() && repo_keys.keys.is_empty() && !t.trust_unsigned {
        return Err(CliError::bad_input(
            "no trusted public key: pass --trusted-key NAME:BASE64 (or set KILN_TRUSTED_PUBLIC_KEYS, or [cache] trusted-public-keys in ~/.config/kiln/config.toml), or --trust-unsigned",
        ));
    }
    if trusted.is_empty() && !t.trust_unsigned {
        eprintln!(
            "kiln: warning: {} lists cache keys, which kiln trusts only once you accept them (--accept-repo-keys, or [cache] trusted-public-keys in your own config); entries they sign will be skipped",
            repo_keys.file.display()
        );
    }
    Ok(PullOptions {
        trusted,
        repo_keys,
        user_config,
        trust_unsigned: t.trust_unsigned,
        jobs,
        ..PullOptions::default()
    })
}

/// How fast a cache must answer: the deadline `KILN_CACHE_DEADLINE_SECS`
/// sets, if any.
fn pace() -> Result<cache::Pace, CliError> {
    let deadline = std::env::var(cache::transport::DEADLINE_ENV).ok();
    Ok(cache::Pace::from_env_value(deadline.as_deref()).map_err(cache::CacheError::from)?)
}

/// The cache at `url`, opened for reading or (`create`) writing.
fn open_cache(url: &CacheUrl, create: bool, pace: cache::Pace) -> Result<Cache, cache::CacheError> {
    let transport = cache::Transport::new(url.clone()).with_pace(pace);
    if create {
        Cache::create_with(transport)
    } else {
        Cache::open_with(transport)
    }
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
    let plan_opts = if t.plans() {
        Some(super::selection::options(t.selection.clone(), ctx)?)
    } else {
        None
    };
    let store = Store::open(ctx.store_dir()?)?;
    let realisations = cache::select::realisations(&store, plan_opts.as_ref(), &t.drvs)?;
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
    let url = url(&t.url)?;
    let paths = parse_paths(&t.paths)?;
    let trust = Trust {
        flags: &a.trusted_keys,
        own: None,
        accept_repo_keys: a.accept_repo_keys,
        trust_unsigned: a.trust_unsigned,
    };
    let opts = pull_options(&trust, t.jobs, ctx)?;
    let plan_opts = if t.plans() {
        Some(super::selection::options(t.selection.clone(), ctx)?)
    } else {
        None
    };
    let store = Store::open(ctx.store_dir()?)?;
    let cache = open_cache(&url, false, pace()?)?;
    let bar = Bar::new("pull");
    let mut results = cache::pull::pull_realisations(&cache, &store, &t.drvs, &opts, &bar);
    results.extend(cache::pull::pull_paths(
        &cache, &store, &paths, &opts, &bar,
    )?);
    if let Some(plan_opts) = plan_opts {
        results.extend(cache::select::pull_planned(
            &cache, &store, &plan_opts, &opts, &bar,
        )?);
    }
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
            error: Box::new(super::Usage(format!(
                "{failed} entr{} refused or failed",
                if failed == 1 { "y" } else { "ies" }
            ))),
        });
    }
    Ok(0)
}

/// Where a command substitutes from, and whose signatures it trusts:
/// `kiln build --cache` and `kiln verify --cache`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CacheSource {
    /// Substitute from this binary cache (file:///dir or http(s)://…);
    /// entries must be signed by a trusted key.
    #[arg(long = "cache", value_name = "URL")]
    pub url: Option<String>,
    /// A trusted public key `NAME:BASE64`; repeatable (also
    /// KILN_TRUSTED_PUBLIC_KEYS and ~/.config/kiln/config.toml).
    #[arg(
        long = "trusted-key",
        value_name = "KEY",
        env = "KILN_TRUSTED_PUBLIC_KEYS",
        value_delimiter = ' '
    )]
    pub trusted_keys: Vec<String>,
    /// Trust the keys the project's recipes/release.toml lists
    /// (`[cache] trusted-public-keys`) for this command.
    #[arg(long, requires = "url")]
    pub accept_repo_keys: bool,
}

/// `kiln build --cache URL [--push]`.
#[derive(Debug, Default, clap::Args)]
pub struct BuildCache {
    #[command(flatten)]
    pub source: CacheSource,
    /// After the build, push what it produced to the --cache, signed with --signing-key.
    #[arg(long, requires = "url")]
    pub push: bool,
    /// Secret key file that signs what --push uploads; its public half is trusted.
    #[arg(long, env = "KILN_SIGNING_KEY_FILE", value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Accept cache entries no trusted key signed.
    #[arg(long, requires = "url")]
    pub trust_unsigned: bool,
}

/// The cache of one `kiln build`, once opened.
#[derive(Debug, Default)]
pub struct BuildCacheSession {
    substituter: Option<Arc<CacheSubstituter>>,
    push: Option<(CacheUrl, PushOptions)>,
}

impl BuildCache {
    /// Check the flags and open the cache. A cache that cannot be reached is
    /// a warning: the build goes on without it.
    pub fn open(&self, ctx: &Context) -> Result<BuildCacheSession, CliError> {
        let Some(url_text) = &self.source.url else {
            return Ok(BuildCacheSession::default());
        };
        let url = url(url_text)?;
        let key = match (&self.signing_key, self.push) {
            (Some(f), true) => Some(keys::read_secret_key(f)?),
            (None, true) => {
                return Err(CliError::bad_input(
                    "kiln build --push needs --signing-key FILE (or KILN_SIGNING_KEY_FILE)",
                ))
            }
            _ => None,
        };
        let trust = Trust {
            flags: &self.source.trusted_keys,
            own: key.as_ref(),
            accept_repo_keys: self.source.accept_repo_keys,
            trust_unsigned: self.trust_unsigned,
        };
        let opts = pull_options(&trust, 8, ctx)?;
        let pace = pace()?;
        // With --push, an empty cache is initialised rather than reported.
        let opened = open_cache(&url, key.is_some(), pace);
        let substituter = match opened {
            Ok(cache) => Some(Arc::new(CacheSubstituter::new(cache, opts))),
            Err(e) => {
                eprintln!(
                    "kiln: warning: not substituting from {url}: {}; building locally",
                    crate::error::chain(&e)
                );
                None
            }
        };
        let push = key.map(|key| {
            (
                url,
                PushOptions {
                    key: Some(key),
                    ..PushOptions::default()
                },
            )
        });
        Ok(BuildCacheSession { substituter, push })
    }
}

impl BuildCacheSession {
    pub fn substituter(&self) -> Option<Arc<dyn crate::engine::Substituter>> {
        self.substituter
            .clone()
            .map(|s| s as Arc<dyn crate::engine::Substituter>)
    }

    /// With --push: upload every derivation the build produced or used.
    pub fn push_after(&self, report: &crate::engine::BuildReport) -> Result<(), CliError> {
        let Some((url, opts)) = &self.push else {
            return Ok(());
        };
        let realisations: Vec<_> = report
            .recipes
            .iter()
            .map(|r| r.realisation.clone())
            .collect();
        let cache = Cache::create(url)?;
        let results = cache::push::push(
            &cache,
            &report.store,
            &[],
            &realisations,
            opts,
            &cache::Quiet,
        )?;
        let mut failed = 0;
        let mut pushed = 0;
        for (what, r) in results {
            match r {
                Ok(cache::PushOutcome::Uploaded { .. }) => pushed += 1,
                Ok(cache::PushOutcome::Present) => {}
                Err(e) => {
                    failed += 1;
                    eprintln!("kiln: error: push {what}: {}", crate::error::chain(&e));
                }
            }
        }
        if failed > 0 {
            return Err(CliError::internal(format!(
                "{failed} entries could not be pushed to {url}"
            )));
        }
        eprintln!("pushed {pushed} entries to {url}");
        Ok(())
    }
}
