//! The entries of a bundle that verified, for reading (SPEC §12.6, §13).
//!
//! [`verify_bundle_entries`](super::verify_bundle_entries) keeps each entry item and control item
//! as it checks it — the entry's bytes as read, its hash, and its payload or the withheld marker —
//! and hands them over only when the report is valid: an invalid bundle yields its report and
//! nothing to read. Memory is bounded by the bundle's bytes: what is kept is what was read, not
//! re-encoded.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use super::WithheldReason;
use crate::entry::{Entry, Payload, SessionId};
use crate::hash::{EntryHash, LogId, Suite};
use crate::keys::KeyId;
use crate::log::{ReadError, StoredEntry};
use crate::report::Report;
use crate::source::{EntrySource, SourceEntries};

/// A verified entry and whether its payload was withheld.
#[derive(Debug, Clone)]
struct Held {
    entry: StoredEntry,
    withheld: Option<WithheldReason>,
}

/// What the verifier keeps for reading while it checks a bundle.
#[derive(Debug, Default)]
pub(super) struct Kept {
    entries: BTreeMap<u64, Held>,
}

impl Kept {
    /// Keeps an item that was checked (its findings, if any, make the report invalid).
    pub(super) fn keep(
        &mut self,
        entry: Entry,
        hash: EntryHash,
        payload: Payload,
        withheld: Option<WithheldReason>,
    ) {
        let seq = entry.seq();
        // A repeat of a control item (SPEC §12.4) has the same bytes: keep the first.
        self.entries.entry(seq).or_insert(Held {
            entry: StoredEntry {
                entry,
                hash,
                payload,
            },
            withheld,
        });
    }
}

/// The outcome of [`verify_bundle_entries`](super::verify_bundle_entries): the entries to read
/// when the bundle verified, only the report when it did not.
#[derive(Debug)]
#[non_exhaustive]
pub enum BundleReading {
    /// Every check passed: the entries can be read.
    Valid(VerifiedBundle),
    /// A check failed: nothing in the bundle is trusted; the report says what failed.
    Invalid(Report),
}

impl BundleReading {
    /// The verification report.
    pub fn report(&self) -> &Report {
        match self {
            BundleReading::Valid(b) => b.report(),
            BundleReading::Invalid(r) => r,
        }
    }

    /// The verified entries, if the bundle verified.
    pub fn verified(self) -> Option<VerifiedBundle> {
        match self {
            BundleReading::Valid(b) => Some(b),
            BundleReading::Invalid(_) => None,
        }
    }
}

/// The entries of a bundle whose report is valid, read as an [`EntrySource`]: queries and
/// decision traces over them give what they give over the log, for the entries the bundle
/// holds. Payloads the exporter withheld read as absent, and [`EntrySource::withheld`] says why.
#[derive(Debug)]
pub struct VerifiedBundle {
    report: Report,
    log_id: LogId,
    suite: Suite,
    names: HashMap<KeyId, String>,
    entries: BTreeMap<u64, Held>,
    sessions: HashMap<String, Vec<u64>>,
}

impl VerifiedBundle {
    /// Built by the verifier from what it kept, once the report is valid.
    pub(super) fn new(
        report: Report,
        log_id: LogId,
        suite: Suite,
        names: HashMap<KeyId, String>,
        kept: Kept,
    ) -> VerifiedBundle {
        let mut sessions: HashMap<String, Vec<u64>> = HashMap::new();
        for (seq, h) in &kept.entries {
            let s = &h.entry.header().session;
            if !s.is_none() {
                sessions
                    .entry(s.as_str().to_owned())
                    .or_default()
                    .push(*seq);
            }
        }
        VerifiedBundle {
            report,
            log_id,
            suite,
            names,
            entries: kept.entries,
            sessions,
        }
    }

    /// The verification report (valid).
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// How many entries the bundle holds (entry items and control items, each position once).
    pub fn held(&self) -> u64 {
        self.entries.len() as u64
    }
}

impl EntrySource for VerifiedBundle {
    fn log_id(&self) -> LogId {
        self.log_id
    }

    fn suite(&self) -> Suite {
        self.suite
    }

    fn len(&self) -> u64 {
        self.entries
            .last_key_value()
            .map_or(0, |(seq, _)| seq.saturating_add(1))
    }

    fn read(&self, seq: u64) -> Result<Option<StoredEntry>, ReadError> {
        Ok(self.entries.get(&seq).map(|h| h.entry.clone()))
    }

    fn range(&self, range: Range<u64>) -> SourceEntries<'_> {
        if range.start >= range.end {
            return Box::new(std::iter::empty());
        }
        Box::new(self.entries.range(range).map(|(_, h)| Ok(h.entry.clone())))
    }

    fn session(&self, session: &SessionId) -> Result<Vec<StoredEntry>, ReadError> {
        Ok(self
            .sessions
            .get(session.as_str())
            .into_iter()
            .flatten()
            .filter_map(|seq| self.entries.get(seq))
            .map(|h| h.entry.clone())
            .collect())
    }

    fn printed_names(&self) -> HashMap<KeyId, String> {
        self.names.clone()
    }

    fn withheld(&self, seq: u64) -> Option<WithheldReason> {
        self.entries.get(&seq).and_then(|h| h.withheld)
    }
}
