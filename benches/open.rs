//! Opening a log on disk (issue 19: `Log::open` at 10M entries ≤ 1.2 s), beside the baseline of
//! a full scan in the same run:
//!
//! * `Log::open` with the sealed segments' index files (SPEC §9.7.1) beside `Log::open` with
//!   them removed before each open (every frame of every segment scanned and checked, and the
//!   index files written again);
//! * `LogBuilder::open_read_only` with and without the index files (a reader never writes them
//!   back);
//! * `Log::open` with `index/` removed, so that it rebuilds the whole session index from the
//!   entries (as a query does that finds the index damaged), beside `Log::open`.
//!
//! A read-only open reads no more entries than `Log::open` does: its session index is built in
//! memory by the first session query (SPEC §9.7), not by the open.
//!
//! The log (N entries, Buffered durability, small payloads, two appending threads) is built
//! once under `target/bench-logs/open-N` (`SEALTRAIL_BENCH_DIR` to move it) and reused; N comes
//! from `SEALTRAIL_OPEN_ENTRIES` (default 1,000,000). The file system's cache is warm (the log
//! was just written or opened): the figures measure the work an open does, not the disk.
//!
//! Run: `cargo bench --bench open` (about a minute at 1M once the log is built);
//! `SEALTRAIL_OPEN_ENTRIES=10000000 cargo bench --bench open` for 10M (about 3.5 GB of disk).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::Criterion;
use sealtrail::registry::Role;
use sealtrail::{Durability, Log, SecretKey, SessionId};
use sealtrail_testkit::fixtures::note;

fn entries() -> u64 {
    std::env::var("SEALTRAIL_OPEN_ENTRIES")
        .ok()
        .map(|v| v.parse().expect("SEALTRAIL_OPEN_ENTRIES: a number"))
        .unwrap_or(1_000_000)
}

fn log_path(n: u64) -> PathBuf {
    std::env::var_os("SEALTRAIL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-logs"))
        .join(format!("open-{n}"))
}

/// A log of `n` entries at `path`, built unless one is there already.
fn build(path: &Path, n: u64) {
    if let Ok(log) = Log::builder().open(path) {
        if log.len() >= n {
            return;
        }
    }
    let _ = std::fs::remove_dir_all(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let owner = SecretKey::from_seed("bench.example/open", &[1; 32]).unwrap();
    let recorder = SecretKey::from_seed("recorder", &[2; 32]).unwrap();
    let log = Log::builder()
        .durability(Durability::Buffered)
        .create(path, &owner, "bench.example/open")
        .unwrap();
    log.register_key(&owner, recorder.key_id(), Role::Recorder, "bench")
        .unwrap();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (log, recorder) = (&log, &recorder);
            s.spawn(move || {
                while log.len() < n {
                    let batch = (0..1000u32).map(|i| note(&i)).collect();
                    log.append_batch(recorder, batch).unwrap();
                }
            });
        }
    });
    log.flush().unwrap();
    eprintln!(
        "built a {}-entry log in {:.0} s",
        log.len(),
        started.elapsed().as_secs_f64()
    );
}

/// The index files of the sealed segments, in `entries/` and `meta/`.
fn index_files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["entries", "meta"] {
        for e in std::fs::read_dir(path.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "idx") {
                out.push(p);
            }
        }
    }
    out
}

fn remove_index_files(path: &Path) {
    for p in index_files(path) {
        std::fs::remove_file(p).unwrap();
    }
}

/// Seconds per call of `open`, the median of `runs`, each after `setup`.
fn median(runs: usize, setup: &dyn Fn(), open: &dyn Fn() -> Log) -> (f64, u64) {
    let mut times = Vec::with_capacity(runs);
    let mut len = 0;
    for _ in 0..runs {
        setup();
        let start = Instant::now();
        let log = open();
        times.push(start.elapsed().as_secs_f64());
        len = log.len();
        drop(log);
    }
    times.sort_by(f64::total_cmp);
    (times[runs / 2], len)
}

fn main() {
    let n = entries();
    let path = log_path(n);
    build(&path, n);
    // Written back by any open for writing; a full set before the figures are taken.
    drop(Log::open(&path).unwrap());
    let sealed = index_files(&path).len();

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    c.bench_function("Log::open (index files)", |b| {
        b.iter(|| Log::open(&path).unwrap())
    });

    let nothing = || {};
    let strip = || remove_index_files(&path);
    let (open_idx, len) = median(5, &nothing, &|| Log::open(&path).unwrap());
    let (open_scan, _) = median(5, &strip, &|| Log::open(&path).unwrap());
    // Read-only opens leave the index files as they find them.
    let (ro_idx, _) = median(3, &nothing, &|| {
        Log::builder().open_read_only(&path).unwrap()
    });
    // The first session query after a read-only open builds the reader's index in memory
    // (SPEC §9.7); beside it, the same query on a writer's open (its index in sled).
    let absent = SessionId::new("absent").unwrap();
    let (ro_query, _) = median(3, &nothing, &|| {
        let log = Log::builder().open_read_only(&path).unwrap();
        assert!(log.session(&absent).unwrap().is_empty());
        log
    });
    let (open_query, _) = median(3, &nothing, &|| {
        let log = Log::open(&path).unwrap();
        assert!(log.session(&absent).unwrap().is_empty());
        log
    });
    // A writer's open over a missing index rebuilds it from every entry (as does a query
    // that finds the index damaged, SPEC §9.7).
    let drop_index = || std::fs::remove_dir_all(path.join("index")).unwrap();
    let (open_reindex, _) = median(3, &drop_index, &|| Log::open(&path).unwrap());
    remove_index_files(&path);
    let (ro_scan, _) = median(3, &nothing, &|| {
        Log::builder().open_read_only(&path).unwrap()
    });
    drop(Log::open(&path).unwrap());

    println!();
    println!("open of a {len}-entry log ({sealed} sealed segments), median seconds:");
    println!("| open | index files | full scan (baseline) | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| `Log::open` | {open_idx:.3} | {open_scan:.3} | {:.1}× faster |",
        open_scan / open_idx
    );
    println!(
        "| `LogBuilder::open_read_only` | {ro_idx:.3} | {ro_scan:.3} | {:.1}× faster |",
        ro_scan / ro_idx
    );
    println!();
    println!("open and a first session query (index files), median seconds:");
    println!("| `Log::open` (sled index) | `open_read_only` (index built by the query) | ratio |");
    println!("|---:|---:|---:|");
    println!(
        "| {open_query:.3} | {ro_query:.3} | {:.1}× |",
        ro_query / open_query
    );
    println!();
    println!("a writer's open that rebuilds the whole index (index/ removed), median seconds:");
    println!("| `Log::open`, index/ removed | `Log::open` (baseline) | ratio |");
    println!("|---:|---:|---:|");
    println!(
        "| {open_reindex:.3} | {open_idx:.3} | {:.1}× |",
        open_reindex / open_idx
    );
    c.final_summary();
}
