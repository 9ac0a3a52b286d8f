//! Retention, legal hold and purge on the writer side (SPEC §7.6–§7.8): the owner-signed
//! declarations, and a purge that removes the payloads whose retention ended, reusing the
//! erasure machinery so every proof stays valid.

use super::*;
use crate::retention::{
    Hold, HoldRecord, LEGAL_HOLD, LEGAL_HOLD_RELEASED, Lifecycle, PURGE, Purge, RETENTION_SET,
    RetentionSet, retention_end,
};

/// Why a purge was refused. Nothing was written or removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PurgeError {
    /// A legal hold is active: no payload may be purged until it is released.
    #[error(
        "legal hold of matter {matter:?} (entry {placed}) is active: nothing may be purged until it is released"
    )]
    UnderHold {
        /// The matter.
        matter: String,
        /// The entry that placed the hold.
        placed: u64,
    },
    /// The log declares no retention, so no payload's retention ends.
    #[error("the log declares no retention (`retention_set`): nothing can be purged")]
    NoRetention,
    /// The date is after the log's current time.
    #[error("purge date {before} is after the log's current time {now}")]
    Future {
        /// The requested date.
        before: Timestamp,
        /// The log's time now.
        now: Timestamp,
    },
    /// The control chain could not be read.
    #[error(transparent)]
    Control(#[from] ControlChainError),
    /// Reading failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The purge entry could not be appended (for example, the key is not an owner's).
    #[error(transparent)]
    Append(#[from] AppendError),
    /// Removing the payloads failed after the purge entry was recorded; running the purge
    /// again removes the rest.
    #[error(transparent)]
    Remove(#[from] EraseError),
}

/// What a purge removes (or, as a plan, would remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgePlan {
    /// Payloads whose retention ended at or before this time.
    pub before: Timestamp,
    /// The retention in force, in months, and the `retention_set` entry that declared it.
    pub retention: (u64, u64),
    /// The entries whose payloads go, in order.
    pub entries: Vec<u64>,
}

impl PurgePlan {
    /// The tombstone's payload, or `None` when nothing is purged.
    fn payload(&self) -> Option<Purge> {
        let (first, last) = (self.entries.first()?, self.entries.last()?);
        Some(Purge {
            before: self.before.as_nanos(),
            start: *first,
            end: last.saturating_add(1),
            count: u64::try_from(self.entries.len()).unwrap_or(u64::MAX),
            months: self.retention.0,
        })
    }
}

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeSummary {
    /// What was removed.
    pub plan: PurgePlan,
    /// The `purge` tombstone entry, or `None` when no payload's retention had ended.
    pub receipt: Option<Receipt>,
}

impl Log {
    /// The log's retentions, legal holds and purges, from its control chain (SPEC §7.5): what
    /// the signed entries say, never an index.
    pub fn lifecycle(&self) -> Result<Lifecycle, ControlChainError> {
        let chain = self.control_chain_at(self.len())?;
        let mut state = Lifecycle::new();
        for e in &chain.entries {
            let h = e.header();
            if let Some(data) = e.payload.data() {
                // The writer refused malformed or inapplicable entries; one written around it
                // is a verification finding, and is left out here as it changes nothing.
                let _ = state.apply(h.seq, h.time, h.kind.as_str(), data);
            }
        }
        Ok(state)
    }

    /// Declares how long payloads are kept (SPEC §7.6), signed by an owner key. A retention
    /// under six months needs the acknowledgement [`RetentionSet::new`] takes.
    pub fn set_retention(
        &self,
        owner: &SecretKey,
        retention: &RetentionSet,
    ) -> Result<Receipt, AppendError> {
        let payload = retention
            .encode()
            .map_err(|problem| AppendError::Lifecycle { index: 0, problem })?;
        self.append(owner, Record::new(builtin(RETENTION_SET), payload))
    }

    /// Places a legal hold (SPEC §7.7), signed by an owner key: no payload may be purged while
    /// it is active. Refused if the matter is under an active hold already.
    pub fn place_legal_hold(&self, owner: &SecretKey, hold: &Hold) -> Result<Receipt, PurgeError> {
        self.lifecycle_entry(owner, LEGAL_HOLD, hold)
    }

    /// Releases the active legal hold of `hold.matter` (SPEC §7.7), signed by an owner key.
    /// Refused if no active hold has that matter.
    pub fn release_legal_hold(
        &self,
        owner: &SecretKey,
        hold: &Hold,
    ) -> Result<Receipt, PurgeError> {
        self.lifecycle_entry(owner, LEGAL_HOLD_RELEASED, hold)
    }

    fn lifecycle_entry(
        &self,
        owner: &SecretKey,
        kind: &'static str,
        hold: &Hold,
    ) -> Result<Receipt, PurgeError> {
        let lifecycle = |problem| AppendError::Lifecycle { index: 0, problem };
        let payload = hold.encode(kind).map_err(lifecycle)?;
        // The same rule every verifier applies, tried on the state as of the next position.
        let mut state = self.lifecycle()?;
        let at = self.len();
        state
            .apply(at, self.now(), kind, &payload)
            .map_err(lifecycle)?;
        Ok(self.append(owner, Record::new(builtin(kind), payload))?)
    }

    /// The legal holds active now.
    pub fn active_holds(&self) -> Result<Vec<HoldRecord>, ControlChainError> {
        let state = self.lifecycle()?;
        Ok(state
            .active_holds(self.len())
            .into_iter()
            .cloned()
            .collect())
    }

    /// What [`Log::purge`] would remove with this date, without writing anything: the entries
    /// whose payload is present, may be removed (not a control or approval entry) and whose
    /// retention (the longest in force from the entry on, SPEC §7.6) ended at or before
    /// `before`. Refused under an active legal hold, without a retention, or with a date after
    /// the log's current time.
    pub fn purge_plan(&self, before: Timestamp) -> Result<PurgePlan, PurgeError> {
        let now = self.now();
        if before > now {
            return Err(PurgeError::Future { before, now });
        }
        let state = self.lifecycle()?;
        let at = self.len();
        if let Some(h) = state.active_holds(at).first() {
            return Err(PurgeError::UnderHold {
                matter: h.matter.clone(),
                placed: h.placed,
            });
        }
        let (declared, months) = state
            .in_force(at)
            .map(|(s, r)| (s, r.months()))
            .ok_or(PurgeError::NoRetention)?;
        let mut entries = Vec::new();
        for e in self.range(0..at) {
            let e = e?;
            let h = e.header();
            if payload_required(&h.kind) || e.payload.data().is_none() {
                continue;
            }
            let Some(applies) = state.retention_for(h.seq, at) else {
                continue;
            };
            if retention_end(h.time, applies).is_some_and(|end| end <= before) {
                entries.push(h.seq);
            }
        }
        Ok(PurgePlan {
            before,
            retention: (months, declared),
            entries,
        })
    }

    /// Purges the payloads whose retention ended at or before `before` (SPEC §7.8): an owner
    /// key signs one `purge` tombstone entry for them all, then their payloads and salts are
    /// deleted as an erasure deletes one (§6.5). Every proof stays valid. Refused while a legal
    /// hold is active. When no payload's retention has ended, nothing is written.
    pub fn purge(&self, owner: &SecretKey, before: Timestamp) -> Result<PurgeSummary, PurgeError> {
        let plan = self.purge_plan(before)?;
        let Some(tombstone) = plan.payload() else {
            return Ok(PurgeSummary {
                plan,
                receipt: None,
            });
        };
        let payload = tombstone
            .encode()
            .map_err(|problem| AppendError::Lifecycle { index: 0, problem })?;
        let receipt = self.append(owner, Record::new(builtin(PURGE), payload))?;
        // The tombstone is recorded (and durable with Immediate) before the payloads go.
        self.flush().map_err(EraseError::from)?;
        self.remove_payloads(&plan.entries)?;
        Ok(PurgeSummary {
            plan,
            receipt: Some(receipt),
        })
    }
}

fn builtin(kind: &str) -> Kind {
    Kind::new(kind).expect("built-in kind")
}
