//! Reading a bundle that verified (SPEC §12.6, §13): queries, verification status and decision
//! traces give over the bundle what they give over the log; an invalid bundle yields nothing to
//! read; payloads the exporter withheld are told apart from payloads erased from the log.

use sealtrail::bundle::{
    BundleReading, TrustPolicy, VerifiedBundle, WithheldReason, verify_bundle_entries,
};
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::query::{
    approvals, explain, out_of_scope, session_events, verification_status, versions,
};
use sealtrail::trace::{DecisionTrace, TraceOptions};
use sealtrail::{Durability, EntrySource, Log, PayloadState, SessionId, Suite};
use sealtrail_testkit::fixtures::*;
use sealtrail_testkit::scenario::{
    ScenarioKeys, record_hidden_failure_session, record_xbrl_session,
};

struct Fixture {
    log: Log,
    k: Keys,
    /// sess-1 has an erased payload; xbrl and hidden are the scenarios.
    sessions: Vec<SessionId>,
}

fn fixture() -> Fixture {
    let (_store, log, k) = memory_log(Suite::Blake3, Durability::Buffered);
    populate(&log, &k);
    let keys = ScenarioKeys::new(&k.owner, &k.recorder, &k.approver, "Release Approver");
    let xbrl = SessionId::new("xbrl").unwrap();
    record_xbrl_session(&log, &keys, &xbrl).unwrap();
    let hidden = SessionId::new("hidden").unwrap();
    record_hidden_failure_session(&log, &keys, &hidden).unwrap();
    let sessions = vec![SessionId::new("sess-1").unwrap(), xbrl, hidden];
    Fixture { log, k, sessions }
}

fn export(f: &Fixture, options: ExportOptions) -> Vec<u8> {
    let mut out = Vec::new();
    f.log
        .export(&f.k.owner, &options, &mut out, &mut |_, _| {})
        .unwrap();
    out
}

fn pinned(k: &Keys) -> TrustPolicy {
    TrustPolicy::new(owner_vkeys(k)).unwrap()
}

fn read(bundle: &[u8], policy: &TrustPolicy) -> VerifiedBundle {
    let reading = verify_bundle_entries(bundle, policy).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&reading.report().to_json());
    match reading {
        BundleReading::Valid(b) => b,
        other => panic!("{}", other.report().render()),
    }
}

// Everything a reader asks of a session, as comparable text.
fn answers(source: &dyn EntrySource, session: &SessionId) -> Vec<String> {
    let trace = DecisionTrace::from_session(source, session).unwrap();
    let options = TraceOptions::default().evidence("bundle.cbor");
    let mut out = vec![
        trace.to_markdown(&options),
        trace.run_record().to_json_pretty(),
        format!("{:?}", verification_status(source, session).unwrap()),
        format!("{:?}", approvals(source, session).unwrap()),
        format!(
            "{:?}",
            out_of_scope(source, session).map_err(|e| e.to_string())
        ),
    ];
    for e in session_events(source, session).unwrap() {
        let x = explain(source, e.seq).unwrap();
        out.push(format!(
            "{} {:?} {:?} {:?} {:?} {:?} {:?}",
            e.seq, e.event, e.payload, e.erased, x.inputs, x.downstream, x.not_held
        ));
        out.push(format!("{:?}", versions(source, e.seq).unwrap()));
    }
    out
}

#[test]
fn a_session_reads_the_same_from_the_log_and_from_a_bundle_of_it() {
    let f = fixture();
    let policy = pinned(&f.k);
    let whole = read(&export(&f, ExportOptions::new(Selection::Log)), &policy);
    assert_eq!(whole.len(), f.log.len());
    assert_eq!(whole.log_id(), f.log.log_id());
    assert_eq!(EntrySource::printed_names(&whole), f.log.printed_names());
    for s in &f.sessions {
        assert_eq!(answers(&whole, s), answers(&f.log, s), "session {s}");
    }
    // A bundle of one session holds that session, and answers for it as the log does.
    let hidden = &f.sessions[2];
    let one = read(
        &export(&f, ExportOptions::new(Selection::Session(hidden.clone()))),
        &policy,
    );
    assert_eq!(answers(&one, hidden), answers(&f.log, hidden));
    assert!(session_events(&one, &f.sessions[1]).is_err());
    // The erased payload reads as erased from either source.
    let events = session_events(&whole, &f.sessions[0]).unwrap();
    let erased: Vec<_> = events.iter().filter(|e| e.erased).collect();
    assert_eq!(erased.len(), 1);
    assert_eq!(erased[0].payload, PayloadState::Erased);
}

#[test]
fn an_invalid_bundle_yields_no_entries() {
    let f = fixture();
    let bundle = export(&f, ExportOptions::new(Selection::Log));
    let policy = pinned(&f.k);
    let mut cases: Vec<(&str, Vec<u8>, TrustPolicy)> = Vec::new();
    for at in [bundle.len() / 2, bundle.len() - 1] {
        let mut bad = bundle.clone();
        bad[at] ^= 0x01;
        cases.push(("a flipped byte", bad, policy.clone()));
    }
    cases.push((
        "a truncated bundle",
        bundle[..bundle.len() - 40].to_vec(),
        policy.clone(),
    ));
    let other = TrustPolicy::new(vec![f.k.outsider.public_key()]).unwrap();
    cases.push(("an unpinned owner", bundle.clone(), other));
    for (what, bytes, policy) in cases {
        let reading = verify_bundle_entries(&bytes[..], &policy).unwrap();
        sealtrail_testkit::report_schema::assert_report_schema(&reading.report().to_json());
        assert!(!reading.report().is_valid(), "{what}");
        assert!(matches!(reading, BundleReading::Invalid(_)), "{what}");
        assert!(reading.verified().is_none(), "{what}");
    }
    // The same bytes, untouched, read.
    assert!(
        verify_bundle_entries(&bundle[..], &policy)
            .unwrap()
            .verified()
            .is_some()
    );
}

#[test]
fn withheld_payloads_are_reported_as_withheld_not_erased() {
    let f = fixture();
    let hidden = &f.sessions[2];
    let decision = session_events(&f.log, &f.sessions[1])
        .unwrap()
        .into_iter()
        .find(|e| e.kind.as_str() == "decision")
        .unwrap()
        .seq;
    let b = read(
        &export(
            &f,
            ExportOptions::new(Selection::Log)
                .withhold_kind(kind("verification"))
                .withhold_entry(decision),
        ),
        &pinned(&f.k),
    );
    let verifications: Vec<u64> = session_events(&f.log, hidden)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.as_str() == "verification")
        .map(|e| e.seq)
        .collect();
    assert!(!verifications.is_empty());
    for e in session_events(&b, hidden).unwrap() {
        if verifications.contains(&e.seq) {
            assert_eq!(e.payload, PayloadState::Withheld(WithheldReason::Kind));
            assert!(!e.erased && e.event.is_none(), "entry {}", e.seq);
        } else {
            assert_eq!(e.payload, PayloadState::Present, "entry {}", e.seq);
        }
    }
    assert_eq!(b.withheld(decision), Some(WithheldReason::Entry));
    let x = explain(&b, decision).unwrap();
    assert_eq!(
        x.entry.payload,
        PayloadState::Withheld(WithheldReason::Entry)
    );
    // The verification status says which results it could not read, rather than claiming the
    // checks never ran; the log's has none unread.
    let from_bundle = verification_status(&b, hidden).unwrap();
    let unread: Vec<u64> = from_bundle.unread.iter().map(|(s, _)| *s).collect();
    assert_eq!(unread, verifications);
    assert!(
        from_bundle
            .unread
            .iter()
            .all(|(_, p)| *p == PayloadState::Withheld(WithheldReason::Kind))
    );
    assert!(
        verification_status(&f.log, hidden)
            .unwrap()
            .unread
            .is_empty()
    );
    // The run record lists them apart from erased entries.
    let record = DecisionTrace::from_session(&b, hidden)
        .unwrap()
        .run_record();
    let withheld: Vec<u64> = record.as_json()["withheld_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(withheld, verifications);
    assert_eq!(record.as_json()["erased_entries"], serde_json::json!([]));
    let unread: Vec<u64> = record.as_json()["verification"]["unread"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(unread, verifications);
    let markdown = DecisionTrace::from_session(&b, hidden)
        .unwrap()
        .to_markdown(&TraceOptions::default());
    assert!(
        markdown.contains(&format!("(unread: entry {} withheld", verifications[0])),
        "{markdown}"
    );
    // A check whose result may be among them is not said never to have run.
    assert!(
        markdown.contains("e2e invite-flow (UNKNOWN: no readable result, required)"),
        "{markdown}"
    );
    assert!(!markdown.contains("never reported"), "{markdown}");
    let from_log = DecisionTrace::from_session(&f.log, hidden).unwrap();
    assert!(
        from_log
            .run_record()
            .as_json()
            .get("withheld_entries")
            .is_none()
    );
    // An erased payload stays erased in the bundle, not withheld.
    let erased = session_events(&b, &f.sessions[0])
        .unwrap()
        .into_iter()
        .find(|e| e.payload == PayloadState::Erased)
        .unwrap();
    assert!(erased.erased);
    assert_eq!(b.withheld(erased.seq), None);
}

#[test]
fn links_outside_a_selection_are_named_not_guessed() {
    let f = fixture();
    // The populated log's decision links the session start and the file read before it.
    let decision = session_events(&f.log, &f.sessions[0])
        .unwrap()
        .into_iter()
        .find(|e| e.kind.as_str() == "decision")
        .unwrap();
    let linked: Vec<u64> = decision.links.iter().map(|l| l.seq).collect();
    assert!(!linked.is_empty());
    let b = read(
        &export(
            &f,
            ExportOptions::new(Selection::Entries(vec![decision.seq])),
        ),
        &pinned(&f.k),
    );
    let x = explain(&b, decision.seq).unwrap();
    assert!(x.inputs.is_empty());
    assert_eq!(x.not_held, linked);
    // From the log, the same entry has them as inputs and nothing missing.
    let from_log = explain(&f.log, decision.seq).unwrap();
    assert!(from_log.not_held.is_empty());
    assert_eq!(
        from_log.inputs.iter().filter(|n| n.depth == 1).count(),
        linked.len()
    );
}
