//! Retention, legal hold and purge (SPEC §7.6–§7.9): owner-signed control entries that say how
//! long payloads are kept, which matters forbid removing any, and which payloads a purge removed
//! at the end of their retention.
//!
//! The rules are judged on signed evidence only, by the writer before it purges and by every
//! verifier after: a retention is a whole number of calendar months (at least six unless the
//! entry acknowledges a shorter one); an entry's retention ends that many months after its own
//! time, under the longest retention in force from the entry to the purge; a legal hold covers
//! the whole log until it is released, so no purge may be written while one is active.
//!
//! ```
//! use sealtrail::retention::{RetentionSet, retention_end};
//! use sealtrail::time::Timestamp;
//! let six_years = RetentionSet::new(72, None).unwrap();
//! assert!(RetentionSet::new(3, None).is_err());
//! assert!(RetentionSet::new(3, Some("test log".into())).is_ok());
//! let t: Timestamp = "2026-02-28T10:00:00Z".parse().unwrap();
//! assert_eq!(
//!     retention_end(t, six_years.months()).unwrap().to_rfc3339(),
//!     "2032-02-28T10:00:00Z"
//! );
//! let bytes = six_years.encode().unwrap();
//! assert_eq!(RetentionSet::decode(&bytes).unwrap(), six_years);
//! ```

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, from_canonical, to_canonical};
use crate::registry::MAX_CONTROL_PAYLOAD_LEN;
use crate::time::Timestamp;

/// The kind of a retention declaration (SPEC §7.6).
pub const RETENTION_SET: &str = "retention_set";
/// The kind of a legal hold (SPEC §7.7).
pub const LEGAL_HOLD: &str = "legal_hold";
/// The kind of a legal hold's release (SPEC §7.7).
pub const LEGAL_HOLD_RELEASED: &str = "legal_hold_released";
/// The kind of a purge's tombstone (SPEC §7.8).
pub const PURGE: &str = "purge";

/// The shortest retention accepted without an acknowledgement: six months (EU AI Act Art. 19).
pub const MIN_MONTHS: u64 = 6;
/// The longest retention that can be declared: 100 years.
pub const MAX_MONTHS: u64 = 1200;
/// At most this many bytes in a text field of these payloads (reason, matter, acknowledgement).
pub const MAX_TEXT: usize = 1024;

/// Whether `kind` is one of the four kinds of this module (all control kinds, SPEC §7.5).
pub fn is_lifecycle_kind(kind: &str) -> bool {
    matches!(
        kind,
        RETENTION_SET | LEGAL_HOLD | LEGAL_HOLD_RELEASED | PURGE
    )
}

/// The payload of a `retention_set` entry (SPEC §7.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSet {
    /// Whole calendar months, 1 to 1200.
    months: u64,
    /// Why a retention under six months is wanted: required below six months, forbidden at or
    /// above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    short_ok: Option<String>,
}

/// The payload of a `legal_hold` or `legal_hold_released` entry (SPEC §7.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// The matter's identifier, e.g. a case number: 1 to 128 bytes.
    pub matter: String,
    /// Why the hold is placed or released.
    pub reason: String,
}

/// The payload of a `purge` entry (SPEC §7.8): the tombstone of one purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purge {
    /// Payloads whose retention ended at or before this time (ns since the epoch) were purged.
    pub before: u64,
    /// The first entry the purge may cover.
    pub start: u64,
    /// One past the last entry the purge may cover.
    pub end: u64,
    /// How many payloads the purge removed, as the writer states it.
    pub count: u64,
    /// The retention in force at the purge, in months.
    pub months: u64,
}

/// Why a retention, hold or purge payload is malformed, or breaks a rule of SPEC §7.6–§7.8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleProblem {
    /// The payload is over the 64 KiB control-payload limit.
    #[error("{kind} payload of {len} bytes is over the 64 KiB limit of control payloads")]
    TooLarge {
        /// The kind.
        kind: &'static str,
        /// Its size.
        len: usize,
    },
    /// The payload does not decode in the kind's schema (unknown fields are errors).
    #[error("{kind} payload does not decode: {source}")]
    Payload {
        /// The kind.
        kind: &'static str,
        /// Why.
        source: DecodeError,
    },
    /// A field breaks a rule.
    #[error("{kind} field `{field}`: {reason}")]
    Invalid {
        /// The kind.
        kind: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A retention under six months without an acknowledgement.
    #[error(
        "a retention of {months} months is under the six-month minimum and the entry does not acknowledge it (`short_ok`)"
    )]
    TooShort {
        /// The months declared.
        months: u64,
    },
    /// A hold is placed for a matter that is under an active hold already.
    #[error("matter {matter:?} is under an active legal hold already (entry {placed})")]
    AlreadyHeld {
        /// The matter.
        matter: String,
        /// The entry that placed the active hold.
        placed: u64,
    },
    /// A release names no active hold.
    #[error("no active legal hold has matter {0:?}")]
    NotHeld(String),
}

impl LifecycleProblem {
    /// Whether the problem is about a legal hold (check `legal_hold`) rather than retention
    /// (check `retention`).
    pub fn is_hold(&self) -> bool {
        match self {
            LifecycleProblem::TooLarge { kind, .. }
            | LifecycleProblem::Payload { kind, .. }
            | LifecycleProblem::Invalid { kind, .. } => {
                matches!(*kind, LEGAL_HOLD | LEGAL_HOLD_RELEASED)
            }
            LifecycleProblem::AlreadyHeld { .. } | LifecycleProblem::NotHeld(_) => true,
            LifecycleProblem::TooShort { .. } => false,
        }
    }
}

/// What is wrong with a purge (SPEC §7.8): the check is `legal_hold` for
/// [`PurgeProblem::UnderHold`], `retention` for the rest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PurgeProblem {
    /// The purge was written while a legal hold was active.
    #[error("purge written while the legal hold of matter {matter:?} (entry {placed}) was active")]
    UnderHold {
        /// The matter.
        matter: String,
        /// The entry that placed the hold.
        placed: u64,
    },
    /// The purge's `before` is after its own time.
    #[error(
        "purge says retention ended before {before}, which is after the purge's own time {time}"
    )]
    BeforeInFuture {
        /// The purge's `before`.
        before: Timestamp,
        /// The purge's time.
        time: Timestamp,
    },
    /// No retention was declared before the purge.
    #[error("no retention is in force at the purge: nothing may be purged")]
    NoRetention,
    /// The purge's `months` is not the retention in force at it.
    #[error("purge states a retention of {stated} months, but {in_force} months are in force")]
    Months {
        /// The months the purge states.
        stated: u64,
        /// The months in force.
        in_force: u64,
    },
    /// The purge's range is not below the purge.
    #[error("purge range {start}..{end} is not below the purge itself")]
    Range {
        /// The purge's start.
        start: u64,
        /// The purge's end.
        end: u64,
    },
    /// A payload the purge accounts for was still under retention at the purge's `before`.
    #[error(
        "purge removed the payload of entry {entry}, whose retention of {months} months ends {ends}, after the purge's date {before}"
    )]
    NotEnded {
        /// The entry whose payload is absent.
        entry: u64,
        /// The retention applied to it, in months.
        months: u64,
        /// When its retention ends (or `never` past 2262-04-11, SPEC §7.6).
        ends: String,
        /// The purge's `before`.
        before: Timestamp,
    },
}

fn decode_checked<T: Serialize + DeserializeOwned>(
    kind: &'static str,
    bytes: &[u8],
) -> Result<T, LifecycleProblem> {
    if bytes.len() > MAX_CONTROL_PAYLOAD_LEN {
        return Err(LifecycleProblem::TooLarge {
            kind,
            len: bytes.len(),
        });
    }
    from_canonical(bytes).map_err(|source| LifecycleProblem::Payload { kind, source })
}

fn encode_checked<T: Serialize>(kind: &'static str, v: &T) -> Result<Vec<u8>, LifecycleProblem> {
    let bytes = to_canonical(v).map_err(|e| LifecycleProblem::Payload {
        kind,
        source: DecodeError::Schema {
            message: e.to_string(),
        },
    })?;
    if bytes.len() > MAX_CONTROL_PAYLOAD_LEN {
        return Err(LifecycleProblem::TooLarge {
            kind,
            len: bytes.len(),
        });
    }
    Ok(bytes)
}

fn check_text(
    kind: &'static str,
    field: &'static str,
    text: &str,
    max: usize,
) -> Result<(), LifecycleProblem> {
    if text.trim().is_empty() || text.len() > max || text.chars().any(char::is_control) {
        return Err(LifecycleProblem::Invalid {
            kind,
            field,
            reason: "1 to 1024 bytes (a matter: 128) of text without control characters",
        });
    }
    Ok(())
}

impl RetentionSet {
    /// A retention of `months` calendar months; `short_ok` is the acknowledgement a retention
    /// under six months needs (and one of six months or more must not carry).
    pub fn new(months: u64, short_ok: Option<String>) -> Result<Self, LifecycleProblem> {
        let r = RetentionSet { months, short_ok };
        r.check()?;
        Ok(r)
    }

    /// The retention in months.
    pub fn months(&self) -> u64 {
        self.months
    }

    /// The acknowledgement of a short retention, if any.
    pub fn short_ok(&self) -> Option<&str> {
        self.short_ok.as_deref()
    }

    /// The canonical payload bytes.
    pub fn encode(&self) -> Result<Vec<u8>, LifecycleProblem> {
        self.check()?;
        encode_checked(RETENTION_SET, self)
    }

    /// Strictly decodes and checks a `retention_set` payload.
    pub fn decode(bytes: &[u8]) -> Result<Self, LifecycleProblem> {
        let r: RetentionSet = decode_checked(RETENTION_SET, bytes)?;
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<(), LifecycleProblem> {
        let invalid = |field, reason| LifecycleProblem::Invalid {
            kind: RETENTION_SET,
            field,
            reason,
        };
        if self.months == 0 || self.months > MAX_MONTHS {
            return Err(invalid("months", "1 to 1200 whole months"));
        }
        match &self.short_ok {
            Some(why) => {
                check_text(RETENTION_SET, "short_ok", why, MAX_TEXT)?;
                if self.months >= MIN_MONTHS {
                    return Err(invalid(
                        "short_ok",
                        "only a retention under six months carries an acknowledgement",
                    ));
                }
            }
            None if self.months < MIN_MONTHS => {
                return Err(LifecycleProblem::TooShort {
                    months: self.months,
                });
            }
            None => {}
        }
        Ok(())
    }
}

impl Hold {
    /// A hold (or release) payload.
    pub fn new(matter: impl Into<String>, reason: impl Into<String>) -> Self {
        Hold {
            matter: matter.into(),
            reason: reason.into(),
        }
    }

    /// The canonical payload bytes, checked as for `kind` (`legal_hold` or
    /// `legal_hold_released`).
    pub fn encode(&self, kind: &'static str) -> Result<Vec<u8>, LifecycleProblem> {
        self.check(kind)?;
        encode_checked(kind, self)
    }

    /// Strictly decodes and checks a hold or release payload of `kind`.
    pub fn decode(kind: &'static str, bytes: &[u8]) -> Result<Self, LifecycleProblem> {
        let h: Hold = decode_checked(kind, bytes)?;
        h.check(kind)?;
        Ok(h)
    }

    fn check(&self, kind: &'static str) -> Result<(), LifecycleProblem> {
        check_text(kind, "matter", &self.matter, 128)?;
        check_text(kind, "reason", &self.reason, MAX_TEXT)
    }
}

impl Purge {
    /// The canonical payload bytes.
    pub fn encode(&self) -> Result<Vec<u8>, LifecycleProblem> {
        self.check()?;
        encode_checked(PURGE, self)
    }

    /// Strictly decodes and checks a `purge` payload.
    pub fn decode(bytes: &[u8]) -> Result<Self, LifecycleProblem> {
        let p: Purge = decode_checked(PURGE, bytes)?;
        p.check()?;
        Ok(p)
    }

    /// Whether entry `seq` lies in the purge's range.
    pub fn covers(&self, seq: u64) -> bool {
        self.start <= seq && seq < self.end
    }

    fn check(&self) -> Result<(), LifecycleProblem> {
        let invalid = |field, reason| LifecycleProblem::Invalid {
            kind: PURGE,
            field,
            reason,
        };
        if self.start >= self.end {
            return Err(invalid("end", "must be above `start`"));
        }
        if self.count == 0 || self.count > self.end - self.start {
            return Err(invalid("count", "1 to `end` − `start` payloads"));
        }
        if self.months == 0 || self.months > MAX_MONTHS {
            return Err(invalid("months", "1 to 1200 whole months"));
        }
        Ok(())
    }
}

/// When a retention of `months` calendar months from `time` ends (SPEC §7.6): the same day of
/// the month and time of day `months` months later, the day clamped to the month's last; `None`
/// when that is past what a [`Timestamp`] holds (the retention never ends).
pub fn retention_end(time: Timestamp, months: u64) -> Option<Timestamp> {
    let months = u32::try_from(months).ok()?;
    let end = time
        .to_datetime()
        .checked_add_months(chrono::Months::new(months))?;
    let nanos = end.timestamp_nanos_opt()?;
    u64::try_from(nanos).ok().map(Timestamp)
}

/// A legal hold as the log records it: placed by one entry, maybe released by a later one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRecord {
    /// The matter.
    pub matter: String,
    /// Why it was placed.
    pub reason: String,
    /// The `legal_hold` entry.
    pub placed: u64,
    /// Its time.
    pub placed_at: Timestamp,
    /// The `legal_hold_released` entry, if released.
    pub released: Option<u64>,
    /// Why it was released.
    pub release_reason: Option<String>,
}

/// The log's retentions, holds and purges, from its control entries in log order (SPEC §7.6–
/// §7.8). The writer builds it from the control chain; every verifier from the entries or a
/// bundle's control items.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    retentions: BTreeMap<u64, RetentionSet>,
    holds: Vec<HoldRecord>,
    purges: BTreeMap<u64, Purge>,
}

impl Lifecycle {
    /// No retention, hold or purge.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the payload of an entry of one of the four kinds, without applying it.
    pub fn check_payload(kind: &str, bytes: &[u8]) -> Result<(), LifecycleProblem> {
        match kind {
            RETENTION_SET => RetentionSet::decode(bytes).map(|_| ()),
            LEGAL_HOLD => Hold::decode(LEGAL_HOLD, bytes).map(|_| ()),
            LEGAL_HOLD_RELEASED => Hold::decode(LEGAL_HOLD_RELEASED, bytes).map(|_| ()),
            PURGE => Purge::decode(bytes).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Checks an entry of one of the four kinds at `seq`, dated `time`, and applies it. A
    /// malformed payload, a hold for a matter held already, or a release of no active hold is
    /// an error and changes nothing. A purge that breaks a rule is applied (its payloads are
    /// accounted for) and the rule it breaks is returned as `Ok(Some(..))`.
    pub fn apply(
        &mut self,
        seq: u64,
        time: Timestamp,
        kind: &str,
        bytes: &[u8],
    ) -> Result<Option<PurgeProblem>, LifecycleProblem> {
        match kind {
            RETENTION_SET => {
                self.retentions.insert(seq, RetentionSet::decode(bytes)?);
            }
            LEGAL_HOLD => {
                let h = Hold::decode(LEGAL_HOLD, bytes)?;
                if let Some(active) = self.active_hold(&h.matter, seq) {
                    return Err(LifecycleProblem::AlreadyHeld {
                        matter: h.matter,
                        placed: active.placed,
                    });
                }
                self.holds.push(HoldRecord {
                    matter: h.matter,
                    reason: h.reason,
                    placed: seq,
                    placed_at: time,
                    released: None,
                    release_reason: None,
                });
            }
            LEGAL_HOLD_RELEASED => {
                let h = Hold::decode(LEGAL_HOLD_RELEASED, bytes)?;
                let Some(index) = self
                    .holds
                    .iter()
                    .position(|r| r.matter == h.matter && r.placed < seq && r.released.is_none())
                else {
                    return Err(LifecycleProblem::NotHeld(h.matter));
                };
                self.holds[index].released = Some(seq);
                self.holds[index].release_reason = Some(h.reason);
            }
            PURGE => {
                let p = Purge::decode(bytes)?;
                let problem = self.judge_purge(seq, time, &p);
                self.purges.insert(seq, p);
                return Ok(problem);
            }
            _ => {}
        }
        Ok(None)
    }

    fn active_hold(&self, matter: &str, at: u64) -> Option<&HoldRecord> {
        self.active_holds(at)
            .into_iter()
            .find(|h| h.matter == matter)
    }

    /// The holds active at position `at`: placed below it and not released below it.
    pub fn active_holds(&self, at: u64) -> Vec<&HoldRecord> {
        self.holds
            .iter()
            .filter(|h| h.placed < at && h.released.is_none_or(|r| r >= at))
            .collect()
    }

    /// Every hold the log placed, in log order.
    pub fn holds(&self) -> &[HoldRecord] {
        &self.holds
    }

    /// The retention in force at position `at`: the latest `retention_set` below it, with its
    /// position.
    pub fn in_force(&self, at: u64) -> Option<(u64, &RetentionSet)> {
        self.retentions
            .range(..at)
            .next_back()
            .map(|(s, r)| (*s, r))
    }

    /// The retention that applies to entry `entry` when purging at position `at` (SPEC §7.6):
    /// the longest of the one in force at the entry and every one declared after it, below
    /// `at`. `None` when no retention is in force at `at`.
    pub fn retention_for(&self, entry: u64, at: u64) -> Option<u64> {
        let from = self
            .retentions
            .range(..entry)
            .next_back()
            .map_or(0, |(s, _)| *s);
        self.retentions.range(from..at).map(|(_, r)| r.months).max()
    }

    /// The purge that accounts for the absent payload of entry `entry`: the first purge after
    /// it whose range covers it.
    pub fn covering_purge(&self, entry: u64) -> Option<(u64, &Purge)> {
        self.purges
            .range(entry.saturating_add(1)..)
            .find(|(_, p)| p.covers(entry))
            .map(|(s, p)| (*s, p))
    }

    // The rules of the purge entry itself (SPEC §7.8 rules 1–4).
    fn judge_purge(&self, seq: u64, time: Timestamp, p: &Purge) -> Option<PurgeProblem> {
        if let Some(h) = self.active_holds(seq).first() {
            return Some(PurgeProblem::UnderHold {
                matter: h.matter.clone(),
                placed: h.placed,
            });
        }
        if p.end > seq {
            return Some(PurgeProblem::Range {
                start: p.start,
                end: p.end,
            });
        }
        if Timestamp(p.before) > time {
            return Some(PurgeProblem::BeforeInFuture {
                before: Timestamp(p.before),
                time,
            });
        }
        match self.in_force(seq) {
            None => Some(PurgeProblem::NoRetention),
            Some((_, r)) if r.months != p.months => Some(PurgeProblem::Months {
                stated: p.months,
                in_force: r.months,
            }),
            Some(_) => None,
        }
    }

    /// Whether the purge at `purge_seq` could remove the payload of entry `entry` dated `time`
    /// (SPEC §7.8 rule 5): its retention ended at or before the purge's `before`.
    pub fn judge_purged(
        &self,
        entry: u64,
        time: Timestamp,
        purge_seq: u64,
    ) -> Result<(), PurgeProblem> {
        let Some(p) = self.purges.get(&purge_seq) else {
            return Ok(());
        };
        let months = self.retention_for(entry, purge_seq).unwrap_or(u64::MAX);
        let end = retention_end(time, months);
        match end {
            Some(end) if end.0 <= p.before => Ok(()),
            _ => Err(PurgeProblem::NotEnded {
                entry,
                months,
                ends: end.map_or_else(|| "never".to_owned(), |e| e.to_rfc3339()),
                before: Timestamp(p.before),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn calendar_months_clamp_to_the_last_day() {
        assert_eq!(
            retention_end(ts("2026-08-31T00:00:00Z"), 6).unwrap(),
            ts("2027-02-28T00:00:00Z")
        );
        assert_eq!(
            retention_end(ts("2024-02-29T12:00:00Z"), 12).unwrap(),
            ts("2025-02-28T12:00:00Z")
        );
        assert_eq!(retention_end(ts("2200-01-01T00:00:00Z"), 1200), None);
    }

    #[test]
    fn a_later_longer_retention_applies_to_earlier_entries_a_shorter_one_does_not() {
        let mut l = Lifecycle::new();
        let t = Timestamp(0);
        let r = |m| RetentionSet::new(m, None).unwrap().encode().unwrap();
        l.apply(1, t, RETENTION_SET, &r(12)).unwrap();
        l.apply(5, t, RETENTION_SET, &r(72)).unwrap();
        l.apply(9, t, RETENTION_SET, &r(6)).unwrap();
        assert_eq!(l.retention_for(0, 20), Some(72));
        assert_eq!(l.retention_for(3, 20), Some(72));
        assert_eq!(l.retention_for(10, 20), Some(6));
        assert_eq!(l.retention_for(3, 4), Some(12));
        assert_eq!(l.retention_for(0, 1), None);
    }

    #[test]
    fn holds_are_placed_once_and_released_once() {
        let mut l = Lifecycle::new();
        let t = Timestamp(0);
        let hold = Hold::new("M-1", "litigation").encode(LEGAL_HOLD).unwrap();
        let release = Hold::new("M-1", "settled")
            .encode(LEGAL_HOLD_RELEASED)
            .unwrap();
        assert_eq!(
            l.apply(1, t, LEGAL_HOLD_RELEASED, &release),
            Err(LifecycleProblem::NotHeld("M-1".into()))
        );
        l.apply(2, t, LEGAL_HOLD, &hold).unwrap();
        assert!(matches!(
            l.apply(3, t, LEGAL_HOLD, &hold),
            Err(LifecycleProblem::AlreadyHeld { placed: 2, .. })
        ));
        assert_eq!(l.active_holds(3).len(), 1);
        l.apply(4, t, LEGAL_HOLD_RELEASED, &release).unwrap();
        assert_eq!(l.active_holds(4).len(), 1, "active up to its release");
        assert!(l.active_holds(5).is_empty());
        assert!(l.apply(6, t, LEGAL_HOLD_RELEASED, &release).is_err());
    }

    #[test]
    fn unknown_fields_are_refused() {
        #[derive(Serialize)]
        struct Extra {
            months: u64,
            extra: u64,
        }
        let bytes = to_canonical(&Extra {
            months: 72,
            extra: 1,
        })
        .unwrap();
        assert!(matches!(
            RetentionSet::decode(&bytes),
            Err(LifecycleProblem::Payload { .. })
        ));
    }
}
