//! Entries a query can trust: the local [`Log`], or a bundle that verified
//! ([`VerifiedBundle`](crate::bundle::VerifiedBundle), SPEC §12.6).
//!
//! The queries of [`crate::query`] and the decision trace of [`crate::trace`] read through
//! [`EntrySource`], so an auditor holding only a bundle and the log owner's key gets the same
//! answers as the log's owner, for the entries the bundle holds. What a bundle cannot answer is
//! said, never guessed: a payload the exporter withheld ([`PayloadState::Withheld`]) is told
//! apart from one erased from the log ([`PayloadState::Erased`]).

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use crate::bundle::WithheldReason;
use crate::entry::SessionId;
use crate::hash::{LogId, Suite};
use crate::keys::KeyId;
use crate::log::{Log, ReadError, StoredEntry};

/// Stored entries in sequence order, as an [`EntrySource`] yields them.
pub type SourceEntries<'a> = Box<dyn Iterator<Item = Result<StoredEntry, ReadError>> + 'a>;

/// Signed entries of one log that have been verified, read back by position or session.
///
/// Implemented by the local [`Log`] (every entry it holds was verified when appended or opened)
/// and by [`VerifiedBundle`](crate::bundle::VerifiedBundle) (the entries of a bundle whose report
/// is valid). A bundle may hold only some of the log's entries (a session, a range, chosen
/// entries); reading a position it does not hold gives `None`, as reading past a log's end does.
pub trait EntrySource {
    /// The log's id.
    fn log_id(&self) -> LogId;

    /// The log's hash suite.
    fn suite(&self) -> Suite;

    /// One past the highest position held: the log's length, or the end of what a bundle holds.
    fn len(&self) -> u64;

    /// Whether nothing is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry at `seq`, if held.
    fn read(&self, seq: u64) -> Result<Option<StoredEntry>, ReadError>;

    /// The entries held in a range of positions, in order (positions not held are skipped).
    fn range(&self, range: Range<u64>) -> SourceEntries<'_>;

    /// Every entry held of a session, in order.
    fn session(&self, session: &SessionId) -> Result<Vec<StoredEntry>, ReadError>;

    /// The printed name of every key the log registered (SPEC §7.3).
    fn printed_names(&self) -> HashMap<KeyId, String>;

    /// Why the payload of the entry at `seq` is left out although the log holds it: the
    /// exporter's reason for a bundle, `None` for the local log (which holds every payload not
    /// erased).
    fn withheld(&self, seq: u64) -> Option<WithheldReason>;

    /// Whether an entry's payload is present, erased from the log, or withheld from this source.
    fn payload_state(&self, entry: &StoredEntry) -> PayloadState {
        match (entry.payload.data(), self.withheld(entry.seq())) {
            (Some(_), _) => PayloadState::Present,
            (None, Some(reason)) => PayloadState::Withheld(reason),
            (None, None) => PayloadState::Erased,
        }
    }
}

/// Whether a source holds an entry's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadState {
    /// The payload is held, and matches the entry's commitment.
    Present,
    /// The payload was erased from the log; an `erasure` entry records who erased it and why.
    Erased,
    /// The log holds the payload, but the exporter left it out of this bundle.
    Withheld(WithheldReason),
}

impl PayloadState {
    /// Whether the payload can be read.
    pub fn is_present(self) -> bool {
        self == PayloadState::Present
    }
}

impl fmt::Display for PayloadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PayloadState::Present => "payload present",
            PayloadState::Erased => "payload erased from the log",
            PayloadState::Withheld(WithheldReason::Kind) => {
                "payload withheld by the exporter (all of its kind)"
            }
            PayloadState::Withheld(WithheldReason::Entry) => {
                "payload withheld by the exporter (this entry)"
            }
        })
    }
}

impl EntrySource for Log {
    fn log_id(&self) -> LogId {
        Log::log_id(self)
    }

    fn suite(&self) -> Suite {
        Log::suite(self)
    }

    fn len(&self) -> u64 {
        Log::len(self)
    }

    fn read(&self, seq: u64) -> Result<Option<StoredEntry>, ReadError> {
        Log::read(self, seq)
    }

    fn range(&self, range: Range<u64>) -> SourceEntries<'_> {
        Box::new(Log::range(self, range))
    }

    fn session(&self, session: &SessionId) -> Result<Vec<StoredEntry>, ReadError> {
        Log::session(self, session)
    }

    fn printed_names(&self) -> HashMap<KeyId, String> {
        self.keys().into_iter().map(|k| (k.key, k.name)).collect()
    }

    fn withheld(&self, _seq: u64) -> Option<WithheldReason> {
        None
    }
}
