//! `sealtrail compare` on the demo's log: a run against itself, and a session that does not
//! exist.

use std::process::Command;

#[test]
fn compare_prints_markdown_and_json_and_refuses_an_unknown_session() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let bin = env!("CARGO_BIN_EXE_sealtrail");
    let run = |args: &[&str]| Command::new(bin).args(args).output().unwrap();
    assert!(
        run(&["demo", "--dir", demo.to_str().unwrap()])
            .status
            .success()
    );
    let log = demo.join("log");
    let log = log.to_str().unwrap();
    let shown = run(&["show", "--log", log, "--kind", "session_started", "--json"]);
    let line: serde_json::Value =
        serde_json::from_slice(shown.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    let session = line["session"].as_str().unwrap().to_owned();

    let out = run(&["compare", "--log", log, &session, &session]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("The runs are identical"), "{text}");
    assert!(text.contains("Patchsets: identical."), "{text}");

    let out = run(&["compare", "--log", log, &session, &session, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "sealtrail.compare/1");
    assert_eq!(v["divergences"], serde_json::json!([]));
    assert!(v["a"]["model_calls"].as_u64().unwrap() > 0);

    let out = run(&["compare", "--log", log, &session, "no-such-session"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("session no-such-session: no entries"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
