//! The append-only log: create, open, append, read, verify (the writer side).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sealtrail::event::{CommandRun, Event};
//! use sealtrail::registry::Role;
//! use sealtrail::{Log, SecretKey, SessionId};
//!
//! let owner = SecretKey::generate("example.com/agent-log")?;
//! let recorder = SecretKey::generate("harness")?;
//! let log = Log::in_memory(&owner, "example.com/agent-log")?;
//! log.register_key(&owner, recorder.key_id(), Role::Recorder, "build harness")?;
//!
//! let session = SessionId::new("s-1")?;
//! let ran = CommandRun {
//!     command: "cargo test".into(),
//!     exit_code: Some(0),
//!     duration_ms: 41_000,
//!     ..CommandRun::default()
//! };
//! let receipt = log.append_event(&recorder, &session, &Event::CommandRun(ran), &[])?;
//! assert_eq!(receipt.seq, 1);
//! log.verify()?;
//! // Readers decode what was written: a malformed payload would fail here.
//! let events = sealtrail::query::session_events(&log, &session)?;
//! assert!(matches!(events[0].event, Some(Event::CommandRun(_))));
//! # Ok(()) }
//! ```

// This file holds the handle and what every part shares; each part of the writer is a module.
mod append;
#[cfg(feature = "tokio")]
mod asynchronous;
mod audit;
mod control;
mod erase;
mod error;
mod export;
mod layout;
mod nodes;
mod open;
mod progress;
mod proofs;
mod read;
mod renewals;
mod retention;
mod tiles;
mod timestamps;
mod writer;

#[cfg(feature = "tokio")]
pub use asynchronous::{AsyncLog, Interrupted};
#[cfg(feature = "sled")]
pub use audit::verify_dir_report;
pub use audit::{VerifySummary, verify_store, verify_store_report};
pub use control::ControlChainError;
pub use erase::EraseError;
pub use error::{AppendError, LogVerifyError, OpenError, ReadError};
pub use export::{
    Anchor, ExportError, ExportOptions, ExportSummary, MAX_LISTED_SESSIONS, Selection,
    withholdable_kinds,
};
pub use layout::{RECORD_NODE_LEVEL, encode_record};
pub use nodes::{DEFAULT_NODE_CACHE, NodeReadError};
pub use open::{Clock, DEFAULT_MAX_CLOCK_SKEW, DEFAULT_PROGRESS_AFTER, IndexProgress, LogBuilder};
pub use proofs::{AttachError, LogCheckpointError, LogProofError, LogProveError};
pub use read::Entries;
pub use renewals::{RenewError, StoredRenewal};
pub use retention::{PurgeError, PurgePlan, PurgeSummary};
pub use tiles::{LogTilesError, TILES_DIR, TilesMode};
pub use timestamps::{StoredTimestamp, TimestampStoreError};
pub use writer::SessionWriter;

// What the parts share with one another.
use nodes::*;
use open::*;
use read::*;

use std::ops::Range;
#[cfg(feature = "sled")]
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::approval::{Approval, ApprovalProblem, LinkedEntry, check_not_own_work};
use crate::codec::{DecodeError, check_canonical};
use crate::descriptor::{Descriptor, DescriptorError, SignedDescriptor};
use crate::entry::{
    Entry, EntryHeader, Erasure, FieldError, Kind, Link, MAX_PAYLOAD_LEN, Payload, SessionId,
};
use crate::hash::{EntryHash, LogId, PayloadCommitment, RootHash, Salt, Suite};
use crate::keys::{KeyId, SecretKey};
use crate::merkle::{self, Frontier, NodeSource};
use crate::registry::{
    KeyChange, KeyRecord, KeyRegistration, KeyRegistry, KeyRevocation, KeyRotation, RegistryError,
    Role, SignerError,
};
use crate::report::{Report, ReportBuilder};
use crate::store::{MemoryStore, Store, StoreError};
use crate::time::Timestamp;
use crate::verify::{
    ChainVerifier, CheckpointProblem, VerifiedEntry, VerifyError, payload_required,
};
use layout::*;
use progress::Progress;

/// When an append counts as done (SPEC §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `append` returns only after the entry is fsynced. Concurrent appenders share fsyncs.
    #[default]
    Immediate,
    /// `append` returns once the entry is written; it is durable after [`Log::flush`].
    Buffered,
}

/// The default payload cap: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// Something to append: a kind, a canonical CBOR payload, a session and causal links.
#[derive(Debug, Clone)]
pub struct Record {
    kind: Kind,
    payload: Vec<u8>,
    session: SessionId,
    links: Vec<Link>,
}

impl Record {
    /// A record outside any session, without links. `payload` must be one canonical CBOR item.
    pub fn new(kind: Kind, payload: Vec<u8>) -> Record {
        Record {
            kind,
            payload,
            session: SessionId::none(),
            links: Vec::new(),
        }
    }

    /// Puts the record in a session.
    pub fn session(mut self, session: &SessionId) -> Record {
        self.session = session.clone();
        self
    }

    /// Adds a causal link to an earlier entry.
    pub fn link(mut self, link: Link) -> Record {
        self.links.push(link);
        self
    }

    /// Adds causal links to earlier entries.
    pub fn links(mut self, links: impl IntoIterator<Item = Link>) -> Record {
        self.links.extend(links);
        self
    }

    /// The kind.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The payload bytes (canonical CBOR).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// Proof of an append: where the entry landed and its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's sequence number.
    pub seq: u64,
    /// The entry's hash.
    pub hash: EntryHash,
    /// The time recorded in the entry.
    pub time: Timestamp,
}

impl Receipt {
    /// A causal link to this entry, for records that depend on it.
    pub fn link(&self) -> Link {
        Link {
            seq: self.seq,
            hash: self.hash,
        }
    }
}

/// An entry read back from the log, with its payload.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// The entry.
    pub entry: Entry,
    /// Its hash.
    pub hash: EntryHash,
    /// Its payload, or why it was erased.
    pub payload: Payload,
}

impl StoredEntry {
    /// The sequence number.
    pub fn seq(&self) -> u64 {
        self.entry.seq()
    }

    /// The header.
    pub fn header(&self) -> &EntryHeader {
        self.entry.header()
    }
}

// Built-in payloads hold only integers, byte strings and text, which always encode.
fn encode_builtin<T: serde::Serialize>(v: &T) -> Vec<u8> {
    crate::codec::to_canonical(v).expect("built-in payloads always encode")
}

#[derive(Debug)]
struct Tip {
    next_seq: u64,
    prev: EntryHash,
    last_time: Timestamp,
    last_session: SessionId,
    registry: KeyRegistry,
    /// The latest control entry reserved (SPEC §7.5): the next entry's `control` field.
    control: Option<Link>,
    /// The Merkle tree's right edge over every reserved entry (SPEC §10.7).
    frontier: Frontier,
    /// Which reserved records hold a signer, session or kind that later records refer to
    /// (SPEC §9.1).
    held: HeldFields,
}

/// The records a writer has given a signer, session or kind to hold, for later records to
/// refer to instead of repeating it (SPEC §9.1). Starts empty on every open; a map that
/// reaches [`HELD_LIMIT`] values starts over (the next record holds its value again).
#[derive(Debug, Default)]
struct HeldFields {
    signers: std::collections::HashMap<KeyId, u64>,
    sessions: std::collections::HashMap<SessionId, u64>,
    kinds: std::collections::HashMap<Kind, u64>,
}

/// The most values each map of [`HeldFields`] keeps.
const HELD_LIMIT: usize = 1 << 16;

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    descriptor: SignedDescriptor,
    durability: Durability,
    max_payload: usize,
    max_skew_nanos: u64,
    clock: Clock,
    tip: Mutex<Tip>,
    progress: Progress,
    nodes: NodeCache,
    refs: RefCache,
    /// The log directory's `tiles/` (SPEC §9.8), set by an open from a directory.
    tiles: std::sync::OnceLock<tiles::DirTiles>,
    /// The entries a read-only open left out of the store's index, until a query indexes them.
    unindexed: Mutex<Option<Unindexed>>,
    /// Where a rebuild of the index reports its progress, and after how long
    /// ([`LogBuilder::progress`]): an open's, or a query's after the index was found damaged.
    index_progress: Option<(ProgressFn, std::time::Duration)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Best effort for Buffered logs; Immediate appends are already durable, and the flush
        // that made them so wrote the watermark: nothing to write or sync then.
        if self.progress.poisoned().is_none() {
            let len = self.progress.completed();
            if len == self.progress.durable() {
                return;
            }
            // As a group commit flushes: durable, then the index, then the tiles of the runs
            // the flush completed.
            use progress::Flush;
            if self.sync(len).is_ok() && self.settle(len).is_ok() {
                self.follow_up(len);
            }
        }
    }
}

/// A handle to a log. Cheap to clone, `Send + Sync`: clones share one log, and concurrent
/// appenders get gapless, unique sequence numbers and a correct chain.
#[derive(Debug, Clone)]
pub struct Log {
    inner: Arc<Inner>,
}

impl Log {
    /// Options for creating or opening a log.
    pub fn builder() -> LogBuilder {
        LogBuilder::default()
    }

    /// Creates a log on disk with the default options (BLAKE3, Immediate durability).
    #[cfg(feature = "sled")]
    pub fn create(path: &Path, owner: &SecretKey, origin: &str) -> Result<Log, OpenError> {
        LogBuilder::default().create(path, owner, origin)
    }

    /// Opens a log on disk with the default options.
    #[cfg(feature = "sled")]
    pub fn open(path: &Path) -> Result<Log, OpenError> {
        LogBuilder::default().open(path)
    }

    /// Creates a log in memory (for tests and examples).
    pub fn in_memory(owner: &SecretKey, origin: &str) -> Result<Log, OpenError> {
        LogBuilder::default().create_in(Arc::new(MemoryStore::new()), owner, origin)
    }

    fn tip(&self) -> MutexGuard<'_, Tip> {
        // Reservation either completes or leaves the tip untouched, so a panic elsewhere while
        // the lock was held cannot leave it half-updated.
        self.inner.tip.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The signed descriptor.
    pub fn descriptor(&self) -> &SignedDescriptor {
        &self.inner.descriptor
    }

    /// The log id.
    pub fn log_id(&self) -> LogId {
        self.inner.descriptor.log_id()
    }

    /// The hash suite.
    pub fn suite(&self) -> Suite {
        self.inner.descriptor.suite()
    }

    /// The durability appends get.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// The time now by the log's clock: what an entry appended now is dated, and the time an
    /// approver signing now puts in an approval (SPEC §13.5).
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Number of entries written (every entry below this is readable).
    pub fn len(&self) -> u64 {
        self.inner.progress.completed()
    }

    /// Whether the log has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The verifier keys an auditor pins for this log (SPEC §11.3): every active owner key,
    /// named after the log's checkpoint origin line, the name its checkpoints are signed under.
    /// C2SP verifiers match keys by name and key hash, so only a key under this name verifies
    /// the log's checkpoints, in sealtrail's verifier and in any other.
    pub fn verifier_keys(&self) -> Vec<crate::keys::PublicKey> {
        let line = crate::checkpoint::checkpoint_origin(
            &self.descriptor().descriptor().origin,
            self.suite(),
        );
        let mut owners: Vec<_> = self
            .keys()
            .into_iter()
            .filter(|r| r.role == Role::Owner && r.revoked_at.is_none())
            .filter_map(|r| crate::keys::PublicKey::from_bytes(&line, r.key.as_bytes()).ok())
            .collect();
        owners.dedup_by_key(|k| k.key_id());
        owners
    }

    /// The keys the log knows, with roles and history, ordered by registration.
    pub fn keys(&self) -> Vec<KeyRecord> {
        let mut keys: Vec<_> = self.tip().registry.iter().cloned().collect();
        keys.sort_by_key(|k| k.registered_at.map_or(0, |s| s + 1));
        keys
    }
}
