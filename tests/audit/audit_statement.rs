//! The in-toto statements kiln writes validate against the in-toto
//! attestation framework's own schema (the `in-toto-attestation` Python
//! package: the Statement v1 checks and, strictly, the SLSA Provenance v1
//! protobuf), and two reproducible builds — other path, TZ and umask —
//! write identical statements, per-entry provenance digest included.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::audit::audited_monorepo;
use common::{cmd, kiln, kiln_bin, require_tool, run, run_ok};

fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

const VALIDATE: &str = r#"
import json, sys
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
for p in sys.argv[1:]:
    d = json.load(open(p))
    Statement.copy_from_pb(json_format.ParseDict(d, statement_pb2.Statement())).validate()
    prov = json_format.ParseDict(d["predicate"], provenance_pb2.Provenance())
    for rd in list(prov.build_definition.resolved_dependencies) + list(prov.run_details.byproducts):
        ResourceDescriptor.copy_from_pb(rd).validate()
    assert prov.run_details.byproducts[0].digest["sha256"], p
print(len(sys.argv) - 1)
"#;

/// Whether Python has the `in_toto_attestation` package (a loud failure under CI).
fn have_in_toto() -> bool {
    if !require_tool("python3") {
        return false;
    }
    let ok = run(cmd("python3").args(["-c", "import in_toto_attestation, google.protobuf"]))
        .status
        .success();
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("the Python package in-toto-attestation is not installed (scripts/test.sh installs it)");
        }
        eprintln!("SKIP: pip install in-toto-attestation to run this test");
    }
    ok
}

#[test]
fn statements_validate_and_repeat_across_reproducible_builds() {
    if !have_in_toto() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let recipes = [
        "build",
        "docs-bundle",
        "docs-zip",
        "mini-npm",
        "mini-sdist",
        "mini-wheel",
        "docs-image",
    ];
    let a = audited_monorepo(&tmp.path().join("a"));
    run_ok(&mut kiln_in(&a, &tmp.path().join("store-a"), &recipes));
    let b = audited_monorepo(&tmp.path().join("elsewhere/b"));
    run_ok(
        cmd("sh")
            .args(["-c", "umask 077 && exec \"$0\" \"$@\""])
            .arg(kiln_bin())
            .arg("-C")
            .arg(&b)
            .arg("--store")
            .arg(tmp.path().join("store-b"))
            .args(recipes)
            .env_remove("SOURCE_DATE_EPOCH")
            .env("TZ", "Asia/Kathmandu"),
    );
    let statements: Vec<String> = std::fs::read_dir(a.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".intoto.json"))
        .collect();
    assert!(statements.len() >= 7, "{statements:?}");
    for s in &statements {
        let (x, y) = (
            std::fs::read(a.join("dist").join(s)).unwrap(),
            std::fs::read(b.join("dist").join(s)).unwrap(),
        );
        assert!(x == y, "{s} differs between the two builds");
    }
    let paths: Vec<String> = statements
        .iter()
        .map(|s| a.join("dist").join(s).display().to_string())
        .collect();
    let out = run_ok(cmd("python3").args(["-c", VALIDATE]).args(&paths));
    assert_eq!(out, statements.len().to_string());
}
