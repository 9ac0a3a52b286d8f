//! Entry-by-entry verification of a log's hash chain (SPEC §8).
//!
//! [`ChainVerifier`] is a streaming state machine: it holds the key registry and the chain's tip,
//! never the entries, so memory does not grow with the log. Both the local log's `verify()` and
//! bundle verification drive it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::approval::{Approval, check_not_own_work};
pub use crate::approval::{ApprovalProblem, LinkedEntry};
use crate::codec::{DecodeError, check_canonical, from_canonical};
use crate::descriptor::SignedDescriptor;
use crate::entry::{Entry, Erasure, Kind, Link, MAX_PAYLOAD_LEN, Payload};
use crate::hash::{EntryHash, LogId, Suite};
use crate::keys::{KeyId, verify_strict};
use crate::registry::{KeyChange, KeyRecord, KeyRegistry, RegistryError, SignerError};
use crate::time::Timestamp;

/// The check an entry failed, named as in SPEC §8.3 and in reports (serialized as
/// [`Check::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Check {
    /// The descriptor decodes and its signature verifies.
    Descriptor,
    /// The entry decodes in the canonical profile.
    Decode,
    /// The entry sits at the position its sequence number says.
    Sequence,
    /// The entry names this log.
    LogId,
    /// The entry's `prev` is the hash of the entry before it.
    Chain,
    /// The entry's `control` field names the latest control entry before it, and the control
    /// entries a bundle carries form the log's whole control chain (SPEC §7.5).
    Control,
    /// Time never goes backwards, and stays within what anchors bound.
    Time,
    /// The signer is registered, not revoked, and its role may sign the kind.
    Signer,
    /// The signature verifies.
    Signature,
    /// Causal links point at the entries they name.
    Link,
    /// The payload matches its commitment and is canonical.
    Payload,
    /// A key-management entry applies to the registry.
    Registry,
    /// Every erased payload is accounted for by an `erasure` entry, and erasure entries are
    /// well-formed.
    Erasure,
    /// An approval is well-formed, covers what it links to, and is not the approver's own work
    /// (SPEC §13.5).
    Approval,
    /// A merge of a change touching paths a review policy declares senior was not approved by
    /// a review signed by a senior key (SPEC §13.14).
    SeniorReview,
    /// A retention declaration or purge breaks a rule: a retention under six months without
    /// acknowledgement, a malformed purge, or a purge of a payload whose retention had not ended
    /// (SPEC §7.6, §7.8).
    Retention,
    /// A legal hold or release breaks a rule, or a purge was written while a hold was active
    /// (SPEC §7.7, §7.8).
    LegalHold,
    /// Merkle tree hashes match the entries: stored nodes, roots, inclusion and consistency
    /// proofs (SPEC §10, §12).
    Merkle,
    /// A checkpoint is signed by an owner key and its root matches the entries it covers
    /// (SPEC §11).
    Checkpoint,
    /// An RFC 3161 timestamp token a bundle carries does not verify against the trusted TSA
    /// certificate, or does not timestamp one of the bundle's checkpoints (SPEC §12.7).
    Timestamp,
    /// A renewal (SPEC §15.6) does not verify, is not of these entries, or — with the log's
    /// suite distrusted — entries are not covered by a renewal that verified.
    Renewal,
}

// `Check::ALL` and `Check::as_str` from one list: `as_str`'s match is exhaustive, so a new check
// does not compile until it is listed here, and then it is in `ALL` too.
macro_rules! checks {
    ($($variant:ident => $name:literal,)*) => {
        impl Check {
            /// Every check, in the order of SPEC §8.3 (the report schema's enumeration).
            pub const ALL: &'static [Check] = &[$(Check::$variant,)*];

            /// The check's name in reports and JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Check::$variant => $name,)*
                }
            }
        }
    };
}

checks! {
    Descriptor => "descriptor",
    Decode => "decode",
    Sequence => "sequence",
    LogId => "log_id",
    Chain => "chain",
    Control => "control",
    Time => "time",
    Signer => "signer",
    Signature => "signature",
    Link => "link",
    Payload => "payload",
    Registry => "registry",
    Erasure => "erasure",
    Approval => "approval",
    SeniorReview => "senior_review",
    Retention => "retention",
    LegalHold => "legal_hold",
    Merkle => "merkle",
    Checkpoint => "checkpoint",
    Timestamp => "timestamp",
    Renewal => "renewal",
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadProblem {
    /// The payload and salt do not hash to the commitment in the header.
    #[error("payload does not match its commitment")]
    Mismatch,
    /// The payload is over the format's size limit.
    #[error("payload of {0} bytes is over the 16 MiB limit")]
    TooLarge(usize),
    /// The payload is not one item in the canonical profile.
    #[error("payload is not canonical CBOR: {0}")]
    Encoding(DecodeError),
    /// The payload is absent but this kind needs it to verify the log.
    #[error(
        "payload of {} entry is needed to verify the log but is absent",
        crate::text::AKind(.0)
    )]
    Required(String),
    /// A `review_policy` payload is malformed (SPEC §13.14).
    #[error(transparent)]
    ReviewPolicy(crate::policy::PolicyProblem),
}

/// What is wrong with a causal link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkProblem {
    /// The linked entry's hash is not the one the link names.
    #[error("link {index} names entry {target} with hash {}, but that entry's hash is {}", .named.short(), .actual.short())]
    HashMismatch {
        /// Index of the link in the entry.
        index: usize,
        /// The linked sequence number.
        target: u64,
        /// The hash the link names.
        named: EntryHash,
        /// The linked entry's actual hash.
        actual: EntryHash,
    },
}

/// What is wrong with a stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointProblem {
    /// It does not parse, or names another log.
    #[error("unreadable: {0}")]
    Unreadable(String),
    /// No owner key of the log signed it.
    #[error("not signed by an owner key of the log: {0}")]
    Signature(String),
    /// Its root is not the root of the entries it covers.
    #[error("root {} is not the root {} of the entries it covers", .found.short(), .expected.short())]
    RootMismatch {
        /// The root computed from the entries.
        expected: crate::hash::RootHash,
        /// The root in the checkpoint.
        found: crate::hash::RootHash,
    },
    /// It covers more entries than the log has: entries were truncated from the end.
    #[error("it covers {size} entries but the log has {len}: the log was truncated")]
    BeyondLog {
        /// The checkpoint's size.
        size: u64,
        /// Entries present.
        len: u64,
    },
}

/// What is wrong with an erasure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErasureProblem {
    /// The payload is gone but no `erasure` entry records its removal.
    #[error("payload is erased but no erasure entry records it")]
    Unrecorded,
    /// An `erasure` entry must link to exactly the one entry it erased.
    #[error("an erasure entry must link to exactly one entry, found {0}")]
    LinkCount(usize),
    /// The erasure payload is larger than a control payload may be.
    #[error("erasure payload of {0} bytes is over the 64 KiB limit")]
    TooLarge(usize),
    /// The erasure payload is not the expected structure.
    #[error("erasure payload: {0}")]
    Payload(DecodeError),
}

/// The first thing wrong with a log, naming the entry and the check (SPEC §8.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The descriptor does not decode or its signature does not verify.
    #[error("descriptor: {0}")]
    Descriptor(String),
    /// The entry does not decode.
    #[error("entry {seq}: does not decode: {source}")]
    Decode {
        /// The position.
        seq: u64,
        /// Why.
        source: DecodeError,
    },
    /// The entry at this position is missing.
    #[error("entry {seq}: missing")]
    Missing {
        /// The position.
        seq: u64,
    },
    /// The entry at this position carries another sequence number (dropped, duplicated or
    /// reordered entries).
    #[error(
        "entry {seq}: carries sequence number {found}; entries were dropped, duplicated or reordered"
    )]
    Sequence {
        /// The position.
        seq: u64,
        /// The sequence number in the entry.
        found: u64,
    },
    /// The entry names another log.
    #[error("entry {seq}: belongs to log {}, not this one", .found.short())]
    LogId {
        /// The position.
        seq: u64,
        /// The log id in the entry.
        found: LogId,
    },
    /// The entry's `prev` is not the hash of the entry before it.
    #[error("entry {seq}: chain broken: prev is {}, the previous entry hashes to {}", .found.short(), .expected.short())]
    Chain {
        /// The position.
        seq: u64,
        /// The hash of the entry before.
        expected: EntryHash,
        /// The `prev` in the entry.
        found: EntryHash,
    },
    /// The entry does not name the latest control entry before it (SPEC §7.5).
    #[error("entry {seq}: its control link names {}, but the latest control entry before it is {}", describe_control(.found), describe_control(.expected))]
    Control {
        /// The position.
        seq: u64,
        /// The latest control entry before it.
        expected: Option<Link>,
        /// What the entry names.
        found: Option<Link>,
    },
    /// The entry's time is before the one before it.
    #[error("entry {seq}: time {found} is before the previous time {previous}")]
    Time {
        /// The position.
        seq: u64,
        /// The previous entry's time (or the log's creation).
        previous: Timestamp,
        /// This entry's time.
        found: Timestamp,
    },
    /// The signer may not sign this entry.
    #[error("entry {seq}: {source}")]
    Signer {
        /// The position.
        seq: u64,
        /// Why.
        source: SignerError,
    },
    /// The signature does not verify under the signer's key.
    #[error("entry {seq}: signature does not verify under key {}", .key.short())]
    Signature {
        /// The position.
        seq: u64,
        /// The signer named in the header.
        key: KeyId,
    },
    /// A causal link is wrong.
    #[error("entry {seq}: {problem}")]
    Link {
        /// The position.
        seq: u64,
        /// What is wrong.
        problem: LinkProblem,
    },
    /// The payload is wrong.
    #[error("entry {seq}: {problem}")]
    Payload {
        /// The position.
        seq: u64,
        /// What is wrong.
        problem: PayloadProblem,
    },
    /// A key-management entry does not apply.
    #[error("entry {seq}: {source}")]
    Registry {
        /// The position.
        seq: u64,
        /// Why.
        source: RegistryError,
    },
    /// An erased payload is unaccounted for, or an erasure entry is malformed.
    #[error("entry {seq}: {problem}")]
    Erasure {
        /// The position.
        seq: u64,
        /// What is wrong.
        problem: ErasureProblem,
    },
    /// An approval is malformed, does not link what it approves, or approves its signer's own
    /// work.
    #[error("entry {seq}: {problem}")]
    Approval {
        /// The position.
        seq: u64,
        /// What is wrong.
        problem: ApprovalProblem,
    },
    /// A retention, legal-hold or release entry is malformed or does not apply (SPEC §7.6,
    /// §7.7).
    #[error("entry {seq}: {problem}")]
    Lifecycle {
        /// The position.
        seq: u64,
        /// What is wrong.
        problem: crate::retention::LifecycleProblem,
    },
    /// A purge breaks a rule of SPEC §7.8: written under a legal hold, or removing a payload
    /// whose retention had not ended. `seq` is the purge entry.
    #[error("entry {seq}: {problem}")]
    Purge {
        /// The purge entry.
        seq: u64,
        /// What is wrong.
        problem: crate::retention::PurgeProblem,
    },
    /// The Merkle nodes stored with the entry are not the ones its leaf completes.
    #[error("entry {seq}: stored Merkle nodes do not match the tree computed from the entries")]
    StoredNodes {
        /// The position.
        seq: u64,
    },
    /// A stored checkpoint is wrong.
    #[error("checkpoint of size {size}: {problem}")]
    Checkpoint {
        /// The checkpoint's tree size.
        size: u64,
        /// What is wrong.
        problem: CheckpointProblem,
    },
}

impl VerifyError {
    /// The entry at fault, if the error is about one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            VerifyError::Descriptor(_) | VerifyError::Checkpoint { .. } => None,
            VerifyError::Decode { seq, .. }
            | VerifyError::Missing { seq }
            | VerifyError::Sequence { seq, .. }
            | VerifyError::LogId { seq, .. }
            | VerifyError::Chain { seq, .. }
            | VerifyError::Control { seq, .. }
            | VerifyError::Time { seq, .. }
            | VerifyError::Signer { seq, .. }
            | VerifyError::Signature { seq, .. }
            | VerifyError::Link { seq, .. }
            | VerifyError::Payload { seq, .. }
            | VerifyError::Registry { seq, .. }
            | VerifyError::Erasure { seq, .. }
            | VerifyError::Approval { seq, .. }
            | VerifyError::Lifecycle { seq, .. }
            | VerifyError::Purge { seq, .. }
            | VerifyError::StoredNodes { seq } => Some(*seq),
        }
    }

    /// The check that failed.
    pub fn check(&self) -> Check {
        match self {
            VerifyError::Descriptor(_) => Check::Descriptor,
            VerifyError::Decode { .. } => Check::Decode,
            VerifyError::Missing { .. } | VerifyError::Sequence { .. } => Check::Sequence,
            VerifyError::LogId { .. } => Check::LogId,
            VerifyError::Chain { .. } => Check::Chain,
            VerifyError::Control { .. } => Check::Control,
            VerifyError::Time { .. } => Check::Time,
            VerifyError::Signer { .. } => Check::Signer,
            VerifyError::Signature { .. } => Check::Signature,
            VerifyError::Link { .. } => Check::Link,
            VerifyError::Payload { .. } => Check::Payload,
            VerifyError::Registry { .. } => Check::Registry,
            VerifyError::Erasure { .. } => Check::Erasure,
            VerifyError::StoredNodes { .. } => Check::Merkle,
            VerifyError::Checkpoint { .. } => Check::Checkpoint,
            VerifyError::Approval { .. } => Check::Approval,
            VerifyError::Lifecycle { problem, .. } if problem.is_hold() => Check::LegalHold,
            VerifyError::Lifecycle { .. } => Check::Retention,
            VerifyError::Purge {
                problem: crate::retention::PurgeProblem::UnderHold { .. },
                ..
            } => Check::LegalHold,
            VerifyError::Purge { .. } => Check::Retention,
        }
    }
}

/// A control link in words: `entry N (hash…)` or `none`.
pub fn describe_control(link: &Option<Link>) -> String {
    match link {
        Some(l) => format!("entry {} ({})", l.seq, l.hash.short()),
        None => "none".to_owned(),
    }
}

/// An entry that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedEntry {
    /// The entry.
    pub entry: Entry,
    /// Its hash.
    pub hash: EntryHash,
}

/// Checks a payload against the entry it belongs to (SPEC §8.2, step 9). An erased payload is
/// accepted unless the kind needs it to verify the log.
pub fn check_payload(suite: Suite, entry: &Entry, payload: &Payload) -> Result<(), PayloadProblem> {
    let h = entry.header();
    match payload {
        Payload::Present { data, .. } => {
            if data.len() > MAX_PAYLOAD_LEN {
                return Err(PayloadProblem::TooLarge(data.len()));
            }
            if !payload.matches(suite, &h.payload) {
                return Err(PayloadProblem::Mismatch);
            }
            check_canonical(data).map_err(PayloadProblem::Encoding)
        }
        Payload::Erased if payload_required(&h.kind) => {
            Err(PayloadProblem::Required(h.kind.as_str().to_owned()))
        }
        Payload::Erased => Ok(()),
    }
}

/// Whether a kind's payload must always be present: key management (the registry is built from
/// it), approvals (the signature's meaning is in it) and erasures (the reason is in it).
pub fn payload_required(kind: &Kind) -> bool {
    kind.is_control() || kind.as_str() == Kind::APPROVAL
}

/// Verifies a log entry by entry, in order, from entry 0 (SPEC §8.2).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    suite: Suite,
    log_id: LogId,
    content: ContentChecks,
    next_seq: u64,
    prev: EntryHash,
    control: Option<Link>,
    last_time: Timestamp,
}

impl ChainVerifier {
    /// Starts from a verified descriptor.
    pub fn new(descriptor: &SignedDescriptor) -> Result<Self, VerifyError> {
        let registry = KeyRegistry::genesis(descriptor.descriptor())
            .map_err(|e| VerifyError::Descriptor(e.to_string()))?;
        Ok(ChainVerifier {
            suite: descriptor.suite(),
            log_id: descriptor.log_id(),
            content: ContentChecks::new(descriptor.suite(), registry),
            next_seq: 0,
            prev: EntryHash(descriptor.log_id().0),
            control: None,
            last_time: descriptor.descriptor().created,
        })
    }

    /// The sequence number the next entry must carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The hash of the last entry verified (the log id before any).
    pub fn tip(&self) -> EntryHash {
        self.prev
    }

    /// The latest control entry verified (SPEC §7.5): the control head of the log so far.
    pub fn control(&self) -> Option<Link> {
        self.control
    }

    /// The key registry as of the last entry verified.
    pub fn registry(&self) -> &KeyRegistry {
        &self.content.registry
    }

    /// Verifies the next entry and its payload. `linked` returns the hash and signer of an
    /// earlier entry by sequence number, so causal links and approval subjects can be checked;
    /// the local log reads it from storage. An entry it cannot supply is not checked.
    pub fn push(
        &mut self,
        entry_bytes: &[u8],
        payload: &Payload,
        linked: &mut dyn FnMut(u64) -> Option<LinkedEntry>,
    ) -> Result<VerifiedEntry, VerifyError> {
        let seq = self.next_seq;
        let entry =
            Entry::from_bytes(entry_bytes).map_err(|source| VerifyError::Decode { seq, source })?;
        let prepared = PreparedEntry::unchecked(self.suite, entry);
        self.push_prepared(prepared, payload, linked)
    }

    /// [`ChainVerifier::push`] for an entry decoded and hashed beforehand, perhaps on another
    /// thread, with its signature and payload perhaps checked there too ([`PreparedEntry`]):
    /// the same checks in the same order, so the first failure is the same one.
    pub(crate) fn push_prepared(
        &mut self,
        prepared: PreparedEntry,
        payload: &Payload,
        linked: &mut dyn FnMut(u64) -> Option<LinkedEntry>,
    ) -> Result<VerifiedEntry, VerifyError> {
        let seq = self.next_seq;
        let PreparedEntry {
            entry,
            hash,
            signature,
            payload: payload_check,
        } = prepared;
        let h = entry.header();
        if h.seq != seq {
            return Err(VerifyError::Sequence { seq, found: h.seq });
        }
        if h.log_id != self.log_id {
            return Err(VerifyError::LogId {
                seq,
                found: h.log_id,
            });
        }
        if h.prev != self.prev {
            return Err(VerifyError::Chain {
                seq,
                expected: self.prev,
                found: h.prev,
            });
        }
        if h.control != self.control {
            return Err(VerifyError::Control {
                seq,
                expected: self.control,
                found: h.control,
            });
        }
        if h.time < self.last_time {
            return Err(VerifyError::Time {
                seq,
                previous: self.last_time,
                found: h.time,
            });
        }
        let signer = self.content.check_signer(&entry)?;
        // A registered key is the one its id's bytes parse to (SPEC §4.1), so a signature
        // checked ahead under the header's key id was checked under the registered key.
        let valid = match signature {
            Early::Done(valid) => valid,
            Early::Pending => verify_strict(
                signer.verifying_key(),
                &entry.signing_input(),
                entry.signature(),
            ),
        };
        if !valid {
            return Err(VerifyError::Signature { seq, key: h.signer });
        }
        self.content.check_rest_early(
            &entry,
            payload,
            payload_check,
            Absence::Erased,
            Occurrence::First,
            linked,
        )?;
        if h.kind.is_control() {
            self.control = Some(Link { seq, hash });
        }
        self.prev = hash;
        self.last_time = h.time;
        self.next_seq = seq.saturating_add(1);
        Ok(VerifiedEntry { entry, hash })
    }

    /// Ends verification: fails if an erased payload was never accounted for by an erasure
    /// entry (SPEC §8.2, step 3).
    pub fn finish(&self) -> Result<(), VerifyError> {
        self.content.finish()
    }
}

/// A check of SPEC §8.2 that depends on the entry alone, run ahead of the ordered checks (on
/// whichever thread is free), or left to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Early<T> {
    /// Run ahead: its outcome, consulted in the check's place among the ordered checks.
    Done(T),
    /// Not run yet: the ordered checks run it in its place.
    Pending,
}

/// `items` cut in order into parts of `per` items (the last may hold fewer), one per thread
/// that checks them.
pub(crate) fn split_parts<T>(items: Vec<T>, per: usize) -> Vec<Vec<T>> {
    let per = per.max(1);
    let mut parts = Vec::with_capacity(items.len().div_ceil(per));
    let mut rest = items;
    while rest.len() > per {
        let tail = rest.split_off(per);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    parts
}

/// The parsed keys of the signers seen so far, by key id (`None`: the id is not a usable key).
/// Parsing a key costs a fifth of a signature verification; a few signers sign many entries.
pub(crate) type SignerKeys = std::collections::HashMap<KeyId, Option<ed25519_dalek::VerifyingKey>>;

/// An entry decoded and hashed ahead of the ordered checks, with its signature (step 7) and
/// payload (step 9) checked ahead or left pending: [`ChainVerifier::push_prepared`] consults
/// them in their place, so the first failure is the one [`ChainVerifier::push`] names.
#[derive(Debug, Clone)]
pub(crate) struct PreparedEntry {
    entry: Entry,
    hash: EntryHash,
    signature: Early<bool>,
    payload: Early<Result<(), PayloadProblem>>,
}

impl PreparedEntry {
    /// Hashed only: the signature and payload are checked in order.
    pub(crate) fn unchecked(suite: Suite, entry: Entry) -> PreparedEntry {
        let hash = entry.hash(suite);
        PreparedEntry {
            entry,
            hash,
            signature: Early::Pending,
            payload: Early::Pending,
        }
    }

    /// Decodes `entry_bytes` as [`ChainVerifier::push`] does, hashes the entry, checks its
    /// signature strictly under the key its header names (parsed as the registry parses a
    /// registered key, SPEC §4.1) and checks `payload` against it ([`check_payload`]).
    pub(crate) fn checked(
        suite: Suite,
        entry_bytes: &[u8],
        payload: &Payload,
        keys: &mut SignerKeys,
    ) -> Result<PreparedEntry, DecodeError> {
        let entry = Entry::from_bytes(entry_bytes)?;
        let hash = entry.hash(suite);
        let id = entry.header().signer;
        let valid = keys
            .entry(id)
            .or_insert_with(|| crate::keys::verifying_key(id.as_bytes()).ok())
            .as_ref()
            .is_some_and(|k| verify_strict(k, &entry.signing_input(), entry.signature()));
        let payload = check_payload(suite, &entry, payload);
        Ok(PreparedEntry {
            entry,
            hash,
            signature: Early::Done(valid),
            payload: Early::Done(payload),
        })
    }
}

/// Why a payload is absent, for the checks that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absence {
    /// Erased from the log: an `erasure` entry must account for it (SPEC §6.5).
    Erased,
    /// Left out of a bundle by its exporter (SPEC §12): the log still has it.
    Withheld,
}

/// Whether an entry is checked for the first time, or repeats one already checked and applied
/// (an entry item that repeats a bundle's control item, SPEC §12.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occurrence {
    /// Checked and applied: key changes go to the registry, erasures are recorded.
    First,
    /// Checked by the same rules, but its key change or erasure is not applied a second time.
    Repeat,
}

/// The checks of SPEC §8.2 that do not depend on an entry's position: signer, causal links,
/// payload, erasure, key management and approvals, with the state they need. Shared by the
/// chain verifier and bundle verification.
#[derive(Debug, Clone)]
pub struct ContentChecks {
    suite: Suite,
    registry: KeyRegistry,
    /// Absent payloads no erasure entry has recorded yet, with their entry's time: at the end,
    /// each must be accounted for by an erasure or a purge (SPEC §6.5, §7.8).
    unrecorded_erasures: BTreeMap<u64, Timestamp>,
    /// Entries an erasure entry was seen for before the entry itself (a bundle's control
    /// entries come first).
    recorded_erasures: BTreeSet<u64>,
    /// Retentions, legal holds and purges so far (SPEC §7.6–§7.8).
    lifecycle: crate::retention::Lifecycle,
}

impl ContentChecks {
    /// Checks starting from a registry.
    pub fn new(suite: Suite, registry: KeyRegistry) -> Self {
        ContentChecks {
            suite,
            registry,
            unrecorded_erasures: BTreeMap::new(),
            recorded_erasures: BTreeSet::new(),
            lifecycle: crate::retention::Lifecycle::new(),
        }
    }

    /// The key registry.
    pub fn registry(&self) -> &KeyRegistry {
        &self.registry
    }

    /// Applies a key-management or erasure entry seen out of band (a bundle's control entries),
    /// after its own checks.
    pub fn registry_mut(&mut self) -> &mut KeyRegistry {
        &mut self.registry
    }

    /// Step 6: the signer is registered, not revoked as of the entry, and allowed its kind.
    pub fn check_signer(&self, entry: &Entry) -> Result<&KeyRecord, VerifyError> {
        let h = entry.header();
        self.registry
            .check_signer(h.seq, &h.signer, &h.kind)
            .map_err(|source| VerifyError::Signer { seq: h.seq, source })
    }

    /// The steps after the signature for an entry whose signature has been checked: causal links
    /// (where `linked` knows the target), the payload, erasures, key management and approvals.
    /// `absence` says why a payload is missing when it is; `occurrence` whether the entry's
    /// effects on the registry and erasure record are applied.
    pub fn check_rest(
        &mut self,
        entry: &Entry,
        payload: &Payload,
        absence: Absence,
        occurrence: Occurrence,
        linked: &mut dyn FnMut(u64) -> Option<LinkedEntry>,
    ) -> Result<(), VerifyError> {
        self.check_rest_early(entry, payload, Early::Pending, absence, occurrence, linked)
    }

    /// [`ContentChecks::check_rest`] with the payload check (step 9) perhaps run ahead.
    pub(crate) fn check_rest_early(
        &mut self,
        entry: &Entry,
        payload: &Payload,
        payload_check: Early<Result<(), PayloadProblem>>,
        absence: Absence,
        occurrence: Occurrence,
        linked: &mut dyn FnMut(u64) -> Option<LinkedEntry>,
    ) -> Result<(), VerifyError> {
        let h = entry.header();
        let seq = h.seq;
        let is_approval = h.kind.as_str() == Kind::APPROVAL;
        let is_review = h.kind.as_str() == "review";
        // The signers of linked entries, kept for approvals and reviews only (SPEC §8.2 step
        // 12).
        let mut signers = Vec::new();
        for (index, link) in h.links.iter().enumerate() {
            if let Some(target) = linked(link.seq) {
                if is_approval || is_review {
                    signers.push((link.seq, target.signer));
                }
                if target.hash != link.hash {
                    return Err(VerifyError::Link {
                        seq,
                        problem: LinkProblem::HashMismatch {
                            index,
                            target: link.seq,
                            named: link.hash,
                            actual: target.hash,
                        },
                    });
                }
            }
        }
        match payload_check {
            Early::Done(checked) => checked,
            Early::Pending => check_payload(self.suite, entry, payload),
        }
        .map_err(|problem| VerifyError::Payload { seq, problem })?;
        if h.kind.as_str() == Kind::ERASURE {
            let erasure = |problem| VerifyError::Erasure { seq, problem };
            if let Some(data) = payload.data() {
                if data.len() > crate::registry::MAX_CONTROL_PAYLOAD_LEN {
                    return Err(erasure(ErasureProblem::TooLarge(data.len())));
                }
                from_canonical::<Erasure>(data).map_err(|e| erasure(ErasureProblem::Payload(e)))?;
            }
            match h.links.as_slice() {
                [target] if occurrence == Occurrence::First => {
                    self.unrecorded_erasures.remove(&target.seq);
                    self.recorded_erasures.insert(target.seq);
                }
                [_] => {}
                other => return Err(erasure(ErasureProblem::LinkCount(other.len()))),
            }
        }
        if matches!(payload, Payload::Erased)
            && absence == Absence::Erased
            && !self.recorded_erasures.contains(&seq)
        {
            self.unrecorded_erasures.insert(seq, h.time);
        }
        if crate::retention::is_lifecycle_kind(h.kind.as_str()) {
            if let Some(data) = payload.data() {
                self.check_lifecycle(entry, data, occurrence)?;
            }
        }
        if h.kind.as_str() == crate::policy::REVIEW_POLICY {
            if let Some(data) = payload.data() {
                crate::policy::ReviewPolicy::decode(data).map_err(|p| VerifyError::Payload {
                    seq,
                    problem: PayloadProblem::ReviewPolicy(p),
                })?;
            }
        }
        if let Some(change) = payload.data().and_then(|d| KeyChange::decode(&h.kind, d)) {
            let change = change.map_err(|source| VerifyError::Registry { seq, source })?;
            if occurrence == Occurrence::First {
                self.registry
                    .apply(seq, &change)
                    .map_err(|source| VerifyError::Registry { seq, source })?;
            }
        }
        // SPEC §8.2 step 12 / §13.5. An approval's payload is always present (step 9 rejects a
        // missing one). A subject the caller cannot supply is not checked for its signer.
        if is_approval {
            if let Some(data) = payload.data() {
                let approval = |problem| VerifyError::Approval { seq, problem };
                let a = Approval::decode(data).map_err(approval)?;
                a.check_links(&h.links).map_err(approval)?;
                a.check_signed_at(h.time).map_err(approval)?;
                for s in a.entries() {
                    if let Some((_, signer)) = signers.iter().find(|(t, _)| *t == s.seq) {
                        check_not_own_work(&self.registry, &h.signer, s.seq, signer)
                            .map_err(approval)?;
                    }
                }
            }
        }
        // SPEC §13.4.20: no entry a review links is the reviewer's own work.
        if is_review {
            for (subject, signer) in &signers {
                check_not_own_work(&self.registry, &h.signer, *subject, signer)
                    .map_err(|problem| VerifyError::Approval { seq, problem })?;
            }
        }
        Ok(())
    }

    // SPEC §7.6–§7.8: the payload of a retention, hold, release or purge entry, applied on its
    // first occurrence.
    fn check_lifecycle(
        &mut self,
        entry: &Entry,
        data: &[u8],
        occurrence: Occurrence,
    ) -> Result<(), VerifyError> {
        let h = entry.header();
        let seq = h.seq;
        let lifecycle = |problem| VerifyError::Lifecycle { seq, problem };
        if occurrence == Occurrence::Repeat {
            return crate::retention::Lifecycle::check_payload(h.kind.as_str(), data)
                .map_err(lifecycle);
        }
        match self.lifecycle.apply(seq, h.time, h.kind.as_str(), data) {
            Ok(None) => Ok(()),
            Ok(Some(problem)) => Err(VerifyError::Purge { seq, problem }),
            Err(problem) => Err(lifecycle(problem)),
        }
    }

    /// The retentions, legal holds and purges verified so far (SPEC §7.6–§7.8).
    pub fn lifecycle(&self) -> &crate::retention::Lifecycle {
        &self.lifecycle
    }

    /// Step 3: fails if an erased payload was never accounted for by an erasure entry or a
    /// purge, or was purged before its retention ended (SPEC §7.8).
    pub fn finish(&self) -> Result<(), VerifyError> {
        for (&seq, &time) in &self.unrecorded_erasures {
            if self.recorded_erasures.contains(&seq) {
                continue;
            }
            let Some((purge, _)) = self.lifecycle.covering_purge(seq) else {
                return Err(VerifyError::Erasure {
                    seq,
                    problem: ErasureProblem::Unrecorded,
                });
            };
            self.lifecycle
                .judge_purged(seq, time, purge)
                .map_err(|problem| VerifyError::Purge {
                    seq: purge,
                    problem,
                })?;
        }
        Ok(())
    }
}
