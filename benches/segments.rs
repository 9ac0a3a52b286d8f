//! The segment store alone (not yet the log): records/s with 16 threads appending 300-byte
//! bodies and waiting for durability (`SegmentWriter::append` + `sync`: one `fdatasync` per
//! group), beside, in the same run:
//!
//! * the durable floor: the leanest group commit of the same bytes (312 per record, a frame's
//!   worth) — one buffer, one write at the end of one file, one `fdatasync` per group, waiters
//!   parked and woken outside the lock; once appending to a growing file as the segments do,
//!   once into a preallocated file (as `benches/append.rs`'s floor), where a sync changes no
//!   metadata;
//! * write + `fdatasync` per record, one thread;
//! * bytes on disk per record.
//!
//! Each rate is measured in rounds interleaved with its baselines. Run:
//! `cargo bench --bench segments` (about a minute). A table is printed at the end.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use sealtrail::segment::{Backend, FRAME_OVERHEAD, FsBackend, SegmentConfig, SegmentWriter};

const BODY: usize = 300;
const THREADS: usize = 16;
const ROUNDS: usize = 3;

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
        .map(|(n, t)| *n as f64 / t.as_secs_f64())
        .unwrap_or(0.0)
}

/// Runs `work(t, per)` on 16 threads, each doing `per` of about `iters` records; records the
/// rate and returns the time criterion expects for `iters`.
fn concurrent(name: &'static str, iters: u64, work: &(dyn Fn(usize, u64) + Sync)) -> Duration {
    let per = iters.div_ceil(THREADS as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || work(t, per));
        }
    });
    let took = start.elapsed();
    record_rate(name, per * THREADS as u64, took);
    took.mul_f64(iters as f64 / (per * THREADS as u64) as f64)
}

/// The leanest group commit (as in benches/append.rs): one buffer, one write, one
/// `fdatasync` per group.
struct GroupCommit {
    state: Mutex<GroupState>,
    durable: AtomicU64,
    file: std::fs::File,
    preallocated: Option<u64>,
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
    fn new(preallocate: Option<u64>) -> GroupCommit {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("floor")).unwrap();
        if let Some(bytes) = preallocate {
            let zeros = vec![0u8; 1 << 20];
            for i in 0..bytes >> 20 {
                file.write_all_at(&zeros, i << 20).unwrap();
            }
            file.sync_all().unwrap();
        }
        GroupCommit {
            state: Mutex::default(),
            durable: AtomicU64::new(0),
            file,
            preallocated: preallocate,
            _dir: dir,
        }
    }

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
                if let Some(cap) = self.preallocated {
                    if s.at + buf.len() as u64 > cap {
                        s.at = 0;
                    }
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
            if self.durable.load(Ordering::Acquire) >= mine {
                return;
            }
            s = self.state.lock().unwrap();
            let me = std::thread::current().id();
            s.waiters.retain(|(_, t)| t.id() != me);
        }
    }
}

fn body(t: usize, i: u64) -> Vec<u8> {
    let mut b = vec![b'x'; BODY];
    b[..16].copy_from_slice(&(t as u64 ^ i << 8).to_le_bytes().repeat(2));
    b
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("segments_immediate_16");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(FsBackend);
    let (writer, _) = SegmentWriter::open(
        backend,
        &dir.path().join("segments"),
        SegmentConfig::default(),
    )
    .unwrap();
    let floor = GroupCommit::new(None);
    let floor_pre = GroupCommit::new(Some(256 << 20));
    let framed = vec![b'y'; BODY + FRAME_OVERHEAD as usize];
    let per_record = tempfile::tempdir().unwrap();
    let per_file = std::fs::File::create(per_record.path().join("one-by-one")).unwrap();
    let per_at = AtomicU64::new(0);
    for round in 0..ROUNDS {
        g.bench_function(format!("segment_writer/{round}"), |b| {
            b.iter_custom(|iters| {
                concurrent("segment_writer", iters, &|t, per| {
                    for i in 0..per {
                        let index = writer.append(&body(t, i)).unwrap();
                        let durable = writer.sync().unwrap();
                        assert!(durable > index);
                    }
                })
            })
        });
        g.bench_function(format!("durable_floor/{round}"), |b| {
            b.iter_custom(|iters| {
                concurrent("durable_floor", iters, &|_, per| {
                    for _ in 0..per {
                        floor.append(&framed);
                    }
                })
            })
        });
        g.bench_function(format!("durable_floor_preallocated/{round}"), |b| {
            b.iter_custom(|iters| {
                concurrent("durable_floor_preallocated", iters, &|_, per| {
                    for _ in 0..per {
                        floor_pre.append(&framed);
                    }
                })
            })
        });
        g.bench_function(format!("write_fdatasync_per_record/{round}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let at = per_at.fetch_add(framed.len() as u64, Ordering::Relaxed);
                    per_file.write_all_at(&framed, at).unwrap();
                    per_file.sync_data().unwrap();
                }
                let took = start.elapsed();
                record_rate("write_fdatasync_per_record", iters, took);
                took
            })
        });
    }
    g.finish();
}

/// Appends `n` records of 300 bytes, syncs, and measures the directory.
fn bytes_per_record(n: u64) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segments");
    let (w, _) = SegmentWriter::open(Arc::new(FsBackend), &path, SegmentConfig::default()).unwrap();
    for i in 0..n {
        w.append(&body(0, i)).unwrap();
    }
    w.sync().unwrap();
    let (files, bytes) = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .fold((0, 0), |(f, b), len| (f + 1, b + len));
    (bytes as f64 / n as f64, files)
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    let n = 50_000;
    let (per, files) = bytes_per_record(n);
    let seg = rate("segment_writer");
    let floor = rate("durable_floor");
    let floor_pre = rate("durable_floor_preallocated");
    let one = rate("write_fdatasync_per_record");
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    println!();
    println!("== segments (the segment store alone, not yet the log): same run ==");
    println!("{:<58} {:>12} {:>8}", "measurement", "records/s", "ratio");
    println!(
        "{:<58} {:>12.0} {:>8}",
        "durable floor, 16 threads (growing file)", floor, "1.00x"
    );
    println!(
        "{:<58} {:>12.0} {:>7.2}x",
        "SegmentWriter append + sync, 16 threads",
        seg,
        ratio(seg, floor)
    );
    println!(
        "{:<58} {:>12.0} {:>8}",
        "durable floor, 16 threads (preallocated file)", floor_pre, "1.00x"
    );
    println!(
        "{:<58} {:>12.0} {:>7.2}x",
        "SegmentWriter append + sync, 16 threads",
        seg,
        ratio(seg, floor_pre)
    );
    println!(
        "{:<58} {:>12.0} {:>8}",
        "write + fdatasync per record, 1 thread", one, "1.00x"
    );
    println!(
        "{:<58} {:>12.0} {:>7.2}x",
        "SegmentWriter append + sync, 16 threads",
        seg,
        ratio(seg, one)
    );
    println!(
        "bytes on disk per record (300-byte body, {n} records, {files} segment file(s)): {per:.1} \
         ({:.1} over the body)",
        per - BODY as f64
    );
}
