//! Core metadata 2.4 (`PKG-INFO` in sdists, `METADATA` in wheels),
//! `entry_points.txt` and `WHEEL`.
//!
//! Field order follows hatchling's 2.4 writer (`Metadata-Version`, `Name`,
//! `Version`, `Summary`, `Project-URL`, `Author`, `Author-email`,
//! `Maintainer`, `Maintainer-email`, `License`/`License-Expression`,
//! `License-File`, `Keywords`, `Classifier`, `Requires-Python`,
//! `Requires-Dist`, then per extra `Provides-Extra` and its `Requires-Dist`,
//! `Description-Content-Type`); the readme is the message body after a blank
//! line. Every header value is one line except the legacy `License` text,
//! folded with eight spaces as setuptools does.

use std::fmt::Write as _;

use super::project::{Contact, License, Project};
use super::PythonError;

/// Reject a header value that would break the `Key: value` format.
fn line<'a>(project: &Project, key: &str, value: &'a str) -> Result<&'a str, PythonError> {
    if value.contains(['\n', '\r']) {
        return Err(PythonError::field(
            "pyproject.toml",
            key,
            value,
            format!(
                "core metadata of {} holds this on one line; remove the line break",
                project.name
            ),
        ));
    }
    Ok(value)
}

fn contacts(list: &[Contact]) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    let mut emails = Vec::new();
    for c in list {
        match (&c.name, &c.email) {
            (Some(n), None) => names.push(n.clone()),
            (None, Some(e)) => emails.push(e.clone()),
            (Some(n), Some(e)) => {
                let quoted = if n.contains([',', '"', '<', '>', '@', ';', ':']) {
                    format!("\"{}\"", n.replace('\\', "\\\\").replace('"', "\\\""))
                } else {
                    n.clone()
                };
                emails.push(format!("{quoted} <{e}>"));
            }
            (None, None) => {}
        }
    }
    (names, emails)
}

/// The core metadata file.
pub(crate) fn core_metadata(p: &Project) -> Result<String, PythonError> {
    let mut s = String::new();
    let mut h = |key: &str, value: &str| -> Result<(), PythonError> {
        let v = line(p, key, value)?;
        let _ = writeln!(s, "{key}: {v}");
        Ok(())
    };
    h("Metadata-Version", "2.4")?;
    h("Name", &p.name)?;
    h("Version", &p.version)?;
    if let Some(summary) = &p.summary {
        h("Summary", summary)?;
    }
    for (label, url) in &p.urls {
        h("Project-URL", &format!("{label}, {url}"))?;
    }
    for (field, list) in [("Author", &p.authors), ("Maintainer", &p.maintainers)] {
        let (names, emails) = contacts(list);
        if !names.is_empty() {
            h(field, &names.join(", "))?;
        }
        if !emails.is_empty() {
            h(&format!("{field}-email"), &emails.join(", "))?;
        }
    }
    let mut legacy_license = None;
    match &p.license {
        License::None => {}
        License::Expression(e) => h("License-Expression", e)?,
        License::Text(t) => legacy_license = Some(t.trim_end().replace('\n', "\n        ")),
    }
    if let Some(t) = legacy_license {
        let _ = writeln!(s, "License: {t}");
    }
    let mut h = |key: &str, value: &str| -> Result<(), PythonError> {
        let v = line(p, key, value)?;
        let _ = writeln!(s, "{key}: {v}");
        Ok(())
    };
    for f in &p.license_files {
        h("License-File", f)?;
    }
    if !p.keywords.is_empty() {
        h("Keywords", &p.keywords.join(","))?;
    }
    for c in &p.classifiers {
        h("Classifier", c)?;
    }
    if let Some(r) = &p.requires_python {
        h("Requires-Python", r)?;
    }
    for d in &p.dependencies {
        h("Requires-Dist", d)?;
    }
    for (extra, deps) in &p.extras {
        h("Provides-Extra", extra)?;
        for d in deps {
            h("Requires-Dist", d)?;
        }
    }
    if let Some(r) = &p.readme {
        h("Description-Content-Type", &r.content_type)?;
        s.push('\n');
        s.push_str(&r.text);
    }
    Ok(s)
}

/// `entry_points.txt`, or `None` when the project declares no entry points.
pub(crate) fn entry_points(p: &Project) -> Option<String> {
    if p.entry_points.is_empty() {
        return None;
    }
    let mut s = String::new();
    for (i, (group, entries)) in p.entry_points.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let _ = writeln!(s, "[{group}]");
        for (name, value) in entries {
            let _ = writeln!(s, "{name} = {value}");
        }
    }
    Some(s)
}

/// The `WHEEL` file.
pub(crate) fn wheel_file(tag: &super::names::WheelTag) -> String {
    let mut s = format!(
        "Wheel-Version: 1.0\nGenerator: kiln {}\nRoot-Is-Purelib: {}\n",
        env!("CARGO_PKG_VERSION"),
        tag.is_pure()
    );
    for t in tag.expanded() {
        let _ = writeln!(s, "Tag: {t}");
    }
    s
}
