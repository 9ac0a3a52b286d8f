//! Replay overhead per step (SPEC §13.13), against the harness talking to nothing:
//!
//! * **protocol round trip** (the baseline): a `step` line from the harness is parsed, an
//!   answer is built and written as a line, and the harness parses it — the wire alone;
//! * **replay step**: the same round trip plus what sealtrail does for a reused step — the
//!   input digest, the lookup of the original entry by digest, and the signed append of the
//!   reused entry (linked to the original) to an in-memory log.
//!
//! Pipes to the harness process cost the same in both and are left out. Run:
//! `cargo bench --bench replay` (about 30 s).

use std::time::{Duration, Instant};

use criterion::Criterion;
use sealtrail::event::{CommandRun, Event};
use sealtrail::query::session_events;
use sealtrail::registry::Role;
use sealtrail::replay::{
    HarnessMessage, OriginalRun, RunnerMessage, StepAnswer, StepKind, StepRequest, StepStatus,
    input_digest, parse_harness_line, parse_runner_line,
};
use sealtrail::{Link, Log, SecretKey, SessionId};

const ORIGINAL_STEPS: u64 = 20_000;

fn step_line(id: u64) -> String {
    HarnessMessage::Step(StepRequest {
        id,
        kind: Some(StepKind::CommandRun),
        command: Some("cargo test -p report".into()),
        ..StepRequest::default()
    })
    .to_line()
}

fn answer(id: u64, entry: u64, original: Option<u64>, digest: String) -> String {
    RunnerMessage::Result(StepAnswer {
        id,
        status: Some(StepStatus::Reused),
        entry,
        original,
        input_digest: digest,
        exit_code: Some(0),
        ..StepAnswer::default()
    })
    .to_line()
}

fn bench(c: &mut Criterion) {
    let owner = SecretKey::generate("example.com/replay-bench").unwrap();
    let recorder = SecretKey::generate("harness").unwrap();
    let log = Log::in_memory(&owner, "example.com/replay-bench").unwrap();
    log.register_key(&owner, recorder.key_id(), Role::Recorder, "harness")
        .unwrap();
    let original = SessionId::new("original").unwrap();
    let replay = SessionId::new("original.replay-1").unwrap();
    let start = Event::SessionStarted(sealtrail::event::SessionStarted {
        objective: "o".into(),
        agent_name: "a".into(),
        ..Default::default()
    });
    log.append_event(&recorder, &original, &start, &[]).unwrap();
    let run = Event::CommandRun(CommandRun {
        command: "cargo test -p report".into(),
        exit_code: Some(0),
        duration_ms: 41_000,
        ..CommandRun::default()
    });
    for _ in 0..ORIGINAL_STEPS {
        log.append_event(&recorder, &original, &run, &[]).unwrap();
    }
    let index = OriginalRun::index(log.suite(), &session_events(&log, &original).unwrap()).unwrap();
    let suite = log.suite();

    let mut g = c.benchmark_group("replay step");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("protocol round trip (baseline)", |b| {
        let mut id = 0u64;
        b.iter(|| {
            id += 1;
            let HarnessMessage::Step(s) =
                parse_harness_line(step_line(id).trim_end().as_bytes()).unwrap()
            else {
                unreachable!()
            };
            let line = answer(s.id, id, Some(id), String::new());
            parse_runner_line(line.trim_end().as_bytes()).unwrap()
        })
    });
    g.bench_function("replay step: digest, match, signed append", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                // A fresh copy of the index when the original's steps run out (not timed).
                let mut original = index.clone();
                let chunk = (iters - done).min(ORIGINAL_STEPS);
                let t = Instant::now();
                for i in 0..chunk {
                    let HarnessMessage::Step(s) =
                        parse_harness_line(step_line(i).trim_end().as_bytes()).unwrap()
                    else {
                        unreachable!()
                    };
                    let input = s.input(suite).unwrap();
                    let digest = input_digest(suite, &input, None);
                    let (seq, event) = original.take_step(&digest).unwrap();
                    let hash = log.read(seq).unwrap().unwrap().hash;
                    let r = log
                        .append_event(&recorder, &replay, &event, &[Link { seq, hash }])
                        .unwrap();
                    let line = answer(s.id, r.seq, Some(seq), digest.to_hex());
                    parse_runner_line(line.trim_end().as_bytes()).unwrap();
                }
                total += t.elapsed();
                done += chunk;
            }
            total
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
