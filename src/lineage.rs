//! From an incident back to the work that caused it (SPEC §13.15): incident → implicated commits
//! → the sessions that wrote them → each session's prompt, decisions with the alternatives
//! rejected, verification evidence and what was missing → the reviews → the merge and its owner,
//! with the time from merge (or commit) to incident.
//!
//! Everything is read from verified entries through an [`EntrySource`] (the local log or a
//! verified bundle). What git knows — which session a commit's trailers name, when it was
//! committed, its origin — comes in as [`CommitFacts`], which the caller reads from the
//! repository (the `sealtrail` CLI runs `git log`); the library never runs git.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::approval::SignedApproval;
use crate::entry::SessionId;
use crate::event::{ChangeRef, Event, IncidentResolved, ReviewVerdict};
use crate::keys::KeyId;
use crate::origin::Origin;
use crate::query::{
    QueryError, VerificationStatus, decode_event, session_events, session_start, signed_approvals,
    verification_report,
};
use crate::source::EntrySource;
use crate::time::Timestamp;

fn ser_time<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

fn ser_opt_time<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339()),
        None => s.serialize_none(),
    }
}

fn ser_key<S: serde::Serializer>(k: &KeyId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&k.to_string())
}

fn ser_opt_key<S: serde::Serializer>(k: &Option<KeyId>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        Some(k) => s.serialize_str(&k.to_string()),
        None => s.serialize_none(),
    }
}

fn ser_status<S: serde::Serializer>(v: &VerificationStatus, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_str())
}

/// What the repository says about one commit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommitFacts {
    /// The commit id (full, lower-case hex).
    pub commit: String,
    /// When it was committed.
    pub time: Option<Timestamp>,
    /// Who wrote it: from its author and trailers ([`crate::origin::classify`]).
    pub origin: Option<Origin>,
    /// The session its `Sealtrail-Session` trailer names.
    pub session: Option<String>,
    /// Lines added plus lines deleted.
    pub changed_lines: Option<u64>,
}

/// How a session was tied to a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionLink {
    /// The commit's `Sealtrail-Session` trailer names it.
    Trailer,
    /// A review of the commit names entries of the session among those under review.
    Review,
    /// The incident names the session.
    Incident,
}

/// A decision of a session, with what it rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionNode {
    /// The `decision` entry.
    pub seq: u64,
    /// The question.
    pub question: String,
    /// The option chosen.
    pub chosen: String,
    /// Why.
    pub rationale: String,
    /// The options rejected: `(option, reason)`.
    pub rejected: Vec<(String, String)>,
}

/// A session that wrote an implicated change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionNode {
    /// The session id.
    pub session: String,
    /// How it was found.
    pub found_by: Vec<SessionLink>,
    /// Entries of it held by the source (0: the session is not in the log or bundle).
    pub entries: usize,
    /// The prompt: `session_started.objective`.
    pub objective: Option<String>,
    /// The session's tags (`session_started.tags`).
    pub tags: Vec<String>,
    /// The agent (`session_started.agent_name`).
    pub agent: Option<String>,
    /// Its decisions, in order.
    pub decisions: Vec<DecisionNode>,
    /// Its verification status (SPEC §13.7).
    #[serde(serialize_with = "ser_status")]
    pub verification: VerificationStatus,
    /// Required checks that never ran or did not run.
    pub missing_checks: Vec<String>,
    /// Required checks whose latest run failed.
    pub failed_checks: Vec<String>,
    /// Checks whose latest run passed.
    pub passed_checks: Vec<String>,
    /// Approvals given in the session: `(entry, printed name, gate, decision)`.
    pub approvals: Vec<(u64, String, String, String)>,
}

/// A review of an implicated change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewNode {
    /// The `review` entry.
    pub seq: u64,
    /// When it was recorded.
    #[serde(serialize_with = "ser_time")]
    pub time: Timestamp,
    /// The reviewer's printed name.
    pub reviewer: String,
    /// The reviewer's key.
    #[serde(serialize_with = "ser_key")]
    pub key: KeyId,
    /// The verdict.
    pub verdict: ReviewVerdict,
    /// The checklist: `(item, answer, evidence entries)`.
    pub checklist: Vec<(String, String, Vec<u64>)>,
}

/// The merge of an implicated change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeNode {
    /// The `merge` entry.
    pub seq: u64,
    /// When it was recorded.
    #[serde(serialize_with = "ser_time")]
    pub time: Timestamp,
    /// Who merged: the printed name of the signer.
    pub merged_by: String,
    /// Their key.
    #[serde(serialize_with = "ser_key")]
    pub key: KeyId,
    /// The target.
    pub into: String,
}

/// Who owns a change, and on what evidence (SPEC §13.15): the person who merged it — the one who
/// approved the pull request — else the person whose review approved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// The owner's printed name; `None` when the log holds no evidence of one.
    pub name: Option<String>,
    /// Their key.
    #[serde(serialize_with = "ser_opt_key")]
    pub key: Option<KeyId>,
    /// The entry the answer rests on.
    pub entry: Option<u64>,
    /// The evidence, in words (or why there is none).
    pub basis: String,
}

/// One implicated commit and everything the log says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitNode {
    /// The commit id.
    pub commit: String,
    /// What the repository says about it, when the caller read it.
    pub origin: Option<Origin>,
    /// When it was committed.
    #[serde(serialize_with = "ser_opt_time")]
    pub committed_at: Option<Timestamp>,
    /// The sessions that wrote it.
    pub sessions: Vec<SessionNode>,
    /// Reviews of it, in log order.
    pub reviews: Vec<ReviewNode>,
    /// Its merge, if recorded (the first one).
    pub merge: Option<MergeNode>,
    /// Its owner.
    pub owner: Owner,
    /// Nanoseconds from the merge (else the commit) to the incident's detection.
    pub time_to_incident: Option<u64>,
    /// What `time_to_incident` is measured from: `merge` or `commit`.
    pub measured_from: Option<&'static str>,
}

/// An incident and its lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lineage {
    /// The `incident` entry.
    pub seq: u64,
    /// The incident's id.
    pub id: String,
    /// Its severity.
    pub severity: String,
    /// What happened.
    pub description: String,
    /// When it was detected.
    #[serde(serialize_with = "ser_time")]
    pub detected_at: Timestamp,
    /// Who reported it (printed name of the signer).
    pub reported_by: String,
    /// Its resolution, if recorded: the entry and how.
    pub resolved: Option<(u64, Option<String>)>,
    /// The implicated commits.
    pub commits: Vec<CommitNode>,
    /// Sessions the incident names that no implicated commit leads to.
    pub other_sessions: Vec<SessionNode>,
}

/// Why a lineage could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineageError {
    /// No `incident` entry with this id is held.
    #[error("no incident `{0}` in the log")]
    NoSuchIncident(String),
    /// Reading failed.
    #[error(transparent)]
    Query(#[from] QueryError),
}

// The reviews, merges, incidents and resolutions of a source, read in one pass.
struct Index {
    names: std::collections::HashMap<KeyId, String>,
    reviews: Vec<(u64, Timestamp, KeyId, crate::event::Review, Vec<u64>)>,
    merges: Vec<(u64, Timestamp, KeyId, crate::event::Merge)>,
    incidents: Vec<(u64, KeyId, crate::event::Incident)>,
    resolutions: Vec<(u64, IncidentResolved)>,
    sessions_of: BTreeMap<u64, String>,
}

impl Index {
    fn read<S: EntrySource + ?Sized>(source: &S) -> Result<Index, QueryError> {
        let mut ix = Index {
            names: source.printed_names(),
            reviews: Vec::new(),
            merges: Vec::new(),
            incidents: Vec::new(),
            resolutions: Vec::new(),
            sessions_of: BTreeMap::new(),
        };
        let mut review_targets = BTreeSet::new();
        for e in source.range(0..source.len()) {
            let e = e.map_err(QueryError::Read)?;
            let h = e.header();
            match decode_event(&e)? {
                Some(Event::Review(r)) => {
                    // The entries under review (not the checklist's evidence, which may be the
                    // reviewer's own runs) say which sessions wrote the change.
                    let linked: Vec<u64> = r.entries.iter().map(|l| l.seq).collect();
                    review_targets.extend(linked.iter().copied());
                    ix.reviews.push((e.seq(), h.time, h.signer, r, linked));
                }
                Some(Event::Merge(m)) => ix.merges.push((e.seq(), h.time, h.signer, m)),
                Some(Event::Incident(i)) => ix.incidents.push((e.seq(), h.signer, i)),
                Some(Event::IncidentResolved(r)) => ix.resolutions.push((e.seq(), r)),
                _ => {}
            }
        }
        // The sessions of the entries reviews link, read by position.
        for seq in review_targets {
            if let Some(e) = source.read(seq).map_err(QueryError::Read)? {
                if !e.header().session.is_none() {
                    ix.sessions_of
                        .insert(seq, e.header().session.as_str().to_owned());
                }
            }
        }
        Ok(ix)
    }

    fn name(&self, key: &KeyId) -> String {
        self.names
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("key {}", key.short()))
    }
}

fn names_commit(change: &ChangeRef, commit: &str) -> bool {
    change.commit.as_deref() == Some(commit)
}

/// Who owns `commit`, and on what evidence: the signer of the first `merge` of it, else of the
/// first approving `review` of it; else nobody, said so.
pub fn owner<S: EntrySource + ?Sized>(source: &S, commit: &str) -> Result<Owner, QueryError> {
    let ix = Index::read(source)?;
    Ok(owner_in(&ix, commit))
}

fn owner_in(ix: &Index, commit: &str) -> Owner {
    if let Some((seq, _, key, m)) = ix.merges.iter().find(|(_, _, _, m)| {
        names_commit(&m.change, commit) || m.merge_commit.as_deref() == Some(commit)
    }) {
        return Owner {
            name: Some(ix.name(key)),
            key: Some(*key),
            entry: Some(*seq),
            basis: format!(
                "merge entry {seq}: {} merged it into {}, signed with their own key",
                ix.name(key),
                m.into
            ),
        };
    }
    if let Some((seq, _, key, _, _)) = ix.reviews.iter().find(|(_, _, _, r, _)| {
        names_commit(&r.change, commit) && r.verdict == ReviewVerdict::Approve
    }) {
        return Owner {
            name: Some(ix.name(key)),
            key: Some(*key),
            entry: Some(*seq),
            basis: format!(
                "review entry {seq}: {} approved it; no merge of it is recorded",
                ix.name(key)
            ),
        };
    }
    Owner {
        name: None,
        key: None,
        entry: None,
        basis: "no evidence: no merge and no approving review of this commit is recorded"
            .to_owned(),
    }
}

fn session_node<S: EntrySource + ?Sized>(
    source: &S,
    ix: &Index,
    session: &str,
    found_by: Vec<SessionLink>,
) -> Result<SessionNode, QueryError> {
    // A session the source does not hold (or an id no session can have) has no entries.
    let events = match SessionId::new(session).map(|id| session_events(source, &id)) {
        Ok(Ok(events)) => events,
        Ok(Err(QueryError::NoSuchSession(_))) | Err(_) => Vec::new(),
        Ok(Err(e)) => return Err(e),
    };
    let started = session_start(&events);
    let report = verification_report(&events);
    let decisions = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Decision(d)) => Some(DecisionNode {
                seq: e.seq,
                question: d.question.clone(),
                chosen: d.chosen.clone(),
                rationale: d.rationale.clone(),
                rejected: d
                    .rejected
                    .iter()
                    .map(|a| (a.option.clone(), a.reason.clone()))
                    .collect(),
            }),
            _ => None,
        })
        .collect();
    let approvals = signed_approvals(&events, &ix.names)
        .into_iter()
        .map(|a: SignedApproval| {
            (
                a.seq,
                a.printed_name,
                a.approval.gate().to_string(),
                a.approval.decision().past().to_owned(),
            )
        })
        .collect();
    Ok(SessionNode {
        session: session.to_owned(),
        found_by,
        entries: events.len(),
        objective: started.map(|s| s.objective.clone()),
        tags: started.map(|s| s.tags.clone()).unwrap_or_default(),
        agent: started.map(|s| s.agent_name.clone()),
        decisions,
        verification: report.status,
        missing_checks: report.missing.clone(),
        failed_checks: report.failed.clone(),
        passed_checks: report
            .checks
            .iter()
            .filter(|c| {
                c.latest
                    .as_ref()
                    .is_some_and(|(_, v)| v.outcome == crate::event::Outcome::Pass)
            })
            .map(|c| c.check.clone())
            .collect(),
        approvals,
    })
}

/// The lineage of incident `id` (SPEC §13.15). `facts` is what the repository says about
/// commits (empty when no repository was read: sessions are then found through reviews and the
/// incident alone, and time-to-incident through merges).
pub fn lineage<S: EntrySource + ?Sized>(
    source: &S,
    id: &str,
    facts: &[CommitFacts],
) -> Result<Lineage, LineageError> {
    let ix = Index::read(source)?;
    let (seq, signer, incident) = ix
        .incidents
        .iter()
        .find(|(_, _, i)| i.id == id)
        .cloned()
        .ok_or_else(|| LineageError::NoSuchIncident(id.to_owned()))?;
    let detected = incident.detected_at;
    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut commits = Vec::new();
    for commit in &incident.commits {
        let fact = facts.iter().find(|f| &f.commit == commit);
        // Sessions: the trailer, then the sessions of the entries reviews of it link.
        let mut found: BTreeMap<String, BTreeSet<SessionLink>> = BTreeMap::new();
        if let Some(s) = fact.and_then(|f| f.session.clone()) {
            found.entry(s).or_default().insert(SessionLink::Trailer);
        }
        let reviews: Vec<ReviewNode> = ix
            .reviews
            .iter()
            .filter(|(_, _, _, r, _)| names_commit(&r.change, commit))
            .map(|(rseq, time, key, r, linked)| {
                for l in linked {
                    if let Some(s) = ix.sessions_of.get(l) {
                        found
                            .entry(s.clone())
                            .or_default()
                            .insert(SessionLink::Review);
                    }
                }
                ReviewNode {
                    seq: *rseq,
                    time: *time,
                    reviewer: ix.name(key),
                    key: *key,
                    verdict: r.verdict,
                    checklist: r
                        .checklist
                        .iter()
                        .map(|c| {
                            (
                                enum_word(&c.item),
                                enum_word(&c.answer),
                                c.evidence.iter().map(|l| l.seq).collect(),
                            )
                        })
                        .collect(),
                }
            })
            .collect();
        for s in &incident.sessions {
            if found.contains_key(s) {
                found
                    .entry(s.clone())
                    .or_default()
                    .insert(SessionLink::Incident);
            }
        }
        let mut sessions = Vec::new();
        for (s, how) in found {
            reached.insert(s.clone());
            sessions.push(session_node(source, &ix, &s, how.into_iter().collect())?);
        }
        let merge = ix
            .merges
            .iter()
            .find(|(_, _, _, m)| {
                names_commit(&m.change, commit) || m.merge_commit.as_deref() == Some(commit)
            })
            .map(|(mseq, time, key, m)| MergeNode {
                seq: *mseq,
                time: *time,
                merged_by: ix.name(key),
                key: *key,
                into: m.into.clone(),
            });
        let (time_to_incident, measured_from) = match (&merge, fact.and_then(|f| f.time)) {
            (Some(m), _) => (detected.checked_sub(m.time.as_nanos()), Some("merge")),
            (None, Some(t)) => (detected.checked_sub(t.as_nanos()), Some("commit")),
            (None, None) => (None, None),
        };
        commits.push(CommitNode {
            commit: commit.clone(),
            origin: fact.and_then(|f| f.origin),
            committed_at: fact.and_then(|f| f.time),
            sessions,
            reviews,
            merge,
            owner: owner_in(&ix, commit),
            time_to_incident,
            measured_from: time_to_incident.and(measured_from),
        });
    }
    let mut other_sessions = Vec::new();
    for s in &incident.sessions {
        if !reached.contains(s) {
            other_sessions.push(session_node(source, &ix, s, vec![SessionLink::Incident])?);
        }
    }
    let resolved = ix
        .resolutions
        .iter()
        .find(|(_, r)| r.id == id)
        .map(|(rseq, r)| (*rseq, r.resolution.clone()));
    Ok(Lineage {
        seq,
        id: incident.id.clone(),
        severity: incident.severity.clone(),
        description: incident.description.clone(),
        detected_at: Timestamp(detected),
        reported_by: ix.name(&signer),
        resolved,
        commits,
        other_sessions,
    })
}

// An enum's snake_case name, as serde writes it.
fn enum_word<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A duration in days and hours, e.g. `21d 3h`.
pub fn days_hours(nanos: u64) -> String {
    let hours = nanos / 3_600_000_000_000;
    format!("{}d {}h", hours / 24, hours % 24)
}

impl Lineage {
    /// The lineage for people, as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Incident {} ({})", self.id, self.severity);
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{}  \nDetected {}, reported by {} (entry {}).",
            self.description,
            self.detected_at.to_rfc3339(),
            self.reported_by,
            self.seq
        );
        match &self.resolved {
            Some((seq, how)) => {
                let _ = writeln!(
                    s,
                    "Resolved (entry {seq}){}.",
                    how.as_deref().map(|h| format!(": {h}")).unwrap_or_default()
                );
            }
            None => {
                let _ = writeln!(s, "Not resolved.");
            }
        }
        if self.commits.is_empty() {
            let _ = writeln!(s, "\nThe incident names no commit.");
        }
        for c in &self.commits {
            let _ = writeln!(s, "\n## Commit {}", c.commit);
            let _ = writeln!(s);
            if let Some(o) = c.origin {
                let _ = writeln!(s, "- origin: {}", o.as_str());
            }
            if let Some(t) = c.committed_at {
                let _ = writeln!(s, "- committed: {}", t.to_rfc3339());
            }
            match &c.merge {
                Some(m) => {
                    let _ = writeln!(
                        s,
                        "- merged into {} by {} at {} (entry {})",
                        m.into,
                        m.merged_by,
                        m.time.to_rfc3339(),
                        m.seq
                    );
                }
                None => {
                    let _ = writeln!(s, "- merge: none recorded");
                }
            }
            let _ = writeln!(
                s,
                "- owner: {} — {}",
                c.owner.name.as_deref().unwrap_or("unknown"),
                c.owner.basis
            );
            match (c.time_to_incident, c.measured_from) {
                (Some(t), Some(from)) => {
                    let _ = writeln!(s, "- time to incident: {} (from the {from})", days_hours(t));
                }
                _ => {
                    let _ = writeln!(s, "- time to incident: unknown (no merge or commit time)");
                }
            }
            if c.reviews.is_empty() {
                let _ = writeln!(s, "- reviews: none recorded");
            }
            for r in &c.reviews {
                let _ = writeln!(
                    s,
                    "- review (entry {}) by {}: {}",
                    r.seq,
                    r.reviewer,
                    enum_word(&r.verdict)
                );
                for (item, answer, evidence) in &r.checklist {
                    let ev = if evidence.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (evidence: {})",
                            evidence
                                .iter()
                                .map(|e| format!("entry {e}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    let _ = writeln!(s, "  - {item}: {answer}{ev}");
                }
            }
            if c.sessions.is_empty() {
                let _ = writeln!(
                    s,
                    "- sessions: none found (no Sealtrail-Session trailer, no review linking a session)"
                );
            }
            for sess in &c.sessions {
                session_markdown(&mut s, sess);
            }
        }
        for sess in &self.other_sessions {
            let _ = writeln!(s, "\n## Session named by the incident");
            session_markdown(&mut s, sess);
        }
        s
    }
}

fn session_markdown(s: &mut String, n: &SessionNode) {
    let how: Vec<String> = n.found_by.iter().map(enum_word).collect();
    let _ = writeln!(
        s,
        "\n### Session {} (found by {})",
        n.session,
        how.join(", ")
    );
    let _ = writeln!(s);
    if n.entries == 0 {
        let _ = writeln!(s, "- not in this log");
        return;
    }
    let _ = writeln!(
        s,
        "- prompt: {}",
        n.objective.as_deref().unwrap_or("(no session_started)")
    );
    if let Some(a) = &n.agent {
        let _ = writeln!(s, "- agent: {a}");
    }
    if !n.tags.is_empty() {
        let _ = writeln!(s, "- tags: {}", n.tags.join(", "));
    }
    for d in &n.decisions {
        let _ = writeln!(
            s,
            "- decision (entry {}): {} — chose {} because {}",
            d.seq, d.question, d.chosen, d.rationale
        );
        for (option, reason) in &d.rejected {
            let _ = writeln!(s, "  - rejected {option}: {reason}");
        }
    }
    let _ = writeln!(s, "- verification: {}", n.verification);
    if !n.passed_checks.is_empty() {
        let _ = writeln!(s, "  - passed: {}", n.passed_checks.join(", "));
    }
    if !n.failed_checks.is_empty() {
        let _ = writeln!(s, "  - failed: {}", n.failed_checks.join(", "));
    }
    if !n.missing_checks.is_empty() {
        let _ = writeln!(s, "  - missing: {}", n.missing_checks.join(", "));
    }
    for (seq, name, gate, decision) in &n.approvals {
        let _ = writeln!(s, "- approval (entry {seq}): {gate} {decision} by {name}");
    }
}
