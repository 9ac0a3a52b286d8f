//! `sealtrail retention`, `hold` and `purge` (SPEC §7.6–§7.8), run as a user runs them: exit
//! codes, JSON outputs, and a purge refused under a hold naming the matter.

#![cfg(feature = "sled")]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use sealtrail::registry::Role;
use sealtrail::{Clock, Log, SecretKey, Timestamp};
use serde_json::Value as Json;
use tempfile::TempDir;

const ORIGIN: &str = "example.com/retention-cli";
/// 2020-01-01T00:00:00Z: the entries are old enough for a six-month retention to have ended.
const T2020: u64 = 1_577_836_800_000_000_000;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Json {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }
}

fn run(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
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

/// A log with three notes dated 2020, made with the library; keys in files.
struct Fx {
    dir: TempDir,
}

impl Fx {
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let fx = Fx { dir };
        let owner = SecretKey::generate(ORIGIN).unwrap();
        let recorder = SecretKey::generate("harness").unwrap();
        owner.save(&fx.path("owner.key")).unwrap();
        recorder.save(&fx.path("recorder.key")).unwrap();
        let log = Log::builder()
            .clock(Clock::stepping(
                Timestamp(T2020),
                std::time::Duration::from_secs(60),
            ))
            .create(&fx.path("log"), &owner, ORIGIN)
            .unwrap();
        log.register_key(&owner, recorder.key_id(), Role::Recorder, "harness")
            .unwrap();
        for i in 0..3 {
            log.append(
                &recorder,
                sealtrail_testkit::fixtures::note(&format!("note {i}")),
            )
            .unwrap();
        }
        fx
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn p(&self, p: &str) -> String {
        self.path(p).display().to_string()
    }

    fn len(&self) -> u64 {
        Log::open(&self.path("log")).unwrap().len()
    }
}

fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

#[test]
fn retention_hold_and_purge_from_the_command_line() {
    let fx = Fx::new();
    let (log, owner, recorder) = (fx.p("log"), fx.p("owner.key"), fx.p("recorder.key"));
    let set = ["retention", "set", "--log", &log, "--owner-key", &owner];
    // Under six months without the acknowledgement: refused, nothing written.
    let len = fx.len();
    expect(
        &run(&with(&set, &["--duration", "3m"])),
        1,
        &["six-month minimum", "--allow-short-retention"],
    );
    expect(
        &run(&with(&set, &["--duration", "6d"])),
        1,
        &["y (years) or m (months)"],
    );
    // A recorder's key may not sign it.
    let by_recorder = [
        "retention",
        "set",
        "--log",
        &log,
        "--owner-key",
        &recorder,
        "--duration",
        "6y",
    ];
    expect(&run(&by_recorder), 1, &["retention_set"]);
    assert_eq!(fx.len(), len, "nothing written");
    let out = run(&with(&set, &["--duration", "6m", "--json"]));
    expect(&out, 0, &[]);
    assert_eq!(out.json()["months"], 6);

    let hold = |verb: &'static str, matter: &'static str| {
        vec![
            "hold",
            verb,
            "--log",
            &log,
            "--owner-key",
            &owner,
            "--matter",
            matter,
            "--reason",
            "counsel's letter",
        ]
    };
    expect(
        &run(&with(&hold("place", "CASE-1"), &["--json"])),
        0,
        &["legal_hold"],
    );
    // Purge under the hold: refused with exit 2, naming the matter, in JSON too.
    let purge = [
        "purge",
        "--log",
        &log,
        "--owner-key",
        &owner,
        "--before",
        "2021-01-01",
    ];
    let len = fx.len();
    expect(&run(&purge), 2, &["CASE-1", "legal hold"]);
    let out = run(&with(&purge, &["--json"]));
    expect(&out, 2, &[]);
    assert!(
        out.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CASE-1")
    );
    assert_eq!(fx.len(), len, "nothing written");
    let out = run(&["hold", "list", "--log", &log, "--json"]);
    expect(&out, 0, &[]);
    assert_eq!(out.json()["active_holds"][0]["matter"], "CASE-1");
    assert_eq!(out.json()["retention"]["months"], 6);
    // A release must name an active hold.
    expect(&run(&hold("release", "CASE-9")), 1, &["CASE-9"]);
    expect(&run(&hold("release", "CASE-1")), 0, &["released"]);
    expect(
        &run(&["retention", "show", "--log", &log]),
        0,
        &["6 months", "0 active, 1 in all"],
    );

    // A dry run writes nothing; the purge writes one entry and removes three payloads.
    let len = fx.len();
    let out = run(&with(&purge, &["--dry-run", "--json"]));
    expect(&out, 0, &[]);
    assert_eq!(out.json()["purged"], serde_json::json!([1, 2, 3]));
    assert_eq!(fx.len(), len);
    let out = run(&with(&purge, &["--json"]));
    expect(&out, 0, &[]);
    let j = out.json();
    assert_eq!(j["count"], 3);
    assert_eq!(j["purge"]["seq"], len);
    assert_eq!(fx.len(), len + 1);
    {
        let opened = Log::open(&fx.path("log")).unwrap();
        for seq in 1..=3 {
            assert!(opened.read(seq).unwrap().unwrap().payload.data().is_none());
        }
    }
    // The log still verifies, and says the payloads were purged.
    let out = run(&["verify", "--log", &log, "--json"]);
    expect(&out, 0, &[]);
    let report = out.json();
    assert_eq!(report["verdict"], "valid");
    let reasons: Vec<&str> = report["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["purged"; 3]);
    expect(
        &run(&["verify", "--log", &log]),
        0,
        &["purged at end of retention"],
    );
    // An exported bundle marks the payloads erased; verify-bundle reports them as purged, with
    // the purge entry that records them.
    let (vkey, bundle) = (fx.p("log.vkey"), fx.p("log.bundle"));
    expect(
        &run(&["keys", "vkey", "--log", &log, "--out", &vkey]),
        0,
        &[],
    );
    expect(
        &run(&[
            "export",
            "--log",
            &log,
            "--owner-key",
            &owner,
            "--out",
            &bundle,
        ]),
        0,
        &[],
    );
    let vb = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_verify-bundle"))
            .args([bundle.as_str(), "--trusted-key", vkey.as_str()])
            .args(extra)
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let out = vb(&["--json"]);
    expect(&out, 0, &[]);
    let report = out.json();
    assert_eq!(report["verdict"], "valid");
    for r in report["redacted"].as_array().unwrap() {
        assert_eq!(r["reason"], "purged", "{r}");
        assert_eq!(r["erasure"]["seq"], len, "{r}");
    }
    expect(&vb(&[]), 0, &["purged at end of retention", "purge entry"]);
}

#[test]
fn the_commands_have_help_with_examples() {
    for (cmd, example) in [
        (&["purge", "--help"][..], "sealtrail purge --log DIR"),
        (&["retention", "set", "--help"], "--duration 6y"),
        (&["hold", "place", "--help"], "--matter CASE-2026-17"),
        (&["hold", "list", "--help"], "hold list --log DIR --json"),
    ] {
        expect(&run(cmd), 0, &[example]);
    }
}
