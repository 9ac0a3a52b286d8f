//! Questions asked of a log after the fact (SPEC §13.6–§13.8): why was this chosen and what
//! depended on it; every version of a corrected record; what the session touched outside its
//! declared scope; whether its required checks passed; who approved what.
//!
//! Queries read signed entries back through [`EntrySource`] — the local [`Log`](crate::Log) or a
//! bundle that verified ([`VerifiedBundle`](crate::bundle::VerifiedBundle)) — and never trust
//! anything the entries do not say. Payloads are decoded strictly ([`Event::decode`]); an erased
//! or withheld payload is reported as such, never guessed.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;

pub use crate::approval::SignedApproval;
use crate::entry::{Kind, Link, SessionId};
use crate::event::{Event, EventDecodeError, Outcome, Requirement, SessionStarted, Verification};
use crate::keys::KeyId;
use crate::log::{ReadError, StoredEntry};
use crate::source::{EntrySource, PayloadState};
use crate::time::Timestamp;

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// Reading the log failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// No entry at that position.
    #[error("no entry {0}")]
    NoSuchEntry(u64),
    /// The session has no entries.
    #[error("no entries in session {0:?}")]
    NoSuchSession(String),
    /// The session has no `session_started` entry, so it declared no scope or checks.
    #[error("session {0:?} has no session_started entry")]
    NotStarted(String),
    /// An entry of a vocabulary kind does not hold that event.
    #[error("entry {seq}: {source}")]
    Event {
        /// The entry.
        seq: u64,
        /// Why.
        source: EventDecodeError,
    },
    /// An entry's payload names an entry that is not among its links (SPEC §13.1).
    #[error("entry {seq} names entry {target} in its payload but does not link to it")]
    Unlinked {
        /// The entry.
        seq: u64,
        /// The entry named.
        target: u64,
    },
    /// A supersession breaks SPEC §13.6.
    #[error("supersession at entry {seq}: {reason}")]
    Supersession {
        /// The supersession entry.
        seq: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// One entry of a session with its event decoded.
#[derive(Debug, Clone)]
pub struct SessionEvent {
    /// The entry's position.
    pub seq: u64,
    /// When it was appended (UTC, from the signed header).
    pub time: Timestamp,
    /// Who signed it.
    pub signer: KeyId,
    /// Its kind.
    pub kind: Kind,
    /// Its causal links.
    pub links: Vec<Link>,
    /// The event; `None` when the payload is absent (erased or withheld) or the kind is outside
    /// the vocabulary.
    pub event: Option<Event>,
    /// Whether the payload was erased from the log.
    pub erased: bool,
    /// Whether the payload is present, erased, or withheld from the source (a bundle).
    pub payload: PayloadState,
}

/// Decodes the event an entry holds. `Ok(None)` for an erased payload or a kind outside the
/// vocabulary (key management, erasures); an error for a vocabulary kind whose payload is not
/// that event, or whose payload names an entry it does not link to.
pub fn decode_event(entry: &StoredEntry) -> Result<Option<Event>, QueryError> {
    let h = entry.header();
    let seq = entry.seq();
    let Some(data) = entry.payload.data() else {
        return Ok(None);
    };
    match Event::decode(&h.kind, data) {
        Ok(event) => {
            if let Some(missing) = event.unlinked_reference(&h.links) {
                return Err(QueryError::Unlinked {
                    seq,
                    target: missing.seq,
                });
            }
            Ok(Some(event))
        }
        Err(EventDecodeError::UnknownKind(_)) => Ok(None),
        Err(source) => Err(QueryError::Event { seq, source }),
    }
}

fn to_session_event<S: EntrySource + ?Sized>(
    log: &S,
    e: &StoredEntry,
) -> Result<SessionEvent, QueryError> {
    let h = e.header();
    let payload = log.payload_state(e);
    Ok(SessionEvent {
        seq: e.seq(),
        time: h.time,
        signer: h.signer,
        kind: h.kind.clone(),
        links: h.links.clone(),
        event: decode_event(e)?,
        erased: payload == PayloadState::Erased,
        payload,
    })
}

/// Every entry of a session, in order, with its event decoded.
pub fn session_events<S: EntrySource + ?Sized>(
    log: &S,
    session: &SessionId,
) -> Result<Vec<SessionEvent>, QueryError> {
    let entries = log.session(session)?;
    if entries.is_empty() {
        return Err(QueryError::NoSuchSession(session.as_str().to_owned()));
    }
    entries.iter().map(|e| to_session_event(log, e)).collect()
}

fn read<S: EntrySource + ?Sized>(log: &S, seq: u64) -> Result<StoredEntry, QueryError> {
    log.read(seq)?.ok_or(QueryError::NoSuchEntry(seq))
}

/// An entry reached by following causal links, and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CausalNode {
    /// The entry.
    pub seq: u64,
    /// Its kind.
    pub kind: Kind,
    /// Links followed from the starting entry (1 = a direct link).
    pub depth: u32,
    /// The entry it was reached from (its neighbour on a shortest path to the start).
    pub via: u64,
}

/// Everything an entry depended on: its links, their links, and so on, each entry once, nearest
/// first (breadth-first, then by sequence number). This answers "what informed this?".
pub fn causal_inputs<S: EntrySource + ?Sized>(
    log: &S,
    seq: u64,
) -> Result<Vec<CausalNode>, QueryError> {
    let (nodes, not_held) = walk_inputs(log, seq)?;
    match not_held.first() {
        Some(&missing) => Err(QueryError::NoSuchEntry(missing)),
        None => Ok(nodes),
    }
}

// The causal inputs the source holds, and the linked positions it does not hold (a bundle of a
// selection holds the entries selected, not everything they link to).
fn walk_inputs<S: EntrySource + ?Sized>(
    log: &S,
    seq: u64,
) -> Result<(Vec<CausalNode>, Vec<u64>), QueryError> {
    let start = read(log, seq)?;
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<(Link, u32, u64)> =
        start.header().links.iter().map(|l| (*l, 1, seq)).collect();
    let mut out = Vec::new();
    let mut not_held = Vec::new();
    while let Some((link, depth, via)) = queue.pop_front() {
        if !seen.insert(link.seq) {
            continue;
        }
        let Some(e) = log.read(link.seq)? else {
            not_held.push(link.seq);
            continue;
        };
        for l in &e.header().links {
            if !seen.contains(&l.seq) {
                queue.push_back((*l, depth + 1, link.seq));
            }
        }
        out.push(CausalNode {
            seq: link.seq,
            kind: e.header().kind.clone(),
            depth,
            via,
        });
    }
    out.sort_by_key(|n| (n.depth, n.seq));
    not_held.sort_unstable();
    Ok((out, not_held))
}

/// Everything in the entry's session (or, for an entry outside any session, in the rest of the
/// log) that depended on it: entries linking to it, entries linking to those, and so on, in log
/// order. This answers "what depended on this?".
pub fn downstream<S: EntrySource + ?Sized>(
    log: &S,
    seq: u64,
) -> Result<Vec<CausalNode>, QueryError> {
    let start = read(log, seq)?;
    let session = start.header().session.clone();
    let later: Vec<StoredEntry> = if session.is_none() {
        log.range(seq + 1..log.len())
            .collect::<Result<Vec<_>, _>>()?
    } else {
        log.session(&session)?
            .into_iter()
            .filter(|e| e.seq() > seq)
            .collect()
    };
    let mut depth_of: BTreeMap<u64, u32> = BTreeMap::from([(seq, 0)]);
    let mut out = Vec::new();
    for e in later {
        let best = e
            .header()
            .links
            .iter()
            .filter_map(|l| depth_of.get(&l.seq).map(|d| (*d, l.seq)))
            .min();
        if let Some((d, via)) = best {
            depth_of.insert(e.seq(), d + 1);
            out.push(CausalNode {
                seq: e.seq(),
                kind: e.header().kind.clone(),
                depth: d + 1,
                via,
            });
        }
    }
    Ok(out)
}

/// An entry with what informed it and what depended on it.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The entry.
    pub entry: SessionEvent,
    /// What informed it ([`causal_inputs`]).
    pub inputs: Vec<CausalNode>,
    /// What depended on it ([`downstream`]).
    pub downstream: Vec<CausalNode>,
    /// Entries it depended on that the source does not hold, so their own inputs are unknown:
    /// always empty for a log; for a bundle, linked entries outside its selection.
    pub not_held: Vec<u64>,
}

/// "Why was this chosen, and what depended on it?" for the entry at `seq`.
pub fn explain<S: EntrySource + ?Sized>(log: &S, seq: u64) -> Result<Explanation, QueryError> {
    let e = read(log, seq)?;
    let (inputs, not_held) = walk_inputs(log, seq)?;
    Ok(Explanation {
        entry: to_session_event(log, &e)?,
        inputs,
        downstream: downstream(log, seq)?,
        not_held,
    })
}

/// A correction made to one version of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionNote {
    /// The correction entry.
    pub seq: u64,
    /// What the developer redirected.
    pub redirected: String,
    /// The new direction, if given.
    pub instruction: Option<String>,
}

/// One version of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVersion {
    /// The entry holding this version.
    pub seq: u64,
    /// Its kind (the same for every version).
    pub kind: Kind,
    /// When it was recorded.
    pub time: Timestamp,
    /// Corrections pointing at this version.
    pub corrections: Vec<CorrectionNote>,
    /// The supersession entry that replaced this version, with its reason; `None` for the
    /// current version.
    pub superseded: Option<(u64, String)>,
}

/// Every version of the record that the entry at `seq` is a version of, oldest first: the chain
/// of supersessions through it (SPEC §13.6), with the corrections made to each version. Nothing
/// is edited: every version stays readable at its own position.
pub fn versions<S: EntrySource + ?Sized>(
    log: &S,
    seq: u64,
) -> Result<Vec<RecordVersion>, QueryError> {
    let start = read(log, seq)?;
    let session = start.header().session.clone();
    let scope: Vec<StoredEntry> = if session.is_none() {
        log.range(0..log.len()).collect::<Result<Vec<_>, _>>()?
    } else {
        log.session(&session)?
    };
    // older -> (supersession seq, newer, reason); newer -> older.
    let mut next: HashMap<u64, (u64, u64, String)> = HashMap::new();
    let mut prev: HashMap<u64, u64> = HashMap::new();
    let mut corrections: HashMap<u64, Vec<CorrectionNote>> = HashMap::new();
    let mut kinds: HashMap<u64, (Kind, Timestamp)> = HashMap::new();
    for e in &scope {
        kinds.insert(e.seq(), (e.header().kind.clone(), e.header().time));
        match decode_event(e)? {
            Some(Event::Supersession(s)) => {
                let bad = |reason| QueryError::Supersession {
                    seq: e.seq(),
                    reason,
                };
                let (old, new) = (s.supersedes.seq, s.replacement.seq);
                let kind_of = |n: u64| kinds.get(&n).map(|(k, _)| k.clone());
                match (kind_of(old), kind_of(new)) {
                    (Some(a), Some(b)) if a == b => {}
                    (Some(_), Some(_)) => return Err(bad("the replacement is of another kind")),
                    _ => return Err(bad("names an entry outside the record's session")),
                }
                if next.contains_key(&old) {
                    return Err(bad("the entry was already superseded"));
                }
                if prev.contains_key(&new) {
                    return Err(bad("the replacement already replaces another entry"));
                }
                next.insert(old, (e.seq(), new, s.reason));
                prev.insert(new, old);
            }
            Some(Event::Correction(c)) => {
                corrections
                    .entry(c.corrects.seq)
                    .or_default()
                    .push(CorrectionNote {
                        seq: e.seq(),
                        redirected: c.redirected,
                        instruction: c.instruction,
                    });
            }
            _ => {}
        }
    }
    let mut first = seq;
    while let Some(p) = prev.get(&first) {
        first = *p;
    }
    let mut out = Vec::new();
    let mut cur = Some(first);
    while let Some(s) = cur {
        let (kind, time) = kinds.get(&s).cloned().ok_or(QueryError::NoSuchEntry(s))?;
        let superseded = next.get(&s).map(|(by, _, reason)| (*by, reason.clone()));
        cur = next.get(&s).map(|(_, new, _)| *new);
        out.push(RecordVersion {
            seq: s,
            kind,
            time,
            corrections: corrections.remove(&s).unwrap_or_default(),
            superseded,
        });
    }
    Ok(out)
}

/// A session's declared scope: path patterns it may touch and patterns it must not (SPEC §13.8).
///
/// Paths are relative to the repository root and `/`-separated; a leading `./` is ignored. A
/// pattern matches a path when it matches the whole path, or a run of leading whole components
/// of it (so `src/report` and `src/report/` both cover `src/report/xbrl.rs`). In a pattern, `*`
/// matches any characters except `/`, `?` one character except `/`, and `**` any characters
/// including `/`. A path with a `..` component, an absolute path, or a path or pattern longer
/// than [`MAX_SCOPE_PATH`] bytes matches nothing, so such a path is outside any scope.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    include: Vec<String>,
    exclude: Vec<String>,
}

/// Why a path is outside a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeViolation {
    /// The path matches no scope pattern.
    NotInScope,
    /// The path matches an exclusion.
    Excluded {
        /// The exclusion it matches.
        pattern: String,
    },
}

impl fmt::Display for ScopeViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeViolation::NotInScope => f.write_str("outside the declared scope"),
            ScopeViolation::Excluded { pattern } => write!(f, "excluded by {pattern}"),
        }
    }
}

impl Scope {
    /// A scope from patterns. No include patterns means every path not excluded is in scope.
    pub fn new(include: &[String], exclude: &[String]) -> Scope {
        Scope {
            include: include.to_vec(),
            exclude: exclude.to_vec(),
        }
    }

    /// The scope a session declared when it started.
    pub fn of(started: &SessionStarted) -> Scope {
        Scope::new(&started.scope, &started.exclusions)
    }

    /// Why `path` is outside the scope, or `None` when it is inside.
    pub fn check(&self, path: &str) -> Option<ScopeViolation> {
        if let Some(p) = self.exclude.iter().find(|p| pattern_covers(p, path)) {
            return Some(ScopeViolation::Excluded { pattern: p.clone() });
        }
        if self.include.is_empty() {
            // Nothing declared: only exclusions and escaping paths count.
            return (!normal_path(path)).then_some(ScopeViolation::NotInScope);
        }
        if self.include.iter().any(|p| pattern_covers(p, path)) {
            None
        } else {
            Some(ScopeViolation::NotInScope)
        }
    }
}

fn strip_dot(s: &str) -> &str {
    let mut s = s;
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    s
}

/// The longest path or pattern the scope rules consider; anything longer matches nothing.
pub const MAX_SCOPE_PATH: usize = 4096;

fn normal_path(path: &str) -> bool {
    let p = strip_dot(path);
    !p.is_empty()
        && p.len() <= MAX_SCOPE_PATH
        && !p.starts_with('/')
        && !p.split('/').any(|c| c == "..")
}

// Whether `pattern` matches `path` or a run of its leading whole components.
pub(crate) fn pattern_covers(pattern: &str, path: &str) -> bool {
    if !normal_path(path) {
        return false;
    }
    let pattern = strip_dot(pattern).trim_end_matches('/');
    if pattern.is_empty() || pattern.len() > MAX_SCOPE_PATH {
        return false;
    }
    let pat: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = strip_dot(path).chars().collect();
    let ends = glob_ends(&pat, &text);
    // A match of the whole path, or of a prefix that ends where a component ends.
    ends.iter()
        .enumerate()
        .any(|(j, hit)| *hit && (j == text.len() || text.get(j) == Some(&'/')))
}

// Glob matching with `*` (not `/`), `?` (not `/`) and `**` (anything): returns, for every j,
// whether the whole pattern matches the first j characters of the text. One pass per pattern
// character, each linear in the text, so no input can make it slow.
fn glob_ends(pat: &[char], text: &[char]) -> Vec<bool> {
    let m = text.len();
    let mut reach = vec![false; m + 1];
    reach[0] = true;
    let mut i = 0;
    while i < pat.len() {
        let mut next = vec![false; m + 1];
        let star_star = pat[i] == '*' && pat.get(i + 1) == Some(&'*');
        for j in 0..=m {
            next[j] = match pat[i] {
                '*' if star_star => reach[j] || (j > 0 && next[j - 1]),
                '*' => reach[j] || (j > 0 && next[j - 1] && text[j - 1] != '/'),
                '?' => j > 0 && reach[j - 1] && text[j - 1] != '/',
                c => j > 0 && reach[j - 1] && text[j - 1] == c,
            };
        }
        reach = next;
        i += if star_star { 2 } else { 1 };
    }
    reach
}

/// A file or tool access outside the session's declared scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeFinding {
    /// The `file_read` or `tool_call` entry.
    pub seq: u64,
    /// Its kind.
    pub kind: Kind,
    /// The path accessed.
    pub path: String,
    /// Why it is outside.
    pub violation: ScopeViolation,
}

/// The session's declaration: its first `session_started` event.
pub fn session_start(events: &[SessionEvent]) -> Option<&SessionStarted> {
    events.iter().find_map(|e| match &e.event {
        Some(Event::SessionStarted(s)) => Some(s),
        _ => None,
    })
}

/// Every file read and every path a tool call touched outside the scope the session declared
/// (SPEC §13.8), in log order.
pub fn out_of_scope<S: EntrySource + ?Sized>(
    log: &S,
    session: &SessionId,
) -> Result<Vec<ScopeFinding>, QueryError> {
    let events = session_events(log, session)?;
    let started = session_start(&events)
        .ok_or_else(|| QueryError::NotStarted(session.as_str().to_owned()))?;
    let scope = Scope::of(started);
    let mut out = Vec::new();
    for e in &events {
        let paths: Vec<&String> = match &e.event {
            Some(Event::FileRead(f)) => vec![&f.path],
            Some(Event::ToolCall(t)) => t.paths.iter().collect(),
            _ => continue,
        };
        for p in paths {
            if let Some(violation) = scope.check(p) {
                out.push(ScopeFinding {
                    seq: e.seq,
                    kind: e.kind.clone(),
                    path: p.clone(),
                    violation,
                });
            }
        }
    }
    Ok(out)
}

/// A session's verification status (SPEC §13.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerificationStatus {
    /// Every required check ran, and its latest run passed.
    Complete,
    /// A required check never ran, or its latest result is `not_run`; none failed.
    MissingRequiredEvidence,
    /// The latest run of a required check failed.
    Failed,
}

impl VerificationStatus {
    /// The status's name in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Complete => "complete",
            VerificationStatus::MissingRequiredEvidence => "missing_required_evidence",
            VerificationStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for VerificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The state of one check: its latest result and its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckState {
    /// The check's name.
    pub check: String,
    /// Whether it must pass (declared by `session_started` or by any of its results).
    pub requirement: Requirement,
    /// Its latest result, with the entry; `None` if it never reported.
    pub latest: Option<(u64, Verification)>,
    /// Earlier results, oldest first (entry and outcome): the dead ends stay visible.
    pub earlier: Vec<(u64, Outcome)>,
}

/// A session's checks and what they add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationReport {
    /// The status.
    pub status: VerificationStatus,
    /// Every check: declared required checks first, in declaration order, then the others in
    /// the order they first reported.
    pub checks: Vec<CheckState>,
    /// Required checks whose latest run failed.
    pub failed: Vec<String>,
    /// Required checks that never ran or whose latest result is `not_run`.
    pub missing: Vec<String>,
    /// `verification` entries whose payload is erased or withheld, with its state: their results
    /// are unknown, so the status above is computed without them.
    pub unread: Vec<(u64, PayloadState)>,
}

/// Computes a session's verification status from its events (SPEC §13.7).
pub fn verification_report(events: &[SessionEvent]) -> VerificationReport {
    let mut checks: Vec<CheckState> = Vec::new();
    let index_of = |checks: &mut Vec<CheckState>, name: &str| -> usize {
        match checks.iter().position(|c| c.check == name) {
            Some(i) => i,
            None => {
                checks.push(CheckState {
                    check: name.to_owned(),
                    requirement: Requirement::Optional,
                    latest: None,
                    earlier: Vec::new(),
                });
                checks.len() - 1
            }
        }
    };
    if let Some(started) = session_start(events) {
        for name in &started.required_checks {
            let i = index_of(&mut checks, name);
            checks[i].requirement = Requirement::Required;
        }
    }
    let mut unread = Vec::new();
    for e in events {
        if e.kind.as_str() == "verification" && !e.payload.is_present() {
            unread.push((e.seq, e.payload));
            continue;
        }
        let Some(Event::Verification(v)) = &e.event else {
            continue;
        };
        let i = index_of(&mut checks, &v.check);
        let c = &mut checks[i];
        if v.requirement == Requirement::Required {
            c.requirement = Requirement::Required;
        }
        if let Some((seq, old)) = c.latest.take() {
            c.earlier.push((seq, old.outcome));
        }
        c.latest = Some((e.seq, v.clone()));
    }
    let mut failed = Vec::new();
    let mut missing = Vec::new();
    for c in checks
        .iter()
        .filter(|c| c.requirement == Requirement::Required)
    {
        match c.latest.as_ref().map(|(_, v)| v.outcome) {
            Some(Outcome::Pass) => {}
            Some(Outcome::Fail) => failed.push(c.check.clone()),
            _ => missing.push(c.check.clone()),
        }
    }
    let status = if !failed.is_empty() {
        VerificationStatus::Failed
    } else if !missing.is_empty() {
        VerificationStatus::MissingRequiredEvidence
    } else {
        VerificationStatus::Complete
    };
    VerificationReport {
        status,
        checks,
        failed,
        missing,
        unread,
    }
}

/// A session's verification status as of its last entry.
pub fn verification_status<S: EntrySource + ?Sized>(
    log: &S,
    session: &SessionId,
) -> Result<VerificationReport, QueryError> {
    Ok(verification_report(&session_events(log, session)?))
}

/// A session's verification status as of entry `upto` (inclusive): what a reviewer would have
/// seen then.
pub fn verification_status_at<S: EntrySource + ?Sized>(
    log: &S,
    session: &SessionId,
    upto: u64,
) -> Result<VerificationReport, QueryError> {
    let events: Vec<SessionEvent> = session_events(log, session)?
        .into_iter()
        .filter(|e| e.seq <= upto)
        .collect();
    Ok(verification_report(&events))
}

pub use crate::lineage::{lineage, owner};

/// The printed name of every key the log knows.
pub fn printed_names<S: EntrySource + ?Sized>(log: &S) -> HashMap<KeyId, String> {
    log.printed_names()
}

/// The approvals among a session's events, with printed names from `names`.
pub fn signed_approvals(
    events: &[SessionEvent],
    names: &HashMap<KeyId, String>,
) -> Vec<SignedApproval> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Approval(a)) => Some(SignedApproval {
                seq: e.seq,
                time: e.time,
                signer: e.signer,
                printed_name: names
                    .get(&e.signer)
                    .cloned()
                    .unwrap_or_else(|| format!("unregistered key {}", e.signer.short())),
                approval: a.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Every approval in a session, with the signer's printed name, time and meaning.
pub fn approvals<S: EntrySource + ?Sized>(
    log: &S,
    session: &SessionId,
) -> Result<Vec<SignedApproval>, QueryError> {
    let events = session_events(log, session)?;
    Ok(signed_approvals(&events, &printed_names(log)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scope_patterns() {
        let scope = Scope::new(
            &s(&["src/report/", "tests/*.rs", "Cargo.toml", "docs/**/*.md"]),
            &s(&["src/report/pdf", "**/*.pem"]),
        );
        assert_eq!(scope.check("src/report/xbrl/mod.rs"), None);
        assert_eq!(scope.check("./src/report/mod.rs"), None);
        assert_eq!(scope.check("tests/xbrl.rs"), None);
        assert_eq!(scope.check("Cargo.toml"), None);
        assert_eq!(scope.check("docs/a/b/c.md"), None);
        assert_eq!(
            scope.check("src/reporting.rs"),
            Some(ScopeViolation::NotInScope)
        );
        assert_eq!(
            scope.check("tests/sub/x.rs"),
            Some(ScopeViolation::NotInScope)
        );
        assert_eq!(
            scope.check("src/report/../../etc/passwd"),
            Some(ScopeViolation::NotInScope)
        );
        assert_eq!(scope.check("/etc/passwd"), Some(ScopeViolation::NotInScope));
        assert_eq!(
            scope.check("src/report/pdf/render.rs"),
            Some(ScopeViolation::Excluded {
                pattern: "src/report/pdf".into()
            })
        );
        assert!(matches!(
            scope.check("src/report/keys/dev.pem"),
            Some(ScopeViolation::Excluded { .. })
        ));
        let open = Scope::new(&[], &s(&["secrets/"]));
        assert_eq!(open.check("anything/at/all"), None);
        assert!(open.check("secrets/token").is_some());
        assert!(open.check("../outside").is_some());
    }

    #[test]
    fn glob_handles_many_stars() {
        let pat: Vec<char> = "*a*a*a*a*a*a*a*a*a*a*b".chars().collect();
        let text: Vec<char> = "a".repeat(200).chars().collect();
        assert!(!glob_ends(&pat, &text)[200]);
        let text: Vec<char> = format!("{}b", "a".repeat(20)).chars().collect();
        assert!(glob_ends(&pat, &text)[21]);
        let pat: Vec<char> = "src/**/mod.rs".chars().collect();
        let text: Vec<char> = "src/a/b/mod.rs".chars().collect();
        assert!(glob_ends(&pat, &text)[14]);
        let pat: Vec<char> = "src/*/mod.rs".chars().collect();
        assert!(!glob_ends(&pat, &text)[14]);
    }
}
