//! `checkpoint`, `export`, `prove`: sealing the log's state and carrying it to an auditor.

use std::io::{IsTerminal, Write};

use anyhow::{Context as _, Result, anyhow, bail};
use sealtrail::checkpoint::SignedCheckpoint;
use sealtrail::log::{
    Anchor, ExportError, ExportOptions, LogProveError, Selection, withholdable_kinds,
};
use sealtrail::{Kind, SessionId};
use serde_json::json;

use crate::cli::{CheckpointArgs, ExportArgs, ProveArgs};
use crate::common::{
    Status, count, emit, invalid, json_line, load_secret, open_log, open_log_read_only,
};
use crate::output::{Existing, Output};

/// `sealtrail checkpoint`.
pub fn checkpoint(a: &CheckpointArgs) -> Result<Status> {
    // Refused before the log signs anything.
    let file = a
        .out
        .as_deref()
        .map(|out| Output::create(out, Existing::force(a.force)))
        .transpose()?;
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let signed = log.checkpoint(&owner).map_err(|e| match e {
        // Signed and stored; only the derived tiles (SPEC §9.8) could not be written.
        e @ sealtrail::log::LogCheckpointError::Tiles { .. } => {
            anyhow!("{}: {e}", a.log.display())
        }
        e => invalid(format!("{}: {e}", a.owner_key.display())),
    })?;
    let note = String::from_utf8_lossy(&signed.encode()).into_owned();
    if let Some(mut file) = file {
        file.write_all(&signed.encode())
            .with_context(|| format!("{}: cannot write", file.path().display()))?;
        file.commit()?;
    }
    let c = signed.checkpoint();
    if a.json {
        emit(json_line(&json!({
            "size": c.size(),
            "root": c.root().to_hex(),
            "origin": c.origin(),
            "note": note,
        })))?;
    } else {
        emit(format!("checkpoint: size {}, root {}", c.size(), c.root()))?;
        if let Some(out) = &a.out {
            emit(format!("wrote {}", out.display()))?;
        }
        emit(note.trim_end())?;
    }
    Ok(Status::Ok)
}

fn parse_range(s: &str) -> Result<std::ops::Range<u64>> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| anyhow!("--range {s}: expected START..END, e.g. 10..20"))?;
    let start = a
        .trim()
        .parse()
        .with_context(|| format!("--range {s}: START"))?;
    let end = b
        .trim()
        .parse()
        .with_context(|| format!("--range {s}: END"))?;
    if start > end {
        bail!("--range {s}: START is after END");
    }
    Ok(start..end)
}

fn selection(a: &ExportArgs) -> Result<Selection> {
    Ok(if let Some(s) = &a.session {
        Selection::Session(SessionId::new(s).map_err(|e| anyhow!("--session: {e}"))?)
    } else if let Some(r) = &a.range {
        Selection::Range(parse_range(r)?)
    } else if let Some(e) = &a.entries {
        Selection::Entries(e.clone())
    } else if let Some(size) = a.since {
        Selection::Since { size }
    } else if let Some(path) = &a.since_checkpoint {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let c = SignedCheckpoint::parse(&bytes)
            .map_err(|e| anyhow!("{}: not a checkpoint: {e}", path.display()))?;
        Selection::Since {
            size: c.checkpoint().size(),
        }
    } else {
        Selection::Log
    })
}

/// `sealtrail export`.
pub fn export(a: &ExportArgs) -> Result<Status> {
    let mut options = ExportOptions::new(selection(a)?)
        .anchor(Anchor::PreferWitnessed)
        .require_cosignatures(a.require_witnesses);
    for k in &a.withhold_kind {
        let kind = Kind::new(k).map_err(|e| {
            anyhow!(
                "--withhold-kind: {e}; the kinds whose payloads may be withheld are {}",
                withholdable_kinds().collect::<Vec<_>>().join(", ")
            )
        })?;
        options = options.withhold_kind(kind);
    }
    for &s in &a.withhold_entry {
        options = options.withhold_entry(s);
    }
    // Refused before the log is opened; a failed export leaves nothing behind.
    let file = Output::create(&a.out, Existing::force(a.force))?;
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let mut out = std::io::BufWriter::new(file);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} exporting {pos}/{len} entries [{bar:40}] eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let result = log.export(&owner, &options, &mut out, &mut |done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = result.map_err(|e| match e {
        // What was asked names nothing in the log, or cannot be done: a usage error (exit 2),
        // refused before anything was signed or written.
        ExportError::UnknownKind { .. } => anyhow!("--withhold-kind: {e}"),
        ExportError::NotWithholdable { seq: None, .. } => anyhow!("--withhold-kind: {e}"),
        ExportError::NotWithholdable { seq: Some(_), .. } => anyhow!("--withhold-entry: {e}"),
        ExportError::NoSuchSession { .. } => anyhow!("--session: {e}"),
        ExportError::EmptySelection => anyhow!("export: {e}"),
        e => invalid(format!("export: {e}")),
    })?;
    out.into_inner()
        .map_err(|e| anyhow!("{}: cannot write: {}", a.out.display(), e.error()))?
        .commit()?;
    if a.json {
        emit(json_line(&json!({
            "out": a.out.display().to_string(),
            "selection": format!("{:?}", options.selection()),
            "entries": summary.entries,
            "withheld": summary.withheld,
            "controls": summary.controls,
            "checkpoint": {"size": summary.size, "root": summary.root.to_hex(),
                "witness_cosignatures": summary.checkpoint.cosignature_lines()},
            "bytes": summary.bytes,
        })))?;
    } else {
        emit(format!(
            "wrote {}: {} ({} withheld), {} they need, \
             checkpoint size {} root {}, {} bytes",
            a.out.display(),
            count(summary.entries, "entry", "entries"),
            count(summary.withheld, "payload", "payloads"),
            count(summary.controls, "key/erasure entry", "key/erasure entries"),
            summary.size,
            summary.root,
            summary.bytes
        ))?;
        let cosigs = summary.checkpoint.cosignature_lines();
        if cosigs > 0 {
            emit(format!(
                "the checkpoint carries {cosigs} witness cosignature(s): verify-bundle {} \
                 --trusted-key <LOG.vkey> --witness <W.pub> --witness-quorum 1",
                a.out.display()
            ))?;
        } else {
            emit(format!(
                "verify it with: verify-bundle {} --trusted-key <the owner's .pub file>",
                a.out.display()
            ))?;
        }
    }
    Ok(Status::Ok)
}

/// `sealtrail prove`.
pub fn prove(a: &ProveArgs) -> Result<Status> {
    let seq = match (a.seq, a.consistency_from) {
        (_, Some(old)) => return crate::witness::prove_consistency(a, old),
        (Some(seq), None) => seq,
        (None, None) => bail!("give --seq N or --consistency-from SIZE"),
    };
    let file = a
        .out
        .as_deref()
        .map(|out| Output::create(out, Existing::force(a.force)))
        .transpose()?;
    let log = open_log_read_only(&a.log)?;
    let proof = match log.prove(seq) {
        Ok(p) => p,
        Err(e @ (LogProveError::NotCheckpointed { .. } | LogProveError::NoSuchEntry(_))) => {
            return Err(invalid(format!("{}: {e}", a.log.display())));
        }
        Err(e) => return Err(anyhow!("{}: {e}", a.log.display())),
    };
    let text = proof.encode();
    if let Some(path) = &a.entry_out {
        let entry = log
            .read(seq)
            .map_err(|e| anyhow!("{}: {e}", a.log.display()))?
            .ok_or_else(|| invalid(format!("{}: no entry {seq}", a.log.display())))?;
        crate::output::write(path, entry.entry.as_bytes(), Existing::force(a.force))?;
    }
    match file {
        Some(mut file) => {
            file.write_all(&text)
                .with_context(|| format!("{}: cannot write", file.path().display()))?;
            let path = file.path().to_owned();
            file.commit()?;
            emit(format!(
                "wrote {}: entry {} included in the checkpoint of size {}",
                path.display(),
                seq,
                proof.checkpoint().checkpoint().size()
            ))?;
        }
        None => emit(String::from_utf8_lossy(&text).trim_end())?,
    }
    Ok(Status::Ok)
}
