//! Binary caches over HTTP: nginx with its DAV module (PUT) on 127.0.0.1,
//! a server that fails intermittently (retries succeed), and one that is not
//! there (a clear error).

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::cache::{kiln_store, ok};
use common::nginx::Nginx;
use common::{cmd, kiln, require_tool, run, write};

fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let prefix = dir.join(name);
    let public = ok(&run(kiln()
        .args(["cache", "keygen", name, "--out"])
        .arg(&prefix)));
    (dir.join(format!("{name}.secret")), public)
}

/// A store holding one added tree; returns the store and the base name.
fn store_with_tree(dir: &Path) -> (PathBuf, String) {
    let store = dir.join("store-a");
    write(&dir.join("t/a.txt"), vec![b'a'; 200_000]);
    write(&dir.join("t/b/c.txt"), "c\n");
    let out = ok(&run(
        kiln_store(&store, &["store", "add"]).arg(dir.join("t"))
    ));
    (store, out.rsplit('/').next().unwrap().to_string())
}

#[test]
fn push_and_pull_through_nginx() {
    let Some(nginx) = Nginx::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (store, base) = store_with_tree(tmp.path());
    let (secret, public) = keygen(tmp.path(), "http-1");
    let url = nginx.url();
    let pushed = ok(&run(kiln_store(
        &store,
        &["cache", "push", &url, "--path", &base],
    )
    .arg("--signing-key")
    .arg(&secret)));
    assert_eq!(pushed, format!("pushed /nix/store/{base}"));
    assert!(nginx.root.join("nix-cache-info").is_file());
    assert!(nginx
        .root
        .join(format!("{}.narinfo", &base[..32]))
        .is_file());

    // Real Nix reads it over HTTP.
    if require_tool("nix") {
        let info = ok(&run(cmd("nix").args([
            "--extra-experimental-features",
            "nix-command",
            "path-info",
            "--store",
            &url,
            &format!("/nix/store/{base}"),
        ])));
        assert_eq!(info, format!("/nix/store/{base}"));
    }

    let fresh = tmp.path().join("fresh");
    let pulled = ok(&run(&mut kiln_store(
        &fresh,
        &[
            "cache",
            "pull",
            &url,
            "--path",
            &base,
            "--trusted-key",
            &public,
        ],
    )));
    assert_eq!(pulled, format!("pulled /nix/store/{base}"));
    ok(&run(&mut kiln_store(&fresh, &["store", "verify"])));
}

/// A minimal HTTP/1.1 file server over `root` that answers every second
/// request with 500 and any request without the basic-auth credentials
/// `ci:pw` with 401.
/// Returns the port, the number of 500s served and the keys stored by
/// successful PUTs, in order.
fn flaky_server(root: PathBuf) -> (u16, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let puts = Arc::new(Mutex::new(Vec::new()));
    let (f2, p2) = (failures.clone(), puts.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let root = root.clone();
            let (f3, p3) = (f2.clone(), p2.clone());
            std::thread::spawn(move || serve(stream, &root, n.is_multiple_of(2), &f3, &p3));
        }
    });
    (port, failures, puts)
}

fn serve(
    stream: TcpStream,
    root: &Path,
    fail: bool,
    failures: &AtomicUsize,
    puts: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts
        .next()
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    let mut len = 0usize;
    let mut authorized = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        // base64("ci:pw")
        authorized |= h.trim_end() == "authorization: Basic Y2k6cHc="
            || h.trim_end() == "Authorization: Basic Y2k6cHc=";
    }
    let mut body = vec![0u8; len];
    let _ = reader.read_exact(&mut body);
    let mut out = stream;
    let respond = |out: &mut TcpStream, status: &str, body: &[u8]| {
        let _ = write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = out.write_all(body);
    };
    if fail {
        failures.fetch_add(1, Ordering::SeqCst);
        return respond(&mut out, "500 Internal Server Error", b"try again");
    }
    if !authorized {
        return respond(&mut out, "401 Unauthorized", b"");
    }
    if path.contains("..") {
        return respond(&mut out, "403 Forbidden", b"");
    }
    let file = root.join(&path);
    match method.as_str() {
        "GET" => match std::fs::read(&file) {
            Ok(b) => respond(&mut out, "200 OK", &b),
            Err(_) => respond(&mut out, "404 Not Found", b""),
        },
        "PUT" => {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &body).unwrap();
            puts.lock().unwrap().push(path.clone());
            respond(&mut out, "201 Created", b"")
        }
        _ => respond(&mut out, "405 Method Not Allowed", b""),
    }
}

#[test]
fn intermittent_server_errors_are_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("served");
    std::fs::create_dir_all(&root).unwrap();
    let (port, failures, puts) = flaky_server(root.clone());
    // Credentials in the URL go out as basic authentication.
    let url = format!("http://ci:pw@127.0.0.1:{port}");
    let (store, base) = store_with_tree(tmp.path());
    // A registered build output too, so that a realisation is pushed.
    {
        let s = kiln::store::Store::open(&store).unwrap();
        let stage = s.staging().unwrap();
        let out = stage.path().join("o.txt");
        write(&out, "built\n");
        s.register_output(
            "drv0http",
            b"{}",
            &out,
            "o.txt",
            crate::common::meta("r", &[]),
        )
        .unwrap();
    }
    let (secret, public) = keygen(tmp.path(), "flaky-1");
    ok(&run(kiln_store(
        &store,
        &["cache", "push", &url, "--path", &base, "--drv", "drv0http"],
    )
    .arg("--signing-key")
    .arg(&secret)));
    // NARs before narinfos before realisations.
    let puts = puts.lock().unwrap().clone();
    let rank = |k: &String| match k.as_str() {
        "nix-cache-info" => 0,
        k if k.starts_with("nar/") => 1,
        k if k.ends_with(".narinfo") => 2,
        k if k.starts_with("realisations/") => 3,
        _ => 9,
    };
    let ranks: Vec<u8> = puts.iter().map(rank).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "upload order: {puts:?}"
    );
    assert_eq!(ranks.iter().filter(|r| **r == 1).count(), 2, "{puts:?}");
    assert_eq!(ranks.iter().filter(|r| **r == 3).count(), 1, "{puts:?}");

    let fresh = tmp.path().join("fresh");
    let pulled = ok(&run(&mut kiln_store(
        &fresh,
        &[
            "cache",
            "pull",
            &url,
            "--path",
            &base,
            "--drv",
            "drv0http",
            "--trusted-key",
            &public,
        ],
    )));
    assert!(
        pulled.contains(&format!("pulled /nix/store/{base}")),
        "{pulled}"
    );
    assert!(pulled.contains("pulled realisation drv0http"), "{pulled}");
    assert!(
        failures.load(Ordering::SeqCst) >= 4,
        "the server never failed"
    );
    ok(&run(&mut kiln_store(&fresh, &["store", "verify"])));

    // Wrong credentials: a clear error that never shows the password.
    let out = run(&mut kiln_store(
        &tmp.path().join("fresh2"),
        &[
            "cache",
            "pull",
            &format!("http://ci:wrong@127.0.0.1:{port}"),
            "--path",
            &base,
            "--trusted-key",
            &public,
        ],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("ci:***@") && !err.contains("wrong"), "{err}");
}

#[test]
fn connection_refused_is_a_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let (_, public) = keygen(tmp.path(), "k-1");
    let out = run(&mut kiln_store(
        &tmp.path().join("s"),
        &[
            "cache",
            "pull",
            &url,
            "--path",
            "if2l83kc9xc6imigiw8g3mmvl0sg9cv8-f.txt",
            "--trusted-key",
            &public,
        ],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}/nix-cache-info")),
        "{err}"
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");
}
