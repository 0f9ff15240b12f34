//! Hostile input to the engine (issue 8, engine side): crafted recipes and
//! `dist/` abuse. Each case builds its repository in the test, and asserts
//! the exit code, a message naming the culprit, and that the checkout and a
//! canary directory did not change (and, for bad input, that no store was
//! created).

use crate::common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fixture::{git, tree_digest};
use common::{kiln, run, write};

/// A committed project with a `docs/` tree and the given recipes, a canary
/// directory beside it, and a store path (not created).
struct Project {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    canary: PathBuf,
}

impl Project {
    fn new(recipes: &[(&str, &str)]) -> Project {
        Project::with_files(recipes, &[])
    }

    /// [`Project::new`] with more files (path, contents) in the commit.
    fn with_files(recipes: &[(&str, &str)], files: &[(&str, &str)]) -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("proj");
        for (path, text) in files {
            write(&root.join(path), text);
        }
        write(&root.join("docs/a.md"), "# a\n");
        write(&root.join("docs/sub/b.md"), "b\n");
        write(&root.join("VERSION"), "1.0.0\n");
        write(
            &root.join("recipes/release.toml"),
            "[version]\nsource = \"file:VERSION\"\n",
        );
        for (name, text) in recipes {
            write(&root.join(format!("recipes/{name}.toml")), text);
        }
        write(&root.join(".gitignore"), "/dist/\n");
        git(&root, &["init", "-q"]);
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "project"]);
        let canary = tmp.path().join("canary");
        write(&canary.join("keep.txt"), "canary\n");
        Project {
            store: tmp.path().join("store"),
            _tmp: tmp,
            root,
            canary,
        }
    }

    fn kiln(&self, args: &[&str]) -> Command {
        let mut c = kiln();
        c.arg("-C")
            .arg(&self.root)
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .env_remove("SOURCE_DATE_EPOCH");
        c
    }

    fn digests(&self) -> (String, String) {
        (tree_digest(&self.root), tree_digest(&self.canary))
    }

    /// Run `args`, expecting bad input: exit 2, every `needle` in the
    /// message, checkout and canary unchanged, no store created.
    fn refuses(&self, args: &[&str], needles: &[&str]) -> String {
        let before = self.digests();
        let out = run(&mut self.kiln(args));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: {n:?} not in: {err}");
        }
        assert_eq!(
            self.digests(),
            before,
            "{args:?} changed the checkout or canary"
        );
        assert!(
            !self.store.exists(),
            "{args:?} created the store before refusing its input"
        );
        err
    }
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const ZIP: &str = "surface = \"zip\"\nsource = \"docs\"\noutput = \"docs.zip\"\n";

fn store_file_of(store: &Path, name: &str) -> PathBuf {
    std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with(&format!("-{name}"))
        })
        .unwrap_or_else(|| panic!("no store path for {name}"))
}

#[test]
fn dist_files_share_no_inode_with_the_store_and_edits_do_not_reach_it() {
    let p = Project::new(&[("docs", ZIP)]);
    ok(run(&mut p.kiln(&["build"])));
    let dist = p.root.join("dist/docs.zip");
    let stored = store_file_of(&p.store, "docs.zip");
    let (d, s) = (
        std::fs::metadata(&dist).unwrap(),
        std::fs::metadata(&stored).unwrap(),
    );
    assert_ne!(
        (d.dev(), d.ino()),
        (s.dev(), s.ino()),
        "dist/ is a link into the store"
    );
    let original = std::fs::read(&stored).unwrap();
    // Write through dist/ as any tool editing in place would.
    std::fs::write(&dist, b"tampered").unwrap();
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        original,
        "the store changed"
    );
    ok(run(&mut p.kiln(&["store", "verify"])));
    // The next (cached) build puts the real bytes back; SHA256SUMS is true.
    let out = ok(run(&mut p.kiln(&["build"])));
    assert!(out.contains("1 cached"), "{out}");
    assert_eq!(std::fs::read(&dist).unwrap(), original);
    let sums = std::fs::read_to_string(p.root.join("dist/SHA256SUMS")).unwrap();
    let hex = kiln::hash::Sha256::digest(&original).to_hex();
    assert!(sums.contains(&format!("{hex}  docs.zip\n")), "{sums}");
}

/// Store files all have one mtime: a new output whose artifact has the
/// size of the last one (here only the zip's timestamps differ) is still
/// copied, and `SHA256SUMS` names the bytes that are in `dist/`.
#[test]
fn a_new_output_of_the_same_size_replaces_the_old_copy_in_dist() {
    let p = Project::new(&[("docs", ZIP)]);
    let dist = p.root.join("dist/docs.zip");
    let mut seen = Vec::new();
    for epoch in ["1700000000", "1800000000"] {
        ok(run(p.kiln(&["build"]).env("SOURCE_DATE_EPOCH", epoch)));
        let bytes = std::fs::read(&dist).unwrap();
        let sums = std::fs::read_to_string(p.root.join("dist/SHA256SUMS")).unwrap();
        let hex = kiln::hash::Sha256::digest(&bytes).to_hex();
        assert!(sums.contains(&format!("{hex}  docs.zip\n")), "{sums}");
        seen.push(bytes);
    }
    assert_eq!(
        seen[0].len(),
        seen[1].len(),
        "the fixture needs equal sizes"
    );
    assert_ne!(seen[0], seen[1], "dist/ kept the earlier build's zip");
}

#[test]
fn dist_names_that_collide_are_refused_before_anything_is_built() {
    let p = Project::new(&[(
        "sums",
        "surface = \"zip\"\nsource = \"docs\"\noutput = \"SHA256SUMS\"\n",
    )]);
    p.refuses(&["build"], &["sums", "SHA256SUMS"]);

    let p = Project::new(&[
        ("a", ZIP),
        (
            "b",
            "surface = \"tarball\"\nsource = \"docs\"\noutput = \"docs.zip.intoto.json\"\n",
        ),
    ]);
    p.refuses(&["build"], &["a", "b", "docs.zip.intoto.json"]);

    let p = Project::new(&[(
        "SHA256SUMS",
        "surface = \"command\"\nsource = \"docs\"\n\n[command]\nargv = [\"true\"]\noutputs = [\"a.md\"]\n",
    )]);
    p.refuses(&["build", "--sandbox", "none"], &["SHA256SUMS"]);
}

/// npm, crate and Python artifacts are named by their manifests; their
/// names are read from the snapshot and claimed before anything is built.
#[test]
fn manifest_named_artifacts_that_collide_are_refused_before_anything_is_built() {
    let files = [
        (
            "web/package.json",
            "{\"name\": \"@acme/web\", \"version\": \"1.0.0\"}\n",
        ),
        (
            "py/pyproject.toml",
            "[project]\nname = \"Acme.Tool\"\nversion = \"1.0.0\"\n",
        ),
        (
            "rs/Cargo.toml",
            "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\nversion = \"1.0.0\"\n",
        ),
        (
            "rs/a/Cargo.toml",
            "[package]\nname = \"acme-a\"\nversion.workspace = true\n",
        ),
        ("rs/a/src/lib.rs", ""),
    ];
    let p = Project::with_files(
        &[
            ("web", "surface = \"npm\"\nsource = \"web\"\n"),
            (
                "clash",
                "surface = \"tarball\"\nsource = \"docs\"\noutput = \"acme-web-{version}.tgz\"\n",
            ),
        ],
        &files,
    );
    p.refuses(&["build"], &["clash", "web", "acme-web-1.0.0-"]);

    let p = Project::with_files(
        &[
            (
                "one",
                "surface = \"sdist\"\nsource = \"py\"\n[sdist]\nbackend = \"kiln\"\n",
            ),
            (
                "two",
                "surface = \"sdist\"\nsource = \"py\"\n[sdist]\nbackend = \"kiln\"\n",
            ),
        ],
        &files,
    );
    p.refuses(&["build"], &["one", "two", "acme_tool-1.0.0+"]);

    let p = Project::with_files(
        &[
            ("rs", "surface = \"crate\"\nsource = \"rs\"\n"),
            (
                "clash",
                "surface = \"zip\"\nsource = \"docs\"\noutput = \"acme-a-{version}.crate\"\n",
            ),
        ],
        &files,
    );
    p.refuses(&["build"], &["clash", "rs", "acme-a-1.0.0-"]);
}

#[test]
fn two_concurrent_builds_both_succeed_and_leave_dist_consistent() {
    let p = Project::new(&[
        ("docs", ZIP),
        (
            "tar",
            "surface = \"tarball\"\nsource = \"docs\"\noutput = \"docs.tar.gz\"\n",
        ),
    ]);
    ok(run(&mut p.kiln(&["build"])));
    for round in 0..6 {
        // Force both builds to rewrite dist/ at the same time.
        std::fs::remove_dir_all(p.root.join("dist")).unwrap();
        let a = p.kiln(&["build"]).spawn_output();
        let b = p.kiln(&["build"]).spawn_output();
        for (i, o) in [a.wait(), b.wait()].into_iter().enumerate() {
            assert!(
                o.status.success(),
                "round {round}, build {i}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let mut names: Vec<String> = std::fs::read_dir(p.root.join("dist"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".kiln-dist"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "SHA256SUMS",
                "docs.tar.gz",
                "docs.tar.gz.intoto.json",
                "docs.zip",
                "docs.zip.intoto.json"
            ],
            "round {round}"
        );
        let sums = std::fs::read_to_string(p.root.join("dist/SHA256SUMS")).unwrap();
        for line in sums.lines() {
            let (hex, name) = line.split_once("  ").unwrap();
            let bytes = std::fs::read(p.root.join("dist").join(name)).unwrap();
            assert_eq!(kiln::hash::Sha256::digest(&bytes).to_hex(), hex, "{name}");
        }
    }
}

trait SpawnOutput {
    fn spawn_output(&mut self) -> Spawned;
}

struct Spawned(std::process::Child);

impl Spawned {
    fn wait(self) -> Output {
        self.0.wait_with_output().unwrap()
    }
}

impl SpawnOutput for Command {
    fn spawn_output(&mut self) -> Spawned {
        Spawned(
            self.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }
}

#[test]
fn a_huge_matrix_is_refused_with_its_size_before_expansion() {
    let p = Project::new(&[(
        "big",
        "surface = \"zip\"\nsource = \"docs\"\noutput = \"{a}-{b}-{c}.zip\"\n\n[matrix]\n\
         a = [\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]\n\
         b = [\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]\n\
         c = [\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]\n",
    )]);
    p.refuses(&["plan"], &["recipes/big.toml", "matrix", "1000 cells"]);
}

#[test]
fn recipe_errors_name_the_key_and_come_before_the_store() {
    let p = Project::new(&[("typed", "surface = \"zip\"\nsource = 5\n")]);
    p.refuses(&["build"], &["recipes/typed.toml:2", "key `source`"]);

    let p = Project::new(&[(
        "dots",
        "name = \"..\"\nsurface = \"command\"\nsource = \"docs\"\n\n[command]\nargv = [\"true\"]\noutputs = [\"a.md\"]\n",
    )]);
    p.refuses(
        &["build", "--sandbox", "none"],
        &["recipes/dots.toml", "key `name`", "\"..\""],
    );

    let p = Project::new(&[(
        "tool",
        "surface = \"command\"\nsource = \"docs\"\n\n[command]\nargv = [\"kiln-no-such-tool\"]\ntools = [\"kiln-no-such-tool\"]\noutputs = [\"a.md\"]\n",
    )]);
    p.refuses(&["build", "--sandbox", "none"], &["kiln-no-such-tool"]);

    let p = Project::new(&[(
        "mapped",
        "surface = \"zip\"\nsource = \"docs\"\n\n[[map]]\nfrom = \"missing.md\"\nto = \"x.md\"\n",
    )]);
    p.refuses(
        &["build"],
        &["recipes/mapped.toml", "map[0].from", "missing.md"],
    );

    let p = Project::new(&[(
        "mount",
        "surface = \"zip\"\nsource = \"docs\"\n\n[[map]]\nfrom = \"inputs/nope/x\"\nto = \"x\"\n",
    )]);
    p.refuses(&["build"], &["recipes/mount.toml", "map[0].from", "nope"]);
}

#[test]
fn a_table_of_another_surface_and_an_include_matching_nothing_are_refused() {
    let p = Project::new(&[(
        "z",
        "surface = \"zip\"\nsource = \"docs\"\n\n[tarball]\ncompression = \"zstd\"\n",
    )]);
    p.refuses(&["build"], &["recipes/z.toml", "[tarball]", "\"zip\""]);

    let p = Project::new(&[(
        "inc",
        "surface = \"zip\"\nsource = \"docs\"\ninclude = [\"**/*.md\", \"*.rst\"]\n",
    )]);
    p.refuses(&["build"], &["recipes/inc.toml", "include", "*.rst"]);
}

#[test]
fn a_cache_hit_whose_provenance_is_missing_writes_it_again_and_says_so() {
    let p = Project::new(&[("docs", ZIP)]);
    ok(run(&mut p.kiln(&["build"])));
    let prov = std::fs::read(p.root.join("dist/docs.zip.intoto.json")).unwrap();
    // Remove every provenance record from the store's bookkeeping.
    let mut removed = 0;
    let mut stack = vec![p.store.join(".kiln")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path).is_ok_and(|b| {
                // A sealed record: the seal's line, then the statement.
                let statement = b"{\"_type\":\"https://in-toto.io/Statement/v1\"";
                b.starts_with(statement)
                    || b.splitn(2, |c| *c == b'\n')
                        .nth(1)
                        .is_some_and(|rest| rest.starts_with(statement))
            }) {
                std::fs::remove_file(&path).unwrap();
                removed += 1;
            }
        }
    }
    assert_eq!(removed, 1, "the store's provenance record was not found");
    std::fs::remove_dir_all(p.root.join("dist")).unwrap();
    let out = run(&mut p.kiln(&["build"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("provenance") && err.contains("written again"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(p.root.join("dist/docs.zip.intoto.json")).unwrap(),
        prov
    );
}

fn subjects(statement: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(statement).unwrap();
    v["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn provenance_has_one_statement_per_artifact_and_every_command_file_is_a_subject() {
    let p = Project::new(&[
        ("docs", ZIP),
        (
            "copy",
            "surface = \"command\"\nsource = \"docs\"\n\n[command]\nargv = [\"sh\", \"-c\", \"mkdir -p out/d && cp a.md out/ && cp sub/b.md out/d/\"]\ntools = [\"sh\", \"mkdir\", \"cp\"]\noutputs = [\"out\"]\n",
        ),
    ]);
    ok(run(&mut p.kiln(&["build", "--sandbox", "none"])));
    let dist = p.root.join("dist");
    assert_eq!(
        subjects(&std::fs::read(dist.join("docs.zip.intoto.json")).unwrap()),
        ["docs.zip"]
    );
    let mut names = subjects(&std::fs::read(dist.join("copy.intoto.json")).unwrap());
    names.sort();
    assert_eq!(names, ["copy/out/a.md", "copy/out/d/b.md"]);
}

#[test]
fn a_subset_build_updates_its_entries_and_keeps_the_others_of_the_same_commit() {
    let p = Project::new(&[
        ("docs", ZIP),
        (
            "tar",
            "surface = \"tarball\"\nsource = \"docs\"\noutput = \"docs.tar.gz\"\n",
        ),
    ]);
    ok(run(&mut p.kiln(&["build"])));
    let sums_all = std::fs::read_to_string(p.root.join("dist/SHA256SUMS")).unwrap();
    ok(run(&mut p.kiln(&["build", "docs"])));
    assert_eq!(
        std::fs::read_to_string(p.root.join("dist/SHA256SUMS")).unwrap(),
        sums_all,
        "a subset build of the same commit keeps the other artifacts"
    );
    // A new commit: the subset build replaces what the old commit built.
    write(&p.root.join("docs/a.md"), "# a, edited\n");
    git(&p.root, &["commit", "-q", "-am", "edit"]);
    ok(run(&mut p.kiln(&["build", "docs"])));
    let sums = std::fs::read_to_string(p.root.join("dist/SHA256SUMS")).unwrap();
    assert!(!p.root.join("dist/docs.tar.gz").exists(), "{sums}");
    assert!(!sums.contains("docs.tar.gz"), "{sums}");
    assert!(sums.contains("  docs.zip\n"), "{sums}");
}

#[test]
fn each_crate_of_a_multi_crate_recipe_has_its_own_statement() {
    if !common::require_tool("bwrap") || !common::require_tool("cargo") {
        return;
    }
    let (_tmp, root) = common::fixture::monorepo();
    let store = root.join("store");
    let out = run(kiln()
        .arg("-C")
        .arg(&root)
        .arg("--store")
        .arg(&store)
        .args(["build", "mini-crates"])
        .env_remove("SOURCE_DATE_EPOCH"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crates: Vec<String> = std::fs::read_dir(root.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".crate"))
        .collect();
    assert_eq!(crates.len(), 2, "{crates:?}");
    let mut statements = Vec::new();
    for c in &crates {
        let st = std::fs::read(root.join("dist").join(format!("{c}.intoto.json"))).unwrap();
        assert_eq!(subjects(&st), std::slice::from_ref(c), "{c}");
        statements.push(st);
    }
    assert_ne!(statements[0], statements[1]);
}

#[test]
fn a_build_waiting_for_another_builder_names_it_and_honours_lock_timeout() {
    let p = Project::new(&[("docs", ZIP)]);
    ok(run(&mut p.kiln(&["build"])));
    let plan: serde_json::Value =
        serde_json::from_str(&ok(run(&mut p.kiln(&["plan", "--json"])))).unwrap();
    let drv = plan["recipes"][0]["drv"].as_str().unwrap().to_string();
    let lock = p.store.join(".kiln/locks").join(format!("{drv}.lock"));
    // Another builder: it records its pid in the lock file and holds the lock.
    std::fs::write(&lock, "4242\n").unwrap();
    // `-o`: only flock itself holds the lock, so killing it releases it.
    let mut holder = common::cmd("flock")
        .args(["-x", "-o"])
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock (util-linux) is needed for this test");
    while run(common::cmd("flock").arg("-n").arg(&lock).arg("true"))
        .status
        .success()
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // --check needs the derivation's lock even though it is registered.
    let out = run(&mut p.kiln(&["build", "--check", "--lock-timeout", "1"]));
    let _ = holder.kill();
    let _ = holder.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("being built by process 4242"), "{err}");
    assert!(err.contains("--lock-timeout"), "{err}");
    // Once the other builder is gone, the same build goes through.
    ok(run(&mut p.kiln(&[
        "build",
        "--check",
        "--lock-timeout",
        "1",
    ])));
}
