//! `sealtrail replay` (SPEC §13.13) run as a user runs it, on the demo's log: a replay from
//! record reproduces the original; another model diverges where it should and costs what it
//! should; deterministic steps are reused only for identical inputs; gates are reused by
//! reference or wait for `sealtrail approve`; broken and dying harnesses end the replay with a
//! recorded failure and lose nothing.

#![cfg(feature = "sled")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value as Json, json};

const BIN: &str = env!("CARGO_BIN_EXE_sealtrail");
const ORIGINAL: &str = "sess-xbrl-0001";

struct Demo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Demo {
    // The demo: keys, a log with the XBRL session (content kept), and its two replays.
    fn new() -> Demo {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let out = sealtrail(&["demo", "--dir", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        Demo { _tmp: tmp, dir }
    }

    fn log(&self) -> String {
        self.dir.join("log").to_str().unwrap().to_owned()
    }

    fn key(&self, role: &str) -> String {
        self.dir
            .join("keys")
            .join(format!("{role}.key"))
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn replay(&self, session: &str, extra: &[&str], agent: &str) -> Output {
        let (log, key) = (self.log(), self.key("recorder"));
        let mut args = vec![
            "replay",
            "--log",
            &log,
            "--session",
            session,
            "--key",
            &key,
            "--json",
            "--agent",
            agent,
        ];
        args.extend_from_slice(extra);
        sealtrail(&args)
    }

    fn entries(&self, session: &str, kind: Option<&str>) -> Vec<Json> {
        let log = self.log();
        let mut args = vec!["show", "--log", &log, "--session", session, "--json"];
        if let Some(k) = kind {
            args.extend_from_slice(&["--kind", k]);
        }
        let out = sealtrail(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn compare(&self, a: &str, b: &str) -> Json {
        let out = sealtrail(&["compare", "--log", &self.log(), a, b, "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    // A harness written as a shell script in the demo directory.
    fn script(&self, name: &str, body: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, body).unwrap();
        format!("sh '{}'", path.display())
    }
}

fn sealtrail(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn summary(out: &Output) -> Json {
    serde_json::from_str(text(&out.stdout).lines().next().unwrap_or("null")).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

fn harness() -> String {
    format!("'{BIN}' replay-harness")
}

#[test]
fn a_replay_from_record_reproduces_every_artifact_the_patchset_and_the_pr_description() {
    let d = Demo::new();
    let out = d.replay(ORIGINAL, &["--from-record", "--no-exec"], &harness());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = summary(&out);
    assert_eq!(s["schema"], "sealtrail.replay/1");
    assert_eq!(s["outcome"], "completed");
    assert_eq!(s["model_calls"]["from_record"], 47);
    assert_eq!(s["model_calls"]["reported"], 0);
    assert_eq!(s["executed"], 0);
    assert_eq!(s["refused"], 0);
    assert_eq!(s["gates"]["reused"], 2);
    assert_eq!(s["unreplayable"], json!([]));
    let replay = s["session"].as_str().unwrap().to_owned();

    // Every artifact: same type, name, paths and digest, in the same order.
    let artifacts = |session: &str| -> Vec<Json> {
        d.entries(session, Some("artifact"))
            .into_iter()
            .map(|e| {
                json!([
                    e["payload"]["type"],
                    e["payload"]["name"],
                    e["payload"]["paths"],
                    e["payload"]["digest"]
                ])
            })
            .collect()
    };
    let (a, b) = (artifacts(ORIGINAL), artifacts(&replay));
    assert_eq!(a.len(), 11);
    assert_eq!(a, b);
    assert!(
        b.iter().any(|x| x[0] == "pr_description"),
        "the PR body's artifact"
    );
    let c = d.compare(ORIGINAL, &replay);
    assert_eq!(c["divergences"], json!([]), "{c}");
    assert_eq!(c["identical_patchsets"], true);
    assert_eq!(
        c["a"]["patchset_fingerprint"],
        c["b"]["patchset_fingerprint"]
    );

    // Linked replay_of the original's session_started; approvals referred to, never copied.
    let started = &d.entries(&replay, Some("session_started"))[0];
    let original_start = &d.entries(ORIGINAL, Some("session_started"))[0];
    assert_eq!(started["payload"]["replay_of"][0], original_start["seq"]);
    assert_eq!(started["links"][0]["seq"], original_start["seq"]);
    assert!(d.entries(&replay, Some("approval")).is_empty());
    let approvals: Vec<Json> = d
        .entries(ORIGINAL, Some("approval"))
        .iter()
        .map(|e| e["seq"].clone())
        .collect();
    let gates: Vec<Json> = d
        .entries(&replay, Some("gate_requested"))
        .iter()
        .map(|e| e["links"][0]["seq"].clone())
        .collect();
    assert_eq!(gates, approvals);
    // Every entry of the replay is signed by the recorder key.
    let recorder = &d.entries(&replay, None)[0]["signer"];
    assert!(
        d.entries(&replay, None)
            .iter()
            .all(|e| &e["signer"] == recorder)
    );
}

#[test]
fn another_model_diverges_at_its_first_call_and_the_totals_are_what_the_calls_add_up_to() {
    let d = Demo::new();
    // The demo's comparison of the original with its claude-sonnet-4 replay.
    let c: Json =
        serde_json::from_slice(&std::fs::read(d.dir.join("compare.json")).unwrap()).unwrap();
    let md = std::fs::read_to_string(d.dir.join("compare.md")).unwrap();
    assert_eq!(c["schema"], "sealtrail.compare/1");
    let first = &c["divergences"][0];
    // Steps 0 and 1 (session_started, context_loaded) agree; the first model call differs.
    assert_eq!(first["step"], 2);
    assert_eq!(first["kind"], "model_call");
    assert_eq!(first["step_name"], "summarise the XBRL 2.1 spec");
    assert!(
        first["what"]
            .as_str()
            .unwrap()
            .contains("claude-sonnet-4-5-20250929 → ")
    );
    assert!(md.contains("First divergence at step 2: model_call `summarise the XBRL 2.1 spec`"));
    let decision = c["divergences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "decision")
        .unwrap();
    assert_eq!(
        decision["what"],
        "decision chosen: the quick-xml crate behind a typed XBRL layer vs hand-built XML \
         strings behind a small writer"
    );
    // By hand: call n has 6000 + 373n input tokens and 350 + (97n mod 900) output tokens, at
    // 3 and 15 micro-USD per token. The original makes 47 calls (n = 0..46); the replay 44.
    // Input: 47·6000 + 373·(46·47/2) = 282000 + 403213 = 685213;
    //        44·6000 + 373·(43·44/2) = 264000 + 352858 = 616858.
    // Output (the 97n mod 900 terms summed): 37607 and 34262.
    // Cost: 3·685213 + 15·37607 = 2619744; 3·616858 + 15·34262 = 2364504.
    let a = &c["a"];
    let b = &c["b"];
    assert_eq!(
        (&a["model_calls"], &b["model_calls"]),
        (&json!(47), &json!(44))
    );
    assert_eq!(a["input_tokens"], 685_213);
    assert_eq!(b["input_tokens"], 616_858);
    assert_eq!(a["output_tokens"], 37_607);
    assert_eq!(b["output_tokens"], 34_262);
    assert_eq!(a["cost_micros"]["USD"], 2_619_744);
    assert_eq!(b["cost_micros"]["USD"], 2_364_504);
    // The original: cargo test failed once then passed, validation passed at once (1 of 2,
    // 1 cycle). The hand-built writer failed both first (0 of 2) and was fixed twice.
    assert_eq!(
        (&a["first_try_passes"], &a["checks"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(
        (&b["first_try_passes"], &b["checks"]),
        (&json!(0), &json!(2))
    );
    assert_eq!(a["iteration_cycles"], 1);
    assert_eq!(b["iteration_cycles"], 2);
    assert_eq!(c["identical_patchsets"], false);

    // The replay's first test run was executed for real in the work directory: 10 of 12.
    let replay = b["session"].as_str().unwrap();
    let checks = d.entries(replay, Some("verification"));
    assert_eq!(checks[0]["payload"]["passed"], 10);
    assert_eq!(checks[0]["payload"]["failed"], 2);
    assert_eq!(checks[0]["payload"]["outcome"], "fail");
    let runs = d.entries(replay, Some("command_run"));
    assert_eq!(runs[0]["payload"]["exit_code"], 1);
    assert!(
        d.dir
            .join("replay-work/src/report/xbrl/escape.rs")
            .is_file()
    );
    // The external action was not performed: no pull request artifact.
    assert!(
        d.entries(replay, Some("artifact"))
            .iter()
            .all(|e| e["payload"]["type"] != "pull_request")
    );
}

// A session of three commands, recorded with `append`: two runs of the same command around a
// patchset, and a model call kept by digest only.
fn small_session(d: &Demo, session: &str) {
    let events = [
        json!({"kind": "session_started", "objective": "say hello", "agent_name": "sh"}),
        json!({"kind": "command_run", "command": "echo same", "exit_code": 0, "duration_ms": 1}),
        json!({"kind": "model_call", "provider": "p", "request_model": "m",
               "input_tokens": 1, "output_tokens": 1, "prompt_digest": {"text": "hi"},
               "response_digest": {"text": "hello"}}),
        json!({"kind": "artifact", "type": "patchset", "digest": {"text": "patch"},
               "size": 5}),
        json!({"kind": "command_run", "command": "echo same", "exit_code": 7, "duration_ms": 1}),
        json!({"kind": "session_ended", "status": "completed"}),
    ];
    let input: String = events.iter().map(|e| format!("{e}\n")).collect();
    let mut child = Command::new(BIN)
        .args([
            "append",
            "--log",
            &d.log(),
            "--key",
            &d.key("recorder"),
            "--session",
            session,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

const HELLO: &str = r#"read -r hello
echo '{"type":"hello","protocol":"sealtrail.replay/1"}'
read -r task
"#;

fn answers(path: &Path) -> Vec<Json> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn deterministic_steps_are_reused_only_when_their_input_digest_is_identical() {
    let d = Demo::new();
    small_session(&d, "small");
    let work = d.dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let log = d.dir.join("answers.jsonl");
    let ask = |id: u32, msg: &str| {
        format!(
            "echo '{msg}'\nread -r a{id}; printf '%s\\n' \"$a{id}\" >> '{}'\n",
            log.display()
        )
    };
    let body = [
        HELLO.to_owned(),
        // Same command, same state (no patchset yet): reused, exit 0 from the record.
        ask(1, r#"{"type":"step","id":1,"kind":"command_run","command":"echo same"}"#),
        // One byte changed: executed in the work directory.
        ask(2, r#"{"type":"step","id":2,"kind":"command_run","command":"echo samf"}"#),
        // The model call was kept by digest only: it cannot be answered from record.
        ask(3, r#"{"type":"model_request","id":3,"prompt":"hi"}"#),
        // After another patchset, the same command is another input: executed, although an
        // original run of it remains (after the original's own patchset).
        ask(
            4,
            r#"{"type":"record","id":4,"event":{"kind":"artifact","type":"patchset","digest":{"text":"other patch"},"size":5}}"#,
        ),
        ask(5, r#"{"type":"step","id":5,"kind":"command_run","command":"echo same"}"#),
        ask(6, r#"{"type":"step","id":6,"kind":"command_run","command":"echo samf"}"#),
        ask(7, r#"{"type":"end","id":7,"status":"completed"}"#),
    ]
    .concat();
    let agent = d.script("h.sh", &body);
    let out = d.replay(
        "small",
        &["--from-record", "--workdir", work.to_str().unwrap()],
        &agent,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "1 model_call step(s) cannot be replayed from record: the response was recorded by digest only"
        ),
        "{}",
        text(&out.stderr)
    );
    let s = summary(&out);
    assert_eq!(s["unreplayable"][0]["kind"], "model_call");
    let a = answers(&log);
    let original = d.entries("small", Some("command_run"));
    assert_eq!(a[0]["status"], "reused");
    assert_eq!(a[0]["original"], original[0]["seq"]);
    assert_eq!(a[0]["exit_code"], 0);
    assert_eq!(a[1]["status"], "executed");
    assert_eq!(a[1]["stdout"], "samf\n");
    assert_ne!(a[0]["input_digest"], a[1]["input_digest"]);
    assert_eq!(a[2]["type"], "refused");
    assert!(
        a[2]["reason"]
            .as_str()
            .unwrap()
            .contains("recorded its response by digest only")
    );
    assert_eq!(a[3]["type"], "recorded");
    assert_eq!(a[4]["status"], "executed");
    assert_eq!(a[4]["exit_code"], 0);
    assert_ne!(a[4]["input_digest"], a[0]["input_digest"]);
    assert_eq!(a[5]["status"], "executed");
    assert_ne!(a[5]["input_digest"], a[1]["input_digest"]);
    // A reused step's entry links the original; an executed one does not.
    let replayed = d.entries(s["session"].as_str().unwrap(), Some("command_run"));
    assert_eq!(replayed[0]["links"][0]["seq"], original[0]["seq"]);
    assert_eq!(replayed[1]["links"], json!([]));
    assert_eq!(replayed.len(), 4);

    // --no-exec: the changed command is refused, not run.
    std::fs::remove_file(&log).unwrap();
    let body = [
        HELLO.to_owned(),
        ask(
            1,
            r#"{"type":"step","id":1,"kind":"command_run","command":"touch ran"}"#,
        ),
        ask(2, r#"{"type":"end","id":2,"status":"completed"}"#),
    ]
    .concat();
    let agent = d.script("h2.sh", &body);
    let out = d.replay(
        "small",
        &["--no-exec", "--workdir", work.to_str().unwrap()],
        &agent,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let a = answers(&log);
    assert_eq!(a[0]["type"], "refused");
    assert!(a[0]["reason"].as_str().unwrap().starts_with("--no-exec"));
    assert!(!work.join("ran").exists());
}

#[test]
fn broken_or_dying_harnesses_end_the_replay_with_a_recorded_failure_and_lose_nothing() {
    let d = Demo::new();
    let long = "a".repeat(1_100_000);
    let model_call = r#"{"type":"model_call","id":1,"provider":"p","request_model":"m","input_tokens":1,"output_tokens":2,"prompt":"q","response":"r"}"#;
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "malformed",
            format!("{HELLO}echo '{model_call}'\nread -r x\necho 'not json'\nread -r e\n"),
            "protocol error (malformed)",
        ),
        (
            "unknown",
            format!(
                "{HELLO}echo '{model_call}'\nread -r x\necho '{{\"type\":\"teleport\",\"id\":2}}'\nread -r e\n"
            ),
            "protocol error (unknown_message): unknown message type \"teleport\"",
        ),
        (
            "bad member",
            format!(
                "{HELLO}echo '{model_call}'\nread -r x\necho '{{\"type\":\"step\",\"id\":2,\"kind\":\"command_run\",\"comand\":\"x\"}}'\nread -r e\n"
            ),
            "protocol error (bad_message)",
        ),
        (
            "too long",
            format!("{HELLO}echo '{model_call}'\nread -r x\necho '{long}'\nread -r e\n"),
            "protocol error (line_too_long)",
        ),
        (
            "dies",
            format!("{HELLO}echo '{model_call}'\nread -r x\nexit 3\n"),
            "the harness closed its output before `end` (harness exit status: 3)",
        ),
        (
            "no hello",
            format!("read -r hello\necho '{model_call}'\nread -r e\n"),
            "protocol error (out_of_order): expected the harness's `hello`, got `model_call`",
        ),
    ];
    for (name, body, expected) in cases {
        let agent = d.script("broken.sh", &body);
        let out = d.replay(ORIGINAL, &[], &agent);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
        let s = summary(&out);
        assert_eq!(s["outcome"], "failed", "{name}");
        assert!(
            s["error"].as_str().unwrap().contains(expected),
            "{name}: {s}"
        );
        let entries = d.entries(s["session"].as_str().unwrap(), None);
        let kinds: Vec<&str> = entries
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        let end = &entries[entries.len() - 1];
        assert_eq!(end["payload"]["status"], "failed", "{name}");
        assert_eq!(kinds[kinds.len() - 2], "failure_seen", "{name}");
        if name != "no hello" {
            // What the harness reported before it broke is still there.
            assert_eq!(
                kinds,
                [
                    "session_started",
                    "model_call",
                    "failure_seen",
                    "session_ended"
                ],
                "{name}"
            );
        }
    }
    let out = sealtrail(&["verify", "--log", &d.log()]);
    assert!(out.status.success(), "{}", text(&out.stdout));
}

// A harness that hangs (says hello, reports one step, then neither answers nor exits) does not
// hang the replay: after --harness-timeout seconds of silence it stops, records the failure,
// and ends the session, keeping what the harness reported.
#[test]
fn a_silent_harness_is_stopped_after_the_harness_timeout() {
    let d = Demo::new();
    let model_call = r#"{"type":"model_call","id":1,"provider":"p","request_model":"m","input_tokens":1,"output_tokens":2,"prompt":"q","response":"r"}"#;
    let agent = d.script(
        "hangs.sh",
        &format!("{HELLO}echo '{model_call}'\nread -r x\nexec sleep 600\n"),
    );
    let started = std::time::Instant::now();
    let out = d.replay(ORIGINAL, &["--harness-timeout", "1"], &agent);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // Not a timing assertion: a hang guard (the harness would sleep ten minutes).
    assert!(started.elapsed() < std::time::Duration::from_secs(300));
    let s = summary(&out);
    assert_eq!(s["outcome"], "failed");
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .contains("the harness sent nothing for 1 s (--harness-timeout)"),
        "{s}"
    );
    let entries = d.entries(s["session"].as_str().unwrap(), None);
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "session_started",
            "model_call",
            "failure_seen",
            "session_ended"
        ]
    );
    // Zero is refused: it would stop every replay at once.
    let out = d.replay(ORIGINAL, &["--harness-timeout", "0"], &agent);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn regate_stops_at_the_gate_until_a_person_approves_with_sealtrail_approve() {
    let d = Demo::new();
    let log_file = d.dir.join("gate.jsonl");
    let digest = "ab".repeat(32);
    let body = format!(
        "{HELLO}echo '{{\"type\":\"gate\",\"id\":1,\"gate\":\"file_write\",\"artifacts\":[\"{digest}\"]}}'\nread -r a; printf '%s\\n' \"$a\" >> '{0}'\necho '{{\"type\":\"end\",\"id\":2,\"status\":\"completed\"}}'\nread -r b\n",
        log_file.display()
    );
    let agent = d.script("gate.sh", &body);
    let (log, key) = (d.log(), d.key("recorder"));
    let mut replay = Command::new(BIN)
        .args([
            "replay",
            "--log",
            &log,
            "--session",
            ORIGINAL,
            "--key",
            &key,
            "--regate",
            "--json",
            "--agent",
            &agent,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the replay to say which entry awaits approval.
    let mut stderr = BufReader::new(replay.stderr.take().unwrap());
    let mut line = String::new();
    let gate_seq: u64 = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the replay ended without waiting at the gate"
        );
        if let Some(rest) = line.split("--entry ").nth(1) {
            break rest.trim().parse().unwrap();
        }
    };
    // It waits: it has not answered the harness, and has not exited.
    assert!(replay.try_wait().unwrap().is_none());
    assert!(!log_file.exists());
    let approved = sealtrail(&[
        "approve",
        "--log",
        &log,
        "--key",
        &d.key("approver"),
        "--gate",
        "file_write",
        "--meaning",
        "approval",
        "--entry",
        &gate_seq.to_string(),
        "--artifact",
        &digest,
        "--json",
    ]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    let approval: Json = serde_json::from_slice(&approved.stdout).unwrap();
    let out = replay.wait_with_output().unwrap();
    assert!(out.status.success());
    let s = summary(&out);
    assert_eq!(s["gates"]["approved"], 1);
    assert_eq!(s["gates"]["reused"], 0);
    let a = answers(&log_file);
    assert_eq!(a[0]["type"], "gate");
    assert_eq!(a[0]["status"], "approved");
    assert_eq!(a[0]["entry"], gate_seq);
    assert_eq!(a[0]["approval"], approval["seq"]);
    assert_eq!(a[0]["same_artifacts"], true);
}

#[test]
fn without_regate_a_gate_reuses_the_original_approval_and_says_whether_it_covers_the_artifacts() {
    let d = Demo::new();
    let log_file = d.dir.join("gate.jsonl");
    let body = format!(
        "{HELLO}echo '{{\"type\":\"gate\",\"id\":1,\"gate\":\"file_write\",\"artifacts\":[\"{}\"]}}'\nread -r a; printf '%s\\n' \"$a\" >> '{1}'\necho '{{\"type\":\"gate\",\"id\":2,\"gate\":\"merge\",\"artifacts\":[\"{0}\"]}}'\nread -r a; printf '%s\\n' \"$a\" >> '{1}'\necho '{{\"type\":\"end\",\"id\":3,\"status\":\"completed\"}}'\nread -r b\n",
        "cd".repeat(32),
        log_file.display()
    );
    let agent = d.script("gate.sh", &body);
    let out = d.replay(ORIGINAL, &[], &agent);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let a = answers(&log_file);
    let approvals = d.entries(ORIGINAL, Some("approval"));
    assert_eq!(a[0]["status"], "reused");
    assert_eq!(a[0]["approval"], approvals[0]["seq"]);
    assert_eq!(a[0]["same_artifacts"], false);
    assert_eq!(a[1]["type"], "refused");
    assert!(a[1]["reason"].as_str().unwrap().contains("--regate"));
    // The original approval is referred to by a link, and was not signed again.
    let s = summary(&out);
    let gate = &d.entries(s["session"].as_str().unwrap(), Some("gate_requested"))[0];
    assert_eq!(gate["links"][0]["seq"], approvals[0]["seq"]);
    assert_eq!(d.entries(ORIGINAL, Some("approval")).len(), 2);
}
