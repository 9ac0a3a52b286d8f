//! How entries read on a terminal and in JSON.

use std::collections::HashMap;

use sealtrail::event::json::payload_to_json;
use sealtrail::event::{Event, EventDecodeError};
use sealtrail::log::StoredEntry;
use sealtrail::registry::KeyChange;
use sealtrail::trace::duration;
use sealtrail::{KeyId, Kind, PayloadState};
use serde_json::{Value as Json, json};

const MAX_SUMMARY: usize = 110;

fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > MAX_SUMMARY {
        let mut cut: String = flat.chars().take(MAX_SUMMARY - 1).collect();
        cut.push('…');
        cut
    } else {
        flat
    }
}

fn seqs(links: &[sealtrail::Link]) -> String {
    links
        .iter()
        .map(|l| l.seq.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

// "entry 4 and 1 artifact", "entries 4, 7".
fn subjects(links: &[sealtrail::Link], artifacts: &[sealtrail::Digest]) -> String {
    let mut parts = Vec::new();
    if !links.is_empty() {
        parts.push(entries(links));
    }
    match artifacts.len() {
        0 => {}
        1 => parts.push(format!("artifact {}", artifacts[0].short())),
        n => parts.push(format!("{n} artifacts")),
    }
    parts.join(" and ")
}

// "entry 4" or "entries 4, 7".
fn entries(links: &[sealtrail::Link]) -> String {
    match links {
        [one] => format!("entry {}", one.seq),
        _ => format!("entries {}", seqs(links)),
    }
}

/// A one-line account of an event.
pub fn event_summary(e: &Event) -> String {
    let s = match e {
        Event::SessionStarted(s) => format!("goal: {}", s.objective),
        Event::ContextLoaded(c) => format!("{}: {}", c.source, c.reason),
        Event::FileRead(f) => f.path.clone(),
        Event::ModelCall(m) => {
            let mut s = format!(
                "{} {}: {} in, {} out tokens",
                m.provider, m.request_model, m.input_tokens, m.output_tokens
            );
            if let Some(p) = &m.purpose {
                s.push_str(&format!(" ({p})"));
            }
            s
        }
        Event::ToolCall(t) => {
            let outcome = match t.outcome {
                Some(sealtrail::event::ToolOutcome::Ok) => " ok",
                Some(sealtrail::event::ToolOutcome::Error) => " error",
                _ => "",
            };
            let mut s = format!("{} ({}){outcome}", t.name, t.call_id);
            if let Some(ms) = t.duration_ms {
                s.push_str(&format!(", {}", duration(ms)));
            }
            s
        }
        Event::CommandRun(c) => {
            let exit = c
                .exit_code
                .map_or_else(|| "no exit code".to_owned(), |x| format!("exit {x}"));
            format!("{} → {exit}, {}", c.command, duration(c.duration_ms))
        }
        Event::FailureSeen(f) => match &f.suspected_cause {
            Some(c) => format!("{} — suspected cause: {c}", f.error),
            None => f.error.clone(),
        },
        Event::Decision(d) => format!("{} → chose {}", d.question, d.chosen),
        Event::Assumption(a) => a.statement.clone(),
        Event::Correction(c) => format!("corrects entry {}: {}", c.corrects.seq, c.redirected),
        Event::Supersession(s) => format!(
            "entry {} superseded by entry {}: {}",
            s.supersedes.seq, s.replacement.seq, s.reason
        ),
        Event::Artifact(a) => format!(
            "{} {}({} bytes, {})",
            a.artifact_type,
            a.name
                .as_deref()
                .map(|n| format!("{n} "))
                .unwrap_or_default(),
            a.size,
            a.digest.short()
        ),
        Event::Verification(v) => match &v.reason {
            Some(r) => format!("{}: {} ({r})", v.check, v.outcome),
            None => format!("{}: {}", v.check, v.outcome),
        },
        Event::GateRequested(g) => {
            let mut s = format!("{} gate for {}", g.gate, subjects(&g.entries, &g.artifacts));
            if let Some(sum) = &g.summary {
                s.push_str(&format!(": {sum}"));
            }
            s
        }
        Event::Approval(a) => {
            format!(
                "{} {} ({}): {}",
                a.gate(),
                a.decision().past(),
                a.meaning(),
                subjects(a.entries(), a.artifacts())
            )
        }
        Event::Handoff(h) => match &h.next_action {
            Some(n) => format!("{}; next: {n}", h.status.as_str()),
            None => h.status.as_str().to_owned(),
        },
        Event::SessionEnded(s) => match &s.summary {
            Some(sum) => format!("{}: {sum}", s.status.as_str()),
            None => s.status.as_str().to_owned(),
        },
        Event::Custom(c) => {
            // Hook records name their tool; other custom events show their type.
            let tool = custom_field(&c.body, "tool_name");
            match tool {
                Some(t) => format!("{} {t}", c.custom_type),
                None => c.custom_type.to_string(),
            }
        }
        Event::Gap(g) => match &g.event {
            Some(name) => format!("{name} not recorded: {}", g.reason),
            None => format!("not recorded: {}", g.reason),
        },
        _ => e.kind_str().to_owned(),
    };
    one_line(&s)
}

fn custom_field<'a>(body: &'a ciborium::value::Value, name: &str) -> Option<&'a str> {
    let get = |v: &'a ciborium::value::Value, key: &str| {
        v.as_map()?
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, x)| x)
    };
    get(get(body, "fields")?, name)?.as_text()
}

/// A one-line account of any entry: session events, key changes, erasures. `state` says whether
/// the source holds the payload (a bundle may withhold it).
pub fn entry_summary(e: &StoredEntry, state: PayloadState) -> String {
    let h = e.header();
    if let PayloadState::Withheld(_) = state {
        return "(payload withheld by the exporter)".to_owned();
    }
    let Some(data) = e.payload.data() else {
        return "(payload erased)".to_owned();
    };
    if let Some(change) = KeyChange::decode(&h.kind, data) {
        return match change {
            Ok(KeyChange::Register(r)) => format!(
                "registers key {} as {} {:?}",
                KeyId(*r.key).short(),
                r.role,
                r.name
            ),
            Ok(KeyChange::Revoke(r)) => {
                format!("revokes key {}: {}", KeyId(*r.key).short(), r.reason)
            }
            Ok(KeyChange::Rotate(r)) => format!(
                "replaces key {} by {}: {}",
                KeyId(*r.old).short(),
                KeyId(*r.new).short(),
                r.reason
            ),
            Err(err) => format!("(does not decode: {err})"),
        };
    }
    if h.kind.as_str() == Kind::ERASURE {
        let reason = payload_to_json(data)
            .ok()
            .and_then(|j| j.get("reason").and_then(Json::as_str).map(str::to_owned))
            .unwrap_or_default();
        return one_line(&format!(
            "erases the payload of {}: {reason}",
            entries(&h.links)
        ));
    }
    match Event::decode(&h.kind, data) {
        Ok(ev) => event_summary(&ev),
        Err(EventDecodeError::UnknownKind(_)) => "(not a session event)".to_owned(),
        Err(err) => one_line(&format!("(does not decode: {err})")),
    }
}

/// The name to show for a signer.
pub fn signer_name(names: &HashMap<KeyId, String>, key: &KeyId) -> String {
    names
        .get(key)
        .cloned()
        .unwrap_or_else(|| format!("unregistered key {}", key.short()))
}

/// An entry as JSON: its header, signer's printed name and payload (in the JSON form of
/// `append`; `null` when erased, or withheld from a bundle, which `withheld` then says why).
pub fn entry_json(e: &StoredEntry, names: &HashMap<KeyId, String>, state: PayloadState) -> Json {
    let h = e.header();
    let payload = e
        .payload
        .data()
        .map(|d| payload_to_json(d).unwrap_or_else(|err| json!({"undecodable": err.to_string()})));
    let mut j = json!({
        "seq": h.seq,
        "time": h.time.to_rfc3339(),
        "session": if h.session.is_none() { Json::Null } else { json!(h.session.as_str()) },
        "kind": h.kind.as_str(),
        "signer": h.signer.to_string(),
        "signer_name": signer_name(names, &h.signer),
        "entry_hash": e.hash.to_hex(),
        "links": h.links.iter().map(|l| json!({"seq": l.seq, "hash": l.hash.to_hex()})).collect::<Vec<_>>(),
        "erased": state == PayloadState::Erased,
        "payload": payload.unwrap_or(Json::Null),
        "summary": entry_summary(e, state),
    });
    if let (PayloadState::Withheld(r), Some(o)) = (state, j.as_object_mut()) {
        o.insert("withheld".into(), json!(r.describe()));
    }
    j
}

/// An entry on one line: position, time, session, kind, signer and summary.
pub fn entry_line(e: &StoredEntry, names: &HashMap<KeyId, String>, state: PayloadState) -> String {
    let h = e.header();
    let session = if h.session.is_none() {
        "-".to_owned()
    } else {
        h.session.to_string()
    };
    format!(
        "{:>6}  {}  {}  {:<15} {}: {}",
        h.seq,
        h.time.to_datetime().format("%Y-%m-%dT%H:%M:%SZ"),
        session,
        h.kind.as_str(),
        signer_name(names, &h.signer),
        entry_summary(e, state)
    )
}
