//! `verify_bundle`: one pass over a bundle, front to back, trusting only pinned keys (SPEC §12.6).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};

use super::{
    BUNDLE_VERSION, BundleHeader, EntryItem, MAGIC, MAX_HEADER_LEN, MAX_ITEM_LEN, Shape, Trailer,
    WithheldReason, plain,
};
use crate::approval::LinkedEntry;
use crate::checkpoint::{
    CheckpointTrust, LogOrigin, SignedCheckpoint, VerifiedCheckpoint, WitnessPolicy, Witnesses,
};
use crate::codec::{ReadItemError, decode_value, read_item};
use crate::descriptor::SignedDescriptor;
use crate::entry::{Entry, Kind, Payload};
use crate::hash::{Domain, EntryHash, Suite};
use crate::keys::{KeyId, PublicKey, verify_strict, verifying_key};
use crate::merkle::{self, Frontier};
use crate::registry::KeyRegistry;
use crate::report::{Report, ReportBuilder};
use crate::verify::{Absence, Check, ContentChecks, VerifyError};

/// Entries decoded and signature-checked together (across threads) before the sequential
/// checks: bounds the memory a bundle's entries can take at once.
const CHUNK: usize = 2048;

/// What an auditor trusts: pinned public keys (obtained out of band), optionally a witness
/// policy, and optionally a checkpoint seen earlier. A bundle is never trusted on the strength of
/// keys it carries.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    keys: Vec<PublicKey>,
    witnesses: Option<WitnessPolicy>,
    previous: Option<Vec<u8>>,
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
    /// Trust these keys (the log's owner keys) and nothing else.
    pub fn new(keys: Vec<PublicKey>) -> Result<TrustPolicy, TrustError> {
        if keys.is_empty() {
            return Err(TrustError::NoPinnedKey);
        }
        Ok(TrustPolicy {
            keys,
            witnesses: None,
            previous: None,
        })
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

    fn pinned(&self, key: &KeyId) -> bool {
        self.keys.iter().any(|k| k.key_id() == *key)
    }

    fn describe(&self, key: &KeyId) -> String {
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
    let mut r = BufReader::with_capacity(256 * 1024, reader);
    let mut buf = Vec::new();
    // The magic item: anything else is not a bundle.
    let magic_ok = matches!(read_item(&mut r, &mut buf, 64), Ok(true))
        && matches!(decode_value(&buf), Ok(ciborium::value::Value::Text(t)) if t == MAGIC);
    if !magic_ok {
        return Err(BundleError::NotABundle(format!(
            "it does not start with the \"{MAGIC}\" item"
        )));
    }
    let mut prefix = buf.clone();
    let mut v = Verifier::unknown_log();
    match read(&mut r, &mut buf, 32) {
        Ok(()) => {}
        Err(e) => return Ok(v.stop_at("version", e)),
    }
    match crate::codec::Decoder::new(&buf).u64() {
        Ok(BUNDLE_VERSION) => {}
        Ok(other) => {
            v.report.finding_check(
                None,
                Check::Decode,
                format!(
                    "bundle format version {other}; this verifier reads version {BUNDLE_VERSION}"
                ),
            );
            return Ok(v.report.finish());
        }
        Err(e) => {
            v.report
                .finding_check(None, Check::Decode, format!("bundle version: {e}"));
            return Ok(v.report.finish());
        }
    }
    prefix.extend_from_slice(&buf);
    if let Err(e) = read(&mut r, &mut buf, MAX_HEADER_LEN) {
        return Ok(v.stop_at("header", e));
    }
    prefix.extend_from_slice(&buf);
    let header = match BundleHeader::decode(&buf) {
        Ok(h) => h,
        Err(e) => {
            v.report
                .finding_check(None, Check::Decode, format!("bundle header: {e}"));
            return Ok(v.report.finish());
        }
    };
    let descriptor = match SignedDescriptor::from_bytes(&header.descriptor) {
        Ok(d) => d,
        Err(e) => {
            v.report
                .finding_check(None, Check::Descriptor, format!("descriptor: {e}"));
            return Ok(v.report.finish());
        }
    };
    let mut v = Verifier::new(&descriptor, &header, policy, prefix);
    v.run(&mut r, &mut buf, progress)?;
    Ok(v.finish())
}

// Reads the next item, naming what was expected when the stream ends or is malformed.
fn read<R: Read>(r: &mut R, buf: &mut Vec<u8>, limit: usize) -> Result<(), ReadItemError> {
    if read_item(r, buf, limit)? {
        Ok(())
    } else {
        Err(ReadItemError::Truncated { read: 0 })
    }
}

// An entry item decoded, or why it could not be.
type Decoded = Result<(EntryItem, Entry), String>;

// What is known about every included entry, for links and approvals. A contiguous run (the
// common case, and the only large one) is a vector indexed from its first position: 18 bytes an
// entry; anything else goes in a map.
#[derive(Default)]
struct SeenEntries {
    start: u64,
    run: Vec<Seen>,
    other: HashMap<u64, Seen>,
}

impl SeenEntries {
    fn get(&self, seq: u64) -> Option<&Seen> {
        seq.checked_sub(self.start)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.run.get(i))
            .or_else(|| self.other.get(&seq))
    }

    fn insert(&mut self, seq: u64, seen: Seen) {
        if self.run.is_empty() && self.other.is_empty() {
            self.start = seq;
        }
        if seq.checked_sub(self.start) == Some(self.run.len() as u64) {
            self.run.push(seen);
        } else {
            self.other.insert(seq, seen);
        }
    }
}

// Whether an entry is one of the bundle's entries or a control item carried to support them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemRole {
    Included,
    Control,
}

// What is known about one included entry, for causal links and approvals: a 16-byte prefix of
// its hash (a forged link would need a 2^128 prefix collision with a signed, chained entry) and
// its signer, as an index into a table of distinct signers.
#[derive(Clone, Copy)]
struct Seen {
    hash: [u8; 16],
    signer: u16,
}

struct Verifier<'p> {
    policy: Option<&'p TrustPolicy>,
    report: ReportBuilder,
    suite: Suite,
    log_id: crate::hash::LogId,
    header: Option<BundleHeader>,
    digest: Option<crate::hash::Hasher>,
    content: Option<ContentChecks>,
    anchor: Option<VerifiedCheckpoint>,
    /// Checkpoint sizes and roots to compare with the streamed tree (contiguous bundles).
    roots_to_check: Vec<(u64, crate::hash::RootHash, String)>,
    /// The auditor's earlier checkpoint, when its growth is proven by streaming.
    previous: Option<VerifiedCheckpoint>,
    previous_proven: bool,
    frontier: Option<Frontier>,
    seen: SeenEntries,
    signers: Vec<KeyId>,
    /// Control entries seen, by position, with their hashes.
    controls: BTreeMap<u64, EntryHash>,
    last: Option<(u64, EntryHash, crate::time::Timestamp)>,
    entries_read: u64,
    chain_ok: bool,
    stopped: bool,
}

impl<'p> Verifier<'p> {
    fn unknown_log() -> Verifier<'p> {
        Verifier {
            policy: None,
            report: ReportBuilder::new("(unknown)", Suite::default(), Default::default()),
            suite: Suite::default(),
            log_id: Default::default(),
            header: None,
            digest: None,
            content: None,
            anchor: None,
            roots_to_check: Vec::new(),
            previous: None,
            previous_proven: false,
            frontier: None,
            seen: SeenEntries::default(),
            signers: Vec::new(),
            controls: BTreeMap::new(),
            last: None,
            entries_read: 0,
            chain_ok: true,
            stopped: false,
        }
    }

    fn stop_at(mut self, what: &str, e: ReadItemError) -> Report {
        self.read_failed(what, e);
        self.report.finish()
    }

    fn read_failed(&mut self, what: &str, e: ReadItemError) {
        let message = match e {
            ReadItemError::Truncated { .. } => {
                format!("the bundle is truncated: it ends before the {what}")
            }
            other => format!("{what}: {other}"),
        };
        self.report.finding_check(None, Check::Decode, message);
        self.stopped = true;
    }

    fn new(
        descriptor: &SignedDescriptor,
        header: &BundleHeader,
        policy: &'p TrustPolicy,
        prefix: Vec<u8>,
    ) -> Verifier<'p> {
        let d = descriptor.descriptor();
        let suite = descriptor.suite();
        let mut v = Verifier::unknown_log();
        v.policy = Some(policy);
        v.report = ReportBuilder::new(&d.origin, suite, descriptor.log_id());
        v.suite = suite;
        v.log_id = descriptor.log_id();
        let mut digest = crate::hash::Hasher::new(suite);
        digest.update(Domain::Bundle.tag().as_bytes());
        digest.update(&[0]);
        digest.update(&prefix);
        v.digest = Some(digest);
        v.header = Some(header.clone());
        if !policy.pinned(&d.owner) {
            v.report.finding_check(
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
                .finding_check(None, Check::Descriptor, format!("owner key: {e}")),
        }
        v.check_checkpoints(d, header, policy);
        v
    }

    // SPEC §12.6 steps 3-4: every checkpoint signed by a pinned key, consecutive ones consistent,
    // witnesses on the anchor, and the auditor's earlier checkpoint.
    fn check_checkpoints(
        &mut self,
        d: &crate::descriptor::Descriptor,
        header: &BundleHeader,
        policy: &TrustPolicy,
    ) {
        let origin = match LogOrigin::of(d) {
            Ok(o) => o,
            Err(e) => {
                self.report
                    .finding_check(None, Check::Checkpoint, format!("log origin: {e}"));
                return;
            }
        };
        let trust = match CheckpointTrust::new(origin, policy.keys.clone(), Witnesses::NotRequired)
        {
            Ok(t) => t,
            Err(e) => {
                self.report
                    .finding_check(None, Check::Checkpoint, e.to_string());
                return;
            }
        };
        if header.checkpoints.is_empty() {
            self.report.finding_check(
                None,
                Check::Checkpoint,
                "the bundle carries no checkpoint: nothing ties its entries to the log",
            );
        }
        let mut previous: Option<VerifiedCheckpoint> = None;
        let mut last_signed = None;
        for (i, item) in header.checkpoints.iter().enumerate() {
            let verified = match trust.verify_bytes(&item.note) {
                Ok(c) => c,
                Err(e) => {
                    self.report.finding_check(
                        None,
                        Check::Checkpoint,
                        format!("checkpoint {}: {e}", i + 1),
                    );
                    previous = None;
                    continue;
                }
            };
            if let Some(prev) = &previous {
                if let Err(e) = verified.verify_consistency(prev, &plain(&item.consistency)) {
                    self.report.finding_check(
                        None,
                        Check::Checkpoint,
                        format!(
                            "checkpoints of size {} and {}: {e}",
                            prev.size(),
                            verified.size()
                        ),
                    );
                }
            }
            self.roots_to_check.push((
                verified.size(),
                verified.root(),
                policy.describe(&verified.signer()),
            ));
            last_signed = SignedCheckpoint::parse(&item.note).ok();
            previous = Some(verified);
        }
        let is_last_ok = header
            .checkpoints
            .last()
            .is_some_and(|last| trust.verify_bytes(&last.note).is_ok());
        self.anchor = if is_last_ok { previous } else { None };
        if let (Some(anchor), Some(signed)) = (&self.anchor, &last_signed) {
            self.report.checkpoint(
                anchor.size(),
                anchor.root(),
                &policy.describe(&anchor.signer()),
            );
            if let Some(w) = &policy.witnesses {
                match w.verify(signed) {
                    Ok(report) => {
                        let names = report
                            .cosigners()
                            .map(|(k, time)| format!("{} (at {time})", k.name()))
                            .collect();
                        self.report.witnesses(report.needed(), names);
                    }
                    Err(crate::checkpoint::WitnessError::QuorumNotMet {
                        found,
                        needed,
                        report,
                    }) => {
                        let names = report
                            .cosigners()
                            .map(|(k, _)| k.name().to_owned())
                            .collect();
                        self.report.witnesses(needed, names);
                        self.report.finding_check(
                            None,
                            Check::Checkpoint,
                            format!(
                                "witnesses: {found} valid cosignatures on the checkpoint, {needed} required"
                            ),
                        );
                    }
                }
            }
        } else if !header.checkpoints.is_empty() {
            self.report.finding_check(
                None,
                Check::Checkpoint,
                "the last checkpoint does not verify: nothing ties the entries to the log",
            );
        }
        if let Some(note) = &policy.previous {
            self.check_previous(&trust, note, header);
        }
    }

    // The auditor's earlier checkpoint: the bundle must prove the log only grew since.
    fn check_previous(&mut self, trust: &CheckpointTrust, note: &[u8], header: &BundleHeader) {
        let prev = match trust.verify_bytes(note) {
            Ok(p) => p,
            Err(e) => {
                self.report.finding_check(
                    None,
                    Check::Checkpoint,
                    format!("the checkpoint you supplied does not verify: {e}"),
                );
                return;
            }
        };
        let Some(anchor) = self.anchor.clone() else {
            return;
        };
        let fork = |v: &mut Self, detail: String| {
            v.report.finding_check(
                None,
                Check::Checkpoint,
                format!(
                    "FORK: the log in this bundle is not an extension of the checkpoint you \
                     supplied (size {}, root {}): {detail}",
                    prev.size(),
                    prev.root().short()
                ),
            );
        };
        if prev.size() > anchor.size() {
            self.report.finding_check(
                None,
                Check::Checkpoint,
                format!(
                    "ROLLBACK: the bundle's checkpoint has {} entries, fewer than the {} of the \
                     checkpoint you supplied",
                    anchor.size(),
                    prev.size()
                ),
            );
            return;
        }
        if let Some(since) = header.since.as_ref().filter(|s| s.size == prev.size()) {
            match anchor.verify_consistency(&prev, &plain(&since.proof)) {
                Ok(()) => self.prove_growth(&prev, &anchor),
                Err(e) => fork(self, e.to_string()),
            }
            return;
        }
        if let Some((_, root, _)) = self.roots_to_check.iter().find(|c| c.0 == prev.size()) {
            if *root == prev.root() {
                self.prove_growth(&prev, &anchor);
            } else {
                fork(
                    self,
                    "a checkpoint of the same size has another root".into(),
                );
            }
            return;
        }
        let end = header.start.saturating_add(header.count);
        if header.shape == Shape::Contiguous && header.start <= prev.size() && prev.size() <= end {
            // Proven (or not) while the entries stream past that size.
            self.roots_to_check.push((
                prev.size(),
                prev.root(),
                "the checkpoint you supplied".into(),
            ));
            self.previous = Some(prev);
            return;
        }
        self.report.finding_check(
            None,
            Check::Checkpoint,
            format!(
                "cannot prove the log grew from the checkpoint you supplied (size {}): the bundle \
                 carries no consistency proof from that size; export it with --since",
                prev.size()
            ),
        );
    }

    fn prove_growth(&mut self, prev: &VerifiedCheckpoint, anchor: &VerifiedCheckpoint) {
        self.previous_proven = true;
        self.report.proven(format!(
            "the log only grew since the checkpoint you supplied: size {} (root {}) is a prefix \
             of size {} (root {})",
            prev.size(),
            prev.root().short(),
            anchor.size(),
            anchor.root().short()
        ));
    }

    fn hash_item(&mut self, bytes: &[u8]) {
        if let Some(d) = &mut self.digest {
            d.update(bytes);
        }
    }

    fn run<R: Read>(
        &mut self,
        r: &mut R,
        buf: &mut Vec<u8>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), BundleError> {
        let Some(header) = self.header.clone() else {
            return Ok(());
        };
        // Control items: key management and erasures the selection needs.
        for i in 0..header.controls {
            match read(r, buf, MAX_ITEM_LEN) {
                Ok(()) => {}
                Err(ReadItemError::Io(e)) => return Err(e.into()),
                Err(e) => {
                    self.read_failed(&format!("control item {}", i + 1), e);
                    return Ok(());
                }
            }
            let bytes = std::mem::take(buf);
            self.hash_item(&bytes);
            self.control(&bytes);
            *buf = bytes;
        }
        if header.shape == Shape::Contiguous {
            let nodes = plain(&header.frontier);
            match Frontier::from_nodes(header.start, nodes) {
                Some(f) => self.frontier = Some(f),
                None => self.report.finding_check(
                    None,
                    Check::Merkle,
                    format!(
                        "the frontier before entry {} has the wrong number of hashes",
                        header.start
                    ),
                ),
            }
            if header.start == 0 {
                self.last = Some((
                    u64::MAX,
                    EntryHash(self.log_id.0),
                    crate::time::Timestamp(0),
                ));
            }
        }
        // Entries, in chunks, pipelined: while one chunk's signatures are verified on other
        // threads, this thread reads the next chunk and runs the ordered checks of the one before.
        let total = header.count;
        let mut read_so_far = 0u64;
        let mut done = 0u64;
        std::thread::scope(|s| -> Result<(), BundleError> {
            let mut in_flight: Option<(usize, std::thread::ScopedJoinHandle<'_, _>)> = None;
            loop {
                let next = if read_so_far < total && !self.stopped {
                    let chunk = self.read_chunk(r, buf, read_so_far, total)?;
                    read_so_far += chunk.len() as u64;
                    let n = chunk.len();
                    Some((
                        n,
                        s.spawn(move || {
                            let sigs = verify_signatures(&chunk);
                            (chunk, sigs)
                        }),
                    ))
                } else {
                    None
                };
                if let Some((n, handle)) = in_flight.take() {
                    // A worker that panicked verified nothing: every entry of its chunk fails.
                    let (chunk, sigs): (Vec<Decoded>, Vec<bool>) =
                        handle.join().unwrap_or_else(|_| {
                            let failed = Err("signature verification failed".to_owned());
                            (vec![failed; n], vec![false; n])
                        });
                    for (decoded, sig_ok) in chunk.iter().zip(sigs) {
                        self.entry(&header, done, decoded, sig_ok);
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
        self.end_of_entries(&header);
        // The trailer.
        match read(r, buf, 4096) {
            Ok(()) => self.trailer(&header, buf),
            Err(ReadItemError::Io(e)) => return Err(e.into()),
            Err(ReadItemError::Truncated { .. }) => {
                self.report.finding_check(
                    None,
                    Check::Decode,
                    "the bundle is truncated: it ends before its trailer (signature)",
                );
                return Ok(());
            }
            Err(e) => {
                self.read_failed("trailer", e);
                return Ok(());
            }
        }
        let mut rest = [0u8; 1];
        if r.read(&mut rest)? > 0 {
            self.report.finding_check(
                None,
                Check::Decode,
                "data after the trailer: the bundle has bytes its signature does not cover",
            );
        }
        Ok(())
    }

    fn pinned(&self, key: &KeyId) -> bool {
        self.policy.is_some_and(|p| p.pinned(key))
    }

    // Reads and decodes up to CHUNK entry items (fewer at the end, or when reading fails).
    fn read_chunk<R: Read>(
        &mut self,
        r: &mut R,
        buf: &mut Vec<u8>,
        read_so_far: u64,
        total: u64,
    ) -> Result<Vec<Decoded>, BundleError> {
        let want = (total - read_so_far).min(CHUNK as u64) as usize;
        let mut chunk: Vec<Decoded> = Vec::with_capacity(want);
        for _ in 0..want {
            match read(r, buf, MAX_ITEM_LEN) {
                Ok(()) => {}
                Err(ReadItemError::Io(e)) => return Err(e.into()),
                Err(e) => {
                    let at = read_so_far + chunk.len() as u64;
                    self.read_failed(&format!("entry item {} of {total}", at + 1), e);
                    break;
                }
            }
            self.hash_item(buf);
            let decoded = EntryItem::decode(buf)
                .map_err(|e| format!("entry item: {e}"))
                .and_then(|item| {
                    Entry::from_bytes(&item.entry)
                        .map(|e| (item, e))
                        .map_err(|e| format!("entry: {e}"))
                });
            chunk.push(decoded);
        }
        Ok(chunk)
    }

    // A control item: a key-management or erasure entry, with its payload and an inclusion
    // proof against the anchor, applied to the registry before the entries.
    fn control(&mut self, bytes: &[u8]) {
        let (item, entry) = match EntryItem::decode(bytes)
            .map_err(|e| e.to_string())
            .and_then(|i| {
                Entry::from_bytes(&i.entry)
                    .map(|e| (i, e))
                    .map_err(|e| e.to_string())
            }) {
            Ok(x) => x,
            Err(e) => {
                self.report
                    .finding_check(None, Check::Decode, format!("control item: {e}"));
                return;
            }
        };
        let h = entry.header().clone();
        let seq = h.seq;
        let owner_kind = h.kind.is_key_management() || h.kind.as_str() == Kind::ERASURE;
        if !owner_kind {
            self.report.finding_check(
                Some(seq),
                Check::Decode,
                format!(
                    "a control item must be key management or erasure, not `{}`",
                    h.kind
                ),
            );
            return;
        }
        if self
            .controls
            .last_key_value()
            .is_some_and(|(l, _)| *l >= seq)
        {
            self.report.finding_check(
                Some(seq),
                Check::Sequence,
                "control items out of order or repeated",
            );
            return;
        }
        self.controls.insert(seq, entry.hash(self.suite));
        if h.log_id != self.log_id {
            self.report.finding_check(
                Some(seq),
                Check::LogId,
                format!("belongs to log {}, not this one", h.log_id.short()),
            );
        }
        self.merkle_inclusion(&entry, &item.proof);
        let (payload, withheld) = item.payload.to_payload();
        let sig_ok = verify_one(&entry);
        self.checks(&entry, &payload, withheld, sig_ok, ItemRole::Control);
    }

    // The checks every included entry gets, after its position: pinned owner for owner kinds,
    // signer, signature, links, payload, erasure, key management, approvals.
    fn checks(
        &mut self,
        entry: &Entry,
        payload: &Payload,
        withheld: Option<WithheldReason>,
        sig_ok: bool,
        role: ItemRole,
    ) {
        let h = entry.header();
        let seq = h.seq;
        let owner_kind = h.kind.is_key_management() || h.kind.as_str() == Kind::ERASURE;
        if owner_kind && !self.pinned(&h.signer) {
            self.report.finding_check(
                Some(seq),
                Check::Signer,
                format!(
                    "`{}` entry signed by key {}, which is not pinned",
                    h.kind,
                    h.signer.short()
                ),
            );
        }
        let Some(content) = self.content.as_mut() else {
            return;
        };
        if let Err(e) = content.check_signer(entry) {
            self.report.finding_from(&e);
        }
        if !sig_ok {
            self.report
                .finding_from(&VerifyError::Signature { seq, key: h.signer });
        }
        let seen = &self.seen;
        let signers = &self.signers;
        let linked = |target: u64| {
            seen.get(target).map(|s| LinkedEntry {
                hash: prefix_match(s.hash),
                signer: signers
                    .get(usize::from(s.signer))
                    .copied()
                    .unwrap_or(KeyId([0; 32])),
            })
        };
        // Links are compared on a 16-byte prefix: make the full hash from the link itself when
        // the prefix matches, so a mismatch still reports.
        let mut linked_full = |target: u64| -> Option<LinkedEntry> {
            let found = linked(target)?;
            let named = h.links.iter().find(|l| l.seq == target)?;
            let hash = if named.hash.0[..16] == found.hash.0[..16] {
                named.hash
            } else {
                found.hash
            };
            Some(LinkedEntry {
                hash,
                signer: found.signer,
            })
        };
        let absence = if withheld.is_some() {
            Absence::Withheld
        } else {
            Absence::Erased
        };
        if let Err(e) = content.check_rest(entry, payload, absence, &mut linked_full) {
            self.report.finding_from(&e);
        }
        if role == ItemRole::Included {
            self.report.entry(
                entry,
                payload,
                withheld.map(WithheldReason::describe),
                content.registry(),
            );
        }
    }

    fn merkle_inclusion(&mut self, entry: &Entry, proof: &[[u8; 32]]) {
        let Some(anchor) = &self.anchor else {
            return;
        };
        if let Err(e) = anchor.verify_entry(entry, proof) {
            self.report.finding_check(
                Some(entry.seq()),
                Check::Merkle,
                format!(
                    "not included in the checkpoint of size {} at its position: {e}",
                    anchor.size()
                ),
            );
        }
    }

    fn entry(
        &mut self,
        header: &BundleHeader,
        index: u64,
        decoded: &Result<(EntryItem, Entry), String>,
        sig_ok: bool,
    ) {
        let expected = match header.shape {
            Shape::Contiguous => Some(header.start.saturating_add(index)),
            Shape::Selection => None,
        };
        let (item, entry) = match decoded {
            Ok(x) => x,
            Err(e) => {
                self.report
                    .finding_check(expected, Check::Decode, e.clone());
                // The tree cannot advance past an undecodable entry.
                self.frontier = None;
                self.chain_ok = false;
                return;
            }
        };
        let h = entry.header();
        let seq = h.seq;
        let hash = entry.hash(self.suite);
        // Position.
        match expected {
            Some(exp) if exp != seq => self.report.finding_check(
                Some(exp),
                Check::Sequence,
                format!(
                    "position {exp} holds entry {seq}: entries were dropped, duplicated or reordered"
                ),
            ),
            _ => {}
        }
        if let Some((last_seq, _, _)) = self.last {
            if last_seq != u64::MAX && seq <= last_seq {
                self.report.finding_check(
                    Some(seq),
                    Check::Sequence,
                    format!("entry {seq} follows entry {last_seq}: out of order or repeated"),
                );
            }
        }
        if h.log_id != self.log_id {
            self.report.finding_check(
                Some(seq),
                Check::LogId,
                format!("belongs to log {}, not this one", h.log_id.short()),
            );
        }
        // Chain and time against the previous included entry.
        if let Some((last_seq, last_hash, last_time)) = self.last {
            let adjacent = last_seq.wrapping_add(1) == seq;
            if adjacent && h.prev != last_hash {
                self.report.finding_from(&VerifyError::Chain {
                    seq,
                    expected: last_hash,
                    found: h.prev,
                });
            }
            if h.time < last_time {
                self.report.finding_from(&VerifyError::Time {
                    seq,
                    previous: last_time,
                    found: h.time,
                });
            }
        }
        // Merkle.
        match header.shape {
            Shape::Contiguous => {
                if let Some(f) = &mut self.frontier {
                    if f.append(&self.suite, merkle::leaf_hash(self.suite, &hash))
                        .is_err()
                    {
                        self.frontier = None;
                    }
                }
                self.check_streamed_roots(seq.saturating_add(1));
                if !item.proof.is_empty() {
                    self.report.finding_check(
                        Some(seq),
                        Check::Decode,
                        "an entry of a contiguous bundle carries a proof",
                    );
                }
            }
            Shape::Selection => self.merkle_inclusion(entry, &item.proof),
        }
        let (payload, withheld) = item.payload.to_payload();
        match self.controls.get(&seq) {
            // Selected and also carried as a control entry: checked once, as a control.
            Some(control) if *control == hash => {
                let registry = self
                    .content
                    .as_ref()
                    .map(|c| c.registry().clone())
                    .unwrap_or_default();
                self.report.entry(
                    entry,
                    &payload,
                    withheld.map(WithheldReason::describe),
                    &registry,
                );
            }
            Some(_) => self.report.finding_check(
                Some(seq),
                Check::Sequence,
                "the entry differs from the control item at the same position",
            ),
            None => self.checks(entry, &payload, withheld, sig_ok, ItemRole::Included),
        }
        let signer = match self.signers.iter().position(|k| *k == h.signer) {
            Some(i) => i,
            None => {
                self.signers.push(h.signer);
                self.signers.len() - 1
            }
        };
        let mut prefix = [0u8; 16];
        prefix.copy_from_slice(&hash.0[..16]);
        self.seen.insert(
            seq,
            Seen {
                hash: prefix,
                signer: u16::try_from(signer).unwrap_or(u16::MAX),
            },
        );
        self.last = Some((seq, hash, h.time));
    }

    // In contiguous bundles, the streamed tree's root at each checkpoint size inside the range
    // must be that checkpoint's root (and the auditor's earlier one's).
    fn check_streamed_roots(&mut self, size: u64) {
        let Some(f) = &self.frontier else { return };
        if f.size() != size {
            return;
        }
        let matching: Vec<_> = self
            .roots_to_check
            .iter()
            .filter(|(s, _, _)| *s == size)
            .cloned()
            .collect();
        if matching.is_empty() {
            return;
        }
        let root = f.root(&self.suite);
        for (s, expected, who) in matching {
            let is_previous = who == "the checkpoint you supplied";
            if root == expected {
                if is_previous {
                    if let (Some(prev), Some(anchor)) = (self.previous.clone(), self.anchor.clone())
                    {
                        self.prove_growth(&prev, &anchor);
                    }
                }
            } else if is_previous {
                self.report.finding_check(
                    Some(s.saturating_sub(1)),
                    Check::Checkpoint,
                    format!(
                        "FORK: the entries give root {} at size {s}, but the checkpoint you \
                         supplied says {}",
                        root.short(),
                        expected.short()
                    ),
                );
            } else {
                self.report.finding_check(
                    Some(s.saturating_sub(1)),
                    Check::Merkle,
                    format!(
                        "the entries give root {} at size {s}, but the checkpoint signed by {who} \
                         says {}",
                        root.short(),
                        expected.short()
                    ),
                );
            }
        }
    }

    fn end_of_entries(&mut self, header: &BundleHeader) {
        if header.shape == Shape::Contiguous {
            let end = header.start.saturating_add(header.count);
            match (&self.frontier, &self.anchor) {
                (Some(f), Some(anchor)) if f.size() == end => {
                    let root = f.root(&self.suite);
                    let ok = if end == anchor.size() {
                        root == anchor.root()
                    } else if end == 0 {
                        // Every tree extends the empty one.
                        true
                    } else {
                        merkle::verify_consistency(
                            &self.suite,
                            end,
                            anchor.size(),
                            &plain(&header.tail),
                            root.as_bytes(),
                            anchor.root().as_bytes(),
                        )
                        .is_ok()
                    };
                    if ok {
                        self.report.proven(format!(
                            "entries {}..{end} are exactly the log's entries at those positions: \
                             with the frontier before them they give root {} at size {end}, {} \
                             checkpoint size {} (root {})",
                            header.start,
                            root.short(),
                            if end == anchor.size() {
                                "the root of"
                            } else {
                                "proven a prefix of"
                            },
                            anchor.size(),
                            anchor.root().short()
                        ));
                    } else {
                        self.report.finding_check(
                            None,
                            Check::Merkle,
                            format!(
                                "the entries do not match the checkpoint: root {} at size {end} \
                                 is not {} checkpoint size {}",
                                root.short(),
                                if end == anchor.size() {
                                    "the root of"
                                } else {
                                    "proven a prefix of"
                                },
                                anchor.size()
                            ),
                        );
                    }
                }
                (_, None) => {}
                _ => self.report.finding_check(
                    None,
                    Check::Merkle,
                    "the entries' Merkle tree could not be computed (see earlier findings)",
                ),
            }
        } else if let Some(anchor) = &self.anchor {
            self.report.proven(format!(
                "each entry is included at its position in the log's Merkle tree of checkpoint \
                 size {} (root {})",
                anchor.size(),
                anchor.root().short()
            ));
        }
        if let Some(content) = &self.content {
            if let Err(e) = content.finish() {
                self.report.finding_from(&e);
            }
        }
    }

    fn trailer(&mut self, header: &BundleHeader, bytes: &[u8]) {
        let t = match Trailer::decode(bytes) {
            Ok(t) => t,
            Err(e) => {
                self.report
                    .finding_check(None, Check::Decode, format!("trailer: {e}"));
                return;
            }
        };
        if t.count != header.count || self.entries_read != header.count {
            self.report.finding_check(
                None,
                Check::Sequence,
                format!(
                    "the trailer counts {} entries, the header {}, the bundle holds {}",
                    t.count, header.count, self.entries_read
                ),
            );
        }
        let digest = self.digest.take().map(|d| d.finalize()).unwrap_or_default();
        if *t.digest != digest {
            self.report.finding_check(
                None,
                Check::Signature,
                "the bundle's bytes do not hash to the digest its trailer signs: something was \
                 added, removed or changed",
            );
        }
        let signer = KeyId(*t.signer);
        if !self.pinned(&signer) {
            self.report.finding_check(
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
            let who = self.policy.map(|p| p.describe(&signer)).unwrap_or_default();
            self.report.proven(format!(
                "the bundle is complete and unaltered: every byte before the trailer is signed by \
                 the pinned key {who}"
            ));
        } else if !ok {
            self.report.finding_check(
                None,
                Check::Signature,
                "the trailer's signature does not verify",
            );
        }
    }

    fn finish(mut self) -> Report {
        if !self.report.has_findings() {
            if let Some(h) = &self.header {
                if h.count > 0 {
                    self.report.proven(format!(
                        "{} entries, each signed (strict Ed25519) by a key registered in the log \
                         with a role allowed to sign its kind and not revoked; key registrations \
                         and checkpoints signed by pinned keys",
                        h.count
                    ));
                }
                if h.shape == Shape::Contiguous && h.count > 0 {
                    self.report.proven(format!(
                        "entries {}..{} form an unbroken hash chain",
                        h.start,
                        h.start.saturating_add(h.count)
                    ));
                }
            }
        }
        self.report.finish()
    }
}

fn prefix_match(prefix: [u8; 16]) -> EntryHash {
    let mut h = [0u8; 32];
    h[..16].copy_from_slice(&prefix);
    EntryHash(h)
}

fn verify_one(entry: &Entry) -> bool {
    verifying_key(entry.header().signer.as_bytes())
        .is_ok_and(|k| verify_strict(&k, &entry.signing_input(), entry.signature()))
}

// Strict signature checks of a chunk, spread over the machine's cores. Strict single
// verification, not batch verification: ed25519-dalek's batch equation is cofactorless with
// weights derived from the inputs, so a signer could craft a signature (R with a small-order
// component) it accepts but verify_strict, and any strict verifier written from SPEC §4.3,
// rejects. The verdict must not depend on which implementation checks it.
fn verify_signatures(chunk: &[Decoded]) -> Vec<bool> {
    // Each distinct signer's key is parsed (decompressed, checked not weak) once per chunk, not
    // once per entry: a chunk has a handful of signers and decompression costs a fifth of a
    // verification.
    let mut keys: HashMap<KeyId, Option<ed25519_dalek::VerifyingKey>> = HashMap::new();
    for (_, e) in chunk.iter().flatten() {
        let id = e.header().signer;
        keys.entry(id)
            .or_insert_with(|| verifying_key(id.as_bytes()).ok());
    }
    let keys = &keys;
    let check = move |d: &Decoded| {
        d.as_ref().is_ok_and(|(_, e)| {
            keys.get(&e.header().signer)
                .and_then(Option::as_ref)
                .is_some_and(|k| verify_strict(k, &e.signing_input(), e.signature()))
        })
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads <= 1 || chunk.len() < 64 {
        return chunk.iter().map(check).collect();
    }
    let per = chunk.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunk
            .chunks(per)
            .map(|part| {
                let n = part.len();
                let h = s.spawn(move || part.iter().map(check).collect::<Vec<bool>>());
                (n, h)
            })
            .collect();
        // A worker that panicked verified nothing: its entries count as failed.
        handles
            .into_iter()
            .flat_map(|(n, h)| h.join().unwrap_or_else(|_| vec![false; n]))
            .collect()
    })
}
