//! Reviews, merges and incidents (SPEC §13.4.20–23): a person's statements are signed by the
//! person's own key, never by an agent's; their payloads are checked at append.

use sealtrail::event::{
    Answer, ChangeRef, ChecklistAnswer, ChecklistItem, CommandRun, Event, Incident, Merge, Review,
    ReviewVerdict,
};
use sealtrail::log::AppendError;
use sealtrail::{Durability, Link, SessionId, Suite};
use sealtrail_testkit::fixtures::*;

fn change() -> ChangeRef {
    ChangeRef {
        commit: Some("3f".repeat(20)),
        ..ChangeRef::default()
    }
}

fn review(evidence: Vec<Link>) -> Event {
    Event::Review(Review {
        change: change(),
        verdict: ReviewVerdict::Approve,
        checklist: vec![
            ChecklistAnswer {
                item: ChecklistItem::NewDependency,
                answer: Answer::No,
                note: None,
                evidence: Vec::new(),
            },
            ChecklistAnswer {
                item: ChecklistItem::TestsFailWithoutChange,
                answer: Answer::Yes,
                note: Some("cargo test on the parent fails".into()),
                evidence,
            },
        ],
        comment: None,
        entries: Vec::new(),
    })
}

#[test]
fn an_agent_key_cannot_sign_a_review_or_a_merge_and_nothing_is_written() {
    let (_s, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    populate(&log, &k);
    let session = SessionId::new("review-1").unwrap();
    let before = log.len();
    let merge = Event::Merge(Merge {
        change: change(),
        into: "main".into(),
        repository: None,
        merge_commit: None,
    });
    for event in [review(Vec::new()), merge.clone()] {
        let err = log
            .append_event(&k.recorder, &session, &event, &[])
            .unwrap_err();
        assert!(matches!(err, AppendError::Signer { .. }), "{err}");
    }
    assert_eq!(log.len(), before, "nothing written");
    // The person signs them.
    log.append_event(&k.approver, &session, &merge, &[])
        .unwrap();
    log.verify().unwrap();
}

#[test]
fn a_review_links_its_evidence_and_is_checked_at_append() {
    let (_s, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    populate(&log, &k);
    let session = SessionId::new("review-2").unwrap();
    // The tests on the parent commit fail: the evidence that they test the change.
    let parent_run = log
        .append_event(
            &k.recorder,
            &session,
            &Event::CommandRun(CommandRun {
                command: "git checkout HEAD^ && cargo test".into(),
                exit_code: Some(101),
                duration_ms: 9_000,
                ..CommandRun::default()
            }),
            &[],
        )
        .unwrap();
    let r = log
        .append_event(&k.approver, &session, &review(vec![parent_run.link()]), &[])
        .unwrap();
    let stored = log.read(r.seq).unwrap().unwrap();
    assert_eq!(
        stored.header().links,
        vec![parent_run.link()],
        "evidence is a link"
    );
    log.verify().unwrap();

    // A change named by nothing, a bad commit id, an empty incident: refused, with the field.
    let nothing = Event::Merge(Merge {
        change: ChangeRef::default(),
        into: "main".into(),
        repository: None,
        merge_commit: None,
    });
    let err = log
        .append_event(&k.approver, &session, &nothing, &[])
        .unwrap_err();
    assert!(err.to_string().contains("`change`"), "{err}");
    let incident = Event::Incident(Incident {
        id: "INC-7".into(),
        severity: "sev2".into(),
        detected_at: 1,
        description: "exports fail".into(),
        commits: vec!["not-a-commit".into()],
        sessions: Vec::new(),
    });
    let err = log
        .append_event(&k.approver, &session, &incident, &[])
        .unwrap_err();
    assert!(err.to_string().contains("40 or 64 lower-case hex"), "{err}");
}

// No self-review (SPEC §13.4.20): a review may not link the reviewer's own work — an entry
// signed by the reviewer's key, or by any key registered under the same printed name (a
// developer reviewing the session their own agent key recorded).
#[test]
fn a_review_of_ones_own_work_is_refused_by_key_and_by_printed_name() {
    use sealtrail::registry::Role;
    let (_s, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    populate(&log, &k);
    let session = SessionId::new("review-3").unwrap();
    // The reviewer's own incident report, then a review that links it.
    let own = log
        .append_event(
            &k.approver,
            &session,
            &Event::Incident(Incident {
                id: "INC-1".into(),
                severity: "sev3".into(),
                detected_at: 1,
                description: "flaky export".into(),
                ..Incident::default()
            }),
            &[],
        )
        .unwrap();
    let mut r = review(Vec::new());
    if let Event::Review(x) = &mut r {
        x.entries = vec![own.link()];
    }
    let err = log
        .append_event(&k.approver, &session, &r, &[])
        .unwrap_err();
    assert!(matches!(err, AppendError::Approval { .. }), "{err}");

    // An agent key registered under the reviewer's printed name ("Release Approver").
    let agent = sealtrail::SecretKey::from_seed("own-agent", &[9; 32]).unwrap();
    log.register_key(
        &k.owner,
        agent.key_id(),
        Role::Recorder,
        "release  APPROVER",
    )
    .unwrap();
    let work = log
        .append_event(
            &agent,
            &session,
            &Event::CommandRun(CommandRun {
                command: "cargo build".into(),
                exit_code: Some(0),
                duration_ms: 1,
                ..CommandRun::default()
            }),
            &[],
        )
        .unwrap();
    let mut r = review(Vec::new());
    if let Event::Review(x) = &mut r {
        x.entries = vec![work.link()];
    }
    let err = log
        .append_event(&k.approver, &session, &r, &[])
        .unwrap_err();
    assert!(err.to_string().contains("printed name"), "{err}");
    log.verify().unwrap();
}
