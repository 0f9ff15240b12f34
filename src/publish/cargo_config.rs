//! A cargo registry as cargo's own configuration names it: its index from
//! `--registry NAME=URL`, `CARGO_REGISTRIES_<NAME>_INDEX` or the user's
//! `$CARGO_HOME/config.toml` (`[registries.NAME] index`; `crates-io` is
//! crates.io's sparse index), its token from `CARGO_REGISTRIES_<NAME>_TOKEN`
//! (`CARGO_REGISTRY_TOKEN` for crates-io) or `$CARGO_HOME/credentials.toml`
//! (`[registries.NAME] token`, `[registry] token`). A repository's own
//! `.cargo/config.toml` is never read: which registry and token a release
//! goes to is the publisher's word, not the repository's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::cargo_index::CRATES_IO_SPARSE;
use super::error::PublishError;
use super::model::{Auth, Kind, Registry, Secret};

/// What the environment says about cargo.
#[derive(Debug)]
pub(super) struct CargoEnv<'a> {
    /// cargo's home: `CARGO_HOME`, else `~/.cargo`.
    pub home: Option<PathBuf>,
    /// `CARGO_REGISTRIES_*` and `CARGO_REGISTRY_TOKEN`, by name.
    pub vars: &'a BTreeMap<String, Secret>,
}

/// The registry `name`'s `key` (`index`, `token`) in one of cargo's TOML
/// files below its home (`file`, else its legacy name without `.toml`,
/// which cargo prefers when both exist).
fn from_file(
    home: &Path,
    file: &str,
    name: &str,
    key: &str,
) -> Result<Option<(String, PathBuf)>, PublishError> {
    let legacy = home.join(file.trim_end_matches(".toml"));
    let path = if legacy.is_file() {
        legacy
    } else {
        home.join(file)
    };
    let text = match crate::fsutil::read_regular_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(PublishError::Io { path, source }),
    };
    let bad = |k: &str, reason: &str| PublishError::Config {
        file: path.clone(),
        key: k.to_string(),
        reason: reason.to_string(),
    };
    let doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| bad("(file)", e.message()))?;
    let (table_key, item) = if name == "crates-io" && key == "token" {
        (
            "registry".to_string(),
            doc.get("registry").and_then(|r| r.get(key)),
        )
    } else {
        (
            format!("registries.{name}"),
            doc.get("registries")
                .and_then(|r| r.get(name))
                .and_then(|r| r.get(key)),
        )
    };
    match item {
        None => Ok(None),
        Some(v) => match v.as_str() {
            Some(s) => Ok(Some((s.to_string(), path.clone()))),
            None => Err(bad(&format!("{table_key}.{key}"), "expected a string")),
        },
    }
}

/// The cargo registry `name`.
pub(super) fn registry(
    name: &str,
    overrides: &[(String, String)],
    env: &CargoEnv<'_>,
    recipe: &str,
) -> Result<Registry, PublishError> {
    let var = name.to_ascii_uppercase().replace(['-', '.'], "_");
    let home = &env.home;
    let in_home = |file: &str, key: &str| match &home {
        Some(h) => from_file(h, file, name, key),
        None => Ok(None),
    };
    let (index, configured_by) = if let Some((_, u)) = overrides.iter().find(|(n, _)| n == name) {
        (u.clone(), "--registry".to_string())
    } else if let Some(u) = env.vars.get(&format!("CARGO_REGISTRIES_{var}_INDEX")) {
        (
            u.expose().to_string(),
            format!("CARGO_REGISTRIES_{var}_INDEX"),
        )
    } else if let Some((u, _)) = in_home("config.toml", "index")? {
        (u, "$CARGO_HOME/config.toml".to_string())
    } else if name == "crates-io" {
        (CRATES_IO_SPARSE.to_string(), "default".to_string())
    } else {
        return Err(PublishError::UnknownRegistry {
            recipe: recipe.to_string(),
            registry: name.to_string(),
            hint: "give --registry NAME=URL of its index, CARGO_REGISTRIES_<NAME>_INDEX, or `index` in [registries.NAME] of $CARGO_HOME/config.toml".into(),
        });
    };
    if has_password(&index) {
        return Err(PublishError::Config {
            file: PathBuf::from(&configured_by),
            key: format!("registries.{name}.index"),
            reason: "an http(s) index URL must not carry user information (the token goes in credentials.toml or CARGO_REGISTRIES_<NAME>_TOKEN)".into(),
        });
    }
    let token_var = if name == "crates-io" {
        "CARGO_REGISTRY_TOKEN".to_string()
    } else {
        format!("CARGO_REGISTRIES_{var}_TOKEN")
    };
    let token = match env.vars.get(&token_var) {
        Some(t) => Some(t.clone()),
        None => match in_home("credentials.toml", "token")? {
            Some((t, _)) => Some(Secret::new(t)),
            None => in_home("config.toml", "token")?.map(|(t, _)| Secret::new(t)),
        },
    };
    Ok(Registry {
        name: name.to_string(),
        kind: Kind::Cargo,
        url: index.clone(),
        index,
        configured_by,
        auth: token.map(Auth::Token),
    })
}

/// An http(s) URL with user information (printed, it would show a
/// credential); an `ssh://git@host/…` user name is not one.
fn has_password(url: &str) -> bool {
    let rest = url.strip_prefix("sparse+").unwrap_or(url);
    let Some(rest) = rest
        .strip_prefix("https://")
        .or_else(|| rest.strip_prefix("http://"))
    else {
        return false;
    };
    rest.split('/').next().unwrap_or_default().contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(home: &Path, vars: &'a BTreeMap<String, Secret>) -> CargoEnv<'a> {
        CargoEnv {
            home: Some(home.to_path_buf()),
            vars,
        }
    }

    #[test]
    fn index_and_token_come_from_cargo_home_and_the_environment() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        std::fs::write(
            home.join("config.toml"),
            "[registries.my-reg]\nindex = \"file:///srv/index\"\n",
        )
        .unwrap();
        std::fs::write(
            home.join("credentials.toml"),
            "[registries.my-reg]\ntoken = \"from-file\"\n[registry]\ntoken = \"cio\"\n",
        )
        .unwrap();
        let none = BTreeMap::new();
        let r = registry("my-reg", &[], &env(home, &none), "c").unwrap();
        assert_eq!(r.index, "file:///srv/index");
        assert!(matches!(&r.auth, Some(Auth::Token(t)) if t.expose() == "from-file"));
        assert!(!format!("{r:?}").contains("from-file"));

        let mut vars = BTreeMap::new();
        vars.insert(
            "CARGO_REGISTRIES_MY_REG_TOKEN".into(),
            Secret::new("from-env".into()),
        );
        vars.insert(
            "CARGO_REGISTRIES_MY_REG_INDEX".into(),
            Secret::new("sparse+http://127.0.0.1:1/".into()),
        );
        let r = registry("my-reg", &[], &env(home, &vars), "c").unwrap();
        assert_eq!(r.index, "sparse+http://127.0.0.1:1/");
        assert!(matches!(&r.auth, Some(Auth::Token(t)) if t.expose() == "from-env"));

        let r = registry("crates-io", &[], &env(home, &none), "c").unwrap();
        assert_eq!(r.index, CRATES_IO_SPARSE);
        assert!(matches!(&r.auth, Some(Auth::Token(t)) if t.expose() == "cio"));
        assert!(registry("other", &[], &env(home, &none), "c").is_err());
        vars.insert(
            "CARGO_REGISTRIES_MY_REG_INDEX".into(),
            Secret::new("https://me:hunter2@example.org/index".into()),
        );
        let e = registry("my-reg", &[], &env(home, &vars), "c").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!has_password("ssh://git@example.org/index"));
    }
}
