//! Helpers of the OCI image tests: base layouts made with umoci (from
//! Debian's busybox-static and the host's Python interpreters), the test
//! project, copies of the release-shape fixtures on those bases, and
//! running an image's rootfs with bubblewrap.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::fixture::{copy_dir, git, monorepo_at};
use super::common::{cmd, kiln, require_tool, run_ok, write};

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci")
}

pub fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH");
    c.env("PATH", python_path());
    c
}

/// `PATH` with the directories of the host's Python 3.11 and 3.12 first, so
/// that the `flow-site` recipe's tools `python3.11`/`python3.12` resolve to
/// the interpreters themselves (not to pyenv's shell shims).
pub fn python_path() -> std::ffi::OsString {
    static PATH: std::sync::OnceLock<std::ffi::OsString> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let mut dirs: Vec<PathBuf> = ["3.11", "3.12"]
            .iter()
            .filter_map(|v| host_python(v))
            .filter_map(|p| Path::new(&p).parent().map(Path::to_path_buf))
            .collect();
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        std::env::join_paths(dirs).unwrap()
    })
    .clone()
}

/// An OCI layout made by umoci from `rootfs`; returns its manifest digest.
pub fn umoci_layout(layout: &Path, rootfs: &Path) -> String {
    let image = format!("{}:base", layout.display());
    run_ok(cmd("umoci").args(["init", "--layout"]).arg(layout));
    run_ok(cmd("umoci").args(["new", "--image", &image]));
    run_ok(
        cmd("umoci")
            .args(["insert", "--rootless", "--image", &image])
            .arg(rootfs)
            .arg("/"),
    );
    run_ok(cmd("umoci").args(["gc", "--layout"]).arg(layout));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Base layouts made once per test process (under the target's temporary
/// directory): busybox, and Python 3.11/3.12 when the host has them.
/// Returns (dir holding `bases/`, placeholder → digest).
pub fn bases() -> &'static (PathBuf, Vec<(String, String)>) {
    static BASES: std::sync::OnceLock<(PathBuf, Vec<(String, String)>)> =
        std::sync::OnceLock::new();
    BASES.get_or_init(|| {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("oci-bases-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let dir = tmp.join("bases");
        let mut pins = Vec::new();
        let rootfs = tmp.join("rootfs-busybox");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::copy(busybox(), rootfs.join("bin/busybox")).unwrap();
        for applet in ["sh", "cat", "ls", "echo"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        pins.push((
            "@BUSYBOX_DIGEST@".to_string(),
            umoci_layout(&dir.join("busybox"), &rootfs),
        ));
        for (py, key) in [("3.11", "@PY311_DIGEST@"), ("3.12", "@PY312_DIGEST@")] {
            let rootfs = tmp.join(format!("rootfs-python-{py}"));
            if python_rootfs(py, &rootfs) {
                pins.push((
                    key.to_string(),
                    umoci_layout(&dir.join(format!("python-{py}")), &rootfs),
                ));
            }
        }
        (tmp, pins)
    })
}

/// Debian busybox-static's binary.
pub fn busybox() -> PathBuf {
    let p = PathBuf::from("/bin/busybox");
    let file = run_ok(cmd("file").arg("-L").arg(&p));
    assert!(
        file.contains("statically linked"),
        "{p:?} is not static (install busybox-static): {file}"
    );
    p
}

/// The interpreter, its prefix, and every standard-library file a run of
/// the package's console script loads (`--version` reads the installed
/// metadata through importlib.metadata, which needs zipfile and zlib).
pub const PY_FILES: &str = r#"
import sys, importlib.metadata, mini_flow.cli
importlib.metadata.version("pip")
print(sys.executable)
print(sys.base_prefix)
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if f and f.startswith(sys.base_prefix):
        print(f)
"#;

/// A rootfs holding the host's Python `version` (the interpreter, its
/// shared libraries and the standard library modules it loads) at the host's
/// paths, with `/usr/local/bin/python3` pointing at it. False when absent.
pub fn python_rootfs(version: &str, rootfs: &Path) -> bool {
    let Some(exe) = host_python(version) else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "python{version} is not installed on this host (the image matrix test needs it)"
            );
        }
        eprintln!("SKIP python {version}: not on this host");
        return false;
    };
    let src = super::common::fixture::monorepo_src().join("python/src");
    let out = run_ok(cmd(&exe).args(["-c", PY_FILES]).env("PYTHONPATH", &src));
    let mut lines = out.lines();
    let executable = PathBuf::from(lines.next().unwrap());
    let prefix = PathBuf::from(lines.next().unwrap());
    let mut files: Vec<PathBuf> = lines.map(PathBuf::from).collect();
    files.push(executable.clone());
    // Shared libraries of the interpreter and of its extension modules (zlib…).
    let objects: Vec<PathBuf> = files
        .iter()
        .filter(|f| *f == &executable || f.extension().is_some_and(|e| e == "so"))
        .cloned()
        .collect();
    for object in objects {
        let ldd = run_ok(cmd("ldd").arg(&object));
        for line in ldd.lines() {
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next().unwrap_or(""),
                None => line.split_whitespace().next().unwrap_or(""),
            };
            if path.starts_with('/') {
                files.push(PathBuf::from(path));
            }
        }
    }
    files.sort();
    files.dedup();
    for f in files {
        let dest = rootfs.join(f.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap();
    }
    let short = version.to_string();
    std::fs::create_dir_all(
        rootfs
            .join(prefix.strip_prefix("/").unwrap())
            .join(format!("lib/python{short}/lib-dynload")),
    )
    .unwrap();
    std::fs::create_dir_all(rootfs.join("usr/local/bin")).unwrap();
    std::os::unix::fs::symlink(&executable, rootfs.join("usr/local/bin/python3")).unwrap();
    true
}

/// The host's `python<version>`: on PATH, else one of pyenv's versions.
pub fn host_python(version: &str) -> Option<String> {
    let works = |exe: &str| {
        cmd(exe)
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if let Some(p) = works(&format!("python{version}")) {
        return Some(p);
    }
    let root = cmd("pyenv").arg("root").output().ok()?;
    let versions = PathBuf::from(String::from_utf8_lossy(&root.stdout).trim()).join("versions");
    let mut found: Vec<PathBuf> = std::fs::read_dir(versions)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_prefix(version).is_some_and(|rest| {
                rest.starts_with('.') && rest[1..].bytes().all(|b| b.is_ascii_digit())
            })
        })
        .map(|e| e.path().join(format!("bin/python{version}")))
        .collect();
    found.sort();
    found.pop().and_then(|p| works(&p.to_string_lossy()))
}

/// A committed copy of the monorepo with the OCI recipes and base layouts.
pub fn project(dir: &Path, reverse: bool, with_python: bool) -> PathBuf {
    let root = monorepo_at(dir, reverse);
    let (bases_dir, pins) = bases();
    copy_dir(
        &bases_dir.join("bases/busybox"),
        &root.join("bases/busybox"),
        reverse,
    );
    for entry in std::fs::read_dir(fixture_dir().join("recipes")).unwrap() {
        let e = entry.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        // The recipes that need Python 3.11 and 3.12 on the host.
        if ["flow-image.toml", "flow-site.toml"].contains(&name.as_str()) && !with_python {
            continue;
        }
        let mut text = std::fs::read_to_string(e.path()).unwrap();
        for (key, digest) in pins {
            text = text.replace(key, digest);
        }
        write(&root.join("recipes").join(&name), text);
    }
    copy_dir(&fixture_dir().join("images"), &root.join("images"), reverse);
    if with_python {
        for py in ["3.11", "3.12"] {
            let b = bases_dir.join(format!("bases/python-{py}"));
            copy_dir(&b, &root.join(format!("bases/python-{py}")), reverse);
        }
    }
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "images"]);
    root
}

/// A copy of `tests/fixtures/<fixture>` (a release shape) at `root`, not
/// yet a git repository, with the busybox base layout at `bases/busybox`
/// and its digest in the recipes.
pub fn shape_at(fixture: &str, root: &Path) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    copy_dir(&src, root, false);
    let (bases_dir, pins) = bases();
    copy_dir(
        &bases_dir.join("bases/busybox"),
        &root.join("bases/busybox"),
        false,
    );
    for e in std::fs::read_dir(root.join("recipes")).unwrap() {
        let p = e.unwrap().path();
        let mut text = std::fs::read_to_string(&p).unwrap();
        for (key, digest) in pins {
            text = text.replace(key, digest);
        }
        write(&p, text);
    }
}

pub fn has_python_bases() -> bool {
    bases()
        .1
        .iter()
        .filter(|(k, _)| k.starts_with("@PY"))
        .count()
        == 2
}

pub fn tools(names: &[&str]) -> bool {
    names.iter().all(|t| require_tool(t))
}

pub fn layout_index(layout: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}

pub fn tags_of(layout: &Path) -> Vec<String> {
    layout_index(layout)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

pub fn blob(layout: &Path, digest: &str) -> serde_json::Value {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap()
}

/// Unpack `layout:tag` with umoci and run its entrypoint and cmd in the
/// rootfs with bubblewrap.
pub fn run_in_image(layout: &Path, tag: &str, work: &Path) -> String {
    run_in_image_argv(layout, tag, work, None)
}

/// Like [`run_in_image`], with `argv` instead of the image's entrypoint and
/// cmd when given (the image's environment either way).
pub fn run_in_image_argv(layout: &Path, tag: &str, work: &Path, argv: Option<&[&str]>) -> String {
    let bundle = work.join(format!("bundle-{tag}"));
    if !bundle.exists() {
        run_ok(
            cmd("umoci")
                .args(["unpack", "--rootless", "--image"])
                .arg(format!("{}:{tag}", layout.display()))
                .arg(&bundle),
        );
    }
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let args: Vec<String> = config["process"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let env: Vec<String> = config["process"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let mut c = cmd("bwrap");
    c.arg("--bind").arg(bundle.join("rootfs")).arg("/").args([
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--unshare-net",
        "--clearenv",
    ]);
    for e in &env {
        let (k, v) = e.split_once('=').unwrap();
        c.args(["--setenv", k, v]);
    }
    match argv {
        Some(a) => c.args(a),
        None => c.args(&args),
    };
    run_ok(&mut c)
}

/// Layers large enough to be compressed in several chunks (gzip: 1 MiB,
/// zstd: 4 MiB), so that one core and all cores compress differently:
/// 9 MiB of text-like files, written in reverse order when asked, and an
/// image of them per compression: gzip (`bulk-gz`), gzip at level 1
/// (`bulk-gz1`) and zstd (`bulk-zst`).
pub fn add_bulk(root: &Path, reverse: bool) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut files: Vec<(String, Vec<u8>)> = (0..9)
        .map(|i| {
            let data = (0..1 << 20)
                .map(|j| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if j % 4 == 0 {
                        b'a' + (x % 26) as u8
                    } else {
                        b"kiln layer chunk\n"[j % 17]
                    }
                })
                .collect();
            (format!("bulk/part-{i}.txt"), data)
        })
        .collect();
    if reverse {
        files.reverse();
    }
    for (name, data) in files {
        write(&root.join(name), data);
    }
    for (name, compression) in [
        ("bulk-gz", "compression = \"gzip\""),
        ("bulk-gz1", "compression-level = 1"),
        ("bulk-zst", "compression = \"zstd\""),
    ] {
        write(
            &root.join(format!("recipes/{name}.toml")),
            format!(
                "surface = \"oci\"\ninclude = [\"bulk/**\"]\n[oci]\n{compression}\n[[oci.layers]]\nname = \"bulk\"\nmap = {{ \"bulk\" = \"/bulk\" }}\n"
            ),
        );
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "bulk"]);
}

/// Two images (`server`, `node`) of the project's wheel on busybox, a
/// tarball that is neither, `version/{version}` tags and channel tags.
pub fn post_project(dir: &Path) -> PathBuf {
    let root = project(dir, false, false);
    let recipes = root.join("recipes");
    for e in std::fs::read_dir(&recipes).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !["flow-wheel.toml", "docs-bundle.toml"].contains(&name.as_str()) {
            std::fs::remove_file(p).unwrap();
        }
    }
    write(
        &recipes.join("release.toml"),
        "[version]\nsource = \"cargo\"\nscheme = \"pep440\"\n\n[tag]\ntemplate = \"version/{version}\"\n\n\
         [channels]\noci-aliases = [\"{major}.{minor}\", \"{major}\", \"latest\"]\noci-major = { \"3\" = \"petronas\" }\n",
    );
    let digest = &bases()
        .1
        .iter()
        .find(|(k, _)| k == "@BUSYBOX_DIGEST@")
        .unwrap()
        .1;
    for name in ["server", "node"] {
        write(
            &recipes.join(format!("{name}.toml")),
            format!(
                "surface = \"oci\"\nsource = \".\"\ninclude = [\"bases/busybox/**\"]\ninputs = {{ wheel = \"flow-wheel\" }}\n\n\
                 [oci]\nrepository = \"example.org/{name}\"\nentrypoint = [\"/bin/sh\"]\n\n\
                 [oci.base]\nlayout = \"bases/busybox\"\ndigest = \"{digest}\"\n\n\
                 [[oci.layers]]\nname = \"wheel\"\nmap = {{ \"inputs/wheel\" = \"/opt/mini-flow.whl\" }}\n"
            ),
        );
    }
    run_ok(&mut kiln_in(
        &root,
        &dir.join("store0"),
        &["version", "set", "3.1.0"],
    ));
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "post release images"]);
    root
}

pub fn wheel_in(dist: &Path) -> PathBuf {
    std::fs::read_dir(dist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .unwrap_or_else(|| panic!("no wheel in {}", dist.display()))
}
