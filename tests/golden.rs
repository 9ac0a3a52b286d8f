//! Our own golden vectors for descriptors and entries in both suites (SPEC §5, §6), generated
//! into tests/vectors/sealtrail_v2_golden.json. The test fails when the checked-in file is stale;
//! regenerate with `SEALTRAIL_REGENERATE=1 cargo test --test golden` and review the diff.

use sealtrail::codec::to_canonical;
use sealtrail::entry::{Entry, EntryHeader, Kind, Link, Payload, SessionId};
use sealtrail::hash::{EntryHash, PayloadCommitment, Salt, Suite};
use sealtrail::registry::{KeyRegistration, KeyRevocation, Role};
use sealtrail::verify::{ChainVerifier, LinkedEntry};
use sealtrail::{Descriptor, SecretKey, SignedDescriptor, Timestamp};
use serde_json::{Value as Json, json};

const FILE: &str = "tests/vectors/sealtrail_v2_golden.json";
const T0: u64 = 1_773_482_400_000_000_000; // 2026-03-14T10:00:00Z

fn key(name: &str, byte: u8) -> SecretKey {
    SecretKey::from_seed(name, &[byte; 32]).unwrap()
}

struct Step {
    signer: SecretKey,
    kind: &'static str,
    session: &'static str,
    payload: Vec<u8>,
    link_to: Vec<u64>,
}

fn generate_suite(suite: Suite) -> Json {
    let owner = key("example.com/xbrl-agent-log", 0x01);
    let recorder = key("harness", 0x02);
    let approver = key("dana", 0x03);
    let descriptor = Descriptor::new(
        suite,
        "example.com/xbrl-agent-log",
        owner.key_id(),
        Timestamp(T0),
    )
    .unwrap();
    let signed = SignedDescriptor::sign(descriptor.clone(), &owner).unwrap();
    let steps = vec![
        Step {
            signer: owner.clone(),
            kind: "key_register",
            session: "",
            payload: to_canonical(&KeyRegistration::new(
                recorder.key_id(),
                Role::Recorder,
                "xbrl harness 1.4",
            ))
            .unwrap(),
            link_to: vec![],
        },
        Step {
            signer: owner.clone(),
            kind: "key_register",
            session: "",
            payload: to_canonical(&KeyRegistration::new(
                approver.key_id(),
                Role::Approver,
                "Release Approver",
            ))
            .unwrap(),
            link_to: vec![],
        },
        Step {
            signer: recorder.clone(),
            kind: "session_started",
            session: "sess-xbrl-0001",
            payload: to_canonical(&json!({"objective": "add XBRL output beside the PDF renderer"}))
                .unwrap(),
            link_to: vec![],
        },
        Step {
            signer: recorder.clone(),
            kind: "command_run",
            session: "sess-xbrl-0001",
            payload: to_canonical(
                &json!({"command": "cargo test", "exit_code": 0, "duration_ms": 41000}),
            )
            .unwrap(),
            link_to: vec![2],
        },
        Step {
            signer: owner.clone(),
            kind: "key_revoke",
            session: "",
            payload: to_canonical(&KeyRevocation::new(recorder.key_id(), "harness retired"))
                .unwrap(),
            link_to: vec![],
        },
    ];
    let mut prev = EntryHash(signed.log_id().0);
    // The latest control entry so far (SPEC §7.5): every header names it.
    let mut control: Option<Link> = None;
    let mut hashes = Vec::new();
    let mut entries = Vec::new();
    for (seq, step) in steps.into_iter().enumerate() {
        let seq = seq as u64;
        let salt = Salt([0x40 + seq as u8; 32]);
        let commitment = PayloadCommitment::compute(suite, &salt, &step.payload);
        let links: Vec<Link> = step
            .link_to
            .iter()
            .map(|&s| Link {
                seq: s,
                hash: hashes[s as usize],
            })
            .collect();
        let kind = Kind::new(step.kind).unwrap();
        let header = EntryHeader {
            version: sealtrail::descriptor::FORMAT_VERSION,
            log_id: signed.log_id(),
            seq,
            prev,
            time: Timestamp(T0 + (seq + 1) * 1_000_000_000),
            session: SessionId::new(step.session).unwrap(),
            signer: step.signer.key_id(),
            kind: kind.clone(),
            payload: commitment,
            links: links.clone(),
            control,
        };
        let header_bytes = header.encode();
        let entry = Entry::sign(header, &header_bytes, &step.signer);
        let hash = entry.hash(suite);
        let control_json = match control {
            Some(l) => json!({"seq": l.seq, "hash_hex": l.hash.to_hex()}),
            None => Json::Null,
        };
        if kind.is_control() {
            control = Some(Link { seq, hash });
        }
        entries.push(json!({
            "seq": seq,
            "time_ns": T0 + (seq + 1) * 1_000_000_000,
            "session": step.session,
            "signer_hex": hex::encode(step.signer.key_id().as_bytes()),
            "kind": step.kind,
            "links": links.iter().map(|l| json!({"seq": l.seq, "hash_hex": l.hash.to_hex()})).collect::<Vec<_>>(),
            "control": control_json,
            "salt_hex": hex::encode(salt.0),
            "payload_hex": hex::encode(&step.payload),
            "payload_commitment_hex": commitment.to_hex(),
            "header_hex": hex::encode(&header_bytes),
            "signature_hex": hex::encode(entry.signature()),
            "entry_hex": hex::encode(entry.as_bytes()),
            "entry_hash_hex": hash.to_hex(),
        }));
        hashes.push(hash);
        prev = hash;
    }
    json!({
        "keys": {
            "owner_seed_hex": hex::encode([0x01u8; 32]),
            "owner_vkey": owner.public_key().to_vkey(),
            "recorder_seed_hex": hex::encode([0x02u8; 32]),
            "recorder_vkey": recorder.public_key().to_vkey(),
            "approver_seed_hex": hex::encode([0x03u8; 32]),
            "approver_vkey": approver.public_key().to_vkey(),
        },
        "descriptor": {
            "version": sealtrail::descriptor::FORMAT_VERSION,
            "suite": suite.name(),
            "origin": descriptor.origin,
            "owner_hex": hex::encode(descriptor.owner.as_bytes()),
            "created_ns": T0,
            "descriptor_hex": hex::encode(signed.descriptor_bytes()),
            "signed_descriptor_hex": hex::encode(signed.as_bytes()),
            "log_id_hex": signed.log_id().to_hex(),
        },
        "entries": entries,
    })
}

fn generate() -> Json {
    json!({
        "_comment": "sealtrail format v2 golden vectors (SPEC.md §5, §6). Generated by tests/golden.rs; regenerate with SEALTRAIL_REGENERATE=1 cargo test --test golden. Salts are fixed here; real logs draw them at random.",
        "blake3": generate_suite(Suite::Blake3),
        "sha256": generate_suite(Suite::Sha256),
        "fail_cases": fail_cases(),
    })
}

/// Entries that a verifier must reject, each derived from the first blake3 entry.
fn fail_cases() -> Json {
    let good = generate_suite(Suite::Blake3);
    let entry = hex::decode(good["entries"][0]["entry_hex"].as_str().unwrap()).unwrap();
    let mut cases = Vec::new();
    // The header's version field (key 1, value 2) written as 0x1802: not the shortest form.
    let header = hex::decode(good["entries"][0]["header_hex"].as_str().unwrap()).unwrap();
    assert_eq!(&header[..3], &[0xab, 0x01, 0x02]);
    let mut non_shortest = vec![0xab, 0x01, 0x18, 0x02];
    non_shortest.extend_from_slice(&header[3..]);
    let owner = key("example.com/xbrl-agent-log", 0x01);
    let sig = owner.sign(&sealtrail::entry::entry_signing_input(&non_shortest));
    let mut e = sealtrail::codec::Encoder::new();
    e.array(2).bytes(&non_shortest).bytes(&sig);
    cases.push(json!({"name": "fail_non_shortest_version", "entry_hex": hex::encode(e.into_bytes()), "expect": "decode"}));
    let mut trailing = entry.clone();
    trailing.push(0x00);
    cases.push(json!({"name": "fail_trailing_byte", "entry_hex": hex::encode(trailing), "expect": "decode"}));
    let mut flipped = entry.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    cases.push(json!({"name": "fail_signature_bit_flip", "entry_hex": hex::encode(flipped), "expect": "signature"}));
    let mut indefinite = entry.clone();
    indefinite[0] = 0x9f;
    indefinite.push(0xff);
    cases.push(json!({"name": "fail_indefinite_array", "entry_hex": hex::encode(indefinite), "expect": "decode"}));
    Json::Array(cases)
}

fn path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE)
}

#[test]
fn golden_file_is_fresh() {
    let fresh = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    if std::env::var_os("SEALTRAIL_REGENERATE").is_some() {
        std::fs::write(path(), &fresh).unwrap();
    }
    let on_disk = std::fs::read_to_string(path()).expect("golden file missing: regenerate it");
    assert!(
        on_disk == fresh,
        "{FILE} is stale: the encoder no longer produces the checked-in bytes. If the format \
         change is intended, bump the version, regenerate with SEALTRAIL_REGENERATE=1 and say so \
         in SPEC.md's Version changes"
    );
}

fn unhex(j: &Json) -> Vec<u8> {
    hex::decode(j.as_str().unwrap()).unwrap()
}

/// The checked-in vectors verify with the streaming verifier, and every field decodes back.
#[test]
fn golden_vectors_verify() {
    let file: Json = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    for suite in ["blake3", "sha256"] {
        let g = &file[suite];
        let sd = SignedDescriptor::from_bytes(&unhex(&g["descriptor"]["signed_descriptor_hex"]))
            .unwrap();
        assert_eq!(
            sd.log_id().to_hex(),
            g["descriptor"]["log_id_hex"].as_str().unwrap()
        );
        assert_eq!(sd.suite().name(), suite);
        let mut v = ChainVerifier::new(&sd).unwrap();
        let mut hashes: Vec<LinkedEntry> = Vec::new();
        for e in g["entries"].as_array().unwrap() {
            let bytes = unhex(&e["entry_hex"]);
            let payload = Payload::Present {
                salt: Salt(unhex(&e["salt_hex"]).try_into().unwrap()),
                data: unhex(&e["payload_hex"]),
            };
            let known = hashes.clone();
            let ok = v
                .push(&bytes, &payload, &mut |s| known.get(s as usize).copied())
                .unwrap();
            assert_eq!(ok.hash.to_hex(), e["entry_hash_hex"].as_str().unwrap());
            let linked = LinkedEntry {
                hash: ok.hash,
                signer: ok.entry.header().signer,
            };
            let h = ok.entry.header();
            assert_eq!(h.kind.as_str(), e["kind"].as_str().unwrap());
            assert_eq!(h.session.as_str(), e["session"].as_str().unwrap());
            assert_eq!(h.time.0, e["time_ns"].as_u64().unwrap());
            assert_eq!(
                hex::encode(ok.entry.header_bytes()),
                e["header_hex"].as_str().unwrap()
            );
            hashes.push(linked);
        }
        assert_eq!(hashes.len(), 5);
    }
}

#[test]
fn golden_fail_cases_are_rejected() {
    let file: Json = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    let g = &file["blake3"];
    let sd =
        SignedDescriptor::from_bytes(&unhex(&g["descriptor"]["signed_descriptor_hex"])).unwrap();
    let e0 = &g["entries"][0];
    let payload = Payload::Present {
        salt: Salt(unhex(&e0["salt_hex"]).try_into().unwrap()),
        data: unhex(&e0["payload_hex"]),
    };
    for case in file["fail_cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        assert!(name.starts_with("fail_"));
        let mut v = ChainVerifier::new(&sd).unwrap();
        let err = v
            .push(&unhex(&case["entry_hex"]), &payload, &mut |_| None)
            .expect_err(name);
        assert_eq!(
            err.check().as_str(),
            case["expect"].as_str().unwrap(),
            "{name}: {err}"
        );
    }
}
