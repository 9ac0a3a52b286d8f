//! `review-policy set|show`: declare which paths need a senior's review, and which approver
//! keys are senior (SPEC §13.14), and show the policy in force.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use sealtrail::Log;
use sealtrail::keys::{KeyId, read_public_keys};
use sealtrail::policy::{REVIEW_POLICY, ReviewPolicy};
use sealtrail::registry::{KeyRecord, Role};
use serde_json::json;

use crate::common::{Status, emit, json_line, load_secret, open_log, open_log_read_only, refused};

const REVIEW_POLICY_HELP: &str = "\
The log's owner declares which paths need a senior's review before a merge, and which approver
keys are senior. The policy is an owner-signed control entry: every bundle carries it, and every
verifier reports a later `merge` touching one of the paths without an approving `review` by a
senior key as a finding (`senior_review`). A merge that lists no `paths` while a policy is in
force is a finding too: what it touched cannot be judged. A policy replaces the one before it from
its own entry on; it never judges merges recorded before it.

  sealtrail review-policy set --log DIR --owner-key owner.key \\
      --senior-name \"Security Lead\" --path 'auth/**' --path 'crypto/**'
  sealtrail review-policy set --log DIR --owner-key owner.key --senior lead.key.pub --path 'auth/**'
  sealtrail review-policy set --log DIR --owner-key owner.key --withdraw
  sealtrail review-policy show --log DIR --json

Exit status: 0 done; 1 the log refused the entry (e.g. the key is not an owner key of the log);
2 usage error (an unknown key or name, a malformed pattern).";

/// `sealtrail review-policy …`.
#[derive(Debug, Subcommand)]
#[command(long_about = REVIEW_POLICY_HELP)]
pub enum ReviewPolicyCommand {
    /// Declare the policy: senior approver keys and the path patterns that need their review.
    Set(SetArgs),
    /// Show the policy in force at the end of the log.
    Show(ShowArgs),
}

/// `review-policy set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// An owner key of the log: it signs the policy.
    #[arg(long, value_name = "PATH")]
    pub owner_key: PathBuf,
    /// A senior approver's public key (a .key.pub file or its text). Repeat for several.
    #[arg(long = "senior", value_name = "KEY")]
    pub seniors: Vec<String>,
    /// Every active approver key of the log registered under this printed name is senior.
    /// Repeat for several.
    #[arg(long = "senior-name", value_name = "NAME")]
    pub senior_names: Vec<String>,
    /// A path pattern (SPEC §13.8: `dir/**`, `*.rs`, an exact path) whose merge needs a
    /// senior's review. Repeat for several.
    #[arg(
        long = "path",
        value_name = "PATTERN",
        required_unless_present = "withdraw"
    )]
    pub paths: Vec<String>,
    /// Withdraw the requirement (a policy with no paths): later merges need no senior review.
    #[arg(long, conflicts_with_all = ["paths", "seniors", "senior_names"])]
    pub withdraw: bool,
    /// Print the entry as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `review-policy show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `review-policy` subcommand.
pub fn run(command: &ReviewPolicyCommand) -> Result<Status> {
    match command {
        ReviewPolicyCommand::Set(a) => set(a),
        ReviewPolicyCommand::Show(a) => show(a),
    }
}

// The log's approver keys that may still sign.
fn active_approvers(log: &Log) -> Vec<KeyRecord> {
    let end = log.len();
    log.keys()
        .into_iter()
        .filter(|k| k.role == Role::Approver && k.revoked_at.is_none_or(|r| r >= end))
        .collect()
}

fn approver_list(approvers: &[KeyRecord]) -> String {
    if approvers.is_empty() {
        return "the log has no active approver key (register one with `sealtrail keys add \
                --role approver`)"
            .into();
    }
    let names: Vec<String> = approvers
        .iter()
        .map(|k| format!("{} ({})", k.name, k.key.short()))
        .collect();
    format!("the log's active approver keys: {}", names.join(", "))
}

fn senior_keys(log: &Log, a: &SetArgs) -> Result<Vec<KeyId>> {
    let approvers = active_approvers(log);
    let mut keys = Vec::new();
    for arg in &a.seniors {
        let read = read_public_keys(arg).map_err(|e| anyhow!("--senior {arg}: {e}"))?;
        for k in read {
            let id = k.key_id();
            if !approvers.iter().any(|r| r.key == id) {
                return Err(anyhow!(
                    "--senior {arg}: key {} is not an active approver key of this log; {}",
                    id.short(),
                    approver_list(&approvers)
                ));
            }
            keys.push(id);
        }
    }
    for name in &a.senior_names {
        let named: Vec<KeyId> = approvers
            .iter()
            .filter(|r| &r.name == name)
            .map(|r| r.key)
            .collect();
        if named.is_empty() {
            return Err(anyhow!(
                "--senior-name {name:?}: no active approver key has that printed name; {}",
                approver_list(&approvers)
            ));
        }
        keys.extend(named);
    }
    if !a.withdraw && keys.is_empty() {
        return Err(anyhow!(
            "a policy with paths needs at least one senior key: give --senior or --senior-name",
        ));
    }
    Ok(keys)
}

fn set(a: &SetArgs) -> Result<Status> {
    let log = open_log(&a.log)?;
    let owner = load_secret(&a.owner_key)?;
    let keys = senior_keys(&log, a)?;
    let policy = ReviewPolicy::new(keys, a.paths.clone()).map_err(|e| anyhow!("policy: {e}"))?;
    let receipt = log
        .declare_review_policy(&owner, &policy)
        .map_err(|e| refused(&a.owner_key, e))?;
    log.flush()
        .map_err(|e| anyhow!("{}: {e}", a.log.display()))?;
    if a.json {
        emit(json_line(&json!({
            "seq": receipt.seq,
            "hash": receipt.hash.to_hex(),
            "time": receipt.time.to_rfc3339(),
            "policy": policy_json(&log, &policy),
        })))?;
    } else if a.withdraw {
        emit(format!(
            "entry {}: review policy withdrawn; merges after it need no senior review",
            receipt.seq
        ))?;
    } else {
        emit(format!(
            "entry {}: merges touching {} need an approving review by {}",
            receipt.seq,
            policy.senior_paths().join(", "),
            senior_names(&log, &policy).join(", ")
        ))?;
    }
    Ok(Status::Ok)
}

fn senior_names(log: &Log, policy: &ReviewPolicy) -> Vec<String> {
    let keys = log.keys();
    policy
        .senior_keys()
        .iter()
        .map(|id| {
            keys.iter()
                .find(|k| &k.key == id)
                .map_or_else(|| id.short(), |k| format!("{} ({})", k.name, id.short()))
        })
        .collect()
}

fn policy_json(log: &Log, policy: &ReviewPolicy) -> serde_json::Value {
    let keys = log.keys();
    let seniors: Vec<serde_json::Value> = policy
        .senior_keys()
        .iter()
        .map(|id| {
            json!({
                "key": id.to_string(),
                "name": keys.iter().find(|k| &k.key == id).map(|k| k.name.clone()),
            })
        })
        .collect();
    json!({
        "senior_paths": policy.senior_paths(),
        "senior_keys": seniors,
    })
}

fn show(a: &ShowArgs) -> Result<Status> {
    let log = open_log_read_only(&a.log)?;
    let chain = log
        .control_chain(log.len())
        .map_err(|e| anyhow!("{}: {e}", a.log.display()))?;
    let latest = chain
        .iter()
        .rev()
        .find(|e| e.entry.header().kind.as_str() == REVIEW_POLICY);
    let in_force = match latest {
        None => None,
        Some(e) => {
            let data = e.payload.data().ok_or_else(|| {
                anyhow!("entry {}: the review policy's payload is missing", e.seq())
            })?;
            let policy =
                ReviewPolicy::decode(data).map_err(|err| anyhow!("entry {}: {err}", e.seq()))?;
            Some((e.seq(), policy))
        }
    };
    if a.json {
        let value = match &in_force {
            None => json!({"schema": "sealtrail.review-policy/1", "seq": null, "policy": null}),
            Some((seq, p)) => json!({
                "schema": "sealtrail.review-policy/1",
                "seq": seq,
                "policy": policy_json(&log, p),
            }),
        };
        emit(json_line(&value))?;
        return Ok(Status::Ok);
    }
    match in_force {
        None => emit(format!(
            "{}: no review policy; merges need no senior review",
            a.log.display()
        ))?,
        Some((seq, p)) if p.senior_paths().is_empty() => emit(format!(
            "entry {seq}: review policy withdrawn; merges need no senior review"
        ))?,
        Some((seq, p)) => {
            emit(format!(
                "entry {seq}: merges touching these paths need an approving review by a senior \
                 key"
            ))?;
            for path in p.senior_paths() {
                emit(format!("  path:   {path}"))?;
            }
            for name in senior_names(&log, &p) {
                emit(format!("  senior: {name}"))?;
            }
        }
    }
    Ok(Status::Ok)
}
