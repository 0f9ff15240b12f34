//! What the cargo registry tests share: ktra (a real cargo registry) on
//! 127.0.0.1 over a git index in a bare repository (`file://`), a user
//! and its token made through ktra's API, the user's cargo configuration
//! naming it, the monorepo's crate recipe released, and a proxy in front
//! of the registry's Web API that fails uploads until it is healed.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use crate::common::fixture::{git, monorepo_at};
use crate::common::{cmd, run_ok, write};

use super::support::{exchange, read_request, Server, VERSION};

/// The `.crate` files the monorepo's `mini-crates` recipe makes.
pub const CLI_CRATE: &str = "mini-cli-0.3.0-rc.1.crate";
pub const CORE_CRATE: &str = "mini-core-0.3.0-rc.1.crate";

/// A ktra server with its index.
#[derive(Debug)]
pub struct Ktra {
    pub server: Server,
    /// The bare repository ktra pushes its index to.
    pub index: PathBuf,
    /// Its configuration file.
    config: PathBuf,
}

impl Ktra {
    /// Kill ktra (`kill -9`) and wait for it.
    pub fn kill(&mut self) {
        self.server.child.kill().unwrap();
        self.server.child.wait().unwrap();
    }

    /// Start ktra again on its port, with its database and index.
    pub fn restart(&mut self) {
        self.server = start(&self.config, self.server.port);
    }

    /// The index URL as cargo's configuration spells it.
    pub fn index_url(&self) -> String {
        format!("file://{}", self.index.display())
    }

    /// The index file of crate `name` (`mi/ni/mini-core`) at the index's
    /// head, as `cargo` would read it; `None` when there is none.
    pub fn entries(&self, name: &str) -> Option<Vec<serde_json::Value>> {
        let path = format!("{}/{}/{name}", &name[..2], &name[2..4]);
        let out = cmd("git")
            .arg("--git-dir")
            .arg(&self.index)
            .args(["show", &format!("main:{path}")])
            .output()
            .unwrap();
        out.status.success().then(|| {
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        })
    }

    /// The index's head commit.
    pub fn head(&self) -> String {
        run_ok(
            cmd("git")
                .arg("--git-dir")
                .arg(&self.index)
                .args(["rev-parse", "main"]),
        )
    }

    /// Create user `name` through ktra's API; its token.
    pub fn add_user(&self, name: &str) -> String {
        let script = "import json, sys, urllib.request\nurl, name = sys.argv[1], sys.argv[2]\nreq = urllib.request.Request(url + 'ktra/api/v1/new_user/' + name, method='POST', data=json.dumps({'password': 'pw-' + name}).encode(), headers={'content-type': 'application/json'})\nprint(json.load(urllib.request.urlopen(req))['token'])";
        run_ok(cmd("python3").args(["-c", script, &self.server.url(), name]))
    }
}

/// Start ktra below `dir`: a bare index repository whose `config.json`
/// sends downloads to ktra and the Web API to `api` (ktra's own port when
/// `None`: give a proxy's port to put one in front).
pub fn ktra(dir: &Path, port: u16, api: Option<u16>) -> Ktra {
    let index = dir.join("index.git");
    std::fs::create_dir_all(&index).unwrap();
    run_ok(
        cmd("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&index),
    );
    let seed = dir.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    write(
        &seed.join("config.json"),
        format!(
            "{{\"dl\":\"http://127.0.0.1:{port}/dl\",\"api\":\"http://127.0.0.1:{}\"}}\n",
            api.unwrap_or(port)
        ),
    );
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "index"]);
    git(
        &seed,
        &["push", "-q", &format!("file://{}", index.display()), "main"],
    );
    let config = dir.join("ktra.toml");
    let d = dir.display();
    write(
        &config,
        format!(
            "[index_config]\nremote_url = \"file://{}\"\nlocal_path = \"{d}/local\"\nbranch = \"main\"\n\n[db_config]\ndb_dir_path = \"{d}/db\"\n\n[crate_files_config]\ndl_dir_path = \"{d}/crates\"\ncache_dir_path = \"{d}/cache\"\n\n[server_config]\naddress = [127, 0, 0, 1]\nport = {port}\n",
            index.display()
        ),
    );
    Ktra {
        server: start(&config, port),
        index,
        config,
    }
}

/// ktra with configuration `config`, listening on `port`.
fn start(config: &Path, port: u16) -> Server {
    let mut c = cmd("ktra");
    c.arg("-c")
        .arg(config)
        .current_dir(config.parent().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Server::start(c, port)
}

/// `$CARGO_HOME` below `home` naming registry `local` at `index`, with
/// `token` in `credentials.toml` when given.
pub fn cargo_home(home: &Path, index: &str, token: Option<&str>) -> PathBuf {
    let cargo_home = home.join(".cargo");
    write(
        &cargo_home.join("config.toml"),
        format!("[registries.local]\nindex = \"{index}\"\n"),
    );
    if let Some(t) = token {
        write(
            &cargo_home.join("credentials.toml"),
            format!("[registries.local]\ntoken = \"{t}\"\n"),
        );
    }
    cargo_home
}

/// The monorepo with its crate recipe (of `packages`, all when empty)
/// published to `local`, tagged as a release; `extra` changes mini-core
/// (another `.crate`, same version).
pub fn released_crates(dir: &Path, packages: &[&str], extra: Option<&str>) -> PathBuf {
    let root = monorepo_at(dir, false);
    if !packages.is_empty() {
        let list: Vec<String> = packages.iter().map(|p| format!("\"{p}\"")).collect();
        write(
            &root.join("recipes/mini-crates.toml"),
            format!(
                "surface = \"crate\"\nsource = \".\"\ninclude = [\"Cargo.toml\", \"Cargo.lock\", \"crates/**\", \"README.md\", \"LICENSE\"]\n\n[crate]\npackages = [{}]\n",
                list.join(", ")
            ),
        );
    }
    let policy = root.join("recipes/release.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n[publish]\nmini-crates = \"local\"\n");
    write(&policy, text);
    if let Some(e) = extra {
        let lib = root.join("crates/mini-core/src/lib.rs");
        let mut text = std::fs::read_to_string(&lib).unwrap();
        text.push_str(e);
        write(&lib, text);
    }
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "crates, published"]);
    git(&root, &["tag", VERSION]);
    root
}

/// How [`api_proxy`] fails the uploads after the first while unhealed.
#[derive(Debug, Clone, Copy)]
pub enum ApiFault {
    /// Answer 500 (the run gives up after its retries).
    Status500,
    /// Forward the upload, then close the connection without its answer,
    /// once (an answer lost; the publisher's retry finds it stored).
    DropOnce,
    /// Hold the upload until the test says (it kills the registry
    /// meanwhile), then forward it — or close the connection when the
    /// registry is gone.
    Hold,
}

/// The proxy of [`api_proxy`]: its port, the flag that heals it, and for
/// [`ApiFault::Hold`] the moment the upload is held and the release.
#[derive(Debug)]
pub struct ApiProxy {
    pub port: u16,
    pub healed: Arc<AtomicBool>,
    pub held: Receiver<()>,
    pub release: Sender<()>,
}

/// A proxy in front of the Web API at `upstream`; the fault stops when
/// the flag returned is set.
pub fn api_proxy(upstream: u16, fault: ApiFault) -> ApiProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let healed = Arc::new(AtomicBool::new(false));
    let flag = healed.clone();
    let (held_tx, held) = channel();
    let (release, release_rx) = channel();
    std::thread::spawn(move || {
        let mut puts = 0;
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let Some(request) = read_request(&mut conn) else {
                continue;
            };
            if request.starts_with(b"PUT") {
                puts += 1;
                if puts > 1 && !flag.load(Ordering::SeqCst) {
                    match fault {
                        ApiFault::Status500 => {
                            let _ = conn.write_all(
                                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                        }
                        ApiFault::DropOnce => {
                            let _ = exchange(upstream, &request);
                            flag.store(true, Ordering::SeqCst);
                        }
                        ApiFault::Hold => {
                            flag.store(true, Ordering::SeqCst);
                            let _ = held_tx.send(());
                            let _ = release_rx.recv();
                            if let Some(response) = exchange(upstream, &request) {
                                let _ = conn.write_all(&response);
                            }
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
    ApiProxy {
        port,
        healed,
        held,
        release,
    }
}

/// A fresh cargo project `app` below `t` with `dependency` (a line of its
/// `[dependencies]`) and `main` as its `src/main.rs`, built with a cargo
/// home of its own whose `config.toml` is `config`; what its binary prints.
pub fn build_dependent(t: &Path, dependency: &str, main: &str, config: &str) -> String {
    let app = t.join("app");
    write(
        &app.join("Cargo.toml"),
        format!("[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n{dependency}\n"),
    );
    write(&app.join("src/main.rs"), main);
    let home = t.join("app-cargo-home");
    write(&home.join("config.toml"), config);
    let mut c = cmd("cargo");
    c.current_dir(&app)
        .args(["build", "--quiet"])
        .env("CARGO_HOME", &home)
        .env("CARGO_TARGET_DIR", t.join("app-target"))
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    run_ok(&mut c);
    run_ok(&mut cmd(t.join("app-target/debug/app").to_str().unwrap()))
}
