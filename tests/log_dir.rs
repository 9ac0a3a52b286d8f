//! The log directory (SPEC §9.7): entries in segment files, sled only a derived index that is
//! rebuilt when missing, readers that open beside the writer, and no second copy of any byte.

#![cfg(feature = "sled")]

use std::path::Path;

use sealtrail::log::AppendError;
use sealtrail::registry::Role;
use sealtrail::store::StoreError;
use sealtrail::{Log, SessionId};
use sealtrail_testkit::fixtures::{keys, note};

const ORIGIN: &str = "example.com/fixture";

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn occurrences(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// A new log whose fixture recorder key is registered.
fn recorder_log(path: &Path) -> Log {
    let k = keys();
    let log = Log::create(path, &k.owner, ORIGIN).unwrap();
    log.register_key(&k.owner, k.recorder.key_id(), Role::Recorder, "harness")
        .unwrap();
    log
}

/// A log of three interleaved sessions, 300 entries, with a checkpoint.
fn sessions_log(path: &Path) -> Log {
    let k = keys();
    let log = recorder_log(path);
    for i in 0..300u32 {
        let s = SessionId::new(&format!("s-{}", (i / 7) % 3)).unwrap();
        log.append(&k.recorder, note(&i).session(&s)).unwrap();
    }
    log.checkpoint(&k.owner).unwrap();
    log
}

#[test]
fn a_missing_index_is_rebuilt_from_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = sessions_log(&path);
    let s1 = SessionId::new("s-1").unwrap();
    let before: Vec<u64> = log.session(&s1).unwrap().iter().map(|e| e.seq()).collect();
    let proofs: Vec<_> = [0, 17, 150, 299]
        .iter()
        .map(|&i| log.prove(i).unwrap())
        .collect();
    drop(log);

    // The index is derived data: without it the log opens, and answers the same.
    std::fs::remove_dir_all(path.join("index")).unwrap();
    let log = Log::open(&path).unwrap();
    let after: Vec<u64> = log.session(&s1).unwrap().iter().map(|e| e.seq()).collect();
    assert_eq!(before, after);
    assert!(before.len() > 90);
    for (p, &i) in proofs.iter().zip(&[0, 17, 150, 299]) {
        assert_eq!(log.prove(i).unwrap().encode(), p.encode(), "proof of {i}");
    }
    log.verify().unwrap();
}

/// An index sled cannot read — its settings file torn by a crash, or written by another
/// version — is derived data too: the open removes it and builds it again from the entries.
#[test]
fn an_index_sled_cannot_read_is_rebuilt_from_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = sessions_log(&path);
    let s1 = SessionId::new("s-1").unwrap();
    let before: Vec<u64> = log.session(&s1).unwrap().iter().map(|e| e.seq()).collect();
    drop(log);
    let conf = path.join("index").join("conf");
    assert!(conf.exists(), "sled keeps its settings in index/conf");
    let torn = b"segment_size: 524288\nuse_compr".to_vec();
    let other_version =
        b"segment_size: 524288\nuse_compression: false\nversion: 0.1\n\0\0\0\0".to_vec();
    for damage in [torn, other_version] {
        std::fs::write(&conf, &damage).unwrap();
        let log = Log::open(&path)
            .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&damage)));
        let after: Vec<u64> = log.session(&s1).unwrap().iter().map(|e| e.seq()).collect();
        assert_eq!(before, after);
        log.verify().unwrap();
        drop(log);
        assert_ne!(
            std::fs::read(&conf).unwrap(),
            damage,
            "the index was not rebuilt"
        );
    }
}

/// The log's sled index, opened by hand once a closed log has let go of it. sled's lock on
/// `index/db` can outlive the handle for a moment (sled's threads), and a child process that
/// another test is starting holds it until it execs; the library's open waits for both
/// (`SLED_RELEASE_WAIT`), and so does this, for at most ten seconds.
fn open_released_index(path: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match sled::open(path.join("index")) {
            Err(sled::Error::Io(e))
                if e.to_string().starts_with("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
}

fn seqs(entries: Vec<sealtrail::StoredEntry>) -> Vec<u64> {
    entries.iter().map(|e| e.seq()).collect()
}

/// Damage that sled reports only when a query reads it — here a run pack of another form than
/// the store writes, put there through sled itself, so that sled opens the index and reads its
/// state without complaint — is derived data too: the store sets the index aside, the query
/// that found it rebuilds it from the entries while appends to the same session go on, and
/// every answer is whole. The next open starts the index afresh.
#[test]
fn index_damage_found_by_a_query_is_rebuilt_beside_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = sessions_log(&path);
    let s1 = SessionId::new("s-1").unwrap();
    let before = seqs(log.session(&s1).unwrap());
    drop(log);
    {
        let db = open_released_index(&path);
        // The first pack of s-1's run markers (`0x02 ‖ 3 ‖ "s-1" ‖ seq`) loses its tail.
        let (key, _) = db.scan_prefix(b"\x02\x03s-1").next().unwrap().unwrap();
        db.insert(key, &[1, 2, 3][..]).unwrap();
        db.flush().unwrap();
    }
    let log = Log::open(&path).unwrap();
    let k = keys();
    let (threads, each) = (4, 50u32);
    std::thread::scope(|t| {
        let appenders: Vec<_> = (0..threads)
            .map(|_| {
                t.spawn(|| {
                    for i in 0..each {
                        log.append(&k.recorder, note(&i).session(&s1)).unwrap();
                    }
                })
            })
            .collect();
        // Two threads query: one finds the damage and rebuilds, the other must wait for it
        // rather than answer from the index being rebuilt.
        let query = || {
            let mut answers = 0;
            while answers < 3 || !appenders.iter().all(|a| a.is_finished()) {
                let got = log.session(&s1);
                let got = seqs(got.unwrap_or_else(|e| panic!("answer {answers}: {e}")));
                assert!(got.starts_with(&before), "answer {answers}: {got:?}");
                assert!(got.windows(2).all(|w| w[0] < w[1]), "answer {answers}");
                answers += 1;
            }
        };
        std::thread::scope(|q| {
            q.spawn(query);
            q.spawn(query);
        });
    });
    let all = seqs(log.session(&s1).unwrap());
    assert_eq!(all.len(), before.len() + (threads * each) as usize);
    assert!(
        path.join("index.stale").exists(),
        "the damaged index is marked"
    );
    log.verify().unwrap();
    drop(log);

    let log = Log::open(&path).unwrap();
    assert!(!path.join("index.stale").exists());
    assert_eq!(seqs(log.session(&s1).unwrap()), all);
    drop(log);
    let db = open_released_index(&path);
    assert!(
        db.iter().all(|kv| kv.unwrap().1.len() % 8 == 0),
        "the index was built afresh"
    );
}

/// Bytes of sled's own file overwritten (a lost or scribbled block) make sled 0.34's open
/// panic, at some places, rather than report damage. The index is derived data: the open
/// survives it, removes the index and builds it again, and every session reads whole.
#[test]
fn a_scribbled_index_file_is_rebuilt_even_where_sled_panics_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let k = keys();
    let log = recorder_log(&path);
    let sessions: Vec<SessionId> = (0..500)
        .map(|i| SessionId::new(&format!("session-{i}")).unwrap())
        .collect();
    for i in 0..20_000u32 {
        let s = &sessions[i as usize % sessions.len()];
        log.append(&k.recorder, note(&i).session(s)).unwrap();
    }
    let whole: Vec<Vec<u64>> = sessions
        .iter()
        .map(|s| seqs(log.session(s).unwrap()))
        .collect();
    drop(log);
    let db = path.join("index").join("db");
    for at in [0.1, 0.3, 0.5, 0.7, 0.9] {
        let mut bytes = std::fs::read(&db).unwrap();
        let from = (bytes.len() as f64 * at) as usize;
        for b in &mut bytes[from..from + 64] {
            *b ^= 0xff;
        }
        std::fs::write(&db, &bytes).unwrap();
        let log = Log::open(&path).unwrap_or_else(|e| panic!("at {at}: {e}"));
        for (s, want) in sessions.iter().zip(&whole) {
            assert_eq!(&seqs(log.session(s).unwrap()), want, "at {at}, {s}");
        }
    }
}

#[test]
fn a_reader_opens_beside_the_writer_and_cannot_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = sessions_log(&path);
    let k = keys();
    // The writer holds the log; a reader opens anyway, in this process or any other.
    let reader = Log::builder().open_read_only(&path).unwrap();
    assert_eq!(reader.len(), log.len());
    let s0 = SessionId::new("s-0").unwrap();
    assert_eq!(
        reader.session(&s0).unwrap().len(),
        log.session(&s0).unwrap().len()
    );
    assert_eq!(
        reader.prove(42).unwrap().encode(),
        log.prove(42).unwrap().encode()
    );
    reader.verify().unwrap();
    // It sees what was written when it opened, not what is appended after.
    log.append(&k.recorder, note("later")).unwrap();
    assert_eq!(reader.len() + 1, log.len());
    let err = reader.append(&k.recorder, note("refused")).unwrap_err();
    assert!(
        matches!(err, AppendError::Store(StoreError::ReadOnly { .. })),
        "{err:?}"
    );
    // A second writer is still refused.
    assert!(Log::open(&path).is_err());
}

#[test]
fn every_payload_byte_is_on_disk_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let k = keys();
    let log = recorder_log(&path);
    let marker = "payload-marker-5f1c2e9a7b3d";
    for i in 0..200 {
        log.append(&k.recorder, note(&format!("{marker}-{i:04}")))
            .unwrap();
    }
    drop(log);
    let mut found = 0;
    for f in files_under(&path) {
        let bytes = std::fs::read(&f).unwrap();
        let n = occurrences(&bytes, marker.as_bytes());
        if n > 0 {
            assert!(
                f.starts_with(path.join("entries")),
                "{} holds a payload",
                f.display()
            );
        }
        found += n;
    }
    // No write-ahead log and no copy in the index: each payload once, in its segment.
    assert_eq!(found, 200);
}

#[test]
fn an_erased_payload_is_found_nowhere_under_the_log_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let k = keys();
    let log = recorder_log(&path);
    let secret = "erase-me-7d41c09b2e55";
    let mut erased = Vec::new();
    for i in 0..120 {
        let body = if i % 40 == 7 {
            format!("{secret}-{i:03}")
        } else {
            format!("kept-{i:03}")
        };
        let r = log.append(&k.recorder, note(&body)).unwrap();
        if body.starts_with(secret) {
            erased.push(r.seq);
        }
    }
    log.checkpoint(&k.owner).unwrap();
    let proof_before = log.prove(erased[1]).unwrap().encode();
    // Erased while the writer goes on appending after each erasure.
    for &seq in &erased {
        log.erase_payload(&k.owner, seq, "data subject request")
            .unwrap();
        log.append(&k.recorder, note("after the erasure")).unwrap();
    }
    // A raw scan of every file: the payload's bytes are gone, with the writer still open…
    let scan = |what: &str| {
        for f in files_under(&path) {
            let bytes = std::fs::read(&f).unwrap();
            assert_eq!(
                occurrences(&bytes, secret.as_bytes()),
                0,
                "{what}: {} still holds an erased payload",
                f.display()
            );
        }
    };
    scan("open");
    // …the entries, their commitments and every proof still verify…
    log.verify().unwrap();
    assert_eq!(log.prove(erased[1]).unwrap().encode(), proof_before);
    assert!(
        log.read(erased[0])
            .unwrap()
            .unwrap()
            .payload
            .data()
            .is_none()
    );
    let kept = log.read(erased[0] + 1).unwrap().unwrap();
    assert!(kept.payload.data().is_some());
    drop(log);
    // …and after closing and reopening, for writers and readers.
    scan("closed");
    let log = Log::open(&path).unwrap();
    log.verify().unwrap();
    assert!(
        log.read(erased[2])
            .unwrap()
            .unwrap()
            .payload
            .data()
            .is_none()
    );
    drop(log);
    let reader = Log::builder().open_read_only(&path).unwrap();
    reader.verify().unwrap();
    scan("reopened");
}

/// SPEC §9.7.2: a bit flipped in an early entry of a closed log is damage. Opening reports it,
/// naming the segment and the offset, and cuts nothing; read-only opens report it too.
#[test]
fn a_flipped_bit_in_an_early_entry_is_reported_not_cut() {
    use sealtrail::log::OpenError;
    use sealtrail::segment::{Corruption, SegmentError};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = sessions_log(&path);
    log.flush().unwrap();
    drop(log);
    let segment = path.join("entries").join("00000000000000000000.seg");
    let mut bytes = std::fs::read(&segment).unwrap();
    let len = bytes.len();
    // Inside one of the first records: the 56-byte header, then frames.
    let at = 56 + 3 * 12 + 200;
    bytes[at] ^= 0x04;
    std::fs::write(&segment, &bytes).unwrap();
    let check = |e: OpenError| match e {
        OpenError::Store(StoreError::Segments {
            dir,
            source:
                SegmentError::Corrupt {
                    segment: 0,
                    offset,
                    problem: Corruption::BeforeDurable { found, .. },
                },
        }) => {
            assert!(dir.ends_with("entries"), "{}", dir.display());
            assert!((56..=at as u64).contains(&offset), "offset {offset}");
            assert!(found < 3, "{found} records before the damage");
        }
        other => panic!("not reported as damage: {other}"),
    };
    check(Log::open(&path).unwrap_err());
    check(Log::builder().open_read_only(&path).unwrap_err());
    assert_eq!(std::fs::metadata(&segment).unwrap().len() as usize, len);
}

/// An open that rebuilds the index reports its progress: counts that never go down, one total,
/// the last call at the total; a read-only open (its index is built in memory) reports too.
#[test]
fn an_index_rebuild_reports_monotone_progress() {
    use sealtrail::log::IndexProgress;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let k = keys();
    let log = recorder_log(&path);
    for _ in 0..10 {
        let batch = (0..1000u32).map(|i| note(&i)).collect();
        log.append_batch(&k.recorder, batch).unwrap();
    }
    log.flush().unwrap();
    let len = log.len();
    drop(log);
    std::fs::remove_dir_all(path.join("index")).unwrap();

    let check = |calls: &[IndexProgress]| {
        assert!(calls.len() >= 3, "{calls:?}");
        assert!(calls.iter().all(|p| p.total == len), "{calls:?}");
        assert!(
            calls.windows(2).all(|w| w[0].done <= w[1].done),
            "{calls:?}"
        );
        assert_eq!(calls.last().unwrap().done, len, "{calls:?}");
    };
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = calls.clone();
    let log = Log::builder()
        .progress_after(std::time::Duration::ZERO)
        .on_index_progress(move |p| sink.lock().unwrap().push(p))
        .open(&path)
        .unwrap();
    check(&calls.lock().unwrap());
    drop(log);

    // The index is up to date now: nothing to rebuild, nothing reported.
    calls.lock().unwrap().clear();
    let sink = calls.clone();
    drop(
        Log::builder()
            .progress_after(std::time::Duration::ZERO)
            .on_index_progress(move |p| sink.lock().unwrap().push(p))
            .open(&path)
            .unwrap(),
    );
    assert!(calls.lock().unwrap().is_empty());

    // A read-only open indexes nothing (SPEC §9.7): its first session query builds its index
    // in memory, and reports that; later queries find it built.
    let sink = calls.clone();
    let reader = Log::builder()
        .progress_after(std::time::Duration::ZERO)
        .on_index_progress(move |p| sink.lock().unwrap().push(p))
        .open_read_only(&path)
        .unwrap();
    assert!(calls.lock().unwrap().is_empty(), "{:?}", calls.lock());
    assert_eq!(reader.len(), len);
    let none = SessionId::new("s-none").unwrap();
    assert!(reader.session(&none).unwrap().is_empty());
    check(&calls.lock().unwrap());
    calls.lock().unwrap().clear();
    assert!(reader.session(&none).unwrap().is_empty());
    assert!(calls.lock().unwrap().is_empty());
}

/// A log whose sessions come in runs of different lengths, entries outside any session between
/// them, and two sessions that appear once, one of them at the middle entry, where a rebuild
/// of the whole index splits its work between two threads: held sessions (SPEC §9.1) and run
/// markers of every shape. Over 10,000 entries, so that a rebuild is split.
fn varied_sessions_log(path: &Path) -> (Log, Vec<SessionId>) {
    let k = keys();
    let log = recorder_log(path);
    let names: Vec<SessionId> = ["alpha", "beta", "gamma", "delta", "epsilon"]
        .iter()
        .map(|s| SessionId::new(s).unwrap())
        .collect();
    let (before, n) = (log.len(), 10_000u32);
    let middle = ((before + u64::from(n)) / 2 - before) as u32;
    for i in 0..n {
        let record = note(&i);
        let record = match (i % 13, i % 5) {
            _ if i == 201 => record.session(&names[3]),
            _ if i == middle => record.session(&names[4]),
            (0, _) => record,
            (_, 0 | 1) => record.session(&names[0]),
            (_, 2) => record.session(&names[1]),
            _ => record.session(&names[2]),
        };
        log.append(&k.recorder, record).unwrap();
    }
    log.flush().unwrap();
    (log, names)
}

/// A reader's session queries (its index built on first use, SPEC §9.7) answer exactly as the
/// writer's do (its index kept in sled), beside the writer and after it closes.
#[test]
fn a_reader_answers_session_queries_as_the_writer_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let (log, mut names) = varied_sessions_log(&path);
    names.push(SessionId::new("absent").unwrap());
    let seqs = |l: &Log, s: &SessionId| -> Vec<(u64, Vec<u8>)> {
        l.session(s)
            .unwrap()
            .iter()
            .map(|e| (e.seq(), e.entry.as_bytes().to_vec()))
            .collect()
    };
    let answers =
        |l: &Log| -> Vec<Vec<(u64, Vec<u8>)>> { names.iter().map(|s| seqs(l, s)).collect() };
    let written = answers(&log);
    // The writer's answers are the entries themselves, filtered: nothing the index says is
    // taken on trust.
    let truth: Vec<Vec<(u64, Vec<u8>)>> = names
        .iter()
        .map(|s| {
            log.range(0..log.len())
                .map(|e| e.unwrap())
                .filter(|e| e.header().session == *s)
                .map(|e| (e.seq(), e.entry.as_bytes().to_vec()))
                .collect()
        })
        .collect();
    assert_eq!(written, truth);
    assert!(written[0].len() > 100 && written[1].len() > 50 && written[2].len() > 50);
    assert_eq!(written[3].len(), 1);
    assert_eq!(written[4].len(), 1);
    assert!(written[5].is_empty());
    // Beside the writer, then after it closes; one reader asked in another order.
    assert_eq!(
        answers(&Log::builder().open_read_only(&path).unwrap()),
        written
    );
    drop(log);
    let reader = Log::builder().open_read_only(&path).unwrap();
    for (s, expected) in names.iter().zip(&written).rev() {
        assert_eq!(&seqs(&reader, s), expected, "{s}");
    }
    assert_eq!(answers(&Log::open(&path).unwrap()), written);
    // A writer's open that rebuilds the whole index answers the same.
    std::fs::remove_dir_all(path.join("index")).unwrap();
    assert_eq!(answers(&Log::open(&path).unwrap()), written);
}
