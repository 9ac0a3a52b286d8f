//! `show`, `trace` and `why` over any source of verified entries: the local log (`sealtrail`) or
//! a bundle that verified (`verify-bundle`, which includes this file). One rendering, so an
//! auditor reading a bundle sees what the log's owner sees, and is told what the bundle cannot
//! answer because payloads were withheld or erased.

use std::collections::HashMap;

use anyhow::Result;
use sealtrail::event::Event;
use sealtrail::log::StoredEntry;
use sealtrail::query::{CausalNode, Explanation, QueryError, explain};
use sealtrail::trace::{DecisionTrace, TraceOptions};
use sealtrail::{EntrySource, KeyId, Kind, PayloadState, SessionId};
use serde_json::{Value as Json, json};

use crate::render::{entry_json, entry_line, entry_summary, signer_name};

/// Which entries `show` lists.
#[derive(Debug, Clone, Default)]
pub struct ShowFilter {
    /// Only this session's.
    pub session: Option<SessionId>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// From this position.
    pub from: u64,
    /// Up to and including this position.
    pub to: Option<u64>,
}

/// A payload the source does not hold, so what it says cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    /// The entry.
    pub seq: u64,
    /// Its kind (from the signed header).
    pub kind: String,
    /// Erased or withheld.
    pub state: PayloadState,
}

impl Unanswered {
    fn of(source: &(impl EntrySource + ?Sized), e: &StoredEntry) -> Option<Unanswered> {
        let state = source.payload_state(e);
        (!state.is_present()).then(|| Unanswered {
            seq: e.seq(),
            kind: e.header().kind.as_str().to_owned(),
            state,
        })
    }

    /// "entry 12: payload withheld by the exporter (kind model_call)".
    pub fn line(&self) -> String {
        // Whether the exporter withheld the kind or this entry is in the JSON form.
        let why = match self.state {
            PayloadState::Withheld(_) => "payload withheld by the exporter",
            _ => "payload erased from the log",
        };
        format!("entry {}: {why} (kind {})", self.seq, self.kind)
    }

    /// `{seq, kind, payload: "withheld" | "erased", reason}`.
    pub fn json(&self) -> Json {
        let (payload, reason) = match self.state {
            PayloadState::Withheld(r) => ("withheld", r.describe()),
            _ => (
                "erased",
                "erased from the log; an erasure entry records why",
            ),
        };
        json!({"seq": self.seq, "kind": self.kind, "payload": payload, "reason": reason})
    }
}

/// Lists entries, one line (or one JSON object) each, through `out`. Returns how many were
/// shown, and the payloads among them that could not be shown.
pub fn show(
    source: &(impl EntrySource + ?Sized),
    filter: &ShowFilter,
    json: bool,
    out: &mut dyn FnMut(String) -> Result<()>,
) -> Result<(u64, Vec<Unanswered>)> {
    let names = source.printed_names();
    let end = filter
        .to
        .map_or(u64::MAX, |t| t.saturating_add(1))
        .min(source.len());
    let mut shown = 0u64;
    let mut unanswered = Vec::new();
    let mut show_one = |e: &StoredEntry| -> Result<()> {
        if filter.kind.as_ref().is_some_and(|k| e.header().kind != *k) {
            return Ok(());
        }
        shown += 1;
        let state = source.payload_state(e);
        unanswered.extend(Unanswered::of(source, e));
        if json {
            out(json_line(&entry_json(e, &names, state)))
        } else {
            out(entry_line(e, &names, state))
        }
    };
    match &filter.session {
        Some(s) => {
            for e in source.session(s).map_err(QueryError::Read)? {
                if (filter.from..end).contains(&e.seq()) {
                    show_one(&e)?;
                }
            }
        }
        None => {
            for e in source.range(filter.from..end) {
                show_one(&e.map_err(QueryError::Read)?)?;
            }
        }
    }
    Ok((shown, unanswered))
}

/// How `trace` renders (the `--format` of both tools' `trace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceOutput {
    /// The decision trace for a commit message, ending in git trailers.
    Markdown,
    /// The run record (JSON).
    Json,
}

/// A session's decision trace or run record, and the session's payloads it could not read.
pub fn trace(
    source: &(impl EntrySource + ?Sized),
    session: &SessionId,
    output: TraceOutput,
    options: &TraceOptions,
) -> Result<(String, Vec<Unanswered>), QueryError> {
    let trace = DecisionTrace::from_session(source, session)?;
    let text = match output {
        TraceOutput::Markdown => trace.to_markdown(options),
        TraceOutput::Json => {
            let mut s = trace.run_record().to_json_pretty();
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        }
    };
    let unanswered = trace
        .events()
        .iter()
        .filter(|e| !e.payload.is_present())
        .map(|e| Unanswered {
            seq: e.seq,
            kind: e.kind.as_str().to_owned(),
            state: e.payload,
        })
        .collect();
    Ok((text, unanswered))
}

/// "Why was this chosen, and what depended on it?", read and ready to render.
pub struct Why {
    stored: StoredEntry,
    explanation: Explanation,
    names: HashMap<KeyId, String>,
    // Summaries and payload states of the entries named, read once.
    nodes: HashMap<u64, (String, PayloadState)>,
    /// The payloads among the entry, its inputs and what depended on it that could not be read.
    pub unanswered: Vec<Unanswered>,
}

/// Explains the entry at `seq`.
pub fn why(source: &(impl EntrySource + ?Sized), seq: u64) -> Result<Why, QueryError> {
    let explanation = explain(source, seq)?;
    let stored = source.read(seq)?.ok_or(QueryError::NoSuchEntry(seq))?;
    let mut unanswered: Vec<Unanswered> = Unanswered::of(source, &stored).into_iter().collect();
    let mut nodes = HashMap::new();
    for n in explanation.inputs.iter().chain(&explanation.downstream) {
        if let Some(e) = source.read(n.seq)? {
            let state = source.payload_state(&e);
            unanswered.extend(Unanswered::of(source, &e));
            nodes.insert(n.seq, (entry_summary(&e, state), state));
        }
    }
    unanswered.sort_by_key(|u| u.seq);
    unanswered.dedup();
    Ok(Why {
        stored,
        explanation,
        names: source.printed_names(),
        nodes,
        unanswered,
    })
}

impl Why {
    fn summary(&self, seq: u64) -> String {
        self.nodes
            .get(&seq)
            .map(|(s, _)| s.clone())
            .unwrap_or_default()
    }

    fn node_json(&self, n: &CausalNode) -> Json {
        json!({"seq": n.seq, "kind": n.kind.as_str(), "depth": n.depth, "via": n.via, "summary": self.summary(n.seq)})
    }

    fn node_line(&self, n: &CausalNode, start: u64) -> String {
        let how = if n.via == start {
            "direct link".to_owned()
        } else {
            format!("via entry {}", n.via)
        };
        format!(
            "  entry {:<5} {:<15} ({how}) {}",
            n.seq,
            n.kind.as_str(),
            self.summary(n.seq)
        )
    }

    /// Linked entries the source does not hold (a bundle's selection left them out).
    pub fn not_held(&self) -> &[u64] {
        &self.explanation.not_held
    }

    /// One JSON object: the entry, what informed it, what depended on it.
    pub fn to_json(&self) -> Json {
        let x = &self.explanation;
        json!({
            "entry": entry_json(&self.stored, &self.names, self.explanation.entry.payload),
            "inputs": x.inputs.iter().map(|n| self.node_json(n)).collect::<Vec<_>>(),
            "downstream": x.downstream.iter().map(|n| self.node_json(n)).collect::<Vec<_>>(),
        })
    }

    /// The explanation for a terminal, line by line.
    pub fn lines(&self) -> Vec<String> {
        let seq = self.stored.seq();
        let h = self.stored.header();
        let x = &self.explanation;
        let session = if h.session.is_none() {
            String::new()
        } else {
            format!(" in session {}", h.session)
        };
        let mut out = vec![
            format!(
                "entry {seq}: {}, signed by {} at {}{session}",
                h.kind,
                signer_name(&self.names, &h.signer),
                h.time
            ),
            format!("  {}", entry_summary(&self.stored, x.entry.payload)),
        ];
        if let Some(ev) = &x.entry.event {
            out.extend(details(ev));
        }
        out.push(String::new());
        if x.inputs.is_empty() && x.not_held.is_empty() {
            out.push("what informed it: nothing (it links no earlier entry)".into());
        } else {
            out.push("what informed it (its causal links, followed back; nearest first):".into());
            out.extend(x.inputs.iter().map(|n| self.node_line(n, seq)));
        }
        out.push(String::new());
        if x.downstream.is_empty() {
            out.push("what depended on it: nothing links to it".into());
        } else {
            out.push(
                "what depended on it (entries linking to it, followed forward; in log order):"
                    .into(),
            );
            out.extend(x.downstream.iter().map(|n| self.node_line(n, seq)));
        }
        out
    }
}

fn details(e: &Event) -> Vec<String> {
    match e {
        Event::Decision(d) => {
            let mut out = vec![format!("  chose: {}", d.chosen)];
            for r in &d.rejected {
                out.push(format!("  rejected: {} — {}", r.option, r.reason));
            }
            out.push(format!("  because: {}", d.rationale));
            out
        }
        _ => Vec::new(),
    }
}

/// A JSON value on one line.
pub fn json_line(v: &Json) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
