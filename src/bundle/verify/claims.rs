//! Roots claimed outside any signature — a commit's `Sealtrail-Checkpoint` trailer, say — that
//! the bundle must prove: the log's root at the claimed size is the claimed root, shown by a
//! checkpoint the bundle carries or by the root its entries give at that size, and that size is
//! covered by the bundle's own (signed) checkpoint. Unlike the auditor's checkpoint (SPEC §12.6
//! step 4), a claim carries no signature: it is trusted only once the bundle proves it.

use super::Verifier;
use super::anchor::RootSource;
use crate::bundle::Shape;
use crate::hash::RootHash;
use crate::report::Proven;
use crate::verify::Check;

/// A root claimed for a size of the log, and who claims it (for the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RootClaim {
    pub(super) size: u64,
    pub(super) root: RootHash,
    pub(super) what: String,
}

/// How far proving a claim has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClaimState {
    /// Waiting for the entries' tree to reach its size.
    Pending,
    /// Proven, or a finding says why not.
    Settled,
}

impl Verifier<'_> {
    /// After the bundle's checkpoints: settles each claim a carried checkpoint decides, and
    /// leaves the others for the roots the entries give.
    pub(super) fn check_claims(&mut self) {
        let claims = self.policy.claims.clone();
        self.claims = vec![ClaimState::Settled; claims.len()];
        for (i, claim) in claims.iter().enumerate() {
            let Some(anchor) = self.anchor.clone() else {
                self.unproven(claim, "the bundle's own checkpoint does not verify");
                continue;
            };
            if claim.size > anchor.size() {
                self.report.finding(
                    None,
                    Check::Checkpoint,
                    format!(
                        "{} names size {}, beyond the bundle's checkpoint of size {}: export a \
                         bundle that covers it",
                        claim.what,
                        claim.size,
                        anchor.size()
                    ),
                );
                continue;
            }
            let carried = self
                .checkpoints
                .iter()
                .find(|c| c.size() == claim.size)
                .map(|c| c.root());
            if let Some(root) = carried {
                self.settle_claim(claim, root, "a checkpoint the bundle carries");
                continue;
            }
            let end = self.header.start.saturating_add(self.header.count);
            if self.header.shape == Shape::Contiguous
                && self.header.start <= claim.size
                && claim.size <= end
            {
                self.roots
                    .add(claim.size, claim.root, RootSource::Claimed(i));
                self.claims[i] = ClaimState::Pending;
                continue;
            }
            self.unproven(
                claim,
                "the bundle carries no checkpoint of that size and its entries do not reach it; \
                 export the log from its first entry, or from that size",
            );
        }
    }

    /// The root the entries give at claim `i`'s size.
    pub(super) fn claimed_root_reached(&mut self, i: usize, root: RootHash) {
        if self.claims.get(i) != Some(&ClaimState::Pending) {
            return;
        }
        self.claims[i] = ClaimState::Settled;
        let claim = self.policy.claims[i].clone();
        self.settle_claim(&claim, root, "the bundle's entries");
    }

    /// After the last entry: a claim still pending could not be proven.
    pub(super) fn unsettled_claims(&mut self) {
        for i in 0..self.claims.len() {
            if self.claims[i] == ClaimState::Pending {
                self.claims[i] = ClaimState::Settled;
                let claim = self.policy.claims[i].clone();
                self.unproven(
                    &claim,
                    "the entries' tree could not be followed to its size (see earlier findings)",
                );
            }
        }
    }

    fn settle_claim(&mut self, claim: &RootClaim, root: RootHash, from: &str) {
        if root == claim.root {
            self.report.proven(Proven::ClaimedRoot {
                claim: claim.what.clone(),
                size: claim.size,
                root,
                source: from.to_owned(),
            });
        } else {
            self.report.finding(
                None,
                Check::Checkpoint,
                format!(
                    "{} names root {} at size {}, but {from} gives {}: the claim is not this log's \
                     history",
                    claim.what,
                    claim.root.short(),
                    claim.size,
                    root.short()
                ),
            );
        }
    }

    fn unproven(&mut self, claim: &RootClaim, why: &str) {
        self.report.finding(
            None,
            Check::Checkpoint,
            format!(
                "cannot prove {} (size {}, root {}): {why}",
                claim.what,
                claim.size,
                claim.root.short()
            ),
        );
    }
}
