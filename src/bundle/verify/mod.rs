//! `verify_bundle`: one pass over a bundle, front to back, trusting only pinned keys (SPEC §12.6).
//!
//! The pass is split by what each part checks: [`anchor`] the checkpoints (the anchor, the ones
//! before it, witnesses and the auditor's own earlier checkpoint); [`items`] the control and
//! entry items against everything known about the log; [`chunks`] reads entry items in chunks
//! bounded by bytes and verifies their signatures on other threads.

mod anchor;
mod chunks;
mod claims;
mod items;
mod renewals;
mod timestamps;

use std::collections::HashMap;
use std::io::{BufReader, Read};

use super::verified::{BundleReading, Kept, VerifiedBundle};
use super::{BUNDLE_VERSION, BundleHeader, MAGIC, MAX_HEADER_LEN, MAX_ITEM_LEN, Shape, Trailer};
use crate::checkpoint::{VerifiedCheckpoint, WitnessPolicy};
use crate::codec::{ReadItemError, decode_value, read_item};
use crate::descriptor::SignedDescriptor;
use crate::hash::{Domain, LogId, RootHash, Suite};
use crate::keys::{KeyId, PublicKey, verify_strict, verifying_key};
use crate::merkle::Frontier;
use crate::registry::KeyRegistry;
use crate::report::{Proven, Report, ReportBuilder};
use crate::time::Timestamp;
use crate::verify::{Check, ContentChecks};

use anchor::{Previous, RootChecks};
use items::Known;

/// What an auditor trusts: pinned public keys (obtained out of band), optionally a witness
/// policy, and optionally a checkpoint seen earlier. A bundle is never trusted on the strength of
/// keys it carries.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    keys: Vec<PublicKey>,
    witnesses: Option<WitnessPolicy>,
    previous: Option<Vec<u8>>,
    claims: Vec<claims::RootClaim>,
    distrusted: Vec<Suite>,
    #[cfg(feature = "tsa")]
    tsa: Option<crate::timestamp::TsaTrust>,
}

/// A trust policy that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Without a pinned key nothing in a bundle can be trusted.
    #[error(
        "no pinned key: pass the log owner's public key (--trusted-key), obtained out of band; a \
         bundle is never trusted on the strength of keys it carries"
    )]
    NoPinnedKey,
}

impl TrustPolicy {
    /// Trust these keys (the log's owner keys) and nothing else. Checkpoints are signed under
    /// the log's origin line (SPEC §11.3), and a key verifies one only under that name (C2SP
    /// matches keys by name and key hash): pin the verifier key `sealtrail init` wrote.
    pub fn new(keys: Vec<PublicKey>) -> Result<TrustPolicy, TrustError> {
        if keys.is_empty() {
            return Err(TrustError::NoPinnedKey);
        }
        Ok(TrustPolicy {
            keys,
            witnesses: None,
            previous: None,
            claims: Vec::new(),
            distrusted: Vec::new(),
            #[cfg(feature = "tsa")]
            tsa: None,
        })
    }

    /// No longer trust `suite` (SPEC §15.6): when it is the log's suite, the verdict rests on
    /// renewals under a suite still trusted, and every entry no verified renewal covers is a
    /// `renewal` finding. A renewal under a distrusted suite covers nothing.
    pub fn distrust_suite(mut self, suite: Suite) -> TrustPolicy {
        if !self.distrusted.contains(&suite) {
            self.distrusted.push(suite);
        }
        self
    }

    /// Whether `suite` is distrusted ([`TrustPolicy::distrust_suite`]).
    pub fn distrusts(&self, suite: Suite) -> bool {
        self.distrusted.contains(&suite)
    }

    /// The same policy trusting every suite: an archive's segments are verified so, and the
    /// archive's renewals decide coverage for the whole archive.
    pub(crate) fn trusting_every_suite(&self) -> TrustPolicy {
        TrustPolicy {
            distrusted: Vec::new(),
            ..self.clone()
        }
    }

    /// The pinned keys.
    pub(crate) fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Also verify the RFC 3161 timestamp tokens the bundle carries against these trusted TSA
    /// (or CA) certificates (SPEC §12.7). Without it, tokens are reported as not checked.
    #[cfg(feature = "tsa")]
    pub fn with_tsa(mut self, trust: crate::timestamp::TsaTrust) -> TrustPolicy {
        self.tsa = Some(trust);
        self
    }

    /// Also require witness cosignatures on the bundle's checkpoint.
    pub fn with_witnesses(mut self, policy: WitnessPolicy) -> TrustPolicy {
        self.witnesses = Some(policy);
        self
    }

    /// Also prove the log only grew since this checkpoint (signed note bytes).
    pub fn with_previous_checkpoint(mut self, note: Vec<u8>) -> TrustPolicy {
        self.previous = Some(note);
        self
    }

    /// Also prove that the log's root at `size` is `root`, a claim made outside any signature:
    /// `what` names who makes it in the report (e.g. "the commit's Sealtrail-Checkpoint
    /// trailer"). The bundle proves it with a checkpoint it carries at that size, or with the
    /// root its entries give there; a different root, a size beyond the bundle's checkpoint, or
    /// a size the bundle cannot reach is a `checkpoint` finding.
    pub fn with_claimed_root(mut self, size: u64, root: RootHash, what: &str) -> TrustPolicy {
        self.claims.push(claims::RootClaim {
            size,
            root,
            what: what.to_owned(),
        });
        self
    }

    fn pinned(&self, key: &KeyId) -> bool {
        self.keys.iter().any(|k| k.key_id() == *key)
    }

    pub(crate) fn describe(&self, key: &KeyId) -> String {
        self.keys
            .iter()
            .find(|k| k.key_id() == *key)
            .map_or_else(|| key.to_string(), |k| k.to_vkey())
    }
}

/// The bundle could not be checked at all (exit code 2 in `verify-bundle`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The input is not a sealtrail bundle.
    #[error("not a sealtrail bundle: {0}")]
    NotABundle(String),
    /// Reading failed.
    #[error("cannot read the bundle: {0}")]
    Io(#[from] std::io::Error),
}

/// Progress through a bundle's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Entries checked so far.
    pub done: u64,
    /// Entries the header announces.
    pub total: u64,
}

/// Verifies a bundle read from `reader` against what the auditor trusts (SPEC §12.6).
/// `Err` only when the input is not a bundle or cannot be read; every failed check is a finding
/// in the report, naming the entry and the check.
pub fn verify_bundle<R: Read>(reader: R, policy: &TrustPolicy) -> Result<Report, BundleError> {
    verify_bundle_with(reader, policy, &mut |_| {})
}

/// [`verify_bundle`], calling `progress` as entries are checked.
pub fn verify_bundle_with<R: Read>(
    reader: R,
    policy: &TrustPolicy,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, BundleError> {
    Ok(run_pass(reader, policy, progress, Keep::Nothing, None)?.0)
}

/// [`verify_bundle_with`], feeding the entries to `tree` (an archive's renewal trees, which span
/// its segments) and handing it back.
pub(crate) fn verify_bundle_renewing<R: Read>(
    reader: R,
    policy: &TrustPolicy,
    progress: &mut dyn FnMut(Progress),
    tree: crate::renewal::RenewalTree,
) -> Result<(Report, Option<crate::renewal::RenewalTree>), BundleError> {
    let (report, _, tree) = run_pass(reader, policy, progress, Keep::Nothing, Some(tree))?;
    Ok((report, tree))
}

/// [`verify_bundle`], keeping the entries it verified for reading: queries and decision traces
/// run over a [`VerifiedBundle`] as over the log. Only a valid report yields entries
/// ([`BundleReading::Valid`]); an invalid bundle yields its report alone. The entries are kept as
/// read (memory grows with the bundle's bytes, unlike [`verify_bundle`]'s).
pub fn verify_bundle_entries<R: Read>(
    reader: R,
    policy: &TrustPolicy,
) -> Result<BundleReading, BundleError> {
    verify_bundle_entries_with(reader, policy, &mut |_| {})
}

/// [`verify_bundle_entries`], calling `progress` as entries are checked.
pub fn verify_bundle_entries_with<R: Read>(
    reader: R,
    policy: &TrustPolicy,
    progress: &mut dyn FnMut(Progress),
) -> Result<BundleReading, BundleError> {
    Ok(
        match run_pass(reader, policy, progress, Keep::Entries, None)? {
            (report, Some(entries), _) if report.is_valid() => {
                BundleReading::Valid(entries.with_report(report))
            }
            (report, _, _) => BundleReading::Invalid(report),
        },
    )
}

// Whether the pass keeps what it verified.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    Nothing,
    Entries,
}

// What a pass that kept its entries hands over, before the verdict is known.
struct KeptEntries {
    log_id: LogId,
    suite: Suite,
    names: HashMap<KeyId, String>,
    kept: Kept,
}

impl KeptEntries {
    fn with_report(self, report: Report) -> VerifiedBundle {
        VerifiedBundle::new(report, self.log_id, self.suite, self.names, self.kept)
    }
}

fn run_pass<R: Read>(
    reader: R,
    policy: &TrustPolicy,
    progress: &mut dyn FnMut(Progress),
    keep: Keep,
    tree: Option<crate::renewal::RenewalTree>,
) -> Result<Passed, BundleError> {
    let mut r = BufReader::with_capacity(256 * 1024, reader);
    let mut buf = Vec::new();
    // SPEC §12.6 step 1. The magic item: anything else is not a bundle.
    let magic_ok = matches!(read_item(&mut r, &mut buf, 64), Ok(true))
        && matches!(decode_value(&buf), Ok(ciborium::value::Value::Text(t)) if t == MAGIC);
    if !magic_ok {
        return Err(BundleError::NotABundle(format!(
            "it does not start with the \"{MAGIC}\" item"
        )));
    }
    let mut prefix = buf.clone();
    let mut early = ReportBuilder::new("(unknown)", Suite::default(), LogId::default());
    if let Err(e) = read(&mut r, &mut buf, 32) {
        read_failed(&mut early, "version", e);
        return Ok((early.finish(), None, tree));
    }
    match crate::codec::Decoder::new(&buf).u64() {
        Ok(BUNDLE_VERSION) => {}
        Ok(other) => {
            early.finding(
                None,
                Check::Decode,
                format!(
                    "bundle format version {other}; this verifier reads version {BUNDLE_VERSION}"
                ),
            );
            return Ok((early.finish(), None, tree));
        }
        Err(e) => {
            early.finding(None, Check::Decode, format!("bundle version: {e}"));
            return Ok((early.finish(), None, tree));
        }
    }
    prefix.extend_from_slice(&buf);
    if let Err(e) = read(&mut r, &mut buf, MAX_HEADER_LEN) {
        read_failed(&mut early, "header", e);
        return Ok((early.finish(), None, tree));
    }
    prefix.extend_from_slice(&buf);
    let header = match BundleHeader::decode(&buf) {
        Ok(h) => h,
        Err(e) => {
            early.finding(None, Check::Decode, format!("bundle header: {e}"));
            return Ok((early.finish(), None, tree));
        }
    };
    // Step 2.
    let descriptor = match SignedDescriptor::from_bytes(&header.descriptor) {
        Ok(d) => d,
        Err(e) => {
            early.finding(None, Check::Descriptor, format!("descriptor: {e}"));
            return Ok((early.finish(), None, tree));
        }
    };
    let mut v = Verifier::new(&descriptor, header, policy, &prefix, tree);
    if keep == Keep::Entries {
        v.kept = Some(Kept::default());
    }
    v.run(&mut r, &mut buf, progress)?;
    Ok(v.finish())
}

// What a pass hands back: the report, the entries it kept, the renewal trees it fed.
type Passed = (
    Report,
    Option<KeptEntries>,
    Option<crate::renewal::RenewalTree>,
);

// Reads the next item, naming what was expected when the stream ends or is malformed.
fn read<R: Read>(r: &mut R, buf: &mut Vec<u8>, limit: usize) -> Result<(), ReadItemError> {
    if read_item(r, buf, limit)? {
        Ok(())
    } else {
        Err(ReadItemError::Truncated { read: 0 })
    }
}

fn read_failed(report: &mut ReportBuilder, what: &str, e: ReadItemError) {
    let message = match e {
        ReadItemError::Truncated { .. } => {
            format!("the bundle is truncated: it ends before the {what}")
        }
        other => format!("{what}: {other}"),
    };
    report.finding(None, Check::Decode, message);
}

/// The times entries may not pass (SPEC §12.6 step 7): what an independent witness's
/// cosignature or the exporter's signed export time says the log held by then.
#[derive(Debug, Clone, Default)]
struct TimeBounds {
    /// Each bound, what it is, and the entries it bounds: all, or those below a size (a
    /// timestamp token bounds only the entries of the checkpoint it timestamps, SPEC §12.7).
    bounds: Vec<(Timestamp, String, Option<u64>)>,
}

impl TimeBounds {
    /// How far past a bound an entry's time may be: clocks differ (SPEC §12.6).
    const SKEW: u64 = crate::approval::MAX_SIGNING_SKEW_NANOS;

    fn add(&mut self, time: Timestamp, what: String) {
        self.bounds.push((time, what, None));
    }

    /// A bound on the entries below `size` only.
    #[cfg_attr(not(feature = "tsa"), allow(dead_code))]
    fn add_below(&mut self, time: Timestamp, what: String, size: u64) {
        self.bounds.push((time, what, Some(size)));
    }

    /// The earliest bound on entry `seq` that `time` passes by more than the allowed skew.
    fn exceeded(&self, seq: u64, time: Timestamp) -> Option<(Timestamp, &str)> {
        self.bounds
            .iter()
            .filter(|(b, _, below)| {
                below.is_none_or(|n| seq < n) && time.0 > b.0.saturating_add(Self::SKEW)
            })
            .min_by_key(|(b, _, _)| *b)
            .map(|(b, what, _)| (*b, what.as_str()))
    }
}

struct Verifier<'p> {
    policy: &'p TrustPolicy,
    report: ReportBuilder,
    suite: Suite,
    log_id: LogId,
    created: Timestamp,
    header: BundleHeader,
    digest: crate::hash::Hasher,
    content: Option<ContentChecks>,
    anchor: Option<VerifiedCheckpoint>,
    /// Every carried checkpoint that verified, smallest first (the anchor last).
    checkpoints: Vec<VerifiedCheckpoint>,
    roots: RootChecks,
    previous: Previous,
    claims: Vec<claims::ClaimState>,
    time_bounds: TimeBounds,
    frontier: Option<Frontier>,
    known: Known,
    entries_read: u64,
    stopped: bool,
    /// The checked items, when the caller reads them afterwards.
    kept: Option<Kept>,
    /// The renewal trees the entries are fed to (SPEC §15.6), when roots are wanted.
    renewal_tree: Option<crate::renewal::RenewalTree>,
    /// The log's origin (SPEC §5.1), which renewals name.
    origin: String,
    /// The first and last position of the entry items read.
    entry_span: Option<(u64, u64)>,
}

impl<'p> Verifier<'p> {
    fn new(
        descriptor: &SignedDescriptor,
        header: BundleHeader,
        policy: &'p TrustPolicy,
        prefix: &[u8],
        tree: Option<crate::renewal::RenewalTree>,
    ) -> Verifier<'p> {
        let d = descriptor.descriptor();
        let suite = descriptor.suite();
        let mut digest = crate::hash::Hasher::new(suite);
        digest.update(Domain::Bundle.tag().as_bytes());
        digest.update(&[0]);
        digest.update(prefix);
        let mut v = Verifier {
            policy,
            report: ReportBuilder::new(&d.origin, suite, descriptor.log_id()),
            suite,
            log_id: descriptor.log_id(),
            created: d.created,
            header,
            digest,
            content: None,
            anchor: None,
            checkpoints: Vec::new(),
            roots: RootChecks::default(),
            previous: Previous::NotGiven,
            claims: Vec::new(),
            time_bounds: TimeBounds::default(),
            frontier: None,
            known: Known::default(),
            entries_read: 0,
            stopped: false,
            kept: None,
            renewal_tree: tree,
            origin: d.origin.clone(),
            entry_span: None,
        };
        if !policy.pinned(&d.owner) {
            v.report.finding(
                None,
                Check::Descriptor,
                format!(
                    "the log's owner key {} is not pinned: the descriptor, its key registrations \
                     and checkpoints cannot be trusted",
                    d.owner.short()
                ),
            );
        }
        match KeyRegistry::genesis(d) {
            Ok(reg) => v.content = Some(ContentChecks::new(suite, reg)),
            Err(e) => v
                .report
                .finding(None, Check::Descriptor, format!("owner key: {e}")),
        }
        v.check_header_fields();
        v.time_bounds.add(
            Timestamp(v.header.exported),
            "the time the exporter signed for this export".into(),
        );
        v.check_checkpoints(d);
        v.check_timestamps();
        v.want_renewal_roots();
        v
    }

    // SPEC §12.1–§12.2: the fields whose value the shape fixes.
    fn check_header_fields(&mut self) {
        let h = &self.header;
        let mut wrong = Vec::new();
        match h.shape {
            Shape::Selection => {
                if h.start != 0 {
                    wrong.push(format!("a selection's `start` must be 0, not {}", h.start));
                }
                if !h.frontier.is_empty() {
                    wrong.push("a selection's `frontier` must be empty".to_owned());
                }
                if !h.tail.is_empty() {
                    wrong.push("a selection's `tail` must be empty".to_owned());
                }
            }
            Shape::Contiguous => {
                if h.start.checked_add(h.count).is_none() {
                    wrong.push("`start` + `count` overflows".to_owned());
                }
            }
        }
        for message in wrong {
            self.report.finding(None, Check::Decode, message);
        }
    }

    fn hash_item(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
    }

    fn pinned(&self, key: &KeyId) -> bool {
        self.policy.pinned(key)
    }

    fn run<R: Read>(
        &mut self,
        r: &mut R,
        buf: &mut Vec<u8>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), BundleError> {
        // Step 5: control items, every control entry of the log below the anchor's size.
        for i in 0..self.header.controls {
            match read(r, buf, MAX_ITEM_LEN) {
                Ok(()) => {}
                Err(ReadItemError::Io(e)) => return Err(e.into()),
                Err(e) => {
                    read_failed(&mut self.report, &format!("control item {}", i + 1), e);
                    self.stopped = true;
                    return Ok(());
                }
            }
            let bytes = std::mem::take(buf);
            self.hash_item(&bytes);
            self.control(bytes);
        }
        self.end_of_controls();
        if self.header.shape == Shape::Contiguous {
            self.start_frontier();
        }
        // Step 6: entry items, in chunks bounded by bytes, pipelined: while one chunk's
        // signatures are verified on other threads, this thread reads the next chunk and runs the
        // ordered checks of the one before.
        let total = self.header.count;
        let mut read_so_far = 0u64;
        let mut done = 0u64;
        std::thread::scope(|s| -> Result<(), BundleError> {
            let mut in_flight: Option<std::thread::ScopedJoinHandle<'_, chunks::Checked>> = None;
            loop {
                let next = if read_so_far < total && !self.stopped {
                    let chunk = chunks::read_chunk(self, r, buf, read_so_far, total)?;
                    read_so_far += chunk.len() as u64;
                    Some(s.spawn(move || chunks::verify_signatures(chunk)))
                } else {
                    None
                };
                if let Some(handle) = in_flight.take() {
                    // A worker that panicked verified nothing: the pass cannot go on.
                    let Ok(checked) = handle.join() else {
                        self.report.finding(
                            None,
                            Check::Signature,
                            "signature verification failed unexpectedly",
                        );
                        self.stopped = true;
                        return Ok(());
                    };
                    for (decoded, sig_ok) in checked {
                        self.entry(done, decoded, sig_ok);
                        done += 1;
                        self.entries_read = done;
                        if done % 1024 == 0 || done == total {
                            progress(Progress { done, total });
                        }
                    }
                }
                match next {
                    Some(n) => in_flight = Some(n),
                    None => return Ok(()),
                }
            }
        })?;
        if self.stopped {
            return Ok(());
        }
        self.end_of_entries();
        // Step 9: the trailer.
        match read(r, buf, 4096) {
            Ok(()) => {
                let bytes = std::mem::take(buf);
                self.trailer(&bytes);
            }
            Err(ReadItemError::Io(e)) => return Err(e.into()),
            Err(ReadItemError::Truncated { .. }) => {
                self.report.finding(
                    None,
                    Check::Decode,
                    "the bundle is truncated: it ends before its trailer (signature)",
                );
                return Ok(());
            }
            Err(e) => {
                read_failed(&mut self.report, "trailer", e);
                return Ok(());
            }
        }
        let mut rest = [0u8; 1];
        if r.read(&mut rest)? > 0 {
            self.report.finding(
                None,
                Check::Decode,
                "data after the trailer: the bundle has bytes its signature does not cover",
            );
        }
        Ok(())
    }

    fn trailer(&mut self, bytes: &[u8]) {
        let t = match Trailer::decode(bytes) {
            Ok(t) => t,
            Err(e) => {
                self.report
                    .finding(None, Check::Decode, format!("trailer: {e}"));
                return;
            }
        };
        // The trailer counts entry items; control items are counted by the header alone.
        if t.count != self.header.count || self.entries_read != self.header.count {
            self.report.finding(
                None,
                Check::Sequence,
                format!(
                    "the trailer counts {}, the header {}, the bundle holds {}",
                    crate::text::entries(t.count),
                    self.header.count,
                    self.entries_read
                ),
            );
        }
        let digest =
            std::mem::replace(&mut self.digest, crate::hash::Hasher::new(self.suite)).finalize();
        if *t.digest != digest {
            self.report.finding(
                None,
                Check::Signature,
                "the bundle's bytes do not hash to the digest its trailer signs: something was \
                 added, removed or changed",
            );
        }
        let signer = KeyId(*t.signer);
        if !self.pinned(&signer) {
            self.report.finding(
                None,
                Check::Signature,
                format!(
                    "the bundle is signed by key {}, which is not pinned",
                    signer.short()
                ),
            );
            return;
        }
        let ok = verifying_key(&t.signer)
            .is_ok_and(|k| verify_strict(&k, &Trailer::signing_input(&t.digest), &t.signature));
        if ok && *t.digest == digest {
            self.report.proven(Proven::BundleSigned {
                key: self.policy.describe(&signer),
            });
        } else if !ok {
            self.report.finding(
                None,
                Check::Signature,
                "the trailer's signature does not verify",
            );
        }
    }

    fn finish(mut self) -> Passed {
        self.check_renewals();
        if !self.report.has_findings() {
            let h = &self.header;
            if h.count > 0 {
                self.report.proven(Proven::BundleEntriesSigned {
                    count: h.count,
                    control_entries: self.known.control_count() as u64,
                });
            }
            if h.shape == Shape::Contiguous && h.count > 0 {
                self.report.proven(Proven::BundleChain {
                    start: h.start,
                    end: h.start.saturating_add(h.count),
                });
            }
        }
        let kept = match (self.kept, &self.content) {
            (Some(kept), Some(content)) => Some(KeptEntries {
                log_id: self.log_id,
                suite: self.suite,
                names: content
                    .registry()
                    .iter()
                    .map(|k| (k.key, k.name.clone()))
                    .collect(),
                kept,
            }),
            _ => None,
        };
        (self.report.finish(), kept, self.renewal_tree)
    }
}
