//! kiln's native npm packer against the real `npm pack` and `npm install`.

use crate::common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{cmd, require_tool, run_ok, write};
use kiln::error::{Classify, ErrorKind};
use kiln::surface::npm::{self, NpmError};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-basic");

/// Copy a directory tree; `reverse` creates entries in the opposite order
/// so that directory order on disk differs between copies.
fn copy_tree(src: &Path, dst: &Path, reverse: bool) {
    fs::create_dir_all(dst).unwrap();
    let mut entries: Vec<_> = fs::read_dir(src).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    if reverse {
        entries.reverse();
    }
    for e in entries {
        let to = dst.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&e.path(), &to, reverse);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &to).unwrap();
        } else {
            fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// The fixture plus files npm must leave out, in a scratch directory.
fn fixture_copy(tmp: &Path, reverse: bool) -> PathBuf {
    let dir = tmp.join("pkg");
    copy_tree(Path::new(FIXTURE), &dir, reverse);
    write(
        &dir.join("node_modules/dep/index.js"),
        "module.exports = 1;\n",
    );
    write(&dir.join("package-lock.json"), "{}\n");
    write(&dir.join(".npmrc"), "registry=http://127.0.0.1:9/\n");
    write(&dir.join("lib/.DS_Store"), "x");
    write(&dir.join(".git/HEAD"), "ref: refs/heads/main\n");
    write(&dir.join("lib/.gitignore"), "alpha.js\n");
    std::os::unix::fs::symlink("a-b.js", dir.join("lib/link.js")).unwrap();
    dir
}

fn npm_pack_real(dir: &Path, dest: &Path) -> PathBuf {
    fs::create_dir_all(dest).unwrap();
    let out = run_ok(
        cmd("npm")
            .args(["pack", "--json", "--ignore-scripts", "--pack-destination"])
            .arg(dest)
            .current_dir(dir)
            .env("npm_config_cache", dest.join(".npm-cache"))
            .env("npm_config_loglevel", "error"),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    dest.join(v[0]["filename"].as_str().unwrap())
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn kiln_pack(dir: &Path, dest: &Path) -> (npm::NpmPack, PathBuf) {
    fs::create_dir_all(dest).unwrap();
    let mut buf = Vec::new();
    let p = npm::pack(dir, &mut buf).unwrap();
    let path = dest.join(&p.file_name);
    fs::write(&path, &buf).unwrap();
    (p, path)
}

#[test]
fn fixture_matches_npm_pack() {
    if !require_tool("npm") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture_copy(tmp.path(), false);
    let (p, kiln_tgz) = kiln_pack(&dir, &tmp.path().join("kiln"));
    let mut listed = p.files.clone();
    listed.sort();
    assert_eq!(
        listed,
        common::npm::dry_run_files(&dir, &tmp.path().join("cache"))
    );
    assert!(!p
        .files
        .iter()
        .any(|f| f.starts_with("node_modules") || f.contains("secret")));

    let npm_tgz = npm_pack_real(&dir, &tmp.path().join("npm"));
    assert_eq!(kiln_tgz.file_name(), npm_tgz.file_name());
    assert_eq!(p.file_name, "kiln-test-basic-1.2.3-rc.1.tgz");
    let (ours, theirs) = (gunzip(&kiln_tgz), gunzip(&npm_tgz));
    assert!(ours == theirs, "uncompressed tar differs from npm pack's");
    // the gzip layer: npm's header but for XFL (level 6, not 9), a
    // different deflate (docs/npm.md)
    let (a, b) = (fs::read(&kiln_tgz).unwrap(), fs::read(&npm_tgz).unwrap());
    assert_eq!(a[..8], b[..8], "gzip header");
    assert_eq!((a[8], a[9]), (0, b[9]), "gzip XFL and OS");
    assert_eq!(p.size, a.len() as u64);
    let unpacked: u64 = p
        .files
        .iter()
        .map(|f| fs::metadata(dir.join(f)).unwrap().len())
        .sum();
    assert_eq!(p.unpacked_size, unpacked);
}

#[test]
fn gitignore_fallback_and_defaults_match_npm() {
    if !require_tool("npm") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plain");
    write(
        &dir.join("package.json"),
        r#"{"name":"plain-pkg","version":"0.1.0","main":"./index.js","bin":"cli.js"}"#,
    );
    write(
        &dir.join(".gitignore"),
        "build/\n*.log\n!keep.log\n/docs/private\n",
    );
    for f in [
        "index.js",
        "cli.js",
        "build/out.js",
        "a.log",
        "keep.log",
        "docs/private/x.md",
        "docs/public/y.md",
        "src/.gitignore",
        "src/gen.js",
        "src/ok.js",
        "Readme.markdown",
        "licence",
        "CHANGELOG",
        ".eslintrc",
        "x.js.orig",
        ".a.swp",
        "npm-debug.log",
        "yarn.lock",
        "._junk",
        "sub/node_modules/x.js",
        "sub/package.json",
    ] {
        write(&dir.join(f), format!("// {f}\n"));
    }
    write(&dir.join("src/.gitignore"), "gen.js\n");
    let mut ours = npm::packed_files(&dir).unwrap().1;
    ours.sort();
    assert_eq!(
        ours,
        common::npm::dry_run_files(&dir, &tmp.path().join("cache"))
    );
    let (_, kiln_tgz) = kiln_pack(&dir, &tmp.path().join("kiln"));
    let npm_tgz = npm_pack_real(&dir, &tmp.path().join("npm"));
    assert!(
        gunzip(&kiln_tgz) == gunzip(&npm_tgz),
        "uncompressed tar differs"
    );
}

/// A generated package of ~5k files with npm-hostile names.
pub fn generate_large(dir: &Path, files: usize) {
    let exts = [
        "js", "JS", "mjs", "d.ts", "json", "md", "css", "", "map", "Txt",
    ];
    let words = [
        "alpha", "Beta", "gamma_x", "delta-y", "Zeta", "a.b", "café", "naïve", "straße", "ÆON",
        "x1", "x10", "x2", "_under", "-dash", "~tilde", "@at", "A", "a", "ab", "aB",
    ];
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    write(
        &dir.join("package.json"),
        r#"{"name":"@bench/large","version":"2.0.0","main":"index.js","bin":{"large":"bin/large.js"}}"#,
    );
    write(&dir.join("index.js"), "module.exports = 'large';\n");
    write(&dir.join("bin/large.js"), "#!/usr/bin/env node\n");
    write(&dir.join(".npmignore"), "*.map\nignored/\n");
    let mut n = 0;
    while n < files {
        let depth = next() % 4;
        let mut p = PathBuf::new();
        for _ in 0..depth {
            p.push(words[next() % words.len()]);
        }
        if next() % 50 == 0 {
            p.push("a-very-long-directory-name-to-push-paths-beyond-the-ustar-one-hundred-byte-name-field");
        }
        let ext = exts[next() % exts.len()];
        let stem = format!("{}{}", words[next() % words.len()], next() % 97);
        let name = if ext.is_empty() {
            stem
        } else {
            format!("{stem}.{ext}")
        };
        p.push(name);
        if next() % 100 == 0 {
            p = Path::new("ignored").join(p);
        }
        let full = dir.join(&p);
        if full.exists() || full.parent().is_some_and(|d| d.is_file()) {
            continue;
        }
        if p.ancestors().skip(1).any(|a| dir.join(a).is_file()) {
            continue;
        }
        write(
            &full,
            format!("// {}\n{}\n", p.display(), "x".repeat(next() % 200)),
        );
        if next() % 10 == 0 {
            fs::set_permissions(&full, fs::Permissions::from_mode(0o755)).unwrap();
        }
        n += 1;
    }
}

#[test]
fn large_generated_package_matches_npm_pack() {
    if !require_tool("npm") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("large");
    generate_large(&dir, 5000);
    let (p, kiln_tgz) = kiln_pack(&dir, &tmp.path().join("kiln"));
    assert!(p.files.len() > 4000, "{} files", p.files.len());
    let npm_tgz = npm_pack_real(&dir, &tmp.path().join("npm"));
    let (ours, theirs) = (gunzip(&kiln_tgz), gunzip(&npm_tgz));
    if ours != theirs {
        let list = |b: &[u8]| -> Vec<String> {
            let mut a = tar::Archive::new(b);
            a.entries()
                .unwrap()
                .map(|e| e.unwrap().path().unwrap().display().to_string())
                .collect()
        };
        let (a, b) = (list(&ours), list(&theirs));
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        panic!(
            "uncompressed tar differs: {} vs {} entries, first difference at {:?}: {:?} vs {:?}",
            a.len(),
            b.len(),
            first,
            first.map(|i| &a[i]),
            first.map(|i| &b[i])
        );
    }
}

#[test]
fn npm_installs_kiln_tarball_offline() {
    if !require_tool("npm") || !require_tool("node") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_, tgz) = kiln_pack(Path::new(FIXTURE), &tmp.path().join("out"));
    let proj = tmp.path().join("consumer");
    write(
        &proj.join("package.json"),
        r#"{"name":"consumer","version":"1.0.0","private":true}"#,
    );
    run_ok(
        cmd("npm")
            .args([
                "install",
                "--offline",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
            ])
            .arg(&tgz)
            .current_dir(&proj)
            .env("npm_config_cache", tmp.path().join("cache"))
            .env("npm_config_loglevel", "error"),
    );
    let out = run_ok(
        cmd("node")
            .args([
                "-e",
                "const m = require('@kiln-test/basic'); console.log(m.hello(), m.ab, m.deep)",
            ])
            .current_dir(&proj),
    );
    assert_eq!(out, "hi a-b deep");
    for bin in ["basic-cli", "basic-other"] {
        let link = proj.join("node_modules/.bin").join(bin);
        let mode = fs::metadata(&link).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{bin} not executable: {mode:o}");
    }
    assert_eq!(
        run_ok(&mut cmd(proj
            .join("node_modules/.bin/basic-cli")
            .to_str()
            .unwrap())),
        "hi"
    );
}

/// A package whose tar spans many gzip pieces (writer npm-v2, docs/npm.md):
/// the same bytes on one thread as on two, one gzip member that gzip,
/// Node's zlib, tar and npm itself read whole.
#[test]
fn a_pieced_tarball_is_one_gzip_stream_for_every_reader_and_thread_count() {
    if !require_tool("npm") || !require_tool("node") || !require_tool("gzip") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("large");
    generate_large(&dir, 3000);
    let pack_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut buf = Vec::new();
        let p = pool.install(|| npm::pack(&dir, &mut buf).unwrap());
        (p, buf)
    };
    let (p, one) = pack_on(1);
    let (_, two) = pack_on(2);
    assert!(one == two, "the bytes depend on the thread count");
    let tgz = tmp.path().join(&p.file_name);
    fs::write(&tgz, &one).unwrap();
    let tar = gunzip(&tgz);
    assert!(
        tar.len() > 8 * (256 << 10),
        "{} bytes: too few pieces",
        tar.len()
    );
    // Each piece but the last ends in a sync flush's empty stored block.
    let flushes = one.windows(4).filter(|w| w == &[0, 0, 0xff, 0xff]).count();
    assert!(
        flushes >= tar.len() / (256 << 10) - 1,
        "{flushes} sync flushes"
    );

    run_ok(cmd("gzip").arg("-t").arg(&tgz));
    let listed = run_ok(cmd("tar").arg("-tzf").arg(&tgz));
    assert_eq!(listed.lines().count(), p.files.len());
    let node_sha = run_ok(cmd("node").arg("-e").arg(
        "const z=require('zlib'),f=require('fs'),c=require('crypto');\
         console.log(c.createHash('sha256').update(z.gunzipSync(f.readFileSync(process.argv[1]))).digest('hex'))",
    ).arg(&tgz));
    use sha2::Digest;
    let ours: String = sha2::Sha256::digest(&tar)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(node_sha, ours, "Node's zlib reads another tar");

    let proj = tmp.path().join("consumer");
    write(
        &proj.join("package.json"),
        r#"{"name":"consumer","version":"1.0.0","private":true}"#,
    );
    run_ok(
        cmd("npm")
            .args([
                "install",
                "--offline",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
            ])
            .arg(&tgz)
            .current_dir(&proj)
            .env("npm_config_cache", tmp.path().join("cache"))
            .env("npm_config_loglevel", "error"),
    );
    let installed = proj.join("node_modules/@bench/large");
    for f in &p.files {
        assert!(installed.join(f).is_file(), "npm install lost {f}");
    }
}

#[test]
fn same_bytes_regardless_of_creation_order_mtimes_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = fixture_copy(&tmp.path().join("a"), false);
    let b = fixture_copy(&tmp.path().join("b"), true);
    // a different umask shows up as different modes on disk
    for (rel, mode) in [
        ("README.md", 0o600),
        ("lib/index.js", 0o664),
        ("bin/cli.js", 0o775),
    ] {
        fs::set_permissions(b.join(rel), fs::Permissions::from_mode(mode)).unwrap();
    }
    let old = fs::FileTimes::new()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000));
    fs::File::options()
        .write(true)
        .open(b.join("lib/a-b.js"))
        .unwrap()
        .set_times(old)
        .unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let pa = npm::pack(&a, &mut x).unwrap();
    let pb = npm::pack(&b, &mut y).unwrap();
    assert!(x == y, "tarballs differ");
    assert_eq!(pa, pb);
}

fn bad(dir: &Path) -> NpmError {
    let e = npm::pack(dir, std::io::sink()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput, "{e}");
    e
}

#[test]
fn bad_inputs_are_typed_errors_naming_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let case = |name: &str, manifest: Option<&str>| -> PathBuf {
        let dir = d.join(name);
        fs::create_dir_all(&dir).unwrap();
        write(&dir.join("index.js"), "1;\n");
        if let Some(m) = manifest {
            write(&dir.join("package.json"), m);
        }
        dir
    };
    let e = bad(&case("none", None));
    assert!(matches!(e, NpmError::MissingManifest { .. }), "{e}");
    assert!(e.to_string().contains("none/package.json"));

    let e = bad(&case("json", Some("{\"name\": ")));
    assert!(matches!(e, NpmError::InvalidJson { .. }), "{e}");

    let e = bad(&case("noname", Some(r#"{"version":"1.0.0"}"#)));
    assert!(
        matches!(e, NpmError::MissingField { field: "name", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("noname/package.json") && e.to_string().contains("`name`"));

    let e = bad(&case("nover", Some(r#"{"name":"x"}"#)));
    assert!(
        matches!(
            e,
            NpmError::MissingField {
                field: "version",
                ..
            }
        ),
        "{e}"
    );

    let e = bad(&case("badver", Some(r#"{"name":"x","version":"1.0"}"#)));
    assert!(
        matches!(
            e,
            NpmError::BadField {
                field: "version",
                ..
            }
        ),
        "{e}"
    );

    // A `files` entry that matches nothing: npm ignores it; kiln packs and warns.
    let dir = case(
        "files",
        Some(r#"{"name":"x","version":"1.0.0","files":["index.js","dist/"]}"#),
    );
    let (_, _, warnings) = npm::packed_files_warn(&dir).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("\"dist/\"") && warnings[0].contains("files/package.json"),
        "{warnings:?}"
    );
    let e = bad(&case(
        "files2",
        Some(r#"{"name":"x","version":"1.0.0","files":"index.js"}"#),
    ));
    assert!(
        matches!(e, NpmError::BadField { field: "files", .. }),
        "{e}"
    );
}

/// Pins kiln's own `.tgz` bytes for the fixture: the tar layout is checked
/// against npm above, so a change here means the deflate backend, its
/// version or level changed — a builder-identity change (docs/npm.md).
#[test]
fn fixture_tgz_golden_sha256() {
    use sha2::{Digest, Sha256};
    let mut buf = Vec::new();
    npm::pack(Path::new(FIXTURE), &mut buf).unwrap();
    let hex: String = Sha256::digest(&buf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, GOLDEN_FIXTURE_TGZ_SHA256);
}

/// Writer npm-v2 (level 6 in 256 KiB pieces; the fixture is one piece).
/// npm-v1 (one zlib-rs stream at level 9) wrote
/// d9beeb1930bb6258efb7cf23cf2f1e5955625e0eae2ad5ed0dab715a1f2f1b5f.
const GOLDEN_FIXTURE_TGZ_SHA256: &str =
    "3a27ecb740e26611d4bd373100049db067a38d1b9dbf381c7b78f40fc67edc24";

/// Random layouts and ignore rules: kiln's selection must equal npm's.
#[test]
fn generated_ignore_rules_select_like_npm() {
    if !require_tool("npm") {
        return;
    }
    let paths = [
        "index.js",
        "README.md",
        "CHANGELOG.md",
        "lib/a.js",
        "lib/keep.js",
        "lib/b.map",
        "lib/sub/c.js",
        "lib/sub/d.ts",
        "lib/sub/d.d.ts",
        "src/x.ts",
        "src/secret.ts",
        "src/deep/y.ts",
        "docs/guide.md",
        "docs/img/logo.png",
        "test/t.js",
        "Test/T.js",
        "build/out.js",
        "dist/bundle.js",
        "dist/bundle.js.map",
        "tmp1.txt",
        "a.js",
        "b.js",
        "LICENSE.txt",
        "licence",
        "types/index.d.ts",
        ".hidden/x.js",
        "lib/.env",
    ];
    let rules = [
        "*.md",
        "!README.md",
        "docs/",
        "/build",
        "test/**",
        "**/*.map",
        "lib/*.js",
        "!lib/keep.js",
        "src",
        "*.ts",
        "!*.d.ts",
        "tmp*",
        "[Tt]est",
        "{a,b}.js",
        "/lib/sub/",
        "*.png",
        "!docs/img/",
        ".hidden",
        "dist/*",
        "!dist/bundle.js",
        "# comment",
        "lib/**/d.*",
    ];
    let files_pool = [
        "lib",
        "dist/",
        "*.js",
        "src/**/*.ts",
        "!src/secret.ts",
        "./index.js",
        "docs/*",
        "types",
        "lib/sub/",
        "!lib/sub/d.ts",
        "/a.js",
    ];
    let mut seed: u64 = 7;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let tmp = tempfile::tempdir().unwrap();
    for case in 0..10 {
        let dir = tmp.path().join(format!("case{case}"));
        for p in paths {
            write(&dir.join(p), format!("// {p}\n"));
        }
        let pick = |k: usize, pool: &[&str], next: &mut dyn FnMut(usize) -> usize| -> Vec<String> {
            (0..k).map(|_| pool[next(pool.len())].to_string()).collect()
        };
        let root_rules = pick(4 + next(5), &rules, &mut next);
        let ignore_file = if case % 2 == 0 {
            ".npmignore"
        } else {
            ".gitignore"
        };
        write(&dir.join(ignore_file), root_rules.join("\n") + "\n");
        write(
            &dir.join("lib/.npmignore"),
            pick(2, &rules, &mut next).join("\n") + "\n",
        );
        let mut manifest = serde_json::json!({"name": format!("case{case}"), "version": "1.0.0"});
        if case % 3 != 0 {
            manifest["files"] = serde_json::json!(pick(3 + next(3), &files_pool, &mut next));
        }
        write(&dir.join("package.json"), manifest.to_string());
        let theirs = common::npm::dry_run_files(&dir, &tmp.path().join("cache"));
        let (_, mut ours) = npm::packed_files(&dir).unwrap_or_else(|e| panic!("case {case}: {e}"));
        ours.sort();
        assert_eq!(
            ours, theirs,
            "case {case}: rules {root_rules:?}, manifest {manifest}"
        );
    }
}

/// Pack `dir` with npm and kiln and require the same uncompressed tar.
fn assert_same_tar_as_npm(dir: &Path, scratch: &Path) {
    let npm_tgz = npm_pack_real(dir, &scratch.join("npm"));
    let (p, kiln_tgz) = kiln_pack(dir, &scratch.join("kiln"));
    let mut listed = p.files.clone();
    listed.sort();
    assert_eq!(
        listed,
        common::npm::dry_run_files(dir, &scratch.join("cache")),
        "{}",
        dir.display()
    );
    assert!(
        gunzip(&npm_tgz) == gunzip(&kiln_tgz),
        "{}: tar differs from npm pack's",
        dir.display()
    );
}

#[test]
fn bin_normalisation_directories_bin_and_extglobs_match_npm() {
    if !require_tool("npm") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        // directories.bin: every non-dot entry below it is a bin, packed even
        // outside `files`; no executable bit (pacote strips the first
        // path component before comparing)
        (
            "dirbin",
            r#"{"name":"dirbin","version":"1.0.0","files":["lib"],"directories":{"bin":"./scripts"}}"#,
            &[
                "lib/a.js",
                "scripts/tool",
                "scripts/sub/deep.js",
                "scripts/.hidden",
                "other.js",
            ],
        ),
        // `bin` wins over directories.bin
        (
            "binwins",
            r#"{"name":"binwins","version":"1.0.0","files":["lib"],"bin":{"t":"./tools/t.js"},"directories":{"bin":"scripts"}}"#,
            &["lib/a.js", "tools/t.js", "scripts/tool"],
        ),
        // array bin keyed by basename; a key normalising to nothing is dropped
        (
            "binarray",
            r#"{"name":"binarray","version":"1.0.0","files":["lib"],"bin":["./bin/a.js","tools/b.js"]}"#,
            &["lib/a.js", "bin/a.js", "tools/b.js", "tools/c.js"],
        ),
        (
            "binkeys",
            r#"{"name":"binkeys","version":"1.0.0","files":["lib"],"bin":{"":"extra/x.js","../up":"cli.js","ok":"./y.js","bad":7}}"#,
            &["lib/a.js", "extra/x.js", "cli.js", "y.js"],
        ),
        // minimatch extglobs in `files` (rxjs uses `dist/cjs/**/!(*.tsbuildinfo)`)
        (
            "extglob",
            r#"{"name":"extglob","version":"1.0.0","files":["dist/**/!(*.map|*.tsbuildinfo)","src/*.+(ts|mts)"]}"#,
            &[
                "dist/a.js",
                "dist/a.js.map",
                "dist/sub/b.js",
                "dist/sub/b.d.ts.map",
                "dist/tsconfig.tsbuildinfo",
                "src/x.ts",
                "src/y.mts",
                "src/z.js",
            ],
        ),
    ];
    for (name, pj, files) in cases {
        let dir = tmp.path().join(name);
        write(&dir.join("package.json"), pj);
        for f in *files {
            write(&dir.join(f), format!("// {f}\n"));
        }
        assert_same_tar_as_npm(&dir, &tmp.path().join(format!("{name}-out")));
    }
}

#[test]
fn directories_bin_name_clash_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        &dir.join("package.json"),
        r#"{"name":"clash","version":"1.0.0","directories":{"bin":"bin"}}"#,
    );
    write(&dir.join("bin/run"), "x");
    write(&dir.join("bin/sub/run"), "y");
    let e = npm::pack(dir, std::io::sink()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
    let msg = e.to_string();
    assert!(
        msg.contains("directories.bin") && msg.contains("run"),
        "{msg}"
    );
}

#[test]
fn workspaces_root_reads_nested_package_json_as_ignore_file_like_npm() {
    if !require_tool("npm") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // npm-packlist: once the root has a workspace, every sub-directory with
    // a package.json reads it as an ignore file, which disables that
    // directory's .npmignore/.gitignore; without one (no match, or negated)
    // the ignore files apply as usual
    for (name, ws) in [
        ("ws-array", r#"["packages/*"]"#),
        ("ws-object", r#"{"packages":["./packages/*"]}"#),
        ("ws-missing", r#"["missing/*"]"#),
        ("ws-negated", r#"["packages/*","!packages/a"]"#),
    ] {
        let dir = tmp.path().join(name);
        write(
            &dir.join("package.json"),
            format!(r#"{{"name":"{name}","version":"1.0.0","workspaces":{ws}}}"#),
        );
        write(&dir.join("packages/a/package.json"), r#"{"name":"a"}"#);
        write(&dir.join("packages/a/.npmignore"), "index.js\n");
        write(&dir.join("packages/a/index.js"), "1");
        write(&dir.join("lib/package.json"), "{\n\"x\": 1\n}\n");
        write(&dir.join("lib/.npmignore"), "x.js\n");
        write(&dir.join("lib/x.js"), "1");
        write(&dir.join("lib/y.js"), "1");
        write(&dir.join("other/.gitignore"), "secret.js\n");
        write(&dir.join("other/secret.js"), "1");
        assert_same_tar_as_npm(&dir, &tmp.path().join(format!("{name}-out")));
    }
}

/// `bundleDependencies` packed as npm-packlist does: listed runtime deps
/// from `node_modules/` with their own `files` rules and no default or
/// `.npmignore` rules at their root (ordinary rules below it), their own
/// runtime deps transitively (nested or hoisted), dev-only and missing ones
/// skipped; `true` means every dependency.
#[test]
fn bundled_dependencies_match_npm() {
    if !require_tool("npm") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundler");
    write(
        &dir.join("package.json"),
        r#"{"name":"bundler","version":"1.0.0","files":["index.js"],
  "dependencies":{"a":"^1.0.0","@s/b":"1.0.0","missing":"1"},
  "optionalDependencies":{"opt":"1"},
  "devDependencies":{"devonly":"1"},
  "bundleDependencies":["a","@s/b","missing","devonly","opt"]}"#,
    );
    write(&dir.join("index.js"), "require('a')\n");
    let files: &[(&str, &str)] = &[
        (
            "node_modules/a/package.json",
            r#"{"name":"a","version":"1.0.0","files":["lib"],"dependencies":{"c":"1","d":"1"}}"#,
        ),
        ("node_modules/a/lib/a.js", "1"),
        ("node_modules/a/lib/.npmignore", "skip.js\n"),
        ("node_modules/a/lib/skip.js", "1"),
        ("node_modules/a/lib/x.orig", "1"),
        ("node_modules/a/README.md", "a"),
        ("node_modules/a/test/t.js", "1"),
        (
            "node_modules/a/node_modules/c/package.json",
            r#"{"name":"c","version":"1.0.0"}"#,
        ),
        ("node_modules/a/node_modules/c/c.js", "1"),
        ("node_modules/a/node_modules/c/.npmignore", "c.js\n"),
        ("node_modules/a/node_modules/c/.DS_Store", "x"),
        (
            "node_modules/d/package.json",
            r#"{"name":"d","version":"1.0.0","main":"d.js"}"#,
        ),
        ("node_modules/d/d.js", "1"),
        ("node_modules/d/.gitignore", "d.js\n"),
        (
            "node_modules/@s/b/package.json",
            r#"{"name":"@s/b","version":"1.0.0","bin":"cli.js"}"#,
        ),
        ("node_modules/@s/b/cli.js", "#!/usr/bin/env node\n"),
        (
            "node_modules/opt/package.json",
            r#"{"name":"opt","version":"1.0.0"}"#,
        ),
        ("node_modules/opt/o.js", "1"),
        (
            "node_modules/devonly/package.json",
            r#"{"name":"devonly","version":"1.0.0"}"#,
        ),
        ("node_modules/devonly/x.js", "1"),
        (
            "node_modules/unrelated/package.json",
            r#"{"name":"unrelated","version":"1.0.0"}"#,
        ),
    ];
    for (f, t) in files {
        write(&dir.join(f), t);
    }
    assert_same_tar_as_npm(&dir, &tmp.path().join("out"));

    let all = tmp.path().join("all");
    write(
        &all.join("package.json"),
        r#"{"name":"all","version":"1.0.0","dependencies":{"d":"1"},"bundledDependencies":true}"#,
    );
    write(
        &all.join("node_modules/d/package.json"),
        r#"{"name":"d","version":"1.0.0"}"#,
    );
    write(&all.join("node_modules/d/d.js"), "1");
    assert_same_tar_as_npm(&all, &tmp.path().join("all-out"));
}
