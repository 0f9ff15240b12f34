//! Per-entry provenance (`kiln provenance`): recorded at build time for
//! every entry of tarballs, zips, npm tarballs, sdists, wheels and images,
//! sealed in the store, named by digest from the in-toto statement, and
//! shown per artifact or per entry; unknown artifacts exit 2.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::audit::audited_monorepo;
use common::fixture::git;
use common::{cmd, kiln, require_tool, run, run_ok};

fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

fn provenance_json(
    root: &Path,
    store: &Path,
    artifact: &Path,
    entry: Option<&str>,
) -> serde_json::Value {
    let mut c = kiln_in(root, store, &["provenance", "--json"]);
    c.arg(artifact);
    if let Some(e) = entry {
        c.args(["--entry", e]);
    }
    serde_json::from_str(&run_ok(&mut c)).unwrap()
}

/// Entry names of an archive, by Python's readers.
fn archive_files(path: &Path) -> BTreeSet<String> {
    let script = "import sys, tarfile, zipfile, json\np = sys.argv[1]\nif zipfile.is_zipfile(p):\n    n = [i.filename for i in zipfile.ZipFile(p).infolist() if not i.is_dir()]\nelse:\n    n = [m.name for m in tarfile.open(p).getmembers() if m.isfile() or m.issym()]\nprint(json.dumps(n))\n";
    let out = run_ok(cmd("python3").args(["-c", script]).arg(path));
    serde_json::from_str::<Vec<String>>(&out)
        .unwrap()
        .into_iter()
        .collect()
}

fn blob(root: &Path, path: &str) -> String {
    format!("git:{}", git(root, &["rev-parse", &format!("HEAD:{path}")]))
}

#[test]
fn every_entry_has_its_origin_and_the_statement_names_the_record() {
    if !require_tool("python3") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = audited_monorepo(&tmp.path().join("mono"));
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &[
            "build",
            "docs-bundle",
            "docs-zip",
            "mini-npm",
            "mini-sdist",
            "mini-wheel",
            "docs-image",
        ],
    ));
    let dist = root.join("dist");
    let head = git(&root, &["rev-parse", "HEAD"]);
    let names: Vec<String> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let find = |suffix: &str| -> PathBuf {
        dist.join(
            names
                .iter()
                .find(|n| n.ends_with(suffix))
                .unwrap_or_else(|| panic!("no *{suffix} in {names:?}")),
        )
    };
    // Archives: the recorded entries are exactly the archive's files.
    for suffix in [".tar.gz", ".zip", ".tgz", ".whl"] {
        for n in names.iter().filter(|n| n.ends_with(suffix)) {
            let p = dist.join(n);
            let v = provenance_json(&root, &store, &p, None);
            assert_eq!(v["commit"], head.as_str(), "{n}");
            assert_eq!(v["found_by"], "store-index");
            let recorded: BTreeSet<String> = v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["entry"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(recorded, archive_files(&p), "{n}");
            for e in v["entries"].as_array().unwrap() {
                if e["from"] == "snapshot" {
                    let path = e["path"].as_str().unwrap();
                    assert_eq!(e["blob"], blob(&root, path).as_str(), "{n}: {e}");
                }
            }
        }
    }
    // The docs bundle is snapshot files only, by blob id.
    let docs = dist.join("mini-docs-0.3.0-rc.1.tar.gz");
    let v = provenance_json(&root, &store, &docs, None);
    assert!(
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["from"] == "snapshot"),
        "{v}"
    );
    // npm: package.json is the stamped manifest or the snapshot's (a
    // release of the committed version); index files are snapshot files.
    let tgz = find(".tgz");
    let e = provenance_json(&root, &store, &tgz, Some("package/package.json"));
    assert_eq!(e["entry"]["path"], "node/package.json", "{e}");
    // The wheel: a module names its snapshot path and blob, RECORD is generated.
    let whl = find(".whl");
    let e = provenance_json(&root, &store, &whl, Some("mini_flow/__init__.py"));
    assert_eq!(e["entry"]["from"], "snapshot", "{e}");
    assert_eq!(e["entry"]["path"], "python/src/mini_flow/__init__.py");
    assert_eq!(
        e["entry"]["blob"],
        blob(&root, "python/src/mini_flow/__init__.py").as_str()
    );
    let text = run_ok(
        kiln_in(&root, &store, &["provenance"])
            .arg(&whl)
            .args(["--entry", "mini_flow-0.3.0rc1.dist-info/RECORD"]),
    );
    assert!(text.contains("generated by kiln"), "{text}");
    let text = run_ok(
        kiln_in(&root, &store, &["provenance"])
            .arg(&whl)
            .args(["--entry", "mini_flow/__init__.py"]),
    );
    assert!(
        text.contains("python/src/mini_flow/__init__.py")
            && text.contains(&blob(&root, "python/src/mini_flow/__init__.py")),
        "{text}"
    );
    // The sdist's pyproject.toml is the stamped manifest, with its edit.
    let sdist = names
        .iter()
        .find(|n| n.starts_with("mini_flow-") && n.ends_with(".tar.gz"))
        .unwrap();
    let e = provenance_json(
        &root,
        &store,
        &dist.join(sdist),
        Some("mini_flow-0.3.0rc1/pyproject.toml"),
    );
    assert_eq!(e["entry"]["from"], "stamped", "{e}");
    assert!(
        e["entry"]["edit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with('+')),
        "{e}"
    );
    let e = provenance_json(
        &root,
        &store,
        &dist.join(sdist),
        Some("mini_flow-0.3.0rc1/PKG-INFO"),
    );
    assert_eq!(e["entry"]["from"], "generated", "{e}");
    // The image: its files name their snapshot blobs; config is generated.
    let oci = find(".oci");
    let e = provenance_json(&root, &store, &oci, Some("usr/share/doc/mini/LICENSE"));
    assert_eq!(e["entry"]["blob"], blob(&root, "LICENSE").as_str(), "{e}");
    let e = provenance_json(&root, &store, &oci, Some("image config"));
    assert_eq!(e["entry"]["from"], "generated", "{e}");
    // The statement names the sealed record by its digest.
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{}.intoto.json", whl.display())).unwrap())
            .unwrap();
    let named = st["predicate"]["runDetails"]["byproducts"][0]["digest"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let records: Vec<PathBuf> = std::fs::read_dir(store.join(".kiln/provenance"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".origins.zst"))
        .collect();
    let digests: Vec<String> = records
        .iter()
        .map(|p| {
            let b = std::fs::read(p).unwrap();
            let body = &b[b.iter().position(|c| *c == b'\n').unwrap() + 1..];
            use sha2::Digest;
            format!(
                "{:x}",
                sha2::Sha256::digest(zstd::decode_all(body).unwrap())
            )
        })
        .collect();
    assert!(digests.contains(&named), "{named} not in {digests:?}");
}

#[test]
fn a_forged_record_is_not_shown_and_unknown_artifacts_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let root = audited_monorepo(&tmp.path().join("mono"));
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(&root, &store, &["build", "docs-bundle"]));
    let bundle = root.join("dist/mini-docs-0.3.0-rc.1.tar.gz");
    // Unknown: other bytes, no statement beside them.
    let other = tmp.path().join("other.tar.gz");
    std::fs::write(&other, b"not an artifact").unwrap();
    let out = run(kiln_in(&root, &store, &["provenance"]).arg(&other));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is no artifact of the store"));
    // An entry it does not have.
    let out = run(kiln_in(&root, &store, &["provenance"])
        .arg(&bundle)
        .args(["--entry", "nope"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no entry \"nope\""));
    // A record edited in the store is not trusted.
    let rec = std::fs::read_dir(store.join(".kiln/provenance"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".origins.zst"))
        .unwrap();
    let b = std::fs::read(&rec).unwrap();
    let nl = b.iter().position(|c| *c == b'\n').unwrap() + 1;
    let json = String::from_utf8(zstd::decode_all(&b[nl..]).unwrap()).unwrap();
    assert!(json.contains("\"snapshot\""));
    let forged = zstd::encode_all(json.replace("\"snapshot\"", "\"built\"").as_bytes(), 3).unwrap();
    std::fs::write(&rec, [&b[..nl], &forged[..]].concat()).unwrap();
    let out = run(kiln_in(&root, &store, &["provenance"]).arg(&bundle));
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no per-entry provenance"));
}
