//! What a verification proved, for people and for scripts (SPEC §12.6).
//!
//! Both the local log's verification and bundle verification fill a [`Report`]: the log, the
//! entries and sessions covered, the approvals with printed name, gate, meaning and time, what was
//! withheld or erased, the checkpoint and the key that verified it, the witnesses, and every
//! finding with the entry and the check that failed. `--json` prints [`Report::to_json`]; the
//! terminal gets [`Report::render`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

mod proven;

pub use proven::{Proven, RootRelation};

use crate::approval::{Approval, SignedApproval};
use crate::codec::from_canonical;
use crate::entry::{Entry, Erasure, Kind, Payload};
use crate::hash::{LogId, Suite};
use crate::keys::KeyId;
use crate::registry::KeyRegistry;
use crate::time::Timestamp;
use crate::verify::Check;

/// At most this many sessions are listed individually; the rest are counted.
pub const MAX_LISTED_SESSIONS: usize = 10_000;
/// At most this many findings are kept; the rest are counted.
pub const MAX_FINDINGS: usize = 1_000;
/// At most this many redacted payloads are listed individually; the rest are counted.
pub const MAX_LISTED_REDACTIONS: usize = 10_000;

/// The overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    /// Every check passed.
    Valid,
    /// At least one check failed.
    Invalid,
}

/// The log the evidence comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogInfo {
    /// The descriptor's origin.
    pub origin: String,
    /// The hash suite.
    pub suite: String,
    /// The log id, hex.
    pub log_id: String,
}

/// The first and last sequence numbers covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SeqRange {
    /// First sequence number.
    pub first: u64,
    /// Last sequence number.
    pub last: u64,
}

/// One session and how many of its entries were covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// The session id.
    pub id: String,
    /// Entries of it covered.
    pub entries: u64,
}

/// A payload the evidence does not contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redaction {
    /// The entry.
    pub seq: u64,
    /// Its kind.
    pub kind: String,
    /// Why the payload is absent.
    pub reason: RedactionReason,
    /// The same, in words.
    pub detail: String,
    /// For an erased payload, the erasure entry that records it; for a purged one, the purge
    /// entry; `None` when the payload was withheld, or when no erasure or purge entry records
    /// it (an `erasure` finding).
    pub erasure: Option<ErasureRecord>,
}

/// The erasure entry that records why a payload was erased, who erased it and when (SPEC §6.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureRecord {
    /// The erasure entry.
    pub seq: u64,
    /// The reason its payload gives.
    pub reason: String,
    /// The owner key that signed it, hex.
    pub signer: String,
    /// The printed name that key is registered under.
    pub printed_name: String,
    /// When the log recorded it (UTC, RFC 3339).
    pub time: String,
}

/// Why a payload is absent from what was verified (SPEC §12.6, the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RedactionReason {
    /// Removed from the log; an erasure entry records who erased it, when and why (§6.5).
    Erased,
    /// Removed from the log at the end of its retention; a purge entry records who purged it,
    /// when, and the date its retention ended by (§7.8).
    Purged,
    /// Left out of this bundle by the exporter, with every payload of its kind.
    WithheldKind,
    /// Left out of this bundle by the exporter, this entry's payload alone.
    WithheldEntry,
}

/// The version of the report's JSON form: its `schema` member.
pub const SCHEMA: &str = "sealtrail.report/2";

impl RedactionReason {
    /// Every reason, as written in JSON (the schema's enumeration).
    pub const ALL: [RedactionReason; 4] = [
        RedactionReason::Erased,
        RedactionReason::Purged,
        RedactionReason::WithheldKind,
        RedactionReason::WithheldEntry,
    ];

    /// The reason as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RedactionReason::Erased => "erased",
            RedactionReason::Purged => "purged",
            RedactionReason::WithheldKind => "withheld_kind",
            RedactionReason::WithheldEntry => "withheld_entry",
        }
    }
}

/// The earliest and latest entry times covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeSpan {
    /// Earliest (UTC, RFC 3339).
    pub first: String,
    /// Latest.
    pub last: String,
}

/// The checkpoint the evidence was tied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointSummary {
    /// Tree size.
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
    /// The pinned key that verified it (C2SP verifier key, or key id hex).
    pub key: String,
}

/// The witnesses that cosigned the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessSummary {
    /// Cosignatures required.
    pub quorum: u64,
    /// Witnesses whose cosignature verified.
    pub cosigned: Vec<Cosigner>,
}

/// A witness whose cosignature on the checkpoint verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cosigner {
    /// The witness's name (its key name in the auditor's policy).
    pub name: String,
    /// Its key id, hex.
    pub key: String,
    /// The time its cosignature states (UTC, RFC 3339).
    pub time: String,
}

/// What became of one RFC 3161 timestamp token a bundle carries (SPEC §12.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TimestampStatus {
    /// It verified against the trusted TSA certificate.
    Verified,
    /// No trusted TSA certificate was given (`--tsa-cert`): nothing about it was checked.
    NotChecked,
    /// It did not verify; a `timestamp` finding says why.
    Failed,
}

impl TimestampStatus {
    /// Every status, as written in JSON (the schema's enumeration).
    pub const ALL: [TimestampStatus; 3] = [
        TimestampStatus::Verified,
        TimestampStatus::NotChecked,
        TimestampStatus::Failed,
    ];

    /// The status as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TimestampStatus::Verified => "verified",
            TimestampStatus::NotChecked => "not_checked",
            TimestampStatus::Failed => "failed",
        }
    }
}

/// One timestamp token a bundle carries, and what its verification established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimestampSummary {
    /// The size of the checkpoint the token's note names.
    pub size: u64,
    /// Verified, not checked, or failed.
    pub status: TimestampStatus,
    /// The TSA's time (UTC, RFC 3339) when the token verified; otherwise null.
    pub time: Option<String>,
    /// The subject of the TSA's certificate when the token verified; otherwise null.
    pub tsa: Option<String>,
    /// What was established or why not, in words.
    pub detail: String,
}

/// One renewal (SPEC §15.6) the evidence carries, and what its verification established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenewalSummary {
    /// The renewal suite.
    pub suite: String,
    /// Entries it covers: `0..size`.
    pub size: u64,
    /// Its root under the renewal suite, hex.
    pub root: String,
    /// Verified (its root is the entries' root), not checked (its note verified but the
    /// entries 0..size were not all at hand), or failed (a `renewal` finding says why).
    pub status: TimestampStatus,
    /// The pinned owner key that signed it, when its note verified; otherwise null.
    pub key: Option<String>,
    /// When the owner says it signed it (UTC, RFC 3339), when its note verified; else null.
    pub time: Option<String>,
    /// What was established or why not, in words.
    pub detail: String,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The entry at fault, if the finding is about one.
    pub seq: Option<u64>,
    /// The check that failed (SPEC §8.3, §12.6).
    pub check: Check,
    /// Why, in words.
    pub message: String,
}

/// Everything a verification established, or found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `valid` when there are no findings.
    pub verdict: Validity,
    /// The log.
    pub log: LogInfo,
    /// Entries covered.
    pub entries: u64,
    /// Sequence numbers covered.
    pub range: Option<SeqRange>,
    /// Sessions covered (at most [`MAX_LISTED_SESSIONS`] listed).
    pub sessions: Vec<SessionSummary>,
    /// Entries of sessions not listed because there were too many sessions (a count of
    /// entries, not of sessions: telling the sessions apart would take memory without bound).
    pub sessions_unlisted: u64,
    /// Approvals established by a valid verification, each with printed name, time, meaning,
    /// subjects and comment. Empty when the verdict is invalid.
    pub approvals: Vec<SignedApproval>,
    /// Approvals the evidence holds that were not established because the verdict is invalid.
    /// Empty when the verdict is valid.
    pub claimed_approvals: Vec<SignedApproval>,
    /// Payloads erased or withheld (at most [`MAX_LISTED_REDACTIONS`] listed).
    pub redacted: Vec<Redaction>,
    /// Redacted payloads not listed because there were too many.
    pub redacted_unlisted: u64,
    /// Times covered.
    pub time_span: Option<TimeSpan>,
    /// The checkpoint, when the evidence was tied to one.
    pub checkpoint: Option<CheckpointSummary>,
    /// Witness cosignatures, when a policy was given.
    pub witnesses: Option<WitnessSummary>,
    /// The RFC 3161 timestamp tokens the bundle carries, each verified, not checked or failed.
    pub timestamps: Vec<TimestampSummary>,
    /// The renewals the evidence carries (SPEC §15.6), each verified, not checked or failed.
    pub renewals: Vec<RenewalSummary>,
    /// What was proven, in sentences (only when the verdict is valid): the sentence of each of
    /// `proven_items`, in the same order.
    pub proven: Vec<String>,
    /// What was proven, as structured items with a stable code (only when the verdict is valid).
    pub proven_items: Vec<Proven>,
    /// Every failed check (at most [`MAX_FINDINGS`]).
    pub findings: Vec<Finding>,
    /// Failed checks not listed because there were too many.
    pub findings_unlisted: u64,
}

// The printed name a key is registered under, as reports show it.
fn printed_name(registry: &KeyRegistry, key: &KeyId) -> String {
    registry
        .get(key)
        .map_or_else(|| "(unknown signer)".to_owned(), |r| r.name.clone())
}

/// Collects a report while entries are verified.
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    log: LogInfo,
    entries: u64,
    range: Option<SeqRange>,
    sessions: BTreeMap<String, u64>,
    sessions_unlisted: u64,
    approvals: Vec<SignedApproval>,
    redacted: Vec<Redaction>,
    redacted_unlisted: u64,
    first_time: Option<Timestamp>,
    last_time: Option<Timestamp>,
    checkpoint: Option<CheckpointSummary>,
    witnesses: Option<WitnessSummary>,
    timestamps: Vec<TimestampSummary>,
    renewals: Vec<RenewalSummary>,
    proven: Vec<Proven>,
    findings: Vec<Finding>,
    findings_unlisted: u64,
    senior: crate::policy::SeniorReviews,
    /// Erasure entries not yet matched to an erased payload listed in `redacted`, by the entry
    /// they erase (a bundle carries them before its entries).
    erasures: BTreeMap<u64, ErasureRecord>,
    /// Purge entries (SPEC §7.8) by position, with the range they cover.
    purges: BTreeMap<u64, (crate::retention::Purge, ErasureRecord)>,
}

impl ReportBuilder {
    /// A report about the log with this origin, suite and id.
    pub fn new(origin: &str, suite: Suite, log_id: LogId) -> Self {
        ReportBuilder {
            log: LogInfo {
                origin: origin.to_owned(),
                suite: suite.name().to_owned(),
                log_id: log_id.to_hex(),
            },
            entries: 0,
            range: None,
            sessions: BTreeMap::new(),
            sessions_unlisted: 0,
            approvals: Vec::new(),
            redacted: Vec::new(),
            redacted_unlisted: 0,
            first_time: None,
            last_time: None,
            checkpoint: None,
            witnesses: None,
            timestamps: Vec::new(),
            renewals: Vec::new(),
            proven: Vec::new(),
            findings: Vec::new(),
            findings_unlisted: 0,
            senior: crate::policy::SeniorReviews::new(),
            erasures: BTreeMap::new(),
            purges: BTreeMap::new(),
        }
    }

    /// Notes an entry that was covered, with its payload state. `withheld` gives the exporter's
    /// reason when the payload was left out of a bundle.
    pub fn entry(
        &mut self,
        entry: &Entry,
        payload: &Payload,
        withheld: Option<crate::bundle::WithheldReason>,
        registry: &KeyRegistry,
    ) {
        let h = entry.header();
        self.senior.observe(entry, payload, registry);
        self.entries += 1;
        self.range = Some(match self.range {
            None => SeqRange {
                first: h.seq,
                last: h.seq,
            },
            Some(r) => SeqRange {
                first: r.first.min(h.seq),
                last: r.last.max(h.seq),
            },
        });
        if !h.session.is_none() {
            if let Some(n) = self.sessions.get_mut(h.session.as_str()) {
                *n += 1;
            } else if self.sessions.len() < MAX_LISTED_SESSIONS {
                self.sessions.insert(h.session.as_str().to_owned(), 1);
            } else {
                self.sessions_unlisted += 1;
            }
        }
        self.first_time = Some(self.first_time.map_or(h.time, |t| t.min(h.time)));
        self.last_time = Some(self.last_time.map_or(h.time, |t| t.max(h.time)));
        use crate::bundle::WithheldReason;
        let redaction = match (withheld, payload) {
            (Some(w @ WithheldReason::Kind), _) => {
                Some((RedactionReason::WithheldKind, w.describe()))
            }
            (Some(w @ WithheldReason::Entry), _) => {
                Some((RedactionReason::WithheldEntry, w.describe()))
            }
            (None, Payload::Erased) => Some((
                RedactionReason::Erased,
                "erased from the log (an erasure entry records why)",
            )),
            _ => None,
        };
        if let Some((reason, detail)) = redaction {
            if self.redacted.len() < MAX_LISTED_REDACTIONS {
                self.redacted.push(Redaction {
                    seq: h.seq,
                    kind: h.kind.as_str().to_owned(),
                    reason,
                    detail: detail.to_owned(),
                    erasure: None,
                });
            } else {
                self.redacted_unlisted += 1;
            }
        }
        match (withheld, payload) {
            (None, Payload::Present { data, .. }) if h.kind.as_str() == Kind::APPROVAL => {
                if let Ok(a) = Approval::decode(data) {
                    self.approvals.push(SignedApproval {
                        seq: h.seq,
                        time: h.time,
                        signer: h.signer,
                        printed_name: printed_name(registry, &h.signer),
                        approval: a,
                    });
                }
            }
            _ => {}
        }
        self.erasure(entry, payload, registry);
    }

    /// Notes an erasure entry (SPEC §6.5), so the erased payload it names is listed with its
    /// reason, signer and time. Bundle verification calls it for control items, which are not
    /// entries of the selection; [`ReportBuilder::entry`] calls it for every entry. Anything
    /// else, or an erasure payload that does not decode (a finding of its own), is ignored.
    pub fn erasure(&mut self, entry: &Entry, payload: &Payload, registry: &KeyRegistry) {
        let h = entry.header();
        if h.kind.as_str() == crate::retention::PURGE {
            let Some(Ok(p)) = payload.data().map(crate::retention::Purge::decode) else {
                return;
            };
            let record = ErasureRecord {
                seq: h.seq,
                reason: format!(
                    "purged at end of retention: retention of {} months ended by {}",
                    p.months,
                    Timestamp(p.before).to_rfc3339()
                ),
                signer: h.signer.to_string(),
                printed_name: printed_name(registry, &h.signer),
                time: h.time.to_rfc3339(),
            };
            self.purges.insert(h.seq, (p, record));
            return;
        }
        if h.kind.as_str() != Kind::ERASURE {
            return;
        }
        let ([target], Some(data)) = (h.links.as_slice(), payload.data()) else {
            return;
        };
        if data.len() > crate::registry::MAX_CONTROL_PAYLOAD_LEN {
            return;
        }
        let Ok(e) = from_canonical::<Erasure>(data) else {
            return;
        };
        self.erasures.insert(
            target.seq,
            ErasureRecord {
                seq: h.seq,
                reason: e.reason,
                signer: h.signer.to_string(),
                printed_name: printed_name(registry, &h.signer),
                time: h.time.to_rfc3339(),
            },
        );
    }

    /// Notes a control entry checked outside the entries covered (a bundle's control items,
    /// SPEC §12.4): a review policy among them is in force for the entries after it.
    pub fn control_item(&mut self, entry: &Entry, payload: &Payload, registry: &KeyRegistry) {
        self.senior.observe(entry, payload, registry);
    }

    /// Records a failed check.
    pub fn finding(&mut self, seq: Option<u64>, check: Check, message: impl Into<String>) {
        if self.findings.len() >= MAX_FINDINGS {
            self.findings_unlisted += 1;
            return;
        }
        self.findings.push(Finding {
            seq,
            check,
            message: message.into(),
        });
    }

    /// Records a failed check from a verification error.
    pub fn finding_from(&mut self, e: &crate::verify::VerifyError) {
        self.finding(e.seq(), e.check(), e.to_string());
    }

    /// Whether any check has failed so far.
    pub fn has_findings(&self) -> bool {
        !self.findings.is_empty()
    }

    /// Records the checkpoint the evidence was tied to, verified by the pinned key `key`; what
    /// was proven says so.
    pub fn checkpoint(&mut self, size: u64, root: crate::hash::RootHash, key: &str) {
        self.checkpoint = Some(CheckpointSummary {
            size,
            root: root.to_hex(),
            key: key.to_owned(),
        });
        self.proven(Proven::CheckpointSigned {
            size,
            root,
            key: key.to_owned(),
        });
    }

    /// Records the witness outcome; when `cosigned` meets `quorum`, what was proven says so.
    pub fn witnesses(&mut self, quorum: u64, cosigned: Vec<Cosigner>) {
        if cosigned.len() as u64 >= quorum {
            self.proven(Proven::WitnessQuorum {
                quorum,
                cosigned: cosigned.clone(),
            });
        }
        self.witnesses = Some(WitnessSummary { quorum, cosigned });
    }

    /// Records what became of a timestamp token.
    pub fn timestamp(&mut self, summary: TimestampSummary) {
        self.timestamps.push(summary);
    }

    /// Records what became of a renewal.
    pub fn renewal(&mut self, summary: RenewalSummary) {
        self.renewals.push(summary);
    }

    /// Adds a statement to what was proven (only kept when the verdict is valid).
    pub fn proven(&mut self, item: Proven) {
        self.proven.push(item);
    }

    /// The finished report.
    pub fn finish(mut self) -> Report {
        // SPEC §13.14: judged once every entry has been seen.
        for f in self.senior.findings() {
            self.finding(Some(f.merge), Check::SeniorReview, f.message());
        }
        let verdict = if self.findings.is_empty() && self.findings_unlisted == 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        for r in &mut self.redacted {
            if r.reason == RedactionReason::Erased {
                r.erasure = self.erasures.remove(&r.seq);
                // SPEC §7.8: no erasure entry, but a later purge whose range covers it.
                if r.erasure.is_none() {
                    let purge = self
                        .purges
                        .range(r.seq.saturating_add(1)..)
                        .find(|(_, (p, _))| p.covers(r.seq));
                    if let Some((_, (_, record))) = purge {
                        r.reason = RedactionReason::Purged;
                        r.detail = "purged at end of retention (a purge entry records it)".into();
                        r.erasure = Some(record.clone());
                    }
                }
            }
        }
        let (approvals, claimed_approvals) = match verdict {
            Validity::Valid => (self.approvals, Vec::new()),
            Validity::Invalid => (Vec::new(), self.approvals),
        };
        let proven_items = match verdict {
            Validity::Valid => self.proven,
            Validity::Invalid => Vec::new(),
        };
        Report {
            verdict,
            log: self.log,
            entries: self.entries,
            range: self.range,
            sessions: self
                .sessions
                .into_iter()
                .map(|(id, entries)| SessionSummary { id, entries })
                .collect(),
            sessions_unlisted: self.sessions_unlisted,
            approvals,
            claimed_approvals,
            redacted: self.redacted,
            redacted_unlisted: self.redacted_unlisted,
            time_span: match (self.first_time, self.last_time) {
                (Some(a), Some(b)) => Some(TimeSpan {
                    first: a.to_rfc3339(),
                    last: b.to_rfc3339(),
                }),
                _ => None,
            },
            checkpoint: self.checkpoint,
            witnesses: self.witnesses,
            timestamps: self.timestamps,
            renewals: self.renewals,
            proven: proven_items.iter().map(Proven::sentence).collect(),
            proven_items,
            findings: self.findings,
            findings_unlisted: self.findings_unlisted,
        }
    }
}

impl Report {
    /// The report as one JSON object (`verdict`, `entries`, `sessions`, `approvals`, `redacted`,
    /// `checkpoint`, `findings`, …).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("schema".into(), SCHEMA.into());
        }
        v
    }

    /// Whether every check passed.
    pub fn is_valid(&self) -> bool {
        self.verdict == Validity::Valid
    }

    /// The report for a terminal: what was proven first, then every finding.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let verdict = match self.verdict {
            Validity::Valid => "VALID",
            Validity::Invalid => "INVALID",
        };
        let _ = writeln!(s, "verdict:     {verdict}");
        let _ = writeln!(
            s,
            "log:         {} ({}), id {}",
            self.log.origin, self.log.suite, self.log.log_id
        );
        match self.range {
            Some(r) => {
                let _ = writeln!(
                    s,
                    "entries:     {} (sequence {}..={})",
                    self.entries, r.first, r.last
                );
            }
            None => {
                let _ = writeln!(s, "entries:     0");
            }
        }
        if let Some(t) = &self.time_span {
            let _ = writeln!(s, "time span:   {} .. {}", t.first, t.last);
        }
        if !self.sessions.is_empty() {
            let _ = writeln!(s, "sessions:    {}", self.sessions.len());
            for sess in self.sessions.iter().take(20) {
                let _ = writeln!(s, "  {} ({})", sess.id, crate::text::entries(sess.entries));
            }
            if self.sessions.len() > 20 {
                let _ = writeln!(s, "  … and {} more", self.sessions.len() - 20);
            }
            if self.sessions_unlisted > 0 {
                let _ = writeln!(
                    s,
                    "  … and {} of sessions not listed",
                    crate::text::entries(self.sessions_unlisted)
                );
            }
        }
        render_approvals(&mut s, self);
        if !self.redacted.is_empty() {
            let total = self.redacted.len() as u64 + self.redacted_unlisted;
            let _ = writeln!(s, "redacted:    {total}");
            for r in &self.redacted {
                let _ = writeln!(s, "  entry {} ({}): {}", r.seq, r.kind, r.detail);
                if let Some(e) = &r.erasure {
                    let _ = writeln!(
                        s,
                        "    {} entry {}{}: {:?}, signed by {} (key {}) at {}",
                        if r.reason == RedactionReason::Purged {
                            "purge"
                        } else {
                            "erasure"
                        },
                        e.seq,
                        if self.is_valid() {
                            ""
                        } else {
                            " (not established: the verdict is INVALID)"
                        },
                        e.reason,
                        e.printed_name,
                        short_hex(&e.signer),
                        e.time
                    );
                }
            }
            if self.redacted_unlisted > 0 {
                let _ = writeln!(s, "  … and {} more", self.redacted_unlisted);
            }
        }
        if let Some(c) = &self.checkpoint {
            let _ = writeln!(
                s,
                "checkpoint:  size {}, root {}\n             signed by {}",
                c.size, c.root, c.key
            );
        }
        if let Some(w) = &self.witnesses {
            let _ = writeln!(
                s,
                "witnesses:   {} of {} required: {}",
                w.cosigned.len(),
                w.quorum,
                if w.cosigned.is_empty() {
                    "none".to_owned()
                } else {
                    w.cosigned
                        .iter()
                        .map(|c| format!("{} (at {})", c.name, c.time))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
        }
        if !self.timestamps.is_empty() {
            let _ = writeln!(s, "timestamps:  {}", self.timestamps.len());
            for t in &self.timestamps {
                let _ = writeln!(
                    s,
                    "  checkpoint of size {}: {}{}",
                    t.size,
                    t.detail,
                    if t.status == TimestampStatus::Verified && !self.is_valid() {
                        " (not established: the verdict is INVALID)"
                    } else {
                        ""
                    }
                );
            }
        }
        if !self.renewals.is_empty() {
            let _ = writeln!(s, "renewals:    {}", self.renewals.len());
            for r in &self.renewals {
                let _ = writeln!(
                    s,
                    "  entries 0..{} under {}: {}{}",
                    r.size,
                    r.suite,
                    r.detail,
                    if r.status == TimestampStatus::Verified && !self.is_valid() {
                        " (not established: the verdict is INVALID)"
                    } else {
                        ""
                    }
                );
            }
        }
        if !self.proven.is_empty() {
            let _ = writeln!(s, "proven:");
            for p in &self.proven {
                let _ = writeln!(s, "  - {p}");
            }
        }
        if !self.findings.is_empty() {
            let total = self.findings.len() as u64 + self.findings_unlisted;
            let _ = writeln!(s, "findings:    {total}");
            for f in &self.findings {
                match f.seq {
                    Some(seq) => {
                        let _ = writeln!(s, "  entry {seq} [{}]: {}", f.check, f.message);
                    }
                    None => {
                        let _ = writeln!(s, "  [{}]: {}", f.check, f.message);
                    }
                }
            }
            if self.findings_unlisted > 0 {
                let _ = writeln!(s, "  … and {} more", self.findings_unlisted);
            }
        }
        s
    }
}

// The first eight hex digits of a key id or hash written as hex.
fn short_hex(hex: &str) -> &str {
    hex.get(..8).unwrap_or(hex)
}

// The approvals: established ones with "approved by", the others as claims that were not
// established (SPEC §12.6, the report).
fn render_approvals(s: &mut String, report: &Report) {
    let _ = writeln!(s, "approvals:   {}", report.approvals.len());
    for a in &report.approvals {
        let _ = writeln!(
            s,
            "  entry {}: {} {} by {} ({}), key {}, signed at {}, recorded at {}",
            a.seq,
            a.approval.gate(),
            a.approval.decision().past(),
            a.printed_name,
            a.approval.meaning(),
            a.signer.short(),
            a.approval.signed_at().to_rfc3339(),
            a.time.to_rfc3339()
        );
        render_approval_details(s, a);
    }
    if report.claimed_approvals.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "claimed approvals, NOT established (the verdict is INVALID): {}",
        report.claimed_approvals.len()
    );
    for a in &report.claimed_approvals {
        let _ = writeln!(
            s,
            "  entry {}: claims decision `{}` at gate {} ({}), in the name of {}, key {}, \
             signing time {}, recording time {}",
            a.seq,
            a.approval.decision(),
            a.approval.gate(),
            a.approval.meaning(),
            a.printed_name,
            a.signer.short(),
            a.approval.signed_at().to_rfc3339(),
            a.time.to_rfc3339()
        );
        render_approval_details(s, a);
    }
}

fn render_approval_details(s: &mut String, a: &SignedApproval) {
    for l in a.approval.entries() {
        let _ = writeln!(s, "    subject: entry {} (hash {})", l.seq, l.hash.short());
    }
    for d in a.approval.artifacts() {
        let _ = writeln!(s, "    subject: artifact {d}");
    }
    if let Some(c) = a.approval.comment() {
        let _ = writeln!(s, "    comment: {c:?}");
    }
}
