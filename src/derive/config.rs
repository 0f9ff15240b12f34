//! A derivation's `config`: the recipe's settings as written, and the facts
//! kiln adds to them ([`Config`]). It is one JSON object in the derivation
//! and in its provenance statement:
//!
//! ```text
//! "config": {"crate": {"verify": true}, "source": {…}, "vcs_commit": "4b825dc…"}
//! ```

use serde_json::{Map, Value};

/// The recipe's settings and what kiln adds to them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// The recipe's table as written (its schema serialised), minus its
    /// identity (`name`, `matrix`: the derivation carries them) and minus
    /// unset keys, so that a kiln which knows more recipe keys gives
    /// existing recipes the same cache keys.
    pub settings: Map<String, Value>,
    /// The commit a crate is packed from (`cargo publish` records it in
    /// `.cargo_vcs_info.json`): only for a crate recipe of a project that is
    /// its repository's root, built from a commit.
    pub vcs_commit: Option<String>,
}

impl Config {
    /// The recipe's settings: `settings` serialised as JSON (an object),
    /// its identity and its unset keys left out.
    pub fn of_recipe<T: serde::Serialize>(settings: &T, vcs_commit: Option<&str>) -> Config {
        let mut settings = match serde_json::to_value(settings) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        settings.remove("name");
        settings.remove("matrix");
        settings.values_mut().for_each(drop_nulls);
        settings.retain(|_, x| !x.is_null());
        Config {
            settings,
            vcs_commit: vcs_commit.map(str::to_string),
        }
    }

    /// The `config` member of the derivation: the settings, then the facts
    /// kiln adds.
    pub fn to_value(&self) -> Value {
        let mut m = self.settings.clone();
        if let Some(commit) = &self.vcs_commit {
            m.insert("vcs_commit".into(), Value::String(commit.clone()));
        }
        Value::Object(m)
    }
}

/// Remove object members whose value is `null`, at every depth.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
