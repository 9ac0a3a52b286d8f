//! Honest exports and the conventions both tools keep (issue 15, items 8 and 9): refusals that
//! name the valid choices, `erase`, `verify-bundle -`, exit-status help, completions, man pages,
//! and errors as JSON under `--json`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use sealtrail::log::{ExportOptions, Selection};
use sealtrail::{Durability, Suite};
use sealtrail_testkit::fixtures::*;
use serde_json::Value as Json;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(bin: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
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
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn verify_bundle(args: &[&str], stdin: Option<&[u8]>) -> Out {
    run(env!("CARGO_BIN_EXE_verify-bundle"), args, stdin)
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

/// The one JSON line of an error printed under --json.
#[track_caller]
fn json_error(out: &Out, exit: u64) -> String {
    let line = out.stdout.lines().last().unwrap_or_default();
    let v: Json = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not JSON on stdout ({e}):\n{}", out.stdout));
    assert_eq!(v["error"]["exit"], exit, "{v}");
    assert_eq!(out.code as u64, exit);
    v["error"]["message"].as_str().unwrap().to_owned()
}

fn bundle_and_vkey() -> (Vec<u8>, String) {
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
    (bundle, log.verifier_keys()[0].to_vkey())
}

#[test]
fn verify_bundle_reads_the_bundle_from_standard_input() {
    let (bundle, vkey) = bundle_and_vkey();
    let o = verify_bundle(&["-", "--trusted-key", &vkey], Some(&bundle));
    expect(&o, 0, &["VALID"]);
    let o = verify_bundle(&["-", "--trusted-key", &vkey, "--json"], Some(&bundle));
    expect(&o, 0, &[]);
    let v: Json = serde_json::from_str(&o.stdout).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&v);
    assert_eq!(v["verdict"], "valid");
    // Tampered on the way in: exit 1, as for a file.
    let mut bad = bundle.clone();
    let i = bad.len() / 2;
    bad[i] ^= 1;
    let o = verify_bundle(&["-", "--trusted-key", &vkey], Some(&bad));
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    // Not a bundle: named as standard input.
    let o = verify_bundle(&["-", "--trusted-key", &vkey], Some(b"hello"));
    expect(&o, 2, &["standard input: not a sealtrail bundle"]);
}

#[test]
fn verify_bundle_help_describes_the_tool_and_its_exit_status() {
    for flag in ["--help", "-h"] {
        let o = verify_bundle(&[flag], None);
        expect(
            &o,
            0,
            &[
                "Verify a sealtrail export bundle offline",
                "Exit status:\n  0  every check passed",
                "  1  the bundle is invalid",
                "  2  usage error",
            ],
        );
        assert!(
            o.stdout
                .starts_with("Verify a sealtrail export bundle offline")
                && !o.stdout.contains("The sealtrail command line"),
            "the crate's description is not the tool's:\n{}",
            o.stdout
        );
    }
}

#[test]
fn verify_bundle_errors_are_json_under_json() {
    let (_, vkey) = bundle_and_vkey();
    let o = verify_bundle(
        &["/no/such/file.bundle", "--trusted-key", &vkey, "--json"],
        None,
    );
    let message = json_error(&o, 2);
    assert!(message.contains("/no/such/file.bundle"), "{message}");
    // A usage error the argument parser finds.
    let o = verify_bundle(&["--json"], None);
    json_error(&o, 2);
    // Without --json, nothing on stdout.
    let o = verify_bundle(&["/no/such/file.bundle", "--trusted-key", &vkey], None);
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
}

#[cfg(feature = "sled")]
mod sealtrail_cli {
    use super::*;

    use sealtrail::{Log, Receipt, SessionId};
    use tempfile::TempDir;

    fn sealtrail(args: &[&str]) -> Out {
        run(env!("CARGO_BIN_EXE_sealtrail"), args, None)
    }

    /// An on-disk log with the test history (two sessions, an approval, an erased payload) and
    /// `extra` sessions of one entry each; the owner key in `owner.key`.
    struct Disk {
        dir: TempDir,
        r: Vec<Receipt>,
    }

    impl Disk {
        fn new(extra: usize) -> Disk {
            let dir = tempfile::tempdir().unwrap();
            let k = keys();
            k.owner.save(&dir.path().join("owner.key")).unwrap();
            let log = Log::create(&dir.path().join("log"), &k.owner, ORIGIN).unwrap();
            let r = populate(&log, &k);
            for i in 0..extra {
                let s = SessionId::new(&format!("many-{i:02}")).unwrap();
                log.append(&k.recorder, note("x").session(&s)).unwrap();
            }
            Disk { dir, r }
        }

        fn p(&self, name: &str) -> String {
            self.dir.path().join(name).display().to_string()
        }

        fn export(&self, extra: &[&str]) -> Out {
            let (l, k, o) = (self.p("log"), self.p("owner.key"), self.p("out.bundle"));
            let mut args = vec!["export", "--log", &l, "--owner-key", &k, "--out", &o];
            args.extend_from_slice(extra);
            sealtrail(&args)
        }

        fn erase(&self, seq: u64, extra: &[&str]) -> Out {
            let (l, k, s) = (self.p("log"), self.p("owner.key"), seq.to_string());
            let mut args = vec![
                "erase",
                "--log",
                &l,
                "--owner-key",
                &k,
                "--seq",
                &s,
                "--reason",
                "GDPR Art. 17 request 2291",
            ];
            args.extend_from_slice(extra);
            sealtrail(&args)
        }

        fn no_bundle(&self) {
            assert!(!Path::new(&self.p("out.bundle")).exists());
        }
    }

    #[test]
    fn export_refuses_unknown_kinds_approvals_and_unknown_sessions_naming_the_choices() {
        let d = Disk::new(0);
        let o = d.export(&["--withhold-kind", "modle_call"]);
        expect(
            &o,
            2,
            &["modle_call", "model_call", "file_read", "command_run"],
        );
        d.no_bundle();
        let o = d.export(&["--withhold-kind", "approval"]);
        expect(&o, 2, &["approval", "never withheld", "model_call"]);
        d.no_bundle();
        let o = d.export(&["--withhold-kind", "Model-Call"]);
        expect(&o, 2, &["Model-Call", "model_call"]);
        let approval = d.r[6].seq;
        let o = d.export(&["--withhold-entry", &approval.to_string()]);
        expect(&o, 2, &["--withhold-entry", "never withheld"]);
        let o = d.export(&["--session", "nosuchsession"]);
        expect(&o, 2, &["nosuchsession", "\"sess-1\", \"sess-2\""]);
        d.no_bundle();
        // What may be asked still works.
        let o = d.export(&["--session", "sess-1", "--withhold-kind", "file_read"]);
        expect(&o, 0, &["wrote "]);
    }

    #[test]
    fn export_names_a_bounded_number_of_sessions() {
        let d = Disk::new(30);
        let o = d.export(&["--session", "nosuchsession"]);
        expect(&o, 2, &["\"sess-1\"", "(and more)"]);
        assert!(
            o.stderr.matches('"').count() <= 2 * (20 + 1),
            "{}",
            o.stderr
        );
        d.no_bundle();
    }

    #[test]
    fn erase_removes_a_payload_the_log_still_verifies_and_approvals_are_refused() {
        let d = Disk::new(0);
        let decision = d.r[5].seq;
        let o = d.erase(decision, &["--json"]);
        expect(&o, 0, &[]);
        let v: Json = serde_json::from_str(o.stdout.trim()).unwrap();
        assert_eq!(v["erased"], decision);
        assert_eq!(v["kind"], "decision");
        let l = d.p("log");
        expect(&sealtrail(&["verify", "--log", &l]), 0, &["VALID"]);
        let shown = sealtrail(&["show", "--log", &l, "--json"]);
        let entry: Json = shown
            .stdout
            .lines()
            .map(|line| serde_json::from_str::<Json>(line).unwrap())
            .find(|e| e["seq"] == decision)
            .unwrap();
        assert!(entry.to_string().contains("erased"), "{entry}");
        // Twice, an approval, a key registration, an entry the log does not have: refused.
        expect(&d.erase(decision, &[]), 1, &["erased already"]);
        let approval = d.r[6].seq;
        expect(
            &d.erase(approval, &[]),
            1,
            &["approval", "cannot be erased"],
        );
        expect(&d.erase(0, &[]), 1, &["key_register", "cannot be erased"]);
        expect(&d.erase(999, &[]), 1, &["no entry 999"]);
        expect(&sealtrail(&["verify", "--log", &l]), 0, &["VALID"]);
    }

    #[test]
    fn help_has_an_exit_status_section() {
        for args in [
            &["--help"][..],
            &["-h"],
            &["export", "--help"],
            &["erase", "--help"],
        ] {
            let o = sealtrail(args);
            expect(
                &o,
                0,
                &[
                    "Exit status:\n  0  success",
                    "  1  the log or an input record is invalid",
                    "  2  usage error",
                ],
            );
        }
        let o = sealtrail(&["--help"]);
        assert!(
            o.stdout
                .starts_with("Record, seal and check tamper-evident evidence")
                && o.stdout.contains("sealtrail keeps the path"),
            "{}",
            o.stdout
        );
    }

    #[test]
    fn completions_and_man_pages_come_from_the_definitions() {
        let o = sealtrail(&["completions", "bash"]);
        expect(&o, 0, &["sealtrail", "export", "--withhold-kind", "erase"]);
        let o = sealtrail(&["completions", "bash", "--tool", "verify-bundle"]);
        expect(&o, 0, &["verify-bundle", "--trusted-key"]);
        for shell in ["zsh", "fish"] {
            let o = sealtrail(&["completions", shell]);
            assert!(o.code == 0 && o.stdout.contains("withhold-kind"), "{shell}");
        }
        let o = sealtrail(&["man"]);
        expect(&o, 0, &[".TH sealtrail 1", ".SH NAME", "Exit status:"]);
        let o = sealtrail(&["man", "--tool", "verify-bundle"]);
        expect(&o, 0, &[".TH verify-bundle 1", "trusted\\-key"]);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("man1");
        let o = sealtrail(&["man", "--out", &out.display().to_string()]);
        expect(&o, 0, &["wrote the man pages"]);
        for page in [
            "sealtrail.1",
            "sealtrail-export.1",
            "sealtrail-erase.1",
            "verify-bundle.1",
        ] {
            let text = std::fs::read_to_string(out.join(page)).unwrap();
            assert!(text.contains(".TH "), "{page}");
        }
    }

    #[test]
    fn errors_are_json_on_stdout_under_json() {
        let d = Disk::new(0);
        // From a command.
        let o = sealtrail(&["verify", "--log", "/no/such/log", "--json"]);
        let message = json_error(&o, 2);
        assert!(message.contains("/no/such/log"), "{message}");
        let o = d.export(&["--withhold-kind", "modle_call", "--json"]);
        let message = json_error(&o, 2);
        assert!(message.contains("model_call"), "{message}");
        let o = d.erase(d.r[6].seq, &["--json"]);
        let message = json_error(&o, 1);
        assert!(message.contains("cannot be erased"), "{message}");
        // From the argument parser.
        let o = sealtrail(&["keys", "list", "--json", "--bogus"]);
        let message = json_error(&o, 2);
        assert!(message.contains("--bogus"), "{message}");
        // Without --json, nothing on stdout.
        let o = sealtrail(&["verify", "--log", "/no/such/log"]);
        assert_eq!(o.code, 2);
        assert!(o.stdout.is_empty(), "{}", o.stdout);
    }
}
