//! Readers never wait for the writer (storage v2, SPEC §9.7): `sealtrail verify --log`, `show`
//! and `prove` run in their own processes while a writer appends from 16 threads, and every
//! call succeeds and sees a valid prefix of the log; reading changes no byte of the log
//! directory. Each appender writes a fixed number of entries, so the log's final size is known
//! and the test's work does not grow with how slowly the readers run.

#![cfg(feature = "sled")]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use sealtrail::registry::Role;
use sealtrail::{Durability, Log, SessionId};
use sealtrail_testkit::fixtures::{keys, note};
use serde_json::Value as Json;

const ORIGIN: &str = "example.com/fixture";
/// Appender threads.
const APPENDERS: u64 = 16;
/// Entries each appender writes before it stops.
const PER_APPENDER: u64 = 250;
/// Entries in the log before the appenders start: the recorder's registration and 20 notes.
const BEFORE: u64 = 21;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
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
fn ok(out: &Out) -> &Out {
    assert_eq!(
        out.code, 0,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    out
}

/// Every file under `dir` with its bytes: what a reader must leave as it was.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, p: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn readers_in_other_processes_never_wait_for_sixteen_appenders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let k = keys();
    let log = Log::builder()
        .durability(Durability::Immediate)
        .create(&path, &k.owner, ORIGIN)
        .unwrap();
    log.register_key(&k.owner, k.recorder.key_id(), Role::Recorder, "harness")
        .unwrap();
    let session = SessionId::new("s-3").unwrap();
    for i in 0..20 {
        log.append(&k.recorder, note(&i).session(&session)).unwrap();
    }
    log.checkpoint(&k.owner).unwrap();
    let l = path.display().to_string();

    assert_eq!(log.len(), BEFORE);

    let writers: Vec<_> = (0..APPENDERS)
        .map(|t| {
            let (log, k) = (log.clone(), keys());
            std::thread::spawn(move || {
                let s = SessionId::new(&format!("s-{t}")).unwrap();
                for n in 0..PER_APPENDER {
                    log.append(&k.recorder, note(&n).session(&s)).unwrap();
                }
            })
        })
        .collect();

    let mut last_len = 0;
    let mut last_session = 0;
    for round in 0..12 {
        // The whole log, verified beside the writer: valid, and never shorter than before.
        let v = run(&["verify", "--log", &l, "--json"]);
        let report: Json = serde_json::from_str(ok(&v).stdout.trim()).unwrap();
        assert_eq!(report["verdict"], "valid", "round {round}: {}", v.stdout);
        let len = report["entries"]
            .as_u64()
            .unwrap_or_else(|| panic!("entries in {}", v.stdout));
        assert!(len >= last_len, "round {round}: {len} after {last_len}");
        last_len = len;
        // One session's entries: a prefix of what its appender wrote, in order.
        let s = run(&["show", "--log", &l, "--session", "s-3", "--json"]);
        let lines: Vec<Json> = ok(&s)
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(lines.len() >= last_session, "round {round}");
        assert!(lines.len() >= 20, "round {round}: the first 20 are there");
        assert!(lines.len() as u64 <= 20 + PER_APPENDER, "round {round}");
        last_session = lines.len();
        let seqs: Vec<u64> = lines.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "round {round}: {seqs:?}"
        );
        // A proof from the checkpoint, beside the writer.
        ok(&run(&["prove", "--log", &l, "--seq", "5"]));
    }
    for w in writers {
        w.join().unwrap();
    }
    let total = log.len();
    assert_eq!(total, BEFORE + APPENDERS * PER_APPENDER);
    drop(log);
    assert!(last_len <= total);

    // Reading changes nothing: not a byte, not a file, once the writer is gone.
    let before = snapshot(&path);
    let v = run(&["verify", "--log", &l, "--json"]);
    let report: Json = serde_json::from_str(ok(&v).stdout.trim()).unwrap();
    assert_eq!(report["entries"].as_u64(), Some(total));
    let s = run(&["show", "--log", &l, "--session", "s-7", "--json"]);
    assert_eq!(ok(&s).stdout.lines().count() as u64, PER_APPENDER);
    ok(&run(&["prove", "--log", &l, "--seq", "5"]));
    let after = snapshot(&path);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    assert!(before == after, "a reader changed the log directory");
}
