//! `show`, `trace` and `why`: reading a log back. The rendering is shared with `verify-bundle`
//! ([`crate::answer`]), which reads a bundle that verified the same way.

use std::io::Write as _;

use anyhow::{Result, anyhow};
use sealtrail::log::ReadError;
use sealtrail::query::QueryError;
use sealtrail::{Kind, SessionId};

use crate::answer::{self, ShowFilter, TraceOutput};
use crate::cli::{ShowArgs, TraceArgs, TraceFormat, WhyArgs};
use crate::common::{Status, count, emit, invalid, json_line, open_log};
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
    let log = open_log(&a.log)?;
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
    let session = SessionId::new(&a.session).map_err(|e| anyhow!("--session: {e}"))?;
    let file = a
        .out
        .as_deref()
        .map(|out| Output::create(out, Existing::force(a.force)))
        .transpose()?;
    let log = open_log(&a.log)?;
    let output = match a.format {
        TraceFormat::Markdown => TraceOutput::Markdown,
        TraceFormat::Json => TraceOutput::Json,
    };
    let (text, _) =
        answer::trace(&log, &session, output, a.evidence.as_deref()).map_err(query_error)?;
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

/// `sealtrail why`.
pub fn why(a: &WhyArgs) -> Result<Status> {
    let log = open_log(&a.log)?;
    let x = answer::why(&log, a.seq).map_err(|e| match e {
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
