//! What the registry tests share: a released project to publish, a free
//! port, a server process stopped when dropped, and a fault-injecting
//! proxy that answers 500 to uploads after the first.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::common::fixture::{git, monorepo_at, python_recipes};
use crate::common::{kiln, run_ok, write};

/// The version the fixture is released as, and its PEP 440 spelling.
pub const VERSION: &str = "0.3.0-rc.1";
pub const PYPI_VERSION: &str = "0.3.0rc1";

/// The monorepo with sdist and wheel recipes published to registry
/// `local`, committed and tagged as release `VERSION`.
pub fn released_python(dir: &Path) -> PathBuf {
    let root = monorepo_at(dir, false);
    python_recipes(&root);
    let policy = root.join("recipes/release.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n[publish]\nmini-sdist = \"local\"\nmini-wheel = \"local\"\n");
    write(&policy, text);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "python recipes, published"]);
    git(&root, &["tag", VERSION]);
    root
}

/// `kiln -C root --store store ARGS` with `HOME` at `home` (so that the
/// native configuration read is the test's own) and no `TWINE_*`.
pub fn kiln_in(root: &Path, store: &Path, home: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH")
        .env_remove("TWINE_USERNAME")
        .env_remove("TWINE_PASSWORD")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DOCKER_CONFIG")
        .env_remove("NPM_CONFIG_USERCONFIG")
        .env("HOME", home);
    c
}

/// Build `recipes` of the project into `store`.
pub fn build(root: &Path, store: &Path, home: &Path, recipes: &[&str]) {
    let mut args = vec!["build"];
    args.extend_from_slice(recipes);
    run_ok(&mut kiln_in(root, store, home, &args));
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Start `c` (which listens on `port`) and wait until it accepts
    /// connections; panics with its exit status if it stops first.
    pub fn start(mut c: Command, port: u16) -> Server {
        let child = c.spawn().unwrap_or_else(|e| panic!("starting {c:?}: {e}"));
        let mut s = Server { child, port };
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return s;
            }
            if let Some(status) = s.child.try_wait().unwrap() {
                panic!("{c:?} exited with {status} before listening");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

/// How [`faulty_proxy`] fails the uploads after the first.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answer 500.
    Status500,
    /// Forward the upload, then close the connection without its answer
    /// (a server killed after it stored the file, an answer lost).
    Drop,
    /// Answer the second upload's first attempt with 429 and
    /// `Retry-After: 1`, then forward (a rate limit).
    RateLimitOnce,
}

/// A proxy in front of `upstream` that forwards GETs and the first POST,
/// and answers every later POST with 500 (a registry failing mid-publish).
/// Returns its port; it runs until the test process ends.
pub fn failing_proxy(upstream: u16) -> u16 {
    faulty_proxy(upstream, Fault::Status500)
}

/// A proxy that forwards everything until the second upload, which it
/// holds without an answer; the receiver hears when that happened (the
/// moment to kill the publisher).
pub fn hanging_proxy(upstream: u16) -> (u16, std::sync::mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut posts = 0;
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let Some(request) = read_request(&mut conn) else {
                continue;
            };
            if request.starts_with(b"POST") {
                posts += 1;
                if posts > 1 {
                    held.push(conn);
                    let _ = tx.send(());
                    continue;
                }
            }
            if let Some(response) = exchange(upstream, &request) {
                let _ = conn.write_all(&response);
            }
        }
    });
    (port, rx)
}

/// [`failing_proxy`] with the failure chosen.
pub fn faulty_proxy(upstream: u16, fault: Fault) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut posts = 0;
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let Some(request) = read_request(&mut conn) else {
                continue;
            };
            if request.starts_with(b"POST") {
                posts += 1;
                if posts == 2 && matches!(fault, Fault::RateLimitOnce) {
                    let _ = conn.write_all(
                        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                }
                if posts > 1 && !matches!(fault, Fault::RateLimitOnce) {
                    match fault {
                        Fault::Status500 => {
                            let _ = conn.write_all(
                                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                        }
                        Fault::Drop | Fault::RateLimitOnce => {
                            let _ = exchange(upstream, &request);
                        }
                    }
                    continue;
                }
            }
            if let Some(response) = exchange(upstream, &request) {
                let _ = conn.write_all(&response);
            }
        }
    });
    port
}

/// Send one request to `upstream`; its whole answer.
pub fn exchange(upstream: u16, request: &[u8]) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).ok()?;
    up.write_all(request).ok()?;
    let mut response = Vec::new();
    up.read_to_end(&mut response).ok()?;
    Some(response)
}

/// One whole HTTP request (headers and `Content-Length` body), with
/// `Connection: close` so that each connection carries one exchange.
pub fn read_request(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut out = Vec::new();
    for line in head.trim_end().split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&buf[head_end..]);
    Some(out)
}

/// Every file below `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(e.path());
                }
            }
        }
    }
    hits
}

/// The monorepo with an image recipe published to registry `local`,
/// released as stable `1.0.0` (so that it carries alias tags); `extra`
/// adds a file to the image's documentation (another image, same version).
pub fn released_image(dir: &Path, home: &Path, extra: Option<&str>) -> PathBuf {
    let root = monorepo_at(dir, false);
    write(
        &root.join("recipes/docs-image.toml"),
        "surface = \"oci\"\nsource = \".\"\ninclude = [\"docs/**\", \"LICENSE\"]\n\n[oci]\nrepository = \"example.org/mini-docs\"\n\n[[oci.layers]]\nname = \"docs\"\nmap = { \"docs\" = \"/usr/share/doc/mini/\", \"LICENSE\" = \"/usr/share/doc/mini/LICENSE\" }\n",
    );
    let policy = root.join("recipes/release.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n[publish]\ndocs-image = \"local\"\n");
    write(&policy, text);
    if let Some(e) = extra {
        write(&root.join("docs/extra.md"), e);
    }
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "an image, published"]);
    let store = dir.with_extension("version-store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        home,
        &["version", "set", "1.0.0"],
    ));
    git(&root, &["commit", "-q", "-am", "release 1.0.0"]);
    git(&root, &["tag", "1.0.0"]);
    root
}

/// Run `kiln verify --all … --json` (`c`): it exits 0 and every check it
/// reports is `bytes-identical`; the recipes checked, sorted and
/// deduplicated, and the output (stdout, stderr).
pub fn verify_all_identical(c: &mut Command) -> (Vec<String>, [Vec<u8>; 2]) {
    let out = crate::common::run(c);
    let v = json_success(&out);
    let checks = v["checks"].as_array().unwrap();
    assert!(!checks.is_empty(), "{v}");
    let mut recipes: Vec<String> = checks
        .iter()
        .map(|c| {
            assert_eq!(c["check"], "bytes-identical", "{c}");
            c["recipe"].as_str().unwrap().to_string()
        })
        .collect();
    recipes.sort_unstable();
    recipes.dedup();
    (recipes, [out.stdout, out.stderr])
}

/// The JSON a command printed, which must have exited 0 (else its stdout
/// and stderr are shown).
pub fn json_success(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap()
}
