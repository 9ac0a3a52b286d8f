//! `verify`: the whole local log, damaged or not.

use std::path::Path;

use anyhow::{Result, anyhow};
use sealtrail::log::{LogVerifyError, verify_dir_report};
use sealtrail::report::Report;
use sealtrail::store::StoreError;
use serde_json::json;

use crate::cli::VerifyArgs;
use crate::common::{LOCK_WAIT, Status, check_log_dir, emit, json_line};

/// Verifies the log in `dir` from its store as it lies ([`verify_store_report`]), so a log too
/// damaged to open for appends is still examined and the report names the first broken entry.
/// `Err` only when nothing can be read.
pub fn report_for(dir: &Path) -> Result<Result<Report, String>> {
    check_log_dir(dir)?;
    // Verified as it lies in the store, without opening it for appends: opening recovers from a
    // crash (removing unacknowledged entries past a gap), and verification must change nothing.
    match verify_dir_report(dir, LOCK_WAIT) {
        Ok(r) => Ok(Ok(r)),
        Err(LogVerifyError::Store(StoreError::Locked { .. })) => Err(anyhow!(
            "{}: the log is open in another process (waited {} s)",
            dir.display(),
            LOCK_WAIT.as_secs()
        )),
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
    match report_for(&a.log)? {
        Ok(report) => {
            if a.json {
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
            if a.json {
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
