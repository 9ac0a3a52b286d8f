//! `verify`: the whole local log, damaged or not.

use std::path::Path;

use anyhow::{Result, anyhow};
use sealtrail::html::Page;
use sealtrail::log::{LogVerifyError, verify_dir_report};
use sealtrail::report::{Report, ReportBuilder};
use sealtrail::time::Timestamp;
use sealtrail::{Check, LogId, Suite};
use serde_json::json;

use crate::cli::{ReportArgs, VerifyArgs};
use crate::common::{Status, check_log_dir, emit, json_line, open_log_read_only};
use crate::output::{self, Existing};

/// Verifies the log in `dir` from its store as it lies ([`verify_store_report`]), so a log too
/// damaged to open for appends is still examined and the report names the first broken entry.
/// `Err` only when nothing can be read.
pub fn report_for(dir: &Path) -> Result<Result<Report, String>> {
    check_log_dir(dir)?;
    // Verified as it lies in the store, without opening it for appends: opening recovers from a
    // crash (removing unacknowledged entries past a gap), and verification must change nothing.
    match verify_dir_report(dir) {
        Ok(r) => Ok(Ok(r)),
        Err(LogVerifyError::NotALog) => Err(anyhow!(
            "{}: not a sealtrail log (no descriptor found)",
            dir.display()
        )),
        Err(LogVerifyError::Invalid(e)) => Ok(Err(e.to_string())),
        Err(e) => Err(anyhow!("{}: reading the log failed: {e}", dir.display())),
    }
}

/// `sealtrail verify`.
pub fn verify(a: &VerifyArgs) -> Result<Status> {
    print(&report_for(&a.log)?, a.json)
}

// The report on standard output, as `verify` prints it; the status its verdict gives.
fn print(result: &Result<Report, String>, json: bool) -> Result<Status> {
    match result {
        Ok(report) => {
            if json {
                emit(json_line(&report.to_json()))?;
            } else {
                emit(report.render().trim_end())?;
            }
            Ok(if report.is_valid() {
                Status::Ok
            } else {
                Status::Invalid
            })
        }
        // The descriptor itself does not verify: nothing else can be.
        Err(message) => {
            if json {
                emit(json_line(&json!({
                    "verdict": "invalid",
                    "findings": [{"seq": null, "check": "descriptor", "message": message}],
                })))?;
            } else {
                emit(format!(
                    "verdict:     INVALID\nfindings:    1\n  [descriptor]: {message}"
                ))?;
            }
            Ok(Status::Invalid)
        }
    }
}

/// `sealtrail report --html FILE`: verifies the log as `verify` does, prints the same report, and
/// writes the auditor's page — with the log's entries only when every check passed.
pub fn report(a: &ReportArgs) -> Result<Status> {
    if let Some(crate::cli::ReportCommand::Defects(d)) = &a.command {
        return crate::ownership::defects(d);
    }
    let html = a
        .html
        .as_deref()
        .ok_or_else(|| anyhow!("report: --html FILE is required"))?;
    let existing = Existing::force(a.force);
    // Refused before the log is read, as every command that writes a file does.
    output::refuse_existing_for(html, existing, "--html")?;
    let result = report_for(&a.log)?;
    let report = match &result {
        Ok(report) => report.clone(),
        Err(message) => descriptor_failure(message),
    };
    let subject = format!("log {}", a.log.display());
    let log;
    let mut tables = Vec::new();
    let page = if report.is_valid() {
        // Opened once verified; the page draws the entries the report covers, no later ones.
        log = open_log_read_only(&a.log)?;
        if let Some(repo) = &a.repo {
            tables = crate::ownership::defect_tables(&log, repo, a.period, &a.agents)?;
        }
        Page::verified(&report, &log)
    } else {
        Page::report_only(&report)
    };
    let page = page
        .defects(&tables)
        .subject(&subject)
        .rendered_at(Timestamp::now())
        .render()
        .map_err(|e| anyhow!("{}: reading the log failed: {e}", a.log.display()))?;
    // The page first: it is the file asked for, whatever happens to standard output.
    output::write(html, page.as_bytes(), existing)?;
    let status = print(&result, a.json)?;
    eprintln!(
        "wrote {} ({}, {} bytes): the auditor's page, for a browser or a printer",
        html.display(),
        if report.is_valid() {
            "VALID: the verdict, sessions, approvals and erasures"
        } else {
            "INVALID: the verdict and findings only"
        },
        page.len()
    );
    Ok(status)
}

// The report of a log whose descriptor does not verify: nothing about it is known.
fn descriptor_failure(message: &str) -> Report {
    let mut b = ReportBuilder::new(
        "(unknown: the descriptor does not verify)",
        Suite::Blake3,
        LogId([0; 32]),
    );
    b.finding(None, Check::Descriptor, message);
    let mut report = b.finish();
    report.log.suite = "unknown".into();
    report.log.log_id = "unknown".into();
    report
}
