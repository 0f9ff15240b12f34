//! kiln's own release (the README's first command): built in one clone,
//! rebuilt and compared bit for bit (`--check`) from a second clone at
//! another path with another umask and time zone, then all cache hits; both
//! clones publish the same `SHA256SUMS`, and the binary in the release
//! tarball runs.

mod common;

use std::path::Path;

use common::{cmd, kiln, kiln_bin, require_tool, run, run_ok};

fn clone_to(dest: &Path) {
    let src = env!("CARGO_MANIFEST_DIR");
    run_ok(
        cmd("git")
            .args(["clone", "-q", "--no-hardlinks", src])
            .arg(dest),
    );
}

#[test]
fn kiln_builds_its_own_release_reproducibly() {
    if !require_tool("bwrap") || !require_tool("cargo") || !require_tool("git") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a/kiln");
    let b = tmp.path().join("b/somewhere/else/kiln-clone");
    clone_to(&a);
    clone_to(&b);
    let store = tmp.path().join("store");

    let built = run_ok(
        kiln()
            .arg("-C")
            .arg(&a)
            .arg("--store")
            .arg(&store)
            .args(["build", "--json"]),
    );
    let v: serde_json::Value = serde_json::from_str(&built).unwrap();
    let recipes = v["recipes"].as_array().unwrap();
    assert!(recipes.iter().all(|r| r["status"] == "built"), "{built}");
    let names: Vec<&str> = recipes
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kiln-bin", "kiln-crate", "kiln-dist"]);

    // The second clone, elsewhere, under another umask and TZ, rebuilds every
    // registered derivation and compares bytes.
    let mut c = cmd("sh");
    c.args(["-c", "umask 027 && exec \"$0\" \"$@\""])
        .arg(kiln_bin())
        .arg("-C")
        .arg(&b)
        .arg("--store")
        .arg(&store)
        .args(["build", "--check", "--json"])
        .env("TZ", "Pacific/Chatham")
        .env_remove("KILN_STORE")
        .env_remove("SOURCE_DATE_EPOCH");
    let checked = run(&mut c);
    assert!(
        checked.status.success(),
        "rebuilding from another clone differs:\n{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert!(v["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "checked"));

    let again = run_ok(
        kiln()
            .arg("-C")
            .arg(&a)
            .arg("--store")
            .arg(&store)
            .args(["build", "--json"]),
    );
    let v: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert!(
        v["recipes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "cached"),
        "{again}"
    );

    let sums_a = std::fs::read_to_string(a.join("dist/SHA256SUMS")).unwrap();
    let sums_b = std::fs::read_to_string(b.join("dist/SHA256SUMS")).unwrap();
    assert_eq!(sums_a, sums_b);
    assert!(
        sums_a.contains(".crate") && sums_a.contains("-x86_64-unknown-linux-gnu.tar.gz"),
        "{sums_a}"
    );

    // The released binary works and carries no host path.
    let tarball = std::fs::read_dir(a.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy()
                .ends_with("-x86_64-unknown-linux-gnu.tar.gz")
        })
        .unwrap();
    let unpack = tmp.path().join("unpacked");
    std::fs::create_dir_all(&unpack).unwrap();
    run_ok(cmd("tar").arg("-xzf").arg(&tarball).arg("-C").arg(&unpack));
    let top = std::fs::read_dir(&unpack)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let version = run_ok(cmd(top.join("kiln").to_str().unwrap()).arg("--version"));
    assert!(version.starts_with("kiln "), "{version}");
    let bytes = std::fs::read(top.join("kiln")).unwrap();
    for leak in [
        tmp.path().to_string_lossy().as_bytes(),
        b"/root/".as_slice(),
        b"/build/src",
    ] {
        assert!(
            !bytes.windows(leak.len()).any(|w| w == leak),
            "the binary contains {:?}",
            String::from_utf8_lossy(leak)
        );
    }
}
