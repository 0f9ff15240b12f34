//! `kiln verify pypi:NAME==VERSION` against pypiserver on 127.0.0.1:
//! what `kiln publish` uploaded verifies byte for byte, a tampered sdist
//! uploaded with twine fails naming the registry, the version and both
//! digests, a version the index does not have fails naming it, bad
//! references are refused, and the upload credential stays out of every
//! output, the store and dist/.

use std::path::{Path, PathBuf};

use crate::common::python::tools;
use crate::common::{cmd, run, run_ok, write};

use super::pypi::pypiserver;
use super::support::{build, files_containing, kiln_in, released_python, PYPI_VERSION, VERSION};

const SDIST: &str = "mini_flow-0.3.0rc1.tar.gz";
const WHEEL: &str = "mini_flow-0.3.0rc1-py3-none-any.whl";
const TOKEN: &str = "pypi-kiln-VERIFY-token-7a2c91e0";

struct Setup {
    _tmp: tempfile::TempDir,
    tmp: PathBuf,
    root: PathBuf,
    store: PathBuf,
    home: PathBuf,
    packages: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().to_path_buf();
    let root = released_python(&t.join("mono"));
    let home = t.join("home");
    let packages = t.join("packages");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&packages).unwrap();
    Setup {
        store: t.join("store"),
        root,
        home,
        packages,
        tmp: t,
        _tmp: tmp,
    }
}

fn verify_ref(s: &Setup, reference: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["verify", reference, "--sandbox", "none", "--rev", VERSION];
    args.extend_from_slice(extra);
    run(&mut kiln_in(&s.root, &s.store, &s.home, &args))
}

fn sha256_hex(p: &Path) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

#[test]
fn what_publish_uploaded_verifies_from_the_index_and_the_token_stays_out() {
    if !tools(&["pypi-server", "python3"]) {
        return;
    }
    let s = setup();
    build(&s.root, &s.store, &s.home, &["mini-sdist", "mini-wheel"]);
    let htpasswd = s.home.join("htpasswd");
    run_ok(cmd("python3").args([
        "-c",
        "import sys\nfrom passlib.apache import HtpasswdFile\nh = HtpasswdFile(sys.argv[1], new=True)\nh.set_password('kiln', sys.argv[2])\nh.save()",
    ]).arg(&htpasswd).arg(TOKEN));
    let server = pypiserver(&s.packages, Some(&htpasswd));
    write(
        &s.home.join(".pypirc"),
        format!("[distutils]\nindex-servers = local\n\n[local]\nrepository = {}\nusername = kiln\npassword = {TOKEN}\n", server.url()),
    );
    let mut outputs = Vec::new();
    let out = run(&mut kiln_in(&s.root, &s.store, &s.home, &["publish"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    outputs.extend([out.stdout, out.stderr]);

    let reference = format!("pypi:mini-flow=={PYPI_VERSION}");
    let out = verify_ref(&s, &reference, &["--registry", "local", "--json"]);
    let v = super::support::json_success(&out);
    let reports = v.as_array().unwrap();
    let mut files: Vec<&str> = reports
        .iter()
        .map(|r| r["artifact"].as_str().unwrap())
        .collect();
    files.sort_unstable();
    assert_eq!(files, [WHEEL, SDIST]);
    for r in reports {
        assert_eq!(r["registry"], "local", "{r}");
        assert_eq!(r["name"], "mini-flow", "{r}");
        assert_eq!(r["registry_version"], PYPI_VERSION, "{r}");
        assert_eq!(r["outcome"], "bytes-identical", "{r}");
        let file = r["artifact"].as_str().unwrap();
        let ours = sha256_hex(&s.root.join("dist").join(file));
        assert_eq!(
            r["digest"],
            ours.as_str(),
            "the index states dist/'s digest"
        );
        assert_eq!(r["sha256"], ours.as_str());
        assert_eq!(r["rebuilt_sha256"], ours.as_str());
    }
    outputs.extend([out.stdout, out.stderr]);

    // The text report says the same.
    let out = verify_ref(&s, &reference, &["--registry", "local"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("verified at level Bytes").count(), 2, "{text}");
    outputs.extend([out.stdout, out.stderr]);

    for o in &outputs {
        assert!(!String::from_utf8_lossy(o).contains(TOKEN));
    }
    assert_eq!(
        files_containing(&s.store, TOKEN.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        files_containing(&s.root.join("dist"), TOKEN.as_bytes()),
        Vec::<PathBuf>::new()
    );
    // The downloads went to the store's temporary area and are gone.
    let tmp = s.store.join(".kiln/tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// The release's sdist with one more file in it, as a twine upload.
fn tampered_sdist(s: &Setup) -> PathBuf {
    let dir = s.tmp.join("tampered");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(SDIST);
    let script = "import sys, tarfile, io\nsrc, dst = sys.argv[1], sys.argv[2]\nwith tarfile.open(src) as a, tarfile.open(dst, 'w:gz') as b:\n    for m in a.getmembers():\n        b.addfile(m, a.extractfile(m) if m.isfile() else None)\n    data = b'planted\\n'\n    t = tarfile.TarInfo('mini_flow-0.3.0rc1/PLANTED')\n    t.size = len(data)\n    b.addfile(t, io.BytesIO(data))\n";
    run_ok(
        cmd("python3")
            .args(["-c", script])
            .arg(s.root.join("dist").join(SDIST))
            .arg(&out),
    );
    out
}

#[test]
fn a_tampered_upload_fails_naming_the_registry_version_and_both_digests() {
    if !tools(&["pypi-server", "twine", "python3"]) {
        return;
    }
    let s = setup();
    build(&s.root, &s.store, &s.home, &["mini-sdist"]);
    let server = pypiserver(&s.packages, None);
    let planted = tampered_sdist(&s);
    run_ok(
        cmd("twine")
            .args([
                "upload",
                "--non-interactive",
                "--repository-url",
                &server.url(),
                "-u",
                "anyone",
                "-p",
                "anything",
            ])
            .arg(&planted),
    );
    let registry = format!("local={}", server.url());
    let out = verify_ref(
        &s,
        &format!("pypi:mini-flow=={PYPI_VERSION}"),
        &["--registry", &registry],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in [
        "local",
        "mini-flow",
        PYPI_VERSION,
        SDIST,
        &sha256_hex(&planted),
        &sha256_hex(&s.root.join("dist").join(SDIST)),
        "NOT verified",
    ] {
        assert!(text.contains(part), "{part} not in: {text}");
    }
}

#[test]
fn a_version_the_index_lacks_fails_naming_it() {
    if !tools(&["pypi-server"]) {
        return;
    }
    let s = setup();
    let server = pypiserver(&s.packages, None);
    let registry = format!("local={}", server.url());
    let out = verify_ref(&s, "pypi:mini-flow==9.9.9", &["--registry", &registry]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("9.9.9") && err.contains("mini-flow") && err.contains("local"),
        "{err}"
    );
}

#[test]
fn bad_references_are_refused_before_any_fetch() {
    let s = setup();
    for (reference, part) in [
        ("pypi:mini-flow", "NAME==VERSION"),
        ("pypi:mini/../x==1", "not a PyPI project name"),
        ("npm:Mini@1.0.0", "not a npm package name"),
        ("oci:127.0.0.1:1/Mini:1", "not a repository name"),
        ("oci:127.0.0.1:1/mini@sha256:00", "not a sha256 digest"),
        ("pypi:mini\u{1b}[31m==1", "\\u{1b}"),
    ] {
        let out = verify_ref(&s, reference, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{reference}: {err}");
        assert!(err.contains(part), "{reference}: {part} not in {err}");
        assert!(!err.contains('\u{1b}'), "{err}");
    }
    // --registry needs a reference.
    let out = run(&mut kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &["verify", "dist/x.whl", "--registry", "local"],
    ));
    assert_eq!(out.status.code(), Some(2));
}

/// `kiln verify --all REV`, its JSON report.
fn verify_all(s: &Setup, registry: &str, code: i32) -> serde_json::Value {
    let out = run(&mut kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &[
            "verify",
            "--all",
            VERSION,
            "--registry",
            registry,
            "--sandbox",
            "none",
            "--json",
        ],
    ));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap()
}

/// `(file, check, served, rebuilt)` of each check, sorted.
fn checks(v: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let mut out: Vec<_> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("-").to_string();
            (s("file"), s("check"), s("served"), s("rebuilt"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn all_rebuilds_the_release_and_checks_every_file_on_the_registry() {
    if !tools(&["pypi-server", "twine", "python3"]) {
        return;
    }
    let s = setup();
    build(&s.root, &s.store, &s.home, &["mini-sdist", "mini-wheel"]);
    let (sdist, wheel) = (
        sha256_hex(&s.root.join("dist").join(SDIST)),
        sha256_hex(&s.root.join("dist").join(WHEEL)),
    );
    let server = pypiserver(&s.packages, None);
    let registry = format!("local={}", server.url());
    run_ok(&mut kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &["publish", "--registry", &registry],
    ));
    let v = verify_all(&s, &registry, 0);
    assert_eq!(v["tag"], VERSION);
    let b = "bytes-identical".to_string();
    assert_eq!(
        checks(&v),
        [
            (WHEEL.into(), b.clone(), wheel.clone(), wheel.clone()),
            (SDIST.into(), b.clone(), sdist.clone(), sdist.clone()),
        ]
    );

    // Another index holds a tampered sdist and no wheel.
    let other = s.tmp.join("other-packages");
    std::fs::create_dir_all(&other).unwrap();
    let server = pypiserver(&other, None);
    let planted = tampered_sdist(&s);
    run_ok(
        cmd("twine")
            .args([
                "upload",
                "--non-interactive",
                "--repository-url",
                &server.url(),
                "-u",
                "a",
                "-p",
                "b",
            ])
            .arg(&planted),
    );
    let v = verify_all(&s, &format!("local={}", server.url()), 1);
    assert_eq!(
        checks(&v),
        [
            (WHEEL.into(), "missing".into(), "-".into(), wheel),
            (
                SDIST.into(),
                "different".into(),
                sha256_hex(&planted),
                sdist
            ),
        ]
    );
}
