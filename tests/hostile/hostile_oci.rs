//! Hostile OCI input (issue "Trust, round two", points 14, 15 and 16): base
//! layers holding unsafe names, devices and malformed whiteouts; base layouts
//! whose directories are links out of the snapshot; run settings a runtime
//! would choke on. The base layouts are written here by hand (a ustar layer,
//! its config, manifest and index), committed to a small git project.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::canary::Canary;
use common::fixture::git;
use common::{cmd, kiln, require_tool, run, run_ok, write};

/// One user on one machine: its own state directory and `$HOME`.
struct Machine {
    state: PathBuf,
    home: PathBuf,
    store: PathBuf,
}

impl Machine {
    fn new(dir: &Path, canary: &Canary) -> Machine {
        Machine {
            state: dir.join("state"),
            home: canary.home.clone(),
            store: dir.join("store"),
        }
    }

    /// kiln on `root`, with a store of its own per commit: every case is
    /// a release of 1.0.0 from another commit, which one store refuses (a
    /// version is never reused).
    fn kiln(&self, root: &Path, args: &[&str]) -> Command {
        let head = git(root, &["rev-parse", "HEAD"]);
        let mut c = kiln();
        c.arg("-C")
            .arg(root)
            .arg("--store")
            .arg(self.store.join(head))
            .args(args)
            .env("XDG_STATE_HOME", &self.state)
            .env("HOME", &self.home)
            .env_remove("SOURCE_DATE_EPOCH");
        c
    }

    fn build(&self, root: &Path) -> Output {
        run(&mut self.kiln(root, &["build", "--version", "1.0.0", "img"]))
    }

    fn listed(&self, root: &Path) -> String {
        run_ok(&mut self.kiln(root, &["store", "ls"]))
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One member of a hand-written layer.
struct Member<'a> {
    name: &'a str,
    flag: u8,
    data: &'a [u8],
    link: &'a str,
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Member<'a> {
    Member {
        name,
        flag: b'0',
        data,
        link: "",
    }
}

fn dir(name: &str) -> Member<'_> {
    Member {
        name,
        flag: b'5',
        data: b"",
        link: "",
    }
}

fn hardlink<'a>(name: &'a str, target: &'a str) -> Member<'a> {
    Member {
        name,
        flag: b'1',
        data: b"",
        link: target,
    }
}

fn device(name: &str) -> Member<'_> {
    Member {
        name,
        flag: b'3',
        data: b"",
        link: "",
    }
}

fn octal(field: &mut [u8], value: u64) {
    let s = format!("{value:0width$o}\0", width = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// A ustar stream with the members exactly as given (no name is cleaned).
fn tar(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut h = [0u8; 512];
        h[..m.name.len()].copy_from_slice(m.name.as_bytes());
        octal(&mut h[100..108], if m.flag == b'5' { 0o755 } else { 0o644 });
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], m.data.len() as u64);
        octal(&mut h[136..148], 0);
        h[156] = m.flag;
        h[157..157 + m.link.len()].copy_from_slice(m.link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        octal(&mut h[329..337], 1);
        octal(&mut h[337..345], 3);
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        let s = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(s.as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Write an OCI layout with one uncompressed layer of `members` and the run
/// settings `settings` (JSON members of the config's `config`) into
/// `blobs_dir` (its `sha256/`) and `layout` (`oci-layout`, `index.json`);
/// returns the manifest digest.
fn oci_layout(layout: &Path, blobs_dir: &Path, members: &[Member], settings: &str) -> String {
    let put = |bytes: &[u8]| {
        let d = sha256(bytes);
        write(&blobs_dir.join("sha256").join(&d["sha256:".len()..]), bytes);
        (d, bytes.len())
    };
    let (layer, layer_size) = put(&tar(members));
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{{settings}}},"rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
    );
    let (config, config_size) = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    );
    let (manifest, manifest_size) = put(manifest.as_bytes());
    write(
        &layout.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest}","size":{manifest_size}}}]}}"#
        ),
    );
    write(
        &layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    );
    manifest
}

/// The digest of the layer of a layout written by [`oci_layout`].
fn layer_digest(members: &[Member]) -> String {
    sha256(&tar(members))
}

/// A committed project whose recipe `img` builds an image on the base
/// layout `bases/<name>` pinned at `digest`, with `oci` (more `[oci]`
/// keys) and `base` (more `[oci.base]` keys).
fn project(root: &Path) {
    write(&root.join("VERSION"), "1.0.0\n");
    write(
        &root.join("recipes/release.toml"),
        "[version]\nsource = \"file:VERSION\"\n",
    );
    write(&root.join("app/hello.txt"), "hello\n");
    git(root, &["init", "-q"]);
}

fn recipe(root: &Path, layout: &str, digest: &str, oci: &str, base: &str) {
    write(
        &root.join("recipes/img.toml"),
        format!(
            "surface = \"oci\"\nsource = \".\"\ninclude = [\"bases/**\", \"app/**\"]\n\
             [oci]\nrepository = \"example.org/img\"\n{oci}\n\
             [oci.base]\nlayout = \"bases/{layout}\"\ndigest = \"{digest}\"\n{base}\n\
             [[oci.layers]]\nname = \"app\"\nmap = {{ \"app/hello.txt\" = \"/hello.txt\" }}\n"
        ),
    );
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "recipe", "--allow-empty"]);
}

/// Build `img`: it must exit 2 naming every needle, register nothing and
/// write no image into `dist/`.
fn refused(m: &Machine, root: &Path, needles: &[&str]) -> String {
    let _ = std::fs::remove_dir_all(root.join("dist"));
    let before = m.listed(root);
    let out = m.build(root);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
    assert_eq!(m.listed(root), before, "registered after: {err}");
    assert!(!root.join("dist/img-1.0.0.oci").exists(), "{err}");
    err
}

/// The hazards that are warned about but do not stop a build.
fn warned_members<'a>() -> Vec<Member<'a>> {
    vec![
        dir("/"),
        dir("./"),
        dir("dev/"),
        device("dev/evil"),
        dir("etc/"),
        file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
        file("etc/.wh.old", b""),
        dir("etc/.wh..wh..opq/"),
        file("bad\nname", b"x"),
        hardlink("etc/later", "etc/nowhere"),
    ]
}

#[test]
fn unsafe_base_layer_names_are_refused_and_other_hazards_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let m = Machine::new(tmp.path(), &canary);
    let root = tmp.path().join("proj");
    project(&root);

    // Devices, a malformed opaque whiteout, a control character, a dangling
    // hardlink: reported as warnings naming the layer and the member; the
    // image is built.
    let members = warned_members();
    let base = root.join("bases/warned");
    let digest = oci_layout(&base, &base.join("blobs"), &members, "");
    recipe(&root, "warned", &digest, "", "");
    let out = m.build(&root);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let layer = layer_digest(&members);
    for needle in [
        "`dev/evil`: character device",
        "`etc/.wh..wh..opq/`: opaque whiteout",
        "`bad\\nname`: control character",
        "`etc/later`: hardlink to \"etc/nowhere\"",
    ] {
        let line = err.lines().find(|l| l.contains(needle));
        let line = line.unwrap_or_else(|| panic!("no warning {needle:?} in: {err}"));
        assert!(line.contains("warning") && line.contains(&layer), "{line}");
    }
    assert!(
        !err.contains("etc/.wh.old"),
        "a valid whiteout is reported: {err}"
    );
    assert!(
        !err.contains("bad\nname"),
        "an unescaped name is printed: {err}"
    );
    assert!(
        !err.contains("member `/`") && !err.contains("member `./`"),
        "the root directory entry is reported: {err}"
    );
    // A cached build publishes the same layer: the same warnings.
    let again = stderr(&m.build(&root));
    assert!(again.contains("`dev/evil`: character device"), "{again}");

    // Traversal, absolute names and hardlinks leaving the root: refused,
    // naming the layer and the member, unless the recipe opts in.
    let cases: [(&str, Member); 5] = [
        ("dotdot", file("../escape.txt", b"out\n")),
        ("absolute", file("/abs.txt", b"abs\n")),
        ("shadow", hardlink("etc/shadow-link", "/etc/shadow")),
        ("climb", hardlink("etc/up", "../../etc/shadow")),
        ("parent", dir("../")),
    ];
    for (name, bad) in cases {
        let needle = if bad.flag == b'1' { bad.link } else { bad.name };
        let members = vec![dir("etc/"), file("etc/passwd", b"x\n"), bad];
        let layout = format!("unsafe-{name}");
        let base = root.join("bases").join(&layout);
        let digest = oci_layout(&base, &base.join("blobs"), &members, "");
        let layer = layer_digest(&members);
        recipe(&root, &layout, &digest, "", "");
        refused(&m, &root, &[&layer, needle, "allow-unsafe-base-names"]);
        recipe(
            &root,
            &layout,
            &digest,
            "",
            "allow-unsafe-base-names = true",
        );
        let out = m.build(&root);
        let err = stderr(&out);
        assert!(out.status.success(), "{name}: {err}");
        assert!(
            err.lines()
                .any(|l| l.contains("warning") && l.contains(&layer) && l.contains(needle)),
            "{name}: no warning: {err}"
        );
    }
    assert!(!tmp.path().join("escape.txt").exists());
    if require_tool("skopeo") {
        let image = format!("oci:{}:1.0.0", root.join("dist/img-1.0.0.oci").display());
        let inspected = run_ok(cmd("skopeo").args(["inspect", &image]));
        assert!(inspected.contains("\"Layers\""), "{inspected}");
    }
    canary.assert_untouched();
}

/// A valid layout whose blobs live in `host` (outside the project), and the
/// manifest digest.
fn host_blobs(host: &Path, layout: &Path) -> String {
    oci_layout(layout, host, &[dir("etc/"), file("etc/passwd", b"x\n")], "")
}

#[test]
fn a_base_layout_is_read_only_through_real_directories_of_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let m = Machine::new(tmp.path(), &canary);
    let root = tmp.path().join("proj");
    project(&root);

    // `blobs` is a committed link to a host directory holding valid blobs.
    let host = tmp.path().join("host");
    let base = root.join("bases/linked");
    let digest = host_blobs(&host, &base);
    std::os::unix::fs::symlink(&host, base.join("blobs")).unwrap();
    recipe(&root, "linked", &digest, "", "");
    refused(&m, &root, &["bases/linked", "`blobs` is a symbolic link"]);

    // `blobs` is real, `blobs/sha256` the link.
    let host2 = tmp.path().join("host2");
    let base = root.join("bases/linked2");
    let digest = host_blobs(&host2, &base);
    std::fs::create_dir_all(base.join("blobs")).unwrap();
    std::os::unix::fs::symlink(host2.join("sha256"), base.join("blobs/sha256")).unwrap();
    recipe(&root, "linked2", &digest, "", "");
    refused(
        &m,
        &root,
        &["bases/linked2", "`blobs/sha256` is a symbolic link"],
    );

    // The layout directory itself is the link.
    let host3 = tmp.path().join("host3");
    let digest = host_blobs(&host3.join("blobs"), &host3);
    std::os::unix::fs::symlink(&host3, root.join("bases/linked3")).unwrap();
    recipe(&root, "linked3", &digest, "", "");
    refused(&m, &root, &["bases/linked3", "symbolic link"]);
    canary.assert_untouched();
}

#[test]
fn run_settings_a_runtime_refuses_exit_2_at_planning() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = Canary::new(tmp.path());
    let m = Machine::new(tmp.path(), &canary);
    let root = tmp.path().join("proj");
    project(&root);
    let members = [dir("etc/"), file("etc/passwd", b"x\n")];
    let base = root.join("bases/ok");
    let digest = oci_layout(&base, &base.join("blobs"), &members, "");
    // (the [oci] keys, what the message must name)
    let cases: &[(&str, &[&str])] = &[
        (
            r#"labels = { "org.example\nx" = "v" }"#,
            &["oci.labels.org.example\\nx", "control character"],
        ),
        (r#"labels = { "" = "v" }"#, &["oci.labels.", "empty"]),
        (r#"user = "0\u0000:0""#, &["oci.user", "\\0"]),
        (r#"user = "app:staff:x""#, &["oci.user", "app:staff:x"]),
        (r#"user = "app\nroot""#, &["oci.user", "app\\nroot"]),
        (r#"env = { A = "x\u0000y" }"#, &["oci.env.A", "x\\0y"]),
        (
            r#"entrypoint = ["/bin/sh", "-c\u0000rm"]"#,
            &["oci.entrypoint", "NUL"],
        ),
        (r#"cmd = ["a\u0000"]"#, &["oci.cmd", "NUL"]),
    ];
    for (keys, needles) in cases {
        recipe(&root, "ok", &digest, keys, "");
        let mut all = vec!["recipes/img.toml"];
        all.extend_from_slice(needles);
        let err = refused(&m, &root, &all);
        assert!(!err.contains("org.example\nx"), "{err}");
    }
    // A base image's own settings follow the same rules.
    let settings: &[(&str, &str)] = &[
        (r#""Labels":{"a\nb":"v"}"#, "Labels"),
        (r#""Volumes":{"data":{}}"#, "Volumes"),
        (r#""StopSignal":"SIGTERM; rm""#, "StopSignal"),
        (r#""Env":["A\u0000B=1"]"#, "Env"),
        (r#""User":"0:0:0""#, "User"),
    ];
    for (i, (json, key)) in settings.iter().enumerate() {
        let layout = format!("settings-{i}");
        let base = root.join("bases").join(&layout);
        let digest = oci_layout(&base, &base.join("blobs"), &members, json);
        recipe(&root, &layout, &digest, "", "");
        refused(&m, &root, &[&format!("bases/{layout}"), key]);
    }
    // The same base and recipe without the bad settings build.
    recipe(
        &root,
        "ok",
        &digest,
        "user = \"app:staff\"\nlabels = { \"org.example.x\" = \"v\" }",
        "",
    );
    let out = m.build(&root);
    assert!(out.status.success(), "{}", stderr(&out));
    canary.assert_untouched();
}
