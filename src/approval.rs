//! Human approvals: the `approval` payload and the rules that make it an electronic signature in
//! the sense of 21 CFR Part 11 (SPEC §13.5).
//!
//! An approval is an entry of kind `approval`, signed by an approver's own key. The key is
//! registered once with the approver's printed name (SPEC §7.3); the entry's signed header carries
//! the date and time (UTC); the payload carries the meaning of the signature and exactly what was
//! approved. Entry subjects are also the entry's causal links, so their sequence numbers and hashes
//! sit in the signed header: the signature cannot be cut out and moved to another record.
//!
//! This module is on the verification path: it depends on the codec, hashes, entries and the key
//! registry, never on the log or a store.
//!
//! An approval names its gate, the meaning of the signature, the verdict and its subjects, in
//! that order:
//!
//! ```
//! use sealtrail::approval::{Approval, Gate, Meaning, Subjects, Verdict};
//! use sealtrail::Digest;
//! let a = Approval::new(
//!     Gate::FileWrite,
//!     Meaning::Approval,
//!     Verdict::Approve,
//!     Subjects::artifacts([Digest([1; 32])]),
//! )
//! .unwrap();
//! assert_eq!(a.meaning(), Meaning::Approval);
//! ```
//!
//! It cannot be built without a meaning:
//!
//! ```compile_fail
//! use sealtrail::approval::{Approval, Gate, Subjects, Verdict};
//! use sealtrail::Digest;
//! // The same call without the `Meaning` argument: does not compile.
//! let a = Approval::new(
//!     Gate::FileWrite,
//!     Verdict::Approve,
//!     Subjects::artifacts([Digest([1; 32])]),
//! );
//! ```
//!
//! ```compile_fail
//! use sealtrail::approval::Approval;
//! // No `Default` either.
//! let a = Approval::default();
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{DecodeError, EncodeError, from_canonical, to_canonical};
use crate::entry::Link;
use crate::hash::{Digest, EntryHash};
use crate::keys::KeyId;
use crate::registry::KeyRegistry;
use crate::time::Timestamp;

/// The longest custom gate or custom event type name, in bytes.
pub const MAX_NAMESPACED_LEN: usize = 128;
/// The longest approval comment, in bytes.
pub const MAX_COMMENT_LEN: usize = 4096;
/// How far, in nanoseconds, an approval's `signed_at` may lie from its entry's time either way
/// (SPEC §13.5 rule 5): five minutes. The entry is signed when it is appended, so the two differ
/// only by the clocks of the approver and the writer.
pub const MAX_SIGNING_SKEW_NANOS: u64 = 300_000_000_000;

/// A namespaced name for something outside the built-in vocabulary (a custom gate or a custom
/// event type): `<namespace>/<name>`, where the namespace is 1+ characters of `[a-z0-9.-]`
/// starting with a letter or digit (by convention a domain the author controls) and the name is
/// `[a-z][a-z0-9_]*`; at most 128 bytes in all (SPEC §13.1).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespaced(String);

/// A name that is not `<namespace>/<name>` as SPEC §13.1 defines it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid namespaced name {0:?}: expected <namespace>/<name>, e.g. example.com/deploy")]
pub struct NamespacedError(pub String);

impl Namespaced {
    /// Checks and wraps a namespaced name.
    pub fn new(s: &str) -> Result<Namespaced, NamespacedError> {
        if valid_namespaced(s) {
            Ok(Namespaced(s.to_owned()))
        } else {
            Err(NamespacedError(s.to_owned()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn valid_namespaced(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_NAMESPACED_LEN {
        return false;
    }
    let Some((ns, name)) = s.split_once('/') else {
        return false;
    };
    let ns_ok = ns
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && ns
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    let name_ok = name.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    ns_ok && name_ok
}

impl fmt::Display for Namespaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for Namespaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespaced({})", self.0)
    }
}

impl Serialize for Namespaced {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Namespaced {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The decoded text is kept: checked, not copied.
        let s = String::deserialize(d)?;
        if valid_namespaced(&s) {
            Ok(Namespaced(s))
        } else {
            Err(serde::de::Error::custom(NamespacedError(s)))
        }
    }
}

/// The point in a session where a human must approve before the agent goes on (SPEC §13.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Gate {
    /// Before the agent writes files.
    FileWrite,
    /// Before the agent opens a pull request.
    PrCreate,
    /// Before a change is merged.
    Merge,
    /// A gate outside the built-in set, by namespaced name.
    Custom(Namespaced),
}

impl Gate {
    /// The gate's name as written in payloads: `file_write`, `pr_create`, `merge`, or the custom
    /// name.
    pub fn as_str(&self) -> &str {
        match self {
            Gate::FileWrite => "file_write",
            Gate::PrCreate => "pr_create",
            Gate::Merge => "merge",
            Gate::Custom(n) => n.as_str(),
        }
    }

    /// Parses a gate name.
    pub fn from_name(s: &str) -> Result<Gate, NamespacedError> {
        Ok(match s {
            "file_write" => Gate::FileWrite,
            "pr_create" => Gate::PrCreate,
            "merge" => Gate::Merge,
            other => Gate::Custom(Namespaced::new(other)?),
        })
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for Gate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Gate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Gate::from_name(&s).map_err(serde::de::Error::custom)
    }
}

/// What the signer means by signing (21 CFR 11.50(a)(3)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Meaning {
    /// The signer reviewed the subjects.
    Review,
    /// The signer approves the subjects.
    Approval,
    /// The signer takes responsibility for the subjects.
    Responsibility,
    /// The signer is the author of the subjects.
    Authorship,
}

impl Meaning {
    /// The meaning as written in payloads and renderings.
    pub fn as_str(self) -> &'static str {
        match self {
            Meaning::Review => "review",
            Meaning::Approval => "approval",
            Meaning::Responsibility => "responsibility",
            Meaning::Authorship => "authorship",
        }
    }
}

impl fmt::Display for Meaning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The signer's decision at the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Go ahead.
    Approve,
    /// Do not go ahead.
    Reject,
}

impl Verdict {
    /// The verdict as written in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }

    /// The past participle, for renderings: `approved` or `rejected`.
    pub fn past(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Exactly what an approval covers: earlier entries (by sequence number and hash) and content by
/// digest. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subjects {
    entries: Vec<Link>,
    artifacts: Vec<Digest>,
}

impl Subjects {
    /// Earlier entries, named as links (for example `receipt.link()`).
    pub fn entries(entries: impl IntoIterator<Item = Link>) -> Subjects {
        Subjects::new(entries, [])
    }

    /// Content by digest (SPEC §13.1), for example a patchset.
    pub fn artifacts(artifacts: impl IntoIterator<Item = Digest>) -> Subjects {
        Subjects::new([], artifacts)
    }

    /// Both entries and artifacts. Duplicates are dropped and both lists sorted, as the
    /// canonical payload requires.
    pub fn new(
        entries: impl IntoIterator<Item = Link>,
        artifacts: impl IntoIterator<Item = Digest>,
    ) -> Subjects {
        let mut entries: Vec<Link> = entries.into_iter().collect();
        entries.sort();
        entries.dedup();
        let mut artifacts: Vec<Digest> = artifacts.into_iter().collect();
        artifacts.sort();
        artifacts.dedup();
        Subjects { entries, artifacts }
    }

    /// Whether nothing is named.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.artifacts.is_empty()
    }

    /// The entries approved, sorted by sequence number.
    pub fn entry_links(&self) -> &[Link] {
        &self.entries
    }

    /// The artifacts approved, by digest, sorted.
    pub fn artifact_digests(&self) -> &[Digest] {
        &self.artifacts
    }
}

/// The payload of an `approval` entry (SPEC §13.5). There is no `Default` and the only
/// constructor takes a [`Meaning`]: an approval without a meaning cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    gate: Gate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "wire::links")]
    entries: Vec<Link>,
    meaning: Meaning,
    decision: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "wire::digests")]
    artifacts: Vec<Digest>,
    /// The approver's date and time of signing, nanoseconds since the epoch, UTC, by the
    /// approver's own clock (21 CFR 11.50(a)(2)).
    signed_at: u64,
}

/// What is wrong with an approval (SPEC §8.2 step 12, check `approval`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalProblem {
    /// The payload is larger than a control payload may be (64 KiB).
    #[error("approval payload of {0} bytes is over the 64 KiB limit")]
    TooLarge(usize),
    /// The payload is not an approval in the canonical profile.
    #[error("approval payload does not decode: {0}")]
    Payload(DecodeError),
    /// The approval names nothing.
    #[error("an approval must name at least one entry or artifact")]
    NoSubjects,
    /// Entry subjects or artifact digests are not strictly increasing.
    #[error("approval `{field}` must be sorted without repeats")]
    Unsorted {
        /// `entries` or `artifacts`.
        field: &'static str,
    },
    /// The comment is empty, too long or holds control characters other than newline.
    #[error("approval comment must be 1 to 4096 bytes without control characters")]
    Comment,
    /// An entry subject is not among the approval entry's causal links with the same hash, so
    /// the signature does not cover it.
    #[error("approves entry {subject}, which is not among the entry's causal links")]
    SubjectNotLinked {
        /// The subject's sequence number.
        subject: u64,
    },
    /// The approver's time of signing is more than five minutes from the entry's time
    /// (SPEC §13.5 rule 5).
    #[error("signed at {}, more than 5 minutes from the entry's time {}", Timestamp(*.signed_at).to_rfc3339(), Timestamp(*.entry_time).to_rfc3339())]
    SignedAt {
        /// The approver's time of signing (nanoseconds).
        signed_at: u64,
        /// The entry's header time (nanoseconds).
        entry_time: u64,
    },
    /// The approver's own key signed a subject: nobody approves their own work.
    #[error("approves entry {subject}, which its own key {} signed", .key.short())]
    OwnKey {
        /// The subject's sequence number.
        subject: u64,
        /// The approver's key.
        key: KeyId,
    },
    /// A subject was signed by a key registered under the approver's printed name: the same
    /// person (or agent) under another key.
    #[error("approves entry {subject}, signed by {name:?} under key {}: the approver's own printed name", .subject_key.short())]
    SamePrintedName {
        /// The subject's sequence number.
        subject: u64,
        /// The subject's signer.
        subject_key: KeyId,
        /// The printed name both keys are registered under.
        name: String,
    },
}

impl Approval {
    /// An approval of `subjects` at `gate` with a meaning and a verdict, signed now by the
    /// system clock (see [`Approval::signed_at`] for another time). Fails if `subjects` is
    /// empty.
    pub fn new(
        gate: Gate,
        meaning: Meaning,
        decision: Verdict,
        subjects: Subjects,
    ) -> Result<Approval, ApprovalProblem> {
        if subjects.is_empty() {
            return Err(ApprovalProblem::NoSubjects);
        }
        Ok(Approval {
            gate,
            comment: None,
            entries: subjects.entries,
            meaning,
            decision,
            artifacts: subjects.artifacts,
            signed_at: Timestamp::now().0,
        })
    }

    /// The same approval with the approver's time of signing set to `time` (for example the
    /// reading of a log's own clock, [`crate::Log::now`]). It must lie within five minutes of
    /// the time the log records for the entry (SPEC §13.5 rule 5).
    pub fn with_signed_at(mut self, time: Timestamp) -> Approval {
        self.signed_at = time.0;
        self
    }

    /// The approver's date and time of signing, by the approver's clock (21 CFR 11.50).
    pub fn signed_at(&self) -> Timestamp {
        Timestamp(self.signed_at)
    }

    /// Rule 5 of SPEC §13.5: the time of signing lies within five minutes of the entry's time.
    pub fn check_signed_at(&self, entry_time: Timestamp) -> Result<(), ApprovalProblem> {
        if self.signed_at.abs_diff(entry_time.0) > MAX_SIGNING_SKEW_NANOS {
            return Err(ApprovalProblem::SignedAt {
                signed_at: self.signed_at,
                entry_time: entry_time.0,
            });
        }
        Ok(())
    }

    /// Adds a comment shown with the signature.
    pub fn with_comment(mut self, comment: &str) -> Result<Approval, ApprovalProblem> {
        if !valid_comment(comment) {
            return Err(ApprovalProblem::Comment);
        }
        self.comment = Some(comment.to_owned());
        Ok(self)
    }

    /// The gate.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The meaning of the signature.
    pub fn meaning(&self) -> Meaning {
        self.meaning
    }

    /// Approve or reject.
    pub fn decision(&self) -> Verdict {
        self.decision
    }

    /// The comment, if any.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The entries approved (each is also a causal link of the approval entry).
    pub fn entries(&self) -> &[Link] {
        &self.entries
    }

    /// The artifacts approved, by digest.
    pub fn artifacts(&self) -> &[Digest] {
        &self.artifacts
    }

    /// The links the approval entry must carry: its entry subjects.
    pub fn links(&self) -> Vec<Link> {
        self.entries.clone()
    }

    /// The canonical payload bytes.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        to_canonical(self)
    }

    /// Strictly decodes and checks an approval payload (SPEC §13.5).
    pub fn decode(payload: &[u8]) -> Result<Approval, ApprovalProblem> {
        // A control payload: decoded into memory on the verification path (SPEC §7.3).
        if payload.len() > crate::registry::MAX_CONTROL_PAYLOAD_LEN {
            return Err(ApprovalProblem::TooLarge(payload.len()));
        }
        let a: Approval = from_canonical(payload).map_err(ApprovalProblem::Payload)?;
        a.validate()?;
        Ok(a)
    }

    fn validate(&self) -> Result<(), ApprovalProblem> {
        if self.entries.is_empty() && self.artifacts.is_empty() {
            return Err(ApprovalProblem::NoSubjects);
        }
        if self.entries.windows(2).any(|w| w[0].seq >= w[1].seq) {
            return Err(ApprovalProblem::Unsorted { field: "entries" });
        }
        if self.artifacts.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ApprovalProblem::Unsorted { field: "artifacts" });
        }
        if self.comment.as_deref().is_some_and(|c| !valid_comment(c)) {
            return Err(ApprovalProblem::Comment);
        }
        Ok(())
    }

    /// Checks that every entry subject is one of `links` with the same hash (SPEC §13.5 rule 2).
    pub fn check_links(&self, links: &[Link]) -> Result<(), ApprovalProblem> {
        for s in &self.entries {
            if !links.contains(s) {
                return Err(ApprovalProblem::SubjectNotLinked { subject: s.seq });
            }
        }
        Ok(())
    }
}

fn valid_comment(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= MAX_COMMENT_LEN
        && !c.chars().any(|ch| ch.is_control() && ch != '\n')
}

/// Checks that an approval by `approver` does not cover work signed by the approver: not by its
/// own key, nor by any key registered under the same printed name (SPEC §13.5 rules 3 and 4).
/// `subject_signer` signed the subject entry at `subject`.
pub fn check_not_own_work(
    registry: &KeyRegistry,
    approver: &KeyId,
    subject: u64,
    subject_signer: &KeyId,
) -> Result<(), ApprovalProblem> {
    if subject_signer == approver {
        return Err(ApprovalProblem::OwnKey {
            subject,
            key: *approver,
        });
    }
    let approver_name = registry.get(approver).map(|r| r.name.as_str());
    let subject_name = registry.get(subject_signer).map(|r| r.name.as_str());
    if let (Some(a), Some(s)) = (approver_name, subject_name) {
        if same_printed_name(a, s) {
            return Err(ApprovalProblem::SamePrintedName {
                subject,
                subject_key: *subject_signer,
                name: s.to_owned(),
            });
        }
    }
    Ok(())
}

/// Whether two printed names name the same signer (SPEC §13.5): equal after trimming white
/// space at both ends, collapsing every run of white space (Unicode `White_Space`) to one space,
/// and folding ASCII letters to lower case.
pub fn same_printed_name(a: &str, b: &str) -> bool {
    fold_name(a) == fold_name(b)
}

fn fold_name(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// An earlier entry as the verifier sees it through a causal link: its hash and its signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkedEntry {
    /// The entry's hash.
    pub hash: EntryHash,
    /// The key that signed it.
    pub signer: KeyId,
}

/// serde adapters for the CBOR forms of SPEC §13.1: a digest is `bstr .size 32`; an entry
/// reference is a link `[seq, hash]`, exactly as in the header's links (SPEC §6.2).
pub(crate) mod wire {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_bytes::{ByteArray, Bytes};

    use crate::entry::Link;
    use crate::hash::{Digest, EntryHash};

    #[derive(Serialize, Deserialize)]
    struct LinkForm(u64, ByteArray<32>);

    impl From<&Link> for LinkForm {
        fn from(l: &Link) -> Self {
            LinkForm(l.seq, ByteArray::new(l.hash.0))
        }
    }

    impl From<LinkForm> for Link {
        fn from(l: LinkForm) -> Self {
            Link {
                seq: l.0,
                hash: EntryHash(*l.1),
            }
        }
    }

    pub(crate) mod digest {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
            Bytes::new(&d.0).serialize(s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
            Ok(Digest(*ByteArray::<32>::deserialize(d)?))
        }
    }

    pub(crate) mod opt_digest {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(
            d: &Option<Digest>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => Bytes::new(&d.0).serialize(s),
                None => s.serialize_none(),
            }
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Digest>, D::Error> {
            Ok(Some(Digest(*ByteArray::<32>::deserialize(d)?)))
        }
    }

    pub(crate) mod digests {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &[Digest], s: S) -> Result<S::Ok, S::Error> {
            let forms: Vec<&Bytes> = v.iter().map(|d| Bytes::new(&d.0)).collect();
            forms.serialize(s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<Digest>, D::Error> {
            let forms = Vec::<ByteArray<32>>::deserialize(d)?;
            Ok(forms.into_iter().map(|b| Digest(*b)).collect())
        }
    }

    pub(crate) mod opt_link {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(l: &Option<Link>, s: S) -> Result<S::Ok, S::Error> {
            match l {
                Some(l) => LinkForm::from(l).serialize(s),
                None => s.serialize_none(),
            }
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Link>, D::Error> {
            Ok(Some(LinkForm::deserialize(d)?.into()))
        }
    }

    pub(crate) mod link {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(l: &Link, s: S) -> Result<S::Ok, S::Error> {
            LinkForm::from(l).serialize(s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Link, D::Error> {
            Ok(LinkForm::deserialize(d)?.into())
        }
    }

    pub(crate) mod links {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &[Link], s: S) -> Result<S::Ok, S::Error> {
            let forms: Vec<LinkForm> = v.iter().map(LinkForm::from).collect();
            forms.serialize(s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Link>, D::Error> {
            let forms = Vec::<LinkForm>::deserialize(d)?;
            if forms.is_empty() {
                // An empty list is written by omitting the field (SPEC §3.3).
                return Err(D::Error::custom("empty list must be omitted"));
            }
            Ok(forms.into_iter().map(Link::from).collect())
        }
    }
}

/// An approval entry with its signature manifestation (21 CFR 11.50): the signer's printed name,
/// the date and time of signing, and the meaning. Its `Display` shows all three.
///
/// The one summary of an approval that queries, decision traces and verification reports share.
/// As JSON (a [`Report`](crate::report::Report)'s `approvals`, SPEC §12.6) it is `{seq,
/// printed_name, signer, gate, meaning, decision, time, signed_at, comment, subjects}`: `time` is
/// when the log recorded it, `signed_at` the approver's own time of signing, `comment` the
/// approver's comment or `null`, and `subjects` `{entries: [{seq, hash}], artifacts: [digest]}`
/// what was approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedApproval {
    /// The approval entry.
    pub seq: u64,
    /// When the log recorded it: the entry's signed header time, UTC. The approver's own time
    /// of signing is the approval's [`Approval::signed_at`], within five minutes of it
    /// (SPEC §13.5).
    pub time: Timestamp,
    /// The approver's key.
    pub signer: KeyId,
    /// The printed name the key is registered under.
    pub printed_name: String,
    /// The approval.
    pub approval: Approval,
}

impl fmt::Display for SignedApproval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} by {} ({}) at {}",
            self.approval.gate(),
            self.approval.decision().past(),
            self.printed_name,
            self.approval.meaning(),
            self.approval.signed_at().to_minute()
        )
    }
}

// The report's JSON form of an approval (SPEC §12.6, `schemas/report.schema.json`).
impl Serialize for SignedApproval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            seq: u64,
            printed_name: &'a str,
            signer: String,
            gate: &'a str,
            meaning: &'static str,
            decision: &'static str,
            time: String,
            signed_at: String,
            comment: Option<&'a str>,
            subjects: SubjectsJson,
        }
        #[derive(Serialize)]
        struct SubjectsJson {
            entries: Vec<EntryJson>,
            artifacts: Vec<String>,
        }
        #[derive(Serialize)]
        struct EntryJson {
            seq: u64,
            hash: String,
        }
        let a = &self.approval;
        Json {
            seq: self.seq,
            printed_name: &self.printed_name,
            signer: self.signer.to_string(),
            gate: a.gate().as_str(),
            meaning: a.meaning().as_str(),
            decision: a.decision().as_str(),
            time: self.time.to_rfc3339(),
            signed_at: a.signed_at().to_rfc3339(),
            comment: a.comment(),
            subjects: SubjectsJson {
                entries: a
                    .entries()
                    .iter()
                    .map(|l| EntryJson {
                        seq: l.seq,
                        hash: l.hash.to_hex(),
                    })
                    .collect(),
                artifacts: a.artifacts().iter().map(|d| d.to_hex()).collect(),
            },
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_value, encode_value};
    use ciborium::value::Value;

    fn sample() -> Approval {
        Approval::new(
            Gate::FileWrite,
            Meaning::Approval,
            Verdict::Approve,
            Subjects::new(
                [Link {
                    seq: 7,
                    hash: EntryHash([7; 32]),
                }],
                [Digest([9; 32])],
            ),
        )
        .unwrap()
    }

    #[test]
    fn round_trips_and_keys_are_in_canonical_order() {
        let a = sample().with_comment("looks right").unwrap();
        let b = a.encode().unwrap();
        assert_eq!(Approval::decode(&b).unwrap(), a);
        let v = decode_value(&b).unwrap();
        let keys: Vec<_> = v
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_text().unwrap().to_owned())
            .collect();
        assert_eq!(
            keys,
            [
                "gate",
                "comment",
                "entries",
                "meaning",
                "decision",
                "artifacts",
                "signed_at"
            ]
        );
    }

    fn with_field(a: &Approval, field: &str, value: Option<Value>) -> Vec<u8> {
        let mut v = decode_value(&a.encode().unwrap()).unwrap();
        let Value::Map(pairs) = &mut v else {
            unreachable!()
        };
        pairs.retain(|(k, _)| k.as_text() != Some(field));
        if let Some(value) = value {
            pairs.push((Value::Text(field.into()), value));
        }
        encode_value(&v).unwrap()
    }

    #[test]
    fn rejects_missing_meaning_unknown_fields_and_bad_values() {
        let a = sample();
        assert!(matches!(
            Approval::decode(&with_field(&a, "meaning", None)),
            Err(ApprovalProblem::Payload(_))
        ));
        assert!(matches!(
            Approval::decode(&with_field(
                &a,
                "meaning",
                Some(Value::Text("maybe".into()))
            )),
            Err(ApprovalProblem::Payload(_))
        ));
        assert!(matches!(
            Approval::decode(&with_field(&a, "signer", Some(Value::Text("x".into())))),
            Err(ApprovalProblem::Payload(_))
        ));
        assert!(matches!(
            Approval::decode(&with_field(&a, "comment", Some(Value::Null))),
            Err(ApprovalProblem::Payload(
                DecodeError::NotCanonical | DecodeError::Schema { .. }
            ))
        ));
        assert!(matches!(
            Approval::decode(&with_field(&a, "entries", Some(Value::Array(vec![])))),
            Err(ApprovalProblem::Payload(_))
        ));
        let only_artifacts = Approval::decode(&with_field(&a, "entries", None)).unwrap();
        let none = with_field(&only_artifacts, "artifacts", None);
        assert_eq!(Approval::decode(&none), Err(ApprovalProblem::NoSubjects));
        assert!(matches!(
            Approval::decode(&with_field(&a, "gate", Some(Value::Text("deploy".into())))),
            Err(ApprovalProblem::Payload(_))
        ));
        let custom = with_field(
            &a,
            "gate",
            Some(Value::Text("example.com/deploy_prod".into())),
        );
        assert_eq!(
            Approval::decode(&custom).unwrap().gate().as_str(),
            "example.com/deploy_prod"
        );
    }

    #[test]
    fn unsorted_subjects_are_rejected() {
        let a = Approval::new(
            Gate::Merge,
            Meaning::Review,
            Verdict::Reject,
            Subjects::artifacts([Digest([1; 32]), Digest([2; 32])]),
        )
        .unwrap();
        let mut v = decode_value(&a.encode().unwrap()).unwrap();
        let Value::Map(pairs) = &mut v else {
            unreachable!()
        };
        for (k, val) in pairs.iter_mut() {
            if k.as_text() == Some("artifacts") {
                if let Value::Array(items) = val {
                    items.reverse();
                }
            }
        }
        assert_eq!(
            Approval::decode(&encode_value(&v).unwrap()),
            Err(ApprovalProblem::Unsorted { field: "artifacts" })
        );
    }

    #[test]
    fn printed_names_fold_case_and_space() {
        assert!(same_printed_name("Release  Approver", " release approver"));
        assert!(!same_printed_name("Release Approver", "Release Approver 2"));
        assert!(valid_namespaced("example.com/deploy_prod"));
        assert!(!valid_namespaced("deploy"));
        assert!(!valid_namespaced("Example.com/deploy"));
        assert!(!valid_namespaced("example.com/"));
    }
}
