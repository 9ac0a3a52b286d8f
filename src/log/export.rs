//! Writing export bundles (SPEC §12): what an auditor receives.

use std::io::Write;
use std::ops::Range;

use serde_bytes::ByteBuf;

use crate::bundle::{
    BundleHeader, BundlePayload, CheckpointItem, EntryItem, MAX_TIMESTAMPS, Shape, TimestampItem,
    Trailer, WithheldReason, arrays, preamble,
};
use crate::checkpoint::SignedCheckpoint;
use crate::entry::{Kind, Payload, SessionId};
use crate::event::KINDS;
use crate::hash::{Domain, Hasher, RootHash};
use crate::keys::SecretKey;
use crate::merkle::Frontier;
use crate::verify::payload_required;

use super::layout::{RUN, prefix_end, run_range};
use super::{ControlChainError, Log, LogCheckpointError, LogProofError, ReadError};
use crate::registry::Role;

/// Which entries a bundle carries (SPEC §12.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selection {
    /// Every entry.
    Log,
    /// A range of sequence numbers (contiguous).
    Range(Range<u64>),
    /// One session's entries, each with an inclusion proof.
    Session(SessionId),
    /// Chosen entries, each with an inclusion proof.
    Entries(Vec<u64>),
    /// Everything after a checkpoint the auditor already has (its size), with the consistency
    /// proof from it to the new checkpoint.
    Since {
        /// The earlier checkpoint's tree size.
        size: u64,
    },
}

impl Selection {
    fn describe(&self) -> String {
        match self {
            Selection::Log => "the whole log".into(),
            Selection::Range(r) => format!("entries {}..{}", r.start, r.end),
            Selection::Session(s) => format!("session {s}"),
            Selection::Entries(e) => format!("{} selected entries", e.len()),
            Selection::Since { size } => format!("every entry since the checkpoint of size {size}"),
        }
    }
}

/// Which checkpoint anchors a bundle (SPEC §12.1, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Anchor {
    /// A checkpoint of the whole log signed for the export. It carries the cosignatures
    /// attached to a stored checkpoint of the same tree, if any.
    #[default]
    Fresh,
    /// The latest stored checkpoint that carries cosignatures, when it covers every selected
    /// entry; otherwise a fresh one. A whole-log or `Since` selection is covered only by a
    /// checkpoint of the whole log.
    PreferWitnessed,
}

/// What to export and which payloads to leave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    selection: Selection,
    withhold_kinds: Vec<Kind>,
    withhold_entries: Vec<u64>,
    anchor: Anchor,
    min_cosignatures: usize,
}

impl ExportOptions {
    /// Export a selection with every payload.
    pub fn new(selection: Selection) -> ExportOptions {
        ExportOptions {
            selection,
            withhold_kinds: Vec::new(),
            withhold_entries: Vec::new(),
            anchor: Anchor::Fresh,
            min_cosignatures: 0,
        }
    }

    /// Which checkpoint anchors the bundle.
    pub fn anchor(mut self, anchor: Anchor) -> ExportOptions {
        self.anchor = anchor;
        self
    }

    /// Fail unless the anchor carries at least `n` witness cosignature lines (counted, not
    /// verified: [`Log::attach_cosignatures`] verified them, and the auditor's policy decides).
    pub fn require_cosignatures(mut self, n: usize) -> ExportOptions {
        self.min_cosignatures = n;
        self
    }

    /// Leave out the payloads of every entry of this kind (the entries stay, with their
    /// commitments). Only the kinds of [`withholdable_kinds`] may be withheld: `export` refuses
    /// any other ([`ExportError::UnknownKind`], [`ExportError::NotWithholdable`]).
    pub fn withhold_kind(mut self, kind: Kind) -> ExportOptions {
        self.withhold_kinds.push(kind);
        self
    }

    /// Leave out the payload of this entry. `export` refuses an entry the log does not have, or
    /// one whose payload is never withheld ([`ExportError::NotWithholdable`]).
    pub fn withhold_entry(mut self, seq: u64) -> ExportOptions {
        self.withhold_entries.push(seq);
        self
    }

    /// The selection.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }
}

/// The kinds whose payloads an export may withhold, in SPEC order: every kind of the event
/// vocabulary (SPEC §13) but `approval`. Key-management, approval and erasure payloads are never
/// withheld (SPEC §12.3): the bundle's verification depends on them.
pub fn withholdable_kinds() -> impl Iterator<Item = &'static str> {
    KINDS
        .into_iter()
        .filter(|k| Kind::new(k).is_ok_and(|k| !payload_required(&k)))
}

/// The most sessions [`ExportError::NoSuchSession`] names.
pub const MAX_LISTED_SESSIONS: usize = 20;

// "a, b, c" for a message.
fn joined(items: impl Iterator<Item = impl std::fmt::Display>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

fn withholdable_list() -> String {
    joined(withholdable_kinds())
}

fn sessions_list(sessions: &[SessionId], more: &bool) -> String {
    if sessions.is_empty() {
        return "the log has no sessions".into();
    }
    let names = joined(sessions.iter().map(|s| format!("{:?}", s.as_str())));
    if *more {
        format!("its sessions include {names} (and more)")
    } else {
        format!("its sessions are {names}")
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Entry items written.
    pub entries: u64,
    /// Payloads withheld.
    pub withheld: u64,
    /// Control items written (key management and erasures the selection needs).
    pub controls: u64,
    /// The anchor checkpoint, signed for this export.
    pub checkpoint: SignedCheckpoint,
    /// Its tree size.
    pub size: u64,
    /// Its root.
    pub root: RootHash,
    /// Bytes written.
    pub bytes: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The selection names entries the log does not have.
    #[error("the log has {}; the selection asks for {asked}", crate::text::entries(*.len))]
    OutOfRange {
        /// What was asked.
        asked: String,
        /// Entries in the log.
        len: u64,
    },
    /// A kind to withhold that no entry can have: not a kind of the vocabulary (SPEC §13).
    #[error(
        "no entry has kind {kind:?}, so there is nothing to withhold; the kinds whose payloads \
         may be withheld are {}",
        withholdable_list()
    )]
    UnknownKind {
        /// The kind asked for.
        kind: String,
    },
    /// A kind, or an entry of a kind, whose payloads are never withheld (SPEC §12.3): key
    /// management, approvals and erasures, which the bundle's verification depends on.
    #[error(
        "{}: the payload of {} entry is never withheld (a verifier needs it); the kinds whose \
         payloads may be withheld are {}",
        .seq.map_or_else(|| format!("kind {kind}"), |s| format!("entry {s}")),
        crate::text::AKind(.kind),
        withholdable_list()
    )]
    NotWithholdable {
        /// The kind.
        kind: String,
        /// The entry, when one was named rather than its kind.
        seq: Option<u64>,
    },
    /// The selected session has no entries in the log.
    #[error("the log has no session {:?}; {}", .session.as_str(), sessions_list(.sessions, .more))]
    NoSuchSession {
        /// The session asked for.
        session: SessionId,
        /// Sessions the log does have, at most [`MAX_LISTED_SESSIONS`], sorted.
        sessions: Vec<SessionId>,
        /// Whether the log has more sessions than those listed.
        more: bool,
    },
    /// The selection names no entries (an empty list of entries).
    #[error("the selection names no entries")]
    EmptySelection,
    /// The anchor checkpoint could not be made.
    #[error(transparent)]
    Checkpoint(#[from] LogCheckpointError),
    /// A proof could not be made.
    #[error(transparent)]
    Proof(#[from] LogProofError),
    /// Reading the log failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The log's control chain does not verify: the export would not be what the entries
    /// commit to.
    #[error("the log's control chain: {0}")]
    Control(#[from] ControlChainError),
    /// The anchor carries fewer cosignatures than required.
    #[error(
        "the anchor checkpoint (size {size}) carries {found} witness cosignatures, {needed} \
         required; the latest checkpoint with cosignatures: {latest} (it anchors a bundle when \
         every selected entry is below its size; a whole-log export needs the latest checkpoint \
         cosigned)"
    )]
    TooFewCosignatures {
        /// The anchor's size.
        size: u64,
        /// Cosignature lines on it.
        found: usize,
        /// Required.
        needed: usize,
        /// The latest stored checkpoint with cosignatures, described.
        latest: String,
    },
    /// Writing the bundle failed.
    #[error("writing the bundle: {0}")]
    Io(#[from] std::io::Error),
}

// Writes through to the output while hashing what the trailer signs.
struct Digesting<'a> {
    out: &'a mut dyn Write,
    hasher: Hasher,
    bytes: u64,
}

impl Digesting<'_> {
    fn item(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes)
    }
}

/// The most earlier checkpoints a bundle carries besides its anchor.
const MAX_EARLIER_CHECKPOINTS: usize = 63;

impl Log {
    /// Writes an export bundle (SPEC §12) of `options`' selection to `out`, calling
    /// `progress(done, total)` as entries are written. An owner key signs a fresh checkpoint of
    /// the whole log (the anchor) and the bundle's trailer.
    pub fn export(
        &self,
        owner: &SecretKey,
        options: &ExportOptions,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ExportSummary, ExportError> {
        // Refused before anything is signed: a request that names nothing, or asks for what can
        // never be done, is an error, not an empty or unredacted bundle.
        let session_seqs = self.check_export(options)?;
        let suite = self.suite();
        // The anchor, and the control chain below its size it was signed over.
        let (anchor, chain) = self.anchor(owner, options)?;
        let n = anchor.checkpoint().size();
        let root = anchor.checkpoint().root();
        let out_of_range = |asked: String| ExportError::OutOfRange { asked, len: n };
        // Which entries, and how they are tied to the anchor.
        // A contiguous bundle starting at an earlier checkpoint's size proves the log grew from
        // it: the frontier before `start` gives the root at that size (SPEC §12.6 step 4).
        let (shape, start, seqs) = match &options.selection {
            Selection::Log => (Shape::Contiguous, 0, Seqs::Range(0..n)),
            Selection::Range(r) => {
                if r.start > r.end || r.end > n {
                    return Err(out_of_range(format!("{}..{}", r.start, r.end)));
                }
                (Shape::Contiguous, r.start, Seqs::Range(r.clone()))
            }
            Selection::Since { size } => {
                if *size > n {
                    return Err(out_of_range(format!("since size {size}")));
                }
                (Shape::Contiguous, *size, Seqs::Range(*size..n))
            }
            Selection::Session(_) => {
                let seqs: Vec<u64> = session_seqs.into_iter().filter(|s| *s < n).collect();
                (Shape::Selection, 0, Seqs::List(seqs))
            }
            Selection::Entries(list) => {
                let mut seqs = list.clone();
                seqs.sort_unstable();
                seqs.dedup();
                if let Some(&bad) = seqs.iter().find(|s| **s >= n) {
                    return Err(out_of_range(format!("entry {bad}")));
                }
                (Shape::Selection, 0, Seqs::List(seqs))
            }
        };
        let count = seqs.len();
        let end = match &seqs {
            Seqs::Range(r) => r.end,
            Seqs::List(l) => l.last().map_or(0, |s| s + 1),
        };
        let nodes = self.nodes();
        let (frontier, tail) = match shape {
            Shape::Contiguous => {
                let f = Frontier::restore(&nodes, start).map_err(LogProofError::from)?;
                let frontier: Vec<[u8; 32]> = f.nodes().map(|p| p.hash).collect();
                let tail = if end == 0 || end == n {
                    Vec::new()
                } else {
                    self.consistency_proof(end, n)?
                };
                (frontier, tail)
            }
            Shape::Selection => (Vec::new(), Vec::new()),
        };
        // Control items: every control entry below the anchor's size, whatever the shape
        // (SPEC §12.4), found by walking the signed control chain, never an index.
        let controls = chain.entries;
        // Checkpoints: the latest stored ones below the anchor's size, then the anchor, each
        // with the consistency proof from the one before it.
        let mut earlier: Vec<SignedCheckpoint> = self
            .checkpoints()?
            .into_iter()
            .filter(|c| c.checkpoint().size() < n)
            .collect();
        if earlier.len() > MAX_EARLIER_CHECKPOINTS {
            earlier.drain(..earlier.len() - MAX_EARLIER_CHECKPOINTS);
        }
        earlier.push(anchor.clone());
        let mut checkpoints = Vec::with_capacity(earlier.len());
        let mut prev_size = None;
        for c in &earlier {
            let size = c.checkpoint().size();
            let proof = match prev_size {
                Some(p) if p > 0 && p < size => self.consistency_proof(p, size)?,
                _ => Vec::new(),
            };
            checkpoints.push(CheckpointItem {
                consistency: arrays(&proof),
                note: ByteBuf::from(c.encode()),
            });
            prev_size = Some(size);
        }
        // Timestamp tokens over a carried checkpoint's body, the latest ones (SPEC §12.7).
        let mut timestamps: Vec<TimestampItem> = Vec::new();
        for t in self.timestamps()? {
            let Ok(note) = SignedCheckpoint::parse(&t.note) else {
                continue;
            };
            let carried = earlier
                .iter()
                .any(|c| c.checkpoint().size() == t.size && c.note().text() == note.note().text());
            if carried {
                timestamps.push(TimestampItem {
                    note: ByteBuf::from(t.note),
                    token: ByteBuf::from(t.token),
                });
            }
        }
        if timestamps.len() > MAX_TIMESTAMPS {
            timestamps.drain(..timestamps.len() - MAX_TIMESTAMPS);
        }
        // Renewals a verifier can check against the entries carried (SPEC §15.6): a contiguous
        // bundle from entry 0 carries those of entries it holds, the latest 16.
        let mut renewals: Vec<crate::renewal::RenewalItem> = Vec::new();
        if shape == Shape::Contiguous && start == 0 {
            let mut stored = self.renewals()?;
            stored.retain(|r| r.size <= end);
            stored.sort_by_key(|r| r.size);
            renewals = stored.into_iter().map(|r| r.item).collect();
            if renewals.len() > crate::renewal::MAX_RENEWALS {
                renewals.drain(..renewals.len() - crate::renewal::MAX_RENEWALS);
            }
        }
        let header = BundleHeader {
            checkpoints,
            controls: controls.len() as u64,
            count,
            descriptor: ByteBuf::from(self.descriptor().as_bytes().to_vec()),
            exported: self.inner.clock.now().0,
            frontier: arrays(&frontier),
            selection: options.selection.describe(),
            shape,
            start,
            tail: arrays(&tail),
            timestamps,
            renewals,
        };

        let mut hasher = Hasher::new(suite);
        hasher.update(Domain::Bundle.tag().as_bytes());
        hasher.update(&[0]);
        let mut w = Digesting {
            out,
            hasher,
            bytes: 0,
        };
        w.item(&preamble())?;
        w.item(&header.encode())?;
        for c in &controls {
            let item = self.item(c.seq(), options, Shape::Selection, n)?;
            w.item(&item.0.encode())?;
        }
        let mut withheld = 0;
        let mut done = 0;
        for seq in seqs.iter() {
            let (item, was_withheld) = self.item(seq, options, shape, n)?;
            withheld += u64::from(was_withheld);
            w.item(&item.encode())?;
            done += 1;
            if done % 1024 == 0 || done == count {
                progress(done, count);
            }
        }
        let Digesting { out, hasher, bytes } = w;
        let digest = hasher.finalize();
        let trailer = Trailer {
            count,
            digest: serde_bytes::ByteArray::new(digest),
            signature: serde_bytes::ByteArray::new(owner.sign(&Trailer::signing_input(&digest))),
            signer: serde_bytes::ByteArray::new(*owner.key_id().as_bytes()),
        };
        let t = trailer.encode();
        out.write_all(&t)?;
        out.flush()?;
        Ok(ExportSummary {
            entries: count,
            withheld,
            controls: controls.len() as u64,
            checkpoint: anchor,
            size: n,
            root,
            bytes: bytes + t.len() as u64,
        })
    }

    // Checks what `export` is asked to do against the log, before anything is signed; returns
    // the selected session's entries (empty for other selections).
    fn check_export(&self, options: &ExportOptions) -> Result<Vec<u64>, ExportError> {
        for kind in &options.withhold_kinds {
            if payload_required(kind) {
                return Err(ExportError::NotWithholdable {
                    kind: kind.as_str().to_owned(),
                    seq: None,
                });
            }
            if !KINDS.contains(&kind.as_str()) {
                return Err(ExportError::UnknownKind {
                    kind: kind.as_str().to_owned(),
                });
            }
        }
        for &seq in &options.withhold_entries {
            let entry = self.read(seq)?.ok_or(ExportError::OutOfRange {
                asked: format!("withheld entry {seq}"),
                len: self.len(),
            })?;
            if payload_required(&entry.header().kind) {
                return Err(ExportError::NotWithholdable {
                    kind: entry.header().kind.as_str().to_owned(),
                    seq: Some(seq),
                });
            }
        }
        match &options.selection {
            Selection::Entries(list) if list.is_empty() => Err(ExportError::EmptySelection),
            Selection::Session(id) => {
                let seqs: Vec<u64> = self.session(id)?.iter().map(|e| e.seq()).collect();
                if seqs.is_empty() {
                    let (sessions, more) = self.some_sessions(MAX_LISTED_SESSIONS)?;
                    return Err(ExportError::NoSuchSession {
                        session: id.clone(),
                        sessions,
                        more,
                    });
                }
                Ok(seqs)
            }
            _ => Ok(Vec::new()),
        }
    }

    // Up to `limit` sessions of the log (sorted), and whether it has more: one seek per session
    // over the run markers (`0x02 ‖ len ‖ session ‖ seq`), each confirmed by the entry it marks,
    // since a marker may be stale (a crash between marker and entry).
    fn some_sessions(&self, limit: usize) -> Result<(Vec<SessionId>, bool), ExportError> {
        self.with_index(
            || self.some_sessions_once(limit),
            |e| matches!(e, ExportError::Read(r) if super::open::index_damaged(r)),
        )
    }

    fn some_sessions_once(&self, limit: usize) -> Result<(Vec<SessionId>, bool), ExportError> {
        self.index_sessions()?;
        let len = self.len();
        let end = prefix_end(RUN);
        let mut from = vec![RUN];
        let mut found = Vec::new();
        while let Some((key, _)) = self
            .inner
            .store
            .scan(&from, &end, 1)
            .map_err(ReadError::from)?
            .pop()
        {
            let name = key
                .get(2..key.len().saturating_sub(8))
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| SessionId::new(s).ok());
            let Some(name) = name else { break };
            from = run_range(name.as_str()).1;
            let marked = super::layout::seq_of(&key).filter(|s| *s < len);
            let confirmed = match marked {
                Some(seq) => self.read(seq)?.is_some_and(|e| e.header().session == name),
                None => false,
            };
            if confirmed && !name.is_none() {
                if found.len() == limit {
                    found.sort();
                    return Ok((found, true));
                }
                found.push(name);
            }
        }
        found.sort();
        Ok((found, false))
    }

    // A stored cosigned checkpoint covering the selection, or a fresh one of the whole log;
    // then the required cosignatures are counted.
    fn anchor(
        &self,
        owner: &SecretKey,
        options: &ExportOptions,
    ) -> Result<(SignedCheckpoint, super::control::ControlChain), ExportError> {
        let witnessed = self
            .checkpoints()?
            .into_iter()
            .rev()
            .find(|c| c.cosignature_lines() > 0);
        let mut chosen = None;
        if let (Anchor::PreferWitnessed, Some(c)) = (options.anchor, &witnessed) {
            let size = c.checkpoint().size();
            if size < self.len() && self.covers(&options.selection, size)? {
                let chain = self.control_chain_at(size)?;
                let active = chain
                    .registry
                    .get(&owner.key_id())
                    .is_some_and(|r| r.role == Role::Owner && r.revoked_at.is_none());
                if !active {
                    return Err(LogCheckpointError::NotOwner(owner.key_id()).into());
                }
                chosen = Some((c.clone(), chain));
            }
        }
        let (anchor, chain) = match chosen {
            Some(c) => c,
            None => self.checkpoint_with_chain(owner)?,
        };
        let found = anchor.cosignature_lines();
        if found < options.min_cosignatures {
            return Err(ExportError::TooFewCosignatures {
                size: anchor.checkpoint().size(),
                found,
                needed: options.min_cosignatures,
                latest: witnessed.map_or("none".into(), |c| {
                    format!(
                        "size {} with {}",
                        c.checkpoint().size(),
                        c.cosignature_lines()
                    )
                }),
            });
        }
        Ok((anchor, chain))
    }

    // Whether every entry the selection names is below `size` (for a log longer than `size`).
    fn covers(&self, selection: &Selection, size: u64) -> Result<bool, ExportError> {
        Ok(match selection {
            Selection::Log | Selection::Since { .. } => false,
            Selection::Range(r) => r.end <= size,
            Selection::Entries(list) => list.iter().all(|s| *s < size),
            Selection::Session(id) => self.session(id)?.iter().all(|e| e.seq() < size),
        })
    }

    // One entry item: the entry, its payload (or why not), and its proof for selections.
    fn item(
        &self,
        seq: u64,
        options: &ExportOptions,
        shape: Shape,
        n: u64,
    ) -> Result<(EntryItem, bool), ExportError> {
        let stored = self.records().read(seq)?.ok_or(ExportError::OutOfRange {
            asked: format!("entry {seq}"),
            len: self.len(),
        })?;
        let kind = stored.header().kind.clone();
        let payload = stored.payload;
        let entry = stored.entry.into_bytes();
        let reason = if payload_required(&kind) {
            None
        } else if options.withhold_entries.contains(&seq) {
            Some(WithheldReason::Entry)
        } else if options.withhold_kinds.contains(&kind) {
            Some(WithheldReason::Kind)
        } else {
            None
        };
        let payload = match (reason, payload) {
            (Some(r), _) => BundlePayload::Withheld(r),
            (None, Payload::Present { salt, data }) => BundlePayload::Present { salt, data },
            (None, Payload::Erased) => BundlePayload::Erased,
        };
        let proof = match shape {
            Shape::Contiguous => Vec::new(),
            Shape::Selection => self.inclusion_proof(seq, n)?,
        };
        Ok((
            EntryItem {
                entry,
                payload,
                proof,
            },
            reason.is_some(),
        ))
    }
}

enum Seqs {
    Range(Range<u64>),
    List(Vec<u64>),
}

impl Seqs {
    fn len(&self) -> u64 {
        match self {
            Seqs::Range(r) => r.end.saturating_sub(r.start),
            Seqs::List(l) => l.len() as u64,
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            Seqs::Range(r) => Box::new(r.clone()),
            Seqs::List(l) => Box::new(l.iter().copied()),
        }
    }
}
