//! The cargo + npm + maturin release end to end through real registries:
//! a Cargo workspace whose root holds the one version (internal
//! `[workspace.dependencies]` pins, a vendored path crate with its own
//! version), an npm workspace (private root without a version, one package
//! depending on its sibling) and a PyO3/maturin package whose version is
//! stamped only when it is packed. Raw SemVer tags; the release is a
//! prerelease, so npm gets dist-tag `next` and PyPI `0.3.0rc1`.
//!
//! `kiln publish` sends the crates to ktra (the token from
//! `CARGO_REGISTRIES_<NAME>_TOKEN`, as CI gives it), the npm packages to
//! verdaccio and the sdist and wheel to pypiserver. Then each ecosystem's
//! client uses what was published: cargo builds a crate depending on
//! `rr-core` (which depends on `rr-macros`) with crates.io replaced by the
//! registry, as a mirror is configured — the `.crate`s name crates.io for
//! their workspace dependencies, exactly as `cargo package` writes them;
//! npm installs `@rr/app@next` with its sibling and runs it; pip installs
//! the extension wheel and calls into Rust. A rerun is a no-op, `kiln
//! verify --all` finds every artifact byte-identical on its registry, and
//! the tokens are in no output, store or `dist/`.

use std::path::{Path, PathBuf};

use crate::common::fixture::{copy_dir, git};
use crate::common::python::venv;
use crate::common::{cmd, require_tool, run, run_ok, write};

use super::cargo_ktra::{ktra, Ktra};
use super::npm::{add_user, npm_in, verdaccio};
use super::support::{files_containing, free_port, kiln_in, Server, PYPI_VERSION, VERSION};

/// The release policy: the Cargo workspace's version, raw SemVer tags,
/// prereleases to dist-tag `next`, and each recipe's registry.
const POLICY: &str = "[version]\nsource = \"cargo\"\n\n[tag]\ntemplate = \"{version}\"\n\n[dev]\nsemver = \"{version}-{commit}\"\npep440 = \"{version}+{commit}\"\n\n[channels]\nnpm-prerelease = \"next\"\n\n[publish]\nrr-crates = \"crates\"\nrr-lib = \"node\"\nrr-app = \"node\"\nrr-sdist = \"python\"\nrr-wheel = \"python\"\n";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The real-repository workspace with the maturin package at `python/`,
/// its version set to [`VERSION`] by kiln, committed and tagged.
fn released_workspace(root: &Path) {
    copy_dir(&fixture("realrepo"), root, false);
    copy_dir(
        &fixture("python/backends/maturin"),
        &root.join("python"),
        false,
    );
    std::fs::remove_dir_all(root.join("python/recipes")).unwrap();
    for kind in ["sdist", "wheel"] {
        write(
            &root.join(format!("recipes/rr-{kind}.toml")),
            format!(
                "surface = \"{kind}\"\nsource = \"python\"\n\n[{kind}]\nbackend = \"pep517\"\n"
            ),
        );
    }
    write(&root.join("recipes/release.toml"), POLICY);
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "the workspace"]);
}

/// The three registries, the user's tokens and the `--registry` values.
struct Registries {
    ktra: Ktra,
    npm: Server,
    pypi: Server,
    cargo_token: String,
    npm_token: String,
    /// `--registry` values: node, python (the cargo registry is named by
    /// `CARGO_REGISTRIES_CRATES_INDEX`, as CI names a git index).
    names: [String; 2],
}

fn registries(t: &Path, home: &Path) -> Registries {
    let ktra = ktra(&t.join("ktra"), free_port(), None);
    let cargo_token = ktra.add_user("kiln");
    let npm = verdaccio(t);
    let npm_token = add_user(&npm, "kiln");
    write(
        &home.join(".npmrc"),
        format!("//127.0.0.1:{}/:_authToken={npm_token}\n", npm.port),
    );
    std::fs::create_dir_all(t.join("packages")).unwrap();
    let pypi = super::pypi::pypiserver(&t.join("packages"), None);
    let names = [
        format!("node={}", npm.url()),
        format!("python={}", pypi.url()),
    ];
    Registries {
        ktra,
        npm,
        pypi,
        cargo_token,
        npm_token,
        names,
    }
}

/// cargo builds a new crate depending on `rr-core` from the registry
/// (crates.io replaced by it); what its binary prints.
fn cargo_uses(t: &Path, index: &str) -> String {
    super::cargo_ktra::build_dependent(
        t,
        &format!("rr-core = \"={VERSION}\""),
        "fn main() {\n    println!(\"{}\", rr_core::answer());\n}\n",
        &format!("[source.crates-io]\nreplace-with = \"release\"\n\n[source.release]\nregistry = \"{index}\"\n"),
    )
}

/// npm installs `@rr/app@next` (and its sibling) from the registry; what
/// requiring it gives, and the dist-tags npm sees.
fn npm_uses(t: &Path, home: &Path, url: &str) -> (String, serde_json::Value) {
    let app = t.join("npm-app");
    write(
        &app.join("package.json"),
        "{\"name\":\"app\",\"version\":\"1.0.0\"}",
    );
    run_ok(&mut npm_in(
        &app,
        home,
        &[
            "install",
            "--no-audit",
            "--no-fund",
            "@rr/app@next",
            "--registry",
            url,
        ],
    ));
    let value = run_ok(cmd("node").current_dir(&app).args([
        "-e",
        "console.log(require('@rr/app'), require('@rr/app/package.json').version, require('@rr/lib/package.json').version)",
    ]));
    let view = run_ok(&mut npm_in(
        t,
        home,
        &["view", "--json", "@rr/app", "dist-tags", "--registry", url],
    ));
    (value, serde_json::from_str(&view).unwrap())
}

/// pip installs the extension wheel from the index; its console script's
/// answer (computed in Rust) and version.
fn pip_uses(t: &Path, index: &str) -> (String, String) {
    let bin = venv(&t.join("venv"), false);
    run_ok(cmd(bin.join("pip").to_str().unwrap()).args([
        "install",
        "-q",
        "--only-binary",
        ":all:",
        "--index-url",
        &format!("{index}simple/"),
        &format!("kiln-maturin-demo=={PYPI_VERSION}"),
    ]));
    let script = bin.join("kiln-maturin-demo");
    (
        run_ok(&mut cmd(script.to_str().unwrap())),
        run_ok(cmd(script.to_str().unwrap()).arg("--version")),
    )
}

/// (registry, package, version, action) of each step of `publish --json`.
fn steps(json: &str) -> Vec<(String, String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut steps: Vec<_> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap().to_string();
            (f("registry"), f("package"), f("version"), f("action"))
        })
        .collect();
    steps.sort();
    steps.dedup();
    steps
}

#[test]
fn a_cargo_npm_maturin_release_reaches_its_registries_and_verifies() {
    let needed = [
        "ktra",
        "verdaccio",
        "pypi-server",
        "cargo",
        "maturin",
        "npm",
        "node",
        "pip",
        "bwrap",
    ];
    if !needed.iter().all(|t| require_tool(t)) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let r = registries(t, &home);
    let root = t.join("proj");
    released_workspace(&root);
    // Set-up, the only network use: PyO3 into the user's cargo cache,
    // which the sandbox reads; everything after is offline.
    run_ok(
        cmd("cargo")
            .args(["fetch", "--locked", "--manifest-path"])
            .arg(root.join("python/crates/python/Cargo.toml")),
    );
    let store = t.join("store");
    let kiln = |args: &[&str]| {
        let mut c = kiln_in(&root, &store, &home, args);
        c.env("CARGO_REGISTRIES_CRATES_INDEX", r.ktra.index_url())
            .env("CARGO_REGISTRIES_CRATES_TOKEN", &r.cargo_token);
        c
    };
    run_ok(&mut kiln(&["version", "set", VERSION]));
    git(&root, &["commit", "-q", "-am", "release"]);
    git(&root, &["tag", VERSION]);
    run_ok(&mut kiln(&["build"]));

    let mut outputs = Vec::new();
    let mut publish = || {
        let mut args = vec!["publish", "--json"];
        for n in &r.names {
            args.extend(["--registry", n.as_str()]);
        }
        let out = run(&mut kiln(&args));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.extend([out.stdout, out.stderr]);
        steps(&text)
    };
    let step = |r: &str, p: &str, v: &str, a: &str| {
        (r.to_string(), p.to_string(), v.to_string(), a.to_string())
    };
    let expected = |a: &str| {
        vec![
            step("crates", "rr-core", VERSION, a),
            step("crates", "rr-macros", VERSION, a),
            step("node", "@rr/app", VERSION, a),
            step("node", "@rr/lib", VERSION, a),
            step("python", "kiln-maturin-demo", PYPI_VERSION, a),
        ]
    };
    assert_eq!(publish(), expected("uploaded"));

    // Each ecosystem's client uses what was published.
    assert_eq!(
        cargo_uses(t, &r.ktra.index_url()),
        "42",
        "cargo resolved rr-core and rr-macros from the registry"
    );
    let (value, tags) = npm_uses(t, &home, &r.npm.url());
    assert_eq!(value, format!("43 {VERSION} {VERSION}"));
    assert_eq!(tags["next"], VERSION, "{tags}");
    let (answer, version) = pip_uses(t, &r.pypi.url());
    assert_eq!((answer.as_str(), version.as_str()), ("42", PYPI_VERSION));

    assert_eq!(publish(), expected("already-published"));

    // What the registries serve is what the tag builds.
    let mut args = vec!["verify", "--all", VERSION, "--json"];
    for n in &r.names {
        args.extend(["--registry", n.as_str()]);
    }
    let (recipes, output) = super::support::verify_all_identical(&mut kiln(&args));
    assert_eq!(
        recipes,
        ["rr-app", "rr-crates", "rr-lib", "rr-sdist", "rr-wheel"]
    );
    outputs.extend(output);

    for token in [&r.cargo_token, &r.npm_token] {
        for o in &outputs {
            assert!(!String::from_utf8_lossy(o).contains(token.as_str()));
        }
        for dir in [&store, &root.join("dist")] {
            assert_eq!(
                files_containing(dir, token.as_bytes()),
                Vec::<PathBuf>::new()
            );
        }
    }
}
