//! The witness role (SPEC §11.8, C2SP tlog-witness) and one-call tlog proof verification
//! (SPEC §11.7): what a witness cosigns and refuses, cosignatures attached to the log and carried
//! by export, and `verify_tlog_proof` against valid, tampered and mis-keyed proofs.

use std::sync::Arc;

use sealtrail::bundle::{TrustPolicy, verify_bundle};
use sealtrail::checkpoint::{
    AddCheckpoint, AddCheckpointError, ExpectedEntry, MAX_ADD_CHECKPOINT_SIZE, ProofCheckError,
    SignedCheckpoint, TlogVerifyError, Witness, WitnessKey, WitnessPolicy, WitnessRefusal,
    Witnesses, parse_proof_lines, proof_lines, verify_tlog_proof,
};
use sealtrail::keys::{PublicKey, SecretKey};
use sealtrail::log::{Anchor, ExportError, ExportOptions, Selection};
use sealtrail::registry::Role;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{Durability, EntryHash, Log, Suite};

const ORIGIN: &str = "example.com/witnessed-log";
const TIME: u64 = 1_767_225_600;

fn owner() -> SecretKey {
    SecretKey::from_seed("owner", &[0x11; 32]).unwrap()
}

fn recorder() -> SecretKey {
    SecretKey::from_seed("recorder", &[0x22; 32]).unwrap()
}

fn witness_key() -> SecretKey {
    SecretKey::from_seed("witness.example/w1", &[0x33; 32]).unwrap()
}

fn wkey() -> WitnessKey {
    WitnessKey::new(witness_key().public_key())
}

/// The log's verifier key: the owner's key named after the checkpoint origin line.
fn log_vkey() -> PublicKey {
    owner().public_key().renamed(ORIGIN).unwrap()
}

fn witness() -> Witness {
    Witness::new(witness_key(), vec![log_vkey()])
}

fn log(records: usize) -> Log {
    let owner = owner();
    let log = Log::builder()
        .suite(Suite::Sha256)
        .durability(Durability::Buffered)
        .create_in(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            &owner,
            ORIGIN,
        )
        .unwrap();
    log.register_key(&owner, recorder().key_id(), Role::Recorder, "rec")
        .unwrap();
    grow(&log, records);
    log
}

fn grow(log: &Log, records: usize) {
    let start = log.len() as usize;
    let batch = (0..records)
        .map(|i| sealtrail_testkit::fixtures::note(&(start + i, "record")))
        .collect();
    log.append_batch(&recorder(), batch).unwrap();
}

fn request(old: u64, proof: Vec<[u8; 32]>, checkpoint: &SignedCheckpoint) -> AddCheckpoint {
    AddCheckpoint {
        old,
        proof,
        checkpoint: checkpoint.clone(),
    }
}

// ---- the witness's decision ----

#[test]
fn witness_cosigns_first_then_only_consistent_growth() {
    let log = log(5);
    let c1 = log.checkpoint(&owner()).unwrap();
    let w = witness();
    let first = w
        .add_checkpoint(None, &request(0, vec![], &c1), TIME)
        .unwrap();
    // The line it returns is a valid cosignature of that checkpoint.
    let policy = WitnessPolicy::new(vec![wkey()], 1).unwrap();
    policy.verify(&first.checkpoint).unwrap();
    assert_eq!(first.line.name(), "witness.example/w1");

    grow(&log, 4);
    let c2 = log.checkpoint(&owner()).unwrap();
    let proof = log
        .consistency_proof(c1.checkpoint().size(), c2.checkpoint().size())
        .unwrap();
    let (n1, n2) = (c1.checkpoint().size(), c2.checkpoint().size());
    let latest = first.checkpoint;
    let second = w
        .add_checkpoint(Some(&latest), &request(n1, proof.clone(), &c2), TIME)
        .unwrap();
    policy.verify(&second.checkpoint).unwrap();

    // The same tree again is cosigned again (idempotent).
    w.add_checkpoint(Some(&second.checkpoint), &request(n2, vec![], &c2), TIME)
        .unwrap();

    // A stale client (the old size when the witness is at the new one): 409 with its size.
    let stale = w
        .add_checkpoint(
            Some(&second.checkpoint),
            &request(n1, proof.clone(), &c2),
            TIME,
        )
        .unwrap_err();
    assert_eq!(
        stale,
        WitnessRefusal::Conflict {
            old: n1,
            latest: n2
        }
    );
    assert_eq!(stale.http_status(), 409);

    // A rollback: the smaller checkpoint, claiming the witness's size as old.
    let back = w
        .add_checkpoint(Some(&second.checkpoint), &request(n2, vec![], &c1), TIME)
        .unwrap_err();
    assert_eq!(
        back,
        WitnessRefusal::Rollback {
            latest: n2,
            size: n1
        }
    );
    assert_eq!(back.http_status(), 400);
    // And as a client that never heard of the witness would send it.
    let back = w
        .add_checkpoint(Some(&second.checkpoint), &request(0, vec![], &c1), TIME)
        .unwrap_err();
    assert_eq!(back, WitnessRefusal::Conflict { old: 0, latest: n2 });

    // A proof that does not verify: 422.
    let mut bad = proof;
    bad[0][0] ^= 1;
    let err = w
        .add_checkpoint(Some(&latest), &request(n1, bad, &c2), TIME)
        .unwrap_err();
    assert!(matches!(err, WitnessRefusal::Inconsistent(_)), "{err:?}");
    assert_eq!(err.http_status(), 422);
}

/// A log that signs two different trees of the same size: the witness cosigns one and refuses
/// the other; a fork at a larger size fails the consistency proof.
#[test]
fn witness_refuses_a_fork() {
    let honest = log(5);
    let forked = log(0);
    grow(&forked, 4);
    forked
        .append_batch(
            &recorder(),
            vec![sealtrail_testkit::fixtures::note(&(99usize, "other"))],
        )
        .unwrap();
    let a = honest.checkpoint(&owner()).unwrap();
    let b = forked.checkpoint(&owner()).unwrap();
    assert_eq!(a.checkpoint().size(), b.checkpoint().size());
    assert_ne!(a.checkpoint().root(), b.checkpoint().root());
    let w = witness();
    let first = w
        .add_checkpoint(None, &request(0, vec![], &a), TIME)
        .unwrap();
    let n = a.checkpoint().size();
    let err = w
        .add_checkpoint(Some(&first.checkpoint), &request(n, vec![], &b), TIME)
        .unwrap_err();
    assert_eq!(err, WitnessRefusal::Fork { size: n });
    assert_eq!(err.http_status(), 409);

    // Grown further, it is still another log (another log id) to the witness.
    grow(&forked, 3);
    let b2 = forked.checkpoint(&owner()).unwrap();
    let proof = forked.consistency_proof(n, n + 3).unwrap();
    let err = w
        .add_checkpoint(Some(&first.checkpoint), &request(n, proof, &b2), TIME)
        .unwrap_err();
    assert_eq!(err, WitnessRefusal::Fork { size: n + 3 });
}

#[test]
fn witness_refuses_unknown_logs_and_bad_signatures() {
    let log = log(3);
    let c = log.checkpoint(&owner()).unwrap();
    let stranger = Witness::new(
        witness_key(),
        vec![owner().public_key().renamed("example.com/other").unwrap()],
    );
    let err = stranger
        .add_checkpoint(None, &request(0, vec![], &c), TIME)
        .unwrap_err();
    assert!(matches!(err, WitnessRefusal::UnknownLog { .. }), "{err:?}");
    assert_eq!(err.http_status(), 404);

    // The log's name, another key: 403.
    let other = SecretKey::from_seed("x", &[0x77; 32]).unwrap();
    let wrong = Witness::new(
        witness_key(),
        vec![other.public_key().renamed(ORIGIN).unwrap()],
    );
    let err = wrong
        .add_checkpoint(None, &request(0, vec![], &c), TIME)
        .unwrap_err();
    assert!(matches!(err, WitnessRefusal::Signature(_)), "{err:?}");
    assert_eq!(err.http_status(), 403);

    // Old size above the checkpoint's: 400.
    let n = c.checkpoint().size();
    let err = witness()
        .add_checkpoint(None, &request(n + 1, vec![], &c), TIME)
        .unwrap_err();
    assert_eq!(
        err,
        WitnessRefusal::OldSizeTooLarge {
            old: n + 1,
            size: n
        }
    );
    assert_eq!(err.http_status(), 400);

    // A non-empty proof from old size 0: 422.
    let err = witness()
        .add_checkpoint(None, &request(0, vec![[0; 32]], &c), TIME)
        .unwrap_err();
    assert_eq!(err.http_status(), 422);
}

#[test]
fn add_checkpoint_bodies_round_trip_and_are_bounded() {
    let log = log(7);
    let c = log.checkpoint(&owner()).unwrap();
    grow(&log, 2);
    let c2 = log.checkpoint(&owner()).unwrap();
    let proof = log.consistency_proof(8, 10).unwrap();
    let r = request(8, proof.clone(), &c2);
    let bytes = r.encode();
    assert!(bytes.starts_with(b"old 8\n"));
    assert_eq!(AddCheckpoint::parse(&bytes).unwrap(), r);
    assert_eq!(
        parse_proof_lines(proof_lines(8, &proof).as_bytes()).unwrap(),
        (8, proof)
    );
    assert_eq!(
        AddCheckpoint::parse(&request(0, vec![], &c).encode())
            .unwrap()
            .old,
        0
    );
    // Malformed: no old line, leading zeros, a bad hash, too many hashes, too large.
    let body = String::from_utf8(c.encode()).unwrap();
    for bad in [
        format!("\n{body}"),
        format!("old 07\n\n{body}"),
        format!("old 1\nnot-base64\n\n{body}"),
    ] {
        assert!(AddCheckpoint::parse(bad.as_bytes()).is_err(), "{bad}");
    }
    let many = format!(
        "old 1\n{}\n{body}",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64)
    );
    assert_eq!(
        AddCheckpoint::parse(many.as_bytes()).unwrap_err(),
        AddCheckpointError::TooManyHashes { max: 63 }
    );
    let huge = vec![b'a'; MAX_ADD_CHECKPOINT_SIZE + 1];
    assert!(matches!(
        AddCheckpoint::parse(&huge).unwrap_err(),
        AddCheckpointError::TooLarge { .. }
    ));
}

/// The line the witness role returns verifies in an independent `cosignature/v1`
/// implementation (`metamorphic-log`) under the witness's type-0x04 verifier key.
#[test]
fn witness_line_verifies_in_metamorphic_log() {
    use metamorphic_log::note::{SignedNote as MNote, VerifierKey};
    let log = log(4);
    let c = log.checkpoint(&owner()).unwrap();
    let cosigned = witness()
        .add_checkpoint(None, &request(0, vec![], &c), TIME)
        .unwrap();
    let mut text = String::from_utf8(c.encode()).unwrap();
    text.push_str(&cosigned.line.to_line());
    let note = MNote::parse(&text).unwrap();
    let vk = VerifierKey::parse(&wkey().to_vkey()).unwrap();
    let ok = note.verify(std::slice::from_ref(&vk)).unwrap();
    assert_eq!(ok.len(), 1);
    assert_eq!(&ok[0].signature()[..8], &TIME.to_be_bytes());
}

// ---- attaching and exporting ----

fn bundle_with_witness(bytes: &[u8]) -> bool {
    let policy = TrustPolicy::new(vec![log_vkey()])
        .unwrap()
        .with_witnesses(WitnessPolicy::new(vec![wkey()], 1).unwrap());
    let report = verify_bundle(bytes, &policy).unwrap();
    sealtrail_testkit::report_schema::assert_report_schema(&report.to_json());
    if !report.is_valid() {
        eprintln!("{}", report.render());
    }
    report.is_valid()
}

#[test]
fn attached_cosignatures_are_carried_by_export() {
    let log = log(6);
    let c = log.checkpoint(&owner()).unwrap();
    // A cosignature's time bounds the entries' times (SPEC §12.6): cosign now, not in the past.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let cosigned = witness()
        .add_checkpoint(None, &request(0, vec![], &c), now)
        .unwrap();

    // Before attaching, an export's anchor has no cosignature: the witness policy fails.
    let mut plain = Vec::new();
    log.export(
        &owner(),
        &ExportOptions::new(Selection::Log),
        &mut plain,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(!bundle_with_witness(&plain));

    // Lines from keys not listed are not attached.
    let other = WitnessKey::new(SecretKey::from_seed("w2", &[9; 32]).unwrap().public_key());
    assert!(
        log.attach_cosignatures(&cosigned.checkpoint, &[other])
            .is_err()
    );
    let stored = log
        .attach_cosignatures(&cosigned.checkpoint, &[wkey()])
        .unwrap();
    assert_eq!(stored.cosignature_lines(), 1);

    // Same tree: the fresh anchor keeps the attached line.
    let mut out = Vec::new();
    let summary = log
        .export(
            &owner(),
            &ExportOptions::new(Selection::Log).require_cosignatures(1),
            &mut out,
            &mut |_, _| {},
        )
        .unwrap();
    assert_eq!(summary.checkpoint.cosignature_lines(), 1);
    assert!(bundle_with_witness(&out));

    // The log grows: a whole-log export cannot be witnessed, and says so when required.
    grow(&log, 3);
    let err = log
        .export(
            &owner(),
            &ExportOptions::new(Selection::Log)
                .anchor(Anchor::PreferWitnessed)
                .require_cosignatures(1),
            &mut Vec::new(),
            &mut |_, _| {},
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            ExportError::TooFewCosignatures {
                found: 0,
                needed: 1,
                size: 10,
                ..
            }
        ),
        "{err}"
    );
    // A range the cosigned checkpoint covers is anchored on it.
    let mut out = Vec::new();
    let summary = log
        .export(
            &owner(),
            &ExportOptions::new(Selection::Range(1..4))
                .anchor(Anchor::PreferWitnessed)
                .require_cosignatures(1),
            &mut out,
            &mut |_, _| {},
        )
        .unwrap();
    assert_eq!(summary.size, 7);
    assert!(bundle_with_witness(&out));
    // A fresh anchor (the default) does not carry it.
    let mut out = Vec::new();
    log.export(
        &owner(),
        &ExportOptions::new(Selection::Range(1..4)),
        &mut out,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(!bundle_with_witness(&out));
}

#[test]
fn attach_refuses_another_body() {
    let log = log(3);
    let _ = log.checkpoint(&owner()).unwrap();
    let other = self::log(0);
    grow(&other, 3);
    let foreign = other.checkpoint(&owner()).unwrap();
    let cosigned = witness()
        .add_checkpoint(None, &request(0, vec![], &foreign), TIME)
        .unwrap();
    assert!(
        log.attach_cosignatures(&cosigned.checkpoint, &[wkey()])
            .is_err()
    );
}

// ---- verify_tlog_proof ----

#[test]
fn tlog_proofs_verify_and_tampering_is_caught() {
    let log = log(12);
    let c = log.checkpoint(&owner()).unwrap();
    let proof = log.prove(7).unwrap();
    let bytes = proof.encode();
    let entry = log.read(7).unwrap().unwrap();
    let keys = [log_vkey()];

    for expected in [
        ExpectedEntry::Carried,
        ExpectedEntry::Hash(entry.hash),
        ExpectedEntry::Bytes(entry.entry.as_bytes()),
    ] {
        let v = verify_tlog_proof(&bytes, &keys, Witnesses::NotRequired, expected).unwrap();
        assert_eq!((v.seq, v.entry_hash), (7, entry.hash));
        assert_eq!(v.checkpoint.size(), c.checkpoint().size());
    }

    // Another entry's hash, another entry's bytes.
    let other = log.read(6).unwrap().unwrap();
    assert!(matches!(
        verify_tlog_proof(
            &bytes,
            &keys,
            Witnesses::NotRequired,
            ExpectedEntry::Hash(other.hash)
        ),
        Err(ProofCheckError::Verify(
            TlogVerifyError::EntryMismatch { .. }
        ))
    ));
    assert!(matches!(
        verify_tlog_proof(
            &bytes,
            &keys,
            Witnesses::NotRequired,
            ExpectedEntry::Bytes(other.entry.as_bytes())
        ),
        Err(ProofCheckError::EntryPosition { entry: 6, index: 7 })
    ));

    // Wrong key: the owner's key under its own name is not the log's verifier key; another
    // key under the log's name does not verify.
    assert!(matches!(
        verify_tlog_proof(
            &bytes,
            &[owner().public_key()],
            Witnesses::NotRequired,
            ExpectedEntry::Carried
        ),
        Err(ProofCheckError::NoKeyForOrigin { .. })
    ));
    let stranger = SecretKey::from_seed("s", &[0x55; 32]).unwrap();
    assert!(matches!(
        verify_tlog_proof(
            &bytes,
            &[stranger.public_key().renamed(ORIGIN).unwrap()],
            Witnesses::NotRequired,
            ExpectedEntry::Carried
        ),
        Err(ProofCheckError::Verify(TlogVerifyError::Checkpoint(_)))
    ));

    // A witness required but absent.
    let policy = WitnessPolicy::new(vec![wkey()], 1).unwrap();
    assert!(matches!(
        verify_tlog_proof(
            &bytes,
            &keys,
            Witnesses::Quorum(policy),
            ExpectedEntry::Carried
        ),
        Err(ProofCheckError::Verify(TlogVerifyError::Checkpoint(_)))
    ));

    // Every single-character change of the text is caught (or stops it parsing).
    let text = String::from_utf8(bytes.clone()).unwrap();
    let mut caught = 0;
    for (i, ch) in text.char_indices() {
        if ch == '\n' || !ch.is_ascii_alphanumeric() {
            continue;
        }
        let repl = if ch == 'A' { 'B' } else { 'A' };
        let mut t = text.clone();
        t.replace_range(i..i + 1, &repl.to_string());
        let r = verify_tlog_proof(
            t.as_bytes(),
            &keys,
            Witnesses::NotRequired,
            ExpectedEntry::Hash(entry.hash),
        );
        assert!(r.is_err(), "change at {i} accepted");
        caught += 1;
    }
    assert!(caught > 100);

    // An entry hash supplied by a caller that the proof's leaf is not.
    let zero = EntryHash([0; 32]);
    assert!(
        verify_tlog_proof(
            &bytes,
            &keys,
            Witnesses::NotRequired,
            ExpectedEntry::Hash(zero)
        )
        .is_err()
    );
}
