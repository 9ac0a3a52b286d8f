//! Append throughput against its baselines, measured in the same run:
//!
//! * Buffered `Log::append` vs. the raw floor — the same work by hand: one Ed25519 signature,
//!   the BLAKE3 hashes (entry hash, payload commitment, Merkle leaf and the one interior node an
//!   append completes on average) and one sled insert of the same bytes, into a sled configured
//!   as the log's store configures it. The log is given a prepared payload, as the floor is.
//!   Target ≥ 0.85×. Beside it the raw floor: the same signing and hashing, then one
//!   buffered file write of the same bytes instead of the sled insert. Target ≥ 0.9×.
//! * Immediate `Log::append` with 1 and 16 concurrent appenders vs. one sled `flush()` per
//!   insert. Target: 16 appenders ≥ 5×. sled's `flush()` ends in `sync_file_range`, not an
//!   fsync, so the run also measures the durable baseline: flush plus `fdatasync` per insert.
//! * The durable floor with 16 appenders: each does the raw floor's signing and hashing (no
//!   sled insert: the log does none per entry), then waits for a lean group commit of its bytes (one buffer, write + `fdatasync` of a preallocated file, waiters
//!   woken outside the lock). It is what any durable signed append can reach on this machine, and
//!   its ratio to the flush-per-insert rate bounds what the 16-appender target can show here.
//! * Bytes on disk per entry for a 300-byte payload.
//!
//! Each measurement runs in four rounds (`APPEND_BENCH_ROUNDS` sets how many) interleaved with
//! its baselines, and each rate is the total over its rounds, so drift in the machine's speed
//! during the run affects both sides. Beside each targeted ratio the table prints the ratio of
//! every round and their median: on a disk shared with other machines, identical code has
//! shown durable ratios from 0.78× to 0.95× between runs, and the spread within one run says
//! how much of a shortfall is the disk's. Beside the targeted ratios it also prints the CPU
//! time (every thread of the process, from `/proc/self/stat`) per entry of each side: the work
//! each does, which the disk's speed moves far less than it moves rates.
//! The order alternates (the log after its baselines in even rounds, before them in odd ones),
//! so that what one row leaves behind for the next falls on both sides alike: with the log
//! always first, the durable floor ran faster after a log round than after one of its own.
//!
//! Run: `cargo bench --bench append`. A table of rates and ratios is printed at the end.
//! `APPEND_BENCH_ROWS=buffered,immediate16` (any of `buffered`, `immediate1`, `immediate16`,
//! `sled`, `disk`) runs only those rows and their baselines. The concurrent appenders each
//! record in a session of their own; `APPEND_BENCH_SESSION=shared` gives them one session.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use sealtrail::entry::{EntryHeader, Kind, Link, SessionId};
use sealtrail::event::{Custom, Event};
use sealtrail::hash::{EntryHash, LogId, PayloadCommitment, Salt};
use sealtrail::registry::Role;
use sealtrail::{Durability, KeyId, Log, Record, SecretKey, Suite, Timestamp};

const PAYLOAD_BYTES: usize = 300;

/// Entries, wall time and the process's CPU time (user and system, every thread) while they
/// were appended, accumulated over every sample criterion takes: for the whole run (`None`)
/// and for each round. CPU time is how much work a row does per entry, which a shared disk's
/// speed does not move as it moves rates.
static RATES: Mutex<BTreeMap<RateKey, Measured>> = Mutex::new(BTreeMap::new());

/// What [`record`] accumulates for a row.
#[derive(Default)]
struct Measured {
    entries: u64,
    took: Duration,
    cpu: Duration,
}

/// A row's name, and its round (`None`: every round).
type RateKey = (&'static str, Option<usize>);

/// The round being measured.
static ROUND: AtomicUsize = AtomicUsize::new(0);

/// Records `entries` appended in `took` under `name`, with the CPU time used since
/// `cpu_before` (a [`process_cpu`] reading; none recorded where there is none).
fn record(name: &'static str, entries: u64, took: Duration, cpu_before: Option<Duration>) {
    let cpu = cpu_before
        .zip(process_cpu())
        .map_or(Duration::ZERO, |(before, after)| {
            after.saturating_sub(before)
        });
    let round = ROUND.load(Ordering::Relaxed);
    let mut r = RATES.lock().unwrap();
    for key in [(name, None), (name, Some(round))] {
        let e = r.entry(key).or_default();
        e.entries += entries;
        e.took += took;
        e.cpu += cpu;
    }
}

/// The CPU time this process has used, from `/proc/self/stat` (`None` where there is none).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces:
    // utime and stime are the 14th and 15th fields, in clock ticks of 1/100 s.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Microseconds of CPU per entry of row `name`, over the whole run (`None` if none was read).
fn cpu_per_entry(name: &'static str) -> Option<f64> {
    let r = RATES.lock().unwrap();
    r.get(&(name, None))
        .filter(|m| m.entries > 0 && !m.cpu.is_zero())
        .map(|m| m.cpu.as_secs_f64() * 1e6 / m.entries as f64)
}

/// A line with the CPU per entry of `row` beside its `baseline`'s, if both were measured.
fn cpu_line(row: &'static str, baseline: &'static str) -> Option<String> {
    let (r, b) = (cpu_per_entry(row)?, cpu_per_entry(baseline)?);
    Some(format!(
        "{:<44} {:>12} {:>10}   {r:.1} us beside {b:.1} us ({:+.1} us, {:.2}x)",
        "  CPU per entry (all threads)",
        "",
        "",
        r - b,
        r / b
    ))
}

/// Runs `op` `iters` times and records the rate under `name`; returns the time taken.
fn timed(name: &'static str, iters: u64, mut op: impl FnMut()) -> Duration {
    let cpu = process_cpu();
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    let took = start.elapsed();
    record(name, iters, took, cpu);
    took
}

fn rate(name: &'static str) -> f64 {
    rate_in(name, None)
}

fn rate_in(name: &'static str, round: Option<usize>) -> f64 {
    let r = RATES.lock().unwrap();
    r.get(&(name, round))
        .map_or(0.0, |m| m.entries as f64 / m.took.as_secs_f64())
}

/// The ratio of `row` to `baseline` in each round, then their median: on a machine whose disk
/// is shared, the spread says how far one run's figure can be trusted.
fn per_round(row: &'static str, baseline: &'static str) -> String {
    let mut ratios: Vec<f64> = (0..rounds())
        .map(|i| rate_in(row, Some(i)) / rate_in(baseline, Some(i)))
        .filter(|r| r.is_finite())
        .collect();
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    ratios.sort_by(f64::total_cmp);
    let median = match ratios.len() {
        0 => return String::new(),
        n if n % 2 == 1 => ratios[n / 2],
        n => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
    };
    format!(
        "{:<44} {:>12} {:>9.2}x   rounds: {}",
        "  median of its rounds",
        "",
        median,
        shown.join(" ")
    )
}

/// The kind of every appended entry: a custom event (a built-in kind's payload must follow its
/// schema, and kinds outside the vocabulary are refused).
const KIND: &str = "custom";

fn payload() -> Vec<u8> {
    // A 300-byte canonical CBOR payload: a custom event whose body is a byte string.
    let with = |n: usize| {
        let body = serde_bytes::ByteBuf::from(vec![0x5a; n]);
        let event = Event::Custom(Custom::new("bench.example/record", &body).unwrap());
        let record = event.to_record().unwrap();
        assert_eq!(record.kind().as_str(), KIND);
        record.payload().to_vec()
    };
    let overhead = with(0).len();
    (PAYLOAD_BYTES.saturating_sub(overhead + 4)..PAYLOAD_BYTES)
        .map(with)
        .find(|p| p.len() == PAYLOAD_BYTES)
        .expect("a body size that makes 300 bytes")
}

struct Fixture {
    _dir: tempfile::TempDir,
    log: Log,
    recorder: SecretKey,
}

fn owner() -> SecretKey {
    SecretKey::from_seed("bench.example/log", &[1; 32]).unwrap()
}

fn fixture(durability: Durability) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let owner = owner();
    let recorder = SecretKey::from_seed("recorder", &[2; 32]).unwrap();
    let log = Log::builder()
        .durability(durability)
        .create(&dir.path().join("log"), &owner, "bench.example/log")
        .unwrap();
    log.register_key(&owner, recorder.key_id(), Role::Recorder, "bench")
        .unwrap();
    Fixture {
        _dir: dir,
        log,
        recorder,
    }
}

/// What each append is given: the kind and the payload are built once, as the floor's are, so
/// neither side is timed encoding its input; the payload is cloned because `Record` owns it.
struct Input {
    kind: Kind,
    payload: Vec<u8>,
    session: SessionId,
}

impl Input {
    fn new(session: &str) -> Input {
        Input {
            kind: Kind::new(KIND).unwrap(),
            payload: payload(),
            session: SessionId::new(session).unwrap(),
        }
    }

    fn record(&self) -> Record {
        Record::new(self.kind.clone(), self.payload.clone()).session(&self.session)
    }
}

/// The session appender `t` of the log's concurrent rows records in: its own (agents'
/// sessions interleaved, so nearly every entry starts a run and writes a run marker), or with
/// `APPEND_BENCH_SESSION=shared` one session for all (no run markers after the first).
fn appender_session(t: usize) -> String {
    match std::env::var("APPEND_BENCH_SESSION").as_deref() {
        Ok("shared") => "shared".to_owned(),
        _ => format!("thread-{t}"),
    }
}

/// Each measurement runs in this many rounds (`APPEND_BENCH_ROUNDS`, 4 when unset),
/// interleaved with its baselines', so that a machine that speeds up or slows down during the
/// run moves both sides of a ratio alike.
fn rounds() -> usize {
    std::env::var("APPEND_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(4)
}

/// A sled configured as the log's store configures it.
fn floor_sled(path: &std::path::Path) -> sled::Db {
    sled::Config::new()
        .path(path)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(None)
        .open()
        .unwrap()
}

/// The raw floor's work for one entry, by hand: the payload commitment, the header, its hash,
/// the Merkle leaf and the one interior node an append completes on average, one Ed25519
/// signature and one sled insert of the stored bytes, which it returns.
fn floor_append(
    db: &sled::Db,
    key: &SecretKey,
    seq: u64,
    data: &[u8],
    session: &SessionId,
) -> Vec<u8> {
    let value = floor_value(key, seq, data, session);
    let mut k = [1u8; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    db.insert(k, value.as_slice()).unwrap();
    value
}

/// The raw floor for one entry: the same signing and hashing as [`floor_append`], then
/// one buffered file write of the stored bytes (a 1 MiB user-space buffer, as the segment
/// writer's default, handed to the page cache when full; no sync).
fn floor_append_file(
    out: &mut std::io::BufWriter<std::fs::File>,
    key: &SecretKey,
    seq: u64,
    data: &[u8],
    session: &SessionId,
) {
    use std::io::Write;
    let value = floor_value(key, seq, data, session);
    out.write_all(&value).unwrap();
}

/// The signing and hashing both raw floors do, returning the bytes they store.
fn floor_value(key: &SecretKey, seq: u64, data: &[u8], session: &SessionId) -> Vec<u8> {
    let salt = Salt([7; 32]);
    let commitment = PayloadCommitment::compute(Suite::Blake3, &salt, data);
    let header = EntryHeader {
        version: sealtrail::descriptor::FORMAT_VERSION,
        log_id: LogId([3; 32]),
        seq,
        prev: EntryHash([4; 32]),
        time: Timestamp(seq),
        session: session.clone(),
        signer: KeyId(*key.key_id().as_bytes()),
        kind: Kind::new(KIND).unwrap(),
        payload: commitment,
        links: vec![],
        control: Some(Link {
            seq: 0,
            hash: EntryHash([5; 32]),
        }),
    };
    let hb = header.encode();
    let entry_hash = EntryHash::compute(Suite::Blake3, &hb);
    let leaf = sealtrail::merkle::leaf_hash(Suite::Blake3, &entry_hash);
    std::hint::black_box(sealtrail::merkle::TreeHasher::node(
        &Suite::Blake3,
        &leaf,
        &leaf,
    ));
    let sig = key.sign(&sealtrail::entry::entry_signing_input(&hb));
    let mut value = Vec::with_capacity(hb.len() + 64 + 32 + data.len() + 16);
    value.extend_from_slice(&hb);
    value.extend_from_slice(&sig);
    value.extend_from_slice(&salt.0);
    value.extend_from_slice(data);
    std::hint::black_box(entry_hash);
    value
}

/// The durable floor's group commit, as lean as it can be: appenders add their bytes to one
/// buffer, and whoever finds no flush running writes the buffer at the end of a preallocated
/// file and `fdatasync`s it for everyone in it; the others park until a flush covers them and
/// are woken outside the lock. No framing, no checks, no index.
struct GroupCommit {
    state: Mutex<GroupState>,
    durable: AtomicU64,
    file: std::fs::File,
    _dir: tempfile::TempDir,
}

#[derive(Default)]
struct GroupState {
    buf: Vec<u8>,
    added: u64,
    flushing: bool,
    at: u64,
    waiters: Vec<(u64, std::thread::Thread)>,
}

impl GroupCommit {
    const FILE_BYTES: u64 = 256 << 20;

    fn new() -> GroupCommit {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("wal")).unwrap();
        // Preallocated with zeros: a sync then changes no metadata.
        let zeros = vec![0u8; 1 << 20];
        for i in 0..Self::FILE_BYTES >> 20 {
            file.write_all_at(&zeros, i << 20).unwrap();
        }
        file.sync_all().unwrap();
        GroupCommit {
            state: Mutex::default(),
            durable: AtomicU64::new(0),
            file,
            _dir: dir,
        }
    }

    /// Returns once `bytes` are written and fdatasynced.
    fn append(&self, bytes: &[u8]) {
        let mut s = self.state.lock().unwrap();
        s.buf.extend_from_slice(bytes);
        s.added += 1;
        let mine = s.added;
        loop {
            if self.durable.load(Ordering::Acquire) >= mine {
                return;
            }
            if !s.flushing {
                s.flushing = true;
                let target = s.added;
                let buf = std::mem::take(&mut s.buf);
                if s.at + buf.len() as u64 > Self::FILE_BYTES {
                    s.at = 0;
                }
                let at = s.at;
                s.at += buf.len() as u64;
                drop(s);
                self.file.write_all_at(&buf, at).unwrap();
                self.file.sync_data().unwrap();
                s = self.state.lock().unwrap();
                s.flushing = false;
                self.durable.store(target, Ordering::Release);
                let mut hand_off = s.added > target;
                let mut wake = Vec::new();
                s.waiters.retain(|(len, t)| {
                    // Those covered, and the first one left, to flush the rest.
                    if *len <= target {
                        wake.push(t.clone());
                        return false;
                    }
                    if hand_off {
                        wake.push(t.clone());
                        hand_off = false;
                    }
                    true
                });
                drop(s);
                for t in wake {
                    t.unpark();
                }
                s = self.state.lock().unwrap();
                continue;
            }
            s.waiters.push((mine, std::thread::current()));
            drop(s);
            std::thread::park();
            // The flush that covered this append took it off the list.
            if self.durable.load(Ordering::Acquire) >= mine {
                return;
            }
            s = self.state.lock().unwrap();
            let me = std::thread::current().id();
            s.waiters.retain(|(_, t)| t.id() != me);
        }
    }
}

fn bench_buffered(c: &mut Criterion) {
    let mut g = c.benchmark_group("append_buffered");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));

    // The raw floor: sign + hash + one sled insert of the same bytes, by hand, into a sled
    // configured as the log's store configures it.
    let dir = tempfile::tempdir().unwrap();
    let db = floor_sled(dir.path());
    let key = SecretKey::from_seed("recorder", &[2; 32]).unwrap();
    let mut seq = 0u64;
    let input = Input::new("bench-session-0001");
    let (data, session) = (&input.payload, &input.session);
    // The raw floor: the same signing and hashing, then one buffered file write.
    let file_dir = tempfile::tempdir().unwrap();
    let mut file = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(file_dir.path().join("entries")).unwrap(),
    );
    let f = fixture(Durability::Buffered);
    for round in 0..rounds() {
        ROUND.store(round, Ordering::Relaxed);
        // The log runs last in even rounds and first in odd ones (see `bench_immediate`).
        let rows: [u8; 3] = if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        for row in rows {
            match row {
                0 => {
                    g.bench_function(format!("raw_floor/{round}"), |b| {
                        b.iter_custom(|iters| {
                            timed("raw_floor", iters, || {
                                seq += 1;
                                floor_append(&db, &key, seq, data, session);
                            })
                        })
                    });
                }
                1 => {
                    g.bench_function(format!("raw_floor_file/{round}"), |b| {
                        b.iter_custom(|iters| {
                            timed("raw_floor_file", iters, || {
                                seq += 1;
                                floor_append_file(&mut file, &key, seq, data, session);
                            })
                        })
                    });
                }
                _ => {
                    g.bench_function(format!("log_append/{round}"), |b| {
                        b.iter_custom(|iters| {
                            timed("log_append_buffered", iters, || {
                                f.log.append(&f.recorder, input.record()).unwrap();
                            })
                        })
                    });
                }
            }
        }
    }
    f.log.flush().unwrap();
    g.finish();
}

fn bench_immediate(c: &mut Criterion) {
    let mut g = c.benchmark_group("append_immediate");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    // Two baselines, each a sled with its own counter: insert + flush() per insert, and the
    // durable one. What a durable flush costs on this machine: sled's flush ends in
    // sync_file_range, which is not an fsync, so the durable baseline adds fdatasync of sled's
    // log file.
    let data = vec![0x5au8; 520];
    let mut baselines = [
        ("sled_flush_per_insert", false),
        ("sled_durable_per_insert", true),
    ]
    .map(|(name, durable)| {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let sync = durable.then(|| std::fs::File::open(dir.path().join("db")).unwrap());
        (name, dir, db, sync, 0u64)
    });
    // The durable floor: 16 appenders each do the raw floor's signing and hashing, then
    // wait for a lean group commit of the stored bytes (write + fdatasync); no sled insert, which
    // the log does not do per entry either.
    let floor_seq = AtomicU64::new(0);
    let key = SecretKey::from_seed("recorder", &[2; 32]).unwrap();
    let group = GroupCommit::new();
    let logs = [
        (1usize, "log_immediate_1", fixture(Durability::Immediate)),
        (16, "log_immediate_16", fixture(Durability::Immediate)),
    ];

    let durable_floor =
        |g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, round: usize| {
            if !selected("immediate16") {
                return;
            }
            g.bench_function(format!("durable_floor_16/{round}"), |b| {
                b.iter_custom(|iters| {
                    concurrent("durable_floor_16", 16, iters, &|t, per| {
                        let input = Input::new(&format!("thread-{t}"));
                        for _ in 0..per {
                            let seq = floor_seq.fetch_add(1, Ordering::Relaxed);
                            let value = floor_value(&key, seq, &input.payload, &input.session);
                            group.append(&value);
                        }
                    })
                })
            });
        };

    for round in 0..rounds() {
        ROUND.store(round, Ordering::Relaxed);
        // The durable floor runs after the logs in even rounds and before them in odd ones, so
        // that whatever one row leaves behind for the next (dirty pages, a cold cache) falls on
        // both sides alike.
        let floor_first = round % 2 == 1;
        if floor_first {
            durable_floor(&mut g, round);
        }
        for (name, _dir, db, sync, seq) in &mut baselines {
            if !selected("sled") {
                continue;
            }
            let name: &'static str = name;
            g.bench_function(format!("{name}/{round}"), |b| {
                b.iter_custom(|iters| {
                    timed(name, iters, || {
                        *seq += 1;
                        db.insert(seq.to_be_bytes(), data.clone()).unwrap();
                        db.flush().unwrap();
                        if let Some(file) = sync {
                            file.sync_data().unwrap();
                        }
                    })
                })
            });
        }

        for (threads, name, f) in &logs {
            if !selected(if *threads == 1 {
                "immediate1"
            } else {
                "immediate16"
            }) {
                continue;
            }
            g.bench_function(format!("{name}/{round}"), |b| {
                b.iter_custom(|iters| {
                    concurrent(name, *threads, iters, &|t, per| {
                        let input = Input::new(&appender_session(t));
                        for _ in 0..per {
                            f.log.append(&f.recorder, input.record()).unwrap();
                        }
                    })
                })
            });
        }

        if !floor_first {
            durable_floor(&mut g, round);
        }
    }
    g.finish();
}

/// Runs `work(t, per)` on `threads` threads at once, each doing `per` of about `iters`
/// appends; records the rate under `name` and returns the time criterion expects for `iters`.
fn concurrent(
    name: &'static str,
    threads: usize,
    iters: u64,
    work: &(dyn Fn(usize, u64) + Sync),
) -> Duration {
    let per = iters.div_ceil(threads as u64);
    let cpu = process_cpu();
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || work(t, per));
        }
    });
    let took = start.elapsed();
    record(name, per * threads as u64, took, cpu);
    // Criterion divides by `iters`; report the time for exactly that many.
    took.mul_f64(iters as f64 / (per * threads as u64) as f64)
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dir_size(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

// Appends N entries, signs a checkpoint of them (which publishes the tree's tiles into
// `<log>/tiles`, SPEC §9.8), closes the log (which leaves its index flushed) and measures
// the directory, tiles included.
fn disk_per_entry() -> (f64, u64) {
    const N: u64 = 50_000;
    let f = fixture(Durability::Buffered);
    let input = Input::new("bench-session-0001");
    for _ in 0..N / 100 {
        let batch = (0..100).map(|_| input.record()).collect();
        f.log.append_batch(&f.recorder, batch).unwrap();
    }
    f.log.flush().unwrap();
    f.log.checkpoint(&owner()).unwrap();
    let Fixture { _dir: dir, log, .. } = f;
    drop(log);
    let bytes = dir_size(dir.path());
    if std::env::var_os(BYTES_ONLY).is_some() {
        // Where the bytes are: each part of the log directory, per entry.
        let log_dir = dir.path().join("log");
        let mut parts: Vec<_> = std::fs::read_dir(&log_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        parts.sort();
        for p in parts {
            let size = if p.is_dir() {
                dir_size(&p)
            } else {
                std::fs::metadata(&p).unwrap().len()
            };
            println!(
                "  {:<12} {:>12} bytes {:>10.1} per entry",
                p.file_name().unwrap().to_string_lossy(),
                size,
                size as f64 / N as f64
            );
        }
    }
    (bytes as f64 / N as f64, N)
}

/// Set (to anything) to measure only the bytes on disk per entry, without the throughput
/// rounds: `SEALTRAIL_BENCH_BYTES_ONLY=1 cargo bench --bench append`.
const BYTES_ONLY: &str = "SEALTRAIL_BENCH_BYTES_ONLY";

/// Whether the rows of `group` run: `APPEND_BENCH_ROWS`, a comma-separated list of `buffered`,
/// `immediate1`, `immediate16`, `sled` and `disk`, selects some (every row when unset), so a
/// run on a busy machine can stay short. A baseline runs with the rows it is the baseline of.
fn selected(group: &str) -> bool {
    std::env::var("APPEND_BENCH_ROWS")
        .map_or(true, |rows| rows.split(',').any(|r| r.trim() == group))
}

fn main() {
    if std::env::var_os(BYTES_ONLY).is_some() {
        let (per_entry, n) = disk_per_entry();
        println!(
            "bytes on disk per entry ({PAYLOAD_BYTES}-byte payload, {n} entries, a checkpoint and close, tiles included): \
             {per_entry:.0}"
        );
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    if selected("buffered") {
        bench_buffered(&mut c);
    }
    if ["immediate1", "immediate16", "sled"]
        .iter()
        .any(|g| selected(g))
    {
        bench_immediate(&mut c);
    }
    c.final_summary();

    let (per_entry, n) = if selected("disk") {
        disk_per_entry()
    } else {
        (0.0, 0)
    };
    let floor_file = rate("raw_floor_file");
    let floor = rate("raw_floor");
    let buffered = rate("log_append_buffered");
    let flush = rate("sled_flush_per_insert");
    let durable = rate("sled_durable_per_insert");
    let one = rate("log_immediate_1");
    let sixteen = rate("log_immediate_16");
    let durable_floor = rate("durable_floor_16");
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    println!();
    println!("== append: figures next to their baselines (same run) ==");
    println!(
        "{:<44} {:>12} {:>10} {:>8}",
        "measurement", "entries/s", "ratio", "target"
    );
    if selected("buffered") {
        println!(
            "{:<44} {:>12.0} {:>10} {:>8}",
            "raw floor (sign + hashes + sled insert)", floor, "1.00x", ""
        );
        println!(
            "{:<44} {:>12.0} {:>9.2}x {:>8}",
            "Log::append, Buffered",
            buffered,
            ratio(buffered, floor),
            ">=0.85x"
        );
        println!(
            "{:<44} {:>12.0} {:>10} {:>8}",
            "raw floor (sign + hashes + buffered write)", floor_file, "1.00x", ""
        );
        println!(
            "{:<44} {:>12.0} {:>9.2}x {:>8}",
            "Log::append, Buffered",
            buffered,
            ratio(buffered, floor_file),
            ">=0.9x"
        );
        println!("{}", per_round("log_append_buffered", "raw_floor_file"));
        if let Some(line) = cpu_line("log_append_buffered", "raw_floor_file") {
            println!("{line}");
        }
    }
    if selected("sled") {
        println!(
            "{:<44} {:>12.0} {:>10} {:>8}",
            "sled insert + flush per insert", flush, "1.00x", ""
        );
        println!(
            "{:<44} {:>12.0} {:>9.2}x {:>8}",
            "Log::append, Immediate, 1 appender",
            one,
            ratio(one, flush),
            ""
        );
        println!(
            "{:<44} {:>12.0} {:>9.2}x {:>8}",
            "Log::append, Immediate, 16 appenders",
            sixteen,
            ratio(sixteen, flush),
            ">=5x"
        );
    }
    if selected("immediate16") {
        println!(
            "{:<44} {:>12.0} {:>10} {:>8}",
            "durable floor, 16 appenders (group commit)", durable_floor, "1.00x", ""
        );
        println!(
            "{:<44} {:>12.0} {:>9.2}x {:>8}",
            "Log::append, Immediate, 16 appenders",
            sixteen,
            ratio(sixteen, durable_floor),
            ">=0.9x"
        );
        println!("{}", per_round("log_immediate_16", "durable_floor_16"));
        if let Some(line) = cpu_line("log_immediate_16", "durable_floor_16") {
            println!("{line}");
        }
    }
    if selected("sled") {
        println!(
            "{:<44} {:>12.0} {:>9.2}x {:>8}",
            "durable floor, 16 appenders, vs sled flush",
            durable_floor,
            ratio(durable_floor, flush),
            "(cap)"
        );
        println!(
            "{:<44} {:>12.0} {:>10} {:>8}",
            "sled insert + flush + fdatasync per insert", durable, "1.00x", ""
        );
        println!(
            "{:<44} {:>12.0} {:>9.2}x {:>8}",
            "Log::append, Immediate, 16 appenders",
            sixteen,
            ratio(sixteen, durable),
            ""
        );
    }
    if selected("disk") {
        println!(
            "bytes on disk per entry (300-byte payload, {n} entries, a checkpoint and close, tiles included): {per_entry:.0} \
             ({:.2}x the payload)",
            per_entry / PAYLOAD_BYTES as f64
        );
    }
}
