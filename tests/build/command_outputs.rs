//! The command surface: outputs collected with normalised modes, symlinks
//! followed inside the workspace, and typed errors for missing or escaping
//! outputs.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kiln::error::{Classify, ErrorKind};
use kiln::sandbox::{self, SandboxMode};
use kiln::surface::command::{self, CommandError, CommandSpec, OutputKind};

fn spec(script: &str, outputs: &[&str]) -> CommandSpec {
    let names = ["sh", "mkdir", "chmod", "ln"].map(String::from);
    CommandSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        tools: sandbox::resolve_tools(&names, Path::new("/")).unwrap(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        ro_inputs: Vec::new(),
        env: BTreeMap::new(),
        source_date_epoch: 315_532_800,
        mode: SandboxMode::Bubblewrap,
        limits: sandbox::Limits::default(),
    }
}

struct Dirs {
    _t: tempfile::TempDir,
    ws: std::path::PathBuf,
    staging: std::path::PathBuf,
    log: std::path::PathBuf,
}

fn dirs() -> Dirs {
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    std::fs::create_dir_all(ws.join("sub")).unwrap();
    Dirs {
        staging: t.path().join("staging/out"),
        log: t.path().join("build.log"),
        ws,
        _t: t,
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn outputs_are_collected_with_normalised_modes() {
    if !common::require_tool("bwrap") {
        return;
    }
    let d = dirs();
    let script = "test \"$(pwd)\" = /build/sub && mkdir -p out/bin out/empty && echo tool > out/bin/tool && chmod 700 out/bin/tool \
                  && echo data > out/data.txt && chmod 600 out/data.txt && ln -s data.txt out/link \
                  && echo report > report.txt && chmod 666 report.txt && chmod 700 out/empty";
    let got = command::build(
        &d.ws,
        "sub",
        &spec(script, &["out", "./report.txt"]),
        &d.staging,
        &d.log,
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].path.as_str(), got[0].kind),
        ("out", OutputKind::Directory)
    );
    assert_eq!(
        (got[1].path.as_str(), got[1].kind),
        ("report.txt", OutputKind::File)
    );
    let s = &d.staging;
    assert_eq!(mode(&s.join("out")), 0o755);
    assert_eq!(mode(&s.join("out/empty")), 0o755);
    assert_eq!(mode(&s.join("out/bin/tool")), 0o755);
    assert_eq!(mode(&s.join("out/data.txt")), 0o644);
    assert_eq!(mode(&s.join("report.txt")), 0o644);
    // The link is followed and stored as a file.
    let link = std::fs::symlink_metadata(s.join("out/link")).unwrap();
    assert!(link.is_file());
    assert_eq!(
        std::fs::read_to_string(s.join("out/link")).unwrap(),
        "data\n"
    );
}

#[test]
fn a_missing_output_fails_naming_it() {
    if !common::require_tool("bwrap") {
        return;
    }
    let d = dirs();
    let err = command::build(
        &d.ws,
        "sub",
        &spec("mkdir -p out", &["out", "target/release/mini"]),
        &d.staging,
        &d.log,
    )
    .unwrap_err();
    assert!(
        matches!(&err, CommandError::MissingOutput { path, .. } if path == "target/release/mini"),
        "{err}"
    );
    assert!(err.to_string().contains("target/release/mini"));
    assert_eq!(err.kind(), ErrorKind::BadInput);
}

#[test]
fn escaping_outputs_are_rejected() {
    if !common::require_tool("bwrap") {
        return;
    }
    // Declared paths: rejected before anything runs.
    for bad in ["../outside", "/etc/passwd", "a/../../x"] {
        let d = dirs();
        let err = command::build(&d.ws, "sub", &spec("mkdir ran", &[bad]), &d.staging, &d.log)
            .unwrap_err();
        assert!(
            matches!(err, CommandError::BadOutput { .. }),
            "{bad}: {err}"
        );
        assert_eq!(err.kind(), ErrorKind::BadInput);
        assert!(!d.ws.join("sub/ran").exists(), "{bad}: the command ran");
    }
    // Produced symlinks leaving the output (the workspace, or only the
    // declared output), at the top or inside a directory.
    for (script, output) in [
        ("ln -s /etc/passwd pw", "pw"),
        ("mkdir d && ln -s ../../../outside.txt d/l", "d"),
        ("ln -s /build/.. up", "up"),
        ("ln -s /build/../etc/passwd up2", "up2"),
        ("mkdir -p a d && echo x > a/f && ln -s ../a d/a", "d"),
        ("echo in > f && ln -s /build/sub/f abs", "abs"),
    ] {
        let d = dirs();
        common::write(&d.ws.parent().unwrap().join("outside.txt"), "host file");
        let err =
            command::build(&d.ws, "sub", &spec(script, &[output]), &d.staging, &d.log).unwrap_err();
        assert!(
            matches!(err, CommandError::Escapes { .. }),
            "{script}: {err}"
        );
        assert_eq!(err.kind(), ErrorKind::CheckFailed);
        assert!(err.to_string().contains(output), "{err}");
    }
    // A link to an ancestor directory is a cycle, not an endless copy.
    let d = dirs();
    let err = command::build(
        &d.ws,
        "sub",
        &spec("mkdir -p d/e && ln -s .. d/e/back", &["d"]),
        &d.staging,
        &d.log,
    )
    .unwrap_err();
    assert!(matches!(err, CommandError::Cycle { .. }), "{err}");
    // A link to a sibling inside the same output is followed.
    let d = dirs();
    command::build(
        &d.ws,
        "sub",
        &spec("mkdir -p d/a && echo x > d/a/f && ln -s a d/b", &["d"]),
        &d.staging,
        &d.log,
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(d.staging.join("d/b/f")).unwrap(),
        "x\n"
    );
}

#[test]
fn a_failing_command_is_a_sandbox_error_with_the_log_tail() {
    if !common::require_tool("bwrap") {
        return;
    }
    let d = dirs();
    let err = command::build(
        &d.ws,
        "sub",
        &spec("echo compile error >&2; exit 3", &["x"]),
        &d.staging,
        &d.log,
    )
    .unwrap_err();
    match err {
        CommandError::Sandbox(sandbox::SandboxError::Failed { code, tail, .. }) => {
            assert_eq!(code, Some(3));
            assert!(tail.contains("compile error"));
        }
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn absolute_links_into_the_output_are_followed() {
    if !common::require_tool("bwrap") {
        return;
    }
    let d = dirs();
    let got = command::build(
        &d.ws,
        "sub",
        &spec(
            "mkdir d && echo in > d/f && ln -s /build/sub/d/f d/abs",
            &["d"],
        ),
        &d.staging,
        &d.log,
    )
    .unwrap();
    assert_eq!(got[0].kind, OutputKind::Directory);
    assert_eq!(
        std::fs::read_to_string(d.staging.join("d/abs")).unwrap(),
        "in\n"
    );
}

#[test]
fn without_a_sandbox_paths_are_rewritten_to_host_stand_ins() {
    let d = dirs();
    let input = d.ws.parent().unwrap().join("input");
    common::write(&input.join("data"), "from input");
    let mut s = spec(
        "echo \"$WHERE\" > where.txt && cat /inputs/x/data > copied.txt 2>/dev/null; cat \"$INPUT/data\" > via-env.txt && test -d \"$TMPDIR\"",
        &["where.txt", "via-env.txt"],
    );
    s.tools = sandbox::resolve_tools(&["sh", "cat"].map(String::from), Path::new("/")).unwrap();
    s.mode = SandboxMode::None;
    s.env.insert("WHERE".into(), "/build/sub".into());
    s.env.insert("INPUT".into(), "/inputs/x".into());
    s.ro_inputs.push(sandbox::RoInput {
        host: input.clone(),
        at: "/inputs/x".into(),
    });
    command::build(&d.ws, "sub", &s, &d.staging, &d.log).unwrap();
    let real_ws = std::fs::canonicalize(&d.ws).unwrap();
    assert_eq!(
        std::fs::read_to_string(d.staging.join("where.txt")).unwrap(),
        format!("{}/sub\n", real_ws.display())
    );
    assert_eq!(
        std::fs::read_to_string(d.staging.join("via-env.txt")).unwrap(),
        "from input"
    );
}
