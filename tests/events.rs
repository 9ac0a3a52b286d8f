//! The session vocabulary (SPEC §13): every event round-trips through canonical CBOR and through
//! a log; non-canonical payloads and unknown fields are rejected; corrections never edit; the
//! scope query lists what the session touched outside its declared scope.

use std::sync::Arc;

use ciborium::value::Value;
use sealtrail::approval::{Approval, Gate, Meaning, Namespaced, Subjects, Verdict};
use sealtrail::codec::{DecodeError, Encoder, decode_value, encode_value, to_canonical};
use sealtrail::event::*;
use sealtrail::query::{QueryError, ScopeViolation, decode_event, out_of_scope, versions};
use sealtrail::registry::Role;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{Digest, EntryHash, Kind, Link, Log, Receipt, Record, SecretKey, SessionId, Suite};

fn d(b: u8) -> Digest {
    Digest([b; 32])
}

fn link(seq: u64) -> Link {
    Link {
        seq,
        hash: EntryHash([seq as u8; 32]),
    }
}

/// Every event type with every optional field set, and again with only the required ones.
fn samples() -> Vec<Event> {
    vec![
        Event::SessionStarted(SessionStarted {
            objective: "add XBRL export".into(),
            scope: vec!["src/report/".into()],
            exclusions: vec!["**/*.pem".into()],
            required_checks: vec!["cargo test".into()],
            base_commit: Some("4f2c9e1".into()),
            agent_name: "xbrl-agent".into(),
            agent_version: Some("1.4.0".into()),
            agent_id: Some("agent-7".into()),
            tags: vec!["new-feature".into()],
            ..Default::default()
        }),
        Event::SessionStarted(SessionStarted {
            objective: "o".into(),
            agent_name: "a".into(),
            ..Default::default()
        }),
        Event::ContextLoaded(ContextLoaded {
            source: "docs/spec.md".into(),
            digest: d(1),
            reason: "the rules".into(),
            data_source_id: Some("kb-1".into()),
        }),
        Event::FileRead(FileRead {
            path: "src/lib.rs".into(),
            digest: d(2),
            reason: Some("entry point".into()),
        }),
        Event::FileRead(FileRead {
            path: "src/lib.rs".into(),
            digest: d(2),
            reason: None,
        }),
        Event::ModelCall(ModelCall {
            provider: "anthropic".into(),
            request_model: "m".into(),
            response_model: Some("m-1".into()),
            response_id: Some("msg_1".into()),
            finish_reasons: vec!["end_turn".into()],
            input_tokens: 100,
            output_tokens: 20,
            cache_read_input_tokens: Some(50),
            cache_creation_input_tokens: Some(25),
            reasoning_output_tokens: Some(5),
            temperature_milli: Some(200),
            seed: Some(-7),
            cost: Some(Cost {
                currency: "USD".into(),
                micros: 12_300,
            }),
            prompt_digest: d(3),
            response_digest: Some(d(4)),
            duration_ms: Some(2_100),
            purpose: Some("analyse code".into()),
            prompt: Some(b"the request".to_vec()),
            response: Some(b"the response".to_vec()),
        }),
        Event::ModelCall(ModelCall {
            provider: "p".into(),
            request_model: "m".into(),
            prompt_digest: d(3),
            ..Default::default()
        }),
        Event::ToolCall(ToolCall {
            name: "apply_patch".into(),
            call_id: "toolu_1".into(),
            tool_type: Some("function".into()),
            arguments_digest: d(5),
            result_digest: Some(d(6)),
            outcome: Some(ToolOutcome::Error),
            duration_ms: Some(10),
            paths: vec!["src/a.rs".into()],
            arguments: Some(b"{}".to_vec()),
            result: Some(b"done".to_vec()),
        }),
        Event::CommandRun(CommandRun {
            command: "cargo test".into(),
            exit_code: Some(-1),
            duration_ms: 41_000,
            stdout_digest: Some(d(7)),
            stderr_digest: Some(d(8)),
            cwd: Some("crates/report".into()),
        }),
        Event::CommandRun(CommandRun {
            command: "cargo test".into(),
            duration_ms: 0,
            ..Default::default()
        }),
        Event::FailureSeen(FailureSeen {
            error: "3 failed".into(),
            command: Some("cargo test".into()),
            suspected_cause: Some("period must be a duration".into()),
        }),
        Event::Decision(Decision {
            question: "library or hand-built?".into(),
            chosen: "library".into(),
            rejected: vec![Alternative {
                option: "hand-built".into(),
                reason: "escaping".into(),
            }],
            rationale: "namespaces".into(),
        }),
        Event::Assumption(Assumption {
            statement: "one currency".into(),
            basis: Some("model".into()),
        }),
        Event::Correction(Correction {
            corrects: link(3),
            redirected: "do not touch the PDF renderer".into(),
            instruction: Some("add a new module".into()),
        }),
        Event::Supersession(Supersession {
            reason: "revised after the correction".into(),
            supersedes: link(3),
            replacement: link(9),
        }),
        Event::Artifact(Artifact {
            artifact_type: "patchset".into(),
            name: Some("writer".into()),
            uri: Some("https://example.com/pr/1".into()),
            digest: d(9),
            size: 1234,
            paths: vec!["src/a.rs".into()],
            media_type: Some("text/x-diff".into()),
        }),
        Event::Verification(Verification {
            passed: Some(9),
            failed: Some(3),
            command: Some("cargo test".into()),
            duration_ms: Some(38_000),
            evidence_digest: Some(d(10)),
            reason: Some("3 period tests".into()),
            ..Verification::ran("cargo test", Outcome::Fail, Requirement::Required)
        }),
        Event::Verification(Verification::not_run(
            "e2e",
            "preview down",
            Requirement::Optional,
        )),
        Event::GateRequested(GateRequested {
            summary: Some("write 6 files".into()),
            ..GateRequested::new(
                Gate::FileWrite,
                &Subjects::new([link(2), link(1)], [d(11), d(11)]),
            )
        }),
        Event::Approval(
            Approval::new(
                Gate::Custom(Namespaced::new("example.com/deploy").unwrap()),
                Meaning::Authorship,
                Verdict::Reject,
                Subjects::new([link(4)], [d(12)]),
            )
            .unwrap()
            .with_comment("not yet")
            .unwrap(),
        ),
        Event::Handoff(Handoff {
            status: HandoffStatus::Blocked,
            summary: Some("half done".into()),
            blockers: vec!["preview down".into()],
            open_risks: vec!["time zones".into()],
            next_action: Some("re-run e2e".into()),
        }),
        Event::SessionEnded(SessionEnded {
            status: SessionStatus::HandedOff,
            summary: Some("blocked on the preview service".into()),
        }),
        Event::Custom(Custom {
            custom_type: Namespaced::new("example.com/hook_event").unwrap(),
            // Decoded maps come back in canonical key order, so the sample is written in it.
            body: Value::Map(vec![
                (Value::Integer(1.into()), Value::Bytes(vec![1, 2, 3])),
                (Value::Text("tool".into()), Value::Text("Bash".into())),
            ]),
        }),
        Event::Gap(Gap {
            event: Some("PreToolUse".into()),
            reason: "the hook payload is not valid JSON".into(),
            source: Some("claude-code".into()),
            input_size: Some(9),
            input_digest: Some(d(13)),
        }),
        Event::Gap(Gap {
            reason: "the hook payload is more than 64 MiB".into(),
            ..Gap::default()
        }),
        Event::Review(sealtrail::event::Review {
            change: sealtrail::event::ChangeRef {
                pr: Some("!42".into()),
                commit: Some("3f".repeat(20)),
                patchset: Some(d(14)),
            },
            verdict: sealtrail::event::ReviewVerdict::Approve,
            checklist: vec![sealtrail::event::ChecklistAnswer {
                item: sealtrail::event::ChecklistItem::TestsFailWithoutChange,
                answer: sealtrail::event::Answer::Yes,
                note: Some("cargo test fails on the parent".into()),
                evidence: vec![Link {
                    seq: 3,
                    hash: EntryHash([3; 32]),
                }],
            }],
            comment: Some("ship it".into()),
            entries: vec![Link {
                seq: 5,
                hash: EntryHash([5; 32]),
            }],
        }),
        Event::Merge(sealtrail::event::Merge {
            change: sealtrail::event::ChangeRef {
                commit: Some("3f".repeat(20)),
                ..Default::default()
            },
            into: "main".into(),
            repository: Some("https://git.example.com/app".into()),
            merge_commit: Some("4e".repeat(20)),
            paths: vec!["src/report/xbrl.rs".into()],
        }),
        Event::Incident(sealtrail::event::Incident {
            id: "INC-2041".into(),
            severity: "sev2".into(),
            detected_at: 1_780_000_000_000_000_000,
            description: "XBRL exports miss the period".into(),
            commits: vec!["3f".repeat(20)],
            sessions: vec!["sess-xbrl-0001".into()],
        }),
        Event::IncidentResolved(sealtrail::event::IncidentResolved {
            id: "INC-2041".into(),
            resolution: Some("period written as a duration".into()),
            fix_commits: vec!["5d".repeat(20)],
        }),
        // A replay (SPEC §13.13): its reference must be a link, so not appended on its own.
        Event::SessionStarted(SessionStarted {
            objective: "o".into(),
            agent_name: "a".into(),
            replay_of: Some(link(2)),
            overrides: vec!["model=claude-sonnet-4".into()],
            ..Default::default()
        }),
    ]
}

#[test]
fn every_event_type_round_trips_through_canonical_cbor() {
    let events = samples();
    let kinds: std::collections::BTreeSet<&str> = events.iter().map(|e| e.kind_str()).collect();
    assert_eq!(kinds.len(), KINDS.len(), "a kind has no sample");
    for e in &events {
        let bytes = e.encode().unwrap();
        // One item in the profile, keys in canonical order: re-encoding changes nothing.
        assert_eq!(encode_value(&decode_value(&bytes).unwrap()).unwrap(), bytes);
        assert_eq!(
            &Event::decode(&e.kind(), &bytes).unwrap(),
            e,
            "{}",
            e.kind_str()
        );
        // Optional fields that are absent are omitted, never null.
        assert!(!format!("{:?}", decode_value(&bytes).unwrap()).contains("Null"));
    }
}

fn test_log() -> (Log, SecretKey, SessionId) {
    let owner = SecretKey::from_seed("example.com/events-log", &[0x21; 32]).unwrap();
    let recorder = SecretKey::from_seed("recorder", &[0x22; 32]).unwrap();
    let log = Log::builder()
        .create_in(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            &owner,
            "example.com/events-log",
        )
        .unwrap();
    log.register_key(&owner, recorder.key_id(), Role::Recorder, "harness")
        .unwrap();
    (log, recorder, SessionId::new("sess-events").unwrap())
}

#[test]
fn events_round_trip_through_a_log() {
    let (log, recorder, session) = test_log();
    for e in samples() {
        // Approvals, reviews and merges are signed by approvers (tests/ownership.rs);
        // references must point at real entries.
        if matches!(
            e,
            Event::Approval(_)
                | Event::Correction(_)
                | Event::Supersession(_)
                | Event::GateRequested(_)
                | Event::Review(_)
                | Event::Merge(_)
        ) || matches!(&e, Event::SessionStarted(s) if s.replay_of.is_some())
        {
            continue;
        }
        let r = log
            .append(&recorder, e.to_record().unwrap().session(&session))
            .unwrap();
        let stored = log.read(r.seq).unwrap().unwrap();
        assert_eq!(stored.header().kind, e.kind());
        assert_eq!(decode_event(&stored).unwrap(), Some(e));
    }
    log.verify().unwrap();
}

fn expect_payload_error(kind: &str, bytes: &[u8]) -> DecodeError {
    match Event::decode(&Kind::new(kind).unwrap(), bytes) {
        Err(EventDecodeError::Payload { source, .. }) => source,
        other => panic!("{kind}: expected a payload error, got {other:?}"),
    }
}

#[test]
fn non_canonical_payloads_are_rejected() {
    for e in samples() {
        if matches!(e, Event::Approval(_)) {
            continue; // covered in approval's own tests and below
        }
        let kind = e.kind_str();
        let bytes = e.encode().unwrap();
        let Value::Map(pairs) = decode_value(&bytes).unwrap() else {
            panic!("{kind}: not a map")
        };
        // Keys in reverse order: well-formed CBOR, but not canonical.
        if pairs.len() > 1 {
            let mut enc = Encoder::new();
            enc.map(pairs.len());
            for (k, v) in pairs.iter().rev() {
                enc.raw(&encode_value(k).unwrap())
                    .raw(&encode_value(v).unwrap());
            }
            assert!(
                matches!(
                    expect_payload_error(kind, &enc.into_bytes()),
                    DecodeError::UnsortedKeys { .. }
                ),
                "{kind}"
            );
        }
        // A trailing byte.
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            expect_payload_error(kind, &trailing),
            DecodeError::TrailingBytes { .. }
        ));
    }
    // A length in a longer form than needed: the "objective" key's text head 0x69 as 0x78 0x09.
    let e = &samples()[1];
    let bytes = e.encode().unwrap();
    let at = bytes
        .windows(10)
        .position(|w| w == b"\x69objective")
        .unwrap();
    let mut long = bytes[..at].to_vec();
    long.extend_from_slice(&[0x78, 0x09]);
    long.extend_from_slice(&bytes[at + 1..]);
    assert!(matches!(
        expect_payload_error("session_started", &long),
        DecodeError::NotShortest { .. }
    ));
}

// Re-encodes a sample's payload with one field replaced (or removed, or added).
fn with_field(e: &Event, field: &str, value: Option<Value>) -> Vec<u8> {
    let Value::Map(mut pairs) = decode_value(&e.encode().unwrap()).unwrap() else {
        unreachable!()
    };
    pairs.retain(|(k, _)| k.as_text() != Some(field));
    if let Some(v) = value {
        pairs.push((Value::Text(field.into()), v));
    }
    encode_value(&Value::Map(pairs)).unwrap()
}

#[test]
fn unknown_fields_nulls_and_bad_values_are_rejected() {
    for e in samples() {
        let kind = e.kind_str();
        let bytes = with_field(&e, "zz_unknown", Some(Value::Bool(true)));
        let err = Event::decode(&e.kind(), &bytes).unwrap_err();
        // Refused as an unknown field by the schema, not merely as a re-encoding mismatch.
        let source = match &err {
            EventDecodeError::Payload { source, .. } => source,
            EventDecodeError::Approval(sealtrail::approval::ApprovalProblem::Payload(source)) => {
                source
            }
            other => panic!("{kind}: {other}"),
        };
        assert!(
            matches!(source, DecodeError::Schema { message } if message.contains("unknown field")),
            "{kind}: {err}"
        );
    }
    let full = &samples()[0];
    // null where SPEC omits an absent field.
    assert!(matches!(
        expect_payload_error(
            "session_started",
            &with_field(full, "base_commit", Some(Value::Null))
        ),
        DecodeError::NotCanonical | DecodeError::Schema { .. }
    ));
    // An empty list where SPEC omits it.
    assert_eq!(
        expect_payload_error(
            "session_started",
            &with_field(full, "scope", Some(Value::Array(vec![])))
        ),
        DecodeError::NotCanonical
    );
    // A missing required field.
    assert!(matches!(
        expect_payload_error("session_started", &with_field(full, "objective", None)),
        DecodeError::Schema { .. }
    ));
    // A digest of the wrong length.
    let read = &samples()[3];
    assert!(matches!(
        expect_payload_error(
            "file_read",
            &with_field(read, "digest", Some(Value::Bytes(vec![1; 31])))
        ),
        DecodeError::Schema { .. }
    ));
    // A not-run check must say why.
    let not_run = &samples()[17];
    let err = Event::decode(&not_run.kind(), &with_field(not_run, "reason", None)).unwrap_err();
    assert!(
        matches!(
            err,
            EventDecodeError::Invalid {
                field: "reason",
                ..
            }
        ),
        "{err}"
    );
    // Unknown kinds are not events.
    assert!(matches!(
        Event::decode(&Kind::new("note").unwrap(), &to_canonical(&1).unwrap()),
        Err(EventDecodeError::UnknownKind(_))
    ));
    // Floats are outside the profile, in a custom body too.
    let float = Event::Custom(Custom {
        custom_type: Namespaced::new("example.com/x").unwrap(),
        body: Value::Float(0.2),
    });
    assert!(matches!(float.encode(), Err(EventError::Encode { .. })));
    let mut enc = Encoder::new();
    enc.map(2).text("body").raw(&[0xf9, 0x32, 0x66]); // half-precision 0.2
    enc.text("type").text("example.com/x");
    let bytes = enc.into_bytes();
    assert!(matches!(
        expect_payload_error("custom", &bytes),
        DecodeError::Float { .. }
    ));
}

#[test]
fn references_become_links_and_unlinked_references_are_caught() {
    let (log, recorder, session) = test_log();
    let first = log
        .append(
            &recorder,
            Event::Assumption(Assumption {
                statement: "one currency".into(),
                basis: None,
            })
            .to_record()
            .unwrap()
            .session(&session),
        )
        .unwrap();
    let correction = Correction {
        corrects: first.link(),
        redirected: "amounts may be in two currencies".into(),
        instruction: None,
    };
    let record = Event::Correction(correction.clone()).to_record().unwrap();
    let linked = log.append(&recorder, record.session(&session)).unwrap();
    let stored = log.read(linked.seq).unwrap().unwrap();
    assert_eq!(stored.header().links, vec![first.link()]);

    // The same payload appended without its link: the writer refuses it, and writes nothing.
    let bare = Record::new(
        Kind::new("correction").unwrap(),
        Event::Correction(correction).encode().unwrap(),
    );
    let len = log.len();
    let err = log
        .append(&recorder, bare.clone().session(&session))
        .unwrap_err();
    assert!(
        matches!(
            err,
            sealtrail::log::AppendError::Event {
                source: sealtrail::event::EventDecodeError::Invalid { field: "links", .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(log.len(), len);
}

fn put(log: &Log, key: &SecretKey, session: &SessionId, e: Event, links: &[Receipt]) -> Receipt {
    log.append(
        key,
        e.to_record()
            .unwrap()
            .session(session)
            .links(links.iter().map(Receipt::link)),
    )
    .unwrap()
}

fn decision(chosen: &str) -> Event {
    Event::Decision(Decision {
        question: "Where does the XBRL writer go?".into(),
        chosen: chosen.into(),
        rejected: vec![],
        rationale: "keep renderers apart".into(),
    })
}

/// A correction points at the entry it corrects; a supersession names the old and new
/// versions; every version stays readable and the chain of versions can be rebuilt from any of
/// them.
#[test]
fn corrections_never_edit_and_versions_can_be_rebuilt() {
    let (log, rec, s) = test_log();
    let v1 = put(&log, &rec, &s, decision("inside the PDF renderer"), &[]);
    let c = put(
        &log,
        &rec,
        &s,
        Event::Correction(Correction {
            corrects: v1.link(),
            redirected: "do not touch the PDF renderer".into(),
            instruction: Some("put XBRL in its own module".into()),
        }),
        &[],
    );
    let v2 = put(&log, &rec, &s, decision("a new xbrl module"), &[c]);
    put(
        &log,
        &rec,
        &s,
        Event::Supersession(Supersession {
            reason: "the developer's correction".into(),
            supersedes: v1.link(),
            replacement: v2.link(),
        }),
        &[],
    );
    let v3 = put(&log, &rec, &s, decision("a new xbrl crate"), &[v2]);
    let s2 = put(
        &log,
        &rec,
        &s,
        Event::Supersession(Supersession {
            reason: "the module grew".into(),
            supersedes: v2.link(),
            replacement: v3.link(),
        }),
        &[],
    );
    log.verify().unwrap();

    for from in [v1, v2, v3] {
        let chain = versions(&log, from.seq).unwrap();
        let seqs: Vec<u64> = chain.iter().map(|v| v.seq).collect();
        assert_eq!(seqs, vec![v1.seq, v2.seq, v3.seq]);
        assert_eq!(chain[0].corrections.len(), 1);
        assert_eq!(chain[0].corrections[0].seq, c.seq);
        assert_eq!(
            chain[0].corrections[0].instruction.as_deref(),
            Some("put XBRL in its own module")
        );
        assert_eq!(
            chain[1].superseded,
            Some((s2.seq, "the module grew".into()))
        );
        assert_eq!(chain[2].superseded, None);
    }
    // The first version is still there, unchanged.
    let old = log.read(v1.seq).unwrap().unwrap();
    assert_eq!(
        decode_event(&old).unwrap(),
        Some(decision("inside the PDF renderer"))
    );
    // An entry that was never corrected is its own only version.
    assert_eq!(versions(&log, c.seq).unwrap().len(), 1);

    // A supersession must replace a record by one of the same kind.
    let other = put(
        &log,
        &rec,
        &s,
        Event::Assumption(Assumption {
            statement: "x".into(),
            basis: None,
        }),
        &[],
    );
    put(
        &log,
        &rec,
        &s,
        Event::Supersession(Supersession {
            reason: "wrong".into(),
            supersedes: v3.link(),
            replacement: other.link(),
        }),
        &[],
    );
    assert!(matches!(
        versions(&log, v3.seq),
        Err(QueryError::Supersession { .. })
    ));
}

#[test]
fn reads_outside_the_declared_scope_are_listed() {
    let (log, rec, s) = test_log();
    put(
        &log,
        &rec,
        &s,
        Event::SessionStarted(SessionStarted {
            objective: "add XBRL export".into(),
            scope: vec!["src/report/".into(), "Cargo.toml".into()],
            exclusions: vec!["src/report/legacy/".into()],
            agent_name: "xbrl-agent".into(),
            ..Default::default()
        }),
        &[],
    );
    let read = |path: &str| {
        Event::FileRead(FileRead {
            path: path.into(),
            digest: content_digest(Suite::Blake3, path.as_bytes()),
            reason: None,
        })
    };
    put(&log, &rec, &s, read("src/report/xbrl.rs"), &[]);
    let outside = put(&log, &rec, &s, read("src/billing/invoice.rs"), &[]);
    let excluded = put(&log, &rec, &s, read("src/report/legacy/old.rs"), &[]);
    put(&log, &rec, &s, read("Cargo.toml"), &[]);
    let tool = put(
        &log,
        &rec,
        &s,
        Event::ToolCall(ToolCall {
            name: "write_file".into(),
            call_id: "toolu_9".into(),
            arguments_digest: Digest([9; 32]),
            paths: vec!["src/report/mod.rs".into(), "../secrets.env".into()],
            ..Default::default()
        }),
        &[],
    );
    let found = out_of_scope(&log, &s).unwrap();
    let summary: Vec<(u64, &str, &ScopeViolation)> = found
        .iter()
        .map(|f| (f.seq, f.path.as_str(), &f.violation))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                outside.seq,
                "src/billing/invoice.rs",
                &ScopeViolation::NotInScope
            ),
            (
                excluded.seq,
                "src/report/legacy/old.rs",
                &ScopeViolation::Excluded {
                    pattern: "src/report/legacy/".into()
                }
            ),
            (tool.seq, "../secrets.env", &ScopeViolation::NotInScope),
        ]
    );
    assert_eq!(found[0].kind.as_str(), "file_read");
    assert_eq!(found[2].kind.as_str(), "tool_call");
}

/// Content digests are the plain hash of the content in the log's suite: what `b3sum` or
/// `sha256sum` prints.
#[test]
fn content_digests_are_plain_hashes() {
    assert_eq!(
        content_digest(Suite::Sha256, b"abc").to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        content_digest(Suite::Blake3, b"").to_hex(),
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
}

/// SPEC §13.4/§13.5 list every payload's fields in canonical order; the code agrees with it.
#[test]
fn spec_lists_every_field_in_canonical_order() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/SPEC.md")).unwrap();
    let section = &spec[spec.find("## 13. Session events").unwrap()..];
    let section = &section[..section.find("## 14.").unwrap()];
    // kind -> field names, in the order SPEC lists them.
    let mut listed: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let lines: Vec<&str> = section.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some((name, rest)) = line.split_once(" = {") {
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                let mut body = rest.to_owned();
                if !rest.contains('}') {
                    while !lines[i].starts_with('}') {
                        i += 1;
                        body.push_str(lines[i]);
                        body.push('\n');
                    }
                }
                let fields = body
                    .split('"')
                    .collect::<Vec<_>>()
                    .windows(2)
                    .filter(|w| w[1].starts_with(':') && !w[0].contains(';'))
                    .map(|w| w[0].to_owned())
                    .collect::<Vec<_>>();
                listed.insert(name.to_owned(), fields);
            }
        }
        i += 1;
    }
    let canonical = |v: &Vec<String>| {
        let mut c = v.clone();
        c.sort_by(|a, b| (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes())));
        c
    };
    let mut seen: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for e in samples() {
        let Value::Map(pairs) = decode_value(&e.encode().unwrap()).unwrap() else {
            unreachable!()
        };
        for (k, v) in pairs {
            seen.entry(e.kind_str().to_owned())
                .or_default()
                .insert(k.as_text().unwrap().to_owned());
            if k.as_text() == Some("cost") {
                let Value::Map(inner) = v else { unreachable!() };
                let cost = seen.entry("cost".into()).or_default();
                cost.extend(inner.iter().map(|(k, _)| k.as_text().unwrap().to_owned()));
            }
        }
    }
    for (kind, keys) in &seen {
        let fields = listed
            .get(kind)
            .unwrap_or_else(|| panic!("SPEC §13 has no CDDL for {kind}"));
        assert_eq!(
            fields,
            &canonical(fields),
            "{kind}: SPEC order is not canonical"
        );
        let spec_keys: std::collections::BTreeSet<String> = fields.iter().cloned().collect();
        assert_eq!(&spec_keys, keys, "{kind}: SPEC and code disagree");
    }
    assert_eq!(seen.len(), KINDS.len() + 1); // the kinds and `cost`
}

/// Every event of the XBRL session reads back from its JSON form (SPEC §13.10).
#[test]
fn json_form_round_trips() {
    use sealtrail::event::json::{event_to_json, from_json};
    use sealtrail::{Log, SecretKey, SessionId};
    use sealtrail_testkit::scenario::{ScenarioKeys, record_xbrl_session};
    let owner = SecretKey::from_seed("example.com/x", &[1; 32]).unwrap();
    let recorder = SecretKey::from_seed("r", &[2; 32]).unwrap();
    let approver = SecretKey::from_seed("a", &[3; 32]).unwrap();
    let log = Log::in_memory(&owner, "example.com/x").unwrap();
    let keys = ScenarioKeys::new(&owner, &recorder, &approver, "Release Approver");
    let session = SessionId::new("s").unwrap();
    record_xbrl_session(&log, &keys, &session).unwrap();
    let mut seen = 0;
    for e in log.range(0..log.len()) {
        let e = e.unwrap();
        let Ok(event) = Event::decode(&e.header().kind, e.payload.data().unwrap()) else {
            continue;
        };
        let json = event_to_json(&event).unwrap();
        let back = from_json(&json, log.suite(), &|_| None).unwrap();
        assert_eq!(back.event, event, "{json}");
        seen += 1;
    }
    assert!(seen > 80);
}
