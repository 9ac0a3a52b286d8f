//! Any change to what is stored is detected by verification, which names the entry.

use std::sync::Arc;

use sealtrail::entry::{Entry, EntryHeader, Payload};
use sealtrail::log::{encode_record, verify_store};
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
        assert!(flips > 4_500, "{flips}");
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
        // A record read at another position restores that position's `seq` (SPEC §9.1): it
        // does not parse there (its node count follows from the position), or restores an
        // entry whose chain or signature fails. Either way the entry is named.
        expect_named(store.as_ref(), seq, "swap");
        restore(&store);
    }
    for seq in 1..n {
        store
            .put(&entry_key(seq), &snapshot[seq as usize - 1])
            .unwrap();
        expect_named(store.as_ref(), seq, "duplicate");
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
    let mut entries = read_all(&store);
    let entry = entries[target as usize].0.clone();
    let mut header: EntryHeader = entry.header().clone();
    header.signer = k.outsider.key_id();
    let hb = header.encode();
    entries[target as usize].0 = Entry::sign(header, &hb, &k.outsider);
    put_all(&store, Suite::Blake3, &entries);
    assert_eq!(
        expect_named(store.as_ref(), target, "re-signed"),
        Check::Signer
    );

    // Keeping the signer field but signing with the outsider's key fails the signature check.
    entries[target as usize].0 =
        Entry::sign(entry.header().clone(), entry.header_bytes(), &k.outsider);
    put_all(&store, Suite::Blake3, &entries);
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
    let mut entries = read_all(&store);
    let pa = entries[a as usize].1.clone();
    entries[a as usize].1 = entries[b as usize].1.clone();
    entries[b as usize].1 = pa;
    put_all(&store, Suite::Sha256, &entries);
    // The stored record restores the header's commitment from the payload it holds (SPEC
    // §9.1): the entry read back is not the one signed.
    assert_eq!(
        expect_named(store.as_ref(), a, "swapped payloads"),
        Check::Signature
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

// Every entry of the log in `store` with its payload, as the log reads them.
fn read_all(store: &Arc<MemoryStore>) -> Vec<(Entry, Payload)> {
    let log = sealtrail::Log::builder()
        .open_in(store.clone() as Arc<dyn Store>)
        .unwrap();
    let all = log
        .range(0..log.len())
        .map(|e| {
            let e = e.unwrap();
            (e.entry, e.payload)
        })
        .collect();
    drop(log);
    all
}

// The Merkle nodes each entry's record holds (SPEC §9.1): those of level 8 and up its leaf
// completes, as an insider rewriting history would recompute them (they are not signed).
fn nodes_for(entries: &[(Entry, Payload)], suite: Suite) -> Vec<Vec<u8>> {
    let mut frontier = sealtrail::merkle::Frontier::new();
    entries
        .iter()
        .map(|(e, _)| {
            frontier
                .append(&suite, sealtrail::merkle::leaf_hash(suite, &e.hash(suite)))
                .unwrap()
                .iter()
                .filter(|n| n.id.level >= sealtrail::log::RECORD_NODE_LEVEL)
                .flat_map(|n| n.hash)
                .collect()
        })
        .collect()
}

// Writes every entry's record (SPEC §9.1) with the nodes its leaf completes.
fn put_all(store: &MemoryStore, suite: Suite, entries: &[(Entry, Payload)]) {
    for (s, ((e, p), nodes)) in entries.iter().zip(nodes_for(entries, suite)).enumerate() {
        store
            .put(&entry_key(s as u64), &encode_record(e, p, &nodes))
            .unwrap();
    }
}

/// Deleting a payload from storage without an `erasure` entry is caught at that entry.
#[test]
fn unrecorded_erasure_is_detected() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    let r = populate(&log, &k);
    drop(log);
    let target = r[7].seq;
    let mut entries = read_all(&store);
    entries[target as usize].1 = Payload::Erased;
    put_all(&store, Suite::Blake3, &entries);
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
    store: &Arc<MemoryStore>,
    k: &Keys,
    suite: Suite,
    seq: u64,
    rechain: bool,
    edit: impl Fn(&mut EntryHeader),
) {
    let mut entries = read_all(store);
    let mut prev = None;
    for (entry, _) in entries.iter_mut().skip(seq as usize) {
        if entry.seq() > seq && !rechain {
            break;
        }
        let mut header = entry.header().clone();
        if entry.seq() == seq {
            edit(&mut header);
        }
        if let Some(p) = prev {
            header.prev = p;
        }
        let hb = header.encode();
        prev = Some(sealtrail::EntryHash::compute(suite, &hb));
        let signer = key_for(k, &header.signer);
        *entry = Entry::sign(header, &hb, &signer);
    }
    put_all(store, suite, &entries);
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

/// An insider rewrites an entry's causal link and re-signs and re-chains everything after it.
/// A stored record keeps a link by position and takes its hash from the chain (SPEC §9.1), so
/// the forged hash cannot be stored: the entry read back names the linked entry's real hash,
/// which its signature does not cover.
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
        Check::Signature
    );
}

/// An insider moves an entry into another log: a stored record takes the log id from the
/// descriptor (SPEC §9.1), so the entry read back names this log, which its signature does
/// not cover.
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
        Check::Signature
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

/// Stored Merkle nodes that do not match the entries are named by the Merkle check. Records
/// hold the nodes of level 8 and up (SPEC §9.1), so this log is past 512 entries: entry 511
/// holds those of levels 8 and 9, entry 255 that of level 8.
#[test]
fn tampered_stored_nodes_are_detected() {
    let (store, log, k) = memory_log(Suite::Sha256, Durability::Buffered);
    populate(&log, &k);
    while log.len() < 520 {
        log.append_batch(&k.recorder, (0..64).map(|i| note(&i)).collect())
            .unwrap();
    }
    log.flush().unwrap();
    drop(log);
    verify_store(store.as_ref()).unwrap();
    let entries = read_all(&store);
    let all_nodes = nodes_for(&entries, Suite::Sha256);
    assert!(all_nodes[..255].iter().all(Vec::is_empty));
    assert_eq!(all_nodes[255].len(), 32);
    let target = 511;
    let (entry, payload) = &entries[target as usize];
    let mut nodes = all_nodes[target as usize].clone();
    assert_eq!(nodes.len(), 2 * 32);
    // Every bit flip of a stored node, in the record's own bytes.
    let key = entry_key(target);
    let original = store.get(&key).unwrap().unwrap();
    let at = original
        .windows(64)
        .position(|w| w == nodes.as_slice())
        .unwrap();
    for i in at..at + 64 {
        let mut bad = original.clone();
        bad[i] ^= 0x10;
        store.put(&key, &bad).unwrap();
        assert_eq!(expect_named(store.as_ref(), target, "node"), Check::Merkle);
    }
    nodes.rotate_left(32); // the two nodes in the wrong order
    store
        .put(&key, &encode_record(entry, payload, &nodes))
        .unwrap();
    assert_eq!(expect_named(store.as_ref(), target, "nodes"), Check::Merkle);
    // A record that drops a node it must hold no longer parses as its entry.
    nodes.truncate(32);
    store
        .put(&key, &encode_record(entry, payload, &nodes))
        .unwrap();
    expect_named(store.as_ref(), target, "nodes cut short");
    // Nor does one that holds a node where none belongs (entry 510 holds none).
    store.put(&key, &original).unwrap();
    let (entry, payload) = &entries[510];
    store
        .put(&entry_key(510), &encode_record(entry, payload, &[7; 32]))
        .unwrap();
    expect_named(store.as_ref(), 510, "a node where none belongs");
}

// The offsets of a stored record's `prev` and, when it refers to an earlier record for its
// signer, of that reference (SPEC §9.1: flags, time, signer, session, kind, prev, ...).
fn record_offsets(raw: &[u8]) -> (usize, Option<usize>) {
    let flags = raw[0];
    let mut d = sealtrail::codec::Decoder::new(&raw[9..]);
    let signer_ref = if flags & 0x04 != 0 {
        d.raw_fixed::<32>().unwrap();
        None
    } else {
        d.u64().unwrap();
        Some(9)
    };
    for bit in [0x08, 0x10] {
        if flags & bit != 0 {
            d.text().unwrap();
        } else {
            d.u64().unwrap();
        }
    }
    (9 + d.position(), signer_ref)
}

/// A stored record elides what a reader can restore (SPEC §9.1); a restored field that is
/// wrong — a changed `prev`, or a signer reference naming an earlier record that holds another
/// key — makes an entry its signature does not cover, named at that entry.
#[test]
fn wrong_elided_fields_are_named() {
    let (store, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    populate(&log, &k);
    let s = sealtrail::SessionId::new("more").unwrap();
    for i in 0..4 {
        log.append(&k.recorder, note(&i).session(&s)).unwrap();
    }
    let n = log.len();
    drop(log);
    verify_store(store.as_ref()).unwrap();
    // The last record refers to an earlier one for its signer, and record 0 holds the owner's.
    let target = n - 1;
    let original = store.get(&entry_key(target)).unwrap().unwrap();
    let (prev_at, signer_ref) = record_offsets(&original);
    let signer_ref = signer_ref.expect("a later record of a signer refers to an earlier one");
    assert_eq!(
        store.get(&entry_key(0)).unwrap().unwrap()[0] & 0x04,
        0x04,
        "record 0 holds its signer"
    );

    let mut bad = original.clone();
    bad[prev_at + 5] ^= 0x01;
    store.put(&entry_key(target), &bad).unwrap();
    expect_named(store.as_ref(), target, "prev");

    let mut bad = original.clone();
    assert!(bad[signer_ref] < 24, "a one-byte reference");
    bad[signer_ref] = 0;
    store.put(&entry_key(target), &bad).unwrap();
    expect_named(store.as_ref(), target, "signer reference");

    store.put(&entry_key(target), &original).unwrap();
    verify_store(store.as_ref()).unwrap();
}
