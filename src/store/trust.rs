//! Which store records kiln honours: those this machine's kiln wrote.
//!
//! Validity records and realisations carry a MAC (keyed BLAKE3) computed with
//! a per-user secret key that lives outside every project and store, in
//! `$XDG_STATE_HOME/kiln/store-key` (default `~/.local/state/kiln/`), created
//! on first write with mode 0600 in a 0700 directory. A record whose MAC does
//! not verify — copied from another machine or user, committed to a
//! repository, forged, written by an older kiln — is *untrusted*: lookups
//! treat it as absent and `kiln store verify` reports it.
//!
//! The MAC covers the record's canonical bytes: the record's JSON object
//! without its `mac` member, serialised compactly in the order written,
//! preceded by the record kind. Entries that arrive from elsewhere and are
//! checked by other means (a binary cache's signature) are registered through
//! the same sealing, with [`Origin::Signed`], and are then exactly as trusted
//! as an output built here.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::StoreError;

/// File name of the secret key inside the state directory.
const KEY_FILE: &str = "store-key";
/// Context string of the MAC key derivation (BLAKE3 `derive_key`).
const MAC_CONTEXT: &str = "kiln 2026-12-01 store record MAC v1";

/// Who vouches for a realisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Built on this machine by this user's kiln.
    Built,
    /// Fetched from elsewhere and accepted because the named trusted key
    /// signed it (binary caches).
    Signed { key: String },
    /// Fetched from the named binary cache without a trusted signature,
    /// because the user said so (`--trust-unsigned`).
    Unsigned { cache: String },
}

/// The kinds of sealed records; part of the MAC input, so that one kind can
/// never be passed off as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    Validity,
    Realisation,
    Provenance,
    Origins,
    Release,
    /// A tool environment's key → store path (`environments.rs`).
    Environment,
    /// One artifact uploaded to one registry (`publications.rs`).
    Publication,
}

impl RecordKind {
    fn tag(self) -> &'static [u8] {
        match self {
            RecordKind::Validity => b"validity",
            RecordKind::Realisation => b"realisation",
            RecordKind::Provenance => b"provenance",
            RecordKind::Origins => b"origins",
            RecordKind::Release => b"release",
            RecordKind::Environment => b"environment",
            RecordKind::Publication => b"publication",
        }
    }
}

/// A record read from the store, classified.
#[derive(Debug)]
pub(crate) enum Record<T> {
    Absent,
    /// Its MAC verifies with this machine's key.
    Trusted(T),
    /// Well-formed, but not written by this machine's kiln.
    Untrusted {
        reason: String,
    },
    /// Not a record of this kind at all.
    Malformed {
        error: String,
    },
}

/// Where the secret key lives: `$XDG_STATE_HOME/kiln` (when set to an absolute
/// path, as the XDG spec requires), else `$HOME/.local/state/kiln`.
pub fn default_state_dir() -> Result<PathBuf, StoreError> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| Path::new(x).is_absolute()) {
        return Ok(PathBuf::from(x).join("kiln"));
    }
    match std::env::var_os("HOME").filter(|h| Path::new(h).is_absolute()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/kiln")),
        None => Err(StoreError::NoStateDir),
    }
}

/// The secret, derived into the key the MACs use.
#[derive(Clone)]
pub(crate) struct MacKey([u8; 32]);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

impl MacKey {
    fn from_secret(secret: &[u8; 32]) -> MacKey {
        MacKey(blake3::derive_key(MAC_CONTEXT, secret))
    }

    fn mac(&self, kind: RecordKind, canonical: &[u8]) -> blake3::Hash {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(b"kiln store record\0");
        h.update(kind.tag());
        h.update(b"\0");
        h.update(canonical);
        h.finalize()
    }

    /// `record` as the JSON bytes to store, with its `mac` member last.
    pub(crate) fn seal<T: Serialize>(&self, kind: RecordKind, record: &T) -> Vec<u8> {
        let bytes = serde_json::to_vec(record).expect("records serialise");
        // Re-read so that the MAC covers exactly what a reader will parse.
        let mut v: Value = serde_json::from_slice(&bytes).expect("records re-read");
        let mac = self.mac(kind, &serde_json::to_vec(&v).expect("values serialise"));
        if let Value::Object(m) = &mut v {
            m.insert(
                "mac".into(),
                Value::String(format!("blake3:{}", mac.to_hex())),
            );
        }
        let mut out = serde_json::to_vec_pretty(&v).expect("values serialise");
        out.push(b'\n');
        out
    }

    /// `bytes` (kept verbatim, e.g. a provenance statement that is shipped
    /// as is) behind a first line `kiln-sealed blake3:<hex>` whose MAC also
    /// covers `context` (the name the blob is filed under).
    pub(crate) fn seal_blob(&self, kind: RecordKind, context: &[u8], bytes: &[u8]) -> Vec<u8> {
        let mac = self.mac(kind, &blob_input(context, bytes));
        let mut out = format!("{BLOB_HEADER}{}\n", mac.to_hex()).into_bytes();
        out.extend_from_slice(bytes);
        out
    }

    /// Whether `bytes` (a whole record file) carries this key's MAC.
    fn verifies(&self, kind: RecordKind, mut v: Value) -> Result<(), String> {
        let Value::Object(m) = &mut v else {
            return Err("not a JSON object".into());
        };
        let Some(Value::String(mac)) = m.shift_remove("mac") else {
            return Err("it carries no MAC".into());
        };
        let want = mac
            .strip_prefix("blake3:")
            .and_then(|h| blake3::Hash::from_hex(h).ok())
            .ok_or_else(|| format!("unreadable MAC {mac:?}"))?;
        let got = self.mac(kind, &serde_json::to_vec(&v).expect("values serialise"));
        // `blake3::Hash` compares in constant time.
        if got == want {
            Ok(())
        } else {
            Err("its MAC does not match this machine's key".into())
        }
    }
}

const BLOB_HEADER: &str = "kiln-sealed blake3:";

fn blob_input(context: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut v = (context.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(context);
    v.extend_from_slice(bytes);
    v
}

/// Classify a file written by [`MacKey::seal_blob`]; a trusted one yields
/// the blob.
pub(crate) fn open_blob(
    key: Option<&MacKey>,
    kind: RecordKind,
    context: &[u8],
    file: &[u8],
) -> Record<Vec<u8>> {
    let Some(rest) = file.strip_prefix(BLOB_HEADER.as_bytes()) else {
        return Record::Untrusted {
            reason: "it carries no MAC".into(),
        };
    };
    let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
        return Record::Malformed {
            error: "truncated MAC line".into(),
        };
    };
    let (hex, blob) = (&rest[..nl], &rest[nl + 1..]);
    let Some(want) = std::str::from_utf8(hex)
        .ok()
        .and_then(|h| blake3::Hash::from_hex(h).ok())
    else {
        return Record::Malformed {
            error: "unreadable MAC line".into(),
        };
    };
    let Some(key) = key else {
        return Record::Untrusted {
            reason: "this machine has no store key yet".into(),
        };
    };
    if key.mac(kind, &blob_input(context, blob)) == want {
        Record::Trusted(blob.to_vec())
    } else {
        Record::Untrusted {
            reason: "its MAC does not match this machine's key".into(),
        }
    }
}

/// Classify the bytes of a record file.
pub(crate) fn open<T: DeserializeOwned>(
    key: Option<&MacKey>,
    kind: RecordKind,
    bytes: &[u8],
) -> Record<T> {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return Record::Malformed {
                error: e.to_string(),
            }
        }
    };
    let mut body = v.clone();
    if let Value::Object(m) = &mut body {
        m.shift_remove("mac");
    }
    let record: T = match serde_json::from_value(body) {
        Ok(r) => r,
        Err(e) => {
            return Record::Malformed {
                error: e.to_string(),
            }
        }
    };
    let Some(key) = key else {
        return Record::Untrusted {
            reason: "this machine has no store key yet, so nothing here was written by its kiln"
                .into(),
        };
    };
    match key.verifies(kind, v) {
        Ok(()) => Record::Trusted(record),
        Err(reason) => Record::Untrusted { reason },
    }
}

/// The uid this process runs as (the owner of `/proc/self`).
fn own_uid() -> Option<u32> {
    fs::metadata("/proc/self").ok().map(|m| m.uid())
}

fn key_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Key {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuse a key file or directory that someone else owns or that others can
/// read or write.
fn check_private(path: &Path, md: &fs::Metadata, forbidden: u32) -> Result<(), StoreError> {
    let mode = md.permissions().mode() & 0o7777;
    let foreign = own_uid().is_some_and(|uid| md.uid() != uid);
    if mode & forbidden != 0 || foreign {
        return Err(StoreError::KeyInsecure {
            path: path.to_path_buf(),
            mode,
            owner: md.uid(),
        });
    }
    Ok(())
}

/// Read the key in `dir`, if there is one.
pub(crate) fn load_key(dir: &Path) -> Result<Option<MacKey>, StoreError> {
    let path = dir.join(KEY_FILE);
    let mut f = match OpenOptions::new()
        .read(true)
        .custom_flags(0o400000) // O_NOFOLLOW: the key is never a symlink
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(key_err(&path)(e)),
    };
    if let Ok(dmd) = fs::metadata(dir) {
        check_private(dir, &dmd, 0o022)?;
    }
    let md = f.metadata().map_err(key_err(&path))?;
    check_private(&path, &md, 0o077)?;
    let mut secret = [0u8; 32];
    let mut rest = Vec::new();
    f.read_exact(&mut secret).map_err(key_err(&path))?;
    f.read_to_end(&mut rest).map_err(key_err(&path))?;
    if !rest.is_empty() {
        return Err(StoreError::Key {
            path,
            source: io::Error::other("a store key is exactly 32 bytes"),
        });
    }
    Ok(Some(MacKey::from_secret(&secret)))
}

/// Read the key in `dir`, creating `dir` (0700) and a fresh random key (0600)
/// first if needed. Safe against concurrent first uses: the key file appears
/// complete or not at all, and the first one written wins.
pub(crate) fn load_or_create_key(dir: &Path) -> Result<MacKey, StoreError> {
    if let Some(k) = load_key(dir)? {
        return Ok(k);
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(key_err(dir))?;
    let mut secret = [0u8; 32];
    let urandom = Path::new("/dev/urandom");
    fs::File::open(urandom)
        .and_then(|mut f| f.read_exact(&mut secret))
        .map_err(key_err(urandom))?;
    let tmp = tempfile::Builder::new()
        .prefix(".store-key-")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(key_err(dir))?;
    tmp.as_file()
        .write_all(&secret)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(key_err(tmp.path()))?;
    let path = dir.join(KEY_FILE);
    // `persist_noclobber` links without replacing: a concurrent first use that
    // won keeps its key, and this one reads it back.
    match tmp.persist_noclobber(&path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(key_err(&path)(e.error)),
    }
    load_key(dir)?.ok_or_else(|| StoreError::Key {
        path,
        source: io::Error::other("the key vanished right after it was written"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rec {
        a: String,
        meta: Value,
    }

    #[test]
    fn sealed_records_verify_only_with_their_key_and_kind() {
        let k1 = MacKey::from_secret(&[1; 32]);
        let k2 = MacKey::from_secret(&[2; 32]);
        let rec = Rec {
            a: "x".into(),
            meta: serde_json::json!({"z": 1, "a": [1.5, "é"], "m": {"b": null}}),
        };
        let bytes = k1.seal(RecordKind::Realisation, &rec);
        assert!(matches!(
            open::<Rec>(Some(&k1), RecordKind::Realisation, &bytes),
            Record::Trusted(r) if r == rec
        ));
        assert!(matches!(
            open::<Rec>(Some(&k2), RecordKind::Realisation, &bytes),
            Record::Untrusted { .. }
        ));
        assert!(matches!(
            open::<Rec>(Some(&k1), RecordKind::Validity, &bytes),
            Record::Untrusted { .. }
        ));
        assert!(matches!(
            open::<Rec>(None, RecordKind::Realisation, &bytes),
            Record::Untrusted { .. }
        ));
        let forged = String::from_utf8(bytes).unwrap().replace("\"x\"", "\"y\"");
        assert!(matches!(
            open::<Rec>(Some(&k1), RecordKind::Realisation, forged.as_bytes()),
            Record::Untrusted { .. }
        ));
        assert!(matches!(
            open::<Rec>(Some(&k1), RecordKind::Realisation, b"{\"a\": 5"),
            Record::Malformed { .. }
        ));
        assert!(matches!(
            open::<Rec>(Some(&k1), RecordKind::Realisation, b"{\"b\": 5}"),
            Record::Malformed { .. }
        ));
    }

    #[test]
    fn sealed_blobs_keep_their_bytes_and_bind_their_name() {
        let k = MacKey::from_secret(&[7; 32]);
        let sealed = k.seal_blob(RecordKind::Provenance, b"abc-x", b"{\"a\": 1}\n");
        assert!(matches!(
            open_blob(Some(&k), RecordKind::Provenance, b"abc-x", &sealed),
            Record::Trusted(b) if b == b"{\"a\": 1}\n"
        ));
        for (ctx, file) in [
            (&b"abc-y"[..], sealed.clone()),
            (b"abc-x", [&sealed[..], b" "].concat()),
            (b"abc-x", b"{\"a\": 1}\n".to_vec()),
        ] {
            assert!(matches!(
                open_blob(Some(&k), RecordKind::Provenance, ctx, &file),
                Record::Untrusted { .. }
            ));
        }
    }

    #[test]
    fn key_is_created_once_private_and_reused() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state/kiln");
        assert!(load_key(&dir).unwrap().is_none());
        let k = load_or_create_key(&dir).unwrap();
        let again = load_or_create_key(&dir).unwrap();
        assert_eq!(k.0, again.0);
        let md = fs::metadata(dir.join(KEY_FILE)).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        assert_eq!(md.len(), 32);
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::set_permissions(dir.join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_key(&dir),
            Err(StoreError::KeyInsecure { mode: 0o644, .. })
        ));
    }
}
