//! `append`: session events from JSON lines, each fsynced before its receipt is printed.

use std::io::{BufRead, BufReader, IsTerminal, Read};

use anyhow::{Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use sealtrail::event::json::from_json;
use sealtrail::{Log, Receipt, SecretKey, SessionId};
use serde_json::json;

use crate::cli::AppendArgs;
use crate::common::{Status, emit, invalid, json_line, load_secret, open_log, refused};

/// The longest input line: a payload is at most 1 MiB of CBOR, and its JSON form (hex digests,
/// escapes) is larger, but not sixteen times.
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// `sealtrail append`.
pub fn append(a: &AppendArgs) -> Result<Status> {
    let default_session = match &a.session {
        Some(s) => SessionId::new(s).map_err(|e| anyhow!("--session: {e}"))?,
        None => SessionId::none(),
    };
    let log = open_log(&a.log)?;
    let key = load_secret(&a.key)?;
    if !log.keys().iter().any(|k| k.key == key.key_id()) {
        return Err(invalid(format!(
            "{}: key {} is not registered in the log {} (register it with `sealtrail keys add \
             --role recorder`)",
            a.key.display(),
            key.key_id().short(),
            a.log.display()
        )));
    }
    let (name, input, size): (String, Box<dyn Read>, Option<u64>) = match &a.file {
        Some(path) => {
            let f = std::fs::File::open(path)
                .map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
            let size = f.metadata().ok().map(|m| m.len());
            (path.display().to_string(), Box::new(f), size)
        }
        None => ("stdin".to_owned(), Box::new(std::io::stdin().lock()), None),
    };
    // A progress bar for long files, on a terminal only (it draws on standard error).
    let bar = match size {
        Some(n) if n > 1 << 20 && std::io::stderr().is_terminal() => {
            let bar = ProgressBar::new(n);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Some(bar)
        }
        _ => None,
    };
    let mut reader = BufReader::new(input);
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut appended = 0u64;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
        if n == 0 {
            break;
        }
        number += 1;
        if let Some(b) = &bar {
            b.inc(n as u64);
        }
        let at = format!("{name}:{number}");
        if line.len() as u64 > MAX_LINE {
            return Err(invalid(format!(
                "{at}: line longer than {} MiB",
                MAX_LINE >> 20
            )));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|e| invalid(format!("{at}: not UTF-8: {e}")))?
            .trim();
        if text.is_empty() {
            continue;
        }
        let (receipt, kind) =
            append_line(&log, &key, a, &default_session, text).map_err(|e| prefix(&at, e))?;
        appended += 1;
        let out = if a.json {
            json_line(&json!({
                "line": number,
                "seq": receipt.seq,
                "entry_hash": receipt.hash.to_hex(),
                "kind": kind,
                "time": receipt.time.to_rfc3339(),
            }))
        } else {
            format!("entry {} {kind} {}", receipt.seq, receipt.hash)
        };
        match &bar {
            Some(b) => b.suspend(|| emit(out))?,
            None => emit(out)?,
        }
    }
    if let Some(b) = bar {
        b.finish_with_message(format!("{appended} events appended"));
    }
    Ok(Status::Ok)
}

// Puts the input position in front of an error, keeping its class (exit 1 or 2).
fn prefix(at: &str, e: anyhow::Error) -> anyhow::Error {
    if crate::common::is_invalid(&e) {
        invalid(format!("{at}: {e}"))
    } else {
        anyhow!("{at}: {e}")
    }
}

fn append_line(
    log: &Log,
    key: &SecretKey,
    a: &AppendArgs,
    default_session: &SessionId,
    text: &str,
) -> Result<(Receipt, &'static str)> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    let resolve = |seq: u64| log.read(seq).ok().flatten().map(|e| e.hash);
    let parsed = from_json(&value, log.suite(), &resolve).map_err(|e| invalid(e.to_string()))?;
    let session = parsed.session.unwrap_or_else(|| default_session.clone());
    let kind = parsed.event.kind_str();
    let record = parsed
        .event
        .to_record()
        .map_err(|e| invalid(e.to_string()))?
        .session(&session)
        .links(parsed.links);
    let receipt = log.append(key, record).map_err(|e| refused(&a.key, e))?;
    Ok((receipt, kind))
}
