//! Local verification beside bundle verification of the same entries, same run (issue 19):
//!
//! * `verify_dir_report`: the log directory verified as it lies, opened read-only — what
//!   `sealtrail verify --log` runs (every check of SPEC §8 and the stored checkpoints);
//! * `verify_bundle`: a whole-log bundle exported from the same log, streamed from its file —
//!   what `verify-bundle` runs (SPEC §12.6), on every core.
//!
//! Both verify the same entries (a log of [`ENTRIES`] entries in 64 sessions, ~300-byte custom
//! payloads, a checkpoint at the end) and must find them valid. The measurements alternate
//! round by round so that a machine that speeds up or slows down moves both alike; a table of
//! entries per second and the ratio is printed at the end. Target: local ≥ 0.9× the bundle.
//!
//! Run: `cargo bench --bench readers` (about 2 minutes; the log and its bundle are built in a
//! temporary directory each run, about 20 s).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use sealtrail::bundle::{TrustPolicy, verify_bundle};
use sealtrail::event::{Custom, Event};
use sealtrail::log::{ExportOptions, Selection, verify_dir_report};
use sealtrail::registry::Role;
use sealtrail::{Durability, Log, Record, SecretKey, SessionId, Suite};

/// Entries in the bench log (the recorder's registration included).
const ENTRIES: u64 = 200_000;
const ORIGIN: &str = "bench.example/readers";

static RATES: Mutex<BTreeMap<&'static str, (u64, Duration)>> = Mutex::new(BTreeMap::new());

fn record_rate(name: &'static str, n: u64, took: Duration) {
    let mut r = RATES.lock().unwrap();
    let e = r.entry(name).or_default();
    e.0 += n;
    e.1 += took;
}

fn rate(name: &str) -> f64 {
    let r = RATES.lock().unwrap();
    r.get(name)
        .map_or(0.0, |(n, d)| *n as f64 / d.as_secs_f64())
}

fn owner() -> SecretKey {
    SecretKey::from_seed(ORIGIN, &[1; 32]).unwrap()
}

/// The log and its whole-log bundle.
struct Fixture {
    _dir: tempfile::TempDir,
    log: PathBuf,
    bundle: PathBuf,
    policy: TrustPolicy,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("log");
    let owner = owner();
    let recorder = SecretKey::from_seed("recorder", &[2; 32]).unwrap();
    let log = Log::builder()
        .suite(Suite::Blake3)
        .durability(Durability::Buffered)
        .create(&log_path, &owner, ORIGIN)
        .unwrap();
    log.register_key(&owner, recorder.key_id(), Role::Recorder, "bench")
        .unwrap();
    // A custom event: a built-in kind's payload must follow its schema.
    let body = serde_bytes::ByteBuf::from(vec![0x5a; 270]);
    let record = Event::Custom(Custom::new("bench.example/record", &body).unwrap())
        .to_record()
        .unwrap();
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let (log, recorder, record) = (&log, &recorder, &record);
            s.spawn(move || {
                let mut i = 0u64;
                while log.len() < ENTRIES {
                    let session = SessionId::new(&format!("session-{}", (2 * i + t) % 64)).unwrap();
                    let n = (ENTRIES.saturating_sub(log.len())).min(500);
                    let batch: Vec<Record> =
                        (0..n).map(|_| record.clone().session(&session)).collect();
                    if !batch.is_empty() {
                        log.append_batch(recorder, batch).unwrap();
                    }
                    i += 1;
                }
            });
        }
    });
    log.flush().unwrap();
    log.checkpoint(&owner).unwrap();
    let bundle = dir.path().join("log.bundle");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&bundle).unwrap());
    log.export(
        &owner,
        &ExportOptions::new(Selection::Log),
        &mut out,
        &mut |_, _| {},
    )
    .unwrap();
    drop(out);
    eprintln!(
        "built a {}-entry log and its bundle in {:.1} s",
        log.len(),
        started.elapsed().as_secs_f64()
    );
    drop(log);
    let line = sealtrail::checkpoint::checkpoint_origin(ORIGIN, Suite::Blake3);
    let policy = TrustPolicy::new(vec![owner.public_key().renamed(&line).unwrap()]).unwrap();
    Fixture {
        _dir: dir,
        log: log_path,
        bundle,
        policy,
    }
}

/// `sealtrail verify --log`'s work: the entries verified, which must be valid.
fn verify_local(path: &Path) -> u64 {
    let report = verify_dir_report(path).unwrap();
    assert!(report.is_valid(), "{}", report.render());
    report.entries
}

/// `verify-bundle`'s work, streamed from the file: the entries verified.
fn verify_file(path: &Path, policy: &TrustPolicy) -> u64 {
    let report = verify_bundle(std::fs::File::open(path).unwrap(), policy).unwrap();
    assert!(report.is_valid(), "{}", report.render());
    report.entries
}

/// Rounds of each measurement, alternating with the other's.
const ROUNDS: usize = 3;

fn bench(c: &mut Criterion) {
    let fx = fixture();
    let entries = verify_local(&fx.log);
    assert_eq!(entries, verify_file(&fx.bundle, &fx.policy));
    let mut g = c.benchmark_group("readers");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(entries));
    for round in 0..ROUNDS {
        g.bench_function(format!("verify_log_dir/{round}"), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    assert_eq!(verify_local(&fx.log), entries);
                }
                let took = started.elapsed();
                record_rate("local", entries * iters, took);
                took
            })
        });
        g.bench_function(format!("verify_bundle/{round}"), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    assert_eq!(verify_file(&fx.bundle, &fx.policy), entries);
                }
                let took = started.elapsed();
                record_rate("bundle", entries * iters, took);
                took
            })
        });
    }
    g.finish();
}

fn summary() {
    let (local, bundle) = (rate("local"), rate("bundle"));
    eprintln!();
    eprintln!("| what | entries/s | baseline (same run) | ratio | target |");
    eprintln!("|---|---:|---:|---:|---|");
    eprintln!(
        "| `verify_dir_report` (`sealtrail verify --log`), {ENTRIES} entries, {} threads | {local:.0} | `verify_bundle` of the same entries exported: {bundle:.0}/s | **{:.2}×** | ≥ 0.9× |",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        local / bundle
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    summary();
}
