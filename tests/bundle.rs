//! Export bundles and their verification (SPEC §12): what verifies, what is reported, and that
//! every kind of tampering is caught and named.

use std::sync::Arc;

use sealtrail::bundle::{BundleError, BundleHeader, EntryItem, TrustPolicy, verify_bundle};
use sealtrail::log::{ExportError, ExportOptions, MAX_LISTED_SESSIONS, Selection};
use sealtrail::report::Report;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{Clock, Durability, Log, SessionId, Suite, Timestamp};
use sealtrail_testkit::fixtures::*;

fn export(log: &Log, k: &Keys, options: ExportOptions) -> Vec<u8> {
    let mut out = Vec::new();
    log.export(&k.owner, &options, &mut out, &mut |_, _| {})
        .unwrap();
    out
}

fn pinned(k: &Keys) -> TrustPolicy {
    TrustPolicy::new(owner_vkeys(k)).unwrap()
}

// Every report is also checked against schemas/report.schema.json.
fn verify(bytes: &[u8], policy: &TrustPolicy) -> Report {
    let report = verify_bundle(bytes, policy).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
    report
}

fn assert_valid(report: &Report) {
    assert!(report.is_valid(), "{}", report.render());
}

fn assert_invalid_named(report: &Report, seq: Option<u64>, check: &str) {
    assert!(!report.is_valid());
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.check.as_str() == check && (seq.is_none() || f.seq == seq)),
        "expected a `{check}` finding for {seq:?}:\n{}",
        report.render()
    );
}

/// The bundle's items: magic, version, header, then controls and entries, then the trailer.
fn items(bundle: &[u8]) -> Vec<Vec<u8>> {
    let mut r = bundle;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while sealtrail::codec::read_item(&mut r, &mut buf, 1 << 26).unwrap() {
        out.push(buf.clone());
    }
    out
}

fn header_of(items: &[Vec<u8>]) -> BundleHeader {
    BundleHeader::decode(&items[2]).unwrap()
}

fn small_log(suite: Suite) -> (Arc<MemoryStore>, Log, Keys) {
    let (store, log, k) = memory_log(suite, Durability::Buffered);
    populate(&log, &k);
    (store, log, k)
}

#[test]
fn whole_log_bundle_verifies_and_says_what_was_proven() {
    for suite in [Suite::Blake3, Suite::Sha256] {
        let (_s, log, k) = small_log(suite);
        let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
        let report = verify(&bundle, &pinned(&k));
        assert_valid(&report);
        assert_eq!(report.entries, log.len());
        assert_eq!(report.approvals.len(), 1);
        assert_eq!(report.approvals[0].printed_name, "Release Approver");
        assert_eq!(report.approvals[0].approval.meaning().as_str(), "approval");
        assert_eq!(report.redacted.len(), 1, "the erased payload");
        assert_eq!(report.checkpoint.as_ref().unwrap().size, log.len());
        assert!(
            report
                .proven
                .iter()
                .any(|p| p.contains("complete and unaltered"))
        );
        let json = report.to_json();
        assert_eq!(json["verdict"], "valid");
        assert_eq!(json["entries"], log.len());
        for field in ["sessions", "approvals", "redacted", "findings"] {
            assert!(json[field].is_array(), "{field}");
        }
        assert_eq!(json["checkpoint"]["size"], log.len());
        assert!(json["checkpoint"]["root"].is_string());
    }
}

#[test]
fn no_pinned_key_is_a_usage_error_and_an_unpinned_owner_fails() {
    assert!(TrustPolicy::new(vec![]).is_err());
    let (_s, log, k) = small_log(Suite::Blake3);
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    let wrong = TrustPolicy::new(vec![k.outsider.public_key()]).unwrap();
    let report = verify(&bundle, &wrong);
    assert_invalid_named(&report, None, "descriptor");
    assert_invalid_named(&report, None, "checkpoint");
    // Key registrations signed by the unpinned owner are named too.
    assert_invalid_named(&report, Some(0), "signer");
    // Not a bundle at all.
    assert!(matches!(
        verify_bundle(&b"hello"[..], &pinned(&k)),
        Err(BundleError::NotABundle(_))
    ));
}

/// Every single-byte change anywhere in a small bundle is caught: the bundle is never valid, and
/// it is "not a bundle" only when the magic item itself is damaged.
#[test]
fn every_byte_flip_is_caught() {
    let (_s, log, k) = small_log(Suite::Blake3);
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    let policy = pinned(&k);
    let magic_len = 17;
    for i in 0..bundle.len() {
        let mut bad = bundle.clone();
        bad[i] ^= 0x01;
        match verify_bundle(&bad[..], &policy) {
            Ok(report) => {
                sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
                assert!(!report.is_valid(), "flip at byte {i} verified");
            }
            Err(BundleError::NotABundle(_)) => assert!(i < magic_len, "byte {i}: not a bundle"),
            Err(e) => panic!("byte {i}: {e}"),
        }
    }
}

#[test]
fn truncation_at_any_point_is_caught() {
    let (_s, log, k) = small_log(Suite::Sha256);
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    let policy = pinned(&k);
    for cut in 0..bundle.len() {
        match verify_bundle(&bundle[..cut], &policy) {
            Ok(report) => {
                sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
                assert!(!report.is_valid(), "cut at {cut} verified");
            }
            Err(BundleError::NotABundle(_)) => assert!(cut < 17, "cut at {cut}"),
            Err(e) => panic!("cut at {cut}: {e}"),
        }
    }
}

/// Rebuilds a bundle from items (keeping the original trailer, which then no longer matches).
fn rebuild(items: &[Vec<u8>]) -> Vec<u8> {
    items.concat()
}

#[test]
fn dropped_duplicated_and_reordered_entries_are_named() {
    let (_s, log, k) = small_log(Suite::Blake3);
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    let its = items(&bundle);
    let h = header_of(&its);
    let first = 3 + h.controls as usize;
    let policy = pinned(&k);
    // Drop entry 5.
    let mut dropped = its.clone();
    dropped.remove(first + 5);
    assert_invalid_named(&verify(&rebuild(&dropped), &policy), Some(5), "sequence");
    // Duplicate entry 5.
    let mut dup = its.clone();
    dup.insert(first + 5, its[first + 5].clone());
    assert_invalid_named(&verify(&rebuild(&dup), &policy), Some(6), "sequence");
    // Swap entries 5 and 6.
    let mut swapped = its.clone();
    swapped.swap(first + 5, first + 6);
    assert_invalid_named(&verify(&rebuild(&swapped), &policy), Some(5), "sequence");
}

#[test]
fn swapped_payloads_and_changed_approvals_are_named() {
    let (_s, log, k) = small_log(Suite::Blake3);
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    let its = items(&bundle);
    let h = header_of(&its);
    let first = 3 + h.controls as usize;
    let policy = pinned(&k);
    // Swap the payloads of entries 7 and 8.
    let mut a = EntryItem::decode(&its[first + 7]).unwrap();
    let mut b = EntryItem::decode(&its[first + 8]).unwrap();
    std::mem::swap(&mut a.payload, &mut b.payload);
    let mut swapped = its.clone();
    swapped[first + 7] = a.encode();
    swapped[first + 8] = b.encode();
    assert_invalid_named(&verify(&rebuild(&swapped), &policy), Some(7), "payload");

    // The approval (entry 6): change its meaning in the payload.
    let approval = EntryItem::decode(&its[first + 6]).unwrap();
    let sealtrail::bundle::BundlePayload::Present { salt, data } = approval.payload.clone() else {
        panic!("approval payload present");
    };
    let mut a = sealtrail::Approval::decode(&data).unwrap();
    let changed = sealtrail::Approval::new(
        a.gate().clone(),
        sealtrail::Meaning::Authorship,
        a.decision(),
        sealtrail::Subjects::entries(a.entries().to_vec()),
    )
    .unwrap();
    a = changed;
    let mut item = approval.clone();
    item.payload = sealtrail::bundle::BundlePayload::Present {
        salt,
        data: a.encode().unwrap(),
    };
    let mut meaning = its.clone();
    meaning[first + 6] = item.encode();
    assert_invalid_named(&verify(&rebuild(&meaning), &policy), Some(6), "payload");

    // Its signer: re-signed by the recorder key (registered, but not an approver).
    let entry = sealtrail::Entry::from_bytes(&approval.entry).unwrap();
    let mut header = entry.header().clone();
    header.signer = k.recorder.key_id();
    let hb = header.encode();
    let forged = sealtrail::Entry::sign(header, &hb, &k.recorder);
    let mut item = approval.clone();
    item.entry = forged.as_bytes().to_vec();
    let mut signer = its.clone();
    signer[first + 6] = item.encode();
    assert_invalid_named(&verify(&rebuild(&signer), &policy), Some(6), "signer");
}

#[test]
fn partial_bundles_verify_and_need_every_inclusion_proof() {
    let (_s, log, k) = small_log(Suite::Sha256);
    let policy = pinned(&k);
    for selection in [
        Selection::Session(SessionId::new("sess-1").unwrap()),
        Selection::Entries(vec![2, 6, 8]),
        Selection::Range(3..9),
    ] {
        let bundle = export(&log, &k, ExportOptions::new(selection.clone()));
        let report = verify(&bundle, &policy);
        assert_valid(&report);
        if let Selection::Entries(e) = &selection {
            assert_eq!(report.entries, e.len() as u64);
        }
    }
    // Remove one inclusion proof from a selection bundle.
    let bundle = export(
        &log,
        &k,
        ExportOptions::new(Selection::Session(SessionId::new("sess-1").unwrap())),
    );
    let its = items(&bundle);
    let h = header_of(&its);
    let first = 3 + h.controls as usize;
    let mut item = EntryItem::decode(&its[first + 1]).unwrap();
    let seq = sealtrail::Entry::from_bytes(&item.entry).unwrap().seq();
    item.proof.clear();
    let mut bad = its.clone();
    bad[first + 1] = item.encode();
    assert_invalid_named(&verify(&rebuild(&bad), &policy), Some(seq), "merkle");
}

#[test]
fn withheld_payloads_verify_and_are_reported() {
    let (_s, log, k) = small_log(Suite::Blake3);
    let options = ExportOptions::new(Selection::Log)
        .withhold_kind(kind("command_run"))
        .withhold_entry(2);
    let bundle = export(&log, &k, options);
    let report = verify(&bundle, &pinned(&k));
    assert_valid(&report);
    let withheld: Vec<u64> = report
        .redacted
        .iter()
        .filter(|r| r.reason != sealtrail::report::RedactionReason::Erased)
        .map(|r| r.seq)
        .collect();
    assert_eq!(withheld, [2, 7, 8]);
    assert_eq!(report.approvals.len(), 1);
}

/// An export that would withhold nothing, withhold what is never withheld, or carry no entries
/// is refused before anything is signed or written, naming what may be asked for.
#[test]
fn exports_that_name_nothing_or_the_impossible_are_refused() {
    let (_s, log, k) = small_log(Suite::Blake3);
    let len = log.len();
    let refused = |options: ExportOptions| {
        let mut out = Vec::new();
        let e = log
            .export(&k.owner, &options, &mut out, &mut |_, _| {})
            .unwrap_err();
        assert!(out.is_empty(), "{e}: nothing is written");
        e
    };
    // A typo: no entry can have that kind.
    let e = refused(ExportOptions::new(Selection::Log).withhold_kind(kind("modle_call")));
    assert!(matches!(&e, ExportError::UnknownKind { kind } if kind == "modle_call"));
    assert!(e.to_string().contains("model_call, tool_call"), "{e}");
    // The payloads a verifier needs: approvals, key management, erasures; by kind or entry.
    for never in ["approval", "key_register", "erasure"] {
        let e = refused(ExportOptions::new(Selection::Log).withhold_kind(kind(never)));
        assert!(
            matches!(&e, ExportError::NotWithholdable { kind, seq: None } if kind == never),
            "{e}"
        );
        assert!(e.to_string().contains("never withheld"), "{e}");
    }
    let approval = (0..len)
        .find(|&s| log.read(s).unwrap().unwrap().header().kind.as_str() == "approval")
        .unwrap();
    let e = refused(ExportOptions::new(Selection::Log).withhold_entry(approval));
    assert!(matches!(e, ExportError::NotWithholdable { seq: Some(s), .. } if s == approval));
    let e = refused(ExportOptions::new(Selection::Log).withhold_entry(len));
    assert!(matches!(e, ExportError::OutOfRange { .. }), "{e}");
    // A session the log does not have: the sessions it has are named.
    let e = refused(ExportOptions::new(Selection::Session(
        SessionId::new("nosuchsession").unwrap(),
    )));
    match &e {
        ExportError::NoSuchSession { sessions, more, .. } => {
            let names: Vec<&str> = sessions.iter().map(SessionId::as_str).collect();
            assert_eq!(names, ["sess-1", "sess-2"]);
            assert!(!more);
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("\"sess-1\", \"sess-2\""), "{e}");
    let e = refused(ExportOptions::new(Selection::Entries(Vec::new())));
    assert!(matches!(e, ExportError::EmptySelection), "{e}");
    // Many sessions: a bounded list, saying there are more.
    for i in 0..MAX_LISTED_SESSIONS + 5 {
        let s = SessionId::new(&format!("many-{i:02}")).unwrap();
        log.append(&k.recorder, note("x").session(&s)).unwrap();
    }
    let e = refused(ExportOptions::new(Selection::Session(
        SessionId::new("nosuchsession").unwrap(),
    )));
    match &e {
        ExportError::NoSuchSession { sessions, more, .. } => {
            assert_eq!(sessions.len(), MAX_LISTED_SESSIONS);
            assert!(more);
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().ends_with("(and more)"), "{e}");
    // Nothing was signed: no checkpoint was made by the refused exports.
    assert!(log.checkpoints().unwrap().is_empty());
}

fn forked_logs() -> (Log, Log, Keys) {
    let k = keys();
    let clock = || {
        Clock::stepping(
            Timestamp(1_800_000_000_000_000_000),
            std::time::Duration::from_secs(1),
        )
    };
    let a = Log::builder()
        .clock(clock())
        .create_in(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            &k.owner,
            ORIGIN,
        )
        .unwrap();
    let b = Log::builder()
        .clock(clock())
        .create_in(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            &k.owner,
            ORIGIN,
        )
        .unwrap();
    assert_eq!(
        a.log_id(),
        b.log_id(),
        "same descriptor: the same log, forked"
    );
    (a, b, k)
}

#[test]
fn growth_since_a_checkpoint_is_proven_and_a_fork_is_reported() {
    let (a, b, k) = forked_logs();
    populate(&a, &k);
    let seen = a.checkpoint(&k.owner).unwrap();
    let seen_size = seen.checkpoint().size();
    populate_more(&a, &k);
    let policy = pinned(&k).with_previous_checkpoint(seen.encode());
    // Since the auditor's checkpoint: consistency proof in the header.
    let since = export(
        &a,
        &k,
        ExportOptions::new(Selection::Since { size: seen_size }),
    );
    let report = verify(&since, &policy);
    assert_valid(&report);
    assert!(
        report.proven.iter().any(|p| p.contains("only grew")),
        "{}",
        report.render()
    );
    // The whole log: the streamed root at that size proves it.
    let whole = export(&a, &k, ExportOptions::new(Selection::Log));
    let report = verify(&whole, &policy);
    assert_valid(&report);
    assert!(report.proven.iter().any(|p| p.contains("only grew")));

    // The same log (same descriptor, same owner), forked: different entries.
    populate(&b, &k);
    b.register_key(
        &k.owner,
        k.outsider.key_id(),
        sealtrail::Role::Recorder,
        "fork",
    )
    .unwrap();
    populate_more(&b, &k);
    let forked = export(&b, &k, ExportOptions::new(Selection::Log));
    let report = verify(&forked, &policy);
    assert!(!report.is_valid());
    assert!(
        report.findings.iter().any(|f| f.message.contains("FORK")),
        "{}",
        report.render()
    );
}

fn populate_more(log: &Log, k: &Keys) {
    let s = SessionId::new("later").unwrap();
    for i in 0..5 {
        log.append(&k.recorder, note(&i).session(&s)).unwrap();
    }
}

#[test]
fn bundle_signed_by_an_unpinned_key_fails() {
    let (_s, log, k) = small_log(Suite::Blake3);
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    // Replace the trailer with one signed by an outsider over the right digest.
    let its = items(&bundle);
    let last = its.len() - 1;
    let t = sealtrail::bundle::Trailer::decode(&its[last]).unwrap();
    let forged = sealtrail::bundle::Trailer {
        signature: serde_bytes::ByteArray::new(
            k.outsider
                .sign(&sealtrail::bundle::Trailer::signing_input(&t.digest)),
        ),
        signer: serde_bytes::ByteArray::new(*k.outsider.key_id().as_bytes()),
        ..t
    };
    let mut bad = its.clone();
    bad[last] = forged.encode();
    let report = verify(&rebuild(&bad), &pinned(&k));
    assert_invalid_named(&report, None, "signature");
    // Trailing data after the trailer.
    let mut extra = bundle.clone();
    extra.push(0);
    assert!(!verify(&extra, &pinned(&k)).is_valid());
}

#[test]
fn xbrl_session_bundle_verifies() {
    let store = Arc::new(MemoryStore::new());
    let k = keys();
    let log = Log::builder()
        .durability(Durability::Buffered)
        .create_in(store as Arc<dyn Store>, &k.owner, ORIGIN)
        .unwrap();
    let keys = sealtrail_testkit::scenario::ScenarioKeys::new(
        &k.owner,
        &k.recorder,
        &k.approver,
        "Release Approver",
    );
    sealtrail_testkit::scenario::record_xbrl_session(&log, &keys, &SessionId::new("xbrl").unwrap())
        .unwrap();
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    let report = verify(&bundle, &pinned(&k));
    assert_valid(&report);
    assert_eq!(report.approvals.len(), 2);
    assert!(
        report
            .approvals
            .iter()
            .all(|a| a.printed_name == "Release Approver")
    );
}

/// An insider re-signs one entry with its own registered key: the signature verifies, but the
/// next entry's chain link names it, and the tree no longer matches the checkpoint.
#[test]
fn validly_resigned_entry_breaks_the_chain_and_the_tree() {
    let (_s, log, k) = small_log(Suite::Blake3);
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    let its = items(&bundle);
    let h = header_of(&its);
    let first = 3 + h.controls as usize;
    let mut item = EntryItem::decode(&its[first + 7]).unwrap();
    let entry = sealtrail::Entry::from_bytes(&item.entry).unwrap();
    let mut header = entry.header().clone();
    header.time = Timestamp(header.time.0 + 1);
    let hb = header.encode();
    item.entry = sealtrail::Entry::sign(header, &hb, &k.recorder)
        .as_bytes()
        .to_vec();
    let mut bad = its.clone();
    bad[first + 7] = item.encode();
    let report = verify(&rebuild(&bad), &pinned(&k));
    assert_invalid_named(&report, Some(8), "chain");
    assert_invalid_named(&report, None, "merkle");
}

/// Found by fuzzing (fuzz/regressions/bundle_verify/): an entry numbered u64::MAX in a
/// contiguous bundle overflowed the size computed after it. It is now a finding, not a panic.
#[test]
fn an_entry_numbered_u64_max_is_a_finding_not_a_panic() {
    let (_s, log, k) = small_log(Suite::Blake3);
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    let its = items(&bundle);
    let h = header_of(&its);
    let first = 3 + h.controls as usize;
    let mut item = EntryItem::decode(&its[first + 4]).unwrap();
    let entry = sealtrail::Entry::from_bytes(&item.entry).unwrap();
    let mut header = entry.header().clone();
    header.seq = u64::MAX;
    header.links.clear();
    let hb = header.encode();
    item.entry = sealtrail::Entry::sign(header, &hb, &k.recorder)
        .as_bytes()
        .to_vec();
    let mut bad = its.clone();
    bad[first + 4] = item.encode();
    let report = verify(&rebuild(&bad), &pinned(&k));
    assert_invalid_named(&report, Some(4), "sequence");
}
