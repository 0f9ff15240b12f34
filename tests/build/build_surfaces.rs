//! Surfaces through `kiln build`: bundles accepted by tar/zip readers with
//! the intended entries, modes and times; npm metadata in `--json`; crates
//! named per the stamped version; directory (non-git) projects; bad input
//! in surface configuration exits 2 and registers nothing.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::fixture::{git, monorepo, tree_digest};
use common::{cmd, kiln, require_tool, run, run_ok, write};

fn kiln_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut c = kiln();
    c.arg("-C").arg(root).arg("--store").arg(store).args(args);
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

fn build_json(root: &Path, store: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["build", "--json"];
    a.extend_from_slice(args);
    let out = run_ok(&mut kiln_in(root, store, &a));
    serde_json::from_str(&out).expect("json")
}

fn artifact<'a>(v: &'a serde_json::Value, recipe: &str) -> &'a serde_json::Value {
    let r = v["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == recipe)
        .unwrap_or_else(|| panic!("no recipe {recipe} in {v}"));
    &r["artifacts"][0]
}

const PY_LIST_TAR: &str = r#"
import sys, tarfile, json
with tarfile.open(sys.argv[1]) as t:
    print(json.dumps([[m.name, m.mode, m.mtime, m.uid, m.gid, m.uname, m.gname, m.type.decode()] for m in t.getmembers()]))
"#;

const PY_LIST_ZIP: &str = r#"
import sys, zipfile, json
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    print(json.dumps([[i.filename, i.external_attr >> 16, list(i.date_time), i.compress_type, len(i.extra)] for i in z.infolist()]))
"#;

#[test]
fn bundles_are_read_by_python_tar_and_unzip_with_the_intended_metadata() {
    if !require_tool("python3") || !require_tool("unzip") {
        return;
    }
    let (tmp, root) = monorepo();
    // an executable, a symlink and a zstd variant
    write(&root.join("docs/tools/run.sh"), "#!/bin/sh\necho run\n");
    run(cmd("chmod")
        .args(["+x"])
        .arg(root.join("docs/tools/run.sh")));
    std::os::unix::fs::symlink("index.md", root.join("docs/latest.md")).unwrap();
    write(
        &root.join("recipes/docs-zst.toml"),
        "surface = \"tarball\"\nsource = \"docs\"\nprefix = \"d/\"\noutput = \"docs-{version}.tar.zst\"\n[tarball]\ncompression = \"zstd\"\n",
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "more docs"]);
    let sde: i64 = git(&root, &["log", "-1", "--format=%ct"]).parse().unwrap();
    let store = tmp.path().join("store");
    let v = build_json(
        &root,
        &store,
        &["--version", "1.2.3", "docs-bundle", "docs-zip", "docs-zst"],
    );

    let tgz = root
        .join("dist")
        .join(artifact(&v, "docs-bundle")["file"].as_str().unwrap());
    assert_eq!(tgz.file_name().unwrap(), "mini-docs-1.2.3.tar.gz");
    let listing = run_ok(cmd("python3").args(["-c", PY_LIST_TAR]).arg(&tgz));
    let entries: Vec<serde_json::Value> = serde_json::from_str(&listing).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e[0].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "mini-docs-1.2.3/guide/start.md",
            "mini-docs-1.2.3/index.md",
            "mini-docs-1.2.3/latest.md",
            "mini-docs-1.2.3/tools/run.sh"
        ]
    );
    for e in &entries {
        assert_eq!(
            e[2].as_i64().unwrap(),
            sde,
            "mtime is SOURCE_DATE_EPOCH: {e}"
        );
        assert_eq!((e[3].as_i64(), e[4].as_i64()), (Some(0), Some(0)), "{e}");
        assert_eq!((e[5].as_str(), e[6].as_str()), (Some(""), Some("")), "{e}");
    }
    let mode = |n: &str| {
        entries
            .iter()
            .find(|e| e[0].as_str().unwrap().ends_with(n))
            .unwrap()[1]
            .as_i64()
            .unwrap()
    };
    assert_eq!(mode("index.md"), 0o644);
    assert_eq!(mode("run.sh"), 0o755);
    let ty = |n: &str| {
        entries
            .iter()
            .find(|e| e[0].as_str().unwrap().ends_with(n))
            .unwrap()[7]
            .clone()
    };
    assert_eq!(ty("latest.md"), "2", "a symlink stays a symlink");
    // GNU tar agrees
    let gnu = run_ok(cmd("tar").arg("-tvzf").arg(&tgz));
    assert!(gnu.contains("latest.md -> index.md"), "{gnu}");

    let zip = root
        .join("dist")
        .join(artifact(&v, "docs-zip")["file"].as_str().unwrap());
    run_ok(cmd("unzip").arg("-t").arg(&zip));
    let listing = run_ok(cmd("python3").args(["-c", PY_LIST_ZIP]).arg(&zip));
    let entries: Vec<serde_json::Value> = serde_json::from_str(&listing).unwrap();
    let date = run_ok(
        cmd("date")
            .args(["-u", "-d"])
            .arg(format!("@{sde}"))
            .arg("+%Y %-m %-d %-H %-M %-S"),
    );
    let want: Vec<i64> = date.split(' ').map(|x| x.parse().unwrap()).collect();
    for e in &entries {
        let got: Vec<i64> = e[2]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        assert_eq!(
            &got[..5],
            &want[..5],
            "zip time is SOURCE_DATE_EPOCH in UTC: {e}"
        );
        assert_eq!(got[5], want[5] / 2 * 2, "2-second DOS resolution: {e}");
        assert_eq!(e[4].as_i64(), Some(0), "no extra fields: {e}");
    }
    let zmode = |n: &str| {
        entries
            .iter()
            .find(|e| e[0].as_str().unwrap().ends_with(n))
            .unwrap()[1]
            .as_i64()
            .unwrap()
    };
    assert_eq!(zmode("index.md"), 0o100644);
    assert_eq!(zmode("run.sh"), 0o100755);

    if require_tool("zstd") {
        let zst = root
            .join("dist")
            .join(artifact(&v, "docs-zst")["file"].as_str().unwrap());
        let out = run_ok(
            cmd("sh")
                .arg("-c")
                .arg(format!("zstd -dc '{}' | tar -tvf -", zst.display())),
        );
        assert!(out.contains("d/guide/start.md"), "{out}");
    }
}

#[test]
fn npm_artifacts_carry_integrity_and_the_dist_tag() {
    let (tmp, root) = monorepo();
    let store = tmp.path().join("store");
    // a prerelease (the fixture's 0.3.0-rc.1 plus the dev suffix) goes to `next`
    let v = build_json(&root, &store, &["mini-npm"]);
    let a = artifact(&v, "mini-npm");
    assert_eq!(a["dist_tag"], "next", "{a}");
    assert!(
        a["integrity"].as_str().unwrap().starts_with("sha512-"),
        "{a}"
    );
    let file = a["file"].as_str().unwrap();
    assert!(
        file.starts_with("mini-flow-0.3.0-rc.1-") && file.ends_with(".tgz"),
        "{file}"
    );
    // the integrity is the tarball's sha512
    let bytes = std::fs::read(root.join("dist").join(file)).unwrap();
    let sri = run_ok(
        cmd("python3")
            .args(["-c", "import sys,hashlib,base64;print('sha512-'+base64.b64encode(hashlib.sha512(open(sys.argv[1],'rb').read()).digest()).decode())"])
            .arg(root.join("dist").join(file)),
    );
    assert_eq!(a["integrity"].as_str().unwrap(), sri);
    assert!(!bytes.is_empty());
    // the stamped package.json is the one inside
    let pj = run_ok(
        cmd("tar")
            .arg("-xzOf")
            .arg(root.join("dist").join(file))
            .arg("package/package.json"),
    );
    let pj: serde_json::Value = serde_json::from_str(&pj).unwrap();
    assert_eq!(
        format!("mini-flow-{}.tgz", pj["version"].as_str().unwrap()),
        file
    );

    // a stable release goes to `latest`
    let v = build_json(&root, &store, &["--version", "1.0.0", "mini-npm"]);
    assert_eq!(artifact(&v, "mini-npm")["dist_tag"], "latest");
}

#[test]
fn a_directory_project_builds_honouring_gitignore() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("plain");
    write(
        &root.join("recipes/site.toml"),
        "surface = \"tarball\"\nsource = \"site\"\n",
    );
    write(
        &root.join("recipes/release.toml"),
        "[version]\nsource = \"file:VERSION\"\n",
    );
    write(&root.join("VERSION"), "2.0.0\n");
    write(&root.join("site/index.html"), "<p>hi</p>\n");
    write(&root.join("site/secret.log"), "ignored\n");
    write(&root.join(".gitignore"), "*.log\n");
    let store = tmp.path().join("store");
    let v = build_json(&root, &store, &[]);
    let file = artifact(&v, "site")["file"].as_str().unwrap().to_string();
    assert_eq!(file, "site-2.0.0.tar.gz");
    let list = run_ok(cmd("tar").arg("-tzf").arg(root.join("dist").join(&file)));
    assert_eq!(list, "index.html");
    // no commit time: 1980-01-01, unless SOURCE_DATE_EPOCH says otherwise
    let verbose = run_ok(
        cmd("tar")
            .arg("--utc")
            .arg("-tvzf")
            .arg(root.join("dist").join(&file)),
    );
    assert!(verbose.contains("1980-01-01"), "{verbose}");
    let out =
        run(kiln_in(&root, &store, &["build", "--json"]).env("SOURCE_DATE_EPOCH", "nonsense"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SOURCE_DATE_EPOCH=\"nonsense\""));
}

#[test]
fn bad_surface_input_exits_2_and_registers_nothing() {
    let (tmp, root) = monorepo();
    let store = tmp.path().join("store");
    run_ok(&mut kiln_in(&root, &store, &["build", "docs-bundle"]));
    let before = tree_digest(&store.join(".kiln/realisations"));
    let check = |root: &Path, recipe: &str, needles: &[&str]| {
        let o = run(&mut kiln_in(root, &store, &["build", recipe]));
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{recipe}: {err}");
        for n in needles {
            assert!(
                err.contains(n),
                "{recipe}: error does not mention {n:?}: {err}"
            );
        }
    };
    // package.json without a version
    let pj = std::fs::read_to_string(root.join("node/package.json")).unwrap();
    write(
        &root.join("node/package.json"),
        pj.replace("  \"version\": \"0.3.0-rc.1\",\n", ""),
    );
    git(&root, &["commit", "-q", "-am", "no version"]);
    check(&root, "mini-npm", &["package.json", "version"]);
    // a `files` entry that matches nothing: npm ignores it, kiln warns
    write(
        &root.join("node/package.json"),
        pj.replace("\"lib/\"", "\"lib/\",\n    \"nothing-here/\""),
    );
    git(&root, &["commit", "-q", "-am", "files"]);
    // (another store: this build succeeds and registers its output)
    let warn_store = tmp.path().join("store-warn");
    let o = run(&mut kiln_in(
        &root,
        &warn_store,
        &["build", "--json", "mini-npm"],
    ));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("nothing-here") && out.contains("package.json"),
        "the warning names the entry: {out}"
    );
    write(&root.join("node/package.json"), &pj);
    git(&root, &["commit", "-q", "-am", "restore"]);
    // a map entry that does not exist
    write(
        &root.join("recipes/bad-map.toml"),
        "surface = \"zip\"\nsource = \"docs\"\n[[map]]\nfrom = \"missing.txt\"\nto = \"x.txt\"\n",
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "bad map"]);
    check(
        &root,
        "bad-map",
        &["recipes/bad-map.toml", "map[0].from", "missing.txt"],
    );
    // an unknown host input
    write(
        &root.join("recipes/bad-host.toml"),
        "surface = \"command\"\n[command]\nargv = [\"true\"]\noutputs = [\"x\"]\nhost-inputs = [\"my-secrets\"]\n",
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "bad host"]);
    let o = run(&mut kiln_in(&root, &store, &["build", "docs-bundle"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("my-secrets"));
    git(
        &root,
        &["rm", "-q", "recipes/bad-host.toml", "recipes/bad-map.toml"],
    );
    git(&root, &["commit", "-q", "-m", "drop"]);
    // a crate the workspace does not contain
    if require_tool("bwrap") {
        let r = std::fs::read_to_string(root.join("recipes/mini-crates.toml")).unwrap();
        write(
            &root.join("recipes/mini-crates.toml"),
            r.replace("\"mini-cli\"]", "\"mini-gui\"]"),
        );
        git(&root, &["commit", "-q", "-am", "unknown crate"]);
        check(&root, "mini-crates", &["mini-gui", "not a member"]);
    }
    assert_eq!(
        tree_digest(&store.join(".kiln/realisations")),
        before,
        "bad input registered something"
    );
}

#[test]
fn a_missing_version_source_says_how_to_declare_one() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("docs-only");
    write(
        &root.join("recipes/site.toml"),
        "surface = \"tarball\"\nsource = \"site\"\n",
    );
    write(&root.join("site/index.html"), "<p>hi</p>\n");
    let store = tmp.path().join("store");
    let o = run(&mut kiln_in(&root, &store, &["build"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Cargo.toml")
            && err.contains("the default")
            && err.contains("[version] source"),
        "{err}"
    );
    assert!(!store.exists(), "bad input created the store");
    // --version is enough
    let v = build_json(&root, &store, &["--version", "0.1.0"]);
    assert_eq!(artifact(&v, "site")["file"], "site-0.1.0.tar.gz");
}

/// The npm surface packs from the snapshot view, not from a workspace copy
/// of the checkout: a committed `.npmignore` that is a symlink to a file
/// outside the checkout stays a symlink, never followed, so that file
/// cannot steer what is released. The packed files are the ones `npm pack`
/// packs from the same package without the link.
#[test]
fn an_npmignore_linked_outside_the_checkout_does_not_steer_the_packed_files() {
    if !require_tool("npm") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("proj");
    let pj = "{\n  \"name\": \"web-view\",\n  \"version\": \"1.0.0\",\n  \"bin\": {\"web\": \"bin/web.js\"}\n}\n";
    write(&root.join("web/package.json"), pj);
    write(&root.join("web/index.js"), "module.exports = 1;\n");
    write(&root.join("web/secret.js"), "module.exports = 2;\n");
    write(&root.join("web/bin/web.js"), "#!/usr/bin/env node\n");
    write(&root.join("web/lib/a.js"), "1\n");
    write(&root.join("VERSION"), "1.0.0\n");
    write(
        &root.join("recipes/web.toml"),
        "surface = \"npm\"\nsource = \"web\"\n",
    );
    write(
        &root.join("recipes/release.toml"),
        "[version]\nsource = \"file:VERSION\"\n",
    );
    let outside = tmp.path().join("outside-ignore");
    write(&outside, "secret.js\nlib/\n");
    std::os::unix::fs::symlink(&outside, root.join("web/.npmignore")).unwrap();
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "npm package"]);

    let store = tmp.path().join("store");
    let v = build_json(&root, &store, &["web"]);
    let file = artifact(&v, "web")["file"].as_str().unwrap().to_string();
    let ours = packed_files(&root.join("dist").join(&file));

    // The oracle: npm on the same files, the link left out.
    let copy = tmp.path().join("copy");
    for f in [
        "package.json",
        "index.js",
        "secret.js",
        "bin/web.js",
        "lib/a.js",
    ] {
        write(
            &copy.join(f),
            std::fs::read(root.join("web").join(f)).unwrap(),
        );
    }
    assert_eq!(
        ours,
        common::npm::dry_run_files(&copy, &tmp.path().join("npm-cache"))
    );
}

/// The files of an npm tarball, below `package/`, sorted.
fn packed_files(tgz: &Path) -> Vec<String> {
    let listed = run_ok(cmd("tar").arg("-tzf").arg(tgz));
    let mut files: Vec<String> = listed
        .lines()
        .map(|l| l.strip_prefix("package/").unwrap().to_string())
        .collect();
    files.sort();
    files
}

/// Bundled dependencies from an input mounted as `node_modules` are read
/// where the input is: the packed files are the ones `npm pack` packs with
/// that tree as `node_modules/`, and provenance names the input for them,
/// the snapshot for the rest.
#[test]
fn bundled_dependencies_from_a_node_modules_input_pack_like_npm_and_name_the_input() {
    if !(require_tool("npm") && require_tool("bwrap")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("proj");
    let pj = "{\n  \"name\": \"web-bundle\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\"dep\": \"1.0.0\"},\n  \"bundleDependencies\": [\"dep\"]\n}\n";
    let dep = [
        (
            "dep/package.json",
            "{\"name\": \"dep\", \"version\": \"1.0.0\", \"files\": [\"lib\"]}",
        ),
        ("dep/lib/x.js", "x"),
        ("dep/test/t.js", "t"),
    ];
    write(&root.join("web/package.json"), pj);
    write(&root.join("web/index.js"), "module.exports = 1;\n");
    write(&root.join("VERSION"), "1.0.0\n");
    let script: Vec<String> = dep
        .iter()
        .map(|(p, text)| {
            let dir = Path::new(p).parent().unwrap().display();
            // Braces are recipe placeholders: printf writes them from octal.
            let text = text.replace('{', "\\173").replace('}', "\\175");
            format!("mkdir -p {dir} && printf '{text}' > {p}")
        })
        .collect();
    write(
        &root.join("recipes/deps.toml"),
        format!(
            "surface = \"command\"\n[command]\nargv = [\"sh\", \"-c\", {:?}]\ntools = [\"sh\", \"mkdir\", \"printf\"]\noutputs = [\"dep\"]\n",
            script.join(" && ")
        ),
    );
    write(
        &root.join("recipes/web.toml"),
        "surface = \"npm\"\nsource = \"web\"\ninputs = { node_modules = \"deps\" }\n",
    );
    write(
        &root.join("recipes/release.toml"),
        "[version]\nsource = \"file:VERSION\"\n",
    );
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(
        &root,
        &[
            "commit",
            "-q",
            "-m",
            "npm package with a bundled dependency",
        ],
    );

    let store = tmp.path().join("store");
    let v = build_json(&root, &store, &["web"]);
    let tgz = root
        .join("dist")
        .join(artifact(&v, "web")["file"].as_str().unwrap());
    let ours = packed_files(&tgz);

    // The oracle: npm on the package with the same tree as node_modules/.
    let copy = tmp.path().join("copy");
    write(&copy.join("package.json"), pj);
    write(&copy.join("index.js"), "module.exports = 1;\n");
    for (p, text) in dep {
        write(&copy.join("node_modules").join(p), text);
    }
    assert_eq!(
        ours,
        common::npm::dry_run_files(&copy, &tmp.path().join("npm-cache"))
    );
    assert!(
        ours.contains(&"node_modules/dep/lib/x.js".to_string()),
        "{ours:?}"
    );

    let prov = run_ok(kiln_in(&root, &store, &["provenance", "--json"]).arg(&tgz));
    let prov: serde_json::Value = serde_json::from_str(&prov).unwrap();
    let entries = prov["entries"].as_array().unwrap();
    assert_eq!(entries.len(), ours.len(), "{prov}");
    for e in entries {
        let name = e["entry"].as_str().unwrap();
        if name.starts_with("package/node_modules/") {
            assert_eq!(e["from"], "input", "{e}");
            assert_eq!(e["mount"], "node_modules", "{e}");
        } else {
            assert!(e["from"] == "snapshot" || e["from"] == "stamped", "{e}");
        }
    }
}
