//! Two release shapes run end to end, as a new user would, on the fixture
//! repositories `tests/fixtures/release-setuptools` (a setuptools package
//! tagged `version/x.y.z`, `server` and `node` images with a per-major
//! channel tag, post releases of the images) and
//! `tests/fixtures/release-poetry` (a poetry-core package with its rendered
//! guide in the wheel, images for Python 3.8–3.11 × `final`/`final-dev`,
//! tagged `v{version}`): set/bump, tag, build, post release, prerelease,
//! dev build, the refusal of a reused version, a second clone building the
//! same bytes, `kiln verify` and `kiln provenance` of a wheel and an image.
//! The artifacts are checked with the real clients: pip installs the wheel
//! and its console script prints the release, `twine check --strict`,
//! skopeo, umoci and podman read every image and its tags, and the image's
//! rootfs runs under bubblewrap.

use crate::common;
use crate::oci_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture::git_dated;
use common::{cmd, run, run_ok};
use oci_support::{kiln_in, run_in_image_argv, shape_at, tags_of, tools};

/// Commit dates of the successive commits of a shape's history (a day
/// apart, so that each commit's `SOURCE_DATE_EPOCH` differs).
const DATES: [&str; 6] = [
    "1704164645 +0000",
    "1704251045 +0000",
    "1704337445 +0000",
    "1704423845 +0000",
    "1704510245 +0000",
    "1704596645 +0000",
];

struct Shape {
    tmp: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    commits: usize,
}

impl Shape {
    /// A committed copy of `tests/fixtures/<fixture>` with the busybox base
    /// layout at `bases/busybox` and its digest in the recipes.
    fn new(fixture: &str) -> Shape {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("proj");
        shape_at(fixture, &root);
        let store = tmp.path().join("store");
        let mut s = Shape {
            tmp,
            root,
            store,
            commits: 0,
        };
        s.git(&["init", "-q"]);
        s.commit("the project");
        s
    }

    fn git(&self, args: &[&str]) -> String {
        git_dated(&self.root, args, DATES[self.commits.min(DATES.len() - 1)])
    }

    /// Commit everything with the next date; returns the commit id.
    fn commit(&mut self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.commits += 1;
        self.git(&["rev-parse", "HEAD"])
    }

    fn kiln(&self, args: &[&str]) -> Command {
        kiln_in(&self.root, &self.store, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        run_ok(&mut self.kiln(args))
    }

    fn dist(&self) -> PathBuf {
        self.root.join("dist")
    }

    fn show(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["version", "show", "--json"])).unwrap()
    }
}

/// The artifacts in `dist/`, sorted, without statements and SHA256SUMS.
fn dist_names(dist: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "SHA256SUMS" && !n.ends_with(".intoto.json"))
        .collect();
    names.sort();
    names
}

/// `sha256sum -c` accepts `dist/SHA256SUMS`, and every artifact has its
/// in-toto statement beside it.
fn dist_is_complete(dist: &Path) {
    run_ok(
        cmd("sha256sum")
            .args(["-c", "--quiet", "--strict", "SHA256SUMS"])
            .current_dir(dist),
    );
    for name in dist_names(dist) {
        let statement = dist.join(format!("{name}.intoto.json"));
        let st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&statement).unwrap()).unwrap();
        assert_eq!(st["_type"], "https://in-toto.io/Statement/v1", "{name}");
    }
}

/// Every file below `dir` (relative path → bytes).
fn files_below(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// pip installs `wheel` (offline) into the venv at `venv` (made on first
/// use, then reused: each install replaces the last); its console script
/// `script` prints `expected`.
fn pip_runs(venv: &Path, wheel: &Path, script: &str, expected: &str) -> PathBuf {
    let bin = if venv.join("bin/pip").exists() {
        venv.join("bin")
    } else {
        common::python::venv(venv, false)
    };
    run_ok(
        cmd(bin.join("pip").to_str().unwrap())
            .args([
                "install",
                "-q",
                "--no-index",
                "--no-deps",
                "--force-reinstall",
            ])
            .arg(wheel),
    );
    let out = run_ok(&mut cmd(bin.join(script).to_str().unwrap()));
    assert_eq!(out, expected, "{script} from {}", wheel.display());
    bin
}

fn twine_check(files: &[PathBuf]) {
    let out = run(cmd("twine").args(["check", "--strict"]).args(files));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "twine check --strict: {text}");
    assert_eq!(text.matches("PASSED").count(), files.len(), "{text}");
}

/// skopeo reads every tag of the layout and the docker archive; umoci
/// unpacks it and its rootfs runs `ls` of `path` under bubblewrap; podman
/// loads the archive with every tag. Returns the `ls` output.
fn check_image(
    work: &Path,
    layout: &Path,
    repository: &str,
    tags: &[String],
    path: &str,
) -> String {
    assert_eq!(&tags_of(layout), tags, "{}", layout.display());
    for tag in tags {
        let raw = run_ok(
            cmd("skopeo")
                .args(["inspect", "--raw"])
                .arg(format!("oci:{}:{tag}", layout.display())),
        );
        let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json",
            "{raw}"
        );
    }
    let name = layout.file_name().unwrap().to_string_lossy();
    let archive = layout.with_file_name(name.replace(".oci", ".docker.tar"));
    let inspect = run_ok(
        cmd("skopeo")
            .arg("inspect")
            .arg(format!("docker-archive:{}", archive.display())),
    );
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Os"], "linux", "{inspect}");
    let manifest = run_ok(cmd("tar").arg("-xOf").arg(&archive).arg("manifest.json"));
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let repo_tags: Vec<String> = tags.iter().map(|t| format!("{repository}:{t}")).collect();
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(repo_tags));
    // One podman storage per test (podman refuses a runroot over 50 bytes).
    let storage = work.parent().unwrap().join("pm");
    let podman = |args: &[&str]| {
        let mut c = cmd("podman");
        c.arg("--root")
            .arg(storage.join("root"))
            .arg("--runroot")
            .arg(storage.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        c
    };
    run_ok(&mut podman(&[
        "load",
        "-q",
        "-i",
        archive.to_str().unwrap(),
    ]));
    let images = run_ok(&mut podman(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]));
    for tag in tags {
        assert!(
            images.lines().any(|l| l == format!("{repository}:{tag}")),
            "podman has no {repository}:{tag}: {images}"
        );
    }
    std::fs::create_dir_all(work).unwrap();
    run_in_image_argv(layout, &tags[tags.len() - 1], work, Some(&["ls", path]))
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `kiln verify` rebuilds `artifact` at its commit, bytes identical.
fn verifies(s: &Shape, artifact: &Path) {
    let out = s.ok(&["verify", artifact.to_str().unwrap()]);
    assert!(
        out.contains("rebuilt: bytes identical") && out.contains("verified at level Bytes"),
        "{out}"
    );
}

/// A clone of the project elsewhere, at `tag`, built in another store with
/// another TZ and umask: the same `dist/`, byte for byte.
fn second_clone_is_identical(s: &Shape, tag: &str) {
    let clone = s.tmp.path().join("elsewhere/deeper/clone");
    std::fs::create_dir_all(clone.parent().unwrap()).unwrap();
    run_ok(
        cmd("git")
            .args(["clone", "-q", "--branch", tag])
            .arg(&s.root)
            .arg(&clone),
    );
    let kiln = common::kiln_bin();
    let store = s.tmp.path().join("elsewhere/store");
    run_ok(
        cmd("sh")
            .args(["-c", "umask 077 && exec \"$@\"", "sh"])
            .arg(&kiln)
            .arg("-C")
            .arg(&clone)
            .arg("--store")
            .arg(&store)
            .arg("build")
            .env("TZ", "Pacific/Chatham")
            .env("PATH", oci_support::python_path())
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("KILN_STORE"),
    );
    let ours = files_below(&s.dist());
    let theirs = files_below(&clone.join("dist"));
    assert_eq!(
        std::fs::read(s.dist().join("SHA256SUMS")).unwrap(),
        std::fs::read(clone.join("dist/SHA256SUMS")).unwrap()
    );
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs));
    for ((name, a), (_, b)) in ours.iter().zip(&theirs) {
        assert!(a == b, "{name} differs between the two clones");
    }
}

/// A build of `version` on another commit than its tag's is exit 2 naming
/// both commits.
fn reuse_is_refused(s: &Shape, version: &str, tagged: &str, head: &str) {
    let out = run(&mut s.kiln(&["build", "--version", version]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(tagged) && err.contains(head) && err.contains("never reused"),
        "{err}"
    );
}

#[test]
fn setuptools_shape_images_with_channel_tags_and_post_releases() {
    if !tools(&[
        "git", "umoci", "skopeo", "podman", "bwrap", "twine", "python3", "file",
    ]) {
        return;
    }
    let mut s = Shape::new("release-setuptools");
    let work = s.tmp.path().join("work");

    // Release prep: the manifest and the stamped `_version.py` change, and
    // nothing else.
    s.ok(&["version", "set", "3.1.0"]);
    assert_eq!(
        s.git(&["diff", "--name-only"]),
        "pyproject.toml\nsrc/shape_server/_version.py"
    );
    let version_py = std::fs::read_to_string(s.root.join("src/shape_server/_version.py")).unwrap();
    assert!(
        version_py.contains("__version__ = \"3.1.0\"\n"),
        "{version_py}"
    );
    let release = s.commit("release 3.1.0");
    s.git(&["tag", "version/3.1.0"]);
    assert_eq!(s.show()["channel"], "stable");

    s.ok(&["build"]);
    assert_eq!(
        dist_names(&s.dist()),
        [
            "node-3.1.0.docker.tar",
            "node-3.1.0.oci",
            "server-3.1.0.docker.tar",
            "server-3.1.0.oci",
            "shape-server-3.1.0.tar.gz",
            "shape_server-3.1.0-py3-none-any.whl",
        ]
    );
    dist_is_complete(&s.dist());
    let wheel = s.dist().join("shape_server-3.1.0-py3-none-any.whl");
    let release_wheel = std::fs::read(&wheel).unwrap();
    let bin = pip_runs(
        &work.join("venv"),
        &wheel,
        "shape-server",
        "shape-server 3.1.0",
    );
    assert_eq!(
        run_ok(cmd(bin.join("shape-server").to_str().unwrap()).arg("--greeting")),
        "hello from shape-server"
    );
    twine_check(&[wheel.clone(), s.dist().join("shape-server-3.1.0.tar.gz")]);
    let stable = tags(&["3.1.0", "3.1", "3", "latest", "petronas"]);
    for image in ["server", "node"] {
        let ls = check_image(
            &work.join(image),
            &s.dist().join(format!("{image}-3.1.0.oci")),
            &format!("example.org/shape-{image}"),
            &stable,
            "/opt/wheels",
        );
        assert_eq!(ls, "shape_server-3.1.0-py3-none-any.whl");
    }
    verifies(&s, &wheel);
    verifies(&s, &s.dist().join("server-3.1.0.oci"));
    let prov = s.ok(&[
        "provenance",
        s.dist().join("node-3.1.0.oci").to_str().unwrap(),
    ]);
    // The committed base is recorded as the commit's file, not as
    // something the build made.
    assert!(
        prov.contains(&release)
            && prov.contains("input wheel (recipe wheel")
            && prov
                .contains("base image bases/busybox: snapshot file bases/busybox/index.json (git:"),
        "{prov}"
    );
    let prov = s.ok(&[
        "provenance",
        "--entry",
        "shape_server/_version.py",
        wheel.to_str().unwrap(),
    ]);
    assert!(prov.contains("src/shape_server/_version.py"), "{prov}");
    second_clone_is_identical(&s, "version/3.1.0");

    // A later commit may not be released as 3.1.0 again.
    let init = s.root.join("src/shape_server/cli.py");
    let mut text = std::fs::read_to_string(&init).unwrap();
    text.push_str("# changed after 3.1.0\n");
    std::fs::write(&init, text).unwrap();
    let later = s.commit("after 3.1.0");
    reuse_is_refused(&s, "3.1.0", &release, &later);

    // The post release re-issues the images of 3.1.0, channel tag moved,
    // with 3.1.0's wheel inside; the code recipes are skipped, named.
    s.ok(&["version", "set", "3.1.0.post1"]);
    s.commit("3.1.0.post1: new images");
    // The post release tagged as a new user might spell it: refused, with
    // the tag it should be, before anything is written.
    s.git(&["tag", "version/3.1.0-post1"]);
    let out = run(&mut s.kiln(&["build"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"version/3.1.0-post1\" is malformed")
            && err.contains("that would be version/3.1.0.post1"),
        "{err}"
    );
    assert!(s.dist().join("server-3.1.0.oci").is_dir());
    s.git(&["tag", "-d", "version/3.1.0-post1"]);
    s.git(&["tag", "version/3.1.0.post1"]);
    let out = run(&mut s.kiln(&["build"]));
    let err = String::from_utf8_lossy(&out.stderr);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("sdist: skipped: a code recipe, and version 3.1.0.post1 is a post release"),
        "{err}"
    );
    assert!(!err.contains("wheel: skipped"), "{err}");
    assert!(
        said.contains("shape_server-3.1.0-py3-none-any.whl (release 3.1.0's")
            && !said.contains("dist/shape_server"),
        "{said}"
    );
    assert_eq!(
        dist_names(&s.dist()),
        [
            "node-3.1.0.post1.docker.tar",
            "node-3.1.0.post1.oci",
            "server-3.1.0.post1.docker.tar",
            "server-3.1.0.post1.oci",
        ]
    );
    dist_is_complete(&s.dist());
    // The wheel keeps its name (`{release}` in the recipes is 3.1.0), so
    // pip installs it from the image.
    let post = tags(&["3.1.0.post1", "3.1", "3", "latest", "petronas"]);
    for image in ["server", "node"] {
        let layout = s.dist().join(format!("{image}-3.1.0.post1.oci"));
        let ls = check_image(
            &work.join(format!("post-{image}")),
            &layout,
            &format!("example.org/shape-{image}"),
            &post,
            "/opt/wheels",
        );
        assert_eq!(ls, "shape_server-3.1.0-py3-none-any.whl");
        let env = run_in_image_argv(
            &layout,
            "petronas",
            &work.join(format!("post-{image}")),
            Some(&["sh", "-c", "echo $SHAPE_VERSION $SHAPE_RELEASE"]),
        );
        assert_eq!(env, "3.1.0.post1 3.1.0");
        let inside = work
            .join(format!("post-{image}"))
            .join("bundle-petronas/rootfs/opt/wheels")
            .join(&ls);
        assert!(
            std::fs::read(&inside).unwrap() == release_wheel,
            "{image}: not 3.1.0's wheel"
        );
        pip_runs(
            &work.join("venv"),
            &inside,
            "shape-server",
            "shape-server 3.1.0",
        );
    }
    // Its rebuild builds the wheel as 3.1.0 was built: at that commit's time.
    verifies(&s, &s.dist().join("server-3.1.0.post1.oci"));

    // A prerelease of the next patch: its facts, its wheel, its one tag.
    s.ok(&["version", "bump", "prerelease"]);
    s.commit("3.1.1a0");
    s.git(&["tag", "version/3.1.1a0"]);
    let show = s.show();
    assert_eq!(show["version"], "3.1.1a0", "{show}");
    assert_eq!(show["channel"], "prerelease", "{show}");
    assert_eq!(show["prerelease"], true, "{show}");
    assert_eq!(show["oci_tags"], serde_json::json!(["3.1.1a0"]), "{show}");
    assert_eq!(show["npm_dist_tag"], "next", "{show}");
    s.ok(&["build", "wheel", "server"]);
    assert_eq!(tags_of(&s.dist().join("server-3.1.1a0.oci")), ["3.1.1a0"]);
    pip_runs(
        &work.join("venv"),
        &s.dist().join("shape_server-3.1.1a0-py3-none-any.whl"),
        "shape-server",
        "shape-server 3.1.1a0",
    );

    // A dev build after it: a dev release of the prerelease.
    std::fs::write(s.root.join("NOTES.md"), "work in progress\n").unwrap();
    s.commit("work");
    let show = s.show();
    assert_eq!(show["channel"], "dev", "{show}");
    s.ok(&["build", "wheel"]);
    pip_runs(
        &work.join("venv"),
        &s.dist().join("shape_server-3.1.1a0.dev1-py3-none-any.whl"),
        "shape-server",
        "shape-server 3.1.1a0.dev1",
    );
}

/// `poetry version RULE` on a copy of the project's `pyproject.toml`.
fn poetry_bump(work: &Path, pyproject: &Path, rule: &str) -> Vec<u8> {
    let dir = work.join(format!("poetry-{rule}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(pyproject, dir.join("pyproject.toml")).unwrap();
    run_ok(cmd("poetry").args(["version", rule]).current_dir(&dir));
    std::fs::read(dir.join("pyproject.toml")).unwrap()
}

#[test]
fn poetry_shape_docs_in_the_wheel_and_an_image_matrix() {
    if !tools(&[
        "git", "umoci", "skopeo", "podman", "bwrap", "twine", "python3", "poetry", "file",
    ]) {
        return;
    }
    let mut s = Shape::new("release-poetry");
    let work = s.tmp.path().join("work");
    let pyproject = s.root.join("pyproject.toml");

    // `kiln version bump` writes what `poetry version` writes.
    let expected = poetry_bump(&work, &pyproject, "minor");
    s.ok(&["version", "bump", "minor"]);
    assert_eq!(s.git(&["diff", "--name-only"]), "pyproject.toml");
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(&pyproject).unwrap()),
        String::from_utf8_lossy(&expected)
    );
    let release = s.commit("release 1.4.0");
    s.git(&["tag", "v1.4.0"]);

    s.ok(&["build"]);
    let cells: Vec<(&str, &str)> = ["3.8", "3.9", "3.10", "3.11"]
        .iter()
        .flat_map(|p| ["final", "final-dev"].map(|v| (*p, v)))
        .collect();
    let mut expected_names: Vec<String> = vec![
        "docs".into(),
        "shape_docs-1.4.0-py3-none-any.whl".into(),
        "shape_docs-1.4.0.tar.gz".into(),
    ];
    for (py, variant) in &cells {
        expected_names.push(format!("image-{py}-{variant}-1.4.0.docker.tar"));
        expected_names.push(format!("image-{py}-{variant}-1.4.0.oci"));
    }
    expected_names.sort();
    assert_eq!(dist_names(&s.dist()), expected_names);
    dist_is_complete(&s.dist());

    // The wheel carries the rendered guide, recorded as the docs recipe's.
    let wheel = s.dist().join("shape_docs-1.4.0-py3-none-any.whl");
    let sdist = s.dist().join("shape_docs-1.4.0.tar.gz");
    let bin = pip_runs(&work.join("venv"), &wheel, "shape-docs", "shape-docs 1.4.0");
    let guide = run_ok(cmd(bin.join("shape-docs").to_str().unwrap()).arg("--guide"));
    let html = std::fs::read_to_string(&guide).unwrap();
    assert!(
        html.starts_with("<html>") && html.contains("# The shape-docs guide"),
        "{html}"
    );
    let listing = run_ok(cmd("tar").arg("-tzf").arg(&sdist));
    assert!(
        listing.contains("shape_docs-1.4.0/shape_docs/static/index.html"),
        "{listing}"
    );
    twine_check(&[wheel.clone(), sdist.clone()]);
    let prov = s.ok(&[
        "provenance",
        "--entry",
        "shape_docs/static/index.html",
        wheel.to_str().unwrap(),
    ]);
    assert!(
        prov.contains("input docs (recipe docs") && prov.contains("file site/index.html"),
        "{prov}"
    );

    for (py, variant) in &cells {
        let suffix = format!("py{py}-{variant}");
        let want: Vec<String> = ["1.4.0", "1.4", "1", "latest"]
            .iter()
            .map(|t| format!("{t}-{suffix}"))
            .collect();
        let layout = s.dist().join(format!("image-{py}-{variant}-1.4.0.oci"));
        let ls = check_image(
            &work.join(format!("image-{suffix}")),
            &layout,
            "example.org/shape-docs",
            &want,
            "/opt/wheels",
        );
        assert_eq!(ls, "shape_docs-1.4.0-py3-none-any.whl");
        let env = run_in_image_argv(
            &layout,
            &want[3],
            &work.join(format!("image-{suffix}")),
            Some(&["sh", "-c", "echo $PYTHON_VERSION $SHAPE_VARIANT"]),
        );
        assert_eq!(env, format!("{py} {variant}"));
    }
    let image = s.dist().join("image-3.10-final-dev-1.4.0.oci");
    verifies(&s, &wheel);
    verifies(&s, &image);
    let prov = s.ok(&["provenance", image.to_str().unwrap()]);
    assert!(
        prov.contains(&release)
            && prov.contains("opt/wheels/shape_docs-1.4.0-py3-none-any.whl: input wheel")
            && prov.contains("usr/share/doc/shape-docs/index.html: input docs"),
        "{prov}"
    );
    second_clone_is_identical(&s, "v1.4.0");

    std::fs::write(s.root.join("docs/more.md"), "More.\n").unwrap();
    let later = s.commit("more docs");
    reuse_is_refused(&s, "1.4.0", &release, &later);

    // A prerelease: poetry's bump, its facts, its wheel.
    let expected = poetry_bump(&work, &pyproject, "prerelease");
    s.ok(&["version", "bump", "prerelease"]);
    assert_eq!(std::fs::read(&pyproject).unwrap(), expected);
    s.commit("1.4.1a0");
    s.git(&["tag", "v1.4.1a0"]);
    let show = s.show();
    assert_eq!(show["version"], "1.4.1a0", "{show}");
    assert_eq!(show["channel"], "prerelease", "{show}");
    assert_eq!(show["prerelease"], true, "{show}");
    s.ok(&["build", "wheel"]);
    pip_runs(
        &work.join("venv"),
        &s.dist().join("shape_docs-1.4.1a0-py3-none-any.whl"),
        "shape-docs",
        "shape-docs 1.4.1a0",
    );

    // A dev build.
    std::fs::write(s.root.join("docs/more.md"), "Even more.\n").unwrap();
    s.commit("work");
    assert_eq!(s.show()["channel"], "dev");
    s.ok(&["build", "wheel"]);
    pip_runs(
        &work.join("venv"),
        &s.dist().join("shape_docs-1.4.1a0.dev1-py3-none-any.whl"),
        "shape-docs",
        "shape-docs 1.4.1a0.dev1",
    );
}

/// A matrix axis named after a placeholder of image recipes is refused
/// when the build is planned (exit 2 naming `matrix.<axis>`), instead of
/// one silently replacing the other: `release`, and `variant` (`os`,
/// `arch`) beside `oci.platforms`, whose `{variant}` is the platform's.
#[test]
fn matrix_axes_that_shadow_image_placeholders_are_refused() {
    if !tools(&["git", "umoci", "file"]) {
        return;
    }
    let s = Shape::new("release-poetry");
    s.ok(&["plan"]);
    let image = s.root.join("recipes/image.toml");
    let text = std::fs::read_to_string(&image).unwrap();
    for (changed, axis) in [
        (
            text.replace("tag-suffix", "platforms = [\"linux/amd64\"]\ntag-suffix"),
            "matrix.variant",
        ),
        (
            text.replace("variant = [\"final\", \"final-dev\"]", "release = [\"a\"]")
                .replace("-{variant}", "")
                .replace("{variant}", "x"),
            "matrix.release",
        ),
    ] {
        std::fs::write(&image, changed).unwrap();
        let out = run(&mut s.kiln(&["plan", "--dirty"]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("key `{axis}`"))
                && err.contains("name the matrix axis otherwise"),
            "{err}"
        );
    }
}
