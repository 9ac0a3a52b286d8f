//! Interoperability with implementations written elsewhere (SPEC §10, §11).
//!
//! SPEC §10 and §11 claim that a `sha256` log's checkpoints are plain C2SP signed notes over
//! C2SP tlog-checkpoint bodies, that witnesses cosign them as C2SP `cosignature/v1`, and that
//! its Merkle tree and proofs are RFC 6962's byte for byte. These tests hold sealtrail to that
//! against crates developed independently of it, in both directions wherever the other crate can sign or
//! prove:
//!
//! * `signed_note` 0.2.0 (a port of Go's `golang.org/x/mod/sumdb/note`): signed notes, verifier
//!   and signer key strings;
//! * `tlog_tiles` 0.2.0 (a port of Go's `golang.org/x/mod/sumdb/tlog`): checkpoint bodies and
//!   RFC 6962 record (inclusion) and tree (consistency) proofs;
//! * `metamorphic-log` 0.5.0: C2SP `cosignature/v1` Ed25519 (type 0x04) cosignatures, which
//!   neither crate above implements.
//!
//! None of these crates reads the `c2sp.org/tlog-proof@v1` file format (SPEC §11.7); the test of
//! `.tlog-proof` files splits the file into its parts by the format's grammar and hands each part
//! to the independent crates.
//!
//! Checkpoints of a log carry two extension lines that bind them to the log (SPEC §11.2); to the
//! independent crates they are opaque, and every test reads them from the independent side
//! wherever it compares bodies.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealtrail::checkpoint::{
    Checkpoint, CheckpointTrust, CheckpointVerifyError, CosignatureProblem, CosignatureStatus,
    LogBinding, LogOrigin, SignedCheckpoint, TlogProof, WitnessKey, WitnessPolicy, Witnesses,
};
use sealtrail::keys::{PublicKey, SecretKey};
use sealtrail::merkle::{self, ProofError};
use sealtrail::note::{NoteVerifyError, SignedNote};
use sealtrail::registry::Role;
use sealtrail::store::{MemoryStore, Store};
use sealtrail::{Durability, EntryHash, Link, Log, LogId, RootHash, Suite};
use signed_note::{Note, NoteError, StandardSigner, StandardVerifier, Verifier as _, VerifierList};
use tlog_tiles::{Hash, HashReader};

/// The log's origin, and so (for `sha256`) the origin line of its checkpoints.
const ORIGIN: &str = "example.com/interop-log";

/// Entries in the test log: the registration of the recorder, then 40 records. Every tree size
/// from 1 to 41 is checked, which covers perfect and imperfect trees on both sides of 32.
const RECORDS: usize = 40;

/// The owner's key, deliberately named after its file rather than after the origin: the log
/// signs checkpoints under the origin line whatever the key's own name (SPEC §11.3).
fn owner() -> SecretKey {
    SecretKey::from_seed("owner-key-file", &[0x11; 32]).unwrap()
}

fn recorder() -> SecretKey {
    SecretKey::from_seed("recorder", &[0x22; 32]).unwrap()
}

/// A witness key: sealtrail's own witness code makes its cosignatures.
fn witness() -> SecretKey {
    SecretKey::from_seed("witness.example/sealtrail", &[0x33; 32]).unwrap()
}

/// A witness that signs with `metamorphic-log`, and the name its cosignatures carry.
const FOREIGN_WITNESS: &str = "witness.example/foreign";
const FOREIGN_WITNESS_SEED: [u8; 32] = [0x44; 32];

/// The foreign witness's public key, derived by ed25519-dalek (RFC 8032 seed to key), not by
/// sealtrail.
fn foreign_witness_public() -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&FOREIGN_WITNESS_SEED)
        .verifying_key()
        .to_bytes()
}

/// A `sha256` log in memory: the owner registers a recorder, which appends `records` records.
fn sha256_log(records: usize) -> Log {
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
    log.register_key(&owner, recorder().key_id(), Role::Recorder, "interop")
        .unwrap();
    grow(&log, records);
    log
}

fn grow(log: &Log, records: usize) {
    let start = log.len();
    let batch = (0..records)
        .map(|i| sealtrail_testkit::fixtures::note(&(start as usize + i, "interop record")))
        .collect();
    log.append_batch(&recorder(), batch).unwrap();
}

/// The entry hashes of the log, in order: the leaf data of its Merkle tree (SPEC §10.1).
fn entry_hashes(log: &Log) -> Vec<EntryHash> {
    log.range(0..log.len()).map(|e| e.unwrap().hash).collect()
}

/// The owner's verifier key under a given name.
fn owner_vkey_named(name: &str) -> String {
    owner().public_key().renamed(name).unwrap().to_vkey()
}

/// The owner's verifier key as an auditor pins it, in sealtrail and in C2SP tools: named after
/// the checkpoint's origin line (SPEC §11.3).
fn owner_pinned() -> PublicKey {
    owner().public_key().renamed(ORIGIN).unwrap()
}

/// The log's binding lines at its current size (SPEC §11.2), as `tlog_tiles` takes extension
/// text: each line with its newline.
fn binding_text(log: &Log) -> String {
    log.checkpoint(&owner())
        .unwrap()
        .checkpoint()
        .extensions()
        .iter()
        .map(|e| format!("{e}\n"))
        .collect()
}

/// A `signed_note` verifier list holding the given verifier keys.
fn verifiers(vkeys: &[&str]) -> VerifierList {
    VerifierList::new(
        vkeys
            .iter()
            .map(|v| Box::new(StandardVerifier::new(v).unwrap()) as Box<dyn signed_note::Verifier>)
            .collect(),
    )
}

fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

fn tiles_hashes(proof: &[[u8; 32]]) -> Vec<Hash> {
    proof.iter().map(|h| Hash(*h)).collect()
}

/// Replaces the root hash line of a checkpoint note (line 3) with the same root with one bit
/// flipped, leaving every signature line as it was.
fn flip_root_in_note(note: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(note).unwrap();
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let mut root = B64.decode(&lines[2]).unwrap();
    root[0] ^= 0x01;
    lines[2] = B64.encode(root);
    lines.join("\n").into_bytes()
}

/// A fixed-seed source for `signed_note::generate_key` (which takes an RNG): the key it
/// generates is the RFC 8032 key of these 32 bytes.
struct SeedRng {
    seed: [u8; 32],
    at: usize,
}

impl rand_core_06::RngCore for SeedRng {
    fn next_u32(&mut self) -> u32 {
        rand_core_06::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core_06::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.seed[self.at % 32];
            self.at += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core_06::CryptoRng for SeedRng {}

/// A `signed_note` key pair (skey, vkey) named `name`, generated by `signed_note` itself.
fn foreign_note_key(name: &str, seed: u8) -> (String, String) {
    signed_note::generate_key(
        &mut SeedRng {
            seed: [seed; 32],
            at: 0,
        },
        name,
    )
}

fn trust(owner: PublicKey, witnesses: Witnesses) -> CheckpointTrust {
    CheckpointTrust::new(
        LogOrigin::new(ORIGIN, Suite::Sha256).unwrap(),
        vec![owner],
        witnesses,
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. sealtrail's checkpoints in signed_note and tlog_tiles
// ---------------------------------------------------------------------------------------------

/// A checkpoint the log signs verifies in `signed_note` under the owner's key named after the
/// origin line, and its body reads in `tlog_tiles` with the log's size and root.
#[test]
fn sealtrail_checkpoint_verifies_in_signed_note_under_the_origin_name() {
    let log = sha256_log(RECORDS);
    let signed = log.checkpoint(&owner()).unwrap();
    let bytes = signed.encode();
    assert_eq!(
        signed.checkpoint().origin(),
        ORIGIN,
        "sha256: origin line = origin"
    );

    let vkey = owner_vkey_named(ORIGIN);
    // signed_note recomputes the key hash of the vkey text (SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key))
    // and refuses the vkey if sealtrail wrote it otherwise.
    let verifier = StandardVerifier::new(&vkey).unwrap();
    assert_eq!(verifier.name(), ORIGIN);
    assert_eq!(
        verifier.key_id(),
        u32::from_be_bytes(signed.note().signatures()[0].key_hash())
    );

    let note = Note::from_bytes(&bytes).unwrap();
    assert_eq!(
        utf8(&note.to_bytes()),
        utf8(&bytes),
        "signed_note re-encodes the same bytes"
    );
    let (verified, unverified) = note.verify(&verifiers(&[&vkey])).unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].name(), ORIGIN);
    assert!(unverified.is_empty());

    // The verified text is a C2SP checkpoint of this log's tree.
    let body = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
    assert_eq!(body.origin(), ORIGIN);
    assert_eq!(body.size(), log.len());
    assert_eq!(body.hash().0, log.root(log.len()).unwrap().0);
    assert_eq!(
        body.extension(),
        signed
            .checkpoint()
            .extensions()
            .iter()
            .map(|e| format!("{e}\n"))
            .collect::<String>()
    );
    assert_eq!(
        body.to_bytes(),
        note.text(),
        "tlog_tiles re-encodes the body"
    );

    // A changed root: the owner's line no longer verifies, and signed_note says so.
    let forged = Note::from_bytes(&flip_root_in_note(&bytes)).unwrap();
    let err = forged.verify(&verifiers(&[&vkey])).unwrap_err();
    assert!(
        matches!(&err, NoteError::InvalidSignature { name, .. } if name == ORIGIN),
        "{err:?}"
    );
}

/// C2SP matches a signature line to a verifier key by (key name, key hash), and the key hash
/// covers the name (c2sp.org/signed-note, "Signatures"): the same key bytes under another name
/// are another key, and the owner's line is ignored as unknown. sealtrail's verifier matches the
/// same way (SPEC §11.1): both agree, key for key.
#[test]
fn signed_note_rejects_the_owner_key_under_another_name() {
    let log = sha256_log(3);
    let signed = log.checkpoint(&owner()).unwrap();
    let bytes = signed.encode();
    let note = Note::from_bytes(&bytes).unwrap();

    for name in [
        owner().name(),
        "example.com/other-log",
        "example.com/interop-log#blake3",
    ] {
        let vkey = owner_vkey_named(name);
        let err = note.verify(&verifiers(&[&vkey])).unwrap_err();
        assert!(matches!(err, NoteError::UnverifiedNote), "{name}: {err:?}");
    }
    // With the right name beside a wrong one, the right one verifies.
    let (verified, _) = note
        .verify(&verifiers(&[
            &owner_vkey_named("owner-key-file"),
            &owner_vkey_named(ORIGIN),
        ]))
        .unwrap();
    assert_eq!(verified.len(), 1);

    // sealtrail agrees: the owner key under its file's name (or another log's) is another key.
    for name in [
        owner().name(),
        "example.com/other-log",
        "example.com/interop-log#blake3",
    ] {
        let pinned = owner().public_key().renamed(name).unwrap();
        let err = trust(pinned, Witnesses::NotRequired)
            .verify_bytes(&bytes)
            .unwrap_err();
        assert!(
            matches!(
                err,
                CheckpointVerifyError::Owner(NoteVerifyError::KeyNameMismatch { .. })
            ),
            "{name}: {err:?}"
        );
    }
    let v = trust(owner_pinned(), Witnesses::NotRequired)
        .verify_bytes(&bytes)
        .unwrap();
    assert_eq!(v.size(), log.len());
}

// ---------------------------------------------------------------------------------------------
// 2. Notes and checkpoints written by signed_note and tlog_tiles, read by sealtrail
// ---------------------------------------------------------------------------------------------

/// `signed_note` generates a key and signs a checkpoint body that `tlog_tiles` writes for the
/// log's current tree; sealtrail reads the key strings, verifies the note, parses the body and
/// proves entries against it.
#[test]
fn foreign_signed_checkpoint_verifies_in_sealtrail() {
    let log = sha256_log(RECORDS);
    let size = log.len();
    let root = log.root(size).unwrap();

    let (skey, vkey) = foreign_note_key(ORIGIN, 0x55);
    // The body tlog_tiles writes carries the log's binding lines as opaque extension text.
    let body = tlog_tiles::Checkpoint::new(ORIGIN, size, Hash(root.0), &binding_text(&log))
        .unwrap()
        .to_bytes();
    let mut note = Note::new(&body, &[]).unwrap();
    note.add_sigs(&[&StandardSigner::new(&skey).unwrap()])
        .unwrap();
    let bytes = note.to_bytes();

    // Key strings: sealtrail reads signed_note's vkey and skey (and checks their key hashes).
    let pk = PublicKey::from_vkey(&vkey).unwrap();
    assert_eq!(pk.name(), ORIGIN);
    assert_eq!(pk.to_vkey(), vkey);
    let sk = SecretKey::from_skey(&skey).unwrap();
    assert_eq!(sk.public_key(), pk);
    assert_eq!(sk.to_skey().as_str(), skey);

    // The note and its body.
    let parsed = SignedNote::parse(&bytes).unwrap();
    assert_eq!(utf8(&parsed.encode()), utf8(&bytes));
    let verification = parsed.verify(std::slice::from_ref(&pk)).unwrap();
    assert_eq!(verification.verified.len(), 1);
    let cp = Checkpoint::parse(parsed.text()).unwrap();
    assert_eq!(cp.origin(), ORIGIN);
    assert_eq!(cp.size(), size);
    assert_eq!(cp.root(), root);
    assert_eq!(cp.encode().as_bytes(), body.as_slice());

    // Ed25519 is deterministic: sealtrail signing the same body with the same key writes the
    // very same note.
    let ours = SignedCheckpoint::sign(cp, &sk).unwrap();
    assert_eq!(utf8(&ours.encode()), utf8(&bytes));

    // The foreign checkpoint anchors sealtrail's proofs.
    let verified = trust(pk.clone(), Witnesses::NotRequired)
        .verify_bytes(&bytes)
        .unwrap();
    assert_eq!((verified.size(), verified.root()), (size, root));
    for seq in [0, size / 2, size - 1] {
        let entry = log.read(seq).unwrap().unwrap();
        let proof = log.inclusion_proof(seq, size).unwrap();
        verified.verify_entry(&entry.entry, &proof).unwrap();
    }

    // A changed root: sealtrail rejects the owner's line.
    let err = trust(pk, Witnesses::NotRequired)
        .verify_bytes(&flip_root_in_note(&bytes))
        .unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointVerifyError::Owner(NoteVerifyError::InvalidSignature { .. })
        ),
        "{err:?}"
    );
}

/// The reverse of the key-string checks above: `signed_note` reads sealtrail's secret and
/// verifier key strings, signs with the secret key exactly as sealtrail does, and verifies.
#[test]
fn sealtrail_key_strings_sign_and_verify_in_signed_note() {
    let sk = owner();
    let signer = StandardSigner::new(sk.to_skey().as_str()).unwrap();
    let verifier = StandardVerifier::new(&sk.public_key().to_vkey()).unwrap();
    let text = b"a note that is not a checkpoint\n";
    let mut note = Note::new(text, &[]).unwrap();
    note.add_sigs(&[&signer]).unwrap();
    let ours = SignedNote::sign("a note that is not a checkpoint\n", &sk, sk.name()).unwrap();
    assert_eq!(
        utf8(&ours.encode()),
        utf8(&note.to_bytes()),
        "same key, same note"
    );
    let (verified, _) = Note::from_bytes(&ours.encode())
        .unwrap()
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified[0].name(), sk.name());
}

// ---------------------------------------------------------------------------------------------
// 3. Witness cosignatures (cosignature/v1)
// ---------------------------------------------------------------------------------------------

/// A cosignature made by sealtrail's witness code verifies in `metamorphic-log`'s
/// `cosignature/v1` verifier under the witness's type-0x04 verifier key; a plain C2SP note
/// verifier (`signed_note`) that knows only the owner ignores the cosignature line.
#[test]
fn sealtrail_cosignature_verifies_in_metamorphic_log() {
    use metamorphic_log::note::{SignedNote as MNote, VerifierKey};

    let log = sha256_log(RECORDS);
    let mut signed = log.checkpoint(&owner()).unwrap();
    let time = 1_767_225_600; // 2026-01-01T00:00:00Z
    signed.cosign(&witness(), time).unwrap();
    let bytes = signed.encode();
    let text = std::str::from_utf8(&bytes).unwrap();

    // The witness's vkey (type 0x04) as sealtrail writes it, read by metamorphic-log, which
    // recomputes its key hash; and metamorphic-log's own encoding of the same key.
    let wkey = WitnessKey::new(witness().public_key());
    let wvk = VerifierKey::parse(&wkey.to_vkey()).unwrap();
    assert_eq!(
        wvk,
        VerifierKey::new_cosignature_ed25519(wkey.name(), wkey.key_id().as_bytes()).unwrap()
    );
    assert_eq!(wvk.encode(), wkey.to_vkey());
    // signed_note knows only type 0x01: it accepts the key hash of the type-0x04 vkey and then
    // refuses its type, which is why a third crate checks cosignatures.
    assert!(matches!(
        StandardVerifier::new(&wkey.to_vkey()),
        Err(signed_note::VerifierError::Alg)
    ));
    let owner_vk = VerifierKey::parse(&owner_vkey_named(ORIGIN)).unwrap();

    let note = MNote::parse(text).unwrap();
    assert_eq!(note.marshal(), text);
    let ok = note.verify(std::slice::from_ref(&wvk)).unwrap();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].name(), wkey.name());
    assert_eq!(&ok[0].signature()[..8], &time.to_be_bytes());
    assert_eq!(note.verify(&[owner_vk, wvk.clone()]).unwrap().len(), 2);

    // The cosignature line is just another signature line to a plain note verifier.
    let (verified, unverified) = Note::from_bytes(&bytes)
        .unwrap()
        .verify(&verifiers(&[&owner_vkey_named(ORIGIN)]))
        .unwrap();
    assert_eq!((verified.len(), unverified.len()), (1, 1));
    assert_eq!(unverified[0].name(), wkey.name());

    // The cosignature signs the body: with the root changed it no longer verifies.
    let forged = MNote::parse(std::str::from_utf8(&flip_root_in_note(&bytes)).unwrap()).unwrap();
    let err = forged.verify(std::slice::from_ref(&wvk)).unwrap_err();
    assert!(
        matches!(&err, metamorphic_log::Error::InvalidSignature { name, .. } if name == wkey.name()),
        "{err:?}"
    );
}

/// A cosignature `metamorphic-log` makes over a sealtrail checkpoint counts in sealtrail's
/// witness policy, with its time, under the witness key read from metamorphic-log's vkey.
#[test]
fn metamorphic_log_cosignature_verifies_in_sealtrail_policy() {
    use metamorphic_log::note::{VerifierKey, sign_cosignature_ed25519};

    let log = sha256_log(RECORDS);
    let signed = log.checkpoint(&owner()).unwrap();
    let time = 1_767_225_601;
    let line = sign_cosignature_ed25519(
        signed.note().text(),
        FOREIGN_WITNESS,
        &FOREIGN_WITNESS_SEED,
        time,
    )
    .unwrap()
    .marshal_line();
    let mut bytes = signed.encode();
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');

    let foreign_vkey =
        VerifierKey::new_cosignature_ed25519(FOREIGN_WITNESS, &foreign_witness_public())
            .unwrap()
            .encode();
    let wkey = WitnessKey::from_vkey(&foreign_vkey).unwrap();
    assert_eq!(wkey.name(), FOREIGN_WITNESS);
    let policy = WitnessPolicy::new(vec![wkey.clone()], 1).unwrap();

    let cosigned = SignedCheckpoint::parse(&bytes).unwrap();
    let report = policy.verify(&cosigned).unwrap();
    assert_eq!(
        report.outcomes()[0].status,
        CosignatureStatus::Valid { time }
    );
    // Owner and witness together, as a relying party checks a checkpoint.
    let v = trust(owner_pinned(), Witnesses::Quorum(policy.clone()))
        .verify_bytes(&bytes)
        .unwrap();
    assert_eq!(v.witnesses().valid_count(), 1);
    assert_eq!(v.root(), log.root(log.len()).unwrap());

    // A cosignature metamorphic-log made over another root does not count for this one.
    let other_text = std::str::from_utf8(&flip_root_in_note(signed.note().text().as_bytes()))
        .unwrap()
        .to_owned();
    let stray = sign_cosignature_ed25519(&other_text, FOREIGN_WITNESS, &FOREIGN_WITNESS_SEED, time)
        .unwrap()
        .marshal_line();
    let mut bytes = signed.encode();
    bytes.extend_from_slice(stray.as_bytes());
    bytes.push(b'\n');
    let err = policy
        .verify(&SignedCheckpoint::parse(&bytes).unwrap())
        .unwrap_err();
    let sealtrail::checkpoint::WitnessError::QuorumNotMet { report, .. } = err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(
        report.outcomes()[0].status,
        CosignatureStatus::Invalid(CosignatureProblem::BadSignature { time })
    );
}

// ---------------------------------------------------------------------------------------------
// 4. RFC 6962 trees and proofs: sealtrail and tlog_tiles
// ---------------------------------------------------------------------------------------------

/// `tlog_tiles`' hash storage of a tree, filled the way its writer fills it.
struct TilesTree {
    stored: Vec<Hash>,
    size: u64,
}

impl HashReader for TilesTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.stored
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl TilesTree {
    /// The tree of `leaves`, whose leaf data are sealtrail entry hashes (SPEC §10.1).
    fn of(leaves: &[EntryHash]) -> TilesTree {
        let mut tree = TilesTree {
            stored: Vec::new(),
            size: 0,
        };
        for leaf in leaves {
            let n = tree.size;
            assert_eq!(
                tree.stored.len() as u64,
                tlog_tiles::stored_hash_index(0, n)
            );
            let new = tlog_tiles::stored_hashes(n, leaf.as_bytes(), &tree).unwrap();
            tree.stored.extend(new);
            tree.size += 1;
        }
        tree
    }
}

/// The root each side computes over the same leaves is the same, at every size (and the empty
/// tree's root is SHA-256 of nothing on both).
#[test]
fn roots_agree_with_tlog_tiles_at_every_size() {
    let log = sha256_log(RECORDS);
    let leaves = entry_hashes(&log);
    let tree = TilesTree::of(&leaves);
    for size in 0..=log.len() {
        let tiles = tlog_tiles::tree_hash(size, &tree).unwrap();
        assert_eq!(tiles.0, log.root(size).unwrap().0, "root at size {size}");
        let ours = merkle::root_of_leaf_hashes(
            &Suite::Sha256,
            &leaves[..size as usize]
                .iter()
                .map(|h| merkle::leaf_hash(Suite::Sha256, h))
                .collect::<Vec<_>>(),
        );
        assert_eq!(ours.0, tiles.0, "in-memory root at size {size}");
    }
    assert_eq!(log.root(0).unwrap().0, tlog_tiles::EMPTY_HASH.0);
    // The leaf hash is RFC 6962's on both sides.
    for h in &leaves {
        assert_eq!(
            merkle::leaf_hash(Suite::Sha256, h),
            tlog_tiles::record_hash(h.as_bytes()).0
        );
    }
}

/// Every inclusion and consistency proof the log makes, for every size up to the log's, checks
/// in `tlog_tiles` against the root of that size; the latest ones against the root `tlog_tiles`
/// reads from the signed checkpoint, after `signed_note` verified it.
#[test]
fn sealtrail_proofs_verify_in_tlog_tiles() {
    let log = sha256_log(RECORDS);
    let leaves = entry_hashes(&log);
    let n = log.len();
    for size in 1..=n {
        let root = Hash(log.root(size).unwrap().0);
        for index in 0..size {
            let proof = tiles_hashes(&log.inclusion_proof(index, size).unwrap());
            let leaf = tlog_tiles::record_hash(leaves[index as usize].as_bytes());
            tlog_tiles::check_record(&proof, size, root, index, leaf)
                .unwrap_or_else(|e| panic!("inclusion of {index} in {size}: {e}"));
        }
        for old in 1..=size {
            let proof = tiles_hashes(&log.consistency_proof(old, size).unwrap());
            let old_root = Hash(log.root(old).unwrap().0);
            tlog_tiles::check_tree(&proof, size, root, old, old_root)
                .unwrap_or_else(|e| panic!("consistency {old} -> {size}: {e}"));
        }
    }

    // Against checkpoints, as a C2SP client sees them: an older and a newer signed checkpoint,
    // each verified by signed_note and read by tlog_tiles.
    let older = log.checkpoint(&owner()).unwrap();
    grow(&log, 9);
    let newer = log.checkpoint(&owner()).unwrap();
    let read = |signed: &SignedCheckpoint| {
        let note = Note::from_bytes(&signed.encode()).unwrap();
        note.verify(&verifiers(&[&owner_vkey_named(ORIGIN)]))
            .unwrap();
        tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap()
    };
    let (old_cp, new_cp) = (read(&older), read(&newer));
    assert_eq!((old_cp.size(), new_cp.size()), (n, n + 9));
    let leaves = entry_hashes(&log);
    for index in [0, n - 1, n, new_cp.size() - 1] {
        let proof = tiles_hashes(&log.inclusion_proof(index, new_cp.size()).unwrap());
        let leaf = tlog_tiles::record_hash(leaves[index as usize].as_bytes());
        tlog_tiles::check_record(&proof, new_cp.size(), *new_cp.hash(), index, leaf).unwrap();
    }
    let proof = tiles_hashes(&log.consistency_proof(old_cp.size(), new_cp.size()).unwrap());
    tlog_tiles::check_tree(
        &proof,
        new_cp.size(),
        *new_cp.hash(),
        old_cp.size(),
        *old_cp.hash(),
    )
    .unwrap();

    // tlog_tiles rejects a proof against a changed root, and a changed proof.
    let mut bad_root = *new_cp.hash();
    bad_root.0[0] ^= 0x01;
    let proof = tiles_hashes(&log.inclusion_proof(3, new_cp.size()).unwrap());
    let leaf = tlog_tiles::record_hash(leaves[3].as_bytes());
    assert!(matches!(
        tlog_tiles::check_record(&proof, new_cp.size(), bad_root, 3, leaf),
        Err(tlog_tiles::Error::InvalidProof)
    ));
    let mut bad_proof = proof.clone();
    bad_proof[1].0[31] ^= 0x80;
    assert!(matches!(
        tlog_tiles::check_record(&bad_proof, new_cp.size(), *new_cp.hash(), 3, leaf),
        Err(tlog_tiles::Error::InvalidProof)
    ));
    let cproof = tiles_hashes(&log.consistency_proof(old_cp.size(), new_cp.size()).unwrap());
    assert!(matches!(
        tlog_tiles::check_tree(
            &cproof,
            new_cp.size(),
            bad_root,
            old_cp.size(),
            *old_cp.hash()
        ),
        Err(tlog_tiles::Error::InvalidProof)
    ));
}

/// Every inclusion and consistency proof `tlog_tiles` computes over the log's entry hashes
/// verifies in sealtrail's verifiers, and is byte for byte the proof the log makes.
#[test]
fn tlog_tiles_proofs_verify_in_sealtrail() {
    let log = sha256_log(RECORDS);
    let leaves = entry_hashes(&log);
    let tree = TilesTree::of(&leaves);
    let n = log.len();
    for size in 1..=n {
        let root = tlog_tiles::tree_hash(size, &tree).unwrap().0;
        for index in 0..size {
            let proof: Vec<[u8; 32]> = tlog_tiles::prove_record(size, index, &tree)
                .unwrap()
                .iter()
                .map(|h| h.0)
                .collect();
            let leaf = merkle::leaf_hash(Suite::Sha256, &leaves[index as usize]);
            merkle::verify_inclusion(&Suite::Sha256, &leaf, index, size, &proof, &root)
                .unwrap_or_else(|e| panic!("inclusion of {index} in {size}: {e}"));
            assert_eq!(proof, log.inclusion_proof(index, size).unwrap());
        }
        for old in 1..=size {
            let proof: Vec<[u8; 32]> = tlog_tiles::prove_tree(size, old, &tree)
                .unwrap()
                .iter()
                .map(|h| h.0)
                .collect();
            let old_root = tlog_tiles::tree_hash(old, &tree).unwrap().0;
            merkle::verify_consistency(&Suite::Sha256, old, size, &proof, &old_root, &root)
                .unwrap_or_else(|e| panic!("consistency {old} -> {size}: {e}"));
            assert_eq!(proof, log.consistency_proof(old, size).unwrap());
        }
    }

    // Against verified checkpoints: tlog_tiles' proofs anchor on sealtrail's trusted roots.
    let t = trust(owner_pinned(), Witnesses::NotRequired);
    let older = t.verify(&log.checkpoint(&owner()).unwrap()).unwrap();
    grow(&log, 9);
    let newer = t.verify(&log.checkpoint(&owner()).unwrap()).unwrap();
    let leaves = entry_hashes(&log);
    let tree = TilesTree::of(&leaves);
    let m = newer.size();
    assert_eq!((older.size(), m), (n, n + 9));
    let record = |index: u64| -> Vec<[u8; 32]> {
        tlog_tiles::prove_record(m, index, &tree)
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect()
    };
    for index in [0, 7, n - 1, n, m - 1] {
        let entry = log.read(index).unwrap().unwrap();
        newer.verify_entry(&entry.entry, &record(index)).unwrap();
    }
    let consistency: Vec<[u8; 32]> = tlog_tiles::prove_tree(m, n, &tree)
        .unwrap()
        .iter()
        .map(|h| h.0)
        .collect();
    newer.verify_consistency(&older, &consistency).unwrap();

    // sealtrail rejects tlog_tiles' proof against a changed root, or with a changed hash.
    let proof = record(7);
    let mut bad_root = newer.root().0;
    bad_root[0] ^= 0x01;
    let leaf = merkle::leaf_hash(Suite::Sha256, &leaves[7]);
    assert!(matches!(
        merkle::verify_inclusion(&Suite::Sha256, &leaf, 7, m, &proof, &bad_root),
        Err(ProofError::RootMismatch { .. })
    ));
    let mut bad_proof = proof.clone();
    bad_proof[0][5] ^= 0x10;
    assert!(matches!(
        newer.verify_inclusion(&leaves[7], 7, &bad_proof),
        Err(ProofError::RootMismatch { .. })
    ));
    let mut bad_consistency = consistency.clone();
    bad_consistency[0][0] ^= 0x01;
    assert!(newer.verify_consistency(&older, &bad_consistency).is_err());
}

// ---------------------------------------------------------------------------------------------
// 5. c2sp.org/tlog-proof@v1 files
// ---------------------------------------------------------------------------------------------

/// The parts of a `.tlog-proof` file, split by the C2SP grammar (the framing is the test's; the
/// note, checkpoint and proof checks are the independent crates').
struct ProofParts {
    extra: Option<Vec<u8>>,
    index: u64,
    hashes: Vec<Hash>,
    note: Vec<u8>,
}

fn split_tlog_proof(bytes: &[u8]) -> ProofParts {
    let text = std::str::from_utf8(bytes).unwrap();
    let (head, note) = text.split_once("\n\n").unwrap();
    let mut lines = head.split('\n');
    assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
    let mut line = lines.next().unwrap();
    let mut extra = None;
    if let Some(e) = line.strip_prefix("extra ") {
        extra = Some(B64.decode(e).unwrap());
        line = lines.next().unwrap();
    }
    let index = line.strip_prefix("index ").unwrap().parse().unwrap();
    let hashes = lines.map(|l| Hash::parse_hash(l).unwrap()).collect();
    ProofParts {
        extra,
        index,
        hashes,
        note: note.as_bytes().to_vec(),
    }
}

/// Checks one `.tlog-proof` file with the independent crates: the checkpoint part verifies in
/// `signed_note` under the origin-named owner key (and, when `witness` is given, its
/// cosignature in `metamorphic-log`), the body reads in `tlog_tiles`, and the audit path checks
/// in `tlog_tiles` for the entry hash of the `extra` line at the file's index.
fn check_tlog_proof(bytes: &[u8], seq: u64, entry: &EntryHash, witness: Option<&WitnessKey>) {
    use metamorphic_log::note::{SignedNote as MNote, VerifierKey};

    let parts = split_tlog_proof(bytes);
    assert_eq!(parts.index, seq);
    assert_eq!(parts.extra.as_deref(), Some(entry.as_bytes().as_slice()));

    let note = Note::from_bytes(&parts.note).unwrap();
    assert_eq!(
        utf8(&note.to_bytes()),
        utf8(&parts.note),
        "the checkpoint runs to the end of the file"
    );
    note.verify(&verifiers(&[&owner_vkey_named(ORIGIN)]))
        .unwrap();
    if let Some(w) = witness {
        let wvk = VerifierKey::parse(&w.to_vkey()).unwrap();
        MNote::parse(utf8(&parts.note))
            .unwrap()
            .verify(&[wvk])
            .unwrap();
    }
    let cp = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
    let leaf = tlog_tiles::record_hash(parts.extra.as_deref().unwrap());
    tlog_tiles::check_record(&parts.hashes, cp.size(), *cp.hash(), parts.index, leaf).unwrap();

    // Another leaf at the same index does not check.
    let mut other = entry.0;
    other[31] ^= 0x01;
    let other = tlog_tiles::record_hash(&other);
    assert!(
        tlog_tiles::check_record(&parts.hashes, cp.size(), *cp.hash(), parts.index, other).is_err()
    );
}

/// The `.tlog-proof` bytes the log writes (`Log::prove`, against its latest checkpoint), and
/// the same proofs against a checkpoint a witness cosigned, check with the independent crates.
#[test]
fn tlog_proof_file_checks_with_independent_parts() {
    let log = sha256_log(RECORDS);
    let mut cosigned = log.checkpoint(&owner()).unwrap();
    cosigned.cosign(&witness(), 1_767_225_602).unwrap();
    let wkey = WitnessKey::new(witness().public_key());
    let leaves = entry_hashes(&log);
    for seq in [0, 1, 20, log.len() - 1] {
        let entry = &leaves[seq as usize];
        let bytes = log.prove(seq).unwrap().encode();
        check_tlog_proof(&bytes, seq, entry, None);

        let proof = TlogProof::parse(&bytes).unwrap();
        let bytes = TlogProof::new(seq, proof.hashes().to_vec(), cosigned.clone())
            .unwrap()
            .with_entry_hash(*entry)
            .encode();
        check_tlog_proof(&bytes, seq, entry, Some(&wkey));
    }
}

// ---------------------------------------------------------------------------------------------
// Extension lines
// ---------------------------------------------------------------------------------------------

/// Two extension lines, shaped like the log-id and key-management lines checkpoints are about to
/// carry. C2SP leaves their content opaque.
fn extension_lines() -> Vec<String> {
    LogBinding {
        log_id: LogId([0x5a; 32]),
        control: Some(Link {
            seq: 17,
            hash: EntryHash([0x5b; 32]),
        }),
    }
    .extension_lines()
}

/// A checkpoint body with extension lines round-trips byte for byte between sealtrail and
/// `tlog_tiles`, both ways.
#[test]
fn extension_lines_round_trip_through_tlog_tiles() {
    let root = RootHash([0xa5; 32]);
    let ours = Checkpoint::new(ORIGIN, 12_345, root)
        .unwrap()
        .with_extensions(extension_lines())
        .unwrap();
    let text = ours.encode();
    let tiles = tlog_tiles::Checkpoint::from_bytes(text.as_bytes()).unwrap();
    assert_eq!(tiles.origin(), ORIGIN);
    assert_eq!(tiles.size(), 12_345);
    assert_eq!(tiles.hash().0, root.0);
    assert_eq!(
        tiles.extension(),
        format!("{}\n", extension_lines().join("\n"))
    );
    assert_eq!(tiles.to_bytes(), text.as_bytes());

    let theirs = tlog_tiles::Checkpoint::new(
        ORIGIN,
        12_345,
        Hash(root.0),
        &format!("{}\n", extension_lines().join("\n")),
    )
    .unwrap()
    .to_bytes();
    let parsed = Checkpoint::parse(std::str::from_utf8(&theirs).unwrap()).unwrap();
    assert_eq!(parsed.extensions(), extension_lines().as_slice());
    assert_eq!(parsed, ours);
}

/// With extension lines, every signature still covers the whole body: sealtrail's owner note
/// and cosignature verify in `signed_note` and `metamorphic-log`; their note and cosignature
/// verify in sealtrail; and a changed extension line breaks each.
#[test]
fn extension_lines_are_signed_and_cosigned_across_implementations() {
    use metamorphic_log::note::{SignedNote as MNote, VerifierKey, sign_cosignature_ed25519};

    let log = sha256_log(5);
    let size = log.len();
    let root = log.root(size).unwrap();
    // The log's own binding lines (SPEC §11.2).
    let binding = log
        .checkpoint(&owner())
        .unwrap()
        .checkpoint()
        .binding()
        .unwrap();
    let body = Checkpoint::for_log(
        &LogOrigin::new(ORIGIN, Suite::Sha256).unwrap(),
        &binding,
        size,
        root,
    );

    // sealtrail signs and cosigns; signed_note, tlog_tiles and metamorphic-log read it.
    let mut signed = SignedCheckpoint::sign(body.clone(), &owner()).unwrap();
    signed.cosign(&witness(), 1_767_225_603).unwrap();
    let bytes = signed.encode();
    let note = Note::from_bytes(&bytes).unwrap();
    note.verify(&verifiers(&[&owner_vkey_named(ORIGIN)]))
        .unwrap();
    let tiles = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
    assert_eq!(
        tiles.extension(),
        format!("{}\n", binding.extension_lines().join("\n"))
    );
    let wvk = VerifierKey::parse(&WitnessKey::new(witness().public_key()).to_vkey()).unwrap();
    MNote::parse(std::str::from_utf8(&bytes).unwrap())
        .unwrap()
        .verify(std::slice::from_ref(&wvk))
        .unwrap();
    let changed = String::from_utf8(bytes.clone()).unwrap().replacen(
        "sealtrail control 0 ",
        "sealtrail control 1 ",
        1,
    );
    assert_ne!(changed.as_bytes(), bytes.as_slice());
    assert!(matches!(
        Note::from_bytes(changed.as_bytes())
            .unwrap()
            .verify(&verifiers(&[&owner_vkey_named(ORIGIN)])),
        Err(NoteError::InvalidSignature { .. })
    ));
    assert!(MNote::parse(&changed).unwrap().verify(&[wvk]).is_err());

    // signed_note signs and metamorphic-log cosigns the tlog_tiles body; sealtrail verifies both.
    let (skey, vkey) = foreign_note_key(ORIGIN, 0x66);
    let mut note = Note::new(&tiles.to_bytes(), &[]).unwrap();
    note.add_sigs(&[&StandardSigner::new(&skey).unwrap()])
        .unwrap();
    let mut bytes = note.to_bytes();
    let line = sign_cosignature_ed25519(
        std::str::from_utf8(note.text()).unwrap(),
        FOREIGN_WITNESS,
        &FOREIGN_WITNESS_SEED,
        1_767_225_604,
    )
    .unwrap()
    .marshal_line();
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let policy = WitnessPolicy::new(
        vec![WitnessKey::from_bytes(FOREIGN_WITNESS, &foreign_witness_public()).unwrap()],
        1,
    )
    .unwrap();
    let pk = PublicKey::from_vkey(&vkey).unwrap();
    let t = trust(pk, Witnesses::Quorum(policy));
    let v = t.verify_bytes(&bytes).unwrap();
    assert_eq!(v.checkpoint(), &body);
    assert_eq!(v.witnesses().valid_count(), 1);
    let changed = String::from_utf8(bytes.clone()).unwrap().replacen(
        "sealtrail control 0 ",
        "sealtrail control 1 ",
        1,
    );
    assert_ne!(changed.as_bytes(), bytes.as_slice());
    assert!(t.verify_bytes(changed.as_bytes()).is_err());
}
