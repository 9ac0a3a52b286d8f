//! Archives in object storage: a log as a chain of contiguous bundles, and their verification
//! (SPEC §15).
//!
//! An archive is a set of write-once objects under a prefix: **segments**, each a contiguous
//! bundle (SPEC §12.2) of entries `start..end`; the **checkpoint** each archive run signed; and
//! one **manifest** per run, written last, listing every segment from entry 0 to the run's size.
//! Object names carry zero-padded numbers so that a listing sorts them in log order.
//!
//! This module knows nothing of any storage service: it names objects, plans what a run must
//! upload, and verifies a manifest's segments read from any [`Read`] — the S3 transport lives in
//! the command line. Nothing in a manifest is trusted: it only says where the segments are, and
//! every segment is verified against the pinned keys, each tied to the one before it.

use std::io::Read;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::bundle::{
    BundleError, Progress, TrustPolicy, verify_bundle_renewing, verify_bundle_with,
};
use crate::checkpoint::SignedCheckpoint;
use crate::hash::RootHash;
use crate::report::{Finding, Report, SessionSummary, TimeSpan, Validity};
use crate::verify::Check;

/// The `schema` of a manifest this crate writes and reads.
pub const MANIFEST_SCHEMA: &str = "sealtrail.archive/1";
/// The largest manifest a reader accepts (a segment record is about 200 bytes).
pub const MAX_MANIFEST_LEN: u64 = 64 * 1024 * 1024;
/// Entries per segment unless asked otherwise: a resumed run redoes at most one segment.
pub const DEFAULT_SEGMENT_ENTRIES: u64 = 65_536;

const SEGMENTS: &str = "segments/";
const CHECKPOINTS: &str = "checkpoints/";
const MANIFESTS: &str = "manifests/";
const RENEWALS: &str = "renewals/";

/// The object name of the renewal of entries `0..size` under `suite` (SPEC §15.6).
pub fn renewal_key(suite: crate::hash::Suite, size: u64) -> String {
    format!("{RENEWALS}{suite}-{size:020}.renewal")
}

/// The suite and size of a renewal object name, or `None` if it names no renewal.
pub fn parse_renewal_key(key: &str) -> Option<(crate::hash::Suite, u64)> {
    let rest = key.strip_prefix(RENEWALS)?.strip_suffix(".renewal")?;
    let (suite, size) = rest.split_once('-')?;
    Some((crate::hash::Suite::from_name(suite)?, parse_padded(size)?))
}

/// The most renewal objects an archive verification reads.
pub const MAX_ARCHIVE_RENEWALS: usize = 256;

/// The object name (under the archive's prefix) of the segment of entries `start..end`.
pub fn segment_key(start: u64, end: u64) -> String {
    format!("{SEGMENTS}{start:020}-{end:020}.bundle")
}

/// The object name of the checkpoint an archive run signed at `size`.
pub fn checkpoint_key(size: u64) -> String {
    format!("{CHECKPOINTS}{size:020}.checkpoint")
}

/// The object name of the manifest of the archive run that reached `size`.
pub fn manifest_key(size: u64) -> String {
    format!("{MANIFESTS}{size:020}.json")
}

/// The entries of a segment object name, or `None` if it names no segment.
pub fn parse_segment_key(key: &str) -> Option<Range<u64>> {
    let rest = key.strip_prefix(SEGMENTS)?.strip_suffix(".bundle")?;
    let (a, b) = rest.split_once('-')?;
    let (start, end) = (parse_padded(a)?, parse_padded(b)?);
    (start < end).then_some(start..end)
}

/// The size of a manifest object name, or `None` if it names no manifest.
pub fn parse_manifest_key(key: &str) -> Option<u64> {
    parse_padded(key.strip_prefix(MANIFESTS)?.strip_suffix(".json")?)
}

fn parse_padded(s: &str) -> Option<u64> {
    if s.len() != 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// One segment as a manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRecord {
    /// Its object name under the prefix ([`segment_key`]).
    pub key: String,
    /// Its first entry.
    pub start: u64,
    /// One past its last entry.
    pub end: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of its bytes, hex (what the object's `x-amz-checksum-sha256` says in base64).
    pub sha256: String,
}

/// The index an archive run writes last (SPEC §15.2): where the segments are. Untrusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_SCHEMA`].
    pub schema: String,
    /// The log's id, hex.
    pub log_id: String,
    /// The log's origin line.
    pub origin: String,
    /// The log's size when the run signed its checkpoint: every segment ends at or below it.
    pub size: u64,
    /// The object name of that checkpoint ([`checkpoint_key`]).
    pub checkpoint: String,
    /// When the run wrote the manifest (RFC 3339, UTC).
    pub created: String,
    /// Every segment from entry 0 to `size`, in order.
    pub segments: Vec<SegmentRecord>,
}

/// A manifest that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not JSON of the manifest's shape.
    #[error("not a sealtrail archive manifest: {0}")]
    Json(#[from] serde_json::Error),
    /// Another schema.
    #[error("manifest schema {found:?}; this verifier reads {MANIFEST_SCHEMA:?}")]
    Schema {
        /// The schema found.
        found: String,
    },
}

impl Manifest {
    /// Parses a manifest's bytes (JSON).
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let m: Manifest = serde_json::from_slice(bytes)?;
        if m.schema != MANIFEST_SCHEMA {
            return Err(ManifestError::Schema { found: m.schema });
        }
        Ok(m)
    }

    /// The manifest as pretty JSON, newline-terminated.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// One past the last entry its segments hold (0 without segments).
    pub fn end(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.end)
    }
}

/// What one archive run does to reach `size` (SPEC §15.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Segments already in the bucket from an interrupted run that the new manifest lists as
    /// they are (in order, starting where the last manifest ended).
    pub reuse: Vec<Range<u64>>,
    /// Segments to write, in order, after those.
    pub upload: Vec<Range<u64>>,
}

/// Plans a run: from `archived` (the end of the latest manifest's segments), follow the segment
/// objects already present (`existing`, any order) that an interrupted run left, then cut the
/// rest up to `size` into segments of at most `per_segment` entries. A segment that reaches
/// beyond `size` is never reused (it belongs to another history, or to a longer log).
pub fn plan(archived: u64, existing: &[Range<u64>], size: u64, per_segment: u64) -> Plan {
    let per_segment = per_segment.max(1);
    let mut at = archived;
    let mut reuse = Vec::new();
    // The longest segment starting at `at` that fits: a resumed run never splits old work.
    while let Some(r) = existing
        .iter()
        .filter(|r| r.start == at && r.end <= size)
        .max_by_key(|r| r.end)
    {
        reuse.push(r.clone());
        at = r.end;
    }
    let mut upload = Vec::new();
    while at < size {
        let end = size.min(at.saturating_add(per_segment));
        upload.push(at..end);
        at = end;
    }
    Plan { reuse, upload }
}

/// The archive could not be read at all (a segment object missing, the service failing). Every
/// failed check is a finding in the report instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A segment could not be fetched.
    #[error("{key}: cannot read: {source}")]
    Fetch {
        /// The segment's object name.
        key: String,
        /// Why.
        source: std::io::Error,
    },
    /// A segment is not a bundle, or could not be read to its end.
    #[error("{key}: {source}")]
    Bundle {
        /// The segment's object name.
        key: String,
        /// Why.
        source: BundleError,
    },
}

/// Where verification of an archive has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveProgress {
    /// Segments verified so far (the current one not included).
    pub segment: usize,
    /// Segments the manifest lists.
    pub segments: usize,
    /// Entries of the current segment checked so far.
    pub done: u64,
    /// Entries of the current segment.
    pub total: u64,
}

/// Verifies an archive (SPEC §15.4): each segment the manifest lists, read with `fetch` and
/// streamed through the bundle verifier under `policy`, each segment's anchor tied to the one
/// before it, and the segments contiguous from entry 0 to the manifest's size. `earlier` is a
/// checkpoint the auditor saw before (signed note bytes): the segment that reaches its size must
/// prove the log grew from it. The result is one report, as for a bundle, whose findings name
/// the segment.
pub fn verify_archive(
    manifest: &Manifest,
    policy: &TrustPolicy,
    earlier: Option<&[u8]>,
    fetch: &mut dyn FnMut(&SegmentRecord) -> std::io::Result<Box<dyn Read>>,
    progress: &mut dyn FnMut(ArchiveProgress),
) -> Result<Report, ArchiveError> {
    verify_archive_with(manifest, policy, earlier, &[], fetch, progress)
}

/// [`verify_archive`], with the archive's renewals (the bytes of its `renewals/` objects,
/// SPEC §15.6): each is checked against the renewal trees the segments' entries give, streamed
/// across segments; with the log's suite distrusted ([`TrustPolicy::distrust_suite`]), every
/// entry of the archive must be covered by one that verified.
pub fn verify_archive_with(
    manifest: &Manifest,
    policy: &TrustPolicy,
    earlier: Option<&[u8]>,
    renewals: &[Vec<u8>],
    fetch: &mut dyn FnMut(&SegmentRecord) -> std::io::Result<Box<dyn Read>>,
    progress: &mut dyn FnMut(ArchiveProgress),
) -> Result<Report, ArchiveError> {
    let items: Vec<Result<crate::renewal::RenewalItem, crate::renewal::RenewalError>> = renewals
        .iter()
        .map(|b| crate::renewal::RenewalItem::decode(b))
        .collect();
    let mut tree = Some(crate::renewal::RenewalTree::new(
        items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .filter_map(|i| crate::renewal::SignedRenewal::parse(&i.note).ok())
            .map(|s| (s.renewal().suite, s.renewal().size)),
    ));
    let segment_policy = policy.trusting_every_suite();
    let mut merged: Option<Report> = None;
    let mut extra: Vec<Finding> = Vec::new();
    let mut expected = 0u64;
    let mut previous: Option<(u64, RootHash)> = None;
    let segments = manifest.segments.len();
    // The earlier checkpoint goes to the first segment that reaches its size, or the last.
    let earlier_size = earlier.and_then(|n| {
        SignedCheckpoint::parse(n)
            .ok()
            .map(|c| c.checkpoint().size())
    });
    let earlier_at = earlier.map(|_| {
        manifest
            .segments
            .iter()
            .position(|s| earlier_size.is_some_and(|e| s.start <= e && e <= s.end))
            .unwrap_or(segments.saturating_sub(1))
    });
    if segments == 0 {
        extra.push(finding(
            None,
            Check::Sequence,
            "the manifest lists no segment".into(),
        ));
    }
    for (i, seg) in manifest.segments.iter().enumerate() {
        if parse_segment_key(&seg.key) != Some(seg.start..seg.end) {
            extra.push(finding(
                None,
                Check::Decode,
                format!(
                    "{}: the manifest says entries {}..{}, its name does not",
                    seg.key, seg.start, seg.end
                ),
            ));
        }
        if seg.start != expected {
            extra.push(finding(
                Some(expected),
                Check::Sequence,
                format!(
                    "{}: starts at entry {}, the segment before ended at {expected}: entries \
                     are missing or repeated",
                    seg.key, seg.start
                ),
            ));
        }
        expected = seg.end;
        let mut p = segment_policy.clone();
        if let Some((size, root)) = previous {
            p = p.with_claimed_root(size, root, "the previous segment's checkpoint");
        }
        if let (true, Some(note)) = (earlier_at == Some(i), earlier) {
            p = p.with_previous_checkpoint(note.to_vec());
        }
        let reader = fetch(seg).map_err(|source| ArchiveError::Fetch {
            key: seg.key.clone(),
            source,
        })?;
        let mut hashing = Sha256Reader::new(reader);
        let mut on_progress = |pr: Progress| {
            progress(ArchiveProgress {
                segment: i,
                segments,
                done: pr.done,
                total: pr.total,
            })
        };
        let report = match tree.take() {
            Some(t) => {
                verify_bundle_renewing(&mut hashing, &p, &mut on_progress, t).map(|(report, t)| {
                    tree = t;
                    report
                })
            }
            None => verify_bundle_with(&mut hashing, &p, &mut on_progress),
        };
        let report = match report {
            Ok(r) => r,
            // Not a bundle (replaced by a later version, say): a finding on this segment; the
            // next one cannot be tied to it.
            Err(BundleError::NotABundle(why)) => {
                extra.push(finding(
                    None,
                    Check::Decode,
                    format!("{}: not a sealtrail bundle: {why}", seg.key),
                ));
                previous = None;
                continue;
            }
            Err(source) => {
                return Err(ArchiveError::Bundle {
                    key: seg.key.clone(),
                    source,
                });
            }
        };
        // Whatever the verifier left unread (nothing, for a valid bundle) counts as well.
        std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|source| {
            ArchiveError::Fetch {
                key: seg.key.clone(),
                source,
            }
        })?;
        let (digest, bytes) = hashing.finish();
        if hex::encode(digest) != seg.sha256.to_ascii_lowercase() || bytes != seg.bytes {
            extra.push(finding(
                None,
                Check::Decode,
                format!(
                    "{}: {bytes} bytes with SHA-256 {}, the manifest says {} bytes with {}",
                    seg.key,
                    hex::encode(digest),
                    seg.bytes,
                    seg.sha256
                ),
            ));
        }
        match (&report.range, seg.start < seg.end) {
            (Some(r), true) if r.first == seg.start && r.last + 1 == seg.end => {}
            _ => extra.push(finding(
                None,
                Check::Sequence,
                format!(
                    "{}: does not hold exactly entries {}..{}",
                    seg.key, seg.start, seg.end
                ),
            )),
        }
        previous = report
            .checkpoint
            .as_ref()
            .and_then(|c| Some((c.size, c.root.parse().ok()?)));
        merged = Some(match merged {
            None => prefix(report, &seg.key),
            Some(m) => merge(m, prefix(report, &seg.key)),
        });
    }
    if expected != manifest.size {
        extra.push(finding(
            None,
            Check::Sequence,
            format!(
                "the segments end at entry {expected}, the manifest's checkpoint is of size {}",
                manifest.size
            ),
        ));
    }
    let mut report = match merged {
        Some(r) => r,
        None => empty_report(manifest),
    };
    if let Some(c) = report
        .checkpoint
        .as_ref()
        .filter(|c| c.size != manifest.size)
    {
        extra.push(finding(
            None,
            Check::Checkpoint,
            format!(
                "the last segment is anchored at size {}, the manifest says {}",
                c.size, manifest.size
            ),
        ));
    }
    check_renewals(&mut report, &mut extra, policy, &items, tree.as_ref());
    report.findings.extend(extra);
    if !report.findings.is_empty() || report.findings_unlisted > 0 {
        report.verdict = Validity::Invalid;
        report.proven.clear();
        report.proven_items.clear();
    } else {
        report.proven.insert(
            0,
            format!(
                "the archive's {segments} segments hold entries 0..{} without a gap, each \
                 anchored on an owner-signed checkpoint that extends the one before it",
                manifest.size
            ),
        );
    }
    Ok(report)
}

// SPEC §15.6 in an archive: each renewal object judged against the trees the segments' entries
// gave; then, with the log's suite distrusted, every entry must be covered by a verified one
// (from a segment's header or a renewal object).
fn check_renewals(
    report: &mut Report,
    extra: &mut Vec<Finding>,
    policy: &TrustPolicy,
    items: &[Result<crate::renewal::RenewalItem, crate::renewal::RenewalError>],
    tree: Option<&crate::renewal::RenewalTree>,
) {
    use crate::renewal::{RenewalTree, RenewalTrust, judge};
    let suite = crate::hash::Suite::from_name(&report.log.suite);
    let log_id: Option<crate::hash::LogId> = report.log.log_id.parse().ok();
    let trust = match (suite, log_id) {
        (Some(suite), Some(log_id)) => crate::checkpoint::LogOrigin::new(
            report
                .log
                .origin
                .strip_suffix(crate::checkpoint::BLAKE3_ORIGIN_SUFFIX)
                .unwrap_or(&report.log.origin),
            suite,
        )
        .ok()
        .map(|log| RenewalTrust::new(log, log_id, policy.keys().to_vec())),
        _ => None,
    };
    let empty = RenewalTree::new([]);
    let tree = tree.unwrap_or(&empty);
    for (i, item) in items.iter().enumerate() {
        let n = i + 1;
        let outcome = match (item, &trust) {
            (Ok(item), Some(trust)) => judge(n, item, trust, tree, &|k| policy.describe(k)),
            (Err(e), _) => {
                extra.push(finding(
                    None,
                    Check::Renewal,
                    format!("renewal object {n}: {e}"),
                ));
                continue;
            }
            (Ok(_), None) => {
                extra.push(finding(
                    None,
                    Check::Renewal,
                    format!("renewal object {n}: the log's origin and id are not known"),
                ));
                continue;
            }
        };
        // A segment that carried the same renewal reported it already.
        let repeated = report.renewals.iter().any(|r| {
            r.suite == outcome.summary.suite
                && r.size == outcome.summary.size
                && r.root == outcome.summary.root
                && r.status == outcome.summary.status
        });
        if let Some(message) = outcome.finding {
            extra.push(finding(None, Check::Renewal, message));
        }
        if repeated {
            continue;
        }
        if let Some(p) = outcome.proven {
            report.proven.push(p.sentence());
            report.proven_items.push(p);
        }
        report.renewals.push(outcome.summary);
    }
    let Some(log_suite) = suite.filter(|s| policy.distrusts(*s)) else {
        return;
    };
    let covered = report
        .renewals
        .iter()
        .filter(|r| r.status == crate::report::TimestampStatus::Verified)
        .filter(|r| crate::hash::Suite::from_name(&r.suite).is_some_and(|s| !policy.distrusts(s)))
        .map(|r| r.size)
        .max()
        .unwrap_or(0);
    let end = report.range.map_or(0, |r| r.last.saturating_add(1));
    if end > covered {
        extra.push(finding(
            None,
            Check::Renewal,
            format!(
                "entries {covered}..{end} are not re-protected: the log's suite {log_suite} is \
                 distrusted (--distrust-suite), and no renewal under a trusted suite that \
                 verified against the archive's entries covers them"
            ),
        ));
    }
}

/// A reader that hashes what passes through it with SHA-256 (the objects' checksum algorithm).
struct Sha256Reader<R> {
    inner: R,
    hasher: sha2::Sha256,
    bytes: u64,
}

impl<R: Read> Sha256Reader<R> {
    fn new(inner: R) -> Self {
        Sha256Reader {
            inner,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
            bytes: 0,
        }
    }

    fn finish(self) -> ([u8; 32], u64) {
        (sha2::Digest::finalize(self.hasher).into(), self.bytes)
    }
}

impl<R: Read> Read for Sha256Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        sha2::Digest::update(&mut self.hasher, read);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn finding(seq: Option<u64>, check: Check, message: String) -> Finding {
    Finding {
        seq,
        check,
        message,
    }
}

// A segment's report, its findings and statements naming the segment.
fn prefix(mut r: Report, key: &str) -> Report {
    for f in &mut r.findings {
        f.message = format!("{key}: {}", f.message);
    }
    for p in &mut r.proven {
        *p = format!("{key}: {p}");
    }
    r
}

// Two consecutive segments' reports as one: counts added, lists joined, the later checkpoint.
fn merge(mut a: Report, b: Report) -> Report {
    a.entries += b.entries;
    a.range = match (a.range, b.range) {
        (Some(x), Some(y)) => Some(crate::report::SeqRange {
            first: x.first.min(y.first),
            last: x.last.max(y.last),
        }),
        (x, y) => x.or(y),
    };
    for s in b.sessions {
        match a.sessions.iter_mut().find(|t| t.id == s.id) {
            Some(t) => t.entries += s.entries,
            None => a.sessions.push(SessionSummary {
                id: s.id,
                entries: s.entries,
            }),
        }
    }
    a.sessions.sort_by(|x, y| x.id.cmp(&y.id));
    a.sessions_unlisted += b.sessions_unlisted;
    a.approvals.extend(b.approvals);
    a.claimed_approvals.extend(b.claimed_approvals);
    a.redacted.extend(b.redacted);
    a.redacted_unlisted += b.redacted_unlisted;
    a.time_span = match (a.time_span, b.time_span) {
        (Some(x), Some(y)) => Some(TimeSpan {
            first: x.first,
            last: y.last,
        }),
        (x, y) => x.or(y),
    };
    a.checkpoint = b.checkpoint.or(a.checkpoint);
    a.witnesses = b.witnesses.or(a.witnesses);
    a.timestamps.extend(b.timestamps);
    a.renewals.extend(b.renewals);
    // The sentences are made from the items (SPEC §12.6), so they stay together.
    a.proven.extend(b.proven);
    a.proven_items.extend(b.proven_items);
    a.findings.extend(b.findings);
    a.findings_unlisted += b.findings_unlisted;
    if a.findings.is_empty() && a.findings_unlisted == 0 {
        a.verdict = Validity::Valid;
    } else {
        a.verdict = Validity::Invalid;
        // An invalid report lists no approval as established (SPEC §12.6).
        let claimed = std::mem::take(&mut a.approvals);
        a.claimed_approvals.extend(claimed);
    }
    a
}

fn empty_report(manifest: &Manifest) -> Report {
    Report {
        verdict: Validity::Invalid,
        log: crate::report::LogInfo {
            origin: manifest.origin.clone(),
            suite: String::new(),
            log_id: manifest.log_id.clone(),
        },
        entries: 0,
        range: None,
        sessions: Vec::new(),
        sessions_unlisted: 0,
        approvals: Vec::new(),
        claimed_approvals: Vec::new(),
        redacted: Vec::new(),
        redacted_unlisted: 0,
        time_span: None,
        checkpoint: None,
        witnesses: None,
        timestamps: Vec::new(),
        renewals: Vec::new(),
        proven: Vec::new(),
        proven_items: Vec::new(),
        findings: Vec::new(),
        findings_unlisted: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_in_log_order() {
        assert_eq!(parse_segment_key(&segment_key(7, 4096)), Some(7..4096));
        assert_eq!(parse_manifest_key(&manifest_key(12)), Some(12));
        assert!(segment_key(9, 10) < segment_key(10, 11));
        assert_eq!(parse_segment_key("segments/5-6.bundle"), None);
        assert_eq!(
            parse_segment_key(&segment_key(6, 6)),
            None,
            "an empty segment is no segment"
        );
        assert_eq!(
            parse_manifest_key("manifests/+0000000000000000012.json"),
            None
        );
    }

    #[test]
    fn plan_resumes_from_what_an_interrupted_run_left() {
        // Nothing archived, nothing left over: cut 0..10 into segments of 4.
        let p = plan(0, &[], 10, 4);
        assert_eq!(p.reuse, Vec::<Range<u64>>::new());
        assert_eq!(p.upload, vec![0..4, 4..8, 8..10]);
        // A run that stopped after two segments (its manifest never written): reuse them.
        let p = plan(0, &[4..8, 0..4, 20..24], 12, 4);
        assert_eq!(p.reuse, vec![0..4, 4..8]);
        assert_eq!(p.upload, vec![8..12]);
        // Up to date: nothing to do.
        assert_eq!(
            plan(12, std::slice::from_ref(&(0..12)), 12, 4),
            Plan {
                reuse: vec![],
                upload: vec![]
            }
        );
        // A left-over segment beyond the log's size is never reused.
        let p = plan(0, std::slice::from_ref(&(0..30)), 12, 100);
        assert_eq!(p.upload, vec![0..12]);
    }
}
