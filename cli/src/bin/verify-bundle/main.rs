//! `verify-bundle`: the auditor's tool. Checks an export bundle offline against pinned keys and
//! says exactly what was proven (SPEC §12.6).

mod cli;
mod proof;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use sealtrail::bundle::{BundleError, TrustPolicy, verify_bundle_with};
use sealtrail::checkpoint::{WitnessKey, WitnessPolicy};
use sealtrail::keys::read_public_keys;

fn main() -> ExitCode {
    // `verify-bundle proof FILE …`: a tlog proof rather than a bundle.
    if std::env::args_os().nth(1).is_some_and(|a| a == "proof") {
        return run_proof();
    }
    let args = match cli::Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(&args) {
        Ok(valid) => ExitCode::from(if valid { 0 } else { 1 }),
        Err(e) => {
            eprintln!("verify-bundle: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_proof() -> ExitCode {
    let args = match proof::ProofArgs::try_parse_from(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match proof::run(&args) {
        Ok(valid) => ExitCode::from(if valid { 0 } else { 1 }),
        Err(e) => {
            eprintln!("verify-bundle: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn read_witness(arg: &str) -> Result<WitnessKey> {
    if let Ok(k) = WitnessKey::from_vkey(arg.trim()) {
        return Ok(k);
    }
    let text = std::fs::read_to_string(arg)
        .with_context(|| format!("--witness {arg}: not a witness key, and not a readable file"))?;
    WitnessKey::from_vkey(text.trim()).with_context(|| format!("--witness {arg}"))
}

fn policy(args: &cli::Args) -> Result<TrustPolicy> {
    let mut keys = Vec::new();
    for k in &args.trusted_keys {
        keys.extend(read_public_keys(k).with_context(|| format!("--trusted-key {k}"))?);
    }
    let mut policy = TrustPolicy::new(keys)?;
    if !args.witnesses.is_empty() {
        let witnesses = args
            .witnesses
            .iter()
            .map(|w| read_witness(w))
            .collect::<Result<Vec<_>>>()?;
        let quorum = args.witness_quorum.unwrap_or(witnesses.len());
        policy = policy.with_witnesses(
            WitnessPolicy::new(witnesses, quorum).context("--witness / --witness-quorum")?,
        );
    }
    if let Some(path) = &args.checkpoint {
        let note = std::fs::read(path)
            .with_context(|| format!("--checkpoint {}: cannot read", path.display()))?;
        policy = policy.with_previous_checkpoint(note);
    }
    Ok(policy)
}

fn run(args: &cli::Args) -> Result<bool> {
    if args.trusted_keys.is_empty() {
        bail!(
            "no --trusted-key given: pin the log owner's public key, obtained out of band \
             (for example the owner.key.pub file). A bundle is never trusted on the strength of \
             keys it carries."
        );
    }
    let policy = policy(args)?;
    let file = std::fs::File::open(&args.bundle)
        .with_context(|| format!("{}: cannot open", args.bundle.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A progress bar for large bundles, on a terminal only.
    let bar = (std::io::stderr().is_terminal() && size > 8 * 1024 * 1024).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} verifying {pos}/{len} entries [{bar:40}] {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let result = verify_bundle_with(file, &policy, &mut |p| {
        if let Some(bar) = &bar {
            bar.set_length(p.total);
            bar.set_position(p.done);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(BundleError::NotABundle(why)) => {
            let mut head = Vec::new();
            let _ = std::fs::File::open(&args.bundle).and_then(|f| {
                std::io::Read::read_to_end(&mut std::io::Read::take(f, 64), &mut head)
            });
            let hint = if head.starts_with(sealtrail::checkpoint::TLOG_PROOF_HEADER.as_bytes()) {
                " (it is a tlog proof: verify it with `verify-bundle proof FILE --trusted-key K`)"
            } else {
                ""
            };
            bail!(
                "{}: not a sealtrail bundle: {why}{hint}",
                args.bundle.display()
            )
        }
        Err(e) => return Err(e).with_context(|| args.bundle.display().to_string()),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.render());
    }
    Ok(report.is_valid())
}
