//! `show`, `trace` and `why`: reading a log back. The rendering is shared with `verify-bundle`
//! ([`crate::answer`]), which reads a bundle that verified the same way.

use std::io::Write as _;

use anyhow::{Result, anyhow};
use sealtrail::log::ReadError;
use sealtrail::log::StoredEntry;
use sealtrail::query::QueryError;
use sealtrail::trace::TraceOptions;
use sealtrail::{Kind, Log, SessionId};

use crate::answer::{self, ShowFilter};
use crate::cli::{CompareArgs, ShowArgs, TraceArgs, WhyArgs};
use crate::common::{Status, count, emit, invalid, json_line, open_log_read_only};
use crate::output::{Existing, Output};

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

// An error from the shared rendering: a query error is classified as above.
fn answer_error(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<QueryError>() {
        Ok(q) => query_error(q),
        Err(other) => other,
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
    let log = open_log_read_only(&a.log)?;
    let filter = ShowFilter {
        session,
        kind,
        from: a.from.unwrap_or(0),
        to: a.to,
    };
    let (shown, _) =
        answer::show(&log, &filter, a.json, &mut |line| emit(line)).map_err(answer_error)?;
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
    let log = open_log_read_only(&a.log)?;
    let session = match named {
        Some(s) => s,
        None => latest_session(&log)?,
    };
    let mut options = TraceOptions::default();
    if let Some(e) = &a.evidence {
        options = options.evidence(e);
    }
    if a.checkpoint {
        let (size, root) = covering_checkpoint(&log, &session)?;
        options = options.checkpoint(size, root);
    }
    let output = a.format;
    let (text, _) = answer::trace(&log, &session, output, &options).map_err(query_error)?;
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

/// `sealtrail why`.
pub fn why(a: &WhyArgs) -> Result<Status> {
    let seq = match (&a.incident, a.seq) {
        (Some(id), _) => {
            return crate::ownership::why_incident(
                &a.log,
                id,
                a.repo.as_deref(),
                &a.agents,
                a.json,
            );
        }
        (None, Some(seq)) => seq,
        (None, None) => return Err(anyhow!("give --seq N or --incident ID")),
    };
    let log = open_log_read_only(&a.log)?;
    let x = answer::why(&log, seq).map_err(|e| match e {
        QueryError::NoSuchEntry(seq) => anyhow!(
            "--seq {seq}: no entry {seq} in the log {} (it has {})",
            a.log.display(),
            count(log.len(), "entry", "entries")
        ),
        other => query_error(other),
    })?;
    if a.json {
        emit(json_line(&x.to_json()))?;
        return Ok(Status::Ok);
    }
    for line in x.lines() {
        emit(line)?;
    }
    Ok(Status::Ok)
}

/// `sealtrail compare`.
pub fn compare(a: &CompareArgs) -> Result<Status> {
    let id = |s: &str, which: &str| SessionId::new(s).map_err(|e| anyhow!("{which}: {e}"));
    let (sa, sb) = (id(&a.a, "A")?, id(&a.b, "B")?);
    let log = open_log_read_only(&a.log)?;
    // Each session read once: to check it exists, then to compare.
    let mut runs = Vec::with_capacity(2);
    for s in [&sa, &sb] {
        let events = match sealtrail::query::session_events(&log, s) {
            Ok(events) if !events.is_empty() => events,
            Ok(_) | Err(QueryError::NoSuchSession(_)) => {
                return Err(anyhow!(
                    "session {s}: no entries in the log {} (list sessions with `sealtrail show \
                     --log {} --kind session_started`)",
                    a.log.display(),
                    a.log.display()
                ));
            }
            Err(e) => return Err(query_error(e)),
        };
        runs.push(events);
    }
    let c = sealtrail::compare::compare(log.suite(), (&sa, &runs[0]), (&sb, &runs[1]));
    if a.json {
        emit(json_line(&c.to_json()))?;
    } else {
        emit(c.to_markdown().trim_end())?;
    }
    Ok(Status::Ok)
}
