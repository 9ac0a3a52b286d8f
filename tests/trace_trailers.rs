//! The decision trace's closing lines (SPEC §13.9): where the work stands now (the latest
//! handoff), who assisted when no model call was recorded, and where the evidence lives.

use std::sync::Arc;

use sealtrail::event::{Event, Handoff, HandoffStatus, SessionStarted};
use sealtrail::registry::Role;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::trace::{DecisionTrace, TraceOptions};
use sealtrail::{Log, SecretKey, SessionId};

fn session_of(events: &[Event]) -> (Log, SessionId) {
    let owner = SecretKey::from_seed("example.com/trailers", &[0x31; 32]).unwrap();
    let recorder = SecretKey::from_seed("recorder", &[0x32; 32]).unwrap();
    let log = Log::builder()
        .create_in(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            &owner,
            "example.com/trailers",
        )
        .unwrap();
    log.register_key(&owner, recorder.key_id(), Role::Recorder, "harness")
        .unwrap();
    let session = SessionId::new("sess-trailers").unwrap();
    for e in events {
        log.append(&recorder, e.to_record().unwrap().session(&session))
            .unwrap();
    }
    (log, session)
}

fn handoff(status: HandoffStatus, blocker: Option<&str>) -> Event {
    Event::Handoff(Handoff {
        status,
        summary: None,
        blockers: blocker.map(str::to_owned).into_iter().collect(),
        open_risks: Vec::new(),
        next_action: None,
    })
}

fn started() -> Event {
    Event::SessionStarted(SessionStarted {
        objective: "Add XBRL export".into(),
        agent_name: "claude code".into(),
        ..SessionStarted::default()
    })
}

#[test]
fn the_trace_shows_the_latest_handoff_only() {
    let (log, session) = session_of(&[
        started(),
        handoff(HandoffStatus::InProgress, Some("cargo test failed")),
        handoff(HandoffStatus::ReadyForReview, None),
    ]);
    let text = DecisionTrace::from_session(&log, &session)
        .unwrap()
        .to_markdown(&TraceOptions::default());
    assert_eq!(text.matches("Handoff:").count(), 1, "{text}");
    assert!(text.contains("\nHandoff: ready_for_review\n"), "{text}");
    let record = DecisionTrace::from_session(&log, &session)
        .unwrap()
        .run_record();
    assert_eq!(record.as_json()["handoff"]["status"], "ready_for_review");
}

#[test]
fn without_model_calls_the_agent_alone_is_named_and_the_evidence_located() {
    let (log, session) = session_of(&[started()]);
    let trace = DecisionTrace::from_session(&log, &session).unwrap();
    let text = trace.to_markdown(&TraceOptions::default().evidence("https://ci.example/s.bundle"));
    // The trailers are the last paragraph.
    let trailers: Vec<&str> = text
        .trim_end()
        .rsplit("\n\n")
        .next()
        .unwrap()
        .lines()
        .collect();
    assert_eq!(
        trailers,
        [
            format!("Sealtrail-Log: {}", log.log_id().to_hex()).as_str(),
            "Sealtrail-Session: sess-trailers",
            "Sealtrail-Evidence: https://ci.example/s.bundle",
            "Assisted-by: claude-code",
        ]
    );
    // No evidence location given, no trailer; no session_started, no agent to name.
    let text = trace.to_markdown(&TraceOptions::default());
    assert!(!text.contains("Sealtrail-Evidence"), "{text}");
    let (log, session) = session_of(&[handoff(HandoffStatus::Done, None)]);
    let text = DecisionTrace::from_session(&log, &session)
        .unwrap()
        .to_markdown(&TraceOptions::default());
    assert!(!text.contains("Assisted-by"), "{text}");
}
