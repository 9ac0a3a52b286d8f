//! `show`, `trace` and `why`: reading a log back.

use std::collections::HashMap;
use std::io::Write as _;

use anyhow::{Result, anyhow};
use sealtrail::event::Event;
use sealtrail::log::{ReadError, StoredEntry};
use sealtrail::query::{CausalNode, QueryError, explain, printed_names};
use sealtrail::trace::{DecisionTrace, TraceOptions};
use sealtrail::{KeyId, Kind, Log, SessionId};
use serde_json::json;

use crate::cli::{CompareArgs, ShowArgs, TraceArgs, TraceFormat, WhyArgs};
use crate::common::{Status, count, emit, invalid, json_line, open_log};
use crate::output::{Existing, Output};
use crate::render::{entry_json, entry_line, entry_summary, signer_name};

fn read_error(e: ReadError) -> anyhow::Error {
    match e {
        ReadError::Corrupt { .. } => {
            invalid(format!("{e} (`sealtrail verify` examines the whole log)"))
        }
        other => anyhow!("{other}"),
    }
}

/// A query error: about the data (exit 1) or about what was asked (exit 2).
pub fn query_error(e: QueryError) -> anyhow::Error {
    match e {
        QueryError::NoSuchEntry(_) | QueryError::NoSuchSession(_) | QueryError::NotStarted(_) => {
            anyhow!("{e}")
        }
        QueryError::Read(r) => read_error(r),
        other => invalid(other.to_string()),
    }
}

/// `sealtrail show`.
pub fn show(a: &ShowArgs) -> Result<Status> {
    let kind = a
        .kind
        .as_deref()
        .map(Kind::new)
        .transpose()
        .map_err(|e| anyhow!("--kind: {e}"))?;
    let session = a
        .session
        .as_deref()
        .map(SessionId::new)
        .transpose()
        .map_err(|e| anyhow!("--session: {e}"))?;
    let log = open_log(&a.log)?;
    let names = printed_names(&log);
    let from = a.from.unwrap_or(0);
    let end =
        a.to.map_or(u64::MAX, |t| t.saturating_add(1))
            .min(log.len());
    let mut shown = 0u64;
    let mut show_one = |e: &StoredEntry| -> Result<()> {
        if kind.as_ref().is_some_and(|k| e.header().kind != *k) {
            return Ok(());
        }
        shown += 1;
        if a.json {
            emit(json_line(&entry_json(e, &names)))
        } else {
            emit(entry_line(e, &names))
        }
    };
    match &session {
        Some(s) => {
            for e in log.session(s).map_err(read_error)? {
                if (from..end).contains(&e.seq()) {
                    show_one(&e)?;
                }
            }
        }
        None => {
            for e in log.range(from..end) {
                show_one(&e.map_err(read_error)?)?;
            }
        }
    }
    if shown == 0 && !a.json {
        eprintln!(
            "no entries match (the log has {})",
            count(log.len(), "entry", "entries")
        );
    }
    Ok(Status::Ok)
}

/// `sealtrail trace`.
pub fn trace(a: &TraceArgs) -> Result<Status> {
    let named = a
        .session
        .as_deref()
        .map(|s| SessionId::new(s).map_err(|e| anyhow!("--session: {e}")))
        .transpose()?;
    let file = a
        .out
        .as_deref()
        .map(|out| Output::create(out, Existing::force(a.force)))
        .transpose()?;
    let log = open_log(&a.log)?;
    let session = match named {
        Some(s) => s,
        None => latest_session(&log)?,
    };
    let trace = DecisionTrace::from_session(&log, &session).map_err(query_error)?;
    let text = match a.format {
        TraceFormat::Markdown => {
            let mut options = TraceOptions::default();
            if let Some(e) = &a.evidence {
                options = options.evidence(e);
            }
            if a.checkpoint {
                let (size, root) = covering_checkpoint(&log, &session)?;
                options = options.checkpoint(size, root);
            }
            trace.to_markdown(&options)
        }
        TraceFormat::Json => {
            let mut s = trace.run_record().to_json_pretty();
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        }
    };
    match file {
        Some(mut file) => {
            file.write_all(text.as_bytes())
                .map_err(|e| anyhow!("{}: cannot write: {e}", file.path().display()))?;
            let path = file.path().to_owned();
            file.commit()?;
            eprintln!("wrote {}", path.display());
        }
        None => emit(text.trim_end_matches('\n'))?,
    }
    Ok(Status::Ok)
}

// The session of the log's last entry that belongs to one.
fn latest_session(log: &Log) -> Result<SessionId> {
    for seq in (0..log.len()).rev() {
        if let Some(e) = log.read(seq).map_err(read_error)? {
            if !e.header().session.is_none() {
                return Ok(e.header().session.clone());
            }
        }
    }
    Err(invalid(
        "--latest: no entry of the log belongs to a session",
    ))
}

// The log's latest signed checkpoint, if it covers every entry of `session`.
fn covering_checkpoint(log: &Log, session: &SessionId) -> Result<(u64, sealtrail::RootHash)> {
    let sign_one = "sign one first: sealtrail checkpoint --log DIR --key OWNER.key";
    let latest = log
        .latest_checkpoint()
        .map_err(read_error)?
        .ok_or_else(|| {
            invalid(format!(
                "--checkpoint: the log has no checkpoint; {sign_one}"
            ))
        })?;
    let c = latest.checkpoint();
    let last = log
        .session(session)
        .map_err(read_error)?
        .last()
        .map(StoredEntry::seq);
    if let Some(last) = last.filter(|&l| l >= c.size()) {
        return Err(invalid(format!(
            "--checkpoint: the latest checkpoint (size {}) does not cover entry {last}, the \
             session's last; {sign_one}",
            c.size()
        )));
    }
    Ok((c.size(), c.root()))
}

fn node_json(log: &Log, n: &CausalNode) -> serde_json::Value {
    let summary = log
        .read(n.seq)
        .ok()
        .flatten()
        .map(|e| entry_summary(&e))
        .unwrap_or_default();
    json!({"seq": n.seq, "kind": n.kind.as_str(), "depth": n.depth, "via": n.via, "summary": summary})
}

fn node_line(log: &Log, n: &CausalNode, start: u64) -> String {
    let summary = log
        .read(n.seq)
        .ok()
        .flatten()
        .map(|e| entry_summary(&e))
        .unwrap_or_default();
    let how = if n.via == start {
        "direct link".to_owned()
    } else {
        format!("via entry {}", n.via)
    };
    format!(
        "  entry {:<5} {:<15} ({how}) {summary}",
        n.seq,
        n.kind.as_str()
    )
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

/// `sealtrail why`.
pub fn why(a: &WhyArgs) -> Result<Status> {
    let log = open_log(&a.log)?;
    let x = explain(&log, a.seq).map_err(|e| match e {
        QueryError::NoSuchEntry(seq) => anyhow!(
            "--seq {seq}: no entry {seq} in the log {} (it has {})",
            a.log.display(),
            count(log.len(), "entry", "entries")
        ),
        other => query_error(other),
    })?;
    let names: HashMap<KeyId, String> = printed_names(&log);
    let stored = log
        .read(a.seq)
        .map_err(read_error)?
        .ok_or_else(|| anyhow!("no entry {}", a.seq))?;
    if a.json {
        emit(json_line(&json!({
            "entry": entry_json(&stored, &names),
            "inputs": x.inputs.iter().map(|n| node_json(&log, n)).collect::<Vec<_>>(),
            "downstream": x.downstream.iter().map(|n| node_json(&log, n)).collect::<Vec<_>>(),
        })))?;
        return Ok(Status::Ok);
    }
    let h = stored.header();
    let session = if h.session.is_none() {
        String::new()
    } else {
        format!(" in session {}", h.session)
    };
    emit(format!(
        "entry {}: {}, signed by {} at {}{session}",
        a.seq,
        h.kind,
        signer_name(&names, &h.signer),
        h.time
    ))?;
    emit(format!("  {}", entry_summary(&stored)))?;
    if let Some(ev) = &x.entry.event {
        for line in details(ev) {
            emit(line)?;
        }
    }
    emit("")?;
    if x.inputs.is_empty() {
        emit("what informed it: nothing (it links no earlier entry)")?;
    } else {
        emit("what informed it (its causal links, followed back; nearest first):")?;
        for n in &x.inputs {
            emit(node_line(&log, n, a.seq))?;
        }
    }
    emit("")?;
    if x.downstream.is_empty() {
        emit("what depended on it: nothing links to it")?;
    } else {
        emit("what depended on it (entries linking to it, followed forward; in log order):")?;
        for n in &x.downstream {
            emit(node_line(&log, n, a.seq))?;
        }
    }
    Ok(Status::Ok)
}

/// `sealtrail compare`.
pub fn compare(a: &CompareArgs) -> Result<Status> {
    let id = |s: &str, which: &str| SessionId::new(s).map_err(|e| anyhow!("{which}: {e}"));
    let (sa, sb) = (id(&a.a, "A")?, id(&a.b, "B")?);
    let log = open_log(&a.log)?;
    for s in [&sa, &sb] {
        if log.session(s).map_err(read_error)?.is_empty() {
            return Err(anyhow!(
                "session {s}: no entries in the log {} (list sessions with `sealtrail show --log \
                 {} --kind session_started`)",
                a.log.display(),
                a.log.display()
            ));
        }
    }
    let c = sealtrail::compare::compare_sessions(&log, &sa, &sb).map_err(query_error)?;
    if a.json {
        emit(json_line(&c.to_json()))?;
    } else {
        emit(c.to_markdown().trim_end())?;
    }
    Ok(Status::Ok)
}
