//! Retention, legal hold and purge (SPEC §7.6–§7.8): owner-signed control entries, a purge that
//! keeps every proof valid, and insiders holding the owner key who try to purge early or under a
//! hold with validly signed bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sealtrail::bundle::{
    BundleHeader, EntryItem, Trailer, TrustPolicy, bundle_digest, preamble, verify_bundle,
};
use sealtrail::checkpoint::{CheckpointTrust, LogOrigin, Witnesses, checkpoint_origin};
use sealtrail::codec::{read_item, to_canonical};
use sealtrail::entry::{Entry, EntryHeader, Payload};
use sealtrail::hash::{PayloadCommitment, Salt};
use sealtrail::log::{AppendError, ExportOptions, PurgeError, Selection};
use sealtrail::registry::Role;
use sealtrail::report::{RedactionReason, Report};
use sealtrail::retention::{Hold, LifecycleProblem, Purge, RetentionSet};
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{
    Clock, Durability, Kind, Link, Log, Record, SecretKey, SignedDescriptor, Timestamp,
};
use sealtrail_testkit::fixtures::{Keys, keys, note};

const ORIGIN: &str = "example.com/test-log";
/// 2026-03-14T10:00:00Z.
const T0: u64 = 1_773_482_400_000_000_000;
const DAY: u64 = 86_400 * 1_000_000_000;

/// A log in memory whose clock the test sets.
struct Fixture {
    store: Arc<MemoryStore>,
    log: Log,
    k: Keys,
    now: Arc<AtomicU64>,
}

impl Fixture {
    fn new() -> Fixture {
        let store = Arc::new(MemoryStore::new());
        let k = keys();
        let now = Arc::new(AtomicU64::new(T0));
        let clock = {
            let now = now.clone();
            Clock::Fixed(Arc::new(move || Timestamp(now.load(Ordering::Relaxed))))
        };
        let log = Log::builder()
            .durability(Durability::Immediate)
            .clock(clock)
            .create_in(store.clone() as Arc<dyn Store>, &k.owner, ORIGIN)
            .unwrap();
        log.register_key(&k.owner, k.recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        log.register_key(
            &k.owner,
            k.approver.key_id(),
            Role::Approver,
            "Dana Reviewer",
        )
        .unwrap();
        Fixture { store, log, k, now }
    }

    fn at(&self, t: u64) {
        self.now.store(t, Ordering::Relaxed);
    }

    /// Entries 2.. : `n` notes by the recorder at the current time.
    fn notes(&self, n: usize) -> Vec<u64> {
        (0..n)
            .map(|i| {
                self.log
                    .append(&self.k.recorder, note(&format!("note {i}")))
                    .unwrap()
                    .seq
            })
            .collect()
    }

    fn policy(&self) -> TrustPolicy {
        TrustPolicy::new(vec![
            self.k
                .owner
                .public_key()
                .renamed(&checkpoint_origin(ORIGIN, self.log.suite()))
                .unwrap(),
        ])
        .unwrap()
    }

    fn bundle(&self, selection: Selection) -> Vec<u8> {
        let mut out = Vec::new();
        self.log
            .export(
                &self.k.owner,
                &ExportOptions::new(selection),
                &mut out,
                &mut |_, _| {},
            )
            .unwrap();
        out
    }

    /// The log's own report and a whole-log bundle's, each checked against the schema.
    fn reports(&self) -> [Report; 2] {
        let local = self.log.verify_report().unwrap();
        let bundle = verify_bundle(&self.bundle(Selection::Log)[..], &self.policy()).unwrap();
        for r in [&local, &bundle] {
            sealtrail_testkit::report_schema::assert_report_schema(&r.to_json());
        }
        [local, bundle]
    }

    /// As an insider with store access: deletes the payload and salt of `seq` without any
    /// record of it.
    fn strip(&self, seq: u64) {
        let mut key = vec![0x01];
        key.extend_from_slice(&seq.to_be_bytes());
        let record = self.store.get(&key).unwrap().unwrap();
        // A stored record ends with salt and payload; erased, with the header's commitment
        // instead, and its first byte's lowest bit (payload present) clear (SPEC §9.1).
        let stored = self.log.read(seq).unwrap().unwrap();
        let cut = record.len() - 32 - stored.payload.data().unwrap().len();
        let mut stripped = record[..cut].to_vec();
        stripped[0] &= !0x01;
        stripped.extend_from_slice(stored.header().payload.as_bytes());
        self.store.put(&key, &stripped).unwrap();
    }
}

fn kind(k: &str) -> Kind {
    Kind::new(k).unwrap()
}

fn retention(months: u64) -> RetentionSet {
    RetentionSet::new(months, None).unwrap()
}

fn assert_finding(r: &Report, seq: u64, check: &str, says: &str) {
    assert!(!r.is_valid(), "VALID, expected a `{check}` finding");
    assert!(
        r.findings
            .iter()
            .any(|f| f.check.as_str() == check && f.seq == Some(seq) && f.message.contains(says)),
        "expected a `{check}` finding for entry {seq} saying {says:?}:\n{}",
        r.render()
    );
}

#[test]
fn only_an_owner_key_declares_retention_or_a_hold() {
    let f = Fixture::new();
    let len = f.log.len();
    let payloads = [
        ("retention_set", retention(72).encode().unwrap()),
        (
            "legal_hold",
            Hold::new("M-1", "litigation").encode("legal_hold").unwrap(),
        ),
        (
            "legal_hold_released",
            Hold::new("M-1", "settled")
                .encode("legal_hold_released")
                .unwrap(),
        ),
    ];
    for signer in [&f.k.recorder, &f.k.approver] {
        for (k, p) in &payloads {
            let err = f
                .log
                .append(signer, Record::new(kind(k), p.clone()))
                .unwrap_err();
            assert!(matches!(err, AppendError::Signer { .. }), "{k}: {err}");
        }
        let err = f.log.set_retention(signer, &retention(72)).unwrap_err();
        assert!(matches!(err, AppendError::Signer { .. }), "{err}");
        let err = f
            .log
            .place_legal_hold(signer, &Hold::new("M-1", "litigation"))
            .unwrap_err();
        assert!(
            matches!(err, PurgeError::Append(AppendError::Signer { .. })),
            "{err}"
        );
    }
    assert_eq!(f.log.len(), len, "nothing written");
    f.log.set_retention(&f.k.owner, &retention(72)).unwrap();
    f.log
        .place_legal_hold(&f.k.owner, &Hold::new("M-1", "litigation"))
        .unwrap();
    for r in f.reports() {
        assert!(r.is_valid(), "{}", r.render());
    }
}

#[test]
fn payloads_are_checked_strictly_at_append() {
    let f = Fixture::new();
    #[derive(serde::Serialize)]
    struct Months {
        months: u64,
    }
    #[derive(serde::Serialize)]
    struct Extra {
        matter: String,
        reason: String,
        sessions: Vec<String>,
    }
    let short = to_canonical(&Months { months: 3 }).unwrap();
    let err = f
        .log
        .append(&f.k.owner, Record::new(kind("retention_set"), short))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::Lifecycle {
                problem: LifecycleProblem::TooShort { months: 3 },
                ..
            }
        ),
        "{err}"
    );
    let extra = to_canonical(&Extra {
        matter: "M-1".into(),
        reason: "r".into(),
        sessions: vec![],
    })
    .unwrap();
    let err = f
        .log
        .append(&f.k.owner, Record::new(kind("legal_hold"), extra))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::Lifecycle {
                problem: LifecycleProblem::Payload { .. },
                ..
            }
        ),
        "{err}"
    );
    // A short retention with its acknowledgement is accepted; a release of no hold is not.
    f.log
        .set_retention(
            &f.k.owner,
            &RetentionSet::new(3, Some("scratch log for a demo".into())).unwrap(),
        )
        .unwrap();
    let err = f
        .log
        .release_legal_hold(&f.k.owner, &Hold::new("M-9", "done"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            PurgeError::Append(AppendError::Lifecycle {
                problem: LifecycleProblem::NotHeld(_),
                ..
            })
        ),
        "{err}"
    );
}

/// The owner writes a three-month retention without the acknowledgement straight into the
/// store (the writer refuses it): every verifier names it.
#[test]
fn a_short_retention_without_acknowledgement_is_a_finding() {
    let f = Fixture::new();
    #[derive(serde::Serialize)]
    struct Months {
        months: u64,
    }
    let seq = forge(
        &f.store,
        &f.log,
        &f.k.owner,
        "retention_set",
        &to_canonical(&Months { months: 3 }).unwrap(),
    );
    let local = sealtrail::log::verify_store_report(f.store.as_ref()).unwrap();
    assert_finding(&local, seq, "retention", "under the six-month minimum");
}

/// Purging removes the payloads whose retention ended and nothing else, writes one tombstone,
/// and leaves every proof valid; the report says "purged".
#[test]
fn a_purge_removes_expired_payloads_and_every_proof_stays_valid() {
    let f = Fixture::new();
    f.log.set_retention(&f.k.owner, &retention(6)).unwrap();
    let old = f.notes(3);
    f.at(T0 + 200 * DAY);
    let young = f.notes(2);
    let before_cp = f.log.checkpoint(&f.k.owner).unwrap();
    f.at(T0 + 300 * DAY);
    // Retention (6 months from T0) ended before T0 + 190 days; the young notes' did not.
    let before = Timestamp(T0 + 190 * DAY);
    let plan = f.log.purge_plan(before).unwrap();
    assert_eq!(plan.entries, old);
    let len = f.log.len();
    let summary = f.log.purge(&f.k.owner, before).unwrap();
    let tombstone = summary.receipt.unwrap().seq;
    assert_eq!(tombstone, len, "one entry for the whole purge");
    assert_eq!(f.log.len(), len + 1);
    let p = f.log.read(tombstone).unwrap().unwrap();
    let purge = Purge::decode(p.payload.data().unwrap()).unwrap();
    assert_eq!(
        (purge.start, purge.end, purge.count),
        (old[0], old[2] + 1, 3)
    );
    assert_eq!(purge.months, 6);
    for seq in &old {
        let e = f.log.read(*seq).unwrap().unwrap();
        assert!(matches!(e.payload, Payload::Erased), "entry {seq} purged");
    }
    for seq in &young {
        assert!(f.log.read(*seq).unwrap().unwrap().payload.data().is_some());
    }
    // Control entries are never purged.
    assert!(f.log.read(0).unwrap().unwrap().payload.data().is_some());
    // Proofs: inclusion against a checkpoint before and after, and consistency between them.
    let after_cp = f.log.checkpoint(&f.k.owner).unwrap();
    let trust = CheckpointTrust::new(
        LogOrigin::of(f.log.descriptor().descriptor()).unwrap(),
        vec![
            f.k.owner
                .public_key()
                .renamed(&checkpoint_origin(ORIGIN, f.log.suite()))
                .unwrap(),
        ],
        Witnesses::NotRequired,
    )
    .unwrap();
    let older = trust.verify(&before_cp).unwrap();
    let newer = trust.verify(&after_cp).unwrap();
    for seq in &old {
        let e = f.log.read(*seq).unwrap().unwrap();
        for cp in [&older, &newer] {
            let proof = f.log.inclusion_proof(*seq, cp.size()).unwrap();
            cp.verify_entry(&e.entry, &proof).unwrap();
        }
    }
    let proof = f.log.consistency_proof(older.size(), newer.size()).unwrap();
    newer.verify_consistency(&older, &proof).unwrap();
    f.log.verify().unwrap();
    for r in f.reports() {
        assert!(r.is_valid(), "{}", r.render());
        let purged: Vec<u64> = r
            .redacted
            .iter()
            .filter(|x| x.reason == RedactionReason::Purged)
            .map(|x| x.seq)
            .collect();
        assert_eq!(purged, old);
        assert_eq!(r.redacted[0].erasure.as_ref().unwrap().seq, tombstone);
        assert!(r.render().contains("purged at end of retention"));
    }
    // The auditor's page says it too, in the redactions and at each purged entry; a purged
    // payload is not listed as withheld.
    let local = f.log.verify_report().unwrap();
    let html = sealtrail::html::Page::verified(&local, &f.log)
        .render()
        .unwrap();
    assert!(
        html.contains("<h3>Purged at end of retention</h3>"),
        "{html}"
    );
    assert_eq!(
        html.matches("Payload purged at end of retention").count(),
        3,
        "{html}"
    );
    let withheld = html.split("<h3>Withheld payloads</h3>").nth(1).unwrap();
    assert!(withheld.starts_with("<p class=\"note\">") && withheld.contains("<p>None.</p>"));
    // A session-less selection bundle of one purged entry carries the purge as a control item.
    let one = f.bundle(Selection::Entries(vec![old[1]]));
    let r = verify_bundle(&one[..], &f.policy()).unwrap();
    assert!(r.is_valid(), "{}", r.render());
    assert_eq!(r.redacted[0].reason, RedactionReason::Purged);
    // Nothing is left to purge.
    let again = f.log.purge(&f.k.owner, before).unwrap();
    assert!(again.receipt.is_none());
}

#[test]
fn a_purge_is_refused_under_a_hold_and_allowed_after_its_release() {
    let f = Fixture::new();
    f.log.set_retention(&f.k.owner, &retention(6)).unwrap();
    f.notes(2);
    f.log
        .place_legal_hold(&f.k.owner, &Hold::new("CASE-2026-17", "litigation"))
        .unwrap();
    f.at(T0 + 400 * DAY);
    let len = f.log.len();
    let err = f
        .log
        .purge(&f.k.owner, Timestamp(T0 + 390 * DAY))
        .unwrap_err();
    assert!(
        matches!(&err, PurgeError::UnderHold { matter, .. } if matter == "CASE-2026-17"),
        "{err}"
    );
    assert!(err.to_string().contains("CASE-2026-17"));
    assert_eq!(f.log.len(), len, "nothing written");
    assert_eq!(f.log.active_holds().unwrap().len(), 1);
    f.log
        .release_legal_hold(&f.k.owner, &Hold::new("CASE-2026-17", "settled"))
        .unwrap();
    assert!(f.log.active_holds().unwrap().is_empty());
    let done = f.log.purge(&f.k.owner, Timestamp(T0 + 390 * DAY)).unwrap();
    assert_eq!(done.plan.entries.len(), 2);
    for r in f.reports() {
        assert!(r.is_valid(), "{}", r.render());
    }
}

/// An insider with the owner key writes a purge while a hold is active, with the low-level
/// append (validly signed bytes), and deletes the payloads from the store: every verifier names
/// the purge entry and the check.
#[test]
fn an_owner_purging_under_a_hold_is_named() {
    let f = Fixture::new();
    f.log.set_retention(&f.k.owner, &retention(6)).unwrap();
    let notes = f.notes(2);
    f.log
        .place_legal_hold(&f.k.owner, &Hold::new("CASE-9", "regulator inquiry"))
        .unwrap();
    f.at(T0 + 400 * DAY);
    let purge = Purge {
        before: T0 + 390 * DAY,
        start: notes[0],
        end: notes[1] + 1,
        count: 2,
        months: 6,
    };
    let seq = f
        .log
        .append(
            &f.k.owner,
            Record::new(kind("purge"), purge.encode().unwrap()),
        )
        .unwrap()
        .seq;
    for n in &notes {
        f.strip(*n);
    }
    for r in f.reports() {
        assert_finding(&r, seq, "legal_hold", "CASE-9");
    }
}

/// An insider with the owner key purges payloads whose six-month retention had not ended, and
/// one whose purge date is after its own time: both named, with the `retention` check.
#[test]
fn an_owner_purging_before_retention_ended_is_named() {
    let f = Fixture::new();
    f.log.set_retention(&f.k.owner, &retention(6)).unwrap();
    let notes = f.notes(2);
    f.at(T0 + 30 * DAY);
    let purge = |before| Purge {
        before,
        start: notes[0],
        end: notes[1] + 1,
        count: 2,
        months: 6,
    };
    // Dated honestly (before = the purge's time), but a month is not six.
    let early = f
        .log
        .append(
            &f.k.owner,
            Record::new(kind("purge"), purge(T0 + 30 * DAY).encode().unwrap()),
        )
        .unwrap()
        .seq;
    f.strip(notes[0]);
    for r in f.reports() {
        assert_finding(&r, early, "retention", &format!("entry {}", notes[0]));
    }
    // Claiming a date after its own time.
    let future = f
        .log
        .append(
            &f.k.owner,
            Record::new(kind("purge"), purge(T0 + 400 * DAY).encode().unwrap()),
        )
        .unwrap()
        .seq;
    let r = f.log.verify_report().unwrap();
    assert_finding(&r, future, "retention", "after the purge's own time");
}

/// A longer retention declared later applies to earlier entries: the owner cannot shorten the
/// retention of records kept under a longer one and purge them.
#[test]
fn a_shorter_retention_declared_later_does_not_shorten_earlier_records() {
    let f = Fixture::new();
    f.log.set_retention(&f.k.owner, &retention(72)).unwrap();
    let notes = f.notes(1);
    f.log.set_retention(&f.k.owner, &retention(6)).unwrap();
    f.at(T0 + 400 * DAY);
    let plan = f.log.purge_plan(Timestamp(T0 + 390 * DAY)).unwrap();
    assert!(plan.entries.is_empty(), "{plan:?}");
    let seq = f
        .log
        .append(
            &f.k.owner,
            Record::new(
                kind("purge"),
                Purge {
                    before: T0 + 390 * DAY,
                    start: notes[0],
                    end: notes[0] + 1,
                    count: 1,
                    months: 6,
                }
                .encode()
                .unwrap(),
            ),
        )
        .unwrap()
        .seq;
    f.strip(notes[0]);
    for r in f.reports() {
        assert_finding(&r, seq, "retention", "72 months");
    }
}

/// The owner hand-assembles a bundle without the legal hold's control item: the control chain
/// breaks where it was.
#[test]
fn a_bundle_without_the_legal_hold_is_refused() {
    let f = Fixture::new();
    f.log.set_retention(&f.k.owner, &retention(72)).unwrap();
    let hold = f
        .log
        .place_legal_hold(&f.k.owner, &Hold::new("CASE-1", "litigation"))
        .unwrap()
        .seq;
    let notes = f.notes(2);
    let honest = f.bundle(Selection::Entries(notes.clone()));
    let r = verify_bundle(&honest[..], &f.policy()).unwrap();
    assert!(r.is_valid(), "{}", r.render());
    let (header, mut controls, entries) = split(&honest);
    let n = controls.len();
    controls.retain(|c| Entry::from_bytes(&c.entry).unwrap().seq() != hold);
    assert_eq!(controls.len(), n - 1);
    let r = verify_bundle(
        &assemble(header, &controls, &entries, &f.k.owner)[..],
        &f.policy(),
    )
    .unwrap();
    assert!(
        r.findings.iter().any(|x| x.check.as_str() == "control"),
        "{}",
        r.render()
    );
}

fn split(bundle: &[u8]) -> (BundleHeader, Vec<EntryItem>, Vec<EntryItem>) {
    let mut r = bundle;
    let mut buf = Vec::new();
    let mut next = || {
        assert!(read_item(&mut r, &mut buf, 1 << 26).unwrap());
        buf.clone()
    };
    next();
    next();
    let header = BundleHeader::decode(&next()).unwrap();
    let controls = (0..header.controls)
        .map(|_| EntryItem::decode(&next()).unwrap())
        .collect();
    let entries = (0..header.count)
        .map(|_| EntryItem::decode(&next()).unwrap())
        .collect();
    (header, controls, entries)
}

fn assemble(
    mut header: BundleHeader,
    controls: &[EntryItem],
    entries: &[EntryItem],
    signer: &SecretKey,
) -> Vec<u8> {
    header.controls = controls.len() as u64;
    header.count = entries.len() as u64;
    let suite = SignedDescriptor::from_bytes(&header.descriptor)
        .unwrap()
        .suite();
    let mut out = preamble();
    out.extend_from_slice(&header.encode());
    for item in controls.iter().chain(entries) {
        out.extend_from_slice(&item.encode());
    }
    let digest = bundle_digest(suite, &out);
    let trailer = Trailer {
        count: header.count,
        digest: serde_bytes::ByteArray::new(digest),
        signature: serde_bytes::ByteArray::new(signer.sign(&Trailer::signing_input(&digest))),
        signer: serde_bytes::ByteArray::new(*signer.key_id().as_bytes()),
    };
    out.extend_from_slice(&trailer.encode());
    out
}

/// Appends an owner-signed entry straight into the store (SPEC §9.1), with the Merkle nodes its
/// leaf completes, past every check the writer makes. Returns its position.
fn forge(
    store: &Arc<MemoryStore>,
    log: &Log,
    signer: &SecretKey,
    kind_name: &str,
    payload: &[u8],
) -> u64 {
    let seq = log.len();
    let suite = log.suite();
    let last = log.read(seq - 1).unwrap().unwrap();
    let control = if last.header().kind.is_control() {
        Some(Link {
            seq: seq - 1,
            hash: last.hash,
        })
    } else {
        last.header().control
    };
    let salt = Salt([0x5a; 32]);
    let header = EntryHeader {
        version: sealtrail::descriptor::FORMAT_VERSION,
        log_id: log.log_id(),
        seq,
        prev: last.hash,
        time: last.header().time,
        session: sealtrail::SessionId::none(),
        signer: signer.key_id(),
        kind: kind(kind_name),
        payload: PayloadCommitment::compute(suite, &salt, payload),
        links: Vec::new(),
        control,
    };
    let bytes = header.encode();
    let entry = Entry::sign(header, &bytes, signer);
    let mut frontier = sealtrail::merkle::Frontier::new();
    for e in log.range(0..seq) {
        frontier
            .append(
                &suite,
                sealtrail::merkle::leaf_hash(suite, &e.unwrap().hash),
            )
            .unwrap();
    }
    let completed = frontier
        .append(
            &suite,
            sealtrail::merkle::leaf_hash(suite, &entry.hash(suite)),
        )
        .unwrap();
    let nodes: Vec<u8> = completed
        .iter()
        .filter(|n| n.id.level >= sealtrail::log::RECORD_NODE_LEVEL)
        .flat_map(|n| n.hash)
        .collect();
    let mut k = vec![0x01];
    k.extend_from_slice(&seq.to_be_bytes());
    let record = sealtrail::log::encode_record(
        &entry,
        &sealtrail::entry::Payload::Present {
            salt,
            data: payload.to_vec(),
        },
        &nodes,
    );
    store.put(&k, &record).unwrap();
    store
        .put(b"\x00watermark", &(seq + 1).to_be_bytes())
        .unwrap();
    seq
}
