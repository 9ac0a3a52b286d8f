//! Any change to what is stored is detected by verification, which names the entry.

use sealtrail::entry::{Entry, EntryHeader};
use sealtrail::log::verify_store;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::verify::Check;
use sealtrail::{Durability, Suite};
use sealtrail_testkit::fixtures::*;

fn entry_key(seq: u64) -> Vec<u8> {
    let mut k = vec![0x01];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn expect_named(store: &dyn Store, seq: u64, what: &str) -> Check {
    let err = verify_store(store).expect_err(what);
    assert_eq!(err.seq(), Some(seq), "{what}: {err}");
    match err {
        sealtrail::log::LogVerifyError::Invalid(e) => e.check(),
        other => panic!("{what}: {other}"),
    }
}

#[test]
fn every_single_byte_flip_is_detected_and_named() {
    for suite in [Suite::Blake3, Suite::Sha256] {
        let (store, log, k) = memory_log(suite, Durability::Immediate);
        populate(&log, &k);
        let n = log.len();
        drop(log);
        verify_store(store.as_ref()).unwrap();
        let mut flips = 0;
        for seq in 0..n {
            let key = entry_key(seq);
            let original = store.get(&key).unwrap().unwrap();
            for i in 0..original.len() {
                for bit in [0x01u8, 0x80] {
                    let mut bad = original.clone();
                    bad[i] ^= bit;
                    store.put(&key, &bad).unwrap();
                    expect_named(
                        store.as_ref(),
                        seq,
                        &format!("{suite}: entry {seq} byte {i}"),
                    );
                    flips += 1;
                }
            }
            store.put(&key, &original).unwrap();
        }
        verify_store(store.as_ref()).unwrap();
        assert!(flips > 5_000, "{flips}");
    }
}

#[test]
fn deleting_reordering_and_duplicating_entries_is_detected() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    populate(&log, &k);
    let n = log.len();
    drop(log);
    let get = |s| store.get(&entry_key(s)).unwrap().unwrap();
    let snapshot: Vec<_> = (0..n).map(get).collect();
    let restore = |store: &MemoryStore| {
        for (s, v) in snapshot.iter().enumerate() {
            store.put(&entry_key(s as u64), v).unwrap();
        }
    };

    for seq in 0..n {
        store.delete(&entry_key(seq)).unwrap();
        assert_eq!(expect_named(store.as_ref(), seq, "delete"), Check::Sequence);
        restore(&store);
    }
    for seq in 0..n - 1 {
        store
            .put(&entry_key(seq), &snapshot[seq as usize + 1])
            .unwrap();
        store
            .put(&entry_key(seq + 1), &snapshot[seq as usize])
            .unwrap();
        assert_eq!(expect_named(store.as_ref(), seq, "swap"), Check::Sequence);
        restore(&store);
    }
    for seq in 1..n {
        store
            .put(&entry_key(seq), &snapshot[seq as usize - 1])
            .unwrap();
        assert_eq!(
            expect_named(store.as_ref(), seq, "duplicate"),
            Check::Sequence
        );
        restore(&store);
    }
    verify_store(store.as_ref()).unwrap();
}

/// Re-signing an entry with an outsider's key (and fixing up the chain is impossible without
/// re-signing everything after it) is caught at that entry.
#[test]
fn resigning_with_an_unregistered_key_is_detected() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let receipts = populate(&log, &k);
    drop(log);
    let target = receipts[7].seq;
    let raw = store.get(&entry_key(target)).unwrap().unwrap();
    let (entry_bytes, rest, nodes) = split_record(&raw);
    let entry = Entry::from_bytes(&entry_bytes).unwrap();
    let mut header: EntryHeader = entry.header().clone();
    header.signer = k.outsider.key_id();
    let hb = header.encode();
    let forged = Entry::sign(header, &hb, &k.outsider);
    store
        .put(
            &entry_key(target),
            &join_record(forged.as_bytes(), &rest, &nodes),
        )
        .unwrap();
    assert_eq!(
        expect_named(store.as_ref(), target, "re-signed"),
        Check::Signer
    );

    // Keeping the signer field but signing with the outsider's key fails the signature check.
    let forged = Entry::sign(entry.header().clone(), entry.header_bytes(), &k.outsider);
    store
        .put(
            &entry_key(target),
            &join_record(forged.as_bytes(), &rest, &nodes),
        )
        .unwrap();
    assert_eq!(
        expect_named(store.as_ref(), target, "wrong key"),
        Check::Signature
    );
}

/// Swapping the payloads of two entries is caught at the first of them.
#[test]
fn swapping_payloads_is_detected() {
    let (store, log, k) = memory_log(Suite::Sha256, Durability::Immediate);
    let r = populate(&log, &k);
    drop(log);
    let (a, b) = (r[7].seq, r[8].seq);
    let ra = store.get(&entry_key(a)).unwrap().unwrap();
    let rb = store.get(&entry_key(b)).unwrap().unwrap();
    let (ea, pa, na) = split_record(&ra);
    let (eb, pb, nb) = split_record(&rb);
    store
        .put(&entry_key(a), &join_record(&ea, &pb, &na))
        .unwrap();
    store
        .put(&entry_key(b), &join_record(&eb, &pa, &nb))
        .unwrap();
    assert_eq!(
        expect_named(store.as_ref(), a, "swapped payloads"),
        Check::Payload
    );
}

#[test]
fn erased_payloads_still_verify() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    let summary = log.verify().unwrap();
    assert_eq!(summary.erased, 1);
    // Key-management and approval payloads cannot be erased.
    assert!(log.erase_payload(&k.owner, r[0].seq, "no").is_err());
    assert!(log.erase_payload(&k.owner, r[6].seq, "no").is_err());
    // Only an owner may erase.
    assert!(log.erase_payload(&k.recorder, r[8].seq, "no").is_err());
    drop(log);
    assert_eq!(verify_store(store.as_ref()).unwrap().erased, 1);
}

#[cfg(feature = "sled")]
#[test]
fn dir_store_tamper_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let k = keys();
    let log = sealtrail::Log::create(&path, &k.owner, ORIGIN).unwrap();
    populate(&log, &k);
    let n = log.len();
    drop(log);
    let store = sealtrail::store::DirStore::open(&path).unwrap();
    verify_store(&store).unwrap();
    for seq in 0..n {
        let key = entry_key(seq);
        let original = store.get(&key).unwrap().unwrap();
        for i in (0..original.len()).step_by(7) {
            let mut bad = original.clone();
            bad[i] ^= 0x04;
            store.put(&key, &bad).unwrap();
            expect_named(&store, seq, &format!("stored entry {seq} byte {i}"));
        }
        store.put(&key, &original).unwrap();
    }
    store.delete(&entry_key(4)).unwrap();
    assert_eq!(expect_named(&store, 4, "stored delete"), Check::Sequence);
}

// The stored record is `[entry, salt, payload, nodes]`, or `[entry, nodes]` when erased
// (SPEC §9.1): split it into the entry, the raw salt-and-payload items, and the nodes.
fn split_record(raw: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut d = sealtrail::codec::Decoder::new(raw);
    let n = d.array().unwrap();
    assert!(n == 4 || n == 2);
    let entry = d.bytes().unwrap().to_vec();
    let start = d.position();
    if n == 4 {
        d.skip_item().unwrap();
        d.skip_item().unwrap();
    }
    let middle = raw[start..d.position()].to_vec();
    let nodes = d.bytes().unwrap().to_vec();
    (entry, middle, nodes)
}

fn join_record(entry: &[u8], middle: &[u8], nodes: &[u8]) -> Vec<u8> {
    let mut e = sealtrail::codec::Encoder::new();
    e.array(if middle.is_empty() { 2 } else { 4 })
        .bytes(entry)
        .raw(middle)
        .bytes(nodes);
    e.into_bytes()
}

/// Recomputes every record's stored Merkle nodes from its entry, as an insider rewriting
/// history would (the nodes are derived data, not signed).
fn refresh_nodes(store: &MemoryStore, suite: Suite) {
    let mut frontier = sealtrail::merkle::Frontier::new();
    let mut s = 0;
    while let Some(raw) = store.get(&entry_key(s)).unwrap() {
        let (entry, middle, _) = split_record(&raw);
        let hash = Entry::from_bytes(&entry).unwrap().hash(suite);
        let nodes: Vec<u8> = frontier
            .append(&suite, sealtrail::merkle::leaf_hash(suite, &hash))
            .unwrap()
            .iter()
            .flat_map(|n| n.hash)
            .collect();
        store
            .put(&entry_key(s), &join_record(&entry, &middle, &nodes))
            .unwrap();
        s += 1;
    }
}

/// Deleting a payload from storage without an `erasure` entry is caught at that entry.
#[test]
fn unrecorded_erasure_is_detected() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    drop(log);
    let target = r[7].seq;
    let raw = store.get(&entry_key(target)).unwrap().unwrap();
    let (entry, _, nodes) = split_record(&raw);
    store
        .put(&entry_key(target), &join_record(&entry, &[], &nodes))
        .unwrap();
    assert_eq!(
        expect_named(store.as_ref(), target, "silent erasure"),
        Check::Erasure
    );
}

fn key_for(k: &Keys, id: &sealtrail::KeyId) -> sealtrail::SecretKey {
    [&k.owner, &k.recorder, &k.approver, &k.outsider]
        .into_iter()
        .find(|s| s.key_id() == *id)
        .expect("a test key")
        .clone()
}

/// Rewrites entry `seq` with `edit`, re-signed by its own (registered) signer, and optionally
/// re-chains every later entry, re-signing each with its signer: what an insider holding every
/// key could do.
fn rewrite(
    store: &MemoryStore,
    k: &Keys,
    suite: Suite,
    seq: u64,
    rechain: bool,
    edit: impl Fn(&mut EntryHeader),
) {
    let mut prev = None;
    let mut s = seq;
    while let Some(raw) = store.get(&entry_key(s)).unwrap() {
        if s > seq && !rechain {
            break;
        }
        let (entry_bytes, rest, nodes) = split_record(&raw);
        let entry = Entry::from_bytes(&entry_bytes).unwrap();
        let mut header = entry.header().clone();
        if s == seq {
            edit(&mut header);
        }
        if let Some(p) = prev {
            header.prev = p;
        }
        let hb = header.encode();
        prev = Some(sealtrail::EntryHash::compute(suite, &hb));
        let signer = key_for(k, &header.signer);
        let forged = Entry::sign(header, &hb, &signer);
        store
            .put(
                &entry_key(s),
                &join_record(forged.as_bytes(), &rest, &nodes),
            )
            .unwrap();
        s += 1;
    }
    refresh_nodes(store, suite);
}

/// An insider re-signs one entry with its own registered key (so its signature verifies): the
/// next entry's `prev` no longer matches, and only the chain check can see that.
#[test]
fn validly_resigned_history_breaks_the_chain() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    drop(log);
    let target = r[7].seq;
    rewrite(&store, &k, Suite::Blake3, target, false, |h| {
        h.time = sealtrail::Timestamp(h.time.0 + 1);
    });
    assert_eq!(
        expect_named(store.as_ref(), target + 1, "re-signed"),
        Check::Chain
    );
}

/// An insider rewrites an entry's causal link and re-signs and re-chains everything after it:
/// signatures and chain verify, but the link names a hash that is not the linked entry's.
#[test]
fn forged_causal_link_is_detected() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    drop(log);
    let target = r[5].seq; // the decision, which links to entries 2 and 3
    rewrite(&store, &k, Suite::Blake3, target, true, |h| {
        h.links[0].hash = sealtrail::EntryHash([0xab; 32]);
    });
    assert_eq!(
        expect_named(store.as_ref(), target, "forged link"),
        Check::Link
    );
}

/// An insider moves an entry into another log: the log id check names it.
#[test]
fn entry_from_another_log_is_detected() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    drop(log);
    let target = r[4].seq;
    rewrite(&store, &k, Suite::Blake3, target, true, |h| {
        h.log_id = sealtrail::LogId([7; 32]);
    });
    assert_eq!(
        expect_named(store.as_ref(), target, "other log"),
        Check::LogId
    );
}

/// Time going backwards is named.
#[test]
fn time_regression_is_detected() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    drop(log);
    let target = r[4].seq;
    rewrite(&store, &k, Suite::Blake3, target, true, |h| {
        h.time = sealtrail::Timestamp(1);
    });
    assert_eq!(expect_named(store.as_ref(), target, "time"), Check::Time);
}

/// Stored Merkle nodes that do not match the entries are named by the Merkle check.
#[test]
fn tampered_stored_nodes_are_detected() {
    let (store, log, k) = memory_log(Suite::Sha256, Durability::Immediate);
    let r = populate(&log, &k);
    drop(log);
    let target = r[3].seq; // 0b11: holds nodes at levels 0, 1 and 2
    let raw = store.get(&entry_key(target)).unwrap().unwrap();
    let (entry, middle, mut nodes) = split_record(&raw);
    assert_eq!(nodes.len(), 3 * 32);
    nodes.swap(32, 64);
    store
        .put(&entry_key(target), &join_record(&entry, &middle, &nodes))
        .unwrap();
    assert_eq!(expect_named(store.as_ref(), target, "nodes"), Check::Merkle);
    // A record that drops a node it must hold.
    nodes.truncate(64);
    store
        .put(&entry_key(target), &join_record(&entry, &middle, &nodes))
        .unwrap();
    assert_eq!(expect_named(store.as_ref(), target, "nodes"), Check::Merkle);
}

/// Merkle nodes of level 4 and above live under their own keys (SPEC §9.1): a changed one is
/// named at the entry that completed it.
#[test]
fn tampered_keyed_node_is_detected() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Buffered);
    populate(&log, &k);
    let s = sealtrail::SessionId::new("more").unwrap();
    for i in 0..40 {
        log.append(&k.recorder, note(&i).session(&s)).unwrap();
    }
    drop(log);
    let mut key = vec![0x05, 4];
    key.extend_from_slice(&1u64.to_be_bytes()); // level 4, index 1: leaves 16..32
    let mut v = store
        .get(&key)
        .unwrap()
        .expect("node (4, 1) is stored under its key");
    v[7] ^= 0x20;
    store.put(&key, &v).unwrap();
    assert_eq!(
        expect_named(store.as_ref(), 31, "keyed node"),
        Check::Merkle
    );
    // A missing one is not tampering: upper nodes are derived data, rebuilt from the entries
    // when the log is opened over a store that says its index is behind (SPEC §9.7).
    store.delete(&key).unwrap();
    verify_store(store.as_ref()).expect("a missing upper node is not a finding");
}
