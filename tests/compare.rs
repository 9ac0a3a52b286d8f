//! Comparing two runs: the first divergence and every later one, and each run's totals,
//! checked number by number against a hand-built pair of sessions.

use sealtrail::compare::{SCHEMA, compare_sessions};
use sealtrail::event::{
    Artifact, CommandRun, Cost, Decision, Event, ModelCall, Outcome, Requirement, SessionStarted,
    Verification,
};
use sealtrail::registry::Role;
use sealtrail::{Clock, Digest, Log, SecretKey, SessionId, Timestamp};

struct Run<'a> {
    model: &'a str,
    output: u8,
    chosen: &'a str,
    patch: u8,
    // Exit codes of successive `cargo test` runs.
    tests: &'a [i64],
}

fn record(log: &Log, key: &SecretKey, id: &str, run: &Run) -> SessionId {
    let s = SessionId::new(id).unwrap();
    let ev = |e: Event| log.append_event(key, &s, &e, &[]).unwrap();
    ev(Event::SessionStarted(SessionStarted {
        objective: "Add XBRL export".into(),
        agent_name: "xbrl-agent".into(),
        ..SessionStarted::default()
    }));
    ev(Event::ModelCall(ModelCall {
        provider: "anthropic".into(),
        request_model: run.model.into(),
        input_tokens: 1_000,
        output_tokens: 200,
        cost: Some(Cost {
            micros: 4_500,
            currency: "USD".into(),
        }),
        prompt_digest: Digest([1; 32]),
        response_digest: Some(Digest([run.output; 32])),
        purpose: Some("design".into()),
        ..ModelCall::default()
    }));
    ev(Event::Decision(Decision {
        question: "How to write XBRL?".into(),
        chosen: run.chosen.into(),
        rejected: Vec::new(),
        rationale: "fits".into(),
    }));
    ev(Event::Artifact(Artifact {
        artifact_type: "patchset".into(),
        digest: Digest([run.patch; 32]),
        size: 10,
        paths: vec!["src/xbrl.rs".into()],
        ..Artifact::default()
    }));
    for &code in run.tests {
        ev(Event::CommandRun(CommandRun {
            command: "cargo test".into(),
            exit_code: Some(code),
            duration_ms: 1_000,
            ..CommandRun::default()
        }));
        let outcome = if code == 0 {
            Outcome::Pass
        } else {
            Outcome::Fail
        };
        let mut v = Verification::ran("cargo test", outcome, Requirement::Required);
        v.command = Some("cargo test".into());
        ev(Event::Verification(v));
    }
    s
}

fn log() -> (Log, SecretKey) {
    let owner = SecretKey::from_seed("example.com/compare", &[1; 32]).unwrap();
    let recorder = SecretKey::from_seed("harness", &[2; 32]).unwrap();
    let log = Log::builder()
        .clock(Clock::stepping(
            Timestamp(1_780_000_000_000_000_000),
            std::time::Duration::from_secs(1),
        ))
        .create_in(
            std::sync::Arc::new(sealtrail::store::MemoryStore::new()),
            &owner,
            "example.com/compare",
        )
        .unwrap();
    log.register_key(&owner, recorder.key_id(), Role::Recorder, "harness")
        .unwrap();
    (log, recorder)
}

const ORIGINAL: Run = Run {
    model: "claude-opus-4",
    output: 7,
    chosen: "quick-xml",
    patch: 20,
    tests: &[101, 0],
};

#[test]
fn a_different_model_diverges_at_its_first_call_and_the_totals_are_counted() {
    let (log, key) = log();
    let a = record(&log, &key, "original", &ORIGINAL);
    let b = record(
        &log,
        &key,
        "replay",
        &Run {
            model: "claude-sonnet-4",
            output: 8,
            chosen: "hand-built writer",
            patch: 21,
            tests: &[0],
        },
    );
    let c = compare_sessions(&log, &a, &b).unwrap();
    assert_eq!(c.schema, SCHEMA);
    assert!(c.aligned_by_identity);

    let first = c.first_divergence().unwrap();
    assert_eq!(
        first.step, 1,
        "session_started is the same; the model call is not"
    );
    assert_eq!(first.kind, "model_call");
    assert_eq!(first.step_name, "design");
    assert_eq!(
        first.what,
        format!(
            "model output: claude-opus-4 → {} vs claude-sonnet-4 → {}",
            &Digest([7; 32]).to_hex()[..16],
            &Digest([8; 32]).to_hex()[..16]
        )
    );
    // Then the decision, the patchset, the failing first test run; the original's second
    // run (and its verification) has no counterpart.
    let listed: Vec<(u64, &str, &str)> = c
        .divergences
        .iter()
        .map(|d| (d.step, d.kind.as_str(), d.what.as_str()))
        .collect();
    assert_eq!(
        listed[1],
        (
            2,
            "decision",
            "decision chosen: quick-xml vs hand-built writer"
        )
    );
    assert_eq!(listed[2].1, "artifact");
    assert_eq!(
        listed[3],
        (4, "command_run", "command result: exit 101 vs exit 0")
    );
    assert_eq!(
        listed[4],
        (5, "verification", "check outcome: fail vs pass")
    );
    assert_eq!(listed[5], (6, "command_run", "only in A"));
    assert_eq!(listed[6], (7, "verification", "only in A"));
    assert_eq!(listed.len(), 7);

    // Totals, by hand: A has one model call (1,000 in, 200 out, 0.0045 USD), 8 entries over
    // 7 s, cargo test failing then passing (one cycle, not first try); B passes at once.
    assert_eq!(c.a.steps, 8);
    assert_eq!(c.b.steps, 6);
    assert_eq!(
        (c.a.model_calls, c.a.input_tokens, c.a.output_tokens),
        (1, 1_000, 200)
    );
    assert_eq!(c.a.cost_micros["USD"], 4_500);
    assert_eq!(c.a.wall_time_ms, 7_000);
    assert_eq!(c.b.wall_time_ms, 5_000);
    assert_eq!(
        (c.a.iteration_cycles, c.a.first_try_passes, c.a.checks),
        (1, 0, 1)
    );
    assert_eq!(
        (c.b.iteration_cycles, c.b.first_try_passes, c.b.checks),
        (0, 1, 1)
    );
    assert_eq!(c.a.files_changed, vec!["src/xbrl.rs".to_owned()]);
    assert!(!c.identical_patchsets);

    let md = c.to_markdown();
    assert!(
        md.contains("First divergence at step 1: model_call `design`"),
        "{md}"
    );
    assert!(
        md.contains("| checks passing on the first try | 0 of 1 | 1 of 1 |"),
        "{md}"
    );
    assert!(
        md.contains("| cost | 0.004500 USD | 0.004500 USD |"),
        "{md}"
    );
    let json = c.to_json();
    assert_eq!(json["schema"], "sealtrail.compare/1");
    assert_eq!(json["divergences"][0]["a"], first.a.unwrap());
}

#[test]
fn the_same_steps_with_the_same_results_are_identical() {
    let (log, key) = log();
    let a = record(&log, &key, "original", &ORIGINAL);
    let b = record(&log, &key, "reproduced", &ORIGINAL);
    let c = compare_sessions(&log, &a, &b).unwrap();
    assert!(c.is_identical(), "{}", c.to_markdown());
    assert!(c.identical_patchsets);
    assert_eq!(c.a.patchset_fingerprint, c.b.patchset_fingerprint);
    assert!(c.to_markdown().contains("The runs are identical"));
}
