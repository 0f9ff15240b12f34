//! `kiln diff` on pairs of artifacts that differ in exactly one thing: kiln
//! names that thing and nothing else, and diffoscope (the oracle) also sees
//! a difference.

use crate::common;
use crate::diff_support;

use std::path::Path;

use common::{cmd, kiln, require_tool, run};
use diff_support::*;
use serde_json::Value;

/// Run `kiln diff --json a b`; returns (exit code, differences).
fn kiln_diff(a: &Path, b: &Path) -> (i32, Vec<Value>) {
    let out = run(kiln().arg("diff").arg("--json").arg(a).arg(b));
    let code = out.status.code().unwrap_or(-1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "kiln diff --json printed no JSON ({e}); exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        code,
        v["differences"].as_array().cloned().unwrap_or_default(),
    )
}

/// diffoscope must also report a difference (exit 1).
fn diffoscope_agrees(a: &Path, b: &Path) {
    if !require_tool("diffoscope") {
        return;
    }
    let out = run(cmd("diffoscope").arg("--no-progress").arg(a).arg(b));
    assert_eq!(
        out.status.code(),
        Some(1),
        "diffoscope saw no difference between {} and {}:\n{}{}",
        a.display(),
        b.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Write the pair, check kiln finds exactly `expect(differences)`, ask diffoscope.
fn pair(name: &str, a: &[u8], b: &[u8], expect: impl Fn(&[Value])) {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (
        dir.path().join(format!("a-{name}")),
        dir.path().join(format!("b-{name}")),
    );
    std::fs::write(&pa, a).unwrap();
    std::fs::write(&pb, b).unwrap();
    let (same_code, same) = kiln_diff(&pa, &pa);
    assert_eq!(
        (same_code, same.len()),
        (0, 0),
        "{name}: a file differs from itself: {same:?}"
    );
    let (code, diffs) = kiln_diff(&pa, &pb);
    assert_eq!(code, 1, "{name}: expected exit 1, differences: {diffs:#?}");
    expect(&diffs);
    diffoscope_agrees(&pa, &pb);
}

fn only(diffs: &[Value], change: &str, entry: Option<&str>, field: Option<&str>) {
    assert_eq!(
        diffs.len(),
        1,
        "expected exactly one difference, got {diffs:#?}"
    );
    let d = &diffs[0];
    assert_eq!(d["change"], change, "{d:#}");
    if let Some(e) = entry {
        assert_eq!(d["entry"], format!("\"{e}\""), "{d:#}");
    }
    if let Some(f) = field {
        assert_eq!(d["field"], f, "{d:#}");
    }
}

fn base() -> Vec<T> {
    vec![
        T::file("pkg/a.txt", b"alpha\n"),
        T::file("pkg/b.txt", b"beta\n"),
        T::file("pkg/package.json", br#"{"name":"p","version":"1.0.0"}"#),
    ]
}

#[test]
fn an_entry_mtime() {
    let mut b = base();
    b[1].mtime += 1;
    pair("mtime.tar", &tar(&base()), &tar(&b), |d| {
        only(d, "field", Some("pkg/b.txt"), Some("mtime"));
        assert!(d[0]["b"]
            .as_str()
            .unwrap()
            .starts_with("1700000001 (2023-11-14T22:13:21Z)"));
    });
}

#[test]
fn an_entry_mode() {
    let mut b = base();
    b[0].mode = 0o755;
    pair("mode.tar", &tar(&base()), &tar(&b), |d| {
        only(d, "field", Some("pkg/a.txt"), Some("mode"));
        assert_eq!(
            (d[0]["a"].as_str(), d[0]["b"].as_str()),
            (Some("0644"), Some("0755"))
        );
    });
}

#[test]
fn entry_order() {
    let mut b = base();
    b.swap(0, 1);
    pair("order.tar", &tar(&base()), &tar(&b), |d| {
        assert!(
            !d.is_empty() && d.iter().all(|x| x["change"] == "order"),
            "{d:#?}"
        );
        assert_eq!(d.len(), 1, "one entry moved: {d:#?}");
        assert!(d[0]["entry"] == "\"pkg/a.txt\"" || d[0]["entry"] == "\"pkg/b.txt\"");
    });
}

#[test]
fn a_gzip_header_byte() {
    let t = tar(&base());
    pair("os.tar.gz", &gzip(&t, 9, 255), &gzip(&t, 9, 3), |d| {
        only(d, "container", None, Some("gzip.os"));
        assert_eq!(
            (d[0]["a"].as_str(), d[0]["b"].as_str()),
            (Some("255"), Some("3"))
        );
    });
}

#[test]
fn the_compression_level() {
    // enough repetitive text that levels 1 and 9 produce different streams
    let text: Vec<u8> = (0..4000)
        .flat_map(|i| format!("line {} of {}\n", i % 97, i % 13).into_bytes())
        .collect();
    let t = tar(&[T::file("pkg/log.txt", &text)]);
    pair("level.tar.gz", &gzip(&t, 9, 255), &gzip(&t, 1, 255), |d| {
        assert!(d.iter().all(|x| x["change"] == "container"), "{d:#?}");
        let level = d
            .iter()
            .find(|x| x["field"] == "gzip.level (guessed)")
            .expect("level named");
        assert!(level["a"].as_str().unwrap().starts_with("9 "), "{level:#}");
        assert!(level["b"].as_str().unwrap().starts_with("1 "), "{level:#}");
        let fields: Vec<&str> = d.iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["gzip.xfl", "gzip.level (guessed)"]);
    });
}

#[test]
fn a_file_content() {
    let mut b = base();
    b[2].data = br#"{"name":"p","version":"1.0.1"}"#.to_vec();
    pair(
        "content.tar.gz",
        &gzip(&tar(&base()), 9, 255),
        &gzip(&tar(&b), 9, 255),
        |d| {
            only(d, "content", Some("pkg/package.json"), None);
            let keys = d[0]["keys"].as_array().unwrap();
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0]["key"], "version");
            assert!(d[0]["unified_diff"]
                .as_str()
                .unwrap()
                .contains("+{\"name\":\"p\",\"version\":\"1.0.1\"}"));
        },
    );
}

#[test]
fn a_zip_extra_field() {
    let a = vec![
        Z::file("pkg/__init__.py", b"x = 1\n"),
        Z::file("pkg/b.py", b"y = 2\n"),
    ];
    let mut b = a.clone();
    // an extended-timestamp field (0x5455): flags 1, mtime
    b[1].central_extra = vec![0x55, 0x54, 5, 0, 1, 0x00, 0xf1, 0x53, 0x65];
    pair("extra.zip", &zip(&a), &zip(&b), |d| {
        only(d, "field", Some("pkg/b.py"), Some("zip.extra"));
        assert!(
            d[0]["b"]
                .as_str()
                .unwrap()
                .starts_with("0x5455 (extended timestamp)"),
            "{d:#?}"
        );
    });
}

#[test]
fn an_oci_config_field() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    oci_layout(&a, "PATH=/usr/bin");
    oci_layout(&b, "PATH=/usr/local/bin");
    let (code, d) = kiln_diff(&a, &b);
    assert_eq!(code, 1);
    // the config's Env changed; the manifest and index only follow digests
    let config = d
        .iter()
        .find(|x| x["entry"] == "\"config.json\"")
        .expect("config.json named");
    let keys: Vec<&str> = config["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["config.Env[0]"]);
    for x in &d {
        assert_eq!(x["change"], "content", "{x:#}");
        let keys: Vec<&str> = x["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["key"].as_str().unwrap())
            .collect();
        match x["entry"].as_str().unwrap() {
            "\"config.json\"" => {}
            "\"manifest.json\"" => assert_eq!(keys, ["config.digest", "config.size"]),
            // the manifest's length may or may not change with the digest
            "\"index.json\"" => assert!(
                keys[0] == "manifests[0].digest"
                    && keys[1..].iter().all(|k| *k == "manifests[0].size"),
                "{keys:?}"
            ),
            other => panic!("unexpected difference in {other}: {x:#}"),
        }
    }
    diffoscope_agrees(&a, &b);
}

#[test]
fn a_file_inside_a_nested_wheel() {
    let wheel = |init: &[u8]| {
        zip(&[
            Z {
                deflate: true,
                ..Z::file("pkg/__init__.py", init)
            },
            Z::file("pkg-1.0.dist-info/METADATA", b"Name: pkg\nVersion: 1.0\n"),
        ])
    };
    let outer = |init: &[u8]| {
        gzip(
            &tar(&[
                T::file("dist/README", b"read me\n"),
                T::file("dist/pkg-1.0-py3-none-any.whl", &wheel(init)),
            ]),
            9,
            255,
        )
    };
    pair(
        "nested.tar.gz",
        &outer(b"VERSION = 1\n"),
        &outer(b"VERSION = 2\n"),
        |d| {
            let inner: Vec<&Value> = d
                .iter()
                .filter(|x| !x["location"].as_array().unwrap().is_empty())
                .collect();
            assert_eq!(inner.len(), 1, "{d:#?}");
            for x in &inner {
                assert_eq!(x["location"][0], "\"dist/pkg-1.0-py3-none-any.whl\"");
                assert_eq!(x["entry"], "\"pkg/__init__.py\"", "{x:#}");
            }
            assert!(inner.iter().any(|x| x["change"] == "content"
                && x["unified_diff"].as_str().unwrap().contains("+VERSION = 2")));
            let outer_d: Vec<&Value> = d
                .iter()
                .filter(|x| x["location"].as_array().unwrap().is_empty())
                .collect();
            assert_eq!(outer_d.len(), 1, "{d:#?}");
            assert_eq!(outer_d[0]["entry"], "\"dist/pkg-1.0-py3-none-any.whl\"");
            assert_eq!(outer_d[0]["nested"], true);
        },
    );
}

#[test]
fn text_output_and_nar_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    common::write(&a.join("x/y.txt"), "one\n");
    common::write(&b.join("x/y.txt"), "two\n");
    let out = run(kiln().arg("diff").arg(&a).arg(&b));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"x/y.txt\": contents differ") && text.contains("+two"),
        "{text}"
    );
    if !require_tool("nix-store") {
        return;
    }
    let nar = |p: &Path, to: &Path| {
        let out = run(cmd("nix-store").arg("--dump").arg(p));
        assert!(out.status.success());
        std::fs::write(to, out.stdout).unwrap();
    };
    let (na, nb) = (dir.path().join("a.nar"), dir.path().join("b.nar"));
    nar(&a, &na);
    nar(&b, &nb);
    let (code, d) = kiln_diff(&na, &nb);
    assert_eq!(code, 1);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0]["entry"], "\"x/y.txt\"");
    diffoscope_agrees(&na, &nb);
}

#[test]
fn an_oci_config_field_through_a_docker_archive() {
    if !require_tool("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut archives = Vec::new();
    for (name, env) in [("a", "PATH=/usr/bin"), ("b", "PATH=/usr/local/bin")] {
        let layout = dir.path().join(name);
        oci_layout(&layout, env);
        let out = dir.path().join(format!("{name}.docker.tar"));
        let res = run(cmd("skopeo")
            .arg("copy")
            .arg("--quiet")
            .arg(format!("oci:{}:1.0.0", layout.display()))
            .arg(format!(
                "docker-archive:{}:example/app:1.0.0",
                out.display()
            )));
        assert!(
            res.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        archives.push(out);
    }
    let (code, d) = kiln_diff(&archives[0], &archives[1]);
    assert_eq!(code, 1);
    let config = d
        .iter()
        .find(|x| x["entry"] == "\"config.json\"")
        .unwrap_or_else(|| panic!("{d:#?}"));
    let keys: Vec<&str> = config["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["config.Env[0]"]);
    // the layer is the same: no difference inside it
    assert!(d.iter().all(|x| x["entry"] != "\"layers/0\""), "{d:#?}");
    diffoscope_agrees(&archives[0], &archives[1]);
}
