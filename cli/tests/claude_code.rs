//! `sealtrail ingest claude-code` records the whole path of a Claude Code session (SPEC §13.11):
//! what each hook payload becomes — kinds, payload fields, links — and its exit status; a
//! session's goal, changed files, checks and handoff as the trace reads them; and the one-step
//! setup (`init --repo`, `--print-settings`).
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

const ORIGIN: &str = "example.com/claude-code-test";
const CWD: &str = "/home/dev/repo";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_with(cwd: Option<&Path>, env: &[(&str, &Path)], args: &[&str], stdin: &[u8]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealtrail"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary runs");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Out {
    run_with(None, &[], args, b"")
}

#[track_caller]
fn ok(out: &Out) -> &Out {
    assert_eq!(
        out.code, 0,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    out
}

fn d(p: &Path) -> String {
    p.display().to_string()
}

fn digest(bytes: &[u8]) -> String {
    content_digest(Suite::Blake3, bytes).to_hex()
}

/// A log with a recorder ("test harness").
struct Fx {
    dir: TempDir,
}

impl Fx {
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let fx = Fx { dir };
        let owner = SecretKey::generate(ORIGIN).unwrap();
        let recorder = SecretKey::generate("harness").unwrap();
        recorder.save(&fx.key()).unwrap();
        let log = Log::create(&fx.log(), &owner, ORIGIN).unwrap();
        log.register_key(&owner, recorder.key_id(), Role::Recorder, "test harness")
            .unwrap();
        fx
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("recorder.key")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    fn ingest_bytes(&self, extra: &[&str], payload: &[u8]) -> Out {
        let (l, k) = (d(&self.log()), d(&self.key()));
        let mut args = vec!["ingest", "claude-code", "--log", &l, "--key", &k];
        args.extend_from_slice(extra);
        run_with(None, &[], &args, payload)
    }

    /// Ingests each payload, expecting exit 0 and nothing printed.
    #[track_caller]
    fn ingest(&self, extra: &[&str], payloads: &[Json]) {
        for p in payloads {
            let out = self.ingest_bytes(extra, p.to_string().as_bytes());
            assert_eq!(
                (out.code, out.stdout.as_str(), out.stderr.as_str()),
                (0, "", ""),
                "{p}"
            );
        }
    }

    /// Every entry of the log, as `sealtrail show --json` prints it.
    fn entries(&self) -> Vec<Json> {
        let out = run(&["show", "--log", &d(&self.log()), "--json"]);
        ok(&out)
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The entries appended by `f`.
    fn appended(&self, f: impl FnOnce()) -> Vec<Json> {
        let before = self.entries().len();
        f();
        self.entries().split_off(before)
    }

    fn trace(&self, session: &str, extra: &[&str]) -> String {
        let l = d(&self.log());
        let mut args = vec!["trace", "--log", &l, "--session", session];
        args.extend_from_slice(extra);
        ok(&run(&args)).stdout.clone()
    }
}

fn hook(event: &str, extra: Json) -> Json {
    let mut v = json!({
        "session_id": "cc-0001",
        "transcript_path": "/home/dev/.claude/projects/repo/cc-0001.jsonl",
        "cwd": CWD,
        "permission_mode": "default",
        "hook_event_name": event,
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn pre(tool: &str, id: &str, input: &Json) -> Json {
    hook(
        "PreToolUse",
        json!({"tool_name": tool, "tool_use_id": id, "tool_input": input}),
    )
}

fn post(tool: &str, id: &str, input: &Json, response: Json) -> Json {
    hook(
        "PostToolUse",
        json!({"tool_name": tool, "tool_use_id": id, "tool_input": input, "tool_response": response}),
    )
}

fn post_failure(tool: &str, id: &str, input: &Json, error: &str) -> Json {
    hook(
        "PostToolUseFailure",
        json!({"tool_name": tool, "tool_use_id": id, "tool_input": input, "error": error,
               "is_interrupt": false}),
    )
}

fn bash(command: &str) -> Json {
    json!({"command": command, "description": "run it"})
}

/// An entry's kind, with a custom entry's type.
fn kind(e: &Json) -> String {
    match e["kind"].as_str().unwrap() {
        "custom" => e["payload"]["type"].as_str().unwrap().to_owned(),
        k => k.to_owned(),
    }
}

fn kinds(entries: &[Json]) -> Vec<String> {
    entries.iter().map(kind).collect()
}

fn seqs(entry: &Json) -> Vec<u64> {
    entry["links"]
        .as_array()
        .map(|l| l.iter().map(|x| x["seq"].as_u64().unwrap()).collect())
        .unwrap_or_default()
}

fn seq(entry: &Json) -> u64 {
    entry["seq"].as_u64().unwrap()
}

// ---- each hook event -----------------------------------------------------------------------

#[test]
fn session_start_is_kept_as_its_hook_record_alone() {
    let fx = Fx::new();
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[hook(
                "SessionStart",
                json!({"source": "startup", "model": "claude-sonnet-4-5"}),
            )],
        )
    });
    assert_eq!(kinds(&got), ["claude-code/session_start"]);
    let fields = &got[0]["payload"]["body"]["fields"];
    assert_eq!(fields["source"], "startup");
    assert_eq!(fields["model"], "claude-sonnet-4-5");
    assert_eq!(got[0]["session"], "cc-0001");
}

#[test]
fn the_first_prompt_starts_the_session_with_its_text_as_the_goal() {
    let fx = Fx::new();
    let prompt = "  Add XBRL export beside the PDF renderer\nKeep the PDF output as it is.  ";
    let require = [
        "--require",
        "cargo test",
        "--require",
        "e2e",
        "--require",
        "cargo test",
    ];
    let first = fx.appended(|| {
        fx.ingest(
            &require,
            &[hook("UserPromptSubmit", json!({"prompt": prompt}))],
        )
    });
    assert_eq!(
        kinds(&first),
        [
            "claude-code/user_prompt_submit",
            "session_started",
            "context_loaded"
        ]
    );
    let h = seq(&first[0]);
    // The prompt is kept by digest and with its text.
    assert_eq!(
        first[0]["payload"]["body"]["fields"]["prompt"],
        json!({"digest": digest(prompt.as_bytes()), "form": "utf8", "size": prompt.len(),
               "text": prompt})
    );
    assert_eq!(
        first[1]["payload"],
        json!({"agent_name": "claude-code", "objective": prompt.trim(),
               "required_checks": ["cargo test", "e2e"]})
    );
    assert_eq!(seqs(&first[1]), [h]);
    assert_eq!(
        first[2]["payload"],
        json!({"digest": digest(prompt.as_bytes()), "reason": "prompt submitted by the developer",
               "source": "Claude Code user prompt"})
    );
    assert_eq!(seqs(&first[2]), [h]);
    // Later prompts are context; the goal stays the first.
    let second = fx.appended(|| {
        fx.ingest(
            &require,
            &[hook("UserPromptSubmit", json!({"prompt": "now the tests"}))],
        )
    });
    assert_eq!(
        kinds(&second),
        ["claude-code/user_prompt_submit", "context_loaded"]
    );
    let trace = fx.trace("cc-0001", &[]);
    assert!(
        trace.starts_with(
            "Goal: Add XBRL export beside the PDF renderer Keep the PDF output as it is.\n"
        ),
        "{trace}"
    );
}

#[test]
fn with_prompts_digest_no_prompt_text_is_kept() {
    let fx = Fx::new();
    let prompt = "the secret plan for the merger";
    let got = fx.appended(|| {
        fx.ingest(
            &["--prompts", "digest"],
            &[hook("UserPromptSubmit", json!({"prompt": prompt}))],
        )
    });
    assert_eq!(
        kinds(&got),
        [
            "claude-code/user_prompt_submit",
            "session_started",
            "context_loaded"
        ]
    );
    assert_eq!(
        got[0]["payload"]["body"]["fields"]["prompt"],
        json!({"digest": digest(prompt.as_bytes()), "form": "utf8", "size": prompt.len()})
    );
    assert_eq!(
        got[1]["payload"]["objective"],
        format!(
            "the developer's first prompt, kept by digest only (entry {})",
            seq(&got[0])
        )
    );
    let everything = ok(&run(&["show", "--log", &d(&fx.log()), "--json"]))
        .stdout
        .clone();
    assert!(!everything.contains("merger"), "{everything}");
    assert!(!fx.trace("cc-0001", &[]).contains("merger"));
}

#[test]
fn a_bash_command_becomes_a_command_run_and_its_checks() {
    let fx = Fx::new();
    let test = bash("cargo test --workspace");
    let got = fx.appended(|| {
        fx.ingest(
            &["--require", "cargo test"],
            &[
                pre("Bash", "toolu_01", &test),
                post(
                    "Bash",
                    "toolu_01",
                    &test,
                    json!({"stdout": "test result: ok. 12 passed", "stderr": "", "interrupted": false}),
                ),
            ],
        )
    });
    assert_eq!(
        kinds(&got),
        [
            "claude-code/pre_tool_use",
            "claude-code/post_tool_use",
            "tool_call",
            "command_run",
            "verification"
        ]
    );
    let (pre_seq, post_seq) = (seq(&got[0]), seq(&got[1]));
    let call = &got[2];
    assert_eq!(seqs(call), [pre_seq, post_seq]);
    assert_eq!(call["payload"]["name"], "Bash");
    assert_eq!(call["payload"]["outcome"], "ok");
    let ms = call["payload"]["duration_ms"].as_u64().expect("measured");
    let run_ = &got[3];
    assert_eq!(seqs(run_), [seq(call)]);
    assert_eq!(
        run_["payload"],
        json!({"command": "cargo test --workspace", "duration_ms": ms, "exit_code": 0,
               "stdout_digest": digest(b"test result: ok. 12 passed"), "stderr_digest": digest(b"")})
    );
    // The check links its evidence, the command_run.
    assert_eq!(seqs(&got[4]), [seq(run_)]);
    assert_eq!(
        got[4]["payload"],
        json!({"check": "cargo test", "command": "cargo test --workspace", "duration_ms": ms,
               "evidence_digest": digest(b"test result: ok. 12 passed"), "outcome": "pass",
               "requirement": "required"})
    );
}

#[test]
fn a_failed_check_records_its_failure_and_exit_status() {
    let fx = Fx::new();
    let lint = bash("cd /home/dev/repo && cargo clippy -- -D warnings");
    let error = "Command exited with non-zero status code 101\nerror: unused variable";
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[
                pre("Bash", "toolu_02", &lint),
                post_failure("Bash", "toolu_02", &lint, error),
            ],
        )
    });
    assert_eq!(
        kinds(&got),
        [
            "claude-code/pre_tool_use",
            "claude-code/post_tool_use_failure",
            "tool_call",
            "command_run",
            "verification",
            "failure_seen"
        ]
    );
    let (call, run_, check, failure) = (&got[2], &got[3], &got[4], &got[5]);
    assert_eq!(call["payload"]["outcome"], "error");
    assert_eq!(
        call["payload"]["result_digest"],
        digest(error.as_bytes()),
        "the error is the result"
    );
    assert_eq!(run_["payload"]["exit_code"], 101);
    assert_eq!(check["payload"]["check"], "cargo clippy");
    assert_eq!(check["payload"]["outcome"], "fail");
    assert_eq!(check["payload"]["reason"], "exit status 101");
    assert_eq!(check["payload"]["requirement"], "optional");
    assert_eq!(
        check["payload"]["evidence_digest"],
        digest(error.as_bytes())
    );
    assert_eq!(seqs(check), [seq(run_)]);
    assert_eq!(
        failure["payload"],
        json!({"command": "cd /home/dev/repo && cargo clippy -- -D warnings",
               "error": "Command exited with non-zero status code 101"})
    );
    assert_eq!(seqs(failure), [seq(call), seq(run_)]);
}

#[test]
fn a_check_whose_exit_status_is_another_commands_is_not_run_never_passed() {
    let fx = Fx::new();
    let piped = bash("cargo test 2>&1 | tail -20");
    let background = json!({"command": "npm test", "run_in_background": true});
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[
                post(
                    "Bash",
                    "toolu_03",
                    &piped,
                    json!({"stdout": "FAILED", "stderr": ""}),
                ),
                post(
                    "Bash",
                    "toolu_04",
                    &background,
                    json!({"backgroundTaskId": "b1"}),
                ),
                hook(
                    "PostToolUseFailure",
                    json!({"tool_name": "Bash", "tool_use_id": "toolu_05",
                           "tool_input": bash("go test ./..."), "is_interrupt": true}),
                ),
            ],
        )
    });
    let checks: Vec<&Json> = got.iter().filter(|e| e["kind"] == "verification").collect();
    assert_eq!(checks.len(), 3);
    let outcome = |i: usize| {
        (
            checks[i]["payload"]["check"].as_str().unwrap(),
            checks[i]["payload"]["outcome"].as_str().unwrap(),
            checks[i]["payload"]["reason"].as_str().unwrap(),
        )
    };
    assert_eq!(
        outcome(0),
        (
            "cargo test",
            "not_run",
            "result unknown: its output is piped to another command, whose exit status (0) is \
             the command line's"
        )
    );
    assert_eq!(
        outcome(1),
        (
            "npm test",
            "not_run",
            "run in the background: Claude Code does not report its exit status"
        )
    );
    assert_eq!(
        outcome(2),
        ("go test", "not_run", "interrupted before it finished")
    );
    // Neither the background nor the interrupted command claims an exit code.
    let runs: Vec<&Json> = got.iter().filter(|e| e["kind"] == "command_run").collect();
    assert_eq!(runs[0]["payload"]["exit_code"], 0);
    assert!(runs[1]["payload"].get("exit_code").is_none());
    assert!(runs[2]["payload"].get("exit_code").is_none());
    // A command that is no check has no verification.
    let plain = fx.appended(|| {
        fx.ingest(
            &[],
            &[post(
                "Bash",
                "toolu_06",
                &bash("grep -rn 'cargo test' README.md"),
                json!({"stdout": "", "stderr": ""}),
            )],
        )
    });
    assert_eq!(
        kinds(&plain),
        ["claude-code/post_tool_use", "tool_call", "command_run"]
    );
}

#[test]
fn a_post_tool_use_without_its_pre_tool_use_is_still_recorded() {
    let fx = Fx::new();
    let test = bash("pytest -q");
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[post(
                "Bash",
                "toolu_07",
                &test,
                json!({"stdout": "3 passed", "stderr": ""}),
            )],
        )
    });
    assert_eq!(
        kinds(&got),
        [
            "claude-code/post_tool_use",
            "tool_call",
            "command_run",
            "verification"
        ]
    );
    // Only the hook record is linked, and no duration is claimed where none was measured:
    // the command_run says 0 (SPEC §13.11), the others say nothing.
    assert_eq!(seqs(&got[1]), [seq(&got[0])]);
    assert!(got[1]["payload"].get("duration_ms").is_none());
    assert_eq!(got[2]["payload"]["duration_ms"], 0);
    assert_eq!(got[2]["payload"]["exit_code"], 0);
    assert!(got[3]["payload"].get("duration_ms").is_none());
    assert_eq!(got[3]["payload"]["outcome"], "pass");
    assert_eq!(got[3]["payload"]["check"], "pytest");
}

#[test]
fn file_edits_become_patchsets_with_their_paths() {
    let fx = Fx::new();
    let edit = json!({"file_path": format!("{CWD}/src/report/mod.rs"), "old_string": "pdf",
                      "new_string": "pdf;\npub mod xbrl"});
    let edit_response = json!({"filePath": format!("{CWD}/src/report/mod.rs"),
        "oldString": "pdf", "newString": "pdf;\npub mod xbrl", "originalFile": "pub mod pdf;\n",
        "structuredPatch": [{"oldStart": 1, "oldLines": 1, "newStart": 1, "newLines": 2,
                             "lines": ["-pub mod pdf;", "+pub mod pdf;", "+pub mod xbrl;"]}],
        "userModified": false, "replaceAll": false});
    let write = json!({"file_path": format!("{CWD}/src/report/xbrl.rs"),
                       "content": "//! XBRL.\npub fn render() {}\n"});
    let multi = json!({"file_path": format!("{CWD}/Cargo.toml"), "edits": [
        {"old_string": "[dependencies]", "new_string": "[dependencies]\nquick-xml = \"0.37\""}]});
    let multi_response = json!({"filePath": format!("{CWD}/Cargo.toml"), "structuredPatch": [
        {"oldStart": 7, "oldLines": 1, "newStart": 7, "newLines": 2,
         "lines": [" [dependencies]", "+quick-xml = \"0.37\""]}]});
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[
                pre("Edit", "toolu_10", &edit),
                post("Edit", "toolu_10", &edit, edit_response),
                post(
                    "Write",
                    "toolu_11",
                    &write,
                    json!({"type": "create", "filePath": format!("{CWD}/src/report/xbrl.rs"),
                           "content": "//! XBRL.\npub fn render() {}\n", "structuredPatch": []}),
                ),
                post("MultiEdit", "toolu_12", &multi, multi_response),
                // A failed edit changed nothing: no patchset.
                post_failure(
                    "Edit",
                    "toolu_13",
                    &edit,
                    "String to replace not found in file.",
                ),
            ],
        )
    });
    assert_eq!(
        kinds(&got),
        [
            "claude-code/pre_tool_use",
            "claude-code/post_tool_use",
            "tool_call",
            "artifact",
            "claude-code/post_tool_use",
            "tool_call",
            "artifact",
            "claude-code/post_tool_use",
            "tool_call",
            "artifact",
            "claude-code/post_tool_use_failure",
            "tool_call",
            "failure_seen"
        ]
    );
    let diff = |text: &str| {
        json!({"digest": digest(text.as_bytes()), "size": text.len(),
               "media_type": "text/x-diff", "type": "patchset"})
    };
    let expect = [
        (
            3,
            "Edit src/report/mod.rs",
            "src/report/mod.rs",
            diff(
                "--- a/src/report/mod.rs\n+++ b/src/report/mod.rs\n@@ -1,1 +1,2 @@\n\
                 -pub mod pdf;\n+pub mod pdf;\n+pub mod xbrl;\n",
            ),
        ),
        (
            6,
            "Write src/report/xbrl.rs",
            "src/report/xbrl.rs",
            diff(
                "--- /dev/null\n+++ b/src/report/xbrl.rs\n@@ -0,0 +1,2 @@\n\
                 +//! XBRL.\n+pub fn render() {}\n",
            ),
        ),
        (
            9,
            "MultiEdit Cargo.toml",
            "Cargo.toml",
            diff(
                "--- a/Cargo.toml\n+++ b/Cargo.toml\n@@ -7,1 +7,2 @@\n [dependencies]\n\
                 +quick-xml = \"0.37\"\n",
            ),
        ),
    ];
    for (i, name, path, mut want) in expect {
        want["name"] = json!(name);
        want["paths"] = json!([path]);
        assert_eq!(got[i]["payload"], want, "{name}");
        // The patchset is made from the tool call.
        assert_eq!(seqs(&got[i]), [seq(&got[i - 1])], "{name}");
        assert_eq!(got[i - 1]["payload"]["paths"], json!([path]));
    }
    // The trace lists the changed files.
    let trace = fx.trace("cc-0001", &[]);
    assert!(
        trace.contains("\nChanged files: Cargo.toml, src/report/mod.rs, src/report/xbrl.rs\n"),
        "{trace}"
    );
}

#[test]
fn an_edit_reported_without_hunks_is_kept_as_requested() {
    let fx = Fx::new();
    let edit = json!({"file_path": format!("{CWD}/a.rs"), "old_string": "x", "new_string": "y"});
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[post(
                "Edit",
                "toolu_14",
                &edit,
                json!("File edited successfully"),
            )],
        )
    });
    let input = r#"{"file_path":"/home/dev/repo/a.rs","new_string":"y","old_string":"x"}"#;
    assert_eq!(
        got[2]["payload"],
        json!({"digest": digest(input.as_bytes()), "size": input.len(), "type": "patchset",
               "media_type": "application/json", "name": "Edit a.rs", "paths": ["a.rs"]})
    );
}

#[test]
fn reads_and_other_tools_become_tool_calls() {
    let fx = Fx::new();
    let read = json!({"file_path": format!("{CWD}/src/lib.rs")});
    let grep = json!({"pattern": "render", "path": "src"});
    let mcp = json!({"query": "xbrl taxonomy"});
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[
                post(
                    "Read",
                    "toolu_20",
                    &read,
                    json!({"type": "text", "file": {"filePath": format!("{CWD}/src/lib.rs"),
                           "content": "pub mod report;\n"}}),
                ),
                post("Grep", "toolu_21", &grep, json!({"numFiles": 2})),
                post("mcp__docs__search", "toolu_22", &mcp, json!({"hits": 1})),
            ],
        )
    });
    assert_eq!(
        kinds(&got),
        [
            "claude-code/post_tool_use",
            "tool_call",
            "file_read",
            "claude-code/post_tool_use",
            "tool_call",
            "claude-code/post_tool_use",
            "tool_call"
        ]
    );
    assert_eq!(
        got[2]["payload"],
        json!({"path": "src/lib.rs", "digest": digest(b"pub mod report;\n")})
    );
    assert_eq!(seqs(&got[2]), [seq(&got[1])]);
    assert_eq!(
        got[4]["payload"],
        json!({"name": "Grep", "call_id": "toolu_21", "tool_type": "function", "outcome": "ok",
               "arguments_digest": digest(br#"{"path":"src","pattern":"render"}"#),
               "result_digest": digest(br#"{"numFiles":2}"#)})
    );
    assert_eq!(got[6]["payload"]["tool_type"], "extension");
}

#[test]
fn stop_and_session_end_write_the_handoff() {
    let fx = Fx::new();
    let require = ["--require", "cargo test"];
    fx.ingest(
        &require,
        &[hook("UserPromptSubmit", json!({"prompt": "fix the build"}))],
    );
    let stop = fx.appended(|| {
        fx.ingest(
            &require,
            &[hook("Stop", json!({"stop_hook_active": false}))],
        )
    });
    assert_eq!(kinds(&stop), ["claude-code/stop", "handoff"]);
    assert_eq!(seqs(&stop[1]), [seq(&stop[0])]);
    assert_eq!(
        stop[1]["payload"],
        json!({"status": "in_progress",
               "summary": "Claude Code finished its turn and handed back to the developer; \
                           verification status: missing_required_evidence",
               "blockers": ["required check cargo test never ran"],
               "next_action": "run the required checks until they pass: cargo test"})
    );
    let test = bash("cargo test");
    fx.ingest(
        &require,
        &[post(
            "Bash",
            "toolu_30",
            &test,
            json!({"stdout": "ok", "stderr": ""}),
        )],
    );
    let end = fx.appended(|| {
        fx.ingest(
            &require,
            &[hook("SessionEnd", json!({"reason": "prompt_input_exit"}))],
        )
    });
    assert_eq!(
        kinds(&end),
        ["claude-code/session_end", "handoff", "session_ended"]
    );
    assert_eq!(
        end[1]["payload"],
        json!({"status": "ready_for_review",
               "summary": "Claude Code session ended (reason: prompt_input_exit); \
                           verification status: complete"})
    );
    assert_eq!(
        end[2]["payload"],
        json!({"status": "completed",
               "summary": "Claude Code session ended (reason: prompt_input_exit); Claude Code \
                           does not say whether the objective was met"})
    );
    // The trace shows where the work stands now: the latest handoff only.
    let trace = fx.trace("cc-0001", &[]);
    assert_eq!(trace.matches("Handoff:").count(), 1, "{trace}");
    assert!(trace.contains("\nHandoff: ready_for_review\n"), "{trace}");
}

#[test]
fn unknown_hook_events_are_kept_as_their_hook_record() {
    let fx = Fx::new();
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[
                hook("PreCompact", json!({"trigger": "auto"})),
                hook("SubagentStop", json!({"stop_hook_active": false})),
                hook(
                    "Notification",
                    json!({"message": "Claude needs your permission"}),
                ),
                hook("TeammateIdle", json!({"teammate": "docs-writer"})),
            ],
        )
    });
    assert_eq!(
        kinds(&got),
        [
            "claude-code/pre_compact",
            "claude-code/subagent_stop",
            "claude-code/notification",
            "claude-code/teammate_idle"
        ]
    );
    assert_eq!(
        got[3]["payload"]["body"]["fields"]["teammate"],
        "docs-writer"
    );
}

#[test]
fn huge_outputs_and_prompts_are_kept_by_digest_within_bounds() {
    let fx = Fx::new();
    // 8 MiB of test output: the log keeps its digests; the entries stay small.
    let stdout = "test x ... ok\n".repeat(600_000);
    let test = bash("cargo test");
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[post(
                "Bash",
                "toolu_40",
                &test,
                json!({"stdout": stdout, "stderr": "", "interrupted": false}),
            )],
        )
    });
    assert_eq!(
        kinds(&got),
        [
            "claude-code/post_tool_use",
            "tool_call",
            "command_run",
            "verification"
        ]
    );
    assert_eq!(
        got[2]["payload"]["stdout_digest"],
        digest(stdout.as_bytes())
    );
    assert_eq!(
        got[3]["payload"]["evidence_digest"],
        digest(stdout.as_bytes())
    );
    assert!(got.iter().all(|e| e.to_string().len() < 4096));
    // A prompt over 256 KiB: its first 256 KiB kept as text, cut at a character boundary;
    // the goal is its first 1000 characters.
    let prompt = "é".repeat(200_000);
    let got = fx.appended(|| {
        fx.ingest(
            &[],
            &[hook(
                "UserPromptSubmit",
                json!({"prompt": prompt, "session_id": "cc-0002"}),
            )],
        )
    });
    let kept = &got[0]["payload"]["body"]["fields"]["prompt"];
    assert_eq!(kept["size"], 400_000);
    assert_eq!(kept["digest"], digest(prompt.as_bytes()));
    assert_eq!(kept["text"].as_str().unwrap(), "é".repeat(131_072));
    let goal = got[1]["payload"]["objective"].as_str().unwrap();
    assert_eq!(goal.chars().count(), 1000);
    assert!(goal.ends_with("é…"));
}

#[test]
fn malformed_json_blocks_and_leaves_a_gap() {
    let fx = Fx::new();
    let mut payload = pre("Bash", "toolu_50", &bash("ls"))
        .to_string()
        .into_bytes();
    payload.truncate(payload.len() - 1);
    let got = fx.appended(|| {
        let out = fx.ingest_bytes(&[], &payload);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("the hook payload is not valid JSON"),
            "{}",
            out.stderr
        );
    });
    assert_eq!(kinds(&got), ["gap"]);
    assert_eq!(got[0]["payload"]["input_digest"], digest(&payload));
}

#[test]
fn a_check_pattern_that_is_not_a_regular_expression_fails_closed() {
    let fx = Fx::new();
    let payload = post(
        "Bash",
        "toolu_51",
        &bash("cargo test"),
        json!({"stdout": "", "stderr": ""}),
    );
    let got = fx.appended(|| {
        let out = fx.ingest_bytes(
            &["--check-pattern", "e2e=(unclosed"],
            payload.to_string().as_bytes(),
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("--check-pattern e2e: not a valid regular expression"),
            "{}",
            out.stderr
        );
    });
    // What was recorded before the patterns were needed stays, and the gap says what is missing.
    assert_eq!(
        kinds(&got),
        [
            "claude-code/post_tool_use",
            "tool_call",
            "command_run",
            "gap"
        ]
    );
    assert_eq!(seqs(&got[3]), [seq(&got[0])]);
    // A custom check is recognised, and --no-default-checks leaves only it.
    let e2e = bash("npx playwright test && cargo test");
    let got = fx.appended(|| {
        fx.ingest(
            &[
                "--check-pattern",
                "e2e=^npx\\s+playwright\\s+test",
                "--no-default-checks",
            ],
            &[post(
                "Bash",
                "toolu_52",
                &e2e,
                json!({"stdout": "", "stderr": ""}),
            )],
        )
    });
    let checks: Vec<&str> = got
        .iter()
        .filter(|e| e["kind"] == "verification")
        .map(|e| e["payload"]["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["e2e"]);
}

// ---- whole sessions ------------------------------------------------------------------------

/// A session where `cargo test` fails, the agent fixes the code, and it passes.
fn fail_then_pass(fx: &Fx, extra: &[&str]) {
    let test = bash("cargo test");
    let fix = json!({"file_path": format!("{CWD}/src/period.rs"), "old_string": "instant",
                     "new_string": "duration"});
    let fix_response = json!({"filePath": format!("{CWD}/src/period.rs"), "structuredPatch": [
        {"oldStart": 4, "oldLines": 1, "newStart": 4, "newLines": 1,
         "lines": ["-    instant", "+    duration"]}]});
    let write = json!({"file_path": format!("{CWD}/src/xbrl.rs"), "content": "pub fn x() {}\n"});
    fx.ingest(
        extra,
        &[
            hook("SessionStart", json!({"source": "startup"})),
            hook(
                "UserPromptSubmit",
                json!({"prompt": "Add XBRL export beside the PDF renderer"}),
            ),
            pre("Write", "toolu_60", &write),
            post(
                "Write",
                "toolu_60",
                &write,
                json!({"type": "create", "filePath": format!("{CWD}/src/xbrl.rs"),
                       "structuredPatch": []}),
            ),
            pre("Bash", "toolu_61", &test),
            post_failure(
                "Bash",
                "toolu_61",
                &test,
                "Command exited with non-zero status code 101\n3 tests failed",
            ),
            pre("Edit", "toolu_62", &fix),
            post("Edit", "toolu_62", &fix, fix_response),
            pre("Bash", "toolu_63", &test),
            post(
                "Bash",
                "toolu_63",
                &test,
                json!({"stdout": "12 passed", "stderr": "", "interrupted": false}),
            ),
            hook("Stop", json!({"stop_hook_active": false})),
            hook("SessionEnd", json!({"reason": "prompt_input_exit"})),
        ],
    );
}

#[test]
fn a_session_whose_tests_fail_then_pass_is_complete_and_lists_its_changed_files() {
    let fx = Fx::new();
    fail_then_pass(&fx, &["--require", "cargo test"]);
    let trace = fx.trace("cc-0001", &["--evidence", "bundles/cc-0001.bundle"]);
    for line in [
        "Goal: Add XBRL export beside the PDF renderer\n",
        "- cargo test: Command exited with non-zero status code 101 (entry ",
        "\nVerification status: complete\n",
        "\nChanged files: src/period.rs, src/xbrl.rs\n",
        "\nHandoff: ready_for_review\n",
        "\nSealtrail-Session: cc-0001\n",
        "\nSealtrail-Evidence: bundles/cc-0001.bundle\n",
        "\nAssisted-by: claude-code\n",
    ] {
        assert!(trace.contains(line), "missing {line:?} in\n{trace}");
    }
    let verification = trace
        .lines()
        .find(|l| l.starts_with("Verification: "))
        .unwrap();
    assert!(
        verification.starts_with("Verification: cargo test (pass, ")
            && verification.ends_with("; earlier: fail)"),
        "{verification}"
    );
    let record = ok(&run(&[
        "trace",
        "--log",
        &d(&fx.log()),
        "--session",
        "cc-0001",
        "--format",
        "json",
    ]))
    .stdout
    .clone();
    let record: Json = serde_json::from_str(&record).unwrap();
    assert_eq!(record["verification"]["status"], "complete");
    assert_eq!(record["required_checks"], json!(["cargo test"]));
    assert_eq!(
        record["changed_files"],
        json!(["src/period.rs", "src/xbrl.rs"])
    );
    assert_eq!(
        record["objective"],
        "Add XBRL export beside the PDF renderer"
    );
    assert_eq!(record["handoff"]["status"], "ready_for_review");
    ok(&run(&["verify", "--log", &d(&fx.log())]));
}

#[test]
fn a_required_check_that_never_ran_is_missing_required_evidence() {
    let fx = Fx::new();
    fail_then_pass(&fx, &["--require", "cargo test", "--require", "e2e"]);
    let trace = fx.trace("cc-0001", &[]);
    for line in [
        " · e2e (NOT RUN: never reported, required)\n",
        "\nVerification status: missing_required_evidence (missing: e2e)\n",
        "\nHandoff: in_progress; blockers: required check e2e never ran; next: run the \
         required checks until they pass: e2e\n",
    ] {
        assert!(trace.contains(line), "missing {line:?} in\n{trace}");
    }
    // A session with no prompt at all still declares what was required.
    let fx = Fx::new();
    fx.ingest(
        &["--require", "cargo test"],
        &[
            hook("SessionStart", json!({"source": "startup"})),
            hook("Stop", json!({"stop_hook_active": false})),
        ],
    );
    let trace = fx.trace("cc-0001", &[]);
    assert!(
        trace.starts_with("Goal: Claude Code session; no prompt was recorded\n"),
        "{trace}"
    );
    assert!(
        trace.contains("\nVerification status: missing_required_evidence (missing: cargo test)\n"),
        "{trace}"
    );
}

// ---- setup ---------------------------------------------------------------------------------

#[test]
fn print_settings_prints_hooks_that_run_this_binary_on_this_log() {
    let fx = Fx::new();
    // Relative paths, as a user types them in the repository.
    let out = run_with(
        Some(fx.dir.path()),
        &[],
        &[
            "ingest",
            "claude-code",
            "--log",
            "log",
            "--key",
            "recorder.key",
            "--require",
            "cargo test",
            "--prompts",
            "digest",
            "--print-settings",
        ],
        b"",
    );
    let settings: Json = serde_json::from_str(&ok(&out).stdout).expect("valid JSON");
    let hooks = settings["hooks"].as_object().unwrap();
    let mut events: Vec<&str> = hooks.keys().map(String::as_str).collect();
    events.sort();
    assert_eq!(
        events,
        [
            "PermissionRequest",
            "PostToolUse",
            "PostToolUseFailure",
            "PreToolUse",
            "SessionEnd",
            "SessionStart",
            "Stop",
            "UserPromptSubmit"
        ]
    );
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_sealtrail")).unwrap();
    let dir = std::fs::canonicalize(fx.dir.path()).unwrap();
    for (event, groups) in hooks {
        let hook = &groups[0]["hooks"][0];
        assert_eq!(hook["type"], "command");
        let command = hook["command"].as_str().unwrap();
        for piece in [
            d(&exe),
            format!("--log {}", d(&dir.join("log"))),
            format!("--key {}", d(&dir.join("recorder.key"))),
            "--require 'cargo test'".into(),
            "--prompts digest".into(),
        ] {
            assert!(command.contains(&piece), "{event}: {piece:?} in {command}");
        }
        let mode = if ["Stop", "SessionStart", "SessionEnd"].contains(&event.as_str()) {
            "allow"
        } else {
            "block"
        };
        assert!(
            command.ends_with(&format!(" --on-failure {mode}")),
            "{command}"
        );
        assert_eq!(
            groups[0].get("matcher").is_some(),
            event.contains("Tool") || event == "PermissionRequest",
            "{event}"
        );
    }
    // The command runs as Claude Code runs it: through the shell, from anywhere.
    let command = hooks["UserPromptSubmit"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    let mut child = Command::new("sh")
        .args(["-c", command])
        .current_dir("/")
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            hook("UserPromptSubmit", json!({"prompt": "hello"}))
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert!(child.wait().unwrap().success());
    let last = fx.entries();
    assert_eq!(
        kinds(&last[last.len() - 3..]),
        [
            "claude-code/user_prompt_submit",
            "session_started",
            "context_loaded"
        ]
    );
    // A pattern that would fail every Bash hook is refused now.
    let out = run(&[
        "ingest",
        "claude-code",
        "--log",
        "log",
        "--key",
        "k",
        "--check-pattern",
        "x=(",
        "--print-settings",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--check-pattern x"), "{}", out.stderr);
}

fn git_init(dir: &Path) {
    let status = Command::new("git")
        .args(["init", "-q"])
        .arg(dir)
        .status()
        .expect("this test needs git on PATH");
    assert!(status.success());
}

#[test]
fn init_sets_up_a_git_repository_in_one_step() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("billing service");
    std::fs::create_dir(&repo).unwrap();
    git_init(&repo);
    std::fs::write(repo.join(".gitignore"), "target").unwrap();
    let config = tmp.path().join("config");
    let init = |extra: &[&str]| {
        let mut args = vec!["init", "--repo", "."];
        args.extend_from_slice(extra);
        run_with(Some(&repo), &[("XDG_CONFIG_HOME", &config)], &args, b"")
    };
    let out = init(&["--approver", "Dev One"]);
    let text = &ok(&out).stdout;
    // Keys outside the repository, under XDG_CONFIG_HOME, named after it.
    let keys = config.join("sealtrail/billing-service");
    for k in ["owner", "claude-code", "approver"] {
        let key = keys.join(format!("{k}.key"));
        assert!(
            key.is_file() && keys.join(format!("{k}.key.pub")).is_file(),
            "{k}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{k}");
        }
    }
    // The log inside, ignored by git; the note says what to commit.
    let log = std::fs::canonicalize(&repo).unwrap().join(".sealtrail/log");
    assert_eq!(
        std::fs::read_to_string(repo.join(".gitignore")).unwrap(),
        "target\n# sealtrail: the evidence log of agent sessions\n/.sealtrail/\n"
    );
    let ignored = Command::new("git")
        .args(["check-ignore", "-q", ".sealtrail/log"])
        .current_dir(&repo)
        .status()
        .unwrap();
    assert!(ignored.success(), "git ignores the log");
    assert!(
        text.contains("Commit .gitignore. Never commit .sealtrail/ or the keys."),
        "{text}"
    );
    // Both keys are registered with their printed names.
    let out = run(&["keys", "list", "--log", &d(&log), "--json"]);
    let listed: Json = serde_json::from_str(&ok(&out).stdout).unwrap();
    let names: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["role"].as_str().unwrap(), k["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("owner", "sealtrail.local/billing-service"),
            ("recorder", "Claude Code harness"),
            ("approver", "Dev One")
        ]
    );
    // The printed next step runs, and the hooks it prints record into the new log.
    let print = text
        .lines()
        .map(str::trim)
        .find(|l| l.ends_with("--print-settings"))
        .expect("the print-settings command");
    let out = Command::new("sh").args(["-c", print]).output().unwrap();
    assert!(out.status.success());
    let settings: Json = serde_json::from_slice(&out.stdout).unwrap();
    let command = settings["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut child = Command::new("sh")
        .args(["-c", &command])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            hook("UserPromptSubmit", json!({"prompt": "hi"}))
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert!(child.wait().unwrap().success());
    ok(&run(&["verify", "--log", &d(&log)]));
    // Run again: refused before anything is touched, the keys and the log as they were.
    let owner_before = std::fs::read(keys.join("owner.key")).unwrap();
    let out = init(&[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains("owner.key: already exists") && out.stderr.contains("give --keys DIR"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(keys.join("owner.key")).unwrap(), owner_before);
    // With new keys elsewhere, the existing log is still refused, and no key is made.
    let elsewhere = tmp.path().join("other-keys");
    let out = init(&["--keys", &d(&elsewhere)]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("exists and is not empty"),
        "{}",
        out.stderr
    );
    assert!(!elsewhere.join("owner.key").exists());
    // Not a git repository: nothing is made.
    let plain = tmp.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let out = run_with(
        Some(&plain),
        &[("XDG_CONFIG_HOME", &config)],
        &["init", "--repo", "."],
        b"",
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("not the top of a git repository"),
        "{}",
        out.stderr
    );
    assert!(!config.join("sealtrail/plain").exists());
}

/// A hook started in the background, its payload written and its standard input closed.
fn spawn_hook(fx: &Fx, extra: &[&str], payload: &Json) -> std::process::Child {
    let (l, k) = (d(&fx.log()), d(&fx.key()));
    let mut args = vec![
        "ingest",
        "claude-code",
        "--log",
        &l,
        "--key",
        &k,
        "--wait",
        "60",
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.to_string().as_bytes())
        .unwrap();
    child
}

fn finished(child: std::process::Child) -> Out {
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The names in the log's spool directory ending in `.ext`.
fn spooled(fx: &Fx, ext: &str) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(fx.log().join("spool")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(&format!(".{ext}")))
        .collect();
    names.sort();
    names
}

/// Waits (for at most a minute: a hang, not a timing) until `f` holds.
#[track_caller]
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn signal(child: &std::process::Child, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig}");
}

fn sessions(fx: &Fx) -> Vec<String> {
    fx.entries()
        .iter()
        .filter_map(|e| e["session"].as_str().map(str::to_owned))
        .collect()
}

fn notification(session: &str) -> Json {
    hook(
        "Notification",
        json!({"session_id": session, "message": "waiting for input"}),
    )
}

#[test]
fn a_hook_that_finds_the_log_held_hands_its_event_to_the_holder() {
    let fx = Fx::new();
    let held = Log::open(&fx.log()).unwrap();
    // B hands its event over, then stops: only another process can record it now.
    let b = spawn_hook(&fx, &[], &notification("cc-b"));
    eventually("B's request", || spooled(&fx, "req").len() == 1);
    signal(&b, "STOP");
    let a = spawn_hook(&fx, &[], &notification("cc-a"));
    eventually("A's request", || spooled(&fx, "req").len() == 2);
    drop(held);
    // A takes the log, records its own event and B's, and answers B.
    let out = finished(a);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "A");
    let s = sessions(&fx);
    assert!(
        s.iter().any(|x| x == "cc-a") && s.iter().any(|x| x == "cc-b"),
        "{s:?}"
    );
    assert_eq!(spooled(&fx, "res").len(), 1, "B's answer waits for it");
    assert!(spooled(&fx, "req").is_empty() && spooled(&fx, "work").is_empty());
    signal(&b, "CONT");
    let out = finished(b);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "B");
    assert!(
        spooled(&fx, "res").is_empty(),
        "B read its answer and removed it"
    );
    assert_eq!(sessions(&fx).iter().filter(|x| *x == "cc-b").count(), 1);
}

#[test]
fn a_request_with_other_recording_options_is_left_for_its_own_hook() {
    let fx = Fx::new();
    let held = Log::open(&fx.log()).unwrap();
    let b = spawn_hook(&fx, &["--prompts", "digest"], &notification("cc-b"));
    eventually("B's request", || spooled(&fx, "req").len() == 1);
    signal(&b, "STOP");
    let a = spawn_hook(&fx, &[], &notification("cc-a"));
    eventually("A's request", || spooled(&fx, "req").len() == 2);
    drop(held);
    let out = finished(a);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "A");
    assert!(
        !sessions(&fx).iter().any(|x| x == "cc-b"),
        "not recorded by A"
    );
    assert_eq!(spooled(&fx, "req").len(), 1, "B's request is given back");
    signal(&b, "CONT");
    let out = finished(b);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "B");
    assert!(sessions(&fx).iter().any(|x| x == "cc-b"));
    assert!(spooled(&fx, "req").is_empty());
}

#[test]
fn a_request_claimed_by_a_holder_that_died_is_recorded_as_a_gap() {
    let fx = Fx::new();
    let held = Log::open(&fx.log()).unwrap();
    let b = spawn_hook(&fx, &[], &notification("cc-b"));
    eventually("B's request", || spooled(&fx, "req").len() == 1);
    signal(&b, "STOP");
    // A holder claims it, and dies before answering.
    let req = fx.log().join("spool").join(&spooled(&fx, "req")[0]);
    std::fs::rename(&req, req.with_extension("work")).unwrap();
    drop(held);
    signal(&b, "CONT");
    let out = finished(b);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("ended before confirming"),
        "{}",
        out.stderr
    );
    let entries = fx.entries();
    let last = entries.last().unwrap();
    assert_eq!(kind(last), "gap");
    assert!(
        last["payload"]["reason"]
            .as_str()
            .unwrap()
            .contains("ended before confirming"),
        "{last}"
    );
    assert!(spooled(&fx, "work").is_empty());
}
