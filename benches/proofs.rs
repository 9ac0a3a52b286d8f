//! Merkle tree speed against ct-merkle, measured in the same run, same hash (SHA-256), same
//! leaves (1M 32-byte values, as a log's entry hashes), both in memory:
//!
//! * build a 1M-leaf tree: `MemoryTree::push` (and the log's own `Frontier::append`) vs.
//!   `MemoryBackedTree::push`;
//! * generate inclusion proofs at 1M leaves: `inclusion_proof` over `MemoryTree` (one-off: folds
//!   the proof's range along the right edge each time) and `Prover::inclusion_proof` (the right
//!   edge folded once per size, as ct-merkle keeps it stored) vs.
//!   `MemoryBackedTree::prove_inclusion`;
//! * verify inclusion proofs at 1M leaves, leaf hashing included on both sides:
//!   `verify_inclusion` vs. `RootHash::verify_inclusion`.
//!
//! Targets: ours ≥ 1.0× ct-merkle for generation and verification. Proof generation and
//! verification run the contenders interleaved, in blocks of 256 on the same leaf indices, so the
//! ratios hold on a busy machine.
//!
//! From the log's own sled store (target ≥ 50,000 inclusion proofs per second at 1M entries):
//! `Log::inclusion_proof` at 1M and 10M entries, and the time `Log::open` takes to rebuild the
//! frontier and the cached upper levels. The logs are built once under `target/bench-logs`
//! (`SEALTRAIL_BENCH_DIR` to move them; `SEALTRAIL_BENCH_SKIP_10M=1` to skip the 10M log, which
//! takes several minutes to build the first time and about 5 GB of disk).
//!
//! Run: `cargo bench --bench proofs`. A table of rates and ratios is printed at the end.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use sealtrail::Suite;
use sealtrail::merkle::{
    Frontier, MemoryTree, Prover, TreeHasher, inclusion_proof, verify_inclusion,
};
use sha2::Sha256;

const LEAVES: u64 = 1_000_000;
const SUITE: Suite = Suite::Sha256;

/// Operations per second, accumulated over every sample criterion takes.
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

/// Leaf values: 32 bytes each, like the entry hashes a log's leaves carry.
fn values() -> Vec<[u8; 32]> {
    (0..LEAVES)
        .map(|i| SUITE.hash(&[&i.to_be_bytes()]))
        .collect()
}

/// Deterministic pseudo-random leaf indices (splitmix64), the same for both trees.
fn indices(n: usize) -> Vec<u64> {
    let mut x = 0x5eed_u64;
    (0..n)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % LEAVES
        })
        .collect()
}

/// Runs each of `contenders` on inputs `k, k+1, …` (`iters` of them), in alternating blocks of
/// 256, and returns the time each took.
fn interleaved(
    iters: u64,
    k: &mut usize,
    contenders: &mut [&mut dyn FnMut(usize)],
) -> Vec<Duration> {
    let mut took = vec![Duration::ZERO; contenders.len()];
    let mut left = iters as usize;
    while left > 0 {
        let block = left.min(256);
        for (c, t) in contenders.iter_mut().zip(took.iter_mut()) {
            let start = Instant::now();
            for j in *k..*k + block {
                c(j);
            }
            *t += start.elapsed();
        }
        *k += block;
        left -= block;
    }
    took
}

fn ours_tree(values: &[[u8; 32]]) -> MemoryTree {
    let mut t = MemoryTree::new();
    for v in values {
        t.push(&SUITE, SUITE.leaf(v));
    }
    t
}

fn ct_tree(values: &[[u8; 32]]) -> MemoryBackedTree<Sha256, [u8; 32]> {
    let mut t = MemoryBackedTree::new();
    for v in values {
        t.push(*v);
    }
    t
}

fn bench_build(c: &mut Criterion, values: &[[u8; 32]]) {
    let mut g = c.benchmark_group("build_1m");
    g.throughput(Throughput::Elements(LEAVES));
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("sealtrail_memory_tree", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(ours_tree(values));
            }
            let took = start.elapsed();
            record_rate("build_ours", iters * LEAVES, took);
            took
        })
    });
    g.bench_function("sealtrail_frontier", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let mut f = Frontier::new();
                for v in values {
                    f.append_with(&SUITE, SUITE.leaf(v), |n| {
                        std::hint::black_box(n);
                    })
                    .unwrap();
                }
                std::hint::black_box(f.root(&SUITE));
            }
            let took = start.elapsed();
            record_rate("build_frontier", iters * LEAVES, took);
            took
        })
    });
    g.bench_function("ct_merkle", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(ct_tree(values));
            }
            let took = start.elapsed();
            record_rate("build_ct", iters * LEAVES, took);
            took
        })
    });
    g.finish();
}

fn bench_proofs(c: &mut Criterion, values: &[[u8; 32]]) {
    let ours = ours_tree(values);
    let ct = ct_tree(values);
    let idx = indices(4096);
    let mut g = c.benchmark_group("inclusion_1m");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20).measurement_time(Duration::from_secs(4));

    // Both sides must produce the same proofs for the comparison to mean anything.
    let prover = Prover::new(&ours, &SUITE, LEAVES).unwrap();
    for &i in idx.iter().take(64) {
        let a = inclusion_proof(&ours, &SUITE, i, LEAVES).unwrap();
        let b = ct.prove_inclusion(i as usize);
        assert_eq!(a.concat(), b.as_bytes(), "proof of leaf {i}");
        assert_eq!(prover.inclusion_proof(i).unwrap(), a);
    }

    // Each benchmark runs every contender on the same indices in alternating blocks and records
    // all of them, so a change of load on the shared machine hits both sides of a ratio alike;
    // criterion is told the time of the contender the benchmark is named after.
    let mut k = 0usize;
    let n = idx.len();
    for (name, reported) in [
        ("prove/sealtrail", 0),
        ("prove/sealtrail_prover", 1),
        ("prove/ct_merkle", 2),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let took = interleaved(
                    iters,
                    &mut k,
                    &mut [
                        &mut |j| {
                            let p = inclusion_proof(&ours, &SUITE, idx[j % n], LEAVES);
                            std::hint::black_box(p.unwrap());
                        },
                        &mut |j| {
                            std::hint::black_box(prover.inclusion_proof(idx[j % n]).unwrap());
                        },
                        &mut |j| {
                            std::hint::black_box(ct.prove_inclusion(idx[j % n] as usize));
                        },
                    ],
                );
                record_rate("prove_ours", iters, took[0]);
                record_rate("prove_prover", iters, took[1]);
                record_rate("prove_ct", iters, took[2]);
                took[reported]
            })
        });
    }

    let our_root = sealtrail::merkle::root(&ours, &SUITE, LEAVES).unwrap();
    let ct_root = ct.root();
    assert_eq!(our_root.as_bytes(), ct_root.as_bytes().as_slice());
    let our_proofs: Vec<Vec<[u8; 32]>> = idx
        .iter()
        .map(|&i| inclusion_proof(&ours, &SUITE, i, LEAVES).unwrap())
        .collect();
    let ct_proofs: Vec<_> = idx
        .iter()
        .map(|&i| ct.prove_inclusion(i as usize))
        .collect();
    for (name, reported) in [("verify/sealtrail", 0), ("verify/ct_merkle", 1)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let took = interleaved(
                    iters,
                    &mut k,
                    &mut [
                        &mut |j| {
                            let i = idx[j % n];
                            let leaf = SUITE.leaf(&values[i as usize]);
                            let p = &our_proofs[j % n];
                            verify_inclusion(&SUITE, &leaf, i, LEAVES, p, our_root.as_bytes())
                                .unwrap();
                        },
                        &mut |j| {
                            let i = idx[j % n];
                            ct_root
                                .verify_inclusion(&values[i as usize], i, &ct_proofs[j % n])
                                .unwrap();
                        },
                    ],
                );
                record_rate("verify_ours", iters, took[0]);
                record_rate("verify_ct", iters, took[1]);
                took[reported]
            })
        });
    }
    g.finish();
}

// ==== From the store: the log's own stored tree on sled ====

fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("SEALTRAIL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-logs")
        })
}

fn log_path(n: u64) -> std::path::PathBuf {
    bench_dir().join(format!("proofs-{n}"))
}

/// A sled-backed log of `n` entries under target/bench-logs (reused between runs: building 10M
/// entries takes minutes). Entries carry a small payload; the tree is what is measured.
fn stored_log(n: u64) -> sealtrail::Log {
    use sealtrail::registry::Role;
    use sealtrail::{Durability, Log, Record, SecretKey};
    let base = bench_dir();
    let path = log_path(n);
    let owner = SecretKey::from_seed("bench.example/proofs", &[1; 32]).unwrap();
    let recorder = SecretKey::from_seed("recorder", &[2; 32]).unwrap();
    if let Ok(log) = Log::builder().durability(Durability::Buffered).open(&path) {
        if log.len() >= n {
            return log;
        }
        drop(log);
    }
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&base).unwrap();
    let log = Log::builder()
        .suite(SUITE)
        .durability(Durability::Buffered)
        .create(&path, &owner, "bench.example/proofs")
        .unwrap();
    log.register_key(&owner, recorder.key_id(), Role::Recorder, "bench")
        .unwrap();
    let started = Instant::now();
    // A custom event: kinds outside the event vocabulary are refused.
    let record = sealtrail::event::Event::Custom(
        sealtrail::event::Custom::new("bench.example/note", &0u8).unwrap(),
    )
    .to_record()
    .unwrap();
    let (kind, payload) = (record.kind().clone(), record.payload().to_vec());
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (log, recorder, kind, payload) = (&log, &recorder, &kind, &payload);
            s.spawn(move || {
                while log.len() < n {
                    let batch = (0..1000)
                        .map(|_| Record::new(kind.clone(), payload.clone()))
                        .collect();
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

fn bench_from_store(c: &mut Criterion) {
    let mut sizes = vec![(LEAVES, "prove_store_1m", "open_store_1m")];
    if std::env::var_os("SEALTRAIL_BENCH_SKIP_10M").is_none() {
        sizes.push((10 * LEAVES, "prove_store_10m", "open_store_10m"));
    }
    let mut g = c.benchmark_group("from_store");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (n, prove_name, open_name) in sizes {
        let log = stored_log(n);
        let size = log.len();
        // Read the whole log once, in order, so the figures are for a warm store rather than
        // for whatever the disk cache kept from building other logs.
        let warm = Instant::now();
        for e in log.range(0..size) {
            std::hint::black_box(e.unwrap());
        }
        eprintln!(
            "read {size} entries in order to warm the store in {:.1} s",
            warm.elapsed().as_secs_f64()
        );
        let seqs = indices(4096);
        g.bench_function(prove_name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    let seq = seqs[(i % 4096) as usize] % size;
                    std::hint::black_box(log.inclusion_proof(seq, size).unwrap());
                }
                let took = start.elapsed();
                record_rate(prove_name, iters, took);
                took
            })
        });
        // Reopening rebuilds the frontier and the cached upper levels from stored nodes.
        drop(log);
        let path = log_path(n);
        let start = Instant::now();
        let log = sealtrail::Log::open(&path).unwrap();
        record_rate(open_name, 1, start.elapsed());
        // The proofs agree with a check against the root the log reports.
        let root = log.root(size).unwrap();
        let e = log.read(size / 2).unwrap().unwrap();
        let proof = log.inclusion_proof(size / 2, size).unwrap();
        let leaf = sealtrail::merkle::leaf_hash(SUITE, &e.hash);
        verify_inclusion(&SUITE, &leaf, size / 2, size, &proof, root.as_bytes()).unwrap();
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let values = values();
    bench_build(&mut c, &values);
    bench_proofs(&mut c, &values);
    bench_from_store(&mut c);
    c.final_summary();

    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let row = |name: &str, ops: f64, base: f64, target: &str| {
        println!(
            "{:<50} {:>14.0} {:>9.2}x {:>8}",
            name,
            ops,
            ratio(ops, base),
            target
        );
    };
    let (build_ct, build_ours, build_frontier) =
        (rate("build_ct"), rate("build_ours"), rate("build_frontier"));
    let (prove_ct, prove_ours, prove_prover) =
        (rate("prove_ct"), rate("prove_ours"), rate("prove_prover"));
    let (verify_ct, verify_ours) = (rate("verify_ct"), rate("verify_ours"));
    println!();
    println!("== Merkle proofs at {LEAVES} leaves, SHA-256, in memory (same run) ==");
    println!(
        "{:<50} {:>14} {:>10} {:>8}",
        "measurement", "per second", "ratio", "target"
    );
    row(
        "build: ct-merkle MemoryBackedTree::push (leaves)",
        build_ct,
        build_ct,
        "",
    );
    row(
        "build: sealtrail MemoryTree::push (leaves)",
        build_ours,
        build_ct,
        "",
    );
    row(
        "build: sealtrail Frontier::append (leaves)",
        build_frontier,
        build_ct,
        "",
    );
    row("prove inclusion: ct-merkle", prove_ct, prove_ct, "");
    row(
        "prove inclusion: sealtrail inclusion_proof",
        prove_ours,
        prove_ct,
        ">=1.0x",
    );
    row(
        "prove inclusion: sealtrail Prover (edge folded once)",
        prove_prover,
        prove_ct,
        ">=1.0x",
    );
    row("verify inclusion: ct-merkle", verify_ct, verify_ct, "");
    row(
        "verify inclusion: sealtrail",
        verify_ours,
        verify_ct,
        ">=1.0x",
    );
    println!();
    println!("== From the log's sled store (same run) ==");
    row(
        "prove inclusion: Log::inclusion_proof, sled, 1M",
        rate("prove_store_1m"),
        prove_ct,
        ">=50000/s",
    );
    if rate("prove_store_10m") > 0.0 {
        row(
            "prove inclusion: Log::inclusion_proof, sled, 10M",
            rate("prove_store_10m"),
            prove_ct,
            "",
        );
    }
    for (name, label) in [
        (
            "open_store_1m",
            "Log::open at 1M (frontier + upper nodes), ms",
        ),
        (
            "open_store_10m",
            "Log::open at 10M (frontier + upper nodes), ms",
        ),
    ] {
        let r = rate(name);
        if r > 0.0 {
            println!("{:<50} {:>14.1}", label, 1000.0 / r);
        }
    }
}
