//! `erase`: erase one entry's payload while the chain and every proof stay valid (SPEC §6.5).

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Args;
use sealtrail::log::EraseError;
use serde_json::json;

use crate::common::{Status, count, emit, invalid, json_line, load_secret, open_log, refused};

pub const ERASE_HELP: &str = "\
Erase the payload of one entry, for example under GDPR Art. 17: an owner key signs an `erasure`
entry that links to it and records --reason, then the payload and its salt are deleted. The
entry's commitment stays, so the chain, every checkpoint and every proof still verify, and
bundles show the payload as erased.

Key-management, approval and erasure payloads cannot be erased (the log's verification depends
on them), nor a payload erased already: those are refused with exit status 1.

  sealtrail erase --log DIR --owner-key owner.key --seq 15 --reason \"GDPR Art. 17 request 2291\"";

/// `erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An owner key of the log: it signs the erasure entry.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// The entry whose payload to erase.
    #[arg(long, value_name = "N")]
    pub seq: u64,
    /// Why, recorded in the log's erasure entry.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Print the erasure as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `sealtrail erase`.
pub fn erase(a: &EraseArgs) -> Result<Status> {
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let kind = log
        .read(a.seq)?
        .map(|e| e.header().kind.as_str().to_owned());
    let receipt = log
        .erase_payload(&owner, a.seq, &a.reason)
        .map_err(|e| match e {
            EraseError::NoSuchEntry(seq) => invalid(format!(
                "--seq {seq}: no entry {seq} in the log {} (it has {})",
                a.log.display(),
                count(log.len(), "entry", "entries")
            )),
            e @ (EraseError::Required { .. } | EraseError::AlreadyErased(_)) => {
                invalid(format!("{}: {e}", a.log.display()))
            }
            EraseError::Append(e) => refused(&a.owner_key, e),
            e => anyhow!("{}: {e}", a.log.display()),
        })?;
    let kind = kind.unwrap_or_default();
    if a.json {
        emit(json_line(&json!({
            "erased": a.seq,
            "kind": kind,
            "erasure": {
                "seq": receipt.seq,
                "hash": receipt.hash.to_hex(),
                "time": receipt.time.to_rfc3339(),
            },
            "reason": a.reason,
        })))?;
    } else {
        emit(format!(
            "erased the payload of entry {} ({kind}): erasure entry {} {}",
            a.seq, receipt.seq, receipt.hash
        ))?;
    }
    Ok(Status::Ok)
}
