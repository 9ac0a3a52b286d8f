//! `sealtrail timestamp` against a real RFC 3161 TSA (`openssl ts -reply`), through `--tsa-cmd`
//! and over HTTP on loopback, then `export` and `verify-bundle --tsa-cert` (SPEC §12.7).

#![cfg(feature = "sled")]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sealtrail::registry::Role;
use sealtrail::{Log, SecretKey};
use sealtrail_testkit::openssl_tsa::{KeyType, Pki, Tsa, Usage};
use serde_json::Value;

const ORIGIN: &str = "example.com/tsa-cli";

fn run(bin: &str, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sealtrail(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_sealtrail"), args, None)
}

fn verify_bundle(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_verify-bundle"), args, None)
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// A log with a recorder, three events and a checkpoint; returns the owner's verifier key.
fn log_with_checkpoint(d: &Path) -> String {
    let owner = SecretKey::generate(ORIGIN).unwrap();
    let recorder = SecretKey::generate("harness").unwrap();
    owner.save(&d.join("owner.key")).unwrap();
    recorder.save(&d.join("recorder.key")).unwrap();
    let vkey = {
        let log = Log::create(&d.join("log"), &owner, ORIGIN).unwrap();
        log.register_key(&owner, recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        log.verifier_keys()[0].to_vkey()
    };
    let events = r#"{"kind":"session_started","objective":"add XBRL export","agent_name":"xbrl-agent"}
{"kind":"command_run","command":"cargo test","exit_code":0,"duration_ms":41000}
{"kind":"session_ended","status":"completed"}
"#;
    ok(&run(
        env!("CARGO_BIN_EXE_sealtrail"),
        &[
            "append",
            "--log",
            &p(d, "log"),
            "--key",
            &p(d, "recorder.key"),
            "--session",
            "sess-1",
        ],
        Some(events),
    ));
    ok(&sealtrail(&[
        "checkpoint",
        "--log",
        &p(d, "log"),
        "--owner-key",
        &p(d, "owner.key"),
    ]));
    vkey
}

/// A loopback HTTP TSA: answers each POST of application/timestamp-query with `openssl ts
/// -reply`, as application/timestamp-reply. Returns its URL.
fn serve(tsa: Tsa) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("listen on loopback");
    let url = format!("http://{}/tsr", server.server_addr());
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let query = request
                .headers()
                .iter()
                .any(|h| h.field.equiv("Content-Type") && h.value == "application/timestamp-query");
            let mut body = Vec::new();
            std::io::Read::read_to_end(request.as_reader(), &mut body).unwrap();
            let response = if query {
                tiny_http::Response::from_data(tsa.reply(&body)).with_header(
                    tiny_http::Header::from_bytes("Content-Type", "application/timestamp-reply")
                        .unwrap(),
                )
            } else {
                tiny_http::Response::from_data(b"not a timestamp query".to_vec())
                    .with_status_code(415)
            };
            let _ = request.respond(response);
        }
    });
    url
}

#[test]
fn timestamps_from_a_command_and_over_http_verify_in_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vkey = log_with_checkpoint(d);
    let pki = Pki::new(d, "trusted");
    let rsa_tsa = pki.tsa("Example TSA", Usage::Timestamping, KeyType::Rsa);
    let ec_tsa = pki.tsa("Example EC TSA", Usage::Timestamping, KeyType::P256);

    // (a) A local signer through --tsa-cmd.
    let out = ok(&sealtrail(&[
        "timestamp",
        "--log",
        &p(d, "log"),
        "--tsa-cmd",
        &rsa_tsa.command(),
        "--json",
    ]));
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["size"], 4, "{j}");
    assert_eq!(j["stored"], true);
    assert!(j["tsa"].as_str().unwrap().contains("CN=Example TSA"), "{j}");
    // (b) Over HTTP on loopback, a P-256 TSA.
    let url = serve(ec_tsa.clone());
    let out = ok(&sealtrail(&[
        "timestamp",
        "--log",
        &p(d, "log"),
        "--tsa",
        &url,
    ]));
    assert!(out.contains("timestamped checkpoint of size 4"), "{out}");
    assert!(out.contains("CN=Example EC TSA"), "{out}");

    // The stored tokens verify in an implementation nobody here wrote: `openssl ts -verify`.
    {
        let log = Log::open(&d.join("log")).unwrap();
        let stored = log.timestamps().unwrap();
        assert_eq!(stored.len(), 2);
        let note = log.latest_checkpoint().unwrap().unwrap().encode();
        for t in &stored {
            assert_eq!(t.note, note);
            let rsa = rsa_tsa.openssl_verify(&t.token, &t.note);
            let ec = ec_tsa.openssl_verify(&t.token, &t.note);
            assert!(
                rsa.is_ok() || ec.is_ok(),
                "openssl ts -verify refused a stored token: {rsa:?} {ec:?}"
            );
        }
    }

    ok(&sealtrail(&[
        "export",
        "--log",
        &p(d, "log"),
        "--owner-key",
        &p(d, "owner.key"),
        "--out",
        &p(d, "b.bundle"),
    ]));
    let ca = pki.ca_pem().display().to_string();
    let o = verify_bundle(&[&p(d, "b.bundle"), "--trusted-key", &vkey, "--tsa-cert", &ca]);
    let text = ok(&o);
    assert!(
        text.contains("entries 0..4 existed no later than") && text.contains("CN=Example EC TSA"),
        "{text}"
    );
    let o = verify_bundle(&[
        &p(d, "b.bundle"),
        "--trusted-key",
        &vkey,
        "--tsa-cert",
        &ca,
        "--json",
    ]);
    let j: Value = serde_json::from_str(&ok(&o)).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&j);
    let stamped: Vec<&Value> = j["proven_items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "entries_timestamped")
        .collect();
    assert_eq!(stamped.len(), 2, "{j:#}");
    assert!(
        j["timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "verified" && t["size"] == 4),
        "{j:#}"
    );

    // Without --tsa-cert: valid, and the tokens are said to be not checked.
    let text = ok(&verify_bundle(&[&p(d, "b.bundle"), "--trusted-key", &vkey]));
    assert!(
        text.contains("not checked (no trusted TSA certificate given: --tsa-cert)"),
        "{text}"
    );
    assert!(!text.contains("existed no later than"), "{text}");

    // Another CA: each token is a `timestamp` finding, exit 1.
    let other = Pki::new(d, "other");
    let o = verify_bundle(&[
        &p(d, "b.bundle"),
        "--trusted-key",
        &vkey,
        "--tsa-cert",
        &other.ca_pem().display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("[timestamp]: timestamp 1 (checkpoint of size 4): the TSA certificate")
            && text.contains("does not chain to the trusted certificate"),
        "{text}"
    );
    // Not a certificate: a usage error.
    let o = verify_bundle(&[
        &p(d, "b.bundle"),
        "--trusted-key",
        &vkey,
        "--tsa-cert",
        &p(d, "owner.key"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--tsa-cert"));
}

#[test]
fn refused_replies_are_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    log_with_checkpoint(d);
    // Not a TimeStampResp at all.
    let o = sealtrail(&[
        "timestamp",
        "--log",
        &p(d, "log"),
        "--tsa-cmd",
        "printf garbage",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("the reply is not accepted: malformed TimeStampResp")
    );
    // A signer that fails.
    let o = sealtrail(&["timestamp", "--log", &p(d, "log"), "--tsa-cmd", "exit 3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("exited with"));
    // An HTTP TSA that answers another content type.
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", server.server_addr());
    std::thread::spawn(move || {
        for r in server.incoming_requests() {
            let _ = r.respond(tiny_http::Response::from_string("hello"));
        }
    });
    let o = sealtrail(&["timestamp", "--log", &p(d, "log"), "--tsa", &url]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not application/timestamp-reply"));
    // Neither --tsa nor --tsa-cmd: a usage error.
    let o = sealtrail(&["timestamp", "--log", &p(d, "log")]);
    assert_eq!(o.status.code(), Some(2));
    let log = Log::open(&d.join("log")).unwrap();
    assert!(log.timestamps().unwrap().is_empty());
}
