//! Isolation of the bubblewrap sandbox: no network, no home, no host
//! environment, no view of /root or the checkout, nothing writable outside
//! /build and /tmp, and the failure report.

use crate::common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;

use kiln::sandbox::{self, RoInput, SandboxError, SandboxMode, Spec};

fn available() -> bool {
    common::require_tool("bwrap")
}

fn spec(ws: &Path, mode: SandboxMode, argv: &[&str], tools: &[&str]) -> Spec {
    let names: Vec<String> = tools.iter().map(|s| s.to_string()).collect();
    Spec {
        workspace: ws.to_path_buf(),
        cwd: String::new(),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        tools: sandbox::resolve_tools(&names, ws).unwrap(),
        ro_inputs: Vec::new(),
        env: BTreeMap::new(),
        source_date_epoch: 1_700_000_000,
        mode,
    }
}

/// Run a `sh -c` script; the script's own exit status decides.
fn sh(ws: &Path, mode: SandboxMode, script: &str) -> Result<(), SandboxError> {
    let s = spec(ws, mode, &["sh", "-c", script], &["sh", "cat", "env"]);
    sandbox::run(&s, &ws.parent().unwrap().join("log"))
}

fn dirs() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    (t, ws)
}

#[test]
fn host_loopback_is_unreachable() {
    if !available() || !common::require_tool("bash") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_t, ws) = dirs();
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    let argv = ["bash", "-c", script.as_str()];
    let log = ws.parent().unwrap().join("log");
    // Control: without the sandbox the same connection succeeds.
    sandbox::run(&spec(&ws, SandboxMode::None, &argv, &["bash"]), &log).unwrap();
    let err =
        sandbox::run(&spec(&ws, SandboxMode::Bubblewrap, &argv, &["bash"]), &log).unwrap_err();
    assert!(matches!(err, SandboxError::Failed { .. }), "{err}");
}

#[test]
fn environment_is_exactly_the_fixed_variables() {
    if !available() {
        return;
    }
    std::env::set_var("KILN_SANDBOX_LEAK_TEST", "secret");
    let (_t, ws) = dirs();
    for mode in [SandboxMode::Bubblewrap, SandboxMode::None] {
        let mut s = spec(&ws, mode, &["env"], &["env"]);
        s.env.insert("FOO".into(), "bar".into());
        let out = sandbox::run_capture(&s, &ws.parent().unwrap().join("log")).unwrap();
        let out = String::from_utf8(out).unwrap();
        let mut keys: Vec<&str> = out.lines().map(|l| l.split('=').next().unwrap()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "FOO",
                "HOME",
                "LC_ALL",
                "PATH",
                "SOURCE_DATE_EPOCH",
                "TMPDIR",
                "TZ"
            ],
            "{mode}: {out}"
        );
        assert!(out.contains("HOME=/homeless-shelter\n"));
        assert!(out.contains("SOURCE_DATE_EPOCH=1700000000\n"));
        assert!(!out.contains("secret"));
    }
}

#[test]
fn home_does_not_exist_and_umask_is_022() {
    if !available() {
        return;
    }
    let (_t, ws) = dirs();
    sh(
        &ws,
        SandboxMode::Bubblewrap,
        r#"test "$HOME" = /homeless-shelter && test ! -e "$HOME" && test "$(umask)" = 0022 && test "$TZ" = UTC"#,
    )
    .unwrap();
}

#[test]
fn root_and_checkout_are_invisible_and_the_checkout_is_unchanged() {
    if !available() {
        return;
    }
    let (t, ws) = dirs();
    // A fake checkout next to the workspace, with a sentinel.
    let checkout = t.path().join("checkout");
    common::write(&checkout.join("secret.txt"), "checkout sentinel");
    common::write(&ws.join("copy.txt"), "workspace copy");
    let before = tree_digest(&checkout);
    // A sentinel in /root (only when the tests can write there).
    let root_sentinel =
        Path::new("/root").join(format!("kiln-sandbox-sentinel-{}", std::process::id()));
    let have_root = std::fs::write(&root_sentinel, "root sentinel").is_ok();

    let mut script = format!(
        "cat /build/copy.txt >/dev/null && ! cat {c}/secret.txt && ! test -e {c} && ! test -e /root && ! test -e /home && ! test -e /work",
        c = checkout.display()
    );
    if have_root {
        script.push_str(&format!(" && ! cat {}", root_sentinel.display()));
        // Control: the sentinel is readable without the sandbox.
        let control = format!("cat {} >/dev/null", root_sentinel.display());
        sh(&ws, SandboxMode::None, &control).unwrap();
    }
    let result = sh(&ws, SandboxMode::Bubblewrap, &script);
    if have_root {
        std::fs::remove_file(&root_sentinel).unwrap();
    }
    result.unwrap();
    assert_eq!(tree_digest(&checkout), before);
}

#[test]
fn nothing_outside_build_and_tmp_is_writable() {
    if !available() {
        return;
    }
    let (t, ws) = dirs();
    let input = t.path().join("input");
    common::write(&input.join("data"), "read me");
    let log = t.path().join("log");
    for target in [
        "/evil",
        "/usr/evil",
        "/etc/evil",
        "/etc/passwd",
        "/kiln/bin/evil",
        "/inputs/x/evil",
        "/inputs/x/data",
        "/proc/evil",
    ] {
        let script = format!("cat /inputs/x/data >/dev/null && ! echo x > {target}");
        let mut s = spec(
            &ws,
            SandboxMode::Bubblewrap,
            &["sh", "-c", &script],
            &["sh", "cat"],
        );
        s.ro_inputs.push(RoInput {
            host: input.clone(),
            at: "/inputs/x".into(),
        });
        sandbox::run(&s, &log).unwrap_or_else(|e| panic!("{target}: {e}"));
    }
    assert_eq!(
        std::fs::read_to_string(input.join("data")).unwrap(),
        "read me"
    );
    assert_eq!(std::fs::read_dir(&input).unwrap().count(), 1);
    // /build and /tmp are writable; files get mode 0644 (umask 022).
    sh(
        &ws,
        SandboxMode::Bubblewrap,
        "echo ok > /build/out.txt && echo ok > /tmp/x && echo ok > $TMPDIR/y",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(ws.join("out.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn a_failing_command_reports_status_and_log_tail() {
    if !available() {
        return;
    }
    let (t, ws) = dirs();
    let log = t.path().join("log");
    let s = spec(
        &ws,
        SandboxMode::Bubblewrap,
        &[
            "sh",
            "-c",
            "echo to-stdout; echo boom-on-stderr >&2; exit 7",
        ],
        &["sh"],
    );
    match sandbox::run(&s, &log).unwrap_err() {
        SandboxError::Failed {
            code, tail, log: l, ..
        } => {
            assert_eq!(code, Some(7));
            assert!(
                tail.contains("boom-on-stderr") && tail.contains("to-stdout"),
                "{tail}"
            );
            assert_eq!(l, log);
        }
        e => panic!("unexpected {e}"),
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("boom-on-stderr"));
}

#[test]
fn only_declared_tools_are_on_path() {
    if !available() {
        return;
    }
    let (_t, ws) = dirs();
    // `cat` is installed on the host but not declared.
    sh(
        &ws,
        SandboxMode::Bubblewrap,
        "test \"$PATH\" = /kiln/bin && command -v env >/dev/null && ! command -v ls",
    )
    .unwrap();
}

#[test]
fn tools_resolve_to_real_binaries_with_identity() {
    if !common::require_tool("cargo") || !common::require_tool("sha256sum") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tools = sandbox::resolve_tools(&["cargo".to_string(), "sh".to_string()], dir).unwrap();
    let cargo = &tools[0];
    assert_eq!(cargo.name, "cargo");
    // Not the rustup proxy: the toolchain's own binary.
    assert_ne!(cargo.path.file_name().unwrap(), "rustup");
    let expected_version =
        common::run_ok(common::cmd(cargo.path.to_str().unwrap()).arg("--version"));
    assert_eq!(cargo.version, expected_version);
    let sum = common::run_ok(common::cmd("sha256sum").arg(&cargo.path));
    assert_eq!(cargo.sha256, sum.split_whitespace().next().unwrap());
    assert!(tools[1].path.is_absolute() && !tools[1].path.is_symlink());
    // The persistent cache gives the same answer, cold and warm.
    let cache = tempfile::tempdir().unwrap();
    let names = ["cargo".to_string(), "sh".to_string()];
    for _ in 0..2 {
        let cached = sandbox::resolve_tools_cached(&names, dir, Some(cache.path())).unwrap();
        assert_eq!(cached, tools);
    }

    for (name, ok) in [("no-such-tool-kiln", false), ("a/b", false), ("", false)] {
        let r = sandbox::resolve_tools(&[name.to_string()], dir);
        assert_eq!(r.is_ok(), ok, "{name}");
        assert_eq!(
            kiln::error::Classify::kind(&r.unwrap_err()),
            kiln::error::ErrorKind::BadInput
        );
    }
}

/// Paths, modes and contents of every file under `dir`.
fn tree_digest(dir: &Path) -> Vec<(String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
            }
            let data = if m.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            out.push((p.display().to_string(), m.permissions().mode(), data));
        }
    }
    out.sort();
    out
}
