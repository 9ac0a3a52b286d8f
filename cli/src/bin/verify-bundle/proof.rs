//! `verify-bundle proof FILE`: checks a `c2sp.org/tlog-proof@v1` file (what `sealtrail prove`
//! writes) offline, and says exactly what it proved (SPEC §11.7).

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use sealtrail::EntryHash;
use sealtrail::checkpoint::{
    CosignatureStatus, ExpectedEntry, MAX_PROOF_SIZE, ProofCheckError, TlogProofError, Witnesses,
    verify_tlog_proof,
};
use sealtrail::keys::read_public_keys;
use serde_json::json;

/// Verifies an offline inclusion proof (`.tlog-proof`, from `sealtrail prove`) against pinned
/// keys: the checkpoint's signature (and witnesses), the inclusion proof against its root, and
/// that the proven leaf is the entry you name.
///
/// Exit status: 0 the proof holds; 1 it does not (any tamper, wrong key, another entry);
/// 2 usage error, or a file cannot be read.
#[derive(Debug, Parser)]
#[command(name = "verify-bundle proof", version, about, long_about = None)]
#[command(after_help = "\
Examples:
  verify-bundle proof e18.tlog-proof --trusted-key log.vkey --entry-hash 3f9a…
  verify-bundle proof e18.tlog-proof --trusted-key log.vkey --entry e18.entry --json
  verify-bundle proof e18.tlog-proof --trusted-key log.vkey --witness w1.pub --witness-quorum 1

Without --entry or --entry-hash, the proof shows only that some entry with the hash the proof
itself carries is in the log: name the entry you expect to learn that it is that one.")]
pub struct ProofArgs {
    /// The proof file.
    pub proof: PathBuf,

    /// The log's verifier key (LOG.vkey: named after the checkpoint origin line) or a file of
    /// keys. Repeat for several. At least one is required.
    #[arg(long = "trusted-key", value_name = "KEY")]
    pub trusted_keys: Vec<String>,

    /// The entry, in its wire form (SPEC §6.1): hashed with the log's suite; it must sit at the
    /// proof's index.
    #[arg(long, value_name = "FILE", conflicts_with = "entry_hash")]
    pub entry: Option<PathBuf>,

    /// The entry hash you expect (64 hex digits, SPEC §6.3).
    #[arg(long, value_name = "HEX")]
    pub entry_hash: Option<String>,

    /// A witness verifier key (C2SP, type 0x04) or a file holding one. Repeat for several.
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,

    /// How many of the --witness keys must have cosigned the proof's checkpoint (default: all).
    #[arg(long, value_name = "K", requires = "witnesses")]
    pub witness_quorum: Option<usize>,

    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Runs `verify-bundle proof`; Ok(true) when the proof holds.
pub fn run(args: &ProofArgs) -> Result<bool> {
    if args.trusted_keys.is_empty() {
        bail!(
            "no --trusted-key given: pin the log's verifier key (LOG.vkey), obtained out of band"
        );
    }
    let mut keys = Vec::new();
    for k in &args.trusted_keys {
        keys.extend(read_public_keys(k).with_context(|| format!("--trusted-key {k}"))?);
    }
    let witnesses = if args.witnesses.is_empty() {
        Witnesses::NotRequired
    } else {
        let list = args
            .witnesses
            .iter()
            .map(|w| crate::read_witness(w))
            .collect::<Result<Vec<_>>>()?;
        let quorum = args.witness_quorum.unwrap_or(list.len());
        Witnesses::Quorum(
            sealtrail::checkpoint::WitnessPolicy::new(list, quorum)
                .context("--witness / --witness-quorum")?,
        )
    };
    let bytes = read_bounded(&args.proof, MAX_PROOF_SIZE)?;
    let entry_bytes = match &args.entry {
        Some(p) => Some(read_bounded(p, 16 * 1024 * 1024)?),
        None => None,
    };
    let expected = match (&entry_bytes, &args.entry_hash) {
        (Some(b), _) => ExpectedEntry::Bytes(b),
        (None, Some(h)) => ExpectedEntry::Hash(
            h.trim()
                .parse::<EntryHash>()
                .map_err(|e| anyhow::anyhow!("--entry-hash {h}: {e}"))?,
        ),
        (None, None) => ExpectedEntry::Carried,
    };
    let shown = args.proof.display();
    match verify_tlog_proof(&bytes, &keys, witnesses, expected) {
        Ok(v) => {
            let c = &v.checkpoint;
            let cosigners: Vec<_> = c
                .witnesses()
                .outcomes()
                .iter()
                .filter_map(|o| match o.status {
                    CosignatureStatus::Valid { time } => Some((o.witness.name().to_owned(), time)),
                    _ => None,
                })
                .collect();
            let which = match expected {
                ExpectedEntry::Carried => "taken from the proof itself: no entry was named",
                ExpectedEntry::Hash(_) => "the hash given with --entry-hash",
                ExpectedEntry::Bytes(_) => "the hash of the --entry file",
                _ => "the entry",
            };
            if args.json {
                let report = json!({
                    "verdict": "valid",
                    "proof": shown.to_string(),
                    "entry": {"seq": v.seq, "hash": v.entry_hash.to_hex(), "from": which},
                    "checkpoint": {
                        "origin": c.checkpoint().origin(),
                        "size": c.size(),
                        "root": c.root().to_hex(),
                        "log_id": c.log_id().to_hex(),
                        "signer": c.signer().to_string(),
                    },
                    "witnesses": cosigners
                        .iter()
                        .map(|(n, t)| json!({"name": n, "time": t}))
                        .collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("VALID: {shown}");
                println!("  entry {} with hash {} ({which})", v.seq, v.entry_hash);
                println!(
                    "  is included in the log {} (log id {}) at tree size {}, root {},",
                    c.checkpoint().origin(),
                    c.log_id().short(),
                    c.size(),
                    c.root()
                );
                println!(
                    "  whose checkpoint is signed by the pinned key {}",
                    c.signer().short()
                );
                for (name, time) in &cosigners {
                    println!("  and cosigned by witness {name} at time {time}");
                }
                if matches!(expected, ExpectedEntry::Carried) {
                    println!(
                        "  (name the entry with --entry or --entry-hash to prove it is the one \
                         you mean)"
                    );
                }
            }
            Ok(true)
        }
        Err(ProofCheckError::Parse(
            e @ (TlogProofError::MissingHeader
            | TlogProofError::TooLarge { .. }
            | TlogProofError::InvalidUtf8 { .. }),
        )) => bail!("{shown}: not a tlog proof: {e}"),
        Err(ProofCheckError::Policy(e)) => bail!("{e}"),
        Err(e) => {
            if args.json {
                let report = json!({
                    "verdict": "invalid",
                    "proof": shown.to_string(),
                    "error": e.to_string(),
                });
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("INVALID: {shown}: {e}");
            }
            Ok(false)
        }
    }
}

fn read_bounded(path: &std::path::Path, max: usize) -> Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    if bytes.len() > max {
        bail!("{}: larger than {max} bytes", path.display());
    }
    Ok(bytes)
}
