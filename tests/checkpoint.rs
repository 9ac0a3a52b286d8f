//! Checkpoints, witness cosignatures, the witness policy and tlog proofs (SPEC §11).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::prelude::*;
use sealtrail::checkpoint::{
    Checkpoint, CheckpointError, CheckpointTrust, CheckpointVerifyError, CosignError,
    CosignatureProblem, CosignatureStatus, LogBinding, LogOrigin, MAX_COSIGNATURE_TIME,
    PolicyError, SignedCheckpoint, TlogProof, TlogProofError, WitnessError, WitnessKey,
    WitnessPolicy, WitnessReport, Witnesses, checkpoint_origin,
};
use sealtrail::descriptor::Descriptor;
use sealtrail::keys::{PublicKey, SecretKey};
use sealtrail::note::{NoteVerifyError, SignedNote};
use sealtrail::{EntryHash, Link, LogId, RootHash, Suite, Timestamp};

const ORIGIN: &str = "example.com/test-log";

fn owner() -> SecretKey {
    SecretKey::from_seed("owner", &[1; 32]).unwrap()
}

fn witness(i: u8) -> SecretKey {
    SecretKey::from_seed(&format!("witness{i}.example"), &[0x40 + i; 32]).unwrap()
}

fn wkey(i: u8) -> WitnessKey {
    WitnessKey::new(witness(i).public_key())
}

fn log(suite: Suite) -> LogOrigin {
    LogOrigin::new(ORIGIN, suite).unwrap()
}

const LOG_ID: LogId = LogId([0x11; 32]);

/// The extension lines of a checkpoint of the test log (SPEC §11.2).
fn binding() -> LogBinding {
    LogBinding {
        log_id: LOG_ID,
        control: None,
    }
}

fn signed(suite: Suite, size: u64) -> SignedCheckpoint {
    let root = RootHash([size as u8 ^ 0x5a; 32]);
    SignedCheckpoint::sign(
        Checkpoint::for_log(&log(suite), &binding(), size, root),
        &owner(),
    )
    .unwrap()
}

/// The owner's verifier key as an auditor pins it: named after the checkpoint origin line.
fn owner_vkey(l: &LogOrigin) -> PublicKey {
    owner()
        .public_key()
        .renamed(&l.checkpoint_origin())
        .unwrap()
}

fn trust(suite: Suite) -> CheckpointTrust {
    CheckpointTrust::new(
        log(suite),
        vec![owner_vkey(&log(suite))],
        Witnesses::NotRequired,
    )
    .unwrap()
}

fn policy(quorum: usize) -> WitnessPolicy {
    WitnessPolicy::new(vec![wkey(1), wkey(2), wkey(3)], quorum).unwrap()
}

fn with_policy(suite: Suite, p: WitnessPolicy) -> CheckpointTrust {
    CheckpointTrust::new(
        log(suite),
        vec![owner_vkey(&log(suite))],
        Witnesses::Quorum(p),
    )
    .unwrap()
}

#[test]
fn sign_verify_round_trip_both_suites() {
    for suite in [Suite::Sha256, Suite::Blake3] {
        let cp = signed(suite, 42);
        let bytes = cp.encode();
        let parsed = SignedCheckpoint::parse(&bytes).unwrap();
        assert_eq!(parsed, cp);
        assert_eq!(parsed.encode(), bytes);
        let v = trust(suite).verify_bytes(&bytes).unwrap();
        assert_eq!(v.size(), 42);
        assert_eq!(v.root(), RootHash([42 ^ 0x5a; 32]));
        assert_eq!(v.suite(), suite);
        assert_eq!(v.log().origin(), ORIGIN);
        assert_eq!(v.signer(), owner().key_id());
        assert!(v.witnesses().outcomes().is_empty());
        // The owner signs under the origin line, whatever its own key name.
        let sigs = cp.note().signatures();
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].name(), checkpoint_origin(ORIGIN, suite));
    }
}

#[test]
fn descriptor_gives_the_log_origin() {
    for suite in [Suite::Sha256, Suite::Blake3] {
        let d = Descriptor::new(suite, ORIGIN, owner().key_id(), Timestamp(1)).unwrap();
        assert_eq!(LogOrigin::of(&d).unwrap(), log(suite));
    }
}

#[test]
fn blake3_origin_rule() {
    assert_eq!(checkpoint_origin(ORIGIN, Suite::Sha256), ORIGIN);
    assert_eq!(
        checkpoint_origin(ORIGIN, Suite::Blake3),
        "example.com/test-log#blake3"
    );
    let b = signed(Suite::Blake3, 7);
    assert_eq!(b.checkpoint().origin(), "example.com/test-log#blake3");
    assert!(
        String::from_utf8(b.encode())
            .unwrap()
            .starts_with("example.com/test-log#blake3\n7\n")
    );
    assert_eq!(signed(Suite::Sha256, 7).checkpoint().origin(), ORIGIN);

    // A BLAKE3 checkpoint is not a SHA-256 checkpoint of the same log, nor the other way.
    assert_eq!(
        trust(Suite::Sha256).verify(&b).unwrap_err(),
        CheckpointVerifyError::SuiteMismatch {
            expected: Suite::Sha256,
            found: Suite::Blake3
        }
    );
    assert_eq!(
        trust(Suite::Blake3)
            .verify(&signed(Suite::Sha256, 7))
            .unwrap_err(),
        CheckpointVerifyError::SuiteMismatch {
            expected: Suite::Blake3,
            found: Suite::Sha256
        }
    );
    // Another log's checkpoint.
    let other = LogOrigin::new("example.com/other", Suite::Sha256).unwrap();
    let cp = Checkpoint::for_log(&other, &binding(), 1, RootHash([0; 32]));
    let s = SignedCheckpoint::sign(cp, &owner()).unwrap();
    assert!(matches!(
        trust(Suite::Sha256).verify(&s),
        Err(CheckpointVerifyError::WrongOrigin { .. })
    ));

    // The inverse.
    for suite in [Suite::Sha256, Suite::Blake3] {
        let line = checkpoint_origin(ORIGIN, suite);
        assert_eq!(
            LogOrigin::from_checkpoint_origin(&line).unwrap(),
            log(suite)
        );
    }
    for bad in ["a#sha256", "a#blake3#blake3", "#blake3", "", "a b"] {
        assert!(LogOrigin::from_checkpoint_origin(bad).is_err(), "{bad}");
    }
    assert!(LogOrigin::new("a#b", Suite::Sha256).is_err());
}

#[test]
fn a_pinned_key_verifies_a_checkpoint_only_under_the_origin_line_name() {
    // C2SP matches keys by name and key hash: the owner's key under its file's name is another
    // key, and its signature line is ignored, whatever the key bytes.
    let pinned = owner().public_key().renamed("auditor-pin").unwrap();
    let t = CheckpointTrust::new(log(Suite::Blake3), vec![pinned], Witnesses::NotRequired).unwrap();
    let err = t.verify(&signed(Suite::Blake3, 3)).unwrap_err();
    assert!(
        matches!(
            &err,
            CheckpointVerifyError::Owner(NoteVerifyError::KeyNameMismatch { signed_as, trusted })
                if signed_as == "example.com/test-log#blake3" && trusted == "auditor-pin"
        ),
        "{err:?}"
    );
    // A note signed by the owner's key under any other name is not the log's checkpoint.
    let cp = Checkpoint::for_log(&log(Suite::Blake3), &binding(), 3, RootHash([1; 32]));
    let note = SignedNote::sign(&cp.encode(), &owner(), "someone-else").unwrap();
    let s = SignedCheckpoint::parse(&note.encode()).unwrap();
    assert!(trust(Suite::Blake3).verify(&s).is_err());
    // Under the origin line's name it verifies.
    assert!(
        trust(Suite::Blake3)
            .verify(&signed(Suite::Blake3, 3))
            .is_ok()
    );
}

#[test]
fn a_checkpoint_names_its_log_and_control_head() {
    // Another log with the same origin and owner key: its checkpoints name another log id.
    let other = LogBinding {
        log_id: LogId([0x22; 32]),
        control: None,
    };
    let cp = Checkpoint::for_log(&log(Suite::Sha256), &other, 4, RootHash([4; 32]));
    let s = SignedCheckpoint::sign(cp, &owner()).unwrap();
    assert!(trust(Suite::Sha256).verify(&s).is_ok(), "no log id pinned");
    assert_eq!(
        trust(Suite::Sha256)
            .with_log_id(LOG_ID)
            .verify(&s)
            .unwrap_err(),
        CheckpointVerifyError::WrongLog {
            expected: LOG_ID,
            found: LogId([0x22; 32])
        }
    );
    // The control head round-trips, and must lie below the checkpoint's size.
    let head = LogBinding {
        log_id: LOG_ID,
        control: Some(Link {
            seq: 3,
            hash: EntryHash([9; 32]),
        }),
    };
    let cp = Checkpoint::for_log(&log(Suite::Sha256), &head, 4, RootHash([4; 32]));
    let text = cp.encode();
    assert!(text.ends_with(&format!(
        "sealtrail log {}\nsealtrail control 3 {}\n",
        "11".repeat(32),
        "09".repeat(32)
    )));
    let v = trust(Suite::Sha256)
        .verify(&SignedCheckpoint::sign(cp, &owner()).unwrap())
        .unwrap();
    assert_eq!(v.control(), head.control);
    assert_eq!(v.log_id(), LOG_ID);
    let beyond = Checkpoint::for_log(&log(Suite::Sha256), &head, 3, RootHash([4; 32]));
    let s = SignedCheckpoint::sign(beyond, &owner()).unwrap();
    assert!(matches!(
        trust(Suite::Sha256).verify(&s),
        Err(CheckpointVerifyError::Parse(
            CheckpointError::InvalidBinding(_)
        ))
    ));
    // Missing, extra, reordered or non-canonical extension lines are rejected.
    let lines = head.extension_lines();
    for bad in [
        vec![],
        vec![lines[0].clone()],
        vec![lines[1].clone(), lines[0].clone()],
        vec![lines[0].clone(), lines[1].clone(), "note".into()],
        vec![lines[0].to_uppercase(), lines[1].clone()],
        vec![lines[0].clone(), lines[1].replace(" 3 ", " 03 ")],
        vec![lines[0].clone(), "sealtrail control".into()],
    ] {
        let cp = Checkpoint::new(
            &log(Suite::Sha256).checkpoint_origin(),
            4,
            RootHash([4; 32]),
        )
        .unwrap()
        .with_extensions(bad.clone())
        .unwrap();
        let s = SignedCheckpoint::sign(cp, &owner()).unwrap();
        assert!(
            matches!(
                trust(Suite::Sha256).verify(&s),
                Err(CheckpointVerifyError::Parse(
                    CheckpointError::InvalidBinding(_)
                ))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn unpinned_key_is_rejected() {
    let stranger = SecretKey::from_seed("owner", &[2; 32]).unwrap();
    let cp = Checkpoint::for_log(&log(Suite::Sha256), &binding(), 5, RootHash([1; 32]));
    let s = SignedCheckpoint::sign(cp, &stranger).unwrap();
    assert_eq!(
        trust(Suite::Sha256).verify(&s).unwrap_err(),
        CheckpointVerifyError::Owner(NoteVerifyError::NoVerifiableSignatures)
    );
    assert_eq!(
        CheckpointTrust::new(log(Suite::Sha256), vec![], Witnesses::NotRequired).unwrap_err(),
        PolicyError::NoOwnerKeys
    );
}

#[test]
fn every_single_byte_change_is_rejected() {
    let l = LogOrigin::new("a.example/l", Suite::Sha256).unwrap();
    let t = CheckpointTrust::new(l.clone(), vec![owner_vkey(&l)], Witnesses::NotRequired).unwrap();
    let cp = Checkpoint::for_log(&l, &binding(), 3, RootHash([7; 32]));
    let good = SignedCheckpoint::sign(cp, &owner()).unwrap().encode();
    assert!(t.verify_bytes(&good).is_ok());
    let mut tried = 0;
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            assert!(t.verify_bytes(&b).is_err(), "flip bit {bit} of byte {i}");
            tried += 1;
        }
        let mut cut = good.clone();
        cut.remove(i);
        assert!(t.verify_bytes(&cut).is_err(), "remove byte {i}");
        let mut ins = good.clone();
        ins.insert(i, b'A');
        assert!(t.verify_bytes(&ins).is_err(), "insert at {i}");
    }
    assert!(tried > 1000);
}

#[test]
fn witness_vkeys() {
    let w = wkey(1);
    let vkey = w.to_vkey();
    let (name, rest) = vkey.split_once('+').unwrap();
    let (hash, b64) = rest.split_once('+').unwrap();
    assert_eq!(name, "witness1.example");
    assert_eq!(hash, hex::encode(w.key_hash()));
    let blob = B64.decode(b64).unwrap();
    assert_eq!(blob[0], 0x04);
    assert_eq!(&blob[1..], w.key_id().as_bytes());
    // key hash = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[0..4]
    let mut input = b"witness1.example\n\x04".to_vec();
    input.extend_from_slice(w.key_id().as_bytes());
    assert_eq!(&Suite::Sha256.hash(&[&input])[..4], &w.key_hash());
    assert_eq!(WitnessKey::from_vkey(&vkey).unwrap(), w);
    // Types are not interchangeable.
    assert!(PublicKey::from_vkey(&vkey).is_err());
    assert!(WitnessKey::from_vkey(&witness(1).public_key().to_vkey()).is_err());
    let renamed = vkey.replacen("witness1", "witness9", 1);
    assert!(WitnessKey::from_vkey(&renamed).is_err());
}

#[test]
fn cosign_and_verify_two_of_three() {
    let mut cp = signed(Suite::Sha256, 10);
    cp.cosign(&witness(1), 1_700_000_000).unwrap();
    cp.cosign(&witness(2), 1_700_000_005).unwrap();
    // Round trip through bytes.
    let cp = SignedCheckpoint::parse(&cp.encode()).unwrap();
    assert_eq!(cp.note().signatures().len(), 3);

    // The cosignature line: key hash ‖ time (8 bytes BE) ‖ Ed25519 signature.
    let line = &cp.note().signatures()[1];
    assert_eq!(line.name(), "witness1.example");
    assert_eq!(line.key_hash(), wkey(1).key_hash());
    assert_eq!(line.signature().len(), 72);
    assert_eq!(&line.signature()[..8], &1_700_000_000u64.to_be_bytes());

    let report = policy(2).verify(&cp).unwrap();
    assert_eq!(report.valid_count(), 2);
    assert_eq!(report.needed(), 2);
    let statuses: Vec<_> = report.outcomes().iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        vec![
            CosignatureStatus::Valid {
                time: 1_700_000_000
            },
            CosignatureStatus::Valid {
                time: 1_700_000_005
            },
            CosignatureStatus::Absent,
        ]
    );
    let times: Vec<_> = report
        .cosigners()
        .map(|(w, t)| (w.name().to_owned(), t))
        .collect();
    assert_eq!(
        times,
        vec![
            ("witness1.example".to_owned(), 1_700_000_000),
            ("witness2.example".to_owned(), 1_700_000_005)
        ]
    );

    // Through the trust configuration: owner and witnesses.
    let v = with_policy(Suite::Sha256, policy(2)).verify(&cp).unwrap();
    assert_eq!(v.witnesses().valid_count(), 2);
    assert_eq!(v.signer(), owner().key_id());
    // Witness lines do not disturb the owner check, and the owner does not count as a witness.
    assert!(trust(Suite::Sha256).verify(&cp).is_ok());
    assert!(matches!(
        policy(3).verify(&cp),
        Err(WitnessError::QuorumNotMet {
            found: 2,
            needed: 3,
            ..
        })
    ));
}

/// Replaces the cosignature line of `name` in a note's bytes with `line`.
fn replace_line(note: &[u8], name: &str, line: &str) -> Vec<u8> {
    let text = String::from_utf8(note.to_vec()).unwrap();
    let prefix = format!("\u{2014} {name} ");
    let out: Vec<String> = text
        .split_inclusive('\n')
        .map(|l| {
            if l.starts_with(&prefix) {
                line.to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    out.concat().into_bytes()
}

fn line_of(cp: &SignedCheckpoint, name: &str) -> String {
    cp.note()
        .signatures()
        .iter()
        .find(|s| s.name() == name)
        .unwrap()
        .to_line()
}

#[test]
fn two_of_three_with_one_bad_cosignature_fails() {
    let mut cp = signed(Suite::Sha256, 10);
    cp.cosign(&witness(1), 100).unwrap();
    cp.cosign(&witness(2), 200).unwrap();
    // Witness 2's cosignature of another checkpoint, transplanted.
    let mut other = signed(Suite::Sha256, 11);
    other.cosign(&witness(2), 200).unwrap();
    let bytes = replace_line(
        &cp.encode(),
        "witness2.example",
        &line_of(&other, "witness2.example"),
    );
    let bad = SignedCheckpoint::parse(&bytes).unwrap();
    let err = policy(2).verify(&bad).unwrap_err();
    let WitnessError::QuorumNotMet {
        found,
        needed,
        report,
    } = err.clone()
    else {
        panic!("{err:?}")
    };
    assert_eq!((found, needed), (1, 2));
    assert_eq!(
        report.outcomes()[1].status,
        CosignatureStatus::Invalid(CosignatureProblem::BadSignature { time: 200 })
    );
    assert_eq!(err.to_string(), "1 valid witness cosignatures, 2 required");
    assert!(matches!(
        with_policy(Suite::Sha256, policy(2)).verify(&bad),
        Err(CheckpointVerifyError::Witnesses(
            WitnessError::QuorumNotMet {
                found: 1,
                needed: 2,
                ..
            }
        ))
    ));
    // One bad witness does not veto a quorum of good ones.
    let mut three = bad.clone();
    three.cosign(&witness(3), 300).unwrap();
    assert_eq!(policy(2).verify(&three).unwrap().valid_count(), 2);
}

/// The first witness's status from a failed policy check.
fn first_status(r: Result<WitnessReport, WitnessError>) -> CosignatureStatus {
    match r {
        Err(WitnessError::QuorumNotMet { report, .. }) => report.outcomes()[0].status,
        other => panic!("expected a quorum failure, got {other:?}"),
    }
}

#[test]
fn cosignature_edge_cases() {
    let base = signed(Suite::Blake3, 4);

    // A re-cosign replaces the witness's earlier line.
    let mut cp = base.clone();
    cp.cosign(&witness(1), 5).unwrap();
    cp.cosign(&witness(1), 6).unwrap();
    assert_eq!(cp.note().signatures().len(), 2);
    let one = WitnessPolicy::new(vec![wkey(1)], 1).unwrap();
    assert_eq!(
        one.verify(&cp).unwrap().outcomes()[0].status,
        CosignatureStatus::Valid { time: 6 }
    );

    // Two lines from one witness: it does not count.
    let l5 = {
        let mut c = base.clone();
        c.cosign(&witness(1), 5).unwrap();
        line_of(&c, "witness1.example")
    };
    let mut dup = cp.encode();
    dup.extend_from_slice(l5.as_bytes());
    let dup = SignedCheckpoint::parse(&dup).unwrap();
    assert_eq!(
        first_status(one.verify(&dup)),
        CosignatureStatus::Invalid(CosignatureProblem::Duplicate)
    );

    // Times past 2^63 - 1 are refused when cosigning and do not count when found.
    let mut c = base.clone();
    assert_eq!(
        c.cosign(&witness(1), MAX_COSIGNATURE_TIME + 1),
        Err(CosignError::TimeOutOfRange {
            time: MAX_COSIGNATURE_TIME + 1
        })
    );
    c.cosign(&witness(1), MAX_COSIGNATURE_TIME).unwrap();
    assert!(one.verify(&c).is_ok());
    let w = wkey(1);
    let mut blob = w.key_hash().to_vec();
    blob.extend_from_slice(&u64::MAX.to_be_bytes());
    blob.extend_from_slice(&[0; 64]);
    let forged = format!("\u{2014} witness1.example {}\n", B64.encode(&blob));
    let f =
        SignedCheckpoint::parse(&replace_line(&c.encode(), "witness1.example", &forged)).unwrap();
    assert_eq!(
        first_status(one.verify(&f)),
        CosignatureStatus::Invalid(CosignatureProblem::TimeOutOfRange { time: u64::MAX })
    );

    // A line of the wrong length.
    let short = format!(
        "\u{2014} witness1.example {}\n",
        B64.encode([&w.key_hash()[..], &[0; 64]].concat())
    );
    let s =
        SignedCheckpoint::parse(&replace_line(&c.encode(), "witness1.example", &short)).unwrap();
    assert_eq!(
        first_status(one.verify(&s)),
        CosignatureStatus::Invalid(CosignatureProblem::WrongLength { found: 64 })
    );

    // A witness's cosignature under another name is not its line (C2SP name + key hash).
    let renamed = SecretKey::from_seed("someone-else", &[0x41; 32]).unwrap();
    let mut r = base.clone();
    r.cosign(&renamed, 9).unwrap();
    assert_eq!(first_status(one.verify(&r)), CosignatureStatus::Absent);

    // A plain (type 0x01) note signature by the witness key is not a cosignature.
    let mut plain = base.note().clone();
    plain
        .add_signature(&witness(1), "witness1.example")
        .unwrap();
    let p = SignedCheckpoint::from_note(plain).unwrap();
    assert!(one.verify(&p).is_err());

    // Future times are reported, not rejected (C2SP: verifiers MAY reject them).
    let mut fut = base.clone();
    fut.cosign(&witness(1), 4_000_000_000).unwrap();
    assert!(one.verify(&fut).is_ok());
}

#[test]
fn policy_construction() {
    assert_eq!(
        WitnessPolicy::new(vec![wkey(1)], 0).unwrap_err(),
        PolicyError::ZeroQuorum
    );
    assert_eq!(
        WitnessPolicy::new(vec![wkey(1), wkey(2)], 3).unwrap_err(),
        PolicyError::QuorumTooLarge {
            quorum: 3,
            witnesses: 2
        }
    );
    assert!(matches!(
        WitnessPolicy::new(vec![wkey(1), wkey(2), wkey(1)], 2),
        Err(PolicyError::DuplicateWitness { .. })
    ));
    // The same key under two names would count twice.
    let alias = WitnessKey::new(witness(1).public_key().renamed("alias").unwrap());
    assert!(matches!(
        WitnessPolicy::new(vec![wkey(1), alias], 2),
        Err(PolicyError::DuplicateWitness { .. })
    ));
    assert_eq!(policy(2).quorum(), 2);
    assert_eq!(policy(2).witnesses().len(), 3);
}

#[test]
fn checkpoint_body_rejections() {
    let ok = "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    assert!(Checkpoint::parse(ok).is_ok());
    let with_ext = Checkpoint::parse(&format!("{ok}ext one\next two\n")).unwrap();
    assert_eq!(with_ext.extensions(), ["ext one", "ext two"]);
    assert_eq!(with_ext.encode(), format!("{ok}ext one\next two\n"));
    let root = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let cases: Vec<(String, CheckpointError)> = vec![
        (
            format!("o\n5\n{root}"),
            CheckpointError::MissingFinalNewline,
        ),
        (format!("\n5\n{root}\n"), CheckpointError::EmptyOrigin),
        (
            "o\n5\n".into(),
            CheckpointError::MissingLine(sealtrail::checkpoint::BodyLine::RootHash),
        ),
        (
            "o\n".into(),
            CheckpointError::MissingLine(sealtrail::checkpoint::BodyLine::Size),
        ),
        (
            format!("o\n05\n{root}\n"),
            CheckpointError::InvalidSize("05".into()),
        ),
        (
            format!("o\n+5\n{root}\n"),
            CheckpointError::InvalidSize("+5".into()),
        ),
        (
            format!("o\n18446744073709551616\n{root}\n"),
            CheckpointError::InvalidSize("18446744073709551616".into()),
        ),
        (
            format!("o\n\n{root}\n"),
            CheckpointError::InvalidSize("".into()),
        ),
        (
            "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n".into(),
            CheckpointError::InvalidRootHash,
        ),
        (
            "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n".into(),
            CheckpointError::InvalidRootHash,
        ),
        (
            "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n".into(),
            CheckpointError::RootHashLength { found: 31 },
        ),
        (
            format!("o\n5\n{root}\n\n"),
            CheckpointError::EmptyExtension { line: 4 },
        ),
        (
            format!("o\n5\n{root}\r\n"),
            CheckpointError::ControlCharacter {
                offset: 48,
                byte: b'\r',
            },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(Checkpoint::parse(&text).unwrap_err(), want, "{text:?}");
    }
    assert_eq!(
        Checkpoint::new("", 1, RootHash([0; 32])).unwrap_err(),
        CheckpointError::EmptyOrigin
    );
    assert!(Checkpoint::new("a\nb", 1, RootHash([0; 32])).is_err());
    let cp = Checkpoint::new("o", 1, RootHash([0; 32])).unwrap();
    assert!(cp.clone().with_extensions(vec!["".into()]).is_err());
    assert!(cp.clone().with_extensions(vec!["a\nb".into()]).is_err());
    assert!(cp.clone().with_extensions(vec!["a\tb".into()]).is_err());
    // An origin line with white space cannot be a key name, so it cannot be signed here.
    let spaced = Checkpoint::new("go.sum database tree", 1, RootHash([0; 32])).unwrap();
    assert_eq!(
        SignedCheckpoint::sign(spaced, &owner()).unwrap_err(),
        CheckpointError::OriginNotKeyName("go.sum database tree".into())
    );
    // Extension lines (the log binding) are signed and cosigned as part of the body.
    let ext = Checkpoint::for_log(&log(Suite::Sha256), &binding(), 2, RootHash([3; 32]));
    assert_eq!(ext.extensions().len(), 2);
    let mut s = SignedCheckpoint::sign(ext, &owner()).unwrap();
    s.cosign(&witness(1), 1).unwrap();
    let s = SignedCheckpoint::parse(&s.encode()).unwrap();
    assert!(
        with_policy(Suite::Sha256, WitnessPolicy::new(vec![wkey(1)], 1).unwrap())
            .verify(&s)
            .is_ok()
    );
}

fn proof() -> TlogProof {
    let mut cp = signed(Suite::Blake3, 6);
    cp.cosign(&witness(1), 1_700_000_000).unwrap();
    TlogProof::new(4, vec![[1; 32], [2; 32], [0xfe; 32]], cp)
        .unwrap()
        .with_entry_hash(EntryHash([9; 32]))
}

#[test]
fn tlog_proof_round_trip() {
    let p = proof();
    let bytes = p.encode();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let expected_head = format!(
        "c2sp.org/tlog-proof@v1\nextra {}\nindex 4\n{}\n{}\n{}\n\n",
        B64.encode([9; 32]),
        B64.encode([1; 32]),
        B64.encode([2; 32]),
        B64.encode([0xfe; 32]),
    );
    assert!(text.starts_with(&expected_head), "{text}");
    assert_eq!(
        &bytes[expected_head.len()..],
        p.checkpoint().encode().as_slice()
    );
    let back = TlogProof::parse(&bytes).unwrap();
    assert_eq!(back, p);
    assert_eq!(back.encode(), bytes);
    assert_eq!(back.index(), 4);
    assert_eq!(back.hashes().len(), 3);
    assert_eq!(back.entry_hash(), Some(EntryHash([9; 32])));
    // The embedded checkpoint verifies with its cosignature.
    let t = with_policy(Suite::Blake3, WitnessPolicy::new(vec![wkey(1)], 1).unwrap());
    assert_eq!(t.verify(back.checkpoint()).unwrap().size(), 6);

    // Without extra data and without hashes (a one-entry tree).
    let bare = TlogProof::new(0, vec![], signed(Suite::Sha256, 1)).unwrap();
    let b = bare.encode();
    assert!(b.starts_with(b"c2sp.org/tlog-proof@v1\nindex 0\n\nexample.com/test-log\n1\n"));
    let back = TlogProof::parse(&b).unwrap();
    assert_eq!(back, bare);
    assert_eq!(back.entry_hash(), None);
    assert!(TlogProof::new(0, vec![[0; 32]; 65], signed(Suite::Sha256, 1)).is_err());
}

#[test]
fn tlog_proof_rejections() {
    let good = String::from_utf8(proof().encode()).unwrap();
    let lines: Vec<&str> = good.split_inclusive('\n').collect();
    // lines: 0 header, 1 extra, 2 index, 3-5 hashes, 6 blank, 7.. checkpoint
    let without = |i: usize| {
        let mut l = lines.clone();
        l.remove(i);
        l.concat()
    };
    let with = |i: usize, s: &str| {
        let mut l = lines.clone();
        l[i] = s;
        l.concat()
    };
    let parse = |s: &str| TlogProof::parse(s.as_bytes()).unwrap_err();
    use TlogProofError as E;
    assert_eq!(parse(&without(0)), E::MissingHeader);
    assert_eq!(
        parse(&with(0, "c2sp.org/tlog-proof@v2\n")),
        E::MissingHeader
    );
    assert_eq!(
        parse(&with(0, "c2sp.org/tlog-proof@v1 \n")),
        E::MissingHeader
    );
    assert_eq!(parse(&without(2)), E::MissingIndex);
    assert_eq!(parse(&with(2, "index 04\n")), E::InvalidIndex("04".into()));
    assert_eq!(parse(&with(2, "index -1\n")), E::InvalidIndex("-1".into()));
    assert_eq!(parse(&with(2, "index \n")), E::InvalidIndex("".into()));
    assert_eq!(
        parse(&with(2, "index 18446744073709551616\n")),
        E::InvalidIndex("18446744073709551616".into())
    );
    assert_eq!(parse(&with(2, "index  4\n")), E::InvalidIndex(" 4".into()));
    // Extra data must come before the index, be base64, and be a 32-byte entry hash.
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    assert_eq!(parse(&swapped.concat()), E::InvalidHash { position: 0 });
    assert_eq!(parse(&with(1, "extra not*base64\n")), E::InvalidExtra);
    assert_eq!(
        parse(&with(1, &format!("extra {}\n", B64.encode([0; 31])))),
        E::ExtraLength { found: 31 }
    );
    // Hashes.
    assert_eq!(
        parse(&with(4, "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI\n")),
        E::InvalidHash { position: 1 }
    );
    assert_eq!(
        parse(&with(4, &format!("{}\n", B64.encode([2; 31])))),
        E::HashLength {
            position: 1,
            found: 31
        }
    );
    assert_eq!(
        parse(&with(4, &format!("{}\n", B64.encode([2; 33])))),
        E::HashLength {
            position: 1,
            found: 33
        }
    );
    let h = format!("{}\n", B64.encode([1; 32]));
    // Line 3 becomes k lines, beside the two other hash lines.
    let many = with(3, &h.repeat(63));
    assert_eq!(parse(&many), E::TooManyHashes { max: 64 });
    assert_eq!(
        TlogProof::parse(with(3, &h.repeat(62)).as_bytes())
            .unwrap()
            .hashes()
            .len(),
        64
    );
    // The blank line and the checkpoint.
    assert!(matches!(
        parse(&without(6)),
        E::Checkpoint(_) | E::InvalidHash { .. }
    ));
    let head: String = lines[..7].concat();
    assert!(matches!(parse(&head), E::Checkpoint(_)));
    assert_eq!(parse(&lines[..6].concat()), E::MissingCheckpoint);
    assert_eq!(parse("c2sp.org/tlog-proof@v1\n"), E::MissingIndex);
    assert_eq!(parse(""), E::MissingHeader);
    // Trailing garbage after the checkpoint note.
    assert!(matches!(
        parse(&format!("{good}garbage\n")),
        E::Checkpoint(CheckpointError::Note(_))
    ));
    assert!(matches!(
        parse(&format!("{good}\n")),
        E::Checkpoint(CheckpointError::Note(_))
    ));
    // CRLF line endings.
    assert_eq!(parse(&good.replace('\n', "\r\n")), E::MissingHeader);
    // Not UTF-8.
    let mut b = good.clone().into_bytes();
    b.push(0xff);
    assert!(matches!(TlogProof::parse(&b), Err(E::InvalidUtf8 { .. })));
}

fn small_note() -> Vec<u8> {
    let mut cp = signed(Suite::Sha256, 3);
    cp.cosign(&witness(1), 77).unwrap();
    cp.encode()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_all_parsers(&bytes)?;
        let text = String::from_utf8_lossy(&bytes);
        check_all_parsers(text.as_bytes())?;
    }

    #[test]
    fn mutated_notes_never_panic_and_reencode(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), interesting_byte(), 0u8..3), 1..6)
    ) {
        let mut b = small_note();
        for (at, byte, op) in edits {
            let i = at.index(b.len() + 1);
            match op {
                0 if i < b.len() => b[i] = byte,
                1 if i < b.len() => { b.remove(i); }
                _ => b.insert(i, byte),
            }
        }
        check_all_parsers(&b)?;
    }

    #[test]
    fn built_signature_lines_reencode(
        lines in proptest::collection::vec(sig_line(), 1..4)
    ) {
        let mut b = b"o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n".to_vec();
        for l in lines {
            b.extend_from_slice(l.as_bytes());
        }
        check_all_parsers(&b)?;
    }

    #[test]
    fn line_structured_text_never_panics(text in "[0-9a-zA-Z+/=#. \u{2014}\n]{0,160}") {
        check_all_parsers(text.as_bytes())?;
        let mut proof = b"c2sp.org/tlog-proof@v1\n".to_vec();
        proof.extend_from_slice(text.as_bytes());
        check_all_parsers(&proof)?;
    }
}

/// Bytes that matter to the line structure, or any byte.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(vec![
            b'\n', b' ', b'=', b'A', b'+', b'/', b'0', b'#', 0, b'\r', 0xe2, 0x80, 0x94
        ]),
        any::<u8>(),
    ]
}

/// A signature line, well-formed or nearly so.
fn sig_line() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec!["\u{2014} ", "\u{2014}", "- ", "\u{2014}  ", ""]);
    let name = "[a-z.+#/]{0,12}";
    let sep = prop::sample::select(vec![" ", "", "  ", "\t"]);
    let sig = proptest::collection::vec(any::<u8>(), 0..80);
    let tail = prop::sample::select(vec!["", "", "", " ", "=", "A", "\r", "==", "\n"]);
    (prefix, name, sep, sig, tail)
        .prop_map(|(p, n, s, sig, t)| format!("{p}{n}{s}{}{t}\n", B64.encode(sig)))
}

/// Runs every parser over the bytes: none may panic, and whatever one accepts re-encodes to the
/// same bytes.
fn check_all_parsers(b: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(n) = SignedNote::parse(b) {
        prop_assert_eq!(n.encode(), b.to_vec());
        let _ = n.verify(&[owner_vkey(&log(Suite::Sha256))]);
    }
    if let Ok(c) = SignedCheckpoint::parse(b) {
        prop_assert_eq!(c.encode(), b.to_vec());
        let _ = with_policy(Suite::Sha256, policy(1)).verify(&c);
    }
    if let Ok(p) = TlogProof::parse(b) {
        prop_assert_eq!(p.encode(), b.to_vec());
    }
    if let Ok(text) = std::str::from_utf8(b) {
        if let Ok(c) = Checkpoint::parse(text) {
            prop_assert_eq!(c.encode(), text);
        }
        let _ = LogOrigin::from_checkpoint_origin(text);
        let _ = WitnessKey::from_vkey(text);
    }
    let mut proof = b"c2sp.org/tlog-proof@v1\nindex 1\n\n".to_vec();
    proof.extend_from_slice(b);
    if let Ok(p) = TlogProof::parse(&proof) {
        prop_assert_eq!(p.encode(), proof);
    }
    Ok(())
}
