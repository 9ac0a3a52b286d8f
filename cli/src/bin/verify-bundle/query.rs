//! `verify-bundle … show | trace | why`: questions asked of a bundle that verified, answered
//! from its verified entries with `sealtrail`'s own rendering ([`crate::answer`]).

use anyhow::{Result, anyhow};
use sealtrail::bundle::VerifiedBundle;
use sealtrail::query::QueryError;
use sealtrail::{EntrySource, Kind, SessionId};
use serde_json::json;

use crate::answer::{self, ShowFilter, TraceOutput, Unanswered, json_line};
use crate::cli::{Query, TraceFormat};

impl Query {
    /// Whether the answer is asked for as JSON.
    pub fn json(&self) -> bool {
        match self {
            Query::Show(a) => a.json,
            Query::Trace(a) => a.json || a.format == TraceFormat::Json,
            Query::Why(a) => a.json,
        }
    }
}

fn emit(line: impl std::fmt::Display) -> Result<()> {
    crate::write_stdout(&format!("{line}\n"))
}

// What the answer could not say, for a terminal.
fn emit_unanswered(unanswered: &[Unanswered]) -> Result<()> {
    if unanswered.is_empty() {
        return Ok(());
    }
    emit("")?;
    emit(format!(
        "not answered ({} the bundle does not hold):",
        if unanswered.len() == 1 {
            "a payload"
        } else {
            "payloads"
        }
    ))?;
    for u in unanswered {
        emit(format!("  {}", u.line()))?;
    }
    Ok(())
}

/// Answers `q` from a bundle that verified. `Ok(false)` when the entries do not hold what the
/// question needs in the form the vocabulary requires (exit 1, as `sealtrail` does).
pub fn answer(bundle: &VerifiedBundle, q: &Query) -> Result<bool> {
    let report = bundle.report();
    eprintln!(
        "verify-bundle: VALID: {} of log {} verified against the pinned key; answering from them",
        match report.entries {
            1 => "1 entry".to_owned(),
            n => format!("{n} entries"),
        },
        report.log.log_id
    );
    let result = match q {
        Query::Show(a) => show(bundle, a),
        Query::Trace(a) => trace(bundle, a),
        Query::Why(a) => why(bundle, a),
    };
    match result {
        Ok(()) => Ok(true),
        Err(e) => match e.downcast::<QueryError>() {
            Ok(
                q @ (QueryError::NoSuchEntry(_)
                | QueryError::NoSuchSession(_)
                | QueryError::NotStarted(_)),
            ) => Err(anyhow!("{q} in the bundle")),
            Ok(other) => {
                eprintln!("verify-bundle: {other}");
                Ok(false)
            }
            Err(e) => Err(e),
        },
    }
}

fn show(bundle: &VerifiedBundle, a: &crate::cli::ShowArgs) -> Result<()> {
    let filter = ShowFilter {
        session: a
            .session
            .as_deref()
            .map(SessionId::new)
            .transpose()
            .map_err(|e| anyhow!("--session: {e}"))?,
        kind: a
            .kind
            .as_deref()
            .map(Kind::new)
            .transpose()
            .map_err(|e| anyhow!("--kind: {e}"))?,
        from: a.from.unwrap_or(0),
        to: a.to,
    };
    let (shown, unanswered) = answer::show(bundle, &filter, a.json, &mut |line| emit(line))?;
    if a.json {
        // One JSON object per entry; each absent payload is marked in its own object.
        return Ok(());
    }
    if shown == 0 {
        eprintln!(
            "no entries match (the bundle holds {})",
            match bundle.held() {
                1 => "1 entry".to_owned(),
                n => format!("{n} entries"),
            }
        );
    }
    emit_unanswered(&unanswered)
}

fn trace(bundle: &VerifiedBundle, a: &crate::cli::TraceArgs) -> Result<()> {
    let session = SessionId::new(&a.session).map_err(|e| anyhow!("--session: {e}"))?;
    let output = if a.json { TraceOutput::Json } else { a.format };
    let (text, unanswered) = answer::trace(
        bundle,
        &session,
        output,
        &trace_options(a.evidence.as_deref()),
    )?;
    emit(text.trim_end_matches('\n'))?;
    // The trace stays pasteable (its trailers last) and the run record one JSON object (it lists
    // `withheld_entries` and `erased_entries` itself): the notes go to standard error.
    if !unanswered.is_empty() {
        eprintln!(
            "verify-bundle: the trace is computed without what these payloads say, which the \
             bundle does not hold:"
        );
        for u in &unanswered {
            eprintln!("  {}", u.line());
        }
    }
    Ok(())
}

fn why(bundle: &VerifiedBundle, a: &crate::cli::WhyArgs) -> Result<()> {
    let seq = a
        .seq
        .or(a.seq_flag)
        .ok_or_else(|| anyhow!("why: which entry? (why SEQ)"))?;
    let x = answer::why(bundle, seq).map_err(|e| match e {
        QueryError::NoSuchEntry(s) if s == seq => anyhow!(
            "no entry {seq} in the bundle (it holds {}, up to position {})",
            bundle.held(),
            bundle.len().saturating_sub(1)
        ),
        other => anyhow::Error::new(other),
    })?;
    if a.json {
        let mut j = x.to_json();
        if let Some(o) = j.as_object_mut() {
            o.insert(
                "not_answered".into(),
                json!(
                    x.unanswered
                        .iter()
                        .map(Unanswered::json)
                        .collect::<Vec<_>>()
                ),
            );
            o.insert("not_held".into(), json!(x.not_held()));
        }
        return emit(json_line(&j));
    }
    for line in x.lines() {
        emit(line)?;
    }
    if !x.not_held().is_empty() {
        emit("")?;
        emit(format!(
            "not held: the bundle does not hold linked {} {}, so what informed {} is unknown",
            if x.not_held().len() == 1 {
                "entry"
            } else {
                "entries"
            },
            x.not_held()
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if x.not_held().len() == 1 {
                "it"
            } else {
                "them"
            }
        ))?;
    }
    emit_unanswered(&x.unanswered)
}

// The trailers' options: where the evidence lives, when given.
fn trace_options(evidence: Option<&str>) -> sealtrail::trace::TraceOptions {
    let options = sealtrail::trace::TraceOptions::default();
    match evidence {
        Some(e) => options.evidence(e),
        None => options,
    }
}
