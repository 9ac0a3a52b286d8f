//! Inclusion proofs from the C2SP tiles in the log directory (SPEC §9.8) beside proofs from
//! the log's store, at 1M entries by default, same log, same indices, same run.
//!
//! * `from_disk_<N>/tiles`: `Log::inclusion_proof` of a handle that keeps tiles (the default),
//!   here a read-only open of the log: every node comes from `<log>/tiles/` through its
//!   `TileReader` (default caches: 64 tiles, nodes of levels 3–7 and 8 up), the right edge folded
//!   from the frontier.
//! * `from_disk_<N>/ahead`: `Log::inclusion_proof` past the last published checkpoint: a
//!   read-only open of the same log made while `<log>/tiles/checkpoint` was moved away, so
//!   that no tile is covered by a published checkpoint and every full level-0 tile is read as
//!   a tile written ahead (SPEC §9.8, item 5): checked against the level-8 node its run's last
//!   record holds, then used for the leaf hashes and the nodes of levels 1–7; levels 8 and up
//!   from the records.
//! * `from_disk_<N>/store`: `Log::inclusion_proof` of the writer opened with
//!   `TilesMode::Ignored`: nodes from the entry records and the sled index, as before tiles
//!   were kept; warmed by one read in order.
//!
//! The three run interleaved in blocks of 256 on the same pseudo-random indices, so a change
//! of load on the shared machine hits every side of the ratios alike. Every proof is checked
//! equal between them before timing. Issue 19's target: ≥ 50,000 proofs/s from disk at 1M.
//!
//! The 1M-entry sha256 log is built once under `target/bench-logs/tiles-log-1000000`
//! (`SEALTRAIL_BENCH_DIR` to move it) and reused; its `tiles/` is removed each run and rebuilt
//! by opening the log for writing, and that open is timed.
//!
//! Run: `cargo bench --bench tiles` (about three minutes once the log exists; building it
//! takes about one and a half more). `SEALTRAIL_TILES_ENTRIES=10000000` measures a 10M-entry
//! log instead (built once, about 3 minutes and 3 GB; its tiles rebuilt in about a minute).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use sealtrail::log::{TILES_DIR, TilesMode};
use sealtrail::merkle::verify_inclusion;
use sealtrail::registry::Role;
use sealtrail::{Durability, Log, SecretKey, Suite};

/// Entries of the log: `SEALTRAIL_TILES_ENTRIES`, 1,000,000 unless set.
fn leaves() -> u64 {
    std::env::var("SEALTRAIL_TILES_ENTRIES")
        .ok()
        .map(|v| v.parse().expect("SEALTRAIL_TILES_ENTRIES: a number"))
        .unwrap_or(1_000_000)
}
const SUITE: Suite = Suite::Sha256;

static RATES: Mutex<BTreeMap<&'static str, (u64, Duration)>> = Mutex::new(BTreeMap::new());

fn record_rate(name: &'static str, ops: u64, took: Duration) {
    let mut r = RATES.lock().unwrap();
    let e = r.entry(name).or_default();
    e.0 += ops;
    e.1 += took;
}

fn rate(name: &str) -> f64 {
    let r = RATES.lock().unwrap();
    r.get(name)
        .map_or(0.0, |(n, d)| *n as f64 / d.as_secs_f64())
}

fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("SEALTRAIL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-logs")
        })
}

fn owner() -> SecretKey {
    SecretKey::from_seed("bench.example/proofs", &[1; 32]).unwrap()
}

/// A sled-backed sha256 log of `n` small entries, built as benches/proofs.rs builds its own.
fn stored_log(n: u64) -> Log {
    let path = bench_dir().join(format!("tiles-log-{n}"));
    let recorder = SecretKey::from_seed("recorder", &[2; 32]).unwrap();
    let builder = Log::builder()
        .durability(Durability::Buffered)
        .tiles(TilesMode::Ignored);
    if let Ok(log) = builder.clone().open(&path) {
        if log.len() >= n {
            return log;
        }
        drop(log);
    }
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(bench_dir()).unwrap();
    let log = builder
        .suite(SUITE)
        .create(&path, &owner(), "bench.example/proofs")
        .unwrap();
    log.register_key(&owner(), recorder.key_id(), Role::Recorder, "bench")
        .unwrap();
    let started = Instant::now();
    // A small valid entry (a `custom` event): the tree is what is measured.
    let record = sealtrail_testkit::fixtures::note(&0u8);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (log, recorder, record) = (&log, &recorder, &record);
            s.spawn(move || {
                while log.len() < n {
                    let batch = (0..1000).map(|_| record.clone()).collect();
                    log.append_batch(recorder, batch).unwrap();
                }
            });
        }
    });
    log.flush().unwrap();
    eprintln!(
        "built a {}-entry sled log in {:.0} s",
        log.len(),
        started.elapsed().as_secs_f64()
    );
    log
}

/// Deterministic pseudo-random indices (splitmix64), as benches/proofs.rs draws them.
fn indices(n: usize, below: u64) -> Vec<u64> {
    let mut x = 0x5eed_u64;
    (0..n)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % below
        })
        .collect()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let leaves = leaves();
    let path = bench_dir().join(format!("tiles-log-{leaves}"));
    let log = stored_log(leaves);
    let size = log.len();
    let checkpoint = match log.latest_checkpoint().unwrap() {
        Some(cp) if cp.checkpoint().size() == size => cp,
        _ => log.checkpoint(&owner()).unwrap(),
    };
    drop(log);

    // The log directory's tiles, rebuilt from scratch by a writer's open (every tile fsynced
    // and renamed, each directory fsynced, then the checkpoint).
    let _ = std::fs::remove_dir_all(path.join(TILES_DIR));
    let start = Instant::now();
    let writer = Log::builder()
        .durability(Durability::Buffered)
        .open(&path)
        .unwrap();
    let rebuild_took = start.elapsed();
    assert_eq!(writer.tiles_size(), size);
    drop(writer);
    let start = Instant::now();
    let writer = Log::builder()
        .durability(Durability::Buffered)
        .open(&path)
        .unwrap();
    let open_took = start.elapsed();
    drop(writer);
    let (tile_files, tile_bytes) = dir_size(&path.join(TILES_DIR));

    // The store's side: the writer, ignoring tiles. The tiles' side: a reader beside it.
    let start = Instant::now();
    let store = Log::builder()
        .durability(Durability::Buffered)
        .tiles(TilesMode::Ignored)
        .open(&path)
        .unwrap();
    let open_ignoring_took = start.elapsed();
    let tiles = Log::builder().open_read_only(&path).unwrap();
    assert_eq!((tiles.tiles_size(), store.tiles_size()), (size, 0));
    // Past the checkpoint: with no published checkpoint, the full level-0 tiles are read as
    // tiles written ahead.
    let published = path.join(TILES_DIR).join("checkpoint");
    let aside = path.join("checkpoint.aside");
    std::fs::rename(&published, &aside).unwrap();
    let ahead = Log::builder().open_read_only(&path).unwrap();
    std::fs::rename(&aside, &published).unwrap();
    assert_eq!(ahead.tiles_size(), 0);
    let warm = Instant::now();
    for e in store.range(0..size) {
        std::hint::black_box(e.unwrap());
    }
    eprintln!(
        "read {size} entries in order to warm the store in {:.1} s",
        warm.elapsed().as_secs_f64()
    );

    let idx = indices(4096, size);
    for &i in &idx {
        let proof = store.inclusion_proof(i, size).unwrap();
        assert_eq!(
            tiles.inclusion_proof(i, size).unwrap(),
            proof,
            "proof of {i}"
        );
        assert_eq!(
            ahead.inclusion_proof(i, size).unwrap(),
            proof,
            "proof of {i}"
        );
    }
    let e = store.read(idx[0]).unwrap().unwrap();
    let leaf = sealtrail::merkle::leaf_hash(SUITE, &e.hash);
    let proof = tiles.inclusion_proof(idx[0], size).unwrap();
    verify_inclusion(
        &SUITE,
        &leaf,
        idx[0],
        size,
        &proof,
        checkpoint.checkpoint().root().as_bytes(),
    )
    .unwrap();

    let mut g = c.benchmark_group(format!("from_disk_{size}"));
    g.throughput(Throughput::Elements(1));
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    let n = idx.len();
    let mut k = 0usize;
    let sides = [("tiles", &tiles), ("ahead", &ahead), ("store", &store)];
    for (reported, (name, _)) in sides.iter().enumerate() {
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let mut took = [Duration::ZERO; 3];
                let mut left = iters as usize;
                while left > 0 {
                    let block = left.min(256);
                    for (side, (_, log)) in sides.iter().enumerate() {
                        let t = Instant::now();
                        for j in k..k + block {
                            std::hint::black_box(log.inclusion_proof(idx[j % n], size).unwrap());
                        }
                        took[side] += t.elapsed();
                    }
                    k += block;
                    left -= block;
                }
                for (side, (name, _)) in sides.iter().enumerate() {
                    record_rate(name, iters, took[side]);
                }
                took[reported]
            })
        });
    }
    g.finish();
    c.final_summary();

    let (from_tiles, from_ahead, from_store) = (rate("tiles"), rate("ahead"), rate("store"));
    let ratio = |r: f64| {
        if from_store > 0.0 {
            r / from_store
        } else {
            0.0
        }
    };
    println!();
    println!("== Inclusion proofs from disk at {size} entries, SHA-256 (same run) ==");
    println!(
        "{:<62} {:>12} {:>8} {:>10}",
        "measurement", "per second", "ratio", "target"
    );
    println!(
        "{:<62} {:>12.0} {:>7.2}x {:>10}",
        "Log::inclusion_proof from the store (writer, TilesMode::Ignored)", from_store, 1.0, ""
    );
    println!(
        "{:<62} {:>12.0} {:>7.2}x {:>10}",
        "Log::inclusion_proof from <log>/tiles (read-only open)",
        from_tiles,
        ratio(from_tiles),
        ">=50000/s"
    );
    println!(
        "{:<62} {:>12.0} {:>7.2}x {:>10}",
        "Log::inclusion_proof past the checkpoint (tiles written ahead)",
        from_ahead,
        ratio(from_ahead),
        ""
    );
    println!(
        "rebuild <log>/tiles from scratch on open: {tile_files} files ({:.1} MiB) in {:.2} s",
        tile_bytes as f64 / (1024.0 * 1024.0),
        rebuild_took.as_secs_f64(),
    );
    println!(
        "Log::open with tiles up to date: {:.3} s; the same open with TilesMode::Ignored: {:.3} s",
        open_took.as_secs_f64(),
        open_ignoring_took.as_secs_f64()
    );
}

/// Files under `dir` and their bytes.
fn dir_size(dir: &std::path::Path) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (files, bytes)
}
