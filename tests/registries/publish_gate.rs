//! The release gate's checks of the bytes, against pypiserver on
//! 127.0.0.1: `kiln publish --rebuild` rebuilds a reproducible release in
//! a fresh store and uploads it; a wheel that is not reproducible (a
//! hatchling build hook writing random bytes) is refused before any
//! upload, by `--rebuild` and by the policy's `[publish] rebuild = true`;
//! a `dist/` file edited after the build is refused as differing from
//! what kiln built.

use std::path::{Path, PathBuf};

use crate::common::fixture::{git, monorepo_at, python_recipes};
use crate::common::python::tools;
use crate::common::{run, write};

use super::pypi::pypiserver;
use super::support::{build, kiln_in, released_python, Server, VERSION};

const SDIST: &str = "mini_flow-0.3.0rc1.tar.gz";
const WHEEL: &str = "mini_flow-0.3.0rc1-py3-none-any.whl";

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

/// A scratch area with a running pypiserver anyone may upload to.
struct Setup {
    tmp: tempfile::TempDir,
    home: PathBuf,
    store: PathBuf,
    packages: PathBuf,
    server: Server,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let packages = tmp.path().join("packages");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&packages).unwrap();
    let server = pypiserver(&packages, None);
    Setup {
        store: tmp.path().join("store"),
        home,
        packages,
        server,
        tmp,
    }
}

impl Setup {
    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `kiln publish ARGS --registry local=<the server>`.
    fn publish(&self, root: &Path, args: &[&str]) -> std::process::Output {
        let registry = format!("local={}", self.server.url());
        let mut all = vec!["publish"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--registry", &registry]);
        run(&mut kiln_in(root, &self.store, &self.home, &all))
    }
}

#[test]
fn rebuild_checks_a_reproducible_release_then_publishes_it() {
    if !tools(&["pypi-server", "python3", "bwrap"]) {
        return;
    }
    let s = setup();
    let root = released_python(&s.dir().join("mono"));
    build(&root, &s.store, &s.home, &["mini-sdist", "mini-wheel"]);

    let dry = s.publish(&root, &["--rebuild", "--dry-run"]);
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(out.contains("rebuilt in a fresh store"), "{out}");
    assert!(listing(&s.packages).is_empty(), "a dry run uploads nothing");

    let first = s.publish(&root, &["--rebuild"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("rebuilt in a fresh store"));
    assert_eq!(listing(&s.packages), [WHEEL, SDIST]);
    for f in [SDIST, WHEEL] {
        assert_eq!(
            std::fs::read(s.packages.join(f)).unwrap(),
            std::fs::read(root.join("dist").join(f)).unwrap(),
            "{f}: the registry holds dist/'s bytes"
        );
    }
}

/// The fixture released with a wheel built by hatchling whose build hook
/// adds 16 random bytes (as hex) to every wheel, published to `local`
/// under a policy saying `rebuild = true`.
fn released_noisy(dir: &Path) -> PathBuf {
    let root = monorepo_at(dir, false);
    python_recipes(&root);
    write(
        &root.join("recipes/mini-wheel.toml"),
        "surface = \"wheel\"\nsource = \"python\"\n[wheel]\nbackend = \"pep517\"\n",
    );
    write(
        &root.join("python/hatch_build.py"),
        "import os, tempfile\n\
         from hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\
         \n\
         class CustomBuildHook(BuildHookInterface):\n\
         \x20   def initialize(self, version, build_data):\n\
         \x20       path = os.path.join(tempfile.mkdtemp(), 'noise.txt')\n\
         \x20       with open(path, 'w') as f:\n\
         \x20           f.write(os.urandom(16).hex())\n\
         \x20       build_data['force_include'][path] = 'mini_flow/noise.txt'\n",
    );
    let pyproject = root.join("python/pyproject.toml");
    let mut text = std::fs::read_to_string(&pyproject).unwrap();
    text.push_str("\n[tool.hatch.build.targets.wheel.hooks.custom]\n");
    write(&pyproject, text);
    let policy = root.join("recipes/release.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n[publish]\nrebuild = true\nmini-wheel = \"local\"\n");
    write(&policy, text);
    git(&root, &["add", "-A"]);
    git(
        &root,
        &["commit", "-q", "-m", "a wheel that is not reproducible"],
    );
    git(&root, &["tag", VERSION]);
    root
}

#[test]
fn a_release_that_is_not_reproducible_is_refused_before_any_upload() {
    if !tools(&["pypi-server", "python3", "bwrap"]) {
        return;
    }
    let s = setup();
    let root = released_noisy(&s.dir().join("mono"));
    build(&root, &s.store, &s.home, &["mini-wheel"]);
    let sealed = sha256_hex(&root.join("dist").join(WHEEL));
    // The policy's `rebuild = true` alone, and `--rebuild`, with and
    // without --dry-run.
    for args in [
        vec!["--dry-run"],
        vec![],
        vec!["--rebuild", "--dry-run"],
        vec!["--rebuild"],
    ] {
        let out = s.publish(&root, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        for part in ["mini-wheel", WHEEL, "not reproducible", sealed.as_str()] {
            assert!(err.contains(part), "{args:?}: no {part:?} in {err}");
        }
        let digests = err
            .split(|c: char| !c.is_ascii_hexdigit())
            .filter(|w| w.len() == 64)
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(digests.len(), 2, "{args:?}: both digests in {err}");
        assert!(listing(&s.packages).is_empty(), "{args:?}: uploaded");
    }
}

#[test]
fn a_dist_file_edited_after_the_build_is_refused() {
    if !tools(&["pypi-server", "python3", "bwrap"]) {
        return;
    }
    let s = setup();
    let root = released_python(&s.dir().join("mono"));
    build(&root, &s.store, &s.home, &["mini-sdist", "mini-wheel"]);
    let wheel = root.join("dist").join(WHEEL);
    let built = sha256_hex(&wheel);
    let mut bytes = std::fs::read(&wheel).unwrap();
    bytes.extend_from_slice(b"edited");
    write(&wheel, bytes);
    let edited = sha256_hex(&wheel);
    for args in [vec!["--dry-run"], vec![]] {
        let out = s.publish(&root, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        for part in [
            format!("dist/{WHEEL}").as_str(),
            "differs from what kiln built",
            built.as_str(),
            edited.as_str(),
        ] {
            assert!(err.contains(part), "{args:?}: no {part:?} in {err}");
        }
        assert!(listing(&s.packages).is_empty(), "{args:?}: uploaded");
    }
}

#[test]
fn a_dist_built_by_another_store_is_not_built_here() {
    if !tools(&["pypi-server", "python3", "bwrap"]) {
        return;
    }
    let s = setup();
    let root = released_python(&s.dir().join("mono"));
    let other = s.dir().join("other-store");
    build(&root, &other, &s.home, &["mini-sdist", "mini-wheel"]);
    let out = s.publish(&root, &["--dry-run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("was not built by this store") && err.contains("mini-"),
        "{err}"
    );
    assert!(listing(&s.packages).is_empty());
}
