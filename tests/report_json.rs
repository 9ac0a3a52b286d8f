//! The report's JSON form (SPEC §12.6): every report a wide range of verifications produces
//! matches `schemas/report.schema.json`; the schema's enumerations are the code's; approvals and
//! erasures carry their facts; and a report that is not valid presents no approval as given.

use std::collections::BTreeSet;
use std::sync::Arc;

use sealtrail::approval::{Approval, Gate, Meaning, Subjects, Verdict};
use sealtrail::bundle::{BundlePayload, EntryItem, TrustPolicy, verify_bundle};
use sealtrail::checkpoint::{AddCheckpoint, Witness, WitnessKey, WitnessPolicy};
use sealtrail::codec::read_item;
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::report::{Proven, RedactionReason, Report};
use sealtrail::store::{MemoryStore, Store};
use sealtrail::verify::Check;
use sealtrail::{Digest, Durability, Event, Log, Receipt, SecretKey, SessionId, Suite};
use sealtrail_testkit::fixtures::*;
use sealtrail_testkit::report_schema::{assert_report_schema, report_schema, report_schema_errors};
use serde_json::Value;

fn export(log: &Log, k: &Keys, options: ExportOptions) -> Vec<u8> {
    let mut out = Vec::new();
    log.export(&k.owner, &options, &mut out, &mut |_, _| {})
        .unwrap();
    out
}

fn pinned(k: &Keys) -> TrustPolicy {
    TrustPolicy::new(owner_vkeys(k)).unwrap()
}

fn verify(bundle: &[u8], policy: &TrustPolicy) -> Report {
    verify_bundle(bundle, policy).unwrap()
}

/// The fixture's history, plus a second approval with a comment and an artifact subject.
fn history() -> (Arc<MemoryStore>, Log, Keys, Vec<Receipt>) {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Buffered);
    let mut r = populate(&log, &k);
    let decided = r[5];
    let a = Approval::new(
        Gate::PrCreate,
        Meaning::Review,
        Verdict::Approve,
        Subjects::new([decided.link()], [Digest([7; 32])]),
    )
    .unwrap()
    .with_comment("checked the period mapping")
    .unwrap()
    .with_signed_at(log.now());
    let session = SessionId::new("sess-1").unwrap();
    r.push(
        log.append(
            &k.approver,
            Event::Approval(a).to_record().unwrap().session(&session),
        )
        .unwrap(),
    );
    (store, log, k, r)
}

// The bundle's items, split at item boundaries.
fn items(bundle: &[u8]) -> Vec<Vec<u8>> {
    let mut r = bundle;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while read_item(&mut r, &mut buf, 1 << 26).unwrap() {
        out.push(buf.clone());
    }
    out
}

/// A witness that cosigns the log's latest checkpoint, attached so the next export carries it.
fn witnessed(log: &Log, k: &Keys) -> WitnessKey {
    let wsk = SecretKey::from_seed("witness.example/w1", &[0x33; 32]).unwrap();
    let wkey = WitnessKey::new(wsk.public_key());
    let witness = Witness::new(wsk, vec![owner_vkey(k, log.suite())]);
    let c = log.checkpoint(&k.owner).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let request = AddCheckpoint {
        old: 0,
        proof: Vec::new(),
        checkpoint: c,
    };
    let cosigned = witness.add_checkpoint(None, &request, now).unwrap();
    log.attach_cosignatures(&cosigned.checkpoint, std::slice::from_ref(&wkey))
        .unwrap();
    wkey
}

/// Reports of many shapes — valid and invalid, local and bundled, withheld, erased, witnessed,
/// wrong key, tampered, empty — each valid under the schema; together they use every redaction
/// reason and several finding classes.
#[test]
fn every_kind_of_report_matches_the_schema() {
    let (store, log, k, r) = history();
    let mut reports: Vec<(String, Report)> = Vec::new();

    // An empty log: no entries, no range, no time span.
    let (_s, empty, _k) = memory_log(Suite::Sha256, Durability::Buffered);
    reports.push(("an empty log".into(), empty.verify_report().unwrap()));
    // The local log, valid (with an erased payload).
    reports.push(("the local log".into(), log.verify_report().unwrap()));
    // Bundles: whole log, selections, withheld payloads.
    let whole = export(&log, &k, ExportOptions::new(Selection::Log));
    let policy = pinned(&k);
    reports.push(("a whole-log bundle".into(), verify(&whole, &policy)));
    for (what, options) in [
        (
            "a session",
            ExportOptions::new(Selection::Session(SessionId::new("sess-1").unwrap())),
        ),
        (
            "chosen entries",
            ExportOptions::new(Selection::Entries(vec![2, 3, 6])),
        ),
        ("a range", ExportOptions::new(Selection::Range(4..9))),
        (
            "withheld payloads",
            ExportOptions::new(Selection::Log)
                .withhold_kind(kind("command_run"))
                .withhold_entry(2),
        ),
    ] {
        reports.push((what.into(), verify(&export(&log, &k, options), &policy)));
    }
    // With the auditor's earlier checkpoint and a claimed root.
    let earlier = log.checkpoint(&k.owner).unwrap();
    let size = log.len();
    let root = log.root(size).unwrap();
    log.append(&k.recorder, note("later")).unwrap();
    let grown = export(&log, &k, ExportOptions::new(Selection::Log));
    let with_earlier = pinned(&k)
        .with_previous_checkpoint(earlier.encode())
        .with_claimed_root(size, root, "a claimed root");
    reports.push((
        "an earlier checkpoint".into(),
        verify(&grown, &with_earlier),
    ));
    // Witnessed.
    let wkey = witnessed(&log, &k);
    let cosigned = export(
        &log,
        &k,
        ExportOptions::new(Selection::Log).require_cosignatures(1),
    );
    let witness_policy =
        pinned(&k).with_witnesses(WitnessPolicy::new(vec![wkey.clone()], 1).unwrap());
    reports.push(("witnessed".into(), verify(&cosigned, &witness_policy)));
    // A quorum the checkpoint does not meet.
    let other = WitnessKey::new(SecretKey::from_seed("w2", &[9; 32]).unwrap().public_key());
    let two = pinned(&k).with_witnesses(WitnessPolicy::new(vec![wkey, other], 2).unwrap());
    reports.push(("a quorum not met".into(), verify(&cosigned, &two)));
    // Invalid: the wrong key, a truncation, every byte flipped in turn.
    let wrong = TrustPolicy::new(vec![k.outsider.public_key()]).unwrap();
    reports.push(("the wrong key".into(), verify(&whole, &wrong)));
    reports.push((
        "a truncated bundle".into(),
        verify(&whole[..whole.len() - 40], &policy),
    ));
    for i in (0..whole.len()).step_by(7) {
        let mut bad = whole.clone();
        bad[i] ^= 0x01;
        if let Ok(report) = verify_bundle(&bad[..], &policy) {
            reports.push((format!("byte {i} flipped"), report));
        }
    }
    // A damaged local log.
    let key = {
        let mut key = vec![0x01];
        key.extend_from_slice(&r[4].seq.to_be_bytes());
        key
    };
    let mut damaged = store.get(&key).unwrap().unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    store.put(&key, &damaged).unwrap();
    reports.push(("a damaged local log".into(), log.verify_report().unwrap()));
    // A purge at the end of retention (SPEC §7.8), in the log and in a bundle.
    let purged = purged_log(&k);
    reports.push(("a purged log".into(), purged.verify_report().unwrap()));
    let bundle = export(&purged, &k, ExportOptions::new(Selection::Log));
    reports.push(("a purged log's bundle".into(), verify(&bundle, &policy)));

    let mut reasons = BTreeSet::new();
    let mut checks = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for (what, report) in &reports {
        let json = report.to_json();
        let errors = report_schema_errors(&json);
        assert!(errors.is_empty(), "{what}: {errors:#?}\n{json:#}");
        for red in &report.redacted {
            reasons.insert(red.reason.as_str());
        }
        for f in &report.findings {
            checks.insert(f.check.as_str());
        }
        for p in &report.proven_items {
            codes.insert(p.code());
        }
    }
    assert_eq!(
        reasons,
        RedactionReason::ALL.iter().map(|r| r.as_str()).collect(),
        "every redaction reason is exercised"
    );
    assert!(checks.len() >= 5, "finding classes exercised: {checks:?}");
    for code in [
        "log_entries_signed",
        "log_chain",
        "log_payloads",
        "bundle_signed",
        "bundle_entries_signed",
        "bundle_chain",
        "entries_match_checkpoint",
        "entries_included",
        "checkpoint_signed",
        "witness_quorum",
        "previous_checkpoint_extended",
        "claimed_root",
    ] {
        assert!(codes.contains(code), "{code} never proven: {codes:?}");
    }
}

/// The schema is closed and strict: a report with a member it does not know, a member missing,
/// or a value outside an enumeration fails it.
#[test]
fn the_schema_rejects_what_it_does_not_describe() {
    let (_s, log, k, _r) = history();
    let report = verify(
        &export(&log, &k, ExportOptions::new(Selection::Log)),
        &pinned(&k),
    );
    let good = report.to_json();
    assert_report_schema(&good);
    let mut extra = good.clone();
    extra["approved_by"] = Value::from("someone");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("claimed_approvals");
    let mut verdict = good.clone();
    verdict["verdict"] = Value::from("probably");
    let mut reason = good.clone();
    reason["redacted"][0]["reason"] = Value::from("withheld");
    let mut check = good.clone();
    check["findings"] = serde_json::json!([{"seq": 1, "check": "vibes", "message": "x"}]);
    let mut approval = good.clone();
    approval["approvals"][0]["subjects"]["entries"] = serde_json::json!([5]);
    let mut version = good.clone();
    version["schema"] = Value::from("sealtrail.report/1");
    for (what, bad) in [
        ("an unknown member", extra),
        ("a missing member", missing),
        ("a verdict outside the enumeration", verdict),
        ("a reason outside the enumeration", reason),
        ("a check outside the enumeration", check),
        ("subjects as bare numbers", approval),
        ("another version", version),
    ] {
        assert!(!report_schema_errors(&bad).is_empty(), "{what} passed");
    }
}

/// The schema's enumerations are the code's: the checks, the redaction reasons, the proven codes
/// and the version, so neither can change without the other.
#[test]
fn schema_enumerations_are_the_codes_lists() {
    let schema = report_schema();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not an array: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let defs = &schema["$defs"];
    assert_eq!(
        strings(&defs["check"]["enum"]),
        Check::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(
        strings(&defs["redaction_reason"]["enum"]),
        RedactionReason::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
    );
    // Each reason serializes as its name.
    for r in RedactionReason::ALL {
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
    for c in Check::ALL {
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
    }
    assert_eq!(strings(&defs["proven_code"]["enum"]), Proven::CODES);
    let branches: Vec<String> = defs["proven_item"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["properties"]["code"]["const"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(branches, Proven::CODES);
    assert_eq!(
        strings(&defs["timestamp"]["properties"]["status"]["enum"]),
        sealtrail::report::TimestampStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        schema["properties"]["schema"]["const"],
        sealtrail::report::SCHEMA
    );
}

/// A valid report lists each approval with its subjects (entries by hash, artifacts by digest),
/// comment, meaning, printed name, key and the approver's own time; each erased payload with the
/// erasure entry's reason, signer and time; and what was proven, item by item and in words.
#[test]
fn approvals_and_erasures_carry_their_facts() {
    let (_s, log, k, r) = history();
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    for report in [log.verify_report().unwrap(), verify(&bundle, &pinned(&k))] {
        let json = assert_report_schema(&report.to_json()).clone();
        assert_eq!(json["verdict"], "valid", "{}", report.render());
        assert_eq!(json["claimed_approvals"], serde_json::json!([]));
        let approvals = json["approvals"].as_array().unwrap();
        assert_eq!(approvals.len(), 2);
        let second = &approvals[1];
        assert_eq!(second["seq"], r[11].seq);
        assert_eq!(second["printed_name"], "Release Approver");
        assert_eq!(second["signer"], k.approver.key_id().to_string());
        assert_eq!(second["gate"], "pr_create");
        assert_eq!(second["meaning"], "review");
        assert_eq!(second["decision"], "approve");
        assert_eq!(second["comment"], "checked the period mapping");
        assert_eq!(
            second["subjects"],
            serde_json::json!({
                "entries": [{"seq": r[5].seq, "hash": r[5].hash.to_hex()}],
                "artifacts": [Digest([7; 32]).to_hex()],
            })
        );
        assert!(second["signed_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(approvals[0]["comment"], Value::Null);

        let erased: Vec<&Value> = json["redacted"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["reason"] == "erased")
            .collect();
        assert_eq!(erased.len(), 1);
        assert_eq!(erased[0]["seq"], r[3].seq);
        let e = &erased[0]["erasure"];
        assert_eq!(e["seq"], r[10].seq);
        assert_eq!(e["reason"], "test erasure");
        assert_eq!(e["signer"], k.owner.key_id().to_string());
        assert_eq!(e["printed_name"], ORIGIN);
        assert_eq!(
            e["time"],
            log.read(r[10].seq)
                .unwrap()
                .unwrap()
                .header()
                .time
                .to_rfc3339()
        );

        // The sentences are the items' own.
        let sentences: Vec<String> = report.proven_items.iter().map(Proven::sentence).collect();
        assert_eq!(report.proven, sentences);
        assert_eq!(
            json["proven"].as_array().unwrap().len(),
            json["proven_items"].as_array().unwrap().len()
        );

        let text = report.render();
        for want in [
            "pr_create approved by Release Approver (review)",
            &format!("subject: entry {} (hash {})", r[5].seq, r[5].hash.short()),
            &format!("subject: artifact {}", Digest([7; 32]).to_hex()),
            "comment: \"checked the period mapping\"",
            &format!(
                "erasure entry {}: \"test erasure\", signed by {ORIGIN}",
                r[10].seq
            ),
        ] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
    }
    // A selection without the erasure entry: the bundle carries it as a control item only, and
    // the erased payload is still listed with it.
    let chosen = verify(
        &export(&log, &k, ExportOptions::new(Selection::Entries(vec![2, 3]))),
        &pinned(&k),
    );
    assert_eq!(chosen.entries, 2);
    let erased = chosen.redacted.iter().find(|x| x.seq == r[3].seq).unwrap();
    let e = erased
        .erasure
        .as_ref()
        .expect("the control item's erasure record");
    assert_eq!((e.seq, e.reason.as_str()), (r[10].seq, "test erasure"));
    assert_report_schema(&chosen.to_json());
    // A withheld payload has no erasure record.
    let withheld = verify(
        &export(
            &log,
            &k,
            ExportOptions::new(Selection::Log).withhold_entry(2),
        ),
        &pinned(&k),
    );
    let w = withheld.redacted.iter().find(|x| x.seq == 2).unwrap();
    assert_eq!(w.reason, RedactionReason::WithheldEntry);
    assert!(w.erasure.is_none());
    assert_report_schema(&withheld.to_json());
}

// An invalid report establishes no approval: none under `approvals`, the evidence's ones under
// `claimed_approvals`, and the text never says "approved by".
fn assert_nothing_established(report: &Report, what: &str) {
    let json = assert_report_schema(&report.to_json()).clone();
    assert_eq!(json["verdict"], "invalid", "{what}");
    assert_eq!(json["approvals"], serde_json::json!([]), "{what}");
    assert_eq!(json["proven"], serde_json::json!([]), "{what}");
    assert_eq!(json["proven_items"], serde_json::json!([]), "{what}");
    assert!(
        !json["claimed_approvals"].as_array().unwrap().is_empty(),
        "{what}: the evidence's approvals are still shown, as claims"
    );
    let text = report.render();
    assert!(!text.contains("approved by"), "{what}:\n{text}");
    assert!(!text.contains("rejected by"), "{what}:\n{text}");
    assert!(text.contains("approvals:   0"), "{what}:\n{text}");
    assert!(
        text.contains("claimed approvals, NOT established (the verdict is INVALID)"),
        "{what}:\n{text}"
    );
}

#[test]
fn an_invalid_report_presents_no_approval_as_given() {
    let (_s, log, k, r) = history();
    let bundle = export(&log, &k, ExportOptions::new(Selection::Log));
    // The wrong pinned key.
    let wrong = TrustPolicy::new(vec![k.outsider.public_key()]).unwrap();
    let report = verify(&bundle, &wrong);
    assert_nothing_established(&report, "the wrong key");
    assert_eq!(report.claimed_approvals.len(), 2);

    // A tampered approval: its comment changed in the payload (the commitment no longer
    // matches).
    let its = items(&bundle);
    let at = its
        .iter()
        .position(|item| {
            EntryItem::decode(item).is_ok_and(|i| {
                sealtrail::Entry::from_bytes(&i.entry).is_ok_and(|e| e.seq() == r[11].seq)
            })
        })
        .unwrap();
    let mut item = EntryItem::decode(&its[at]).unwrap();
    let BundlePayload::Present { salt, data } = item.payload.clone() else {
        panic!("the approval's payload is present");
    };
    let changed = Approval::decode(&data)
        .unwrap()
        .with_comment("approved without reading")
        .unwrap();
    item.payload = BundlePayload::Present {
        salt,
        data: changed.encode().unwrap(),
    };
    let mut tampered = its.clone();
    tampered[at] = item.encode();
    let report = verify(&tampered.concat(), &pinned(&k));
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.seq == Some(r[11].seq) && f.check == Check::Payload),
        "{}",
        report.render()
    );
    assert_nothing_established(&report, "a tampered approval");
    // The untouched bundle establishes both.
    let report = verify(&bundle, &pinned(&k));
    assert_eq!(report.approvals.len(), 2);
    assert!(report.claimed_approvals.is_empty());
}

// A log whose clock jumps a year: one note, a six-month retention, then a purge of the note.
fn purged_log(k: &Keys) -> Log {
    use std::sync::atomic::{AtomicU64, Ordering};
    let t0 = 1_773_482_400_000_000_000u64;
    let now = Arc::new(AtomicU64::new(t0));
    let clock = {
        let now = now.clone();
        sealtrail::Clock::Fixed(Arc::new(move || {
            sealtrail::Timestamp(now.load(Ordering::Relaxed))
        }))
    };
    let log = Log::builder()
        .clock(clock)
        .create_in(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            &k.owner,
            ORIGIN,
        )
        .unwrap();
    log.register_key(
        &k.owner,
        k.recorder.key_id(),
        sealtrail::registry::Role::Recorder,
        "harness",
    )
    .unwrap();
    log.set_retention(
        &k.owner,
        &sealtrail::retention::RetentionSet::new(6, None).unwrap(),
    )
    .unwrap();
    log.append(&k.recorder, note("kept six months")).unwrap();
    let year = 365 * 86_400 * 1_000_000_000u64;
    now.store(t0 + year, Ordering::Relaxed);
    let done = log
        .purge(&k.owner, sealtrail::Timestamp(t0 + year))
        .unwrap();
    assert_eq!(done.plan.entries, vec![2]);
    log
}
