//! Hostile names ("Trust, round two", points 4 and 17): artifact names made
//! from matrix values, templates and package manifests, and recipe names
//! taken from file names, that hold a line feed (a forged `SHA256SUMS`
//! line), ESC (terminal control) or U+202E (reordered text), or that look
//! like an option (`--help`). Each case asserts exit 2, the culprit named
//! escaped in the message, no raw control byte in stdout or stderr,
//! `dist/` (with its `SHA256SUMS`) unchanged, and the canary and `$HOME`
//! untouched.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::canary::Canary;
use common::fixture::{git, tree_digest};
use common::{kiln, run, write};

/// A hex digest to forge a `SHA256SUMS` line with.
const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A committed project (a `docs/` tree, a zip recipe over it, version
/// 1.0.0) already built once, so that `dist/` holds a `SHA256SUMS`; its
/// own state directory, and a canary with a `$HOME`.
struct Project {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    state: PathBuf,
    canary: Canary,
}

impl Project {
    fn new(files: &[(&str, &str)]) -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("proj");
        write(&root.join("docs/a.md"), "# a\n");
        write(&root.join("VERSION"), "1.0.0\n");
        write(
            &root.join("recipes/release.toml"),
            "[version]\nsource = \"file:VERSION\"\n",
        );
        write(
            &root.join("recipes/docs.toml"),
            "surface = \"zip\"\nsource = \"docs\"\noutput = \"docs.zip\"\n",
        );
        for (path, text) in files {
            write(&root.join(path), text);
        }
        write(&root.join(".gitignore"), "/dist/\n/store/\n");
        git(&root, &["init", "-q"]);
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "project"]);
        let p = Project {
            state: tmp.path().join("state"),
            canary: Canary::new(tmp.path()),
            _tmp: tmp,
            root,
        };
        let out = run(&mut p.kiln(&["build", "docs"]));
        assert!(out.status.success(), "{}", text(&out));
        assert!(p.root.join("dist/SHA256SUMS").is_file());
        p
    }

    fn kiln(&self, args: &[&str]) -> Command {
        let mut c = kiln();
        c.arg("-C")
            .arg(&self.root)
            .args(args)
            .env("HOME", &self.canary.home)
            .env("XDG_STATE_HOME", &self.state)
            .env_remove("SOURCE_DATE_EPOCH");
        c
    }

    /// Write and commit more files.
    fn commit(&self, files: &[(&str, &[u8])]) {
        for (path, bytes) in files {
            write(&self.root.join(path), bytes);
        }
        git(&self.root, &["add", "-A"]);
        git(&self.root, &["commit", "-q", "-m", "hostile"]);
    }

    /// `kiln build` must exit 2 naming every `needle`, print no raw control
    /// or bidirectional character and leave `dist/`, the canary and `$HOME`
    /// as they were; returns stderr.
    fn refuses(&self, args: &[&str], needles: &[&str]) -> String {
        let dist = tree_digest(&self.root.join("dist"));
        let sums = std::fs::read(self.root.join("dist/SHA256SUMS")).unwrap();
        let out = run(&mut self.kiln(args));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        for n in needles {
            assert!(err.contains(n), "{n:?} not in: {err}");
        }
        assert_clean(&out);
        assert_eq!(tree_digest(&self.root.join("dist")), dist, "dist/ changed");
        assert_eq!(
            std::fs::read(self.root.join("dist/SHA256SUMS")).unwrap(),
            sums
        );
        self.canary.assert_untouched();
        err
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// No ESC, no U+202E, nothing forged: the error is one line.
fn assert_clean(out: &Output) {
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!bytes.contains(&0x1b), "raw ESC in {what}: {}", text(out));
        assert!(
            !String::from_utf8_lossy(bytes).contains('\u{202e}'),
            "raw U+202E in {what}: {}",
            text(out)
        );
        assert!(!bytes.contains(&b'\r'), "raw CR in {what}: {}", text(out));
    }
    // Progress lines (`kiln: <recipe>: building …`) come first on a piped
    // stderr; the error is the last line and must be one line.
    let err = String::from_utf8_lossy(&out.stderr);
    let error_lines = err
        .lines()
        .skip_while(|l| !l.starts_with("kiln: error:"))
        .count();
    assert_eq!(error_lines, 1, "a line was forged: {}", text(out));
    assert!(
        !err.contains(&format!("\n{HEX}")),
        "a SHA256SUMS line in: {err}"
    );
}

/// Point 4: a matrix value with a line feed (and the hex digest and file
/// name of a forged `SHA256SUMS` line) is refused when recipes are read;
/// nothing is built.
#[test]
fn a_matrix_value_with_a_newline_cannot_forge_a_sha256sums_line() {
    let p = Project::new(&[]);
    let recipe = format!(
        "surface = \"tarball\"\nsource = \"docs\"\noutput = \"evil-{{target}}.tar.gz\"\n\n[matrix]\ntarget = [\"ok\", \"x\\n{HEX}  forged.tar.gz\"]\n"
    );
    p.commit(&[("recipes/evil.toml", recipe.as_bytes())]);
    p.refuses(
        &["build"],
        &[
            "recipes/evil.toml:6",
            "key `matrix.target`",
            &format!("\"x\\n{HEX}  forged.tar.gz\""),
            "control characters",
        ],
    );
}

/// Point 4: names are checked as rendered: a template with ESC, and a
/// matrix value holding U+202E or `/` that a template puts into the name,
/// are refused when the plan is made, naming the file, the key and the
/// escaped name.
#[test]
fn rendered_artifact_names_that_are_not_portable_are_refused_at_plan_time() {
    let p = Project::new(&[]);
    p.commit(&[(
        "recipes/esc.toml",
        b"surface = \"tarball\"\nsource = \"docs\"\noutput = \"esc-{version}\\u001b[2J.tar.gz\"\n",
    )]);
    p.refuses(
        &["build", "esc"],
        &[
            "recipes/esc.toml:3",
            "key `output`",
            "`esc-1.0.0",
            "\\u{1b}[2J.tar.gz`",
            "control character",
        ],
    );
    git(&p.root, &["rm", "-q", "recipes/esc.toml"]);
    p.commit(&[(
        "recipes/rlo.toml",
        "surface = \"zip\"\nsource = \"docs\"\noutput = \"rlo-{os}.zip\"\n\n[matrix]\nos = [\"linux\", \"gpj\u{202e}\", \"a/../../b\"]\n"
            .as_bytes(),
    )]);
    p.refuses(
        &["build", "rlo"],
        &[
            "recipes/rlo.toml:3",
            "key `output`",
            "`rlo-a/../../b.zip`",
            "path separator",
        ],
    );
    let recipe = "surface = \"zip\"\nsource = \"docs\"\noutput = \"rlo-{os}.zip\"\n\n[matrix]\nos = [\"linux\", \"gpj\u{202e}\"]\n";
    p.commit(&[("recipes/rlo.toml", recipe.as_bytes())]);
    p.refuses(
        &["build", "rlo"],
        &["key `output`", "`rlo-gpj\\u{202e}.zip`"],
    );
}

/// Point 17: a recipe's name is its file's stem (or its `name` key): one
/// that looks like an option, or holds ESC, a line feed or U+202E, is
/// refused naming the file and the escaped name.
#[test]
fn recipe_names_must_be_portable() {
    let p = Project::new(&[]);
    let zip = b"surface = \"zip\"\nsource = \"docs\"\n";
    p.commit(&[("recipes/--help.toml", zip)]);
    p.refuses(
        &["build"],
        &["recipes/--help.toml", "\"--help\"", "portable file name"],
    );
    git(&p.root, &["rm", "-q", "--", "recipes/--help.toml"]);

    let hostile = "a\u{1b}[2Jb\nc\u{202e}d";
    p.commit(&[(&format!("recipes/{hostile}.toml"), zip)]);
    p.refuses(
        &["build"],
        &[
            "recipes/a\\u{1b}[2Jb\\nc\\u{202e}d.toml",
            "\"a\\u{1b}[2Jb\\nc\\u{202e}d\"",
            "portable file name",
        ],
    );
    git(
        &p.root,
        &["rm", "-q", "--", &format!("recipes/{hostile}.toml")],
    );

    let named = format!("name = \"x\\u202ey\"\n{}", String::from_utf8_lossy(zip));
    p.commit(&[("recipes/named.toml", named.as_bytes())]);
    p.refuses(
        &["build"],
        &["recipes/named.toml:1", "key `name`", "\"x\\u{202e}y\""],
    );
}

/// Point 4: kiln's npm surface takes the package name as written (npm's
/// own rules would refuse this one): the artifact name it gives is
/// checked when the plan is made.
#[test]
fn an_npm_package_name_that_gives_a_non_portable_name_is_refused_at_plan_time() {
    let manifest = format!("{{\"name\": \"x\\n{HEX}  forged\", \"version\": \"1.0.0\"}}\n");
    let p = Project::new(&[]);
    p.commit(&[
        ("web/package.json", manifest.as_bytes()),
        ("web/index.js", b"module.exports = 1;\n"),
        ("recipes/web.toml", b"surface = \"npm\"\nsource = \"web\"\n"),
    ]);
    p.refuses(
        &["build"],
        &[
            "recipes/web.toml",
            "package.json: key `name`",
            &format!("`x\\n{HEX}  forged-1.0.0"),
            "control character",
        ],
    );
}

/// Point 4: a name only known after building (here the package name of a
/// `package.json` reached through a link, which the plan does not follow)
/// is checked before anything in `dist/` changes.
#[test]
fn a_name_only_known_after_building_is_checked_before_dist_is_written() {
    let manifest = "{\"name\": \"x\u{202e}gpj\", \"version\": \"1.0.0\"}\n";
    let p = Project::new(&[]);
    p.commit(&[
        ("web/manifest.json", manifest.as_bytes()),
        ("web/index.js", b"module.exports = 1;\n"),
        ("recipes/web.toml", b"surface = \"npm\"\nsource = \"web\"\n"),
    ]);
    std::os::unix::fs::symlink("manifest.json", p.root.join("web/package.json")).unwrap();
    p.commit(&[]);
    p.refuses(
        &["build"],
        &["recipe web", "`x\\u{202e}gpj-1.0.0", "into dist/"],
    );
}

/// Write a git object with `git hash-object --literally` (no validity checks).
fn literal_object(repo: &std::path::Path, kind: &str, bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = common::cmd("git")
        .current_dir(repo)
        .args(["hash-object", "-t", kind, "--literally", "-w", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Point 17: a path from a crafted tree is printed escaped in the refusal
/// (here a blob whose name holds ESC, U+202E and `/`).
#[test]
fn a_refused_tree_path_is_printed_escaped() {
    let p = Project::new(&[]);
    let tree = common::run_ok(common::cmd("git").current_dir(&p.root).args(["write-tree"]));
    let listing = common::run(
        common::cmd("git")
            .current_dir(&p.root)
            .args(["cat-file", "tree", &tree]),
    )
    .stdout;
    let blob = literal_object(&p.root, "blob", b"x\n");
    let mut bytes = listing;
    bytes.extend_from_slice("100644 x\u{1b}[2J\u{202e}y/z\0".as_bytes());
    bytes.extend(
        (0..blob.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&blob[i..i + 2], 16).unwrap()),
    );
    let crafted = literal_object(&p.root, "tree", &bytes);
    let commit = common::run_ok(common::cmd("git").current_dir(&p.root).args([
        "commit-tree",
        &crafted,
        "-p",
        "HEAD",
        "-m",
        "crafted",
    ]));
    p.refuses(
        &["build", "--rev", &commit],
        &[&commit, "x\\x1b[2J\\u{202e}y/z"],
    );
}

/// Point 4: a command's output directory is listed file by file in
/// `SHA256SUMS` (`<name>/<path>`): a file whose name holds a line feed is
/// refused before anything in `dist/` changes.
#[test]
fn a_file_name_with_a_newline_in_a_directory_artifact_cannot_forge_a_line() {
    let p = Project::new(&[]);
    let recipe = format!(
        "surface = \"command\"\nsource = \"docs\"\n\n[command]\nargv = [\"sh\", \"-c\", \"printf x > \\\"out/a\\n{HEX}  forged\\\"\"]\ntools = [\"sh\"]\noutputs = [\"out\"]\n"
    );
    p.commit(&[
        ("docs/out/keep.txt", b"keep\n"),
        ("recipes/cmd.toml", recipe.as_bytes()),
    ]);
    p.refuses(
        &["build"],
        &[
            "recipe cmd",
            &format!("a\\n{HEX}  forged`"),
            "control character",
        ],
    );
}
