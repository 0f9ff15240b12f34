//! Hostile builds, second round (issue "Trust, round two", points 11–13):
//! a PEP 517 backend whose wheel is a decompression bomb, limit keys on
//! backend recipes, and host paths a build could read from `/proc`. Each
//! test runs `kiln build` on a repository it makes, with the store and
//! `dist/` in its own temporary directory, `HOME` pointed at a canary, and
//! checks the exit code, that the message names the culprit, and that
//! nothing outside kiln's own places changed.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::canary::Canary;
use common::fixture::git;
use common::{cmd, kiln_bin, require_tool, run, write};

/// One user on one machine, with a committed project.
struct Project {
    t: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    out: PathBuf,
    canary: Canary,
}

impl Project {
    /// A repository holding `files` (path, contents), committed.
    fn new(files: &[(&str, &str)]) -> Project {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        write(
            &root.join("recipes/release.toml"),
            "[version]\nsource = \"file:VERSION\"\n",
        );
        write(&root.join("VERSION"), "1.0.0\n");
        for (path, text) in files {
            write(&root.join(path), text);
        }
        git(&root, &["init", "-q"]);
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "base"]);
        let canary = Canary::new(t.path());
        Project {
            store: t.path().join("kiln/store"),
            out: t.path().join("kiln/dist"),
            root,
            canary,
            t,
        }
    }

    /// `kiln build` behind `wrapper` (e.g. `prlimit --as=…`), in a clean
    /// environment whose `HOME` is the canary's.
    fn build_under(&self, wrapper: &[&str]) -> Output {
        let mut c: Command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = cmd(program);
                c.args(args).arg(kiln_bin());
                c
            }
            None => common::kiln(),
        };
        c.arg("-C")
            .arg(&self.root)
            .arg("--store")
            .arg(&self.store)
            .arg("build")
            .arg("--out")
            .arg(&self.out)
            .env("HOME", &self.canary.home)
            .env("XDG_STATE_HOME", self.t.path().join("state"))
            .env_remove("KILN_STORE")
            .env_remove("SOURCE_DATE_EPOCH");
        run(&mut c)
    }

    fn build(&self) -> Output {
        self.build_under(&[])
    }

    /// Nothing reached `dist/` and nothing was registered in the store.
    fn assert_nothing_shipped(&self) {
        assert!(
            !self.out.exists() || dir_is_empty(&self.out),
            "dist/ was written"
        );
        let realisations = self.store.join(".kiln/realisations");
        assert!(
            !realisations.exists() || dir_is_empty(&realisations),
            "something was registered"
        );
    }
}

fn dir_is_empty(d: &Path) -> bool {
    std::fs::read_dir(d).unwrap().next().is_none()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn have(tools: &[&str]) -> bool {
    tools.iter().all(|t| require_tool(t))
}

/// A project whose wheel recipe (with `wheel_table`'s keys) builds with
/// the in-tree backend (`backend-path`) `bomb_backend`, whose source is
/// `backend`.
fn backend_project(backend: &str, wheel_table: &str) -> Project {
    Project::new(&[
        (
            "pyproject.toml",
            "[build-system]\nrequires = []\nbuild-backend = \"bomb_backend\"\n\
             backend-path = [\"_backend\"]\n\n[project]\nname = \"bomb\"\nversion = \"1.0.0\"\n",
        ),
        ("_backend/bomb_backend.py", backend),
        (
            "recipes/wheel.toml",
            &format!("surface = \"wheel\"\n[wheel]\nbackend = \"pep517\"\n{wheel_table}"),
        ),
    ])
}

/// A backend that writes, streaming, a wheel whose member `bomb/zeros.bin`
/// is 3 GiB of zeros in 3 MiB: one 1 MiB block deflated with a full flush
/// (so that it stands alone), repeated, then an empty final block. Its
/// `RECORD` is empty, which kiln would refuse if it got that far.
const BOMB: &str = r#"import os, struct, zlib

NAME = 'bomb-1.0.0-py3-none-any.whl'

def members():
    meta = b'Metadata-Version: 2.1\nName: bomb\nVersion: 1.0.0\n\n'
    yield 'bomb-1.0.0.dist-info/METADATA', zlib.crc32(meta), len(meta), [zlib.compress(meta)[2:-4]]
    block = bytes(1 << 20)
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    flushed = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    n = 3 << 10
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(block, crc)
    yield 'bomb/zeros.bin', crc, n << 20, [flushed] * n + [b'\x03\x00']
    yield 'bomb-1.0.0.dist-info/RECORD', 0, 0, [b'\x03\x00']

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    central = []
    with open(os.path.join(wheel_directory, NAME), 'wb') as out:
        for name, crc, size, chunks in members():
            name = name.encode()
            offset = out.tell()
            csize = sum(len(c) for c in chunks)
            out.write(struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, 8, 0, 0x21, crc, csize, size, len(name), 0) + name)
            for c in chunks:
                out.write(c)
            central.append(struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 0x0314, 20, 0, 8, 0, 0x21, crc, csize, size, len(name), 0, 0, 0, 0, 0o644 << 16, offset) + name)
        start = out.tell()
        for c in central:
            out.write(c)
        out.write(struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return NAME
"#;

/// A backend that never finishes.
const SLEEPER: &str = "import time\n\ndef build_wheel(*args, **kwargs):\n    time.sleep(3600)\n";

#[test]
fn a_backend_wheel_expanding_to_gigabytes_is_refused_within_bounded_memory() {
    if !have(&["python3", "bwrap", "prlimit"]) {
        return;
    }
    let p = backend_project(BOMB, "");
    // kiln (and all it runs) may map at most 1 GiB: holding the member
    // would need three.
    let o = p.build_under(&["prlimit", "--as=1073741824", "--"]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    for needle in [
        "bomb-1.0.0-py3-none-any.whl",
        "`bomb/zeros.bin`",
        "compression ratio",
    ] {
        assert!(all.contains(needle), "no {needle:?} in {all}");
    }
    p.assert_nothing_shipped();
    p.canary.assert_untouched();
}

#[test]
fn a_backend_recipe_sets_its_own_time_limit() {
    if !have(&["python3", "bwrap"]) {
        return;
    }
    let p = backend_project(SLEEPER, "timeout-seconds = 2\n");
    let o = p.build();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(all.contains("timeout-seconds = 2"), "{all}");
    p.assert_nothing_shipped();
    p.canary.assert_untouched();
}

#[test]
fn limit_keys_on_a_native_python_recipe_are_refused() {
    let p = Project::new(&[
        (
            "pyproject.toml",
            "[project]\nname = \"native\"\nversion = \"1.0.0\"\n",
        ),
        ("native.py", ""),
        (
            "recipes/wheel.toml",
            "surface = \"wheel\"\n[wheel]\nbackend = \"kiln\"\nmemory-mib = 512\n",
        ),
    ]);
    let o = p.build();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(
        all.contains("wheel.memory-mib") && all.contains("pep517"),
        "{all}"
    );
    p.assert_nothing_shipped();
    p.canary.assert_untouched();
}

/// A command that writes every visible process's argv and environment.
const PROCS: &str = r#"surface = "command"
include = ["input.txt"]
[command]
argv = ["sh", "-c", '''for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do echo "== $f"; tr '\0' '\n' < "$f"; echo; done > procs.txt''']
tools = ["sh", "tr", "python3"]
outputs = ["procs.txt"]
"#;

#[test]
fn a_build_reads_no_host_path_from_proc() {
    if !have(&["python3", "bwrap"]) {
        return;
    }
    // Every visible process's argv and environment; python3 is declared
    // so that a tool installed outside the system directories (pyenv,
    // rustup) is mounted, and its host path would be in bwrap's argv.
    let p = Project::new(&[("input.txt", "input\n"), ("recipes/procs.toml", PROCS)]);
    let o = p.build();
    assert!(o.status.success(), "{}", text(&o));
    let procs = find(&p.out, "procs.txt").expect("procs.txt in dist/");
    let seen = std::fs::read_to_string(&procs).unwrap();
    // The build saw bubblewrap's pid 1 and its own shell.
    assert!(seen.contains("== /proc/1/cmdline"), "{seen}");
    assert!(seen.contains("kiln-build"), "{seen}");
    let mut host: Vec<String> = vec![
        p.t.path().display().to_string(),
        p.store.display().to_string(),
        p.canary.home.display().to_string(),
    ];
    if let Some(home) = std::env::var_os("HOME").filter(|h| h.len() > 1) {
        host.push(PathBuf::from(home).display().to_string());
    }
    for h in &host {
        assert!(
            !seen.contains(h.as_str()),
            "{h} is visible in /proc:\n{seen}"
        );
    }
    p.canary.assert_untouched();
}

/// The first file called `name` below `dir`.
fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()? {
            let p = e.ok()?.path();
            if p.file_name().is_some_and(|n| n == name) {
                return Some(p);
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    None
}
