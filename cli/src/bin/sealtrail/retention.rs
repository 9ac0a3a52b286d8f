//! `retention`, `hold` and `purge`: how long payloads are kept, legal holds, and purging at the
//! end of retention (SPEC §7.6–§7.8).

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use sealtrail::log::{AppendError, PurgeError};
use sealtrail::retention::{Hold, HoldRecord, LifecycleProblem, RetentionSet};
use sealtrail::{Log, Timestamp};
use serde_json::{Value, json};

use crate::common::{
    Status, count, emit, invalid, json_line, load_secret, open_log, open_log_read_only, refused,
};

pub const RETENTION_HELP: &str = "\
How long the log keeps payloads (SPEC §7.6). `set` appends a `retention_set` entry signed by an
owner key: a whole number of calendar months, written as Ny (years) or Nm (months). An entry's
retention ends that many months after the entry's own time, under the longest retention
declared from the entry on: a later, shorter retention does not shorten what a longer one kept.
`sealtrail purge` removes payloads whose retention ended.

A retention under six months (the EU AI Act Art. 19 minimum) is refused unless
--allow-short-retention says why; the reason is recorded in the entry.

  sealtrail retention set --log DIR --owner-key owner.key --duration 6y
  sealtrail retention set --log DIR --owner-key owner.key --duration 3m --allow-short-retention \"scratch log for a demo\"
  sealtrail retention show --log DIR --json";

pub const HOLD_HELP: &str = "\
Legal holds (SPEC §7.7). A hold covers the whole log: while one is active, `sealtrail purge` is
refused, and `sealtrail archive` puts an S3 legal hold on the archive's objects. `place` and
`release` append owner-signed `legal_hold` / `legal_hold_released` entries naming the matter;
a release must name an active hold.

  sealtrail hold place --log DIR --owner-key owner.key --matter CASE-2026-17 --reason \"litigation hold, counsel's letter of 2026-03-02\"
  sealtrail hold release --log DIR --owner-key owner.key --matter CASE-2026-17 --reason \"case settled\"
  sealtrail hold list --log DIR --json";

pub const PURGE_HELP: &str = "\
Purge the payloads whose retention ended before --before (SPEC §7.8): an owner key signs one
`purge` entry for them all (the date, the range of entries, the retention in force), then their
payloads and salts are deleted as `sealtrail erase` deletes one. Every entry, signature,
checkpoint and proof stays valid; reports list the payloads as \"purged at end of retention\".
Control entries (keys, erasures, retention, holds, purges) and approvals are never purged.

Refused, with exit status 2, while a legal hold is active (the error names the matter), when
the log declares no retention, or with a date in the future. --dry-run lists what would go and
writes nothing.

  sealtrail purge --log DIR --owner-key owner.key --before 2026-01-01 --dry-run
  sealtrail purge --log DIR --owner-key owner.key --before 2026-01-01T00:00:00Z --json";

/// `retention`.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Declare how long payloads are kept (signed by an owner key).
    #[command(long_about = RETENTION_HELP, after_help = crate::cli::EXIT_STATUS)]
    Set(RetentionSetArgs),
    /// Show the retention in force and the active legal holds.
    #[command(long_about = RETENTION_HELP, after_help = crate::cli::EXIT_STATUS)]
    Show(StatusArgs),
}

/// `retention set`.
#[derive(Debug, Args)]
pub struct RetentionSetArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An owner key of the log: it signs the entry.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// The retention: Ny (years) or Nm (months), e.g. 6y, 18m.
    #[arg(long, value_name = "DURATION")]
    pub duration: String,
    /// Accept a retention under six months, recording REASON in the entry.
    #[arg(long, value_name = "REASON")]
    pub allow_short_retention: Option<String>,
    /// Print the entry as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `retention show`, `hold list`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// Print as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `hold`.
#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Place a legal hold on the whole log (signed by an owner key).
    #[command(long_about = HOLD_HELP, after_help = crate::cli::EXIT_STATUS)]
    Place(HoldArgs),
    /// Release an active legal hold (signed by an owner key).
    #[command(long_about = HOLD_HELP, after_help = crate::cli::EXIT_STATUS)]
    Release(HoldArgs),
    /// List the legal holds, active and released, and the retention in force.
    #[command(long_about = HOLD_HELP, after_help = crate::cli::EXIT_STATUS)]
    List(StatusArgs),
}

/// `hold place`, `hold release`.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An owner key of the log: it signs the entry.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// The matter's identifier, e.g. a case number.
    #[arg(long, value_name = "ID")]
    pub matter: String,
    /// Why, recorded in the entry.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Print the entry as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An owner key of the log: it signs the purge entry.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// Purge payloads whose retention ended at or before this time (YYYY-MM-DD, midnight UTC,
    /// or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub before: String,
    /// List what would be purged; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the purge as one JSON object.
    #[arg(long)]
    pub json: bool,
}

// `6y` → 72, `18m` → 18.
fn months(duration: &str) -> Result<u64> {
    let bad = || {
        invalid(format!(
            "--duration {duration:?}: use N followed by y (years) or m (months), e.g. 6y or 18m"
        ))
    };
    let unit_at = duration.len().checked_sub(1).ok_or_else(bad)?;
    let n: u64 = duration
        .get(..unit_at)
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    match duration.get(unit_at..) {
        Some("y") => n.checked_mul(12).ok_or_else(bad),
        Some("m") => Ok(n),
        _ => Err(bad()),
    }
}

fn parse_before(s: &str) -> Result<Timestamp> {
    let t = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    t.parse()
        .map_err(|_| anyhow!("--before {s:?}: not a date: use YYYY-MM-DD or RFC 3339"))
}

fn receipt_json(r: &sealtrail::Receipt) -> Value {
    json!({"seq": r.seq, "hash": r.hash.to_hex(), "time": r.time.to_rfc3339()})
}

// An append the log refused: a key that may not sign it (exit 1), or a record that does not
// apply (exit 1).
fn append_refused(key: &Path, e: AppendError) -> anyhow::Error {
    match e {
        AppendError::Lifecycle { problem, .. } => invalid(problem.to_string()),
        e => refused(key, e),
    }
}

/// `sealtrail retention set`.
pub fn set(a: &RetentionSetArgs) -> Result<Status> {
    let m = months(&a.duration)?;
    let retention = RetentionSet::new(m, a.allow_short_retention.clone()).map_err(|p| match p {
        LifecycleProblem::TooShort { months } => invalid(format!(
            "--duration {}: {months} months is under the six-month minimum (EU AI Act \
                 Art. 19); pass --allow-short-retention REASON if this log may keep less",
            a.duration
        )),
        p => invalid(format!("--duration {}: {p}", a.duration)),
    })?;
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let receipt = log
        .set_retention(&owner, &retention)
        .map_err(|e| append_refused(&a.owner_key, e))?;
    if a.json {
        emit(json_line(&json!({
            "retention_set": receipt_json(&receipt),
            "months": m,
            "short_ok": retention.short_ok(),
        })))?;
    } else {
        emit(format!(
            "retention set to {m} months: entry {} {}",
            receipt.seq, receipt.hash
        ))?;
    }
    Ok(Status::Ok)
}

fn hold_entry(a: &HoldArgs, place: bool) -> Result<Status> {
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let hold = Hold::new(a.matter.clone(), a.reason.clone());
    let result = if place {
        log.place_legal_hold(&owner, &hold)
    } else {
        log.release_legal_hold(&owner, &hold)
    };
    let receipt = result.map_err(|e| match e {
        PurgeError::Append(e) => append_refused(&a.owner_key, e),
        e => anyhow!("{}: {e}", a.log.display()),
    })?;
    let what = if place {
        "legal_hold"
    } else {
        "legal_hold_released"
    };
    if a.json {
        emit(json_line(&json!({
            what: receipt_json(&receipt),
            "matter": a.matter,
            "reason": a.reason,
        })))?;
    } else {
        emit(format!(
            "{} legal hold of matter {:?}: entry {} {}",
            if place { "placed" } else { "released" },
            a.matter,
            receipt.seq,
            receipt.hash
        ))?;
    }
    Ok(Status::Ok)
}

/// `sealtrail hold place`.
pub fn place(a: &HoldArgs) -> Result<Status> {
    hold_entry(a, true)
}

/// `sealtrail hold release`.
pub fn release(a: &HoldArgs) -> Result<Status> {
    hold_entry(a, false)
}

fn hold_json(h: &HoldRecord) -> Value {
    json!({
        "matter": h.matter,
        "reason": h.reason,
        "placed": h.placed,
        "placed_at": h.placed_at.to_rfc3339(),
        "released": h.released,
        "release_reason": h.release_reason,
    })
}

/// `sealtrail retention show` and `sealtrail hold list`: the retention in force and the holds.
pub fn status(a: &StatusArgs) -> Result<Status> {
    let log = open_log_read_only(&a.log)?;
    let state = log
        .lifecycle()
        .map_err(|e| anyhow!("{}: {e}", a.log.display()))?;
    let len = log.len();
    let retention = state.in_force(len);
    let active: Vec<&HoldRecord> = state.active_holds(len);
    if a.json {
        emit(json_line(&json!({
            "retention": retention.map(|(seq, r)| json!({
                "months": r.months(),
                "short_ok": r.short_ok(),
                "seq": seq,
            })),
            "active_holds": active.iter().map(|h| hold_json(h)).collect::<Vec<_>>(),
            "holds": state.holds().iter().map(hold_json).collect::<Vec<_>>(),
        })))?;
        return Ok(Status::Ok);
    }
    let mut out = String::new();
    match retention {
        Some((seq, r)) => {
            out.push_str(&format!(
                "retention:    {} months (entry {seq})",
                r.months()
            ));
            if let Some(why) = r.short_ok() {
                out.push_str(&format!(", under six months: {why}"));
            }
        }
        None => out.push_str("retention:    none declared (nothing can be purged)"),
    }
    out.push_str(&format!(
        "\nlegal holds:  {} active, {} in all",
        active.len(),
        state.holds().len()
    ));
    for h in state.holds() {
        out.push_str(&format!(
            "\n  {:?} placed by entry {} at {}: {}",
            h.matter, h.placed, h.placed_at, h.reason
        ));
        match (h.released, &h.release_reason) {
            (Some(r), Some(why)) => out.push_str(&format!(" — released by entry {r}: {why}")),
            _ => out.push_str(" — ACTIVE"),
        }
    }
    emit(out)?;
    Ok(Status::Ok)
}

/// `sealtrail purge`.
pub fn purge(a: &PurgeArgs) -> Result<Status> {
    let before = parse_before(&a.before)?;
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let summary = if a.dry_run {
        log.purge_plan(before).map(|plan| (plan, None))
    } else {
        log.purge(&owner, before).map(|s| (s.plan, s.receipt))
    };
    let (plan, receipt) = summary.map_err(|e| purge_error(&log, a, e))?;
    let (months, declared) = plan.retention;
    if a.json {
        emit(json_line(&json!({
            "dry_run": a.dry_run,
            "before": before.to_rfc3339(),
            "retention": {"months": months, "seq": declared},
            "purged": plan.entries,
            "count": plan.entries.len(),
            "purge": receipt.as_ref().map(receipt_json),
        })))?;
        return Ok(Status::Ok);
    }
    let n = count(plan.entries.len() as u64, "payload", "payloads");
    let line = match (&receipt, a.dry_run) {
        (_, true) => format!(
            "would purge {n} whose retention ({months} months) ended by {before}: entries {}",
            list(&plan.entries)
        ),
        (Some(r), false) => format!(
            "purged {n} whose retention ({months} months) ended by {before}: purge entry {} {}",
            r.seq, r.hash
        ),
        (None, false) => {
            format!("nothing to purge: no payload's retention ({months} months) ended by {before}")
        }
    };
    emit(line)?;
    Ok(Status::Ok)
}

fn list(seqs: &[u64]) -> String {
    if seqs.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = seqs.iter().take(20).map(u64::to_string).collect();
    let more = seqs.len().saturating_sub(20);
    if more > 0 {
        format!("{} … and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn purge_error(log: &Log, a: &PurgeArgs, e: PurgeError) -> anyhow::Error {
    let d = a.log.display();
    match e {
        PurgeError::Append(e) => refused(&a.owner_key, e),
        e
        @ (PurgeError::UnderHold { .. } | PurgeError::NoRetention | PurgeError::Future { .. }) => {
            anyhow!("{d}: {e}")
        }
        e => anyhow!("{d} ({}): {e}", count(log.len(), "entry", "entries")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_months() {
        assert_eq!(months("6y").unwrap(), 72);
        assert_eq!(months("18m").unwrap(), 18);
        for bad in ["", "y", "6", "6d", "-1m", "6 y"] {
            assert!(months(bad).is_err(), "{bad}");
        }
    }
}
