//! `sealtrail ingest claude-code` fails closed (SPEC §13.11): an event that cannot be recorded —
//! whatever the reason — exits 2 by default on the hooks whose action waits for it (1 with
//! `--on-failure allow`, and by default on `Stop`), says why on one line of standard error, and
//! leaves a `gap` entry when the log can be opened and the key may sign.
//!
//! The real binary, as Claude Code runs it; the log is read back with `sealtrail show --json`.

#![cfg(feature = "sled")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sealtrail::event::content_digest;
use sealtrail::registry::Role;
use sealtrail::{Log, SecretKey, Suite};
use serde_json::{Value as Json, json};
use tempfile::TempDir;

const ORIGIN: &str = "example.com/hook-fail-closed";
/// The payload cap of `ingest claude-code`.
const CAP: usize = 64 * 1024 * 1024;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// What is piped to the command's standard input.
enum Stdin {
    Bytes(Vec<u8>),
    /// `prefix`, then `len` bytes of `x`, written in chunks: a payload generated as it is sent.
    Stream {
        prefix: Vec<u8>,
        len: usize,
    },
}

/// A log with a recorder ("test harness"), a recorder that has been revoked, and a key file that
/// the log does not know.
struct Fx {
    dir: TempDir,
}

impl Fx {
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        let fx = Fx { dir };
        let owner = SecretKey::generate(ORIGIN).unwrap();
        let recorder = SecretKey::generate("harness").unwrap();
        let revoked = SecretKey::generate("old-harness").unwrap();
        let stranger = SecretKey::generate("stranger").unwrap();
        recorder.save(&fx.key("recorder")).unwrap();
        revoked.save(&fx.key("revoked")).unwrap();
        stranger.save(&fx.key("stranger")).unwrap();
        let log = Log::create(&fx.log(), &owner, ORIGIN).unwrap();
        log.register_key(&owner, recorder.key_id(), Role::Recorder, "test harness")
            .unwrap();
        log.register_key(&owner, revoked.key_id(), Role::Recorder, "old harness")
            .unwrap();
        log.revoke_key(&owner, revoked.key_id(), "harness retired")
            .unwrap();
        fx
    }

    fn key(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("keys/{name}.key"))
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    fn ingest(&self, key: &str, extra: &[&str], stdin: Stdin) -> Out {
        let (l, k) = (display(&self.log()), display(&self.key(key)));
        let mut args = vec!["ingest", "claude-code", "--log", &l, "--key", &k];
        args.extend_from_slice(extra);
        run(&args, stdin)
    }

    /// Every entry of the log, as `sealtrail show --json` prints it.
    fn entries(&self) -> Vec<Json> {
        let out = run(
            &["show", "--log", &display(&self.log()), "--json"],
            no_input(),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn gaps(&self) -> Vec<Json> {
        self.entries()
            .into_iter()
            .filter(|e| e["kind"] == "gap")
            .collect()
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

fn no_input() -> Stdin {
    Stdin::Bytes(Vec::new())
}

fn run(args: &[&str], stdin: Stdin) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut pipe = child.stdin.take().unwrap();
    // The command may stop reading early (a payload over the cap): a write that fails because
    // it closed the pipe is expected.
    let writer = std::thread::spawn(move || match stdin {
        Stdin::Bytes(b) => {
            let _ = pipe.write_all(&b);
        }
        Stdin::Stream { prefix, len } => {
            if pipe.write_all(&prefix).is_err() {
                return;
            }
            let chunk = vec![b'x'; 1 << 20];
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len());
                if pipe.write_all(&chunk[..n]).is_err() {
                    return;
                }
                left -= n;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn hook(event: &str, extra: Json) -> Json {
    let mut v = json!({
        "session_id": "cc-0001",
        "transcript_path": "/home/dev/.claude/projects/repo/cc-0001.jsonl",
        "cwd": "/home/dev/repo",
        "permission_mode": "default",
        "hook_event_name": event,
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn pre_tool_use() -> Json {
    hook(
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "cargo test"}, "tool_use_id": "toolu_01"}),
    )
}

/// A PreToolUse payload whose `tool_input` nests arrays `depth` levels deep (the payload itself
/// is one more).
fn nested(depth: usize) -> Vec<u8> {
    let mut v = pre_tool_use();
    v["tool_input"] = json!("HOLE");
    let text = v.to_string().replace(
        "\"HOLE\"",
        &format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
    );
    text.into_bytes()
}

/// A failure that leaves a gap: its input, what stderr and the gap's reason say, and what the
/// gap knows of the event.
struct Case {
    name: &'static str,
    input: fn() -> Stdin,
    reason: &'static str,
    /// `hook_event_name` as the gap records it, when the payload could be read that far.
    event: Option<&'static str>,
    /// The session of the gap.
    session: Option<&'static str>,
    /// Whether the payload was read whole (the gap then has its size and digest).
    whole: bool,
}

fn bytes_of(input: &Stdin) -> &[u8] {
    match input {
        Stdin::Bytes(b) => b,
        Stdin::Stream { .. } => &[],
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "nested 200 deep",
            input: || Stdin::Bytes(nested(199)),
            reason: "the hook payload is nested more than 100 levels deep",
            event: None,
            session: None,
            whole: true,
        },
        Case {
            name: "larger than 64 MiB",
            input: || Stdin::Stream {
                prefix: br#"{"session_id":"cc-0001","hook_event_name":"PreToolUse","tool_input":""#
                    .to_vec(),
                len: CAP + (1 << 20),
            },
            reason: "the hook payload is more than 64 MiB (reading stopped after 67108865 bytes)",
            event: None,
            session: None,
            whole: false,
        },
        Case {
            name: "malformed JSON",
            input: || {
                let mut b = pre_tool_use().to_string().into_bytes();
                b.truncate(b.len() - 1);
                Stdin::Bytes(b)
            },
            reason: "the hook payload is not valid JSON: EOF while parsing an object",
            event: None,
            session: None,
            whole: true,
        },
        Case {
            name: "missing session_id",
            input: || {
                let mut v = pre_tool_use();
                v.as_object_mut().unwrap().remove("session_id");
                Stdin::Bytes(v.to_string().into_bytes())
            },
            reason: "the hook payload has no session_id",
            event: Some("PreToolUse"),
            session: None,
            whole: true,
        },
    ]
}

#[track_caller]
fn expect_failure(out: &Out, code: i32, pieces: &[&str]) {
    assert_eq!(
        out.code, code,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.stdout, "", "nothing on standard output");
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "one line on standard error:\n{}",
        out.stderr
    );
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    for p in pieces {
        assert!(out.stderr.contains(p), "missing {p:?} in\n{}", out.stderr);
    }
}

#[track_caller]
fn expect_gap(gap: &Json, case: &Case, bytes: &[u8]) {
    let p = &gap["payload"];
    assert_eq!(p["source"], "claude-code", "{}: {gap}", case.name);
    assert!(
        p["reason"].as_str().unwrap().starts_with(case.reason),
        "{}: {gap}",
        case.name
    );
    assert_eq!(p["event"].as_str(), case.event, "{}: {gap}", case.name);
    assert_eq!(
        gap["session"].as_str(),
        case.session,
        "{}: {gap}",
        case.name
    );
    if case.whole {
        assert_eq!(p["input_size"], bytes.len(), "{}: {gap}", case.name);
        assert_eq!(
            p["input_digest"],
            content_digest(Suite::Blake3, bytes).to_hex(),
            "{}: {gap}",
            case.name
        );
    } else {
        assert!(p.get("input_size").is_none(), "{}: {gap}", case.name);
        assert!(p.get("input_digest").is_none(), "{}: {gap}", case.name);
    }
    // No record of the event itself was made: only the gap, outside the hook's records.
    assert_eq!(gap["signer_name"], "test harness");
}

#[test]
fn pre_tool_use_payloads_that_cannot_be_recorded_block_and_leave_a_gap() {
    let fx = Fx::new();
    for case in cases() {
        let before = fx.entries().len();
        let input = (case.input)();
        let bytes = bytes_of(&input).to_vec();
        let out = fx.ingest("recorder", &[], input);
        expect_failure(
            &out,
            2,
            &[
                case.reason,
                "was not recorded, so it is blocked",
                "gap recorded as entry",
            ],
        );
        let entries = fx.entries();
        assert_eq!(
            entries.len(),
            before + 1,
            "{}: one entry, the gap",
            case.name
        );
        let gap = entries.last().unwrap();
        assert_eq!(gap["kind"], "gap", "{}", case.name);
        assert!(
            out.stderr
                .contains(&format!("gap recorded as entry {}", gap["seq"])),
            "{}",
            out.stderr
        );
        expect_gap(gap, &case, &bytes);
    }
    assert_eq!(fx.gaps().len(), 4);
    // Gaps are entries like any other: the log verifies.
    let out = run(&["verify", "--log", &display(&fx.log())], no_input());
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_gap_is_in_the_session_the_payload_names() {
    let fx = Fx::new();
    // The session is valid, the hook event is not named: it cannot be determined, so it blocks.
    let mut v = pre_tool_use();
    v.as_object_mut().unwrap().remove("hook_event_name");
    let out = fx.ingest("recorder", &[], Stdin::Bytes(v.to_string().into_bytes()));
    expect_failure(
        &out,
        2,
        &[
            "the hook event was not recorded, so it is blocked: the hook payload has no hook_event_name",
        ],
    );
    let gaps = fx.gaps();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0]["session"], "cc-0001");
    assert!(gaps[0]["payload"].get("event").is_none());
    // The session's trace shows the hole, and so does its run record.
    let l = display(&fx.log());
    let out = run(&["trace", "--log", &l, "--session", "cc-0001"], no_input());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "Not recorded:\n- the hook payload has no hook_event_name (entry {})\n",
            gaps[0]["seq"]
        )),
        "{}",
        out.stdout
    );
    let out = run(
        &[
            "trace",
            "--log",
            &l,
            "--session",
            "cc-0001",
            "--format",
            "json",
        ],
        no_input(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let record: Json = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(record["gaps"][0]["seq"], gaps[0]["seq"]);
    assert_eq!(record["gaps"][0]["source"], "claude-code");
    // A session id that is not valid is not used: the gap is outside any session.
    let mut v = pre_tool_use();
    v["session_id"] = json!("cc\u{7}0001");
    let out = fx.ingest("recorder", &[], Stdin::Bytes(v.to_string().into_bytes()));
    expect_failure(&out, 2, &["session_id is not a valid session id"]);
    let gaps = fx.gaps();
    assert_eq!(gaps.len(), 2);
    assert!(gaps[1]["session"].is_null());
    assert_eq!(gaps[1]["payload"]["event"], "PreToolUse");
}

#[test]
fn a_key_the_log_refuses_blocks_and_records_nothing() {
    let fx = Fx::new();
    let payload = pre_tool_use().to_string().into_bytes();
    let before = fx.entries().len();
    for (key, reason) in [
        ("revoked", "was revoked at entry"),
        ("stranger", "is not registered in this log"),
    ] {
        let out = fx.ingest(key, &[], Stdin::Bytes(payload.clone()));
        expect_failure(
            &out,
            2,
            &[
                "the PreToolUse event was not recorded, so it is blocked",
                reason,
                "(nothing recorded)",
            ],
        );
        // Neither the hook record nor a gap: the key may sign neither.
        assert_eq!(fx.entries().len(), before, "{key}");
        let out = fx.ingest(
            key,
            &["--on-failure", "allow"],
            Stdin::Bytes(payload.clone()),
        );
        expect_failure(&out, 1, &[reason]);
        assert_eq!(fx.entries().len(), before, "{key}");
    }
    assert!(fx.gaps().is_empty());
}

#[test]
fn with_on_failure_allow_the_same_failures_exit_1() {
    let fx = Fx::new();
    for case in cases() {
        let input = (case.input)();
        let bytes = bytes_of(&input).to_vec();
        let out = fx.ingest("recorder", &["--on-failure", "allow"], input);
        expect_failure(&out, 1, &[case.reason, "gap recorded as entry"]);
        assert!(
            !out.stderr.contains("blocked"),
            "{}: {}",
            case.name,
            out.stderr
        );
        expect_gap(fx.gaps().last().unwrap(), &case, &bytes);
    }
    assert_eq!(fx.gaps().len(), 4);
}

#[test]
fn a_stop_that_cannot_be_recorded_never_blocks_by_default() {
    let fx = Fx::new();
    let mut stop = hook("Stop", json!({"stop_hook_active": false}));
    stop.as_object_mut().unwrap().remove("session_id");
    let stop = stop.to_string().into_bytes();
    let out = fx.ingest("recorder", &[], Stdin::Bytes(stop.clone()));
    expect_failure(
        &out,
        1,
        &["the Stop event was not recorded: the hook payload has no session_id"],
    );
    assert!(!out.stderr.contains("blocked"));
    let gaps = fx.gaps();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0]["payload"]["event"], "Stop");
    // Asked to, it blocks.
    let out = fx.ingest("recorder", &["--on-failure", "block"], Stdin::Bytes(stop));
    expect_failure(
        &out,
        2,
        &["the Stop event was not recorded, so it is blocked"],
    );
    // A log that cannot be opened: no gap either, still exit 1.
    let missing = display(&fx.dir.path().join("missing"));
    let k = display(&fx.key("recorder"));
    let valid_stop = hook("Stop", json!({"stop_hook_active": false}));
    let out = run(
        &["ingest", "claude-code", "--log", &missing, "--key", &k],
        Stdin::Bytes(valid_stop.to_string().into_bytes()),
    );
    expect_failure(
        &out,
        1,
        &["missing: no such directory", "(nothing recorded)"],
    );
}

#[test]
fn a_valid_payload_still_records_and_prints_nothing() {
    let fx = Fx::new();
    let before = fx.entries().len();
    // Nested deep, but within the bound.
    let payload = nested(90);
    let out = fx.ingest("recorder", &[], Stdin::Bytes(payload.clone()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "");
    let entries = fx.entries();
    assert_eq!(entries.len(), before + 1);
    let record = entries.last().unwrap();
    assert_eq!(record["kind"], "custom");
    assert_eq!(record["payload"]["type"], "claude-code/pre_tool_use");
    assert_eq!(record["session"], "cc-0001");
    assert_eq!(
        record["payload"]["body"]["payload_digest"],
        content_digest(Suite::Blake3, &payload).to_hex()
    );
    assert!(fx.gaps().is_empty());
}

#[test]
fn a_record_the_log_refuses_leaves_a_gap_in_the_session() {
    let fx = Fx::new();
    // Thousands of short members are each kept inline: the hook record is over the log's
    // payload cap (1 MiB), though the payload is well under 64 MiB.
    let mut v = pre_tool_use();
    for i in 0..6000 {
        v[format!("member_{i}")] = json!("y".repeat(200));
    }
    let payload = v.to_string().into_bytes();
    let out = fx.ingest("recorder", &[], Stdin::Bytes(payload.clone()));
    expect_failure(
        &out,
        2,
        &[
            "the PreToolUse event was not recorded, so it is blocked",
            "is over the log's cap",
            "gap recorded as entry",
        ],
    );
    let gaps = fx.gaps();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0]["session"], "cc-0001");
    assert_eq!(gaps[0]["payload"]["event"], "PreToolUse");
    assert_eq!(gaps[0]["payload"]["input_size"], payload.len());
    assert!(
        fx.entries()
            .iter()
            .all(|e| e["payload"]["type"] != "claude-code/pre_tool_use")
    );
}

#[test]
fn a_typed_event_that_fails_after_the_hook_record_leaves_a_gap_linking_it() {
    let fx = Fx::new();
    // A Read of the working directory itself: its path relative to `cwd` is empty, which
    // `file_read` refuses (SPEC §13.4.3), after the hook record and the tool call were made.
    let payload = hook(
        "PostToolUse",
        json!({"tool_name": "Read", "tool_use_id": "toolu_07",
               "tool_input": {"file_path": "/home/dev/repo/"},
               "tool_response": {"file": {"content": "x"}}}),
    )
    .to_string()
    .into_bytes();
    let out = fx.ingest("recorder", &[], Stdin::Bytes(payload));
    expect_failure(
        &out,
        2,
        &[
            "the PostToolUse event was not recorded, so it is blocked",
            "but a typed event was not recorded: `file_read` field `path`: must not be empty",
        ],
    );
    let entries = fx.entries();
    let record = entries
        .iter()
        .find(|e| e["payload"]["type"] == "claude-code/post_tool_use")
        .expect("the hook record was made");
    let gap = entries.last().unwrap();
    assert_eq!(gap["kind"], "gap");
    assert_eq!(gap["session"], "cc-0001");
    assert_eq!(gap["links"][0]["seq"], record["seq"]);
    assert!(
        gap["payload"]["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("the hook record is entry {}", record["seq"]))
    );
}
