//! The text formats of SPEC §11 and §4.2: signed notes, checkpoint bodies, signed checkpoints,
//! `c2sp.org/tlog-proof@v1` proofs and C2SP key strings. None of the parsers panics; whatever one
//! accepts re-encodes to exactly its input; and verification of what was parsed, against the
//! fixed trust configuration of the seeds (pinned owner key, optional witness), never panics and
//! is consistent with itself. The Merkle proof checks also run on the parsed index, size, hashes
//! and root directly, so the fuzzer drives them without having to forge a signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealtrail::checkpoint::{Checkpoint, LogOrigin, SignedCheckpoint, TlogProof, WitnessKey};
use sealtrail::merkle::{self, leaf_hash};
use sealtrail::note::SignedNote;
use sealtrail::{EntryHash, PublicKey, SecretKey, Suite};
use sealtrail_fuzz::{note_keys, trusts, witness_policy};

fn note(data: &[u8]) {
    let Ok(note) = SignedNote::parse(data) else {
        return;
    };
    assert_eq!(note.encode(), data);
    assert!(note.text().ends_with('\n'));
    assert!(!note.signatures().is_empty());
    if let Ok(v) = note.verify(note_keys()) {
        assert!(!v.verified.is_empty());
        assert_eq!(v.verified.len() + v.ignored.len(), note.signatures().len());
    }
}

fn body(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Checkpoint::parse(text) else {
        return;
    };
    assert_eq!(c.encode(), text);
    let again = Checkpoint::new(c.origin(), c.size(), c.root())
        .and_then(|n| n.with_extensions(c.extensions().to_vec()))
        .expect("a parsed body passes the rules of a new one");
    assert_eq!(again, c);
    if let Ok(log) = LogOrigin::from_checkpoint_origin(c.origin()) {
        assert_eq!(log.checkpoint_origin(), c.origin());
    }
}

// The Merkle checks a verified checkpoint would run, on unverified numbers and hashes.
fn merkle_math(index: u64, size: u64, hashes: &[[u8; 32]], root: &[u8; 32], entry: &EntryHash) {
    for suite in [Suite::Blake3, Suite::Sha256] {
        let leaf = leaf_hash(suite, entry);
        let computed = merkle::root_from_inclusion_proof(&suite, &leaf, index, size, hashes);
        let verified = merkle::verify_inclusion(&suite, &leaf, index, size, hashes, root);
        assert_eq!(
            verified.is_ok(),
            computed.is_ok_and(|r| r.as_bytes() == root)
        );
        let _ = merkle::verify_consistency(&suite, index, size, hashes, root, root);
    }
}

fn signed_checkpoint(data: &[u8]) {
    let Ok(signed) = SignedCheckpoint::parse(data) else {
        return;
    };
    assert_eq!(signed.encode(), data);
    let _ = witness_policy().verify(&signed);
    for trust in trusts() {
        if let Ok(v) = trust.verify(&signed) {
            assert_eq!(v.checkpoint(), signed.checkpoint());
            assert_eq!(v.log(), trust.log());
            // A checkpoint is consistent with itself, and extends the empty tree.
            assert!(v.verify_consistency(&v, &[]).is_ok());
            let _ = v.verify_inclusion(&EntryHash([0; 32]), 0, &[]);
        }
    }
}

fn tlog_proof(data: &[u8]) {
    let Ok(proof) = TlogProof::parse(data) else {
        return;
    };
    assert_eq!(proof.encode(), data);
    let c = proof.checkpoint().checkpoint();
    let entry = proof.entry_hash().unwrap_or(EntryHash([0; 32]));
    merkle_math(
        proof.index(),
        c.size(),
        proof.hashes(),
        c.root().as_bytes(),
        &entry,
    );
    for trust in trusts() {
        let carried = proof.verify(trust, None);
        if let Some(h) = proof.entry_hash() {
            // Supplying the hash the proof carries changes nothing.
            assert_eq!(proof.verify(trust, Some(h)), carried);
        }
        let _ = proof.verify(trust, Some(EntryHash([0xab; 32])));
        if let Ok(v) = carried {
            assert_eq!(v.seq, proof.index());
            assert!(
                v.checkpoint
                    .verify_inclusion(&v.entry_hash, v.seq, proof.hashes())
                    .is_ok()
            );
        }
    }
}

// C2SP key strings (SPEC §4.2): verifier keys, witness keys and secret keys.
fn keys(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(k) = PublicKey::from_vkey(s) {
        assert_eq!(k.to_vkey(), s.trim());
    }
    if let Ok(k) = WitnessKey::from_vkey(s) {
        assert_eq!(k.to_vkey(), s.trim());
    }
    if let Ok(k) = SecretKey::from_skey(s) {
        assert_eq!(k.to_skey().as_str(), s.trim());
    }
}

fuzz_target!(|data: &[u8]| {
    note(data);
    body(data);
    signed_checkpoint(data);
    tlog_proof(data);
    keys(data);
});
