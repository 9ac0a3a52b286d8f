//! Control items and entry items (SPEC §12.6 steps 5–8): every item is checked by the same rules,
//! against everything the bundle holds about the log — the control entries (the whole key and
//! erasure history below the anchor), and every entry item read so far.

use std::collections::{BTreeMap, HashMap};

use super::Verifier;
use crate::approval::{Approval, LinkedEntry};
use crate::bundle::{BundlePayload, EntryItem, Shape, WithheldReason};
use crate::codec::DecodeError;
use crate::entry::{Entry, Kind, Link, Payload};
use crate::hash::EntryHash;
use crate::keys::{KeyId, verify_strict, verifying_key};
use crate::merkle;
use crate::time::Timestamp;
use crate::verify::{Absence, Check, Occurrence, VerifyError, describe_control};

/// An entry item decoded (with its payload and proof), or why it could not be.
pub(super) type DecodedItem = Result<(Entry, BundlePayload, Vec<[u8; 32]>), ItemError>;

/// Why an entry or control item does not decode (SPEC §12.3).
#[derive(Debug, thiserror::Error)]
pub(super) enum ItemError {
    /// The item is not `[entry, payload, proof]` in the canonical profile.
    #[error("entry item: {0}")]
    Item(DecodeError),
    /// The item's entry bytes are not an entry.
    #[error("entry: {0}")]
    Entry(DecodeError),
    /// The worker checking the item failed: it counts as undecodable.
    #[error("the item could not be checked")]
    Unchecked,
}

/// Decodes an item's bytes strictly: the item, then its entry.
pub(super) fn decode_item(bytes: Vec<u8>) -> DecodedItem {
    let item = EntryItem::decode_owned(bytes).map_err(ItemError::Item)?;
    let entry = Entry::from_bytes(&item.entry).map_err(ItemError::Entry)?;
    Ok((entry, item.payload, item.proof))
}

/// What the bundle holds about the log, for the checks that relate entries to one another.
#[derive(Default)]
pub(super) struct Known {
    /// Entry items read so far.
    seen: SeenEntries,
    signers: Signers,
    /// Control items, by position.
    controls: BTreeMap<u64, ControlInfo>,
    /// Links from control items, by the entry they name: (the control's position, the hash).
    control_links: BTreeMap<u64, Vec<(u64, EntryHash)>>,
    /// The last entry item read.
    last: Option<Last>,
}

#[derive(Clone, Copy)]
struct Last {
    seq: u64,
    hash: EntryHash,
    time: Timestamp,
}

// What is remembered of a control item: everything the checks of later items need.
#[derive(Clone, Copy)]
struct ControlInfo {
    hash: EntryHash,
    prev: EntryHash,
    time: Timestamp,
    signer: KeyId,
}

impl Known {
    /// The latest control item below `size`: the control head a checkpoint of that size names,
    /// and the `control` field of an entry at that position.
    pub(super) fn control_below(&self, size: u64) -> Option<Link> {
        self.controls
            .range(..size)
            .next_back()
            .map(|(&seq, c)| Link { seq, hash: c.hash })
    }

    pub(super) fn control_count(&self) -> usize {
        self.controls.len()
    }

    // The hash and signer of an entry the bundle holds: an entry item (by a 16-byte prefix of
    // its hash) or a control item.
    fn linked(&self, target: u64) -> Option<(Prefix, KeyId)> {
        if let Some(s) = self.seen.get(target) {
            let signer = self.signers.key(s.signer)?;
            return Some((Prefix::Short(s.hash), signer));
        }
        self.controls
            .get(&target)
            .map(|c| (Prefix::Full(c.hash), c.signer))
    }
}

// How much of a linked entry's hash is remembered.
enum Prefix {
    Short([u8; 16]),
    Full(EntryHash),
}

// Every entry item's hash prefix and signer, for links and approvals. A contiguous run (the
// common case, and the only large one) is a vector indexed from its first position: 20 bytes an
// entry; anything else goes in a map.
#[derive(Default)]
struct SeenEntries {
    start: u64,
    run: Vec<Seen>,
    other: HashMap<u64, Seen>,
}

// A 16-byte prefix of an entry's hash (a forged link would need a 2^128 prefix collision with a
// signed, chained entry) and its signer, as an index into the table of distinct signers.
#[derive(Clone, Copy)]
struct Seen {
    hash: [u8; 16],
    signer: u32,
}

impl SeenEntries {
    fn get(&self, seq: u64) -> Option<&Seen> {
        seq.checked_sub(self.start)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.run.get(i))
            .or_else(|| self.other.get(&seq))
    }

    fn insert(&mut self, seq: u64, seen: Seen) {
        if self.run.is_empty() && self.other.is_empty() {
            self.start = seq;
        }
        if seq.checked_sub(self.start) == Some(self.run.len() as u64) {
            self.run.push(seen);
        } else {
            self.other.insert(seq, seen);
        }
    }
}

// The distinct signers of entry items, each once: looked up by hash, in constant time.
#[derive(Default)]
struct Signers {
    index: HashMap<KeyId, u32>,
    keys: Vec<KeyId>,
}

impl Signers {
    // The signer's index; `None` past 2^32 distinct signers (never truncated).
    fn intern(&mut self, key: KeyId) -> Option<u32> {
        if let Some(&i) = self.index.get(&key) {
            return Some(i);
        }
        let i = u32::try_from(self.keys.len()).ok()?;
        self.keys.push(key);
        self.index.insert(key, i);
        Some(i)
    }

    fn key(&self, index: u32) -> Option<KeyId> {
        self.keys.get(usize::try_from(index).ok()?).copied()
    }
}

fn verify_one(entry: &Entry) -> bool {
    verifying_key(entry.header().signer.as_bytes())
        .is_ok_and(|k| verify_strict(&k, &entry.signing_input(), entry.signature()))
}

impl Verifier<'_> {
    // Step 5: a control item.
    pub(super) fn control(&mut self, bytes: Vec<u8>) {
        let (entry, payload, proof) = match decode_item(bytes) {
            Ok(x) => x,
            Err(e) => {
                self.report
                    .finding(None, Check::Decode, format!("control item: {e}"));
                return;
            }
        };
        let h = entry.header();
        let seq = h.seq;
        if !h.kind.is_control() {
            self.report.finding(
                Some(seq),
                Check::Control,
                format!(
                    "a control item must be a control entry (key management, erasure, review policy, retention, legal hold or purge), not `{}`",
                    h.kind
                ),
            );
            return;
        }
        let before = self.known.controls.last_key_value().map(|(&s, c)| (s, *c));
        if before.is_some_and(|(s, _)| s >= seq) {
            self.report.finding(
                Some(seq),
                Check::Sequence,
                "control items out of order or repeated",
            );
            return;
        }
        let hash = entry.hash(self.suite);
        self.check_log_id(&entry);
        // The control chain: each control entry names the one before it (SPEC §7.5).
        let expected = before.map(|(s, c)| Link {
            seq: s,
            hash: c.hash,
        });
        if h.control != expected {
            self.report.finding(
                Some(seq),
                Check::Control,
                format!(
                    "names {} as the control entry before it, but the control item before it is \
                     {}: control entries are missing or reordered",
                    describe_control(&h.control),
                    describe_control(&expected)
                ),
            );
        }
        if let Some((s, c)) = before {
            if s.checked_add(1) == Some(seq) && h.prev != c.hash {
                self.report.finding_from(&VerifyError::Chain {
                    seq,
                    expected: c.hash,
                    found: h.prev,
                });
            }
        }
        let lower = before.map_or(self.created, |(_, c)| c.time.max(self.created));
        self.check_time(seq, h.time, lower, None);
        self.merkle_inclusion(&entry, &proof);
        let (payload, withheld) = payload.into_payload();
        let sig_ok = verify_one(&entry);
        self.checks(&entry, &payload, withheld, sig_ok, Occurrence::First);
        if let Some(content) = &self.content {
            self.report.erasure(&entry, &payload, content.registry());
            self.report
                .control_item(&entry, &payload, content.registry());
        }
        for l in &h.links {
            self.known
                .control_links
                .entry(l.seq)
                .or_default()
                .push((seq, l.hash));
        }
        self.known.controls.insert(
            seq,
            ControlInfo {
                hash,
                prev: h.prev,
                time: h.time,
                signer: h.signer,
            },
        );
        if let Some(kept) = &mut self.kept {
            kept.keep(entry, hash, payload, withheld);
        }
    }

    // After the last control item.
    pub(super) fn end_of_controls(&mut self) {
        self.check_control_heads();
    }

    fn check_log_id(&mut self, entry: &Entry) {
        let h = entry.header();
        if h.log_id != self.log_id {
            self.report.finding(
                Some(h.seq),
                Check::LogId,
                format!("belongs to log {}, not this one", h.log_id.short()),
            );
        }
    }

    // Time never goes backwards across the entries the bundle holds (`lower`, at least the
    // descriptor's `created`), stays at or before the next control entry's (`upper`), and is not
    // past what an anchor bounds.
    fn check_time(&mut self, seq: u64, time: Timestamp, lower: Timestamp, upper: Option<u64>) {
        if time < lower {
            self.report.finding_from(&VerifyError::Time {
                seq,
                previous: lower,
                found: time,
            });
        }
        if let Some(next) = upper {
            if let Some(c) = self.known.controls.get(&next) {
                if time > c.time {
                    self.report.finding_from(&VerifyError::Time {
                        seq: next,
                        previous: time,
                        found: c.time,
                    });
                }
            }
        }
        if let Some((bound, what)) = self.time_bounds.exceeded(seq, time) {
            self.report.finding(
                Some(seq),
                Check::Time,
                format!(
                    "dated {}, more than 5 minutes after {what} ({})",
                    time.to_rfc3339(),
                    bound.to_rfc3339()
                ),
            );
        }
    }

    fn merkle_inclusion(&mut self, entry: &Entry, proof: &[[u8; 32]]) {
        let Some(anchor) = &self.anchor else {
            return;
        };
        if let Err(e) = anchor.verify_entry(entry, proof) {
            self.report.finding(
                Some(entry.seq()),
                Check::Merkle,
                format!(
                    "not included in the checkpoint of size {} at its position: {e}",
                    anchor.size()
                ),
            );
        }
    }

    // Step 6: an entry item, with its signature already checked (`sig_ok`).
    pub(super) fn entry(&mut self, index: u64, decoded: DecodedItem, sig_ok: bool) {
        let expected = match self.header.shape {
            Shape::Contiguous => Some(self.header.start.saturating_add(index)),
            Shape::Selection => None,
        };
        let (entry, payload, proof) = match decoded {
            Ok(x) => x,
            Err(e) => {
                self.report.finding(expected, Check::Decode, e.to_string());
                // The tree cannot advance past an undecodable entry, nor the chain.
                self.renewal_gap(expected);
                self.frontier = None;
                self.known.last = None;
                return;
            }
        };
        let h = entry.header();
        let seq = h.seq;
        let hash = entry.hash(self.suite);
        self.renewal_entry(seq, entry.header_bytes());
        if let Some(exp) = expected.filter(|&e| e != seq) {
            self.report.finding(
                Some(exp),
                Check::Sequence,
                format!(
                    "position {exp} holds entry {seq}: entries were dropped, duplicated or reordered"
                ),
            );
        }
        if let Some(last) = self.known.last.filter(|l| seq <= l.seq) {
            self.report.finding(
                Some(seq),
                Check::Sequence,
                format!(
                    "entry {seq} follows entry {}: out of order or repeated",
                    last.seq
                ),
            );
        }
        self.check_log_id(&entry);
        // An entry at a control item's position is that control entry, checked again by every
        // rule but applied once (SPEC §12.4).
        let occurrence = match self.known.controls.get(&seq) {
            Some(c) if c.hash == hash => Occurrence::Repeat,
            Some(_) => {
                self.report.finding(
                    Some(seq),
                    Check::Sequence,
                    "the entry differs from the control item at the same position",
                );
                Occurrence::Repeat
            }
            None if h.kind.is_control() => {
                self.report.finding(
                    Some(seq),
                    Check::Control,
                    "a control entry that is not among the bundle's control items",
                );
                Occurrence::Repeat
            }
            None => Occurrence::First,
        };
        self.check_neighbours(&entry, hash);
        let expected_control = self.known.control_below(seq);
        if h.control != expected_control {
            self.report.finding_from(&VerifyError::Control {
                seq,
                expected: expected_control,
                found: h.control,
            });
        }
        // Merkle.
        match self.header.shape {
            Shape::Contiguous => {
                if let Some(f) = &mut self.frontier {
                    if f.append(&self.suite, merkle::leaf_hash(self.suite, &hash))
                        .is_err()
                    {
                        self.frontier = None;
                    }
                }
                self.check_streamed_roots(seq.saturating_add(1));
                if !proof.is_empty() {
                    self.report.finding(
                        Some(seq),
                        Check::Decode,
                        "an entry of a contiguous bundle carries a proof",
                    );
                }
            }
            Shape::Selection => self.merkle_inclusion(&entry, &proof),
        }
        // Links from control items to this entry.
        if let Some(from) = self.known.control_links.get(&seq).cloned() {
            for (index, (c, named)) in from.into_iter().enumerate() {
                if named != hash {
                    self.report.finding_from(&VerifyError::Link {
                        seq: c,
                        problem: crate::verify::LinkProblem::HashMismatch {
                            index,
                            target: seq,
                            named,
                            actual: hash,
                        },
                    });
                }
            }
        }
        let (payload, withheld) = payload.into_payload();
        self.check_approval_time(&entry, &payload);
        self.checks(&entry, &payload, withheld, sig_ok, occurrence);
        if let Some(content) = &self.content {
            self.report
                .entry(&entry, &payload, withheld, content.registry());
        }
        let Some(signer) = self.known.signers.intern(h.signer) else {
            self.report.finding(
                Some(seq),
                Check::Signer,
                "more than 2^32 distinct signers: the bundle cannot be checked further",
            );
            self.stopped = true;
            return;
        };
        let mut prefix = [0u8; 16];
        prefix.copy_from_slice(&hash.0[..16]);
        self.known.seen.insert(
            seq,
            Seen {
                hash: prefix,
                signer,
            },
        );
        self.known.last = Some(Last {
            seq,
            hash,
            time: h.time,
        });
        if let Some(kept) = &mut self.kept {
            kept.keep(entry, hash, payload, withheld);
        }
    }

    // The chain and time against the entries the bundle holds next to this one: the entry item
    // or control item just before it, and the control item just after it.
    fn check_neighbours(&mut self, entry: &Entry, hash: EntryHash) {
        let h = entry.header();
        let seq = h.seq;
        let before_control = self
            .known
            .controls
            .range(..seq)
            .next_back()
            .map(|(&s, c)| (s, c.hash, c.time));
        let before_entry = self.known.last.map(|l| (l.seq, l.hash, l.time));
        // The nearest known entry before this one, of either list.
        let before = match (before_entry, before_control) {
            (Some(e), Some(c)) => Some(if e.0 >= c.0 { e } else { c }),
            (e, c) => e.or(c),
        };
        if let Some((s, prev_hash, _)) = before {
            if s.checked_add(1) == Some(seq) && h.prev != prev_hash {
                self.report.finding_from(&VerifyError::Chain {
                    seq,
                    expected: prev_hash,
                    found: h.prev,
                });
            }
        }
        if seq == 0 && h.prev.0 != self.log_id.0 {
            self.report.finding_from(&VerifyError::Chain {
                seq,
                expected: EntryHash(self.log_id.0),
                found: h.prev,
            });
        }
        let after = seq.checked_add(1);
        if let Some((next, c)) = after.and_then(|a| self.known.controls.get(&a).map(|c| (a, c))) {
            if c.prev != hash {
                self.report.finding_from(&VerifyError::Chain {
                    seq: next,
                    expected: hash,
                    found: c.prev,
                });
            }
        }
        let lower = before.map_or(self.created, |b| b.2.max(self.created));
        let next_control = after
            .and_then(|a| self.known.controls.range(a..).next())
            .map(|(&s, _)| s);
        self.check_time(seq, h.time, lower, next_control);
    }

    // An approval's time of signing is not past what an anchor bounds either.
    fn check_approval_time(&mut self, entry: &Entry, payload: &Payload) {
        let h = entry.header();
        if h.kind.as_str() != Kind::APPROVAL {
            return;
        }
        let Some(a) = payload.data().and_then(|d| Approval::decode(d).ok()) else {
            return;
        };
        if let Some((bound, what)) = self.time_bounds.exceeded(h.seq, a.signed_at()) {
            self.report.finding(
                Some(h.seq),
                Check::Time,
                format!(
                    "the approver's time of signing {} is more than 5 minutes after {what} ({})",
                    a.signed_at().to_rfc3339(),
                    bound.to_rfc3339()
                ),
            );
        }
    }

    // The checks every item gets after its position: a pinned owner for control kinds, signer,
    // signature, links, payload, erasure, key management, approvals (SPEC §8.2).
    fn checks(
        &mut self,
        entry: &Entry,
        payload: &Payload,
        withheld: Option<WithheldReason>,
        sig_ok: bool,
        occurrence: Occurrence,
    ) {
        let h = entry.header();
        let seq = h.seq;
        if h.kind.is_control() && !self.pinned(&h.signer) {
            self.report.finding(
                Some(seq),
                Check::Signer,
                format!(
                    "`{}` entry signed by key {}, which is not pinned",
                    h.kind,
                    h.signer.short()
                ),
            );
        }
        let Some(content) = self.content.as_mut() else {
            return;
        };
        if let Err(e) = content.check_signer(entry) {
            self.report.finding_from(&e);
        }
        if !sig_ok {
            self.report
                .finding_from(&VerifyError::Signature { seq, key: h.signer });
        }
        let known = &self.known;
        // Entry items are remembered by a 16-byte prefix of their hash: when the prefix matches,
        // the link's own hash stands for the entry's, so a mismatch still reports the right one.
        let mut linked = |target: u64| -> Option<LinkedEntry> {
            let (prefix, signer) = known.linked(target)?;
            let named = h.links.iter().find(|l| l.seq == target)?;
            let hash = match prefix {
                Prefix::Full(hash) => hash,
                Prefix::Short(p) if named.hash.0[..16] == p => named.hash,
                Prefix::Short(p) => {
                    let mut h = [0u8; 32];
                    h[..16].copy_from_slice(&p);
                    EntryHash(h)
                }
            };
            Some(LinkedEntry { hash, signer })
        };
        let absence = if withheld.is_some() {
            Absence::Withheld
        } else {
            Absence::Erased
        };
        if let Err(e) = content.check_rest(entry, payload, absence, occurrence, &mut linked) {
            self.report.finding_from(&e);
        }
    }
}
