//! A release across many machines, simulated on one host: runners with
//! their own state directory (store key), store, checkout and PATH, one
//! nginx binary cache on 127.0.0.1. Runner B builds the aarch64-linux job
//! (declaring that system), runner A the x86_64-linux job, runner C
//! assembles `dist/` building nothing — and gets what one machine building
//! everything gets, byte for byte. A job that did not push, an untrusted
//! cache, an unknown system or job: refused, nothing in `dist/`.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::cache::{keygen, statuses};
use common::fixture::{copy_dir, git};
use common::nginx::Nginx;
use common::{kiln, require_tool, run};
use kiln::engine::jobs::JobPlan;

/// The fixture project: two tools, one per system, a notes tarball per
/// system (matrix key `system`), a bundle of both tools.
fn fixture_repo(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machines");
    let root = dir.join("origin");
    copy_dir(&src, &root, false);
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "release"]);
    root
}

/// One simulated machine.
struct Runner {
    root: PathBuf,
    store: PathBuf,
    state: PathBuf,
    path: std::ffi::OsString,
}

impl Runner {
    /// A machine under `dir` with a clone of `origin`.
    fn new(dir: &Path, origin: &Path) -> Runner {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let root = dir.join("checkout");
        git(
            dir,
            &[
                "clone",
                "-q",
                origin.to_str().unwrap(),
                root.to_str().unwrap(),
            ],
        );
        let mut path = dir.join("bin").into_os_string();
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        Runner {
            root,
            store: dir.join("store"),
            state: dir.join("state"),
            path,
        }
    }

    fn kiln(&self, args: &[&str]) -> Command {
        let mut c = kiln();
        c.arg("-C")
            .arg(&self.root)
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .env("XDG_STATE_HOME", &self.state)
            .env("PATH", &self.path)
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("KILN_TRUSTED_PUBLIC_KEYS")
            .env_remove("KILN_SIGNING_KEY_FILE");
        c
    }

    fn dist(&self) -> PathBuf {
        self.root.join("dist")
    }

    /// Files of the store's build logs (what was built here).
    fn logs(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.store.join(".kiln/logs")) {
            Ok(d) => d.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "kiln failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir` (relative path → bytes).
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".kiln-")
            {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// Run one job of the plan on `runner`, pushing to `url`.
fn run_job(runner: &Runner, job: &str, systems: &str, url: &str, secret: &Path) -> String {
    ok(&run(runner
        .kiln(&[
            "build", "--json", "--job", job, "--system", systems, "--cache", url, "--push",
        ])
        .arg("--signing-key")
        .arg(secret)))
}

/// The same, with the jobs of the planning machine's `plan --jobs --json`.
fn run_planned_job(runner: &Runner, job: &str, plan: &Path, url: &str, secret: &Path) -> String {
    ok(&run(runner
        .kiln(&["build", "--json", "--job", job, "--cache", url, "--push"])
        .arg("--plan")
        .arg(plan)
        .arg("--signing-key")
        .arg(secret)))
}

#[test]
fn three_runners_assemble_what_one_machine_builds() {
    if !require_tool("bwrap") || !require_tool("git") {
        return;
    }
    let Some(nginx) = Nginx::start() else { return };
    let url = nginx.url();
    let tmp = tempfile::tempdir().unwrap();
    let origin = fixture_repo(tmp.path());
    let (secret, public) = keygen(tmp.path(), "ci-1");
    let a = Runner::new(&tmp.path().join("a"), &origin);
    let b = Runner::new(&tmp.path().join("b"), &origin);
    let c = Runner::new(&tmp.path().join("c"), &origin);

    let plan_json = ok(&run(&mut a.kiln(&["plan", "--jobs", "--json"])));
    let plan: JobPlan = serde_json::from_str(&plan_json).expect("plan --jobs --json");
    let plan_file = tmp.path().join("jobs.json");
    std::fs::write(&plan_file, &plan_json).unwrap();
    let ids: Vec<&str> = plan.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["aarch64-linux", "x86_64-linux"]);
    assert_eq!(plan.jobs[1].needs, ["aarch64-linux"]);

    // B declares a second system and builds the aarch64-linux job.
    let sb = statuses(&run_job(
        &b,
        "aarch64-linux",
        "x86_64-linux,aarch64-linux",
        &url,
        &secret,
    ));
    assert_eq!(
        sb.keys().collect::<Vec<_>>(),
        ["img-arm64", "notes[system=aarch64-linux]", "tool-arm"]
    );
    assert!(sb.values().all(|s| s == "built"), "{sb:?}");
    // A builds the x86_64-linux job, substituting B's tool.
    let sa = statuses(&run_planned_job(
        &a,
        "x86_64-linux",
        &plan_file,
        &url,
        &secret,
    ));
    assert_eq!(sa["tool-arm"], "substituted", "{sa:?}");
    assert_eq!(sa["img-arm64"], "substituted", "{sa:?}");
    assert!(!sa.contains_key("notes[system=aarch64-linux]"), "{sa:?}");
    for r in [
        "bundle",
        "tool-x86",
        "notes[system=x86_64-linux]",
        "img",
        "img-one",
    ] {
        assert_eq!(sa[r], "built", "{sa:?}");
    }

    // C builds nothing: every output comes from the cache.
    let sc = statuses(&ok(&run(&mut c.kiln(&[
        "build",
        "--json",
        "--cache",
        &url,
        "--assemble",
        "--trusted-key",
        &public,
    ]))));
    assert_eq!(sc.len(), 9, "{sc:?}");
    assert!(sc.values().all(|s| s == "substituted"), "{sc:?}");
    assert!(c.logs().is_empty(), "C built: {:?}", c.logs());

    // One machine building everything writes the same dist/.
    let one = Runner::new(&tmp.path().join("one"), &origin);
    ok(&run(&mut one.kiln(&[
        "build",
        "--system",
        "x86_64-linux,aarch64-linux",
    ])));
    let (got, want) = (files(&c.dist()), files(&one.dist()));
    assert!(got.contains_key(Path::new("SHA256SUMS")));
    assert!(got
        .keys()
        .any(|p| p.to_string_lossy().ends_with(".intoto.json")));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(
        got == want,
        "dist/ differs between the assembly and one machine"
    );
    image_index_is_one_machines(&c.dist());
    verify_across_systems(&c, &url, &public);
}

/// Runner C (x86_64-linux only) verifies the assembled release: the image
/// index is rebuilt with its aarch64-linux input from the cache; the
/// aarch64-linux tool is another system's to verify — exit 2 naming it, or
/// skipped with --skip-other-systems — unless C declares that system.
fn verify_across_systems(c: &Runner, url: &str, public: &str) {
    let index = layout(&c.dist(), "img");
    let index = index.to_str().unwrap();
    let arm = c.dist().join("tool-arm");
    let arm = arm.to_str().unwrap();
    let verify = |artifact: &str, extra: &[&str]| {
        let mut args = vec!["verify", artifact, "--cache", url, "--trusted-key", public];
        args.extend_from_slice(extra);
        run(&mut c.kiln(&args))
    };
    let text = ok(&verify(index, &[]));
    assert!(text.contains("bytes identical"), "{text}");
    let out = run(&mut c.kiln(&["verify", index]));
    let err = failed(&out, 2);
    assert!(
        err.contains("needs an aarch64-linux builder"),
        "without the cache the arm input is named:\n{err}"
    );
    let err = failed(&verify(arm, &[]), 2);
    assert!(
        err.contains("recipe tool-arm is built for aarch64-linux"),
        "{err}"
    );
    let text = ok(&verify(arm, &["--skip-other-systems"]));
    assert!(text.starts_with("skipped "), "{text}");
    let text = ok(&verify(arm, &["--system", "x86_64-linux,aarch64-linux"]));
    assert!(text.contains("bytes identical"), "{text}");
}

/// The `.oci` layout in `dist` whose file name starts with `recipe-`
/// followed by the version.
fn layout(dist: &Path, recipe: &str) -> PathBuf {
    let mut hits: Vec<PathBuf> = std::fs::read_dir(dist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".oci")
                && n.strip_prefix(recipe)
                    .and_then(|r| r.strip_prefix('-'))
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect();
    assert_eq!(hits.len(), 1, "{recipe}: {hits:?}");
    hits.remove(0)
}

/// The one entry of a layout's `index.json`: (digest, tag).
fn top(layout: &Path) -> (String, String) {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let m = &index["manifests"][0];
    (
        m["digest"].as_str().unwrap().to_string(),
        m["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// The image index joined from two runners' per-platform images has the
/// digest of the one recipe building both platforms, and skopeo reads
/// each platform's image from it.
fn image_index_is_one_machines(dist: &Path) {
    let joined = layout(dist, "img");
    let (digest, tag) = top(&joined);
    assert_eq!(digest, top(&layout(dist, "img-one")).0);
    if !require_tool("skopeo") {
        return;
    }
    for arch in ["amd64", "arm64"] {
        let out = run(common::cmd("skopeo")
            .args(["inspect", "--override-os", "linux", "--override-arch", arch])
            .arg(format!("oci:{}:{tag}", joined.display())));
        let text = ok(&out);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Architecture"], arch, "{text}");
        assert_eq!(v["Os"], "linux", "{text}");
    }
}

#[test]
fn assembly_names_what_a_job_did_not_push_and_writes_nothing() {
    if !require_tool("bwrap") || !require_tool("git") {
        return;
    }
    let Some(nginx) = Nginx::start() else { return };
    let url = nginx.url();
    let tmp = tempfile::tempdir().unwrap();
    let origin = fixture_repo(tmp.path());
    let (secret, public) = keygen(tmp.path(), "ci-1");
    let (_, other) = keygen(tmp.path(), "other-1");
    let b = Runner::new(&tmp.path().join("b"), &origin);
    let c = Runner::new(&tmp.path().join("c"), &origin);
    // Only the aarch64-linux job pushed; the x86_64-linux job never ran.
    run_job(&b, "aarch64-linux", "aarch64-linux", &url, &secret);

    let assemble = |key: &str| {
        run(&mut c.kiln(&["build", "--cache", &url, "--assemble", "--trusted-key", key]))
    };
    let err = failed(&assemble(&public), 1);
    for name in ["tool-x86", "notes[system=x86_64-linux]", "bundle"] {
        assert!(err.contains(name), "{name} not named:\n{err}");
    }
    assert!(err.contains("job x86_64-linux builds it"), "{err}");
    assert!(!err.contains("tool-arm ("), "{err}");
    assert!(!c.dist().exists(), "dist/ written");
    assert!(c.logs().is_empty(), "C built: {:?}", c.logs());

    // A cache signed by a key C does not trust: every entry is refused.
    let c2 = Runner::new(&tmp.path().join("c2"), &origin);
    let err = failed(
        &run(&mut c2.kiln(&[
            "build",
            "--cache",
            &url,
            "--assemble",
            "--trusted-key",
            &other,
        ])),
        1,
    );
    assert!(err.contains("tool-arm"), "{err}");
    assert!(
        err.contains("ci-1"),
        "the untrusted key is not named:\n{err}"
    );
    assert!(!c2.dist().exists(), "dist/ written");

    // Without --require-complete a plain build skips what needs another
    // builder; with it, it refuses before building anything.
    let lone = Runner::new(&tmp.path().join("lone"), &origin);
    let err = failed(&run(&mut lone.kiln(&["build", "--require-complete"])), 1);
    assert!(
        err.contains("tool-arm") && err.contains("needs an aarch64-linux builder"),
        "{err}"
    );
    assert!(lone.logs().is_empty() && !lone.dist().exists());
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = fixture_repo(tmp.path());
    let r = Runner::new(&tmp.path().join("r"), &origin);
    let err = failed(
        &run(&mut r.kiln(&["build", "--system", "x86_64-linux,arm64"])),
        2,
    );
    assert!(err.contains("unknown system arm64"), "{err}");
    let err = failed(&run(&mut r.kiln(&["build", "--job", "riscv64-linux"])), 2);
    assert!(
        err.contains("no job riscv64-linux") && err.contains("aarch64-linux, x86_64-linux"),
        "{err}"
    );
    // A job for a system this machine does not declare.
    let err = failed(&run(&mut r.kiln(&["build", "--job", "aarch64-linux"])), 2);
    assert!(err.contains("--system"), "{err}");
    // A job plan made for another release.
    let stale = tmp.path().join("stale.json");
    common::write(
        &stale,
        r#"{"jobs":[{"id":"x86_64-linux","system":"x86_64-linux","recipes":["gone"],"needs":[],"substitutes":[],"seconds":null}]}"#,
    );
    let err = failed(
        &run(r
            .kiln(&["build", "--job", "x86_64-linux", "--plan"])
            .arg(&stale)),
        2,
    );
    assert!(err.contains("recipe gone"), "{err}");
    // A recipe naming a system kiln does not know.
    common::write(
        &r.root.join("recipes/tool-arm.toml"),
        "surface = \"tarball\"\nsource = \"docs\"\nsystem = \"arm64-linux\"\n",
    );
    let err = failed(&run(&mut r.kiln(&["build", "--dirty"])), 2);
    assert!(
        err.contains("tool-arm.toml") && err.contains("arm64-linux"),
        "{err}"
    );
    assert!(!r.dist().exists() && r.logs().is_empty());
}

#[test]
fn plan_jobs_json_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = fixture_repo(tmp.path());
    let r = Runner::new(&tmp.path().join("r"), &origin);
    let plan = ok(&run(&mut r.kiln(&["plan", "--jobs", "--json"])));
    insta::assert_snapshot!("plan_jobs_machines", plan);

    // Recorded build times split a system's job into shards, in plan order.
    common::write(
        &r.store.join(".kiln/times.json"),
        r#"{"bundle":30000,"notes[system=x86_64-linux]":40000,"tool-x86":50000,"tool-arm":1000}"#,
    );
    let plan = ok(&run(&mut r.kiln(&[
        "plan",
        "--jobs",
        "--json",
        "--job-seconds",
        "60",
    ])));
    insta::assert_snapshot!("plan_jobs_machines_shards", plan);

    let mono = common::fixture::monorepo_at(&tmp.path().join("mono"), false);
    let plan = ok(&run(kiln()
        .arg("-C")
        .arg(&mono)
        .arg("--store")
        .arg(tmp.path().join("mono-store"))
        .args(["plan", "--jobs", "--json"])));
    insta::assert_snapshot!("plan_jobs_monorepo", plan);
}
