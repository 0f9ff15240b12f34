//! Binary caches and the keys a repository brings ("Trust, round two",
//! points 1, 7, 8, 9 and 10, cache side): a clone's `release.toml` key is
//! not trusted until the user accepts it, and a signed realisation's
//! artifact names never leave `dist/`; a NAR is bounded by its signed
//! `NarSize` and by the room in the store; a cache that trickles is given
//! up on after a deadline; an oversized record is a refused entry; a FIFO
//! or a link in a directory cache is refused without waiting. Every user
//! has its own state, configuration and home (a canary, checked untouched).

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::canary::Canary;
use common::fixture::git;
use common::{cmd, kiln, run, write};
use kiln::cache::layout::CacheRealisation;
use kiln::cache::narinfo::NarInfo;

/// One user on one machine: its own state directory (store key),
/// configuration directory and home.
struct Machine {
    state: PathBuf,
    config: PathBuf,
    home: PathBuf,
}

impl Machine {
    fn new(dir: &Path, home: &Path) -> Machine {
        std::fs::create_dir_all(home).unwrap();
        Machine {
            state: dir.join("state"),
            config: dir.join("config"),
            home: home.to_path_buf(),
        }
    }

    fn kiln(&self, root: &Path, store: &Path, args: &[&str]) -> Command {
        let mut c = kiln();
        c.arg("-C").arg(root).arg("--store").arg(store).args(args);
        c.env("XDG_STATE_HOME", &self.state)
            .env("XDG_CONFIG_HOME", &self.config)
            .env("HOME", &self.home)
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("KILN_TRUSTED_PUBLIC_KEYS")
            .env_remove("KILN_SIGNING_KEY_FILE")
            .env_remove("KILN_CACHE_DEADLINE_SECS");
        c
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "kiln failed: {}", text(&out));
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `kiln cache keygen NAME` into `dir`: the secret key file and the public key.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    std::fs::create_dir_all(dir).unwrap();
    let out = ok(run(kiln()
        .args(["cache", "keygen", name, "--out"])
        .arg(dir.join(name))));
    let public = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (dir.join(format!("{name}.secret")), public)
}

/// A committed project with one `tarball` recipe; `release_extra` is
/// appended to its `recipes/release.toml`.
fn project(dir: &Path, release_extra: &str) -> PathBuf {
    write(&dir.join("src/hello.txt"), "hello, world\n");
    write(
        &dir.join("recipes/app.toml"),
        "surface = \"tarball\"\nsource = \"src\"\n",
    );
    write(
        &dir.join("recipes/release.toml"),
        format!("[version]\nsource = \"file:VERSION\"\n{release_extra}"),
    );
    write(&dir.join("VERSION"), "1.0.0\n");
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "project"]);
    dir.to_path_buf()
}

/// The statuses of `kiln build --json`, by recipe.
fn statuses(out: &Output) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("build --json");
    v["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The one realisation record in a directory cache.
fn the_realisation(cache: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache.join("realisations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.pop().unwrap()
}

/// Realisations registered in a store.
fn realisations_in(store: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(store.join(".kiln/realisations"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// Paths a store holds as valid.
fn valid_in(store: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(store.join(".kiln/valid"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// A project built by `owner` and pushed, signed with `owner`'s key, to a
/// directory cache: what an attacker (or a CI) publishes.
struct Published {
    root: PathBuf,
    cache: PathBuf,
    secret: PathBuf,
    public: String,
}

impl Published {
    fn new(dir: &Path, key_name: &str, repo_key: bool) -> Published {
        let owner = Machine::new(dir, &dir.join("home"));
        let (secret, public) = keygen(&dir.join("keys"), key_name);
        let extra = if repo_key {
            format!("[cache]\ntrusted-public-keys = [\"{public}\"]\n")
        } else {
            String::new()
        };
        let root = project(&dir.join("repo"), &extra);
        let cache = dir.join("cache");
        let url = format!("file://{}", cache.display());
        ok(run(owner
            .kiln(
                &root,
                &dir.join("store"),
                &["build", "--cache", &url, "--push"],
            )
            .arg("--signing-key")
            .arg(&secret)));
        Published {
            root,
            cache,
            secret,
            public,
        }
    }

    fn url(&self) -> String {
        format!("file://{}", self.cache.display())
    }

    /// Rewrite the realisation's recorded artifacts with `f` and sign it
    /// again with the owner's key, as its owner can.
    fn forge_artifacts(&self, f: impl Fn(&mut Vec<kiln::store::Artifact>)) {
        let path = the_realisation(&self.cache);
        let mut rec: CacheRealisation =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        f(&mut rec.meta.artifacts);
        rec.signatures.clear();
        rec.sign(&kiln::cache::keys::read_secret_key(&self.secret).unwrap());
        std::fs::write(&path, rec.to_json()).unwrap();
    }

    /// A clone of the project at `dir/repo`.
    fn clone_into(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        git(dir, &["clone", "-q", self.root.to_str().unwrap(), "repo"]);
        dir.join("repo")
    }
}

/// Point 1: the attack as reported. The attacker's repository lists the
/// attacker's key in `recipes/release.toml`; the attacker's cache serves a
/// signed realisation whose artifact `file` is `../../home/.bashrc`.
#[test]
fn a_cloned_repository_key_is_not_trusted_and_no_artifact_name_leaves_dist() {
    let tmp = tempfile::tempdir().unwrap();
    let attacker = Published::new(&tmp.path().join("attacker"), "attacker.example-1", true);
    attacker.forge_artifacts(|a| a[0].file = "../../home/.bashrc".into());

    let victim_dir = tmp.path().join("victim");
    let canary = Canary::new(&victim_dir);
    let victim = Machine::new(&victim_dir, &canary.home);
    let root = attacker.clone_into(&victim_dir);
    let url = attacker.url();
    let dist = root.join("dist");

    // No key of the victim's own: the repository's key is only proposed,
    // the entry is skipped saying so, and the recipe is built here.
    let out = ok(run(&mut victim.kiln(
        &root,
        &victim_dir.join("store-1"),
        &["build", "--json", "--cache", &url],
    )));
    let err = stderr(&out);
    assert!(
        err.contains("skipped")
            && err.contains("attacker.example-1")
            && err.contains("recipes/release.toml")
            && err.contains("--accept-repo-keys"),
        "{err}"
    );
    assert!(statuses(&out).values().all(|s| s == "built"), "{err}");
    assert!(dist.join("SHA256SUMS").is_file());
    canary.assert_untouched();

    // `kiln cache pull` skips it the same way: a refused entry, exit 1.
    let store = victim_dir.join("store-2");
    let out = run(&mut victim.kiln(&root, &store, &["cache", "pull", &url]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("attacker.example-1") && stderr(&out).contains("skipped"),
        "{}",
        text(&out)
    );
    assert!(realisations_in(&store).is_empty());

    // Accepted: the key is trusted, the signature verifies, and the
    // traversal name is refused all the same. The build goes on locally.
    let out = ok(run(&mut victim.kiln(
        &root,
        &victim_dir.join("store-3"),
        &["build", "--json", "--cache", &url, "--accept-repo-keys"],
    )));
    let err = stderr(&out);
    assert!(
        err.contains("`../../home/.bashrc`") && err.contains("refused"),
        "{err}"
    );
    assert!(statuses(&out).values().all(|s| s == "built"), "{err}");
    canary.assert_untouched();

    let store = victim_dir.join("store-4");
    let out = run(&mut victim.kiln(
        &root,
        &store,
        &["cache", "pull", &url, "--accept-repo-keys"],
    ));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("`../../home/.bashrc`"),
        "{}",
        text(&out)
    );
    assert!(realisations_in(&store).is_empty());
    assert!(valid_in(&store).is_empty());

    // The same name under --trust-unsigned, and an absolute `path` inside
    // the output, signed by a key the user trusts: refused too.
    let out = run(&mut victim.kiln(&root, &store, &["cache", "pull", &url, "--trust-unsigned"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("`../../home/.bashrc`"),
        "{}",
        text(&out)
    );
    attacker.forge_artifacts(|a| {
        a[0].file = "app.tar.gz".into();
        a[0].path = "/etc/passwd".into();
    });
    let out = run(victim
        .kiln(&root, &store, &["cache", "pull", &url, "--trusted-key"])
        .arg(&attacker.public));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("`/etc/passwd`"), "{}", text(&out));
    assert!(realisations_in(&store).is_empty());
    canary.assert_untouched();
}

/// Point 1, the user's word: a key listed in the user's own configuration
/// file (`$XDG_CONFIG_HOME/kiln/config.toml`) is trusted without a flag.
#[test]
fn a_key_in_the_users_configuration_is_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let ci = Published::new(&tmp.path().join("ci"), "ci.example-1", false);
    let dir = tmp.path().join("user");
    let canary = Canary::new(&dir);
    let user = Machine::new(&dir, &canary.home);
    let root = ci.clone_into(&dir);
    write(
        &user.config.join("kiln/config.toml"),
        format!("[cache]\ntrusted-public-keys = [\"{}\"]\n", ci.public),
    );
    let out = ok(run(&mut user.kiln(
        &root,
        &dir.join("store"),
        &["build", "--json", "--cache", &ci.url()],
    )));
    assert!(
        statuses(&out).values().all(|s| s == "substituted"),
        "{}",
        text(&out)
    );
    canary.assert_untouched();
}

/// What the hostile server does with a request path.
#[derive(Clone, Copy)]
enum Rule {
    /// Serve the file as it is.
    Plain,
    /// 200 with no length, then bytes until the client hangs up (at most
    /// [`ENDLESS_CAP`]).
    Endless,
    /// The file's length, then its first bytes one every [`TRICKLE_GAP`]
    /// (at most [`TRICKLE_BYTES`] of them), then the rest.
    Trickle,
}

const ENDLESS_CAP: u64 = 256 << 20;
const TRICKLE_GAP: Duration = Duration::from_millis(300);
const TRICKLE_BYTES: usize = 40;

/// What the server sent: the paths requested, in order, and the bytes of
/// body for each.
#[derive(Default)]
struct Sent {
    requests: Vec<String>,
    bytes: BTreeMap<String, u64>,
}

/// A tiny HTTP server on 127.0.0.1 serving a directory by [`Rule`]s; it
/// counts what it sent per path and stops on drop.
struct Hostile {
    url: String,
    stop: Arc<AtomicBool>,
    sent: Arc<Mutex<Sent>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hostile {
    fn start(root: PathBuf, rule: fn(&str) -> Rule) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(Mutex::new(Sent::default()));
        let (s, n) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            // At most ten minutes of polling, then the server stops itself.
            for _ in 0..60_000 {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (root, s, n) = (root.clone(), s.clone(), n.clone());
                        std::thread::spawn(move || serve(conn, &root, rule, &s, &n));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Hostile {
            url,
            stop,
            sent,
            thread: Some(thread),
        }
    }

    /// Bytes of body sent for each path requested.
    fn sent(&self) -> BTreeMap<String, u64> {
        self.sent.lock().unwrap().bytes.clone()
    }

    /// The paths requested, in order.
    fn requests(&self) -> Vec<String> {
        self.sent.lock().unwrap().requests.clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answer one request on `conn` (one request per connection).
fn serve(
    mut conn: TcpStream,
    root: &Path,
    rule: fn(&str) -> Rule,
    stop: &AtomicBool,
    sent: &Mutex<Sent>,
) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
    sent.lock().unwrap().requests.push(path.clone());
    let count = |n: u64| *sent.lock().unwrap().bytes.entry(path.clone()).or_default() += n;
    let file = root.join(path.trim_start_matches('/'));
    let body = match std::fs::read(&file) {
        Ok(b) if !path.contains("..") => b,
        _ => {
            let _ = conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
    };
    match rule(&path) {
        Rule::Plain => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            if conn.write_all(head.as_bytes()).is_ok() && conn.write_all(&body).is_ok() {
                count(body.len() as u64);
            }
        }
        Rule::Endless => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![0x5a_u8; 1 << 20];
            let mut n = 0;
            while n < ENDLESS_CAP && !stop.load(Ordering::Relaxed) {
                if conn.write_all(&chunk).is_err() {
                    break;
                }
                n += chunk.len() as u64;
                count(chunk.len() as u64);
            }
        }
        Rule::Trickle => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            let slow = body.len().min(TRICKLE_BYTES);
            for b in &body[..slow] {
                if stop.load(Ordering::Relaxed) || conn.write_all(&[*b]).is_err() {
                    return;
                }
                count(1);
                std::thread::sleep(TRICKLE_GAP);
            }
            if conn.write_all(&body[slow..]).is_ok() {
                count((body.len() - slow) as u64);
            }
        }
    }
}

/// One path added to a store and pushed, signed and zstd-compressed, to a
/// directory cache: its base name, the cache, the key files.
struct OnePath {
    dir: PathBuf,
    base: String,
    cache: PathBuf,
    secret: PathBuf,
    public: String,
}

impl OnePath {
    fn new(dir: &Path, m: &Machine) -> OnePath {
        let store = dir.join("store-a");
        write(&dir.join("payload/x.txt"), vec![b'x'; 100_000]);
        let out = ok(run(m
            .kiln(dir, &store, &["store", "add"])
            .arg(dir.join("payload"))));
        let base = String::from_utf8_lossy(&out.stdout)
            .trim()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        let (secret, public) = keygen(&dir.join("keys"), "cache.example-1");
        let cache = dir.join("cache");
        let url = format!("file://{}", cache.display());
        ok(run(m
            .kiln(dir, &store, &["cache", "push", &url, "--path", &base])
            .arg("--signing-key")
            .arg(&secret)));
        OnePath {
            dir: dir.to_path_buf(),
            base,
            cache,
            secret,
            public,
        }
    }

    fn narinfo(&self) -> PathBuf {
        self.cache.join(format!("{}.narinfo", &self.base[..32]))
    }

    /// Rewrite the narinfo with `f`, signed again by the cache's key.
    fn resign(&self, f: impl Fn(&mut NarInfo)) {
        let mut info = NarInfo::parse(&std::fs::read_to_string(self.narinfo()).unwrap()).unwrap();
        f(&mut info);
        info.sigs.clear();
        info.sign(&kiln::cache::keys::read_secret_key(&self.secret).unwrap());
        std::fs::write(self.narinfo(), info.render()).unwrap();
    }

    /// `kiln cache pull URL --path BASE` into a fresh store.
    fn pull(&self, m: &Machine, url: &str, store: &str) -> (Output, PathBuf) {
        let store = self.dir.join(store);
        let out = run(m
            .kiln(
                &self.dir,
                &store,
                &["cache", "pull", url, "--path", &self.base, "--trusted-key"],
            )
            .arg(&self.public));
        (out, store)
    }
}

/// Exit 1 naming `what` and `needle`, nothing in the store.
fn refused(out: &Output, store: &Path, what: &str, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let err = stderr(out);
    assert!(err.contains(what), "expected {what:?}: {err}");
    assert!(err.contains(needle), "expected {needle:?}: {err}");
    assert!(valid_in(store).is_empty(), "something was registered");
    assert!(
        realisations_in(store).is_empty(),
        "something was registered"
    );
}

/// Point 7: a narinfo without `FileSize`/`FileHash` (neither is signed)
/// over a NAR that never ends: the download stops at what the signed
/// `NarSize` can compress to. A signed `NarSize` the store's filesystem
/// has no room for is refused before anything is downloaded.
#[test]
fn a_nar_is_bounded_by_its_signed_size_and_by_the_room_in_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let m = Machine::new(tmp.path(), &canary.home);
    let p = OnePath::new(&tmp.path().join("c"), &m);
    p.resign(|info| {
        info.file_size = None;
        info.file_hash = None;
    });
    let server = Hostile::start(p.cache.clone(), |path| {
        if path.starts_with("/nar/") {
            Rule::Endless
        } else {
            Rule::Plain
        }
    });
    let (out, store) = p.pull(&m, &server.url, "store-endless");
    refused(&out, &store, &p.base, "larger than its narinfo allows");
    let nar: u64 = server
        .sent()
        .iter()
        .filter(|(k, _)| k.starts_with("/nar/"))
        .map(|(_, n)| *n)
        .sum();
    // The server would have sent 256 MiB; what kiln read is a NAR of
    // 100 kB and socket buffers.
    assert!(nar < 64 << 20, "kiln took {nar} bytes of an endless NAR");

    // A signed NarSize of a pebibyte: no filesystem here has the room.
    p.resign(|info| info.nar_size = 1 << 50);
    let before = server.requests().len();
    let (out, store) = p.pull(&m, &server.url, "store-room");
    refused(&out, &store, &p.base, "bytes free");
    let asked = server.requests().split_off(before);
    assert!(
        !asked.iter().any(|k| k.starts_with("/nar/")),
        "the NAR was requested: {asked:?}"
    );
    drop(server);
    canary.assert_untouched();
}

/// Point 8: a cache that sends a NAR one byte at a time. With a short
/// deadline (`KILN_CACHE_DEADLINE_SECS`), `pull` gives up and names the
/// object; `build --cache` names the cache and builds the recipe itself.
#[test]
fn a_trickling_cache_is_given_up_after_its_deadline_and_the_build_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let ci = Published::new(&tmp.path().join("ci"), "ci.example-1", false);
    let server = Hostile::start(ci.cache.clone(), |path| {
        if path.starts_with("/nar/") {
            Rule::Trickle
        } else {
            Rule::Plain
        }
    });
    let dir = tmp.path().join("user");
    let canary = Canary::new(&dir);
    let user = Machine::new(&dir, &canary.home);
    let root = ci.clone_into(&dir);

    let out = ok(run(user
        .kiln(
            &root,
            &dir.join("store-build"),
            &["build", "--json", "--cache", &server.url, "--trusted-key"],
        )
        .arg(&ci.public)
        .env("KILN_CACHE_DEADLINE_SECS", "2")));
    let err = stderr(&out);
    assert!(statuses(&out).values().all(|s| s == "built"), "{err}");
    assert!(
        err.contains(&server.url) && err.contains("too slow"),
        "{err}"
    );

    let store = dir.join("store-pull");
    let out = run(user
        .kiln(
            &root,
            &store,
            &["cache", "pull", &server.url, "--trusted-key"],
        )
        .arg(&ci.public)
        .env("KILN_CACHE_DEADLINE_SECS", "2"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stderr(&out).contains("/nar/") && stderr(&out).contains("KILN_CACHE_DEADLINE_SECS"),
        "{}",
        text(&out)
    );
    assert!(realisations_in(&store).is_empty());
    assert!(valid_in(&store).is_empty());

    // A deadline that is not a number of seconds is bad input.
    let out = run(user
        .kiln(
            &root,
            &store,
            &["cache", "pull", &server.url, "--trusted-key"],
        )
        .arg(&ci.public)
        .env("KILN_CACHE_DEADLINE_SECS", "soon"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("KILN_CACHE_DEADLINE_SECS"),
        "{}",
        text(&out)
    );
    drop(server);
    canary.assert_untouched();
}

/// Point 9: a narinfo over 1 MiB and a realisation over 16 MiB are bad
/// data from the cache: refused entries, exit 1, like any other.
#[test]
fn an_oversized_narinfo_or_realisation_is_a_refused_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let m = Machine::new(tmp.path(), &canary.home);
    let p = OnePath::new(&tmp.path().join("c"), &m);
    let url = format!("file://{}", p.cache.display());
    let mut text_big = std::fs::read_to_string(p.narinfo()).unwrap();
    text_big.push_str(&"X-Padding: 0123456789abcdef\n".repeat(40_000));
    std::fs::write(p.narinfo(), text_big).unwrap();
    let (out, store) = p.pull(&m, &url, "store-narinfo");
    refused(&out, &store, &p.base, "larger than 1048576 bytes");

    write(
        &p.cache.join("realisations/drv0big.json"),
        vec![b' '; 17 << 20],
    );
    let store = p.dir.join("store-realisation");
    let out = run(m
        .kiln(
            &p.dir,
            &store,
            &["cache", "pull", &url, "--drv", "drv0big", "--trusted-key"],
        )
        .arg(&p.public));
    refused(
        &out,
        &store,
        "realisation drv0big",
        "larger than 16777216 bytes",
    );
    canary.assert_untouched();
}

/// Run `c`, giving up (and failing) if it has not finished after two
/// minutes: what a hang looks like here.
fn run_bounded(c: &mut Command) -> Output {
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..1200 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("kiln hangs: {c:?}");
}

/// Point 10: a directory cache whose narinfo is a FIFO, or a link to a file
/// elsewhere: refused at once (exit 1, naming it), never waited on or
/// followed.
#[test]
fn a_fifo_or_a_link_in_a_directory_cache_is_refused_without_waiting() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let m = Machine::new(tmp.path(), &canary.home);
    let p = OnePath::new(&tmp.path().join("c"), &m);
    let url = format!("file://{}", p.cache.display());
    let narinfo = p.narinfo();
    let name = narinfo.file_name().unwrap().to_str().unwrap().to_string();

    std::fs::remove_file(&narinfo).unwrap();
    common::run_ok(cmd("mkfifo").arg(&narinfo));
    let store = p.dir.join("store-fifo");
    let out = run_bounded(
        m.kiln(
            &p.dir,
            &store,
            &["cache", "pull", &url, "--path", &p.base, "--trusted-key"],
        )
        .arg(&p.public),
    );
    refused(&out, &store, &name, "not a regular file");

    std::fs::remove_file(&narinfo).unwrap();
    std::os::unix::fs::symlink(canary.dir.join("keep/secret.txt"), &narinfo).unwrap();
    let store = p.dir.join("store-link");
    let out = run_bounded(
        m.kiln(
            &p.dir,
            &store,
            &["cache", "pull", &url, "--path", &p.base, "--trusted-key"],
        )
        .arg(&p.public),
    );
    refused(&out, &store, &name, "symbolic link");
    canary.assert_untouched();
}
