//! The canonical derivation of a fixed recipe, pinned byte for byte.
//!
//! A derivation's blake3 is every output's cache key: renaming a field,
//! changing an encoding or the recipe configuration's serialisation changes
//! every key in every store. This test makes such a change a visible,
//! deliberate decision: rewrite `tests/golden/derivation.json` (run this
//! test with `KILN_BLESS=1`), update the hash below, and bump
//! `derive::FORMAT` when the encoding changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln::derive::{InputRef, Isolation, SourceDateEpoch, System, Versions};
use kiln::engine::plan::assemble;
use kiln::recipe::Recipes;
use kiln::sandbox::{SandboxMode, Tool, ToolLib, ToolVenv};
use kiln::source::{Checkout, Snapshot, SnapshotOptions};

const RECIPE: &str = r#"surface = "tarball"
source = "docs"
include = ["**/*.md"]
prefix = "docs-{version}/"
output = "docs-{version}.tar.gz"

[inputs]
bin = "tool"

[[map]]
from = "inputs/bin/tool"
to = "bin/tool"
"#;

const TOOL_RECIPE: &str =
    "surface = \"command\"\n\n[command]\nargv = [\"true\"]\noutputs = [\"out\"]\n";

/// blake3 of `tests/golden/derivation.json`.
const GOLDEN_HASH: &str = "44a6e7bcc359a2c3dbc69324d73aa2fa1dd5e67dbc3e3dfa57f0d578d5d84613";

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/derivation.json")
}

fn derivation_bytes() -> Vec<u8> {
    // A directory (not a git work tree): digests are blake3 of contents.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for (p, text) in [
        ("docs/a.md", "# A\n"),
        ("docs/sub/b.md", "b\n"),
        ("docs/skip.txt", "not selected\n"),
    ] {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    let recipes = Recipes::from_files(
        root,
        vec![
            (PathBuf::from("recipes/docs.toml"), RECIPE.to_string()),
            (PathBuf::from("recipes/tool.toml"), TOOL_RECIPE.to_string()),
        ],
    )
    .unwrap();
    let checkout = Checkout::resolve(root, None, false).unwrap();
    let snapshot = Snapshot::take(&checkout, &SnapshotOptions::default()).unwrap();
    let recipe = &recipes.recipes["docs"];
    let selection = snapshot
        .select(
            &recipe.file,
            &recipe.spec.source,
            &recipe.spec.include,
            &recipe.spec.exclude,
        )
        .unwrap();
    let versions = Versions {
        artifact: "1.2.3-rc.1".into(),
        cargo: Some("1.2.3-rc.1".into()),
        npm: Some("1.2.3-rc.1".into()),
        pypi: Some("1.2.3rc1".into()),
        ..Versions::default()
    };
    let epoch = SourceDateEpoch::resolve(None, Some(1_700_000_000), None, None);
    let mut inputs = BTreeMap::new();
    inputs.insert(
        "bin".to_string(),
        InputRef {
            recipe: "tool".into(),
            drv: kiln::derive::DrvHash::of(b"tool"),
            store_path: "if2l83kc9xc6imigiw8g3mmvl0sg9cv8-tool".parse().unwrap(),
            nar_hash: kiln::hash::Sha256::digest(b"tool output"),
        },
    );
    let tools = [
        Tool {
            name: "sh".into(),
            path: PathBuf::from("/bin/sh"),
            sha256: "00".repeat(32),
            version: "sh 1".into(),
            ..Tool::default()
        },
        // An interpreter: its ELF closure and stdlib enter the identity
        // (names and digests, never the host paths).
        Tool {
            name: "python3".into(),
            path: PathBuf::from("/opt/py/bin/python3.11"),
            sha256: "11".repeat(32),
            version: "Python 3.11.7".into(),
            version_ok: true,
            libs: vec![
                ToolLib {
                    name: "libc.so.6".into(),
                    path: PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                    sha256: "22".repeat(32),
                    origin_rel: None,
                },
                ToolLib {
                    name: "libpython3.11.so.1.0".into(),
                    path: PathBuf::from("/opt/py/lib/libpython3.11.so.1.0"),
                    sha256: "33".repeat(32),
                    origin_rel: None,
                },
            ],
            stdlib: Some("44".repeat(32)),
            headers: None,
            venv: Some(ToolVenv {
                dir: PathBuf::from("/srv/venv"),
                home: PathBuf::from("/opt/py/bin"),
                site_packages: "55".repeat(32),
            }),
        },
    ];
    let drv = assemble(
        recipe,
        &selection,
        versions,
        epoch,
        inputs,
        &tools,
        &[],
        Isolation::Process(SandboxMode::Bubblewrap),
        None,
        System::parse("x86_64-linux").unwrap(),
    );
    let bytes = drv.canonical_bytes();
    assert_eq!(drv.hash().as_str(), blake3::hash(&bytes).to_hex().as_str());
    bytes
}

#[test]
fn the_canonical_derivation_of_a_fixed_recipe_is_pinned() {
    let bytes = derivation_bytes();
    if std::env::var_os("KILN_BLESS").is_some() {
        std::fs::write(golden_path(), &bytes).unwrap();
    }
    let golden = std::fs::read(golden_path()).expect("tests/golden/derivation.json");
    assert!(
        bytes == golden,
        "the canonical derivation changed; every cache key changes with it.\nnow:    {}\ngolden: {}",
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(&golden)
    );
    assert_eq!(blake3::hash(&golden).to_hex().as_str(), GOLDEN_HASH);
}
