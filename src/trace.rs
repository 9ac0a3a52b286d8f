//! The decision trace of a session (SPEC §13.9): Markdown for a commit message or pull-request
//! description, ending in git trailers that tie the commit to the log, and a JSON run record for
//! tools.
//!
//! Both are derived from signed entries only. Entries are named by position (`entry 12`), which
//! a reader can look up and verify; entry hashes are left out so that the text stays short.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sealtrail_testkit::scenario::{ScenarioKeys, record_hidden_failure_session};
//! use sealtrail::trace::{DecisionTrace, TraceOptions};
//! use sealtrail::{Log, SecretKey, SessionId};
//!
//! let owner = SecretKey::generate("example.com/agent-log")?;
//! let recorder = SecretKey::generate("harness")?;
//! let approver = SecretKey::generate("reviewer")?;
//! let log = Log::in_memory(&owner, "example.com/agent-log")?;
//! let keys = ScenarioKeys::new(&owner, &recorder, &approver, "Release Approver");
//! let session = SessionId::new("sess-invite-0002")?;
//! record_hidden_failure_session(&log, &keys, &session)?;
//!
//! let trace = DecisionTrace::from_session(&log, &session)?;
//! let text = trace.to_markdown(&TraceOptions::default());
//! assert!(text.contains("e2e invite-flow (NOT RUN: preview service down, required)"));
//! assert!(text.contains("Sealtrail-Session: sess-invite-0002"));
//! # Ok(()) }
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use serde_json::{Value as Json, json};

use crate::entry::SessionId;
use crate::event::{Event, Outcome, Requirement, SessionStarted};
use crate::hash::{LogId, RootHash};
use crate::query::{
    QueryError, SessionEvent, SignedApproval, VerificationReport, printed_names, session_events,
    session_start, signed_approvals, verification_report,
};
use crate::source::{EntrySource, PayloadState};

/// A checkpoint to name in the trailers: the log's size and Merkle root at that size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointRef {
    /// Number of entries the checkpoint covers.
    pub size: u64,
    /// The Merkle root at that size (SPEC §10).
    pub root: RootHash,
}

/// Options for rendering a trace.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// A checkpoint covering the session, for the `Sealtrail-Checkpoint` trailer.
    pub checkpoint: Option<CheckpointRef>,
    /// Where a reviewer finds the evidence (a bundle's path or URL, say), for the
    /// `Sealtrail-Evidence` trailer.
    pub evidence: Option<String>,
}

impl TraceOptions {
    /// Names a checkpoint in the trailers.
    pub fn checkpoint(mut self, size: u64, root: RootHash) -> Self {
        self.checkpoint = Some(CheckpointRef { size, root });
        self
    }

    /// Says in the trailers where the evidence lives: a bundle's path or URL, for example.
    pub fn evidence(mut self, location: &str) -> Self {
        self.evidence = Some(location.to_owned());
        self
    }
}

/// A session's decision trace, read from a log or from a bundle that verified.
#[derive(Debug, Clone)]
pub struct DecisionTrace {
    log_id: LogId,
    session: SessionId,
    events: Vec<SessionEvent>,
    verification: VerificationReport,
    approvals: Vec<SignedApproval>,
}

impl DecisionTrace {
    /// Reads a session's entries and decodes them, from the local [`Log`](crate::Log) or a
    /// [`VerifiedBundle`](crate::bundle::VerifiedBundle).
    pub fn from_session<S: EntrySource + ?Sized>(
        log: &S,
        session: &SessionId,
    ) -> Result<DecisionTrace, QueryError> {
        let events = session_events(log, session)?;
        let verification = verification_report(&events);
        let approvals = signed_approvals(&events, &printed_names(log));
        Ok(DecisionTrace {
            log_id: log.log_id(),
            session: session.clone(),
            events,
            verification,
            approvals,
        })
    }

    /// The session's entries with their events.
    pub fn events(&self) -> &[SessionEvent] {
        &self.events
    }

    /// The session's verification status and checks.
    pub fn verification(&self) -> &VerificationReport {
        &self.verification
    }

    /// The session's approvals with printed names, times and meanings.
    pub fn approvals(&self) -> &[SignedApproval] {
        &self.approvals
    }

    fn started(&self) -> Option<&SessionStarted> {
        session_start(&self.events)
    }

    fn each(&self) -> impl Iterator<Item = (&SessionEvent, &Event)> {
        self.events
            .iter()
            .filter_map(|e| e.event.as_ref().map(|ev| (e, ev)))
    }

    /// Files changed by the session's patchsets, sorted.
    pub fn changed_files(&self) -> Vec<String> {
        let mut files = BTreeSet::new();
        for (_, ev) in self.each() {
            if let Event::Artifact(a) = ev {
                if a.artifact_type == "patchset" {
                    files.extend(a.paths.iter().cloned());
                }
            }
        }
        files.into_iter().collect()
    }

    /// The models used, in the order of first use (response model, else request model).
    pub fn models(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, ev) in self.each() {
            if let Event::ModelCall(m) = ev {
                let model = m.response_model.as_ref().unwrap_or(&m.request_model);
                if !out.contains(model) {
                    out.push(model.clone());
                }
            }
        }
        out
    }

    fn open_risks(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, ev) in self.each() {
            if let Event::Handoff(h) = ev {
                out.extend(h.open_risks.iter().cloned());
            }
        }
        out
    }

    fn final_status(&self) -> &'static str {
        self.each()
            .filter_map(|(_, ev)| match ev {
                Event::SessionEnded(s) => Some(s.status.as_str()),
                _ => None,
            })
            .last()
            .unwrap_or("in_progress")
    }

    /// The verification line: each check with its outcome, counts, duration, and — when it did
    /// not run — why (SPEC §13.9).
    pub fn verification_line(&self) -> String {
        let mut parts = Vec::new();
        for c in &self.verification.checks {
            let required = c.requirement == Requirement::Required;
            let mut s = one_line(&c.check);
            match &c.latest {
                None => {
                    // With results unread (SPEC §13.7), "never reported" would be a guess.
                    s.push_str(if self.verification.unread.is_empty() {
                        " (NOT RUN: never reported"
                    } else {
                        " (UNKNOWN: no readable result"
                    });
                    if required {
                        s.push_str(", required");
                    }
                    s.push(')');
                }
                Some((_, v)) => {
                    let mut bits = Vec::new();
                    match v.outcome {
                        Outcome::NotRun => bits.push(format!(
                            "NOT RUN: {}",
                            one_line(v.reason.as_deref().unwrap_or("no reason given"))
                        )),
                        Outcome::Pass => bits.push("pass".to_owned()),
                        Outcome::Fail => bits.push("FAIL".to_owned()),
                    }
                    match (v.passed, v.failed) {
                        (Some(p), Some(f)) if f > 0 => bits.push(format!("{p} passed, {f} failed")),
                        (Some(p), _) => bits.push(format!("{p} passed")),
                        (None, Some(f)) => bits.push(format!("{f} failed")),
                        (None, None) => {}
                    }
                    if let Some(ms) = v.duration_ms {
                        bits.push(duration(ms));
                    }
                    if required && v.outcome != Outcome::Pass {
                        bits.push("required".to_owned());
                    }
                    let mut inner = bits.join(", ");
                    if !c.earlier.is_empty() {
                        let earlier: Vec<&str> =
                            c.earlier.iter().map(|(_, o)| o.as_str()).collect();
                        let _ = write!(inner, "; earlier: {}", earlier.join(", "));
                    }
                    let _ = write!(s, " ({inner})");
                }
            }
            parts.push(s);
        }
        if parts.is_empty() {
            "none recorded".to_owned()
        } else {
            parts.join(" · ")
        }
    }

    /// The trace as Markdown for a commit message or pull-request description, ending in git
    /// trailers (SPEC §13.9). Deterministic: the same entries always give the same text.
    pub fn to_markdown(&self, options: &TraceOptions) -> String {
        let mut out = String::new();
        let started = self.started();
        let goal = started.map_or("(no session_started entry)", |s| s.objective.as_str());
        let _ = writeln!(out, "Goal: {}", one_line(goal));
        if let Some(s) = started {
            if !s.scope.is_empty() || !s.exclusions.is_empty() {
                let scope = if s.scope.is_empty() {
                    "everything".to_owned()
                } else {
                    list(&s.scope)
                };
                let _ = write!(out, "Scope: {scope}");
                if !s.exclusions.is_empty() {
                    let _ = write!(out, " (excluding {})", list(&s.exclusions));
                }
                out.push('\n');
            }
            if let Some(b) = &s.base_commit {
                let _ = writeln!(out, "Base commit: {}", one_line(b));
            }
        }

        let decisions: Vec<_> = self
            .each()
            .filter_map(|(e, ev)| match ev {
                Event::Decision(d) => Some((e, d)),
                _ => None,
            })
            .collect();
        if !decisions.is_empty() {
            out.push_str("\nDecisions:\n");
            for (i, (e, d)) in decisions.iter().enumerate() {
                let _ = write!(
                    out,
                    "{}. {} — chose {}",
                    i + 1,
                    one_line(&d.question),
                    one_line(&d.chosen)
                );
                if !d.rejected.is_empty() {
                    let names: Vec<String> =
                        d.rejected.iter().map(|r| one_line(&r.option)).collect();
                    let _ = write!(out, " over {}", names.join(" and "));
                }
                let _ = write!(out, " because {} (entry {}", one_line(&d.rationale), e.seq);
                if !e.links.is_empty() {
                    let seqs: Vec<String> = e.links.iter().map(|l| l.seq.to_string()).collect();
                    let _ = write!(out, "; informed by entries {}", seqs.join(", "));
                }
                out.push_str(")\n");
                for r in &d.rejected {
                    let _ = writeln!(
                        out,
                        "   - rejected {}: {}",
                        one_line(&r.option),
                        one_line(&r.reason)
                    );
                }
            }
        }

        let assumptions: Vec<String> = self
            .each()
            .filter_map(|(e, ev)| match ev {
                Event::Assumption(a) => Some(match &a.basis {
                    Some(b) => format!(
                        "{} (basis: {}; entry {})",
                        one_line(&a.statement),
                        one_line(b),
                        e.seq
                    ),
                    None => format!("{} (entry {})", one_line(&a.statement), e.seq),
                }),
                _ => None,
            })
            .collect();
        section(&mut out, "Assumptions", &assumptions);

        let corrections: Vec<String> = self
            .each()
            .filter_map(|(e, ev)| match ev {
                Event::Correction(c) => {
                    let mut s = one_line(&c.redirected);
                    if let Some(i) = &c.instruction {
                        let _ = write!(s, " → {}", one_line(i));
                    }
                    let _ = write!(s, " (entry {} corrects entry {})", e.seq, c.corrects.seq);
                    Some(s)
                }
                _ => None,
            })
            .collect();
        section(&mut out, "Corrections", &corrections);

        let failures: Vec<String> = self
            .each()
            .filter_map(|(e, ev)| match ev {
                Event::FailureSeen(f) => {
                    let mut s = String::new();
                    if let Some(c) = &f.command {
                        let _ = write!(s, "{}: ", one_line(c));
                    }
                    s.push_str(&one_line(&f.error));
                    if let Some(c) = &f.suspected_cause {
                        let _ = write!(s, " — suspected cause: {}", one_line(c));
                    }
                    let _ = write!(s, " (entry {})", e.seq);
                    Some(s)
                }
                _ => None,
            })
            .collect();
        section(&mut out, "Failures seen", &failures);

        // Events the recorder received but could not record: the record has a hole there.
        let gaps: Vec<String> = self
            .each()
            .filter_map(|(e, ev)| match ev {
                Event::Gap(g) => Some(match &g.event {
                    Some(name) => format!(
                        "{}: {} (entry {})",
                        one_line(name),
                        one_line(&g.reason),
                        e.seq
                    ),
                    None => format!("{} (entry {})", one_line(&g.reason), e.seq),
                }),
                _ => None,
            })
            .collect();
        section(&mut out, "Not recorded", &gaps);

        let risks: Vec<String> = self.open_risks().iter().map(|r| one_line(r)).collect();
        section(&mut out, "Risk areas", &risks);

        let _ = writeln!(out, "\nVerification: {}", self.verification_line());
        let _ = write!(out, "Verification status: {}", self.verification.status);
        if !self.verification.failed.is_empty() {
            let _ = write!(out, " (failed: {})", list(&self.verification.failed));
        }
        if !self.verification.missing.is_empty() {
            let _ = write!(out, " (missing: {})", list(&self.verification.missing));
        }
        if !self.verification.unread.is_empty() {
            // Results a reader cannot see (SPEC §13.7): withheld from a bundle, or erased.
            let unread: Vec<String> = self
                .verification
                .unread
                .iter()
                .map(|(seq, p)| format!("entry {seq} {}", absence(*p)))
                .collect();
            let _ = write!(out, " (unread: {})", unread.join(", "));
        }
        out.push('\n');

        if self.approvals.is_empty() {
            out.push_str("Approvals: none\n");
        } else {
            out.push_str("Approvals:\n");
            for a in &self.approvals {
                let _ = write!(out, "- {} (entry {}", one_line(&a.to_string()), a.seq);
                if let Some(c) = a.approval.comment() {
                    let _ = write!(out, "; \"{}\"", one_line(c));
                }
                out.push_str(")\n");
            }
        }

        let changed = self.changed_files();
        if !changed.is_empty() {
            let _ = writeln!(out, "Changed files: {}", list(&changed));
        }
        // Where the work stands now: the latest handoff (a harness may write one per turn).
        if let Some(h) = self.handoff() {
            let _ = write!(out, "Handoff: {}", h.status.as_str());
            if !h.blockers.is_empty() {
                let _ = write!(out, "; blockers: {}", list(&h.blockers));
            }
            if let Some(n) = &h.next_action {
                let _ = write!(out, "; next: {}", one_line(n));
            }
            out.push('\n');
        }

        out.push('\n');
        let _ = writeln!(out, "Sealtrail-Log: {}", self.log_id.to_hex());
        let _ = writeln!(
            out,
            "Sealtrail-Session: {}",
            one_line(self.session.as_str())
        );
        if let Some(c) = &options.checkpoint {
            let _ = writeln!(out, "Sealtrail-Checkpoint: {} {}", c.size, c.root.to_hex());
        }
        if let Some(e) = &options.evidence {
            let _ = writeln!(out, "Sealtrail-Evidence: {}", one_line(e).trim());
        }
        let agent = started.map_or("agent", |s| s.agent_name.as_str());
        let models = self.models();
        for model in &models {
            let _ = writeln!(
                out,
                "Assisted-by: {}:{}",
                trailer_token(agent),
                trailer_token(model)
            );
        }
        // A harness that records no model calls (Claude Code's hooks) still names its agent.
        if models.is_empty() {
            if let Some(s) = started {
                let _ = writeln!(out, "Assisted-by: {}", trailer_token(&s.agent_name));
            }
        }
        out
    }

    /// The session's latest handoff: where the work stands.
    fn handoff(&self) -> Option<&crate::event::Handoff> {
        self.each()
            .filter_map(|(_, ev)| match ev {
                Event::Handoff(h) => Some(h),
                _ => None,
            })
            .last()
    }

    /// The machine-readable run record (SPEC §13.9).
    pub fn run_record(&self) -> RunRecord {
        let started = self.started();
        let mut context = Vec::new();
        let mut files = Vec::new();
        let mut tools = Vec::new();
        let mut commands = Vec::new();
        let mut failures = Vec::new();
        let mut decisions = Vec::new();
        let mut assumptions = Vec::new();
        let mut corrections = Vec::new();
        let mut supersessions = Vec::new();
        let mut artifacts = Vec::new();
        let mut gates = Vec::new();
        let mut handoff = Json::Null;
        let mut custom = Vec::new();
        let mut gaps = Vec::new();
        let mut usage = Usage::default();
        for (e, ev) in self.each() {
            match ev {
                Event::ContextLoaded(c) => context.push(strip(json!({
                    "seq": e.seq, "source": c.source, "digest": c.digest.to_hex(),
                    "reason": c.reason, "data_source_id": c.data_source_id,
                }))),
                Event::FileRead(f) => files.push(strip(json!({
                    "seq": e.seq, "path": f.path, "digest": f.digest.to_hex(), "reason": f.reason,
                }))),
                Event::ModelCall(m) => usage.add(m),
                Event::ToolCall(t) => tools.push(strip(json!({
                    "seq": e.seq, "name": t.name, "call_id": t.call_id, "tool_type": t.tool_type,
                    "outcome": t.outcome.map(|o| match o {
                        crate::event::ToolOutcome::Ok => "ok",
                        crate::event::ToolOutcome::Error => "error",
                    }),
                    "duration_ms": t.duration_ms, "paths": t.paths,
                }))),
                Event::CommandRun(c) => commands.push(strip(json!({
                    "seq": e.seq, "command": c.command, "exit_code": c.exit_code,
                    "duration_ms": c.duration_ms,
                    "stdout_digest": c.stdout_digest.map(|d| d.to_hex()),
                    "stderr_digest": c.stderr_digest.map(|d| d.to_hex()),
                }))),
                Event::FailureSeen(f) => failures.push(strip(json!({
                    "seq": e.seq, "command": f.command, "error": f.error,
                    "suspected_cause": f.suspected_cause, "caused_by": seqs(e),
                }))),
                Event::Decision(d) => decisions.push(json!({
                    "seq": e.seq, "question": d.question, "chosen": d.chosen,
                    "rejected": d.rejected.iter().map(|r| json!({"option": r.option, "reason": r.reason})).collect::<Vec<_>>(),
                    "rationale": d.rationale, "informed_by": seqs(e),
                })),
                Event::Assumption(a) => assumptions.push(strip(json!({
                    "seq": e.seq, "statement": a.statement, "basis": a.basis,
                }))),
                Event::Correction(c) => corrections.push(strip(json!({
                    "seq": e.seq, "corrects": c.corrects.seq, "redirected": c.redirected,
                    "instruction": c.instruction,
                }))),
                Event::Supersession(s) => supersessions.push(json!({
                    "seq": e.seq, "supersedes": s.supersedes.seq,
                    "replacement": s.replacement.seq, "reason": s.reason,
                })),
                Event::Artifact(a) => artifacts.push(strip(json!({
                    "seq": e.seq, "type": a.artifact_type, "name": a.name, "uri": a.uri,
                    "digest": a.digest.to_hex(), "size": a.size, "paths": a.paths,
                    "media_type": a.media_type,
                }))),
                Event::GateRequested(g) => gates.push(strip(json!({
                    "seq": e.seq, "gate": g.gate.as_str(), "summary": g.summary,
                    "entries": g.entries.iter().map(|l| l.seq).collect::<Vec<_>>(),
                    "artifacts": g.artifacts.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
                }))),
                Event::Handoff(h) => {
                    handoff = strip(json!({
                        "seq": e.seq, "status": h.status.as_str(), "summary": h.summary,
                        "blockers": h.blockers, "next_action": h.next_action,
                        "open_risks": h.open_risks,
                    }))
                }
                Event::Custom(c) => custom.push(json!({
                    "seq": e.seq, "type": c.custom_type.as_str(),
                })),
                Event::Gap(g) => gaps.push(strip(json!({
                    "seq": e.seq, "event": g.event, "reason": g.reason, "source": g.source,
                    "input_size": g.input_size,
                    "input_digest": g.input_digest.map(|d| d.to_hex()),
                }))),
                // Reviews, merges and incidents belong to a change's lineage, not to the run.
                Event::SessionStarted(_)
                | Event::Verification(_)
                | Event::Approval(_)
                | Event::SessionEnded(_)
                | Event::Review(_)
                | Event::Merge(_)
                | Event::Incident(_)
                | Event::IncidentResolved(_) => {}
            }
        }
        let never = if self.verification.unread.is_empty() {
            "never reported"
        } else {
            "no readable result"
        };
        let checks: Vec<Json> = self
            .verification
            .checks
            .iter()
            .map(|c| {
                let latest = c.latest.as_ref();
                strip(json!({
                    "check": c.check,
                    "required": c.requirement == Requirement::Required,
                    "outcome": latest.map_or("not_run", |(_, v)| v.outcome.as_str()),
                    "reason": latest.and_then(|(_, v)| v.reason.clone())
                        .or_else(|| latest.is_none().then(|| never.to_owned())),
                    "seq": latest.map(|(s, _)| *s),
                    "duration_ms": latest.and_then(|(_, v)| v.duration_ms),
                    "passed": latest.and_then(|(_, v)| v.passed),
                    "failed": latest.and_then(|(_, v)| v.failed),
                    "command": latest.and_then(|(_, v)| v.command.clone()),
                    "evidence_digest": latest.and_then(|(_, v)| v.evidence_digest.map(|d| d.to_hex())),
                    "earlier": c.earlier.iter().map(|(s, o)| json!({"seq": s, "outcome": o.as_str()})).collect::<Vec<_>>(),
                }))
            })
            .collect();
        let approvals: Vec<Json> = self
            .approvals
            .iter()
            .map(|a| {
                strip(json!({
                    "seq": a.seq,
                    "gate": a.approval.gate().as_str(),
                    "decision": a.approval.decision().as_str(),
                    "meaning": a.approval.meaning().as_str(),
                    "printed_name": a.printed_name,
                    "signer": a.signer.to_string(),
                    "signed_at": a.approval.signed_at().to_rfc3339(),
                    "recorded_at": a.time.to_rfc3339(),
                    "comment": a.approval.comment(),
                    "subjects": {
                        "entries": a.approval.entries().iter().map(|l| l.seq).collect::<Vec<_>>(),
                        "artifacts": a.approval.artifacts().iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
                    },
                    "manifestation": a.to_string(),
                }))
            })
            .collect();
        let erased: Vec<u64> = self
            .events
            .iter()
            .filter(|e| e.erased)
            .map(|e| e.seq)
            .collect();
        let withheld: Vec<Json> = self
            .events
            .iter()
            .filter_map(|e| match e.payload {
                PayloadState::Withheld(r) => Some(json!({
                    "seq": e.seq, "kind": e.kind.as_str(), "reason": r.describe(),
                })),
                _ => None,
            })
            .collect();
        let unread: Vec<Json> = self
            .verification
            .unread
            .iter()
            .map(|(seq, p)| json!({"seq": seq, "payload": absence(*p)}))
            .collect();
        let record = json!({
            "format": "sealtrail/run-record/v1",
            "log_id": self.log_id.to_hex(),
            "run_id": self.session.as_str(),
            "objective": started.map(|s| s.objective.clone()),
            "scope": started.map(|s| s.scope.clone()).unwrap_or_default(),
            "exclusions": started.map(|s| s.exclusions.clone()).unwrap_or_default(),
            "required_checks": started.map(|s| s.required_checks.clone()).unwrap_or_default(),
            "base_commit": started.and_then(|s| s.base_commit.clone()),
            "agent": started.map(|s| strip(json!({
                "name": s.agent_name, "version": s.agent_version, "id": s.agent_id,
            }))),
            "models": self.models(),
            "started_at": self.events.first().map(|e| e.time.to_rfc3339()),
            "ended_at": self.events.last().map(|e| e.time.to_rfc3339()),
            "entries": self.events.len(),
            "usage": usage.to_json(),
            "context_sources": context,
            "files_inspected": files,
            "tool_calls": tools,
            "commands": commands,
            "failures": failures,
            "decisions": decisions,
            "assumptions": assumptions,
            "corrections": corrections,
            "supersessions": supersessions,
            "gates": gates,
            "verification": {
                "status": self.verification.status.as_str(),
                "failed": self.verification.failed,
                "missing": self.verification.missing,
                "checks": checks,
                // Present only when a `verification` payload is absent (SPEC §13.7).
                "unread": (!unread.is_empty()).then_some(unread),
            },
            "approvals": approvals,
            "artifacts": artifacts,
            "changed_files": self.changed_files(),
            "handoff": handoff,
            "open_risks": self.open_risks(),
            "custom_events": custom,
            "erased_entries": erased,
            // Present only when read from a bundle that withheld payloads of the session.
            "withheld_entries": (!withheld.is_empty()).then_some(withheld),
            // Present only when the session has gaps, so that a complete record reads as before.
            "gaps": (!gaps.is_empty()).then_some(gaps),
            "final_status": self.final_status(),
        });
        RunRecord(strip(record))
    }
}

/// The JSON run record of a session (SPEC §13.9). Object keys are sorted; absent values are
/// omitted.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord(Json);

impl RunRecord {
    /// The record as a JSON value.
    pub fn as_json(&self) -> &Json {
        &self.0
    }

    /// Pretty-printed JSON with a final newline.
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.0).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[derive(Default)]
struct Usage {
    calls: u64,
    input: u64,
    output: u64,
    cache_read: u64,
    cache_creation: u64,
    reasoning: u64,
    duration_ms: u64,
    // currency -> micros
    cost: HashMap<String, u64>,
}

impl Usage {
    fn add(&mut self, m: &crate::event::ModelCall) {
        self.calls += 1;
        self.input = self.input.saturating_add(m.input_tokens);
        self.output = self.output.saturating_add(m.output_tokens);
        self.cache_read = self
            .cache_read
            .saturating_add(m.cache_read_input_tokens.unwrap_or(0));
        self.cache_creation = self
            .cache_creation
            .saturating_add(m.cache_creation_input_tokens.unwrap_or(0));
        self.reasoning = self
            .reasoning
            .saturating_add(m.reasoning_output_tokens.unwrap_or(0));
        self.duration_ms = self.duration_ms.saturating_add(m.duration_ms.unwrap_or(0));
        if let Some(c) = &m.cost {
            let v = self.cost.entry(c.currency.clone()).or_insert(0);
            *v = v.saturating_add(c.micros);
        }
    }

    fn to_json(&self) -> Json {
        let mut cost: Vec<(&String, &u64)> = self.cost.iter().collect();
        cost.sort();
        json!({
            "model_calls": self.calls,
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation_input_tokens": self.cache_creation,
            "reasoning_output_tokens": self.reasoning,
            "model_duration_ms": self.duration_ms,
            "cost": cost.iter().map(|(c, m)| json!({"currency": c, "micros": m})).collect::<Vec<_>>(),
        })
    }
}

fn seqs(e: &SessionEvent) -> Vec<u64> {
    e.links.iter().map(|l| l.seq).collect()
}

// Removes null members from objects, recursively: absent values are omitted.
fn strip(v: Json) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip(v)))
                .collect(),
        ),
        Json::Array(a) => Json::Array(a.into_iter().map(strip).collect()),
        other => other,
    }
}

// Why a payload is absent, in one word.
fn absence(p: PayloadState) -> &'static str {
    match p {
        PayloadState::Withheld(_) => "withheld",
        _ => "erased",
    }
}

fn section(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:");
    for i in items {
        let _ = writeln!(out, "- {i}");
    }
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| one_line(s))
        .collect::<Vec<_>>()
        .join(", ")
}

// Free text on one line: control characters (newlines included) become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

// A trailer token: no white space, no control characters, no `:` (which splits AGENT:MODEL).
fn trailer_token(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == ':' {
                '-'
            } else {
                c
            }
        })
        .collect();
    if t.is_empty() {
        "unknown".to_owned()
    } else {
        t
    }
}

/// A duration for people: `850 ms`, `41 s`, `2 min 5 s`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let s = ms.saturating_add(500) / 1000;
    if s < 60 {
        format!("{s} s")
    } else if s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{} min {} s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(41_000), "41 s");
        assert_eq!(duration(41_499), "41 s");
        assert_eq!(duration(41_500), "42 s");
        assert_eq!(duration(125_000), "2 min 5 s");
        assert_eq!(duration(120_000), "2 min");
    }

    #[test]
    fn text_is_kept_on_one_line() {
        assert_eq!(one_line("a\nb\tc"), "a b c");
        assert_eq!(trailer_token("my agent:v2"), "my-agent-v2");
    }
}
