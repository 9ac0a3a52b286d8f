//! SPEC §12.7: the RFC 3161 timestamp tokens a bundle's header carries, each over the note of a
//! checkpoint the bundle carries, verified against the auditor's trusted TSA certificate.

use super::Verifier;
use crate::checkpoint::SignedCheckpoint;
use crate::report::{TimestampStatus, TimestampSummary};
use crate::verify::Check;

impl Verifier<'_> {
    pub(super) fn check_timestamps(&mut self) {
        let items = std::mem::take(&mut self.header.timestamps);
        for (i, t) in items.iter().enumerate() {
            let n = i + 1;
            // The token's note must have the body of a carried checkpoint that verified: only
            // then does its imprint bind a tree this bundle is proven against.
            let note = SignedCheckpoint::parse(&t.note);
            let carried = note.as_ref().ok().and_then(|note| {
                self.checkpoints
                    .iter()
                    .find(|c| c.checkpoint() == note.checkpoint())
                    .cloned()
            });
            let Some(checkpoint) = carried else {
                let size = note.as_ref().map_or(0, |c| c.checkpoint().size());
                self.report.finding(
                    None,
                    Check::Timestamp,
                    format!(
                        "timestamp {n}: its note is not one of the bundle's verified \
                         checkpoints, so it proves nothing about these entries"
                    ),
                );
                self.report.timestamp(TimestampSummary {
                    size,
                    status: TimestampStatus::Failed,
                    time: None,
                    tsa: None,
                    detail: "FAILED: not over one of the bundle's verified checkpoints".into(),
                });
                continue;
            };
            self.check_token(n, &t.note, &t.token, &checkpoint);
        }
        self.header.timestamps = items;
    }

    #[cfg(feature = "tsa")]
    fn check_token(
        &mut self,
        n: usize,
        note: &[u8],
        token: &[u8],
        checkpoint: &crate::checkpoint::VerifiedCheckpoint,
    ) {
        use crate::report::Proven;
        let size = checkpoint.size();
        let Some(trust) = &self.policy.tsa else {
            self.report.timestamp(not_checked(size));
            return;
        };
        match crate::timestamp::verify_token(token, note, trust) {
            Ok(info) => {
                let time = info.time.to_rfc3339();
                self.report.proven(Proven::EntriesTimestamped {
                    size,
                    root: checkpoint.root(),
                    time: time.clone(),
                    tsa: info.tsa.clone(),
                    serial: info.serial.clone(),
                });
                // Entries below the checkpoint's size existed by the TSA's time: one dated
                // later is a `time` finding, like any other time bound (SPEC §12.6 step 6).
                self.time_bounds.add_below(
                    info.time,
                    format!(
                        "the time the TSA {} timestamped the checkpoint of size {size}",
                        info.tsa
                    ),
                    size,
                );
                self.report.timestamp(TimestampSummary {
                    size,
                    status: TimestampStatus::Verified,
                    time: Some(time.clone()),
                    tsa: Some(info.tsa.clone()),
                    detail: format!(
                        "entries 0..{size} existed no later than {time} (TSA {})",
                        info.tsa
                    ),
                });
            }
            Err(e) => {
                self.report.finding(
                    None,
                    Check::Timestamp,
                    format!("timestamp {n} (checkpoint of size {size}): {e}"),
                );
                self.report.timestamp(TimestampSummary {
                    size,
                    status: TimestampStatus::Failed,
                    time: None,
                    tsa: None,
                    detail: format!("FAILED: {e}"),
                });
            }
        }
    }

    #[cfg(not(feature = "tsa"))]
    fn check_token(
        &mut self,
        _n: usize,
        _note: &[u8],
        _token: &[u8],
        checkpoint: &crate::checkpoint::VerifiedCheckpoint,
    ) {
        self.report.timestamp(TimestampSummary {
            size: checkpoint.size(),
            status: TimestampStatus::NotChecked,
            time: None,
            tsa: None,
            detail: "not checked (this verifier was built without RFC 3161 support, the `tsa` \
                     feature)"
                .into(),
        });
    }
}

#[cfg(feature = "tsa")]
fn not_checked(size: u64) -> TimestampSummary {
    TimestampSummary {
        size,
        status: TimestampStatus::NotChecked,
        time: None,
        tsa: None,
        detail: "not checked (no trusted TSA certificate given: --tsa-cert)".into(),
    }
}
