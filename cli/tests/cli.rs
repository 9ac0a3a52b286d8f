//! The `sealtrail` binary, run as a user runs it: exit codes, outputs, and error texts that name
//! the file, line and field at fault.

#![cfg(feature = "sled")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sealtrail::event::content_digest;
use sealtrail::registry::Role;
use sealtrail::store::{DirStore, Store};
use sealtrail::{Log, SecretKey, Suite};
use serde_json::{Value as Json, json};
use tempfile::TempDir;

const ORIGIN: &str = "example.com/cli-test";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json_lines(&self) -> Vec<Json> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

fn run_in(dir: Option<&Path>, args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealtrail"));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().expect("the binary runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str], stdin: Option<&str>) -> Out {
    run_in(None, args, stdin)
}

#[track_caller]
fn expect(out: &Out, code: i32, pieces: &[&str]) {
    assert_eq!(
        out.code, code,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let all = format!("{}{}", out.stdout, out.stderr);
    for p in pieces {
        assert!(all.contains(p), "missing {p:?} in\n{all}");
    }
}

/// A log with an owner, a recorder ("test harness") and an approver ("Release Approver"),
/// made with the library so that each test starts fast.
struct Fx {
    dir: TempDir,
}

impl Fx {
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        let owner = SecretKey::generate(ORIGIN).unwrap();
        let recorder = SecretKey::generate("harness").unwrap();
        let approver = SecretKey::generate("Release-Approver").unwrap();
        let fx = Fx { dir };
        owner.save(&fx.key("owner")).unwrap();
        recorder.save(&fx.key("recorder")).unwrap();
        approver.save(&fx.key("approver")).unwrap();
        let log = Log::create(&fx.log(), &owner, ORIGIN).unwrap();
        log.register_key(&owner, recorder.key_id(), Role::Recorder, "test harness")
            .unwrap();
        log.register_key(
            &owner,
            approver.key_id(),
            Role::Approver,
            "Release Approver",
        )
        .unwrap();
        fx
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn key(&self, role: &str) -> PathBuf {
        self.path(&format!("keys/{role}.key"))
    }

    fn k(&self, role: &str) -> String {
        self.key(role).display().to_string()
    }

    fn log(&self) -> PathBuf {
        self.path("log")
    }

    fn l(&self) -> String {
        self.log().display().to_string()
    }

    fn append(&self, lines: &str, extra: &[&str]) -> Out {
        let (l, k) = (self.l(), self.k("recorder"));
        let mut args = vec!["append", "--log", &l, "--key", &k];
        args.extend_from_slice(extra);
        run(&args, Some(lines))
    }

    fn show(&self, extra: &[&str]) -> Vec<Json> {
        let l = self.l();
        let mut args = vec!["show", "--log", &l, "--json"];
        args.extend_from_slice(extra);
        let out = run(&args, None);
        expect(&out, 0, &[]);
        out.json_lines()
    }

    fn ingest(&self, payload: &Json) -> Out {
        run(
            &[
                "ingest",
                "claude-code",
                "--log",
                &self.l(),
                "--key",
                &self.k("recorder"),
            ],
            Some(&payload.to_string()),
        )
    }
}

const SESSION_START: &str =
    r#"{"kind":"session_started","objective":"add XBRL export","agent_name":"xbrl-agent"}"#;
const TESTS_PASS: &str =
    r#"{"kind":"command_run","command":"cargo test","exit_code":0,"duration_ms":41000}"#;

#[test]
fn every_command_has_help() {
    for cmd in [
        &["--help"][..],
        &["keygen", "--help"],
        &["init", "--help"],
        &["keys", "--help"],
        &["keys", "add", "--help"],
        &["keys", "revoke", "--help"],
        &["keys", "list", "--help"],
        &["append", "--help"],
        &["approve", "--help"],
        &["show", "--help"],
        &["trace", "--help"],
        &["why", "--help"],
        &["verify", "--help"],
        &["ingest", "--help"],
        &["ingest", "claude-code", "--help"],
        &["demo", "--help"],
        &["checkpoint", "--help"],
        &["export", "--help"],
        &["prove", "--help"],
    ] {
        let out = run(cmd, None);
        expect(&out, 0, &["Usage: sealtrail"]);
        assert!(out.stdout.len() > 200, "{cmd:?}: {}", out.stdout);
    }
    // A usage error is exit 2.
    expect(
        &run(&["append", "--log"], None),
        2,
        &["a value is required for '--log"],
    );
}

#[test]
fn keygen_writes_a_secret_and_a_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = Some(dir.path());
    let out = run_in(
        d,
        &[
            "keygen",
            "--out",
            "keys/approver.key",
            "--name",
            "Release  Approver",
        ],
        None,
    );
    expect(
        &out,
        0,
        &[
            "key name: Release-Approver",
            "--name \"Release  Approver\"",
            "keys add",
        ],
    );
    let secret = dir.path().join("keys/approver.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = SecretKey::load(&secret).unwrap();
    assert!(key.warnings.is_empty());
    assert_eq!(key.key.name(), "Release-Approver");
    let public = sealtrail::keys::read_public_key(
        dir.path().join("keys/approver.key.pub").to_str().unwrap(),
    )
    .unwrap();
    assert_eq!(public.key_id(), key.key.key_id());

    // Without --name, the key is named after the file.
    let out = run_in(d, &["keygen", "--out", "owner.key", "--json"], None);
    expect(&out, 0, &[]);
    let v = &out.json_lines()[0];
    assert_eq!(v["key_name"], "owner");
    assert_eq!(v["public_key_file"], "owner.key.pub");
    assert!(v["vkey"].as_str().unwrap().starts_with("owner+"));

    // Never overwrites.
    let out = run_in(d, &["keygen", "--out", "owner.key"], None);
    expect(
        &out,
        2,
        &["owner.key: already exists; not overwriting a key"],
    );
}

#[test]
fn init_creates_a_log_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = Some(dir.path());
    expect(&run_in(d, &["keygen", "--out", "owner.key"], None), 0, &[]);
    let out = run_in(
        d,
        &[
            "init",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--origin",
            ORIGIN,
            "--suite",
            "sha256",
            "--json",
        ],
        None,
    );
    expect(&out, 0, &[]);
    let v = &out.json_lines()[0];
    assert_eq!(v["origin"], ORIGIN);
    assert_eq!(v["suite"], "sha256");
    let out = run_in(
        d,
        &["init", "--log", "log", "--owner-key", "owner.key"],
        None,
    );
    expect(&out, 2, &["log: exists and is not empty"]);
    // The default origin is the owner key's name.
    let out = run_in(
        d,
        &["init", "--log", "log2", "--owner-key", "owner.key"],
        None,
    );
    expect(&out, 0, &["origin:    owner", "suite:     blake3"]);
    let out = run_in(
        d,
        &[
            "init",
            "--log",
            "log3",
            "--owner-key",
            "owner.key",
            "--origin",
            "has space",
        ],
        None,
    );
    expect(&out, 2, &["origin \"has space\""]);
    let out = run_in(
        d,
        &["init", "--log", "log4", "--owner-key", "nope.key"],
        None,
    );
    expect(
        &out,
        2,
        &["nope.key: cannot read the secret key file", "No such file"],
    );
    assert!(!dir.path().join("log4").exists());
}

#[test]
fn keys_are_added_revoked_and_listed() {
    let fx = Fx::new();
    let (l, owner) = (fx.l(), fx.k("owner"));
    let d = Some(fx.dir.path());
    expect(
        &run_in(d, &["keygen", "--out", "keys/witness.key"], None),
        0,
        &[],
    );
    expect(
        &run_in(d, &["keygen", "--out", "keys/second.key"], None),
        0,
        &[],
    );
    let witness = fx.path("keys/witness.key.pub").display().to_string();
    let second = fx.path("keys/second.key.pub").display().to_string();
    let add = |pub_: &str, role: &str, extra: &[&str]| {
        let mut args = vec![
            "keys",
            "add",
            "--log",
            &l,
            "--owner-key",
            &owner,
            "--pub",
            pub_,
            "--role",
            role,
        ];
        args.extend_from_slice(extra);
        run(&args, None)
    };
    // The printed name of a witness defaults to its key name.
    expect(
        &add(&witness, "witness", &[]),
        0,
        &["entry 2: registered key", "as witness \"witness\""],
    );
    // An approver needs a printed name.
    expect(
        &add(&second, "approver", &[]),
        2,
        &["--name is required with --role approver"],
    );
    let out = add(
        &second,
        "approver",
        &["--name", "Second Reviewer", "--json"],
    );
    expect(&out, 0, &[]);
    assert_eq!(out.json_lines()[0]["name"], "Second Reviewer");
    assert_eq!(out.json_lines()[0]["seq"], 3);
    // Keys are bound once, never re-bound: exit 1, the log refused the record.
    expect(
        &add(&second, "approver", &["--name", "Another Name"]),
        1,
        &["is already registered in this log"],
    );
    // Only an owner key manages keys.
    let recorder = fx.k("recorder");
    let out = run(
        &[
            "keys",
            "add",
            "--log",
            &l,
            "--owner-key",
            &recorder,
            "--pub",
            &second,
            "--role",
            "recorder",
        ],
        None,
    );
    expect(
        &out,
        1,
        &[
            "keys/recorder.key: key",
            "has role recorder, which may not sign `key_register` entries",
        ],
    );
    let out = run(
        &[
            "keys",
            "revoke",
            "--log",
            &l,
            "--owner-key",
            &owner,
            "--pub",
            &witness,
            "--reason",
            "retired",
        ],
        None,
    );
    expect(&out, 0, &["entry 4: revoked key", "retired"]);
    let out = run(&["keys", "list", "--log", &l, "--json"], None);
    expect(&out, 0, &[]);
    let keys = out.json_lines().remove(0);
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 5);
    let second_id = keys
        .iter()
        .find(|k| k["name"] == "Second Reviewer")
        .unwrap()["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        keys.iter()
            .any(|k| k["role"] == "witness" && k["revoked_at"] == 4)
    );
    let out = run(
        &[
            "keys",
            "revoke",
            "--log",
            &l,
            "--owner-key",
            &owner,
            "--key-id",
            &second_id,
        ],
        None,
    );
    expect(&out, 0, &["entry 5: revoked key"]);
    let out = run(&["keys", "list", "--log", &l], None);
    expect(
        &out,
        0,
        &["Release Approver", "revoked at entry 5", "descriptor"],
    );
}

#[test]
fn append_prints_a_receipt_per_event() {
    let fx = Fx::new();
    let input = format!(
        "{SESSION_START}\n\n{TESTS_PASS}\n{}\n",
        r#"{"kind":"decision","question":"which XML writer?","chosen":"quick-xml","rationale":"typed","links":[2, 3],"rejected":[{"option":"strings","reason":"escaping"}]}"#
    );
    let out = fx.append(&input, &["--session", "s-1", "--json"]);
    expect(&out, 0, &[]);
    let receipts = out.json_lines();
    assert_eq!(receipts.len(), 3);
    assert_eq!(receipts[0]["seq"], 2);
    assert_eq!(receipts[2]["line"], 4);
    assert_eq!(receipts[2]["kind"], "decision");
    for r in &receipts {
        assert_eq!(r["entry_hash"].as_str().unwrap().len(), 64);
    }
    let entries = fx.show(&["--session", "s-1"]);
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1]["payload"]["command"], "cargo test");
    assert_eq!(entries[1]["payload"]["duration_ms"], 41000);
    assert_eq!(entries[1]["entry_hash"], receipts[1]["entry_hash"]);
    let links = &entries[2]["links"];
    assert_eq!(links[0]["seq"], 2);
    assert_eq!(links[1]["hash"], receipts[1]["entry_hash"]);
    assert_eq!(entries[2]["signer_name"], "test harness");

    // Text receipts.
    let out = fx.append(TESTS_PASS, &[]);
    expect(&out, 0, &["entry 5 command_run "]);
}

#[test]
fn a_malformed_line_stops_the_input_there() {
    let fx = Fx::new();
    let input = format!("{SESSION_START}\n{{\"kind\": \"command_run\",\n{TESTS_PASS}\n");
    let out = fx.append(&input, &["--session", "s-1"]);
    expect(
        &out,
        1,
        &["stdin:2: not valid JSON", "entry 2 session_started"],
    );
    // Line 1 was appended; nothing after line 2 was.
    assert_eq!(fx.show(&[]).len(), 3);
}

#[test]
fn an_unknown_event_kind_is_refused() {
    let fx = Fx::new();
    let out = fx.append(
        &format!("{TESTS_PASS}\n{{\"kind\":\"launch\",\"rocket\":1}}\n"),
        &[],
    );
    expect(
        &out,
        1,
        &[
            "stdin:2: field kind: unknown event kind \"launch\"",
            "command_run",
        ],
    );
}

#[test]
fn a_missing_field_and_a_wrong_type_are_named() {
    let fx = Fx::new();
    let out = fx.append(r#"{"kind":"command_run","command":"cargo test"}"#, &[]);
    expect(&out, 1, &["stdin:1: field duration_ms: missing"]);
    let out = fx.append(
        r#"{"kind":"command_run","command":"cargo test","exit_code":"0","duration_ms":1}"#,
        &[],
    );
    expect(&out, 1, &["stdin:1: field exit_code: expected an integer"]);
    let out = fx.append(
        r#"{"kind":"decision","question":"q","chosen":"a","rationale":"r","rejected":[{"option":"b"}]}"#,
        &[],
    );
    expect(&out, 1, &["stdin:1: field rejected[0].reason: missing"]);
    let out = fx.append(
        r#"{"kind":"file_read","path":"a.rs","digest":"xyz","size":1}"#,
        &[],
    );
    expect(
        &out,
        1,
        &["stdin:1: field size: `file_read` has no such field"],
    );
    // From a file, the file is named.
    let file = fx.path("events.jsonl");
    std::fs::write(
        &file,
        format!("{TESTS_PASS}\n{{\"kind\":\"assumption\"}}\n"),
    )
    .unwrap();
    let out = fx.append("", &["--file", file.to_str().unwrap()]);
    expect(&out, 1, &["events.jsonl:2: field statement: missing"]);
    assert_eq!(fx.show(&["--kind", "command_run"]).len(), 1);
}

#[test]
fn keys_may_sign_only_what_their_role_allows() {
    let fx = Fx::new();
    let l = fx.l();
    // An approver key cannot record session events.
    let approver = fx.k("approver");
    let out = run(
        &["append", "--log", &l, "--key", &approver],
        Some(TESTS_PASS),
    );
    expect(
        &out,
        1,
        &[
            "stdin:1: ",
            "keys/approver.key: key",
            "has role approver, which may not sign `command_run` entries",
        ],
    );
    // A recorder key cannot approve.
    fx.append(TESTS_PASS, &[]);
    let recorder = fx.k("recorder");
    let out = run(
        &[
            "approve",
            "--log",
            &l,
            "--key",
            &recorder,
            "--gate",
            "merge",
            "--meaning",
            "approval",
            "--entry",
            "2",
        ],
        None,
    );
    expect(
        &out,
        1,
        &[
            "keys/recorder.key: key",
            "has role recorder, which may not sign `approval` entries",
        ],
    );
    // A key the log does not know.
    let d = Some(fx.dir.path());
    expect(
        &run_in(d, &["keygen", "--out", "stranger.key"], None),
        0,
        &[],
    );
    let stranger = fx.path("stranger.key").display().to_string();
    let out = run(
        &["append", "--log", &l, "--key", &stranger],
        Some(TESTS_PASS),
    );
    expect(
        &out,
        1,
        &["stranger.key: key", "is not registered in the log"],
    );
}

#[test]
fn approvals_show_printed_name_time_and_meaning() {
    let fx = Fx::new();
    fx.append(
        &format!("{SESSION_START}\n{TESTS_PASS}\n"),
        &["--session", "s-1"],
    );
    let (l, approver) = (fx.l(), fx.k("approver"));
    let out = run(
        &[
            "approve",
            "--log",
            &l,
            "--key",
            &approver,
            "--gate",
            "file_write",
            "--meaning",
            "approval",
            "--entry",
            "3",
            "2",
            "--comment",
            "checked the diff",
        ],
        None,
    );
    expect(
        &out,
        0,
        &[
            "entry 4: file_write approved by Release Approver (approval) at ",
            "entries: 2, 3",
            "comment: checked the diff",
        ],
    );
    let digest = "ab".repeat(32);
    let out = run(
        &[
            "approve",
            "--log",
            &l,
            "--key",
            &approver,
            "--gate",
            "example.com/deploy",
            "--meaning",
            "responsibility",
            "--reject",
            "--artifact",
            &digest,
            "--json",
        ],
        None,
    );
    expect(&out, 0, &[]);
    let v = &out.json_lines()[0];
    assert_eq!(v["printed_name"], "Release Approver");
    assert_eq!(v["meaning"], "responsibility");
    assert_eq!(v["decision"], "reject");
    assert_eq!(v["artifacts"][0], digest);
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    // The approval of session entries lands in their session.
    let approvals = fx.show(&["--kind", "approval"]);
    assert_eq!(approvals[0]["session"], "s-1");
    assert_eq!(approvals[1]["session"], Json::Null);

    let out = run(
        &[
            "approve",
            "--log",
            &l,
            "--key",
            &approver,
            "--gate",
            "merge",
            "--meaning",
            "review",
            "--entry",
            "99",
        ],
        None,
    );
    expect(&out, 1, &["--entry 99: no entry 99 in the log"]);
    let out = run(
        &[
            "approve",
            "--log",
            &l,
            "--key",
            &approver,
            "--gate",
            "Deploy",
            "--meaning",
            "review",
            "--entry",
            "2",
        ],
        None,
    );
    expect(&out, 2, &["--gate: invalid namespaced name \"Deploy\""]);
    let out = run(
        &[
            "approve",
            "--log",
            &l,
            "--key",
            &approver,
            "--gate",
            "merge",
            "--meaning",
            "review",
        ],
        None,
    );
    expect(&out, 2, &["--entry <SEQ>"]);
}

#[test]
fn show_trace_and_why_read_the_log_back() {
    let fx = Fx::new();
    let input = [
        SESSION_START,
        r#"{"kind":"file_read","path":"src/report/mod.rs","digest":{"text":"pub mod pdf;"}}"#,
        r#"{"kind":"decision","question":"which XML writer?","chosen":"quick-xml","rationale":"typed model","links":[2,3]}"#,
        r#"{"kind":"artifact","type":"patchset","digest":{"text":"diff"},"size":4,"paths":["src/report/xbrl.rs"],"links":[4]}"#,
        TESTS_PASS,
        r#"{"kind":"verification","check":"cargo test","outcome":"pass","requirement":"required","links":[6]}"#,
    ]
    .join("\n");
    expect(&fx.append(&input, &["--session", "s-1"]), 0, &[]);
    expect(&fx.append(TESTS_PASS, &["--session", "s-2"]), 0, &[]);

    let read = fx.show(&["--kind", "file_read"]);
    assert_eq!(read.len(), 1);
    assert_eq!(
        read[0]["payload"]["digest"],
        content_digest(Suite::Blake3, b"pub mod pdf;").to_hex()
    );
    assert_eq!(fx.show(&["--from", "3", "--to", "4"]).len(), 2);
    assert_eq!(fx.show(&["--session", "s-2"]).len(), 1);
    let l = fx.l();
    let out = run(&["show", "--log", &l, "--session", "s-1"], None);
    expect(
        &out,
        0,
        &[
            "decision        test harness: which XML writer? → chose quick-xml",
            "     7  ",
        ],
    );

    let out = run(&["why", "--log", &l, "--seq", "4"], None);
    expect(
        &out,
        0,
        &[
            "entry 4: decision, signed by test harness",
            "entry 2     session_started (direct link)",
            "entry 3     file_read       (direct link) src/report/mod.rs",
            "entry 5     artifact        (direct link) patchset",
        ],
    );
    let out = run(&["why", "--log", &l, "--seq", "4", "--json"], None);
    expect(&out, 0, &[]);
    let v = &out.json_lines()[0];
    assert_eq!(v["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(v["downstream"][0]["seq"], 5);
    expect(
        &run(&["why", "--log", &l, "--seq", "99"], None),
        2,
        &["--seq 99: no entry 99 in the log"],
    );

    let out = run(&["trace", "--log", &l, "--session", "s-1"], None);
    expect(
        &out,
        0,
        &[
            "Goal: add XBRL export",
            "1. which XML writer? — chose quick-xml because typed model (entry 4; informed by entries 2, 3)",
            "Changed files: src/report/xbrl.rs",
            "Sealtrail-Session: s-1",
        ],
    );
    let record = fx.path("run.json");
    let out = run(
        &[
            "trace",
            "--log",
            &l,
            "--session",
            "s-1",
            "--format",
            "json",
            "--out",
            record.to_str().unwrap(),
        ],
        None,
    );
    expect(&out, 0, &["wrote "]);
    let v: Json = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(v["format"], "sealtrail/run-record/v1");
    assert_eq!(v["run_id"], "s-1");
    expect(
        &run(&["trace", "--log", &l, "--session", "nope"], None),
        2,
        &["no entries in session \"nope\""],
    );
}

fn entry_key(seq: u64) -> Vec<u8> {
    let mut k = vec![0x01];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

#[test]
fn verify_reports_what_was_proven_or_the_entry_at_fault() {
    let fx = Fx::new();
    fx.append(
        &format!("{SESSION_START}\n{TESTS_PASS}\n{TESTS_PASS}\n"),
        &[],
    );
    let l = fx.l();
    let out = run(&["verify", "--log", &l], None);
    expect(
        &out,
        0,
        &[
            "verdict:     VALID",
            "entries:     5 (sequence 0..=4)",
            "proven:",
        ],
    );
    let out = run(&["verify", "--log", &l, "--json"], None);
    expect(&out, 0, &[]);
    sealtrail_testkit::report_schema::assert_report_schema(&out.json_lines()[0]);
    assert_eq!(out.json_lines()[0]["verdict"], "valid");

    // A flipped byte in the middle of the log: it opens, and verification names the entry.
    {
        let store = DirStore::open(&fx.log()).unwrap();
        let mut v = store.get(&entry_key(3)).unwrap().unwrap();
        let n = v.len();
        v[n - 1] ^= 0x01;
        store.put(&entry_key(3), &v).unwrap();
        store.flush().unwrap();
    }
    let out = run(&["verify", "--log", &l], None);
    expect(&out, 1, &["verdict:     INVALID", "entry 3 ["]);
    let out = run(&["verify", "--log", &l, "--json"], None);
    expect(&out, 1, &[]);
    let v = &out.json_lines()[0];
    sealtrail_testkit::report_schema::assert_report_schema(v);
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["findings"][0]["seq"], 3);

    // The last entry destroyed: the log no longer opens for appends, and verify (which never
    // opens it for appends) still examines it as stored.
    {
        let store = DirStore::open(&fx.log()).unwrap();
        store.put(&entry_key(4), b"\x00garbage").unwrap();
        store.flush().unwrap();
    }
    let out = run(&["verify", "--log", &l], None);
    expect(&out, 1, &["verdict:     INVALID", "entry 3 ["]);
    // Appending to it is refused, naming the entry.
    expect(
        &fx.append(TESTS_PASS, &[]),
        1,
        &["the log is damaged at entry 4"],
    );
}

#[test]
fn a_missing_or_foreign_log_directory_is_a_usage_error() {
    let fx = Fx::new();
    let missing = fx.path("nowhere").display().to_string();
    let recorder = fx.k("recorder");
    for args in [
        vec!["verify", "--log", &missing],
        vec!["show", "--log", &missing],
        vec!["append", "--log", &missing, "--key", &recorder],
    ] {
        expect(
            &run(&args, Some("")),
            2,
            &["nowhere: no such directory", "sealtrail init"],
        );
    }
    // A directory that is not a log is left as it was.
    let other = fx.path("keys").display().to_string();
    expect(
        &run(&["verify", "--log", &other], None),
        2,
        &["keys: not a sealtrail log"],
    );
    assert!(!fx.path("keys/sled").exists());
}

#[test]
fn key_files_that_cannot_be_used_are_named() {
    let fx = Fx::new();
    let l = fx.l();
    let missing = fx.path("keys/missing.key").display().to_string();
    expect(
        &run(
            &["append", "--log", &l, "--key", &missing],
            Some(TESTS_PASS),
        ),
        2,
        &["keys/missing.key: cannot read the secret key file"],
    );
    // A directory is not a key file (and root can read any file, so no chmod 000 here).
    let dir = fx.path("keys").display().to_string();
    expect(
        &run(&["append", "--log", &l, "--key", &dir], Some(TESTS_PASS)),
        2,
        &["keys: cannot read the secret key file"],
    );
    let garbage = fx.path("keys/garbage.key");
    std::fs::write(&garbage, "not a key\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    expect(
        &run(
            &["append", "--log", &l, "--key", garbage.to_str().unwrap()],
            Some(TESTS_PASS),
        ),
        2,
        &["keys/garbage.key: malformed secret key", "PRIVATE+KEY+"],
    );
    let public = fx.path("keys/garbage.key").display().to_string();
    let owner = fx.k("owner");
    expect(
        &run(
            &[
                "keys",
                "add",
                "--log",
                &l,
                "--owner-key",
                &owner,
                "--pub",
                &public,
                "--role",
                "recorder",
            ],
            None,
        ),
        2,
        &["keys/garbage.key: malformed verifier key"],
    );
}

#[cfg(unix)]
#[test]
fn a_secret_key_readable_by_others_is_warned_about_and_still_works() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fx::new();
    std::fs::set_permissions(fx.key("recorder"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = fx.append(TESTS_PASS, &[]);
    expect(
        &out,
        0,
        &[
            "warning: secret key file",
            "keys/recorder.key has mode 0644: other users can read it; run chmod 600",
            "entry 2 command_run",
        ],
    );
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

fn kinds(entries: &[Json]) -> Vec<String> {
    entries
        .iter()
        .map(|e| match e["kind"].as_str().unwrap() {
            "custom" => e["payload"]["type"].as_str().unwrap().to_owned(),
            k => k.to_owned(),
        })
        .collect()
}

#[test]
fn claude_code_hooks_become_typed_events() {
    let fx = Fx::new();
    let read_input = json!({"file_path": "/home/dev/repo/src/report/mod.rs"});
    let bash_input = json!({"command": "cargo test", "description": "run the tests"});
    for payload in [
        hook(
            "SessionStart",
            json!({"source": "startup", "model": "claude-sonnet-4-5"}),
        ),
        hook("UserPromptSubmit", json!({"prompt": "add XBRL export"})),
        hook(
            "PreToolUse",
            json!({"tool_name": "Read", "tool_input": read_input, "tool_use_id": "toolu_01"}),
        ),
        hook(
            "PostToolUse",
            json!({"tool_name": "Read", "tool_input": read_input, "tool_use_id": "toolu_01",
                   "tool_response": {"type": "text", "file": {"filePath": "/home/dev/repo/src/report/mod.rs", "content": "pub mod pdf;\n"}}}),
        ),
        hook(
            "PreToolUse",
            json!({"tool_name": "Bash", "tool_input": bash_input, "tool_use_id": "toolu_02"}),
        ),
        hook(
            "PostToolUseFailure",
            json!({"tool_name": "Bash", "tool_input": bash_input, "tool_use_id": "toolu_02",
                   "error": "Command exited with non-zero status code 101\n3 tests failed", "is_interrupt": false}),
        ),
        hook(
            "PostToolUse",
            json!({"tool_name": "Bash", "tool_input": bash_input, "tool_use_id": "toolu_03",
                   "duration_ms": 41000, "tool_response": {"stdout": "12 passed", "stderr": "", "interrupted": false}}),
        ),
        hook(
            "PermissionRequest",
            json!({"tool_name": "Write", "tool_input": {"file_path": "/home/dev/repo/src/x.rs", "content": "x"}}),
        ),
        hook("Stop", json!({"stop_hook_active": false})),
        hook("SessionEnd", json!({"reason": "prompt_input_exit"})),
    ] {
        expect(&fx.ingest(&payload), 0, &[]);
    }
    let entries = fx.show(&["--session", "cc-0001"]);
    assert_eq!(
        kinds(&entries),
        [
            "claude-code/session_start",
            "claude-code/user_prompt_submit",
            "session_started",
            "context_loaded",
            "claude-code/pre_tool_use",
            "claude-code/post_tool_use",
            "tool_call",
            "file_read",
            "claude-code/pre_tool_use",
            "claude-code/post_tool_use_failure",
            "tool_call",
            "command_run",
            "verification",
            "failure_seen",
            "claude-code/post_tool_use",
            "tool_call",
            "command_run",
            "verification",
            "claude-code/permission_request",
            "gate_requested",
            "claude-code/stop",
            "handoff",
            "claude-code/session_end",
            "handoff",
            "session_ended",
        ]
    );
    let by_seq = |seq: &Json| entries.iter().find(|e| e["seq"] == *seq).unwrap();
    // Typed events link their hook record; a tool call also its PreToolUse record.
    let read_call = &entries[6];
    assert_eq!(read_call["payload"]["name"], "Read");
    assert_eq!(read_call["payload"]["call_id"], "toolu_01");
    assert_eq!(read_call["payload"]["paths"][0], "src/report/mod.rs");
    let linked: Vec<String> = read_call["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| kinds(&[by_seq(&l["seq"]).clone()])[0].clone())
        .collect();
    assert_eq!(
        linked,
        ["claude-code/pre_tool_use", "claude-code/post_tool_use"]
    );
    assert_eq!(
        read_call["payload"]["arguments_digest"],
        content_digest(
            Suite::Blake3,
            br#"{"file_path":"/home/dev/repo/src/report/mod.rs"}"#
        )
        .to_hex()
    );
    assert_eq!(
        entries[7]["payload"]["digest"],
        content_digest(Suite::Blake3, b"pub mod pdf;\n").to_hex()
    );
    assert_eq!(entries[7]["payload"]["path"], "src/report/mod.rs");
    // The failed command: its exit code from the error, the failure linked to it.
    assert_eq!(entries[10]["payload"]["outcome"], "error");
    assert_eq!(entries[11]["payload"]["exit_code"], 101);
    assert_eq!(
        entries[13]["payload"]["error"],
        "Command exited with non-zero status code 101"
    );
    assert_eq!(entries[13]["payload"]["command"], "cargo test");
    // A command that succeeded exits 0, with its duration and output digests.
    assert_eq!(entries[16]["payload"]["exit_code"], 0);
    assert_eq!(entries[16]["payload"]["duration_ms"], 41000);
    assert_eq!(
        entries[16]["payload"]["stdout_digest"],
        content_digest(Suite::Blake3, b"12 passed").to_hex()
    );
    assert_eq!(entries[19]["payload"]["gate"], "file_write");
    assert_eq!(entries[21]["payload"]["status"], "ready_for_review");
    assert_eq!(entries[24]["payload"]["status"], "completed");
    // The prompt is kept by digest and, by default, with its text; the first is the goal.
    let prompt = &entries[1]["payload"]["body"]["fields"]["prompt"];
    assert_eq!(
        prompt["digest"],
        content_digest(Suite::Blake3, b"add XBRL export").to_hex()
    );
    assert_eq!(prompt["text"], "add XBRL export");
    assert_eq!(entries[2]["payload"]["objective"], "add XBRL export");
    assert_eq!(entries[3]["payload"]["digest"], prompt["digest"]);
    // The trace reads the session.
    let out = run(&["trace", "--log", &fx.l(), "--session", "cc-0001"], None);
    expect(
        &out,
        0,
        &[
            "Goal: add XBRL export",
            "Failures seen:",
            "cargo test: Command exited with non-zero status code 101",
            "Handoff: ready_for_review",
        ],
    );
    expect(&run(&["verify", "--log", &fx.l()], None), 0, &["VALID"]);
}

#[test]
fn claude_code_fields_nobody_expected_are_kept() {
    let fx = Fx::new();
    let payload = hook(
        "PostToolUse",
        json!({
            "tool_name": "Glob", "tool_input": {"pattern": "**/*.rs"}, "tool_use_id": "toolu_09",
            "tool_response": ["src/lib.rs"],
            "agent_type": "reviewer", "retry": 2, "ratio": 0.5,
            "new_context": {"b": [1, 2], "a": "x"},
        }),
    );
    let raw = payload.to_string();
    expect(&fx.ingest(&payload), 0, &[]);
    let entries = fx.show(&["--session", "cc-0001"]);
    assert_eq!(kinds(&entries), ["claude-code/post_tool_use", "tool_call"]);
    let body = &entries[0]["payload"]["body"];
    assert_eq!(body["hook_event_name"], "PostToolUse");
    assert_eq!(
        body["payload_digest"],
        content_digest(Suite::Blake3, raw.as_bytes()).to_hex()
    );
    let fields = &body["fields"];
    // Scalars and short strings inline; floats as their text; objects by digest of their sorted
    // compact JSON.
    assert_eq!(fields["agent_type"], "reviewer");
    assert_eq!(fields["retry"], 2);
    assert_eq!(fields["ratio"], "0.5");
    assert_eq!(fields["cwd"], "/home/dev/repo");
    assert_eq!(fields["tool_use_id"], "toolu_09");
    assert_eq!(fields["new_context"]["form"], "json");
    assert_eq!(
        fields["new_context"]["digest"],
        content_digest(Suite::Blake3, br#"{"a":"x","b":[1,2]}"#).to_hex()
    );
    assert_eq!(fields["tool_response"]["form"], "json");
    assert!(fields.get("session_id").is_none());
}

#[test]
fn an_unknown_hook_event_is_kept_as_a_custom_event() {
    let fx = Fx::new();
    let payload = hook(
        "TeammateIdle",
        json!({"teammate": "docs-writer", "idle_ms": 1200}),
    );
    expect(&fx.ingest(&payload), 0, &[]);
    let entries = fx.show(&[]);
    let last = entries.last().unwrap();
    assert_eq!(last["kind"], "custom");
    assert_eq!(last["payload"]["type"], "claude-code/teammate_idle");
    assert_eq!(last["payload"]["body"]["hook_event_name"], "TeammateIdle");
    assert_eq!(last["payload"]["body"]["fields"]["teammate"], "docs-writer");
    assert_eq!(last["payload"]["body"]["fields"]["idle_ms"], 1200);
    assert_eq!(last["session"], "cc-0001");
}

#[test]
fn claude_code_payloads_that_are_not_hooks_are_refused() {
    let fx = Fx::new();
    let l = fx.l();
    let recorder = fx.k("recorder");
    let ingest = |input: &str| {
        run(
            &["ingest", "claude-code", "--log", &l, "--key", &recorder],
            Some(input),
        )
    };
    // Not recorded, so blocked, unless the hook is a Stop (tests/hook_fail_closed.rs has more).
    expect(
        &ingest("{not json"),
        2,
        &["the hook payload is not valid JSON"],
    );
    expect(
        &ingest("[1]"),
        2,
        &["the hook payload is not a JSON object"],
    );
    expect(
        &ingest(r#"{"hook_event_name":"Stop"}"#),
        1,
        &["the Stop event was not recorded: the hook payload has no session_id"],
    );
    expect(
        &ingest(r#"{"session_id":"s"}"#),
        2,
        &["the hook payload has no hook_event_name"],
    );
    // Nothing but a gap for each was recorded.
    let entries = fx.show(&[]);
    assert_eq!(entries.len(), 2 + 4);
    assert!(entries[2..].iter().all(|e| e["kind"] == "gap"));
    // A log that cannot be opened blocks a tool call (exit 2), never a Stop (exit 1).
    let missing = fx.path("missing").display().to_string();
    let pre = hook(
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_use_id": "t"}),
    );
    let out = run(
        &[
            "ingest",
            "claude-code",
            "--log",
            &missing,
            "--key",
            &recorder,
        ],
        Some(&pre.to_string()),
    );
    expect(&out, 2, &["missing: no such directory"]);
    let stop = hook("Stop", json!({"stop_hook_active": true}));
    let out = run(
        &[
            "ingest",
            "claude-code",
            "--log",
            &missing,
            "--key",
            &recorder,
        ],
        Some(&stop.to_string()),
    );
    expect(&out, 1, &["missing: no such directory"]);
}

#[test]
fn concurrent_hooks_wait_for_each_other() {
    let fx = Fx::new();
    let (l, k) = (fx.l(), fx.k("recorder"));
    let children: Vec<_> = (0..6)
        .map(|i| {
            let payload = hook(
                "PostToolUse",
                json!({"tool_name": "Grep", "tool_input": {"pattern": format!("p{i}")},
                       "tool_use_id": format!("toolu_{i}"), "tool_response": {"matches": i}}),
            );
            let mut child = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
                .args(["ingest", "claude-code", "--log", &l, "--key", &k])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(payload.to_string().as_bytes())
                .unwrap();
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let calls = fx.show(&["--kind", "tool_call"]);
    let mut ids: Vec<_> = calls
        .iter()
        .map(|c| c["payload"]["call_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "toolu_0", "toolu_1", "toolu_2", "toolu_3", "toolu_4", "toolu_5"
        ]
    );
    expect(&run(&["verify", "--log", &l], None), 0, &["VALID"]);
}

// The PreToolUse record is looked for newest first, a chunk of entries at a time: one far
// back in the window is still found.
#[test]
fn a_tool_call_links_its_pre_tool_use_record_from_far_back() {
    let fx = Fx::new();
    let input = json!({"command": "cargo build --release"});
    let pre = hook(
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": input, "tool_use_id": "toolu_far"}),
    );
    expect(&fx.ingest(&pre), 0, &[]);
    let pre_seq = fx.show(&["--kind", "custom"]).last().unwrap()["seq"].clone();
    // Other sessions' entries in between: more than a chunk of them.
    let others = format!("{TESTS_PASS}\n").repeat(150);
    expect(&fx.append(&others, &["--session", "other"]), 0, &[]);
    let post = hook(
        "PostToolUse",
        json!({"tool_name": "Bash", "tool_input": input, "tool_use_id": "toolu_far",
               "tool_response": {"stdout": "", "stderr": "", "interrupted": false}}),
    );
    expect(&fx.ingest(&post), 0, &[]);
    let calls = fx.show(&["--kind", "tool_call"]);
    let links: Vec<_> = calls[0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["seq"].clone())
        .collect();
    assert!(links.contains(&pre_seq), "{links:?} lacks {pre_seq}");
}

#[test]
fn the_demo_runs_twice_and_its_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let d = demo.display().to_string();
    let out = run(&["demo", "--dir", &d], None);
    expect(
        &out,
        0,
        &[
            &format!("created {d}"),
            "verdict:     VALID",
            "file_write approved by Release Approver (approval)",
            "Sealtrail-Session: sess-xbrl-0001",
            &format!("sealtrail why --log {d}/log --seq 15"),
            "the bundle is complete and unaltered",
            "Sealtrail-Checkpoint: 84 ",
            &format!(
                "verify-bundle {d}/demo.bundle --trusted-key {d}/log.vkey --witness \
                 {d}/keys/witness.key.pub --witness-quorum 1"
            ),
            "witnesses:   1 of 1 required: witness (at ",
            "the checkpoint is cosigned by 1 of the 1 witnesses required: witness",
            // Ownership and incidents: the review, merge and incident, the lineage, the table.
            "# Incident INC-2041 (sev2)",
            "- owner: Release Approver — merge entry",
            "- time to incident: 21d 4h (from the merge)",
            "  - tests_fail_without_change: yes (evidence: entry",
            "### Session sess-xbrl-0001 (found by trailer, review, incident)",
            "| period | origin | commits | changed lines | incidents |",
            &format!("sealtrail why --log {d}/log --incident INC-2041 --repo {d}/repo"),
        ],
    );
    // The command the demo prints verifies with the real verify-bundle binary: the bundle
    // carries the witness's cosignature, and extends the (cosigned) checkpoint it wrote.
    let verify_bundle = |witness: &str| {
        Command::new(env!("CARGO_BIN_EXE_verify-bundle"))
            .args([
                &format!("{d}/demo.bundle"),
                "--trusted-key",
                &format!("{d}/log.vkey"),
                "--checkpoint",
                &format!("{d}/checkpoint.txt"),
                "--witness",
                witness,
                "--witness-quorum",
                "1",
            ])
            .output()
            .unwrap()
    };
    let vb = verify_bundle(&format!("{d}/keys/witness.key.pub"));
    assert_eq!(
        vb.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&vb.stdout)
    );
    // Another witness's key: the quorum is not met, so the cosignature is what passed above.
    let other = dir.path().join("other-witness.key");
    expect(
        &run(
            &["witness", "keygen", "--out", other.to_str().unwrap()],
            None,
        ),
        0,
        &[],
    );
    let vb = verify_bundle(&format!("{}.pub", other.display()));
    assert_eq!(
        vb.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&vb.stdout)
    );
    for f in [
        "log/entries",
        "trace.md",
        "report.html",
        "demo.bundle",
        "checkpoint.txt",
        "log.vkey",
        "keys/owner.key",
        "keys/owner.key.pub",
        "keys/recorder.key",
        "keys/recorder.key.pub",
        "keys/approver.key",
        "keys/approver.key.pub",
        "keys/witness.key",
        "keys/witness.key.pub",
    ] {
        assert!(demo.join(f).exists(), "{f}");
    }
    let owner = std::fs::read(demo.join("keys/owner.key")).unwrap();
    let first =
        run(&["verify", "--log", &format!("{d}/log"), "--json"], None).json_lines()[0].clone();
    sealtrail_testkit::report_schema::assert_report_schema(&first);
    let first_log = first["log"]["log_id"].clone();

    let out = run(&["demo", "--dir", &d], None);
    expect(
        &out,
        0,
        &[
            "exists from an earlier run: replacing log/, log.vkey, demo.bundle, checkpoint.txt, trace.md and \
             report.html, keeping keys/",
            "kept    ",
            "verdict:     VALID",
        ],
    );
    assert_eq!(std::fs::read(demo.join("keys/owner.key")).unwrap(), owner);
    let verified = run(&["verify", "--log", &format!("{d}/log"), "--json"], None);
    expect(&verified, 0, &[]);
    let report = &verified.json_lines()[0];
    sealtrail_testkit::report_schema::assert_report_schema(report);
    assert_ne!(report["log"]["log_id"], first_log);
    assert_eq!(report["approvals"].as_array().unwrap().len(), 2);
    let trace = std::fs::read_to_string(demo.join("trace.md")).unwrap();
    assert!(trace.contains(&format!(
        "Sealtrail-Log: {}",
        report["log"]["log_id"].as_str().unwrap()
    )));
    // The auditor's page, from the new bundle.
    let page = std::fs::read_to_string(demo.join("report.html")).unwrap();
    assert!(page.contains("<strong>VALID</strong>"));
    assert!(page.contains("Release Approver"));
    assert!(page.contains(report["log"]["log_id"].as_str().unwrap()));

    // Anything else in the way of log/ is never removed.
    let other = dir.path().join("other");
    std::fs::create_dir_all(other.join("log")).unwrap();
    std::fs::write(other.join("log/notes.txt"), "mine").unwrap();
    let out = run(&["demo", "--dir", other.to_str().unwrap()], None);
    expect(&out, 2, &["holds files that are not a sealtrail log"]);
    assert!(other.join("log/notes.txt").exists());
}

#[test]
fn checkpoint_export_and_prove_seal_the_log_for_an_auditor() {
    let fx = Fx::new();
    expect(
        &fx.append(
            &format!("{SESSION_START}\n{TESTS_PASS}\n"),
            &["--session", "s-1"],
        ),
        0,
        &[],
    );
    let (l, owner) = (fx.l(), fx.k("owner"));
    let cp = fx.path("seen.checkpoint").display().to_string();
    // The verifier key an auditor pins: the owner key under the checkpoint origin line.
    let vkey = fx.path("log.vkey").display().to_string();
    expect(
        &run(&["keys", "vkey", "--log", &l, "--out", &vkey], None),
        0,
        &[&format!("{ORIGIN}#blake3+")],
    );
    // Only an owner key signs checkpoints.
    expect(
        &run(
            &["checkpoint", "--log", &l, "--owner-key", &fx.k("recorder")],
            None,
        ),
        1,
        &["is not an active owner key"],
    );
    let out = run(
        &[
            "checkpoint",
            "--log",
            &l,
            "--owner-key",
            &owner,
            "--out",
            &cp,
            "--json",
        ],
        None,
    );
    expect(&out, 0, &[]);
    let c = &out.json_lines()[0];
    assert_eq!(c["size"], 4);
    assert_eq!(c["origin"], format!("{ORIGIN}#blake3"));
    // A proof of entry 2, against that checkpoint, verifies with the library.
    let proof_file = fx.path("e2.tlog-proof");
    let pf = proof_file.display().to_string();
    expect(
        &run(&["prove", "--log", &l, "--seq", "2", "--out", &pf], None),
        0,
        &["entry 2 included"],
    );
    let proof =
        sealtrail::checkpoint::TlogProof::parse(&std::fs::read(&proof_file).unwrap()).unwrap();
    let pk = sealtrail::keys::read_public_key(&vkey).unwrap();
    let trust = sealtrail::checkpoint::CheckpointTrust::new(
        sealtrail::checkpoint::LogOrigin::new(ORIGIN, sealtrail::Suite::Blake3).unwrap(),
        vec![pk],
        sealtrail::checkpoint::Witnesses::NotRequired,
    )
    .unwrap();
    assert_eq!(proof.verify(&trust, None).unwrap().seq, 2);
    expect(
        &run(&["prove", "--log", &l, "--seq", "99"], None),
        1,
        &["no entry 99"],
    );
    // More entries, then an export since the auditor's checkpoint, and one of a session with a
    // withheld kind; both verify with verify-bundle.
    expect(
        &fx.append(&format!("{TESTS_PASS}\n"), &["--session", "s-2"]),
        0,
        &[],
    );
    let vb = |bundle: &str, extra: &[&str]| {
        let mut args = vec![bundle, "--trusted-key", &vkey]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| s.to_string()));
        Command::new(env!("CARGO_BIN_EXE_verify-bundle"))
            .args(&args)
            .output()
            .unwrap()
    };
    let since = fx.path("since.bundle").display().to_string();
    let out = run(
        &[
            "export",
            "--log",
            &l,
            "--owner-key",
            &owner,
            "--out",
            &since,
            "--since-checkpoint",
            &cp,
            "--json",
        ],
        None,
    );
    expect(&out, 0, &[]);
    assert_eq!(out.json_lines()[0]["entries"], 1);
    let v = vb(&since, &["--checkpoint", &cp]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    assert!(String::from_utf8_lossy(&v.stdout).contains("only grew"));
    let session = fx.path("s1.bundle").display().to_string();
    let out = run(
        &[
            "export",
            "--log",
            &l,
            "--owner-key",
            &owner,
            "--out",
            &session,
            "--session",
            "s-1",
            "--withhold-kind",
            "command_run",
        ],
        None,
    );
    expect(&out, 0, &["2 entries (1 payload withheld)"]);
    let v = vb(&session, &["--json"]);
    assert_eq!(v.status.code(), Some(0));
    let report: Json = serde_json::from_slice(&v.stdout).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&report);
    assert_eq!(report["redacted"].as_array().unwrap().len(), 1);
    // An existing file is not overwritten; a bad range is named.
    expect(
        &run(
            &[
                "export",
                "--log",
                &l,
                "--owner-key",
                &owner,
                "--out",
                &session,
            ],
            None,
        ),
        2,
        &["exists; choose another --out or pass --force"],
    );
    let r = fx.path("r.bundle").display().to_string();
    expect(
        &run(
            &[
                "export",
                "--log",
                &l,
                "--owner-key",
                &owner,
                "--out",
                &r,
                "--range",
                "5-9",
            ],
            None,
        ),
        2,
        &["--range 5-9: expected START..END"],
    );
    expect(
        &run(
            &[
                "export",
                "--log",
                &l,
                "--owner-key",
                &owner,
                "--out",
                &r,
                "--range",
                "0..99",
            ],
            None,
        ),
        1,
        &["the selection asks for 0..99"],
    );
    assert!(!fx.path("r.bundle").exists());
}
