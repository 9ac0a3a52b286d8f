//! `renew`: re-protect a log's entries under another hash suite (SPEC §15.6).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sealtrail::Suite;
use sealtrail::renewal::SignedRenewal;
use serde_json::json;

use crate::common::{Status, emit, invalid, json_line, load_secret, open_log};

pub const RENEW_HELP: &str = "\
Renew a log under another hash suite before its own weakens (RFC 4998's idea, SPEC §15.6),
without changing a byte of what was written: the owner signs a renewal note that fixes the
RFC 6962 root, under the new suite, of the tree whose leaves are the entries' hashes under the
new suite, and that names (and carries) every earlier protection the log keeps up to that size:
its checkpoint notes, earlier renewals and RFC 3161 timestamp tokens. The renewal is stored in
the log; renewing the same size under the same suite again prints the stored one.

Exports from entry 0 carry the renewals of the entries they hold, `sealtrail archive` uploads
them (renewals/<suite>-<size>.renewal, locked like the other objects; a later run adds them to
an archive written before), and `verify-bundle` checks each against the entries. An auditor who
no longer trusts the log's own suite says so, and the verdict then rests on the renewals:

  sealtrail renew --log DIR --owner-key owner.key --suite sha256
  sealtrail archive --log DIR --owner-key owner.key --to s3://audit-archive/agent-log
  verify-bundle --archive s3://audit-archive/agent-log --trusted-key log.vkey --distrust-suite blake3";

/// The suites a log can be renewed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SuiteArg {
    /// SHA-256 (FIPS 180-4): the renewal of a blake3 log.
    Sha256,
    /// BLAKE3: the renewal of a sha256 log.
    Blake3,
}

impl SuiteArg {
    fn suite(self) -> Suite {
        match self {
            SuiteArg::Sha256 => Suite::Sha256,
            SuiteArg::Blake3 => Suite::Blake3,
        }
    }
}

/// `renew`.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An active owner key of the log: it signs the renewal.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// The suite to renew under (not the log's own).
    #[arg(long, value_enum)]
    pub suite: SuiteArg,
    /// Renew entries 0..N (default: every entry).
    #[arg(long, value_name = "N")]
    pub size: Option<u64>,
    /// Print the outcome as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `sealtrail renew`.
pub fn renew(a: &RenewArgs) -> Result<Status> {
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let (stored, new) = log
        .renew(&owner, a.suite.suite(), a.size)
        .map_err(|e| invalid(format!("renew: {e}")))?;
    let signed = SignedRenewal::parse(&stored.item.note)
        .map_err(|e| invalid(format!("the stored renewal: {e}")))?;
    let r = signed.renewal();
    let kinds: Vec<&str> = r.protects.iter().map(|p| p.kind.as_str()).collect();
    if a.json {
        emit(json_line(&json!({
            "log": a.log.display().to_string(),
            "suite": r.suite.name(),
            "renews": r.renews.name(),
            "size": r.size,
            "root": r.root.to_hex(),
            "log_id": r.log_id.to_hex(),
            "time": sealtrail::Timestamp(r.time.saturating_mul(1_000_000_000)).to_rfc3339(),
            "protects": kinds,
            "new": new,
            "note": String::from_utf8_lossy(&stored.item.note),
        })))?;
    } else {
        emit(format!(
            "{}: entries 0..{} {} under {} (root {}), signed by owner key {}; it protects {} \
             earlier item(s){}",
            a.log.display(),
            r.size,
            if new {
                "renewed"
            } else {
                "were already renewed"
            },
            r.suite,
            r.root.to_hex(),
            owner.key_id().short(),
            kinds.len(),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        ))?;
    }
    Ok(Status::Ok)
}
