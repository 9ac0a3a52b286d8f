//! The whole log on the power-loss simulator (SPEC §9.2, §9.3, §9.7): appenders on several
//! threads, Immediate or Buffered with flushes, checkpoints among them; power is lost at a
//! random point (every write not covered by a sync is dropped, the last one maybe torn); the
//! directory is opened again and every acknowledged entry must be there, byte for byte, the
//! index rebuilt, and the log must verify.
//!
//! `cargo test --test log_power_loss` simulates 300 power losses. A longer run:
//! `SEALTRAIL_LOG_POWER_LOSS_RUNS=5000 cargo test --release --test log_power_loss -- --nocapture`.

#![cfg(feature = "sled")]

use std::path::Path;
use std::sync::{Arc, Mutex};

use sealtrail::log::OpenError;
use sealtrail::registry::Role;
use sealtrail::segment::{Backend, SimBackend, SimRng};
use sealtrail::store::DirStore;
use sealtrail::{Durability, Log, Receipt, SessionId};
use sealtrail_testkit::fixtures::{keys, note};

const ORIGIN: &str = "example.com/fixture";

fn runs() -> u64 {
    std::env::var("SEALTRAIL_LOG_POWER_LOSS_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// One run: returns how many entries were acknowledged before the power loss.
fn run(seed: u64) -> Result<usize, String> {
    let mut rng = SimRng::new(seed ^ 0x5eed_1e55);
    let sim = SimBackend::new(seed);
    let backend: Arc<dyn Backend> = Arc::new(sim.clone());
    let dir = Path::new("/logs/agent");
    let k = keys();
    let durability = if rng.chance(1, 2) {
        Durability::Immediate
    } else {
        Durability::Buffered
    };
    let open = || DirStore::open_with_backend(backend.clone(), dir);
    let log = Log::builder()
        .durability(durability)
        .create_in(
            Arc::new(open().map_err(|e| e.to_string())?),
            &k.owner,
            ORIGIN,
        )
        .map_err(|e| format!("create: {e}"))?;
    let registered = log
        .register_key(&k.owner, k.recorder.key_id(), Role::Recorder, "harness")
        .map_err(|e| format!("register: {e}"))?;
    log.flush().map_err(|e| format!("flush: {e}"))?;
    let acked: Arc<Mutex<Vec<Receipt>>> = Arc::new(Mutex::new(vec![registered]));
    // Three entries holding a secret, one of which is erased while power may go.
    let secrets: Vec<(String, Receipt)> = (0..3)
        .map(|j| {
            let secret = format!("secret-{seed}-{j}-a8f3");
            let r = log.append(&k.recorder, note(&secret)).unwrap();
            (secret, r)
        })
        .collect();
    log.flush().map_err(|e| format!("flush: {e}"))?;
    acked
        .lock()
        .unwrap()
        .extend(secrets.iter().map(|(_, r)| *r));
    let erase = rng.chance(2, 3).then(|| rng.below(3) as usize);
    // One run in three grows the log to 200-599 entries first, so the power loss falls past
    // entry 255 or 511, whose records hold Merkle nodes of level 8 and up, and the frontier is
    // restored from them and from a run of leaves (SPEC §9.1, §9.3).
    if rng.chance(1, 3) {
        let s = SessionId::new("earlier").unwrap();
        let target = 200 + rng.below(400);
        while log.len() < target {
            let n = (target - log.len()).min(64);
            let records = (0..n).map(|i| note(&i).session(&s)).collect();
            let receipts = log
                .append_batch(&k.recorder, records)
                .map_err(|e| format!("grow: {e}"))?;
            log.flush().map_err(|e| format!("flush: {e}"))?;
            acked.lock().unwrap().extend(receipts);
        }
    }

    // Power is lost at the n-th mutation from here (a group commit is a write and a sync).
    sim.crash_after(rng.below(120));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (log, acked, k) = (log.clone(), acked.clone(), keys());
            let flush_every = 1 + (seed + t) % 7;
            std::thread::spawn(move || {
                let s = SessionId::new(&format!("s-{t}")).unwrap();
                let mut pending = Vec::new();
                for i in 0..40u32 {
                    let Ok(r) = log.append(&k.recorder, note(&i).session(&s)) else {
                        return;
                    };
                    match durability {
                        Durability::Immediate => acked.lock().unwrap().push(r),
                        _ => {
                            pending.push(r);
                            if u64::from(i) % flush_every == 0 {
                                if log.flush().is_err() {
                                    return;
                                }
                                acked.lock().unwrap().append(&mut pending);
                            }
                        }
                    }
                }
            })
        })
        .collect();
    // A checkpoint now and then, and an erasure, beside the appenders.
    if rng.chance(1, 2) {
        let _ = log.checkpoint(&k.owner);
    }
    let erased = erase.filter(|&j| {
        log.erase_payload(&k.owner, secrets[j].1.seq, "data subject request")
            .is_ok()
    });
    for t in threads {
        t.join().map_err(|_| "an appender panicked".to_string())?;
    }
    // Power goes now if it has not yet: only what was synced survives.
    sim.cancel_crash();
    sim.crash();
    drop(log);

    let log = match Log::builder().open_in(Arc::new(open().map_err(|e| format!("reopen: {e}"))?)) {
        Ok(l) => l,
        Err(OpenError::NotALog) => return Err("the descriptor was lost".into()),
        Err(e) => return Err(format!("reopen: {e}")),
    };
    let acked = acked.lock().unwrap();
    for r in acked.iter() {
        let e = log
            .read(r.seq)
            .map_err(|e| format!("entry {}: {e}", r.seq))?
            .ok_or_else(|| format!("acknowledged entry {} is missing", r.seq))?;
        if e.hash != r.hash {
            return Err(format!("entry {} is not the one acknowledged", r.seq));
        }
    }
    log.verify().map_err(|e| format!("verify: {e}"))?;
    // An acknowledged erasure holds; and a payload the log reads as erased (also one whose
    // erasure was cut short by the power loss) is in no file.
    for (j, (secret, r)) in secrets.iter().enumerate() {
        let e = log
            .read(r.seq)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("entry {} is missing", r.seq))?;
        if e.payload.data().is_some() {
            if erased == Some(j) {
                return Err(format!("entry {} was erased, its payload is back", r.seq));
            }
            continue;
        }
        let needle = secret.as_bytes();
        for (p, bytes) in sim.files() {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return Err(format!(
                    "{} holds the erased payload of {}",
                    p.display(),
                    r.seq
                ));
            }
        }
    }
    // The rebuilt index answers: every entry of a session is found through it.
    for t in 0..4 {
        let s = SessionId::new(&format!("s-{t}")).unwrap();
        let found = log.session(&s).map_err(|e| e.to_string())?.len();
        let written = log
            .range(0..log.len())
            .filter(|e| e.as_ref().is_ok_and(|e| e.header().session == s))
            .count();
        if found != written {
            return Err(format!("session s-{t}: {found} found, {written} written"));
        }
    }
    // Appending goes on after recovery.
    log.append(&k.recorder, note("after"))
        .map_err(|e| e.to_string())?;
    Ok(acked.len())
}

#[test]
fn acknowledged_entries_survive_power_loss_and_the_log_verifies() {
    let mut acked = 0;
    for seed in 0..runs() {
        match run(seed) {
            Ok(n) => acked += n,
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }
    // The losses fell at every stage: some runs kept many entries.
    assert!(acked > runs() as usize * 5, "{acked} acknowledged in all");
}
