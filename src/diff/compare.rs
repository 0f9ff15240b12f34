//! Comparing two [`Listing`]s: container fields, entries matched by name
//! bytes (the k-th duplicate of a name with the k-th), per-entry metadata,
//! relative order, contents, and nested archives one level down.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::sync::Arc;

use rayon::prelude::*;

use super::budget::{cap, Cap, DiffError, Limits};
use super::model::{hex, Compressed, Entry, Listing, Name};
use super::report::{Change, Report, Side, SideHazard};
use super::sniff::sniff;
use super::source::read_bytes;
use super::text;

/// Compare `a` and `b`, found at `location`, into `report`.
pub(crate) fn compare(
    a: &Listing,
    b: &Listing,
    location: &[String],
    limits: &Limits,
    report: &mut Report,
) -> Result<(), DiffError> {
    for (side, l) in [(Side::A, a), (Side::B, b)] {
        for h in &l.hazards {
            report.hazards.push(SideHazard {
                side,
                location: location.to_vec(),
                hazard: h.clone(),
            });
        }
    }
    if a.format != b.format {
        report.push(
            location,
            None,
            Change::Container {
                field: "format".into(),
                a: a.format.to_string(),
                b: b.format.to_string(),
            },
        );
    }
    let keys: BTreeSet<&String> = a.fields.keys().chain(b.fields.keys()).collect();
    for k in keys {
        let (va, vb) = (a.fields.get(k), b.fields.get(k));
        if va != vb {
            report.push(
                location,
                None,
                Change::Container {
                    field: k.clone(),
                    a: shown(va),
                    b: shown(vb),
                },
            );
        }
    }
    if let (Some(ca), Some(cb)) = (&a.compressed, &b.compressed) {
        if ca.inner_sha256 == cb.inner_sha256 && ca.raw[ca.deflate_at..] != cb.raw[cb.deflate_at..]
        {
            let (ga, gb) = rayon::join(|| guess_level(ca), || guess_level(cb));
            let show = |g: Option<u32>| match g {
                Some(l) => format!("{l} (zlib-rs reproduces the stream)"),
                None => "unknown (not reproduced by zlib-rs at levels 1-9)".into(),
            };
            let (field, va, vb) = if ga != gb || ga.is_none() {
                ("gzip.level (guessed)", show(ga), show(gb))
            } else {
                (
                    "gzip.deflate_data",
                    format!("sha256 {}", hex(&sha(&ca.raw[ca.deflate_at..]))),
                    format!("sha256 {}", hex(&sha(&cb.raw[cb.deflate_at..]))),
                )
            };
            report.push(
                location,
                None,
                Change::Container {
                    field: field.into(),
                    a: va,
                    b: vb,
                },
            );
        }
    }
    entries(a, b, location, limits, report)
}

fn sha(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

fn shown(v: Option<&String>) -> String {
    v.cloned().unwrap_or_else(|| "(absent)".into())
}

/// The deflate level at which zlib-rs reproduces a single-member gzip
/// stream, trying the common levels first (streams up to 64 MiB).
fn guess_level(c: &Compressed) -> Option<u32> {
    let mut inner = Vec::new();
    flate2::read::GzDecoder::new(&c.raw[..])
        .take(64 << 20)
        .read_to_end(&mut inner)
        .ok()?;
    let deflate = c.raw.get(c.deflate_at..c.raw.len().checked_sub(8)?)?;
    [9u32, 6, 1, 2, 3, 4, 5, 7, 8]
        .into_par_iter()
        .find_first(|&level| {
            let mut enc = flate2::write::DeflateEncoder::new(
                Vec::with_capacity(deflate.len()),
                flate2::Compression::new(level),
            );
            enc.write_all(&inner).is_ok() && enc.finish().is_ok_and(|out| out == deflate)
        })
}

/// `YYYY-MM-DDTHH:MM:SSZ` of seconds since the epoch.
fn iso(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The metadata fields of an entry, as (name, printed value).
fn fields(e: &Entry) -> Vec<(String, Option<String>)> {
    let mut f = vec![
        ("type".to_string(), e.kind.as_ref().map(|k| k.to_string())),
        ("link target".into(), e.target.as_ref().map(Name::to_string)),
        ("mode".into(), e.mode.map(|m| format!("{m:04o}"))),
        ("uid".into(), e.uid.map(|v| v.to_string())),
        ("gid".into(), e.gid.map(|v| v.to_string())),
        ("owner".into(), e.uname.as_ref().map(Name::to_string)),
        ("group".into(), e.gname.as_ref().map(Name::to_string)),
        ("mtime".into(), e.mtime.map(|t| format!("{t} ({})", iso(t)))),
    ];
    for (k, v) in &e.meta {
        f.push((k.to_string(), Some(v.to_string())));
    }
    f
}

/// Indices (into `seq`) of one longest strictly increasing subsequence.
fn longest_increasing(seq: &[usize]) -> Vec<usize> {
    let mut tails: Vec<usize> = Vec::new();
    let mut prev = vec![usize::MAX; seq.len()];
    for (i, &x) in seq.iter().enumerate() {
        let pos = tails.partition_point(|&t| seq[t] < x);
        if pos > 0 {
            prev[i] = tails[pos - 1];
        }
        if pos == tails.len() {
            tails.push(i);
        } else {
            tails[pos] = i;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut cur = tails.last().copied().unwrap_or(usize::MAX);
    while cur != usize::MAX {
        out.push(cur);
        cur = prev[cur];
    }
    out.reverse();
    out
}

fn entries(
    a: &Listing,
    b: &Listing,
    location: &[String],
    limits: &Limits,
    report: &mut Report,
) -> Result<(), DiffError> {
    let mut b_index: HashMap<(&[u8], usize), usize> = HashMap::with_capacity(b.entries.len());
    let mut count: HashMap<&[u8], usize> = HashMap::new();
    for (i, e) in b.entries.iter().enumerate() {
        let n = count.entry(e.name.as_bytes()).or_default();
        b_index.insert((e.name.as_bytes(), *n), i);
        *n += 1;
    }
    count.clear();
    let mut pairs = Vec::new();
    let mut b_matched = vec![false; b.entries.len()];
    for (i, e) in a.entries.iter().enumerate() {
        let n = count.entry(e.name.as_bytes()).or_default();
        match b_index.get(&(e.name.as_bytes(), *n)) {
            Some(&j) => {
                pairs.push((i, j));
                b_matched[j] = true;
            }
            None => report.push(
                location,
                Some(e.name.to_string()),
                Change::OnlyIn {
                    side: Side::A,
                    kind: kind_of(e),
                },
            ),
        }
        *n += 1;
    }
    for (j, e) in b.entries.iter().enumerate() {
        if !b_matched[j] {
            report.push(
                location,
                Some(e.name.to_string()),
                Change::OnlyIn {
                    side: Side::B,
                    kind: kind_of(e),
                },
            );
        }
    }

    let inner = nested_limits(a, b, limits);
    let in_order: Vec<bool> = {
        let seq: Vec<usize> = pairs.iter().map(|p| p.1).collect();
        let mut keep = vec![false; pairs.len()];
        for k in longest_increasing(&seq) {
            keep[k] = true;
        }
        keep
    };

    for (k, &(i, j)) in pairs.iter().enumerate() {
        let (ea, eb) = (&a.entries[i], &b.entries[j]);
        let name = ea.name.to_string();
        let fa = fields(ea);
        let fb: HashMap<String, Option<String>> = fields(eb).into_iter().collect();
        let mut seen = BTreeSet::new();
        for (field, va) in &fa {
            seen.insert(field.clone());
            let vb = fb.get(field).cloned().flatten();
            if *va != vb {
                report.push(
                    location,
                    Some(name.clone()),
                    Change::Field {
                        field: field.clone(),
                        a: va.clone().unwrap_or_else(|| "(not recorded)".into()),
                        b: vb.unwrap_or_else(|| "(not recorded)".into()),
                    },
                );
            }
        }
        for (field, vb) in fields(eb) {
            if !seen.contains(&field) && vb.is_some() {
                report.push(
                    location,
                    Some(name.clone()),
                    Change::Field {
                        field,
                        a: "(not recorded)".into(),
                        b: vb.unwrap_or_default(),
                    },
                );
            }
        }
        if !in_order[k] {
            report.push(location, Some(name.clone()), Change::Order { a: i, b: j });
        }
        if ea.sha256 != eb.sha256 || ea.size != eb.size {
            content(ea, eb, location, &inner, report)?;
        }
    }
    Ok(())
}

/// Bytes of entry contents `l` holds.
fn held(l: &Listing) -> u64 {
    l.entries
        .iter()
        .filter_map(|e| e.data.as_ref())
        .map(|d| d.len() as u64)
        .sum()
}

/// The limits for reading archives nested in `a` and `b`: the memory
/// budget (`max_retained`) is what is left of this level's once the
/// contents these listings hold are counted, so the bytes held across all
/// nesting levels of one side never exceed `--max-retained`.
fn nested_limits(a: &Listing, b: &Listing, limits: &Limits) -> Limits {
    Limits {
        max_retained: limits.max_retained.saturating_sub(held(a).max(held(b))),
        ..*limits
    }
}

/// Why the contents of `ea`/`eb` are compared by digest only, if they are.
fn digest_only(ea: &Entry, eb: &Entry) -> Option<String> {
    (ea.over_budget || eb.over_budget).then(|| {
        "not kept in memory (beyond the --max-retained budget across nesting levels), \
         so not compared inside"
            .to_string()
    })
}

fn kind_of(e: &Entry) -> String {
    let k = e
        .kind
        .as_ref()
        .map(|k| k.to_string())
        .unwrap_or_else(|| "entry".into());
    format!("{k}, {} bytes", e.size)
}

fn content(
    ea: &Entry,
    eb: &Entry,
    location: &[String],
    limits: &Limits,
    report: &mut Report,
) -> Result<(), DiffError> {
    let name = ea.name.to_string();
    let nested_pair = match (&ea.data, &eb.data) {
        (Some(da), Some(db))
            if sniff(&da[..da.len().min(512)]).is_container()
                && sniff(&db[..db.len().min(512)]).is_container() =>
        {
            Some((da, db))
        }
        _ => None,
    };
    let (mut keys, mut unified) = (None, None);
    let digest_only = digest_only(ea, eb);
    if nested_pair.is_none() && digest_only.is_none() {
        if let (Some(da), Some(db)) = (&ea.data, &eb.data) {
            keys = text::manifest_keys(ea.name.as_bytes(), da, db);
            unified = text::unified(da, db);
        }
    }
    report.push(
        location,
        Some(name.clone()),
        Change::Content {
            size_a: ea.size,
            size_b: eb.size,
            sha256_a: hex(&ea.sha256),
            sha256_b: hex(&eb.sha256),
            keys,
            unified_diff: unified,
            nested: nested_pair.is_some(),
            digest_only,
        },
    );
    if let Some((da, db)) = nested_pair {
        let mut inner = location.to_vec();
        inner.push(name);
        let at = inner.join(" > ");
        if inner.len() > limits.max_depth {
            return Err(cap(&at, Cap::Depth, limits));
        }
        let (la, lb) = rayon::join(
            || {
                read_bytes(
                    Arc::clone(da),
                    &format!("A > {at}"),
                    Some(&ea.name),
                    limits,
                    inner.len(),
                )
            },
            || {
                read_bytes(
                    Arc::clone(db),
                    &format!("B > {at}"),
                    Some(&eb.name),
                    limits,
                    inner.len(),
                )
            },
        );
        compare(&la?, &lb?, &inner, limits, report)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lis_and_dates() {
        assert_eq!(longest_increasing(&[0, 2, 1, 3]).len(), 3);
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(499_162_500), "1985-10-26T08:15:00Z");
    }
}
