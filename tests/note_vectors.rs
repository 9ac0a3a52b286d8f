//! Known-answer vectors for C2SP signed notes and checkpoint bodies (SPEC §11), from C2SP and
//! golang.org/x/mod/sumdb (tests/vectors/signed_note_checkpoint_vectors.json).

use sealtrail::Suite;
use sealtrail::checkpoint::{Checkpoint, SignedCheckpoint, cosignature_message};
use sealtrail::keys::{PublicKey, SecretKey};
use sealtrail::note::{LineProblem, NoteError, NoteVerifyError, SignedNote};
use serde_json::Value as Json;

fn load() -> Json {
    let path = format!(
        "{}/tests/vectors/signed_note_checkpoint_vectors.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s<'a>(v: &'a Json, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string {key}"))
}

/// The error class of a note under a set of trusted keys, as the vector file names them.
fn class(note: &[u8], trusted: &[PublicKey]) -> String {
    match SignedNote::parse(note) {
        Err(_) => "malformed".into(),
        Ok(n) => match n.verify(trusted) {
            Ok(_) => "verifies".into(),
            Err(e @ NoteVerifyError::InvalidSignature { .. }) => e.to_string(),
            Err(NoteVerifyError::NoVerifiableSignatures) => "no verifiable signatures".into(),
            Err(e) => format!("other: {e}"),
        },
    }
}

fn notes(v: &Json) -> &Vec<Json> {
    v["notes"].as_array().unwrap()
}

#[test]
fn c2sp_example_key_and_note() {
    let v = load();
    let n = &notes(&v)[0];
    let pk = PublicKey::from_vkey(s(n, "vkey")).unwrap();
    assert_eq!(pk.name(), s(n, "key_name"));
    assert_eq!(hex::encode(pk.note_key_hash()), s(n, "key_id_hex"));
    assert_eq!(hex::encode(pk.as_bytes()), s(n, "ed25519_public_key_hex"));
    assert_eq!(pk.to_vkey(), s(n, "vkey"));

    let bytes = s(n, "note_utf8").as_bytes();
    let note = SignedNote::parse(bytes).unwrap();
    assert_eq!(note.text(), s(n, "signed_text_utf8"));
    assert_eq!(note.signatures().len(), 1);
    let sig = &note.signatures()[0];
    assert_eq!(sig.name(), "example.com/foo");
    assert_eq!(hex::encode(sig.key_hash()), s(n, "key_id_hex"));
    assert_eq!(
        hex::encode(sig.signature()),
        s(n, "signature_hex_after_keyid")
    );
    assert_eq!(note.encode(), bytes);
    let ok = note.verify(std::slice::from_ref(&pk)).unwrap();
    assert_eq!(ok.verified.len(), 1);
    assert_eq!(ok.verified[0].key, pk.key_id());
    assert!(ok.ignored.is_empty());
}

#[test]
fn peter_neumann_keys_and_signing_reproduce_golden_bytes() {
    let v = load();
    let n = &notes(&v)[1];
    let sk = SecretKey::from_skey(s(n, "skey")).unwrap();
    assert_eq!(sk.name(), "PeterNeumann");
    assert_eq!(sk.to_skey().as_str(), s(n, "skey"));
    let seed = SecretKey::from_seed(
        "PeterNeumann",
        &hex::decode(s(n, "ed25519_seed_hex"))
            .unwrap()
            .try_into()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(seed.key_id(), sk.key_id());
    let pk = PublicKey::from_vkey(s(n, "vkey")).unwrap();
    assert_eq!(pk, sk.public_key());
    assert_eq!(sk.public_key().to_vkey(), s(n, "vkey"));
    assert_eq!(hex::encode(pk.as_bytes()), s(n, "ed25519_public_key_hex"));
    assert_eq!(hex::encode(pk.note_key_hash()), s(n, "key_id_hex"));

    // Ed25519 is deterministic: signing the text again gives the golden note byte for byte.
    let signed = SignedNote::sign(s(n, "signed_text_utf8"), &sk, sk.name()).unwrap();
    assert_eq!(
        String::from_utf8(signed.encode()).unwrap(),
        s(n, "note_utf8")
    );

    let parsed = SignedNote::parse(s(n, "note_utf8").as_bytes()).unwrap();
    assert_eq!(parsed, signed);
    assert_eq!(class(s(n, "note_utf8").as_bytes(), &[pk]), "verifies");
}

#[test]
fn two_signers_one_trusted() {
    let v = load();
    let n = &notes(&v)[1];
    let peter = PublicKey::from_vkey(s(n, "vkey")).unwrap();
    let second = &n["second_signer"];
    let enoch = PublicKey::from_vkey(s(second, "vkey")).unwrap();
    assert_eq!(enoch.name(), "EnochRoot");
    assert_eq!(hex::encode(enoch.note_key_hash()), "af0cfe78");
    assert_eq!(enoch.to_vkey(), s(second, "vkey"));

    let bytes = s(second, "note_with_both_sigs_utf8").as_bytes();
    let note = SignedNote::parse(bytes).unwrap();
    assert_eq!(note.encode(), bytes);
    assert_eq!(note.signatures().len(), 2);

    let only_peter = note.verify(std::slice::from_ref(&peter)).unwrap();
    assert_eq!(only_peter.verified.len(), 1);
    assert_eq!(only_peter.verified[0].line, 0);
    assert_eq!(only_peter.verified[0].name, "PeterNeumann");
    assert_eq!(only_peter.verified[0].key, peter.key_id());
    assert_eq!(only_peter.ignored, vec![1]);

    let only_enoch = note.verify(std::slice::from_ref(&enoch)).unwrap();
    assert_eq!(only_enoch.verified.len(), 1);
    assert_eq!(only_enoch.verified[0].line, 1);
    assert_eq!(only_enoch.ignored, vec![0]);

    let both = note.verify(&[peter, enoch]).unwrap();
    assert_eq!(both.verified.len(), 2);
    assert!(both.ignored.is_empty());

    assert_eq!(
        note.verify(&[]).unwrap_err(),
        NoteVerifyError::NoVerifiableSignatures
    );
    assert_eq!(class(bytes, &[]), "no verifiable signatures");
    // A trusted key that signed nothing here: still nothing verifiable.
    let other = SecretKey::from_seed("other", &[9; 32])
        .unwrap()
        .public_key();
    assert_eq!(class(bytes, &[other]), "no verifiable signatures");
}

#[test]
fn malformed_notes_are_rejected_with_their_class() {
    let v = load();
    let n = &notes(&v)[1];
    let peter = PublicKey::from_vkey(s(n, "vkey")).unwrap();
    let trusted = [peter];
    let negatives = n["negative"].as_array().unwrap();
    assert_eq!(negatives.len(), 8);
    for case in negatives {
        let name = s(case, "case");
        let expect = s(case, "expect");
        let bytes: Vec<u8> = if name.starts_with("101 copies") {
            let good = s(n, "note_utf8");
            let (text, sig) = good.split_once("\n\n").unwrap();
            let mut note = format!("{text}\n\n");
            for _ in 0..101 {
                note.push_str(sig);
            }
            note.into_bytes()
        } else {
            s(case, "note_utf8").as_bytes().to_vec()
        };
        let want = if expect.starts_with("malformed") {
            "malformed"
        } else {
            expect
        };
        assert_eq!(class(&bytes, &trusted), want, "{name}");
    }
}

#[test]
fn malformed_notes_give_the_precise_error() {
    let v = load();
    let n = &notes(&v)[1];
    let by_case = |prefix: &str| -> Vec<u8> {
        n["negative"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| s(c, "case").starts_with(prefix))
            .map(|c| s(c, "note_utf8").as_bytes().to_vec())
            .unwrap()
    };
    let err = |b: &[u8]| SignedNote::parse(b).unwrap_err();
    assert_eq!(err(&by_case("text only")), NoteError::MissingSignatureBlock);
    assert_eq!(
        err(&by_case("text+blank line")),
        NoteError::EmptySignatureBlock
    );
    assert_eq!(
        err(&by_case("missing final newline")),
        NoteError::MissingFinalNewline
    );
    assert_eq!(
        err(&by_case("leading 0x01")),
        NoteError::ControlCharacter {
            offset: 0,
            byte: 0x01
        }
    );
    assert_eq!(
        err(&by_case("trailing non-signature")),
        NoteError::MalformedSignatureLine {
            line: 1,
            problem: LineProblem::MissingPrefix
        }
    );
    // The key-name case also lacks its final newline; with one, the name is what fails.
    let mut spaced = by_case("key name with space");
    assert_eq!(err(&spaced), NoteError::MissingFinalNewline);
    spaced.push(b'\n');
    assert!(matches!(
        err(&spaced),
        NoteError::MalformedSignatureLine {
            line: 0,
            problem: LineProblem::InvalidBase64
        }
    ));

    // 100 lines are accepted (and the 99 repeats rejected as duplicates at verification);
    // 101 are not.
    let good = s(n, "note_utf8");
    let (text, sig) = good.split_once("\n\n").unwrap();
    let many = |k: usize| format!("{text}\n\n{}", sig.repeat(k)).into_bytes();
    let hundred = SignedNote::parse(&many(100)).unwrap();
    assert_eq!(hundred.signatures().len(), 100);
    assert!(matches!(
        hundred.verify(&[PublicKey::from_vkey(s(n, "vkey")).unwrap()]),
        Err(NoteVerifyError::DuplicateSignature { .. })
    ));
    assert_eq!(err(&many(101)), NoteError::TooManySignatures { max: 100 });
}

#[test]
fn bad_vkeys_are_rejected() {
    let v = load();
    let n = &notes(&v)[1];
    for bad in n["bad_vkeys"].as_array().unwrap() {
        let bad = bad.as_str().unwrap();
        if bad.starts_with("any ") {
            continue;
        }
        let vkey = bad.split(" (").next().unwrap();
        assert!(PublicKey::from_vkey(vkey).is_err(), "{bad}");
    }
    // Every proper substring and every single-byte increment of the good key is rejected.
    let good = s(n, "vkey");
    assert!(PublicKey::from_vkey(good).is_ok());
    for i in 0..good.len() {
        for j in i..=good.len() {
            if (i, j) != (0, good.len()) {
                assert!(PublicKey::from_vkey(&good[i..j]).is_err(), "{i}..{j}");
            }
        }
        let mut b = good.as_bytes().to_vec();
        b[i] = b[i].wrapping_add(1);
        let m = String::from_utf8(b).unwrap();
        assert!(PublicKey::from_vkey(&m).is_err(), "increment at {i}: {m}");
    }
}

#[test]
fn checkpoint_bodies_parse_and_reencode() {
    let v = load();
    let bodies = v["checkpoint_bodies"].as_array().unwrap();

    // The go.sum tree note body.
    let go = &bodies[0];
    let cp = Checkpoint::parse(s(go, "body_utf8")).unwrap();
    assert_eq!(cp.origin(), s(go, "origin"));
    assert_eq!(cp.size(), go["tree_size"].as_u64().unwrap());
    assert_eq!(cp.root().to_hex(), s(go, "root_hash_hex"));
    assert!(cp.extensions().is_empty());
    assert_eq!(cp.encode(), s(go, "body_utf8"));
    // The root is RecordHash("hello world") = SHA-256(0x00 ‖ "hello world").
    assert_eq!(
        hex::encode(Suite::Sha256.hash(&[&[0], b"hello world"])),
        s(go, "root_hash_hex")
    );
    let built = Checkpoint::new(s(go, "origin"), cp.size(), cp.root()).unwrap();
    assert_eq!(built.encode(), s(go, "body_utf8"));

    // The C2SP example checkpoint note (its key is not published: form only).
    let c2sp = &bodies[1];
    let bytes = s(c2sp, "note_utf8").as_bytes();
    let signed = SignedCheckpoint::parse(bytes).unwrap();
    assert_eq!(signed.encode(), bytes);
    assert_eq!(signed.checkpoint().origin(), "example.com/behind-the-sofa");
    assert_eq!(signed.checkpoint().size(), 20852163);
    let sigs = signed.note().signatures();
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].name(), "example.com/behind-the-sofa");
    assert_eq!(sigs[0].signature().len(), 64);

    // The cosignature/v1 message layout, over that body at time 1679315147.
    let msg = &bodies[2];
    assert_eq!(
        cosignature_message(&signed.checkpoint().encode(), 1679315147),
        s(msg, "cosigned_message_utf8").as_bytes()
    );
}
