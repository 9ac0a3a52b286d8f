//! The checkpoints of a bundle (SPEC §12.6 steps 3, 4 and 7): each carried checkpoint signed by
//! a pinned key and bound to this log, consecutive ones consistent, witnesses on the anchor, the
//! roots the entries give at each checkpoint's size, and the auditor's own earlier checkpoint,
//! which the bundle must prove the log grew from.

use std::collections::BTreeMap;

use super::Verifier;
use crate::bundle::{Shape, plain};
use crate::checkpoint::{
    CheckpointTrust, LogOrigin, SignedCheckpoint, VerifiedCheckpoint, WitnessError, Witnesses,
};
use crate::descriptor::Descriptor;
use crate::hash::RootHash;
use crate::merkle::{self, Frontier};
use crate::report::{Cosigner, Proven, RootRelation};
use crate::time::Timestamp;
use crate::verify::{Check, describe_control};

/// Where a root to compare with the entries' tree comes from.
#[derive(Debug, Clone)]
pub(super) enum RootSource {
    /// A checkpoint the bundle carries, signed by this pinned key.
    Carried(String),
    /// The checkpoint the auditor supplied.
    Supplied,
    /// A root claimed outside any signature (the policy's claim at this index).
    Claimed(usize),
}

/// Roots the entries' tree must have at given sizes (contiguous bundles).
#[derive(Debug, Default)]
pub(super) struct RootChecks(BTreeMap<u64, Vec<(RootHash, RootSource)>>);

impl RootChecks {
    pub(super) fn add(&mut self, size: u64, root: RootHash, source: RootSource) {
        self.0.entry(size).or_default().push((root, source));
    }

    fn at(&self, size: u64) -> Option<&[(RootHash, RootSource)]> {
        self.0.get(&size).map(Vec::as_slice)
    }
}

/// The auditor's earlier checkpoint, and how far proving the log grew from it has come.
#[derive(Debug)]
pub(super) enum Previous {
    /// None was supplied.
    NotGiven,
    /// Verified; the root at its size is still to be compared as the entries stream past.
    Pending(VerifiedCheckpoint),
    /// Proven, or a finding says why not.
    Settled(Option<VerifiedCheckpoint>),
}

impl Previous {
    fn checkpoint(&self) -> Option<&VerifiedCheckpoint> {
        match self {
            Previous::Pending(c) | Previous::Settled(Some(c)) => Some(c),
            _ => None,
        }
    }
}

impl Verifier<'_> {
    fn trust(&self, d: &Descriptor) -> Option<CheckpointTrust> {
        let origin = LogOrigin::of(d).ok()?;
        CheckpointTrust::new(origin, self.policy.keys.clone(), Witnesses::NotRequired)
            .ok()
            .map(|t| t.with_log_id(self.log_id))
    }

    // Steps 3 and 4.
    pub(super) fn check_checkpoints(&mut self, d: &Descriptor) {
        let Some(trust) = self.trust(d) else {
            self.report.finding(
                None,
                Check::Checkpoint,
                format!(
                    "the descriptor's origin {:?} cannot name checkpoints",
                    d.origin
                ),
            );
            return;
        };
        let items = self.header.checkpoints.clone();
        if items.is_empty() {
            self.report.finding(
                None,
                Check::Checkpoint,
                "the bundle carries no checkpoint: nothing ties its entries to the log",
            );
        }
        let mut previous: Option<VerifiedCheckpoint> = None;
        let mut last_size: Option<u64> = None;
        let mut anchor_signed = None;
        for (i, item) in items.iter().enumerate() {
            let n = i + 1;
            if i == 0 && !item.consistency.is_empty() {
                self.report.finding(
                    None,
                    Check::Checkpoint,
                    "the first checkpoint carries a consistency proof; it must be empty",
                );
            }
            let signed = SignedCheckpoint::parse(&item.note);
            let verified = signed
                .as_ref()
                .map_err(ToString::to_string)
                .and_then(|s| trust.verify(s).map_err(|e| e.to_string()));
            let verified = match verified {
                Ok(c) => c,
                Err(e) => {
                    self.report
                        .finding(None, Check::Checkpoint, format!("checkpoint {n}: {e}"));
                    previous = None;
                    continue;
                }
            };
            if last_size.is_some_and(|s| verified.size() <= s) {
                self.report.finding(
                    None,
                    Check::Checkpoint,
                    format!(
                        "checkpoint {n} (size {}) does not follow a smaller one: checkpoints are \
                         listed by strictly increasing size",
                        verified.size()
                    ),
                );
            }
            last_size = Some(verified.size());
            if let Some(prev) = &previous {
                if let Err(e) = verified.verify_consistency(prev, &plain(&item.consistency)) {
                    self.report.finding(
                        None,
                        Check::Checkpoint,
                        format!(
                            "checkpoints of size {} and {}: {e}",
                            prev.size(),
                            verified.size()
                        ),
                    );
                }
            }
            self.roots.add(
                verified.size(),
                verified.root(),
                RootSource::Carried(self.policy.describe(&verified.signer())),
            );
            if i + 1 == items.len() {
                anchor_signed = signed.ok();
                self.anchor = Some(verified.clone());
            }
            self.checkpoints.push(verified.clone());
            previous = Some(verified);
        }
        match (self.anchor.clone(), anchor_signed) {
            (Some(anchor), Some(signed)) => {
                self.report.checkpoint(
                    anchor.size(),
                    anchor.root(),
                    &self.policy.describe(&anchor.signer()),
                );
                self.check_witnesses(&signed);
            }
            _ if !items.is_empty() => self.report.finding(
                None,
                Check::Checkpoint,
                "the last checkpoint does not verify: nothing ties the entries to the log",
            ),
            _ => {}
        }
        if let Some(note) = self.policy.previous.clone() {
            self.check_previous(&trust, &note);
        }
        self.check_claims();
    }

    // The witness policy on the anchor; witness keys are never the log's own keys, and their
    // cosignature times bound the times of the entries the anchor covers.
    fn check_witnesses(&mut self, signed: &SignedCheckpoint) {
        let Some(policy) = self.policy.witnesses.clone() else {
            return;
        };
        for w in policy.witnesses() {
            if self.pinned(&w.key_id()) {
                self.report.finding(
                    None,
                    Check::Checkpoint,
                    format!(
                        "witness {} has the key of a pinned owner key: a log's own key cannot \
                         witness it",
                        w.name()
                    ),
                );
            }
        }
        let report = match policy.verify(signed) {
            Ok(report) => report,
            Err(WitnessError::QuorumNotMet {
                found,
                needed,
                report,
            }) => {
                self.report.finding(
                    None,
                    Check::Checkpoint,
                    format!(
                        "witnesses: {found} valid cosignatures on the checkpoint, {needed} required"
                    ),
                );
                report
            }
        };
        let mut cosigned = Vec::new();
        for (k, time) in report.cosigners() {
            let nanos = time.saturating_mul(1_000_000_000);
            cosigned.push(Cosigner {
                name: k.name().to_owned(),
                key: k.key_id().to_string(),
                time: Timestamp(nanos).to_rfc3339(),
            });
            self.time_bounds.add(
                Timestamp(nanos),
                format!(
                    "the time witness {} cosigned the checkpoint ({})",
                    k.name(),
                    Timestamp(nanos).to_rfc3339()
                ),
            );
        }
        self.report.witnesses(report.needed() as u64, cosigned);
    }

    // Step 4: the auditor's earlier checkpoint. Settled here when the bundle's checkpoints
    // decide it; otherwise left pending for the root the entries give at its size.
    fn check_previous(&mut self, trust: &CheckpointTrust, note: &[u8]) {
        let prev = match trust.verify_bytes(note) {
            Ok(p) => p,
            Err(e) => {
                self.report.finding(
                    None,
                    Check::Checkpoint,
                    format!("the checkpoint you supplied does not verify: {e}"),
                );
                self.previous = Previous::Settled(None);
                return;
            }
        };
        let Some(anchor) = self.anchor.clone() else {
            self.cannot_prove(&prev, "the bundle's own checkpoint does not verify");
            self.previous = Previous::Settled(Some(prev));
            return;
        };
        if prev.size() > anchor.size() {
            self.report.finding(
                None,
                Check::Checkpoint,
                format!(
                    "ROLLBACK: the bundle's checkpoint has {}, fewer than the {} of the \
                     checkpoint you supplied",
                    crate::text::entries(anchor.size()),
                    prev.size()
                ),
            );
            self.previous = Previous::Settled(Some(prev));
            return;
        }
        let carried = self
            .checkpoints
            .iter()
            .find(|c| c.size() == prev.size())
            .map(VerifiedCheckpoint::root);
        if let Some(root) = carried {
            self.settle_previous(prev, root, "a checkpoint the bundle carries");
            return;
        }
        let end = self.header.start.saturating_add(self.header.count);
        if self.header.shape == Shape::Contiguous
            && self.header.start <= prev.size()
            && prev.size() <= end
        {
            self.roots
                .add(prev.size(), prev.root(), RootSource::Supplied);
            self.previous = Previous::Pending(prev);
            return;
        }
        self.cannot_prove(
            &prev,
            "the bundle carries no checkpoint of that size and its entries do not reach it; \
             export the entries since that checkpoint (`sealtrail export --since-checkpoint`)",
        );
        self.previous = Previous::Settled(Some(prev));
    }

    fn cannot_prove(&mut self, prev: &VerifiedCheckpoint, why: &str) {
        self.report.finding(
            None,
            Check::Checkpoint,
            format!(
                "cannot prove the log grew from the checkpoint you supplied (size {}, root {}): \
                 {why}",
                prev.size(),
                prev.root().short()
            ),
        );
    }

    // Compares the supplied checkpoint's root with the root the bundle proves at its size.
    fn settle_previous(&mut self, prev: VerifiedCheckpoint, root: RootHash, from: &str) {
        if root == prev.root() {
            if let Some(anchor) = &self.anchor {
                self.report.proven(Proven::PreviousCheckpointExtended {
                    previous_size: prev.size(),
                    previous_root: prev.root(),
                    size: anchor.size(),
                    root: anchor.root(),
                });
            }
        } else {
            self.fork(
                &prev,
                format!("{from} gives root {} at size {}", root.short(), prev.size()),
            );
        }
        self.previous = Previous::Settled(Some(prev));
    }

    fn fork(&mut self, prev: &VerifiedCheckpoint, detail: String) {
        self.report.finding(
            None,
            Check::Checkpoint,
            format!(
                "FORK: the log in this bundle is not an extension of the checkpoint you supplied \
                 (size {}, root {}): {detail}",
                prev.size(),
                prev.root().short()
            ),
        );
    }

    /// After the control items: every checkpoint names the control head the control items give
    /// at its size (SPEC §11.2), the chain they form reaches the anchor's, and no witness key is
    /// a key the log registered.
    pub(super) fn check_control_heads(&mut self) {
        let checkpoints = self.checkpoints.clone();
        for c in &checkpoints {
            let expected = self.known.control_below(c.size());
            if c.control() != expected {
                self.report.finding(
                    None,
                    Check::Control,
                    format!(
                        "the checkpoint of size {} names control entry {} as the latest below \
                         it, but the bundle's control items give {}{}",
                        c.size(),
                        describe_control(&c.control()),
                        describe_control(&expected),
                        if Some(c) == self.anchor.as_ref() {
                            ": control entries (key registrations, revocations or erasures) are \
                             missing from the bundle"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
        if let Some(prev) = self.previous.checkpoint().cloned() {
            let anchor_size = self.anchor.as_ref().map_or(0, VerifiedCheckpoint::size);
            let expected = self.known.control_below(prev.size());
            if prev.size() <= anchor_size && prev.control() != expected {
                self.fork(
                    &prev,
                    format!(
                        "it names control entry {} as the latest below size {}, this log {}",
                        describe_control(&prev.control()),
                        prev.size(),
                        describe_control(&expected)
                    ),
                );
                self.previous = Previous::Settled(Some(prev));
            }
        }
        if let (Some(policy), Some(content)) = (&self.policy.witnesses, &self.content) {
            let registered: Vec<String> = policy
                .witnesses()
                .iter()
                .filter_map(|w| {
                    content.registry().get(&w.key_id()).map(|r| {
                        format!(
                            "witness {} is the log's {} key {:?}",
                            w.name(),
                            r.role,
                            r.name
                        )
                    })
                })
                .collect();
            for message in registered {
                self.report.finding(
                    None,
                    Check::Checkpoint,
                    format!("{message}: a log's own key cannot witness it"),
                );
            }
        }
    }

    /// Contiguous bundles: the tree before `start`, from the header's frontier, and the roots
    /// checkpoints state at size `start`.
    pub(super) fn start_frontier(&mut self) {
        let start = self.header.start;
        match Frontier::from_nodes(start, plain(&self.header.frontier)) {
            Some(f) => self.frontier = Some(f),
            None => {
                self.report.finding(
                    None,
                    Check::Merkle,
                    format!(
                        "the frontier before entry {start} has the wrong number of hashes \
                         ({}; a tree of {start} entries has {})",
                        self.header.frontier.len(),
                        start.count_ones()
                    ),
                );
                return;
            }
        }
        self.check_streamed_roots(start);
    }

    /// Contiguous bundles: the streamed tree's root at `size` must be the root every checkpoint
    /// of that size states.
    pub(super) fn check_streamed_roots(&mut self, size: u64) {
        let Some(f) = &self.frontier else { return };
        if f.size() != size {
            return;
        }
        let Some(expected) = self.roots.at(size) else {
            return;
        };
        let expected = expected.to_vec();
        let root = f.root(&self.suite);
        for (want, source) in expected {
            match source {
                RootSource::Supplied => {
                    if let Previous::Pending(prev) =
                        std::mem::replace(&mut self.previous, Previous::Settled(None))
                    {
                        self.settle_previous(prev, root, "the bundle's entries");
                    }
                }
                RootSource::Carried(who) if want != root => self.report.finding(
                    Some(size.saturating_sub(1)),
                    Check::Merkle,
                    format!(
                        "the entries give root {} at size {size}, but the checkpoint signed by \
                         {who} says {}",
                        root.short(),
                        want.short()
                    ),
                ),
                RootSource::Carried(_) => {}
                RootSource::Claimed(i) => self.claimed_root_reached(i, root),
            }
        }
    }

    /// Step 7 after the last entry (contiguous: the root at `end` is the anchor's, or proven a
    /// prefix of it by `tail`), step 8 (erasures), and the auditor's checkpoint, if still
    /// unproven.
    pub(super) fn end_of_entries(&mut self) {
        let h = &self.header;
        if h.shape == Shape::Contiguous {
            let end = h.start.saturating_add(h.count);
            match (&self.frontier, self.anchor.clone()) {
                (Some(f), Some(anchor)) if f.size() == end => {
                    let root = f.root(&self.suite);
                    let tail = plain(&h.tail);
                    let (ok, how) = if end > anchor.size() {
                        (false, "beyond".to_owned())
                    } else if end == anchor.size() || end == 0 {
                        // Equal trees, or the empty tree every tree extends: no proof.
                        let ok = tail.is_empty() && (end == 0 || root == anchor.root());
                        (ok, "the root of".to_owned())
                    } else {
                        let ok = merkle::verify_consistency(
                            &self.suite,
                            end,
                            anchor.size(),
                            &tail,
                            root.as_bytes(),
                            anchor.root().as_bytes(),
                        )
                        .is_ok();
                        (ok, "proven a prefix of".to_owned())
                    };
                    if ok {
                        self.report.proven(Proven::EntriesMatchCheckpoint {
                            start: h.start,
                            end,
                            root,
                            relation: if end == anchor.size() || end == 0 {
                                RootRelation::Equal
                            } else {
                                RootRelation::Prefix
                            },
                            checkpoint_size: anchor.size(),
                            checkpoint_root: anchor.root(),
                        });
                    } else {
                        let tail_note = if (end == anchor.size() || end == 0) && !tail.is_empty() {
                            " (the tail proof must be empty when nothing is to be proven)"
                        } else {
                            ""
                        };
                        self.report.finding(
                            None,
                            Check::Merkle,
                            format!(
                                "the entries do not match the checkpoint: root {} at size {end} \
                                 is not {how} checkpoint size {}{tail_note}",
                                root.short(),
                                anchor.size()
                            ),
                        );
                    }
                }
                (_, None) => {}
                _ => self.report.finding(
                    None,
                    Check::Merkle,
                    "the entries' Merkle tree could not be computed (see earlier findings)",
                ),
            }
        } else if let Some(anchor) = &self.anchor {
            self.report.proven(Proven::EntriesIncluded {
                checkpoint_size: anchor.size(),
                checkpoint_root: anchor.root(),
            });
        }
        if let Some(content) = &self.content {
            if let Err(e) = content.finish() {
                self.report.finding_from(&e);
            }
        }
        if let Previous::Pending(prev) =
            std::mem::replace(&mut self.previous, Previous::Settled(None))
        {
            self.cannot_prove(
                &prev,
                "the entries' tree could not be followed to its size (see earlier findings)",
            );
            self.previous = Previous::Settled(Some(prev));
        }
        self.unsettled_claims();
    }
}
