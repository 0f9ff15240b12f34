//! A cache is hostile input: every altered, truncated, unsigned or wrongly
//! signed entry is refused by `kiln cache pull` (exit 1, naming it) and
//! nothing of it enters the store. Realisations round-trip through a
//! directory cache and are refused when they point at a missing path.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::cache::{kiln_store, ok};
use common::{kiln, run, write};
use kiln::store::Store;

struct Setup {
    tmp: tempfile::TempDir,
    cache: PathBuf,
    public: String,
    /// Base names of the pushed paths.
    a: String,
    b: String,
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let prefix = dir.join(name);
    let public = ok(&run(kiln()
        .args(["cache", "keygen", name, "--out"])
        .arg(&prefix)));
    (dir.join(format!("{name}.secret")), public)
}

/// Two paths pushed, signed, to a directory cache with `compression`.
fn setup(compression: &str) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store-a");
    write(&tmp.path().join("a/x.txt"), vec![b'x'; 100_000]);
    write(&tmp.path().join("a/y/z.txt"), "z\n");
    write(&tmp.path().join("b.txt"), "b\n");
    let add = |p: &str| {
        let out = ok(&run(
            kiln_store(&store, &["store", "add"]).arg(tmp.path().join(p))
        ));
        out.rsplit('/').next().unwrap().to_string()
    };
    let (a, b) = (add("a"), add("b.txt"));
    let (secret, public) = keygen(tmp.path(), "good-1");
    let cache = tmp.path().join("cache");
    let url = format!("file://{}", cache.display());
    ok(&run(kiln_store(
        &store,
        &[
            "cache",
            "push",
            &url,
            "--path",
            &a,
            "--path",
            &b,
            "--compression",
            compression,
        ],
    )
    .arg("--signing-key")
    .arg(&secret)));
    Setup {
        tmp,
        cache,
        public,
        a,
        b,
    }
}

impl Setup {
    fn url(&self) -> String {
        format!("file://{}", self.cache.display())
    }
    fn narinfo(&self, base: &str) -> PathBuf {
        self.cache.join(format!("{}.narinfo", &base[..32]))
    }
    fn nar_file(&self, base: &str) -> PathBuf {
        let text = std::fs::read_to_string(self.narinfo(base)).unwrap();
        let url = text.lines().find_map(|l| l.strip_prefix("URL: ")).unwrap();
        self.cache.join(url)
    }
    fn edit_narinfo(&self, base: &str, f: impl Fn(&str) -> Option<String>) {
        let p = self.narinfo(base);
        let text = std::fs::read_to_string(&p).unwrap();
        let out: String = text
            .lines()
            .filter_map(|l| f(l).map(|l| l + "\n"))
            .collect();
        std::fs::write(p, out).unwrap();
    }
    /// Rewrite FileHash/FileSize to describe the NAR file as it is now (an
    /// attacker can: neither is signed).
    fn refresh_file_fields(&self, base: &str) {
        let bytes = std::fs::read(self.nar_file(base)).unwrap();
        let hash = kiln::hash::Sha256::digest(&bytes).to_string();
        let size = bytes.len();
        self.edit_narinfo(base, |l| {
            Some(if l.starts_with("FileHash: ") {
                format!("FileHash: {hash}")
            } else if l.starts_with("FileSize: ") {
                format!("FileSize: {size}")
            } else {
                l.to_string()
            })
        });
    }
    /// Pull `base` into a fresh store with `extra` flags; returns the output
    /// and the store.
    fn pull(&self, base: &str, extra: &[&str]) -> (Output, PathBuf) {
        let store = tempfile::tempdir_in(self.tmp.path()).unwrap().keep();
        let url = self.url();
        let mut args = vec!["cache", "pull", url.as_str(), "--path", base];
        args.extend_from_slice(extra);
        (run(&mut kiln_store(&store, &args)), store)
    }
    fn pull_trusted(&self, base: &str) -> (Output, PathBuf) {
        let public = self.public.clone();
        self.pull(base, &["--trusted-key", &public])
    }
}

/// Exit 1, the path and `needle` named on stderr, nothing in the store.
fn refused(out: &Output, store: &Path, base: &str, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains(base), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!store.join(base).exists(), "{base} entered the store");
    let valid: Vec<_> = std::fs::read_dir(store.join(".kiln/valid"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(valid.is_empty(), "something was registered: {valid:?}");
}

#[test]
fn an_intact_signed_entry_is_pulled_and_verifies() {
    for comp in ["zstd", "xz", "none"] {
        let s = setup(comp);
        let (out, store) = s.pull_trusted(&s.a);
        assert_eq!(ok(&out), format!("pulled /nix/store/{}", s.a));
        ok(&run(&mut kiln_store(&store, &["store", "verify"])));
        // Pulling again is a no-op.
        let again = run(&mut kiln_store(
            &store,
            &[
                "cache",
                "pull",
                &s.url(),
                "--path",
                &s.a,
                "--trusted-key",
                &s.public,
            ],
        ));
        assert_eq!(ok(&again), format!("present /nix/store/{}", s.a));
    }
}

#[test]
fn truncated_nar_files_are_refused() {
    let s = setup("zstd");
    let nar = s.nar_file(&s.a);
    let bytes = std::fs::read(&nar).unwrap();
    std::fs::write(&nar, &bytes[..bytes.len() / 2]).unwrap();
    let (out, store) = s.pull_trusted(&s.a);
    refused(&out, &store, &s.a, "bytes, its narinfo says");

    // The same with FileSize and FileHash rewritten to match: the NAR itself
    // does not unpack.
    s.refresh_file_fields(&s.a);
    let (out, store) = s.pull_trusted(&s.a);
    refused(&out, &store, &s.a, "refused");

    // Uncompressed and cut inside the archive.
    let s = setup("none");
    let nar = s.nar_file(&s.a);
    let bytes = std::fs::read(&nar).unwrap();
    std::fs::write(&nar, &bytes[..bytes.len() - 200]).unwrap();
    s.refresh_file_fields(&s.a);
    let (out, store) = s.pull_trusted(&s.a);
    refused(&out, &store, &s.a, "does not unpack");
}

#[test]
fn a_flipped_byte_is_refused() {
    let s = setup("none");
    let nar = s.nar_file(&s.a);
    let mut bytes = std::fs::read(&nar).unwrap();
    let i = bytes.len() / 2; // inside x.txt's contents
    bytes[i] ^= 1;
    std::fs::write(&nar, &bytes).unwrap();
    let (out, store) = s.pull_trusted(&s.a);
    refused(&out, &store, &s.a, "has hash");
    // FileHash rewritten too: the NAR hash no longer matches.
    s.refresh_file_fields(&s.a);
    let (out, store) = s.pull_trusted(&s.a);
    refused(&out, &store, &s.a, "its narinfo says");
}

#[test]
fn unsigned_wrongly_signed_and_untrusted_entries_are_refused() {
    let s = setup("zstd");
    // A key nobody trusts.
    let (_, stranger) = keygen(s.tmp.path(), "stranger-1");
    let (out, store) = s.pull(&s.a, &["--trusted-key", &stranger]);
    refused(&out, &store, &s.a, "signed by good-1");

    // Signed by another key under the trusted key's name.
    std::fs::create_dir(s.tmp.path().join("imp")).unwrap();
    let (impostor, _) = keygen(&s.tmp.path().join("imp"), "good-1");
    let info = std::fs::read_to_string(s.narinfo(&s.a)).unwrap();
    let mut parsed = kiln::cache::narinfo::NarInfo::parse(&info).unwrap();
    parsed.sigs.clear();
    parsed.sign(&kiln::cache::keys::read_secret_key(&impostor).unwrap());
    std::fs::write(s.narinfo(&s.a), parsed.render()).unwrap();
    let (out, store) = s.pull_trusted(&s.a);
    refused(&out, &store, &s.a, "not signed by a trusted key");

    // No signature at all: refused, unless explicitly trusted.
    s.edit_narinfo(&s.a, |l| (!l.starts_with("Sig: ")).then(|| l.to_string()));
    let (out, store) = s.pull_trusted(&s.a);
    refused(&out, &store, &s.a, "it has no signature");
    let (out, _) = s.pull(&s.a, &["--trust-unsigned"]);
    ok(&out);

    // A signed field altered (NarSize): the signature breaks.
    let s = setup("none");
    s.edit_narinfo(&s.a, |l| {
        Some(if let Some(n) = l.strip_prefix("NarSize: ") {
            format!("NarSize: {}", n.parse::<u64>().unwrap() - 8)
        } else {
            l.to_string()
        })
    });
    let (out, store) = s.pull_trusted(&s.a);
    refused(&out, &store, &s.a, "not signed by a trusted key");
    // ... and even trusted unsigned, no more than the declared size is
    // read: a FileSize over it is refused before the download, and without
    // FileSize the NAR is cut at the declared size.
    let (out, store) = s.pull(&s.a, &["--trust-unsigned"]);
    refused(&out, &store, &s.a, "can be stored in");
    s.edit_narinfo(&s.a, |l| {
        (!l.starts_with("FileSize: ") && !l.starts_with("FileHash: ")).then(|| l.to_string())
    });
    let (out, store) = s.pull(&s.a, &["--trust-unsigned"]);
    refused(&out, &store, &s.a, "larger than its narinfo allows");
}

#[test]
fn a_narinfo_for_another_path_is_refused() {
    let s = setup("zstd");
    std::fs::copy(s.narinfo(&s.a), s.narinfo(&s.b)).unwrap();
    let (out, store) = s.pull_trusted(&s.b);
    refused(&out, &store, &s.b, "describes another path");
}

#[test]
fn no_trusted_key_is_bad_input() {
    let s = setup("zstd");
    let (out, _) = s.pull(&s.a, &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trusted-key"));
}

/// A store with one registered build output for derivation `drv`.
fn built_store(dir: &Path, drv: &str) -> (PathBuf, String) {
    let root = dir.join("store-built");
    let store = Store::open(&root).unwrap();
    let stage = store.staging().unwrap();
    let out = stage.path().join("out.tar");
    write(&out, format!("artifact of {drv}\n"));
    let meta = common::meta("demo", &["out.tar"]);
    let r = store
        .register_output(drv, b"{\"surface\":\"demo\"}", &out, "out.tar", meta)
        .unwrap();
    (root, r.store_path.to_string())
}

#[test]
fn realisations_round_trip_and_a_dangling_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (built, out_base) = built_store(tmp.path(), "drv0demo");
    let (secret, public) = keygen(tmp.path(), "good-1");
    let cache = tmp.path().join("cache");
    let url = format!("file://{}", cache.display());
    let pushed = ok(&run(kiln_store(
        &built,
        &["cache", "push", &url, "--drv", "drv0demo"],
    )
    .arg("--signing-key")
    .arg(&secret)));
    assert_eq!(
        pushed,
        format!("pushed /nix/store/{out_base}\npushed realisation drv0demo")
    );
    assert!(cache.join("realisations/drv0demo.json").is_file());

    let fresh = tmp.path().join("fresh");
    let out = ok(&run(&mut kiln_store(
        &fresh,
        &[
            "cache",
            "pull",
            &url,
            "--drv",
            "drv0demo",
            "--trusted-key",
            &public,
        ],
    )));
    assert_eq!(out, "pulled realisation drv0demo");
    let store = Store::open(&fresh).unwrap();
    let got = store.realisation("drv0demo").unwrap().unwrap();
    let want = Store::open(&built)
        .unwrap()
        .realisation("drv0demo")
        .unwrap()
        .unwrap();
    assert_eq!(
        (&got.store_path, &got.nar_hash, got.nar_size, &got.meta),
        (&want.store_path, &want.nar_hash, want.nar_size, &want.meta)
    );
    // The store records who vouched for it.
    assert_eq!(want.origin, kiln::store::Origin::Built);
    assert_eq!(
        got.origin,
        kiln::store::Origin::Signed {
            key: "good-1".into()
        }
    );
    drop(store);

    // The realisation's meta altered: its signature breaks.
    let rec = cache.join("realisations/drv0demo.json");
    let original = std::fs::read_to_string(&rec).unwrap();
    std::fs::write(&rec, original.replace("\"demo\"", "\"evil\"")).unwrap();
    let other = tmp.path().join("other");
    let o = run(&mut kiln_store(
        &other,
        &[
            "cache",
            "pull",
            &url,
            "--drv",
            "drv0demo",
            "--trusted-key",
            &public,
        ],
    ));
    refused(&o, &other, "drv0demo", "not signed by a trusted key");

    // Intact record, output missing from the cache.
    std::fs::write(&rec, &original).unwrap();
    std::fs::remove_file(cache.join(format!("{}.narinfo", &out_base[..32]))).unwrap();
    let o = run(&mut kiln_store(
        &other,
        &[
            "cache",
            "pull",
            &url,
            "--drv",
            "drv0demo",
            "--trusted-key",
            &public,
        ],
    ));
    refused(&o, &other, "drv0demo", "which the cache does not have");
    assert!(!other.join(".kiln/realisations/drv0demo.json").exists());
}
