//! poetry-core 2.5's spellings of requirements and Python constraints, for
//! the forms kiln writes exactly: `Dependency.to_pep_508` (name as written,
//! extras normalised and sorted, the constraint in parentheses as poetry's
//! `VersionRange` prints it, the marker re-quoted), and the Python versions
//! `Package.all_classifiers` and the wheel tag read from `requires-python`.
//! Any other form is `Err(reason)`: [`super::poetry::coverage`] refuses it.

/// A plain PEP 440 version poetry prints as written: release numbers
/// without leading zeros, optionally `aN`, `bN` or `rcN`.
fn plain_version(v: &str) -> bool {
    let (release, pre) = match v.find(['a', 'b', 'r']) {
        Some(i) => (&v[..i], Some(&v[i..])),
        None => (v, None),
    };
    let number = |n: &str| {
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'))
    };
    let release_ok = release.split('.').all(number);
    let pre_ok = pre.is_none_or(|p| {
        ["a", "b", "rc"]
            .iter()
            .any(|k| p.strip_prefix(k).is_some_and(number))
    });
    release_ok && pre_ok
}

/// Release numbers of a release-only version.
fn release(v: &str) -> Option<Vec<u64>> {
    v.split('.').map(|n| n.parse().ok()).collect()
}

/// A comparison clause: operator and version text.
fn clause(text: &str) -> Result<(&'static str, String), String> {
    let t = text.trim();
    let op = ["~=", "==", "!=", ">=", "<=", ">", "<"]
        .into_iter()
        .find(|op| t.starts_with(op))
        .ok_or_else(|| format!("version clause `{t}`"))?;
    let v = t[op.len()..].trim();
    if t.starts_with("===") {
        return Err(format!("version clause `{t}`"));
    }
    let wild = v.strip_suffix(".*");
    match wild {
        Some(w) if (op == "==" || op == "!=") && release(w).is_some() && plain_version(w) => {}
        Some(_) => return Err(format!("version clause `{t}`")),
        None if plain_version(v) => {}
        None => return Err(format!("version `{v}` (poetry-core may respell it)")),
    }
    Ok((op, v.to_string()))
}

/// `~=X.Y[.Z]` as poetry's range: `>=X.Y,<X+1.0` / `>=X.Y.Z,<X.Y+1.0`.
fn compatible(v: &str) -> Result<String, String> {
    let r = release(v).filter(|r| r.len() == 2 || r.len() == 3);
    let Some(mut r) = r else {
        return Err(format!(
            "`~={v}` (kiln writes `~=` of 2 or 3 release numbers)"
        ));
    };
    let n = r.len();
    r.truncate(n - 1);
    if let Some(last) = r.last_mut() {
        *last += 1;
    }
    r.resize(n, 0);
    let upper: Vec<String> = r.iter().map(u64::to_string).collect();
    Ok(format!(">={v},<{}", upper.join(".")))
}

/// A PEP 440 specifier set as poetry-core prints its constraint.
fn constraint(spec: &str) -> Result<String, String> {
    let clauses = spec.split(',').map(clause).collect::<Result<Vec<_>, _>>()?;
    match &clauses[..] {
        [("~=", v)] => compatible(v),
        [(op, v)] => Ok(format!("{op}{v}")),
        [a, b] => {
            let lower = |c: &(&str, String)| c.0 == ">=" || c.0 == ">";
            let upper = |c: &(&str, String)| c.0 == "<" || c.0 == "<=";
            let (lo, hi) = if lower(a) && upper(b) {
                (a, b)
            } else if lower(b) && upper(a) {
                (b, a)
            } else {
                return Err(format!(
                    "the specifier `{spec}` (kiln writes a lower and an upper bound)"
                ));
            };
            Ok(format!("{}{},{}{}", lo.0, lo.1, hi.0, hi.1))
        }
        _ => Err(format!("the specifier `{spec}` (more than two clauses)")),
    }
}

/// Marker variables poetry-core prints as written.
const MARKER_VARS: &[&str] = &[
    "python_version",
    "python_full_version",
    "sys_platform",
    "platform_system",
    "platform_machine",
    "platform_python_implementation",
    "implementation_name",
    "os_name",
];

/// A marker of `var op "value"` clauses joined by only `and` or only `or`,
/// at most one on the Python version, re-quoted as poetry-core prints it.
fn marker(text: &str) -> Result<String, String> {
    let refuse = || format!("the marker `{}`", text.trim());
    if text.contains(['(', ')']) {
        return Err(refuse());
    }
    let mut rest = text.trim();
    let mut parts = Vec::new();
    let mut joins = Vec::new();
    let mut versions = 0;
    loop {
        let var_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let var = &rest[..var_end];
        if !MARKER_VARS.contains(&var) {
            return Err(refuse());
        }
        if var.starts_with("python") {
            versions += 1;
        }
        let after = rest[var_end..].trim_start();
        let op = ["==", "!=", ">=", "<=", ">", "<"]
            .into_iter()
            .find(|op| after.starts_with(op) && !after.starts_with("==="))
            .ok_or_else(refuse)?;
        let after = after[op.len()..].trim_start();
        let quote = after.chars().next().filter(|q| *q == '"' || *q == '\'');
        let quote = quote.ok_or_else(refuse)?;
        let close = after[1..].find(quote).ok_or_else(refuse)? + 1;
        let value = &after[1..close];
        if value.contains(['"', '\'']) {
            return Err(refuse());
        }
        if var.starts_with("python") && !plain_version(value) {
            return Err(refuse());
        }
        parts.push(format!("{var} {op} \"{value}\""));
        rest = after[close + 1..].trim_start();
        if rest.is_empty() {
            break;
        }
        let join = ["and ", "or "]
            .into_iter()
            .find(|j| rest.starts_with(j))
            .ok_or_else(refuse)?;
        joins.push(join.trim_end());
        rest = rest[join.len()..].trim_start();
    }
    joins.dedup();
    if joins.len() > 1 || versions > 1 {
        return Err(refuse());
    }
    Ok(parts.join(&format!(" {} ", joins.first().unwrap_or(&"and"))))
}

/// `packaging.utils.canonicalize_name`.
pub(super) fn canonical(name: &str) -> String {
    super::names::canonical(name)
}

/// `Dependency.to_pep_508` of a PEP 508 requirement, with the extra marker
/// of `extra` (normalised) when it is an optional dependency.
pub(crate) fn requirement(req: &str, extra: Option<&str>) -> Result<String, String> {
    let (spec, mark) = match req.split_once(';') {
        Some((s, m)) => (s.trim(), Some(marker(m)?)),
        None => (req.trim(), None),
    };
    if spec.contains('@') {
        return Err(format!("`{req}` is a direct reference"));
    }
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..name_end];
    if name.is_empty() {
        return Err(format!("the requirement `{req}`"));
    }
    let mut rest = spec[name_end..].trim_start();
    let mut out = name.to_string();
    if let Some(inner) = rest.strip_prefix('[') {
        let close = inner
            .find(']')
            .ok_or_else(|| format!("the requirement `{req}`"))?;
        let mut extras: Vec<String> = inner[..close]
            .split(',')
            .map(|e| canonical(e.trim()))
            .collect();
        extras.sort();
        extras.dedup();
        out.push_str(&format!("[{}]", extras.join(",")));
        rest = inner[close + 1..].trim_start();
    }
    let rest = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(rest)
        .trim();
    if !rest.is_empty() {
        out.push_str(&format!(" ({})", constraint(rest)?));
    }
    let extra = extra.map(|e| format!("extra == \"{}\"", canonical(e)));
    match (mark, extra) {
        (None, None) => {}
        (Some(m), None) => out.push_str(&format!(" ; {m}")),
        (None, Some(e)) => out.push_str(&format!(" ; {e}")),
        (Some(m), Some(e)) => out.push_str(&format!(" ; ({m}) and ({e})")),
    }
    Ok(out)
}

/// `requires-python` as poetry-core's constraint, in the forms kiln reads:
/// none (poetry's `~2.7 || ^3.4` for classifiers, Python 2 in the tag), or
/// `>=3.Y` with an optional `<4`, `<4.0` or `<3.Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Python {
    /// (3, Y) when declared.
    pub lower: Option<(u64, u64)>,
    /// Exclusive upper bound (major, minor).
    pub upper: Option<(u64, u64)>,
}

impl Python {
    pub(crate) fn parse(requires_python: Option<&str>) -> Result<Python, String> {
        let Some(text) = requires_python else {
            return Ok(Python {
                lower: None,
                upper: None,
            });
        };
        let refuse = || {
            format!(
                "project.requires-python `{text}` (kiln reads `>=3.Y` with an optional `<4` or `<3.Z`)"
            )
        };
        let mut lower = None;
        let mut upper = None;
        for c in text.split(',') {
            let (op, v) = clause(c).map_err(|_| refuse())?;
            let r = release(&v).ok_or_else(refuse)?;
            match (op, &r[..]) {
                (">=", [3, y]) if lower.is_none() => lower = Some((3, *y)),
                ("<", [4] | [4, 0]) if upper.is_none() => upper = Some((4, 0)),
                ("<", [3, z]) if upper.is_none() => upper = Some((3, *z)),
                _ => return Err(refuse()),
            }
        }
        if lower.is_none() || lower >= upper && upper.is_some() {
            return Err(refuse());
        }
        Ok(Python { lower, upper })
    }

    /// `Package.AVAILABLE_PYTHONS` that the constraint allows, in poetry's
    /// order, as classifiers.
    pub(crate) fn classifiers(self) -> Vec<String> {
        let mut versions: Vec<(u64, Option<u64>)> = vec![(2, None), (2, Some(7)), (3, None)];
        versions.extend((4..=15).map(|m| (3, Some(m))));
        versions
            .into_iter()
            .filter(|v| self.allows(*v))
            .map(|(major, minor)| match minor {
                Some(m) => format!("Programming Language :: Python :: {major}.{m}"),
                None => format!("Programming Language :: Python :: {major}"),
            })
            .collect()
    }

    /// `allows_any`: a major version `X` is the range `X.*`, a minor one
    /// the version `X.Y`.
    fn allows(self, (major, minor): (u64, Option<u64>)) -> bool {
        let Some(lower) = self.lower else {
            // ~2.7 || ^3.4
            return match (major, minor) {
                (2, m) => m.is_none_or(|m| m == 7),
                (3, m) => m.is_none_or(|m| m >= 4),
                _ => false,
            };
        };
        let upper = self.upper.unwrap_or((u64::MAX, 0));
        match minor {
            Some(m) => lower <= (major, m) && (major, m) < upper,
            // [X.0, X+1.0) meets [lower, upper)
            None => lower < (major + 1, 0) && (major, 0) < upper,
        }
    }

    /// `supports_python2`.
    pub(crate) fn py2(self) -> bool {
        self.lower.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected spellings printed by poetry-core 2.5's
    /// `Dependency.create_from_pep_508(...).to_pep_508()`.
    #[test]
    fn requirements_as_poetry_core_prints_them() {
        for (req, out) in [
            ("a >= 1.0", "a (>=1.0)"),
            ("a<2,>=1", "a (>=1,<2)"),
            ("a~=1.4.2", "a (>=1.4.2,<1.5.0)"),
            ("click~=8.1", "click (>=8.1,<9.0)"),
            ("attrs==23.*", "attrs (==23.*)"),
            (
                "Requests[socks,Security] >=2.0,<3",
                "Requests[security,socks] (>=2.0,<3)",
            ),
            ("a[X_y]", "a[x-y]"),
            (
                "a; python_version<'3.11' and sys_platform=='linux'",
                "a ; python_version < \"3.11\" and sys_platform == \"linux\"",
            ),
            ("a>=1.0rc1", "a (>=1.0rc1)"),
        ] {
            assert_eq!(requirement(req, None).as_deref(), Ok(out), "{req}");
        }
        assert_eq!(
            requirement("h~=2.1; python_version<'3.10'", Some("X")).as_deref(),
            Ok("h (>=2.1,<3.0) ; (python_version < \"3.10\") and (extra == \"x\")")
        );
        for refused in [
            "a>=01.0",
            "a===1",
            "a @ https://x/a.whl",
            "a; (os_name == 'nt')",
            "a>=1,!=1.5",
        ] {
            assert!(requirement(refused, None).is_err(), "{refused}");
        }
    }

    #[test]
    fn python_classifiers_as_poetry_core_derives_them() {
        let p = Python::parse(Some(">=3.9")).unwrap();
        let c = p.classifiers();
        assert_eq!(c.first().unwrap(), "Programming Language :: Python :: 3");
        assert_eq!(c[1], "Programming Language :: Python :: 3.9");
        assert_eq!(c.last().unwrap(), "Programming Language :: Python :: 3.15");
        let none = Python::parse(None).unwrap();
        assert_eq!(none.classifiers().len(), 15);
        let bounded = Python::parse(Some(">=3.8,<3.10")).unwrap();
        assert_eq!(bounded.classifiers().len(), 3);
        assert!(Python::parse(Some(">=3.8.1")).is_err());
    }
}
