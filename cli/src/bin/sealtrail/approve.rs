//! `approve`: a human approval, signed with the approver's own key.

use std::collections::BTreeSet;

use anyhow::{Result, anyhow};
use sealtrail::approval::{Approval, Gate, Meaning, Subjects, Verdict};
use sealtrail::event::Event;
use sealtrail::query::{SignedApproval, printed_names};
use sealtrail::{Digest, Link, SessionId};
use serde_json::json;

use crate::cli::{ApproveArgs, MeaningArg};
use crate::common::{Status, count, emit, invalid, json_line, load_secret, open_log, refused};
use crate::render::signer_name;

fn meaning(m: MeaningArg) -> Meaning {
    match m {
        MeaningArg::Review => Meaning::Review,
        MeaningArg::Approval => Meaning::Approval,
        MeaningArg::Responsibility => Meaning::Responsibility,
        MeaningArg::Authorship => Meaning::Authorship,
    }
}

/// `sealtrail approve`.
pub fn approve(a: &ApproveArgs) -> Result<Status> {
    let gate = Gate::from_name(&a.gate).map_err(|e| anyhow!("--gate: {e}"))?;
    let verdict = if a.reject {
        Verdict::Reject
    } else {
        Verdict::Approve
    };
    let mut artifacts = Vec::with_capacity(a.artifact.len());
    for d in &a.artifact {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(d, &mut bytes)
            .map_err(|_| anyhow!("--artifact {d}: expected a digest of 64 hexadecimal digits"))?;
        artifacts.push(Digest(bytes));
    }
    let log = open_log(&a.log)?;
    let key = load_secret(&a.key)?;
    let mut links = Vec::with_capacity(a.entry.len());
    let mut sessions = BTreeSet::new();
    for &seq in &a.entry {
        let e = log.read(seq)?.ok_or_else(|| {
            invalid(format!(
                "--entry {seq}: no entry {seq} in the log {} (it has {})",
                a.log.display(),
                count(log.len(), "entry", "entries")
            ))
        })?;
        if !e.header().session.is_none() {
            sessions.insert(e.header().session.as_str().to_owned());
        }
        links.push(Link { seq, hash: e.hash });
    }
    let session = match (&a.session, sessions.len()) {
        (Some(s), _) => SessionId::new(s).map_err(|e| anyhow!("--session: {e}"))?,
        (None, 1) => SessionId::new(sessions.first().map_or("", String::as_str))?,
        (None, _) => SessionId::none(),
    };
    let mut approval = Approval::new(
        gate,
        meaning(a.meaning),
        verdict,
        Subjects::new(links, artifacts),
    )
    .map_err(|e| anyhow!("{e}"))?;
    if let Some(c) = &a.comment {
        approval = approval
            .with_comment(c)
            .map_err(|e| anyhow!("--comment: {e}"))?;
    }
    let record = Event::Approval(approval.clone())
        .to_record()
        .map_err(|e| invalid(e.to_string()))?
        .session(&session);
    let r = log.append(&key, record).map_err(|e| refused(&a.key, e))?;
    let signed = SignedApproval {
        seq: r.seq,
        time: r.time,
        signer: key.key_id(),
        printed_name: signer_name(&printed_names(&log), &key.key_id()),
        approval,
    };
    let entries: Vec<u64> = signed.approval.entries().iter().map(|l| l.seq).collect();
    if a.json {
        emit(json_line(&json!({
            "seq": r.seq,
            "entry_hash": r.hash.to_hex(),
            "time": r.time.to_rfc3339(),
            "gate": signed.approval.gate().as_str(),
            "decision": signed.approval.decision().as_str(),
            "meaning": signed.approval.meaning().as_str(),
            "printed_name": signed.printed_name,
            "signer": signed.signer.to_string(),
            "entries": entries,
            "artifacts": signed.approval.artifacts().iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
            "comment": signed.approval.comment(),
            "session": if session.is_none() { None } else { Some(session.as_str()) },
            "manifestation": signed.to_string(),
        })))?;
    } else {
        emit(format!("entry {}: {signed}", r.seq))?;
        emit(format!(
            "  signed {} by key {} ({}), entry hash {}",
            r.time,
            key.key_id().short(),
            a.key.display(),
            r.hash
        ))?;
        if !entries.is_empty() {
            emit(format!(
                "  entries: {}",
                entries
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))?;
        }
        for d in signed.approval.artifacts() {
            emit(format!("  artifact: {d}"))?;
        }
        if let Some(c) = signed.approval.comment() {
            emit(format!("  comment: {c}"))?;
        }
    }
    Ok(Status::Ok)
}
