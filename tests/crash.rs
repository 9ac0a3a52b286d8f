//! Crash safety under `kill -9`: a child process appends with Immediate durability from several
//! threads and prints a receipt the moment each append returns; the parent kills it with SIGKILL
//! at a random moment, reopens the log, and checks that every acknowledged entry is there with the
//! same hash and that the whole log verifies. Then it does it again, on the same log. Every other
//! round the child opens the log Buffered instead and appends batches of more than 4 MiB, each
//! acknowledged once `flush` returns: such a flush checkpoints sled rather than writing the WAL.
//!
//! `cargo test --test crash` runs 50 rounds; a longer run:
//! `SEALTRAIL_CRASH_ROUNDS=1000 cargo test --release --test crash -- --nocapture`.
#![cfg(all(unix, feature = "sled"))]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use sealtrail::log::OpenError;
use sealtrail::registry::Role;
use sealtrail::{Durability, EntryHash, Log, SecretKey, SessionId};

const ORIGIN: &str = "example.com/crash-test";
const CHILD_ENV: &str = "SEALTRAIL_CRASH_CHILD";
/// Set for a child that appends Buffered batches and flushes.
const BUFFERED_ENV: &str = "SEALTRAIL_CRASH_BUFFERED";

fn owner() -> SecretKey {
    SecretKey::from_seed(ORIGIN, &[1; 32]).unwrap()
}

fn recorder() -> SecretKey {
    SecretKey::from_seed("recorder", &[2; 32]).unwrap()
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

/// The child: appends until killed. Not a test on its own: it returns at once unless the parent
/// started it. Immediate: four threads append one entry at a time, payloads up to 2,000 bytes
/// (some large enough to spill sled pages). Buffered: two threads append batches of 1,100
/// entries of 3,000–5,000 bytes (about 4.4 MiB) and flush after each.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let path = std::path::Path::new(&dir);
    let buffered = std::env::var(BUFFERED_ENV).is_ok();
    let builder = || {
        Log::builder().durability(if buffered {
            Durability::Buffered
        } else {
            Durability::Immediate
        })
    };
    // A kill during a previous child's `create` leaves no descriptor: create again.
    let log = match builder().open(path) {
        Ok(log) => log,
        Err(OpenError::NotALog) => builder().create(path, &owner(), ORIGIN).unwrap(),
        Err(e) => panic!("{e}"),
    };
    if log.keys().iter().all(|k| k.key != recorder().key_id()) {
        log.register_key(&owner(), recorder().key_id(), Role::Recorder, "crash test")
            .unwrap();
        log.flush().unwrap();
    }
    let (threads, batch, least, spread) = if buffered {
        (2, 1_100, 3_000, 2_000)
    } else {
        (4, 1, 0, 2_000)
    };
    let out = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|s| {
        for t in 0..threads {
            let log = log.clone();
            let out = &out;
            s.spawn(move || {
                let key = recorder();
                let session = SessionId::new(&format!("child-{t}")).unwrap();
                for i in 0u64.. {
                    let records = (0..batch)
                        .map(|j| {
                            let size = least + (random_u64() % spread) as usize;
                            let body = (t, i, j, serde_bytes::ByteBuf::from(vec![0x5a; size]));
                            sealtrail_testkit::fixtures::note(&body).session(&session)
                        })
                        .collect();
                    let receipts = log.append_batch(&key, records).unwrap();
                    if buffered {
                        log.flush().unwrap();
                    }
                    let mut o = out.lock().unwrap();
                    for r in receipts {
                        writeln!(o, "ACK {} {}", r.seq, r.hash).unwrap();
                    }
                    o.flush().unwrap();
                }
            });
        }
    });
}

#[test]
fn kill_nine_loses_nothing_acknowledged() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let rounds: usize = std::env::var("SEALTRAIL_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acknowledged: BTreeMap<u64, EntryHash> = BTreeMap::new();
    let mut total = 0;
    let mut path = dir.path().join("log-0");
    for round in 0..rounds {
        // A fresh log every ten rounds keeps each verification short; within a log, every
        // round reopens what the previous kill left.
        if round % 10 == 0 {
            total += acknowledged.len();
            acknowledged.clear();
            path = dir.path().join(format!("log-{round}"));
        }
        let buffered = round % 2 == 1;
        let mut command = Command::new(&exe);
        command
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if buffered {
            command.env(BUFFERED_ENV, "1");
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split_whitespace();
                if parts.next() == Some("ACK") {
                    let seq: u64 = parts.next().unwrap().parse().unwrap();
                    let hash: EntryHash = parts.next().unwrap().parse().unwrap();
                    acks.push((seq, hash));
                }
            }
            acks
        });
        // Let it run for a random while: sometimes it dies while opening, sometimes mid-stream.
        // A Buffered child needs longer to sign a whole batch and flush it.
        let (least, spread) = if buffered { (50, 400) } else { (5, 150) };
        std::thread::sleep(Duration::from_millis(least + random_u64() % spread));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acks = reader.join().unwrap();
        for (seq, hash) in &acks {
            assert!(
                acknowledged.insert(*seq, *hash).is_none_or(|h| h == *hash),
                "round {round}: entry {seq} acknowledged twice with different hashes"
            );
        }

        let log = match Log::open(&path) {
            Ok(log) => log,
            // Killed before the descriptor was durable: nothing was acknowledged.
            Err(OpenError::NotALog) if acknowledged.is_empty() => continue,
            Err(e) => panic!("round {round}: the log does not reopen after kill -9: {e}"),
        };
        for (seq, hash) in &acknowledged {
            let stored = log
                .read(*seq)
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: acknowledged entry {seq} lost"));
            assert_eq!(stored.hash, *hash, "round {round}: entry {seq} changed");
        }
        let summary = log
            .verify()
            .unwrap_or_else(|e| panic!("round {round}: log does not verify after kill -9: {e}"));
        assert!(summary.entries >= acknowledged.len() as u64);
    }
    total += acknowledged.len();
    assert!(
        total > rounds,
        "the child acknowledged only {total} entries in {rounds} rounds"
    );
}
