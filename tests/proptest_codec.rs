//! Property tests: the codec round-trips, accepts only canonical bytes, and never panics on
//! random or mutated input; the same for entries and descriptors.

use ciborium::value::{Integer, Value};
use proptest::prelude::*;
use sealtrail::codec::{decode_value, encode_value};
use sealtrail::entry::{Entry, EntryHeader, Kind, Link, SessionId};
use sealtrail::hash::{EntryHash, LogId, PayloadCommitment};
use sealtrail::{KeyId, SignedDescriptor, Timestamp};

fn integer() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(|v| Value::Integer(v.into())),
        (0..=u64::MAX)
            .prop_map(|v| Value::Integer(Integer::try_from(-1i128 - i128::from(v)).unwrap())),
        (0u64..30).prop_map(|v| Value::Integer(v.into())),
    ]
}

fn key() -> impl Strategy<Value = Value> {
    prop_oneof![integer(), "[a-z]{0,6}".prop_map(Value::Text)]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        integer(),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        ".{0,20}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..8).prop_map(|pairs| {
                // Keep the first of any keys with the same encoding.
                let mut seen = std::collections::BTreeMap::new();
                for (k, v) in pairs {
                    seen.entry(encode_value(&k).unwrap()).or_insert((k, v));
                }
                Value::Map(seen.into_values().collect())
            }),
        ]
    })
}

/// Sorts every map by its keys' encodings, as the canonical encoder does.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        Value::Map(m) => {
            let mut m: Vec<_> = m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect();
            m.sort_by_key(|(k, _)| encode_value(k).unwrap());
            Value::Map(m)
        }
        other => other.clone(),
    }
}

fn header() -> impl Strategy<Value = EntryHeader> {
    (
        any::<[u8; 32]>(),
        1u64..u64::MAX,
        any::<[u8; 32]>(),
        any::<u64>(),
        "[a-zA-Z0-9 _.-]{0,40}",
        any::<[u8; 32]>(),
        "[a-z][a-z0-9_]{0,20}",
        any::<[u8; 32]>(),
        proptest::collection::btree_map(any::<u64>(), any::<[u8; 32]>(), 0..5),
        proptest::option::of((any::<u64>(), any::<[u8; 32]>())),
    )
        .prop_map(
            |(log, seq, prev, time, session, signer, kind, payload, links, control)| EntryHeader {
                version: sealtrail::descriptor::FORMAT_VERSION,
                log_id: LogId(log),
                seq,
                prev: EntryHash(prev),
                time: Timestamp(time),
                session: SessionId::new(&session).unwrap(),
                signer: KeyId(signer),
                kind: Kind::new(&kind).unwrap(),
                payload: PayloadCommitment(payload),
                links: links
                    .into_iter()
                    .filter(|(s, _)| *s < seq)
                    .map(|(s, h)| Link {
                        seq: s,
                        hash: EntryHash(h),
                    })
                    .collect(),
                control: control.map(|(s, h)| Link {
                    seq: s % seq,
                    hash: EntryHash(h),
                }),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_of_encode_is_identity(v in value()) {
        let bytes = encode_value(&v).unwrap();
        let back = decode_value(&bytes).unwrap();
        prop_assert_eq!(&back, &canonical(&v));
        prop_assert_eq!(encode_value(&back).unwrap(), bytes);
    }

    #[test]
    fn accepted_bytes_reencode_identically(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = decode_value(&bytes) {
            prop_assert_eq!(encode_value(&v).unwrap(), bytes);
        }
    }

    #[test]
    fn mutated_encodings_never_panic_and_stay_canonical(
        v in value(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0u8..3,
    ) {
        let mut bytes = encode_value(&v).unwrap();
        let i = at.index(bytes.len());
        match how {
            0 => bytes[i] = byte,
            1 => bytes.insert(i, byte),
            _ => { bytes.remove(i); }
        }
        if let Ok(v) = decode_value(&bytes) {
            prop_assert_eq!(encode_value(&v).unwrap(), bytes);
        }
    }

    #[test]
    fn headers_round_trip(h in header()) {
        let bytes = h.encode();
        prop_assert_eq!(EntryHeader::decode(&bytes).unwrap(), h);
    }

    #[test]
    fn mutated_headers_never_panic_and_stay_canonical(
        h in header(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = h.encode();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(back) = EntryHeader::decode(&bytes) {
            prop_assert_eq!(back.encode(), bytes);
        }
    }

    #[test]
    fn random_bytes_never_panic_the_structure_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Entry::from_bytes(&bytes);
        let _ = SignedDescriptor::from_bytes(&bytes);
        let _ = EntryHeader::decode(&bytes);
        if let Ok(e) = Entry::from_bytes(&bytes) {
            prop_assert_eq!(e.as_bytes(), &bytes[..]);
            prop_assert_eq!(e.header().encode(), e.header_bytes());
        }
    }
}
