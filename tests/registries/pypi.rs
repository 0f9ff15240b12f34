//! `kiln publish` to a PyPI-compatible index: pypiserver on 127.0.0.1
//! (with an htpasswd it checks the credentials from `~/.pypirc`), pip
//! installing the wheel and the sdist from it, twine refused the same
//! version afterwards, the gate refusing other bytes before any upload,
//! and a rerun finishing a publish a failing server interrupted.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::python::{tools, venv};
use crate::common::{cmd, run, run_ok, write};

use super::support::{
    build, faulty_proxy, files_containing, free_port, hanging_proxy, kiln_in, released_python,
    Fault, Server, PYPI_VERSION,
};

const SDIST: &str = "mini_flow-0.3.0rc1.tar.gz";
const WHEEL: &str = "mini_flow-0.3.0rc1-py3-none-any.whl";
const TOKEN: &str = "pypi-kiln-TEST-token-5e1f0c9d";

/// pypiserver serving `packages`; with `htpasswd`, uploads need its
/// credentials, else anyone may upload.
pub fn pypiserver(packages: &Path, htpasswd: Option<&Path>) -> Server {
    let port = free_port();
    let mut c = cmd("pypi-server");
    c.args([
        "run",
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--disable-fallback",
    ]);
    match htpasswd {
        Some(h) => c.arg("-P").arg(h).args(["-a", "update"]),
        None => c.args(["-P", ".", "-a", "."]),
    };
    c.arg(packages).stdout(Stdio::null()).stderr(Stdio::null());
    Server::start(c, port)
}

/// A scratch area: the project, its store, a home directory, the server's
/// package directory.
struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    home: PathBuf,
    packages: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let root = released_python(&tmp.path().join("mono"));
    let home = tmp.path().join("home");
    let packages = tmp.path().join("packages");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&packages).unwrap();
    let s = Setup {
        store: tmp.path().join("store"),
        root,
        home,
        packages,
        _tmp: tmp,
    };
    build(&s.root, &s.store, &s.home, &["mini-sdist", "mini-wheel"]);
    s
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn sha256_hex(p: &Path) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

#[test]
fn publish_uploads_the_sealed_bytes_pip_installs_them_and_a_rerun_is_a_no_op() {
    if !tools(&["pypi-server", "pip", "twine", "python3"]) {
        return;
    }
    let s = setup();
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
    let mut publish = |args: &[&str]| {
        let out = run(&mut kiln_in(&s.root, &s.store, &s.home, args));
        outputs.push(out.stdout.clone());
        outputs.push(out.stderr.clone());
        out
    };

    let dry = publish(&["publish", "--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("upload") && text.contains(SDIST) && text.contains(WHEEL),
        "{text}"
    );
    assert!(listing(&s.packages).is_empty(), "a dry run uploads nothing");

    let first = publish(&["publish"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(listing(&s.packages), [WHEEL, SDIST]);
    for f in [SDIST, WHEEL] {
        assert_eq!(
            std::fs::read(s.packages.join(f)).unwrap(),
            std::fs::read(s.root.join("dist").join(f)).unwrap(),
            "{f}: the registry holds dist/'s bytes"
        );
    }

    // pip installs the wheel, and the sdist (built with the system's
    // hatchling), from the index.
    let index = format!("{}simple/", server.url());
    for (n, how) in [
        ("wheel", "--only-binary=:all:"),
        ("sdist", "--no-binary=:all:"),
    ] {
        let bin = venv(&s.home.join(format!("venv-{n}")), true);
        run_ok(
            cmd(bin.join("pip").to_str().unwrap())
                .args([
                    "install",
                    "-q",
                    "--no-deps",
                    "--no-build-isolation",
                    how,
                    "--index-url",
                    &index,
                ])
                .arg(format!("mini-flow=={PYPI_VERSION}")),
        );
        let shown = run_ok(cmd(bin.join("pip").to_str().unwrap()).args(["show", "mini-flow"]));
        assert!(
            shown.contains(&format!("Version: {PYPI_VERSION}")),
            "{shown}"
        );
    }

    // The registry refuses the same version from twine now.
    let twine = run(cmd("twine")
        .args([
            "upload",
            "--non-interactive",
            "--repository-url",
            &server.url(),
            "-u",
            "kiln",
            "-p",
            TOKEN,
        ])
        .arg(s.root.join("dist").join(SDIST)));
    assert!(!twine.status.success(), "twine re-uploaded the same file");

    let again = publish(&["publish", "--json"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    for step in v["steps"].as_array().unwrap() {
        assert_eq!(step["action"], "already-published", "{step}");
        assert_eq!(step["recorded"], true, "{step}");
    }
    assert_eq!(listing(&s.packages), [WHEEL, SDIST]);

    // The credential is in no output, nowhere in the store, nowhere in dist/.
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
}

#[test]
fn other_bytes_under_the_version_fail_before_any_upload() {
    if !tools(&["pypi-server"]) {
        return;
    }
    let s = setup();
    let planted = s.packages.join(SDIST);
    write(&planted, b"not the release's sdist");
    let server = pypiserver(&s.packages, None);
    let registry = format!("local={}", server.url());
    for args in [
        vec!["publish", "--dry-run", "--registry", &registry],
        vec!["publish", "--registry", &registry],
    ] {
        let out = run(&mut kiln_in(&s.root, &s.store, &s.home, &args));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for part in [
            "local",
            "mini",
            PYPI_VERSION,
            SDIST,
            &sha256_hex(&planted),
            &sha256_hex(&s.root.join("dist").join(SDIST)),
        ] {
            assert!(err.contains(part), "{part} not in: {err}");
        }
        assert_eq!(listing(&s.packages), [SDIST], "nothing was uploaded");
        assert_eq!(std::fs::read(&planted).unwrap(), b"not the release's sdist");
    }
}

#[test]
fn a_registry_failing_mid_publish_is_finished_by_a_rerun() {
    interrupted_then_rerun(Fault::Status500, "HTTP 500", "uploaded");
}

#[test]
fn a_registry_dropping_connections_mid_publish_is_finished_by_a_rerun() {
    // The wheel reached the server; only its answer was lost.
    interrupted_then_rerun(Fault::Drop, "after 6 attempt(s)", "already-published");
}

fn interrupted_then_rerun(fault: Fault, message: &str, wheel: &str) {
    if !tools(&["pypi-server"]) {
        return;
    }
    let s = setup();
    let server = pypiserver(&s.packages, None);
    let proxy = faulty_proxy(server.port, fault);
    let out = run(&mut kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &[
            "publish",
            "--registry",
            &format!("local=http://127.0.0.1:{proxy}/"),
        ],
    ));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(message), "{err}");
    let expected: &[&str] = match fault {
        Fault::Status500 => &[SDIST],
        Fault::Drop | Fault::RateLimitOnce => &[WHEEL, SDIST],
    };
    assert_eq!(listing(&s.packages), expected, "what reached the server");

    let out = run_ok(&mut kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &[
            "publish",
            "--json",
            "--registry",
            &format!("local={}", server.url()),
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<(&str, &str, bool)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["file"].as_str().unwrap(),
                s["action"].as_str().unwrap(),
                s["recorded"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [(SDIST, "already-published", true), (WHEEL, wheel, true)]
    );
    for f in [SDIST, WHEEL] {
        assert_eq!(
            std::fs::read(s.packages.join(f)).unwrap(),
            std::fs::read(s.root.join("dist").join(f)).unwrap()
        );
    }
}

#[test]
fn dev_builds_and_unbuilt_recipes_are_refused_before_the_network() {
    let tmp = tempfile::tempdir().unwrap();
    let root = released_python(&tmp.path().join("mono"));
    let store = tmp.path().join("store");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // Nothing listens here: reaching the network would be exit 3.
    let registry = format!("local=http://127.0.0.1:{}/", free_port());
    let publish = |args: &[&str]| {
        let mut all = vec!["publish", "--registry", &registry];
        all.extend_from_slice(args);
        run(&mut kiln_in(&root, &store, &home, &all))
    };
    let out = publish(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not built"));

    build(&root, &store, &home, &["mini-wheel"]);
    let out = publish(&["mini-sdist"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mini-sdist: not built"));
    let out = publish(&["mini-docs"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a recipe [publish] does not name"
    );

    crate::common::fixture::git(
        &root,
        &["commit", "-q", "--allow-empty", "-m", "after the release"],
    );
    let out = publish(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a release"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn store_bytes_that_differ_from_their_sealed_record_are_never_uploaded() {
    if !tools(&["pypi-server"]) {
        return;
    }
    let s = setup();
    let server = pypiserver(&s.packages, None);
    // The wheel's bytes in the store change after it was sealed.
    let v: serde_json::Value = serde_json::from_str(&run_ok(&mut kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &["build", "--json", "mini-wheel"],
    )))
    .unwrap();
    // A wheel's store output is the file itself.
    let wheel = PathBuf::from(v["recipes"][0]["store_path"].as_str().unwrap());
    let mut perms = std::fs::metadata(&wheel).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&wheel, perms).unwrap();
    let mut bytes = std::fs::read(&wheel).unwrap();
    bytes.push(0);
    std::fs::write(&wheel, bytes).unwrap();

    let out = run(&mut kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &["publish", "--registry", &format!("local={}", server.url())],
    ));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listing(&s.packages).is_empty(), "nothing was uploaded");
}

#[test]
fn a_publisher_killed_mid_upload_is_finished_by_a_rerun() {
    if !tools(&["pypi-server"]) {
        return;
    }
    let s = setup();
    let server = pypiserver(&s.packages, None);
    let (proxy, second_upload) = hanging_proxy(server.port);
    let mut child = kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &[
            "publish",
            "--registry",
            &format!("local=http://127.0.0.1:{proxy}/"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // kill -9 while the wheel's upload is on the wire.
    second_upload.recv().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(listing(&s.packages), [SDIST]);

    let out = run_ok(&mut kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &[
            "publish",
            "--json",
            "--registry",
            &format!("local={}", server.url()),
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<(&str, &str)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["file"].as_str().unwrap(), s["action"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [(SDIST, "already-published"), (WHEEL, "uploaded")]);
    assert_eq!(listing(&s.packages), [WHEEL, SDIST]);
}

#[test]
fn a_rate_limit_is_waited_out_within_the_run() {
    if !tools(&["pypi-server"]) {
        return;
    }
    let s = setup();
    let server = pypiserver(&s.packages, None);
    let proxy = faulty_proxy(server.port, Fault::RateLimitOnce);
    let out = run_ok(&mut kiln_in(
        &s.root,
        &s.store,
        &s.home,
        &[
            "publish",
            "--json",
            "--registry",
            &format!("local=http://127.0.0.1:{proxy}/"),
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for step in v["steps"].as_array().unwrap() {
        assert_eq!(step["action"], "uploaded", "{step}");
    }
    assert_eq!(listing(&s.packages), [WHEEL, SDIST]);
}
