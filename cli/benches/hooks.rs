//! Claude Code hook latency with many hooks at once (issue 14, item 8), against its baselines
//! measured in the same run:
//!
//! * 16 `sealtrail ingest claude-code` processes started at once, each given a realistic
//!   `PostToolUse` payload (Bash, Read, Edit and Grep calls with a few KiB of tool output, in four
//!   sessions): the latency of each process from its spawn to its exit, as Claude Code waits for
//!   it. Target: p99 < 100 ms. Every hook must exit 0: its entries (the hook record, the tool
//!   call linked to its `PreToolUse` record, and a command run or file read for Bash and Read)
//!   are fsynced before it does. Before each burst the 16 calls' `PreToolUse` hooks run, also 16
//!   at once, as Claude Code runs them for parallel tool calls; their latencies are reported too.
//! * One hook alone, nothing else running against the log: the uncontended latency.
//! * A process that only starts and exits (`sealtrail --version`): the process-start floor.
//! * One hook's work on the log in this process, no process start: open the log, read its last
//!   64 entries (where `ingest` finds the `PreToolUse` record of a call), three appends made
//!   durable by one flush, close — what `ingest` does while it holds the log, so 16 of them one
//!   after another bound what 16 hooks at once can reach. And its floor: opening and closing the
//!   log alone (sled's own recovery, snapshot and syncs). Both run in this process, where sled's
//!   thread pool is already started: a hook process also starts it, while holding the log.
//!
//! The log starts with 1,200 entries, more than the 1,024 `ingest` searches. The measurements run
//! in rounds interleaved with their baselines; every latency of every round counts.
//!
//! Run: `cargo bench -p sealtrail-cli --bench hooks` (about 3 minutes). A table of p50, p99 and
//! max latencies is printed at the end. `SEALTRAIL_BENCH_BIN=path/to/sealtrail` measures another
//! build of the binary against the same baselines (the in-process ones use this library).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ciborium::value::Value;
use criterion::{Criterion, SamplingMode};
use sealtrail::event::{
    CommandRun, Custom, Event, Namespaced, ToolCall, ToolOutcome, content_digest,
};
use sealtrail::registry::Role;
use sealtrail::{Durability, Log, SecretKey, SessionId};
use serde_json::{Value as Json, json};

const ORIGIN: &str = "bench.example/hooks";
/// Hooks started at once.
const HOOKS: usize = 16;
/// Entries in the log before the first measurement.
const HISTORY: u64 = 1_200;
/// Each measurement runs in this many rounds, interleaved with its baselines.
const ROUNDS: usize = 2;

/// The binary measured: this package's, or `SEALTRAIL_BENCH_BIN` (another build, to compare).
fn bin() -> PathBuf {
    std::env::var_os("SEALTRAIL_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sealtrail")))
}

/// Every latency recorded, by measurement.
static LATENCIES: Mutex<BTreeMap<&'static str, Vec<Duration>>> = Mutex::new(BTreeMap::new());

fn record(name: &'static str, took: Duration) {
    LATENCIES
        .lock()
        .unwrap()
        .entry(name)
        .or_default()
        .push(took);
}

/// A log with a recorder key and some history, in a temporary directory.
struct Fixture {
    _dir: tempfile::TempDir,
    log: PathBuf,
    key: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let key = dir.path().join("recorder.key");
        let owner = SecretKey::generate(ORIGIN).unwrap();
        let recorder = SecretKey::generate("claude-code").unwrap();
        recorder.save(&key).unwrap();
        let l = Log::builder()
            .durability(Durability::Buffered)
            .create(&log, &owner, ORIGIN)
            .unwrap();
        l.register_key(&owner, recorder.key_id(), Role::Recorder, "hooks")
            .unwrap();
        let session = SessionId::new("cc-history").unwrap();
        while l.len() < HISTORY {
            let batch = (0..100)
                .map(|i| {
                    command_run(&format!("cargo test --test t{i}"))
                        .to_record()
                        .unwrap()
                        .session(&session)
                })
                .collect();
            l.append_batch(&recorder, batch).unwrap();
        }
        l.flush().unwrap();
        Fixture {
            _dir: dir,
            log,
            key,
        }
    }

    fn ingest(&self) -> Command {
        let mut c = Command::new(bin());
        c.args(["ingest", "claude-code", "--log"])
            .arg(&self.log)
            .arg("--key")
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }
}

fn command_run(command: &str) -> Event {
    Event::CommandRun(CommandRun {
        command: command.into(),
        exit_code: Some(0),
        duration_ms: 4_100,
        ..CommandRun::default()
    })
}

/// Text of about `n` bytes, in lines, as tool output looks.
fn text(seed: usize, n: usize) -> String {
    let mut s = String::with_capacity(n + 80);
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!(
            "{seed:04}:{i:05}    let value = compute(input, {i}); // output line\n"
        ));
        i += 1;
    }
    s
}

/// Which hook of a tool call.
#[derive(Clone, Copy)]
enum Hook {
    Pre,
    Post,
}

/// The `i`th tool call's hook payload in burst `burst`: Bash, Read, Edit and Grep in turn, in
/// four sessions, with the members Claude Code sends.
fn tool_hook(hook: Hook, burst: u64, i: usize) -> Vec<u8> {
    let session = format!("cc-bench-{}", i % 4);
    let id = format!("toolu_{burst:06}_{i:02}");
    let file = format!("/home/dev/repo/src/module_{i}.rs");
    let (tool, input, response) = match i % 4 {
        0 => (
            "Bash",
            json!({"command": "cargo test --workspace", "description": "Run the tests"}),
            json!({"stdout": text(i, 3_000), "stderr": "", "interrupted": false,
                   "isImage": false}),
        ),
        1 => (
            "Read",
            json!({"file_path": file}),
            json!({"type": "text", "file": {"filePath": file, "content": text(i, 6_000),
                   "numLines": 90, "startLine": 1, "totalLines": 90}}),
        ),
        2 => (
            "Edit",
            json!({"file_path": file, "old_string": text(i, 400), "new_string": text(i + 1, 450)}),
            json!({"filePath": file, "oldString": text(i, 400), "newString": text(i + 1, 450),
                   "originalFile": text(i, 5_000), "userModified": false,
                   "replaceAll": false}),
        ),
        _ => (
            "Grep",
            json!({"pattern": "fn compute", "path": "/home/dev/repo", "output_mode": "content"}),
            json!({"mode": "content", "numFiles": 12, "content": text(i, 1_500)}),
        ),
    };
    let mut payload: Json = json!({
        "session_id": session,
        "transcript_path": format!("/home/dev/.claude/projects/repo/{session}.jsonl"),
        "cwd": "/home/dev/repo",
        "permission_mode": "acceptEdits",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": input,
        "tool_use_id": id,
    });
    if let Hook::Post = hook {
        payload["hook_event_name"] = json!("PostToolUse");
        payload["tool_response"] = response;
    }
    serde_json::to_vec(&payload).unwrap()
}

/// Starts `sealtrail ingest claude-code` with `payload` on its standard input.
fn start(fx: &Fixture, payload: &[u8]) -> (Child, Instant) {
    let started = Instant::now();
    let mut child = fx.ingest().spawn().unwrap();
    // Smaller than a pipe's buffer: the write does not wait for the hook to read it.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(payload).unwrap();
    drop(stdin);
    (child, started)
}

/// Waits for a hook; its latency, from spawn to exit. Panics if it did not exit 0.
fn finish(child: Child, started: Instant) -> Duration {
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "a hook failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// `HOOKS` hooks of burst `n` started at once, their latencies recorded under `name`; returns
/// the time until the last one exited.
fn burst(fx: &Fixture, hook: Hook, n: u64, name: &'static str) -> Duration {
    let payloads: Vec<_> = (0..HOOKS).map(|i| tool_hook(hook, n, i)).collect();
    let begin = Instant::now();
    let children: Vec<_> = payloads.iter().map(|p| start(fx, p)).collect();
    // One waiter per hook, so that each exit is timed when it happens.
    std::thread::scope(|s| {
        for (child, started) in children {
            s.spawn(move || record(name, finish(child, started)));
        }
    });
    begin.elapsed()
}

/// One hook's work on the log in this process: what it does while it holds the log.
fn in_process(fx: &Fixture, n: u64) -> Duration {
    let started = Instant::now();
    let log = Log::builder()
        .durability(Durability::Buffered)
        .lock_wait(Duration::from_secs(10))
        .open(&fx.log)
        .unwrap();
    let key = SecretKey::load(&fx.key).unwrap().key;
    let suite = log.suite();
    let session = SessionId::new("cc-bench-inproc").unwrap();
    let output = text(0, 3_000);
    let hook = Event::Custom(Custom {
        custom_type: Namespaced::new("claude-code/post_tool_use").unwrap(),
        body: Value::Map(vec![
            (
                Value::Text("hook_event_name".into()),
                Value::Text("PostToolUse".into()),
            ),
            (
                Value::Text("payload_digest".into()),
                Value::Bytes(content_digest(suite, output.as_bytes()).0.to_vec()),
            ),
            (
                Value::Text("tool_use_id".into()),
                Value::Text(format!("toolu_inproc_{n}")),
            ),
        ]),
    });
    let h = log
        .append(&key, hook.to_record().unwrap().session(&session))
        .unwrap();
    let len = log.len();
    let window = log.range(len.saturating_sub(64)..len).count();
    assert!(window > 0);
    let call = Event::ToolCall(ToolCall {
        name: "Bash".into(),
        call_id: format!("toolu_inproc_{n}"),
        tool_type: Some("function".into()),
        arguments_digest: content_digest(suite, b"cargo test --workspace"),
        result_digest: Some(content_digest(suite, output.as_bytes())),
        outcome: Some(ToolOutcome::Ok),
        duration_ms: None,
        paths: Vec::new(),
        ..ToolCall::default()
    });
    let c = log
        .append(
            &key,
            call.to_record().unwrap().session(&session).link(h.link()),
        )
        .unwrap();
    log.append(
        &key,
        command_run("cargo test --workspace")
            .to_record()
            .unwrap()
            .session(&session)
            .link(c.link()),
    )
    .unwrap();
    log.flush().unwrap();
    drop(log);
    started.elapsed()
}

/// Opening and closing the log, nothing else.
fn open_close(fx: &Fixture) -> Duration {
    let started = Instant::now();
    let log = Log::builder()
        .lock_wait(Duration::from_secs(10))
        .open(&fx.log)
        .unwrap();
    assert!(log.len() >= HISTORY);
    drop(log);
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let fx = Fixture::new();
    let mut g = c.benchmark_group("hooks");
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    let mut n = 0u64;
    for round in 0..ROUNDS {
        g.measurement_time(Duration::from_secs(5));
        g.bench_function(format!("process_start/{round}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let out = Command::new(bin()).arg("--version").output().unwrap();
                    assert!(out.status.success());
                    let took = started.elapsed();
                    record("process_start", took);
                    total += took;
                }
                total
            })
        });
        g.bench_function(format!("hook_alone/{round}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let i = n as usize % HOOKS;
                    let (child, started) = start(&fx, &tool_hook(Hook::Pre, n, i));
                    finish(child, started);
                    let (child, started) = start(&fx, &tool_hook(Hook::Post, n, i));
                    let took = finish(child, started);
                    record("hook_alone", took);
                    total += took;
                }
                total
            })
        });
        g.bench_function(format!("in_process/{round}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let took = in_process(&fx, n);
                    record("in_process", took);
                    total += took;
                }
                total
            })
        });
        g.bench_function(format!("open_close/{round}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let took = open_close(&fx);
                    record("open_close", took);
                    total += took;
                }
                total
            })
        });
        g.measurement_time(Duration::from_secs(20));
        g.bench_function(format!("hooks_16/{round}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    burst(&fx, Hook::Pre, n, "pre_16");
                    total += burst(&fx, Hook::Post, n, "hooks_16");
                }
                total
            })
        });
    }
    g.finish();
    c.final_summary();

    // Everything the hooks wrote is there and verifies.
    let out = Command::new(bin())
        .args(["verify", "--log"])
        .arg(&fx.log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let mut all = LATENCIES.lock().unwrap();
    let mut stats = |name: &str| {
        let v = all.get_mut(name).map(std::mem::take).unwrap_or_default();
        let mut v = v;
        v.sort();
        (
            v.len(),
            percentile(&v, 50.0),
            percentile(&v, 99.0),
            v.last().copied().unwrap_or_default(),
        )
    };
    let sixteen = stats("hooks_16");
    let pre = stats("pre_16");
    let alone = stats("hook_alone");
    let start_only = stats("process_start");
    let work = stats("in_process");
    let floor = stats("open_close");
    println!();
    println!("binary: {}", bin().display());
    println!("== hooks: {HOOKS} Claude Code hooks at once, next to their baselines (same run) ==");
    println!(
        "{:<58} {:>7} {:>9} {:>9} {:>9} {:>8}",
        "latency of one process, spawn to exit", "n", "p50 ms", "p99 ms", "max ms", "target"
    );
    let row = |what: &str, (n, p50, p99, max): (usize, Duration, Duration, Duration), t: &str| {
        println!(
            "{what:<58} {n:>7} {:>9.1} {:>9.1} {:>9.1} {t:>8}",
            ms(p50),
            ms(p99),
            ms(max)
        );
    };
    row(
        &format!("{HOOKS} hooks at once (PostToolUse)"),
        sixteen,
        "p99<100",
    );
    row(
        &format!("{HOOKS} PreToolUse hooks at once, before them"),
        pre,
        "",
    );
    row(
        "one PostToolUse hook alone (after its PreToolUse)",
        alone,
        "",
    );
    row("process start only (sealtrail --version)", start_only, "");
    row(
        "one hook's log work in this process (no process start)",
        work,
        "",
    );
    row("  of which: opening and closing the log alone", floor, "");
    println!(
        "{HOOKS} x the in-process work at p50 (one after another): {:.1} ms; the {HOOKS}-hook p99 \
         is {:.2}x that and {:.2}x one hook alone",
        ms(work.1) * HOOKS as f64,
        ms(sixteen.2) / (ms(work.1) * HOOKS as f64),
        ms(sixteen.2) / ms(alone.1).max(f64::MIN_POSITIVE)
    );
}
