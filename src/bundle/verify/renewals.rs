//! SPEC §15.6: the renewals a bundle's header carries, checked against the renewal trees its
//! entries give, and — with the log's suite distrusted — the entries they must cover.

use super::Verifier;
use crate::bundle::Shape;
use crate::checkpoint::LogOrigin;
use crate::renewal::{RenewalTree, RenewalTrust, SignedRenewal, judge};
use crate::verify::Check;

impl Verifier<'_> {
    // The roots the header's renewals need, recorded as the entries stream by: only a
    // contiguous bundle from entry 0 (or an archive's tree, which spans its segments) holds
    // every entry below a renewal's size, in order.
    pub(super) fn want_renewal_roots(&mut self) {
        let wanted: Vec<_> = self
            .header
            .renewals
            .iter()
            .filter_map(|r| SignedRenewal::parse(&r.note).ok())
            .map(|s| (s.renewal().suite, s.renewal().size))
            .collect();
        let from_zero = self.header.shape == Shape::Contiguous && self.header.start == 0;
        match &mut self.renewal_tree {
            Some(tree) => {
                for (suite, size) in wanted {
                    tree.want(suite, size);
                }
            }
            None if wanted.is_empty() => {}
            None => {
                let mut tree = RenewalTree::new(wanted);
                if !from_zero {
                    tree.stop(
                        "the bundle does not hold the entries from entry 0 in order (a \
                         selection, or a range that starts later)"
                            .into(),
                    );
                }
                self.renewal_tree = Some(tree);
            }
        }
    }

    // Feeds an entry item to the renewal trees (contiguous bundles only).
    pub(super) fn renewal_entry(&mut self, seq: u64, header: &[u8]) {
        self.entry_span = Some(match self.entry_span {
            Some((first, last)) => (first.min(seq), last.max(seq)),
            None => (seq, seq),
        });
        if self.header.shape != Shape::Contiguous {
            return;
        }
        if let Some(tree) = &mut self.renewal_tree {
            tree.push(seq, header);
        }
    }

    // An entry item that did not decode: the trees cannot go past it.
    pub(super) fn renewal_gap(&mut self, at: Option<u64>) {
        if let Some(tree) = &mut self.renewal_tree {
            tree.stop(match at {
                Some(seq) => format!("entry item at position {seq} did not decode"),
                None => "an entry item did not decode".into(),
            });
        }
    }

    pub(super) fn check_renewals(&mut self) {
        let items = std::mem::take(&mut self.header.renewals);
        let mut covered = 0u64;
        if !items.is_empty() {
            let tree = self
                .renewal_tree
                .clone()
                .unwrap_or_else(|| RenewalTree::new([]));
            match LogOrigin::new(&self.origin, self.suite) {
                Ok(log) => {
                    let trust = RenewalTrust::new(log, self.log_id, self.policy.keys().to_vec());
                    let policy = self.policy;
                    for (i, item) in items.iter().enumerate() {
                        let o = judge(i + 1, item, &trust, &tree, &|k| policy.describe(k));
                        if let Some(message) = o.finding {
                            self.report.finding(None, Check::Renewal, message);
                        }
                        if let Some(p) = o.proven {
                            self.report.proven(p);
                        }
                        if let Some((suite, size)) = o.covers {
                            if !policy.distrusts(suite) {
                                covered = covered.max(size);
                            }
                        }
                        self.report.renewal(o.summary);
                    }
                }
                Err(e) => self
                    .report
                    .finding(None, Check::Renewal, format!("renewals: {e}")),
            }
        }
        self.header.renewals = items;
        if self.policy.distrusts(self.suite) {
            self.check_coverage(covered);
        }
    }

    // With the log's suite distrusted, every entry item must be below a verified renewal's size.
    fn check_coverage(&mut self, covered: u64) {
        let Some((first, last)) = self.entry_span else {
            return;
        };
        let end = last.saturating_add(1);
        if end > covered.max(first) {
            let from = covered.max(first);
            self.report.finding(
                None,
                Check::Renewal,
                format!(
                    "entries {from}..{end} are not re-protected: the log's suite {} is \
                     distrusted (--distrust-suite), and no renewal under a trusted suite that \
                     verified against these entries covers them",
                    self.suite
                ),
            );
        }
    }
}
