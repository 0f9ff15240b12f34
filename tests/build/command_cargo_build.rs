//! The recipe shape of kiln's own binary: a `command` recipe running
//! `cargo build --release --locked --offline` in the sandbox with the host
//! cargo registry as a read-only input and `--remap-path-prefix`. The binary
//! works, carries no host path, and two builds from different paths are
//! byte-identical.

use crate::common;

use std::path::{Path, PathBuf};

use kiln::sandbox::{self, SandboxMode};
use kiln::surface::command::{self, CommandSpec, OutputKind};

/// The newest cached `itoa` version (a dependency of kiln itself).
fn cached_itoa() -> Option<String> {
    let cache = sandbox::host_cargo_home()?.join("registry/cache");
    let dir = std::fs::read_dir(cache).ok()?.next()?.ok()?.path();
    let mut versions: Vec<semver::Version> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            semver::Version::parse(n.strip_prefix("itoa-")?.strip_suffix(".crate")?).ok()
        })
        .collect();
    versions.sort();
    versions.pop().map(|v| v.to_string())
}

fn generate(dir: &Path, itoa: &str) {
    common::write(
        &dir.join("Cargo.toml"),
        format!(
            "[workspace]\nmembers = [\"lib\", \"cli\"]\nresolver = \"2\"\n\n[workspace.dependencies]\nitoa = \"={itoa}\"\ndemo-lib = {{ path = \"lib\", version = \"0.1.0\" }}\n\n[profile.release]\ncodegen-units = 1\n"
        ),
    );
    common::write(
        &dir.join("lib/Cargo.toml"),
        "[package]\nname = \"demo-lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa.workspace = true\n",
    );
    common::write(
        &dir.join("lib/src/lib.rs"),
        "pub fn render(n: u64) -> String {\n    assert!(n != 7, \"seven is not allowed\");\n    itoa::Buffer::new().format(n).to_string()\n}\n",
    );
    common::write(
        &dir.join("cli/Cargo.toml"),
        "[package]\nname = \"demo-cli\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ndemo-lib.workspace = true\n",
    );
    common::write(
        &dir.join("cli/src/main.rs"),
        "fn main() {\n    let n: u64 = std::env::args().nth(1).map_or(42, |a| a.parse().unwrap());\n    println!(\"demo {}\", demo_lib::render(n));\n}\n",
    );
    common::run_ok(
        common::cmd("cargo")
            .args(["generate-lockfile", "--offline"])
            .current_dir(dir),
    );
}

fn spec() -> CommandSpec {
    let tools = ["cargo", "rustc", "cc"].map(String::from);
    let mut env = sandbox::cargo_env();
    env.insert("RUSTFLAGS".into(), sandbox::REMAP_RUSTFLAGS.into());
    CommandSpec {
        argv: [
            "cargo",
            "build",
            "--release",
            "--locked",
            "--offline",
            "-p",
            "demo-cli",
        ]
        .map(String::from)
        .to_vec(),
        tools: sandbox::resolve_tools(&tools, Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap(),
        outputs: vec!["target/release/demo-cli".into()],
        ro_inputs: sandbox::cargo_registry_inputs(&sandbox::host_cargo_home().unwrap()),
        env,
        source_date_epoch: 1_700_000_000,
        mode: SandboxMode::Bubblewrap,
        limits: sandbox::Limits::default(),
    }
}

fn build(ws: &Path, staging: &Path) -> PathBuf {
    let log = staging.with_extension("log");
    let got = command::build(ws, ".", &spec(), staging, &log)
        .unwrap_or_else(|e| panic!("{}", kiln::error::chain(&e)));
    assert_eq!(got[0].kind, OutputKind::Executable);
    staging.join("target/release/demo-cli")
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn cargo_build_release_offline_is_hermetic_and_reproducible() {
    if !common::require_tool("bwrap")
        || !common::require_tool("cargo")
        || !common::require_tool("cc")
    {
        return;
    }
    let itoa = cached_itoa().expect("no itoa in the host cargo cache: build kiln once to fill it");
    let t = tempfile::tempdir().unwrap();
    let ws1 = t.path().join("one/ws");
    let ws2 = t.path().join("two/somewhere/else");
    generate(&ws1, &itoa);
    generate(&ws2, &itoa);

    let bin1 = build(&ws1, &t.path().join("out1"));
    let bin2 = build(&ws2, &t.path().join("out2"));

    let out = common::run_ok(&mut common::cmd(bin1.to_str().unwrap()));
    assert_eq!(out, "demo 42");
    // Panic locations name workspace files relative to the workspace root
    // (cargo passes members' paths relative), with no sandbox or host path.
    let failed = common::run(common::cmd(bin1.to_str().unwrap()).arg("7"));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("panicked at lib/src/lib.rs:2:5"),
        "{stderr}"
    );

    let a = std::fs::read(&bin1).unwrap();
    let b = std::fs::read(&bin2).unwrap();
    assert!(a == b, "two builds from different paths differ");

    let host_cargo = sandbox::host_cargo_home().unwrap();
    let mut forbidden = vec![
        t.path().display().to_string(),
        "/root".to_string(),
        "/home/".to_string(),
        host_cargo.display().to_string(),
        "/build/".to_string(),
        "/tmp/cargo-home".to_string(),
        "/kiln/tools".to_string(),
        ".rustup".to_string(),
    ];
    forbidden.push(env!("CARGO_MANIFEST_DIR").to_string());
    // Registry sources, when they reach the binary at all, are remapped.
    if contains(&a, "index.crates.io-") {
        assert!(contains(&a, "/cargo-registry/index.crates.io-"));
    }
    for f in &forbidden {
        assert!(!contains(&a, f), "the binary contains {f:?}");
    }
}

/// kiln's own binary, built as its release recipe would build it: the
/// committed sources of this repository, `cargo build --release --locked
/// --offline` in the sandbox. Slow (a full release build), so opt-in:
/// `cargo test --test command_cargo_build -- --ignored`.
#[test]
#[ignore = "full release build of kiln; run with --ignored"]
fn kiln_itself_builds_in_the_sandbox() {
    if !common::require_tool("bwrap") || !common::require_tool("git") {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    let files = common::run_ok(
        common::cmd("git")
            .args(["ls-files", "-z"])
            .current_dir(repo),
    );
    for f in files.split('\0').filter(|f| !f.is_empty()) {
        let from = repo.join(f);
        if from.is_file() {
            std::fs::create_dir_all(ws.join(f).parent().unwrap()).unwrap();
            std::fs::copy(&from, ws.join(f)).unwrap();
        }
    }
    let mut s = spec();
    s.argv = [
        "cargo",
        "build",
        "--release",
        "--locked",
        "--offline",
        "--bin",
        "kiln",
    ]
    .map(String::from)
    .to_vec();
    s.tools = sandbox::resolve_tools(&KILN_TOOLS.map(String::from), repo).unwrap();
    s.outputs = vec!["target/release/kiln".into()];
    let staging = t.path().join("out");
    command::build(&ws, ".", &s, &staging, &t.path().join("build.log"))
        .unwrap_or_else(|e| panic!("{}", kiln::error::chain(&e)));
    let bin = staging.join("target/release/kiln");
    let help = common::run_ok(common::cmd(bin.to_str().unwrap()).arg("--help"));
    assert!(help.contains("kiln"), "{help}");
    let bytes = std::fs::read(&bin).unwrap();
    for f in [
        t.path().display().to_string(),
        "/root".into(),
        "/tmp/cargo-home".into(),
        repo.display().to_string(),
    ] {
        assert!(!contains(&bytes, &f), "the kiln binary contains {f:?}");
    }
}

/// The tools kiln's own build needs: cargo and rustc, and the C toolchain
/// that build scripts (blake3, zstd-sys) drive through the `cc` crate: the
/// compiler, the assembler it runs from PATH, and the archiver.
const KILN_TOOLS: [&str; 5] = ["cargo", "rustc", "cc", "as", "ar"];
