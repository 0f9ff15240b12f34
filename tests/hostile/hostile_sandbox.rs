//! Hostile commands (issue 8, points 7 and 8): a command that writes into
//! its own output staging directory or declares a link out of its output,
//! and commands that exceed their time, memory or process limits. Each test
//! runs `kiln build` on a repository it makes, with the store and `dist/`
//! in kiln's temporary directory, and checks the exit code, that the message
//! names the culprit, and that the checkout and a canary directory are
//! unchanged.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::fixture::{git, tree_digest};
use common::{kiln, run, write};

struct Project {
    _t: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    out: PathBuf,
    canary: PathBuf,
}

/// A committed project with one `command` recipe `cmd` whose `[command]`
/// table is `table`.
fn project(table: &str) -> Project {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    write(
        &root.join("recipes/cmd.toml"),
        format!("surface = \"command\"\nsource = \".\"\ninclude = [\"input.txt\"]\n\n[command]\n{table}"),
    );
    write(
        &root.join("recipes/release.toml"),
        "[version]\nsource = \"file:VERSION\"\n",
    );
    write(&root.join("VERSION"), "1.0.0\n");
    write(&root.join("input.txt"), "input\n");
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "base"]);
    let canary = t.path().join("canary");
    write(&canary.join("keep.txt"), "canary\n");
    Project {
        store: t.path().join("kiln/store"),
        out: t.path().join("kiln/dist"),
        root,
        canary,
        _t: t,
    }
}

impl Project {
    fn build(&self, extra: &[&str]) -> Output {
        run(kiln()
            .current_dir(&self.root)
            .arg("--store")
            .arg(&self.store)
            .arg("build")
            .arg("--out")
            .arg(&self.out)
            .args(extra))
    }

    fn state(&self) -> (String, String) {
        (tree_digest(&self.canary), tree_digest(&self.root))
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every path below `dir` (symlinks not followed).
fn all_paths(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn bwrap() -> bool {
    common::require_tool("bwrap")
}

/// Writes into `/build/out` (relative to the working directory
/// `/build/src`, so that it means the same without a sandbox) and declares
/// only `made`.
const INJECT: &str = r#"argv = ["sh", "-c", """
mkdir -p made && echo real > made/real.txt
for d in ../out ../out/*; do
  echo evil > "$d/injected.txt" 2>/dev/null
  ln -s /etc/shadow "$d/shadow" 2>/dev/null
done
true
"""]
tools = ["sh", "mkdir", "ln"]
outputs = ["made"]
"#;

#[test]
fn a_command_cannot_write_into_its_output_staging() {
    if !bwrap() {
        return;
    }
    let p = project(INJECT);
    let before = p.state();
    let out = p.build(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shipped = all_paths(&p.out);
    assert!(
        shipped.iter().any(|f| f.ends_with("made/real.txt")),
        "{shipped:?}"
    );
    for f in all_paths(&p.out).iter().chain(all_paths(&p.store).iter()) {
        assert!(
            !f.contains("injected") && !f.ends_with("shadow"),
            "injected file shipped: {f}"
        );
    }
    assert_eq!(p.state(), before);
}

#[test]
fn without_a_sandbox_an_injected_file_fails_the_build() {
    let p = project(INJECT);
    let before = p.state();
    let out = p.build(&["--sandbox", "none"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("injected.txt") && err.contains("staging"),
        "{err}"
    );
    assert!(!all_paths(&p.out).iter().any(|f| f.contains("injected")));
    assert_eq!(p.state(), before);
}

#[test]
fn a_declared_output_linking_out_of_itself_is_refused() {
    if !bwrap() {
        return;
    }
    for (script, culprit) in [
        ("ln -s /etc/shadow made", "made"),
        ("mkdir made && ln -s /etc made/etc", "made/etc"),
        ("mkdir made && ln -s ../input.txt made/in", "made/in"),
    ] {
        let p = project(&format!(
            "argv = [\"sh\", \"-c\", \"{script}\"]\ntools = [\"sh\", \"mkdir\", \"ln\"]\noutputs = [\"made\"]\n"
        ));
        let before = p.state();
        let out = p.build(&[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{script}: {err}");
        assert!(
            err.contains("\"made\"") && err.contains(culprit) && err.contains("outside the output"),
            "{script}: {err}"
        );
        assert!(!p.out.join("cmd").exists());
        assert_eq!(p.state(), before);
    }
}

/// No process on the host runs `sleep <marker>` any more.
fn no_process_sleeping(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().all(|e| {
        let cmdline = std::fs::read(e.unwrap().path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        !(args.len() >= 2 && args[0].ends_with(b"sleep") && args[1] == marker.as_bytes())
    })
}

#[test]
fn a_command_past_its_timeout_is_killed_with_everything_it_started() {
    if !bwrap() {
        return;
    }
    // A daemonised child (own session) and a plain one: both must die.
    let p = project(
        "argv = [\"sh\", \"-c\", \"setsid sleep 3171 & sleep 3172 & wait\"]\n\
         tools = [\"sh\", \"sleep\", \"setsid\"]\noutputs = [\"never\"]\ntimeout-seconds = 1\n",
    );
    let before = p.state();
    let out = p.build(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("timeout-seconds = 1"), "{err}");
    assert!(no_process_sleeping("3171") && no_process_sleeping("3172"));
    assert_eq!(p.state(), before);
}

#[test]
fn a_fork_bomb_is_bounded_by_max_processes() {
    if !bwrap() {
        return;
    }
    let p = project(
        "argv = [\"sh\", \"-c\", \"while :; do sleep 3173 & done\"]\n\
         tools = [\"sh\", \"sleep\"]\noutputs = [\"never\"]\nmax-processes = 32\ntimeout-seconds = 120\n",
    );
    let before = p.state();
    let out = p.build(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("max-processes = 32"), "{err}");
    assert!(no_process_sleeping("3173"));
    assert_eq!(p.state(), before);
}

#[test]
fn a_memory_hog_is_killed_at_memory_mib() {
    if !bwrap() {
        return;
    }
    // `tail` buffers a line that never ends: unbounded memory.
    let p = project(
        "argv = [\"tail\", \"/dev/zero\"]\ntools = [\"tail\"]\noutputs = [\"never\"]\n\
         memory-mib = 64\ntimeout-seconds = 120\n",
    );
    let before = p.state();
    let out = p.build(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("memory-mib = 64"), "{err}");
    assert_eq!(p.state(), before);
}

#[test]
fn limit_keys_must_be_positive_whole_numbers() {
    let p =
        project("argv = [\"true\"]\ntools = [\"true\"]\noutputs = [\"x\"]\nmax-processes = 0\n");
    let before = p.state();
    let out = p.build(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("recipes/cmd.toml") && err.contains("`max-processes` = 0"),
        "{err}"
    );
    assert!(!p.store.exists() && !p.out.exists());
    assert_eq!(p.state(), before);
}
