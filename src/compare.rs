//! Two runs side by side: where they diverge, and what each cost (the comparison of a replay
//! with its original, or of any two sessions).
//!
//! The runs are aligned step by step. A step's *identity* is what it does — a command by its
//! text, a tool call by its name, a decision by its question, a model call by its purpose, a
//! check by its name — and its *result* is what came of it: the model's output digest, the option
//! chosen, the exit code and output, the check's outcome. Steps are matched by identity (the
//! longest common subsequence of the two runs' identities); a matched pair with different
//! results, and a step only one run has, is a divergence.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sealtrail::compare::compare_sessions;
//! use sealtrail::event::{CommandRun, Event};
//! use sealtrail::registry::Role;
//! use sealtrail::{Log, SecretKey, SessionId};
//!
//! let owner = SecretKey::generate("example.com/agent-log")?;
//! let recorder = SecretKey::generate("harness")?;
//! let log = Log::in_memory(&owner, "example.com/agent-log")?;
//! log.register_key(&owner, recorder.key_id(), Role::Recorder, "harness")?;
//! let run = |id: &str, exit: i64| -> Result<SessionId, Box<dyn std::error::Error>> {
//!     let session = SessionId::new(id)?;
//!     let test = CommandRun { command: "cargo test".into(), exit_code: Some(exit), duration_ms: 9, ..CommandRun::default() };
//!     log.append_event(&recorder, &session, &Event::CommandRun(test), &[])?;
//!     Ok(session)
//! };
//! let (a, b) = (run("original", 0)?, run("replay", 101)?);
//! let c = compare_sessions(&log, &a, &b)?;
//! let first = c.first_divergence().unwrap();
//! assert_eq!(first.what, "command result: exit 0 vs exit 101");
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::entry::SessionId;
use crate::event::{Event, Outcome};
use crate::hash::{Digest, Suite};
use crate::log::Log;
use crate::query::{QueryError, SessionEvent, session_events};

/// The version of the JSON form ([`Comparison::to_json`]).
pub const SCHEMA: &str = "sealtrail.compare/1";

/// Runs longer than this many steps each are aligned position by position instead of by their
/// longest common subsequence, which takes time and memory in the product of their lengths.
pub const MAX_ALIGNED_STEPS: usize = 4_096;

/// At most this many divergences are listed; the rest are counted.
pub const MAX_LISTED_DIVERGENCES: usize = 1_000;

/// What one run did and cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunTotals {
    /// The session.
    pub session: String,
    /// Its steps (events).
    pub steps: u64,
    /// `model_call` entries.
    pub model_calls: u64,
    /// Input tokens over every model call.
    pub input_tokens: u64,
    /// Output tokens over every model call.
    pub output_tokens: u64,
    /// Cost in millionths of a unit, by ISO 4217 currency.
    pub cost_micros: BTreeMap<String, u64>,
    /// From the first event's time to the last's, in milliseconds.
    pub wall_time_ms: u64,
    /// Failure → fix → re-run loops: a check (or command) that failed and later passed, once
    /// per such turn.
    pub iteration_cycles: u64,
    /// Checks whose first result was a pass.
    pub first_try_passes: u64,
    /// Checks run (distinct names).
    pub checks: u64,
    /// Files the run's patchsets changed, sorted.
    pub files_changed: Vec<String>,
    /// The run's patchset fingerprint (see [`patchset_fingerprint`]), hex; `None` without a
    /// patchset.
    pub patchset_fingerprint: Option<String>,
}

/// A step where the runs differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// The step's position in the alignment, from 0.
    pub step: u64,
    /// The entry in run A (`None`: only run B has this step).
    pub a: Option<u64>,
    /// The entry in run B (`None`: only run A has this step).
    pub b: Option<u64>,
    /// The step's kind.
    pub kind: String,
    /// The step's identity: the command, tool, question, check…
    pub step_name: String,
    /// What differed, in words.
    pub what: String,
}

/// Two runs compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The first run (the original).
    pub a: RunTotals,
    /// The second run (the replay).
    pub b: RunTotals,
    /// Whether the steps were aligned by identity (`false`: by position, runs too long).
    pub aligned_by_identity: bool,
    /// Every divergence, in step order (at most [`MAX_LISTED_DIVERGENCES`]).
    pub divergences: Vec<Divergence>,
    /// Divergences not listed.
    pub divergences_unlisted: u64,
    /// Whether both runs produced patchsets and their fingerprints are equal.
    pub identical_patchsets: bool,
}

impl Comparison {
    /// The first divergence, if the runs differ.
    pub fn first_divergence(&self) -> Option<&Divergence> {
        self.divergences.first()
    }

    /// Whether the runs took the same steps with the same results.
    pub fn is_identical(&self) -> bool {
        self.divergences.is_empty() && self.divergences_unlisted == 0
    }

    /// The JSON form, versioned by its `schema` member.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The comparison for people.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let (a, b) = (&self.a, &self.b);
        let _ = writeln!(s, "# {} vs {}\n", a.session, b.session);
        match self.first_divergence() {
            None => {
                let _ = writeln!(s, "The runs are identical: same steps, same results.\n");
            }
            Some(d) => {
                let _ = writeln!(
                    s,
                    "First divergence at step {}: {} `{}`: {} ({}, {}).\n",
                    d.step,
                    d.kind,
                    d.step_name,
                    d.what,
                    entry(d.a, "A"),
                    entry(d.b, "B")
                );
            }
        }
        let _ = writeln!(s, "| | {} | {} |", a.session, b.session);
        let _ = writeln!(s, "|---|---|---|");
        // One row per total, each formatted the same way for both runs.
        let rows: [(&str, Column); 10] = [
            ("steps", |t| t.steps.to_string()),
            ("model calls", |t| t.model_calls.to_string()),
            ("input tokens", |t| t.input_tokens.to_string()),
            ("output tokens", |t| t.output_tokens.to_string()),
            ("cost", |t| cost(&t.cost_micros)),
            ("wall time", |t| duration(t.wall_time_ms)),
            ("iteration cycles", |t| t.iteration_cycles.to_string()),
            ("checks passing on the first try", |t| {
                format!("{} of {}", t.first_try_passes, t.checks)
            }),
            ("files changed", |t| files(&t.files_changed)),
            ("patchset", |t| fingerprint(&t.patchset_fingerprint)),
        ];
        for (name, value) in rows {
            let _ = writeln!(s, "| {name} | {} | {} |", value(a), value(b));
        }
        let _ = writeln!(
            s,
            "\nPatchsets: {}.",
            if self.identical_patchsets {
                "identical"
            } else {
                "different"
            }
        );
        if self.divergences.len() > 1 || self.divergences_unlisted > 0 {
            let _ = writeln!(s, "\n## Divergences\n");
            for d in &self.divergences {
                let _ = writeln!(
                    s,
                    "- step {}: {} `{}`: {} ({}, {})",
                    d.step,
                    d.kind,
                    d.step_name,
                    d.what,
                    entry(d.a, "A"),
                    entry(d.b, "B")
                );
            }
            if self.divergences_unlisted > 0 {
                let _ = writeln!(s, "- … and {} more", self.divergences_unlisted);
            }
        }
        s
    }
}

// How one total is shown.
type Column = fn(&RunTotals) -> String;

fn entry(seq: Option<u64>, run: &str) -> String {
    seq.map_or_else(|| format!("not in {run}"), |s| format!("{run}: entry {s}"))
}

fn cost(c: &BTreeMap<String, u64>) -> String {
    if c.is_empty() {
        return "—".into();
    }
    c.iter()
        .map(|(cur, micros)| format!("{}.{:06} {cur}", micros / 1_000_000, micros % 1_000_000))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else {
        format!("{} s", (ms + 500) / 1_000)
    }
}

fn files(f: &[String]) -> String {
    if f.is_empty() {
        "—".into()
    } else {
        f.join(", ")
    }
}

fn fingerprint(f: &Option<String>) -> String {
    f.as_deref()
        .map_or_else(|| "—".into(), |h| h[..16].to_owned())
}

/// Compares two sessions of a log.
pub fn compare_sessions(log: &Log, a: &SessionId, b: &SessionId) -> Result<Comparison, QueryError> {
    let ea = session_events(log, a)?;
    let eb = session_events(log, b)?;
    Ok(compare(log.suite(), (a, &ea), (b, &eb)))
}

/// Compares two runs, each a session id and its events in log order; `suite` hashes the
/// patchset fingerprints.
pub fn compare(
    suite: Suite,
    a: (&SessionId, &[SessionEvent]),
    b: (&SessionId, &[SessionEvent]),
) -> Comparison {
    let mut ta = totals(suite, a.0, a.1);
    let mut tb = totals(suite, b.0, b.1);
    // Approvals are the results of the gates they answer (SPEC §13.12), in either run: a
    // replay's gate names the original approval it reuses.
    let verdicts: BTreeMap<u64, String> =
        a.1.iter()
            .chain(b.1)
            .filter_map(|e| match &e.event {
                Some(Event::Approval(ap)) => Some((e.seq, ap.decision().as_str().to_owned())),
                _ => None,
            })
            .collect();
    let sa = steps(a.1, &verdicts);
    let sb = steps(b.1, &verdicts);
    ta.steps = sa.len() as u64;
    tb.steps = sb.len() as u64;
    let by_identity = sa.len() <= MAX_ALIGNED_STEPS && sb.len() <= MAX_ALIGNED_STEPS;
    let pairs = if by_identity {
        align(&sa, &sb)
    } else {
        (0..sa.len().max(sb.len()))
            .map(|i| {
                (
                    Some(i).filter(|&i| i < sa.len()),
                    Some(i).filter(|&i| i < sb.len()),
                )
            })
            .collect()
    };
    let mut divergences = Vec::new();
    let mut unlisted = 0u64;
    for (step, (i, j)) in pairs.into_iter().enumerate() {
        let what = match (i.map(|i| &sa[i]), j.map(|j| &sb[j])) {
            (Some(x), Some(y)) if x.identity != y.identity => Some(format!(
                "{} `{}` vs {} `{}`",
                x.kind, x.identity, y.kind, y.identity
            )),
            (Some(x), Some(y)) if x.result != y.result => {
                Some(format!("{}: {} vs {}", x.aspect, x.result, y.result))
            }
            (Some(_), Some(_)) => None,
            (Some(_), None) => Some("only in A".to_owned()),
            (None, Some(_)) => Some("only in B".to_owned()),
            (None, None) => None,
        };
        let Some(what) = what else { continue };
        if divergences.len() >= MAX_LISTED_DIVERGENCES {
            unlisted += 1;
            continue;
        }
        let s = i.map(|i| &sa[i]).or(j.map(|j| &sb[j]));
        divergences.push(Divergence {
            step: step as u64,
            a: i.map(|i| sa[i].seq),
            b: j.map(|j| sb[j].seq),
            kind: s.map(|s| s.kind.clone()).unwrap_or_default(),
            step_name: s.map(|s| s.identity.clone()).unwrap_or_default(),
            what,
        });
    }
    let identical_patchsets =
        ta.patchset_fingerprint.is_some() && ta.patchset_fingerprint == tb.patchset_fingerprint;
    Comparison {
        schema: SCHEMA,
        a: ta,
        b: tb,
        aligned_by_identity: by_identity,
        divergences,
        divergences_unlisted: unlisted,
        identical_patchsets,
    }
}

// A run's steps: every event except the approvals that answer one of its gates, whose verdict
// becomes that gate's result; a gate no approval of the run answers takes the verdict of an
// approval it links (a replay reusing the original's approval).
fn steps(events: &[SessionEvent], verdicts: &BTreeMap<u64, String>) -> Vec<Step> {
    let gates: std::collections::BTreeSet<u64> = events
        .iter()
        .filter(|e| matches!(e.event, Some(Event::GateRequested(_))))
        .map(|e| e.seq)
        .collect();
    let mut answered: BTreeMap<u64, String> = BTreeMap::new();
    let mut folded = std::collections::BTreeSet::new();
    for e in events {
        if let (Some(v), Some(gate)) = (
            verdicts.get(&e.seq),
            e.links.iter().find(|l| gates.contains(&l.seq)),
        ) {
            answered.entry(gate.seq).or_insert_with(|| v.clone());
            folded.insert(e.seq);
        }
    }
    events
        .iter()
        .filter(|e| !folded.contains(&e.seq))
        .map(|e| {
            let mut step = Step::of(e);
            if let Some(Event::GateRequested(g)) = &e.event {
                step.identity = g.gate.as_str().to_owned();
                step.aspect = "gate";
                step.result = answered
                    .get(&e.seq)
                    .or_else(|| e.links.iter().find_map(|l| verdicts.get(&l.seq)))
                    .cloned()
                    .unwrap_or_else(|| "no approval".to_owned());
            }
            step
        })
        .collect()
}

// One step: what it is (identity), what came of it (result) and what that result is about.
struct Step {
    seq: u64,
    kind: String,
    identity: String,
    aspect: &'static str,
    result: String,
}

fn hex(d: &Digest) -> String {
    d.to_hex()[..16].to_owned()
}

fn opt_hex(d: &Option<Digest>) -> String {
    d.as_ref().map_or_else(|| "none".into(), hex)
}

impl Step {
    fn of(e: &SessionEvent) -> Step {
        let kind = e.kind.as_str().to_owned();
        let (identity, aspect, result) = match &e.event {
            None => (String::new(), "payload", "not available".to_owned()),
            Some(ev) => match ev {
                Event::ModelCall(m) => (
                    m.purpose.clone().unwrap_or_default(),
                    "model output",
                    format!(
                        "{} → {}",
                        m.response_model.as_deref().unwrap_or(&m.request_model),
                        opt_hex(&m.response_digest)
                    ),
                ),
                Event::ToolCall(t) => (
                    t.name.clone(),
                    "tool result",
                    format!(
                        "{} {}",
                        t.outcome.map_or("", |o| match o {
                            crate::event::ToolOutcome::Ok => "ok",
                            crate::event::ToolOutcome::Error => "error",
                        }),
                        opt_hex(&t.result_digest)
                    ),
                ),
                Event::CommandRun(c) => (
                    c.command.clone(),
                    "command result",
                    match c.exit_code {
                        Some(code) => format!("exit {code}"),
                        None => "no exit code".into(),
                    },
                ),
                Event::Decision(d) => (d.question.clone(), "decision chosen", d.chosen.clone()),
                Event::FileRead(f) => (f.path.clone(), "file content", hex(&f.digest)),
                Event::ContextLoaded(c) => (c.source.clone(), "context content", hex(&c.digest)),
                Event::Verification(v) => (
                    v.check.clone(),
                    "check outcome",
                    v.outcome.as_str().to_owned(),
                ),
                Event::Artifact(a) => (
                    format!("{} {}", a.artifact_type, a.paths.join(",")),
                    "artifact digest",
                    hex(&a.digest),
                ),
                Event::FailureSeen(f) => (String::new(), "failure", f.error.clone()),
                Event::Assumption(a) => (a.statement.clone(), "assumption", String::new()),
                Event::Handoff(h) => (String::new(), "handoff status", h.status.as_str().into()),
                Event::SessionEnded(s) => {
                    (String::new(), "session status", s.status.as_str().into())
                }
                _ => (String::new(), "content", String::new()),
            },
        };
        Step {
            seq: e.seq,
            kind,
            identity: identity.trim().to_owned(),
            aspect,
            result,
        }
    }

    fn key(&self) -> (&str, &str) {
        (&self.kind, &self.identity)
    }
}

// Pairs of step indexes: matched by the longest common subsequence of (kind, identity), with
// the steps between matches paired position by position where both runs have some.
fn align(a: &[Step], b: &[Step]) -> Vec<(Option<usize>, Option<usize>)> {
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: the LCS length of a[i..] and b[j..], in one flat table of (n+1)(m+1) u16s
    // (both lengths are at most MAX_ALIGNED_STEPS).
    let w = m + 1;
    let mut lcs = vec![0u16; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * w + j] = if a[i].key() == b[j].key() {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    let flush = |out: &mut Vec<_>, only_a: &mut Vec<usize>, only_b: &mut Vec<usize>| {
        let k = only_a.len().max(only_b.len());
        for t in 0..k {
            out.push((only_a.get(t).copied(), only_b.get(t).copied()));
        }
        only_a.clear();
        only_b.clear();
    };
    while i < n && j < m {
        if a[i].key() == b[j].key() {
            flush(&mut out, &mut only_a, &mut only_b);
            out.push((Some(i), Some(j)));
            i += 1;
            j += 1;
        } else if lcs[(i + 1) * w + j] >= lcs[i * w + j + 1] {
            only_a.push(i);
            i += 1;
        } else {
            only_b.push(j);
            j += 1;
        }
    }
    only_a.extend(i..n);
    only_b.extend(j..m);
    flush(&mut out, &mut only_a, &mut only_b);
    out
}

/// A run's patchset fingerprint: the hash, with the log's suite, of the digests of its
/// `patchset` artifacts in log order, each 32 bytes, after the text `sealtrail patchset v1`
/// and a zero byte. Two runs that wrote the same patches in the same order have the same
/// fingerprint.
pub fn patchset_fingerprint(suite: Suite, digests: &[Digest]) -> Option<Digest> {
    if digests.is_empty() {
        return None;
    }
    let mut bytes = b"sealtrail patchset v1\0".to_vec();
    for d in digests {
        bytes.extend_from_slice(d.as_bytes());
    }
    Some(crate::event::content_digest(suite, &bytes))
}

fn totals(suite: Suite, session: &SessionId, events: &[SessionEvent]) -> RunTotals {
    let mut t = RunTotals {
        session: session.as_str().to_owned(),
        steps: events.len() as u64,
        model_calls: 0,
        input_tokens: 0,
        output_tokens: 0,
        cost_micros: BTreeMap::new(),
        wall_time_ms: 0,
        iteration_cycles: 0,
        first_try_passes: 0,
        checks: 0,
        files_changed: Vec::new(),
        patchset_fingerprint: None,
    };
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        t.wall_time_ms = last.time.0.saturating_sub(first.time.0) / 1_000_000;
    }
    // Per check (verification by name, else command by text): the first result, and whether
    // the last one seen failed.
    let mut checks: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    let mut outcome = |name: String, passed: bool, t: &mut RunTotals| match checks.get_mut(&name) {
        None => {
            checks.insert(name, (passed, !passed));
        }
        Some((_, failing)) => {
            if *failing && passed {
                t.iteration_cycles += 1;
            }
            *failing = !passed;
        }
    };
    let verified: std::collections::BTreeSet<String> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Verification(v)) => v.command.clone(),
            _ => None,
        })
        .collect();
    let mut patches = Vec::new();
    let mut files = std::collections::BTreeSet::new();
    for e in events {
        match &e.event {
            Some(Event::ModelCall(m)) => {
                t.model_calls += 1;
                t.input_tokens = t.input_tokens.saturating_add(m.input_tokens);
                t.output_tokens = t.output_tokens.saturating_add(m.output_tokens);
                if let Some(c) = &m.cost {
                    let sum = t.cost_micros.entry(c.currency.clone()).or_default();
                    *sum = sum.saturating_add(c.micros);
                }
            }
            Some(Event::Verification(v)) if v.outcome != Outcome::NotRun => {
                outcome(
                    format!("check {}", v.check),
                    v.outcome == Outcome::Pass,
                    &mut t,
                );
            }
            // A command a verification already reports is counted there, not twice.
            Some(Event::CommandRun(c)) if !verified.contains(&c.command) => {
                if let Some(code) = c.exit_code {
                    outcome(format!("command {}", c.command), code == 0, &mut t);
                }
            }
            Some(Event::Artifact(a)) if a.artifact_type == "patchset" => {
                patches.push(a.digest);
                files.extend(a.paths.iter().cloned());
            }
            _ => {}
        }
    }
    t.checks = checks.len() as u64;
    t.first_try_passes = checks.values().filter(|(first, _)| *first).count() as u64;
    t.files_changed = files.into_iter().collect();
    t.patchset_fingerprint = patchset_fingerprint(suite, &patches).map(|d| d.to_hex());
    t
}
