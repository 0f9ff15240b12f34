//! A persistent cache of tool resolution, so that repeated builds do not
//! re-hash a 40 MB `cargo`, re-run `--version` and re-ask rustup.
//!
//! Two kinds of entries live in the cache directory (the engine uses
//! `tools/` in the per-user state directory beside the store key,
//! `$XDG_STATE_HOME/kiln/tools/`, created 0700, so that nothing that came
//! with a checkout can answer for a tool), one small JSON file each, written atomically
//! (temporary file in the same directory, then rename):
//!
//! - `id-<key>.json`, a binary's **identity** (`sha256`, `version`). The key
//!   is the sha256 of the resolved real binary's canonical path, device,
//!   inode, size, mtime and ctime (nanoseconds). Replacing, rewriting,
//!   `touch`ing or `chmod`ing the binary changes its inode, mtime or ctime,
//!   so a changed binary never reuses a stale identity.
//! - `which-<key>.json`, what `rustup which <tool>` answered. The key covers
//!   everything rustup's toolchain selection reads: the tool name, the proxy
//!   (canonical path and metadata), the directory (as given and canonical),
//!   the contents of every `rust-toolchain` / `rust-toolchain.toml` in it and
//!   its ancestors, the `RUSTUP_*`, `HOME` and `CARGO_HOME` variables, the
//!   contents of `$RUSTUP_HOME/settings.toml` and `/etc/rustup/settings.toml`
//!   and the metadata of `$RUSTUP_HOME/toolchains`. An entry is only used if
//!   its answer still canonicalises to the same binary with the same
//!   metadata (a toolchain updated in place is asked again).
//!
//! Racy timestamps: a file changed twice within the filesystem's timestamp
//! granularity keeps its mtime and ctime. So an entry is written only when
//! every file whose metadata is part of its key was last changed at least
//! [`RACY_NS`] before the clock at resolution time, and when the key
//! computed after the work equals the one computed before. A freshly
//! installed binary is therefore hashed on every build for two seconds.
//!
//! - `elf-<key>.json`, the binary's ELF **closure** (see `elf`), keyed like
//!   its identity and used only while every library of it and every
//!   directory searched for them (and `/etc/ld.so.cache`) keeps its stamp:
//!   a library replaced, or a new one shadowing it, is noticed. The
//!   identity entry is used only while the closure entry is (`--version`
//!   runs with the closure).
//! - `tree-<key>.json`, a **tree digest** (a Python stdlib, a venv's
//!   site-packages; see `interp`), keyed by the stamps of every entry of
//!   the tree.
//!
//! The cache is an optimisation only: an unreadable, malformed or
//! mismatching entry is a miss, and failing to write one is ignored (the
//! resolution itself is still exact).

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// Bumped whenever what an entry means changes (e.g. how `--version` runs).
const FORMAT: &[u8] = b"kiln-tool-cache-v2";

/// Files changed less than this long ago are not trusted as cache keys.
pub(super) const RACY_NS: i128 = 2_000_000_000;

/// The metadata of a file that identifies one version of its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl FileStamp {
    /// The stamp of `path` (following symlinks), if it can be read.
    pub(super) fn of(path: &Path) -> Option<FileStamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        })
    }

    /// Whether the file changed so recently (or in the future) that a
    /// further change might not move its timestamps.
    pub(super) fn is_racy(&self, now_ns: i128) -> bool {
        self.mtime_ns.max(self.ctime_ns) > now_ns - RACY_NS
    }

    fn feed(&self, k: &mut KeyHasher) {
        k.u64(self.dev);
        k.u64(self.ino);
        k.u64(self.size);
        k.bytes(&self.mtime_ns.to_le_bytes());
        k.bytes(&self.ctime_ns.to_le_bytes());
    }
}

/// The wall clock in nanoseconds since the epoch. It only judges whether
/// file timestamps are old enough to key a cache entry; it never reaches a
/// derivation or an output.
#[allow(clippy::disallowed_methods)]
pub(super) fn now_ns() -> i128 {
    match SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// An unambiguous (length-prefixed) byte serialisation, hashed.
struct KeyHasher(Sha256);

impl KeyHasher {
    fn new(kind: &[u8]) -> Self {
        let mut k = KeyHasher(Sha256::new());
        k.bytes(FORMAT);
        k.bytes(kind);
        k
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
    }
    fn u64(&mut self, v: u64) {
        self.0.update(v.to_le_bytes());
    }
    fn tag(&mut self, t: u8) {
        self.0.update([t]);
    }
    fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

use crate::hash::hex;

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A cache directory (nothing is created until the first write).
#[derive(Debug, Clone, Copy)]
pub(super) struct ToolCache<'a> {
    dir: &'a Path,
}

/// A cached identity.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct IdentityEntry {
    key: String,
    path: String,
    sha256: String,
    version: String,
    /// Whether `--version` exited successfully.
    version_ok: bool,
}

/// One library of a cached closure, with the stamp it was hashed under.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct CachedLib {
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
    pub origin_rel: Option<PathBuf>,
    pub stamp: FileStamp,
}

/// A cached ELF closure: valid while every library and every searched
/// directory (and `/etc/ld.so.cache`) keeps its stamp.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ClosureEntry {
    key: String,
    libs: Vec<CachedLib>,
    searched: Vec<(PathBuf, Option<FileStamp>)>,
}

/// A cached tree digest (a Python stdlib, a venv's site-packages).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct TreeEntry {
    key: String,
    digest: String,
}

/// A cached `rustup which` answer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct WhichEntry {
    key: String,
    tool: String,
    /// What rustup printed (may contain symlinks, e.g. a linked toolchain).
    which: String,
    /// Its canonical form when cached, and that binary's stamp.
    real: String,
    real_stamp: FileStamp,
}

/// The key of a binary's identity, or `None` when it cannot be cached.
pub(super) struct IdentityKey {
    key: String,
    stamp: FileStamp,
}

impl IdentityKey {
    /// Key of the canonical binary `real` as it is now.
    pub(super) fn of(real: &Path) -> Option<IdentityKey> {
        let stamp = FileStamp::of(real)?;
        let mut k = KeyHasher::new(b"identity");
        k.bytes(real.as_os_str().as_bytes());
        stamp.feed(&mut k);
        Some(IdentityKey {
            key: k.finish(),
            stamp,
        })
    }
}

/// The key of a `rustup which` answer, or `None` when it cannot be cached.
pub(super) struct WhichKey {
    key: String,
    racy: bool,
}

impl WhichKey {
    /// Everything rustup's choice of toolchain for `tool` in `dir` depends on.
    pub(super) fn of(tool: &str, proxy: &Path, dir: &Path, now_ns: i128) -> Option<WhichKey> {
        let mut k = KeyHasher::new(b"rustup-which");
        let mut racy = false;
        k.bytes(tool.as_bytes());
        let proxy_stamp = FileStamp::of(proxy)?;
        racy |= proxy_stamp.is_racy(now_ns);
        k.bytes(proxy.as_os_str().as_bytes());
        proxy_stamp.feed(&mut k);

        // rustup walks up from its working directory (getcwd: canonical).
        // Hash both spellings' ancestors; over-keying only costs a miss.
        let abs = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(dir)
        };
        let canon = std::fs::canonicalize(&abs).ok()?;
        for base in [&abs, &canon] {
            k.bytes(base.as_os_str().as_bytes());
            for d in base.ancestors() {
                for f in ["rust-toolchain", "rust-toolchain.toml"] {
                    file_content(&mut k, &d.join(f))?;
                }
            }
        }

        // The environment rustup reads (RUSTUP_TOOLCHAIN, RUSTUP_HOME, …).
        let mut vars: Vec<(std::ffi::OsString, std::ffi::OsString)> = std::env::vars_os()
            .filter(|(n, _)| {
                let n = n.as_bytes();
                n.starts_with(b"RUSTUP_") || n == b"HOME" || n == b"CARGO_HOME"
            })
            .collect();
        vars.sort();
        k.u64(vars.len() as u64);
        for (n, v) in &vars {
            k.bytes(n.as_bytes());
            k.bytes(v.as_bytes());
        }

        // Settings: default toolchain, directory overrides, host triple.
        let home = rustup_home()?;
        k.bytes(home.as_os_str().as_bytes());
        file_content(&mut k, &home.join("settings.toml"))?;
        file_content(&mut k, Path::new("/etc/rustup/settings.toml"))?;
        match FileStamp::of(&home.join("toolchains")) {
            Some(s) => {
                racy |= s.is_racy(now_ns);
                k.tag(1);
                s.feed(&mut k);
            }
            None => k.tag(0),
        }
        Some(WhichKey {
            key: k.finish(),
            racy,
        })
    }
}

/// Feed whether `path` exists and, if so, its content; `None` if it exists
/// but cannot be read (then nothing is cached).
fn file_content(k: &mut KeyHasher, path: &Path) -> Option<()> {
    k.bytes(path.as_os_str().as_bytes());
    match std::fs::read(path) {
        Ok(b) => {
            k.tag(1);
            k.bytes(&b);
            Some(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            k.tag(0);
            Some(())
        }
        Err(_) => None,
    }
}

/// rustup's home: `$RUSTUP_HOME`, else `$HOME/.rustup`.
fn rustup_home() -> Option<PathBuf> {
    match std::env::var_os("RUSTUP_HOME") {
        Some(h) if !h.is_empty() => Some(PathBuf::from(h)),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".rustup")),
    }
}

impl<'a> ToolCache<'a> {
    pub(super) fn new(dir: &'a Path) -> Self {
        ToolCache { dir }
    }

    fn entry_path(&self, prefix: &str, key: &str) -> PathBuf {
        self.dir.join(format!("{prefix}-{key}.json"))
    }

    fn read<T: serde::de::DeserializeOwned>(&self, prefix: &str, key: &str) -> Option<T> {
        let bytes = std::fs::read(self.entry_path(prefix, key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Best effort: a cache that cannot be written is only slower.
    fn write<T: serde::Serialize>(&self, prefix: &str, key: &str, entry: &T) {
        let Ok(bytes) = serde_json::to_vec(entry) else {
            return;
        };
        // Private, like the store key beside it (`store::trust`).
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(self.dir);
        let Ok(mut f) = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(self.dir)
        else {
            return;
        };
        if f.write_all(&bytes).is_ok() {
            let _ = f.persist(self.entry_path(prefix, key));
        }
    }

    /// The cached `(sha256, version, version_ok)` of `real`, if `key`
    /// still describes it.
    pub(super) fn identity(
        &self,
        real: &Path,
        key: &IdentityKey,
    ) -> Option<(String, String, bool)> {
        let e: IdentityEntry = self.read("id", &key.key)?;
        (e.key == key.key && Path::new(&e.path) == real && is_sha256_hex(&e.sha256)).then_some((
            e.sha256,
            e.version,
            e.version_ok,
        ))
    }

    /// The cached closure of `real` (keyed like its identity), if no library
    /// and no searched directory changed since.
    pub(super) fn closure(&self, key: &IdentityKey) -> Option<Vec<CachedLib>> {
        let e: ClosureEntry = self.read("elf", &key.key)?;
        let libs_same = e
            .libs
            .iter()
            .all(|l| is_sha256_hex(&l.sha256) && FileStamp::of(&l.path) == Some(l.stamp));
        let dirs_same = e.searched.iter().all(|(p, s)| FileStamp::of(p) == *s);
        (e.key == key.key && libs_same && dirs_same).then_some(e.libs)
    }

    /// Record a closure computed for the binary of `key`, unless a file of it
    /// changed too recently to be trusted.
    pub(super) fn store_closure(
        &self,
        key: &IdentityKey,
        now_ns: i128,
        libs: &[CachedLib],
        searched: &[PathBuf],
    ) {
        let searched: Vec<(PathBuf, Option<FileStamp>)> = searched
            .iter()
            .map(|p| (p.clone(), FileStamp::of(p)))
            .collect();
        let racy = key.stamp.is_racy(now_ns)
            || libs.iter().any(|l| l.stamp.is_racy(now_ns))
            || searched
                .iter()
                .any(|(_, s)| s.is_some_and(|s| s.is_racy(now_ns)));
        if racy {
            return;
        }
        let entry = ClosureEntry {
            key: key.key.clone(),
            libs: libs.to_vec(),
            searched,
        };
        self.write("elf", &key.key, &entry);
    }

    /// The key of a tree digest: the root and every walked entry's relative
    /// path and stamp (files, directories) or target (symlinks).
    pub(super) fn tree_key(
        &self,
        root: &Path,
        stamps: &[(PathBuf, FileStamp)],
        links: &[(PathBuf, PathBuf)],
    ) -> String {
        let mut k = KeyHasher::new(b"tree");
        k.bytes(root.as_os_str().as_bytes());
        k.u64(stamps.len() as u64);
        for (p, s) in stamps {
            k.bytes(p.as_os_str().as_bytes());
            s.feed(&mut k);
        }
        k.u64(links.len() as u64);
        for (p, t) in links {
            k.bytes(p.as_os_str().as_bytes());
            k.bytes(t.as_os_str().as_bytes());
        }
        k.finish()
    }

    /// A cached tree digest.
    pub(super) fn tree(&self, key: &str) -> Option<String> {
        let e: TreeEntry = self.read("tree", key)?;
        (e.key == key && is_sha256_hex(&e.digest)).then_some(e.digest)
    }

    /// Record a tree digest (the caller checked the tree did not change).
    pub(super) fn store_tree(&self, key: &str, digest: &str) {
        let entry = TreeEntry {
            key: key.to_string(),
            digest: digest.to_string(),
        };
        self.write("tree", key, &entry);
    }

    /// Record the identity computed for `real`, if the binary was not changed
    /// while it was computed and its timestamps are old enough to be trusted.
    pub(super) fn store_identity(
        &self,
        real: &Path,
        before: &IdentityKey,
        now_ns: i128,
        sha256: &str,
        version: &str,
        version_ok: bool,
    ) {
        let after = FileStamp::of(real);
        if after != Some(before.stamp) || before.stamp.is_racy(now_ns) {
            return;
        }
        let Some(path) = real.to_str() else { return };
        self.write(
            "id",
            &before.key,
            &IdentityEntry {
                key: before.key.clone(),
                path: path.to_string(),
                sha256: sha256.to_string(),
                version: version.to_string(),
                version_ok,
            },
        );
    }

    /// The cached answer of `rustup which` (as printed) and its canonical
    /// binary, if the key matches and the binary is still the same file.
    pub(super) fn which(&self, tool: &str, key: &WhichKey) -> Option<(PathBuf, PathBuf)> {
        let e: WhichEntry = self.read("which", &key.key)?;
        if e.key != key.key || e.tool != tool {
            return None;
        }
        let which = PathBuf::from(&e.which);
        let real = std::fs::canonicalize(&which).ok()?;
        (real == Path::new(&e.real) && FileStamp::of(&real) == Some(e.real_stamp))
            .then_some((which, real))
    }

    /// Record a `rustup which` answer computed under `before` (a key taken
    /// before running rustup) if nothing changed meanwhile (`after`).
    pub(super) fn store_which(
        &self,
        tool: &str,
        before: &WhichKey,
        after: Option<&WhichKey>,
        now_ns: i128,
        which: &Path,
        real: &Path,
    ) {
        if before.racy || after.map(|a| &a.key) != Some(&before.key) {
            return;
        }
        let Some(real_stamp) = FileStamp::of(real) else {
            return;
        };
        if real_stamp.is_racy(now_ns) {
            return;
        }
        let (Some(w), Some(r)) = (which.to_str(), real.to_str()) else {
            return;
        };
        self.write(
            "which",
            &before.key,
            &WhichEntry {
                key: before.key.clone(),
                tool: tool.to_string(),
                which: w.to_string(),
                real: r.to_string(),
                real_stamp,
            },
        );
    }
}
