//! Insiders against what `verify-bundle` proves (SPEC §7.5, §11, §12.6).
//!
//! In every test someone who holds a real key — the log's owner (who signs checkpoints, exports
//! and control entries and can write to the store), a recorder, an approver, or several of them
//! together — builds validly signed bytes that say something the log does not, and the verifier
//! must refuse them, naming the check. Each test also shows the honest bundle next to it
//! verifying, so a refusal is never an accident of the set-up.

use std::sync::Arc;

use sealtrail::approval::{Approval, Gate, Meaning, Subjects, Verdict};
use sealtrail::bundle::{
    BundleHeader, BundlePayload, EntryItem, Trailer, TrustPolicy, WithheldReason, bundle_digest,
    preamble, verify_bundle,
};
use sealtrail::checkpoint::{
    Checkpoint, LogBinding, LogOrigin, SignedCheckpoint, WitnessKey, WitnessPolicy,
    checkpoint_origin,
};
use sealtrail::codec::{read_item, to_canonical};
use sealtrail::entry::{Entry, EntryHeader};
use sealtrail::hash::{PayloadCommitment, Salt};
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::registry::Role;
use sealtrail::report::Report;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{
    Clock, Durability, Event, Kind, Link, Log, PublicKey, Record, SecretKey, SignedDescriptor,
    Suite, Timestamp,
};

const ORIGIN: &str = "example.com/insider-log";
/// 2026-03-14T10:00:00Z.
const T0: u64 = 1_773_482_400_000_000_000;
const SECOND: u64 = 1_000_000_000;

fn key(name: &str, byte: u8) -> SecretKey {
    SecretKey::from_seed(name, &[byte; 32]).unwrap()
}

fn owner() -> SecretKey {
    key(ORIGIN, 0x01)
}

fn recorder() -> SecretKey {
    key("recorder", 0x02)
}

fn approver() -> SecretKey {
    key("approver", 0x03)
}

/// What an auditor pins: the owner key under the checkpoint origin line of either suite.
fn pinned() -> Vec<PublicKey> {
    [Suite::Blake3, Suite::Sha256]
        .iter()
        .map(|s| {
            owner()
                .public_key()
                .renamed(&checkpoint_origin(ORIGIN, *s))
                .unwrap()
        })
        .collect()
}

fn policy() -> TrustPolicy {
    TrustPolicy::new(pinned()).unwrap()
}

fn kind(k: &str) -> Kind {
    Kind::new(k).unwrap()
}

fn note(text: &str) -> Record {
    sealtrail_testkit::fixtures::note(text)
}

/// A log in memory with a one-second stepping clock from `start`.
fn log_from(start: u64) -> (Arc<MemoryStore>, Log) {
    let store = Arc::new(MemoryStore::new());
    let log = Log::builder()
        .durability(Durability::Buffered)
        .clock(Clock::stepping(
            Timestamp(start),
            std::time::Duration::from_secs(1),
        ))
        .create_in(store.clone() as Arc<dyn Store>, &owner(), ORIGIN)
        .unwrap();
    (store, log)
}

fn reopen(store: &Arc<MemoryStore>, clock_at: u64) -> Log {
    Log::builder()
        .durability(Durability::Buffered)
        .clock(Clock::stepping(
            Timestamp(clock_at),
            std::time::Duration::from_secs(1),
        ))
        .open_in(store.clone() as Arc<dyn Store>)
        .unwrap()
}

fn export(log: &Log, options: ExportOptions) -> Vec<u8> {
    let mut out = Vec::new();
    log.export(&owner(), &options, &mut out, &mut |_, _| {})
        .unwrap();
    out
}

// Every report is also checked against schemas/report.schema.json.
fn verify(bundle: &[u8], policy: &TrustPolicy) -> Report {
    let report = verify_bundle(bundle, policy).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
    report
}

fn assert_valid(r: &Report) {
    assert!(r.is_valid(), "{}", r.render());
}

/// The report is invalid, with a finding of `check` (about `seq`, when given) whose message
/// contains `says`.
fn assert_finding(r: &Report, seq: Option<u64>, check: &str, says: &str) {
    assert!(!r.is_valid(), "VALID, expected a `{check}` finding");
    assert!(
        r.findings.iter().any(|f| f.check.as_str() == check
            && (seq.is_none() || f.seq == seq)
            && f.message.contains(says)),
        "expected a `{check}` finding for {seq:?} saying {says:?}:\n{}",
        r.render()
    );
}

// ---- Hand-assembling bundles, as an exporter holding the owner key can. ----

/// A bundle taken apart: header, control items, entry items.
struct Parts {
    header: BundleHeader,
    controls: Vec<EntryItem>,
    entries: Vec<EntryItem>,
}

fn split(bundle: &[u8]) -> Parts {
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
    Parts {
        header,
        controls,
        entries,
    }
}

/// Puts the parts back together, with counts that match and a trailer signed by `signer`.
fn assemble(p: &Parts, signer: &SecretKey) -> Vec<u8> {
    let mut header = p.header.clone();
    header.controls = p.controls.len() as u64;
    header.count = p.entries.len() as u64;
    let suite = SignedDescriptor::from_bytes(&header.descriptor)
        .unwrap()
        .suite();
    let mut out = preamble();
    out.extend_from_slice(&header.encode());
    for item in p.controls.iter().chain(&p.entries) {
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

fn seq_of(item: &EntryItem) -> u64 {
    Entry::from_bytes(&item.entry).unwrap().seq()
}

// ---- Item 1: a fork passes `--checkpoint`. ----

/// The owner copies the genuine log's store, then appends other entries to the copy: the same
/// descriptor (so the same log id), the same first entries and key history, a different tree
/// from the fork point on. The auditor, who holds a checkpoint of the genuine log, must see the
/// fork at every size the bundle covers — including at `start`, before the first entry, and in
/// an empty range.
#[test]
fn a_fork_with_the_same_log_id_is_refused_against_the_auditors_checkpoint() {
    let (a_store, a) = log_from(T0);
    a.register_key(&owner(), recorder().key_id(), Role::Recorder, "harness")
        .unwrap();
    for i in 0..5 {
        a.append(&recorder(), note(&format!("shared {i}"))).unwrap();
    }
    a.flush().unwrap();
    let b_store = Arc::new(MemoryStore::new());
    for (k, v) in a_store.dump() {
        b_store.put(&k, &v).unwrap();
    }
    let b = reopen(&b_store, T0 + 100 * SECOND);
    assert_eq!(a.log_id(), b.log_id(), "one descriptor, one log id");
    for i in 0..5 {
        a.append(&recorder(), note(&format!("genuine {i}")))
            .unwrap();
        b.append(&recorder(), note(&format!("fabricated {i}")))
            .unwrap();
    }
    let seen = a.checkpoint(&owner()).unwrap();
    assert_eq!(seen.checkpoint().size(), 11);
    let seen = seen.encode();
    for i in 0..5 {
        b.append(&recorder(), note(&format!("more {i}"))).unwrap();
    }
    let with_seen = policy().with_previous_checkpoint(seen.clone());
    for selection in [
        Selection::Range(11..16),
        Selection::Range(11..11),
        Selection::Since { size: 11 },
        Selection::Range(5..16),
    ] {
        let bundle = export(&b, ExportOptions::new(selection.clone()));
        // A bundle of log B on its own is valid: the refusal is about the auditor's checkpoint.
        assert_valid(&verify(&bundle, &policy()));
        let r = verify(&bundle, &with_seen);
        assert_finding(&r, None, "checkpoint", "FORK");
    }
    // A selection that neither carries a checkpoint of that size nor reaches it cannot prove
    // anything about it: INVALID too, saying so.
    let bundle = export(&b, ExportOptions::new(Selection::Entries(vec![12, 13])));
    assert_finding(
        &verify(&bundle, &with_seen),
        None,
        "checkpoint",
        "cannot prove",
    );
    // The genuine log, grown, proves it only grew.
    a.append(&recorder(), note("later")).unwrap();
    let bundle = export(&a, ExportOptions::new(Selection::Since { size: 11 }));
    let r = verify(&bundle, &with_seen);
    assert_valid(&r);
    assert!(r.proven.iter().any(|p| p.contains("only grew")));
}

/// A checkpoint names its log (SPEC §11.2): a checkpoint of another log with the same origin
/// and owner key is refused outright, whatever the sizes.
#[test]
fn a_checkpoint_of_another_log_with_the_same_origin_is_refused() {
    let (_a_store, a) = log_from(T0);
    let (_b_store, b) = log_from(T0 + SECOND);
    assert_ne!(a.log_id(), b.log_id());
    let seen = a.checkpoint(&owner()).unwrap().encode();
    b.register_key(&owner(), recorder().key_id(), Role::Recorder, "harness")
        .unwrap();
    let bundle = export(&b, ExportOptions::new(Selection::Log));
    let r = verify(&bundle, &policy().with_previous_checkpoint(seen));
    assert_finding(&r, None, "checkpoint", "of log");
}

// ---- Item 2: a revocation can be hidden. ----

/// A log where the recorder is revoked after one entry and a second recorder goes on:
/// 0 register recorder, 1 register recorder 2, 2 recorder's entry, 3 revoke recorder,
/// 4 recorder 2's entry.
fn revoked_log() -> (Arc<MemoryStore>, Log) {
    let (store, log) = log_from(T0);
    log.register_key(&owner(), recorder().key_id(), Role::Recorder, "harness")
        .unwrap();
    log.register_key(
        &owner(),
        key("recorder-2", 0x04).key_id(),
        Role::Recorder,
        "harness 2",
    )
    .unwrap();
    log.append(&recorder(), note("before the revocation"))
        .unwrap();
    log.revoke_key(&owner(), recorder().key_id(), "key leaked")
        .unwrap();
    log.append(&key("recorder-2", 0x04), note("after")).unwrap();
    (store, log)
}

/// The owner deletes the revocation's key from the writer's control index (key prefix 0x03 in
/// version 1 of the store; version 2 has no index): the registry still comes from the signed
/// entries, so the revoked key stays revoked and every export carries the revocation.
#[test]
fn deleting_the_control_index_does_not_bring_a_revoked_key_back() {
    let (store, log) = revoked_log();
    drop(log);
    let mut index_key = vec![0x03];
    index_key.extend_from_slice(&3u64.to_be_bytes());
    store.delete(&index_key).unwrap();
    let log = reopen(&store, T0 + 100 * SECOND);
    let refused = log.append(&recorder(), note("with a revoked key"));
    assert!(refused.is_err(), "a revoked key signed entry {refused:?}");
    let bundle = export(&log, ExportOptions::new(Selection::Entries(vec![2])));
    let p = split(&bundle);
    assert_eq!(
        p.controls.iter().map(seq_of).collect::<Vec<_>>(),
        [0, 1, 3],
        "the revocation is carried"
    );
    assert_valid(&verify(&bundle, &policy()));
}

/// The owner rewrites the revocation's record in the store with another validly signed control
/// entry at the same position: the entries after it name the revocation's hash, so the writer
/// refuses to open the log and names the entry.
#[test]
fn a_rewritten_control_entry_stops_the_writer() {
    let (store, log) = revoked_log();
    let revocation = log.read(3).unwrap().unwrap();
    drop(log);
    let mut header = revocation.header().clone();
    let payload = to_canonical(&sealtrail::registry::KeyRegistration::new(
        key("throwaway", 0x09).key_id(),
        Role::Recorder,
        "throwaway",
    ))
    .unwrap();
    let salt = Salt([0x33; 32]);
    header.kind = kind("key_register");
    header.payload = PayloadCommitment::compute(Suite::Blake3, &salt, &payload);
    let bytes = header.encode();
    let forged = Entry::sign(header, &bytes, &owner());
    let mut key3 = vec![0x01];
    key3.extend_from_slice(&3u64.to_be_bytes());
    // Entry 3's record holds no Merkle nodes: records hold those of level 8 and up (SPEC §9.1).
    store
        .put(&key3, &encode_record(&forged, &salt, &payload, &[]))
        .unwrap();
    let err = Log::builder()
        .open_in(store.clone() as Arc<dyn Store>)
        .unwrap_err();
    assert!(err.to_string().contains("entry 3"), "{err}");
}

/// The owner hand-assembles a selection bundle without the revocation: the control items no
/// longer reach the control head the anchor names, and the entry after the revocation names
/// it too.
#[test]
fn a_selection_without_the_revocation_is_refused() {
    let (_store, log) = revoked_log();
    let honest = export(&log, ExportOptions::new(Selection::Entries(vec![2, 4])));
    assert_valid(&verify(&honest, &policy()));
    let mut p = split(&honest);
    p.controls.retain(|c| seq_of(c) != 3);
    let hidden = assemble(&p, &owner());
    let r = verify(&hidden, &policy());
    assert_finding(&r, None, "control", "missing from the bundle");
    assert_finding(
        &r,
        Some(4),
        "control",
        "latest control entry before it is entry 1",
    );
    // Without the later entry the anchor still names the revocation.
    p.entries.retain(|e| seq_of(e) == 2);
    let r = verify(&assemble(&p, &owner()), &policy());
    assert_finding(&r, None, "control", "missing from the bundle");
}

/// After publishing a checkpoint that covers a revocation, the owner re-signs a fresh anchor
/// whose control line leaves the revocation out, and carries neither it nor the entries after
/// it. On its own such a bundle is consistent (the owner signed everything in it); against the
/// checkpoint the auditor already holds, the hidden revocation is a fork.
#[test]
fn a_later_anchor_that_hides_a_published_revocation_is_a_fork() {
    let (_store, log) = revoked_log();
    let published = log.checkpoint(&owner()).unwrap();
    let mut p = split(&export(
        &log,
        ExportOptions::new(Selection::Entries(vec![2])),
    ));
    p.controls.retain(|c| seq_of(c) != 3);
    // A new anchor of the same tree, naming entry 1 as the last control entry.
    let anchor = SignedCheckpoint::parse(&p.header.checkpoints.last().unwrap().note).unwrap();
    let lying = Checkpoint::for_log(
        &LogOrigin::new(ORIGIN, Suite::Blake3).unwrap(),
        &LogBinding {
            log_id: log.log_id(),
            control: Some(Link {
                seq: 1,
                hash: log.read(1).unwrap().unwrap().hash,
            }),
        },
        anchor.checkpoint().size(),
        anchor.checkpoint().root(),
    );
    let signed = SignedCheckpoint::sign(lying, &owner()).unwrap();
    p.header.checkpoints = vec![sealtrail::bundle::CheckpointItem {
        consistency: vec![],
        note: serde_bytes::ByteBuf::from(signed.encode()),
    }];
    let bundle = assemble(&p, &owner());
    let r = verify(
        &bundle,
        &policy().with_previous_checkpoint(published.encode()),
    );
    assert_finding(&r, None, "checkpoint", "FORK");
}

// ---- Item 6: an entry item that repeats a control item is checked like any other. ----

#[test]
fn a_repeated_control_item_is_checked_by_every_rule() {
    let (_store, log) = revoked_log();
    // Entry 0 (a key registration) selected: it repeats control item 0.
    let honest = export(&log, ExportOptions::new(Selection::Entries(vec![0, 2])));
    assert_valid(&verify(&honest, &policy()));
    let tamper = |f: &dyn Fn(&mut EntryItem)| {
        let mut p = split(&honest);
        let item = p.entries.iter_mut().find(|e| seq_of(e) == 0).unwrap();
        f(item);
        verify(&assemble(&p, &owner()), &policy())
    };
    // A payload that does not match its commitment.
    let r = tamper(&|item| {
        if let BundlePayload::Present { data, .. } = &mut item.payload {
            data.push(0);
        }
    });
    assert_finding(&r, Some(0), "payload", "");
    // A key registration marked withheld, or erased.
    let r = tamper(&|item| item.payload = BundlePayload::Withheld(WithheldReason::Entry));
    assert_finding(&r, Some(0), "payload", "needed to verify the log");
    let r = tamper(&|item| item.payload = BundlePayload::Erased);
    assert_finding(&r, Some(0), "payload", "needed to verify the log");
    // Another encoding of the payload (a text key's length in two bytes: not canonical). No
    // encoding but the committed one matches the commitment, so it is caught there.
    let r = tamper(&|item| {
        if let BundlePayload::Present { data, .. } = &mut item.payload {
            assert_eq!(data[1], 0x63, "the first key is a 3-byte text");
            data.splice(1..2, [0x78, 0x03]);
        }
    });
    assert_finding(&r, Some(0), "payload", "commitment");
}

// ---- Item 7: fields the SPEC fixes are checked. ----

#[test]
fn fields_the_spec_fixes_are_checked() {
    let (_store, log) = revoked_log();
    let selection = export(&log, ExportOptions::new(Selection::Entries(vec![2, 4])));
    let edit = |bundle: &[u8], f: &dyn Fn(&mut Parts)| {
        let mut p = split(bundle);
        f(&mut p);
        verify(&assemble(&p, &owner()), &policy())
    };
    let r = edit(&selection, &|p| p.header.start = 3);
    assert_finding(&r, None, "decode", "`start` must be 0");
    let r = edit(&selection, &|p| {
        p.header.tail = vec![serde_bytes::ByteArray::new([7; 32])]
    });
    assert_finding(&r, None, "decode", "`tail` must be empty");
    let r = edit(&selection, &|p| {
        p.header.frontier = vec![serde_bytes::ByteArray::new([7; 32])]
    });
    assert_finding(&r, None, "decode", "`frontier` must be empty");
    // The first checkpoint carries a consistency proof (of an earlier one that is not there).
    log.checkpoint(&owner()).unwrap();
    log.append(&key("recorder-2", 0x04), note("one more"))
        .unwrap();
    let two = export(&log, ExportOptions::new(Selection::Entries(vec![2, 4])));
    assert_eq!(split(&two).header.checkpoints.len(), 2);
    let r = edit(&two, &|p| {
        p.header.checkpoints[0].consistency = vec![serde_bytes::ByteArray::new([7; 32])]
    });
    assert_finding(
        &r,
        None,
        "checkpoint",
        "first checkpoint carries a consistency proof",
    );
    // Checkpoints out of order.
    let r = edit(&two, &|p| p.header.checkpoints.swap(0, 1));
    assert_finding(&r, None, "checkpoint", "strictly increasing size");
}

/// An entry linking a control entry with the wrong hash, written straight into the store by a
/// recorder with store access (the writer would refuse it), is caught in a selection that holds
/// the control entry only as a control item. A stored record keeps a link by position and takes
/// its hash from the chain (SPEC §9.1): the wrong hash does not survive storage, and the entry
/// read back, naming the real hash, is not the one signed.
#[test]
fn a_link_to_a_control_item_is_checked() {
    let (store, log) = revoked_log();
    let registration = log.read(1).unwrap().unwrap();
    let seq = forge(
        &store,
        &log,
        &key("recorder-2", 0x04),
        "command_run",
        &to_canonical(&"forged").unwrap(),
        vec![Link {
            seq: 1,
            hash: sealtrail::EntryHash([0xee; 32]),
        }],
        None,
    );
    assert_ne!(registration.hash.0, [0xee; 32]);
    let log = reopen(&store, T0 + 1000 * SECOND);
    let bundle = export(&log, ExportOptions::new(Selection::Entries(vec![seq])));
    let r = verify(&bundle, &policy());
    assert_finding(&r, Some(seq), "signature", "");
}

/// Entry 0 dated before the descriptor's creation (signed by the owner, written into the store):
/// both verifiers refuse it.
#[test]
fn entry_0_before_the_log_was_created_is_refused() {
    let (store, log) = log_from(T0);
    drop(log);
    let log = reopen(&store, T0);
    let seq = forge(
        &store,
        &log,
        &owner(),
        "key_register",
        &to_canonical(&sealtrail::registry::KeyRegistration::new(
            recorder().key_id(),
            Role::Recorder,
            "harness",
        ))
        .unwrap(),
        vec![],
        Some(Timestamp(T0 - SECOND)),
    );
    assert_eq!(seq, 0);
    let log = reopen(&store, T0 + 10 * SECOND);
    assert!(log.verify().is_err());
    let bundle = export(&log, ExportOptions::new(Selection::Log));
    assert_finding(&verify(&bundle, &policy()), Some(0), "time", "before");
}

/// The same forgery in a hand-assembled bundle, where no store stands between the recorder and
/// the auditor: the recorder re-signs its entry with a link to control item 1 under the wrong
/// hash, with its own registered key. The signature verifies; the link check names the entry.
#[test]
fn a_link_to_a_control_item_with_the_wrong_hash_is_refused_in_a_bundle() {
    let (_store, log) = revoked_log();
    let honest = export(&log, ExportOptions::new(Selection::Entries(vec![4])));
    assert_valid(&verify(&honest, &policy()));
    let mut p = split(&honest);
    assert!(
        p.controls.iter().any(|c| seq_of(c) == 1),
        "the registration of recorder-2 travels as a control item"
    );
    let item = p.entries.iter_mut().find(|e| seq_of(e) == 4).unwrap();
    let entry = Entry::from_bytes(&item.entry).unwrap();
    let real = log.read(1).unwrap().unwrap().hash;
    let mut header = entry.header().clone();
    // The honest entry, re-signed unchanged, still verifies: the set-up alone refuses nothing.
    let resign = |header: EntryHeader| {
        let bytes = header.encode();
        Entry::sign(header, &bytes, &key("recorder-2", 0x04)).into_bytes()
    };
    assert_eq!(
        resign(header.clone()),
        item.entry,
        "signing is deterministic"
    );
    header.links = vec![Link {
        seq: 1,
        hash: sealtrail::EntryHash([0xee; 32]),
    }];
    assert_ne!(real.0, [0xee; 32]);
    item.entry = resign(header);
    let r = verify(&assemble(&p, &owner()), &policy());
    assert_finding(&r, Some(4), "link", "");
    assert!(
        !r.findings.iter().any(|f| f.check.as_str() == "signature"),
        "the re-signed entry's signature verifies:\n{}",
        r.render()
    );
}

// ---- Item 8: time pushed forward by a recorder. ----

/// A recorder runs the writer with its clock set to 2100 for one entry. The honest writer that
/// opens the log next refuses to date anything in that future; bundles bound entry times by the
/// export's time and by the witnesses' cosignatures.
#[test]
fn a_recorder_cannot_push_time_forward() {
    const Y2100: u64 = 4_102_444_800_000_000_000;
    let (store, log) = log_from(T0);
    log.register_key(&owner(), recorder().key_id(), Role::Recorder, "harness")
        .unwrap();
    log.register_key(&owner(), approver().key_id(), Role::Approver, "Approver")
        .unwrap();
    let work = log.append(&recorder(), note("today")).unwrap();
    drop(log);
    // The skewed writer: its clock says 2100.
    let skewed = reopen(&store, Y2100);
    skewed.append(&recorder(), note("from the future")).unwrap();
    drop(skewed);
    // The honest writer refuses to append after it, approvals included.
    let honest = reopen(&store, T0 + 3600 * SECOND);
    let approval = Approval::new(
        Gate::FileWrite,
        Meaning::Approval,
        Verdict::Approve,
        Subjects::entries([work.link()]),
    )
    .unwrap()
    .with_signed_at(honest.now());
    let refused = honest.append(&approver(), Event::Approval(approval).to_record().unwrap());
    assert!(
        matches!(refused, Err(sealtrail::log::AppendError::ClockSkew { .. })),
        "{refused:?}"
    );
    // Exported by the honest owner, the 2100 entry is past the export's time.
    let bundle = export(&honest, ExportOptions::new(Selection::Log));
    assert_finding(&verify(&bundle, &policy()), Some(3), "time", "after");
}

/// The approver's own time of signing is in the payload (21 CFR 11.50) and in the report; an
/// approval whose time of signing is far from its entry's is refused by the writer and by the
/// verifier.
#[test]
fn an_approval_carries_its_signers_time() {
    let (_store, log) = log_from(T0);
    log.register_key(&owner(), recorder().key_id(), Role::Recorder, "harness")
        .unwrap();
    log.register_key(&owner(), approver().key_id(), Role::Approver, "Approver")
        .unwrap();
    let work = log.append(&recorder(), note("work")).unwrap();
    let signed_at = log.now();
    let approval = |at: Timestamp| {
        Event::Approval(
            Approval::new(
                Gate::FileWrite,
                Meaning::Approval,
                Verdict::Approve,
                Subjects::entries([work.link()]),
            )
            .unwrap()
            .with_signed_at(at),
        )
        .to_record()
        .unwrap()
    };
    assert!(
        log.append(&approver(), approval(Timestamp(T0 - 3600 * SECOND)))
            .is_err()
    );
    log.append(&approver(), approval(signed_at)).unwrap();
    let r = verify(&export(&log, ExportOptions::new(Selection::Log)), &policy());
    assert_valid(&r);
    assert_eq!(r.approvals[0].approval.signed_at(), signed_at);
    assert!(
        r.render()
            .contains(&format!("signed at {}", signed_at.to_rfc3339()))
    );
}

/// A witness cosigned the anchor at a time; an entry dated later than that (by more than five
/// minutes) cannot have been in the tree the witness saw.
#[test]
fn entries_dated_after_a_witness_cosigned_are_refused() {
    let (store, log) = log_from(T0);
    log.register_key(&owner(), recorder().key_id(), Role::Recorder, "harness")
        .unwrap();
    drop(log);
    // A writer a day ahead appends, then the owner exports with the same skewed clock.
    let ahead = reopen(&store, T0 + 86_400 * SECOND);
    ahead.append(&recorder(), note("tomorrow")).unwrap();
    let bundle = export(&ahead, ExportOptions::new(Selection::Log));
    assert_valid(&verify(&bundle, &policy()));
    // The witness cosigns the anchor at T0 + 1 h (its own, right, clock).
    let witness = key("witness.example/w", 0x07);
    let wkey = WitnessKey::new(witness.public_key());
    let mut p = split(&bundle);
    let last = p.header.checkpoints.last_mut().unwrap();
    let mut signed = SignedCheckpoint::parse(&last.note).unwrap();
    signed
        .cosign(&witness, (T0 + 3600 * SECOND) / SECOND)
        .unwrap();
    last.note = serde_bytes::ByteBuf::from(signed.encode());
    let cosigned = assemble(&p, &owner());
    let with_witness = policy().with_witnesses(WitnessPolicy::new(vec![wkey], 1).unwrap());
    let r = verify(&cosigned, &with_witness);
    assert_finding(&r, Some(1), "time", "cosigned");
}

// ---- Item 10: witness keys are never the log's own keys. ----

#[test]
fn the_logs_own_keys_cannot_witness_it() {
    let (_store, log) = log_from(T0);
    log.register_key(&owner(), recorder().key_id(), Role::Recorder, "harness")
        .unwrap();
    let bundle = export(&log, ExportOptions::new(Selection::Log));
    for (insider, what) in [(owner(), "pinned owner key"), (recorder(), "recorder key")] {
        let mut p = split(&bundle);
        let last = p.header.checkpoints.last_mut().unwrap();
        let mut signed = SignedCheckpoint::parse(&last.note).unwrap();
        signed.cosign(&insider, T0 / SECOND + 60).unwrap();
        last.note = serde_bytes::ByteBuf::from(signed.encode());
        let cosigned = assemble(&p, &owner());
        let policy = policy().with_witnesses(
            WitnessPolicy::new(vec![WitnessKey::new(insider.public_key())], 1).unwrap(),
        );
        let r = verify(&cosigned, &policy);
        assert_finding(&r, None, "checkpoint", "cannot witness it");
        assert!(
            r.findings.iter().any(|f| f.message.contains(what)
                || (what == "pinned owner key" && f.message.contains("pinned"))),
            "{what}: {}",
            r.render()
        );
    }
}

// ---- Writing entries past the writer's checks, as someone with the store can. ----

// The stored record (SPEC §9.1) of an entry with its payload and Merkle nodes.
fn encode_record(entry: &Entry, salt: &Salt, payload: &[u8], nodes: &[u8]) -> Vec<u8> {
    sealtrail::log::encode_record(
        entry,
        &sealtrail::entry::Payload::Present {
            salt: *salt,
            data: payload.to_vec(),
        },
        nodes,
    )
}

/// Appends an entry signed by `signer` straight into the store (SPEC §9.1), with the Merkle
/// nodes its leaf completes, past every check the writer makes. Returns its position.
#[allow(clippy::too_many_arguments)]
fn forge(
    store: &Arc<MemoryStore>,
    log: &Log,
    signer: &SecretKey,
    kind_name: &str,
    payload: &[u8],
    links: Vec<Link>,
    time: Option<Timestamp>,
) -> u64 {
    let seq = log.len();
    let suite = log.suite();
    let (prev, last_time, control) = match seq.checked_sub(1) {
        None => (
            sealtrail::EntryHash(log.log_id().0),
            log.descriptor().descriptor().created,
            None,
        ),
        Some(last) => {
            let e = log.read(last).unwrap().unwrap();
            let control = if e.header().kind.is_control() {
                Some(Link {
                    seq: last,
                    hash: e.hash,
                })
            } else {
                e.header().control
            };
            (e.hash, e.header().time, control)
        }
    };
    let salt = Salt([0x5a; 32]);
    let header = EntryHeader {
        version: sealtrail::descriptor::FORMAT_VERSION,
        log_id: log.log_id(),
        seq,
        prev,
        time: time.unwrap_or(last_time),
        session: sealtrail::SessionId::none(),
        signer: signer.key_id(),
        kind: kind(kind_name),
        payload: PayloadCommitment::compute(suite, &salt, payload),
        links,
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
    store
        .put(&k, &encode_record(&entry, &salt, payload, &nodes))
        .unwrap();
    store
        .put(b"\x00watermark", &(seq + 1).to_be_bytes())
        .unwrap();
    seq
}

// ---- Item 3: a self-approval among more than 65,536 signers. ----

/// 65,536 recorders each sign one entry, then an approver signs two approvals, the second
/// approving the first — its own work — written into the store by the owner (the writer refuses
/// it). The verifier must find the approver's own signature on the subject however many signers
/// came before: a signer index that saturated at 65,535 once made every later signer one key.
#[test]
fn a_self_approval_after_65536_signers_is_refused() {
    const SIGNERS: usize = 65_536;
    let store = Arc::new(MemoryStore::new());
    let log = Log::builder()
        .durability(Durability::Buffered)
        .create_in(store.clone() as Arc<dyn Store>, &owner(), ORIGIN)
        .unwrap();
    let recorders: Vec<SecretKey> = (0..SIGNERS)
        .map(|i| {
            let mut seed = [0x40u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
            SecretKey::from_seed("r", &seed).unwrap()
        })
        .collect();
    let registrations: Vec<Record> = recorders
        .iter()
        .map(|k| k.key_id())
        .chain([approver().key_id()])
        .enumerate()
        .map(|(i, id)| {
            let role = if i < SIGNERS {
                Role::Recorder
            } else {
                Role::Approver
            };
            Record::new(
                kind("key_register"),
                to_canonical(&sealtrail::registry::KeyRegistration::new(
                    id,
                    role,
                    &format!("signer {i}"),
                ))
                .unwrap(),
            )
        })
        .collect();
    for batch in registrations.chunks(4096) {
        log.append_batch(&owner(), batch.to_vec()).unwrap();
    }
    let start = log.len();
    let mut first = None;
    for k in &recorders {
        let r = log.append(k, note("one entry per signer")).unwrap();
        first.get_or_insert(r);
    }
    let approval_of = |subject: Link| {
        Event::Approval(
            Approval::new(
                Gate::FileWrite,
                Meaning::Approval,
                Verdict::Approve,
                Subjects::entries([subject]),
            )
            .unwrap(),
        )
        .to_record()
        .unwrap()
    };
    let x = log
        .append(&approver(), approval_of(first.unwrap().link()))
        .unwrap();
    // The writer refuses the self-approval.
    assert!(log.append(&approver(), approval_of(x.link())).is_err());
    log.flush().unwrap();
    let payload = Approval::new(
        Gate::FileWrite,
        Meaning::Approval,
        Verdict::Approve,
        Subjects::entries([x.link()]),
    )
    .unwrap()
    .with_signed_at(log.read(x.seq).unwrap().unwrap().header().time)
    .encode()
    .unwrap();
    let y = forge(
        &store,
        &log,
        &approver(),
        "approval",
        &payload,
        vec![x.link()],
        None,
    );
    drop(log);
    let log = reopen(&store, Timestamp::now().0);
    let bundle = export(&log, ExportOptions::new(Selection::Range(start..log.len())));
    let r = verify(&bundle, &policy());
    assert_finding(&r, Some(y), "approval", "which its own key");
}
