//! `verify-bundle BUNDLE --trusted-key K show | trace | why`: reading a bundle that verified, with
//! `sealtrail`'s own output; nothing answered from an invalid bundle; withheld payloads named.

use std::path::PathBuf;
use std::process::{Command, Output};

use sealtrail::log::{ExportOptions, Selection};
use sealtrail::{Durability, Log, SessionId, Suite};
use sealtrail_testkit::fixtures::*;
use sealtrail_testkit::scenario::{
    ScenarioKeys, record_hidden_failure_session, record_xbrl_session,
};

fn verify_bundle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verify-bundle"))
        .args(args)
        .output()
        .unwrap()
}

fn sealtrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(args)
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Fixture {
    dir: tempfile::TempDir,
    /// The hidden-failure session's `verification` entries.
    verifications: Vec<u64>,
    /// Its decision-like entry with links: the session's last entry.
    last: u64,
}

impl Fixture {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn log(&self) -> String {
        self.path("log")
    }
}

// A log on disk (for `sealtrail`) with three sessions, a whole-log bundle, a bundle that
// withholds `verification` payloads and one chosen payload, and the verifier key to pin.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let k = keys();
    let log_dir: PathBuf = dir.path().join("log");
    let log = Log::builder()
        .suite(Suite::Blake3)
        .durability(Durability::Buffered)
        .create(&log_dir, &k.owner, ORIGIN)
        .unwrap();
    populate(&log, &k);
    let keys = ScenarioKeys::new(&k.owner, &k.recorder, &k.approver, "Release Approver");
    record_xbrl_session(&log, &keys, &SessionId::new("xbrl").unwrap()).unwrap();
    let hidden = SessionId::new("hidden").unwrap();
    let r = record_hidden_failure_session(&log, &keys, &hidden).unwrap();
    let verifications: Vec<u64> = log
        .session(&hidden)
        .unwrap()
        .iter()
        .filter(|e| e.header().kind.as_str() == "verification")
        .map(|e| e.seq())
        .collect();
    let write = |name: &str, options: ExportOptions| {
        let mut bundle = Vec::new();
        log.export(&k.owner, &options, &mut bundle, &mut |_, _| {})
            .unwrap();
        std::fs::write(dir.path().join(name), bundle).unwrap();
    };
    write("all.bundle", ExportOptions::new(Selection::Log));
    write(
        "withheld.bundle",
        ExportOptions::new(Selection::Log)
            .withhold_kind(kind("verification"))
            .withhold_entry(r.session_started.seq),
    );
    // The populated log's decision (entry 5), which links entries 2 and 3, alone.
    write(
        "chosen.bundle",
        ExportOptions::new(Selection::Entries(vec![5])),
    );
    let mut bad = std::fs::read(dir.path().join("all.bundle")).unwrap();
    let at = bad.len() - 1;
    bad[at] ^= 0x01;
    std::fs::write(dir.path().join("bad.bundle"), bad).unwrap();
    std::fs::write(
        dir.path().join("log.vkey"),
        format!("{}\n", log.verifier_keys()[0].to_vkey()),
    )
    .unwrap();
    log.flush().unwrap();
    drop(log);
    Fixture {
        dir,
        verifications,
        last: r.session_ended.seq,
    }
}

fn ask(f: &Fixture, bundle: &str, query: &[&str]) -> Output {
    let b = f.path(bundle);
    let k = f.path("log.vkey");
    let mut args = vec![b.as_str(), "--trusted-key", k.as_str()];
    args.extend_from_slice(query);
    verify_bundle(&args)
}

// `sealtrail COMMAND --log LOG ARGS…`.
fn with_log<'a>(log: &'a str, command: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![command[0], "--log", log];
    args.extend_from_slice(&command[1..]);
    args
}

#[test]
fn show_trace_and_why_read_a_bundle_as_sealtrail_reads_the_log() {
    let f = fixture();
    let log = f.log();
    let last = f.last.to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["show"],
        vec!["show", "--session", "hidden"],
        vec!["show", "--session", "xbrl", "--kind", "decision", "--json"],
        vec!["show", "--from", "3", "--to", "9", "--json"],
        vec!["trace", "--session", "hidden"],
        vec!["trace", "--session", "xbrl", "--format", "json"],
        vec!["why", "--seq", &last],
        vec!["why", "--seq", "5"],
    ];
    for query in cases {
        let local = sealtrail(&with_log(&log, &query));
        assert_eq!(code(&local), 0, "sealtrail {query:?}: {}", err(&local));
        let read = ask(&f, "all.bundle", &query);
        assert_eq!(code(&read), 0, "verify-bundle {query:?}: {}", err(&read));
        assert!(err(&read).contains("VALID"), "{query:?}: {}", err(&read));
        // The same answer; after it, what the bundle could not answer (the erased payload).
        let (read, local) = (out(&read), out(&local));
        let rest = read
            .strip_prefix(local.as_str())
            .unwrap_or_else(|| panic!("{query:?}:\n{read}\n---\n{local}"));
        assert!(
            rest.is_empty() || rest.starts_with("\nnot answered"),
            "{query:?}: {rest}"
        );
    }
    // `trace --json` is `trace --format json`; `why N` is `why --seq N`; the JSON of `why` adds
    // what it could not answer (nothing, here) to `sealtrail why --json`'s object.
    let a = ask(&f, "all.bundle", &["trace", "--session", "xbrl", "--json"]);
    let b = sealtrail(&[
        "trace",
        "--log",
        &log,
        "--session",
        "xbrl",
        "--format",
        "json",
    ]);
    assert_eq!(out(&a), out(&b));
    let a = ask(&f, "all.bundle", &["why", &last, "--json"]);
    let b = sealtrail(&["why", "--log", &log, "--seq", &last, "--json"]);
    let mut a: serde_json::Value = serde_json::from_str(&out(&a)).unwrap();
    let b: serde_json::Value = serde_json::from_str(&out(&b)).unwrap();
    let extra = a.as_object_mut().unwrap();
    assert_eq!(extra.remove("not_answered"), Some(serde_json::json!([])));
    assert_eq!(extra.remove("not_held"), Some(serde_json::json!([])));
    assert_eq!(a, b);
    // The erased payload of the populated log is said to be erased, not withheld.
    let o = ask(&f, "all.bundle", &["show", "--session", "sess-1"]);
    assert!(
        out(&o).contains("entry 3: payload erased from the log (kind file_read)"),
        "{}",
        out(&o)
    );
}

#[test]
fn the_report_without_a_query_is_unchanged() {
    let f = fixture();
    let plain = ask(&f, "all.bundle", &[]);
    assert_eq!(code(&plain), 0);
    assert!(out(&plain).starts_with("verdict:     VALID\n"));
    assert!(err(&plain).is_empty(), "{}", err(&plain));
    let json = ask(&f, "all.bundle", &["--json"]);
    let j: serde_json::Value = serde_json::from_str(&out(&json)).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&j);
    assert_eq!(j["verdict"], "valid");
    // The approvals keep their JSON form (SPEC §12.6).
    let a = &j["approvals"][0];
    for key in [
        "seq",
        "printed_name",
        "signer",
        "gate",
        "meaning",
        "decision",
        "time",
        "signed_at",
        "comment",
        "subjects",
    ] {
        assert!(a.get(key).is_some(), "{key} missing from {a}");
    }
    assert_eq!(a.as_object().unwrap().len(), 10, "{a}");
    assert_eq!(a["printed_name"], "Release Approver");
}

#[test]
fn an_invalid_bundle_answers_nothing() {
    let f = fixture();
    for query in [
        vec!["show"],
        vec!["show", "--json"],
        vec!["trace", "--session", "hidden"],
        vec!["trace", "--session", "hidden", "--json"],
        vec!["why", "5"],
        vec!["why", "5", "--json"],
    ] {
        let o = ask(&f, "bad.bundle", &query);
        assert_eq!(code(&o), 1, "{query:?}");
        assert!(
            err(&o).contains("no query answered"),
            "{query:?}: {}",
            err(&o)
        );
        let stdout = out(&o);
        if query.contains(&"--json") {
            let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            sealtrail_testkit::report_schema::assert_report_schema(&j);
            assert_eq!(j["verdict"], "invalid", "{query:?}");
        } else {
            assert!(stdout.starts_with("verdict:     INVALID\n"), "{stdout}");
        }
        // No answer: no entry lines, no trace, no explanation.
        for answer in [
            "Goal:",
            "what informed it",
            "session_started",
            "\"summary\"",
        ] {
            assert!(!stdout.contains(answer), "{query:?} answered: {stdout}");
        }
    }
}

#[test]
fn withheld_payloads_are_named_in_every_answer() {
    let f = fixture();
    let v = f.verifications[0];
    let line = format!("entry {v}: payload withheld by the exporter (kind verification)");
    // show, text: the entry reads as withheld, and the end says what was not answered.
    let o = ask(&f, "withheld.bundle", &["show", "--session", "hidden"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let text = out(&o);
    assert!(
        text.contains("(payload withheld by the exporter)"),
        "{text}"
    );
    assert!(text.contains("not answered"), "{text}");
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("payload withheld by the exporter (kind session_started)"));
    // show, JSON: each withheld entry says so, and is not called erased.
    let o = ask(
        &f,
        "withheld.bundle",
        &["show", "--session", "hidden", "--json"],
    );
    let withheld: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|j| j.get("withheld").is_some())
        .collect();
    assert_eq!(withheld.len(), f.verifications.len() + 1);
    assert!(
        withheld
            .iter()
            .all(|j| j["erased"] == false && j["payload"].is_null())
    );
    // trace: the Markdown is on standard output, the notes on standard error.
    let o = ask(&f, "withheld.bundle", &["trace", "--session", "hidden"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("Sealtrail-Session: hidden"));
    assert!(
        out(&o).contains(&format!("(unread: entry {v} withheld")),
        "{}",
        out(&o)
    );
    assert!(err(&o).contains(&line), "{}", err(&o));
    // trace --json: the run record lists them.
    let o = ask(
        &f,
        "withheld.bundle",
        &["trace", "--session", "hidden", "--json"],
    );
    let record: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    let listed: Vec<u64> = record["withheld_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["seq"].as_u64().unwrap())
        .collect();
    assert!(
        f.verifications.iter().all(|s| listed.contains(s)),
        "{record}"
    );
    // why: the entry itself is withheld.
    let seq = v.to_string();
    let o = ask(&f, "withheld.bundle", &["why", &seq]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains(&line), "{}", out(&o));
    let o = ask(&f, "withheld.bundle", &["why", &seq, "--json"]);
    let j: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(
        j["entry"]["withheld"],
        "payloads of this kind withheld by the exporter"
    );
    let not_answered = j["not_answered"].as_array().unwrap();
    assert!(
        not_answered
            .iter()
            .any(|n| n["seq"] == v && n["payload"] == "withheld" && n["kind"] == "verification"),
        "{j}"
    );
}

#[test]
fn questions_about_what_the_bundle_does_not_hold_are_usage_errors() {
    let f = fixture();
    let o = ask(&f, "all.bundle", &["why", "100000"]);
    assert_eq!(code(&o), 2);
    assert!(
        err(&o).contains("no entry 100000 in the bundle"),
        "{}",
        err(&o)
    );
    let o = ask(&f, "all.bundle", &["trace", "--session", "nope"]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("nope"), "{}", err(&o));
    let o = ask(&f, "all.bundle", &["why"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn why_names_links_the_bundle_does_not_hold() {
    let f = fixture();
    let o = ask(&f, "chosen.bundle", &["why", "5"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("decision"), "{}", out(&o));
    assert!(
        out(&o).contains("not held: the bundle does not hold linked entries 2, 3"),
        "{}",
        out(&o)
    );
    let o = ask(&f, "chosen.bundle", &["why", "5", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(j["not_held"], serde_json::json!([2, 3]));
    assert_eq!(j["inputs"], serde_json::json!([]));
}
