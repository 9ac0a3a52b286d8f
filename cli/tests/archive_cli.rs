//! `sealtrail archive` and `verify-bundle --archive` (SPEC §15) against a real S3 server with
//! Object Lock: moto in server mode, which `.ci/run` starts on loopback and names in
//! `SEALTRAIL_TEST_S3`. What the bucket holds is read back with boto3 (cli/tests/s3_check.py),
//! an S3 client that is not the one under test.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The S3 endpoint of the test server. Without one these tests fail, saying how to start it.
fn endpoint() -> String {
    match std::env::var("SEALTRAIL_TEST_S3") {
        Ok(e) if !e.is_empty() => e,
        _ => panic!(
            "SEALTRAIL_TEST_S3 is not set: these tests need an S3 server with Object Lock. \
             Start one with `pip install 'moto[server]' boto3 && moto_server -H 127.0.0.1 -p \
             5123 &` and run them with SEALTRAIL_TEST_S3=http://127.0.0.1:5123 (.ci/run does \
             both)"
        ),
    }
}

fn run(dir: &Path, bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .current_dir(dir)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .output()
        .unwrap()
}

fn sealtrail(dir: &Path, args: &[&str]) -> Output {
    run(dir, env!("CARGO_BIN_EXE_sealtrail"), args)
}

fn verify_bundle(dir: &Path, args: &[&str]) -> Output {
    run(dir, env!("CARGO_BIN_EXE_verify-bundle"), args)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn ok(o: Output) -> Output {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    o
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// boto3, through cli/tests/s3_check.py: one command, one JSON object.
fn s3_check(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/s3_check.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(endpoint())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}: install Python 3 and `pip install boto3`"));
    assert!(
        o.status.success(),
        "s3_check.py {args:?} failed (is boto3 installed? `pip install 'moto[server]' boto3`): {}",
        text(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A bucket with Object Lock enabled, named after the test (bucket names are global).
fn bucket(name: &str) -> String {
    let bucket = format!("sealtrail-{name}-{}", std::process::id());
    s3_check(&["create-bucket", &bucket]);
    bucket
}

/// A log `log` in `dir` with a recorder and `events` session events.
fn new_log(dir: &Path, events: usize) {
    ok(sealtrail(dir, &["keygen", "--out", "owner.key"]));
    ok(sealtrail(dir, &["keygen", "--out", "rec.key"]));
    ok(sealtrail(
        dir,
        &[
            "init",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--origin",
            "example.com/archived",
        ],
    ));
    ok(sealtrail(
        dir,
        &[
            "keys",
            "add",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--pub",
            "rec.key.pub",
            "--role",
            "recorder",
            "--name",
            "harness",
        ],
    ));
    append(dir, events);
}

fn append(dir: &Path, events: usize) {
    let lines: String = (0..events)
        .map(|i| {
            format!(
                "{{\"kind\":\"command_run\",\"command\":\"cargo test {i}\",\"exit_code\":0,\
                 \"duration_ms\":41000}}\n"
            )
        })
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .current_dir(dir)
        .args([
            "append",
            "--log",
            "log",
            "--key",
            "rec.key",
            "--session",
            "sess-1",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
}

fn archive(dir: &Path, to: &str, extra: &[&str]) -> Value {
    let e = endpoint();
    let mut args = vec![
        "archive",
        "--log",
        "log",
        "--owner-key",
        "owner.key",
        "--to",
        to,
        "--endpoint",
        &e,
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&ok(sealtrail(dir, &args)))
}

fn verify_archive(dir: &Path, from: &str) -> Output {
    let e = endpoint();
    verify_bundle(
        dir,
        &[
            "--archive",
            from,
            "--endpoint",
            &e,
            "--trusted-key",
            "log.vkey",
            "--json",
        ],
    )
}

fn names(v: &Value) -> Vec<String> {
    v["uploaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_object_is_locked_and_the_archive_verifies_and_grows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    new_log(d, 5);
    let b = bucket("grow");
    let to = format!("s3://{b}/agent-log");
    let first = archive(
        d,
        &to,
        &[
            "--retention",
            "6y",
            "--legal-hold",
            "--segment-entries",
            "4",
        ],
    );
    // 6 entries (the recorder's registration and 5 events): two segments.
    assert_eq!(first["size"], 6, "{first}");
    assert_eq!(
        names(&first),
        [
            "segments/00000000000000000000-00000000000000000004.bundle",
            "segments/00000000000000000004-00000000000000000006.bundle",
            "checkpoints/00000000000000000006.checkpoint",
            "manifests/00000000000000000006.json",
        ]
    );
    let until = first["retain_until"].as_str().unwrap().to_owned();
    let year: i32 = until[..4].parse().unwrap();
    let this_year: i32 = String::from_utf8(
        Command::new("date")
            .args(["-u", "+%Y"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    assert_eq!(year, this_year + 6, "--retention 6y: {until}");

    // Through the S3 API: every object locked in COMPLIANCE mode until that date, held, and
    // stored with the checksum the manifest records.
    let objects = s3_check(&["objects", &b, "agent-log/"]);
    let objects = objects["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 4, "{objects:?}");
    let manifest = json_object(d, &b, "agent-log/manifests/00000000000000000006.json");
    for o in objects {
        assert_eq!(o["mode"], "COMPLIANCE", "{o}");
        assert_eq!(
            o["retain_until"].as_str().unwrap(),
            until.replace('Z', "+00:00"),
            "{o}"
        );
        assert_eq!(o["legal_hold"], "ON", "{o}");
        assert!(o["checksum_sha256"].is_string(), "no checksum stored: {o}");
    }
    for seg in manifest["segments"].as_array().unwrap() {
        let key = format!("agent-log/{}", seg["key"].as_str().unwrap());
        let stored = objects.iter().find(|o| o["key"] == key.as_str()).unwrap();
        let hex = seg["sha256"].as_str().unwrap();
        assert_eq!(b64_of_hex(hex), stored["checksum_sha256"], "{key}");
    }

    // Verified straight from the bucket: the report of a bundle over the whole log.
    let report = json(&ok(verify_archive(d, &to)));
    assert_eq!(report["verdict"], "valid", "{report}");
    assert_eq!(report["entries"], 6);
    assert_eq!(report["checkpoint"]["size"], 6);
    assert_eq!(report["schema"], "sealtrail.report/2");
    sealtrail_testkit::report_schema::assert_report_schema(&report);

    // A second run has nothing to upload.
    let again = archive(d, &to, &["--retention", "6y"]);
    assert_eq!(names(&again), Vec::<String>::new(), "{again}");
    assert_eq!(again["manifest"], Value::Null);

    // Two more entries: only they (one segment), the checkpoint and the manifest go up.
    append(d, 2);
    let grown = archive(d, &to, &["--retention", "6y", "--segment-entries", "4"]);
    assert_eq!(
        names(&grown),
        [
            "segments/00000000000000000006-00000000000000000008.bundle",
            "checkpoints/00000000000000000008.checkpoint",
            "manifests/00000000000000000008.json",
        ]
    );
    let report = json(&ok(verify_archive(d, &to)));
    assert_eq!(report["verdict"], "valid", "{report}");
    assert_eq!(report["entries"], 8);
    assert_eq!(report["checkpoint"]["size"], 8);
    // Each segment is tied to the checkpoint of the one before it.
    let proven = report["proven"].to_string();
    assert!(
        proven.contains("the previous segment's checkpoint"),
        "{proven}"
    );
}

#[test]
fn a_locked_version_cannot_be_deleted_or_replaced_and_a_newer_one_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    new_log(d, 3);
    let b = bucket("tamper");
    let to = format!("s3://{b}/x");
    archive(d, &to, &["--retain-until", "2099-01-01"]);
    let objects = s3_check(&["objects", &b, "x/"]);
    for o in objects["objects"].as_array().unwrap() {
        assert_eq!(o["mode"], "COMPLIANCE", "{o}");
        assert_eq!(o["retain_until"], "2099-01-01T00:00:00+00:00", "{o}");
        assert_eq!(
            o["legal_hold"],
            Value::Null,
            "no --legal-hold, no hold: {o}"
        );
    }
    let segment = "x/segments/00000000000000000000-00000000000000000004.bundle";
    let t = s3_check(&["tamper", &b, segment]);
    assert_eq!(
        t["deleted"],
        serde_json::json!([]),
        "a locked version was deleted: {t}"
    );
    assert_eq!(t["refused"], serde_json::json!(["AccessDenied"]), "{t}");
    assert_eq!(t["locked_version_unchanged"], true, "{t}");
    // The overwrite added a newer version, which is what a plain GET reads: the verifier says
    // that segment is not what was archived (exit 1), naming it.
    let o = verify_archive(d, &to);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["verdict"], "invalid");
    let findings = report["findings"].to_string();
    assert!(findings.contains(&segment[2..]), "{findings}");

    // A second writer cannot slip a manifest in either: archive refuses a manifest of another
    // log under its prefix.
    let other = tempfile::tempdir().unwrap();
    new_log(other.path(), 1);
    let e = endpoint();
    let o = sealtrail(
        other.path(),
        &[
            "archive",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--to",
            &to,
            "--endpoint",
            &e,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("holds the archive of log"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_interrupted_run_is_resumed_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    new_log(d, 6);
    let b = bucket("resume");
    // A full run elsewhere gives the objects an interrupted run would have written first.
    let full = archive(d, &format!("s3://{b}/full"), &["--segment-entries", "3"]);
    assert_eq!(full["size"], 7);
    let s1 = "segments/00000000000000000000-00000000000000000003.bundle";
    let s2 = "segments/00000000000000000003-00000000000000000006.bundle";
    // The run under cut/ stopped after its first two segments: no checkpoint, no manifest.
    s3_check(&["copy", &b, "full/", "cut/", s1, s2]);
    let to = format!("s3://{b}/cut");
    let o = verify_archive(d, &to);
    assert_eq!(o.status.code(), Some(2), "no manifest yet: {}", text(&o));
    let resumed = archive(d, &to, &["--segment-entries", "3"]);
    assert_eq!(resumed["reused_segments"], 2, "{resumed}");
    assert_eq!(
        names(&resumed),
        [
            "segments/00000000000000000006-00000000000000000007.bundle",
            "checkpoints/00000000000000000007.checkpoint",
            "manifests/00000000000000000007.json",
        ]
    );
    let report = json(&ok(verify_archive(d, &to)));
    assert_eq!(report["verdict"], "valid", "{report}");
    assert_eq!(report["entries"], 7);
}

#[test]
fn a_manifest_that_leaves_out_a_segment_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    new_log(d, 4);
    let b = bucket("gap");
    let to = format!("s3://{b}/g");
    archive(d, &to, &["--segment-entries", "2"]);
    // Someone with write access adds a manifest of a larger size that skips a segment.
    let mut m = json_object(d, &b, "g/manifests/00000000000000000005.json");
    m["segments"].as_array_mut().unwrap().remove(1);
    s3_check(&[
        "put",
        &b,
        "g/manifests/00000000000000000006.json",
        &m.to_string(),
    ]);
    let o = verify_archive(d, &to);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = json(&o);
    let findings = report["findings"].to_string();
    assert!(
        findings.contains("entries are missing or repeated"),
        "{findings}"
    );
}

/// An object's JSON content, read with boto3's GET (through the `copy` command's reader).
fn json_object(dir: &Path, bucket: &str, key: &str) -> Value {
    let e = endpoint();
    let o = Command::new("python3")
        .arg("-c")
        .arg(
            "import boto3,sys;print(boto3.client('s3',endpoint_url=sys.argv[1],\
             region_name='us-east-1',aws_access_key_id='t',aws_secret_access_key='t')\
             .get_object(Bucket=sys.argv[2],Key=sys.argv[3])['Body'].read().decode())",
        )
        .args([&e, bucket, key])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn b64_of_hex(hex: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(hex::decode(hex).unwrap())
}

/// Without --retain-until or --retention the archive follows the log (SPEC §15.5): each object
/// is locked until the newest entry it covers plus the log's retention, and carries a legal
/// hold while the log has an active one; after the hold's release the next run turns the
/// objects' holds off.
#[test]
fn lock_dates_and_legal_holds_follow_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    new_log(d, 3);
    let owner = ["--log", "log", "--owner-key", "owner.key"];
    let with = |head: &[&'static str], tail: &[&'static str]| -> Vec<&'static str> {
        head.iter().chain(&owner).chain(tail).copied().collect()
    };
    ok(sealtrail(
        d,
        &with(&["retention", "set"], &["--duration", "6y"]),
    ));
    let b = bucket("follow");
    let to = format!("s3://{b}/agent-log");
    let first = archive(d, &to, &["--segment-entries", "3"]);
    assert_eq!(first["lock"], "log_retention", "{first}");
    assert_eq!(first["legal_hold"], false, "{first}");

    // Each object's lock: the newest entry it covers, plus 72 months (to the second).
    let times = entry_times(d);
    let lock_after = |seq: usize| {
        let t: sealtrail::Timestamp = times[seq].parse().unwrap();
        let end = sealtrail::retention::retention_end(t, 72).unwrap();
        sealtrail::Timestamp(end.0 - end.0 % 1_000_000_000)
            .to_rfc3339()
            .replace('Z', "+00:00")
    };
    let objects = s3_check(&["objects", &b, "agent-log/"]);
    let objects = objects["objects"].as_array().unwrap().clone();
    assert_eq!(objects.len(), 4, "{objects:?}");
    for o in &objects {
        let key = o["key"].as_str().unwrap();
        let newest = if key.ends_with("00000000000000000000-00000000000000000003.bundle") {
            2
        } else {
            4
        };
        assert_eq!(o["mode"], "COMPLIANCE", "{o}");
        assert_eq!(
            o["retain_until"].as_str().unwrap(),
            lock_after(newest),
            "{o}"
        );
        assert!(o["legal_hold"] != "ON", "{o}");
    }

    // A hold: the next run puts every object, old and new, under legal hold.
    ok(sealtrail(
        d,
        &with(
            &["hold", "place"],
            &["--matter", "CASE-2026-17", "--reason", "litigation"],
        ),
    ));
    let held = archive(d, &to, &[]);
    assert_eq!(held["legal_hold"], true, "{held}");
    assert_eq!(held["log_holds"][0], "CASE-2026-17", "{held}");
    let objects = s3_check(&["objects", &b, "agent-log/"]);
    let objects = objects["objects"].as_array().unwrap().clone();
    assert_eq!(objects.len(), 7, "{objects:?}");
    for o in &objects {
        assert_eq!(o["legal_hold"], "ON", "{o}");
    }
    // Released: the next run turns them off.
    ok(sealtrail(
        d,
        &with(
            &["hold", "release"],
            &["--matter", "CASE-2026-17", "--reason", "settled"],
        ),
    ));
    let released = archive(d, &to, &[]);
    assert_eq!(released["legal_hold"], false, "{released}");
    assert_eq!(
        released["existing_legal_hold"]["status"], "OFF",
        "{released}"
    );
    let objects = s3_check(&["objects", &b, "agent-log/"]);
    for o in objects["objects"].as_array().unwrap() {
        assert!(o["legal_hold"] != "ON", "{o}");
    }
    let report = json(&ok(verify_archive(d, &to)));
    assert_eq!(report["verdict"], "valid", "{report}");
}

/// Each entry's time, by position, from `sealtrail show --json`.
fn entry_times(dir: &Path) -> Vec<String> {
    let o = ok(sealtrail(dir, &["show", "--log", "log", "--json"]));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["time"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn verify_archive_distrusting(dir: &Path, from: &str) -> Output {
    let e = endpoint();
    verify_bundle(
        dir,
        &[
            "--archive",
            from,
            "--endpoint",
            &e,
            "--trusted-key",
            "log.vkey",
            "--distrust-suite",
            "blake3",
            "--json",
        ],
    )
}

// Issue 18 item 5, SPEC §15.6: a blake3 log's archive renewed under sha256. Before the renewal an
// auditor who distrusts blake3 finds the entries unprotected; after it (the renewal uploaded to
// the archive written before it existed), the archive verifies and says what was re-protected.
#[test]
fn a_blake3_archive_renewed_under_sha256_verifies_when_blake3_is_distrusted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    new_log(d, 5);
    let b = bucket("renew");
    let to = format!("s3://{b}/agent-log");
    archive(d, &to, &["--segment-entries", "4"]);

    // Trusting blake3, the archive is valid; distrusting it, nothing re-protects the entries.
    let plain = verify_archive(d, &to);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    let before = verify_archive_distrusting(d, &to);
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    let report = json(&before);
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["check"] == "renewal"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("entries 0..6 are not re-protected")),
        "{report}"
    );

    // Renew under sha256, and again: the second run returns the stored renewal.
    let renewed = json(&ok(sealtrail(
        d,
        &[
            "renew",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--suite",
            "sha256",
            "--json",
        ],
    )));
    assert_eq!(renewed["size"], 6, "{renewed}");
    assert_eq!(renewed["new"], true, "{renewed}");
    assert_eq!(renewed["renews"], "blake3", "{renewed}");
    // The archive run's checkpoint is among what it protects.
    assert!(
        renewed["protects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "checkpoint"),
        "{renewed}"
    );
    let again = json(&ok(sealtrail(
        d,
        &[
            "renew",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--suite",
            "sha256",
            "--json",
        ],
    )));
    assert_eq!(again["new"], false);
    assert_eq!(again["root"], renewed["root"]);

    // A later archive run, with nothing new to archive, adds the renewal, locked like the rest.
    let second = archive(d, &to, &[]);
    assert_eq!(
        names(&second),
        ["renewals/sha256-00000000000000000006.renewal"],
        "{second}"
    );
    let objects = s3_check(&["objects", &b, "agent-log/renewals/"]);
    let objects = objects["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(objects[0]["mode"], "COMPLIANCE", "{:?}", objects[0]);

    let after = verify_archive_distrusting(d, &to);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after));
    let report = json(&after);
    sealtrail_testkit::report_schema::assert_report_schema(&report);
    let renewals = report["renewals"].as_array().unwrap();
    assert_eq!(renewals.len(), 1, "{report}");
    assert_eq!(renewals[0]["status"], "verified");
    assert_eq!(renewals[0]["suite"], "sha256");
    assert_eq!(renewals[0]["root"], renewed["root"]);
    let item = report["proven_items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "entries_renewed")
        .unwrap_or_else(|| panic!("no entries_renewed: {report}"));
    assert_eq!(item["size"], 6);
    assert!(
        report["proven"].as_array().unwrap().iter().any(|p| p
            .as_str()
            .unwrap()
            .starts_with("entries 0..6 re-protected under sha256 by owner key")),
        "{report}"
    );
    // The text report says the same.
    let e = endpoint();
    let text_report = ok(verify_bundle(
        d,
        &[
            "--archive",
            &to,
            "--endpoint",
            &e,
            "--trusted-key",
            "log.vkey",
            "--distrust-suite",
            "blake3",
        ],
    ));
    assert!(
        text(&text_report).contains("entries 0..6 re-protected under sha256 by owner key"),
        "{}",
        text(&text_report)
    );

    // The log grows past the renewal: the new entries are archived but not re-protected.
    append(d, 2);
    archive(d, &to, &["--segment-entries", "4"]);
    let grown = verify_archive_distrusting(d, &to);
    assert_eq!(grown.status.code(), Some(1), "{}", text(&grown));
    assert!(
        text(&grown).contains("entries 6..8 are not re-protected"),
        "{}",
        text(&grown)
    );
}

// Item 4 in an archive (SPEC §12.7, §15): a log with a stored RFC 3161 token (from a real
// `openssl ts -reply`) is archived; its segments carry the token, and `verify-bundle --archive
// --tsa-cert` checks it offline and says what it proves.
#[test]
fn an_archived_log_carries_its_timestamp_tokens_and_the_auditor_checks_them() {
    use sealtrail_testkit::openssl_tsa::{KeyType, Pki, Usage};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    new_log(d, 5);
    ok(sealtrail(
        d,
        &["checkpoint", "--log", "log", "--owner-key", "owner.key"],
    ));
    let pki = Pki::new(d, "archive-ca");
    let tsa = pki.tsa("Archive TSA", Usage::Timestamping, KeyType::Rsa);
    ok(sealtrail(
        d,
        &["timestamp", "--log", "log", "--tsa-cmd", &tsa.command()],
    ));
    let b = bucket("tsa");
    let to = format!("s3://{b}/agent-log");
    archive(d, &to, &["--segment-entries", "4"]);

    let e = endpoint();
    let ca = pki.ca_pem().display().to_string();
    let checked = verify_bundle(
        d,
        &[
            "--archive",
            &to,
            "--endpoint",
            &e,
            "--trusted-key",
            "log.vkey",
            "--tsa-cert",
            &ca,
            "--json",
        ],
    );
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked));
    let report = json(&checked);
    sealtrail_testkit::report_schema::assert_report_schema(&report);
    let stamps = report["timestamps"].as_array().unwrap();
    // Each of the two segments carries the token over the run's checkpoint of size 6.
    assert_eq!(stamps.len(), 2, "{report}");
    assert!(
        stamps
            .iter()
            .all(|t| t["status"] == "verified" && t["size"] == 6),
        "{report}"
    );
    assert!(
        report["proven"].as_array().unwrap().iter().any(|p| p
            .as_str()
            .unwrap()
            .contains("entries 0..6 existed no later than")),
        "{report}"
    );
    // Without the TSA's certificate the tokens are carried but prove nothing.
    let unchecked = json(&ok(verify_archive(d, &to)));
    assert!(
        unchecked["timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "not_checked"),
        "{unchecked}"
    );
    // Another CA: each token is a `timestamp` finding.
    let other = Pki::new(d, "other-ca");
    let wrong = verify_bundle(
        d,
        &[
            "--archive",
            &to,
            "--endpoint",
            &e,
            "--trusted-key",
            "log.vkey",
            "--tsa-cert",
            &other.ca_pem().display().to_string(),
            "--json",
        ],
    );
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        json(&wrong)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "timestamp"),
        "{}",
        text(&wrong)
    );
}
