//! Where each recipe is published and how to reach each registry: the
//! `[publish]` table of `recipes/release.toml` (recipe → registry names),
//! `--registry NAME=URL`, and each registry kind's native configuration
//! (PyPI: `~/.pypirc` and `TWINE_USERNAME`/`TWINE_PASSWORD`, as twine reads
//! them; cargo: [`super::cargo_config`]). Credentials become [`Secret`]s
//! here and are never printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::PublishError;
use super::model::{Auth, Kind, Registry, Secret};

/// What the environment says about registries, read once by the caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Environment {
    /// The home directory (`~/.pypirc`).
    pub home: Option<PathBuf>,
    /// `TWINE_USERNAME`, `TWINE_PASSWORD`.
    pub twine_username: Option<String>,
    pub twine_password: Option<Secret>,
    /// `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`, `DOCKER_CONFIG`: where
    /// containers' `auth.json` and docker's `config.json` are.
    pub registry_auth_file: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub docker_config: Option<PathBuf>,
    /// `NPM_CONFIG_USERCONFIG`: npm's user configuration (else `~/.npmrc`).
    pub npm_userconfig: Option<PathBuf>,
    /// `CARGO_HOME` (else `~/.cargo`): cargo's `config.toml` and
    /// `credentials.toml`.
    pub cargo_home: Option<PathBuf>,
    /// `CARGO_REGISTRIES_<NAME>_INDEX`, `CARGO_REGISTRIES_<NAME>_TOKEN` and
    /// `CARGO_REGISTRY_TOKEN`, by variable name.
    pub cargo_vars: BTreeMap<String, Secret>,
    /// Every environment variable, for the `${NAME}` that npm replaces in
    /// `.npmrc` values (`_authToken=${NPM_TOKEN}`).
    pub vars: BTreeMap<String, Secret>,
}

/// What `[publish]` of the release policy says.
#[derive(Debug, Clone, Default)]
pub(super) struct Policy {
    /// Each recipe's registry names.
    pub targets: BTreeMap<String, Vec<String>>,
    /// `rebuild = true`: the gate rebuilds every artifact in a fresh store
    /// and requires the same bytes (as `--rebuild` does).
    pub rebuild: bool,
}

/// `[publish]`: `recipe = "registry"` or `recipe = ["a", "b"]`, and
/// `rebuild = true|false` (a boolean is never a recipe's registries).
pub(super) fn policy(file: &Path, text: &str) -> Result<Policy, PublishError> {
    let bad = |key: &str, reason: &str| PublishError::Config {
        file: file.to_path_buf(),
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| bad("(file)", e.message()))?;
    let mut out = Policy::default();
    let Some(item) = doc.get("publish") else {
        return Ok(out);
    };
    let table = item
        .as_table_like()
        .ok_or_else(|| bad("publish", "expected a table"))?;
    for (recipe, v) in table.iter() {
        let key = format!("publish.{recipe}");
        if recipe == "rebuild" {
            let value = v.as_value().map_or("(a table)".to_string(), |x| {
                x.to_string().trim().to_string()
            });
            out.rebuild = v
                .as_bool()
                .ok_or_else(|| bad(&key, &format!("expected true or false, not {value}")))?;
            continue;
        }
        let names: Vec<String> = if let Some(s) = v.as_str() {
            vec![s.to_string()]
        } else if let Some(a) = v.as_array() {
            a.iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(&key, "expected registry names (strings)"))?
        } else {
            return Err(bad(&key, "expected a registry name or a list of them"));
        };
        for n in &names {
            check_name(n).map_err(|r| bad(&key, &r))?;
        }
        out.targets.insert(recipe.to_string(), names);
    }
    Ok(out)
}

/// A registry name: what `.pypirc` sections and `--registry` take.
fn check_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "registry name {} must be 1–64 of A–Z a–z 0–9 - _ .",
            crate::name::shown(n)
        ))
    }
}

/// `--registry NAME=URL`, checked: a name, and an http(s) URL without
/// user information (credentials come from the native configuration); a
/// cargo registry's URL is its index, `sparse+https://…` for a sparse one.
pub(crate) fn parse_override(arg: &str) -> Result<(String, String), PublishError> {
    let bad = |reason: &str| PublishError::RegistryArg {
        arg: arg.split('@').next_back().unwrap_or_default().to_string(),
        reason: reason.to_string(),
    };
    let (name, url) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=URL"))?;
    check_name(name).map_err(|r| bad(&r))?;
    let rest = url.strip_prefix("sparse+").unwrap_or(url);
    let rest = rest
        .strip_prefix("http://")
        .or_else(|| rest.strip_prefix("https://"))
        .ok_or_else(|| bad("the URL must start with http:// or https://"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad(
            "the URL must not carry credentials (they come from the registry kind's own configuration)",
        ));
    }
    if authority.is_empty() {
        return Err(bad("the URL has no host"));
    }
    Ok((name.to_string(), url.to_string()))
}

/// The registry `name` of `kind`: its URL from `--registry`, else the
/// native configuration, else the public default of that name.
pub(super) fn registry(
    name: &str,
    kind: Kind,
    overrides: &[(String, String)],
    env: &Environment,
    recipe: &str,
) -> Result<Registry, PublishError> {
    match kind {
        Kind::Pypi => pypi_registry(name, overrides, env, recipe),
        Kind::Oci => oci_registry(name, overrides, env, recipe),
        Kind::Npm => npm_registry(name, overrides, env, recipe),
        Kind::Cargo => {
            let cargo = super::cargo_config::CargoEnv {
                home: env
                    .cargo_home
                    .clone()
                    .or_else(|| env.home.as_ref().map(|h| h.join(".cargo"))),
                vars: &env.cargo_vars,
            };
            super::cargo_config::registry(name, overrides, &cargo, recipe)
        }
    }
}

fn pypi_registry(
    name: &str,
    overrides: &[(String, String)],
    env: &Environment,
    recipe: &str,
) -> Result<Registry, PublishError> {
    let rc_file = env.home.as_ref().map(|h| h.join(".pypirc"));
    let rc = match &rc_file {
        Some(f) => read_ini(f)?,
        None => BTreeMap::new(),
    };
    let section = rc.get(name);
    let field = |k: &str| section.and_then(|s| s.get(k)).cloned();
    let (url, configured_by) = if let Some((_, u)) = overrides.iter().find(|(n, _)| n == name) {
        (u.clone(), "--registry".to_string())
    } else if let Some(u) = field("repository") {
        (u, "~/.pypirc".to_string())
    } else {
        let default = match name {
            "pypi" => "https://upload.pypi.org/legacy/",
            "testpypi" => "https://test.pypi.org/legacy/",
            _ => {
                return Err(PublishError::UnknownRegistry {
                    recipe: recipe.to_string(),
                    registry: name.to_string(),
                    hint: "give --registry NAME=URL or a `repository` in its ~/.pypirc section"
                        .into(),
                })
            }
        };
        (default.to_string(), "default".to_string())
    };
    let username = env.twine_username.clone().or_else(|| field("username"));
    let password = env
        .twine_password
        .clone()
        .or_else(|| field("password").map(Secret::new));
    let auth = password.map(|password| Auth::Basic {
        username: username.unwrap_or_else(|| "__token__".into()),
        password,
    });
    Ok(Registry {
        name: name.to_string(),
        kind: Kind::Pypi,
        index: pypi_index(&url),
        url,
        configured_by,
        auth,
    })
}

/// An npm registry: `--registry NAME=URL`, else for `npm` the `registry`
/// of the user's `.npmrc` (default `https://registry.npmjs.org/`), else
/// `NAME` is the registry's host; the token is the `.npmrc` line
/// `//HOST[:PORT]/PATH/:_authToken=TOKEN` for that URL.
fn npm_registry(
    name: &str,
    overrides: &[(String, String)],
    env: &Environment,
    recipe: &str,
) -> Result<Registry, PublishError> {
    let rc_file = env
        .npm_userconfig
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".npmrc")));
    let rc: BTreeMap<String, String> = match &rc_file {
        Some(f) => read_ini(f)?
            .remove("")
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let v = npm_env_replace(&v, |n| env.vars.get(n).map(|s| s.expose().to_string()));
                (k, v)
            })
            .collect(),
        None => BTreeMap::new(),
    };
    let (url, configured_by) = if let Some((_, u)) = overrides.iter().find(|(n, _)| n == name) {
        (u.clone(), "--registry".to_string())
    } else if name == "npm" {
        match rc.get("registry") {
            Some(u) => (u.clone(), "~/.npmrc".to_string()),
            None => (
                "https://registry.npmjs.org/".to_string(),
                "default".to_string(),
            ),
        }
    } else if looks_like_host(name) {
        (format!("https://{name}/"), "its host name".to_string())
    } else {
        return Err(PublishError::UnknownRegistry {
            recipe: recipe.to_string(),
            registry: name.to_string(),
            hint: "give --registry NAME=URL, name the registry by its host, or use `npm` (~/.npmrc's registry)".into(),
        });
    };
    let url = format!("{}/", url.trim_end_matches('/'));
    let nerf = format!(
        "//{}",
        url.split_once("://").map_or(url.as_str(), |(_, r)| r)
    );
    let auth = rc
        .get(&format!("{nerf}:_authtoken"))
        .map(|t| Auth::Bearer(Secret::new(t.clone())));
    Ok(Registry {
        name: name.to_string(),
        kind: Kind::Npm,
        index: url.clone(),
        url,
        configured_by,
        auth,
    })
}

/// An OCI registry: `--registry NAME=URL`, else `NAME` is the registry's
/// host (`ghcr.io`, `registry.example.org:5000`) reached over HTTPS;
/// credentials from the first `auth.json`/`config.json` naming that host.
fn oci_registry(
    name: &str,
    overrides: &[(String, String)],
    env: &Environment,
    recipe: &str,
) -> Result<Registry, PublishError> {
    let (url, configured_by) = if let Some((_, u)) = overrides.iter().find(|(n, _)| n == name) {
        (
            u.trim_end_matches('/').to_string(),
            "--registry".to_string(),
        )
    } else if looks_like_host(name) {
        (format!("https://{name}"), "its host name".to_string())
    } else {
        return Err(PublishError::UnknownRegistry {
            recipe: recipe.to_string(),
            registry: name.to_string(),
            hint: "give --registry NAME=URL, or name the registry by its host".into(),
        });
    };
    let host = url
        .split_once("://")
        .map_or(url.as_str(), |(_, r)| r)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let auth = oci_auth(&host, env)?;
    Ok(Registry {
        name: name.to_string(),
        kind: Kind::Oci,
        index: url.clone(),
        url,
        configured_by,
        auth,
    })
}

/// A registry host: `localhost`, or a name with a dot or a port.
fn looks_like_host(s: &str) -> bool {
    s == "localhost" || s.contains('.') || s.contains(':')
}

/// The repository on the target registry: the recipe's `[oci] repository`
/// without its own registry host (`example.org/team/app` → `team/app`).
pub(super) fn oci_repository(repository: &str) -> String {
    match repository.split_once('/') {
        Some((first, rest)) if looks_like_host(first) => rest.to_string(),
        _ => repository.to_string(),
    }
}

/// The credentials for `host` in the files containers and docker read,
/// in their order: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
/// `~/.config/containers/auth.json`, `$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`. Each holds `{"auths": {HOST: {"auth": base64(user:password)}}}`.
fn oci_auth(host: &str, env: &Environment) -> Result<Option<Auth>, PublishError> {
    let mut files = Vec::new();
    files.extend(env.registry_auth_file.clone());
    files.extend(
        env.xdg_runtime_dir
            .as_ref()
            .map(|d| d.join("containers/auth.json")),
    );
    files.extend(
        env.home
            .as_ref()
            .map(|h| h.join(".config/containers/auth.json")),
    );
    match &env.docker_config {
        Some(d) => files.push(d.join("config.json")),
        None => files.extend(env.home.as_ref().map(|h| h.join(".docker/config.json"))),
    }
    for file in files {
        let text = match crate::fsutil::read_regular_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(PublishError::Io { path: file, source }),
        };
        let bad = |reason: &str| PublishError::Config {
            file: file.clone(),
            key: format!("auths.{host}"),
            reason: reason.to_string(),
        };
        let doc: AuthFile = serde_json::from_str(&text).map_err(|_| bad("is not an auth file"))?;
        let Some(entry) = doc
            .auths
            .get(host)
            .or_else(|| doc.auths.get(&format!("https://{host}")))
        else {
            continue;
        };
        use base64::Engine as _;
        let pair = base64::engine::general_purpose::STANDARD
            .decode(entry.auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad("`auth` is not base64 of user:password"))?;
        let (user, password) = pair
            .split_once(':')
            .ok_or_else(|| bad("`auth` is not base64 of user:password"))?;
        return Ok(Some(Auth::Basic {
            username: user.to_string(),
            password: Secret::new(password.to_string()),
        }));
    }
    Ok(None)
}

#[derive(Debug, serde::Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(serde::Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: String,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthEntry(…)")
    }
}

/// The simple index that goes with an upload URL: pypi.org's for its
/// upload host, else `<url>/simple/` (pypiserver, devpi and most others).
fn pypi_index(url: &str) -> String {
    if url.starts_with("https://upload.pypi.org/") {
        return "https://pypi.org/simple/".into();
    }
    if url.starts_with("https://test.pypi.org/") {
        return "https://test.pypi.org/simple/".into();
    }
    format!("{}/simple/", url.trim_end_matches('/'))
}

/// An INI file as twine's configparser reads `~/.pypirc`: sections of
/// `key = value` (or `key: value`); comments start with `#` or `;`. A
/// missing file is empty.
fn read_ini(file: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>, PublishError> {
    let text = match crate::fsutil::read_regular_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(PublishError::Io {
                path: file.to_path_buf(),
                source,
            })
        }
    };
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            current = Some(s.trim().to_string());
            continue;
        }
        // Keys before any section (npm's `.npmrc`) are in section "".
        let section = current.clone().unwrap_or_default();
        let at = if current.is_none() {
            t.find('=')
        } else {
            t.find(['=', ':'])
        };
        if let Some(i) = at {
            let (k, v) = (t[..i].trim(), t[i + 1..].trim());
            out.entry(section)
                .or_default()
                .insert(k.to_lowercase(), v.to_string());
        }
    }
    Ok(out)
}

/// npm's `envReplace` (`@npmcli/config`): each `${NAME}` is the variable's
/// value, or stays as written when it is not set; `${NAME?}` is empty when
/// it is not set; a backslash before `$` escapes it (`\\${A}` is `${A}`)
/// and two are one backslash before the value.
fn npm_env_replace(s: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let (before, from) = rest.split_at(i);
        let after = &from[2..];
        let len = after.find(['$', '{', '}', '?']).unwrap_or(after.len());
        let (name, tail) = after.split_at(len);
        let optional = tail.starts_with('?');
        let close = if optional { &tail[1..] } else { tail };
        if name.is_empty() || !close.starts_with('}') {
            out.push_str(before);
            out.push_str("${");
            rest = after;
            continue;
        }
        let esc = before.len() - before.trim_end_matches('\\').len();
        out.push_str(&before[..before.len() - esc]);
        let written = &from[..2 + len + usize::from(optional) + 1];
        if esc % 2 == 1 {
            out.push_str(&"\\".repeat((esc - 1) / 2));
            out.push_str(written);
        } else {
            out.push_str(&"\\".repeat(esc / 2));
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None if optional => {}
                None => out.push_str(written),
            }
        }
        rest = &close[1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npmrc_variables_are_replaced_as_npm_replaces_them() {
        let env = |n: &str| (n == "TOKEN").then(|| "t0k".to_string());
        for (written, want) in [
            ("//r/:_authToken=${TOKEN}", "//r/:_authToken=t0k"),
            ("${UNSET}", "${UNSET}"),
            ("a${UNSET?}b", "ab"),
            ("${TOKEN?}", "t0k"),
            ("\\${TOKEN}", "${TOKEN}"),
            ("\\\\${TOKEN}", "\\t0k"),
            ("\\\\\\${TOKEN}", "\\${TOKEN}"),
            ("${}${TOKEN}", "${}t0k"),
            ("${TO KEN", "${TO KEN"),
            ("x${TOKEN}y${TOKEN}", "xt0kyt0k"),
        ] {
            assert_eq!(npm_env_replace(written, env), want, "{written}");
        }
    }

    #[test]
    fn targets_take_a_name_or_a_list() {
        let p = policy(
            Path::new("release.toml"),
            "[publish]\nwheel = \"pypi\"\nsdist = [\"pypi\", \"mirror\"]\n",
        )
        .unwrap();
        assert_eq!(p.targets["wheel"], vec!["pypi"]);
        assert_eq!(p.targets["sdist"], vec!["pypi", "mirror"]);
        assert!(!p.rebuild);
        assert!(policy(Path::new("r"), "[publish]\nwheel = 3\n").is_err());
        assert!(policy(Path::new("r"), "[publish]\nwheel = \"a b\"\n").is_err());
        assert!(policy(Path::new("r"), "[publish]\nwheel = true\n").is_err());
        let e = policy(Path::new("r"), "[publish]\nrebuild = \"yes\"\n").unwrap_err();
        assert!(e.to_string().contains("publish.rebuild"), "{e}");
        assert!(e.to_string().contains("\"yes\""), "{e}");
    }

    #[test]
    fn rebuild_is_the_one_boolean_key() {
        let p = policy(
            Path::new("r"),
            "[publish]\nrebuild = true\nwheel = \"pypi\"\n",
        )
        .unwrap();
        assert!(p.rebuild);
        assert_eq!(p.targets.keys().collect::<Vec<_>>(), ["wheel"]);
    }

    #[test]
    fn a_registry_url_with_credentials_is_refused_without_echoing_them() {
        let e = parse_override("local=http://me:hunter2@127.0.0.1:1/").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(parse_override("local=ftp://x/").is_err());
        assert_eq!(
            parse_override("local=http://127.0.0.1:8080/").unwrap(),
            ("local".into(), "http://127.0.0.1:8080/".into())
        );
        for url in [
            "https://example.org/",
            "sparse+https://index.example.org/",
            "sparse+http://127.0.0.1:1/",
        ] {
            assert_eq!(parse_override(&format!("r={url}")).unwrap().1, url);
        }
        let e = parse_override("r=sparse+https://me:hunter2@example.org/").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn an_image_goes_to_its_repository_without_its_own_host() {
        assert_eq!(oci_repository("example.org/shape-node"), "shape-node");
        assert_eq!(oci_repository("localhost:5000/a/b"), "a/b");
        assert_eq!(oci_repository("team/app"), "team/app");
    }

    #[test]
    fn the_index_goes_with_the_upload_url() {
        assert_eq!(
            pypi_index("https://upload.pypi.org/legacy/"),
            "https://pypi.org/simple/"
        );
        assert_eq!(
            pypi_index("http://127.0.0.1:9/"),
            "http://127.0.0.1:9/simple/"
        );
    }
}
