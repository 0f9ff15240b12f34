//! `kiln verify` against a registry that lies: a static PyPI index
//! (python's http.server) whose `#sha256=` fragment is not the file's, and
//! one whose link names a file outside the download directory. Both stop
//! with exit 1 before anything is rebuilt, naming what is wrong, and
//! nothing is left in the store's temporary area.

use std::path::Path;
use std::process::Stdio;

use crate::common::python::tools;
use crate::common::{cmd, run, write};

use super::support::{free_port, kiln_in, released_python, Server};

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(b))
}

/// A static index at `dir` whose project `mini-flow` links `text` to
/// `files/payload` with the fragment `fragment`.
fn index(dir: &Path, text: &str, fragment: &str) -> Server {
    write(&dir.join("files/payload"), b"payload\n");
    write(
        &dir.join("simple/mini-flow/index.html"),
        format!("<html><body><a href=\"../../files/payload#sha256={fragment}\">{text}</a></body></html>"),
    );
    let port = free_port();
    let mut c = cmd("python3");
    c.args([
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        &port.to_string(),
        "--directory",
    ])
    .arg(dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    Server::start(c, port)
}

fn verify(t: &Path, server: &Server, version: &str) -> (i32, String) {
    let root = released_python(&t.join("mono"));
    let home = t.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let store = t.join("store");
    let out = run(&mut kiln_in(
        &root,
        &store,
        &home,
        &[
            "verify",
            &format!("pypi:mini-flow=={version}"),
            "--registry",
            &format!("evil={}", server.url()),
            "--rev",
            "HEAD",
        ],
    ));
    let left: Vec<_> = std::fs::read_dir(store.join(".kiln/tmp"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_file_other_than_the_index_states_stops_the_verify() {
    if !tools(&["python3"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let stated = "0".repeat(64);
    let server = index(&tmp.path().join("index"), "mini_flow-1.0.tar.gz", &stated);
    let (code, err) = verify(tmp.path(), &server, "1.0");
    assert_eq!(code, 1, "{err}");
    for part in [
        "evil",
        "mini-flow",
        "1.0",
        "mini_flow-1.0.tar.gz",
        stated.as_str(),
        &sha256_hex(b"payload\n"),
    ] {
        assert!(err.contains(part), "{part} not in {err}");
    }
}

#[test]
fn a_file_name_outside_the_download_directory_is_refused() {
    if !tools(&["python3"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = index(
        &tmp.path().join("index"),
        "../../../mini_flow-2.0.tar.gz",
        &sha256_hex(b"payload\n"),
    );
    let (code, err) = verify(tmp.path(), &server, "2.0");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a portable file name"), "{err}");
    assert!(!tmp.path().join("store/mini_flow-2.0.tar.gz").exists());
    assert!(!tmp.path().join("store/.kiln/mini_flow-2.0.tar.gz").exists());
}
