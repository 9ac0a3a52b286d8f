//! The log's stored Merkle tree, checkpoints and tlog proofs (SPEC §9.1, §10, §11).

use std::sync::Arc;

use sealtrail::checkpoint::{
    CheckpointTrust, ConsistencyError, LogOrigin, SignedCheckpoint, TlogProof, Witnesses,
};
use sealtrail::log::{LogCheckpointError, LogProveError, verify_store};
use sealtrail::merkle::{self, MemoryTree};
use sealtrail::registry::Role;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::verify::Check;
use sealtrail::{Durability, Log, Suite};
use sealtrail_testkit::fixtures::*;

fn grow(log: &Log, k: &Keys, n: usize) {
    let s = sealtrail::SessionId::new("grow").unwrap();
    let records = (0..n).map(|i| note(&i).session(&s)).collect();
    log.append_batch(&k.recorder, records).unwrap();
}

fn reference(log: &Log) -> MemoryTree {
    let suite = log.suite();
    let leaves: Vec<[u8; 32]> = log
        .range(0..log.len())
        .map(|e| merkle::leaf_hash(suite, &e.unwrap().hash))
        .collect();
    MemoryTree::from_leaf_hashes(&suite, leaves)
}

fn trust(log: &Log, k: &Keys) -> CheckpointTrust {
    CheckpointTrust::new(
        LogOrigin::of(log.descriptor().descriptor()).unwrap(),
        vec![owner_vkey(k, log.suite())],
        Witnesses::NotRequired,
    )
    .unwrap()
}

fn proofs_match_reference(log: &Log) {
    let tree = reference(log);
    let suite = log.suite();
    let n = log.len();
    for size in [1, 2, 3, 7, 8, 9, 255, 256, 257, 511, 1000, n]
        .into_iter()
        .filter(|s| *s <= n)
    {
        assert_eq!(
            log.root(size).unwrap(),
            merkle::root(&tree, &suite, size).unwrap(),
            "root at {size}"
        );
        for seq in [0, size / 3, size / 2, size - 1] {
            assert_eq!(
                log.inclusion_proof(seq, size).unwrap(),
                merkle::inclusion_proof(&tree, &suite, seq, size).unwrap(),
                "inclusion {seq} at {size}"
            );
        }
        for old in [1, size / 2, size - 1].into_iter().filter(|o| *o >= 1) {
            assert_eq!(
                log.consistency_proof(old, size).unwrap(),
                merkle::consistency_proof(&tree, &suite, old, size).unwrap(),
                "consistency {old} -> {size}"
            );
        }
    }
}

#[test]
fn proofs_from_memory_store_equal_a_reference_tree() {
    for suite in [Suite::Blake3, Suite::Sha256] {
        let (store, log, k) = memory_log(suite, Durability::Buffered);
        populate(&log, &k);
        grow(&log, &k, 1500);
        proofs_match_reference(&log);
        assert_eq!(log.verify().unwrap().root, log.root(log.len()).unwrap());
        drop(log);
        // Without caches every node below level 8 is hashed again from its run of leaves
        // (SPEC §9.1), and the frontier is restored from them on open.
        let uncached = Log::builder()
            .node_cache(0)
            .open_in(store as Arc<dyn Store>)
            .unwrap();
        proofs_match_reference(&uncached);
    }
}

#[cfg(feature = "sled")]
#[test]
fn proofs_from_sled_equal_a_reference_tree_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let k = keys();
    let root_before = {
        let log = Log::builder()
            .suite(Suite::Sha256)
            .durability(Durability::Buffered)
            .create(&path, &k.owner, ORIGIN)
            .unwrap();
        populate(&log, &k);
        grow(&log, &k, 1200);
        proofs_match_reference(&log);
        log.root(log.len()).unwrap()
    };
    // The frontier and the cached upper levels are rebuilt from stored nodes on open.
    let log = Log::open(&path).unwrap();
    assert_eq!(log.root(log.len()).unwrap(), root_before);
    grow(&log, &k, 300);
    proofs_match_reference(&log);
    log.verify().unwrap();
}

#[test]
fn checkpoints_prove_inclusion_and_growth() {
    let (_s, log, k) = memory_log(Suite::Blake3, Durability::Immediate);
    populate(&log, &k);
    let first = log.checkpoint(&k.owner).unwrap();
    grow(&log, &k, 100);
    let second = log.checkpoint(&k.owner).unwrap();
    assert_eq!(log.checkpoints().unwrap().len(), 2);
    assert_eq!(log.latest_checkpoint().unwrap().unwrap(), second);
    assert_eq!(
        second.checkpoint().origin(),
        "example.com/test-log#blake3",
        "BLAKE3 checkpoints say so in their origin line"
    );

    let t = trust(&log, &k);
    let older = t.verify(&first).unwrap();
    let newer = t.verify(&second).unwrap();
    // Inclusion, on the trusted anchor.
    for seq in [0, 5, 50, newer.size() - 1] {
        let e = log.read(seq).unwrap().unwrap();
        let proof = log.inclusion_proof(seq, newer.size()).unwrap();
        newer.verify_entry(&e.entry, &proof).unwrap();
        newer.verify_inclusion(&e.hash, seq, &proof).unwrap();
        // The wrong position, or a changed proof hash, fails.
        assert!(newer.verify_inclusion(&e.hash, seq ^ 1, &proof).is_err());
        let mut bad = proof.clone();
        bad[0][0] ^= 1;
        assert!(newer.verify_inclusion(&e.hash, seq, &bad).is_err());
    }
    // Consistency: the log only grew.
    let proof = log.consistency_proof(older.size(), newer.size()).unwrap();
    newer.verify_consistency(&older, &proof).unwrap();
    assert!(matches!(
        older.verify_consistency(&newer, &proof),
        Err(ConsistencyError::SizeRegression { .. })
    ));
    let mut bad = proof.clone();
    bad[0][5] ^= 1;
    assert!(matches!(
        newer.verify_consistency(&older, &bad),
        Err(ConsistencyError::Fork { .. })
    ));
    log.verify().unwrap();
}

#[test]
fn only_an_owner_signs_checkpoints() {
    let (_s, log, k) = memory_log(Suite::Sha256, Durability::Immediate);
    populate(&log, &k);
    assert!(matches!(
        log.checkpoint(&k.recorder),
        Err(LogCheckpointError::NotOwner(_))
    ));
    assert!(matches!(
        log.checkpoint(&k.outsider),
        Err(LogCheckpointError::NotOwner(_))
    ));
    let second_owner = sealtrail::SecretKey::from_seed("owner2", &[7; 32]).unwrap();
    log.register_key(&k.owner, second_owner.key_id(), Role::Owner, "second owner")
        .unwrap();
    log.checkpoint(&second_owner).unwrap();
    log.verify().unwrap();
}

#[test]
fn tlog_proofs_verify_offline() {
    let (_s, log, k) = memory_log(Suite::Sha256, Durability::Immediate);
    populate(&log, &k);
    assert!(matches!(
        log.prove(3),
        Err(LogProveError::NotCheckpointed { seq: 3, latest: 0 })
    ));
    log.checkpoint(&k.owner).unwrap();
    let t = trust(&log, &k);
    for seq in 0..log.len() {
        let proof = log.prove(seq).unwrap();
        let text = proof.encode();
        let parsed = TlogProof::parse(&text).unwrap();
        let ok = parsed.verify(&t, None).unwrap();
        assert_eq!(ok.seq, seq);
        assert_eq!(ok.entry_hash, log.read(seq).unwrap().unwrap().hash);
    }
    // Flipping any byte of a proof never yields a valid proof of another entry or position.
    let proof = log.prove(4).unwrap().encode();
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        bad[i] ^= 0x01;
        if let Ok(p) = TlogProof::parse(&bad) {
            assert!(
                p.verify(&t, None).is_err(),
                "flip at byte {i} still verifies"
            );
        }
    }
    // An unpinned key does not verify the checkpoint.
    let wrong = CheckpointTrust::new(
        LogOrigin::of(log.descriptor().descriptor()).unwrap(),
        vec![k.outsider.public_key()],
        Witnesses::NotRequired,
    )
    .unwrap();
    assert!(
        TlogProof::parse(&proof)
            .unwrap()
            .verify(&wrong, None)
            .is_err()
    );
}

fn checkpoint_key(size: u64) -> Vec<u8> {
    let mut k = vec![0x04];
    k.extend_from_slice(&size.to_be_bytes());
    k
}

/// A stored checkpoint that does not match the entries, or that covers entries the log no longer
/// has, is named by the checkpoint check: truncation of the tail is visible once checkpointed.
#[test]
fn local_verification_checks_stored_checkpoints() {
    let store = Arc::new(MemoryStore::new());
    let k = keys();
    let log = Log::builder()
        .create_in(store.clone() as Arc<dyn Store>, &k.owner, ORIGIN)
        .unwrap();
    populate(&log, &k);
    let cp = log.checkpoint(&k.owner).unwrap();
    let size = cp.checkpoint().size();
    drop(log);
    verify_store(store.as_ref()).unwrap();

    // Drop the last two entries: the checkpoint says there were more.
    let mut removed = Vec::new();
    for seq in [size - 1, size - 2] {
        let mut key = vec![0x01];
        key.extend_from_slice(&seq.to_be_bytes());
        removed.push((key.clone(), store.get(&key).unwrap().unwrap()));
        store.delete(&key).unwrap();
    }
    store
        .put(b"\x00watermark", &(size - 2).to_be_bytes())
        .unwrap();
    let err = verify_store(store.as_ref()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    for (key, v) in removed {
        store.put(&key, &v).unwrap();
    }
    store.put(b"\x00watermark", &size.to_be_bytes()).unwrap();
    verify_store(store.as_ref()).unwrap();

    // A checkpoint of the right size signed by an outsider, or with another root.
    let forged = SignedCheckpoint::sign(cp.checkpoint().clone(), &k.outsider).unwrap();
    store.put(&checkpoint_key(size), &forged.encode()).unwrap();
    let err = verify_store(store.as_ref()).unwrap_err();
    match err {
        sealtrail::log::LogVerifyError::Invalid(e) => assert_eq!(e.check(), Check::Checkpoint),
        other => panic!("{other}"),
    }
    let other_root = sealtrail::checkpoint::Checkpoint::new(
        cp.checkpoint().origin(),
        size,
        sealtrail::RootHash([9; 32]),
    )
    .unwrap()
    .with_extensions(cp.checkpoint().extensions().to_vec())
    .unwrap();
    let wrong_root = SignedCheckpoint::sign(other_root, &k.owner).unwrap();
    store
        .put(&checkpoint_key(size), &wrong_root.encode())
        .unwrap();
    let err = verify_store(store.as_ref()).unwrap_err();
    assert!(err.to_string().contains("root"), "{err}");

    // The right root, but naming another control head or another log (SPEC §11.2).
    let binding = cp.checkpoint().binding().unwrap();
    let log = sealtrail::checkpoint::LogOrigin::new(ORIGIN, Suite::Blake3).unwrap();
    for (wrong, says) in [
        (
            sealtrail::checkpoint::LogBinding {
                control: None,
                ..binding
            },
            "control entry",
        ),
        (
            sealtrail::checkpoint::LogBinding {
                log_id: sealtrail::LogId([7; 32]),
                ..binding
            },
            "of log",
        ),
    ] {
        let c =
            sealtrail::checkpoint::Checkpoint::for_log(&log, &wrong, size, cp.checkpoint().root());
        let s = SignedCheckpoint::sign(c, &k.owner).unwrap();
        store.put(&checkpoint_key(size), &s.encode()).unwrap();
        let err = verify_store(store.as_ref()).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
    store.put(&checkpoint_key(size), &cp.encode()).unwrap();
    verify_store(store.as_ref()).unwrap();
}
