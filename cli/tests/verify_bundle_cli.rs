//! The `verify-bundle` binary: exit codes, pinned keys, JSON, tamper, forks, witnesses.

use std::path::Path;
use std::process::{Command, Output};

use sealtrail::log::{ExportOptions, Selection};
use sealtrail::{Durability, Suite};
use sealtrail_testkit::fixtures::*;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verify-bundle"))
        .args(args)
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

struct Fixture {
    dir: tempfile::TempDir,
    bundle: Vec<u8>,
    k: Keys,
    log: sealtrail::Log,
}

fn fixture() -> Fixture {
    let (_s, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    populate(&log, &k);
    let mut bundle = Vec::new();
    log.export(
        &k.owner,
        &ExportOptions::new(Selection::Log),
        &mut bundle,
        &mut |_, _| {},
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.bundle"), &bundle).unwrap();
    // What `sealtrail init` writes for auditors: the owner key under the origin line's name.
    std::fs::write(
        dir.path().join("owner.pub"),
        format!("{}\n", log.verifier_keys()[0].to_vkey()),
    )
    .unwrap();
    Fixture {
        dir,
        bundle,
        k,
        log,
    }
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn valid_bundle_exits_0_and_reports_what_was_proven() {
    let f = fixture();
    let d = f.dir.path();
    let o = run(&[&p(d, "b.bundle"), "--trusted-key", &p(d, "owner.pub")]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    for want in [
        "VALID",
        "approvals:",
        "Release Approver",
        "checkpoint:",
        "proven:",
    ] {
        assert!(out.contains(want), "{want} missing from:\n{out}");
    }
    // The key as a string works too, and --json prints one object.
    let vkey = f.log.verifier_keys()[0].to_vkey();
    let o = run(&[&p(d, "b.bundle"), "--trusted-key", &vkey, "--json"]);
    assert_eq!(code(&o), 0);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&json);
    assert_eq!(json["verdict"], "valid");
    assert_eq!(json["entries"], f.log.len());
    assert!(json["findings"].as_array().unwrap().is_empty());
    assert_eq!(json["checkpoint"]["size"], f.log.len());
}

#[test]
fn usage_errors_exit_2() {
    let f = fixture();
    let d = f.dir.path();
    // No pinned key: says why.
    let o = run(&[&p(d, "b.bundle")]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--trusted-key"));
    // Unreadable file, not a bundle, bad key.
    let o = run(&[&p(d, "missing.bundle"), "--trusted-key", &p(d, "owner.pub")]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.bundle"));
    std::fs::write(d.join("x.bundle"), b"definitely not").unwrap();
    let o = run(&[&p(d, "x.bundle"), "--trusted-key", &p(d, "owner.pub")]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a sealtrail bundle"));
    let o = run(&[&p(d, "b.bundle"), "--trusted-key", "nonsense"]);
    assert_eq!(code(&o), 2);
    // --help is not an error.
    let o = run(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("--trusted-key"));
}

#[test]
fn unpinned_key_and_tampering_exit_1() {
    let f = fixture();
    let d = f.dir.path();
    std::fs::write(d.join("other.pub"), f.k.outsider.public_key().to_vkey()).unwrap();
    let o = run(&[
        &p(d, "b.bundle"),
        "--trusted-key",
        &p(d, "other.pub"),
        "--json",
    ]);
    assert_eq!(code(&o), 1);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&json);
    assert_eq!(json["verdict"], "invalid");
    // Byte flips across the file (every third byte, and all of the magic): never exit 0; exit 2
    // only while the magic is damaged.
    for i in (0..f.bundle.len()).step_by(3).chain(0..17) {
        let mut bad = f.bundle.clone();
        bad[i] ^= 0x40;
        std::fs::write(d.join("t.bundle"), &bad).unwrap();
        let o = run(&[&p(d, "t.bundle"), "--trusted-key", &p(d, "owner.pub")]);
        match code(&o) {
            1 => {}
            2 => assert!(i < 17, "byte {i}: exit 2 outside the magic"),
            c => panic!("byte {i}: exit {c}"),
        }
    }
    // Truncated: exit 1 with a finding that says so.
    std::fs::write(d.join("t.bundle"), &f.bundle[..f.bundle.len() - 30]).unwrap();
    let o = run(&[&p(d, "t.bundle"), "--trusted-key", &p(d, "owner.pub")]);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("truncated"));
}

#[test]
fn earlier_checkpoint_and_witnesses() {
    let f = fixture();
    let d = f.dir.path();
    let seen = f.log.checkpoint(&f.k.owner).unwrap();
    std::fs::write(d.join("seen.checkpoint"), seen.encode()).unwrap();
    let mut bundle = Vec::new();
    f.log
        .export(
            &f.k.owner,
            &ExportOptions::new(Selection::Log),
            &mut bundle,
            &mut |_, _| {},
        )
        .unwrap();
    std::fs::write(d.join("b2.bundle"), &bundle).unwrap();
    let o = run(&[
        &p(d, "b2.bundle"),
        "--trusted-key",
        &p(d, "owner.pub"),
        "--checkpoint",
        &p(d, "seen.checkpoint"),
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("only grew"));
    // A witness is required but never cosigned.
    let w = sealtrail::SecretKey::from_seed("witness.example", &[0x77; 32]).unwrap();
    let wkey = sealtrail::checkpoint::WitnessKey::new(w.public_key()).to_vkey();
    let o = run(&[
        &p(d, "b2.bundle"),
        "--trusted-key",
        &p(d, "owner.pub"),
        "--witness",
        &wkey,
    ]);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("witnesses"));
}

// `verify-bundle b | head`: a reader that closes standard output early does not turn the
// verdict into an error. The exit status stays 0 for a valid bundle and 1 for an invalid one.
#[test]
fn closed_stdout_keeps_the_verdicts_exit_status() {
    let f = fixture();
    let d = f.dir.path();
    let mut tampered = f.bundle.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    std::fs::write(d.join("t.bundle"), &tampered).unwrap();
    for (bundle, want) in [("b.bundle", 0), ("t.bundle", 1)] {
        for json in [false, true] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_verify-bundle"));
            cmd.args([&p(d, bundle), "--trusted-key", &p(d, "owner.pub")]);
            if json {
                cmd.arg("--json");
            }
            let mut child = cmd
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // The read end closes before the report is written.
            drop(child.stdout.take());
            let o = child.wait_with_output().unwrap();
            assert_eq!(
                code(&o),
                want,
                "{bundle} (json {json}): {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}
