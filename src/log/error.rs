//! Why log operations fail: opening, appending, reading, verifying.

use super::*;

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
    /// The log directory's tiles (SPEC §9.8) are behind its latest checkpoint and could not
    /// be brought up to date.
    #[error("the log directory's tiles: {0}")]
    Tiles(#[from] super::LogTilesError),
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
    /// A `review_policy` record that is not one (SPEC §13.14).
    #[error("record {index}: {problem}")]
    ReviewPolicy {
        /// Index of the record in the call.
        index: usize,
        /// What is wrong.
        problem: crate::policy::PolicyProblem,
    },
    /// A retention, legal-hold, release or purge record that is not one, or does not apply to
    /// the log as it is (SPEC §7.6–§7.8).
    #[error("record {index}: {problem}")]
    Lifecycle {
        /// Index of the record in the call.
        index: usize,
        /// What is wrong.
        problem: crate::retention::LifecycleProblem,
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
