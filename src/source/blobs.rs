//! The blobs of whole selections, kept once per snapshot: the type the
//! snapshot holds; reading them is `view.rs` ([`BlobCache::get`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Blob id → contents.
pub(super) type Blobs = BTreeMap<String, Arc<[u8]>>;

/// The blobs of whole selections, by selection digest: the sdist and the
/// wheel of one project read their files once. A second reader of a
/// selection waits for the first.
#[derive(Debug, Default)]
pub(super) struct BlobCache(pub(super) Mutex<BTreeMap<String, Arc<Slot>>>);

/// One selection's blobs, once read.
pub(super) type Slot = Mutex<Option<Arc<Blobs>>>;
