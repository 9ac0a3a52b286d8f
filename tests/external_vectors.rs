//! Known-answer vectors from outside the project (copied into tests/vectors/ with their sources):
//! RFC 8032 Ed25519, the BLAKE3 team's official vectors, and RFC 8949 Appendix A.

use ciborium::value::Value;
use sealtrail::codec::{DecodeError, decode_value, encode_value};
use sealtrail::keys::{PublicKey, SecretKey};
use serde_json::Value as Json;

fn load(name: &str) -> Json {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn rfc8032_ed25519() {
    let v = load("rfc8032_ed25519.json");
    let vectors = v["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 5);
    for t in vectors {
        let name = t["name"].as_str().unwrap();
        let seed: [u8; 32] = unhex(t["secret_key_seed_hex"].as_str().unwrap())
            .try_into()
            .unwrap();
        let msg = unhex(t["message_hex"].as_str().unwrap());
        let sig: [u8; 64] = unhex(t["signature_hex"].as_str().unwrap())
            .try_into()
            .unwrap();
        let sk = SecretKey::from_seed("rfc8032", &seed).unwrap();
        assert_eq!(
            hex::encode(sk.key_id().as_bytes()),
            t["public_key_hex"].as_str().unwrap(),
            "{name}: public key"
        );
        assert_eq!(sk.sign(&msg), sig, "{name}: signature");
        let pk = PublicKey::from_bytes("rfc8032", sk.key_id().as_bytes()).unwrap();
        assert!(pk.verify(&msg, &sig), "{name}: verifies");
        let mut bad = sig;
        bad[63] ^= 0x10;
        assert!(!pk.verify(&msg, &bad), "{name}: flipped S rejected");
        // S + L is the same signature to a lenient verifier; the strict rules reject it.
        let mut s_plus_l = sig;
        add_l(&mut s_plus_l[32..]);
        assert!(
            !pk.verify(&msg, &s_plus_l),
            "{name}: non-canonical S rejected"
        );
    }
}

// Adds the group order L to a little-endian scalar (wrapping past 2^256 is fine for the test:
// either way the result is not a canonical S).
fn add_l(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(L[i]) + carry;
        s[i] = v as u8;
        carry = v >> 8;
    }
}

#[test]
fn blake3_official() {
    let v = load("blake3_official_test_vectors.json");
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() > 30);
    for c in cases {
        let len = c["input_len"].as_u64().unwrap() as usize;
        let input: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let expected = &c["hash"].as_str().unwrap()[..64];
        let got = sealtrail::Suite::Blake3.hash(&[&input]);
        assert_eq!(hex::encode(got), expected, "input_len {len}");
        // Hashing in two parts gives the same digest (the suite hashes a concatenation).
        let (a, b) = input.split_at(len / 2);
        assert_eq!(sealtrail::Suite::Blake3.hash(&[a, b]), got);
    }
}

#[test]
fn sha256_known_answers() {
    // FIPS 180-2 examples.
    assert_eq!(
        hex::encode(sealtrail::Suite::Sha256.hash(&[b"abc"])),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex::encode(sealtrail::Suite::Sha256.hash(&[b""])),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

/// Why the profile must reject an Appendix A item, decided from its bytes and the published
/// `roundtrip` flag, independently of the decoder under test.
fn expected_rejection(bytes: &[u8], roundtrip: bool) -> Option<&'static str> {
    let first = bytes[0];
    match first >> 5 {
        6 => return Some("tag"),
        7 if (0xf9..=0xfb).contains(&first) => return Some("float"),
        7 if !(0xf4..=0xf6).contains(&first) => return Some("simple"),
        _ => {}
    }
    if !roundtrip {
        return Some("indefinite");
    }
    None
}

fn json_matches(v: &Value, j: &Json) -> bool {
    match (v, j) {
        (Value::Integer(i), Json::Number(n)) => {
            let i = i128::from(*i);
            n.as_i64().map(i128::from) == Some(i) || n.as_u64().map(i128::from) == Some(i)
        }
        (Value::Text(t), Json::String(s)) => t == s,
        (Value::Bool(b), Json::Bool(c)) => b == c,
        (Value::Null, Json::Null) => true,
        (Value::Array(a), Json::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_matches(x, y))
        }
        (Value::Map(m), Json::Object(o)) => {
            m.len() == o.len()
                && m.iter().all(|(k, val)| match k {
                    Value::Text(k) => o.get(k).is_some_and(|y| json_matches(val, y)),
                    _ => false,
                })
        }
        _ => false,
    }
}

#[test]
fn rfc8949_appendix_a() {
    let v = load("rfc8949_appendix_a_cbor.json");
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 82);
    let (mut accepted, mut rejected) = (0, 0);
    for item in items {
        let hex_s = item["hex"].as_str().unwrap();
        let bytes = unhex(hex_s);
        let roundtrip = item["roundtrip"].as_bool().unwrap();
        let result = decode_value(&bytes);
        match expected_rejection(&bytes, roundtrip) {
            None => {
                let value = result.unwrap_or_else(|e| panic!("{hex_s}: rejected: {e}"));
                assert_eq!(encode_value(&value).unwrap(), bytes, "{hex_s}: round trip");
                if let Some(d) = item.get("decoded") {
                    // Integers beyond ±2^63 lose precision in JSON; the round trip covers them.
                    let big = d.as_f64().is_some_and(|f| f.abs() >= 9.2e18);
                    assert!(
                        big || json_matches(&value, d),
                        "{hex_s}: decoded {value:?} vs {d}"
                    );
                }
                accepted += 1;
            }
            Some(why) => {
                let err = result.expect_err(hex_s);
                let ok = match why {
                    "tag" => matches!(err, DecodeError::Tag { .. }),
                    "float" => matches!(err, DecodeError::Float { .. }),
                    "simple" => matches!(err, DecodeError::SimpleValue { .. }),
                    _ => matches!(err, DecodeError::IndefiniteLength { .. }),
                };
                assert!(ok, "{hex_s}: expected a {why} rejection, got {err:?}");
                rejected += 1;
            }
        }
    }
    // 37 items lie inside the profile; the floats, tags, simple values and indefinite-length
    // items outside it.
    assert_eq!((accepted, rejected), (37, 45));
}

#[test]
fn non_preferred_encodings_are_rejected() {
    let cases: &[(&str, &str)] = &[
        ("1800", "uint 0 in one extra byte"),
        ("190001", "uint 1 in two extra bytes"),
        ("1a00000017", "uint 23 in four extra bytes"),
        ("1b0000000000000018", "uint 24 in eight extra bytes"),
        ("3800", "nint -1 in one extra byte"),
        ("5800", "empty bstr with a one-byte length"),
        ("790000", "empty tstr with a two-byte length"),
        ("980100", "one-item array with a one-byte length"),
        ("b8010000", "one-pair map with a one-byte length"),
        ("a2030401 02", "map keys out of order"),
        ("a201020102", "duplicate map keys"),
        ("a2616201616101", "text keys out of order"),
        ("a1f400", "boolean map key"),
        ("a14100 00", "bstr map key"),
        ("5f40ff", "indefinite bstr"),
        ("0000", "trailing byte"),
        ("62c3", "truncated text"),
        ("62c328", "invalid UTF-8"),
        ("1c", "reserved additional information"),
    ];
    for (h, what) in cases {
        let bytes = unhex(&h.replace(' ', ""));
        assert!(decode_value(&bytes).is_err(), "{what} ({h}) was accepted");
    }
}
