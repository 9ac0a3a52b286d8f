//! Bundle verification against raw signature verification, same run, same 1M signatures:
//!
//! * `verify_bundle` over a 1M-entry whole-log bundle (everything: decoding, hashes, chain,
//!   registry, Merkle tree, strict signatures on every core);
//! * raw batch verification of the same 1M signatures (ed25519-dalek `verify_batch`, chunks of
//!   256, on 2 threads) — the baseline; target ≥ 0.8×;
//! * raw strict single verification of the same signatures on 2 threads — what the verifier must
//!   do (SPEC §12.6 explains why batch verification cannot give a verdict every verifier agrees
//!   with).
//!
//! * peak memory of `verify_bundle` over the same bundle, streamed from its file: the bench runs
//!   itself again as a child process that only verifies, and reads that process's peak resident
//!   size (`VmHWM`, Linux); a child that only starts up is the floor. Target < 64 MiB.
//! * peak memory of `verify_bundle` over a hostile bundle of 128 entry items of 16 MiB each
//!   (2 GiB, generated as it is read, never held): target < 96 MiB.
//! * time of `verify_bundle` over 400k entry items naming 400k distinct signers against 400k
//!   naming one signer (the same bundle otherwise; neither signer registered, so both are
//!   invalid alike): finding a signer must not depend on how many came before. Target ≤ 1.5×.
//!
//! Run: `cargo bench --bench verify`. The bundles are built once under `target/bench-logs`
//! (`SEALTRAIL_BENCH_DIR` to move them).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use ed25519_dalek::{Signature, VerifyingKey};
use sealtrail::bundle::{
    BundleHeader, BundlePayload, EntryItem, Trailer, TrustPolicy, bundle_digest, preamble,
    verify_bundle,
};
use sealtrail::entry::EntryHeader;
use sealtrail::event::{Custom, Event};
use sealtrail::hash::{EntryHash, PayloadCommitment, Salt};
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::registry::Role;
use sealtrail::{Durability, Entry, Kind, Log, Record, SecretKey, SessionId, Suite};

const ENTRIES: u64 = 1_000_000;
/// Entry items of the signer-lookup bundles.
const SIGNER_ENTRIES: u64 = 400_000;
/// The origin of the bench logs.
const ORIGIN: &str = "bench.example/verify";

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

fn base() -> PathBuf {
    std::env::var_os("SEALTRAIL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-logs")
        })
}

fn owner() -> SecretKey {
    SecretKey::from_seed(ORIGIN, &[1; 32]).unwrap()
}

/// A bundle of a realistic 1M-entry log: 64 sessions, 300-byte payloads. Built once (the file
/// name carries the format version).
fn bundle_path() -> PathBuf {
    let path = base().join(format!(
        "verify-1m-v{}.bundle",
        sealtrail::bundle::BUNDLE_VERSION
    ));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(base()).unwrap();
    let log_path = base().join("verify-1m-log");
    let _ = std::fs::remove_dir_all(&log_path);
    let owner = owner();
    let recorder = SecretKey::from_seed("recorder", &[2; 32]).unwrap();
    let log = Log::builder()
        .suite(Suite::Blake3)
        .durability(Durability::Buffered)
        .create(&log_path, &owner, ORIGIN)
        .unwrap();
    log.register_key(&owner, recorder.key_id(), Role::Recorder, "bench")
        .unwrap();
    let (kind, payload) = bench_record();
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2 {
            let (log, recorder, payload, kind) = (&log, &recorder, &payload, &kind);
            s.spawn(move || {
                let mut i = 0u64;
                while log.len() < ENTRIES {
                    let session = SessionId::new(&format!("session-{}", (i + t) % 64)).unwrap();
                    let batch = (0..500)
                        .map(|_| Record::new(kind.clone(), payload.clone()).session(&session))
                        .collect();
                    log.append_batch(recorder, batch).unwrap();
                    i += 1;
                }
            });
        }
    });
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    log.export(
        &owner,
        &ExportOptions::new(Selection::Log),
        &mut out,
        &mut |_, _| {},
    )
    .unwrap();
    eprintln!(
        "built a {}-entry log and its bundle in {:.0} s",
        log.len(),
        started.elapsed().as_secs_f64()
    );
    path
}

/// The kind and payload of every entry of the bench logs: a custom event holding a byte string,
/// about 300 bytes of payload (a built-in kind's payload must follow its schema, and kinds
/// outside the vocabulary are refused).
fn bench_record() -> (Kind, Vec<u8>) {
    let body = serde_bytes::ByteBuf::from(vec![0x5a; 270]);
    let event = Event::Custom(Custom::new("bench.example/record", &body).unwrap());
    let record = event.to_record().unwrap();
    (record.kind().clone(), record.payload().to_vec())
}

/// The signatures of the bundle's entries: messages, signatures, keys.
fn signatures(path: &PathBuf) -> (Vec<Vec<u8>>, Vec<Signature>, Vec<VerifyingKey>) {
    let bytes = std::fs::read(path).unwrap();
    let mut r = &bytes[..];
    let mut buf = Vec::new();
    let (mut msgs, mut sigs, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    let mut index = 0;
    while sealtrail::codec::read_item(&mut r, &mut buf, 1 << 26).unwrap() {
        index += 1;
        if index <= 3 {
            continue;
        }
        let Ok(item) = EntryItem::decode(&buf) else {
            continue;
        };
        let e = Entry::from_bytes(&item.entry).unwrap();
        msgs.push(e.signing_input());
        sigs.push(Signature::from_bytes(e.signature()));
        keys.push(VerifyingKey::from_bytes(e.header().signer.as_bytes()).unwrap());
    }
    (msgs, sigs, keys)
}

fn on_two_threads(n: usize, f: impl Fn(std::ops::Range<usize>) + Sync) {
    let half = n / 2;
    std::thread::scope(|s| {
        s.spawn(|| f(0..half));
        s.spawn(|| f(half..n));
    });
}

/// The trust policy of the bench's bundles: the log's verifier key (the owner key under the
/// BLAKE3 checkpoint origin line) pinned.
fn policy() -> TrustPolicy {
    let line = sealtrail::checkpoint::checkpoint_origin(ORIGIN, Suite::Blake3);
    TrustPolicy::new(vec![owner().public_key().renamed(&line).unwrap()]).unwrap()
}

/// Verifies the bundle at `path`, streamed from its file; it must be valid.
fn verify_file(path: &std::path::Path, policy: &TrustPolicy) {
    let f = std::fs::File::open(path).unwrap();
    let report = verify_bundle(f, policy).unwrap();
    assert!(report.is_valid(), "{}", report.render());
}

/// Verifies a bundle that is invalid by construction; returns how many findings it has.
fn verify_invalid(path: &std::path::Path, policy: &TrustPolicy) -> u64 {
    let f = std::fs::File::open(path).unwrap();
    let report = verify_bundle(f, policy).unwrap();
    assert!(!report.is_valid());
    report.findings.len() as u64 + report.findings_unlisted
}

/// The header of an empty log's whole-log export: a real descriptor and checkpoint to put
/// hand-made entry items behind.
fn empty_log_header() -> BundleHeader {
    let log = Log::in_memory(&owner(), ORIGIN).unwrap();
    let mut out = Vec::new();
    log.export(
        &owner(),
        &ExportOptions::new(Selection::Log),
        &mut out,
        &mut |_, _| {},
    )
    .unwrap();
    let mut r = &out[..];
    let mut buf = Vec::new();
    for _ in 0..3 {
        assert!(sealtrail::codec::read_item(&mut r, &mut buf, 1 << 24).unwrap());
    }
    BundleHeader::decode(&buf).unwrap()
}

/// A bundle of `SIGNER_ENTRIES` chained entry items, each signed by its own key (`distinct`) or
/// all by one key; no signer is registered, so every item has a `signer` finding, the same in
/// both. Built once.
fn signers_bundle_path(distinct: bool) -> PathBuf {
    let name = if distinct { "distinct" } else { "one" };
    let path = base().join(format!(
        "verify-400k-{name}-signer-v{}.bundle",
        sealtrail::bundle::BUNDLE_VERSION
    ));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(base()).unwrap();
    let started = Instant::now();
    let mut header = empty_log_header();
    header.count = SIGNER_ENTRIES;
    let descriptor = sealtrail::SignedDescriptor::from_bytes(&header.descriptor).unwrap();
    let (suite, log_id) = (descriptor.suite(), descriptor.log_id());
    let payload =
        sealtrail::codec::to_canonical(&serde_bytes::ByteBuf::from(vec![0x5a; 297])).unwrap();
    let salt = Salt([9; 32]);
    let commitment = PayloadCommitment::compute(suite, &salt, &payload);
    let one = SecretKey::from_seed("one", &[3; 32]).unwrap();
    let mut out = preamble();
    out.extend_from_slice(&header.encode());
    let mut prev = EntryHash(log_id.0);
    for seq in 0..SIGNER_ENTRIES {
        let key = if distinct {
            let mut seed = [4u8; 32];
            seed[..8].copy_from_slice(&seq.to_be_bytes());
            SecretKey::from_seed("k", &seed).unwrap()
        } else {
            one.clone()
        };
        let h = EntryHeader {
            version: sealtrail::descriptor::FORMAT_VERSION,
            log_id,
            seq,
            prev,
            time: descriptor.descriptor().created,
            session: SessionId::none(),
            signer: key.key_id(),
            kind: Kind::new("command_run").unwrap(),
            payload: commitment,
            links: vec![],
            control: None,
        };
        let hb = h.encode();
        let entry = Entry::sign(h, &hb, &key);
        prev = entry.hash(suite);
        let item = EntryItem {
            entry: entry.into_bytes(),
            payload: BundlePayload::Present {
                salt,
                data: payload.clone(),
            },
            proof: vec![],
        };
        out.extend_from_slice(&item.encode());
    }
    let digest = bundle_digest(suite, &out);
    let trailer = Trailer {
        count: SIGNER_ENTRIES,
        digest: serde_bytes::ByteArray::new(digest),
        signature: serde_bytes::ByteArray::new(owner().sign(&Trailer::signing_input(&digest))),
        signer: serde_bytes::ByteArray::new(*owner().key_id().as_bytes()),
    };
    out.extend_from_slice(&trailer.encode());
    std::fs::write(&path, out).unwrap();
    eprintln!(
        "built the {name}-signer bundle in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    path
}

/// A bundle of `items` entry items with 16 MiB payloads each, produced as it is read: only a
/// few kilobytes of it exist at any time.
struct LargeItems {
    head: std::io::Cursor<Vec<u8>>,
    prefix: Vec<u8>,
    items: u64,
    // Position inside the current item: in its prefix, then in its data, then its last byte.
    at: u64,
}

/// The payload size of a large item.
const LARGE: u64 = 16 * 1024 * 1024;

impl LargeItems {
    fn new(items: u64) -> LargeItems {
        let mut header = empty_log_header();
        header.count = items;
        let mut head = preamble();
        head.extend_from_slice(&header.encode());
        // One signed entry, repeated: every item decodes, and its 16 MiB payload is hashed
        // against the commitment (which it does not match).
        let descriptor = sealtrail::SignedDescriptor::from_bytes(&header.descriptor).unwrap();
        let h = EntryHeader {
            version: sealtrail::descriptor::FORMAT_VERSION,
            log_id: descriptor.log_id(),
            seq: 0,
            prev: EntryHash(descriptor.log_id().0),
            time: descriptor.descriptor().created,
            session: SessionId::none(),
            signer: owner().key_id(),
            kind: Kind::new("command_run").unwrap(),
            payload: PayloadCommitment([0; 32]),
            links: vec![],
            control: None,
        };
        let hb = h.encode();
        let entry = Entry::sign(h, &hb, &owner()).into_bytes();
        let mut e = sealtrail::codec::Encoder::new();
        e.array(3).bytes(&entry).array(2).bytes(&[7; 32]);
        let mut prefix = e.into_bytes();
        // A byte string of LARGE bytes: head 0x5a and a 4-byte length.
        prefix.push(0x5a);
        prefix.extend_from_slice(&(LARGE as u32).to_be_bytes());
        LargeItems {
            head: std::io::Cursor::new(head),
            prefix,
            items,
            at: 0,
        }
    }
}

impl std::io::Read for LargeItems {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.head.read(out)?;
        if n > 0 || out.is_empty() {
            return Ok(n);
        }
        if self.items == 0 {
            return Ok(0);
        }
        let p = self.prefix.len() as u64;
        let item_len = p + LARGE + 1;
        let n = if self.at < p {
            let k = ((p - self.at) as usize).min(out.len());
            out[..k].copy_from_slice(&self.prefix[self.at as usize..self.at as usize + k]);
            k
        } else if self.at < p + LARGE {
            let k = ((p + LARGE - self.at) as usize).min(out.len());
            out[..k].fill(0x41);
            k
        } else {
            out[0] = 0x80; // the empty proof
            1
        };
        self.at += n as u64;
        if self.at == item_len {
            self.at = 0;
            self.items -= 1;
        }
        Ok(n)
    }
}

/// Runs `f` `iters` times, records `per_iter` items per run under `name`, returns the time.
fn timed(name: &'static str, per_iter: u64, iters: u64, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let took = start.elapsed();
    record_rate(name, iters * per_iter, took);
    took
}

/// Set in the child process that measures peak memory: the bundle to verify, or empty for the
/// floor (a process that starts, and verifies nothing).
const PEAK_CHILD: &str = "SEALTRAIL_BENCH_PEAK_CHILD";

/// This process's peak resident size in KiB, from /proc (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What the child measures the hostile bundle of large items under.
const LARGE_ITEMS_CHILD: &str = "large-items";

/// The child's side: verify (unless measuring the floor), then print the peak resident size.
fn peak_child(bundle: &std::ffi::OsStr) -> ! {
    if bundle == LARGE_ITEMS_CHILD {
        let report = verify_bundle(LargeItems::new(128), &policy()).unwrap();
        assert_eq!(report.entries, 128, "every item is read and checked");
        assert!(!report.is_valid());
    } else if !bundle.is_empty() {
        verify_file(bundle.as_ref(), &policy());
    }
    match peak_rss_kib() {
        Some(kib) => println!("{kib}"),
        None => println!("unknown"),
    }
    std::process::exit(0)
}

/// The parent's side: the peak resident size, in KiB, of a child verifying `bundle` (or of one
/// that verifies nothing, for an empty path).
fn peak_of(bundle: &std::ffi::OsStr) -> Option<u64> {
    let out = std::process::Command::new(std::env::current_exe().ok()?)
        .env(PEAK_CHILD, bundle)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn main() {
    if let Some(bundle) = std::env::var_os(PEAK_CHILD) {
        peak_child(&bundle);
    }
    let mut c = Criterion::default().configure_from_args();
    let path = bundle_path();
    let (msgs, sigs, keys) = signatures(&path);
    let n = msgs.len();
    let policy = policy();
    let mut g = c.benchmark_group("verify_1m");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(60))
        .throughput(Throughput::Elements(n as u64));
    g.bench_function("raw_batch_2_threads", |b| {
        b.iter_custom(|iters| {
            timed("raw_batch", n as u64, iters, || {
                on_two_threads(n, |range| {
                    for chunk in range.collect::<Vec<_>>().chunks(256) {
                        let (a, b) = (chunk[0], chunk[chunk.len() - 1] + 1);
                        let m: Vec<&[u8]> = msgs[a..b].iter().map(|m| m.as_slice()).collect();
                        ed25519_dalek::verify_batch(&m, &sigs[a..b], &keys[a..b]).unwrap();
                    }
                })
            })
        })
    });
    g.bench_function("raw_strict_2_threads", |b| {
        b.iter_custom(|iters| {
            timed("raw_strict", n as u64, iters, || {
                on_two_threads(n, |range| {
                    for i in range {
                        keys[i].verify_strict(&msgs[i], &sigs[i]).unwrap();
                    }
                })
            })
        })
    });
    g.bench_function("verify_bundle", |b| {
        b.iter_custom(|iters| timed("bundle", n as u64, iters, || verify_file(&path, &policy)))
    });
    g.finish();
    let (distinct, one) = (signers_bundle_path(true), signers_bundle_path(false));
    let mut g = c.benchmark_group("verify_400k_signers");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements(SIGNER_ENTRIES));
    // Interleaved rounds, so drift on a shared machine affects both sides of the ratio.
    for round in 1..=2 {
        g.bench_function(criterion::BenchmarkId::new("one_signer", round), |b| {
            b.iter_custom(|iters| {
                timed("one_signer", SIGNER_ENTRIES, iters, || {
                    verify_invalid(&one, &policy);
                })
            })
        });
        g.bench_function(
            criterion::BenchmarkId::new("distinct_signers", round),
            |b| {
                b.iter_custom(|iters| {
                    timed("distinct_signers", SIGNER_ENTRIES, iters, || {
                        verify_invalid(&distinct, &policy);
                    })
                })
            },
        );
    }
    g.finish();
    c.final_summary();

    let (batch, strict, bundle) = (rate("raw_batch"), rate("raw_strict"), rate("bundle"));
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    println!();
    println!("== verify a {n}-entry bundle (same run) ==");
    println!(
        "{:<52} {:>12} {:>9} {:>8}",
        "measurement", "entries/s", "ratio", "target"
    );
    println!(
        "{:<52} {:>12.0} {:>8.2}x {:>8}",
        "raw batch verification, 2 threads (baseline)", batch, 1.0, ""
    );
    println!(
        "{:<52} {:>12.0} {:>8.2}x {:>8}",
        "raw strict verification, 2 threads",
        strict,
        ratio(strict, batch),
        ""
    );
    println!(
        "{:<52} {:>12.0} {:>8.2}x {:>8}",
        "verify_bundle (everything, strict signatures)",
        bundle,
        ratio(bundle, batch),
        ">=0.8x"
    );
    println!(
        "{:<52} {:>12} {:>8.2}x {:>8}",
        "verify_bundle vs. raw strict verification",
        "",
        ratio(bundle, strict),
        ">=0.95x"
    );
    let (one_rate, distinct_rate) = (rate("one_signer"), rate("distinct_signers"));
    println!();
    println!("== signer lookup: {SIGNER_ENTRIES} entry items (same run) ==");
    println!(
        "{:<52} {:>12.0} {:>9} {:>8}",
        "one signer (baseline)", one_rate, "1.00x", ""
    );
    println!(
        "{:<52} {:>12.0} {:>8.2}x {:>8}",
        "400k distinct signers (time: distinct / one)",
        distinct_rate,
        ratio(one_rate, distinct_rate),
        "<=1.5x"
    );
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mib = |kib: u64| kib as f64 / 1024.0;
    match (peak_of(path.as_os_str()), peak_of("".as_ref())) {
        (Some(peak), Some(floor)) => {
            println!(
                "{:<52} {:>10.1} MiB {:>8}",
                "peak memory of verify_bundle (resident, process)",
                mib(peak),
                "<64 MiB"
            );
            println!(
                "{:<52} {:>10.1} MiB",
                "  of which the process floor (starts, verifies nothing)",
                mib(floor)
            );
            println!(
                "{:<52} {:>10.1} MiB  (peak is {:.3}x the bundle's size)",
                "  bundle size",
                size as f64 / (1024.0 * 1024.0),
                peak as f64 * 1024.0 / size.max(1) as f64
            );
        }
        _ => println!("peak memory: not measured (needs Linux /proc/self/status)"),
    }
    if let Some(peak) = peak_of(LARGE_ITEMS_CHILD.as_ref()) {
        println!(
            "{:<52} {:>10.1} MiB {:>8}",
            "peak memory, 128 items of 16 MiB (2 GiB streamed)",
            mib(peak),
            "<96 MiB"
        );
    }
    println!("bundle: {} ({size} bytes)", path.display());
}
