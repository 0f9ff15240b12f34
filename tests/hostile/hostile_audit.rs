//! Hostile artifacts and statements read by `kiln verify`, `kiln provenance`
//! and `kiln diff` ("Trust, round two", points 5, 6 and 20): artifacts that
//! are FIFOs or links to devices, directory artifacts whose entries lead out,
//! statements whose subjects name files outside the artifact, and archives
//! whose names or nesting would fill memory or the report. Each test checks
//! the exit code, that the message names the culprit (escaped), that the
//! output stays bounded, and that the canary directory and `$HOME` are
//! untouched. Every kiln run has a deadline, so a regression that hangs on a
//! FIFO fails instead of hanging the suite.

use crate::common;
use crate::diff_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::canary::Canary;
use common::{cmd, kiln, kiln_bin, run_ok, write};
use diff_support::{oci_layout, sha256_hex, tar, T};

/// How long one kiln run may take before it counts as hung.
const DEADLINE: Duration = Duration::from_secs(60);

/// A temporary machine: a canary, a `$HOME`, a state directory, a store
/// and a minimal project (a `recipes/` directory).
struct Machine {
    tmp: tempfile::TempDir,
    canary: Canary,
    project: PathBuf,
}

impl Machine {
    fn new() -> Machine {
        let tmp = tempfile::tempdir().unwrap();
        let canary = Canary::new(tmp.path());
        let project = tmp.path().join("project");
        write(
            &project.join("recipes/docs.toml"),
            "surface = \"tarball\"\nsource = \"docs\"\noutput = \"docs.tar.gz\"\n",
        );
        write(&project.join("docs/a.md"), "# a\n");
        Machine {
            tmp,
            canary,
            project,
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `kiln -C <project> --store <store> ARGS` with this machine's `$HOME`
    /// and state directory, run from the temporary directory.
    fn kiln(&self, args: &[&str], paths: &[&Path]) -> Command {
        let mut c = kiln();
        c.current_dir(self.dir())
            .env("HOME", &self.canary.home)
            .env("XDG_STATE_HOME", self.dir().join("state"))
            .env("XDG_CACHE_HOME", self.dir().join("cache"))
            .env_remove("SOURCE_DATE_EPOCH")
            .arg("-C")
            .arg(&self.project)
            .arg("--store")
            .arg(self.dir().join("store"))
            .args(args)
            .args(paths);
        c
    }
}

/// Run `c` with stdout and stderr going to files (so a large report cannot
/// block it), killing it and failing when it outlives [`DEADLINE`].
fn run_with_deadline(c: &mut Command) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(err.try_clone().unwrap()))
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {c:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{c:?} still ran after {DEADLINE:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        f.rewind().unwrap();
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        v
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

fn show(o: &Output) -> String {
    let cut = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(4096)]).into_owned();
    format!(
        "exit {:?}\nstdout ({} bytes):\n{}\nstderr ({} bytes):\n{}",
        o.status.code(),
        o.stdout.len(),
        cut(&o.stdout),
        o.stderr.len(),
        cut(&o.stderr)
    )
}

/// Exit 2 with `needles` in stderr, no raw escape character anywhere, and
/// at most `max` bytes of output.
fn assert_refused(o: &Output, needles: &[&str], max: usize) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", show(o));
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {}", show(o));
    }
    assert!(
        !o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b),
        "a raw escape was printed: {}",
        show(o)
    );
    assert!(
        o.stdout.len() + o.stderr.len() <= max,
        "more than {max} bytes of output: {}",
        show(o)
    );
}

fn mkfifo(p: &Path) {
    run_ok(cmd("mkfifo").arg(p));
}

#[test]
fn fifo_and_device_artifacts_are_refused_promptly() {
    let m = Machine::new();
    let good = m.dir().join("good.tar");
    std::fs::write(&good, tar(&[T::file("a.txt", b"a\n")])).unwrap();
    // A FIFO whose name holds an escape, a link to /dev/zero, a link to a
    // directory: none may be waited on or read.
    let fifo = m.dir().join("pipe\x1b[2J.tar.gz");
    mkfifo(&fifo);
    let zero = m.dir().join("zero.crate");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let to_dir = m.dir().join("dir-link.tar");
    std::os::unix::fs::symlink(m.dir().join("canary"), &to_dir).unwrap();
    let cases: [(&Path, &[&str]); 3] = [
        (&fifo, &["pipe\\u{1b}[2J.tar.gz", "is a FIFO (named pipe)"]),
        (
            &zero,
            &[
                "zero.crate",
                "is a character device (the target of a symbolic link)",
            ],
        ),
        (
            &to_dir,
            &["dir-link.tar", "is a symbolic link to a directory"],
        ),
    ];
    for (artifact, needles) in cases {
        let o = run_with_deadline(&mut m.kiln(&["verify"], &[artifact]));
        assert_refused(&o, needles, 4096);
        let o = run_with_deadline(&mut m.kiln(&["provenance"], &[artifact]));
        assert_refused(&o, needles, 4096);
        for pair in [[artifact, &good], [&good, artifact]] {
            let o = run_with_deadline(&mut m.kiln(&["diff"], &pair));
            assert_refused(&o, needles, 4096);
        }
    }
    // A link the user names that leads to a regular file is the user's word.
    let link = m.dir().join("link.tar");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    let o = run_with_deadline(&mut m.kiln(&["diff"], &[&link, &good]));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    m.canary.assert_untouched();
}

#[test]
fn entries_of_directory_artifacts_are_never_followed() {
    let m = Machine::new();
    // An OCI layout whose `blobs` is a link to blobs outside the artifact.
    let layout = m.dir().join("image.oci");
    oci_layout(&layout, "A=1");
    let outside = m.dir().join("outside-blobs");
    std::fs::rename(layout.join("blobs"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, layout.join("blobs")).unwrap();
    let copy = m.dir().join("copy.oci");
    oci_layout(&copy, "A=1");
    let o = run_with_deadline(&mut m.kiln(&["diff"], &[&layout, &copy]));
    assert_refused(
        &o,
        &[
            "image.oci",
            "passes through `blobs`, which is a symbolic link",
        ],
        4096,
    );
    // A directory holding a FIFO and a link to /dev/zero: listed, not read.
    let (a, b) = (m.dir().join("out-a"), m.dir().join("out-b"));
    for d in [&a, &b] {
        write(&d.join("bin/tool"), "tool\n");
        mkfifo(&d.join("bin/pipe"));
        std::os::unix::fs::symlink("/dev/zero", d.join("bin/zero")).unwrap();
    }
    std::os::unix::fs::symlink("/dev/urandom", a.join("bin/random")).unwrap();
    let o = run_with_deadline(&mut m.kiln(&["diff"], &[&a, &b]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        text.contains("\"bin/random\": only in A (symlink"),
        "{}",
        show(&o)
    );
    assert!(o.stdout.len() < 4096, "{}", show(&o));
    m.canary.assert_untouched();
}

/// A directory artifact `out` with one file, and `out.intoto.json` beside it
/// whose one subject is `subject`.
fn artifact_with_subject(m: &Machine, subject: &str) -> PathBuf {
    let out = m.dir().join("out");
    write(&out.join("a.txt"), "a\n");
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": "out/a.txt", "digest": {"sha256": sha256_hex(b"a\n")}},
            {"name": subject, "digest": {"sha256": "00"}},
        ],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {
            "externalParameters": {"recipe": "docs"},
            "internalParameters": {"derivation": "0".repeat(32)},
            "resolvedDependencies": [{"uri": "git+commit:x", "digest": {"gitCommit": "0".repeat(40)}}],
        }},
    });
    write(
        &m.dir().join("out.intoto.json"),
        serde_json::to_vec(&statement).unwrap(),
    );
    out
}

#[test]
fn statement_subjects_outside_the_artifact_are_refused() {
    let m = Machine::new();
    let secret = m.dir().join("secret");
    write(&secret, "the secret\n");
    let secret_digest = sha256_hex(b"the secret\n");
    let long = format!("out/{}/../x", "d".repeat(100_000));
    let cases: [(&str, &[&str]); 5] = [
        (
            "out/../secret",
            &["subject[1].name `out/../secret` holds a `..` component"],
        ),
        (
            "/etc/passwd",
            &["subject[1].name `/etc/passwd` is an absolute path"],
        ),
        (
            "out/\x1b[2Jx",
            &["`out/\\u{1b}[2Jx` holds a control character"],
        ),
        (
            "out//a.txt",
            &["`out//a.txt` holds an empty or `.` component"],
        ),
        (&long, &["bytes, sha256 ", "holds a `..` component"]),
    ];
    for (subject, needles) in cases {
        let out = artifact_with_subject(&m, subject);
        for command in ["verify", "provenance"] {
            let o = run_with_deadline(&mut m.kiln(&[command], &[&out]));
            let mut needles = needles.to_vec();
            needles.push("out.intoto.json");
            assert_refused(&o, &needles, 4096);
            assert!(
                !String::from_utf8_lossy(&o.stdout).contains(&secret_digest)
                    && !String::from_utf8_lossy(&o.stderr).contains(&secret_digest),
                "{command} printed the digest of a file outside the artifact: {}",
                show(&o)
            );
        }
    }
    m.canary.assert_untouched();
}

/// A GNU long-name member (`L`) naming the member that follows.
fn gnu_long(name: &[u8], data: &[u8]) -> Vec<T> {
    let mut long = name.to_vec();
    long.push(0);
    vec![
        T {
            data: long,
            ..T::raw(b"././@LongLink", b'L', b"")
        },
        T::file_raw(&name[..100], data),
    ]
}

/// `kiln diff ARGS` under an address-space limit of `kib` KiB
/// (`ulimit -v`, set by `sh` for kiln alone).
fn diff_limited(m: &Machine, kib: u64, args: &[&str], paths: &[&Path]) -> Output {
    let mut c = cmd("sh");
    c.current_dir(m.dir())
        .env("HOME", &m.canary.home)
        .env("XDG_STATE_HOME", m.dir().join("state"))
        .env_remove("KILN_STORE")
        .arg("-c")
        .arg(format!("ulimit -v {kib}; exec \"$@\""))
        .arg("sh")
        .arg(kiln_bin())
        .arg("diff")
        .args(args)
        .args(paths);
    run_with_deadline(&mut c)
}

#[test]
fn a_gnu_long_name_beyond_64_kib_is_refused_and_long_names_are_elided() {
    let m = Machine::new();
    // 48 MiB names: refused before they are read, within 512 MiB.
    let name = vec![b'n'; 48 << 20];
    let (a, b) = (m.dir().join("a.tar"), m.dir().join("b.tar"));
    std::fs::write(&a, tar(&gnu_long(&name, b"a\n"))).unwrap();
    std::fs::write(&b, tar(&gnu_long(&name, b"b\n"))).unwrap();
    let o = diff_limited(&m, 512 << 10, &[], &[&a, &b]);
    assert_refused(
        &o,
        &[
            "a.tar",
            "the GNU long name header at byte 0 declares 50331649 bytes (at most 65536 are read)",
        ],
        4096,
    );
    // 300 names of 60 KiB (within the cap), each differing: every name is
    // printed as its first 200 bytes, its length and digest.
    let members = |body: &[u8]| -> Vec<T> {
        (0..300u32)
            .flat_map(|i| {
                let mut n = format!("{i:04}/").into_bytes();
                n.resize(60 << 10, b'x');
                gnu_long(&n, body)
            })
            .collect()
    };
    std::fs::write(&a, tar(&members(b"a\n"))).unwrap();
    std::fs::write(&b, tar(&members(b"b\n"))).unwrap();
    let o = diff_limited(&m, 1 << 20, &[], &[&a, &b]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        text.contains("xxx\"… (61440 bytes, sha256 "),
        "{}",
        show(&o)
    );
    assert!(text.contains("300 difference(s)"), "{}", show(&o));
    assert!(o.stdout.len() < 300 * 1024, "{}", show(&o));
    let o = diff_limited(&m, 1 << 20, &["--json"], &[&a, &b]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(o.stdout.len() < 400 * 1024, "{}", show(&o));
    m.canary.assert_untouched();
}

/// `levels` plain tars nested in one another around a file of `size`
/// bytes (of `fill`), each level named `level<i>.tar`.
fn nested(levels: usize, size: usize, fill: u8) -> Vec<u8> {
    let mut t = tar(&[T::file("core.bin", &vec![fill; size])]);
    for i in 0..levels {
        t = tar(&[T::file(&format!("level{i}.tar"), &t)]);
    }
    t
}

#[test]
fn nested_archives_share_one_memory_budget_and_names_stay_short() {
    let m = Machine::new();
    let (a, b) = (m.dir().join("a.tar"), m.dir().join("b.tar"));
    std::fs::write(&a, nested(3, 3 << 20, b'a')).unwrap();
    std::fs::write(&b, nested(3, 3 << 20, b'b')).unwrap();
    // 8 MiB for all levels of a side: two levels of ~3 MiB fit, the third
    // is compared by its digest only, and the report says so.
    let o = diff_limited(&m, 1 << 20, &["--max-retained", "8388608"], &[&a, &b]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        text.contains("in \"level2.tar\": in \"level1.tar\": \"level0.tar\": contents differ")
            && text.contains("compared by digest only: not kept in memory"),
        "{}",
        show(&o)
    );
    assert!(!text.contains("core.bin"), "{}", show(&o));
    // With room for every level, the difference is found inside.
    let o = diff_limited(&m, 1 << 20, &[], &[&a, &b]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        text.contains("\"core.bin\": contents differ"),
        "{}",
        show(&o)
    );

    // Three levels named by 60 KiB GNU long names around 1,500 differing
    // files: every difference names the levels it sits in. Within 256 MiB
    // of address space and a report of under 2 MiB (not 270 MB).
    let core = |side: &str| -> Vec<u8> {
        let files: Vec<T> = (0..1500)
            .map(|i| T::file(&format!("f{i}.txt"), format!("{side}{i}\n").as_bytes()))
            .collect();
        let mut t = tar(&files);
        for i in 0..3 {
            let mut n = format!("level{i}-").into_bytes();
            n.resize(60_000, b'x');
            t = tar(&gnu_long(&n, &t));
        }
        t
    };
    std::fs::write(&a, core("a")).unwrap();
    std::fs::write(&b, core("b")).unwrap();
    let o = diff_limited(&m, 256 << 10, &[], &[&a, &b]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(text.contains("1503 difference(s)"), "{}", show(&o));
    assert!(
        text.contains("xxx\"… (60000 bytes, sha256 "),
        "{}",
        show(&o)
    );
    assert!(o.stdout.len() < 2 << 20, "{}", show(&o));
    m.canary.assert_untouched();
}
