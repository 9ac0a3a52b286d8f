//! `verify-bundle`: the auditor's tool. Checks an export bundle offline against pinned keys and
//! says exactly what was proven (SPEC §12.6); then, if asked, reads the verified entries as
//! `sealtrail show`, `trace` and `why` read a log.

// The rendering `sealtrail show`, `trace` and `why` use, shared so that both read alike. Neither
// file needs the writer side (sled).
#[path = "../sealtrail/answer.rs"]
mod answer;
mod archive;
mod cli;
// Every file the command line writes goes through it (no silent overwrite, no symlink followed).
// Key files are the writer's business only.
#[allow(dead_code)]
#[path = "../sealtrail/output.rs"]
mod output;
mod proof;
mod query;
#[path = "../sealtrail/render.rs"]
mod render;
// The S3 transport `sealtrail archive` writes with; this tool only reads (the writes go unused).
#[cfg(feature = "s3")]
#[allow(dead_code)]
#[path = "../sealtrail/s3.rs"]
mod s3;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use sealtrail::bundle::{
    BundleError, BundleReading, Progress, TrustPolicy, verify_bundle_entries_with,
    verify_bundle_with,
};
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
            if code != 0 {
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                json_error(first.trim_start_matches("error: "), code);
            }
            return ExitCode::from(code);
        }
    };
    match run(&args) {
        Ok(valid) => ExitCode::from(if valid { 0 } else { 1 }),
        Err(e) => {
            eprintln!("verify-bundle: {e:#}");
            json_error(&format!("{e:#}"), 2);
            ExitCode::from(2)
        }
    }
}

// Every error ends in `main`: with --json (before any `--`), it is also printed on standard
// output as one JSON object, even when the arguments did not parse.
fn json_error(message: &str, exit: u8) {
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    if json {
        let error = serde_json::json!({"error": {"message": message, "exit": exit}});
        println!("{error}");
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

// The auditor's trust policy; with `Earlier::Include`, the --checkpoint too.
fn policy(args: &cli::Args, earlier: Earlier) -> Result<TrustPolicy> {
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
    if let Some(path) = &args.tsa_cert {
        let bytes = std::fs::read(path)
            .with_context(|| format!("--tsa-cert {}: cannot read", path.display()))?;
        let trust = sealtrail::timestamp::TsaTrust::from_pem_or_der(&bytes)
            .with_context(|| format!("--tsa-cert {}", path.display()))?;
        policy = policy.with_tsa(trust);
    }
    for name in &args.distrust_suites {
        let suite = sealtrail::Suite::from_name(name)
            .with_context(|| format!("--distrust-suite {name}: blake3 or sha256"))?;
        policy = policy.distrust_suite(suite);
    }
    if let (Earlier::Include, Some(note)) = (earlier, earlier_checkpoint(args)?) {
        policy = policy.with_previous_checkpoint(note);
    }
    Ok(policy)
}

/// Whether [`policy`] includes the --checkpoint (an archive applies it to one segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Earlier {
    Include,
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    Leave,
}

/// The --checkpoint file's bytes, if one was given.
fn earlier_checkpoint(args: &cli::Args) -> Result<Option<Vec<u8>>> {
    args.checkpoint
        .as_ref()
        .map(|path| {
            std::fs::read(path)
                .with_context(|| format!("--checkpoint {}: cannot read", path.display()))
        })
        .transpose()
}

fn bundle_name(args: &cli::Args) -> String {
    match (&args.bundle, &args.archive) {
        (_, Some(archive)) => archive.clone(),
        (Some(b), None) if b.as_os_str() != "-" => b.display().to_string(),
        _ => "standard input".into(),
    }
}

fn run(args: &cli::Args) -> Result<bool> {
    if args.trusted_keys.is_empty() {
        bail!(
            "no --trusted-key given: pin the log owner's public key, obtained out of band \
             (for example the owner.key.pub file). A bundle is never trusted on the strength of \
             keys it carries."
        );
    }
    let Some(bundle) = &args.bundle else {
        return archive::verify(args);
    };
    let policy = policy(args, Earlier::Include)?;
    // `-` is standard input (a pipe's size is unknown: no progress bar).
    let (file, size): (Box<dyn std::io::Read>, u64) = if bundle.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let file = std::fs::File::open(bundle)
            .with_context(|| format!("{}: cannot open", bundle.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(file), size)
    };
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
    let mut progress = |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.total);
            bar.set_position(p.done);
        }
    };
    let not_a_bundle = |e: BundleError| -> anyhow::Error {
        match e {
            BundleError::NotABundle(why) => {
                let hint = if looks_like_a_tlog_proof(args) {
                    " (it is a tlog proof: verify it with `verify-bundle proof FILE --trusted-key K`)"
                } else {
                    ""
                };
                anyhow::anyhow!("{}: not a sealtrail bundle: {why}{hint}", bundle_name(args))
            }
            e => anyhow::Error::new(e).context(bundle_name(args)),
        }
    };
    if let (Some(html), Some(_)) = (&args.html, &args.query) {
        bail!(
            "--html {}: the page is written by a verification, not by a query: run it without \
             show, trace or why",
            html.display()
        );
    }
    // Refused before any work, as every command that writes a file does.
    if let Some(html) = &args.html {
        output::refuse_existing_for(html, output::Existing::force(args.force), "--html")?;
    }
    let Some(q) = &args.query else {
        if let Some(html) = &args.html {
            // The page needs the entries: keep them while verifying.
            let result = verify_bundle_entries_with(file, &policy, &mut progress);
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let reading = result.map_err(not_a_bundle)?;
            // The page first: it is the file asked for, whatever happens to standard output.
            write_page(args, html, &reading)?;
            print_report(reading.report(), args.json)?;
            return Ok(reading.report().is_valid());
        }
        let result = verify_bundle_with(file, &policy, &mut progress);
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        let report = result.map_err(not_a_bundle)?;
        print_report(&report, args.json)?;
        return Ok(report.is_valid());
    };
    // A query: keep the entries while verifying, and answer only if every check passed.
    let result = verify_bundle_entries_with(file, &policy, &mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result.map_err(not_a_bundle)? {
        BundleReading::Valid(bundle) => query::answer(&bundle, q),
        reading => {
            print_report(reading.report(), args.json || q.json())?;
            eprintln!(
                "verify-bundle: {}: the bundle is invalid, so nothing in it is trusted: no query \
                 answered",
                bundle_name(args)
            );
            Ok(false)
        }
    }
}

// The auditor's page: written whatever the verdict (an invalid bundle's page shows the verdict
// and findings only); said on standard error, so that standard output stays the report.
fn write_page(args: &cli::Args, path: &std::path::Path, reading: &BundleReading) -> Result<()> {
    let subject = format!("bundle {}", bundle_name(args));
    let page = sealtrail::html::Page::from_reading(reading)
        .subject(&subject)
        .rendered_at(sealtrail::time::Timestamp::now())
        .render()
        .with_context(|| format!("--html {}", path.display()))?;
    output::write(path, page.as_bytes(), output::Existing::force(args.force))?;
    eprintln!(
        "verify-bundle: wrote {} ({}, {} bytes): the auditor's page, for a browser or a printer",
        path.display(),
        if reading.report().is_valid() {
            "VALID: the verdict, sessions, approvals, erasures and withheld payloads"
        } else {
            "INVALID: the verdict and findings only"
        },
        page.len()
    );
    Ok(())
}

// Whether the file given as the bundle starts like a C2SP tlog proof (never standard input,
// which is already consumed).
fn looks_like_a_tlog_proof(args: &cli::Args) -> bool {
    let Some(bundle) = args.bundle.as_ref().filter(|b| b.as_os_str() != "-") else {
        return false;
    };
    let mut head = Vec::new();
    let _ = std::fs::File::open(bundle)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 64), &mut head));
    head.starts_with(sealtrail::checkpoint::TLOG_PROOF_HEADER.as_bytes())
}

pub(crate) fn print_report(report: &sealtrail::report::Report, json: bool) -> Result<()> {
    let text = if json {
        format!("{}\n", serde_json::to_string_pretty(&report.to_json())?)
    } else {
        report.render()
    };
    write_stdout(&text)
}

/// Writes to standard output. A reader that closed it early (`verify-bundle b | head`) has what
/// it wanted: the verdict, not the pipe, decides the exit status.
pub(crate) fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
