//! `kiln verify`: a fresh build of every native surface verifies at the
//! bytes level from `dist/` and, without its statement, from a copy
//! elsewhere with `--rev`; a crate verifies from its own
//! `.cargo_vcs_info.json`; a tarball repacked by the real `npm pack`
//! verifies at the content level only; a flipped byte, a changed entry
//! mtime and a changed provenance field each exit 1 naming the entry or
//! field; what cannot be rebuilt exits 2 saying why.

use crate::common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::audit::audited_monorepo;
use common::fixture::git;
use common::{cmd, kiln, require_tool, run, run_ok};

fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

fn verify(root: &Path, artifact: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let mut c = kiln();
    c.arg("-C")
        .arg(root)
        .args(["verify", "--json"])
        .arg(artifact)
        .args(extra);
    c.env_remove("SOURCE_DATE_EPOCH");
    let out = run(&mut c);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, v)
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn dist_file(root: &Path, pred: impl Fn(&str) -> bool) -> PathBuf {
    let dist = root.join("dist");
    let n = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| pred(n) && !n.ends_with(".intoto.json"))
        .expect("artifact in dist/");
    dist.join(n)
}

#[test]
fn native_surfaces_verify_from_dist_and_from_a_copy_with_rev() {
    let tmp = tempfile::tempdir().unwrap();
    let root = audited_monorepo(&tmp.path().join("mono"));
    let store = tmp.path().join("store");
    let recipes = [
        "docs-bundle",
        "docs-zip",
        "mini-npm",
        "mini-sdist",
        "mini-wheel",
        "docs-image",
    ];
    let mut args = vec!["build"];
    args.extend(recipes);
    run_ok(&mut kiln_in(&root, &store, &args));
    let head = git(&root, &["rev-parse", "HEAD"]);
    let elsewhere = tmp.path().join("downloads");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let artifacts: Vec<PathBuf> = std::fs::read_dir(root.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            !n.ends_with(".intoto.json") && !n.starts_with("SHA256SUMS") && !n.starts_with('.')
        })
        .collect();
    assert!(artifacts.len() >= 7, "{artifacts:?}");
    for a in &artifacts {
        let (out, v) = verify(&root, a, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            a.display(),
            show(&out)
        );
        assert_eq!(v["outcome"], "bytes-identical");
        assert_eq!(v["commit"], head.as_str());
        assert_eq!(v["commit_from"], "sidecar");
        assert_eq!(v["recipe_from"], "the provenance statement beside it");
        // A copy elsewhere, without its statement: --rev, recipe by kind and name.
        if a.is_file() {
            let copy = elsewhere.join(a.file_name().unwrap());
            std::fs::copy(a, &copy).unwrap();
            let (out, v) = verify(&root, &copy, &["--rev", "0.3.0-rc.1"]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                copy.display(),
                show(&out)
            );
            assert_eq!(v["commit_from"], "flag");
            assert_eq!(v["recipe_from"], "its kind and file name");
        }
    }
}

/// An artifact built with an explicit `SOURCE_DATE_EPOCH` is rebuilt with
/// the epoch its statement records.
#[test]
fn an_explicit_source_date_epoch_is_taken_from_the_statement() {
    let tmp = tempfile::tempdir().unwrap();
    let root = audited_monorepo(&tmp.path().join("mono"));
    let store = tmp.path().join("store");
    let mut build = kiln_in(&root, &store, &["build", "docs-bundle"]);
    build.env("SOURCE_DATE_EPOCH", "1234567890");
    run_ok(&mut build);
    let a = dist_file(&root, |n| n.ends_with(".tar.gz"));
    let (out, v) = verify(&root, &a, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(v["outcome"], "bytes-identical");
}

#[test]
fn a_crate_verifies_from_its_own_cargo_vcs_info_and_a_command_output_from_dist() {
    if !require_tool("bwrap") || !require_tool("cargo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = audited_monorepo(&tmp.path().join("mono"));
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(
        &root,
        &store,
        &["build", "mini-crates", "mini-cli-bin"],
    ));
    // The command output (a directory artifact), from dist/ with its statement.
    let (out, v) = verify(&root, &root.join("dist/mini-cli-bin"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(v["outcome"], "bytes-identical");
    // ... and from a copy elsewhere, without its statement, with --rev.
    let bin_copy = tmp.path().join("elsewhere/mini-cli-bin");
    std::fs::create_dir_all(&bin_copy).unwrap();
    run_ok(
        cmd("cp")
            .arg("-a")
            .arg(root.join("dist/mini-cli-bin/."))
            .arg(&bin_copy),
    );
    let (out, v) = verify(&root, &bin_copy, &["--rev", "HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(v["recipe"], "mini-cli-bin");
    let krate = dist_file(&root, |n| {
        n.starts_with("mini-core-") && n.ends_with(".crate")
    });
    let (out, v) = verify(&root, &krate, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(v["commit_from"], "sidecar");
    let copy = tmp.path().join(krate.file_name().unwrap());
    std::fs::copy(&krate, &copy).unwrap();
    let (out, v) = verify(&root, &copy, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(v["commit_from"], "cargo-vcs-info");
    assert_eq!(v["commit"], git(&root, &["rev-parse", "HEAD"]).as_str());
    assert!(String::from_utf8_lossy(&out.stdout).contains("bytes-identical"));
}

fn gunzip(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(tar: &[u8], to: &Path) {
    gzip_at(tar, to, 6);
}

/// `tar` gzipped at `level`.
fn gzip_at(tar: &[u8], to: &Path, level: u32) {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(tar).unwrap();
    std::fs::write(to, e.finish().unwrap()).unwrap();
}

/// The header offset of the ustar entry `name` in `tar`.
fn header_of(tar: &[u8], name: &str) -> usize {
    let mut at = 0;
    while at + 512 <= tar.len() {
        let h = &tar[at..at + 512];
        let n: Vec<u8> = h[..100].iter().copied().take_while(|b| *b != 0).collect();
        let size = usize::from_str_radix(
            std::str::from_utf8(&h[124..136])
                .unwrap()
                .trim_matches(|c| c == '\0' || c == ' '),
            8,
        )
        .unwrap_or(0);
        if n == name.as_bytes() {
            return at;
        }
        at += 512 + size.div_ceil(512) * 512;
    }
    panic!("no {name} in the tar");
}

fn fix_checksum(h: &mut [u8]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

#[test]
fn tampering_is_named_and_npm_pack_verifies_at_content_level() {
    let tmp = tempfile::tempdir().unwrap();
    let root = audited_monorepo(&tmp.path().join("mono"));
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(&root, &store, &["build", "mini-npm"]));
    let tgz = dist_file(&root, |n| n.ends_with(".tgz"));
    let name = tgz.file_name().unwrap().to_string_lossy().into_owned();
    let tar = gunzip(&tgz);
    let rev = ["--rev", "HEAD"];
    // One flipped byte of package/package.json's contents.
    let h = header_of(&tar, "package/package.json");
    let mut flipped = tar.clone();
    flipped[h + 512 + 5] ^= 0x20;
    let bad = tmp.path().join("flip").join(&name);
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    gzip(&flipped, &bad);
    let (out, v) = verify(&root, &bad, &rev);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(v["outcome"], "different");
    let text = serde_json::to_string(&v["differences"]).unwrap();
    assert!(text.contains("package/package.json"), "{text}");
    // A byte no entry field shows (the padding after package.json): not
    // "content identical", since more than the compression differs.
    let size = usize::from_str_radix(
        std::str::from_utf8(&tar[h + 124..h + 135])
            .unwrap()
            .trim_matches(|c| c == '\0' || c == ' '),
        8,
    )
    .unwrap();
    assert!(size % 512 != 0);
    let mut padded = tar.clone();
    padded[h + 512 + size] = b'x';
    let bad = tmp.path().join("pad").join(&name);
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    gzip(&padded, &bad);
    let (out, v) = verify(&root, &bad, &["--rev", "HEAD", "--level", "content"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(v["outcome"], "different");
    let text = serde_json::to_string(&v["differences"]).unwrap();
    assert!(text.contains("decompressed stream"), "{text}");
    // One entry's mtime.
    let mut touched = tar.clone();
    let h = header_of(&tar, "package/package.json");
    touched[h + 136..h + 147].copy_from_slice(b"14000000000");
    fix_checksum(&mut touched[h..h + 512]);
    let bad = tmp.path().join("mtime").join(&name);
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    gzip(&touched, &bad);
    let (out, v) = verify(&root, &bad, &rev);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = serde_json::to_string(&v["differences"]).unwrap();
    assert!(
        text.contains("package/package.json") && text.contains("mtime"),
        "{text}"
    );
    // Only the compressed stream differs (another level): content, not bytes.
    let regz = tmp.path().join("regz").join(&name);
    std::fs::create_dir_all(regz.parent().unwrap()).unwrap();
    gzip_at(&tar, &regz, 1);
    let (out, v) = verify(&root, &regz, &rev);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(v["outcome"], "content-identical");
    let (out, _) = verify(&root, &regz, &["--rev", "HEAD", "--level", "content"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // One changed provenance field beside the artifact.
    let side = PathBuf::from(format!("{}.intoto.json", tgz.display()));
    let mut st: serde_json::Value = serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap();
    let deps = st["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array_mut()
        .unwrap();
    let i = deps
        .iter()
        .position(|d| d["uri"].as_str().unwrap().starts_with("kiln-snapshot:"))
        .unwrap();
    deps[i]["digest"]["blake3"] = serde_json::json!("00".repeat(32));
    std::fs::write(&side, serde_json::to_vec(&st).unwrap()).unwrap();
    let (out, v) = verify(&root, &tgz, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(v["outcome"], "bytes-identical");
    let field = format!("predicate.buildDefinition.resolvedDependencies[{i}].digest.blake3");
    assert_eq!(v["provenance"][0]["field"], field.as_str(), "{v}");
    st["subject"][0]["digest"]["sha256"] = serde_json::json!("ab".repeat(32));
    std::fs::write(&side, serde_json::to_vec(&st).unwrap()).unwrap();
    let (out, v) = verify(&root, &tgz, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(
        v["provenance"][0]["field"], "subject[0].digest.sha256",
        "{v}"
    );
    // A statement naming a revision expression instead of a commit id.
    let deps = st["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array_mut()
        .unwrap();
    let g = deps
        .iter()
        .position(|d| d["digest"]["gitCommit"].is_string())
        .unwrap();
    deps[g]["digest"]["gitCommit"] = serde_json::json!("HEAD");
    std::fs::write(&side, serde_json::to_vec(&st).unwrap()).unwrap();
    let (out, _) = verify(&root, &tgz, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a full commit id"),
        "{}",
        show(&out)
    );
    // Cannot be rebuilt: no commit known, or a commit the repository lacks.
    let lone = tmp.path().join("lone").join(&name);
    std::fs::create_dir_all(lone.parent().unwrap()).unwrap();
    std::fs::copy(&tgz, &lone).unwrap();
    let (out, _) = verify(&root, &lone, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pass --rev"),
        "{}",
        show(&out)
    );
    let (out, _) = verify(
        &root,
        &lone,
        &["--rev", "0123456789abcdef0123456789abcdef01234567"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not in the repository"),
        "{}",
        show(&out)
    );

    // The real `npm pack` of the same commit.
    if !require_tool("npm") {
        return;
    }
    let export = tmp.path().join("export");
    std::fs::create_dir_all(&export).unwrap();
    let archive = tmp.path().join("src.tar");
    git(
        &root,
        &["archive", "-o", archive.to_str().unwrap(), "HEAD", "node"],
    );
    run_ok(cmd("tar").arg("-xf").arg(&archive).arg("-C").arg(&export));
    let packed = tmp.path().join("packed");
    std::fs::create_dir_all(&packed).unwrap();
    let out = run_ok(
        cmd("npm")
            .args(["pack", "--json", "--ignore-scripts", "--pack-destination"])
            .arg(&packed)
            .current_dir(export.join("node"))
            .env("npm_config_cache", tmp.path().join("npm-cache"))
            .env("npm_config_loglevel", "error"),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let repacked = packed.join(v[0]["filename"].as_str().unwrap());
    assert_eq!(repacked.file_name().unwrap().to_string_lossy(), name);
    let (out, v) = verify(&root, &repacked, &["--rev", "HEAD", "--level", "content"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(v["outcome"], "content-identical");
    let (out, _) = verify(&root, &repacked, &["--rev", "HEAD"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
}
