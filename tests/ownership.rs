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
        paths: Vec::new(),
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
        paths: Vec::new(),
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

// ---- Senior review for declared paths (SPEC §13.14) ----

mod senior {
    use super::*;
    use sealtrail::bundle::{TrustPolicy, verify_bundle};
    use sealtrail::log::{ExportOptions, Selection};
    use sealtrail::policy::ReviewPolicy;
    use sealtrail::registry::Role;
    use sealtrail::report::Report;
    use sealtrail::{Log, SecretKey};

    pub(super) struct World {
        pub log: Log,
        pub k: Keys,
        pub senior: SecretKey,
        pub session: SessionId,
    }

    pub(super) fn world() -> World {
        let (_s, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
        populate(&log, &k);
        let senior = SecretKey::from_seed("senior", &[11; 32]).unwrap();
        log.register_key(&k.owner, senior.key_id(), Role::Approver, "Security Lead")
            .unwrap();
        World {
            log,
            k,
            senior,
            session: SessionId::new("merge-1").unwrap(),
        }
    }

    pub(super) fn declare(w: &World, paths: &[&str]) -> u64 {
        let policy = ReviewPolicy::new(
            vec![w.senior.key_id()],
            paths.iter().map(|p| (*p).to_owned()).collect(),
        )
        .unwrap();
        w.log
            .declare_review_policy(&w.k.owner, &policy)
            .unwrap()
            .seq
    }

    pub(super) fn review_by(w: &World, key: &SecretKey, verdict: ReviewVerdict) -> u64 {
        let mut r = review(Vec::new());
        if let Event::Review(x) = &mut r {
            x.verdict = verdict;
        }
        w.log.append_event(key, &w.session, &r, &[]).unwrap().seq
    }

    pub(super) fn merge(w: &World, paths: &[&str]) -> u64 {
        let m = Event::Merge(Merge {
            change: change(),
            into: "main".into(),
            repository: None,
            merge_commit: None,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        });
        w.log
            .append_event(&w.k.approver, &w.session, &m, &[])
            .unwrap()
            .seq
    }

    fn bundle_report(w: &World) -> Report {
        let mut out = Vec::new();
        w.log
            .export(
                &w.k.owner,
                &ExportOptions::new(Selection::Log),
                &mut out,
                &mut |_, _| {},
            )
            .unwrap();
        verify_bundle(&out[..], &TrustPolicy::new(owner_vkeys(&w.k)).unwrap()).unwrap()
    }

    // The `senior_review` findings of the local log's report and of a bundle's: always the
    // same, since one rule drives both.
    pub(super) fn findings(w: &World) -> Vec<(u64, String)> {
        let local = w.log.verify_report().unwrap();
        let bundle = bundle_report(w);
        let pick = |r: &Report| -> Vec<(u64, String)> {
            r.findings
                .iter()
                .filter(|f| f.check.as_str() == "senior_review")
                .map(|f| (f.seq.unwrap(), f.message.clone()))
                .collect()
        };
        assert_eq!(pick(&local), pick(&bundle), "local log and bundle agree");
        // A senior-review finding is the only one: the log itself is intact.
        assert!(
            local
                .findings
                .iter()
                .all(|f| f.check.as_str() == "senior_review")
        );
        assert_eq!(local.is_valid(), pick(&local).is_empty());
        assert_eq!(
            bundle.is_valid(),
            pick(&bundle).is_empty(),
            "{}",
            bundle.render()
        );
        w.log.verify().unwrap();
        pick(&local)
    }

    #[test]
    fn a_senior_path_merged_without_any_review_is_a_finding() {
        let w = world();
        let policy = declare(&w, &["auth/**", "crypto/"]);
        let m = merge(
            &w,
            &[
                "src/report/xbrl.rs",
                "auth/session/token.rs",
                "crypto/kdf.rs",
            ],
        );
        let found = findings(&w);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, m, "names the merge entry");
        assert_eq!(
            found[0].1,
            format!(
                "merge touches auth/session/token.rs (auth/**), crypto/kdf.rs (crypto/) under the \
                 senior-review requirement of entry {policy}, but no review of the change is \
                 among the entries verified"
            )
        );
    }

    // Insider: the person merging signs the merge, and with it the paths it lists. Leaving
    // `paths` out must not take a change around the rule: under a policy with senior paths, a
    // merge that lists none is judged as if it touched them, and a senior's approval clears it.
    #[test]
    fn a_merge_listing_no_paths_under_a_policy_needs_a_senior_review() {
        let w = world();
        // Without a policy, a merge with no paths is judged on nothing.
        merge(&w, &[]);
        assert_eq!(findings(&w), Vec::new());
        let policy = declare(&w, &["auth/**"]);
        let m = merge(&w, &[]);
        let found = findings(&w);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, m, "names the merge entry");
        assert_eq!(
            found[0].1,
            format!(
                "merge lists no paths while the senior-review requirement of entry {policy} is \
                 in force, so what it touched cannot be judged, and no review of the change is \
                 among the entries verified"
            )
        );
        // The senior's approving review of the change clears a later merge that lists no paths.
        review_by(&w, &w.senior, ReviewVerdict::Approve);
        merge(&w, &[]);
        assert_eq!(
            findings(&w).iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![m]
        );
    }

    #[test]
    fn a_review_by_a_key_that_is_not_senior_does_not_count() {
        let w = world();
        declare(&w, &["auth/**"]);
        let r = review_by(&w, &w.k.approver, ReviewVerdict::Approve);
        // A senior who only commented does not count either.
        let c = review_by(&w, &w.senior, ReviewVerdict::Comment);
        let m = merge(&w, &["auth/login.rs"]);
        let found = findings(&w);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, m);
        assert!(
            found[0].1.ends_with(&format!(
                "no approving review by a senior key; reviews seen: entry {r} by Release \
                 Approver (not senior, approve); entry {c} by Security Lead (senior, comment)"
            )),
            "{}",
            found[0].1
        );
    }

    #[test]
    fn an_approving_senior_review_satisfies_the_requirement() {
        let w = world();
        declare(&w, &["auth/**"]);
        review_by(&w, &w.senior, ReviewVerdict::Approve);
        merge(&w, &["auth/login.rs"]);
        // Paths outside the policy need nothing.
        merge(&w, &["docs/auth.md"]);
        assert_eq!(findings(&w), Vec::new());
    }

    #[test]
    fn a_senior_review_of_another_change_or_after_the_merge_does_not_count() {
        let w = world();
        declare(&w, &["auth/**"]);
        let other = Event::Review(Review {
            change: ChangeRef {
                commit: Some("aa".repeat(20)),
                ..ChangeRef::default()
            },
            verdict: ReviewVerdict::Approve,
            checklist: Vec::new(),
            comment: None,
            entries: Vec::new(),
        });
        w.log
            .append_event(&w.senior, &w.session, &other, &[])
            .unwrap();
        let m = merge(&w, &["auth/login.rs"]);
        review_by(&w, &w.senior, ReviewVerdict::Approve);
        let found = findings(&w);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![m]);
    }

    // Insider: the owner holds the key that declares the policy. A policy is in force from its
    // own entry on: declaring it after a merge does not make that merge a finding (a rule cannot
    // be broken before it existed), and withdrawing it after a merge does not excuse a merge
    // made while it was in force.
    #[test]
    fn the_policy_in_force_at_the_merge_decides_not_a_later_one() {
        let w = world();
        merge(&w, &["auth/login.rs"]);
        declare(&w, &["auth/**"]);
        assert_eq!(findings(&w), Vec::new(), "not retroactive");

        let m = merge(&w, &["auth/login.rs"]);
        let withdrawn = ReviewPolicy::new(Vec::new(), Vec::new()).unwrap();
        w.log.declare_review_policy(&w.k.owner, &withdrawn).unwrap();
        let found = findings(&w);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![m]);
        // After the withdrawal, nothing is required.
        merge(&w, &["auth/login.rs"]);
        assert_eq!(findings(&w).len(), 1);
    }

    #[test]
    fn only_an_owner_key_declares_a_policy_and_a_malformed_one_is_refused() {
        let w = world();
        let policy = ReviewPolicy::new(vec![w.senior.key_id()], vec!["auth/**".into()]).unwrap();
        for key in [&w.k.recorder, &w.k.approver, &w.senior] {
            let err = w.log.declare_review_policy(key, &policy).unwrap_err();
            assert!(matches!(err, AppendError::Signer { .. }), "{err}");
        }
        // Paths without a senior key, and an unsorted raw payload: refused, nothing written.
        assert!(ReviewPolicy::new(Vec::new(), vec!["auth/**".into()]).is_err());
        let before = w.log.len();
        let raw = sealtrail::Record::new(
            kind(sealtrail::policy::REVIEW_POLICY),
            payload(&std::collections::BTreeMap::from([(
                "senior_paths",
                vec!["auth/**"],
            )])),
        );
        let err = w.log.append(&w.k.owner, raw).unwrap_err();
        assert!(matches!(err, AppendError::ReviewPolicy { .. }), "{err}");
        assert_eq!(w.log.len(), before);
        // A policy is a control entry: it cannot be erased, and every bundle carries it.
        let seq = declare(&w, &["auth/**"]);
        assert!(w.log.erase_payload(&w.k.owner, seq, "test").is_err());
        assert!(w.log.read(seq).unwrap().unwrap().header().kind.is_control());
    }

    // A bundle of one session still carries the policy (a control item), so the exporter cannot
    // leave the requirement out.
    #[test]
    fn a_session_bundle_carries_the_policy() {
        let w = world();
        declare(&w, &["auth/**"]);
        let m = merge(&w, &["auth/login.rs"]);
        let mut out = Vec::new();
        w.log
            .export(
                &w.k.owner,
                &ExportOptions::new(Selection::Session(w.session.clone())),
                &mut out,
                &mut |_, _| {},
            )
            .unwrap();
        let report =
            verify_bundle(&out[..], &TrustPolicy::new(owner_vkeys(&w.k)).unwrap()).unwrap();
        assert!(!report.is_valid());
        let f: Vec<_> = report
            .findings
            .iter()
            .map(|f| (f.seq, f.check.as_str()))
            .collect();
        assert_eq!(f, vec![(Some(m), "senior_review")], "{}", report.render());
    }
}
