//! A session as a timeline: its declaration and checks, then every entry in order, each with its
//! anchor (`seq-N`), signer, links and what later entries said about it.

use std::fmt::Write as _;

use super::escape::Esc;
use super::{Held, Item, time};
use crate::entry::{Kind, SessionId};
use crate::event::{Event, Outcome, Requirement, ToolOutcome};
use crate::query::{self, SessionEvent};
use crate::source::PayloadState;
use crate::trace::duration;

/// The most characters of a `custom` event's body (as JSON) drawn on the page.
const MAX_BODY_CHARS: usize = 4000;

pub(super) fn session(w: &mut String, h: &Held, index: usize, id: &SessionId, items: &[Item]) {
    let _ = write!(
        w,
        "<section class=\"session\" id=\"session-{index}\"><h2>Session {}</h2>",
        Esc(id.as_str())
    );
    let events: Vec<SessionEvent> = items.iter().map(Item::session_event).collect();
    summary(w, h, items, &events);
    checks(w, h, &events);
    w.push_str("<h3>Timeline</h3><ol class=\"timeline\">");
    for item in items {
        entry(w, h, item);
    }
    w.push_str("</ol></section>\n");
}

fn summary(w: &mut String, h: &Held, items: &[Item], events: &[SessionEvent]) {
    w.push_str("<dl class=\"facts\">");
    match query::session_start(events) {
        Some(s) => {
            let _ = write!(
                w,
                "<dt>Goal</dt><dd class=\"text goal\">{}</dd>",
                Esc(&s.objective)
            );
            if !s.scope.is_empty() {
                let _ = write!(w, "<dt>Scope</dt><dd>{}</dd>", codes(&s.scope));
            }
            if !s.exclusions.is_empty() {
                let _ = write!(w, "<dt>Excluded</dt><dd>{}</dd>", codes(&s.exclusions));
            }
            if !s.required_checks.is_empty() {
                let _ = write!(
                    w,
                    "<dt>Required checks</dt><dd>{}</dd>",
                    codes(&s.required_checks)
                );
            }
            if let Some(b) = &s.base_commit {
                let _ = write!(w, "<dt>Base commit</dt><dd><code>{}</code></dd>", Esc(b));
            }
            let mut agent = Esc(&s.agent_name).to_string();
            if let Some(v) = &s.agent_version {
                let _ = write!(agent, " {}", Esc(v));
            }
            let _ = write!(w, "<dt>Agent</dt><dd>{agent}</dd>");
        }
        None => w.push_str(
            "<dt>Goal</dt><dd class=\"absent\">no readable session_started entry in this \
             record</dd>",
        ),
    }
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        let _ = write!(
            w,
            "<dt>From</dt><dd>{} ({})</dd><dt>To</dt><dd>{} ({})</dd>",
            time(first.entry.header().time),
            h.entry_ref(first.seq()),
            time(last.entry.header().time),
            h.entry_ref(last.seq())
        );
    }
    let _ = write!(w, "<dt>Entries</dt><dd>{}</dd>", items.len());
    let (mut calls, mut input, mut output) = (0u64, 0u64, 0u64);
    for e in events {
        if let Some(Event::ModelCall(m)) = &e.event {
            calls += 1;
            input = input.saturating_add(m.input_tokens);
            output = output.saturating_add(m.output_tokens);
        }
    }
    if calls > 0 {
        let _ = write!(
            w,
            "<dt>Model calls</dt><dd>{calls}: {input} input tokens, {output} output tokens</dd>"
        );
    }
    let approvals = events
        .iter()
        .filter(|e| matches!(e.event, Some(Event::Approval(_))))
        .count();
    let _ = write!(w, "<dt>Approvals</dt><dd>{approvals}</dd>");
    let handoff = events.iter().rev().find_map(|e| match &e.event {
        Some(Event::Handoff(x)) => Some((e.seq, x)),
        _ => None,
    });
    if let Some((seq, x)) = handoff {
        let _ = write!(
            w,
            "<dt>Handoff</dt><dd>{} ({})</dd>",
            Esc(x.status.as_str()),
            h.entry_ref(seq)
        );
    }
    w.push_str("</dl>");
}

fn checks(w: &mut String, h: &Held, events: &[SessionEvent]) {
    let v = query::verification_report(events);
    let _ = write!(
        w,
        "<h3>Verification</h3><p>Status: <strong class=\"{}\">{}</strong>",
        match v.status {
            query::VerificationStatus::Complete => "pass",
            _ => "fail",
        },
        Esc(v.status.as_str())
    );
    if !v.failed.is_empty() {
        let _ = write!(w, "; failed: {}", codes(&v.failed));
    }
    if !v.missing.is_empty() {
        let _ = write!(w, "; missing: {}", codes(&v.missing));
    }
    w.push_str("</p>");
    if !v.unread.is_empty() {
        let _ = write!(
            w,
            "<p class=\"note\">Computed without the results of {}, whose payloads this record \
             does not hold.</p>",
            h.entry_refs(v.unread.iter().map(|(s, _)| *s))
        );
    }
    if v.checks.is_empty() {
        return;
    }
    w.push_str(
        "<table><thead><tr><th>Check</th><th>Required</th><th>Latest result</th>\
         <th>Earlier</th></tr></thead><tbody>",
    );
    for c in &v.checks {
        let latest = match &c.latest {
            Some((seq, r)) => {
                let mut s = format!(
                    "<span class=\"{}\">{}</span>",
                    outcome_class(r.outcome),
                    Esc(r.outcome.as_str())
                );
                if let Some(reason) = &r.reason {
                    let _ = write!(s, ": {}", Esc(reason));
                }
                let _ = write!(s, " ({})", h.entry_ref(*seq));
                s
            }
            None => "<span class=\"fail\">never reported</span>".to_owned(),
        };
        let earlier = c
            .earlier
            .iter()
            .map(|(seq, o)| format!("{} ({})", Esc(o.as_str()), h.entry_ref(*seq)))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            w,
            "<tr><td>{}</td><td>{}</td><td>{latest}</td><td>{earlier}</td></tr>",
            Esc(&c.check),
            if c.requirement == Requirement::Required {
                "required"
            } else {
                "optional"
            }
        );
    }
    w.push_str("</tbody></table>");
}

fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "failed",
        _ => "fail",
    }
}

fn codes(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("<code>{}</code>", Esc(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

// One labelled line of an entry.
fn field(w: &mut String, label: &str, value: &str) {
    let _ = write!(w, "<div><b>{label}:</b> {value}</div>");
}

fn text_field(w: &mut String, label: &str, value: &str) {
    let _ = write!(
        w,
        "<div><b>{label}:</b> <span class=\"text\">{}</span></div>",
        Esc(value)
    );
}

fn opt_text(w: &mut String, label: &str, value: Option<&String>) {
    if let Some(v) = value {
        text_field(w, label, v);
    }
}

/// One entry of the record, with its anchor.
pub(super) fn entry(w: &mut String, h: &Held, item: &Item) {
    let head = item.entry.header();
    let seq = head.seq;
    let kind = head.kind.as_str();
    let _ = write!(
        w,
        "<li class=\"entry k-{}\" id=\"seq-{seq}\"><div class=\"head\">entry {seq} · {} · \
         <span class=\"kind\">{}</span> · signed by {}</div>",
        Esc(kind),
        time(head.time),
        Esc(kind),
        h.signer(&head.signer)
    );
    match (&item.state, &item.event) {
        (PayloadState::Withheld(reason), _) => {
            let _ = write!(
                w,
                "<div class=\"absent\">Payload withheld by the exporter: {}.</div>",
                Esc(reason.describe())
            );
        }
        (PayloadState::Erased, _) => erased(w, h, seq),
        (_, Err(problem)) => {
            let _ = write!(
                w,
                "<div class=\"absent\">The payload does not read as {}: {}</div>",
                Esc(kind),
                Esc(problem)
            );
        }
        (_, Ok(Some(event))) => body(w, h, event),
        (_, Ok(None)) => control(w, h, item),
    }
    if !head.links.is_empty() {
        let label = match item.event() {
            Some(Event::Decision(_)) => "Informed by",
            _ => "Links to",
        };
        field(w, label, &h.entry_refs(head.links.iter().map(|l| l.seq)));
    }
    back_references(w, h, seq);
    w.push_str("</li>");
}

fn erased(w: &mut String, h: &Held, seq: u64) {
    if let Some(p) = h.purged_by.get(&seq) {
        let _ = write!(
            w,
            "<div class=\"absent\">Payload purged at end of retention by {} on {} ({}): <span \
             class=\"text\">{}</span></div>",
            Esc(&p.printed_name),
            Esc(&p.time),
            h.entry_ref(p.seq),
            Esc(&p.reason)
        );
        return;
    }
    match h.erased_by.get(&seq).and_then(|i| h.erasures.get(*i)) {
        Some(e) => {
            let _ = write!(
                w,
                "<div class=\"absent\">Payload erased from the log by {} on {} ({}): <span \
                 class=\"text\">{}</span></div>",
                h.signer(&e.signer),
                time(e.time),
                h.entry_ref(e.seq),
                Esc(e.reason.as_deref().unwrap_or("(reason unreadable)"))
            );
        }
        None => w.push_str(
            "<div class=\"absent\">Payload erased from the log; the erasure entry that says why \
             is not in this record.</div>",
        ),
    }
}

// What later entries said about this one.
fn back_references(w: &mut String, h: &Held, seq: u64) {
    if let Some(approvals) = h.approved_in.get(&seq) {
        let by: Vec<String> = approvals
            .iter()
            .filter_map(|a| h.approvals.iter().find(|x| x.seq == *a))
            .map(|a| {
                format!(
                    "{} by <span class=\"printed-name\">{}</span> ({}) in {}",
                    Esc(a.approval.decision().past()),
                    Esc(&a.printed_name),
                    Esc(a.approval.meaning().as_str()),
                    h.entry_ref(a.seq)
                )
            })
            .collect();
        field(w, "Signed off", &by.join("; "));
    }
    if let Some(c) = h.corrected_by.get(&seq) {
        field(w, "Corrected by", &h.entry_refs(c.iter().copied()));
    }
    if let Some(s) = h.superseded_by.get(&seq) {
        let by: Vec<String> = s
            .iter()
            .map(|(sup, rep)| format!("{} (replacement: {})", h.entry_ref(*sup), h.entry_ref(*rep)))
            .collect();
        field(w, "Superseded by", &by.join("; "));
    }
}

// Entries outside the vocabulary: erasures (key changes have their own table).
fn control(w: &mut String, h: &Held, item: &Item) {
    let head = item.entry.header();
    if head.kind.as_str() == Kind::ERASURE {
        if let Some(e) = h.erasures.iter().find(|e| e.seq == head.seq) {
            field(
                w,
                "Erases the payload of",
                &e.erased
                    .map_or_else(|| "(no entry named)".to_owned(), |s| h.entry_ref(s)),
            );
            text_field(w, "Reason", e.reason.as_deref().unwrap_or("(unreadable)"));
        }
        return;
    }
    w.push_str("<div class=\"absent\">An entry of a kind outside the session vocabulary.</div>");
}

fn body(w: &mut String, h: &Held, event: &Event) {
    match event {
        Event::SessionStarted(s) => {
            text_field(w, "Goal", &s.objective);
            if !s.required_checks.is_empty() {
                field(w, "Required checks", &codes(&s.required_checks));
            }
        }
        Event::ContextLoaded(c) => {
            text_field(w, "Context", &c.source);
            text_field(w, "Why", &c.reason);
            field(w, "Digest", &format!("<code>{}</code>", c.digest));
        }
        Event::FileRead(f) => {
            field(w, "File read", &format!("<code>{}</code>", Esc(&f.path)));
            opt_text(w, "Why", f.reason.as_ref());
            field(w, "Digest", &format!("<code>{}</code>", f.digest));
        }
        Event::ModelCall(m) => {
            let model = m.response_model.as_ref().unwrap_or(&m.request_model);
            field(
                w,
                "Model call",
                &format!("{} <code>{}</code>", Esc(&m.provider), Esc(model)),
            );
            let mut tokens = format!("{} input, {} output", m.input_tokens, m.output_tokens);
            if let Some(n) = m.cache_read_input_tokens {
                let _ = write!(tokens, ", {n} cache read");
            }
            if let Some(n) = m.cache_creation_input_tokens {
                let _ = write!(tokens, ", {n} cache creation");
            }
            if let Some(n) = m.reasoning_output_tokens {
                let _ = write!(tokens, ", {n} reasoning");
            }
            field(w, "Tokens", &tokens);
            opt_text(w, "Purpose", m.purpose.as_ref());
            if let Some(ms) = m.duration_ms {
                field(w, "Duration", &duration(ms));
            }
            if let Some(c) = &m.cost {
                field(
                    w,
                    "Cost",
                    &format!("{} {}", c.micros as f64 / 1e6, Esc(&c.currency)),
                );
            }
        }
        Event::ToolCall(t) => {
            field(
                w,
                "Tool call",
                &format!("<code>{}</code> ({})", Esc(&t.name), Esc(&t.call_id)),
            );
            let outcome = match t.outcome {
                Some(ToolOutcome::Ok) => "<span class=\"pass\">ok</span>",
                Some(ToolOutcome::Error) => "<span class=\"failed\">error</span>",
                _ => "not reported",
            };
            field(w, "Result", outcome);
            if let Some(ms) = t.duration_ms {
                field(w, "Duration", &duration(ms));
            }
            if !t.paths.is_empty() {
                field(w, "Paths", &codes(&t.paths));
            }
        }
        Event::CommandRun(c) => {
            field(w, "Command", &format!("<code>{}</code>", Esc(&c.command)));
            let exit = match c.exit_code {
                Some(0) => "<span class=\"pass\">exit 0</span>".to_owned(),
                Some(x) => format!("<span class=\"failed\">exit {x}</span>"),
                None => "no exit code".to_owned(),
            };
            field(w, "Result", &format!("{exit}, {}", duration(c.duration_ms)));
            if let Some(cwd) = &c.cwd {
                field(w, "Directory", &format!("<code>{}</code>", Esc(cwd)));
            }
        }
        Event::FailureSeen(f) => {
            text_field(w, "Failure", &f.error);
            if let Some(c) = &f.command {
                field(w, "Command", &format!("<code>{}</code>", Esc(c)));
            }
            opt_text(w, "Suspected cause", f.suspected_cause.as_ref());
        }
        Event::Decision(d) => {
            let _ = write!(
                w,
                "<div class=\"decision\"><div><b>Decision:</b> <span class=\"text question\">{}\
                 </span></div><div><b>Chose:</b> <span class=\"text chosen\">{}</span></div>",
                Esc(&d.question),
                Esc(&d.chosen)
            );
            if !d.rejected.is_empty() {
                w.push_str("<div><b>Rejected:</b><ul>");
                for r in &d.rejected {
                    let _ = write!(
                        w,
                        "<li><span class=\"text\">{}</span> — <span class=\"text\">{}</span></li>",
                        Esc(&r.option),
                        Esc(&r.reason)
                    );
                }
                w.push_str("</ul></div>");
            }
            text_field(w, "Rationale", &d.rationale);
            w.push_str("</div>");
        }
        Event::Assumption(a) => {
            text_field(w, "Assumption", &a.statement);
            opt_text(w, "Basis", a.basis.as_ref());
        }
        Event::Correction(c) => {
            field(w, "Corrects", &h.entry_ref(c.corrects.seq));
            text_field(w, "Redirected", &c.redirected);
            opt_text(w, "Instruction", c.instruction.as_ref());
        }
        Event::Supersession(s) => {
            field(w, "Supersedes", &h.entry_ref(s.supersedes.seq));
            field(w, "Replacement", &h.entry_ref(s.replacement.seq));
            text_field(w, "Reason", &s.reason);
        }
        Event::Artifact(a) => {
            let mut what = Esc(&a.artifact_type).to_string();
            if let Some(n) = &a.name {
                let _ = write!(what, " {}", Esc(n));
            }
            field(w, "Artifact", &what);
            field(
                w,
                "Digest",
                &format!("<code>{}</code> ({} bytes)", a.digest, a.size),
            );
            if !a.paths.is_empty() {
                field(w, "Files", &codes(&a.paths));
            }
            opt_text(w, "Location", a.uri.as_ref());
        }
        Event::Verification(v) => {
            let mut result = format!(
                "<code>{}</code>: <span class=\"{}\">{}</span>",
                Esc(&v.check),
                outcome_class(v.outcome),
                Esc(v.outcome.as_str())
            );
            match (v.passed, v.failed) {
                (Some(p), Some(f)) => {
                    let _ = write!(result, ", {p} passed, {f} failed");
                }
                (Some(p), None) => {
                    let _ = write!(result, ", {p} passed");
                }
                (None, Some(f)) => {
                    let _ = write!(result, ", {f} failed");
                }
                (None, None) => {}
            }
            if let Some(ms) = v.duration_ms {
                let _ = write!(result, ", {}", duration(ms));
            }
            let _ = write!(result, " ({})", Esc(v.requirement.as_str()));
            field(w, "Check", &result);
            opt_text(w, "Reason", v.reason.as_ref());
            if let Some(c) = &v.command {
                field(w, "Command", &format!("<code>{}</code>", Esc(c)));
            }
        }
        Event::GateRequested(g) => {
            field(w, "Gate requested", &Esc(g.gate.as_str()).to_string());
            opt_text(w, "Summary", g.summary.as_ref());
            let mut subjects: Vec<String> = g.entries.iter().map(|l| h.entry_ref(l.seq)).collect();
            subjects.extend(g.artifacts.iter().map(|d| h.digest_ref(d)));
            if !subjects.is_empty() {
                field(w, "For", &subjects.join(", "));
            }
        }
        Event::Approval(a) => {
            field(
                w,
                "Approval",
                &format!(
                    "{} {} with the meaning <b>{}</b>, signed on {}",
                    Esc(a.gate().as_str()),
                    Esc(a.decision().past()),
                    Esc(a.meaning().as_str()),
                    time(a.signed_at())
                ),
            );
            let mut subjects: Vec<String> =
                a.entries().iter().map(|l| h.entry_ref(l.seq)).collect();
            subjects.extend(
                a.artifacts()
                    .iter()
                    .map(|d| format!("artifact {}", h.digest_ref(d))),
            );
            field(w, "Of", &subjects.join(", "));
            if let Some(c) = a.comment() {
                text_field(w, "Comment", c);
            }
        }
        Event::Handoff(x) => {
            field(w, "Handoff", &Esc(x.status.as_str()).to_string());
            opt_text(w, "Summary", x.summary.as_ref());
            if !x.blockers.is_empty() {
                text_field(w, "Blockers", &x.blockers.join("; "));
            }
            if !x.open_risks.is_empty() {
                text_field(w, "Open risks", &x.open_risks.join("; "));
            }
            opt_text(w, "Next", x.next_action.as_ref());
        }
        Event::SessionEnded(s) => {
            field(w, "Session ended", &Esc(s.status.as_str()).to_string());
            opt_text(w, "Summary", s.summary.as_ref());
        }
        Event::Gap(g) => {
            text_field(
                w,
                "Not recorded",
                &match &g.event {
                    Some(e) => format!("{e}: {}", g.reason),
                    None => g.reason.clone(),
                },
            );
        }
        // Custom events, reviews, merges and incidents: their fields as JSON.
        other => as_json(w, other),
    }
}

fn as_json(w: &mut String, event: &Event) {
    let json = crate::event::json::event_to_json(event)
        .ok()
        .and_then(|j| serde_json::to_string_pretty(&j).ok())
        .unwrap_or_else(|| "(cannot be shown)".to_owned());
    let shown: String = json.chars().take(MAX_BODY_CHARS).collect();
    let _ = write!(w, "<pre>{}", Esc(&shown));
    let total = json.chars().count();
    if total > MAX_BODY_CHARS {
        let _ = write!(w, "\n… {} more characters", total - MAX_BODY_CHARS);
    }
    w.push_str("</pre>");
}
