//! The crate surface against the real cargo: kiln's `.crate` bytes equal
//! `cargo package` run directly on the same tree; the crates build and run
//! in a scratch consumer offline; copies at different paths with different
//! file modes and mtimes give identical bytes; unknown members are bad input;
//! a crate that does not build from its own `.crate` fails cargo's verify
//! step, naming it, unless the recipe turns verification off.

use crate::common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kiln::error::{Classify, ErrorKind};
use kiln::sandbox::{self, SandboxMode};
use kiln::surface::crate_::{self, CrateError, CrateSpec, PackagedCrate};

const SDE: u64 = 1_700_000_000;

fn available() -> bool {
    common::require_tool("bwrap") && common::require_tool("cargo")
}

/// The host crate cache holding the external dependency.
fn registry_caches() -> Vec<PathBuf> {
    let Some(home) = sandbox::host_cargo_home() else {
        return Vec::new();
    };
    let Ok(dirs) = std::fs::read_dir(home.join("registry/cache")) else {
        return Vec::new();
    };
    dirs.filter_map(|e| Some(e.ok()?.path())).collect()
}

/// The newest cached `itoa` (a dependency of kiln itself, so present once
/// kiln has been built): (version, .crate path).
fn cached_itoa() -> Option<(String, PathBuf)> {
    let mut found: Vec<(semver::Version, PathBuf)> = registry_caches()
        .into_iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let v = p
                .file_name()?
                .to_str()?
                .strip_prefix("itoa-")?
                .strip_suffix(".crate")?
                .to_string();
            Some((semver::Version::parse(&v).ok()?, p))
        })
        .collect();
    found.sort();
    found.pop().map(|(v, p)| (v.to_string(), p))
}

/// A workspace: `demo-lib` (depends on itoa from crates.io) and `demo-cli`
/// (depends on demo-lib through `workspace.dependencies` path + version).
fn generate(dir: &Path, itoa: &str) {
    common::write(
        &dir.join("Cargo.toml"),
        format!(
            r#"[workspace]
members = ["crates/lib", "crates/cli"]
resolver = "2"

[workspace.package]
version = "0.3.0-rc.1"
edition = "2021"
license = "MIT"
repository = "https://example.invalid/demo"

[workspace.dependencies]
demo-lib = {{ path = "crates/lib", version = "0.3.0-rc.1" }}
itoa = "={itoa}"
"#
        ),
    );
    common::write(
        &dir.join("crates/lib/Cargo.toml"),
        "[package]\nname = \"demo-lib\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\nrepository.workspace = true\ndescription = \"demo library\"\n\n[dependencies]\nitoa.workspace = true\n",
    );
    common::write(
        &dir.join("crates/lib/src/lib.rs"),
        "pub fn render(n: u64) -> String {\n    itoa::Buffer::new().format(n).to_string()\n}\n",
    );
    common::write(
        &dir.join("crates/lib/src/a-b.rs"),
        "// sorts after a/b.rs in cargo's order\n",
    );
    common::write(&dir.join("crates/lib/src/a/b.rs"), "// nested\n");
    common::write(
        &dir.join("crates/cli/Cargo.toml"),
        "[package]\nname = \"demo-cli\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\nrepository.workspace = true\ndescription = \"demo binary\"\n\n[dependencies]\ndemo-lib.workspace = true\n",
    );
    common::write(
        &dir.join("crates/cli/src/main.rs"),
        "fn main() {\n    println!(\"demo {}\", demo_lib::render(42));\n}\n",
    );
    let script = dir.join("crates/cli/run.sh");
    common::write(&script, "#!/bin/sh\nexec demo-cli\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    common::run_ok(
        common::cmd("cargo")
            .args(["generate-lockfile", "--offline"])
            .current_dir(dir),
    );
}

/// Copy a tree, giving files `file_mode` (executables keep an x bit) and
/// directories `dir_mode`.
fn copy_tree(from: &Path, to: &Path, file_mode: u32, dir_mode: u32) {
    std::fs::create_dir_all(to).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names.reverse(); // a different creation order
    for n in names {
        let (f, t) = (from.join(&n), to.join(&n));
        if f.is_dir() {
            copy_tree(&f, &t, file_mode, dir_mode);
        } else {
            std::fs::copy(&f, &t).unwrap();
            let exec = std::fs::metadata(&f).unwrap().permissions().mode() & 0o100;
            std::fs::set_permissions(&t, std::fs::Permissions::from_mode(file_mode | exec))
                .unwrap();
            let file = std::fs::File::options().write(true).open(&t).unwrap();
            file.set_modified(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000),
            )
            .unwrap();
        }
    }
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(dir_mode)).unwrap();
}

fn spec(members: &[&str], mode: SandboxMode) -> CrateSpec {
    spec_verifying(members, mode, true)
}

fn spec_verifying(members: &[&str], mode: SandboxMode, verify: bool) -> CrateSpec {
    let names = crate_::tools(verify);
    CrateSpec {
        verify,
        manifest_dir: String::new(),
        members: members.iter().map(|s| s.to_string()).collect(),
        tools: sandbox::resolve_tools(&names, Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap(),
        cargo_home: sandbox::host_cargo_home(),
        source_date_epoch: SDE,
        mode,
        limits: sandbox::Limits::default(),
    }
}

fn kiln_pack(ws: &Path, out: &Path, members: &[&str]) -> Vec<PackagedCrate> {
    crate_::build(
        ws,
        &spec(members, SandboxMode::Bubblewrap),
        out,
        &out.with_extension("log"),
    )
    .unwrap_or_else(|e| panic!("{}", kiln::error::chain(&e)))
}

#[test]
fn crates_match_cargo_package_and_are_reproducible() {
    if !available() {
        return;
    }
    let Some((itoa, itoa_crate)) = cached_itoa() else {
        panic!("no itoa in the host cargo cache: build kiln once (`cargo build`) to fill it");
    };
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    generate(&src, &itoa);

    // Reference: the real cargo, outside the sandbox, on a copy of the tree.
    let reference = t.path().join("reference");
    copy_tree(&src, &reference, 0o644, 0o755);
    common::run_ok(
        common::cmd("cargo")
            .args([
                "package",
                "--no-verify",
                "--offline",
                "--allow-dirty",
                "--workspace",
            ])
            .env("SOURCE_DATE_EPOCH", SDE.to_string())
            .current_dir(&reference),
    );

    // kiln, twice: different paths, umask (022-like modes vs a real
    // `umask 077` copy), creation order and mtimes.
    let ws1 = t.path().join("ws1");
    copy_tree(&src, &ws1, 0o644, 0o755);
    let ws2 = t.path().join("elsewhere/deeper/ws2");
    std::fs::create_dir_all(ws2.parent().unwrap()).unwrap();
    common::run_ok(
        common::cmd("sh")
            .arg("-c")
            .arg("umask 077 && cp -R \"$0\" \"$1\"")
            .arg(&src)
            .arg(&ws2),
    );
    let mode = std::fs::metadata(ws2.join("Cargo.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "umask 077 copy");
    let out1 = kiln_pack(&ws1, &t.path().join("out1"), &["demo-lib", "demo-cli"]);
    let out2 = kiln_pack(&ws2, &t.path().join("out2"), &[]);

    // Without a sandbox (same environment discipline), cargo packs the same bytes.
    let ws3 = t.path().join("ws3");
    copy_tree(&src, &ws3, 0o644, 0o755);
    let out3_dir = t.path().join("out3");
    let out3 = crate_::build(
        &ws3,
        &spec(&[], SandboxMode::None),
        &out3_dir,
        &out3_dir.with_extension("log"),
    )
    .unwrap_or_else(|e| panic!("{}", kiln::error::chain(&e)));
    let sums = |v: &[PackagedCrate]| {
        let mut s: Vec<(String, String)> = v
            .iter()
            .map(|c| (c.file_name.clone(), c.sha256.clone()))
            .collect();
        s.sort();
        s
    };
    assert_eq!(sums(&out3), sums(&out2));

    let names: Vec<&str> = out1.iter().map(|c| c.file_name.as_str()).collect();
    assert_eq!(
        names,
        ["demo-lib-0.3.0-rc.1.crate", "demo-cli-0.3.0-rc.1.crate"]
    );
    for c in &out1 {
        let ours = std::fs::read(&c.path).unwrap();
        let theirs = std::fs::read(reference.join("target/package").join(&c.file_name)).unwrap();
        assert!(
            ours == theirs,
            "{} differs from `cargo package`",
            c.file_name
        );
        let other = out2.iter().find(|o| o.file_name == c.file_name).unwrap();
        assert_eq!(c.sha256, other.sha256, "{} not reproducible", c.file_name);
        assert_eq!(
            std::fs::metadata(&c.path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let id = crate_::check_conventions(&ours, &c.file_name).unwrap();
        assert_eq!(
            (id.name.as_str(), id.version.as_str()),
            (c.name.as_str(), c.version.as_str())
        );
    }
    // No VCS info in a plain directory, and the file list is cargo's.
    let listed = common::run_ok(
        common::cmd("cargo")
            .args([
                "package",
                "--list",
                "--offline",
                "--allow-dirty",
                "-p",
                "demo-lib",
            ])
            .current_dir(&reference),
    );
    let mut ours = entries(&out1[0].path);
    ours.sort();
    let mut theirs: Vec<String> = listed
        .lines()
        .map(|l| format!("demo-lib-0.3.0-rc.1/{l}"))
        .collect();
    theirs.sort();
    assert_eq!(ours, theirs);

    consumer_builds_and_runs(t.path(), &out1, &itoa, &itoa_crate);
}

/// Serve the crates from a local directory registry and build + run the
/// binary crate from its own `.crate`, offline.
fn consumer_builds_and_runs(dir: &Path, crates: &[PackagedCrate], itoa: &str, itoa_crate: &Path) {
    let vendor = dir.join("vendor");
    let unpack = |crate_file: &Path, into: &Path| {
        std::fs::create_dir_all(into).unwrap();
        common::run_ok(
            common::cmd("tar")
                .arg("-xzf")
                .arg(crate_file)
                .arg("-C")
                .arg(into),
        );
        let sum = common::run_ok(common::cmd("sha256sum").arg(crate_file));
        let sum = sum.split_whitespace().next().unwrap().to_string();
        (into.to_path_buf(), sum)
    };
    let lib = crates.iter().find(|c| c.name == "demo-lib").unwrap();
    let cli = crates.iter().find(|c| c.name == "demo-cli").unwrap();
    for (file, name) in [
        (lib.path.as_path(), "demo-lib-0.3.0-rc.1".to_string()),
        (itoa_crate, format!("itoa-{itoa}")),
    ] {
        let (root, sum) = unpack(file, &vendor);
        common::write(
            &root.join(&name).join(".cargo-checksum.json"),
            format!("{{\"files\":{{}},\"package\":\"{sum}\"}}"),
        );
    }
    let (apps, _) = unpack(&cli.path, &dir.join("app"));
    let app = apps.join("demo-cli-0.3.0-rc.1");
    let out = common::run_ok(
        common::cmd("cargo")
            .args(["run", "--offline", "--locked", "--quiet", "--config"])
            .arg("source.crates-io.replace-with='vendored'")
            .arg("--config")
            .arg(format!("source.vendored.directory='{}'", vendor.display()))
            .env("CARGO_TARGET_DIR", dir.join("consumer-target"))
            .current_dir(&app),
    );
    assert_eq!(out, "demo 42");
}

/// Entry paths of a `.crate`.
fn entries(crate_file: &Path) -> Vec<String> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(crate_file).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    let mut a = tar::Archive::new(tar.as_slice());
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

#[test]
fn an_unknown_member_is_bad_input_naming_it() {
    if !available() {
        return;
    }
    let Some((itoa, _)) = cached_itoa() else {
        panic!("no itoa in the host cargo cache: build kiln once to fill it");
    };
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    generate(&ws, &itoa);
    let err = crate_::build(
        &ws,
        &spec(&["demo-lib", "nope"], SandboxMode::Bubblewrap),
        &t.path().join("out"),
        &t.path().join("log"),
    )
    .unwrap_err();
    assert!(
        matches!(&err, CrateError::UnknownMember { name, .. } if name == "nope"),
        "{err}"
    );
    assert!(err.to_string().contains("\"nope\"") && err.to_string().contains("demo-cli"));
    assert_eq!(err.kind(), ErrorKind::BadInput);
    assert!(
        !ws.join("target/package/demo-lib-0.3.0-rc.1.crate").exists(),
        "cargo package ran"
    );
}

#[test]
fn convention_check_rejects_leaked_metadata() {
    if !available() {
        return;
    }
    let Some((itoa, _)) = cached_itoa() else {
        panic!("no itoa in the host cargo cache");
    };
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    generate(&ws, &itoa);
    let out = kiln_pack(&ws, &t.path().join("out"), &["demo-lib"]);
    let good = std::fs::read(&out[0].path).unwrap();
    crate_::check_conventions(&good, "demo-lib-0.3.0-rc.1.crate").unwrap();
    // A file name that does not match the contents.
    assert!(crate_::check_conventions(&good, "demo-lib-0.3.1.crate").is_err());

    // A gzip header with an OS byte other than cargo's.
    let mut bad = good.clone();
    bad[9] = 3;
    assert!(crate_::check_conventions(&bad, "demo-lib-0.3.0-rc.1.crate").is_err());
    // The same entries re-packed with a wall-clock mtime and a user name.
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(good.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut builder = tar::Builder::new(Vec::new());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        h.set_mtime(1_763_000_000);
        let path = e.path().unwrap().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        builder.append_data(&mut h, path, data.as_slice()).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::GzBuilder::new()
        .filename("demo-lib-0.3.0-rc.1.crate")
        .write(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let repacked = gz.finish().unwrap();
    let err = crate_::check_conventions(&repacked, "demo-lib-0.3.0-rc.1.crate").unwrap_err();
    assert!(err.to_string().contains("mtime 1763000000"), "{err}");
}

#[test]
fn a_cargo_failure_with_known_members_is_reported_as_such() {
    if !available() {
        return;
    }
    let Some((itoa, _)) = cached_itoa() else {
        panic!("no itoa in the host cargo cache");
    };
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    generate(&ws, &itoa);
    // A dependency no offline registry can provide.
    let manifest = ws.join("crates/lib/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{text}kiln-no-such-crate-xyz = \"1\"\n")).unwrap();
    let err = crate_::build(
        &ws,
        &spec(&["demo-lib"], SandboxMode::Bubblewrap),
        &t.path().join("out"),
        &t.path().join("log"),
    )
    .unwrap_err();
    match &err {
        CrateError::Sandbox(sandbox::SandboxError::Failed { tail, .. }) => {
            assert!(tail.contains("kiln-no-such-crate-xyz"), "{tail}")
        }
        e => panic!("unexpected {e}"),
    }
}

/// A package whose `exclude` drops a module it needs (an unanchored pattern
/// matching at any depth, as kiln's own `store/` once did): `cargo package
/// --no-verify` packs it, but it does not build from its `.crate`. The
/// verify step fails, naming the crate, with cargo's error; `verify = false`
/// packs it anyway.
#[test]
fn a_crate_that_does_not_build_from_its_crate_fails_verification_naming_it() {
    if !available() {
        return;
    }
    let Some((itoa, _)) = cached_itoa() else {
        panic!("no itoa in the host cargo cache");
    };
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    generate(&ws, &itoa);
    let manifest = ws.join("crates/lib/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace(
        "description = \"demo library\"\n",
        "description = \"demo library\"\nexclude = [\"store/\"]\n",
    );
    std::fs::write(&manifest, text).unwrap();
    common::write(
        &ws.join("crates/lib/src/store/mod.rs"),
        "pub fn kept() {}\n",
    );
    let lib = ws.join("crates/lib/src/lib.rs");
    let code = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("pub mod store;\n{code}")).unwrap();

    let log = t.path().join("log");
    let err = crate_::build(
        &ws,
        &spec(&["demo-lib", "demo-cli"], SandboxMode::Bubblewrap),
        &t.path().join("out"),
        &log,
    )
    .unwrap_err();
    let shown = kiln::error::chain(&err);
    assert!(
        matches!(&err, CrateError::Verify { name, version, .. }
            if name == "demo-lib" && version == "0.3.0-rc.1"),
        "{shown}"
    );
    assert_eq!(err.kind(), ErrorKind::CheckFailed, "{shown}");
    assert!(
        shown.contains("demo-lib") && shown.contains("verify = false"),
        "{shown}"
    );
    // cargo's own error, from the tail of its output.
    assert!(
        shown.contains("file not found for module `store`"),
        "{shown}"
    );
    assert!(!t.path().join("out/demo-lib-0.3.0-rc.1.crate").exists());

    let out = crate_::build(
        &ws,
        &spec_verifying(&["demo-lib"], SandboxMode::Bubblewrap, false),
        &t.path().join("out-unverified"),
        &log,
    )
    .unwrap_or_else(|e| panic!("{}", kiln::error::chain(&e)));
    assert_eq!(out[0].file_name, "demo-lib-0.3.0-rc.1.crate");
    assert!(!entries(&out[0].path)
        .iter()
        .any(|e| e.contains("src/store/")));
}

/// The same through `kiln build`: exit 1 naming the crate with cargo's
/// error, nothing registered; `verify = false` in `[crate]` builds it. The
/// verify step's tools (the C toolchain beside cargo and rustc) are in the
/// derivation only when it runs.
#[test]
fn kiln_build_fails_on_an_unverifiable_crate_unless_verify_is_off() {
    if !available() || !common::require_tool("git") {
        return;
    }
    let (tmp, root) = common::fixture::monorepo();
    let git = |args: &[&str]| common::fixture::git(&root, args);
    let manifest = root.join("crates/mini-core/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("[dependencies]", "exclude = [\"store/\"]\n\n[dependencies]"),
    )
    .unwrap();
    common::write(
        &root.join("crates/mini-core/src/store/mod.rs"),
        "pub fn kept() {}\n",
    );
    let lib = root.join("crates/mini-core/src/lib.rs");
    let code = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("{code}pub mod store;\n")).unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "exclude a needed module"]);
    let store = tmp.path().join("store");
    let kiln = |args: &[&str]| {
        let mut c = common::kiln();
        c.arg("-C").arg(&root).arg("--store").arg(&store).args(args);
        common::run(&mut c)
    };
    let tools = |plan: &std::process::Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
        let drv = &v["recipes"][0]["derivation"];
        drv["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        tools(&kiln(&["plan", "--json", "mini-crates"])),
        ["cargo", "rustc", "cc", "as", "ar"]
    );

    let o = kiln(&["build", "mini-crates"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("crate mini-core ")
            && err.contains("verify = false")
            && err.contains("file not found for module `store`"),
        "{err}"
    );
    let registered = std::fs::read_dir(store.join(".kiln/realisations"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(registered, 0, "a failed verification registered something");

    let recipe = root.join("recipes/mini-crates.toml");
    let text = std::fs::read_to_string(&recipe).unwrap();
    std::fs::write(&recipe, format!("{text}verify = false\n")).unwrap();
    git(&["commit", "-q", "-am", "no verify"]);
    assert_eq!(
        tools(&kiln(&["plan", "--json", "mini-crates"])),
        ["cargo", "rustc"]
    );
    let o = kiln(&["build", "mini-crates"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
