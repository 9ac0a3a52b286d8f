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

#[cfg(feature = "tokio")]
mod asynchronous;
mod control;
mod export;
mod layout;
mod progress;
mod proofs;
mod writer;

#[cfg(feature = "tokio")]
pub use asynchronous::{AsyncLog, Interrupted};
pub use control::ControlChainError;
pub use export::{ExportError, ExportOptions, ExportSummary, Selection};
pub use proofs::{LogCheckpointError, LogProofError, LogProveError};
pub use writer::SessionWriter;

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
use crate::merkle::{self, Frontier, NodeSource, PerfectNode};
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

/// Why a log could not be created or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The store already holds a log.
    #[error("a log already exists here")]
    AlreadyExists,
    /// The store holds no log.
    #[error("no log here (no descriptor found)")]
    NotALog,
    /// The descriptor is invalid.
    #[error(transparent)]
    Descriptor(#[from] DescriptorError),
    /// The stored log is damaged in a way that prevents opening it.
    #[error("stored log is damaged at entry {seq}: {reason}")]
    Damaged {
        /// The entry.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The async runtime shut down before the open started (feature `tokio`): nothing was
    /// done.
    #[error("the async runtime shut down before the log was opened")]
    Interrupted,
}

/// Why an append was refused. The log is unchanged by a refused append.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The signer may not sign this record.
    #[error("record {index}: {source}")]
    Signer {
        /// Index of the record in the call (0 for `append`).
        index: usize,
        /// Why.
        source: SignerError,
    },
    /// The payload is over the log's cap.
    #[error("record {index}: payload of {size} bytes is over the log's cap of {max} bytes")]
    PayloadTooLarge {
        /// Index of the record in the call.
        index: usize,
        /// The payload size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// The payload is not one item in the canonical CBOR profile.
    #[error("record {index}: payload is not canonical CBOR: {source}")]
    Payload {
        /// Index of the record in the call.
        index: usize,
        /// Why.
        source: DecodeError,
    },
    /// The kind is neither a session event of SPEC §13.2 (`custom` takes any namespaced type) nor
    /// a control kind (§7.5): the log refuses kinds no reader would understand.
    #[error(
        "record {index}: unknown kind `{kind}`: use a session event kind of SPEC §13.2, or `custom` with a namespaced type"
    )]
    UnknownKind {
        /// Index of the record in the call.
        index: usize,
        /// The kind.
        kind: String,
    },
    /// The payload is not the event its kind says (SPEC §13.4): a field missing, unknown or of the
    /// wrong type, a rule broken, or an entry reference that is not one of the record's links.
    /// Nothing is written: a malformed event would make every reader of its session fail.
    #[error("record {index}: {source}")]
    Event {
        /// Index of the record in the call.
        index: usize,
        /// What is wrong.
        source: crate::event::EventDecodeError,
    },
    /// An event that cannot be encoded as its payload (SPEC §13.4): a rule broken, or a custom
    /// body outside the canonical profile.
    #[error("record {index}: {source}")]
    Encode {
        /// Index of the record in the call.
        index: usize,
        /// Why.
        source: crate::event::EventError,
    },
    /// An `erasure` record that is not one (SPEC §6.5): its payload, or not exactly one link.
    #[error("record {index}: {problem}")]
    Erasure {
        /// Index of the record in the call.
        index: usize,
        /// What is wrong.
        problem: crate::verify::ErasureProblem,
    },
    /// A causal link is malformed or names an entry that is not in the log with that hash.
    #[error("record {index}: link to entry {target}: {reason}")]
    Link {
        /// Index of the record in the call.
        index: usize,
        /// The linked sequence number.
        target: u64,
        /// What is wrong.
        reason: String,
    },
    /// An approval that verification would reject (SPEC §13.5): malformed, not linking what it
    /// approves, or approving its signer's own work.
    #[error("record {index}: {source}")]
    Approval {
        /// Index of the record in the call.
        index: usize,
        /// Why.
        source: ApprovalProblem,
    },
    /// A key-management record does not apply.
    #[error("record {index}: {source}")]
    KeyChange {
        /// Index of the record in the call.
        index: usize,
        /// Why.
        source: RegistryError,
    },
    /// The log's last entry is dated further ahead of this writer's clock than the allowed skew
    /// (see [`LogBuilder::max_clock_skew`]): a new entry would have to carry that future time.
    #[error(
        "record {index}: the log's last entry is dated {}, more than the allowed skew ahead of \
         this clock ({}); refusing to date a new entry in the future",
        .previous.to_rfc3339(),
        .now.to_rfc3339()
    )]
    ClockSkew {
        /// Index of the record in the call.
        index: usize,
        /// The time of the log's last entry.
        previous: Timestamp,
        /// This writer's clock.
        now: Timestamp,
    },
    /// The operating system's random source failed (salts are random).
    #[error("random source failed: {0}")]
    Random(String),
    /// The store failed; the log handle is now unusable (see [`AppendError::Poisoned`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An earlier write or flush failed, so this handle accepts no more appends; reopen the log.
    #[error("the log refuses appends after an earlier storage failure: {0}")]
    Poisoned(String),
    /// The log holds the most entries its Merkle tree can (2^64 - 1): nothing more can be
    /// appended.
    #[error("record {index}: the log is full")]
    Full {
        /// Index of the record in the call.
        index: usize,
    },
    /// The async runtime shut down before the append started (feature `tokio`): nothing was
    /// written.
    #[error("the async runtime shut down before the append started; nothing was written")]
    Interrupted,
}

/// Why reading an entry failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The stored record does not decode.
    #[error("entry {seq}: stored record does not decode: {source}")]
    Corrupt {
        /// The entry.
        seq: u64,
        /// Why.
        source: DecodeError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why `verify()` failed: the first broken entry, or the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogVerifyError {
    /// The store holds no log.
    #[error("no log here (no descriptor found)")]
    NotALog,
    /// An entry failed a check.
    #[error(transparent)]
    Invalid(#[from] VerifyError),
    /// The store failed while reading.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LogVerifyError {
    /// The entry at fault, when the log is invalid.
    pub fn seq(&self) -> Option<u64> {
        match self {
            LogVerifyError::Invalid(e) => e.seq(),
            LogVerifyError::Store(_) | LogVerifyError::NotALog => None,
        }
    }
}

/// What `verify()` established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    /// Entries checked.
    pub entries: u64,
    /// Hash of the last entry (the log id for an empty log).
    pub tip: EntryHash,
    /// The Merkle root over every entry checked, recomputed from the entries.
    pub root: RootHash,
    /// Entries whose payload is erased.
    pub erased: u64,
}

/// Where a log gets the time it records: the system clock, or a function (for tests and
/// reproducible examples). The log never lets time go backwards: an entry's time is the later of
/// the clock and the previous entry's time.
#[derive(Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A function returning the time to record.
    Fixed(Arc<dyn Fn() -> Timestamp + Send + Sync>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Fixed(_) => f.write_str("Clock::Fixed(..)"),
        }
    }
}

impl Clock {
    /// A clock that returns `start`, then advances by `step` on every reading.
    pub fn stepping(start: Timestamp, step: std::time::Duration) -> Clock {
        let next = std::sync::atomic::AtomicU64::new(start.0);
        let step = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX);
        Clock::Fixed(Arc::new(move || {
            Timestamp(next.fetch_add(step, std::sync::atomic::Ordering::Relaxed))
        }))
    }

    /// The time now, by this clock.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(f) => f(),
        }
    }
}

/// Options for creating or opening a log.
#[derive(Debug, Clone)]
pub struct LogBuilder {
    suite: Suite,
    durability: Durability,
    max_payload: usize,
    clock: Clock,
    lock_wait: std::time::Duration,
    max_skew: std::time::Duration,
}

/// How far the log's last entry may be dated ahead of the writer's clock before appends are
/// refused: five minutes.
pub const DEFAULT_MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(300);

impl Default for LogBuilder {
    fn default() -> Self {
        LogBuilder {
            suite: Suite::default(),
            durability: Durability::default(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            clock: Clock::System,
            lock_wait: std::time::Duration::ZERO,
            max_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }
}

impl LogBuilder {
    /// The hash suite of a new log (ignored when opening: the descriptor says).
    pub fn suite(mut self, suite: Suite) -> Self {
        self.suite = suite;
        self
    }

    /// When appends return.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Where the log gets its time (the system clock by default).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How far the log's last entry may be dated ahead of this writer's clock before appends are
    /// refused with [`AppendError::ClockSkew`] (default [`DEFAULT_MAX_CLOCK_SKEW`]). Entries are
    /// never dated before the one before them, so without this bound one entry written with a
    /// clock set years ahead would date every later entry in that future. Bundle verification
    /// allows five minutes past the export's and the witnesses' times (SPEC §12.6): a larger
    /// skew can make honest bundles fail that check.
    pub fn max_clock_skew(mut self, skew: std::time::Duration) -> Self {
        self.max_skew = skew;
        self
    }

    /// The largest payload this handle accepts (at most 16 MiB, the format's limit).
    pub fn max_payload_size(mut self, bytes: usize) -> Self {
        self.max_payload = bytes.min(MAX_PAYLOAD_LEN);
        self
    }

    /// How long [`create`](Self::create) and [`open`](Self::open) wait for another holder to
    /// close the log (sled allows one open database at a time) before failing with
    /// [`StoreError::Locked`] (another process has it) or [`StoreError::OpenInThisProcess`]
    /// (this process has it: share the open [`Log`], it is `Clone`). The default is not to
    /// wait.
    pub fn lock_wait(mut self, wait: std::time::Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Creates a log on disk in directory `path` (sled).
    #[cfg(feature = "sled")]
    pub fn create(self, path: &Path, owner: &SecretKey, origin: &str) -> Result<Log, OpenError> {
        let store = open_sled(path, self.lock_wait)?;
        self.create_in(Arc::new(store), owner, origin)
    }

    /// Opens the log on disk in directory `path` (sled).
    #[cfg(feature = "sled")]
    pub fn open(self, path: &Path) -> Result<Log, OpenError> {
        if !path.exists() {
            return Err(OpenError::NotALog);
        }
        let store = open_sled(path, self.lock_wait)?;
        self.open_in(Arc::new(store))
    }

    /// Creates a log in a store.
    pub fn create_in(
        self,
        store: Arc<dyn Store>,
        owner: &SecretKey,
        origin: &str,
    ) -> Result<Log, OpenError> {
        if store.get(DESCRIPTOR_KEY)?.is_some() {
            return Err(OpenError::AlreadyExists);
        }
        let descriptor = Descriptor::new(self.suite, origin, owner.key_id(), self.clock.now())?;
        let signed = SignedDescriptor::sign(descriptor, owner)?;
        store.put(DESCRIPTOR_KEY, signed.as_bytes())?;
        store.flush()?;
        self.open_in(store)
    }

    /// Opens the log in a store, discarding any unacknowledged entries a crash left behind a gap
    /// (SPEC §9.3).
    pub fn open_in(self, store: Arc<dyn Store>) -> Result<Log, OpenError> {
        let bytes = store.get(DESCRIPTOR_KEY)?.ok_or(OpenError::NotALog)?;
        let descriptor = SignedDescriptor::from_bytes(&bytes)?;
        let len = recover(store.as_ref())?;
        let suite = descriptor.suite();
        let genesis =
            KeyRegistry::genesis(descriptor.descriptor()).map_err(DescriptorError::from)?;
        let mut tip = Tip {
            next_seq: len,
            prev: EntryHash(descriptor.log_id().0),
            last_time: descriptor.descriptor().created,
            last_session: SessionId::none(),
            registry: genesis.clone(),
            control: None,
            frontier: Frontier::new(),
        };
        if len > 0 {
            let last = read_entry(store.as_ref(), suite, len - 1)
                .map_err(|e| damaged(len - 1, e))?
                .ok_or_else(|| damaged(len - 1, "missing"))?;
            tip.prev = last.hash;
            tip.last_time = last.header().time;
            tip.last_session = last.header().session.clone();
            tip.control = control::head_after(&last);
        }
        let nodes = StoreNodes {
            store: store.as_ref(),
            cache: None,
        };
        tip.frontier = Frontier::restore(&nodes, len).map_err(|e| damaged(len, e))?;
        // The registry comes from the signed control chain the last entry leads to (SPEC §7.5),
        // never from an index: nothing outside the signed entries decides who may sign.
        let (_, registry) = control::walk(store.as_ref(), suite, genesis, tip.control)
            .map_err(|e| damaged(e.seq().unwrap_or(len), e))?;
        tip.registry = registry;
        Ok(Log {
            inner: Arc::new(Inner {
                store,
                descriptor,
                durability: self.durability,
                max_payload: self.max_payload,
                max_skew_nanos: u64::try_from(self.max_skew.as_nanos()).unwrap_or(u64::MAX),
                clock: self.clock,
                tip: Mutex::new(tip),
                progress: Progress::starting_at(len),
                nodes: NodeCache::default(),
            }),
        })
    }
}

// SPEC §13.2, §7.3, §6.5: a record of a known kind carries that kind's payload, its entry
// references are among its links, and no other kind is accepted.
fn check_schema(
    index: usize,
    kind: &Kind,
    payload: &[u8],
    links: &[Link],
) -> Result<(), AppendError> {
    use crate::event::{Event, EventDecodeError};
    use crate::verify::ErasureProblem;
    // Key changes are decoded by the caller (they change the registry), approvals where their
    // subjects are read (SPEC §13.5), each with its own error.
    if kind.is_key_management() || kind.as_str() == Kind::APPROVAL {
        return Ok(());
    }
    if kind.as_str() == Kind::ERASURE {
        let erasure = |problem| AppendError::Erasure { index, problem };
        if payload.len() > crate::registry::MAX_CONTROL_PAYLOAD_LEN {
            return Err(erasure(ErasureProblem::TooLarge(payload.len())));
        }
        crate::codec::from_canonical::<Erasure>(payload)
            .map_err(|e| erasure(ErasureProblem::Payload(e)))?;
        if links.len() != 1 {
            return Err(erasure(ErasureProblem::LinkCount(links.len())));
        }
        return Ok(());
    }
    match Event::decode(kind, payload) {
        Ok(event) => match event.unlinked_reference(links) {
            None => Ok(()),
            Some(_) => Err(AppendError::Event {
                index,
                source: EventDecodeError::Invalid {
                    kind: event.kind_str(),
                    field: "links",
                    reason: "an entry reference of the payload is not one of the record's links",
                },
            }),
        },
        Err(EventDecodeError::UnknownKind(kind)) => Err(AppendError::UnknownKind { index, kind }),
        Err(source) => Err(AppendError::Event { index, source }),
    }
}

/// Opens a sled store, retrying while another process holds it, for at most `wait`.
#[cfg(feature = "sled")]
pub(crate) fn open_sled(
    path: &Path,
    wait: std::time::Duration,
) -> Result<crate::store::SledStore, StoreError> {
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        match crate::store::SledStore::open(path) {
            Err(StoreError::Locked { .. } | StoreError::OpenInThisProcess { .. })
                if start.elapsed() < wait =>
            {
                // Short pauses: hook processes hold a log for tens of milliseconds.
                std::thread::sleep(pause.min(wait.saturating_sub(start.elapsed())));
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

// Built-in payloads hold only integers, byte strings and text, which always encode.
fn encode_builtin<T: serde::Serialize>(v: &T) -> Vec<u8> {
    crate::codec::to_canonical(v).expect("built-in payloads always encode")
}

fn damaged(seq: u64, reason: impl std::fmt::Display) -> OpenError {
    OpenError::Damaged {
        seq,
        reason: reason.to_string(),
    }
}

/// Finds the written prefix after a crash and removes anything beyond its end (SPEC §9.3).
/// Entries past a gap were reserved concurrently but never acknowledged as durable.
fn recover(store: &dyn Store) -> Result<u64, OpenError> {
    let mut len = read_watermark(store)?;
    let end = prefix_end(ENTRY);
    'scan: loop {
        let batch = store.scan(&seq_key(ENTRY, len), &end, 1024)?;
        if batch.is_empty() {
            break;
        }
        for (k, _) in &batch {
            if seq_of(k) != Some(len) {
                break 'scan;
            }
            len += 1;
        }
    }
    let mut removed = false;
    loop {
        let orphans = store.scan(&seq_key(ENTRY, len), &prefix_end(ENTRY), 1024)?;
        if orphans.is_empty() {
            break;
        }
        for (k, _) in orphans {
            store.delete(&k)?;
            removed = true;
        }
    }
    if removed {
        store.flush()?;
    }
    Ok(len)
}

fn read_entry(store: &dyn Store, suite: Suite, seq: u64) -> Result<Option<StoredEntry>, ReadError> {
    let Some(bytes) = store.get(&seq_key(ENTRY, seq))? else {
        return Ok(None);
    };
    decode_stored(suite, seq, &bytes).map(Some)
}

fn decode_stored(suite: Suite, seq: u64, bytes: &[u8]) -> Result<StoredEntry, ReadError> {
    let corrupt = |source| ReadError::Corrupt { seq, source };
    let (entry_bytes, payload, _nodes) = decode_record(bytes).map_err(corrupt)?;
    let entry = Entry::from_bytes(entry_bytes).map_err(corrupt)?;
    let hash = entry.hash(suite);
    Ok(StoredEntry {
        entry,
        hash,
        payload,
    })
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
}

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
}

/// A Merkle node could not be read from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeReadError {
    /// The record that holds the node could not be read.
    #[error("Merkle node ({level}, {index}): {source}")]
    Read {
        /// The node's level.
        level: u32,
        /// Its index at that level.
        index: u64,
        /// Why.
        source: ReadError,
    },
    /// The record does not hold the node.
    #[error("Merkle node ({level}, {index}) is missing from storage")]
    Missing {
        /// The node's level.
        level: u32,
        /// Its index at that level.
        index: u64,
    },
}

// Reads perfect Merkle nodes where the log stores them (SPEC §9.1): low levels in the record of
// the last leaf they cover, higher levels under their own keys.
pub(crate) struct StoreNodes<'a> {
    pub(crate) store: &'a dyn Store,
    /// Where upper nodes read once are kept (absent while opening).
    pub(crate) cache: Option<&'a NodeCache>,
}

/// Perfect nodes of level [`CACHE_LEVEL`] and above, kept in memory once read or written: they
/// are few (one per 64 entries) and every proof needs several. Bounded by [`CACHE_LIMIT`].
#[derive(Debug, Default)]
pub(crate) struct NodeCache(std::sync::RwLock<std::collections::HashMap<(u32, u64), [u8; 32]>>);

/// Nodes at and above this level are cached.
const CACHE_LEVEL: u32 = 6;
/// The most nodes cached (about 64 MiB of a 1-billion-entry log's upper levels).
const CACHE_LIMIT: usize = 1 << 20;

impl NodeCache {
    fn get(&self, level: u32, index: u64) -> Option<[u8; 32]> {
        if level < CACHE_LEVEL {
            return None;
        }
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(level, index))
            .copied()
    }

    fn put(&self, level: u32, index: u64, hash: [u8; 32]) {
        if level < CACHE_LEVEL {
            return;
        }
        let mut m = self.0.write().unwrap_or_else(|p| p.into_inner());
        if m.len() < CACHE_LIMIT {
            m.insert((level, index), hash);
        }
    }
}

impl NodeSource for StoreNodes<'_> {
    type Error = NodeReadError;

    fn perfect_node(&self, level: u32, index: u64) -> Result<[u8; 32], NodeReadError> {
        if let Some(h) = self.cache.and_then(|c| c.get(level, index)) {
            return Ok(h);
        }
        let h = self.read_node(level, index)?;
        if let Some(c) = self.cache {
            c.put(level, index, h);
        }
        Ok(h)
    }
}

impl StoreNodes<'_> {
    fn read_node(&self, level: u32, index: u64) -> Result<[u8; 32], NodeReadError> {
        let read_err = |source: ReadError| NodeReadError::Read {
            level,
            index,
            source,
        };
        if level >= RECORD_LEVELS {
            let v = self
                .store
                .get(&node_key(level, index))
                .map_err(|e| read_err(e.into()))?
                .ok_or(NodeReadError::Missing { level, index })?;
            return v
                .as_slice()
                .try_into()
                .map_err(|_| NodeReadError::Missing { level, index });
        }
        let seq = record_of_node(level, index).ok_or(NodeReadError::Missing { level, index })?;
        let bytes = self
            .store
            .get(&seq_key(ENTRY, seq))
            .map_err(|e| read_err(e.into()))?
            .ok_or(NodeReadError::Missing { level, index })?;
        let (_, _, nodes) =
            decode_record(&bytes).map_err(|source| read_err(ReadError::Corrupt { seq, source }))?;
        node_at(nodes, level).ok_or(NodeReadError::Missing { level, index })
    }
}

// The nodes a record holds: those of the completed ones below RECORD_LEVELS, lowest first.
fn node_bytes(nodes: &[PerfectNode]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 * nodes.len());
    for n in nodes.iter().filter(|n| n.id.level < RECORD_LEVELS) {
        out.extend_from_slice(&n.hash);
    }
    out
}

// The completed nodes stored under their own keys.
fn keyed_nodes(nodes: &[PerfectNode]) -> Vec<(u32, u64, [u8; 32])> {
    nodes
        .iter()
        .filter(|n| n.id.level >= RECORD_LEVELS)
        .map(|n| (n.id.level, n.id.index, n.hash))
        .collect()
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Best effort for Buffered logs; Immediate appends are already durable.
        if self.progress.poisoned().is_none() {
            let len = self.progress.completed();
            let _ = self
                .store
                .put(WATERMARK_KEY, &len.to_be_bytes())
                .and_then(|()| self.store.flush());
        }
    }
}

/// A handle to a log. Cheap to clone, `Send + Sync`: clones share one log, and concurrent
/// appenders get gapless, unique sequence numbers and a correct chain.
#[derive(Debug, Clone)]
pub struct Log {
    inner: Arc<Inner>,
}

// A record checked before taking the lock: kind, session, payload, its key change, links, salt
// and payload commitment.
type Prepared = (
    Kind,
    SessionId,
    Vec<u8>,
    Option<KeyChange>,
    Vec<Link>,
    Salt,
    PayloadCommitment,
);

// A record checked and reserved, waiting to be signed and written.
struct Reserved {
    header: EntryHeader,
    header_bytes: Vec<u8>,
    hash: EntryHash,
    nodes: Vec<u8>,
    keyed: Vec<(u32, u64, [u8; 32])>,
    salt: Salt,
    payload: Vec<u8>,
    new_run: bool,
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

    /// Appends one record signed by `signer`. With [`Durability::Immediate`] it returns once the
    /// entry is fsynced.
    ///
    /// Blocks the calling thread until then (with Immediate, for an fsync: a millisecond on an
    /// idle disk, far longer on a busy one). In async code use `AsyncLog` (feature `tokio`),
    /// which appends on tokio's blocking pool.
    pub fn append(&self, signer: &SecretKey, record: Record) -> Result<Receipt, AppendError> {
        let mut r = self.append_batch(signer, vec![record])?;
        Ok(r.remove(0))
    }

    /// Appends records signed by `signer` at consecutive positions. Either every record is
    /// accepted or none is; with [`Durability::Immediate`] it returns once all are fsynced.
    pub fn append_batch(
        &self,
        signer: &SecretKey,
        records: Vec<Record>,
    ) -> Result<Vec<Receipt>, AppendError> {
        if let Some(p) = self.inner.progress.poisoned() {
            return Err(AppendError::Poisoned(p));
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let suite = self.suite();
        // Everything that needs no log state is checked before taking the lock.
        let mut prepared = Vec::with_capacity(records.len());
        for (index, r) in records.into_iter().enumerate() {
            if r.payload.len() > self.inner.max_payload {
                return Err(AppendError::PayloadTooLarge {
                    index,
                    size: r.payload.len(),
                    max: self.inner.max_payload,
                });
            }
            check_canonical(&r.payload).map_err(|source| AppendError::Payload { index, source })?;
            let change = match KeyChange::decode(&r.kind, &r.payload) {
                Some(c) => Some(c.map_err(|source| AppendError::KeyChange { index, source })?),
                None => None,
            };
            let mut links = r.links;
            links.sort();
            links.dedup();
            check_schema(index, &r.kind, &r.payload, &links)?;
            self.check_links(index, &links)?;
            let salt = Salt::random().map_err(|e| AppendError::Random(e.to_string()))?;
            let commitment = PayloadCommitment::compute(suite, &salt, &r.payload);
            prepared.push((
                r.kind, r.session, r.payload, change, links, salt, commitment,
            ));
        }
        let signer_id = signer.key_id();
        let reserved = {
            let mut tip = self.tip();
            // Key changes go into the registry in place and are taken back if a later record of
            // the batch is refused: no copy of the registry per batch.
            let mut undo = Vec::new();
            match self.reserve(&mut tip, signer_id, prepared, &mut undo) {
                Ok(out) => out,
                Err(e) => {
                    for u in undo.into_iter().rev() {
                        tip.registry.undo(u);
                    }
                    return Err(e);
                }
            }
        };
        let mut receipts = Vec::with_capacity(reserved.len());
        let count = reserved.len();
        for (i, r) in reserved.into_iter().enumerate() {
            let seq = r.header.seq;
            let receipt = Receipt {
                seq,
                hash: r.hash,
                time: r.header.time,
            };
            if let Err(e) = self.write_reserved(signer, r) {
                self.inner
                    .progress
                    .poison(format!("writing entry {seq} failed: {e}"));
                return Err(AppendError::Store(e));
            }
            receipts.push(receipt);
            if i + 1 == count && self.inner.durability == Durability::Immediate {
                // The last entry's completion and the wait for durability take one lock.
                self.inner
                    .progress
                    .complete_and_wait_durable(seq, seq + 1, &|target| self.flush_to(target))
                    .map_err(AppendError::Poisoned)?;
            } else {
                self.inner.progress.complete(seq);
            }
        }
        Ok(receipts)
    }

    // Checks and reserves positions for prepared records under the tip's lock (SPEC §9.2): every
    // record is checked against the log as the ones before it in the batch leave it, and the tip
    // moves only if all pass. Key changes are applied to the tip's registry as they go, with what
    // takes them back in `undo`.
    fn reserve(
        &self,
        tip: &mut Tip,
        signer_id: KeyId,
        prepared: Vec<Prepared>,
        undo: &mut Vec<crate::registry::Undo>,
    ) -> Result<Vec<Reserved>, AppendError> {
        let suite = self.suite();
        let log_id = self.log_id();
        let mut seq = tip.next_seq;
        let mut prev = tip.prev;
        let mut time = tip.last_time;
        let mut session = tip.last_session.clone();
        let mut control = tip.control;
        let mut frontier = tip.frontier.clone();
        let mut out = Vec::with_capacity(prepared.len());
        for (index, (kind, rsession, payload, change, links, salt, commitment)) in
            prepared.into_iter().enumerate()
        {
            tip.registry
                .check_signer(seq, &signer_id, &kind)
                .map_err(|source| AppendError::Signer { index, source })?;
            // Time never goes backwards, and never runs ahead of this writer's clock by more
            // than the allowed skew: one entry dated in the future cannot drag every later
            // entry (a human approval signed today among them) into that future.
            let now = self.inner.clock.now();
            if time.0 > now.0.saturating_add(self.inner.max_skew_nanos) {
                return Err(AppendError::ClockSkew {
                    index,
                    previous: time,
                    now,
                });
            }
            time = time.max(now);
            // SPEC §8.2 (approval), after the signer check as in verification. Approvals are
            // rare; reading their subjects under the lock keeps the check in one place.
            for (subject, subject_signer) in
                self.approval_subjects(index, &kind, &payload, &links, time)?
            {
                check_not_own_work(&tip.registry, &signer_id, subject, &subject_signer)
                    .map_err(|source| AppendError::Approval { index, source })?;
            }
            if let Some(change) = &change {
                tip.registry
                    .check_change(seq, change)
                    .map_err(|source| AppendError::KeyChange { index, source })?;
                undo.push(
                    tip.registry
                        .apply_undoable(seq, change)
                        .map_err(|source| AppendError::KeyChange { index, source })?,
                );
            }
            if let Some(l) = links.last() {
                if l.seq >= seq {
                    return Err(AppendError::Link {
                        index,
                        target: l.seq,
                        reason: "not an earlier entry".into(),
                    });
                }
            }
            let header = EntryHeader {
                version: crate::descriptor::FORMAT_VERSION,
                log_id,
                seq,
                prev,
                time,
                session: rsession,
                signer: signer_id,
                kind,
                payload: commitment,
                links,
                control,
            };
            let header_bytes = header.encode();
            let new_run = !header.session.is_none() && header.session != session;
            session = header.session.clone();
            prev = EntryHash::compute(suite, &header_bytes);
            if header.kind.is_control() {
                control = Some(Link { seq, hash: prev });
            }
            let completed = frontier
                .append(&suite, merkle::leaf_hash(suite, &prev))
                .map_err(|_| AppendError::Full { index })?;
            out.push(Reserved {
                header,
                header_bytes,
                hash: prev,
                nodes: node_bytes(&completed),
                keyed: keyed_nodes(&completed),
                salt,
                payload,
                new_run,
            });
            seq += 1;
        }
        // Every record passed: commit the reservation.
        tip.next_seq = seq;
        tip.prev = prev;
        tip.last_time = time;
        tip.last_session = session;
        tip.control = control;
        tip.frontier = frontier;
        for r in &out {
            for &(level, index, hash) in &r.keyed {
                self.inner.nodes.put(level, index, hash);
            }
        }
        self.inner.progress.reserve(seq);
        Ok(out)
    }

    fn write_reserved(&self, signer: &SecretKey, r: Reserved) -> Result<(), StoreError> {
        let seq = r.header.seq;
        let run = r.new_run.then(|| run_key(r.header.session.as_str(), seq));
        let node_keys: Vec<_> = r.keyed.iter().map(|&(l, i, _)| node_key(l, i)).collect();
        let entry = Entry::sign(r.header, &r.header_bytes, signer);
        let payload = Payload::Present {
            salt: r.salt,
            data: r.payload,
        };
        let key = seq_key(ENTRY, seq);
        let record = encode_record(entry.as_bytes(), &payload, &r.nodes);
        // Written in this order. Markers go first: a crash may leave a marker without its entry
        // (readers tolerate that), never an entry without its marker. Nodes before the record:
        // an entry is never present without the nodes it completed.
        let mut writes: Vec<(&[u8], &[u8])> = Vec::with_capacity(2 + node_keys.len());
        writes.extend(run.as_deref().map(|k| (k, &[][..])));
        for (k, (_, _, hash)) in node_keys.iter().zip(&r.keyed) {
            writes.push((k, hash));
        }
        writes.push((&key, &record));
        self.inner.store.put_many(&writes)
    }

    fn check_links(&self, index: usize, links: &[Link]) -> Result<(), AppendError> {
        if let Err(FieldError::Links(reason)) = crate::entry::check_link_order(links) {
            return Err(AppendError::Link {
                index,
                target: links.first().map_or(0, |l| l.seq),
                reason: reason.into(),
            });
        }
        for l in links {
            let err = |reason: &str| AppendError::Link {
                index,
                target: l.seq,
                reason: reason.into(),
            };
            if l.seq >= self.len() {
                return Err(err("no such entry yet"));
            }
            let stored = self
                .read(l.seq)
                .map_err(|e| err(&e.to_string()))?
                .ok_or_else(|| err("no such entry"))?;
            if stored.hash != l.hash {
                return Err(err("hash does not match the entry at that position"));
            }
        }
        Ok(())
    }

    // For an approval (SPEC §13.5): decodes it, checks that its entry subjects are among its
    // (already checked) links, and returns each subject with its signer, for the own-work check
    // against the registry. Empty for other kinds.
    fn approval_subjects(
        &self,
        index: usize,
        kind: &Kind,
        payload: &[u8],
        links: &[Link],
        time: Timestamp,
    ) -> Result<Vec<(u64, KeyId)>, AppendError> {
        if kind.as_str() != Kind::APPROVAL {
            return Ok(Vec::new());
        }
        let err = |source| AppendError::Approval { index, source };
        let approval = Approval::decode(payload).map_err(err)?;
        approval.check_links(links).map_err(err)?;
        approval.check_signed_at(time).map_err(err)?;
        let mut out = Vec::with_capacity(approval.entries().len());
        for s in approval.entries() {
            let stored = self
                .read(s.seq)
                .map_err(|e| AppendError::Link {
                    index,
                    target: s.seq,
                    reason: e.to_string(),
                })?
                .ok_or_else(|| AppendError::Link {
                    index,
                    target: s.seq,
                    reason: "no such entry".into(),
                })?;
            out.push((s.seq, stored.header().signer));
        }
        Ok(out)
    }

    fn wait_durable(&self, len: u64) -> Result<(), String> {
        self.inner
            .progress
            .wait_durable(len, &|target| self.flush_to(target))
    }

    // Makes entries `0..target` (all written) durable, with the watermark that says so.
    fn flush_to(&self, target: u64) -> Result<(), String> {
        let store = &self.inner.store;
        store
            .put(WATERMARK_KEY, &target.to_be_bytes())
            .and_then(|()| store.flush())
            .map_err(|e| format!("flush failed: {e}"))
    }

    /// Makes every append that has returned durable.
    pub fn flush(&self) -> Result<(), AppendError> {
        let len = self.tip().next_seq;
        self.inner
            .progress
            .wait_completed(len)
            .map_err(AppendError::Poisoned)?;
        self.wait_durable(len).map_err(AppendError::Poisoned)
    }

    /// Registers a key with a role and printed name (signed by an owner key).
    pub fn register_key(
        &self,
        owner: &SecretKey,
        key: KeyId,
        role: Role,
        name: &str,
    ) -> Result<Receipt, AppendError> {
        self.key_change(
            owner,
            KeyChange::Register(KeyRegistration::new(key, role, name)),
        )
    }

    /// Revokes a key: its signature on any later entry is invalid (signed by an owner key).
    pub fn revoke_key(
        &self,
        owner: &SecretKey,
        key: KeyId,
        reason: &str,
    ) -> Result<Receipt, AppendError> {
        self.key_change(owner, KeyChange::Revoke(KeyRevocation::new(key, reason)))
    }

    /// Replaces `old` by `new`, which takes over its role and name (signed by an owner key).
    pub fn rotate_key(
        &self,
        owner: &SecretKey,
        old: KeyId,
        new: KeyId,
        reason: &str,
    ) -> Result<Receipt, AppendError> {
        self.key_change(owner, KeyChange::Rotate(KeyRotation::new(old, new, reason)))
    }

    fn key_change(&self, owner: &SecretKey, change: KeyChange) -> Result<Receipt, AppendError> {
        let payload = match &change {
            KeyChange::Register(p) => encode_builtin(p),
            KeyChange::Revoke(p) => encode_builtin(p),
            KeyChange::Rotate(p) => encode_builtin(p),
        };
        self.append(owner, Record::new(change.kind(), payload))
    }

    /// The entry at `seq`, if written.
    pub fn read(&self, seq: u64) -> Result<Option<StoredEntry>, ReadError> {
        if seq >= self.len() {
            return Ok(None);
        }
        read_entry(self.inner.store.as_ref(), self.suite(), seq)
    }

    /// The entries in a range of sequence numbers, in order (clipped to what is written).
    pub fn range(&self, range: Range<u64>) -> Entries<'_> {
        let end = range.end.min(self.len());
        Entries {
            log: self,
            next: range.start,
            end,
            page: 8,
            buffer: Vec::new().into_iter(),
        }
    }

    /// Every entry of a session, in order.
    pub fn session(&self, session: &SessionId) -> Result<Vec<StoredEntry>, ReadError> {
        let len = self.len();
        let (start, end) = run_range(session.as_str());
        let mut out = Vec::new();
        let mut next_unread = 0;
        for (k, _) in self.inner.store.scan(&start, &end, usize::MAX)? {
            let Some(run) = seq_of(&k) else { continue };
            // Markers may be stale (a crash between marker and entry) or repeat a run already
            // read; the entries themselves say which session they belong to.
            if run < next_unread || run >= len {
                continue;
            }
            for e in self.range(run..len) {
                let e = e?;
                if e.header().session != *session {
                    break;
                }
                next_unread = e.seq() + 1;
                out.push(e);
            }
            next_unread = next_unread.max(run + 1);
        }
        Ok(out)
    }

    /// Verifies the whole local log (SPEC §8): every entry decodes, sits at its position, chains
    /// to the one before, is signed by a key allowed to sign it, and matches its payload.
    /// Returns the first broken entry.
    pub fn verify(&self) -> Result<VerifySummary, LogVerifyError> {
        verify_records(
            self.inner.store.as_ref(),
            &self.inner.descriptor,
            self.len(),
        )
    }

    /// Verifies the whole local log like [`Log::verify`] and says what was proven, in the same
    /// report shape as bundle verification (SPEC §12.6). A broken entry is a finding, not an
    /// error; only a failing store is an error.
    pub fn verify_report(&self) -> Result<Report, StoreError> {
        report_records(self.inner.store.as_ref(), self.descriptor(), self.len())
    }

    /// Erases the payload of entry `seq` (for example under GDPR Art. 17). An owner key signs an
    /// `erasure` entry that links to it and says why; then the payload and its salt are deleted.
    /// The commitment stays, so the chain and every proof still verify. Key-management, approval
    /// and erasure payloads cannot be erased: the log's verification depends on them.
    pub fn erase_payload(
        &self,
        owner: &SecretKey,
        seq: u64,
        reason: &str,
    ) -> Result<Receipt, EraseError> {
        let stored = self.read(seq)?.ok_or(EraseError::NoSuchEntry(seq))?;
        if payload_required(&stored.header().kind) {
            return Err(EraseError::Required {
                seq,
                kind: stored.header().kind.as_str().to_owned(),
            });
        }
        let payload = encode_builtin(&Erasure {
            reason: reason.to_owned(),
        });
        let kind = Kind::new(Kind::ERASURE).expect("built-in kind");
        let receipt = self.append(
            owner,
            Record::new(kind, payload).link(Link {
                seq,
                hash: stored.hash,
            }),
        )?;
        // The erasure is recorded (and durable with Immediate) before the payload goes.
        self.flush()?;
        let raw = self
            .inner
            .store
            .get(&seq_key(ENTRY, seq))?
            .ok_or(EraseError::NoSuchEntry(seq))?;
        let (_, _, nodes) = decode_record(&raw)
            .map_err(|source| EraseError::Read(ReadError::Corrupt { seq, source }))?;
        let record = encode_record(stored.entry.as_bytes(), &Payload::Erased, nodes);
        self.inner.store.put(&seq_key(ENTRY, seq), &record)?;
        self.inner.store.flush()?;
        Ok(receipt)
    }
}

/// Verifies the log held in a store without opening it for appends, so a damaged log can still
/// be examined: the first broken entry is named. Every entry below the durable watermark must be
/// present; entries past a gap beyond it were never acknowledged and are not examined.
pub fn verify_store(store: &dyn Store) -> Result<VerifySummary, LogVerifyError> {
    let descriptor = stored_descriptor(store)?;
    let len = stored_len(store)?;
    verify_records(store, &descriptor, len)
}

/// Verifies the log held in a store like [`verify_store`], without opening it for appends, and
/// says what was proven in the report shape of [`Log::verify_report`]: a broken entry is a
/// finding, not an error. Only a store without a log, a descriptor that does not verify, or a
/// failing store is an error.
pub fn verify_store_report(store: &dyn Store) -> Result<Report, LogVerifyError> {
    let descriptor = stored_descriptor(store)?;
    let len = stored_len(store)?;
    Ok(report_records(store, &descriptor, len)?)
}

/// Verifies the log on disk in directory `path` like [`verify_store_report`], without opening it
/// for appends: nothing is recovered or written, so a damaged log is examined as it lies. Waits
/// at most `wait` while another process holds the log.
#[cfg(feature = "sled")]
pub fn verify_dir_report(path: &Path, wait: std::time::Duration) -> Result<Report, LogVerifyError> {
    let store = open_sled(path, wait)?;
    verify_store_report(&store)
}

fn stored_descriptor(store: &dyn Store) -> Result<SignedDescriptor, LogVerifyError> {
    let bytes = store.get(DESCRIPTOR_KEY)?.ok_or(LogVerifyError::NotALog)?;
    Ok(SignedDescriptor::from_bytes(&bytes).map_err(|e| VerifyError::Descriptor(e.to_string()))?)
}

// The number of entries to verify: the contiguous prefix, but never less than the durable
// watermark.
fn stored_len(store: &dyn Store) -> Result<u64, LogVerifyError> {
    let watermark =
        read_watermark(store).map_err(|_| VerifyError::Descriptor("bad watermark".into()))?;
    let mut len = 0;
    // The length is the contiguous prefix, but never less than the watermark: a hole below it
    // is a missing entry, reported by verify_records.
    'scan: loop {
        let batch = store.scan(&seq_key(ENTRY, len), &prefix_end(ENTRY), 4096)?;
        if batch.is_empty() {
            break;
        }
        for (k, _) in &batch {
            if seq_of(k) != Some(len) {
                break 'scan;
            }
            len += 1;
        }
    }
    Ok(len.max(watermark))
}

// Verifies entries 0..len and fills a report (SPEC §12.6): a broken entry is a finding.
fn report_records(store: &dyn Store, d: &SignedDescriptor, len: u64) -> Result<Report, StoreError> {
    let mut b = ReportBuilder::new(&d.descriptor().origin, d.suite(), d.log_id());
    let result = verify_records_observed(store, d, len, &mut |e, payload, registry| {
        b.entry(&e.entry, payload, None, registry)
    });
    match result {
        Ok(summary) => {
            if summary.entries > 0 {
                b.proven(format!(
                    "entries 0..={} are each signed (strict Ed25519) by a key registered with \
                         a role allowed to sign their kind, and not revoked",
                    summary.entries - 1
                ));
                b.proven(format!(
                    "the hash chain links every entry to the one before it, from the \
                         descriptor to entry {} (hash {})",
                    summary.entries - 1,
                    summary.tip
                ));
            }
            b.proven(
                "every payload present matches its salted commitment, and every erased \
                     payload is recorded by an owner-signed erasure entry",
            );
        }
        Err(LogVerifyError::Invalid(e)) => b.finding_from(&e),
        Err(LogVerifyError::Store(e)) => return Err(e),
        Err(LogVerifyError::NotALog) => {
            b.finding(None, crate::verify::Check::Descriptor, "no log here")
        }
    }
    Ok(b.finish())
}

fn read_watermark(store: &dyn Store) -> Result<u64, OpenError> {
    match store.get(WATERMARK_KEY)? {
        Some(v) => Ok(u64::from_be_bytes(
            v.as_slice()
                .try_into()
                .map_err(|_| damaged(0, "bad watermark"))?,
        )),
        None => Ok(0),
    }
}

fn verify_records(
    store: &dyn Store,
    descriptor: &SignedDescriptor,
    len: u64,
) -> Result<VerifySummary, LogVerifyError> {
    verify_records_observed(store, descriptor, len, &mut |_, _, _| {})
}

// Observes each verified entry with its payload and the registry as of that entry.
type Observer<'a> = dyn FnMut(&VerifiedEntry, &Payload, &KeyRegistry) + 'a;

fn verify_records_observed(
    store: &dyn Store,
    descriptor: &SignedDescriptor,
    len: u64,
    observe: &mut Observer<'_>,
) -> Result<VerifySummary, LogVerifyError> {
    let suite = descriptor.suite();
    let mut v = ChainVerifier::new(descriptor)?;
    let mut frontier = Frontier::new();
    let mut erased = 0;
    // Stored checkpoints are checked when the tree reaches their size (SPEC §11.6); one larger
    // than the log shows entries were cut from the end.
    let checkpoints = store.scan(
        &seq_key(CHECKPOINTS, 0),
        &prefix_end(CHECKPOINTS),
        usize::MAX,
    )?;
    let origin = crate::checkpoint::LogOrigin::of(descriptor.descriptor())
        .map_err(|e| VerifyError::Descriptor(e.to_string()))?;
    let mut pending = checkpoints.iter().peekable();
    let log_id = descriptor.log_id();
    let mut check_checkpoints = |size: u64,
                                 root: RootHash,
                                 registry: &KeyRegistry,
                                 control: Option<Link>|
     -> Result<(), VerifyError> {
        while let Some((k, bytes)) = pending.next_if(|(k, _)| seq_of(k).is_some_and(|s| s <= size))
        {
            let at = seq_of(k).unwrap_or(0);
            if at == size {
                let expected = StoredState {
                    log_id,
                    size,
                    root,
                    control,
                };
                check_checkpoint(&origin, registry, &expected, bytes)?;
            }
        }
        Ok(())
    };
    check_checkpoints(0, frontier.root(&suite), v.registry(), None)?;
    let end = seq_key(ENTRY, len);
    while v.next_seq() < len {
        let batch = store.scan(&seq_key(ENTRY, v.next_seq()), &end, 4096)?;
        if batch.is_empty() {
            return Err(VerifyError::Missing { seq: v.next_seq() }.into());
        }
        for (k, value) in &batch {
            let seq = v.next_seq();
            if seq_of(k) != Some(seq) {
                return Err(VerifyError::Missing { seq }.into());
            }
            let (entry_bytes, payload, nodes) =
                decode_record(value).map_err(|source| VerifyError::Decode { seq, source })?;
            if matches!(payload, Payload::Erased) {
                erased += 1;
            }
            // A link's target is read from the store; a read that fails is the store's failure,
            // never a link left unchecked.
            let mut unreadable = None;
            let verified = v.push(entry_bytes, &payload, &mut |target: u64| match read_entry(
                store, suite, target,
            ) {
                Ok(found) => found.map(|e| LinkedEntry {
                    hash: e.hash,
                    signer: e.header().signer,
                }),
                Err(e) => {
                    unreadable.get_or_insert(e);
                    None
                }
            });
            match unreadable {
                Some(ReadError::Store(e)) => return Err(e.into()),
                Some(ReadError::Corrupt { seq, source }) => {
                    return Err(VerifyError::Decode { seq, source }.into());
                }
                None => {}
            }
            let verified = verified?;
            // The stored Merkle nodes must be the ones this leaf completes (SPEC §9.1).
            let completed = frontier
                .append(&suite, merkle::leaf_hash(suite, &verified.hash))
                .map_err(|_| VerifyError::StoredNodes { seq })?;
            if node_bytes(&completed) != nodes {
                return Err(VerifyError::StoredNodes { seq }.into());
            }
            for (level, index, hash) in keyed_nodes(&completed) {
                if store.get(&node_key(level, index))?.as_deref() != Some(&hash[..]) {
                    return Err(VerifyError::StoredNodes { seq }.into());
                }
            }
            check_checkpoints(seq + 1, frontier.root(&suite), v.registry(), v.control())?;
            observe(&verified, &payload, v.registry());
        }
    }
    if let Some((k, _)) = pending.next() {
        let size = seq_of(k).unwrap_or(0);
        return Err(VerifyError::Checkpoint {
            size,
            problem: CheckpointProblem::BeyondLog { size, len },
        }
        .into());
    }
    v.finish()?;
    Ok(VerifySummary {
        entries: len,
        tip: v.tip(),
        root: frontier.root(&suite),
        erased,
    })
}

// What a stored checkpoint of the log at `size` must say (SPEC §9.4).
struct StoredState {
    log_id: LogId,
    size: u64,
    root: RootHash,
    control: Option<Link>,
}

// A stored checkpoint of `size` must parse as a checkpoint of this log, be signed by an owner key
// the log had at that point (under the origin line's name, SPEC §11.3), carry the root computed
// from the entries, and name this log and its control head at that size (SPEC §11.2).
fn check_checkpoint(
    origin: &crate::checkpoint::LogOrigin,
    registry: &KeyRegistry,
    expected: &StoredState,
    bytes: &[u8],
) -> Result<(), VerifyError> {
    let size = expected.size;
    let problem = |problem| VerifyError::Checkpoint { size, problem };
    let name = origin.checkpoint_origin();
    let owners: Vec<crate::keys::PublicKey> = registry
        .iter()
        .filter(|r| r.role == crate::registry::Role::Owner)
        .filter_map(|r| crate::keys::PublicKey::from_bytes(&name, r.key.as_bytes()).ok())
        .collect();
    let trust = crate::checkpoint::CheckpointTrust::new(
        origin.clone(),
        owners,
        crate::checkpoint::Witnesses::NotRequired,
    )
    .map_err(|e| problem(CheckpointProblem::Signature(e.to_string())))?
    .with_log_id(expected.log_id);
    let verified = trust.verify_bytes(bytes).map_err(|e| match e {
        crate::checkpoint::CheckpointVerifyError::Owner(e) => {
            problem(CheckpointProblem::Signature(e.to_string()))
        }
        other => problem(CheckpointProblem::Unreadable(other.to_string())),
    })?;
    if verified.size() != size {
        return Err(problem(CheckpointProblem::Unreadable(format!(
            "stored under size {size} but says {}",
            verified.size()
        ))));
    }
    if verified.root() != expected.root {
        return Err(problem(CheckpointProblem::RootMismatch {
            expected: expected.root,
            found: verified.root(),
        }));
    }
    if verified.control() != expected.control {
        return Err(problem(CheckpointProblem::Unreadable(format!(
            "it names control entry {}, but the log's latest control entry below it is {}",
            crate::verify::describe_control(&verified.control()),
            crate::verify::describe_control(&expected.control)
        ))));
    }
    Ok(())
}

/// Why a payload could not be erased.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EraseError {
    /// No entry at that position.
    #[error("no entry {0}")]
    NoSuchEntry(u64),
    /// The payload is needed to verify the log.
    #[error("entry {seq}: the payload of {} entry cannot be erased", crate::text::AKind(.kind))]
    Required {
        /// The entry.
        seq: u64,
        /// Its kind.
        kind: String,
    },
    /// Reading failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The erasure entry could not be appended (for example, the key is not an owner's).
    #[error(transparent)]
    Append(#[from] AppendError),
    /// Writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An iterator over stored entries, reading the store in pages.
#[derive(Debug)]
pub struct Entries<'a> {
    log: &'a Log,
    next: u64,
    end: u64,
    // Pages grow from small (a session run may be one entry long) to large (a long range).
    page: usize,
    buffer: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
}

impl Iterator for Entries<'_> {
    type Item = Result<StoredEntry, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let pair = match self.buffer.next() {
            Some(p) => p,
            None => {
                let page = match self.log.inner.store.scan(
                    &seq_key(ENTRY, self.next),
                    &seq_key(ENTRY, self.end),
                    self.page,
                ) {
                    Ok(p) => p,
                    Err(e) => {
                        self.next = self.end;
                        return Some(Err(e.into()));
                    }
                };
                self.page = (self.page * 2).min(1024);
                self.buffer = page.into_iter();
                self.buffer.next()?
            }
        };
        let seq = self.next;
        self.next += 1;
        if seq_of(&pair.0) != Some(seq) {
            self.next = self.end;
            return Some(Err(ReadError::Corrupt {
                seq,
                source: DecodeError::UnexpectedType {
                    offset: 0,
                    expected: "the entry at this position (it is missing)",
                },
            }));
        }
        Some(decode_stored(self.log.suite(), seq, &pair.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn owner() -> SecretKey {
        SecretKey::from_seed("example.com/log-test", &[1; 32]).unwrap()
    }

    // A store that fails every read of one key.
    #[derive(Debug)]
    struct FailingGet {
        inner: Arc<MemoryStore>,
        key: Vec<u8>,
    }

    impl Store for FailingGet {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            if key == self.key {
                return Err(StoreError::Io(std::io::Error::other("the disk is gone")));
            }
            self.inner.get(key)
        }
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
            self.inner.put(key, value)
        }
        fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
            self.inner.delete(key)
        }
        fn scan(
            &self,
            start: &[u8],
            end: &[u8],
            limit: usize,
        ) -> Result<Vec<crate::store::Pair>, StoreError> {
            self.inner.scan(start, end, limit)
        }
        fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<crate::store::Pair>, StoreError> {
            self.inner.last(start, end)
        }
        fn flush(&self) -> Result<(), StoreError> {
            self.inner.flush()
        }
    }

    // Verification reads a link's target from the store: a read that fails is a store error,
    // not a link that goes unchecked.
    #[test]
    fn a_link_target_that_cannot_be_read_is_a_store_error() {
        let store = Arc::new(MemoryStore::new());
        let log = Log::builder()
            .create_in(store.clone(), &owner(), "example.com/log-test")
            .unwrap();
        let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
        log.register_key(&owner(), recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        let note = |i: u8| {
            let body = crate::event::Custom::new("example.com/note", &i).unwrap();
            crate::event::Event::Custom(body).to_record().unwrap()
        };
        let first = log.append(&recorder, note(1)).unwrap();
        log.append(&recorder, note(2).link(first.link())).unwrap();
        drop(log);
        verify_store(store.as_ref()).unwrap();
        let failing = FailingGet {
            inner: store,
            key: seq_key(ENTRY, first.seq).to_vec(),
        };
        assert!(
            matches!(verify_store(&failing), Err(LogVerifyError::Store(_))),
            "{:?}",
            verify_store(&failing)
        );
    }

    #[test]
    fn a_stored_log_is_reported_without_opening_it() {
        let store = Arc::new(MemoryStore::new());
        let log = Log::builder()
            .create_in(store.clone(), &owner(), "example.com/log-test")
            .unwrap();
        let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
        log.register_key(&owner(), recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        for i in 0..4u8 {
            let note = crate::event::Custom::new("example.com/note", &i).unwrap();
            let record = crate::event::Event::Custom(note).to_record().unwrap();
            log.append(&recorder, record).unwrap();
        }
        drop(log);
        let report = verify_store_report(store.as_ref()).unwrap();
        assert!(report.is_valid(), "{}", report.render());
        assert_eq!(report.entries, 5);

        let key = seq_key(ENTRY, 3);
        let mut bad = store.get(&key).unwrap().unwrap();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        store.put(&key, &bad).unwrap();
        let report = verify_store_report(store.as_ref()).unwrap();
        assert!(!report.is_valid());
        assert_eq!(report.findings[0].seq, Some(3), "{}", report.render());

        // Entries written but not yet flushed (no durable watermark covers them) are verified
        // too: the stored length is the contiguous prefix.
        let buffered_store = Arc::new(MemoryStore::new());
        let buffered = Log::builder()
            .durability(Durability::Buffered)
            .create_in(buffered_store.clone(), &owner(), "example.com/log-test")
            .unwrap();
        buffered
            .register_key(&owner(), recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        let report = verify_store_report(buffered_store.as_ref()).unwrap();
        assert_eq!(report.entries, 1, "{}", report.render());
        drop(buffered);

        let empty = MemoryStore::new();
        assert!(matches!(
            verify_store_report(&empty),
            Err(LogVerifyError::NotALog)
        ));
    }

    #[cfg(feature = "sled")]
    #[test]
    fn opening_waits_for_another_holder_of_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = Log::create(&path, &owner(), "example.com/log-test").unwrap();
        // One holder at a time: a second open in this process fails at once, and says where
        // the log is open…
        let second = Log::open(&path).unwrap_err();
        assert!(
            matches!(
                second,
                OpenError::Store(StoreError::OpenInThisProcess { .. })
            ),
            "{second:?}"
        );
        assert!(
            second.to_string().contains("already open in this process"),
            "{second}"
        );
        // …unless it waits for the holder to close it.
        let holder = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(log);
        });
        let opened = Log::builder()
            .lock_wait(std::time::Duration::from_secs(30))
            .open(&path);
        holder.join().unwrap();
        assert_eq!(opened.unwrap().len(), 0);
    }
}
