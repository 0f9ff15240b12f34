//! The strings of an image's run settings (`config` of the image
//! configuration), checked against what container runtimes accept — the
//! recipe's `[oci]` values at planning time ([`super::plan::check`]) and a
//! base image's own settings when its layout is opened ([`super::base`]).
//!
//! | setting | accepted |
//! |---|---|
//! | label key | non-empty, no control character |
//! | env name | non-empty, no `=`, no NUL |
//! | env value, entrypoint / cmd argument | no NUL |
//! | user | `user`, `uid`, `user:group` or `uid:gid`; no space or control character |
//! | working dir, volume | absolute, no NUL |
//! | exposed port | `PORT/tcp`, `PORT/udp`, `PORT/sctp` (`PORT` = tcp), 1 ≤ PORT ≤ 65535 |
//! | stop signal | `SIGTERM`-style name (`SIGRTMIN+3`) or a number 1–64 |

use super::json::RunConfig;

/// Why a setting is refused.
pub(crate) type Refusal = &'static str;

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A label (or annotation) key.
pub(crate) fn label_key(k: &str) -> Result<(), Refusal> {
    if k.is_empty() {
        return Err("a label key is empty");
    }
    if has_control(k) {
        return Err("a label key holds a control character");
    }
    Ok(())
}

/// A label value: any text but NUL (runtimes pass it as a C string).
pub(crate) fn label_value(v: &str) -> Result<(), Refusal> {
    no_nul(v)
}

/// An environment variable name.
pub(crate) fn env_key(k: &str) -> Result<(), Refusal> {
    if k.is_empty() {
        return Err("an environment variable name is empty");
    }
    if k.contains('=') {
        return Err("an environment variable name holds `=`");
    }
    if k.contains('\0') {
        return Err("an environment variable name holds NUL");
    }
    Ok(())
}

/// An environment value, an entrypoint or cmd argument.
pub(crate) fn no_nul(v: &str) -> Result<(), Refusal> {
    if v.contains('\0') {
        return Err("holds NUL (a process argument or environment entry ends there)");
    }
    Ok(())
}

/// `user`, `uid`, `user:group` or `uid:gid` (empty: the image's default).
pub(crate) fn user(u: &str) -> Result<(), Refusal> {
    if u.is_empty() {
        return Ok(());
    }
    let (name, group) = match u.split_once(':') {
        Some((n, g)) => (n, Some(g)),
        None => (u, None),
    };
    let part_ok = |p: &str| {
        !p.is_empty() && !p.contains(':') && !p.chars().any(|c| c.is_control() || c.is_whitespace())
    };
    if part_ok(name) && group.is_none_or(part_ok) {
        Ok(())
    } else {
        Err("expected user, uid, user:group or uid:gid (no space, control character or further `:`)")
    }
}

/// An absolute path in the image (working dir, volume).
pub(crate) fn absolute(p: &str) -> Result<(), Refusal> {
    if !p.starts_with('/') {
        return Err("must be an absolute path in the image");
    }
    if p.contains('\0') {
        return Err("holds NUL");
    }
    Ok(())
}

/// `PORT[/tcp|udp|sctp]` in its canonical spelling `PORT/proto`.
pub(crate) fn port(p: &str) -> Result<String, Refusal> {
    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let ok = num.bytes().all(|b| b.is_ascii_digit())
        && num.parse::<u16>().is_ok_and(|n| n > 0)
        && matches!(proto, "tcp" | "udp" | "sctp");
    if ok {
        Ok(format!("{num}/{proto}"))
    } else {
        Err("expected PORT[/tcp|udp|sctp] with 1 ≤ PORT ≤ 65535")
    }
}

/// A stop signal: a signal name (`SIGTERM`, `TERM`, `SIGRTMIN+3`) or number.
pub(crate) fn stop_signal(s: &str) -> Result<(), Refusal> {
    if s.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n)) {
        return Ok(());
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    let ok = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-'));
    if ok {
        Ok(())
    } else {
        Err("expected a signal name (SIGTERM) or number")
    }
}

/// One refused setting of a whole run configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadSetting {
    /// The configuration key (`Env`, `Labels`, …).
    pub key: &'static str,
    pub value: String,
    pub reason: Refusal,
}

fn each<'a>(
    key: &'static str,
    values: impl IntoIterator<Item = &'a String>,
    check: impl Fn(&str) -> Result<(), Refusal>,
) -> Result<(), BadSetting> {
    for v in values {
        check(v).map_err(|reason| BadSetting {
            key,
            value: v.clone(),
            reason,
        })?;
    }
    Ok(())
}

fn env_entry(e: &str) -> Result<(), Refusal> {
    let (k, v) = e
        .split_once('=')
        .ok_or("an environment entry is not NAME=VALUE")?;
    env_key(k)?;
    no_nul(v)
}

/// Check every setting of a run configuration (a base image's): the same
/// rules as the recipe's keys. Empty `User` and `WorkingDir` mean the
/// defaults and are accepted.
pub(crate) fn check_run_config(c: &RunConfig) -> Result<(), BadSetting> {
    each("User", &c.user, user)?;
    each("Env", &c.env, env_entry)?;
    each("Entrypoint", c.entrypoint.iter().flatten(), no_nul)?;
    each("Cmd", c.cmd.iter().flatten(), no_nul)?;
    each(
        "WorkingDir",
        c.working_dir.iter().filter(|w| !w.is_empty()),
        absolute,
    )?;
    each("Labels", c.labels.keys(), label_key)?;
    each("Labels", c.labels.values(), label_value)?;
    each("ExposedPorts", c.exposed_ports.keys(), |p| {
        port(p).map(drop)
    })?;
    if let Some(v) = c.extra.get("Volumes").and_then(|v| v.as_object()) {
        let keys: Vec<String> = v.keys().cloned().collect();
        each("Volumes", &keys, absolute)?;
    }
    if let Some(s) = c.extra.get("StopSignal") {
        let s = s
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| s.to_string());
        each("StopSignal", [&s], stop_signal)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_rules() {
        assert!(label_key("org.example.a").is_ok());
        assert!(label_key("a\nb").is_err() && label_key("").is_err());
        assert!(env_key("A=B").is_err() && env_key("A\0").is_err() && env_key("").is_err());
        for ok in ["", "0", "0:0", "app", "app:staff", "1000:1000"] {
            assert_eq!(user(ok), Ok(()), "{ok}");
        }
        for bad in ["a\0b", "a\nb", "a:b:c", ":0", "0:", "a b"] {
            assert!(user(bad).is_err(), "{bad:?}");
        }
        assert!(absolute("/data").is_ok() && absolute("data").is_err());
        assert!(absolute("/a\0").is_err());
        assert_eq!(port("80").as_deref(), Ok("80/tcp"));
        assert!(port("+80/tcp").is_err() && port("0").is_err() && port("80/icmp").is_err());
        for ok in ["SIGTERM", "TERM", "SIGRTMIN+3", "9"] {
            assert_eq!(stop_signal(ok), Ok(()), "{ok}");
        }
        for bad in ["sigterm", "SIG", "", "0", "SIGTERM\n"] {
            assert!(stop_signal(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_run_config_names_the_bad_setting() {
        let c: RunConfig =
            serde_json::from_str(r#"{"Env":["A=1","B"],"StopSignal":"SIGTERM"}"#).unwrap();
        assert_eq!(check_run_config(&c).unwrap_err().key, "Env");
        let c: RunConfig = serde_json::from_str(r#"{"Volumes":{"data":{}}}"#).unwrap();
        assert_eq!(check_run_config(&c).unwrap_err().value, "data");
        let c: RunConfig = serde_json::from_str(r#"{"User":"","WorkingDir":""}"#).unwrap();
        assert_eq!(check_run_config(&c), Ok(()));
    }
}
