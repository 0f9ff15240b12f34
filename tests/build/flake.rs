//! `flake.nix` cannot be evaluated against nixpkgs offline; Nix itself checks
//! that it parses, and evaluates its outputs against a minimal stand-in for
//! the few nixpkgs attributes it uses, so that the names, versions and files
//! it declares are checked against the real project.

use crate::common;

use std::path::PathBuf;

use common::{cmd, require_tool, run_ok};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn flake_parses() {
    if !require_tool("nix-instantiate") {
        return;
    }
    run_ok(
        cmd("nix-instantiate")
            .arg("--parse")
            .arg(root().join("flake.nix")),
    );
}

#[test]
fn flake_outputs_name_the_real_build() {
    if !require_tool("nix-instantiate") {
        return;
    }
    let flake = root().join("flake.nix");
    // Every nixpkgs attribute the flake touches, and nothing else: a new
    // one makes this evaluation fail until it is added here.
    let expr = format!(
        r#"
let
  flake = import {flake};
  pkgs = {{
    rustPlatform.buildRustPackage = args: args // {{ outPath = "/nix/store/00000000000000000000000000000000-kiln"; }};
    mkShell = args: args;
    lib = {{
      fileset = {{ toSource = a: a; unions = l: l; }};
      licenses.mit = "MIT";
    }};
  }} // builtins.listToAttrs (map (n: {{ name = n; value = n; }}) [
    "cargo" "rustc" "clippy" "rustfmt" "git" "nix" "skopeo" "umoci"
    "bubblewrap" "python3" "nodejs" "zstd" "nginx"
  ]);
  nixpkgs = {{
    lib.genAttrs = names: f: builtins.listToAttrs (map (n: {{ name = n; value = f n; }}) names);
    legacyPackages = {{ x86_64-linux = pkgs; aarch64-linux = pkgs; }};
  }};
  out = flake.outputs {{ self = out; inherit nixpkgs; }};
  pkg = out.packages.x86_64-linux.default;
in {{
  inputs = builtins.attrNames flake.inputs;
  pname = pkg.pname;
  version = pkg.version;
  lockFile = toString pkg.cargoLock.lockFile;
  root = toString pkg.src.root;
  files = map toString pkg.src.fileset;
  mainProgram = pkg.meta.mainProgram;
  shell = out.devShells.x86_64-linux.default.packages;
  app = out.apps.x86_64-linux.default;
}}
"#,
        flake = flake.display()
    );
    let json = run_ok(
        cmd("nix-instantiate")
            .args(["--eval", "--strict", "--json", "-E"])
            .arg(&expr),
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let manifest: toml_edit::DocumentMut = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(v["inputs"], serde_json::json!(["nixpkgs"]));
    assert_eq!(v["pname"], manifest["package"]["name"].as_str().unwrap());
    assert_eq!(
        v["version"],
        manifest["package"]["version"].as_str().unwrap()
    );
    assert_eq!(v["mainProgram"], "kiln");
    assert_eq!(
        PathBuf::from(v["lockFile"].as_str().unwrap()),
        root().join("Cargo.lock")
    );
    assert_eq!(PathBuf::from(v["root"].as_str().unwrap()), root());
    for f in v["files"].as_array().unwrap() {
        assert!(
            PathBuf::from(f.as_str().unwrap()).exists(),
            "flake.nix names {f}, which does not exist"
        );
    }
    // The source set holds what cargo needs to build the binary.
    let files: Vec<PathBuf> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| PathBuf::from(f.as_str().unwrap()))
        .collect();
    for needed in ["Cargo.toml", "Cargo.lock", "src"] {
        assert!(
            files.contains(&root().join(needed)),
            "{needed} missing from src"
        );
    }
    // The binary the app runs is the one Cargo.toml declares.
    let bin = manifest["bin"]
        .as_array_of_tables()
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(
        v["app"]["program"],
        format!(
            "/nix/store/00000000000000000000000000000000-kiln/bin/{}",
            bin["name"].as_str().unwrap()
        )
    );
    assert_eq!(v["app"]["type"], "app");
    let shell: Vec<&str> = v["shell"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for tool in [
        "cargo",
        "nix",
        "skopeo",
        "umoci",
        "bubblewrap",
        "python3",
        "nodejs",
    ] {
        assert!(shell.contains(&tool), "devShell lacks {tool}: {shell:?}");
    }
}
