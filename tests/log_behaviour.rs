//! Appends, reads, reopening, concurrency and refused input.

use std::collections::HashSet;
use std::sync::Arc;

use sealtrail::codec::DecodeError;
use sealtrail::log::{AppendError, LogVerifyError};
use sealtrail::registry::{RegistryError, Role, SignerError};
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{Durability, Link, Log, Record, SessionId, Suite};
use sealtrail_testkit::fixtures::*;

#[test]
fn reads_by_seq_range_and_session() {
    let (_store, log, k) = memory_log(Suite::Blake3, Durability::Buffered);
    let r = populate(&log, &k);
    assert_eq!(log.len(), r.len() as u64);
    let e = log.read(r[5].seq).unwrap().unwrap();
    assert_eq!(e.hash, r[5].hash);
    assert_eq!(e.header().kind.as_str(), "decision");
    assert_eq!(e.header().links.len(), 2);
    assert!(log.read(1000).unwrap().is_none());
    let range: Vec<_> = log.range(2..5).map(|e| e.unwrap().seq()).collect();
    assert_eq!(range, [2, 3, 4]);
    let s1: Vec<_> = log
        .session(&SessionId::new("sess-1").unwrap())
        .unwrap()
        .iter()
        .map(|e| e.seq())
        .collect();
    assert_eq!(s1, [2, 3, 5, 6, 8, 9]);
    let s2: Vec<_> = log
        .session(&SessionId::new("sess-2").unwrap())
        .unwrap()
        .iter()
        .map(|e| e.seq())
        .collect();
    assert_eq!(s2, [4, 7]);
    assert!(
        log.session(&SessionId::new("nope").unwrap())
            .unwrap()
            .is_empty()
    );
    log.verify().unwrap();
}

fn reopen_keeps_everything(open: impl Fn() -> Log) {
    let k = keys();
    let receipts = {
        let log = open();
        populate(&log, &k)
    };
    let log = open();
    assert_eq!(log.len(), receipts.len() as u64);
    for r in &receipts {
        assert_eq!(log.read(r.seq).unwrap().unwrap().hash, r.hash);
    }
    log.verify().unwrap();
    // The chain continues across the reopen, and the registry was rebuilt.
    let s = SessionId::new("sess-1").unwrap();
    let next = log.append(&k.recorder, note(&"x").session(&s)).unwrap();
    assert_eq!(next.seq, receipts.len() as u64);
    assert_eq!(
        log.read(next.seq).unwrap().unwrap().header().prev,
        receipts.last().unwrap().hash
    );
    assert_eq!(log.session(&s).unwrap().last().unwrap().seq(), next.seq);
    log.verify().unwrap();
}

#[test]
fn reopen_in_memory() {
    let store = Arc::new(MemoryStore::new());
    let k = keys();
    Log::builder()
        .create_in(store.clone(), &k.owner, ORIGIN)
        .unwrap();
    reopen_keeps_everything(|| Log::builder().open_in(store.clone()).unwrap());
}

#[cfg(feature = "sled")]
#[test]
fn reopen_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let k = keys();
    drop(Log::create(&path, &k.owner, ORIGIN).unwrap());
    reopen_keeps_everything(|| Log::open(&path).unwrap());
    // Buffered appends are kept once flushed.
    let log = Log::builder()
        .durability(Durability::Buffered)
        .open(&path)
        .unwrap();
    let n = log.len();
    for _ in 0..100 {
        log.append(&k.recorder, note(&1)).unwrap();
    }
    log.flush().unwrap();
    drop(log);
    let log = Log::open(&path).unwrap();
    assert_eq!(log.len(), n + 100);
    log.verify().unwrap();
}

#[cfg(feature = "sled")]
#[test]
fn create_and_open_refuse_the_wrong_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let k = keys();
    assert!(matches!(
        Log::open(&path),
        Err(sealtrail::log::OpenError::NotALog)
    ));
    drop(Log::create(&path, &k.owner, ORIGIN).unwrap());
    assert!(matches!(
        Log::create(&path, &k.owner, ORIGIN),
        Err(sealtrail::log::OpenError::AlreadyExists)
    ));
}

fn concurrent_appends(log: Log, recorder: sealtrail::SecretKey) {
    const THREADS: u64 = 8;
    const EACH: u64 = 5_000;
    let start = log.len();
    let receipts: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let log = log.clone();
                let recorder = recorder.clone();
                s.spawn(move || {
                    let session = SessionId::new(&format!("thread-{t}")).unwrap();
                    (0..EACH)
                        .map(|i| {
                            log.append(&recorder, note(&(t, i)).session(&session))
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(receipts.len() as u64, THREADS * EACH);
    let seqs: HashSet<u64> = receipts.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs.len() as u64,
        THREADS * EACH,
        "sequence numbers are unique"
    );
    assert_eq!(
        seqs,
        (start..start + THREADS * EACH).collect::<HashSet<_>>(),
        "sequence numbers are gapless"
    );
    assert_eq!(log.len(), start + THREADS * EACH);
    let summary = log.verify().unwrap();
    assert_eq!(summary.entries, start + THREADS * EACH);
    for t in 0..THREADS {
        let n = log
            .session(&SessionId::new(&format!("thread-{t}")).unwrap())
            .unwrap()
            .len();
        assert_eq!(n as u64, EACH);
    }
}

#[cfg(feature = "sled")]
#[test]
fn eight_threads_of_immediate_appends_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys();
    let log = Log::create(&dir.path().join("log"), &k.owner, ORIGIN).unwrap();
    assert_eq!(log.durability(), Durability::Immediate);
    log.register_key(&k.owner, k.recorder.key_id(), Role::Recorder, "r")
        .unwrap();
    concurrent_appends(log.clone(), k.recorder.clone());
    drop(log);
    let log = Log::open(&dir.path().join("log")).unwrap();
    assert_eq!(log.len(), 40_001);
    log.verify().unwrap();
}

#[test]
fn eight_threads_in_memory() {
    let (_s, log, k) = memory_log(Suite::Sha256, Durability::Immediate);
    log.register_key(&k.owner, k.recorder.key_id(), Role::Recorder, "r")
        .unwrap();
    concurrent_appends(log, k.recorder);
}

/// Every refused append leaves the log exactly as it was.
#[test]
fn bad_input_is_refused_with_a_typed_error_and_changes_nothing() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    let before = store.dump();
    let len = log.len();
    let s = SessionId::new("sess-1").unwrap();
    // A record of raw payload bytes, for the checks made before the payload's schema.
    let rec = |p: Vec<u8>| Record::new(kind("custom"), p).session(&s);

    let check_unchanged = |what: &str| {
        assert_eq!(log.len(), len, "{what}");
        assert!(store.dump() == before, "{what}: store changed");
    };

    // Not CBOR at all, trailing bytes, a non-canonical integer, a float, unsorted keys.
    for (bytes, what) in [
        (vec![0xff], "break byte"),
        (vec![0x01, 0x02], "trailing"),
        (vec![0x18, 0x01], "non-shortest"),
        (vec![0xf9, 0x3c, 0x00], "float"),
        (vec![0xa2, 0x02, 0x00, 0x01, 0x00], "unsorted map"),
        (vec![], "empty"),
    ] {
        let err = log.append(&k.recorder, rec(bytes)).unwrap_err();
        assert!(
            matches!(err, AppendError::Payload { index: 0, .. }),
            "{what}: {err}"
        );
        check_unchanged(what);
    }
    let err = log.append(&k.recorder, rec(vec![0x18, 0x01])).unwrap_err();
    assert!(matches!(
        err,
        AppendError::Payload {
            source: DecodeError::NotShortest { offset: 0 },
            ..
        }
    ));

    // An unknown signer.
    let err = log.append(&k.outsider, note(&1).session(&s)).unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::Signer {
                source: SignerError::Unknown(_),
                ..
            }
        ),
        "{err}"
    );
    check_unchanged("unknown signer");

    // Roles: a recorder may not approve, an approver may not record, the owner may not record.
    let registration = payload(&sealtrail::registry::KeyRegistration::new(
        k.outsider.key_id(),
        Role::Recorder,
        "self-appointed",
    ));
    for (key, kind_name, record) in [
        (&k.recorder, "approval", approval_of(&log, &[r[2]])),
        (&k.approver, "command_run", command("cargo test", 0, 1)),
        (&k.owner, "command_run", command("cargo test", 0, 1)),
        (
            &k.recorder,
            "key_register",
            Record::new(kind("key_register"), registration),
        ),
    ] {
        let err = log.append(key, record).unwrap_err();
        assert!(
            matches!(
                err,
                AppendError::Signer {
                    source: SignerError::RoleNotPermitted { .. },
                    ..
                }
            ),
            "{kind_name}: {err}"
        );
        check_unchanged(kind_name);
    }

    // Payload over the cap.
    let small = Log::builder()
        .max_payload_size(100)
        .open_in(store.clone())
        .unwrap();
    let err = small
        .append(
            &k.recorder,
            note(&serde_bytes::ByteBuf::from(vec![0u8; 200])).session(&s),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::PayloadTooLarge {
                size: 230,
                max: 100,
                ..
            }
        ),
        "{err}"
    );
    drop(small);
    check_unchanged("over cap");

    // Links: to the future, with the wrong hash.
    let err = log
        .append(
            &k.recorder,
            note(&1).session(&s).link(Link {
                seq: 999,
                hash: r[0].hash,
            }),
        )
        .unwrap_err();
    assert!(
        matches!(err, AppendError::Link { target: 999, .. }),
        "{err}"
    );
    let err = log
        .append(
            &k.recorder,
            note(&1).session(&s).link(Link {
                seq: 2,
                hash: r[0].hash,
            }),
        )
        .unwrap_err();
    assert!(matches!(err, AppendError::Link { target: 2, .. }), "{err}");
    check_unchanged("links");

    // Key management: re-binding a key, a weak key, revoking the last owner.
    let err = log
        .register_key(
            &k.owner,
            k.recorder.key_id(),
            Role::Approver,
            "someone else",
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::KeyChange {
                source: RegistryError::AlreadyRegistered(_),
                ..
            }
        ),
        "{err}"
    );
    let mut weak = [0u8; 32];
    weak[0] = 1;
    let err = log
        .register_key(&k.owner, sealtrail::KeyId(weak), Role::Recorder, "weak")
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::KeyChange {
                source: RegistryError::BadKey { .. },
                ..
            }
        ),
        "{err}"
    );
    let err = log
        .revoke_key(&k.owner, k.owner.key_id(), "oops")
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::KeyChange {
                source: RegistryError::LastOwner,
                ..
            }
        ),
        "{err}"
    );
    check_unchanged("key management");

    // A batch with one bad record appends nothing.
    let err = log
        .append_batch(
            &k.recorder,
            vec![note(&1).session(&s), rec(vec![0xff]), note(&2).session(&s)],
        )
        .unwrap_err();
    assert!(
        matches!(err, AppendError::Payload { index: 1, .. }),
        "{err}"
    );
    check_unchanged("batch");

    // A revoked key.
    log.revoke_key(&k.owner, k.recorder.key_id(), "laptop lost")
        .unwrap();
    let len = log.len();
    let err = log.append(&k.recorder, note(&1).session(&s)).unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::Signer {
                source: SignerError::Revoked { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(log.len(), len);

    // After all that, the log verifies and the next append lands at the next position.
    log.verify().unwrap();
    let last = log.read(len - 1).unwrap().unwrap();
    let next = log
        .append(
            &k.approver,
            approval_of(
                &log,
                &[sealtrail::Receipt {
                    seq: last.seq(),
                    hash: last.hash,
                    time: last.header().time,
                }],
            ),
        )
        .unwrap();
    assert_eq!(next.seq, len);
    log.verify().unwrap();
}

/// Rotation hands a key's role and name to a new key; the old one may not sign afterwards, and
/// verification agrees with the log.
#[test]
fn rotation_and_revocation_are_entries() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Buffered);
    populate(&log, &k);
    let new_recorder = sealtrail::SecretKey::from_seed("recorder2", &[9; 32]).unwrap();
    log.rotate_key(
        &k.owner,
        k.recorder.key_id(),
        new_recorder.key_id(),
        "scheduled",
    )
    .unwrap();
    let err = log.append(&k.recorder, note(&1)).unwrap_err();
    assert!(matches!(
        err,
        AppendError::Signer {
            source: SignerError::Revoked { .. },
            ..
        }
    ));
    log.append(&new_recorder, note(&1)).unwrap();
    let keys = log.keys();
    let rotated = keys
        .iter()
        .find(|r| r.key == new_recorder.key_id())
        .unwrap();
    assert_eq!(
        (rotated.role, rotated.name.as_str()),
        (Role::Recorder, "test harness")
    );
    // The owner rotates its own key; the new owner key then manages keys.
    let new_owner = sealtrail::SecretKey::from_seed("owner2", &[8; 32]).unwrap();
    log.rotate_key(&k.owner, k.owner.key_id(), new_owner.key_id(), "yearly")
        .unwrap();
    assert!(
        log.register_key(&k.owner, k.outsider.key_id(), Role::Recorder, "x")
            .is_err()
    );
    log.register_key(&new_owner, k.outsider.key_id(), Role::Recorder, "x")
        .unwrap();
    log.verify().unwrap();
    drop(log);
    // Reopening rebuilds the same registry.
    let log = Log::builder().open_in(store as Arc<dyn Store>).unwrap();
    assert!(log.append(&k.outsider, note(&1)).is_ok());
    assert!(log.append(&k.recorder, note(&1)).is_err());
    log.verify().unwrap();
}

#[test]
fn verify_names_the_store_failure_apart_from_invalid_entries() {
    let (_s, log, _k) = memory_log(Suite::Blake3, Durability::Immediate);
    assert!(matches!(log.verify(), Ok(s) if s.entries == 0));
    let empty = MemoryStore::new();
    assert!(matches!(
        sealtrail::log::verify_store(&empty),
        Err(LogVerifyError::NotALog)
    ));
}

/// A supplied clock is used for the descriptor and entries, and time never goes backwards even
/// when the clock does.
#[test]
fn clock_is_used_and_time_never_goes_backwards() {
    let k = keys();
    let readings = std::sync::Arc::new(std::sync::Mutex::new(vec![500u64, 900, 100, 1000, 1000]));
    let r2 = readings.clone();
    let clock = sealtrail::Clock::Fixed(std::sync::Arc::new(move || {
        let mut r = r2.lock().unwrap();
        sealtrail::Timestamp(if r.is_empty() { 2000 } else { r.remove(0) })
    }));
    let log = Log::builder()
        .clock(clock)
        .create_in(Arc::new(MemoryStore::new()), &k.owner, ORIGIN)
        .unwrap();
    assert_eq!(log.descriptor().descriptor().created.0, 500);
    let times: Vec<u64> = (0..4)
        .map(|i| {
            log.register_key(
                &k.owner,
                sealtrail::SecretKey::from_seed("x", &[10 + i; 32])
                    .unwrap()
                    .key_id(),
                Role::Recorder,
                "x",
            )
            .unwrap()
            .time
            .0
        })
        .collect();
    assert_eq!(times, [900, 900, 1000, 1000]);
    log.verify().unwrap();
}

/// The local report says what was proven, lists approvals with name, gate, meaning and time, and
/// erased payloads; a damaged log gives a finding naming the entry and the check.
#[test]
fn verify_report_says_what_was_proven() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    let report = log.verify_report().unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
    assert!(report.is_valid(), "{}", report.render());
    assert_eq!(report.entries, r.len() as u64);
    assert_eq!(report.approvals.len(), 1);
    let a = &report.approvals[0];
    assert_eq!(
        (
            a.printed_name.as_str(),
            a.approval.gate().as_str(),
            a.approval.meaning().as_str()
        ),
        ("Release Approver", "file_write", "approval")
    );
    assert_eq!(report.redacted.len(), 1);
    assert_eq!(
        report.redacted[0].reason,
        sealtrail::report::RedactionReason::Erased
    );
    assert_eq!(report.to_json()["redacted"][0]["reason"], "erased");
    assert_eq!(report.to_json()["schema"], "sealtrail.report/2");
    assert_eq!(report.sessions.len(), 2);
    let json = report.to_json();
    assert_eq!(json["verdict"], "valid");
    assert!(json["findings"].as_array().unwrap().is_empty());
    assert!(!report.proven.is_empty());

    let key = {
        let mut k = vec![0x01];
        k.extend_from_slice(&r[4].seq.to_be_bytes());
        k
    };
    let mut bad = store.get(&key).unwrap().unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    store.put(&key, &bad).unwrap();
    let report = log.verify_report().unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
    assert!(!report.is_valid());
    assert!(report.proven.is_empty());
    assert_eq!(report.findings[0].seq, Some(r[4].seq));
    assert_eq!(report.to_json()["verdict"], "invalid");
}

/// A payload that is not the event its kind names, or a kind no reader knows, is refused with a
/// typed error and nothing is written: once written, it would make every reader of its session
/// fail (SPEC §13.4).
#[test]
fn malformed_events_and_unknown_kinds_are_refused_and_nothing_is_written() {
    use sealtrail::event::{CommandRun, Event, EventDecodeError};
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    let s = SessionId::new("sess-1").unwrap();
    let before = store.dump();
    let len = log.len();
    let raw = |kind_name: &str, body: Vec<u8>| Record::new(kind(kind_name), body).session(&s);
    let valid_run = Event::CommandRun(CommandRun {
        command: "cargo test".into(),
        exit_code: Some(0),
        duration_ms: 41_000,
        ..CommandRun::default()
    })
    .encode()
    .unwrap();
    let cases: Vec<(&str, Record)> = vec![
        // The tuple and bare-string payloads an earlier README wrote.
        (
            "command_run as a tuple",
            raw("command_run", payload(&("cargo test", 0, 41_000))),
        ),
        (
            "failure_seen as a string",
            raw("failure_seen", payload(&"3 tests fail")),
        ),
        (
            "decision without its rationale",
            raw(
                "decision",
                payload(&std::collections::BTreeMap::from([
                    ("chosen", "a"),
                    ("question", "q"),
                ])),
            ),
        ),
        ("a misspelled kind", raw("comand_run", valid_run.clone())),
        ("a kind outside the vocabulary", raw("note", payload(&1))),
        (
            "an erasure with no link",
            raw(
                "erasure",
                payload(&std::collections::BTreeMap::from([("reason", "gdpr")])),
            ),
        ),
    ];
    for (what, record) in cases {
        let err = log.append(&k.recorder, record).unwrap_err();
        assert!(
            matches!(
                err,
                AppendError::Event {
                    source: EventDecodeError::Payload { .. } | EventDecodeError::Invalid { .. },
                    ..
                } | AppendError::UnknownKind { .. }
                    | AppendError::Erasure { .. }
            ),
            "{what}: {err}"
        );
        assert_eq!(log.len(), len, "{what}");
        assert!(store.dump() == before, "{what}: the store changed");
    }
    let err = log
        .append(&k.recorder, raw("comand_run", valid_run.clone()))
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown kind `comand_run`"),
        "{err}"
    );
    // The same payload under its kind is written, and reads back as the event.
    let ok = log
        .append(&k.recorder, raw("command_run", valid_run).link(r[2].link()))
        .unwrap();
    let events = sealtrail::query::session_events(&log, &s).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.seq == ok.seq && matches!(e.event, Some(Event::CommandRun(_))))
    );
}

/// A store in memory that counts its flushes: each is an fsync on disk.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryStore,
    flushes: std::sync::atomic::AtomicUsize,
}

impl CountingStore {
    fn flushes(&self) -> usize {
        self.flushes.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Store for CountingStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, sealtrail::store::StoreError> {
        self.inner.get(key)
    }
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), sealtrail::store::StoreError> {
        self.inner.put(key, value)
    }
    fn delete(&self, key: &[u8]) -> Result<(), sealtrail::store::StoreError> {
        self.inner.delete(key)
    }
    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<sealtrail::store::Pair>, sealtrail::store::StoreError> {
        self.inner.scan(start, end, limit)
    }
    fn last(
        &self,
        start: &[u8],
        end: &[u8],
    ) -> Result<Option<sealtrail::store::Pair>, sealtrail::store::StoreError> {
        self.inner.last(start, end)
    }
    fn flush(&self) -> Result<(), sealtrail::store::StoreError> {
        self.flushes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.flush()
    }
}

// A hook opens the log, appends and closes it while other hooks wait: closing must not sync
// again what its Immediate appends already made durable, nor a log that was only read.
#[test]
fn closing_a_log_with_nothing_unflushed_syncs_nothing() {
    let k = keys();
    let store = Arc::new(CountingStore::default());
    let log = Log::builder()
        .durability(Durability::Immediate)
        .create_in(store.clone(), &k.owner, ORIGIN)
        .unwrap();
    log.register_key(&k.owner, k.recorder.key_id(), Role::Recorder, "harness")
        .unwrap();
    log.append(&k.recorder, note(&1)).unwrap();
    let after_appends = store.flushes();
    drop(log);
    assert_eq!(store.flushes(), after_appends, "closing synced again");

    let log = Log::builder().open_in(store.clone()).unwrap();
    assert_eq!(log.len(), 2);
    drop(log);
    assert_eq!(store.flushes(), after_appends, "a log only read was synced");

    // Buffered appends not yet flushed are flushed on close, as before.
    let log = Log::builder()
        .durability(Durability::Buffered)
        .open_in(store.clone())
        .unwrap();
    log.append(&k.recorder, note(&2)).unwrap();
    drop(log);
    assert_eq!(store.flushes(), after_appends + 1);
    assert_eq!(Log::builder().open_in(store).unwrap().len(), 3);
}
